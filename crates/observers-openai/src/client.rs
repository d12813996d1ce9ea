//! The OpenAI-compatible client: configuration, HTTP, and the `chat().completions()` API.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};

use crate::error::{embedded_error, snippet, ApiError, Error, Result};
use crate::observe::{Call, Observer};
use crate::stream::ChatCompletionStream;
use crate::types::{ChatCompletion, ChatCompletionRequest};

/// Where [`OpenAi::from_env`] sends requests when `OPENAI_BASE_URL` is not set.
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
/// The Hugging Face Inference router's OpenAI-compatible endpoint.
pub const HF_ROUTER_BASE_URL: &str = "https://router.huggingface.co/v1";
/// Default time a non-streaming call may take, and a stream may stay silent (as the
/// official OpenAI clients: 10 minutes).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// Default time to establish a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest answer the client holds whole: a non-streaming body (or a JSON body sent to a
/// stream request). A larger one is [`Error::TooLarge`]: the longest real completions are a
/// few megabytes, and this bounds the memory a broken or hostile server can make the client
/// take.
///
/// Streams are not cut: their chunks go to the caller as they come. An observed stream's raw
/// chunks are kept for its record up to this size; past it the record keeps the reassembled
/// answer without them (`raw_response` empty, and a warning logged).
pub const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;
/// How much of an error body is read: enough for any provider's message.
const MAX_ERROR_BODY_BYTES: usize = 1024 * 1024;

/// A client for any OpenAI-compatible chat-completions API.
///
/// Cheap to clone (an `Arc` inside). Wrap it with [`wrap_openai`](crate::wrap_openai) to
/// record every call.
///
/// # Example
/// ```no_run
/// use observers_openai::{ChatCompletionRequest, ChatMessage, OpenAi};
///
/// # async fn run() -> Result<(), observers_openai::Error> {
/// let client = OpenAi::builder().base_url("http://localhost:11434/v1").build()?; // Ollama
/// let request = ChatCompletionRequest::new("llama3.2").message(ChatMessage::user("Hi!"));
/// let completion = client.chat().completions().create(request).await?;
/// println!("{}", completion.content().unwrap_or_default());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct OpenAi {
    pub(crate) inner: Arc<Inner>,
    pub(crate) observer: Option<Arc<Observer>>,
}

pub(crate) struct Inner {
    http: reqwest::Client,
    /// `{base_url}/chat/completions`.
    completions_url: String,
    /// The same without credentials, for error messages.
    pub(crate) display_url: String,
    api_key: Option<Arc<str>>,
    timeout: Duration,
    /// Content type, authorization and the user's headers, sent with every request (also
    /// through a user-provided `reqwest::Client`).
    headers: HeaderMap,
}

impl fmt::Debug for OpenAi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAi")
            .field("url", &self.inner.display_url)
            .field("api_key", &self.inner.api_key.as_ref().map(|_| "[REDACTED]"))
            .field("observed", &self.observer.is_some())
            .finish()
    }
}

/// Options for an [`OpenAi`] client.
#[derive(Debug, Default, Clone)]
pub struct OpenAiBuilder {
    base_url: Option<String>,
    api_key: Option<String>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    headers: Vec<(String, String)>,
    http_client: Option<reqwest::Client>,
}

impl OpenAiBuilder {
    /// The API's base URL, e.g. `http://localhost:8000/v1` (requests go to
    /// `{base_url}/chat/completions`).
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into());
        self
    }

    /// The API key, sent as `Authorization: Bearer <key>`.
    pub fn api_key(mut self, api_key: impl Into<String>) -> Self {
        self.api_key = Some(api_key.into()).filter(|k: &String| !k.is_empty());
        self
    }

    /// Longest a non-streaming call may take, and a stream may stay silent (default 10 min).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Longest time to connect (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// A header sent with every request (e.g. `OpenAI-Organization`, `X-Title`).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Uses this `reqwest::Client` (proxies, TLS roots...); timeouts set here still apply
    /// per request.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<OpenAi> {
        let base_url = self.base_url.unwrap_or_else(|| OPENAI_BASE_URL.to_string());
        let base_url = base_url.trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&base_url)
            .map_err(|e| Error::InvalidArgument(format!("base URL {base_url:?} is not a URL: {e}")))?;
        let mut display = parsed.clone();
        let _ = display.set_username("");
        let _ = display.set_password(None);
        display.set_query(None);
        let display_url = format!("{}/chat/completions", display.as_str().trim_end_matches('/'));

        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in &self.headers {
            let name = HeaderName::try_from(name.as_str())
                .map_err(|e| Error::InvalidArgument(format!("header name {name:?}: {e}")))?;
            let mut value = HeaderValue::try_from(value.as_str())
                .map_err(|_| Error::InvalidArgument(format!("the value of header {name} is not valid")))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        if let Some(key) = &self.api_key {
            let mut value = HeaderValue::try_from(format!("Bearer {key}")).map_err(|_| {
                Error::InvalidArgument("the API key contains characters a header cannot carry".into())
            })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let http = match self.http_client {
            Some(client) => client,
            None => reqwest::Client::builder()
                .connect_timeout(self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT))
                .read_timeout(timeout)
                .user_agent(concat!("observers/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| Error::InvalidArgument(format!("could not build the HTTP client: {e}")))?,
        };
        Ok(OpenAi {
            inner: Arc::new(Inner {
                http,
                completions_url: format!("{base_url}/chat/completions"),
                display_url,
                api_key: self.api_key.map(Arc::from),
                timeout,
                headers,
            }),
            observer: None,
        })
    }
}

impl OpenAi {
    /// Options for a client.
    pub fn builder() -> OpenAiBuilder {
        OpenAiBuilder::default()
    }

    /// A client configured from the environment, as the official clients read it:
    /// `OPENAI_BASE_URL` (default the OpenAI API) and `OPENAI_API_KEY`; for Hugging Face
    /// endpoints (`*.huggingface.co`, `*.huggingface.cloud`) `HF_TOKEN` first.
    ///
    /// Fails with [`Error::MissingApiKey`] only for the OpenAI API itself, which needs one;
    /// local servers (Ollama, vLLM, llama.cpp) are used without a key.
    pub fn from_env() -> Result<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let base_url = var("OPENAI_BASE_URL").unwrap_or_else(|| OPENAI_BASE_URL.to_string());
        let is_hf = reqwest::Url::parse(&base_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .is_some_and(|h| h.ends_with("huggingface.co") || h.ends_with("huggingface.cloud"));
        let key =
            if is_hf { var("HF_TOKEN").or_else(|| var("OPENAI_API_KEY")) } else { var("OPENAI_API_KEY") };
        if key.is_none() && base_url.trim_end_matches('/') == OPENAI_BASE_URL {
            return Err(Error::MissingApiKey);
        }
        let mut builder = Self::builder().base_url(base_url);
        if let Some(key) = key {
            builder = builder.api_key(key);
        }
        builder.build()
    }

    /// A client for the Hugging Face Inference router with the token in `HF_TOKEN`.
    pub fn hf_inference() -> Result<Self> {
        let token = std::env::var("HF_TOKEN").ok().filter(|t| !t.is_empty()).ok_or(Error::MissingApiKey)?;
        Self::builder().base_url(HF_ROUTER_BASE_URL).api_key(token).build()
    }

    /// The chat API.
    pub fn chat(&self) -> Chat<'_> {
        Chat { client: self }
    }

    /// Whether calls are recorded (the client came from [`wrap_openai`](crate::wrap_openai)).
    pub fn is_observed(&self) -> bool {
        self.observer.is_some()
    }

    /// Records that could not be handed to the store (store closed or failing); each was
    /// logged. Always 0 for a client that is not observed.
    pub fn records_lost(&self) -> u64 {
        self.observer.as_ref().map_or(0, |o| o.lost())
    }
}

/// The chat API of a client: `client.chat().completions()`.
#[derive(Debug, Clone, Copy)]
pub struct Chat<'a> {
    client: &'a OpenAi,
}

impl<'a> Chat<'a> {
    /// Chat completions.
    pub fn completions(&self) -> Completions<'a> {
        Completions { client: self.client }
    }
}

/// `client.chat().completions()`: create chat completions, whole or streamed.
#[derive(Debug, Clone, Copy)]
pub struct Completions<'a> {
    client: &'a OpenAi,
}

impl Completions<'_> {
    /// Creates a chat completion and waits for the whole answer.
    ///
    /// For a streamed answer use [`create_stream`](Self::create_stream); a request with
    /// `"stream": true` is refused here.
    pub async fn create(&self, request: impl Into<ChatCompletionRequest>) -> Result<ChatCompletion> {
        let request = request.into();
        if request.is_stream() {
            return Err(Error::InvalidArgument(
                "the request has \"stream\": true; use `create_stream` for streamed answers".into(),
            ));
        }
        let mut call = Call::begin(self.client, request);
        let result = self.client.inner.complete(call.body()).await;
        call.finish(result).await
    }

    /// Creates a streamed chat completion: the returned stream yields each chunk as the
    /// server sends it. Sets `"stream": true` on the request.
    pub async fn create_stream(
        &self,
        request: impl Into<ChatCompletionRequest>,
    ) -> Result<ChatCompletionStream> {
        let mut request = request.into();
        request.body_mut().insert("stream".into(), serde_json::Value::Bool(true));
        let mut call = Call::begin(self.client, request);
        match self.client.inner.send(call.body(), true).await {
            Ok(response) => {
                let recording = call.recording.take();
                Ok(ChatCompletionStream::new(self.client.inner.clone(), response, call.started(), recording))
            }
            Err(error) => Err(call.fail(error).await),
        }
    }
}

/// A response body read up to a limit.
enum Body {
    Whole(Bytes),
    /// The body went past the limit: its first bytes, up to the limit.
    Cut(Bytes),
}

/// Reads `response`'s body, stopping at `limit` bytes rather than holding whatever a server
/// sends.
async fn read_up_to(mut response: reqwest::Response, limit: usize) -> reqwest::Result<Body> {
    let announced = response.content_length().and_then(|len| usize::try_from(len).ok());
    let mut body = bytes::BytesMut::with_capacity(announced.unwrap_or(0).min(limit));
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            body.extend_from_slice(&chunk[..limit - body.len()]);
            return Ok(Body::Cut(body.freeze()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Body::Whole(body.freeze()))
}

/// The error an answer with an error status means (`body`: the start of its body at least).
pub(crate) fn status_error(
    status: u16,
    body: &[u8],
    retry_after: Option<Duration>,
    redact: impl Fn(&str) -> String,
) -> Error {
    let mut api = ApiError::from_body(status, &String::from_utf8_lossy(body), retry_after);
    api.message = redact(&api.message);
    Error::Api(Box::new(api))
}

/// Reads a non-streaming answer sent with a success status: a chat completion, or the error
/// a gateway put in it (see [`embedded_error`]). `redact` cleans text bound for an error.
pub(crate) fn parse_answer(raw: Bytes, redact: impl Fn(&str) -> String) -> Result<Answer> {
    let completion: ChatCompletion = serde_json::from_slice(&raw).map_err(|e| Error::Decode {
        message: e.to_string(),
        snippet: redact(&snippet(&String::from_utf8_lossy(&raw), 200)),
    })?;
    let choices = completion.choices.iter().map(|choice| &choice.extra);
    if let Some(error) = embedded_error(completion.object.as_deref(), &completion.extra, choices) {
        let mut api = ApiError::embedded(&error, serde_json::from_slice(&raw).ok());
        api.message = redact(&api.message);
        return Err(Error::Api(Box::new(api)));
    }
    Ok(Answer { completion, raw })
}

/// The body of a successful non-streaming answer.
pub(crate) struct Answer {
    pub(crate) completion: ChatCompletion,
    pub(crate) raw: Bytes,
}

impl Inner {
    /// Sends the request; an HTTP error status becomes [`Error::Api`].
    pub(crate) async fn send(&self, body: Bytes, stream: bool) -> Result<reqwest::Response> {
        let mut request = self.http.post(&self.completions_url).body(body).headers(self.headers.clone());
        if stream {
            request = request.header(ACCEPT, "text/event-stream");
        } else {
            request = request.timeout(self.timeout);
        }
        let response = request.send().await.map_err(|e| self.transport_error(&e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = retry_after(response.headers());
        // The status says what failed: a body that breaks off or runs long loses detail only.
        let body = match read_up_to(response, MAX_ERROR_BODY_BYTES).await {
            Ok(Body::Whole(body) | Body::Cut(body)) => body,
            Err(_) => Bytes::new(),
        };
        Err(status_error(status.as_u16(), &body, retry_after, |text| self.redact(text).into_owned()))
    }

    /// Sends a non-streaming request and reads the whole answer.
    pub(crate) async fn complete(&self, body: Bytes) -> Result<Answer> {
        let response = self.send(body, false).await?;
        let raw = match read_up_to(response, MAX_ANSWER_BYTES).await {
            Ok(Body::Whole(raw)) => raw,
            Ok(Body::Cut(_)) => return Err(Error::TooLarge { limit: MAX_ANSWER_BYTES }),
            Err(e) => return Err(self.transport_error(&e)),
        };
        parse_answer(raw, |text| self.redact(text).into_owned())
    }

    pub(crate) fn transport_error(&self, error: &reqwest::Error) -> Error {
        transport_error(error, &self.completions_url, &self.display_url, Some(self.timeout), |text| {
            self.redact(text).into_owned()
        })
    }

    /// `text` with the API key replaced, in case a server echoed it.
    pub(crate) fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        redact(self.api_key.as_deref(), text)
    }

    pub(crate) fn api_key(&self) -> Option<&Arc<str>> {
        self.api_key.as_ref()
    }
}

/// What a request to `url` that failed in transport means: a timeout (when `timeout`, the
/// limit in force, is known), a refused connection, or a broken one. `display_url` is `url`
/// without credentials, for the message; `redact` cleans the rest of it.
fn transport_error(
    error: &(dyn std::error::Error + 'static),
    url: &str,
    display_url: &str,
    timeout: Option<Duration>,
    redact: impl Fn(&str) -> String,
) -> Error {
    let transport = error.downcast_ref::<reqwest::Error>();
    let display = display_url.to_string();
    if let Some(timeout) = timeout.filter(|_| transport.is_some_and(reqwest::Error::is_timeout)) {
        return Error::Timeout { url: display, timeout };
    }
    let message = redact(&error_chain(error)).replace(url, display_url);
    if transport.is_some_and(reqwest::Error::is_connect) {
        Error::Connect { url: display, message }
    } else {
        Error::Http { url: display, message }
    }
}

impl Error {
    /// The error the wrapped client reports when its request to `url` fails in transport
    /// (refused, reset, cut short), for code that sends its own requests and records them
    /// with a [`Recorder`](crate::Recorder): pass it to [`Exchange::fail`](crate::Exchange::fail)
    /// or [`StreamRecorder::fail`](crate::StreamRecorder::fail) and the record says what the
    /// wrapped client's would. `error` is usually a `reqwest::Error` (refused connections are
    /// then [`Error::Connect`]); the message names `url` without its credentials or query.
    /// A timeout is [`Error::Http`] here, since the limit in force is not known.
    ///
    /// # Example
    /// ```
    /// use observers_openai::Error;
    ///
    /// let url = reqwest::Url::parse("http://user:secret@localhost:1/v1/chat/completions?k=v").unwrap();
    /// let error = Error::transport(&std::io::Error::other("connection reset"), &url);
    /// assert_eq!(
    ///     error.to_string(),
    ///     "the connection to http://localhost:1/v1/chat/completions failed: connection reset"
    /// );
    /// ```
    pub fn transport(error: &(dyn std::error::Error + 'static), url: &reqwest::Url) -> Error {
        let mut display = url.clone();
        let _ = display.set_username("");
        let _ = display.set_password(None);
        display.set_query(None);
        transport_error(error, url.as_str(), display.as_str(), None, str::to_string)
    }
}

/// An error's message followed by those of its causes (`a: b: c`), each said once: the
/// message of a `reqwest::Error` is terse ("error sending request"), its causes say what
/// happened ("connection refused"). Clear a `reqwest::Error` of its URL first
/// (`without_url`): a URL can carry credentials.
///
/// ```
/// let error = std::io::Error::other("connection refused");
/// assert_eq!(observers_openai::error_chain(&error), "connection refused");
/// ```
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = String::new();
    let mut source = Some(error);
    while let Some(e) = source {
        let text = e.to_string();
        if !message.contains(&text) {
            if !message.is_empty() {
                message.push_str(": ");
            }
            message.push_str(&text);
        }
        source = e.source();
    }
    message
}

/// `text` with `secret` replaced, in case a server echoed it; a secret shorter than 4
/// characters cannot be told from ordinary text and is left alone.
pub(crate) fn redact<'t>(secret: Option<&str>, text: &'t str) -> Cow<'t, str> {
    match secret {
        Some(key) if key.len() >= 4 && text.contains(key) => Cow::Owned(text.replace(key, "[REDACTED]")),
        _ => Cow::Borrowed(text),
    }
}

/// How long an answer's headers ask to wait before retrying: `retry-after-ms`
/// (milliseconds) or `retry-after` (seconds; HTTP dates are ignored). What
/// [`Exchange::finish`](crate::Exchange::finish) takes, read as the wrapped client reads it.
///
/// ```
/// use reqwest::header::{HeaderMap, HeaderValue};
/// use std::time::Duration;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("retry-after", HeaderValue::from_static("2"));
/// assert_eq!(observers_openai::retry_after(&headers), Some(Duration::from_secs(2)));
/// ```
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let number =
        |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<f64>().ok().filter(|v| *v >= 0.0);
    number("retry-after-ms")
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .or_else(|| number(RETRY_AFTER.as_str()).map(Duration::from_secs_f64))
}

pub(crate) fn elapsed_ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}
