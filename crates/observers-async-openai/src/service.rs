//! The tower service that records chat completions on their way through async-openai's
//! transport: the request body as it goes out, the answer's bytes as they come back, handed
//! to observers-openai's [`Recorder`](observers_openai::Recorder), which makes the record.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use observers_openai::{take_header_metadata, Error, StreamRecorder};
use reqwest::header::{HeaderMap, CONTENT_TYPE};
use reqwest::{Method, Request, Response, ResponseBuilderExt, StatusCode, Url, Version};
use tower::Service;

use crate::Shared;

/// The service a [`RecordLayer`](crate::RecordLayer) puts over async-openai's transport
/// `S`: records each chat completion passing through, and passes every call on unchanged.
#[derive(Clone)]
pub struct RecordService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> fmt::Debug for RecordService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordService").finish_non_exhaustive()
    }
}

impl<S> RecordService<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        RecordService { inner, shared }
    }
}

type ResponseFuture = Pin<Box<dyn Future<Output = Result<Response, OpenAIError>> + Send>>;

impl<S> Service<HttpRequestFactory> for RecordService<S>
where
    S: Service<HttpRequestFactory, Response = Response, Error = OpenAIError> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = OpenAIError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), OpenAIError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, factory: HttpRequestFactory) -> ResponseFuture {
        // The instance made ready is the one to call; leave a fresh clone in its place.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(record(inner, factory, self.shared.clone()))
    }
}

/// Whether `request` creates a chat completion (also Azure's
/// `/openai/deployments/{id}/chat/completions`; not `/chat/completions/{id}`, an update).
fn is_chat_completion(request: &Request) -> bool {
    request.method() == Method::POST
        && request.url().path().trim_end_matches('/').ends_with("/chat/completions")
}

/// Whether a request body asks for a stream (`"stream": true`), reading nothing else.
fn asks_for_stream(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Peek {
        stream: Option<bool>,
    }
    serde_json::from_slice::<Peek>(body).is_ok_and(|p| p.stream == Some(true))
}

/// A factory handing out `request`, already built, the first time, and building afresh from
/// `factory` after (a retry below us, should there be one), without our headers.
fn built_once(request: Request, factory: HttpRequestFactory) -> HttpRequestFactory {
    let slot = Arc::new(Mutex::new(Some(request)));
    HttpRequestFactory::new(move || {
        let built = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
        let factory = factory.clone();
        async move {
            match built {
                Some(request) => Ok(request),
                None => factory.build().await.map(|mut request| {
                    take_header_metadata(request.headers_mut());
                    request
                }),
            }
        }
    })
}

async fn record<S>(
    mut inner: S,
    factory: HttpRequestFactory,
    shared: Arc<Shared>,
) -> Result<Response, OpenAIError>
where
    S: Service<HttpRequestFactory, Response = Response, Error = OpenAIError>,
{
    // Built here to see it (async-openai builds each attempt afresh); the transport below
    // gets this very request, not a second build.
    let mut request = factory.build().await?;
    // Per-call tags, user and session ride on `X-Observers-*` headers (async-openai's
    // `RequestOptions`); they are ours, never the provider's.
    let metadata = take_header_metadata(request.headers_mut());
    let exchange = if is_chat_completion(&request) && !metadata.skip {
        request.body().and_then(reqwest::Body::as_bytes).and_then(|body| {
            let exchange = shared.recorder.begin(body, &metadata.call, shared.api_key.as_deref())?;
            Some((exchange, asks_for_stream(body)))
        })
    } else {
        None
    };
    let Some((exchange, stream)) = exchange else {
        return inner.call(built_once(request, factory)).await;
    };
    let url = request.url().clone();
    let mut response = match inner.call(built_once(request, factory)).await {
        Ok(response) => response,
        Err(error) => {
            exchange.fail(failure(&error, &url)).await;
            return Err(error);
        }
    };
    let status = response.status();
    if stream && status.is_success() {
        let content_type = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let recorder = exchange.stream(content_type);
        let parts = Parts::take(&mut response);
        let tee = Tee { body: Box::pin(response.bytes_stream()), recorder: Some(recorder), url };
        return Ok(parts.rebuild(reqwest::Body::wrap_stream(tee)));
    }
    // A whole answer: a plain call's, or any error status (read here, since a retry above
    // may drop it unread). async-openai reads it whole as well.
    let retry_after = observers_openai::retry_after(response.headers());
    let parts = Parts::take(&mut response);
    let mut body = BytesMut::with_capacity(response.content_length().map_or(0, |n| n.min(1 << 20) as usize));
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(error) => {
                if status.is_success() {
                    exchange.fail(Error::transport(&error, &url)).await;
                } else {
                    // The status says what failed; the body only adds detail.
                    let _ = exchange.finish(status.as_u16(), retry_after, Bytes::new()).await;
                }
                // As async-openai's own read (`Response::bytes`) words it.
                return Err(OpenAIError::Reqwest(error.with_url(parts.url)));
            }
        }
    }
    let body = body.freeze();
    let _ = exchange.finish(status.as_u16(), retry_after, body.clone()).await;
    Ok(parts.rebuild(reqwest::Body::from(body)))
}

/// What a call that got no answer failed with, as the wrapped client words it.
fn failure(error: &OpenAIError, url: &Url) -> Error {
    match error {
        OpenAIError::Reqwest(error) => Error::transport(error, url),
        other => Error::transport(other, url),
    }
}

/// A response without its body, to give it a new one.
struct Parts {
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    extensions: http::Extensions,
    url: Url,
}

impl Parts {
    fn take(response: &mut Response) -> Parts {
        Parts {
            status: response.status(),
            version: response.version(),
            headers: std::mem::take(response.headers_mut()),
            extensions: std::mem::take(response.extensions_mut()),
            url: response.url().clone(),
        }
    }

    fn rebuild(self, body: reqwest::Body) -> Response {
        let mut response = http::Response::new(body);
        *response.status_mut() = self.status;
        *response.version_mut() = self.version;
        *response.headers_mut() = self.headers;
        let extensions = response.extensions_mut();
        *extensions = self.extensions;
        // reqwest keeps a response's URL in an extension only its builder sets.
        if let Ok(marker) = http::Response::builder().url(self.url).body(()) {
            extensions.extend(marker.into_parts().0.extensions);
        }
        Response::from(response)
    }
}

type BodyStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// A streamed answer's body on its way to async-openai, its bytes fed to the recorder as
/// they pass. Dropped before the end (async-openai stops at `[DONE]`, or its caller went
/// away), the recorder records what it has.
struct Tee {
    body: BodyStream,
    /// `None` once the record is made.
    recorder: Option<StreamRecorder>,
    url: Url,
}

impl Stream for Tee {
    type Item = reqwest::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let item = futures_util::ready!(this.body.as_mut().poll_next(cx));
        match &item {
            Some(Ok(bytes)) => {
                if let Some(recorder) = &mut this.recorder {
                    recorder.feed(bytes);
                    if recorder.is_ended() {
                        this.recorder = None;
                    }
                }
            }
            Some(Err(error)) => {
                if let Some(recorder) = this.recorder.take() {
                    recorder.fail(Error::transport(error, &this.url));
                }
            }
            None => {
                if let Some(recorder) = this.recorder.take() {
                    recorder.end();
                }
            }
        }
        Poll::Ready(item)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn request(method: Method, url: &str) -> Request {
        Request::new(method, Url::parse(url).unwrap())
    }

    #[test]
    fn only_creating_a_chat_completion_is_recorded() {
        let cases = [
            (Method::POST, "https://api.openai.com/v1/chat/completions", true),
            (
                Method::POST,
                "https://x.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=1",
                true,
            ),
            (Method::POST, "http://localhost:8000/v1/chat/completions/", true),
            (Method::POST, "https://api.openai.com/v1/chat/completions/chatcmpl-1", false),
            (Method::GET, "https://api.openai.com/v1/chat/completions", false),
            (Method::POST, "https://api.openai.com/v1/completions", false),
            (Method::POST, "https://api.openai.com/v1/responses", false),
        ];
        for (method, url, expected) in cases {
            assert_eq!(is_chat_completion(&request(method.clone(), url)), expected, "{method} {url}");
        }
    }

    #[test]
    fn only_stream_true_asks_for_a_stream() {
        assert!(asks_for_stream(br#"{"model":"m","stream":true}"#));
        assert!(!asks_for_stream(br#"{"model":"m","stream":false}"#));
        assert!(!asks_for_stream(br#"{"model":"m","metadata":{"stream":true}}"#));
        assert!(!asks_for_stream(b"not json"));
    }

    #[test]
    fn a_rebuilt_response_keeps_status_version_headers_and_url() {
        let url = Url::parse("http://127.0.0.1:1/v1/chat/completions").unwrap();
        let original = http::Response::builder()
            .status(429)
            .version(Version::HTTP_2)
            .header("retry-after", "1")
            .url(url.clone())
            .body("first")
            .unwrap();
        let mut response = Response::from(original);
        let parts = Parts::take(&mut response);
        let rebuilt = parts.rebuild(reqwest::Body::from("second"));
        assert_eq!(rebuilt.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(rebuilt.version(), Version::HTTP_2);
        assert_eq!(rebuilt.headers()["retry-after"], "1");
        assert_eq!(rebuilt.url(), &url);
    }
}
