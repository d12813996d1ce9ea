//! Bodies shaped like OpenAI's own API (provider-wire-formats.md §0): text, tool calls, error
//! bodies, and the failure scenarios built on the same envelope.

use std::time::Duration;

use axum::http::StatusCode;

use super::exchange::{split_every, to_u64, Exchange};
use super::wire::{obj, Framing, Json, Reply, Step, NULL};
use super::{
    Scenario, DEFAULT_MODEL, MID_STREAM_ERROR_MESSAGE, TIME_TOOL_ARGUMENTS, TIME_TOOL_CALL_ID,
    TIME_TOOL_NAME, WEATHER_TOOL_ARGUMENTS, WEATHER_TOOL_CALL_ID, WEATHER_TOOL_NAME,
};

/// `system_fingerprint` of every OpenAI-shaped body.
const SYSTEM_FINGERPRINT: &str = "fp_mock";

/// Streamed tool-call arguments are cut every this many characters (mid-token, as OpenAI does).
const ARGUMENT_PIECE_CHARS: usize = 5;

/// How long a failing stream waits before dropping the connection, so the bytes before the
/// failure are flushed to the client first.
const FLUSH_BEFORE_FAILURE: Duration = Duration::from_millis(50);

/// One of the two tool calls the `ToolCalls` and `Quirky` scenarios make.
struct ToolCall {
    id: &'static str,
    name: &'static str,
    arguments: &'static str,
}

/// The parallel tool calls, in order.
const TOOL_CALLS: [ToolCall; 2] = [
    ToolCall { id: WEATHER_TOOL_CALL_ID, name: WEATHER_TOOL_NAME, arguments: WEATHER_TOOL_ARGUMENTS },
    ToolCall { id: TIME_TOOL_CALL_ID, name: TIME_TOOL_NAME, arguments: TIME_TOOL_ARGUMENTS },
];

impl ToolCall {
    /// The streamed argument fragments.
    fn pieces(&self) -> Vec<&'static str> {
        split_every(self.arguments, ARGUMENT_PIECE_CHARS)
    }

    /// The complete call as a non-streaming message carries it, optionally with an `index`.
    fn to_json(&self, index: Option<usize>) -> Json {
        let mut call = obj! {};
        if let Some(index) = index {
            call.push("index", index);
        }
        call.push("id", self.id);
        call.push("type", "function");
        call.push("function", obj! { "name": self.name, "arguments": self.arguments });
        call
    }
}

/// Completion tokens of a tool-call answer: one per streamed argument fragment.
fn tool_call_tokens() -> u64 {
    to_u64(TOOL_CALLS.iter().map(|call| call.pieces().len()).sum())
}

/// OpenAI's 2025 `usage` object.
fn usage(x: &Exchange, completion_tokens: u64) -> Json {
    obj! {
        "prompt_tokens": x.prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": x.prompt_tokens + completion_tokens,
        "prompt_tokens_details": obj! { "cached_tokens": 0_u64, "audio_tokens": 0_u64 },
        "completion_tokens_details": obj! {
            "reasoning_tokens": 0_u64,
            "audio_tokens": 0_u64,
            "accepted_prediction_tokens": 0_u64,
            "rejected_prediction_tokens": 0_u64,
        },
    }
}

/// A non-streaming `chat.completion` body (§0.1).
fn completion(x: &Exchange, message: Json, finish_reason: &str, completion_tokens: u64) -> Json {
    let choice =
        obj! { "index": 0_u64, "message": message, "logprobs": NULL, "finish_reason": finish_reason };
    obj! {
        "id": x.id(),
        "object": "chat.completion",
        "created": x.created,
        "model": &x.model,
        "choices": vec![choice],
        "usage": usage(x, completion_tokens),
        "service_tier": "default",
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }
}

/// The assistant message of the text answer.
fn text_message(x: &Exchange) -> Json {
    obj! { "role": "assistant", "content": &x.answer, "refusal": NULL, "annotations": Json::empty_array() }
}

/// The non-streaming text completion.
fn text_completion(x: &Exchange) -> Json {
    completion(x, text_message(x), "stop", x.answer_tokens())
}

/// The non-streaming tool-call completion.
fn tool_call_completion(x: &Exchange) -> Json {
    let calls = TOOL_CALLS.iter().map(|call| call.to_json(None)).collect::<Vec<_>>();
    let message = obj! {
        "role": "assistant",
        "content": NULL,
        "tool_calls": calls,
        "refusal": NULL,
        "annotations": Json::empty_array(),
    };
    completion(x, message, "tool_calls", tool_call_tokens())
}

/// A delta carrying one tool-call fragment.
fn tool_delta(fragment: Json) -> Json {
    obj! { "tool_calls": vec![fragment] }
}

/// An OpenAI chunk stream under construction (§0.2, §0.3).
struct Chunks<'a> {
    x: &'a Exchange,
    steps: Vec<Step>,
}

impl<'a> Chunks<'a> {
    fn new(x: &'a Exchange) -> Chunks<'a> {
        Chunks { x, steps: Vec::new() }
    }

    /// The chunk envelope; `usage` rides on every chunk only when include_usage is on.
    fn envelope(&self, choices: Vec<Json>, usage: Json) -> Json {
        let mut chunk = obj! {
            "id": self.x.id(),
            "object": "chat.completion.chunk",
            "created": self.x.created,
            "model": &self.x.model,
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": choices,
        };
        if self.x.include_usage {
            chunk.push("usage", usage);
        }
        chunk
    }

    /// A chunk with one choice.
    fn choice_chunk(&self, delta: Json, finish_reason: Json) -> Json {
        let choice =
            obj! { "index": 0_u64, "delta": delta, "logprobs": NULL, "finish_reason": finish_reason };
        self.envelope(vec![choice], NULL)
    }

    /// Sends a chunk with one choice.
    fn choice(&mut self, delta: Json, finish_reason: Json) {
        let chunk = self.choice_chunk(delta, finish_reason);
        self.steps.push(Framing::OPENAI.event(&chunk));
    }

    /// A chunk whose delta is `delta` and whose finish_reason is null.
    fn delta(&mut self, delta: Json) {
        self.choice(delta, NULL);
    }

    /// The first chunk of a text answer.
    fn text_role(&mut self) {
        self.delta(obj! { "role": "assistant", "content": "", "refusal": NULL });
    }

    /// One content chunk per piece.
    fn content(&mut self, pieces: &[&str]) {
        for piece in pieces {
            self.delta(obj! { "content": *piece });
        }
    }

    /// The finish chunk (`delta: {}`) then, when asked for, the usage chunk (`choices: []`).
    fn finish(&mut self, finish_reason: &str, completion_tokens: u64) {
        self.choice(obj! {}, finish_reason.into());
        if self.x.include_usage {
            let chunk = self.envelope(Vec::new(), usage(self.x, completion_tokens));
            self.steps.push(Framing::OPENAI.event(&chunk));
        }
    }

    /// The whole answer, its finish chunk and usage.
    fn answer_and_finish(&mut self) {
        self.content(&self.x.answer_pieces());
        self.finish("stop", self.x.answer_tokens());
    }

    fn push(&mut self, step: Step) {
        self.steps.push(step);
    }

    /// Ends the stream with `data: [DONE]`.
    fn done(mut self) -> Reply {
        self.steps.push(Framing::OPENAI.done());
        self.end()
    }

    /// Ends the stream without `[DONE]`.
    fn end(self) -> Reply {
        Reply::sse(self.steps)
    }
}

/// `Scenario::Text`: the deterministic answer, streamed per word when asked.
pub(crate) fn text(x: &Exchange) -> Reply {
    if !x.stream {
        return Reply::json(StatusCode::OK, &text_completion(x));
    }
    let mut chunks = Chunks::new(x);
    chunks.text_role();
    chunks.answer_and_finish();
    chunks.done()
}

/// `Scenario::ToolCalls`: two parallel calls; streamed as id/type/name first, then arguments
/// in mid-token fragments.
pub(crate) fn tool_calls(x: &Exchange) -> Reply {
    if !x.stream {
        return Reply::json(StatusCode::OK, &tool_call_completion(x));
    }
    let mut chunks = Chunks::new(x);
    chunks.delta(obj! { "role": "assistant", "content": NULL });
    for (index, call) in TOOL_CALLS.iter().enumerate() {
        let function = obj! { "name": call.name, "arguments": "" };
        chunks.delta(tool_delta(
            obj! { "index": index, "id": call.id, "type": "function", "function": function },
        ));
        for piece in call.pieces() {
            chunks.delta(tool_delta(obj! { "index": index, "function": obj! { "arguments": piece } }));
        }
    }
    chunks.finish("tool_calls", tool_call_tokens());
    chunks.done()
}

/// `Scenario::ReusedIndexToolCalls`: the two calls streamed on index 0 (a Gemini gateway):
/// the second comes with no id and an empty name, its arguments in fragments.
pub(crate) fn reused_index_tool_calls(x: &Exchange) -> Reply {
    if !x.stream {
        return Reply::json(StatusCode::OK, &tool_call_completion(x));
    }
    let mut chunks = Chunks::new(x);
    chunks.delta(obj! { "role": "assistant", "content": NULL });
    for (at, call) in TOOL_CALLS.iter().enumerate() {
        for (piece_at, piece) in call.pieces().into_iter().enumerate() {
            let fragment = match (at, piece_at) {
                (0, 0) => obj! {
                    "index": 0_u64,
                    "id": call.id,
                    "type": "function",
                    "function": obj! { "name": call.name, "arguments": piece },
                },
                (_, 0) => obj! { "index": 0_u64, "function": obj! { "name": "", "arguments": piece } },
                _ => obj! { "index": 0_u64, "function": obj! { "arguments": piece } },
            };
            chunks.delta(tool_delta(fragment));
        }
    }
    chunks.finish("tool_calls", tool_call_tokens());
    chunks.done()
}

/// An OpenAI error body: `{"error":{"message","type","param","code"}}` (§0.5).
pub(crate) struct ApiError {
    message: String,
    kind: &'static str,
    param: Option<&'static str>,
    code: Option<&'static str>,
}

impl ApiError {
    fn new(message: impl Into<String>, kind: &'static str) -> ApiError {
        ApiError { message: message.into(), kind, param: None, code: None }
    }

    fn param(mut self, param: &'static str) -> ApiError {
        self.param = Some(param);
        self
    }

    fn code(mut self, code: &'static str) -> ApiError {
        self.code = Some(code);
        self
    }

    /// The body as JSON.
    fn body(&self) -> Json {
        let error =
            obj! { "message": &self.message, "type": self.kind, "param": self.param, "code": self.code };
        obj! { "error": error }
    }

    /// The reply with this body and `status`.
    pub(crate) fn reply(&self, status: StatusCode) -> Reply {
        Reply::json(status, &self.body())
    }

    /// OpenAI's body for an HTTP status (real messages where known, generic otherwise).
    fn for_status(status: u16, model: &str) -> ApiError {
        match status {
            400 => ApiError::new(
                "Unsupported parameter: 'max_tokens' is not supported with this model. \
                 Use 'max_completion_tokens' instead.",
                "invalid_request_error",
            )
            .param("max_tokens")
            .code("unsupported_parameter"),
            401 => ApiError::new(
                "Incorrect API key provided: sk-mock***. You can find your API key at \
                 https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
            )
            .code("invalid_api_key"),
            403 => ApiError::new("Country, region, or territory not supported", "request_forbidden")
                .code("unsupported_country_region_territory"),
            404 => ApiError::new(
                format!("The model `{model}` does not exist or you do not have access to it."),
                "invalid_request_error",
            )
            .code("model_not_found"),
            429 => ApiError::new(
                format!(
                    "Rate limit reached for {model} in organization org-mock on requests per min (RPM): \
                     Limit 3, Used 3, Requested 1. Please try again in 1s. \
                     Visit https://platform.openai.com/account/rate-limits to learn more."
                ),
                "requests",
            )
            .code("rate_limit_exceeded"),
            500 => ApiError::new(
                "The server had an error while processing your request. Sorry about that!",
                "server_error",
            ),
            503 => {
                ApiError::new("The engine is currently overloaded, please try again later", "server_error")
            }
            _ if status >= 500 => {
                ApiError::new(format!("Mock server error (HTTP {status})."), "server_error")
            }
            _ => ApiError::new(format!("Mock request error (HTTP {status})."), "invalid_request_error"),
        }
    }
}

/// `Scenario::HttpError`: the status with OpenAI's error body; 429 adds the retry headers.
pub(crate) fn http_error(x: &Exchange, status: u16) -> Reply {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let reply = ApiError::for_status(code.as_u16(), &x.model).reply(code);
    if code != StatusCode::TOO_MANY_REQUESTS {
        return reply;
    }
    reply
        .with_header("retry-after", "1")
        .with_header("x-ratelimit-limit-requests", "3")
        .with_header("x-ratelimit-limit-tokens", "30000")
        .with_header("x-ratelimit-remaining-requests", "0")
        .with_header("x-ratelimit-remaining-tokens", "29950")
        .with_header("x-ratelimit-reset-requests", "1s")
        .with_header("x-ratelimit-reset-tokens", "120ms")
}

/// The first half of `text`, cut on a character boundary.
fn first_half(text: &str) -> String {
    let cut = (0..=text.len() / 2).rev().find(|at| text.is_char_boundary(*at)).unwrap_or(0);
    text[..cut].to_owned()
}

/// `Scenario::DisconnectMidStream`: role + 3 content chunks (or half the JSON body), then the
/// connection is aborted.
pub(crate) fn disconnect_mid_stream(x: &Exchange) -> Reply {
    if !x.stream {
        return Reply::raw(StatusCode::OK, "application/json", first_half(&text_completion(x).to_text()))
            .then(Step::Pause(FLUSH_BEFORE_FAILURE))
            .then(Step::Fail);
    }
    let pieces = x.answer_pieces();
    let mut chunks = Chunks::new(x);
    chunks.text_role();
    chunks.content(pieces.get(..3).unwrap_or(&pieces));
    chunks.push(Step::Pause(FLUSH_BEFORE_FAILURE));
    chunks.push(Step::Fail);
    chunks.end()
}

/// `Scenario::MalformedJson`: 200 `application/json` with the text body cut in half.
pub(crate) fn malformed_json(x: &Exchange) -> Reply {
    Reply::raw(StatusCode::OK, "application/json", first_half(&text_completion(x).to_text()))
}

/// `Scenario::MalformedSse`: a valid role chunk, `data: {not json}`, then the rest of a valid
/// stream and `[DONE]` (non-stream requests get the plain text completion).
pub(crate) fn malformed_sse(x: &Exchange) -> Reply {
    if !x.stream {
        return text(x);
    }
    let mut chunks = Chunks::new(x);
    chunks.text_role();
    chunks.push(Framing::OPENAI.raw("{not json}"));
    chunks.answer_and_finish();
    chunks.done()
}

/// Stream pieces of `Scenario::LargeAnswer` (64 Ki characters, about 90 KB with the filler).
const LARGE_PIECE_CHARS: usize = 64 * 1024;

/// `Scenario::LargeAnswer`: the text answer padded to `bytes` bytes; streamed in large pieces.
pub(crate) fn large_answer(x: Exchange, bytes: usize) -> Reply {
    text(&x.with_answer_of(bytes, LARGE_PIECE_CHARS))
}

/// Stands in the serialized body for the bytes that are not UTF-8.
const NOT_UTF8_MARK: &str = "@@not-utf-8@@";
/// A lone continuation byte and a byte UTF-8 never uses.
const NOT_UTF8: &[u8] = b"\x80\xff";

/// `text` with every [`NOT_UTF8_MARK`] replaced by [`NOT_UTF8`].
fn with_invalid_utf8(text: &str) -> Vec<u8> {
    text.split(NOT_UTF8_MARK).map(str::as_bytes).collect::<Vec<_>>().join(NOT_UTF8)
}

/// `Scenario::InvalidUtf8`: streamed, a role chunk, 2 content chunks, a content chunk holding
/// bytes that are not UTF-8, then the rest of the answer and `[DONE]`; not streamed, the text
/// completion with those bytes inside its content.
pub(crate) fn invalid_utf8(x: &Exchange) -> Reply {
    if !x.stream {
        let mut broken = x.clone();
        broken.answer.push_str(NOT_UTF8_MARK);
        return Reply::raw(
            StatusCode::OK,
            "application/json",
            with_invalid_utf8(&text_completion(&broken).to_text()),
        );
    }
    let pieces = x.answer_pieces();
    let (head, tail) = pieces.split_at(pieces.len().min(2));
    let mut chunks = Chunks::new(x);
    chunks.text_role();
    chunks.content(head);
    let chunk = chunks.choice_chunk(obj! { "content": NOT_UTF8_MARK }, NULL);
    chunks.push(Framing::OPENAI.raw_bytes(&with_invalid_utf8(&chunk.to_text())));
    chunks.content(tail);
    chunks.finish("stop", x.answer_tokens());
    chunks.done()
}

/// vLLM's stream error event payload (provider-wire-formats.md §2.3).
fn engine_error() -> Json {
    obj! {
        "error": obj! {
            "object": "error",
            "message": MID_STREAM_ERROR_MESSAGE,
            "type": "InternalServerError",
            "param": NULL,
            "code": 500_u16,
        }
    }
}

/// `Scenario::MidStreamError`: 2 content chunks, a vLLM-style error event, no `[DONE]`
/// (non-stream requests get HTTP 500 with the same error object).
pub(crate) fn mid_stream_error(x: &Exchange) -> Reply {
    if !x.stream {
        return Reply::json(StatusCode::INTERNAL_SERVER_ERROR, &engine_error());
    }
    let pieces = x.answer_pieces();
    let mut chunks = Chunks::new(x);
    chunks.text_role();
    chunks.content(pieces.get(..2).unwrap_or(&pieces));
    chunks.push(Framing::OPENAI.event(&engine_error()));
    chunks.end()
}

/// `Scenario::Quirky`, streamed: CRLF, comments, `data:` without a space, tool-call deltas
/// without `index`, a reused index 0 with a new id, usage on the finish chunk, no `[DONE]`.
/// Non-streamed: no id/created/object/usage, `content: null` and unknown fields.
pub(crate) fn quirky(x: &Exchange) -> Reply {
    if !x.stream {
        return Reply::json(StatusCode::OK, &quirky_completion(x));
    }
    let framing = Framing::CRLF_NO_SPACE;
    let chunk = |delta: Json, finish_reason: Json, usage: Option<Json>| {
        let choice = obj! { "index": 0_u64, "delta": delta, "finish_reason": finish_reason };
        let mut chunk = obj! {
            "id": x.id(),
            "object": "chat.completion.chunk",
            "created": x.created,
            "model": &x.model,
            "choices": vec![choice],
        };
        if let Some(usage) = usage {
            chunk.push("usage", usage);
        }
        framing.event(&chunk)
    };
    let mut steps = vec![framing.comment("keep-alive")];
    steps.push(chunk(obj! { "role": "assistant", "content": "" }, NULL, None));
    for (at, piece) in x.answer_pieces().into_iter().enumerate() {
        steps.push(chunk(obj! { "content": piece }, NULL, None));
        if at == 0 {
            steps.push(framing.comment("keep-alive"));
        }
    }
    let [first_call, second_call] = &TOOL_CALLS;
    // Gemini-style: no `index` at all; the id/type/name fragment also carries arguments.
    for (at, piece) in first_call.pieces().into_iter().enumerate() {
        let fragment = if at == 0 {
            let function = obj! { "name": first_call.name, "arguments": piece };
            obj! { "id": first_call.id, "type": "function", "function": function }
        } else {
            obj! { "function": obj! { "arguments": piece } }
        };
        steps.push(chunk(tool_delta(fragment), NULL, None));
    }
    // Proxy-style: the second call reuses index 0, told apart only by its new id.
    let function = obj! { "name": second_call.name, "arguments": "" };
    let opening = obj! { "index": 0_u64, "id": second_call.id, "type": "function", "function": function };
    steps.push(chunk(tool_delta(opening), NULL, None));
    for piece in second_call.pieces() {
        let fragment = obj! { "index": 0_u64, "function": obj! { "arguments": piece } };
        steps.push(chunk(tool_delta(fragment), NULL, None));
    }
    let completion_tokens = x.answer_tokens() + tool_call_tokens();
    steps.push(chunk(obj! {}, "tool_calls".into(), Some(x.plain_usage(completion_tokens))));
    Reply::sse(steps)
}

/// The non-streaming `Quirky` body.
fn quirky_completion(x: &Exchange) -> Json {
    let calls =
        TOOL_CALLS.iter().enumerate().map(|(index, call)| call.to_json(Some(index))).collect::<Vec<_>>();
    let message = obj! { "role": "assistant", "content": NULL, "tool_calls": calls, "reasoning": NULL };
    obj! {
        "model": &x.model,
        "choices": vec![obj! {
            "index": 0_u64,
            "message": message,
            "finish_reason": "tool_calls",
            "native_finish_reason": "tool_calls",
        }],
        "provider": "MockProxy",
        "x_mock": obj! { "note": "unknown top-level field" },
    }
}

/// 400 for a request body that is not JSON (OpenAI's message).
pub(crate) fn invalid_json() -> Reply {
    ApiError::new(
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your \
         HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid \
         JSON.)",
        "invalid_request_error",
    )
    .reply(StatusCode::BAD_REQUEST)
}

/// 400 for a scenario name the mock does not know.
pub(crate) fn unknown_scenario(name: &str, source: &str) -> Reply {
    ApiError::new(format!("Unknown mock scenario `{name}` (from {source})."), "invalid_request_error")
        .code("unknown_mock_scenario")
        .reply(StatusCode::BAD_REQUEST)
}

/// 404 for any other route (OpenAI's message).
pub(crate) fn invalid_url(method: &str, path: &str) -> Reply {
    ApiError::new(format!("Invalid URL ({method} {path})"), "invalid_request_error")
        .reply(StatusCode::NOT_FOUND)
}

/// `GET /v1/models`: the default model plus one `mock:<scenario>` entry per scenario.
pub(crate) fn models(created: u64) -> Reply {
    let model = |id: String| {
        obj! { "id": id, "object": "model", "created": created, "owned_by": "observers-testkit" }
    };
    let mut data = vec![model(DEFAULT_MODEL.to_owned())];
    data.extend(Scenario::examples().iter().map(|scenario| model(format!("mock:{}", scenario.name()))));
    Reply::json(StatusCode::OK, &obj! { "object": "list", "data": data })
}
