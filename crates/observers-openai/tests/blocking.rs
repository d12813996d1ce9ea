//! The blocking client, from plain (non-async) code.

#![cfg(feature = "blocking")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use observers_core::Store;
use observers_openai::blocking::{wrap_openai, OpenAi};
use observers_openai::{ChatCompletionRequest, ChatMessage};
use observers_store_duckdb::DuckDbStore;
use observers_testkit::openai::{MockOpenAi, Scenario, MOCK_ANSWER_PREFIX};

#[test]
fn a_script_without_async_records_plain_and_streamed_calls() {
    // The mock server needs a runtime of its own, on another thread.
    let server_runtime = tokio::runtime::Runtime::new().unwrap();
    let server = server_runtime.block_on(MockOpenAi::start_with(Scenario::Text)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = DuckDbStore::open(dir.path().join("store.db")).unwrap();
    let client =
        OpenAi::new(observers_openai::OpenAi::builder().base_url(server.base_url()).build().unwrap())
            .unwrap();
    let client = wrap_openai(client, store.clone());

    let request = || ChatCompletionRequest::new("m").message(ChatMessage::user("hi"));
    let completion = client.chat().completions().create(request()).unwrap();
    assert_eq!(completion.content(), Some(format!("{MOCK_ANSWER_PREFIX}hi").as_str()));
    let streamed: String = client
        .chat()
        .completions()
        .create_stream(request())
        .unwrap()
        .map(|chunk| chunk.unwrap().content().unwrap_or_default().to_string())
        .collect();
    assert_eq!(streamed, format!("{MOCK_ANSWER_PREFIX}hi"));

    let mut dropped = client.chat().completions().create_stream(request()).unwrap();
    dropped.next().unwrap().unwrap();
    drop(dropped);

    let rows = server_runtime.block_on(async {
        store.flush().await.unwrap();
        store.unsynced(None, 10).await.unwrap()
    });
    assert_eq!(rows.len(), 3);
    assert!(rows[2].error.as_deref().unwrap().contains("dropped"));
}
