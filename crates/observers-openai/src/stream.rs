//! Streamed chat completions: chunks to the caller as they arrive, one record at the end.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use futures_util::Stream;
use serde_json::Value;

use crate::client::{elapsed_ms, Inner, MAX_ANSWER_BYTES};
use crate::error::{snippet, ApiError, Error, Result};
use crate::observe::{fill_usage, raw_json, record_error, Call, Recording};
use crate::sse::{is_done, Event, SseParser};
use crate::types::{ChatCompletionChunk, ToolCallDelta, Usage};

type Body = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// A streamed chat completion: a [`Stream`] of [`ChatCompletionChunk`]s, as the server sends
/// them.
///
/// When the client is observed, the whole answer is reassembled as the chunks pass (text
/// concatenated, tool calls merged across chunks, usage, time to first token) and recorded
/// when the stream ends, fails, or is dropped before its end (with an `error` saying so).
///
/// After an error item the stream ends.
pub struct ChatCompletionStream {
    inner: Arc<Inner>,
    body: Body,
    /// The server answered JSON instead of an event stream: buffer it whole (up to
    /// [`MAX_ANSWER_BYTES`], as a non-streaming answer).
    json_body: Option<Vec<u8>>,
    parser: SseParser,
    events: Vec<Event>,
    ready: VecDeque<Result<ChatCompletionChunk>>,
    ended: bool,
    started: Instant,
    recorder: Option<Recorder>,
}

impl std::fmt::Debug for ChatCompletionStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatCompletionStream")
            .field("url", &self.inner.display_url)
            .field("ended", &self.ended)
            .finish()
    }
}

struct Recorder {
    recording: Recording,
    answer: Accumulator,
    raw_chunks: Vec<String>,
    /// Bytes of the raw chunks seen; past [`MAX_ANSWER_BYTES`], `raw_chunks` was let go.
    raw_bytes: usize,
    first_token_ms: Option<f64>,
}

impl ChatCompletionStream {
    pub(crate) fn new(inner: Arc<Inner>, response: reqwest::Response, mut call: Call) -> Self {
        let is_json = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/json"));
        let started = call.started();
        let recorder = call.recording.take().map(|recording| Recorder {
            recording,
            answer: Accumulator::default(),
            raw_chunks: Vec::new(),
            raw_bytes: 0,
            first_token_ms: None,
        });
        ChatCompletionStream {
            inner,
            body: Box::pin(response.bytes_stream()),
            json_body: is_json.then(Vec::new),
            parser: SseParser::default(),
            events: Vec::new(),
            ready: VecDeque::new(),
            ended: false,
            started,
            recorder,
        }
    }

    /// Parses one SSE data payload into a chunk, or the error it carries.
    fn on_data(&mut self, data: String) -> Result<Option<ChatCompletionChunk>> {
        if is_done(&data) {
            self.end(None);
            return Ok(None);
        }
        let chunk: ChatCompletionChunk = serde_json::from_str(&data).map_err(|e| {
            Error::Stream(format!("malformed event ({e}): {:?}", self.inner.redact(&snippet(&data, 200))))
        })?;
        if let Some(error) = chunk.extra.get("error").filter(|e| !e.is_null() && *e != &Value::Bool(false)) {
            let mut api = ApiError::from_body(200, "", None);
            api.fill_from(&serde_json::json!({ "error": error }));
            api.message = self.inner.redact(&api.message).into_owned();
            api.body = serde_json::from_str(&data).ok();
            return Err(Error::Api(Box::new(api)));
        }
        if let Some(recorder) = &mut self.recorder {
            if recorder.first_token_ms.is_none() && chunk.choices.iter().any(|c| has_output(&c.delta)) {
                recorder.first_token_ms = Some(elapsed_ms(self.started));
            }
            recorder.answer.add(&chunk);
            recorder.keep_raw(data);
        }
        Ok(Some(chunk))
    }

    /// A JSON body on a stream request: an error, or a whole completion sent as one chunk.
    fn on_json_body(&mut self, body: &[u8]) -> Result<Option<ChatCompletionChunk>> {
        let value: Value = serde_json::from_slice(body).map_err(|e| Error::Decode {
            message: e.to_string(),
            snippet: self.inner.redact(&snippet(&String::from_utf8_lossy(body), 200)).into_owned(),
        })?;
        if value.get("error").is_some_and(|e| !e.is_null()) {
            let mut api = ApiError::from_body(200, &value.to_string(), None);
            api.message = self.inner.redact(&api.message).into_owned();
            return Err(Error::Api(Box::new(api)));
        }
        // Some servers ignore `stream: true`: turn each `message` into a `delta`.
        let mut value = value;
        if let Some(Value::Array(choices)) = value.get_mut("choices") {
            for choice in choices.iter_mut().filter_map(Value::as_object_mut) {
                if let Some(message) = choice.remove("message") {
                    choice.insert("delta".into(), message);
                }
            }
        }
        let text = value.to_string();
        let chunk = self.on_data(text)?;
        self.end(None);
        Ok(chunk)
    }

    /// Ends the stream and records it (once): `error` is `None` for a clean end.
    fn end(&mut self, error: Option<&Error>) {
        if self.ended {
            return;
        }
        self.ended = true;
        if let Some(recorder) = self.recorder.take() {
            let latency = elapsed_ms(self.started);
            recorder.finish(latency, error);
        }
    }

    fn fail(&mut self, error: Error) -> Poll<Option<Result<ChatCompletionChunk>>> {
        self.end(Some(&error));
        Poll::Ready(Some(Err(error)))
    }
}

fn has_output(delta: &crate::types::Delta) -> bool {
    delta.content.as_deref().is_some_and(|c| !c.is_empty())
        || delta.tool_calls.is_some()
        || delta.function_call.is_some()
}

impl Recorder {
    /// Keeps a chunk's text for `raw_response`, until the chunks pass [`MAX_ANSWER_BYTES`]:
    /// then lets them all go. A stream is never cut for its size (the caller reads it as it
    /// comes); its record keeps the reassembled answer, which is a fraction of the chunks.
    fn keep_raw(&mut self, data: String) {
        if self.raw_bytes > MAX_ANSWER_BYTES {
            return;
        }
        self.raw_bytes += data.len();
        if self.raw_bytes > MAX_ANSWER_BYTES {
            self.raw_chunks = Vec::new();
            return;
        }
        self.raw_chunks.push(data);
    }

    fn finish(self, latency_ms: f64, error: Option<&Error>) {
        let Recorder { recording, answer, raw_chunks, raw_bytes, first_token_ms } = self;
        if raw_bytes > MAX_ANSWER_BYTES {
            tracing::warn!(
                limit = MAX_ANSWER_BYTES,
                "a stream's chunks went past the limit: its record keeps the answer, not the raw chunks"
            );
        }
        let mut recording = recording;
        let record = &mut recording.record;
        record.latency_ms = Some(latency_ms);
        record.time_to_first_token_ms = first_token_ms;
        answer.fill(record);
        if !raw_chunks.is_empty() {
            let joined = format!("[{}]", raw_chunks.join(","));
            record.raw_response = raw_json(joined.as_bytes());
        }
        if let Some(error) = error {
            let raw = record.raw_response.take();
            record_error(record, error);
            // Keep what arrived: the chunks say more than an error body would.
            if raw.is_some() {
                record.raw_response = raw;
            }
        }
        recording.submit_now();
    }
}

impl Stream for ChatCompletionStream {
    type Item = Result<ChatCompletionChunk>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(item) = this.ready.pop_front() {
                return Poll::Ready(Some(item));
            }
            if this.ended {
                // Read what is already buffered past `[DONE]` (usually the body's end), so the
                // connection can be reused; never wait for more.
                while let Poll::Ready(Some(Ok(_))) = this.body.as_mut().poll_next(cx) {}
                return Poll::Ready(None);
            }
            let bytes = match this.body.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(bytes))) => Some(bytes),
                Poll::Ready(Some(Err(e))) => {
                    let error = match this.inner.transport_error(&e) {
                        timeout @ Error::Timeout { .. } => timeout,
                        other => Error::Stream(format!(
                            "the connection broke before the end of the stream: {other}"
                        )),
                    };
                    return this.fail(error);
                }
                Poll::Ready(None) => None,
            };
            if let Some(buffer) = &mut this.json_body {
                match bytes {
                    Some(bytes) if buffer.len() + bytes.len() > MAX_ANSWER_BYTES => {
                        return this.fail(Error::TooLarge { limit: MAX_ANSWER_BYTES })
                    }
                    Some(bytes) => buffer.extend_from_slice(&bytes),
                    None => {
                        let body = std::mem::take(buffer);
                        match this.on_json_body(&body) {
                            Ok(Some(chunk)) => this.ready.push_back(Ok(chunk)),
                            Ok(None) => {}
                            Err(error) => return this.fail(error),
                        }
                    }
                }
                continue;
            }
            let mut events = std::mem::take(&mut this.events);
            let parsed = match &bytes {
                Some(bytes) => this.parser.feed(bytes, &mut events),
                None => this.parser.finish(&mut events),
            };
            if let Err(e) = parsed {
                return this.fail(Error::Stream(e.to_string()));
            }
            for event in events.drain(..) {
                let outcome = match event {
                    Event::Data(data) => this.on_data(data),
                    Event::Error(text) => {
                        let mut api = ApiError::from_body(200, &text, None);
                        api.message = this.inner.redact(&api.message).into_owned();
                        Err(Error::Api(Box::new(api)))
                    }
                };
                match outcome {
                    Ok(Some(chunk)) => this.ready.push_back(Ok(chunk)),
                    Ok(None) => {}
                    Err(error) => {
                        // Chunks parsed before the error still reach the caller, then the error.
                        this.end(Some(&error));
                        this.ready.push_back(Err(error));
                        break;
                    }
                }
                if this.ended {
                    break; // [DONE]: anything after it is ignored
                }
            }
            this.events = events;
            if bytes.is_none() && !this.ended {
                // EOF without [DONE]: many servers end this way; the answer is complete
                // if it said why it finished.
                let finished = this.recorder.as_ref().is_none_or(|r| r.answer.finish_reason.is_some());
                if finished {
                    this.end(None);
                } else {
                    let error =
                        Error::Stream("the stream ended before the server finished its answer".into());
                    this.end(Some(&error));
                    this.ready.push_back(Err(error));
                }
            }
        }
    }
}

impl Drop for ChatCompletionStream {
    fn drop(&mut self) {
        if !self.ended {
            let error = Error::Stream("the caller dropped the stream before its end".into());
            self.end(Some(&error));
        }
    }
}

/// A tool call being reassembled from fragments.
#[derive(Debug, Default)]
struct PartialCall {
    index: Option<u64>,
    id: Option<String>,
    kind: Option<String>,
    name: Option<String>,
    arguments: String,
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// The whole answer, reassembled from the chunks of choice 0.
#[derive(Debug, Default)]
struct Accumulator {
    content: Option<String>,
    tool_calls: Vec<PartialCall>,
    function_call: Option<PartialCall>,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    response_id: Option<String>,
    model: Option<String>,
}

impl Accumulator {
    fn add(&mut self, chunk: &ChatCompletionChunk) {
        if self.response_id.is_none() {
            self.response_id = non_empty(&chunk.id).map(str::to_string);
        }
        if self.model.is_none() {
            self.model = non_empty(&chunk.model).map(str::to_string);
        }
        if let Some(usage) = &chunk.usage {
            if usage.prompt_tokens.is_some()
                || usage.completion_tokens.is_some()
                || usage.total_tokens.is_some()
            {
                self.usage = Some(usage.clone());
            }
        }
        // `x_groq.usage` and similar: usage nested in a provider object.
        if self.usage.is_none() {
            if let Some(usage) = chunk.extra.values().find_map(|v| v.get("usage")) {
                self.usage = serde_json::from_value(usage.clone()).ok();
            }
        }
        for choice in chunk.choices.iter().filter(|c| c.index.unwrap_or(0) == 0) {
            let delta = &choice.delta;
            if let Some(text) = &delta.content {
                self.content.get_or_insert_with(String::new).push_str(text);
            }
            for call in delta.tool_calls.iter().flatten() {
                self.merge_tool_call(call);
            }
            if let Some(call) = &delta.function_call {
                let partial = self.function_call.get_or_insert_with(PartialCall::default);
                if partial.name.is_none() {
                    partial.name = call
                        .get("name")
                        .and_then(Value::as_str)
                        .filter(|n| !n.is_empty())
                        .map(str::to_string);
                }
                if let Some(arguments) = call.get("arguments").and_then(Value::as_str) {
                    partial.arguments.push_str(arguments);
                }
            }
            if choice.finish_reason.is_some() {
                self.finish_reason = choice.finish_reason.clone();
            }
        }
    }

    /// Finds the call a fragment continues: by `index` (a reused index with a new id is a
    /// new call), else by id, else the last call.
    fn merge_tool_call(&mut self, delta: &ToolCallDelta) {
        let id = non_empty(&delta.id);
        let found = match delta.index {
            Some(index) => self.tool_calls.iter().rposition(|c| c.index == Some(index)).filter(|&at| {
                let known = non_empty(&self.tool_calls[at].id);
                !matches!((known, id), (Some(a), Some(b)) if a != b)
            }),
            None => match id {
                Some(id) => {
                    self.tool_calls.iter().rposition(|c| non_empty(&c.id) == Some(id)).or_else(|| {
                        self.tool_calls.last().filter(|c| c.id.is_none()).map(|_| self.tool_calls.len() - 1)
                    })
                }
                None => self.tool_calls.len().checked_sub(1),
            },
        };
        let at = found.unwrap_or_else(|| {
            self.tool_calls.push(PartialCall { index: delta.index, ..PartialCall::default() });
            self.tool_calls.len() - 1
        });
        let call = &mut self.tool_calls[at];
        if call.id.is_none() {
            call.id = id.map(str::to_string);
        }
        if call.kind.is_none() {
            call.kind = non_empty(&delta.kind).map(str::to_string);
        }
        if let Some(function) = &delta.function {
            if call.name.is_none() {
                call.name = non_empty(&function.name).map(str::to_string);
            }
            if let Some(arguments) = &function.arguments {
                call.arguments.push_str(arguments);
            }
        }
    }

    fn fill(self, record: &mut observers_core::ChatCompletionRecord) {
        record.assistant_message = self.content;
        record.response_id = self.response_id;
        if record.model.is_none() {
            record.model = self.model;
        }
        if let Some(usage) = &self.usage {
            fill_usage(record, usage);
        }
        if !self.tool_calls.is_empty() {
            let calls: Vec<Value> = self
                .tool_calls
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    serde_json::json!({
                        "id": c.id.clone().unwrap_or_else(|| format!("call_{i}")),
                        "type": c.kind.as_deref().unwrap_or("function"),
                        "function": {"name": c.name.as_deref().unwrap_or_default(), "arguments": c.arguments},
                    })
                })
                .collect();
            record.tool_calls = Some(Value::Array(calls));
        }
        if let Some(call) = self.function_call {
            record.function_call =
                Some(serde_json::json!({"name": call.name.unwrap_or_default(), "arguments": call.arguments}));
        }
        record.finish_reason =
            self.finish_reason.or_else(|| record.tool_calls.is_some().then(|| "tool_calls".to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(chunks: &[Value]) -> observers_core::ChatCompletionRecord {
        let mut acc = Accumulator::default();
        for chunk in chunks {
            acc.add(&serde_json::from_value(chunk.clone()).unwrap());
        }
        let mut record = observers_core::ChatCompletionRecord::new("m");
        acc.fill(&mut record);
        record
    }

    fn calls(record: &observers_core::ChatCompletionRecord) -> Vec<(String, String, String)> {
        record
            .tool_calls
            .as_ref()
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["id"].as_str().unwrap().into(),
                    c["function"]["name"].as_str().unwrap().into(),
                    c["function"]["arguments"].as_str().unwrap().into(),
                )
            })
            .collect()
    }

    fn tc(call: Value) -> Value {
        json!({"choices": [{"index": 0, "delta": {"tool_calls": [call]}}]})
    }

    #[test]
    fn parallel_calls_merge_by_index_with_arguments_concatenated() {
        let record = answer(&[
            tc(
                json!({"index": 0, "id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": ""}}),
            ),
            tc(json!({"index": 0, "function": {"arguments": "{\"ci"}})),
            tc(
                json!({"index": 1, "id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": ""}}),
            ),
            tc(json!({"index": 0, "function": {"arguments": "ty\": \"Paris\"}"}})),
            tc(json!({"index": 1, "function": {"arguments": "{}"}})),
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
        ]);
        assert_eq!(
            calls(&record),
            [
                ("call_a".into(), "get_weather".into(), "{\"city\": \"Paris\"}".into()),
                ("call_b".into(), "get_time".into(), "{}".into()),
            ]
        );
        assert_eq!(record.finish_reason.as_deref(), Some("tool_calls"));
    }

    #[test]
    fn missing_and_reused_indexes() {
        // No index at all (Gemini), then a proxy reusing index 0 for a second call.
        let record = answer(&[
            tc(json!({"id": "a", "function": {"name": "f", "arguments": "{\"x\""}})),
            tc(json!({"function": {"arguments": ":1}"}})),
            tc(json!({"index": 0, "id": "b", "function": {"name": "g", "arguments": "{}"}})),
            tc(json!({"index": 0, "id": "c", "function": {"name": "h", "arguments": "{}"}})),
        ]);
        assert_eq!(
            calls(&record),
            [
                ("a".into(), "f".into(), "{\"x\":1}".into()),
                ("b".into(), "g".into(), "{}".into()),
                ("c".into(), "h".into(), "{}".into()),
            ]
        );
        // No finish_reason sent: inferred from the calls.
        assert_eq!(record.finish_reason.as_deref(), Some("tool_calls"));
    }

    #[test]
    fn names_are_not_overwritten_and_ids_synthesized() {
        let record = answer(&[
            tc(json!({"index": 0, "function": {"name": "f", "arguments": {"x": 1}}})),
            tc(json!({"index": 0, "function": {"name": "", "arguments": ""}})),
        ]);
        assert_eq!(calls(&record), [("call_0".into(), "f".into(), "{\"x\":1}".into())]);
    }

    #[test]
    fn text_usage_and_ids() {
        let record = answer(&[
            json!({"id": "chatcmpl-1", "model": "m1", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}),
            json!({"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {"content": "Hel"}}], "usage": null}),
            json!({"choices": [{"index": 1, "delta": {"content": "other choice"}}]}),
            json!({"choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]}),
            json!({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}}),
        ]);
        assert_eq!(record.assistant_message.as_deref(), Some("Hello"));
        assert_eq!(
            (record.prompt_tokens, record.completion_tokens, record.total_tokens),
            (Some(5), Some(2), Some(7))
        );
        assert_eq!(record.response_id.as_deref(), Some("chatcmpl-1"));
        assert_eq!(record.finish_reason.as_deref(), Some("stop"));
        assert!(record.tool_calls.is_none());
    }

    proptest::proptest! {
        /// Any JSON a server may send as a chunk either parses or is refused; whatever parses
        /// reassembles into a storable record.
        #[test]
        fn fuzz_stream_chunks(chunks in proptest::collection::vec(crate::fuzz::arb_chunk(), 0..8)) {
            let mut acc = Accumulator::default();
            for chunk in &chunks {
                if let Ok(chunk) = serde_json::from_value::<ChatCompletionChunk>(chunk.clone()) {
                    acc.add(&chunk);
                }
            }
            let mut record = observers_core::ChatCompletionRecord::new("m");
            acc.fill(&mut record);
            crate::fuzz::assert_storable(&record);
        }
    }

    #[test]
    fn groq_usage_in_x_groq() {
        let record = answer(&[json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            "x_groq": {"id": "req", "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}})]);
        assert_eq!(record.total_tokens, Some(7));
    }
}
