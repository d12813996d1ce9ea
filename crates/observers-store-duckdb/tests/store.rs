//! The DuckDB store against real files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use observers_core::serde_json::{json, value::RawValue};
use observers_core::{ChatCompletionRecord, Message, Store, StoreError};
use observers_store_duckdb::{DuckDbStore, Error};

fn record(i: usize) -> ChatCompletionRecord {
    let mut r = ChatCompletionRecord::new("gpt-4o-mini");
    r.messages = vec![Message::new("system", "be brief"), Message::new("user", format!("question {i}"))];
    r.assistant_message = Some(format!("answer {i}"));
    r.tags = vec!["test".into(), format!("n{}", i % 3)];
    r.raw_response = Some(RawValue::from_string(format!(r#"{{"model":"gpt-4o-mini","n":{i}}}"#)).unwrap());
    r
}

fn full_record() -> ChatCompletionRecord {
    let mut r = ChatCompletionRecord::started_at(
        Some("mistral \"large\"'; DROP TABLE openai_records; --".into()),
        Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap() + chrono::Duration::microseconds(678),
    );
    r.messages = vec![
        Message::new("user", "Ünïcödé ✓ 漢字 🚀"),
        Message {
            role: "assistant".into(),
            content: None,
            name: Some("bot".into()),
            tool_call_id: None,
            tool_calls: Some(
                json!([{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"x\":1}"}}]),
            ),
        },
        Message {
            role: "tool".into(),
            content: Some("{\"ok\":true}".into()),
            name: None,
            tool_call_id: Some("c1".into()),
            tool_calls: None,
        },
    ];
    r.assistant_message = Some("x".repeat(1_000_000));
    r.completion_tokens = Some(1);
    r.prompt_tokens = Some(2);
    r.total_tokens = Some(3);
    r.finish_reason = Some("tool_calls".into());
    r.tool_calls = Some(json!([{"id": "c2"}]));
    r.function_call = Some(json!({"name": "legacy"}));
    r.tags = vec!["a".into(), "b b".into()];
    r.properties = Some(json!({"user": "u1", "nested": {"k": [1, 2, 3]}}));
    r.error = Some("HTTP 429: slow down".into());
    r.raw_response = Some(RawValue::from_string(r#"{"id":"chatcmpl-9","model":"m"}"#.into()).unwrap());
    r.synced_at = Some(Utc.with_ymd_and_hms(2026, 2, 3, 4, 5, 6).unwrap());
    r.arguments = Some(json!({"temperature": 0.5, "stream": true}));
    r.response_id = Some("chatcmpl-9".into());
    r.latency_ms = Some(123.456);
    r.time_to_first_token_ms = Some(7.5);
    r
}

fn same(a: &ChatCompletionRecord, b: &ChatCompletionRecord) -> bool {
    let strip = |r: &ChatCompletionRecord| {
        let mut r = r.clone();
        let raw = r.raw_response.take().map(|v| v.get().to_string());
        (format!("{r:?}"), raw)
    };
    strip(a) == strip(b)
}

#[tokio::test]
async fn every_column_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let full = full_record();
    let empty = ChatCompletionRecord::started_at(None, Utc::now());
    {
        let store = DuckDbStore::open(&path).unwrap();
        store.add(full.clone()).await.unwrap();
        store.add(empty.clone()).await.unwrap();
        store.close().await.unwrap();
    }
    let store = DuckDbStore::open(&path).unwrap();
    assert_eq!(store.count().await.unwrap(), 2);
    let back = store.get(full.id).await.unwrap().expect("full record");
    assert!(same(&back, &full), "full record differs:\n{back:?}\n{full:?}");
    let back = store.get(empty.id).await.unwrap().expect("empty record");
    assert!(same(&back, &empty), "empty record differs:\n{back:?}\n{empty:?}");
    assert!(store.get(observers_core::uuid::Uuid::now_v7()).await.unwrap().is_none());
}

#[tokio::test]
async fn sixty_four_tasks_share_one_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = DuckDbStore::open(dir.path().join("store.db")).unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..1000 {
                    store.add(record(t * 1000 + i)).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    store.flush().await.unwrap();
    assert_eq!(store.count().await.unwrap(), 64_000);
    assert_eq!(store.stats().written, 64_000);
    assert_eq!(store.stats().failed, 0);
}

#[test]
fn eight_threads_share_one_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = DuckDbStore::builder(dir.path().join("store.db")).queue_capacity(64).open().unwrap();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
                runtime.block_on(async {
                    for i in 0..1000 {
                        store.add(record(t * 1000 + i)).await.unwrap();
                    }
                });
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    runtime.block_on(async {
        store.flush().await.unwrap();
        assert_eq!(store.count().await.unwrap(), 8000);
    });
}

#[test]
fn dropping_the_last_handle_persists_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = DuckDbStore::open(&path).unwrap();
        let other = store.clone();
        for i in 0..5000 {
            other.add(record(i)).await.unwrap();
        }
        drop(other);
        drop(store); // no flush, no close
    });
    // The file lock is released and every record is there.
    runtime.block_on(async {
        let store = DuckDbStore::open(&path).unwrap();
        assert_eq!(store.count().await.unwrap(), 5000);
    });
}

#[tokio::test]
async fn add_after_close_is_an_error_and_close_is_idempotent() {
    let store = DuckDbStore::open(":memory:").unwrap();
    store.add(record(1)).await.unwrap();
    store.close().await.unwrap();
    store.close().await.unwrap();
    assert!(matches!(store.add(record(2)).await, Err(StoreError::Closed)));
    assert!(matches!(store.count().await, Err(Error::Closed)));
}

#[tokio::test]
async fn unsynced_pages_in_time_order_and_mark_synced_updates_exactly_those() {
    let store = DuckDbStore::open(":memory:").unwrap();
    let records: Vec<_> = (0..25).map(record).collect();
    for r in &records {
        store.add(r.clone()).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.unsynced(after, 10).await.unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|r| r.id);
        seen.extend(page.into_iter().map(|r| r.id));
    }
    assert_eq!(seen, records.iter().map(|r| r.id).collect::<Vec<_>>());

    let at = Utc.with_ymd_and_hms(2026, 5, 6, 7, 8, 9).unwrap();
    let first_ten: Vec<_> = seen[..10].to_vec();
    assert_eq!(store.mark_synced(&first_ten, at).await.unwrap(), 10);
    let rest = store.unsynced(None, 100).await.unwrap();
    assert_eq!(rest.len(), 15);
    assert_eq!(rest[0].id, seen[10]);
    assert_eq!(store.get(seen[0]).await.unwrap().unwrap().synced_at, Some(at));
}

/// The OTLP export's bookkeeping: pages of records not yet exported, in time order; marking
/// a page (in any order, with gaps) leaves exactly the others; it is apart from the Hub sync.
#[tokio::test]
async fn unexported_pages_skip_exactly_the_records_marked_exported() {
    let store = DuckDbStore::open(":memory:").unwrap();
    let records: Vec<_> = (0..25).map(record).collect();
    for r in &records {
        store.add(r.clone()).await.unwrap();
    }
    let ids: Vec<_> = records.iter().map(|r| r.id).collect();
    assert_eq!(store.unexported_count().await.unwrap(), 25);

    // Every other record of the first twenty, marked newest first.
    let marked: Vec<_> = ids[..20].iter().step_by(2).rev().copied().collect();
    let at = Utc.with_ymd_and_hms(2026, 5, 6, 7, 8, 9).unwrap();
    assert_eq!(store.mark_exported(&marked, at).await.unwrap(), 10);
    assert_eq!(store.unexported_count().await.unwrap(), 15);

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.unexported(after, 4).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 4);
        after = page.last().map(|r| r.id);
        seen.extend(page.into_iter().map(|r| r.id));
    }
    let expected: Vec<_> = ids.iter().filter(|id| !marked.contains(id)).copied().collect();
    assert_eq!(seen, expected);

    // Exporting is not syncing, and the reverse.
    assert_eq!(store.unsynced(None, 100).await.unwrap().len(), 25);
    store.mark_synced(&ids, at).await.unwrap();
    assert_eq!(store.unexported_count().await.unwrap(), 15);
}

#[tokio::test]
async fn backpressure_waits_instead_of_dropping() {
    let store = DuckDbStore::builder(":memory:").queue_capacity(1).max_batch(1).open().unwrap();
    let store = Arc::new(store);
    for i in 0..2000 {
        store.add(record(i)).await.unwrap();
    }
    store.flush().await.unwrap();
    assert_eq!(store.count().await.unwrap(), 2000);
}

/// A shard streams out in chunks of at most 2,048 records, each record once; a reader that
/// stops early leaves the store working; marking takes exactly the shards' rows.
#[tokio::test]
async fn shards_stream_in_chunks_and_mark_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let store = DuckDbStore::open(dir.path().join("store.db")).unwrap();
    let mut ids = std::collections::BTreeSet::new();
    for i in 0..5_000 {
        let mut r = ChatCompletionRecord::new("m");
        r.assistant_message = Some(format!("answer {i}"));
        ids.insert(r.id);
        store.add(r).await.unwrap();
    }
    assert_eq!(store.assign_to_shards("train-test", 3_000).await.unwrap(), 5_000);
    let shards = store.assigned_shards().await.unwrap();
    assert_eq!(shards.iter().map(|(_, n)| *n).collect::<Vec<_>>(), vec![3_000, 2_000]);

    let mut seen = std::collections::BTreeSet::new();
    for (shard, rows) in &shards {
        let mut chunks = store.shard_records(shard).await.unwrap();
        let mut in_shard = 0;
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.unwrap();
            assert!(!chunk.is_empty() && chunk.len() <= 2_048, "a chunk of {}", chunk.len());
            in_shard += chunk.len() as u64;
            for record in chunk {
                assert!(seen.insert(record.id), "a record came twice");
            }
        }
        assert_eq!(in_shard, *rows);
    }
    assert_eq!(seen, ids);

    // Stop reading after the first chunk: the store still answers (a writer thread left
    // waiting on the dropped reader would time this out).
    let mut chunks = store.shard_records(&shards[0].0).await.unwrap();
    assert!(chunks.next().await.is_some());
    drop(chunks);
    let count = tokio::time::timeout(std::time::Duration::from_secs(30), store.count()).await;
    assert_eq!(count.expect("the store hangs after a shard reader stopped early").unwrap(), 5_000);

    // Marking one shard leaves the other assigned and unsynced.
    assert_eq!(
        store
            .mark_shards_synced(&shards[..1].iter().map(|(s, _)| s.clone()).collect::<Vec<_>>(), Utc::now())
            .await
            .unwrap(),
        3_000
    );
    assert_eq!(store.unsynced_count().await.unwrap(), 2_000);
    let names: Vec<String> = shards.iter().map(|(s, _)| s.clone()).collect();
    assert_eq!(store.mark_shards_synced(&names, Utc::now()).await.unwrap(), 2_000);
    assert_eq!(store.unsynced_count().await.unwrap(), 0);
    assert!(store.assigned_shards().await.unwrap().is_empty());
}
