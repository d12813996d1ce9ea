//! Nothing leaked: the API key never reaches a stored column, a log line or an error message,
//! across successes, HTTP errors, broken streams and a failing store.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use observers_core::Store;
use observers_openai::{wrap_openai, ChatCompletionRequest, ChatMessage, OpenAi};
use observers_store_duckdb::DuckDbStore;
use observers_testkit::openai::MockOpenAi;
use serde_json::json;

const KEY: &str = "sk-proj-leakcheck-0123456789SECRET";

/// Log lines, captured.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_key_appears_in_no_record_log_line_or_error() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = MockOpenAi::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = DuckDbStore::open(dir.path().join("store.db")).unwrap();
    let client = wrap_openai(
        OpenAi::builder().base_url(server.base_url()).api_key(KEY).build().unwrap(),
        store.clone(),
    );
    let request = |scenario: &str| {
        ChatCompletionRequest::new(format!("mock:{scenario}"))
            .message(ChatMessage::user(format!("my key is {KEY}")))
            .param("api_key", json!(KEY))
            .property("token", json!(KEY))
    };
    let mut errors = Vec::new();
    for scenario in ["text", "http_error_401", "http_error_500", "malformed_json", "tool_calls"] {
        if let Err(e) = client.chat().completions().create(request(scenario)).await {
            errors.push(e.to_string());
        }
    }
    for scenario in ["text", "disconnect_mid_stream", "mid_stream_error", "malformed_sse"] {
        let mut stream = client.chat().completions().create_stream(request(scenario)).await.unwrap();
        while let Some(item) = stream.next().await {
            if let Err(e) = item {
                errors.push(e.to_string());
            }
        }
    }
    store.flush().await.unwrap();
    let rows = store.count().await.unwrap();
    // A failing store: its warnings are logged here.
    store.close().await.unwrap();
    client.chat().completions().create(request("text")).await.unwrap();
    assert_eq!(client.records_lost(), 1);

    let store = DuckDbStore::open(dir.path().join("store.db")).unwrap();
    let table = store.query("SELECT * FROM openai_records").await.unwrap();
    let dump = observers_core::arrow::util::pretty::pretty_format_batches(&table).unwrap().to_string();
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();

    assert_eq!(rows, 9);
    assert!(errors.len() >= 6, "{errors:?}");
    assert!(dump.contains("[REDACTED]"), "the key's places are visibly redacted");
    assert!(logs.contains("could not store a record"), "the failing store was logged: {logs}");
    for (what, text) in
        [("stored rows", dump.as_str()), ("logs", logs.as_str()), ("errors", &errors.join("\n"))]
    {
        assert!(!text.contains(KEY), "the API key leaked into the {what}");
    }
}
