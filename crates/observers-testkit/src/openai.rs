//! A loopback mock of the OpenAI chat-completions API.
//!
//! [`MockOpenAi`] listens on `127.0.0.1:<free port>` and serves:
//! - `POST /v1/chat/completions` (also `/chat/completions`): the answer of a [`Scenario`];
//! - `GET /v1/models` (also `/models`): an OpenAI model list;
//! - anything else: OpenAI's 404 `Invalid URL` error.
//!
//! The scenario of a chat request is, in order: the `x-mock-scenario: <name>` header
//! ([`SCENARIO_HEADER`]), the body's `"model"` when it starts with `mock:`
//! ([`MOCK_MODEL_PREFIX`], e.g. `"mock:tool_calls"`), else the server default
//! ([`MockOpenAi::set_scenario`]). An unknown scenario name gets a 400. Any API key is accepted.
//!
//! Answers are deterministic: the text is [`MOCK_ANSWER_PREFIX`] followed by the last user
//! message (first 200 characters); a stream sends it one word per chunk (each word with its
//! trailing whitespace), so the deltas concatenate to the non-streaming content. Usage counts
//! words: `prompt_tokens` over every message's text, `completion_tokens` one per streamed piece.

mod exchange;
mod providers;
mod reference;
pub(crate) mod wire;

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use axum::serve::ListenerExt;
use axum::Router;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;

use self::exchange::Exchange;
use self::wire::{pause, Reply};

/// Every text answer starts with this, followed by the last user message.
pub const MOCK_ANSWER_PREFIX: &str = "Mock answer to: ";
/// The request header that picks the scenario of one request (`x-mock-scenario: tool_calls`).
pub const SCENARIO_HEADER: &str = "x-mock-scenario";
/// A request `"model"` starting with this picks the scenario named after it (`mock:stall`).
pub const MOCK_MODEL_PREFIX: &str = "mock:";
/// The `model` echoed when a request has none.
pub const DEFAULT_MODEL: &str = "mock-model";

/// Name of the first tool call of [`Scenario::ToolCalls`] and [`Scenario::Quirky`].
pub const WEATHER_TOOL_NAME: &str = "get_weather";
/// Arguments (a JSON string) of the first tool call.
pub const WEATHER_TOOL_ARGUMENTS: &str = r#"{"city":"Paris"}"#;
/// Id of the first tool call.
pub const WEATHER_TOOL_CALL_ID: &str = "call_mock_get_weather_0";
/// Name of the second tool call.
pub const TIME_TOOL_NAME: &str = "get_time";
/// Arguments (a JSON string) of the second tool call.
pub const TIME_TOOL_ARGUMENTS: &str = r#"{"timezone":"Europe/Paris"}"#;
/// Id of the second tool call.
pub const TIME_TOOL_CALL_ID: &str = "call_mock_get_time_1";

/// The `error.message` of [`Scenario::ErrorInBody`] when not streamed (OpenRouter's).
pub const PROVIDER_ERROR_MESSAGE: &str = "Provider returned error";
/// The `error.code` of [`Scenario::ErrorInBody`] when not streamed: the upstream's status.
pub const PROVIDER_ERROR_CODE: u16 = 429;
/// The `error.message` of [`Scenario::ErrorInBody`] streamed and of [`Scenario::ErrorInChoice`].
pub const PROVIDER_DISCONNECTED_MESSAGE: &str = "Provider disconnected unexpectedly";

/// The `error.message` of [`Scenario::MidStreamError`] (vLLM's engine-failure message).
pub const MID_STREAM_ERROR_MESSAGE: &str =
    "EngineCore encountered an issue. See stack trace (above) for the root cause.";

/// `model` of [`Scenario::Vllm`] responses.
pub const VLLM_MODEL: &str = "Qwen/Qwen3-8B";
/// `model` of [`Scenario::Tgi`] responses.
pub const TGI_MODEL: &str = "meta-llama/Llama-3.1-8B-Instruct";
/// `model` of [`Scenario::Ollama`] responses.
pub const OLLAMA_MODEL: &str = "llama3.2";
/// `model` of [`Scenario::HfRouter`] responses (Together AI's name, passed through the router).
pub const HF_ROUTER_MODEL: &str = "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo";
/// `model` of non-streaming [`Scenario::LlamaCpp`] responses (llama-server's default name;
/// its stream chunks send `""`).
pub const LLAMA_CPP_MODEL: &str = "gpt-3.5-turbo";

/// How long [`Scenario::Stall`] keeps a request waiting.
const STALL: Duration = Duration::from_secs(3600);

/// The `created` of listed models (that of OpenAI's gpt-3.5-turbo entry).
const MODELS_CREATED: u64 = 1_677_610_602;

/// The largest `large_answer_<bytes>` the mock builds (it holds the answer in memory).
const MAX_LARGE_ANSWER: usize = 1 << 30;

/// Request bodies above this size are recorded as empty.
const MAX_REQUEST_BYTES: usize = 64 * 1024 * 1024;

/// What the mock answers to a chat-completion request.
///
/// Every scenario has a snake_case name ([`Scenario::name`], [`Scenario::from_name`]) used by
/// the `x-mock-scenario` header and `mock:<name>` models.
#[derive(Debug, Clone, PartialEq)]
pub enum Scenario {
    /// `text`: the assistant answers with text; streams when the request has `"stream": true`
    /// (with a final `choices: []` usage chunk when `stream_options.include_usage` is true).
    Text,
    /// `tool_calls`: two parallel tool calls ([`WEATHER_TOOL_NAME`], [`TIME_TOOL_NAME`]),
    /// finish_reason `tool_calls`. Streamed, id/type/name come only in each call's first
    /// fragment (index 0 and 1) and the arguments follow in fragments cut mid-token.
    ToolCalls,
    /// `http_error_<status>`: that status with an OpenAI error body
    /// `{"error":{"message","type","param","code"}}`; 429 adds `retry-after: 1` and the
    /// `x-ratelimit-*` headers; 500 is OpenAI's `server_error`.
    HttpError(u16),
    /// `disconnect_mid_stream`: streamed, a role chunk and 3 content chunks, then the
    /// connection is aborted (no `[DONE]`); not streamed, half the JSON body then the abort.
    DisconnectMidStream,
    /// `slow_first_token_<n>ms`: like [`Scenario::Text`], but the first chunk (stream) or the
    /// whole response (non-stream) comes only after this delay.
    SlowFirstToken(Duration),
    /// `stall`: accepts the request and never answers (an hour), for client timeouts.
    Stall,
    /// `malformed_json`: 200, `application/json`, and a JSON body cut in half.
    MalformedJson,
    /// `malformed_sse`: streamed, a role chunk, then `data: {not json}`, then the rest of a
    /// valid stream and `[DONE]` (non-stream requests get [`Scenario::Text`]).
    MalformedSse,
    /// `mid_stream_error`: streamed, a role chunk, 2 content chunks, then a vLLM-style
    /// `data: {"error":{...,"type":"InternalServerError","code":500}}` and the end of the
    /// body without `[DONE]`; not streamed, HTTP 500 with that error object.
    MidStreamError,
    /// `vllm`: text in vLLM's shapes (`stop_reason`, `reasoning_content`, finish on the last
    /// delta, no `usage` key on ordinary chunks), model [`VLLM_MODEL`].
    Vllm,
    /// `tgi`: text in TGI 3.x's shapes (`id: ""`, `data:` without a space, `role` in every
    /// delta, `"usage": null` on every chunk), model [`TGI_MODEL`].
    Tgi,
    /// `ollama`: text in Ollama `/v1` shapes (`chatcmpl-<n>`, `fp_ollama`, no `logprobs`,
    /// `role` in every delta), model [`OLLAMA_MODEL`].
    Ollama,
    /// `hf_router`: router.huggingface.co passing Together AI's body through (`<hex>-SJC` id,
    /// `finish_reason: "eos"`, a `seed` above `i64::MAX`, usage on the last content chunk
    /// even without include_usage), model [`HF_ROUTER_MODEL`].
    HfRouter,
    /// `llama_cpp`: text in llama-server's shapes (`timings`, `choices` first, stream
    /// `model: ""`, `content: null` role chunk, `timings` on the last chunk).
    LlamaCpp,
    /// `quirky`: streamed with every framing quirk at once: CRLF line endings, `: keep-alive`
    /// comments (one before the first event), `data:` without a space, text then a tool call
    /// without `index` followed by a second call reusing index 0 with a new id, usage on the
    /// finish chunk, and no `[DONE]`. Not streamed: no id/created/object/usage,
    /// `content: null` with both tool calls, and unknown fields.
    Quirky,
    /// `large_answer_<bytes>`: like [`Scenario::Text`], but the content is padded to exactly
    /// that many bytes (ASCII mixed with 2-, 3- and 4-byte characters) and streamed in pieces
    /// of 64 Ki characters. For huge-response tests: `large_answer_52428800` is 50 MiB (1 GiB at
    /// most).
    LargeAnswer(usize),
    /// `invalid_utf8`: streamed, a role chunk, 2 content chunks, then a chunk whose content
    /// holds bytes that are not UTF-8, then the rest and `[DONE]`; not streamed, the text
    /// completion with those bytes inside its content.
    InvalidUtf8,
    /// `error_in_body`: OpenRouter's upstream failure, HTTP 200 all the same. Not streamed:
    /// `{"error":{"message":"Provider returned error","code":429,"metadata":{...}},"user_id"}`
    /// and no `choices`. Streamed: a role chunk, 2 content chunks, then a chunk with a
    /// top-level `error` (`"code":"server_error"`) and a choice whose `finish_reason` is
    /// `"error"`, then the end of the body.
    ErrorInBody,
    /// `error_in_choice`: HTTP 200 with the error inside the choice (OpenRouter's per-choice
    /// `error`, `finish_reason: "error"`, empty content), next to an id, a model and usage;
    /// streamed, the same error on the choice of the last chunk.
    ErrorInChoice,
    /// `reused_index_tool_calls`: as gateways in front of Gemini stream two tool calls: both
    /// on `index: 0`, the second with no `id` and an empty `name`, only its `arguments` (in
    /// fragments). Not streamed: the two calls as [`Scenario::ToolCalls`] sends them.
    ReusedIndexToolCalls,
}

impl Scenario {
    /// The scenario called `name` (see [`Scenario::name`]); `None` for an unknown name.
    /// Parameterised names: `http_error_<100..=599>`, `slow_first_token_<milliseconds>ms`,
    /// `large_answer_<bytes>`.
    pub fn from_name(name: &str) -> Option<Scenario> {
        let name = name.trim();
        let scenario = match name {
            "text" => Scenario::Text,
            "tool_calls" => Scenario::ToolCalls,
            "disconnect_mid_stream" => Scenario::DisconnectMidStream,
            "stall" => Scenario::Stall,
            "malformed_json" => Scenario::MalformedJson,
            "malformed_sse" => Scenario::MalformedSse,
            "mid_stream_error" => Scenario::MidStreamError,
            "vllm" => Scenario::Vllm,
            "tgi" => Scenario::Tgi,
            "ollama" => Scenario::Ollama,
            "hf_router" => Scenario::HfRouter,
            "llama_cpp" => Scenario::LlamaCpp,
            "quirky" => Scenario::Quirky,
            "invalid_utf8" => Scenario::InvalidUtf8,
            "error_in_body" => Scenario::ErrorInBody,
            "error_in_choice" => Scenario::ErrorInChoice,
            "reused_index_tool_calls" => Scenario::ReusedIndexToolCalls,
            _ => return Scenario::from_parameterised_name(name),
        };
        Some(scenario)
    }

    /// `http_error_<status>`, `slow_first_token_<n>ms` and `large_answer_<bytes>`.
    fn from_parameterised_name(name: &str) -> Option<Scenario> {
        if let Some(status) = name.strip_prefix("http_error_") {
            let status: u16 = status.parse().ok()?;
            return (100..=599).contains(&status).then_some(Scenario::HttpError(status));
        }
        if let Some(bytes) = name.strip_prefix("large_answer_") {
            let bytes: usize = bytes.parse().ok()?;
            return (bytes <= MAX_LARGE_ANSWER).then_some(Scenario::LargeAnswer(bytes));
        }
        let millis = name.strip_prefix("slow_first_token_")?.strip_suffix("ms")?;
        Some(Scenario::SlowFirstToken(Duration::from_millis(millis.parse().ok()?)))
    }

    /// The snake_case name: `"text"`, `"tool_calls"`, `"http_error_429"`,
    /// `"slow_first_token_250ms"`, `"llama_cpp"`, …
    pub fn name(&self) -> String {
        let fixed = match self {
            Scenario::HttpError(status) => return format!("http_error_{status}"),
            Scenario::SlowFirstToken(delay) => return format!("slow_first_token_{}ms", delay.as_millis()),
            Scenario::LargeAnswer(bytes) => return format!("large_answer_{bytes}"),
            Scenario::Text => "text",
            Scenario::ToolCalls => "tool_calls",
            Scenario::DisconnectMidStream => "disconnect_mid_stream",
            Scenario::Stall => "stall",
            Scenario::MalformedJson => "malformed_json",
            Scenario::MalformedSse => "malformed_sse",
            Scenario::MidStreamError => "mid_stream_error",
            Scenario::Vllm => "vllm",
            Scenario::Tgi => "tgi",
            Scenario::Ollama => "ollama",
            Scenario::HfRouter => "hf_router",
            Scenario::LlamaCpp => "llama_cpp",
            Scenario::Quirky => "quirky",
            Scenario::InvalidUtf8 => "invalid_utf8",
            Scenario::ErrorInBody => "error_in_body",
            Scenario::ErrorInChoice => "error_in_choice",
            Scenario::ReusedIndexToolCalls => "reused_index_tool_calls",
        };
        fixed.to_owned()
    }

    /// One example of every scenario (listed by `GET /v1/models` as `mock:<name>`), for
    /// tests that go through them all.
    pub fn examples() -> Vec<Scenario> {
        vec![
            Scenario::Text,
            Scenario::ToolCalls,
            Scenario::HttpError(429),
            Scenario::DisconnectMidStream,
            Scenario::SlowFirstToken(Duration::from_millis(250)),
            Scenario::Stall,
            Scenario::MalformedJson,
            Scenario::MalformedSse,
            Scenario::MidStreamError,
            Scenario::Vllm,
            Scenario::Tgi,
            Scenario::Ollama,
            Scenario::HfRouter,
            Scenario::LlamaCpp,
            Scenario::Quirky,
            Scenario::LargeAnswer(1024 * 1024),
            Scenario::InvalidUtf8,
            Scenario::ErrorInBody,
            Scenario::ErrorInChoice,
            Scenario::ReusedIndexToolCalls,
        ]
    }
}

/// One HTTP request as the mock received it (any route).
#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    /// `"POST"`, `"GET"`, …
    pub method: String,
    /// The URL path, without the query string (`"/v1/chat/completions"`).
    pub path: String,
    /// Every header in arrival order, names lowercase (values decoded lossily as UTF-8).
    pub headers: Vec<(String, String)>,
    /// The body (decoded lossily as UTF-8).
    pub body: String,
}

impl ReceivedRequest {
    /// The record of a request (path without its query).
    pub(crate) fn new(parts: &Parts, body: &[u8]) -> ReceivedRequest {
        let headers = parts
            .headers
            .iter()
            .map(|(name, value)| {
                (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned())
            })
            .collect();
        ReceivedRequest {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            headers,
            body: String::from_utf8_lossy(body).into_owned(),
        }
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// The value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }
}

/// State shared by the server task and the [`MockOpenAi`] handle.
#[derive(Debug)]
struct Shared {
    scenario: Mutex<Scenario>,
    requests: Mutex<Vec<ReceivedRequest>>,
    /// Off for load runs: keeping every request would grow without bound.
    recording: std::sync::atomic::AtomicBool,
    last_seq: AtomicU64,
    shutdown: watch::Receiver<bool>,
}

impl Shared {
    fn scenario(&self) -> Scenario {
        self.scenario.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn record(&self, request: ReceivedRequest) {
        if self.recording.load(Ordering::Relaxed) {
            self.requests.lock().unwrap_or_else(PoisonError::into_inner).push(request);
        }
    }

    fn next_seq(&self) -> u64 {
        self.last_seq.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// A mock OpenAI-compatible server on `127.0.0.1`; dropping it shuts the server down.
///
/// Must be started inside a tokio runtime.
pub struct MockOpenAi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
}

impl MockOpenAi {
    /// Starts a server answering with [`Scenario::Text`] by default.
    pub async fn start() -> std::io::Result<MockOpenAi> {
        MockOpenAi::start_with(Scenario::Text).await
    }

    /// Starts a server answering with `scenario` by default, on `127.0.0.1:<free port>`.
    pub async fn start_with(scenario: Scenario) -> std::io::Result<MockOpenAi> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            scenario: Mutex::new(scenario),
            requests: Mutex::new(Vec::new()),
            recording: std::sync::atomic::AtomicBool::new(true),
            last_seq: AtomicU64::new(0),
            shutdown: shutdown_rx.clone(),
        });
        let app = Router::new().fallback(handle).with_state(Arc::clone(&shared));
        let mut stop = shutdown_rx;
        tokio::spawn(async move {
            let stopped = async move {
                // An error means the handle is gone: shut down as well.
                let _ = stop.wait_for(|stop| *stop).await;
            };
            // Streams are many small writes: without TCP_NODELAY, Nagle's algorithm meets the
            // client's delayed ACKs and chunks stall for 40 ms.
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            if let Err(err) = axum::serve(listener, app).with_graceful_shutdown(stopped).await {
                tracing::warn!(%err, "mock OpenAI server stopped with an error");
            }
        });
        tracing::debug!(%addr, "mock OpenAI server listening");
        Ok(MockOpenAi { addr, shared, shutdown })
    }

    /// The base URL clients use: `http://127.0.0.1:<port>/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Changes the default scenario for later requests.
    pub fn set_scenario(&self, scenario: Scenario) {
        *self.shared.scenario.lock().unwrap_or_else(PoisonError::into_inner) = scenario;
    }

    /// Whether later requests are kept for [`requests`](Self::requests) (on by default). Turn
    /// it off for load tests, where keeping millions of requests would be the memory growth.
    pub fn set_recording(&self, on: bool) {
        self.shared.recording.store(on, Ordering::Relaxed);
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        self.shared.requests.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl fmt::Debug for MockOpenAi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockOpenAi")
            .field("addr", &self.addr)
            .field("scenario", &self.shared.scenario())
            .finish_non_exhaustive()
    }
}

impl Drop for MockOpenAi {
    fn drop(&mut self) {
        // Stops accepting, ends pauses and stalls; open connections then close.
        self.shutdown.send_replace(true);
    }
}

/// Records every request, then routes it.
async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_REQUEST_BYTES).await.unwrap_or_default();
    shared.record(ReceivedRequest::new(&parts, &body));
    let path = parts.uri.path();
    let method = &parts.method;
    let reply = match path {
        "/v1/chat/completions" | "/chat/completions" if method == Method::POST => {
            chat(&shared, &parts.headers, &body).await
        }
        "/v1/models" | "/models" if method == Method::GET => reference::models(MODELS_CREATED),
        _ => reference::invalid_url(method.as_str(), path),
    };
    reply.into_response(shared.shutdown.clone())
}

/// Answers one chat-completion request with its scenario.
async fn chat(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Reply {
    let seq = shared.next_seq();
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return reference::invalid_json();
    };
    let scenario = match select_scenario(headers, &request, shared.scenario()) {
        Ok(scenario) => scenario,
        Err(reply) => return reply,
    };
    let x = Exchange::from_request(&request, seq);
    let mut shutdown = shared.shutdown.clone();
    let reply = match scenario {
        Scenario::Text => reference::text(&x),
        Scenario::ToolCalls => reference::tool_calls(&x),
        Scenario::HttpError(status) => reference::http_error(&x, status),
        Scenario::DisconnectMidStream => reference::disconnect_mid_stream(&x),
        Scenario::SlowFirstToken(delay) if x.stream => reference::text(&x).delayed(delay),
        Scenario::SlowFirstToken(delay) => {
            pause(delay, &mut shutdown).await;
            reference::text(&x)
        }
        Scenario::Stall => {
            pause(STALL, &mut shutdown).await;
            reference::text(&x)
        }
        Scenario::MalformedJson => reference::malformed_json(&x),
        Scenario::MalformedSse => reference::malformed_sse(&x),
        Scenario::MidStreamError => reference::mid_stream_error(&x),
        Scenario::Vllm => providers::vllm(&x),
        Scenario::Tgi => providers::tgi(&x),
        Scenario::Ollama => providers::ollama(&x),
        Scenario::HfRouter => providers::hf_router(&x),
        Scenario::LlamaCpp => providers::llama_cpp(&x),
        Scenario::Quirky => reference::quirky(&x),
        Scenario::LargeAnswer(bytes) => reference::large_answer(x, bytes),
        Scenario::InvalidUtf8 => reference::invalid_utf8(&x),
        Scenario::ErrorInBody => providers::openrouter_error(&x),
        Scenario::ErrorInChoice => providers::openrouter_choice_error(&x),
        Scenario::ReusedIndexToolCalls => reference::reused_index_tool_calls(&x),
    };
    reply.with_header("x-request-id", format!("req_mock_{seq}"))
}

/// The scenario of one request: header, then `mock:` model, then the server default.
fn select_scenario(headers: &HeaderMap, request: &Value, default: Scenario) -> Result<Scenario, Reply> {
    if let Some(value) = headers.get(SCENARIO_HEADER) {
        let name = String::from_utf8_lossy(value.as_bytes());
        return Scenario::from_name(&name)
            .ok_or_else(|| reference::unknown_scenario(&name, "the x-mock-scenario header"));
    }
    let model = request.get("model").and_then(Value::as_str);
    if let Some(name) = model.and_then(|model| model.strip_prefix(MOCK_MODEL_PREFIX)) {
        return Scenario::from_name(name)
            .ok_or_else(|| reference::unknown_scenario(name, "the request's model"));
    }
    Ok(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips() {
        for scenario in Scenario::examples() {
            assert_eq!(Scenario::from_name(&scenario.name()), Some(scenario.clone()), "{scenario:?}");
        }
        assert_eq!(Scenario::from_name("http_error_503"), Some(Scenario::HttpError(503)));
        assert_eq!(Scenario::from_name("http_error_42"), None);
        assert_eq!(Scenario::from_name("slow_first_token_ms"), None);
        assert_eq!(Scenario::from_name("nope"), None);
        assert_eq!(Scenario::from_name("large_answer_18446744073709551615"), None);
    }
}
