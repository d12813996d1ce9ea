//! A wrapped async-openai client against the loopback mock, rows read back from a real
//! DuckDB file: retries, what is and is not recorded, the client's configuration and key,
//! streams dropped early, refused connections, options, load.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use async_openai::config::{AzureConfig, OpenAIConfig};
use async_openai::error::OpenAIError;
use async_openai::middleware::retry::OpenAIRetryLayer;
use async_openai::middleware::ReqwestService;
use async_openai::traits::RequestOptionsBuilder;
use async_openai::types::chat::{
    ChatCompletionRequestUserMessage, CreateChatCompletionRequest, CreateChatCompletionRequestArgs,
};
use async_openai::Client;
use futures_util::StreamExt;
use observers_async_openai::{wrap, wrap_with, RecordLayer, WrapOptions, Wrapper};
use observers_core::{ChatCompletionRecord, Store};
use observers_openai::{
    wrap_openai, Capture, ChatCompletionRequest, OpenAi, PROPERTY_HEADER_PREFIX, SESSION_ID_HEADER,
    SKIP_HEADER, TAGS_HEADER, USER_ID_HEADER,
};
use observers_store_duckdb::DuckDbStore;
use observers_testkit::openai::{MockOpenAi, Scenario, MOCK_ANSWER_PREFIX};

const KEY: &str = "sk-test-0123456789abcdefSECRET";

struct Setup {
    server: MockOpenAi,
    store: DuckDbStore,
    _dir: tempfile::TempDir,
}

impl Setup {
    async fn start(scenario: Scenario) -> Setup {
        let server = MockOpenAi::start_with(scenario).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = DuckDbStore::open(dir.path().join("store.db")).unwrap();
        Setup { server, store, _dir: dir }
    }

    fn config(&self) -> OpenAIConfig {
        OpenAIConfig::new().with_api_base(self.server.base_url()).with_api_key(KEY)
    }

    /// Every row, oldest first.
    async fn rows(&self) -> Vec<ChatCompletionRecord> {
        self.store.flush().await.unwrap();
        let mut rows = self.store.unsynced(None, 10_000).await.unwrap();
        rows.sort_by_key(|r| r.timestamp);
        rows
    }
}

fn request(question: &str) -> CreateChatCompletionRequest {
    CreateChatCompletionRequestArgs::default()
        .model("gpt-4o-mini")
        .messages([ChatCompletionRequestUserMessage::from(question).into()])
        .build()
        .unwrap()
}

fn assert_no_key(record: &ChatCompletionRecord) {
    let text = serde_json::to_string(record).unwrap();
    assert!(!text.contains(KEY), "the API key reached a row: {text}");
}

#[tokio::test]
async fn a_plain_call_keeps_the_client_type_and_becomes_a_row() {
    let s = Setup::start(Scenario::Text).await;
    let client: Client<OpenAIConfig> = wrap(Client::with_config(s.config()), s.store.clone());

    let response = client.chat().create(request("Hello there")).await.unwrap();
    assert_eq!(
        response.choices[0].message.content.as_deref(),
        Some(format!("{MOCK_ANSWER_PREFIX}Hello there").as_str())
    );
    let rows = s.rows().await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(row.messages[0].content.as_deref(), Some("Hello there"));
    assert_eq!(row.assistant_message, response.choices[0].message.content);
    assert_eq!(row.response_id.as_deref(), Some(response.id.as_str()));
    assert_eq!(row.finish_reason.as_deref(), Some("stop"));
    assert!(row.prompt_tokens.is_some() && row.latency_ms.is_some() && row.error.is_none());
}

#[tokio::test]
async fn each_retry_attempt_is_a_row_and_the_caller_gets_one_error() {
    let s = Setup::start(Scenario::HttpError(500)).await;
    // async-openai's default: 3 retries after the first attempt (100, 200, 400 ms apart).
    let client = wrap(Client::with_config(s.config()), s.store.clone());

    let error = client.chat().create(request("Hi")).await.unwrap_err();
    let OpenAIError::ApiError(api) = &error else { panic!("expected the server's error, got {error:?}") };
    assert_eq!(api.status_code.as_u16(), 500);

    let rows = s.rows().await;
    assert_eq!(rows.len(), 4, "one row per attempt: {rows:#?}");
    assert_eq!(s.server.requests().len(), 4);
    for row in &rows {
        assert_eq!(row.finish_reason.as_deref(), Some("error"));
        assert!(row.error.as_deref().is_some_and(|e| e.contains("HTTP 500")), "{:?}", row.error);
        assert!(row.raw_response.is_some(), "the error body is kept");
    }

    // Fewer retries when asked.
    let s = Setup::start(Scenario::HttpError(503)).await;
    let client = Wrapper::new(s.store.clone(), WrapOptions::default())
        .max_retries(1)
        .wrap(Client::with_config(s.config()));
    client.chat().create(request("Hi")).await.unwrap_err();
    assert_eq!(s.rows().await.len(), 2);
}

#[tokio::test]
async fn only_chat_completions_are_recorded() {
    let s = Setup::start(Scenario::Text).await;
    let client = wrap(Client::with_config(s.config()), s.store.clone());

    // Listing and updating stored completions pass through (the mock answers 404).
    let listed = client.chat().list().await;
    assert!(listed.is_err());
    let update = serde_json::from_value(serde_json::json!({"metadata": {"k": "v"}})).unwrap();
    assert!(client.chat().update("chatcmpl-1", update).await.is_err());
    client.chat().create(request("Recorded")).await.unwrap();

    let seen: Vec<_> = s.server.requests().iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    assert_eq!(
        seen,
        ["GET /v1/chat/completions", "POST /v1/chat/completions/chatcmpl-1", "POST /v1/chat/completions"]
    );
    let rows = s.rows().await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0].messages[0].content.as_deref(), Some("Recorded"));
}

#[tokio::test]
async fn the_client_keeps_its_configuration_and_no_row_holds_its_key() {
    let s = Setup::start(Scenario::Text).await;
    let config = s.config().with_org_id("org-123").with_header("x-title", "my-app").unwrap();
    let client = wrap(Client::with_config(config), s.store.clone());

    client.chat().create(request(&format!("my key is {KEY}"))).await.unwrap();
    let mut stream = client.chat().create_stream(request("stream it")).await.unwrap();
    while stream.next().await.is_some() {}

    for received in s.server.requests() {
        assert_eq!(received.header("authorization"), Some(format!("Bearer {KEY}").as_str()));
        assert_eq!(received.header("openai-organization"), Some("org-123"));
        assert_eq!(received.header("x-title"), Some("my-app"));
    }
    let rows = s.rows().await;
    assert_eq!(rows.len(), 2);
    rows.iter().for_each(assert_no_key);
    assert_eq!(rows[0].messages[0].content.as_deref(), Some("my key is [REDACTED]"));
    assert!(rows[1].assistant_message.as_deref().is_some_and(|a| a.starts_with(MOCK_ANSWER_PREFIX)));
}

#[tokio::test]
async fn azure_deployment_urls_are_recorded_and_their_key_kept_out() {
    let s = Setup::start(Scenario::Text).await;
    let config = AzureConfig::new()
        .with_api_base(s.server.base_url())
        .with_deployment_id("gpt-4o")
        .with_api_version("2024-10-21")
        .with_api_key(KEY);
    let client = wrap(Client::with_config(config), s.store.clone());

    // The mock serves no Azure paths: a 404, recorded as the error it is.
    let error = client.chat().create(request(&format!("key {KEY}"))).await.unwrap_err();
    assert!(matches!(&error, OpenAIError::ApiError(api) if api.status_code.as_u16() == 404), "{error:?}");
    let received = &s.server.requests()[0];
    assert_eq!(received.path, "/v1/openai/deployments/gpt-4o/chat/completions");
    assert_eq!(received.header("api-key"), Some(KEY));
    let rows = s.rows().await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0].error.as_deref().is_some_and(|e| e.contains("HTTP 404")), "{:?}", rows[0].error);
    assert_no_key(&rows[0]);
}

#[tokio::test]
async fn a_stream_dropped_before_its_end_is_recorded() {
    let s = Setup::start(Scenario::SlowFirstToken(Duration::from_secs(2))).await;
    let client = wrap(Client::with_config(s.config()), s.store.clone());

    let stream = client.chat().create_stream(request("Slow")).await.unwrap();
    drop(stream);
    // async-openai's reading task notices the dropped receiver and lets the body go.
    let deadline = Instant::now() + Duration::from_secs(5);
    let rows = loop {
        let rows = s.rows().await;
        if !rows.is_empty() || Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(rows.len(), 1, "the dropped stream was not recorded");
    assert_eq!(
        rows[0].error.as_deref(),
        Some("the stream failed: the client stopped reading the stream before its end")
    );
    assert!(Instant::now() < deadline - Duration::from_secs(3), "recorded only when the server answered");
}

#[tokio::test]
async fn a_refused_connection_is_recorded_as_the_wrapped_client_records_it() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
    drop(listener);
    let dir = tempfile::tempdir().unwrap();
    let (ours, theirs) = (
        DuckDbStore::open(dir.path().join("ours.db")).unwrap(),
        DuckDbStore::open(dir.path().join("theirs.db")).unwrap(),
    );
    let http = reqwest::Client::builder().connect_timeout(Duration::from_secs(10)).build().unwrap();
    let our_client = OpenAi::builder().base_url(&base_url).api_key(KEY).build().unwrap();
    let our_client = wrap_openai(our_client, ours.clone());
    let config = OpenAIConfig::new().with_api_base(&base_url).with_api_key(KEY);
    let client = Wrapper::new(theirs.clone(), WrapOptions::default())
        .http_client(http)
        .max_retries(0)
        .wrap(Client::with_config(config));

    let request_json =
        serde_json::json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]});
    let request = ChatCompletionRequest::from_json(request_json.clone()).unwrap();
    our_client.chat().completions().create(request).await.unwrap_err();
    let error = client.chat().create(serde_json::from_value(request_json).unwrap()).await.unwrap_err();
    assert!(matches!(&error, OpenAIError::Reqwest(e) if e.is_connect()), "{error:?}");

    let row = |store: DuckDbStore| async move {
        store.flush().await.unwrap();
        let mut rows = store.unsynced(None, 10).await.unwrap();
        assert_eq!(rows.len(), 1);
        rows.remove(0)
    };
    let (ours, theirs) = (row(ours).await, row(theirs).await);
    assert!(
        theirs.error.as_deref().is_some_and(|e| e.starts_with("could not connect to")),
        "{:?}",
        theirs.error
    );
    assert_eq!(theirs.error, ours.error);
    assert_eq!(theirs.finish_reason.as_deref(), Some("error"));
}

#[tokio::test]
async fn options_apply_as_they_do_to_the_wrapped_client() {
    let s = Setup::start(Scenario::Text).await;
    let options = WrapOptions::default()
        .content(Capture::MetadataOnly)
        .tags(["metadata-only"])
        .redact(|record| record.properties = Some(serde_json::json!({"redacted": true})));
    let client = wrap_with(Client::with_config(s.config()), s.store.clone(), options);
    client.chat().create(request("private question")).await.unwrap();

    let rows = s.rows().await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert!(row.messages.is_empty() && row.assistant_message.is_none() && row.raw_response.is_none());
    assert!(row.total_tokens.is_some(), "metadata is kept");
    assert_eq!(row.tags, ["metadata-only"]);
    assert_eq!(row.properties, Some(serde_json::json!({"redacted": true})));

    // Sampling: none recorded at rate 0, and the call still answers.
    let s = Setup::start(Scenario::Text).await;
    let client =
        wrap_with(Client::with_config(s.config()), s.store.clone(), WrapOptions::default().logging_rate(0.0));
    client.chat().create(request("unsampled")).await.unwrap();
    assert!(s.rows().await.is_empty());
}

#[tokio::test]
async fn per_call_identity_and_tags_ride_on_headers_that_never_reach_the_provider() {
    let s = Setup::start(Scenario::Text).await;
    let client =
        wrap_with(Client::with_config(s.config()), s.store.clone(), WrapOptions::default().tags(["app"]));

    client
        .chat()
        .header(USER_ID_HEADER, "u-42")
        .unwrap()
        .header(SESSION_ID_HEADER, "s-7")
        .unwrap()
        .header(TAGS_HEADER, "checkout, beta")
        .unwrap()
        .header(http::HeaderName::try_from(format!("{PROPERTY_HEADER_PREFIX}experiment")).unwrap(), "b")
        .unwrap()
        .create(request("with identity"))
        .await
        .unwrap();
    let mut stream = client
        .chat()
        .header(SESSION_ID_HEADER, "s-8")
        .unwrap()
        .create_stream(request("streamed with identity"))
        .await
        .unwrap();
    while stream.next().await.is_some() {}
    // Skipped: sent, answered, not recorded.
    client.chat().header(SKIP_HEADER, "1").unwrap().create(request("not this one")).await.unwrap();
    // Unrelated calls carry nothing over.
    client.chat().create(request("plain")).await.unwrap();

    let received = s.server.requests();
    assert_eq!(received.len(), 4, "every call reached the provider");
    for request in &received {
        let ours: Vec<_> =
            request.headers.iter().filter(|(name, _)| name.starts_with("x-observers-")).collect();
        assert!(ours.is_empty(), "our headers reached the provider: {ours:?}");
    }

    let rows = s.rows().await;
    assert_eq!(rows.len(), 3, "the skipped call is not recorded: {rows:#?}");
    assert_eq!(rows[0].user_id.as_deref(), Some("u-42"));
    assert_eq!(rows[0].session_id.as_deref(), Some("s-7"));
    assert_eq!(rows[0].tags, ["app", "checkout", "beta"]);
    assert_eq!(rows[0].properties, Some(serde_json::json!({"experiment": "b"})));
    assert_eq!(rows[1].session_id.as_deref(), Some("s-8"));
    assert!(rows[1].user_id.is_none());
    assert_eq!(rows[2].messages[0].content.as_deref(), Some("plain"));
    assert!(rows[2].user_id.is_none() && rows[2].session_id.is_none());
    assert_eq!(rows[2].tags, ["app"]);
}

#[tokio::test]
async fn a_record_layer_in_a_stack_of_your_own() {
    let s = Setup::start(Scenario::ToolCalls).await;
    let layer = RecordLayer::new(s.store.clone(), WrapOptions::default()).api_key(KEY);
    let stack = tower::ServiceBuilder::new()
        .layer(OpenAIRetryLayer::new(0))
        .layer(layer.clone())
        .service(ReqwestService::new(reqwest::Client::new()));
    let client = Client::with_config(s.config()).with_http_service(stack);

    let mut stream = client.chat().create_stream(request(&format!("weather? {KEY}"))).await.unwrap();
    while let Some(chunk) = stream.next().await {
        chunk.unwrap();
    }
    let rows = s.rows().await;
    assert_eq!(rows.len(), 1);
    let calls = rows[0].tool_calls.as_ref().and_then(|c| c.as_array()).expect("tool calls recorded");
    assert_eq!(calls.len(), 2);
    assert_no_key(&rows[0]);
    assert_eq!(layer.records_lost(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_concurrent_calls_give_sixty_four_rows() {
    let s = Setup::start(Scenario::Text).await;
    let client = wrap(Client::with_config(s.config()), s.store.clone());
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                if i % 2 == 0 {
                    client.chat().create(request(&format!("q{i}"))).await.map(|_| ())
                } else {
                    let mut stream = client.chat().create_stream(request(&format!("q{i}"))).await?;
                    while let Some(chunk) = stream.next().await {
                        chunk?;
                    }
                    Ok(())
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let rows = s.rows().await;
    assert_eq!(rows.len(), 64);
    let mut questions: Vec<_> = rows.iter().map(|r| r.messages[0].content.clone().unwrap()).collect();
    questions.sort();
    questions.dedup();
    assert_eq!(questions.len(), 64, "each call its own row");
    assert!(rows.iter().all(|r| r.error.is_none() && r.assistant_message.is_some()));
}

#[tokio::test]
async fn a_closed_store_never_fails_a_call() {
    let s = Setup::start(Scenario::Text).await;
    let wrapper = Wrapper::new(s.store.clone(), WrapOptions::default());
    let client = wrapper.wrap(Client::with_config(s.config()));
    s.store.close().await.unwrap();

    let response = client.chat().create(request("still answered")).await.unwrap();
    assert!(response.choices[0].message.content.is_some());
    assert_eq!(wrapper.records_lost(), 1);
}
