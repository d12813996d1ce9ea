//! Streamed chat completions: chunks to the caller as they arrive, one record at the end.
//!
//! [`Decoder`] does the work on bytes: SSE framing, chunk parsing, errors in the stream, and
//! the reassembly of the record. [`ChatCompletionStream`] feeds it a response body for the
//! client's callers; [`crate::StreamRecorder`] feeds it bytes someone else relays (the proxy,
//! client adapters). One decoder, so every way in makes the same record.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use futures_util::Stream;
use serde_json::Value;

use crate::client::{elapsed_ms, redact, Inner, MAX_ANSWER_BYTES};
use crate::error::{embedded_error, snippet, ApiError, Error, Result};
use crate::observe::{fill_usage, raw_json, record_error, Recording};
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
    decoder: Decoder,
    ready: VecDeque<Result<ChatCompletionChunk>>,
}

impl std::fmt::Debug for ChatCompletionStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatCompletionStream")
            .field("url", &self.inner.display_url)
            .field("ended", &self.decoder.ended)
            .finish()
    }
}

/// Whether a response's `Content-Type` says JSON rather than an event stream.
pub(crate) fn is_json_content_type(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| ct.trim_start().starts_with("application/json"))
}

impl ChatCompletionStream {
    pub(crate) fn new(
        inner: Arc<Inner>,
        response: reqwest::Response,
        started: Instant,
        recording: Option<Recording>,
    ) -> Self {
        let content_type =
            response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let decoder = Decoder::new(
            is_json_content_type(content_type),
            started,
            recording,
            inner.api_key().cloned(),
            "the caller dropped the stream before its end",
        );
        ChatCompletionStream {
            inner,
            body: Box::pin(response.bytes_stream()),
            decoder,
            ready: VecDeque::new(),
        }
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
            if this.decoder.ended {
                // Read what is already buffered past `[DONE]` (usually the body's end), so the
                // connection can be reused; never wait for more.
                while let Poll::Ready(Some(Ok(_))) = this.body.as_mut().poll_next(cx) {}
                return Poll::Ready(None);
            }
            match this.body.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(bytes))) => this.decoder.feed(Some(&bytes), &mut this.ready),
                Poll::Ready(Some(Err(e))) => {
                    let error = match this.inner.transport_error(&e) {
                        timeout @ Error::Timeout { .. } => timeout,
                        other => Error::Stream(format!(
                            "the connection broke before the end of the stream: {other}"
                        )),
                    };
                    this.decoder.fail(&error);
                    return Poll::Ready(Some(Err(error)));
                }
                Poll::Ready(None) => this.decoder.feed(None, &mut this.ready),
            }
        }
    }
}

/// Decodes the body of a streamed answer, chunk by chunk, and records it (once) when it ends,
/// fails or is dropped.
pub(crate) struct Decoder {
    /// The server answered JSON instead of an event stream: buffer it whole (up to
    /// [`MAX_ANSWER_BYTES`], as a non-streaming answer).
    json_body: Option<Vec<u8>>,
    parser: SseParser,
    events: Vec<Event>,
    pub(crate) ended: bool,
    started: Instant,
    /// Removed from error messages (and, by the recording, from the record).
    secret: Option<Arc<str>>,
    recorder: Option<Recorder>,
    /// The record's error when the decoder is dropped before the end.
    dropped: &'static str,
}

struct Recorder {
    recording: Recording,
    answer: Accumulator,
    raw_chunks: Vec<String>,
    /// Bytes of the raw chunks seen; past [`MAX_ANSWER_BYTES`], `raw_chunks` was let go.
    raw_bytes: usize,
    first_token_ms: Option<f64>,
}

impl Decoder {
    pub(crate) fn new(
        is_json: bool,
        started: Instant,
        recording: Option<Recording>,
        secret: Option<Arc<str>>,
        dropped: &'static str,
    ) -> Decoder {
        let recorder = recording.map(|recording| Recorder {
            recording,
            answer: Accumulator::default(),
            raw_chunks: Vec::new(),
            raw_bytes: 0,
            first_token_ms: None,
        });
        Decoder {
            json_body: is_json.then(Vec::new),
            parser: SseParser::default(),
            events: Vec::new(),
            ended: false,
            started,
            secret,
            recorder,
            dropped,
        }
    }

    fn redact(&self, text: &str) -> String {
        redact(self.secret.as_deref(), text).into_owned()
    }

    /// Decodes the next bytes of the body (`None`: the body ended), appending the chunks and
    /// at most one error (the last item, which ends the stream) to `out`. Ignores bytes once
    /// the stream has ended.
    pub(crate) fn feed(&mut self, bytes: Option<&[u8]>, out: &mut VecDeque<Result<ChatCompletionChunk>>) {
        if self.ended {
            return;
        }
        if let Some(buffer) = &mut self.json_body {
            match bytes {
                Some(bytes) if buffer.len() + bytes.len() > MAX_ANSWER_BYTES => {
                    self.fail_into(Error::TooLarge { limit: MAX_ANSWER_BYTES }, out)
                }
                Some(bytes) => buffer.extend_from_slice(bytes),
                None => {
                    let body = std::mem::take(buffer);
                    match self.on_json_body(&body) {
                        Ok(Some(chunk)) => out.push_back(Ok(chunk)),
                        Ok(None) => {}
                        Err(error) => self.fail_into(error, out),
                    }
                }
            }
            return;
        }
        let mut events = std::mem::take(&mut self.events);
        let parsed = match bytes {
            Some(bytes) => self.parser.feed(bytes, &mut events),
            None => self.parser.finish(&mut events),
        };
        if let Err(e) = parsed {
            self.events = events;
            return self.fail_into(Error::Stream(e.to_string()), out);
        }
        for event in events.drain(..) {
            let outcome = match event {
                Event::Data(data) => self.on_data(data),
                Event::Error(text) => {
                    let mut api = ApiError::from_body(200, &text, None);
                    api.message = self.redact(&api.message);
                    Err(Error::Api(Box::new(api)))
                }
            };
            match outcome {
                Ok(Some(chunk)) => out.push_back(Ok(chunk)),
                Ok(None) => {}
                Err(error) => {
                    // Chunks parsed before the error still reach the caller, then the error.
                    self.fail_into(error, out);
                    break;
                }
            }
            if self.ended {
                break; // [DONE]: anything after it is ignored
            }
        }
        self.events = events;
        if bytes.is_none() && !self.ended {
            // EOF without [DONE]: many servers end this way; the answer is complete if it
            // said why it finished.
            if self.recorder.as_ref().is_none_or(|r| r.answer.finish_reason.is_some()) {
                self.end(None);
            } else {
                self.fail_into(
                    Error::Stream("the stream ended before the server finished its answer".into()),
                    out,
                );
            }
        }
    }

    /// Ends the stream with `error`, which becomes the last item of `out`.
    fn fail_into(&mut self, error: Error, out: &mut VecDeque<Result<ChatCompletionChunk>>) {
        self.end(Some(&error));
        out.push_back(Err(error));
    }

    /// Ends the stream with `error` (the transport failed), recording it.
    pub(crate) fn fail(&mut self, error: &Error) {
        self.end(Some(error));
    }

    /// Parses one SSE data payload into a chunk, or the error it carries.
    fn on_data(&mut self, data: String) -> Result<Option<ChatCompletionChunk>> {
        if is_done(&data) {
            self.end(None);
            return Ok(None);
        }
        let chunk: ChatCompletionChunk = serde_json::from_str(&data).map_err(|e| {
            Error::Stream(format!("malformed event ({e}): {:?}", self.redact(&snippet(&data, 200))))
        })?;
        let choices = chunk.choices.iter().map(|choice| &choice.extra);
        if let Some(error) = embedded_error(chunk.object.as_deref(), &chunk.extra, choices) {
            let mut api = ApiError::embedded(&error, serde_json::from_str(&data).ok());
            api.message = self.redact(&api.message);
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
        let mut value: Value = serde_json::from_slice(body).map_err(|e| Error::Decode {
            message: e.to_string(),
            snippet: self.redact(&snippet(&String::from_utf8_lossy(body), 200)),
        })?;
        // Some servers ignore `stream: true`: turn each `message` into a `delta`.
        if let Some(Value::Array(choices)) = value.get_mut("choices") {
            for choice in choices.iter_mut().filter_map(Value::as_object_mut) {
                if let Some(message) = choice.remove("message") {
                    choice.insert("delta".into(), message);
                }
            }
        }
        let chunk = self.on_data(value.to_string())?;
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
            recorder.finish(elapsed_ms(self.started), error);
        }
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        if !self.ended {
            let error = Error::Stream(self.dropped.into());
            self.end(Some(&error));
        }
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

/// Whether `fragment` cannot continue `arguments`: they already hold one whole JSON object or
/// array, and the fragment opens another. Parses only when the fragment opens a value.
fn opens_new_value(arguments: &str, fragment: &str) -> bool {
    let opens = matches!(fragment.trim_start().as_bytes().first(), Some(b'{' | b'['));
    let whole = arguments.trim_end();
    opens
        && matches!(whole.as_bytes().last(), Some(b'}' | b']'))
        && serde_json::from_str::<serde::de::IgnoredAny>(whole).is_ok()
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
    /// new call), else by id, else the last call. A fragment that opens a new JSON value
    /// where that call's arguments are already whole starts a new call (gateways in front of
    /// Gemini stream a second call on index 0 with no id and no name): gluing the two would
    /// make `{"a":1}{"b":2}`, arguments no reader can parse.
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
        let fragment = delta.function.as_ref().and_then(|f| f.arguments.as_deref()).unwrap_or_default();
        let found = found.filter(|&at| !opens_new_value(&self.tool_calls[at].arguments, fragment));
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
            // What the provider sent, nothing made up: a call that came without an id or a
            // name keeps it null, as the non-streaming answer's record would.
            let calls: Vec<Value> = self
                .tool_calls
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "id": c.id,
                        "type": c.kind.as_deref().unwrap_or("function"),
                        "function": {"name": c.name, "arguments": c.arguments},
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
                    c["id"].as_str().unwrap_or_default().into(),
                    c["function"]["name"].as_str().unwrap_or_default().into(),
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
    fn names_are_not_overwritten_and_ids_not_made_up() {
        let record = answer(&[
            tc(json!({"index": 0, "function": {"name": "f", "arguments": {"x": 1}}})),
            tc(json!({"index": 0, "function": {"name": "", "arguments": ""}})),
        ]);
        assert_eq!(calls(&record), [("".into(), "f".into(), "{\"x\":1}".into())]);
        assert_eq!(record.tool_calls.as_ref().unwrap()[0]["id"], Value::Null);
    }

    #[test]
    fn a_second_call_on_a_reused_index_without_id_is_its_own_call() {
        // Gateways in front of Gemini: both calls on index 0, the second with no id and an
        // empty name, only arguments (whole or in pieces).
        let record = answer(&[
            tc(
                json!({"index": 0, "id": "a", "type": "function", "function": {"name": "f", "arguments": "{\"a\":"}}),
            ),
            tc(json!({"index": 0, "function": {"arguments": "1}"}})),
            tc(json!({"index": 0, "function": {"name": "", "arguments": "{\"b\""}})),
            tc(json!({"index": 0, "function": {"arguments": ":2}"}})),
            tc(json!({"index": 0, "function": {"arguments": " [3]"}})),
        ]);
        let calls = record.tool_calls.as_ref().unwrap().as_array().unwrap().clone();
        assert_eq!(calls.len(), 3, "{calls:?}");
        assert_eq!(
            calls[0],
            json!({"id": "a", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}})
        );
        assert_eq!(
            calls[1],
            json!({"id": null, "type": "function", "function": {"name": null, "arguments": "{\"b\":2}"}})
        );
        assert_eq!(calls[2]["function"]["arguments"], " [3]");
        for call in &calls {
            let arguments = call["function"]["arguments"].as_str().unwrap();
            serde_json::from_str::<Value>(arguments).expect("each call's arguments are JSON");
        }
        // Without an index at all, the same.
        let record = answer(&[
            tc(json!({"function": {"name": "f", "arguments": "{}"}})),
            tc(json!({"function": {"arguments": "{\"x\": {\"y\": 1}}"}})),
        ]);
        assert_eq!(record.tool_calls.as_ref().unwrap().as_array().unwrap().len(), 2);
    }

    #[test]
    fn nested_values_and_whitespace_still_continue_a_call() {
        let record = answer(&[
            tc(json!({"index": 0, "id": "a", "function": {"name": "f", "arguments": "{\"x\": "}})),
            tc(json!({"index": 0, "function": {"arguments": "{\"y\": [1"}})),
            tc(json!({"index": 0, "function": {"arguments": ", [2]]}"}})),
            tc(json!({"index": 0, "function": {"arguments": "}"}})),
            tc(json!({"index": 0, "function": {"arguments": " \n"}})),
        ]);
        assert_eq!(calls(&record), [("a".into(), "f".into(), "{\"x\": {\"y\": [1, [2]]}} \n".into())]);
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

    /// Cuts `text` into pieces of the given sizes (in characters, taken in turn).
    fn cut<'t>(text: &'t str, sizes: &[usize]) -> Vec<&'t str> {
        let mut pieces = Vec::new();
        let mut rest = text;
        for size in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let end = rest.char_indices().nth(*size).map_or(rest.len(), |(at, _)| at);
            pieces.push(&rest[..end]);
            rest = &rest[end..];
        }
        pieces
    }

    proptest::proptest! {
        /// Tool calls streamed as gateways in front of Gemini do (every call on index 0, only
        /// the first with an id and a name), cut anywhere: each comes back as its own call
        /// with the same JSON arguments, never two glued into one.
        #[test]
        fn fuzz_tool_calls_on_one_index(
            arguments in proptest::collection::vec(crate::fuzz::arb_arguments(), 1..4),
            sizes in proptest::collection::vec(1_usize..12, 1..16),
        ) {
            let mut chunks = Vec::new();
            for (call, text) in arguments.iter().enumerate() {
                for (at, piece) in cut(text, &sizes).into_iter().enumerate() {
                    let mut fragment = json!({"index": 0, "function": {"arguments": piece}});
                    if at == 0 {
                        fragment["function"]["name"] = json!(if call == 0 { "f" } else { "" });
                        if call == 0 {
                            fragment["id"] = json!("call_a");
                        }
                    }
                    chunks.push(tc(fragment));
                }
            }
            let record = answer(&chunks);
            let calls = record.tool_calls.as_ref().and_then(Value::as_array).cloned().unwrap_or_default();
            proptest::prop_assert_eq!(calls.len(), arguments.len(), "{:?}", calls);
            for (call, text) in calls.iter().zip(&arguments) {
                let got: Value = serde_json::from_str(call["function"]["arguments"].as_str().unwrap_or_default())
                    .map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
                proptest::prop_assert_eq!(got, serde_json::from_str::<Value>(text).unwrap());
            }
        }
    }

    #[test]
    fn groq_usage_in_x_groq() {
        let record = answer(&[json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            "x_groq": {"id": "req", "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}})]);
        assert_eq!(record.total_tokens, Some(7));
    }
}
