//! The wrapped client against the loopback OpenAI-compatible server, rows checked in a real
//! DuckDB file, scenario by scenario.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures_util::StreamExt;
use observers_core::{ChatCompletionRecord, Store};
use observers_openai::{
    wrap_openai, wrap_openai_with, ChatCompletionRequest, ChatMessage, Error, OpenAi, WrapOptions,
};
use observers_store_duckdb::DuckDbStore;
use observers_testkit::openai::{self as mock, MockOpenAi, Scenario};
use serde_json::{json, Value};

const KEY: &str = "sk-test-0123456789abcdefSECRET";

struct Setup {
    server: MockOpenAi,
    store: DuckDbStore,
    client: OpenAi,
    _dir: tempfile::TempDir,
}

async fn setup_with(scenario: Scenario, options: WrapOptions) -> Setup {
    setup_timed(scenario, options, Duration::from_secs(5)).await
}

async fn setup_timed(scenario: Scenario, options: WrapOptions, timeout: Duration) -> Setup {
    let server = MockOpenAi::start_with(scenario).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = DuckDbStore::open(dir.path().join("store.db")).unwrap();
    let client = OpenAi::builder().base_url(server.base_url()).api_key(KEY).timeout(timeout).build().unwrap();
    let client = wrap_openai_with(client, store.clone(), options);
    Setup { server, store, client, _dir: dir }
}

async fn setup(scenario: Scenario) -> Setup {
    setup_with(scenario, WrapOptions::default()).await
}

fn question() -> ChatCompletionRequest {
    ChatCompletionRequest::new("gpt-4o-mini")
        .message(ChatMessage::system("You are terse."))
        .message(ChatMessage::user("What is the capital of France?"))
        .temperature(0.3)
}

impl Setup {
    /// Every row, oldest first.
    async fn rows(&self) -> Vec<ChatCompletionRecord> {
        self.store.flush().await.unwrap();
        self.store.unsynced(None, 10_000).await.unwrap()
    }

    async fn only_row(&self) -> ChatCompletionRecord {
        let mut rows = self.rows().await;
        assert_eq!(rows.len(), 1, "expected exactly one row: {rows:#?}");
        rows.remove(0)
    }

    async fn stream_all(&self, request: ChatCompletionRequest) -> (String, Vec<Result<(), Error>>) {
        let mut stream = self.client.chat().completions().create_stream(request).await.unwrap();
        let mut text = String::new();
        let mut outcomes = Vec::new();
        while let Some(item) = stream.next().await {
            match item {
                Ok(chunk) => {
                    text.push_str(chunk.content().unwrap_or_default());
                    outcomes.push(Ok(()));
                }
                Err(e) => outcomes.push(Err(e)),
            }
        }
        (text, outcomes)
    }
}

/// Call number `i`: plain when even, streamed to its end when odd.
async fn mixed_call(client: &OpenAi, model: &str, i: usize) -> Result<(), Error> {
    let request = ChatCompletionRequest::new(model).message(ChatMessage::user(format!("q{i}")));
    if i.is_multiple_of(2) {
        return client.chat().completions().create(request).await.map(|_| ());
    }
    let mut stream = client.chat().completions().create_stream(request).await?;
    while let Some(chunk) = stream.next().await {
        chunk?;
    }
    Ok(())
}

/// No column of the record holds the API key.
fn assert_no_secret(record: &ChatCompletionRecord) {
    let text = serde_json::to_string(record).unwrap();
    assert!(!text.contains(KEY), "the API key leaked into a record: {text}");
}

fn expected_answer() -> String {
    format!("{}What is the capital of France?", mock::MOCK_ANSWER_PREFIX)
}

#[tokio::test]
async fn plain_text_call_is_recorded_column_by_column() {
    let s = setup(Scenario::Text).await;
    let request = question().tag("per-call").property("user", json!("u-1"));
    let completion = s.client.chat().completions().create(request).await.unwrap();
    assert_eq!(completion.content(), Some(expected_answer().as_str()));

    let row = s.only_row().await;
    assert_eq!(row.model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(row.messages.len(), 2);
    assert_eq!(row.messages[1].role, "user");
    assert_eq!(row.messages[1].content.as_deref(), Some("What is the capital of France?"));
    assert_eq!(row.assistant_message.as_deref(), Some(expected_answer().as_str()));
    assert_eq!(row.finish_reason.as_deref(), Some("stop"));
    let usage = completion.usage.as_ref().unwrap();
    assert_eq!(row.prompt_tokens.map(|t| t as u64), usage.prompt_tokens);
    assert_eq!(row.completion_tokens.map(|t| t as u64), usage.completion_tokens);
    assert_eq!(row.total_tokens.map(|t| t as u64), usage.total_tokens);
    assert_eq!(row.response_id, completion.id);
    assert_ne!(row.id.to_string(), completion.id.clone().unwrap());
    assert_eq!(row.arguments, Some(json!({"temperature": 0.3})));
    assert_eq!(row.tags, ["per-call"]);
    assert_eq!(row.properties, Some(json!({"user": "u-1"})));
    assert!(row.error.is_none());
    assert!(row.latency_ms.is_some_and(|l| l > 0.0));
    assert!(row.time_to_first_token_ms.is_none());
    let raw: Value = serde_json::from_str(row.raw_response.as_ref().unwrap().get()).unwrap();
    assert_eq!(serde_json::from_value::<observers_openai::ChatCompletion>(raw).unwrap(), completion);
    assert_no_secret(&row);

    // The key went to the server, and only as the Authorization header.
    let sent = &s.server.requests()[0];
    assert_eq!(sent.header("authorization"), Some(format!("Bearer {KEY}").as_str()));
    assert!(!sent.body.contains(KEY));
    assert!(!sent.body.contains("per-call"), "tags are never sent: {}", sent.body);
}

#[tokio::test]
async fn tool_calls_are_recorded() {
    let s = setup(Scenario::ToolCalls).await;
    let tools =
        json!([{"type": "function", "function": {"name": mock::WEATHER_TOOL_NAME, "parameters": {}}}]);
    s.client.chat().completions().create(question().tools(tools.clone())).await.unwrap();
    let row = s.only_row().await;
    assert_eq!(row.finish_reason.as_deref(), Some("tool_calls"));
    let calls = row.tool_calls.as_ref().unwrap().as_array().unwrap().clone();
    let pairs: Vec<(&str, &str)> = calls
        .iter()
        .map(|c| (c["function"]["name"].as_str().unwrap(), c["function"]["arguments"].as_str().unwrap()))
        .collect();
    assert_eq!(
        pairs,
        [
            (mock::WEATHER_TOOL_NAME, mock::WEATHER_TOOL_ARGUMENTS),
            (mock::TIME_TOOL_NAME, mock::TIME_TOOL_ARGUMENTS)
        ]
    );
    assert_eq!(row.arguments.as_ref().unwrap()["tools"], tools);
}

#[tokio::test]
async fn streamed_text_is_reassembled_with_usage_and_first_token_time() {
    let s = setup_with(Scenario::Text, WrapOptions::default().stream_usage(true)).await;
    let (text, outcomes) = s.stream_all(question()).await;
    assert!(outcomes.iter().all(Result::is_ok));
    assert_eq!(text, expected_answer());

    let row = s.only_row().await;
    assert_eq!(row.assistant_message.as_deref(), Some(text.as_str()));
    assert_eq!(row.finish_reason.as_deref(), Some("stop"));
    assert!(row.total_tokens.is_some_and(|t| t > 0), "{row:?}");
    assert!(row.time_to_first_token_ms.is_some_and(|t| t <= row.latency_ms.unwrap()));
    let chunks: Vec<Value> = serde_json::from_str(row.raw_response.as_ref().unwrap().get()).unwrap();
    assert_eq!(chunks.len(), outcomes.len(), "raw_response holds every chunk");
    assert_eq!(row.arguments.as_ref().unwrap()["stream_options"], json!({"include_usage": true}));
    assert!(row.error.is_none());
    assert_no_secret(&row);
}

#[tokio::test]
async fn streamed_parallel_tool_calls_are_merged_across_chunks() {
    let s = setup(Scenario::ToolCalls).await;
    let (_, outcomes) = s.stream_all(question()).await;
    assert!(outcomes.len() > 6, "the calls come in many chunks");
    let row = s.only_row().await;
    let calls = row.tool_calls.unwrap();
    assert_eq!(calls[0]["id"], mock::WEATHER_TOOL_CALL_ID);
    assert_eq!(calls[0]["function"]["name"], mock::WEATHER_TOOL_NAME);
    assert_eq!(calls[0]["function"]["arguments"], mock::WEATHER_TOOL_ARGUMENTS);
    assert_eq!(calls[1]["id"], mock::TIME_TOOL_CALL_ID);
    assert_eq!(calls[1]["function"]["arguments"], mock::TIME_TOOL_ARGUMENTS);
    assert_eq!(row.finish_reason.as_deref(), Some("tool_calls"));
}

#[tokio::test]
async fn http_errors_reach_the_caller_typed_and_are_recorded() {
    for status in [400u16, 401, 429, 500] {
        let s = setup(Scenario::HttpError(status)).await;
        let error = s.client.chat().completions().create(question()).await.unwrap_err();
        assert_eq!(error.status(), Some(status), "{error}");
        let Error::Api(api) = &error else { panic!("{error:?}") };
        assert!(!api.message.is_empty());
        if status == 429 {
            assert_eq!(api.retry_after, Some(Duration::from_secs(1)));
        }
        let row = s.only_row().await;
        assert_eq!(row.finish_reason.as_deref(), Some("error"));
        let recorded = row.error.clone().unwrap();
        assert!(recorded.contains(&status.to_string()) && recorded.contains(&api.message), "{recorded}");
        assert!(row.raw_response.is_some(), "the provider's error body is kept");
        assert!(!error.to_string().contains(KEY));
        assert_no_secret(&row);
    }
}

#[tokio::test]
async fn connection_refused_and_timeouts_are_recorded() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let store = DuckDbStore::open(dir.path().join("store.db")).unwrap();
    let refused = wrap_openai(
        OpenAi::builder().base_url(format!("http://127.0.0.1:{port}/v1")).api_key(KEY).build().unwrap(),
        store.clone(),
    );
    let error = refused.chat().completions().create(question()).await.unwrap_err();
    assert!(matches!(error, Error::Connect { .. }), "{error:?}");

    let stall = MockOpenAi::start_with(Scenario::Stall).await.unwrap();
    let slow = wrap_openai(
        OpenAi::builder().base_url(stall.base_url()).timeout(Duration::from_millis(300)).build().unwrap(),
        store.clone(),
    );
    let started = std::time::Instant::now();
    let error = slow.chat().completions().create(question()).await.unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(3), "the timeout is honoured");

    store.flush().await.unwrap();
    let rows = store.unsynced(None, 10).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows[0].error.as_deref().unwrap().contains("could not connect"));
    assert!(rows[1].error.as_deref().unwrap().contains("timed out"));
    assert!(rows.iter().all(|r| r.finish_reason.as_deref() == Some("error")));
}

#[tokio::test]
async fn malformed_answers_are_errors_not_panics() {
    let s = setup(Scenario::MalformedJson).await;
    let error = s.client.chat().completions().create(question()).await.unwrap_err();
    assert!(matches!(error, Error::Decode { .. }), "{error:?}");
    assert!(s.only_row().await.error.unwrap().contains("not a valid chat completion"));

    let s = setup(Scenario::MalformedSse).await;
    let (_, outcomes) = s.stream_all(question()).await;
    assert!(matches!(outcomes.last(), Some(Err(Error::Stream(_)))), "{outcomes:?}");
    let row = s.only_row().await;
    assert!(row.error.unwrap().contains("malformed event"));
    assert_eq!(row.finish_reason.as_deref(), Some("error"));
}

#[tokio::test]
async fn bytes_that_are_not_utf8_are_errors_and_recorded() {
    let s = setup(Scenario::InvalidUtf8).await;
    let error = s.client.chat().completions().create(question()).await.unwrap_err();
    assert!(matches!(error, Error::Decode { .. }), "{error:?}");
    assert!(s.only_row().await.error.unwrap().contains("not a valid chat completion"));

    let s = setup(Scenario::InvalidUtf8).await;
    let (text, outcomes) = s.stream_all(question()).await;
    let Some(Err(Error::Stream(message))) = outcomes.last() else { panic!("{outcomes:?}") };
    assert!(message.contains("not valid UTF-8"), "{message}");
    assert!(expected_answer().starts_with(&text) && !text.is_empty(), "{text:?}");
    let row = s.only_row().await;
    assert_eq!(row.assistant_message.as_deref(), Some(text.as_str()));
    assert!(row.error.unwrap().contains("not valid UTF-8"));
}

/// Far above any real completion, below the client's limit of one answer.
const HUGE_ANSWER: usize = 50 * 1024 * 1024;

#[tokio::test]
async fn a_50_mib_answer_reaches_the_caller_and_its_row_whole() {
    let timeout = Duration::from_secs(120);
    let s = setup_timed(Scenario::LargeAnswer(HUGE_ANSWER), WrapOptions::default(), timeout).await;
    let completion = s.client.chat().completions().create(question()).await.unwrap();
    let content = completion.content().unwrap().to_owned();
    drop(completion);
    assert_eq!(content.len(), HUGE_ANSWER);
    assert!(content.starts_with(&expected_answer()));
    let (streamed, outcomes) = s.stream_all(question()).await;
    assert!(outcomes.iter().all(Result::is_ok));
    assert!(streamed == content, "the streamed answer differs from the plain one");
    drop(streamed);

    let rows = s.rows().await;
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_eq!(row.error, None);
        assert!(row.assistant_message.as_deref() == Some(content.as_str()), "a row lost part of the answer");
        assert_eq!(row.finish_reason.as_deref(), Some("stop"));
    }
}

#[tokio::test]
async fn a_plain_answer_over_the_limit_is_refused_and_a_stream_is_not_cut() {
    let timeout = Duration::from_secs(120);
    let too_big = observers_openai::MAX_ANSWER_BYTES + 1;
    let s = setup_timed(Scenario::LargeAnswer(too_big), WrapOptions::default(), timeout).await;
    let error = s.client.chat().completions().create(question()).await.unwrap_err();
    assert!(matches!(error, Error::TooLarge { .. }), "{error:?}");
    assert!(
        error.to_string().contains("max_tokens") && error.to_string().contains("create_stream"),
        "{error}"
    );
    let (text, outcomes) = s.stream_all(question()).await;
    assert!(outcomes.iter().all(Result::is_ok), "the stream was cut");
    assert_eq!(text.len(), too_big);

    let rows = s.rows().await;
    assert_eq!(rows.len(), 2);
    assert!(rows[0].error.as_deref().is_some_and(|e| e.contains("limit for one answer")));
    assert_eq!(rows[0].assistant_message, None);
    // The stream's row has the whole answer; its raw chunks, several times larger, are let go.
    assert_eq!(rows[1].error, None);
    assert!(rows[1].assistant_message.as_deref() == Some(text.as_str()), "the streamed row lost text");
    assert!(rows[1].raw_response.is_none());
}

#[tokio::test]
async fn a_stream_that_breaks_keeps_what_arrived() {
    let s = setup(Scenario::DisconnectMidStream).await;
    let (text, outcomes) = s.stream_all(question()).await;
    assert!(matches!(outcomes.last(), Some(Err(_))), "{outcomes:?}");
    let row = s.only_row().await;
    assert!(!text.is_empty());
    assert_eq!(row.assistant_message.as_deref(), Some(text.as_str()));
    assert!(row.error.unwrap().contains("before the end of the stream"));

    let s = setup(Scenario::MidStreamError).await;
    let (text, outcomes) = s.stream_all(question()).await;
    let Some(Err(Error::Api(api))) = outcomes.last() else { panic!("{outcomes:?}") };
    assert_eq!(api.status, 200);
    assert!(api.message.contains(mock::MID_STREAM_ERROR_MESSAGE), "{api:?}");
    let row = s.only_row().await;
    assert_eq!(row.assistant_message.as_deref(), Some(text.as_str()));
    assert!(row.error.unwrap().contains(mock::MID_STREAM_ERROR_MESSAGE));
}

/// Gateways (OpenRouter) answer an upstream failure with HTTP 200 and an `error` in the body:
/// plain or streamed, the caller gets a typed error and the row says so.
#[tokio::test]
async fn an_error_inside_a_200_answer_is_an_error_plain_or_streamed() {
    let s = setup(Scenario::ErrorInBody).await;
    let error = s.client.chat().completions().create(question()).await.unwrap_err();
    let Error::Api(api) = &error else { panic!("{error:?}") };
    assert_eq!((api.status, api.message.as_str()), (200, mock::PROVIDER_ERROR_MESSAGE));
    assert_eq!(api.code.as_deref(), Some(mock::PROVIDER_ERROR_CODE.to_string().as_str()));
    assert!(error.to_string().contains(mock::PROVIDER_ERROR_MESSAGE), "{error}");
    let (text, outcomes) = s.stream_all(question()).await;
    let Some(Err(Error::Api(streamed))) = outcomes.last() else { panic!("{outcomes:?}") };
    assert_eq!(streamed.message, mock::PROVIDER_DISCONNECTED_MESSAGE);

    let rows = s.rows().await;
    assert_eq!(rows.len(), 2);
    for (row, message) in rows.iter().zip([mock::PROVIDER_ERROR_MESSAGE, mock::PROVIDER_DISCONNECTED_MESSAGE])
    {
        assert_eq!(row.finish_reason.as_deref(), Some("error"), "{row:?}");
        assert!(row.error.as_deref().is_some_and(|e| e.contains(message)), "{row:?}");
        assert!(row.raw_response.is_some(), "what the gateway sent is kept");
    }
    let raw: Value = serde_json::from_str(rows[0].raw_response.as_ref().unwrap().get()).unwrap();
    assert_eq!(raw["error"]["metadata"]["provider_name"], "MockProvider");
    assert_eq!(rows[1].assistant_message.as_deref(), Some(text.as_str()), "the streamed part is kept");

    // The error inside the choice, next to an id and usage.
    let s = setup(Scenario::ErrorInChoice).await;
    let error = s.client.chat().completions().create(question()).await.unwrap_err();
    let Error::Api(api) = &error else { panic!("{error:?}") };
    assert_eq!(
        (api.message.as_str(), api.code.as_deref()),
        (mock::PROVIDER_DISCONNECTED_MESSAGE, Some("502"))
    );
    let (_, outcomes) = s.stream_all(question()).await;
    assert!(matches!(outcomes.last(), Some(Err(Error::Api(_)))), "{outcomes:?}");
    for row in s.rows().await {
        assert_eq!(row.finish_reason.as_deref(), Some("error"), "{row:?}");
        assert!(row.error.as_deref().is_some_and(|e| e.contains(mock::PROVIDER_DISCONNECTED_MESSAGE)));
    }
}

/// Gateways in front of Gemini stream a second tool call on index 0 with no id and no name:
/// it is recorded as its own call, each call's arguments valid JSON.
#[tokio::test]
async fn a_second_tool_call_reusing_index_0_is_its_own_call() {
    let s = setup(Scenario::ReusedIndexToolCalls).await;
    let (_, outcomes) = s.stream_all(question()).await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    let row = s.only_row().await;
    assert!(row.error.is_none(), "{row:?}");
    let calls = row.tool_calls.as_ref().unwrap().as_array().unwrap();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0]["id"], mock::WEATHER_TOOL_CALL_ID);
    assert_eq!(calls[0]["function"]["name"], mock::WEATHER_TOOL_NAME);
    assert_eq!(calls[0]["function"]["arguments"], mock::WEATHER_TOOL_ARGUMENTS);
    assert_eq!(calls[1]["id"], Value::Null, "no id was sent: none is made up");
    assert_eq!(calls[1]["function"]["name"], Value::Null, "an empty name is no name");
    assert_eq!(calls[1]["function"]["arguments"], mock::TIME_TOOL_ARGUMENTS);
    assert_eq!(row.finish_reason.as_deref(), Some("tool_calls"));
}

#[tokio::test]
async fn a_stream_dropped_early_is_still_recorded() {
    let s = setup(Scenario::Text).await;
    let mut stream = s.client.chat().completions().create_stream(question()).await.unwrap();
    let first = stream.next().await.unwrap().unwrap();
    drop(stream);
    let row = s.only_row().await;
    assert!(row.error.unwrap().contains("dropped the stream"));
    assert_eq!(row.assistant_message.as_deref().unwrap_or_default(), first.content().unwrap_or_default());
}

#[tokio::test]
async fn slow_first_token_is_measured() {
    let s = setup(Scenario::SlowFirstToken(Duration::from_millis(200))).await;
    let (text, _) = s.stream_all(question()).await;
    assert_eq!(text, expected_answer());
    let row = s.only_row().await;
    assert!(row.time_to_first_token_ms.unwrap() >= 200.0, "{row:?}");
}

#[tokio::test]
async fn provider_variants_stream_and_answer_the_same_text() {
    for scenario in [Scenario::Vllm, Scenario::Tgi, Scenario::Ollama, Scenario::HfRouter, Scenario::LlamaCpp]
    {
        let s = setup(scenario.clone()).await;
        let whole = s.client.chat().completions().create(question()).await.unwrap();
        let (streamed, outcomes) = s.stream_all(question()).await;
        assert!(outcomes.iter().all(Result::is_ok), "{scenario:?}: {outcomes:?}");
        let rows = s.rows().await;
        assert_eq!(rows.len(), 2, "{scenario:?}");
        assert_eq!(rows[0].assistant_message.as_deref(), whole.content(), "{scenario:?}");
        assert_eq!(rows[1].assistant_message.as_deref(), Some(streamed.as_str()), "{scenario:?}");
        assert_eq!(rows[0].assistant_message, rows[1].assistant_message, "{scenario:?}");
        for row in &rows {
            assert!(row.error.is_none(), "{scenario:?}: {row:?}");
            assert!(row.finish_reason.is_some(), "{scenario:?}: {row:?}");
        }
    }
}

#[tokio::test]
async fn quirky_framing_and_tool_call_deltas() {
    let s = setup(Scenario::Quirky).await;
    let whole = s.client.chat().completions().create(question()).await.unwrap();
    assert!(whole.id.is_none() && whole.usage.is_none());
    let (_, outcomes) = s.stream_all(question()).await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    let rows = s.rows().await;
    let streamed = &rows[1];
    assert!(streamed.error.is_none(), "{streamed:?}");
    let calls = streamed.tool_calls.as_ref().unwrap().as_array().unwrap();
    assert_eq!(calls.len(), 2, "{calls:?}");
    for call in calls {
        let arguments = call["function"]["arguments"].as_str().unwrap();
        serde_json::from_str::<Value>(arguments).expect("complete JSON arguments");
    }
    assert!(streamed.total_tokens.is_some(), "usage on the finish chunk is kept");
}

#[tokio::test]
async fn sixty_four_concurrent_calls_give_sixty_four_rows() {
    let s = setup(Scenario::Text).await;
    let calls: Vec<_> = (0..64)
        .map(|i| {
            let client = s.client.clone();
            tokio::spawn(async move { mixed_call(&client, "gpt-4o-mini", i).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    let rows = s.rows().await;
    assert_eq!(rows.len(), 64);
    let mut questions: Vec<String> = rows.iter().map(|r| r.messages[0].content.clone().unwrap()).collect();
    questions.sort();
    questions.dedup();
    assert_eq!(questions.len(), 64, "one row per call, none duplicated");
}

#[tokio::test]
async fn sampling_is_deterministic_under_a_seed() {
    let mut counts = Vec::new();
    for _ in 0..2 {
        let s = setup_with(Scenario::Text, WrapOptions::default().logging_rate(0.5).seed(42)).await;
        for _ in 0..40 {
            s.client.chat().completions().create(question()).await.unwrap();
        }
        counts.push(s.rows().await.len());
    }
    assert_eq!(counts[0], counts[1]);
    assert!((10..=30).contains(&counts[0]), "about half of 40: {}", counts[0]);

    let s = setup_with(Scenario::Text, WrapOptions::default().logging_rate(0.0)).await;
    s.client.chat().completions().create(question()).await.unwrap();
    assert!(s.rows().await.is_empty());
}

#[tokio::test]
async fn options_tags_properties_and_default_arguments() {
    let options = WrapOptions::default()
        .tags(["app"])
        .properties(json!({"env": "test"}))
        .default_arguments(json!({"temperature": 0.0, "max_tokens": 50}));
    let s = setup_with(Scenario::Text, options).await;
    s.client.chat().completions().create(question().tag("call").property("user", json!("u"))).await.unwrap();
    let sent = s.server.requests()[0].json().unwrap();
    assert_eq!(sent["temperature"], 0.3, "the call's own argument wins");
    assert_eq!(sent["max_tokens"], 50, "defaults fill the rest");
    let row = s.only_row().await;
    assert_eq!(row.tags, ["app", "call"]);
    assert_eq!(row.properties, Some(json!({"env": "test", "user": "u"})));
    assert_eq!(row.arguments, Some(json!({"temperature": 0.3, "max_tokens": 50})));
}

#[tokio::test]
async fn a_failing_store_never_fails_the_call() {
    let s = setup(Scenario::Text).await;
    s.store.close().await.unwrap();
    let completion = s.client.chat().completions().create(question()).await.unwrap();
    assert_eq!(completion.content(), Some(expected_answer().as_str()));
    let (text, _) = s.stream_all(question()).await;
    assert_eq!(text, expected_answer());
    assert_eq!(s.client.records_lost(), 2);
}

#[tokio::test]
async fn a_key_passed_as_a_parameter_never_reaches_the_record() {
    let s = setup(Scenario::Text).await;
    s.client.chat().completions().create(question().param("api_key", json!(KEY))).await.unwrap();
    let row = s.only_row().await;
    assert_no_secret(&row);
    assert_eq!(row.arguments.unwrap()["api_key"], "[REDACTED]");
}

#[tokio::test]
async fn stream_true_on_create_is_refused_with_a_clear_error() {
    let s = setup(Scenario::Text).await;
    let error =
        s.client.chat().completions().create(question().param("stream", json!(true))).await.unwrap_err();
    assert!(matches!(&error, Error::InvalidArgument(m) if m.contains("create_stream")), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_is_recorded_call_by_call() {
    let s = setup(Scenario::HttpError(429)).await;
    let calls: Vec<_> = (0..64)
        .map(|i| {
            let client = s.client.clone();
            tokio::spawn(async move {
                let request = ChatCompletionRequest::new("m").message(ChatMessage::user(format!("q{i}")));
                client.chat().completions().create(request).await
            })
        })
        .collect();
    for call in calls {
        let error = call.await.unwrap().unwrap_err();
        assert_eq!(error.status(), Some(429));
    }
    let rows = s.rows().await;
    assert_eq!(rows.len(), 64);
    assert!(rows.iter().all(|r| r.finish_reason.as_deref() == Some("error") && r.error.is_some()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_upstream_under_load_times_out_on_every_call() {
    let server = MockOpenAi::start_with(Scenario::Stall).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = DuckDbStore::open(dir.path().join("store.db")).unwrap();
    let client =
        OpenAi::builder().base_url(server.base_url()).timeout(Duration::from_millis(500)).build().unwrap();
    let client = wrap_openai(client, store.clone());
    let started = std::time::Instant::now();
    let calls: Vec<_> = (0..64)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { mixed_call(&client, "m", i).await })
        })
        .collect();
    for call in calls {
        let error = call.await.unwrap().unwrap_err();
        assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "nothing hangs past the timeout: {:?}",
        started.elapsed()
    );
    store.flush().await.unwrap();
    let rows = store.unsynced(None, 100).await.unwrap();
    assert_eq!(rows.len(), 64);
    assert!(rows.iter().all(|r| r.error.as_deref().is_some_and(|e| e.contains("timed out"))));
}
