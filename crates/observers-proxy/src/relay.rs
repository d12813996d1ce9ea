//! One request: find its upstream, forward it as it came, relay the answer as it comes, and
//! record chat completions on the way with [`observers_openai::Recorder`].

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures_util::{stream, StreamExt};
use http::header::{ACCEPT_ENCODING, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::{Body as _, Incoming};
use observers_openai::{Exchange, StreamRecorder, MAX_ANSWER_BYTES};

use crate::builder::Upstream;
use crate::headers::{self, Token};
use crate::server::Shared;

/// Largest request body held to be recorded; a larger one is forwarded all the same and
/// recorded without its content (the upstream decides what to make of it).
pub(crate) const MAX_RECORDED_REQUEST_BYTES: usize = MAX_ANSWER_BYTES;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Answers one request; never fails: what the proxy cannot forward gets an OpenAI-shaped
/// error answer (404, 401, 400, 502 or 504, never 500).
pub(crate) async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    shared.counters.requests.fetch_add(1, Ordering::Relaxed);
    let (mut parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    // The token first: without it, not even the routes are told.
    if let Some(expected) = &shared.access_token {
        match headers::find_token(&parts.headers, expected) {
            Some(Token::OwnHeader) => {}
            Some(Token::Authorization) => {
                parts.headers.remove(AUTHORIZATION);
            }
            None => {
                shared.counters.rejected.fetch_add(1, Ordering::Relaxed);
                return error_answer(
                    StatusCode::UNAUTHORIZED,
                    "invalid_proxy_token",
                    "observers proxy: this proxy needs its access token: send it as `X-Observers-Token: \
                     <token>` or `Authorization: Bearer <token>`",
                );
            }
        }
    }
    let Some((upstream, rest)) = find_upstream(&shared, &path) else {
        shared.counters.rejected.fetch_add(1, Ordering::Relaxed);
        return unknown_route(&shared, &path);
    };
    let metadata = observers_openai::take_header_metadata(&mut parts.headers);
    headers::strip_hop_by_hop(&mut parts.headers);
    if let Some(authorization) = &upstream.authorization {
        parts.headers.insert(AUTHORIZATION, authorization.clone());
    }
    let target = Target {
        url: match parts.uri.query() {
            Some(query) => format!("{}{rest}?{query}", upstream.base),
            None => format!("{}{rest}", upstream.base),
        },
        // No query: some APIs take keys there (`?key=`).
        display: format!("{}{rest}", upstream.display),
    };
    let records = parts.method == Method::POST && is_chat_completions(rest) && !metadata.skip;
    let answer = if records {
        forward_recorded(&shared, parts.method, parts.headers, body, &target, &metadata.call).await
    } else {
        forward(&shared, parts.method, parts.headers, body, &target).await
    };
    tracing::debug!(
        path = %path,
        status = answer.status().as_u16(),
        recorded = records,
        ms_to_answer_head = started.elapsed().as_secs_f64() * 1000.0,
        "relayed"
    );
    answer
}

/// Where a request goes: the full URL, and the same without query for messages.
struct Target {
    url: String,
    display: String,
}

/// `/v1/...` goes to the default upstream, `/{route}/v1/...` to that route; returns the
/// upstream and the rest of the path (`/chat/completions`, or empty).
fn find_upstream<'p>(shared: &'p Shared, path: &'p str) -> Option<(&'p Upstream, &'p str)> {
    let under_v1 = |path: &'p str| match path.strip_prefix("/v1") {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => Some(rest),
        _ => None,
    };
    if let Some(rest) = under_v1(path) {
        return Some((&shared.default, rest));
    }
    let (name, _) = path.strip_prefix('/')?.split_once('/')?;
    let (_, upstream) = shared.routes.iter().find(|(route, _)| route == name)?;
    Some((upstream, under_v1(&path[1 + name.len()..])?))
}

fn is_chat_completions(rest: &str) -> bool {
    rest.trim_end_matches('/').ends_with("/chat/completions")
}

fn unknown_route(shared: &Shared, path: &str) -> Response<Body> {
    let mut served = vec!["/v1/...".to_owned()];
    served.extend(shared.routes.iter().map(|(name, _)| format!("/{name}/v1/...")));
    error_answer(
        StatusCode::NOT_FOUND,
        "unknown_route",
        &format!(
            "observers proxy: nothing is served at {path}: it serves {} (set your client's base URL to \
             http://<proxy address>/v1)",
            served.join(", ")
        ),
    )
}

/// An answer of the proxy's own, shaped as OpenAI's errors so any client reads it.
fn error_answer(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let body = serde_json::json!({
        "error": {"message": message, "type": "observers_proxy_error", "param": null, "code": code}
    });
    let mut answer = Response::new(Body::from(body.to_string()));
    *answer.status_mut() = status;
    answer.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    answer
}

/// Forwards a request that is not recorded: the body streams through both ways.
async fn forward(
    shared: &Shared,
    method: Method,
    headers: HeaderMap,
    body: Incoming,
    target: &Target,
) -> Response<Body> {
    let api_key = headers::api_key(&headers);
    let mut request = shared.http.request(method, &target.url).headers(headers);
    if !body.is_end_stream() {
        request = request.body(reqwest::Body::wrap_stream(Body::new(body).into_data_stream()));
    }
    match request.send().await {
        Ok(response) => {
            let (status, headers) = answer_head(&response);
            relayed(status, headers, Body::from_stream(response.bytes_stream()))
        }
        Err(error) => Failure::new(shared, error, &target.display, api_key.as_deref()).answer(shared),
    }
}

fn answer_head(response: &reqwest::Response) -> (StatusCode, HeaderMap) {
    let mut headers = response.headers().clone();
    headers::strip_hop_by_hop(&mut headers);
    (response.status(), headers)
}

fn relayed(status: StatusCode, headers: HeaderMap, body: Body) -> Response<Body> {
    let mut answer = Response::new(body);
    *answer.status_mut() = status;
    *answer.headers_mut() = headers;
    answer
}

/// The upstream could not be reached, or stayed silent: what the client and the record get.
struct Failure {
    status: StatusCode,
    code: &'static str,
    message: String,
    error: observers_openai::Error,
}

impl Failure {
    fn new(shared: &Shared, error: reqwest::Error, url: &str, api_key: Option<&str>) -> Failure {
        if error.is_timeout() {
            return Failure {
                status: StatusCode::GATEWAY_TIMEOUT,
                code: "upstream_timeout",
                message: format!(
                    "observers proxy: the upstream {url} sent nothing for {:?} (the proxy's --timeout)",
                    shared.timeout
                ),
                error: observers_openai::Error::Timeout { url: url.to_owned(), timeout: shared.timeout },
            };
        }
        let connect = error.is_connect();
        let detail = error_chain(error, api_key);
        let message = format!("observers proxy: could not reach the upstream {url}: {detail}");
        let error = if connect {
            observers_openai::Error::Connect { url: url.to_owned(), message: detail }
        } else {
            observers_openai::Error::Http { url: url.to_owned(), message: detail }
        };
        Failure { status: StatusCode::BAD_GATEWAY, code: "upstream_unreachable", message, error }
    }

    fn answer(&self, shared: &Shared) -> Response<Body> {
        shared.counters.upstream_failures.fetch_add(1, Ordering::Relaxed);
        tracing::warn!("{}", self.message);
        error_answer(self.status, self.code, &self.message)
    }
}

/// What a reqwest error says, its causes included, without the URL (it may carry a key in
/// its query) or the key.
fn error_chain(error: reqwest::Error, api_key: Option<&str>) -> String {
    let message = observers_openai::error_chain(&error.without_url());
    match api_key {
        Some(key) if key.len() >= 4 => message.replace(key, "[REDACTED]"),
        _ => message,
    }
}

/// Reads the request body, up to `limit` bytes: the whole body, or its first bytes and the
/// rest still to come.
async fn read_body(
    body: Incoming,
    limit: usize,
) -> Result<(Bytes, Option<impl futures_util::Stream<Item = Result<Bytes, axum::Error>>>), axum::Error> {
    let mut data = Body::new(body).into_data_stream();
    let mut pieces: Vec<Bytes> = Vec::new();
    let mut total = 0;
    while let Some(piece) = data.next().await {
        let piece = piece?;
        total += piece.len();
        pieces.push(piece);
        if total > limit {
            return Ok((concat(pieces, total), Some(data)));
        }
    }
    Ok((concat(pieces, total), None))
}

fn concat(mut pieces: Vec<Bytes>, total: usize) -> Bytes {
    if pieces.len() == 1 {
        return pieces.pop().unwrap_or_default();
    }
    let mut whole = BytesMut::with_capacity(total);
    for piece in pieces {
        whole.extend_from_slice(&piece);
    }
    whole.freeze()
}

/// Whether a request body asks for a stream (`"stream": true`), read without building it.
fn asks_for_stream(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(default)]
        stream: Option<serde_json::Value>,
    }
    serde_json::from_slice::<Probe>(body)
        .is_ok_and(|probe| probe.stream == Some(serde_json::Value::Bool(true)))
}

/// Forwards a chat completion and records it.
async fn forward_recorded(
    shared: &Arc<Shared>,
    method: Method,
    mut headers: HeaderMap,
    body: Incoming,
    target: &Target,
    metadata: &observers_openai::CallMetadata,
) -> Response<Body> {
    let (whole, rest) = match read_body(body, MAX_RECORDED_REQUEST_BYTES).await {
        Ok(read) => read,
        Err(e) => {
            return error_answer(
                StatusCode::BAD_REQUEST,
                "unreadable_request",
                &format!("observers proxy: could not read the request body: {e}"),
            )
        }
    };
    let api_key = headers::api_key(&headers);
    // A cut body is not JSON: record what the answer says, without the request's content.
    let recorded_body: &[u8] = if rest.is_some() { &[] } else { &whole };
    let stream = asks_for_stream(recorded_body);
    let exchange = shared.recorder.begin(recorded_body, metadata, api_key.as_deref());
    if exchange.is_some() {
        shared.counters.recorded.fetch_add(1, Ordering::Relaxed);
    }
    // Compressed answers could not be read for the record.
    headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    let body = match rest {
        None => {
            // reqwest sets the length of a whole body.
            headers.remove(CONTENT_LENGTH);
            reqwest::Body::from(whole)
        }
        Some(rest) => reqwest::Body::wrap_stream(stream::once(async { Ok(whole) }).chain(rest)),
    };
    let mut pending = Pending { exchange, shared: Arc::clone(shared), url: target.display.clone() };
    let request = shared.http.request(method, &target.url).headers(headers).body(body);
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => {
            let failure = Failure::new(shared, error, &target.display, api_key.as_deref());
            let answer = failure.answer(shared);
            if let Some(exchange) = pending.exchange.take() {
                exchange.fail(failure.error).await;
            }
            return answer;
        }
    };
    let (status, answer_headers) = answer_head(&response);
    let content_type = answer_headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let length = Length::of(&answer_headers);
    let body = match pending.exchange.take() {
        None => Body::from_stream(response.bytes_stream()),
        Some(exchange) if stream && status.is_success() => {
            let recorder = exchange.stream(content_type.as_deref());
            if length.is_empty() {
                recorder.end();
                Body::empty()
            } else {
                let streamed = Streamed {
                    response,
                    recorder: Some(recorder),
                    length,
                    shared: Arc::clone(shared),
                    api_key: api_key.clone(),
                };
                Body::from_stream(stream::unfold(streamed, Streamed::next))
            }
        }
        Some(exchange) => {
            let mut whole = Whole {
                response,
                pending: Pending {
                    exchange: Some(exchange),
                    shared: Arc::clone(&pending.shared),
                    url: pending.url.clone(),
                },
                status: status.as_u16(),
                retry_after: observers_openai::retry_after(&answer_headers),
                pieces: Vec::new(),
                length,
                kept: 0,
                too_large: false,
                api_key: api_key.clone(),
            };
            if whole.length.is_empty() {
                whole.finish().await;
                Body::empty()
            } else {
                Body::from_stream(stream::unfold(Some(whole), Whole::next))
            }
        }
    };
    relayed(status, answer_headers, body)
}

/// How much of an answer's body has come, against its `Content-Length`. The server stops
/// polling a body once it has relayed that many bytes, so the record is made when the last
/// of them arrives rather than at an end that would never be seen.
struct Length {
    announced: Option<u64>,
    received: u64,
}

impl Length {
    fn of(headers: &HeaderMap) -> Length {
        let announced = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.trim().parse().ok());
        Length { announced, received: 0 }
    }

    fn is_empty(&self) -> bool {
        self.announced == Some(0)
    }

    /// Counts `piece`; whether the body is now complete.
    fn add(&mut self, piece: &[u8]) -> bool {
        self.received += piece.len() as u64;
        self.announced.is_some_and(|announced| self.received >= announced)
    }
}

/// A call recorded but not answered yet. Dropped before its end (the client went away, or
/// the shutdown cut it), the call is recorded as such.
struct Pending {
    exchange: Option<Exchange>,
    shared: Arc<Shared>,
    /// Where the request went, without query.
    url: String,
}

impl Drop for Pending {
    fn drop(&mut self) {
        let Some(exchange) = self.exchange.take() else { return };
        let message = if self.shared.cutting.load(Ordering::SeqCst) {
            "the proxy shut down before the answer ended (its grace period ran out)"
        } else {
            "the client disconnected before the answer ended"
        };
        let error = observers_openai::Error::Http { url: self.url.clone(), message: message.to_owned() };
        self.shared.spawn_record(async move {
            exchange.fail(error).await;
        });
    }
}

/// A whole (non-streamed) answer, relayed piece by piece as it arrives and kept for its
/// record, which is made at its end.
struct Whole {
    response: reqwest::Response,
    pending: Pending,
    status: u16,
    retry_after: Option<Duration>,
    pieces: Vec<Bytes>,
    length: Length,
    kept: usize,
    /// The answer went past [`MAX_ANSWER_BYTES`]: relayed whole, recorded as too large.
    too_large: bool,
    api_key: Option<String>,
}

impl Whole {
    async fn next(state: Option<Whole>) -> Option<(Result<Bytes, BoxError>, Option<Whole>)> {
        let mut this = state?;
        match this.response.chunk().await {
            Ok(Some(piece)) => {
                if !this.too_large {
                    this.kept += piece.len();
                    if this.kept > MAX_ANSWER_BYTES {
                        this.too_large = true;
                        this.pieces = Vec::new();
                    } else {
                        this.pieces.push(piece.clone());
                    }
                }
                if this.length.add(&piece) {
                    this.finish().await;
                    return Some((Ok(piece), None));
                }
                Some((Ok(piece), Some(this)))
            }
            Ok(None) => {
                this.finish().await;
                None
            }
            Err(error) => {
                let url = this.pending.url.clone();
                let message = error_chain(error, this.api_key.as_deref());
                if let Some(exchange) = this.pending.exchange.take() {
                    exchange.fail(observers_openai::Error::Http { url, message: message.clone() }).await;
                }
                // An error ends the client's body too: it sees the answer break, as it broke.
                Some((Err(message.into()), None))
            }
        }
    }

    /// The body is complete: records it.
    async fn finish(&mut self) {
        let Some(exchange) = self.pending.exchange.take() else { return };
        if self.too_large {
            exchange.fail(observers_openai::Error::TooLarge { limit: MAX_ANSWER_BYTES }).await;
        } else {
            let body = concat(std::mem::take(&mut self.pieces), self.kept);
            // The caller's result is the record's business only.
            let _ = exchange.finish(self.status, self.retry_after, body).await;
        }
    }
}

/// A streamed answer, relayed chunk by chunk as it arrives, each through the recorder.
struct Streamed {
    response: reqwest::Response,
    recorder: Option<StreamRecorder>,
    length: Length,
    shared: Arc<Shared>,
    api_key: Option<String>,
}

impl Streamed {
    async fn next(mut self) -> Option<(Result<Bytes, BoxError>, Streamed)> {
        let recorder = self.recorder.as_mut()?;
        match self.response.chunk().await {
            Ok(Some(piece)) => {
                recorder.feed(&piece);
                if self.length.add(&piece) {
                    if let Some(recorder) = self.recorder.take() {
                        recorder.end();
                    }
                }
                Some((Ok(piece), self))
            }
            Ok(None) => {
                if let Some(recorder) = self.recorder.take() {
                    recorder.end();
                }
                None
            }
            Err(error) => {
                let message = error_chain(error, self.api_key.as_deref());
                if let Some(recorder) = self.recorder.take() {
                    recorder.fail(&message);
                }
                Some((Err(message.into()), self))
            }
        }
    }
}

impl Drop for Streamed {
    fn drop(&mut self) {
        // Dropped unended, the recorder records a client that stopped reading; a cut is
        // the proxy's doing.
        if let Some(recorder) = self.recorder.take() {
            if self.shared.cutting.load(Ordering::SeqCst) {
                recorder.fail("the proxy shut down before the end of the stream (its grace period ran out)");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_completions_paths_are_recognised() {
        assert!(is_chat_completions("/chat/completions"));
        assert!(is_chat_completions("/chat/completions/"));
        assert!(is_chat_completions("/openai/deployments/gpt-4o/chat/completions"));
        assert!(!is_chat_completions("/completions"));
        assert!(!is_chat_completions("/embeddings"));
        assert!(!is_chat_completions("/chat/completions/abc/messages"));
    }

    #[test]
    fn stream_requests_are_recognised() {
        assert!(asks_for_stream(
            br#"{"model":"m","stream":true,"messages":[{"content":"\"stream\":false"}]}"#
        ));
        assert!(!asks_for_stream(br#"{"model":"m","stream":false}"#));
        assert!(!asks_for_stream(br#"{"model":"m","stream":"true"}"#));
        assert!(!asks_for_stream(br#"{"model":"m"}"#));
        assert!(!asks_for_stream(b"not json"));
        assert!(!asks_for_stream(b""));
    }
}
