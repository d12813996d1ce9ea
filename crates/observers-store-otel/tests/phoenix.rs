//! The OpenTelemetry store against a real Arize Phoenix: calls through the wrapped client,
//! spans exported over OTLP/HTTP, read back with Phoenix's own Python client.
//!
//! Needs the test venv (`OBSERVERS_PYTHON`, see `observers_testkit::tools::python_with_phoenix`).
//! One Phoenix serves every test of this binary; each test has a project of its own.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::time::Duration;

use futures_util::StreamExt;
use observers_core::chrono::{DateTime, Utc};
use observers_core::{ChatCompletionRecord, Store};
use observers_openai::{ChatCompletionRequest, ChatMessage, Error};
use observers_store_otel::OtelStore;
use observers_testkit::openai::{MockOpenAi, Scenario};
use observers_testkit::phoenix::Phoenix;
use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
use opentelemetry_sdk::trace::SpanExporter as _;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(60);

/// A store exporting to the shared Phoenix, into `project`.
fn store(phoenix: &Phoenix, project: &str, capture: bool) -> OtelStore {
    OtelStore::builder()
        .endpoint(phoenix.otlp_http_endpoint())
        .service_name("observers-tests")
        .resource_attribute("openinference.project.name", project)
        .server_url("https://api.openai.com/v1")
        .capture_content(capture)
        .scheduled_delay(Duration::from_millis(200))
        .build()
        .unwrap()
}

/// Phoenix spans are read on a blocking thread (the client is a Python process).
async fn phoenix_spans(project: &str, n: usize) -> Vec<Value> {
    let project = project.to_string();
    tokio::task::spawn_blocking(move || Phoenix::shared().wait_for_spans(&project, n, WAIT))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}\nPhoenix log:\n{}", Phoenix::shared().log_tail()))
}

/// An attribute, whether Phoenix gives attributes flat (`a.b.c`) or nested.
fn attr<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    let attributes = span.get("attributes")?;
    if let Some(value) = attributes.get(key) {
        return Some(value);
    }
    key.split('.').try_fold(attributes, |value, part| value.get(part))
}

fn time(span: &Value, field: &str) -> DateTime<Utc> {
    let text = span[field].as_str().unwrap_or_else(|| panic!("no {field} in {span:#}"));
    DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{field} {text:?}: {e}")).with_timezone(&Utc)
}

fn span_for<'a>(spans: &'a [Value], record: &ChatCompletionRecord) -> &'a Value {
    let id = record.id.to_string();
    spans
        .iter()
        .find(|s| attr(s, "observers.record_id").and_then(Value::as_str) == Some(id.as_str()))
        .unwrap_or_else(|| panic!("no span for record {id} among {spans:#?}"))
}

/// Name, timing, model, tokens: what every span must agree on with its record.
fn check_common(span: &Value, record: &ChatCompletionRecord) {
    let model = record.model.as_deref().unwrap();
    assert_eq!(span["name"], format!("chat {model}"), "{span:#}");
    assert_eq!(span["span_kind"], "LLM", "OpenInference kind: {span:#}");
    let start = time(span, "start_time");
    let end = time(span, "end_time");
    let start_off = (start - record.timestamp).num_microseconds().unwrap().abs();
    assert!(start_off <= 1000, "start {start} vs record {} ({start_off} µs)", record.timestamp);
    let latency_us = (record.latency_ms.unwrap() * 1000.0).round() as i64;
    let duration_off = ((end - start).num_microseconds().unwrap() - latency_us).abs();
    assert!(duration_off <= 1000, "duration {:?} vs latency {latency_us} µs", end - start);
    assert_eq!(attr(span, "gen_ai.operation.name"), Some(&json!("chat")));
    assert_eq!(attr(span, "gen_ai.provider.name"), Some(&json!("openai")));
    assert_eq!(attr(span, "gen_ai.request.model"), Some(&json!(model)));
    assert!(attr(span, "llm.model_name").and_then(Value::as_str).is_some(), "{span:#}");
    assert_eq!(attr(span, "server.address"), Some(&json!("api.openai.com")));
    if let Some(tokens) = record.prompt_tokens {
        assert_eq!(attr(span, "gen_ai.usage.input_tokens"), Some(&json!(tokens)), "{span:#}");
        assert_eq!(attr(span, "llm.token_count.prompt"), Some(&json!(tokens)));
    }
    if let Some(tokens) = record.completion_tokens {
        assert_eq!(attr(span, "gen_ai.usage.output_tokens"), Some(&json!(tokens)));
        assert_eq!(attr(span, "llm.token_count.completion"), Some(&json!(tokens)));
    }
    if let Some(id) = &record.response_id {
        assert_eq!(attr(span, "gen_ai.response.id"), Some(&json!(id)));
    }
}

fn question(model: &str) -> ChatCompletionRequest {
    ChatCompletionRequest::new(model)
        .message(ChatMessage::system("You are terse."))
        .message(ChatMessage::user("What is the capital of France?"))
        .temperature(0.3)
        .param("max_tokens", json!(50))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_streamed_tool_call_and_failed_calls_become_phoenix_spans() {
    let phoenix = tokio::task::spawn_blocking(Phoenix::shared).await.unwrap();
    let project = "calls-without-content";
    let otel = store(phoenix, project, false);
    let server = MockOpenAi::start_with(Scenario::Text).await.unwrap();
    let (client, kept) = common::wrapped(&server, &otel);

    let completion = client.chat().completions().create(question("gpt-4o-mini")).await.unwrap();
    assert!(completion.content().unwrap().starts_with("Mock answer"));

    let mut stream = client.chat().completions().create_stream(question("gpt-4o-mini")).await.unwrap();
    while let Some(chunk) = stream.next().await {
        chunk.unwrap();
    }
    drop(stream);

    server.set_scenario(Scenario::ToolCalls);
    let tools =
        json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]);
    let completion = client.chat().completions().create(question("gpt-4o").tools(tools)).await.unwrap();
    assert_eq!(completion.choices[0].finish_reason.as_deref(), Some("tool_calls"));

    server.set_scenario(Scenario::HttpError(503));
    let error = client.chat().completions().create(question("gpt-4.1")).await.unwrap_err();
    assert!(matches!(error, Error::Api(_)), "{error}");
    server.set_scenario(Scenario::HttpError(400));
    client.chat().completions().create(question("gpt-4.1-mini")).await.unwrap_err();

    otel.flush().await.unwrap();
    assert_eq!((otel.exported(), otel.dropped()), (5, 0));
    let records = kept.records();
    assert_eq!(records.len(), 5);
    let spans = phoenix_spans(project, 5).await;
    assert_eq!(spans.len(), 5, "{spans:#?}");

    for record in &records {
        let span = span_for(&spans, record);
        check_common(span, record);
        // Content is off by default: no message text anywhere.
        for absent in ["gen_ai.input.messages", "gen_ai.output.messages", "input.value"] {
            assert!(attr(span, absent).is_none(), "{absent} present without content capture: {span:#}");
        }
        // Phoenix derives an `output.value` of its own from the GenAI attributes (response id
        // and model); the answer's text must not be there, nor the question's anywhere.
        let text = span.to_string();
        assert!(
            !text.contains("capital of France") && !text.contains("Mock answer"),
            "message text leaked: {span:#}"
        );
        assert_eq!(attr(span, "gen_ai.request.temperature"), Some(&json!(0.3)));
        assert_eq!(attr(span, "gen_ai.request.max_tokens"), Some(&json!(50)));
    }
    let [plain, streamed, tool, failed_503, failed_400] = &records[..] else { unreachable!() };

    let span = span_for(&spans, plain);
    assert_eq!(span["status_code"], "UNSET");
    assert!(plain.prompt_tokens.unwrap() > 0 && plain.completion_tokens.unwrap() > 0);
    assert_eq!(attr(span, "gen_ai.response.finish_reasons"), Some(&json!(["stop"])));

    let span = span_for(&spans, streamed);
    assert!(streamed.completion_tokens.unwrap() > 0, "stream usage was asked for");
    assert_eq!(attr(span, "gen_ai.request.stream"), Some(&json!(true)));
    let ttfc = attr(span, "gen_ai.response.time_to_first_chunk").and_then(Value::as_f64).unwrap();
    assert!((ttfc - streamed.time_to_first_token_ms.unwrap() / 1000.0).abs() < 1e-9);

    let span = span_for(&spans, tool);
    assert_eq!(attr(span, "gen_ai.response.finish_reasons"), Some(&json!(["tool_calls"])));

    for (record, status) in [(failed_503, "503"), (failed_400, "400")] {
        let span = span_for(&spans, record);
        assert_eq!(span["status_code"], "ERROR", "{span:#}");
        let message = span["status_message"].as_str().unwrap_or_default();
        assert!(message.contains(&format!("HTTP {status}")), "{span:#}");
        assert_eq!(attr(span, "error.type"), Some(&json!(status)));
    }
    otel.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_capture_sends_the_messages_both_ways() {
    let phoenix = tokio::task::spawn_blocking(Phoenix::shared).await.unwrap();
    let project = "calls-with-content";
    let otel = store(phoenix, project, true);
    let server = MockOpenAi::start_with(Scenario::Text).await.unwrap();
    let (client, kept) = common::wrapped(&server, &otel);
    let answer = client.chat().completions().create(question("gpt-4o-mini")).await.unwrap();
    server.set_scenario(Scenario::ToolCalls);
    client.chat().completions().create(question("gpt-4o-mini")).await.unwrap();
    otel.close().await.unwrap();

    let spans = phoenix_spans(project, 2).await;
    let records = kept.records();
    let span = span_for(&spans, &records[0]);
    check_common(span, &records[0]);
    let input: Value =
        serde_json::from_str(attr(span, "gen_ai.input.messages").unwrap().as_str().unwrap()).unwrap();
    assert_eq!(
        input[1],
        json!({"role": "user", "parts": [{"type": "text", "content": "What is the capital of France?"}]})
    );
    let output: Value =
        serde_json::from_str(attr(span, "gen_ai.output.messages").unwrap().as_str().unwrap()).unwrap();
    assert_eq!(output[0]["parts"][0]["content"], json!(answer.content().unwrap()));
    assert_eq!(attr(span, "output.value"), Some(&json!(answer.content().unwrap())));
    assert!(attr(span, "input.value").unwrap().as_str().unwrap().contains("capital of France"));

    let span = span_for(&spans, &records[1]);
    let output: Value =
        serde_json::from_str(attr(span, "gen_ai.output.messages").unwrap().as_str().unwrap()).unwrap();
    let parts = output[0]["parts"].as_array().unwrap();
    assert!(parts.iter().any(|p| p["type"] == "tool_call" && p["name"] == "get_weather"), "{output:#}");
}

/// Keeps the user's own spans, to ship them to Phoenix like any OTLP exporter would.
#[derive(Debug, Clone, Default)]
struct UserSpans(std::sync::Arc<std::sync::Mutex<Vec<opentelemetry_sdk::trace::SpanData>>>);

impl opentelemetry_sdk::trace::SpanExporter for UserSpans {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.lock().unwrap().extend(batch);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_inside_a_user_span_is_its_child_in_phoenix() {
    use opentelemetry::context::FutureExt as _;

    let phoenix = tokio::task::spawn_blocking(Phoenix::shared).await.unwrap();
    let project = "nesting";
    let otel = store(phoenix, project, false);
    let server = MockOpenAi::start_with(Scenario::Text).await.unwrap();
    let (client, kept) = common::wrapped(&server, &otel);

    // The user's application: an SDK tracer provider and a span around the call.
    let user_spans = UserSpans::default();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(user_spans.clone())
        .build();
    let tracer = provider.tracer("user-app");
    let user_span = tracer.start("handle request");
    let cx = opentelemetry::Context::current_with_span(user_span);
    client.chat().completions().create(question("gpt-4o-mini")).with_context(cx.clone()).await.unwrap();
    let (user_trace, user_span_id) = {
        let span = cx.span();
        let context = span.span_context();
        (context.trace_id().to_string(), context.span_id().to_string())
    };
    cx.span().end();
    provider.force_flush().unwrap();

    // Ship the user's span to the same Phoenix project with the stock OTLP exporter.
    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(phoenix.otlp_http_endpoint())
        .build()
        .unwrap();
    exporter.set_resource(
        &opentelemetry_sdk::Resource::builder_empty()
            .with_attribute(opentelemetry::KeyValue::new("openinference.project.name", project))
            .build(),
    );
    use opentelemetry_otlp::WithExportConfig as _;
    let batch = user_spans.0.lock().unwrap().clone();
    assert_eq!(batch.len(), 1);
    exporter.export(batch).await.unwrap();
    otel.flush().await.unwrap();

    let record = &kept.records()[0];
    assert_eq!(record.trace_id.as_deref(), Some(user_trace.as_str()));
    assert_eq!(record.parent_span_id.as_deref(), Some(user_span_id.as_str()));
    let spans = phoenix_spans(project, 2).await;
    let chat = span_for(&spans, record);
    check_common(chat, record);
    assert_eq!(chat["context"]["trace_id"], json!(user_trace), "{chat:#}");
    assert_eq!(chat["parent_id"], json!(user_span_id), "{chat:#}");
    assert_eq!(chat["context"]["span_id"], json!(record.span_id.as_deref().unwrap()), "row and span agree");
    let user = spans.iter().find(|s| s["name"] == "handle request").expect("the user's span");
    assert_eq!(user["context"]["span_id"], json!(user_span_id));

    // Without a current span, a call starts a trace of its own.
    client.chat().completions().create(question("gpt-4o-mini")).await.unwrap();
    otel.close().await.unwrap();
    let lone = &kept.records()[1];
    assert!(lone.trace_id.is_none() && lone.parent_span_id.is_none());
    let spans = phoenix_spans(project, 3).await;
    let span = span_for(&spans, lone);
    assert_ne!(span["context"]["trace_id"], json!(user_trace));
    assert!(span.get("parent_id").is_none_or(Value::is_null), "{span:#}");
}

#[cfg(feature = "grpc")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_also_go_over_grpc() {
    let phoenix = tokio::task::spawn_blocking(Phoenix::shared).await.unwrap();
    let project = "grpc";
    let otel = OtelStore::builder()
        .protocol(observers_store_otel::Protocol::Grpc)
        .endpoint(phoenix.otlp_grpc_endpoint())
        .resource_attribute("openinference.project.name", project)
        .server_url("https://api.openai.com/v1")
        .build()
        .unwrap();
    let server = MockOpenAi::start_with(Scenario::Text).await.unwrap();
    let (client, kept) = common::wrapped(&server, &otel);
    client.chat().completions().create(question("gpt-4o-mini")).await.unwrap();
    otel.close().await.unwrap();
    assert_eq!((otel.exported(), otel.dropped()), (1, 0));
    let spans = phoenix_spans(project, 1).await;
    check_common(span_for(&spans, &kept.records()[0]), &kept.records()[0]);
}
