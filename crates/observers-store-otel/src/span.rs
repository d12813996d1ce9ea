//! One record → one OpenTelemetry GenAI span (plus OpenInference attributes).
//!
//! Attribute names follow the GenAI semantic conventions (development status, the names of
//! the current document, not the v1.36 ones); constants are our own, as the
//! `opentelemetry-semantic-conventions` GenAI constants are deprecated.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use observers_core::{ChatCompletionRecord, Message};
use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use serde_json::{json, Map, Value as Json};

/// What every span of one store carries besides the record.
#[derive(Debug, Clone)]
pub(crate) struct Mapping {
    pub(crate) provider: String,
    pub(crate) server: Option<(String, Option<u16>)>,
    pub(crate) capture_content: bool,
    pub(crate) openinference: bool,
    pub(crate) scope: InstrumentationScope,
}

impl Mapping {
    pub(crate) fn new(
        provider: Option<String>,
        server_url: Option<&str>,
        capture_content: bool,
        openinference: bool,
    ) -> Self {
        let server = server_url.and_then(server_of);
        let provider = provider
            .filter(|p| !p.trim().is_empty())
            .or_else(|| server.as_ref().and_then(|(host, _)| provider_of_host(host)).map(str::to_string))
            .unwrap_or_else(|| "openai".into());
        let scope =
            InstrumentationScope::builder("observers").with_version(env!("CARGO_PKG_VERSION")).build();
        Self { provider, server, capture_content, openinference, scope }
    }

    /// The span of `record`.
    pub(crate) fn span(&self, record: &ChatCompletionRecord) -> SpanData {
        let (trace_id, parent_span_id) = match parse_trace(record.trace_id.as_deref()) {
            Some(trace_id) => {
                (trace_id, parse_span(record.parent_span_id.as_deref()).unwrap_or(SpanId::INVALID))
            }
            None => (trace_id_of(record), SpanId::INVALID),
        };
        let span_id = parse_span(record.span_id.as_deref()).unwrap_or_else(|| span_id_of(record));
        let start_time = SystemTime::from(record.timestamp);
        let latency = record.latency_ms.filter(|ms| ms.is_finite() && *ms >= 0.0).unwrap_or(0.0);
        let end_time = start_time + Duration::from_secs_f64(latency / 1000.0);
        let model = record.model.as_deref().unwrap_or("unknown");
        let status = match &record.error {
            Some(message) => Status::error(message.clone()),
            None => Status::Unset,
        };
        SpanData {
            span_context: SpanContext::new(
                trace_id,
                span_id,
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id,
            parent_span_is_remote: false,
            span_kind: SpanKind::Client,
            name: Cow::Owned(format!("chat {model}")),
            start_time,
            end_time,
            attributes: self.attributes(record),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status,
            instrumentation_scope: self.scope.clone(),
        }
    }

    fn attributes(&self, r: &ChatCompletionRecord) -> Vec<KeyValue> {
        let mut a = Vec::with_capacity(32);
        a.push(KeyValue::new("gen_ai.operation.name", "chat"));
        a.push(KeyValue::new("gen_ai.provider.name", self.provider.clone()));
        let response_model = response_model(r);
        if let Some(model) = &r.model {
            a.push(KeyValue::new("gen_ai.request.model", model.clone()));
        }
        if let Some(model) = &response_model {
            a.push(KeyValue::new("gen_ai.response.model", model.clone()));
        }
        if let Some(id) = r.response_id.as_ref().filter(|id| !id.is_empty()) {
            a.push(KeyValue::new("gen_ai.response.id", id.clone()));
        }
        if let (Some(reason), None) = (&r.finish_reason, &r.error) {
            a.push(KeyValue::new("gen_ai.response.finish_reasons", strings([reason.clone()])));
        }
        let ints = [
            ("gen_ai.usage.input_tokens", r.prompt_tokens),
            ("gen_ai.usage.output_tokens", r.completion_tokens),
            ("gen_ai.usage.cache_read.input_tokens", r.cached_tokens),
            ("gen_ai.usage.reasoning.output_tokens", r.reasoning_tokens),
        ];
        for (key, value) in ints {
            if let Some(value) = value {
                a.push(KeyValue::new(key, i64::from(value)));
            }
        }
        if let Some(args) = r.arguments.as_ref().and_then(Json::as_object) {
            request_parameters(args, &mut a);
        }
        if let Some((host, port)) = &self.server {
            a.push(KeyValue::new("server.address", host.clone()));
            if let Some(port) = port {
                a.push(KeyValue::new("server.port", i64::from(*port)));
            }
        }
        if let Some(ms) = r.time_to_first_token_ms.filter(|ms| ms.is_finite()) {
            a.push(KeyValue::new("gen_ai.response.time_to_first_chunk", ms / 1000.0));
        }
        if let Some(error) = &r.error {
            a.push(KeyValue::new("error.type", error_type(error)));
        }
        if let Some(session) = &r.session_id {
            a.push(KeyValue::new("gen_ai.conversation.id", session.clone()));
            a.push(KeyValue::new("session.id", session.clone()));
        }
        if let Some(user) = &r.user_id {
            a.push(KeyValue::new("user.id", user.clone()));
        }
        a.push(KeyValue::new("observers.record_id", r.id.to_string()));
        if !r.tags.is_empty() {
            a.push(KeyValue::new("observers.tags", strings(r.tags.iter().cloned())));
        }
        if let Some(properties) = r.properties.as_ref().and_then(Json::as_object) {
            for (key, value) in properties {
                a.push(KeyValue::new(format!("observers.property.{key}"), scalar(value)));
            }
        }
        if let Some(cost) = r.cost_usd {
            a.push(KeyValue::new("observers.cost_usd", cost));
        }
        if self.capture_content {
            a.push(KeyValue::new("gen_ai.input.messages", input_messages(&r.messages).to_string()));
            a.push(KeyValue::new("gen_ai.output.messages", output_messages(r).to_string()));
            if let Some(tools) = r.arguments.as_ref().and_then(|args| args.get("tools")) {
                a.push(KeyValue::new("gen_ai.tool.definitions", tools.to_string()));
            }
        }
        if self.openinference {
            self.openinference_attributes(r, response_model, &mut a);
        }
        a
    }

    fn openinference_attributes(
        &self,
        r: &ChatCompletionRecord,
        response_model: Option<String>,
        a: &mut Vec<KeyValue>,
    ) {
        a.push(KeyValue::new("openinference.span.kind", "LLM"));
        if let Some(model) = response_model.or_else(|| r.model.clone()) {
            a.push(KeyValue::new("llm.model_name", model));
        }
        a.push(KeyValue::new("llm.provider", openinference_provider(&self.provider)));
        a.push(KeyValue::new("llm.system", "openai"));
        let total = r.total_tokens.or_else(|| Some(r.prompt_tokens? + r.completion_tokens?));
        let counts = [
            ("llm.token_count.prompt", r.prompt_tokens),
            ("llm.token_count.completion", r.completion_tokens),
            ("llm.token_count.total", total),
            ("llm.token_count.prompt_details.cache_read", r.cached_tokens),
            ("llm.token_count.completion_details.reasoning", r.reasoning_tokens),
        ];
        for (key, value) in counts {
            if let Some(value) = value {
                a.push(KeyValue::new(key, i64::from(value)));
            }
        }
        let parameters = r.arguments.as_ref().and_then(Json::as_object).map(|args| {
            Json::Object(
                args.iter().filter(|(k, _)| *k != "tools").map(|(k, v)| (k.clone(), v.clone())).collect(),
            )
        });
        a.push(KeyValue::new(
            "llm.invocation_parameters",
            parameters.unwrap_or_else(|| Json::Object(Map::new())).to_string(),
        ));
        if !r.tags.is_empty() {
            a.push(KeyValue::new("tag.tags", strings(r.tags.iter().cloned())));
        }
        if let Some(properties) = &r.properties {
            a.push(KeyValue::new("metadata", properties.to_string()));
        }
        if !self.capture_content {
            return;
        }
        let input = json!({"messages": openai_messages(&r.messages)});
        a.push(KeyValue::new("input.value", input.to_string()));
        a.push(KeyValue::new("input.mime_type", "application/json"));
        for (i, m) in r.messages.iter().enumerate() {
            a.push(KeyValue::new(format!("llm.input_messages.{i}.message.role"), m.role.clone()));
            if let Some(content) = &m.content {
                a.push(KeyValue::new(format!("llm.input_messages.{i}.message.content"), content.clone()));
            }
        }
        if let Some(text) = &r.assistant_message {
            a.push(KeyValue::new("output.value", text.clone()));
            a.push(KeyValue::new("output.mime_type", "text/plain"));
        } else if let Some(calls) = &r.tool_calls {
            a.push(KeyValue::new("output.value", json!({"tool_calls": calls}).to_string()));
            a.push(KeyValue::new("output.mime_type", "application/json"));
        }
        if r.error.is_none() {
            a.push(KeyValue::new("llm.output_messages.0.message.role", "assistant"));
            if let Some(text) = &r.assistant_message {
                a.push(KeyValue::new("llm.output_messages.0.message.content", text.clone()));
            }
            for (i, call) in r.tool_calls.iter().flat_map(|c| c.as_array().into_iter().flatten()).enumerate()
            {
                let prefix = format!("llm.output_messages.0.message.tool_calls.{i}.tool_call");
                if let Some(name) = call.pointer("/function/name").and_then(Json::as_str) {
                    a.push(KeyValue::new(format!("{prefix}.function.name"), name.to_string()));
                }
                if let Some(args) = call.pointer("/function/arguments").and_then(Json::as_str) {
                    a.push(KeyValue::new(format!("{prefix}.function.arguments"), args.to_string()));
                }
            }
        }
    }
}

/// The request parameters of the conventions, from the record's arguments.
fn request_parameters(args: &Map<String, Json>, a: &mut Vec<KeyValue>) {
    let floats = [
        ("temperature", "gen_ai.request.temperature"),
        ("top_p", "gen_ai.request.top_p"),
        ("top_k", "gen_ai.request.top_k"),
        ("frequency_penalty", "gen_ai.request.frequency_penalty"),
        ("presence_penalty", "gen_ai.request.presence_penalty"),
    ];
    for (arg, key) in floats {
        if let Some(value) = args.get(arg).and_then(Json::as_f64) {
            a.push(KeyValue::new(key, value));
        }
    }
    let max_tokens = args.get("max_completion_tokens").or_else(|| args.get("max_tokens"));
    if let Some(value) = max_tokens.and_then(Json::as_i64) {
        a.push(KeyValue::new("gen_ai.request.max_tokens", value));
    }
    if let Some(value) = args.get("seed").and_then(Json::as_i64) {
        a.push(KeyValue::new("gen_ai.request.seed", value));
    }
    if let Some(n) = args.get("n").and_then(Json::as_i64).filter(|n| *n != 1) {
        a.push(KeyValue::new("gen_ai.request.choice.count", n));
    }
    if let Some(stream) = args.get("stream").and_then(Json::as_bool) {
        a.push(KeyValue::new("gen_ai.request.stream", stream));
    }
    match args.get("stop") {
        Some(Json::String(stop)) => {
            a.push(KeyValue::new("gen_ai.request.stop_sequences", strings([stop.clone()])))
        }
        Some(Json::Array(stops)) => {
            let stops = stops.iter().filter_map(Json::as_str).map(str::to_string);
            a.push(KeyValue::new("gen_ai.request.stop_sequences", strings(stops)));
        }
        _ => {}
    }
    let format = args.get("response_format").and_then(|f| f.get("type")).and_then(Json::as_str);
    if let Some(format) = format {
        let output = if format.starts_with("json") { "json" } else { format };
        a.push(KeyValue::new("gen_ai.output.type", output.to_string()));
    }
}

/// The model named in the server's answer (a completion, or the first chunk that names one).
fn response_model(r: &ChatCompletionRecord) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Head {
        model: Option<String>,
    }
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Answer {
        One(Head),
        Chunks(Vec<Option<Head>>),
    }
    let raw = r.raw_response.as_ref()?;
    let model = match serde_json::from_str::<Answer>(raw.get()).ok()? {
        Answer::One(head) => head.model,
        Answer::Chunks(chunks) => {
            chunks.into_iter().flatten().find_map(|c| c.model.filter(|m| !m.is_empty()))
        }
    };
    model.filter(|m| !m.is_empty())
}

/// `error.type`: the HTTP status when the server answered one, `timeout`, else `_OTHER`.
fn error_type(error: &str) -> String {
    if let Some(rest) = error.split("answered HTTP ").nth(1) {
        let status: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if status.len() == 3 {
            return status;
        }
    }
    if error.contains("timed out") {
        return "timeout".into();
    }
    if error.contains("could not connect") {
        return "connection_error".into();
    }
    "_OTHER".into()
}

/// OpenInference's provider names for the conventions' well-known ones.
fn openinference_provider(provider: &str) -> String {
    match provider {
        "azure.ai.openai" | "azure.ai.inference" => "azure",
        "aws.bedrock" => "aws",
        "gcp.gemini" | "gcp.vertex_ai" | "gcp.gen_ai" => "google",
        "mistral_ai" => "mistralai",
        "x_ai" => "xai",
        other => other,
    }
    .to_string()
}

/// The provider a server's host stands for, when it is a well-known one.
fn provider_of_host(host: &str) -> Option<&'static str> {
    let host = host.to_ascii_lowercase();
    let known = [
        ("openai.azure.com", "azure.ai.openai"),
        ("openai.com", "openai"),
        ("anthropic.com", "anthropic"),
        ("mistral.ai", "mistral_ai"),
        ("groq.com", "groq"),
        ("deepseek.com", "deepseek"),
        ("perplexity.ai", "perplexity"),
        ("x.ai", "x_ai"),
        ("cohere.com", "cohere"),
        ("cohere.ai", "cohere"),
        ("generativelanguage.googleapis.com", "gcp.gemini"),
        ("huggingface.co", "huggingface"),
    ];
    known.iter().find(|(suffix, _)| host == *suffix || host.ends_with(&format!(".{suffix}"))).map(|(_, p)| *p)
}

/// `(host, port)` of a URL such as `https://api.openai.com/v1`.
fn server_of(url: &str) -> Option<(String, Option<u16>)> {
    let uri: http::Uri = url.trim().parse().ok()?;
    let host = uri.host()?.trim_matches(['[', ']']).to_string();
    let port = uri.port_u16().or(match uri.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    });
    Some((host, port))
}

fn strings(items: impl IntoIterator<Item = String>) -> Value {
    Value::Array(Array::String(items.into_iter().map(StringValue::from).collect()))
}

/// A property as an attribute value: strings, numbers and booleans as such, the rest as JSON.
fn scalar(value: &Json) -> Value {
    match value {
        Json::String(s) => Value::from(s.clone()),
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::I64(i),
            None => Value::F64(n.as_f64().unwrap_or(f64::NAN)),
        },
        other => Value::from(other.to_string()),
    }
}

fn parse_trace(hex: Option<&str>) -> Option<TraceId> {
    TraceId::from_hex(hex?.trim()).ok().filter(|id| *id != TraceId::INVALID)
}

fn parse_span(hex: Option<&str>) -> Option<SpanId> {
    SpanId::from_hex(hex?.trim()).ok().filter(|id| *id != SpanId::INVALID)
}

/// A record outside any trace gets a trace of its own whose id is the record's: sent twice
/// (live, then by `observers export`), it is the same span, which a backend keeps once.
fn trace_id_of(record: &ChatCompletionRecord) -> TraceId {
    TraceId::from_bytes(record.id.as_u128().max(1).to_be_bytes())
}

/// The span id of a record that has none: the record id's last 8 bytes (random in a UUID v7),
/// the same each time the record is sent.
fn span_id_of(record: &ChatCompletionRecord) -> SpanId {
    let low = record.id.as_u64_pair().1;
    SpanId::from_bytes(low.max(1).to_be_bytes())
}

/// The request messages in the conventions' shape: `{role, parts: [...]}`.
fn input_messages(messages: &[Message]) -> Json {
    Json::Array(
        messages
            .iter()
            .map(|m| {
                let mut parts = Vec::new();
                if m.role == "tool" {
                    parts.push(
                        json!({"type": "tool_call_response", "id": m.tool_call_id, "result": m.content}),
                    );
                } else if let Some(content) = &m.content {
                    parts.push(json!({"type": "text", "content": content}));
                }
                parts.extend(tool_call_parts(m.tool_calls.as_ref()));
                let mut message = json!({"role": m.role, "parts": parts});
                if let (Some(name), Some(object)) = (&m.name, message.as_object_mut()) {
                    object.insert("name".into(), json!(name));
                }
                message
            })
            .collect(),
    )
}

/// The answer in the conventions' shape (empty for a failed call).
fn output_messages(r: &ChatCompletionRecord) -> Json {
    if r.error.is_some() {
        return json!([]);
    }
    let mut parts = Vec::new();
    if let Some(text) = &r.assistant_message {
        parts.push(json!({"type": "text", "content": text}));
    }
    parts.extend(tool_call_parts(r.tool_calls.as_ref()));
    json!([{"role": "assistant", "parts": parts, "finish_reason": r.finish_reason}])
}

fn tool_call_parts(calls: Option<&Json>) -> Vec<Json> {
    let Some(Json::Array(calls)) = calls else { return Vec::new() };
    calls
        .iter()
        .map(|call| {
            let arguments = call.pointer("/function/arguments").map(|args| match args {
                Json::String(text) => serde_json::from_str(text).unwrap_or_else(|_| args.clone()),
                other => other.clone(),
            });
            json!({
                "type": "tool_call",
                "id": call.get("id"),
                "name": call.pointer("/function/name"),
                "arguments": arguments,
            })
        })
        .collect()
}

/// The request messages in OpenAI's own shape, for OpenInference's `input.value`.
fn openai_messages(messages: &[Message]) -> Json {
    Json::Array(
        messages
            .iter()
            .map(|m| {
                let mut o = Map::new();
                o.insert("role".into(), json!(m.role));
                o.insert("content".into(), json!(m.content));
                for (key, value) in [("name", &m.name), ("tool_call_id", &m.tool_call_id)] {
                    if let Some(value) = value {
                        o.insert(key.into(), json!(value));
                    }
                }
                if let Some(calls) = &m.tool_calls {
                    o.insert("tool_calls".into(), calls.clone());
                }
                Json::Object(o)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use observers_core::chrono::{TimeZone, Utc};
    use serde_json::value::RawValue;

    fn record() -> ChatCompletionRecord {
        let mut r = ChatCompletionRecord::started_at(
            Some("gpt-4o-mini".into()),
            Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
        );
        r.messages = vec![Message::new("system", "Be terse."), Message::new("user", "Capital of France?")];
        r.assistant_message = Some("Paris.".into());
        r.prompt_tokens = Some(12);
        r.completion_tokens = Some(3);
        r.total_tokens = Some(15);
        r.cached_tokens = Some(4);
        r.reasoning_tokens = Some(1);
        r.finish_reason = Some("stop".into());
        r.response_id = Some("chatcmpl-1".into());
        r.latency_ms = Some(250.5);
        r.time_to_first_token_ms = Some(80.0);
        r.arguments = Some(json!({"temperature": 0.3, "max_tokens": 100, "top_p": 0.9, "seed": 7,
            "stop": ["\n"], "stream": true, "n": 2, "response_format": {"type": "json_object"},
            "tools": [{"type": "function", "function": {"name": "f"}}]}));
        r.raw_response = Some(
            RawValue::from_string(r#"{"id":"chatcmpl-1","model":"gpt-4o-mini-2024-07-18"}"#.into()).unwrap(),
        );
        r.tags = vec!["prod".into()];
        r.properties = Some(json!({"app": "demo", "version": 3, "beta": true, "nested": {"a": 1}}));
        r.user_id = Some("u-1".into());
        r.session_id = Some("s-1".into());
        r
    }

    fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
        span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| &kv.value)
    }

    fn mapping(capture: bool, openinference: bool) -> Mapping {
        Mapping::new(None, Some("https://api.openai.com/v1"), capture, openinference)
    }

    #[test]
    fn a_record_sent_twice_is_the_same_span_and_two_records_are_two() {
        let m = mapping(false, false);
        let (a, b) = (record(), record());
        let (first, again, other) = (m.span(&a), m.span(&a), m.span(&b));
        assert_eq!(first.span_context.trace_id(), again.span_context.trace_id());
        assert_eq!(first.span_context.span_id(), again.span_context.span_id());
        assert_ne!(first.span_context.trace_id(), other.span_context.trace_id());
        assert_ne!(first.span_context.span_id(), other.span_context.span_id());
        assert_eq!(first.span_context.trace_id().to_bytes(), a.id.as_u128().to_be_bytes());
    }

    #[test]
    fn a_record_becomes_a_genai_client_span() {
        let r = record();
        let span = mapping(false, false).span(&r);
        assert_eq!(span.name, "chat gpt-4o-mini");
        assert_eq!(span.span_kind, SpanKind::Client);
        assert_eq!(span.start_time, SystemTime::from(r.timestamp));
        assert_eq!(span.end_time.duration_since(span.start_time).unwrap(), Duration::from_micros(250_500));
        assert_eq!(span.status, Status::Unset);
        assert_eq!(span.parent_span_id, SpanId::INVALID);
        assert!(span.span_context.is_valid());
        let expect = [
            ("gen_ai.operation.name", Value::from("chat")),
            ("gen_ai.provider.name", Value::from("openai")),
            ("gen_ai.request.model", Value::from("gpt-4o-mini")),
            ("gen_ai.response.model", Value::from("gpt-4o-mini-2024-07-18")),
            ("gen_ai.response.id", Value::from("chatcmpl-1")),
            ("gen_ai.response.finish_reasons", strings(["stop".to_string()])),
            ("gen_ai.usage.input_tokens", Value::I64(12)),
            ("gen_ai.usage.output_tokens", Value::I64(3)),
            ("gen_ai.usage.cache_read.input_tokens", Value::I64(4)),
            ("gen_ai.usage.reasoning.output_tokens", Value::I64(1)),
            ("gen_ai.request.temperature", Value::F64(0.3)),
            ("gen_ai.request.max_tokens", Value::I64(100)),
            ("gen_ai.request.top_p", Value::F64(0.9)),
            ("gen_ai.request.seed", Value::I64(7)),
            ("gen_ai.request.stop_sequences", strings(["\n".to_string()])),
            ("gen_ai.request.stream", Value::Bool(true)),
            ("gen_ai.request.choice.count", Value::I64(2)),
            ("gen_ai.output.type", Value::from("json")),
            ("gen_ai.response.time_to_first_chunk", Value::F64(0.08)),
            ("server.address", Value::from("api.openai.com")),
            ("server.port", Value::I64(443)),
            ("gen_ai.conversation.id", Value::from("s-1")),
            ("session.id", Value::from("s-1")),
            ("user.id", Value::from("u-1")),
            ("observers.record_id", Value::from(r.id.to_string())),
            ("observers.tags", strings(["prod".to_string()])),
            ("observers.property.app", Value::from("demo")),
            ("observers.property.version", Value::I64(3)),
            ("observers.property.beta", Value::Bool(true)),
            ("observers.property.nested", Value::from(r#"{"a":1}"#)),
        ];
        for (key, value) in expect {
            assert_eq!(attr(&span, key), Some(&value), "{key}");
        }
        for absent in
            ["gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.tool.definitions", "error.type"]
        {
            assert!(attr(&span, absent).is_none(), "{absent} must be absent");
        }
        assert!(span.attributes.iter().all(|kv| !kv.key.as_str().starts_with("llm.")
            && !kv.key.as_str().starts_with("openinference.")
            && !kv.key.as_str().starts_with("input.")));
    }

    #[test]
    fn content_is_sent_only_when_captured() {
        let r = record();
        let span = mapping(true, false).span(&r);
        let input: Json =
            serde_json::from_str(&attr(&span, "gen_ai.input.messages").unwrap().to_string()).unwrap();
        assert_eq!(
            input[1],
            json!({"role": "user", "parts": [{"type": "text", "content": "Capital of France?"}]})
        );
        let output: Json =
            serde_json::from_str(&attr(&span, "gen_ai.output.messages").unwrap().to_string()).unwrap();
        assert_eq!(
            output,
            json!([{"role": "assistant", "parts": [{"type": "text", "content": "Paris."}], "finish_reason": "stop"}])
        );
        assert!(attr(&span, "gen_ai.tool.definitions").is_some());
        assert!(attr(&span, "input.value").is_none(), "OpenInference is off");
    }

    #[test]
    fn openinference_attributes_follow_the_switches() {
        let r = record();
        let span = mapping(false, true).span(&r);
        assert_eq!(attr(&span, "openinference.span.kind"), Some(&Value::from("LLM")));
        assert_eq!(attr(&span, "llm.model_name"), Some(&Value::from("gpt-4o-mini-2024-07-18")));
        assert_eq!(attr(&span, "llm.provider"), Some(&Value::from("openai")));
        assert_eq!(attr(&span, "llm.token_count.prompt"), Some(&Value::I64(12)));
        assert_eq!(attr(&span, "llm.token_count.completion"), Some(&Value::I64(3)));
        assert_eq!(attr(&span, "llm.token_count.total"), Some(&Value::I64(15)));
        let params: Json =
            serde_json::from_str(&attr(&span, "llm.invocation_parameters").unwrap().to_string()).unwrap();
        assert_eq!(params["temperature"], json!(0.3));
        assert!(params.get("tools").is_none());
        for absent in ["input.value", "output.value", "llm.input_messages.0.message.role"] {
            assert!(attr(&span, absent).is_none(), "{absent} needs content capture");
        }
        let span = mapping(true, true).span(&r);
        let input: Json = serde_json::from_str(&attr(&span, "input.value").unwrap().to_string()).unwrap();
        assert_eq!(input["messages"][1]["content"], "Capital of France?");
        assert_eq!(attr(&span, "input.mime_type"), Some(&Value::from("application/json")));
        assert_eq!(attr(&span, "output.value"), Some(&Value::from("Paris.")));
        assert_eq!(attr(&span, "llm.input_messages.0.message.role"), Some(&Value::from("system")));
        assert_eq!(attr(&span, "llm.output_messages.0.message.content"), Some(&Value::from("Paris.")));
    }

    #[test]
    fn a_failed_call_has_an_error_status_and_type() {
        let mut r = ChatCompletionRecord::new("gpt-4o-mini");
        r.error = Some("the server answered HTTP 503: overloaded (server_error)".into());
        r.finish_reason = Some("error".into());
        r.latency_ms = Some(12.0);
        let span = mapping(true, true).span(&r);
        assert_eq!(span.status, Status::error("the server answered HTTP 503: overloaded (server_error)"));
        assert_eq!(attr(&span, "error.type"), Some(&Value::from("503")));
        assert!(attr(&span, "gen_ai.response.finish_reasons").is_none());
        assert_eq!(attr(&span, "gen_ai.output.messages"), Some(&Value::from("[]")));
        assert_eq!(error_type("the request to http://x timed out: no answer"), "timeout");
        assert_eq!(error_type("the stream failed: eof"), "_OTHER");
    }

    #[test]
    fn record_ids_place_the_span_in_the_callers_trace() {
        let mut r = ChatCompletionRecord::new("m");
        r.trace_id = Some("4bf92f3577b34da6a3ce929d0e0e4736".into());
        r.parent_span_id = Some("00f067aa0ba902b7".into());
        r.span_id = Some("53995c3f42cd8ad8".into());
        let span = mapping(false, false).span(&r);
        assert_eq!(span.span_context.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(span.parent_span_id.to_string(), "00f067aa0ba902b7");
        assert_eq!(span.span_context.span_id().to_string(), "53995c3f42cd8ad8");
        // Garbage ids never fail: a fresh trace instead.
        r.trace_id = Some("not-hex".into());
        r.span_id = Some("zz".into());
        let span = mapping(false, false).span(&r);
        assert!(span.span_context.is_valid());
        assert_eq!(span.parent_span_id, SpanId::INVALID);
        // Odd latencies never panic.
        r.latency_ms = Some(f64::NAN);
        assert_eq!(mapping(false, false).span(&r).end_time, SystemTime::from(r.timestamp));
    }

    #[test]
    fn streamed_answers_and_providers_are_recognised() {
        let mut r = ChatCompletionRecord::new("m");
        r.raw_response = Some(RawValue::from_string(r#"[{"model":""},{"model":"m-2024"}]"#.into()).unwrap());
        assert_eq!(response_model(&r).as_deref(), Some("m-2024"));
        let m = Mapping::new(None, Some("https://my-res.openai.azure.com/openai"), false, true);
        assert_eq!(m.provider, "azure.ai.openai");
        assert_eq!(openinference_provider(&m.provider), "azure");
        let m = Mapping::new(None, Some("http://localhost:11434/v1"), false, false);
        assert_eq!(
            (m.provider.as_str(), m.server.clone()),
            ("openai", Some(("localhost".into(), Some(11434))))
        );
        let m = Mapping::new(Some("mistral_ai".into()), Some("https://api.openai.com"), false, false);
        assert_eq!(m.provider, "mistral_ai");
    }
}
