//! The same exchanges through observers' own wrapped client and through a wrapped
//! async-openai client, against the loopback mock, into two real DuckDB files: the rows must
//! be equal column by column, and the async-openai caller must get exactly what a bare
//! async-openai client gets.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::middleware::retry::OpenAIRetryLayer;
use async_openai::middleware::ReqwestService;
use async_openai::types::chat::CreateChatCompletionRequest;
use async_openai::Client;
use futures_util::StreamExt;
use observers_async_openai::{WrapOptions, Wrapper};
use observers_core::arrow::util::display::array_value_to_string;
use observers_core::Store;
use observers_openai::{wrap_openai_with, ChatCompletionRequest, OpenAi};
use observers_store_duckdb::DuckDbStore;
use observers_testkit::openai::{MockOpenAi, Scenario};
use serde_json::{json, Value};

const KEY: &str = "sk-test-0123456789abcdefSECRET";

/// Columns that differ from one call to the next by nature: compared for presence only.
const PER_CALL: [&str; 4] = ["id", "timestamp", "latency_ms", "time_to_first_token_ms"];

fn options() -> WrapOptions {
    WrapOptions::default().tags(["compare"]).properties(json!({"app": "same-rows"}))
}

/// One side of the comparison: a mock server of its own (its ids count its own requests),
/// a store in a file of its own.
struct Side {
    server: MockOpenAi,
    store: DuckDbStore,
    _dir: tempfile::TempDir,
}

impl Side {
    async fn start() -> Side {
        let server = MockOpenAi::start().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = DuckDbStore::open(dir.path().join("store.db")).unwrap();
        Side { server, store, _dir: dir }
    }

    fn config(&self) -> OpenAIConfig {
        OpenAIConfig::new().with_api_base(self.server.base_url()).with_api_key(KEY)
    }

    /// Every row, oldest first, column name → value as text, made comparable across sides.
    async fn rows(&self) -> Vec<BTreeMap<String, String>> {
        self.store.flush().await.unwrap();
        let batches = self.store.query("SELECT * FROM openai_records ORDER BY timestamp").await.unwrap();
        let mut rows = Vec::new();
        for batch in &batches {
            for row in 0..batch.num_rows() {
                let mut values = BTreeMap::new();
                for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
                    let text = if column.is_null(row) {
                        "NULL".to_string()
                    } else if PER_CALL.contains(&field.name().as_str()) {
                        "<set>".to_string()
                    } else {
                        normalize(&array_value_to_string(column, row).unwrap(), &self.server)
                    };
                    values.insert(field.name().clone(), text);
                }
                rows.push(values);
            }
        }
        rows
    }
}

/// What differs between two mock servers answering the same requests: their address, and
/// the clock second of `created` (and of OpenRouter-style ids made from it).
fn normalize(text: &str, server: &MockOpenAi) -> String {
    let text = text.replace(&server.base_url(), "<mock>").replace(&server.addr().to_string(), "<addr>");
    let created = regex::Regex::new(r#"("created"\s*:\s*)\d+"#).unwrap();
    let text = created.replace_all(&text, "${1}0");
    let generation = regex::Regex::new(r"gen-\d+-").unwrap();
    generation.replace_all(&text, "gen-0-").into_owned()
}

/// The request of every case: the API key in a message too, which no row may keep.
fn request(streamed: bool) -> Value {
    let mut body = json!({
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": format!("What is the capital of France? (key {KEY})")}
        ],
        "temperature": 0.3,
        "max_completion_tokens": 64,
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "The weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    });
    if streamed {
        body["stream"] = json!(true);
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

/// What a caller of async-openai saw, as comparable text.
fn outcome(result: Result<Value, OpenAIError>, server: &MockOpenAi) -> String {
    match result {
        Ok(value) => normalize(&value.to_string(), server),
        Err(error) => format!("error: {}", normalize(&error.to_string(), server)),
    }
}

async fn call_async_openai(
    client: &Client<OpenAIConfig>,
    streamed: bool,
    server: &MockOpenAi,
) -> Vec<String> {
    let request: CreateChatCompletionRequest = serde_json::from_value(request(streamed)).unwrap();
    if !streamed {
        let result = client.chat().create(request).await.map(|r| serde_json::to_value(r).unwrap());
        return vec![outcome(result, server)];
    }
    let mut stream = match client.chat().create_stream(request).await {
        Ok(stream) => stream,
        Err(error) => return vec![outcome(Err(error), server)],
    };
    let mut items = Vec::new();
    while let Some(item) = stream.next().await {
        items.push(outcome(item.map(|chunk| serde_json::to_value(chunk).unwrap()), server));
    }
    items
}

async fn call_ours(client: &OpenAi, streamed: bool) {
    let request = ChatCompletionRequest::from_json(request(streamed)).unwrap();
    if !streamed {
        let _ = client.chat().completions().create(request).await;
        return;
    }
    if let Ok(mut stream) = client.chat().completions().create_stream(request).await {
        while stream.next().await.is_some() {}
    }
}

/// Every scenario of the mock but `stall` (no answer to compare), and more error statuses.
fn scenarios() -> Vec<Scenario> {
    let mut scenarios: Vec<_> = Scenario::examples().into_iter().filter(|s| *s != Scenario::Stall).collect();
    scenarios.extend([400, 500, 503].map(Scenario::HttpError));
    scenarios
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_gives_the_same_row_and_the_caller_the_same_answer() {
    let ours = Side::start().await;
    let theirs = Side::start().await;
    let bare_server = MockOpenAi::start().await.unwrap();

    let our_client = OpenAi::builder()
        .base_url(ours.server.base_url())
        .api_key(KEY)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let our_client = wrap_openai_with(our_client, ours.store.clone(), options());
    // The reqwest client of all three has the same timeouts: reqwest words a broken body
    // differently when a read timeout wraps it. No retries on either async-openai client:
    // one request per call, as ours sends.
    let http = || {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    };
    let wrapped = Wrapper::new(theirs.store.clone(), options())
        .http_client(http())
        .max_retries(0)
        .wrap(Client::with_config(theirs.config()));
    let bare =
        Client::with_config(OpenAIConfig::new().with_api_base(bare_server.base_url()).with_api_key(KEY))
            .with_http_service(
                tower::ServiceBuilder::new()
                    .layer(OpenAIRetryLayer::new(0))
                    .service(ReqwestService::new(http())),
            );

    let mut cases = Vec::new();
    let mut answers_differ = Vec::new();
    for scenario in scenarios() {
        for streamed in [false, true] {
            let case = format!("{}{}", scenario.name(), if streamed { " (streamed)" } else { "" });
            for server in [&ours.server, &theirs.server, &bare_server] {
                server.set_scenario(scenario.clone());
            }
            call_ours(&our_client, streamed).await;
            let got = call_async_openai(&wrapped, streamed, &theirs.server).await;
            let expected = call_async_openai(&bare, streamed, &bare_server).await;
            if got != expected {
                answers_differ.push(format!("{case}:\n  wrapped: {got:?}\n  bare:    {expected:?}"));
            }
            cases.push(case);
        }
    }
    assert!(
        answers_differ.is_empty(),
        "the wrapped async-openai client changed answers:\n{}",
        answers_differ.join("\n")
    );

    let (our_rows, their_rows) = (ours.rows().await, theirs.rows().await);
    assert_eq!(our_rows.len(), cases.len(), "one row per call of our client");
    assert_eq!(their_rows.len(), cases.len(), "one row per call of the async-openai client");
    let mut differences = Vec::new();
    for ((case, our_row), their_row) in cases.iter().zip(&our_rows).zip(&their_rows) {
        assert_eq!(our_row.keys().collect::<Vec<_>>(), their_row.keys().collect::<Vec<_>>());
        for (column, ours) in our_row {
            let theirs = &their_row[column];
            if ours != theirs {
                differences
                    .push(format!("{case} / {column}:\n  ours:         {ours}\n  async-openai: {theirs}"));
            }
        }
        for row in [our_row, their_row] {
            assert!(row.values().all(|v| !v.contains(KEY)), "{case}: the API key reached a row: {row:#?}");
        }
    }
    assert!(differences.is_empty(), "{} differences:\n{}", differences.len(), differences.join("\n"));

    // The comparison means something only if the rows hold what the scenarios say.
    let column = |case: &str, name: &str| {
        let i = cases.iter().position(|c| c == case).unwrap();
        their_rows[i][name].clone()
    };
    assert!(column("text", "assistant_message").starts_with("Mock answer to: What is the capital of France?"));
    assert!(column("text", "messages").contains("[REDACTED]"));
    assert!(
        column("text", "arguments").contains("get_weather") && column("text", "arguments").contains("0.3")
    );
    assert_eq!(column("text", "tags"), "[compare]");
    assert!(their_rows[0].len() >= 25, "every column compared: {:?}", their_rows[0].keys());
    assert_ne!(column("text (streamed)", "total_tokens"), "NULL");
    assert!(column("tool_calls (streamed)", "tool_calls").contains("get_time"));
    assert!(column("http_error_429", "error").contains("429"));
    assert!(column("disconnect_mid_stream (streamed)", "error").contains("connection broke"));
    assert_ne!(column("reused_index_tool_calls (streamed)", "tool_calls"), "NULL");
    assert_eq!(column("quirky (streamed)", "error"), "NULL");
    assert_ne!(column("mid_stream_error (streamed)", "error"), "NULL");
}
