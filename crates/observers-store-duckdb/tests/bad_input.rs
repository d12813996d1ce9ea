//! Bad and extreme input: stored or refused with a clear error, never a crash, never a
//! corrupted store.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use observers_core::serde_json::{json, Value};
use observers_core::{ChatCompletionRecord, Message, Store};
use observers_store_duckdb::DuckDbStore;

fn nested(depth: usize) -> Value {
    (0..depth).fold(json!("bottom"), |inner, _| json!({ "a": inner }))
}

#[tokio::test]
async fn extreme_records_are_stored_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = DuckDbStore::open(dir.path().join("store.db")).unwrap();

    let mut huge = ChatCompletionRecord::new("m");
    huge.assistant_message = Some("x".repeat(50 * 1024 * 1024));
    let mut tags = ChatCompletionRecord::new("m");
    tags.tags = (0..100_000).map(|i| format!("tag-{i}")).collect();
    let mut deep = ChatCompletionRecord::new("m");
    deep.properties = Some(nested(100));
    let mut sql = ChatCompletionRecord::new("x'); DROP TABLE openai_records; --");
    sql.messages = vec![Message::new("user\"'", "'; DELETE FROM openai_records; --")];
    sql.tags = vec!["' OR 1=1 --".into()];

    for r in [&huge, &tags, &deep, &sql] {
        store.add(r.clone()).await.unwrap();
    }
    store.flush().await.unwrap();
    assert_eq!(store.count().await.unwrap(), 4);
    assert_eq!(store.stats().failed, 0);
    assert_eq!(store.get(huge.id).await.unwrap().unwrap().assistant_message.unwrap().len(), 50 * 1024 * 1024);
    assert_eq!(store.get(tags.id).await.unwrap().unwrap().tags.len(), 100_000);
    assert_eq!(store.get(deep.id).await.unwrap().unwrap().properties, Some(nested(100)));
    let back = store.get(sql.id).await.unwrap().unwrap();
    assert_eq!(back.model, sql.model);
    assert_eq!(back.messages, sql.messages);
}

#[tokio::test]
async fn json_too_deep_to_read_back_is_refused_at_add_and_the_store_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let store = DuckDbStore::open(dir.path().join("store.db")).unwrap();
    let mut deep = ChatCompletionRecord::new("m");
    deep.properties = Some(nested(1000));
    let error = store.add(deep).await.unwrap_err().to_string();
    assert!(error.contains("properties") && error.contains("flatten"), "{error}");
    let fine = ChatCompletionRecord::new("m");
    store.add(fine.clone()).await.unwrap();
    store.flush().await.unwrap();
    assert!(store.get(fine.id).await.unwrap().is_some());
    assert_eq!(store.unsynced(None, 10).await.unwrap().len(), 1);
}

/// DuckDB checks JSON by parsing it, which takes about 5 times the text in one block: a record
/// with 60 MiB of `raw_response` does not fit the default 512 MB limit. It is stored all the
/// same (the limit is raised for its insert alone), and the limit then applies again.
#[tokio::test]
async fn a_record_with_tens_of_megabytes_of_json_is_stored_under_the_default_memory_limit() {
    let dir = tempfile::tempdir().unwrap();
    let store = DuckDbStore::open(dir.path().join("store.db")).unwrap();
    let limit_before = memory_limit(&store).await;

    let mut huge = ChatCompletionRecord::new("m");
    huge.assistant_message = Some("x".repeat(50 * 1024 * 1024));
    let raw = format!("{{\"content\":\"{}\"}}", "y".repeat(60 * 1024 * 1024));
    huge.raw_response = Some(observers_core::serde_json::value::RawValue::from_string(raw.clone()).unwrap());
    let small = ChatCompletionRecord::new("m");
    store.add(huge.clone()).await.unwrap();
    store.add(small.clone()).await.unwrap();
    store.flush().await.unwrap();

    assert_eq!(store.stats().failed, 0);
    let back = store.get(huge.id).await.unwrap().unwrap();
    assert!(back.raw_response.map(|r| r.get() == raw).unwrap_or(false), "raw_response changed");
    assert_eq!(back.assistant_message.map(|m| m.len()), Some(50 * 1024 * 1024));
    assert!(store.get(small.id).await.unwrap().is_some());
    assert_eq!(memory_limit(&store).await, limit_before);
}

async fn memory_limit(store: &DuckDbStore) -> String {
    use arrow::array::{Array, StringArray};
    let batches = store.query("SELECT current_setting('memory_limit')").await.unwrap();
    let column = batches[0].column(0).as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(column.len(), 1);
    column.value(0).to_owned()
}
