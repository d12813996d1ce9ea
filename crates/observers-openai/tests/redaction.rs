//! What must not be stored stays out of the store: the content policy, the masker and the
//! user's own function, through the wrapped client against the loopback server, rows read
//! from a real DuckDB file. The provider still gets the request as written.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures_util::StreamExt;
use observers_core::Store;
use observers_openai::{
    wrap_openai_with, Capture, ChatCompletionRequest, ChatMessage, Masker, OpenAi, WrapOptions,
};
use observers_store_duckdb::DuckDbStore;
use observers_testkit::openai::{MockOpenAi, Scenario};

const EMAIL: &str = "jane.doe@example.com";
const CARD: &str = "4111 1111 1111 1111";

fn question() -> ChatCompletionRequest {
    ChatCompletionRequest::new("gpt-4o-mini").message(ChatMessage::user(format!("Mail {EMAIL}, card {CARD}")))
}

async fn client(server: &MockOpenAi, store: &DuckDbStore, options: WrapOptions) -> OpenAi {
    let client = OpenAi::builder().base_url(server.base_url()).build().unwrap();
    wrap_openai_with(client, store.clone(), options)
}

#[tokio::test]
async fn the_masker_reaches_every_column_plain_and_streamed() {
    let server = MockOpenAi::start_with(Scenario::Text).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = DuckDbStore::open(dir.path().join("store.db")).unwrap();
    let client = client(&server, &store, WrapOptions::default().mask(Masker::default())).await;
    // The mock echoes the question in its answer: the answer and raw body carry them too.
    let completion = client.chat().completions().create(question()).await.unwrap();
    assert!(completion.content().unwrap().contains(EMAIL), "the caller gets the answer unmasked");
    let mut stream = client.chat().completions().create_stream(question()).await.unwrap();
    while let Some(chunk) = stream.next().await {
        chunk.unwrap();
    }
    drop(stream);
    store.flush().await.unwrap();
    let rows = store.unsynced(None, 10).await.unwrap();
    assert_eq!(rows.len(), 2);
    for row in &rows {
        let text = serde_json::to_string(row).unwrap();
        assert!(!text.contains(EMAIL) && !text.contains(CARD), "{text}");
        assert!(row.messages[0].content.as_deref().unwrap().contains("[REDACTED:email]"), "{row:?}");
        assert!(row.assistant_message.as_deref().unwrap().contains("[REDACTED:card]"), "{row:?}");
    }
    // The plain call's raw body is kept, masked; the stream's chunks (pieces of the masked
    // values) are not.
    assert!(rows[0].raw_response.as_ref().unwrap().get().contains("[REDACTED:email]"));
    assert!(rows[1].raw_response.is_none());
    // The provider got the request as the caller wrote it.
    assert!(server.requests().iter().all(|r| r.body.contains(EMAIL)));
}

#[tokio::test]
async fn metadata_only_keeps_numbers_and_no_content() {
    let server = MockOpenAi::start_with(Scenario::Text).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = DuckDbStore::open(dir.path().join("store.db")).unwrap();
    let client = client(&server, &store, WrapOptions::default().content(Capture::MetadataOnly)).await;
    client.chat().completions().create(question().temperature(0.5)).await.unwrap();
    store.flush().await.unwrap();
    let row = store.unsynced(None, 10).await.unwrap().remove(0);
    assert!(row.messages.is_empty() && row.assistant_message.is_none() && row.raw_response.is_none());
    assert!(row.total_tokens.is_some_and(|t| t > 0) && row.latency_ms.is_some());
    assert_eq!(row.model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(row.arguments.unwrap()["temperature"], 0.5);
}

#[tokio::test]
async fn a_panicking_redactor_drops_its_record_and_never_the_call() {
    let server = MockOpenAi::start_with(Scenario::Text).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = DuckDbStore::open(dir.path().join("store.db")).unwrap();
    let options = WrapOptions::default().redact(|record| {
        if record.messages.iter().any(|m| m.content.as_deref().is_some_and(|c| c.contains("boom"))) {
            panic!("the user's redactor failed");
        }
        record.user_id = Some("redacted-by-user".into());
    });
    let client = client(&server, &store, options).await;
    let boom = ChatCompletionRequest::new("m").message(ChatMessage::user("boom"));
    assert!(client.chat().completions().create(boom).await.is_ok(), "the call succeeds");
    client.chat().completions().create(question()).await.unwrap();
    store.flush().await.unwrap();
    assert_eq!(client.records_lost(), 1);
    let rows = store.unsynced(None, 10).await.unwrap();
    assert_eq!(rows.len(), 1, "only the record whose redaction worked");
    assert_eq!(rows[0].user_id.as_deref(), Some("redacted-by-user"));
}
