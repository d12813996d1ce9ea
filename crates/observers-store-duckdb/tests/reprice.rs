//! `DuckDbStore::reprice` recomputes every row's cost exactly as the wrapper computes it at
//! record time, and never prices a model the table does not know.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use observers_core::pricing::{Price, Prices};
use observers_core::{ChatCompletionRecord, Store};
use observers_store_duckdb::DuckDbStore;

fn call(
    model: Option<&str>,
    prompt: Option<i32>,
    completion: Option<i32>,
    cached: Option<i32>,
) -> ChatCompletionRecord {
    let mut record = ChatCompletionRecord::started_at(model.map(str::to_string), chrono::Utc::now());
    (record.prompt_tokens, record.completion_tokens, record.cached_tokens) = (prompt, completion, cached);
    record
}

#[tokio::test]
async fn reprice_matches_record_time_cost_and_leaves_unknown_models_null() {
    let dir = tempfile::tempdir().unwrap();
    let store = DuckDbStore::open(dir.path().join("store.db")).unwrap();
    let records = vec![
        call(Some("gpt-4o-mini"), Some(1234), Some(567), Some(1000)),
        call(Some("gpt-4o-mini-2024-07-18"), Some(1_000_000), Some(3), None),
        call(Some("openai/gpt-4.1"), Some(77), Some(99_999), Some(5000)), // cached > prompt: clamped
        call(Some("anthropic/claude-sonnet-4.5"), Some(31_337), Some(4242), Some(30_000)),
        call(Some("claude-3-5-haiku-20241022"), Some(1), Some(1), Some(0)),
        call(Some("gpt-4"), Some(100), Some(100), Some(50)), // no cache price: input price
        call(Some("gpt-4o-mini"), None, None, None),         // failed call: no usage
        call(Some("gpt-4o-mini"), Some(-5), Some(3), None),  // nonsense counts
        call(Some("my-finetune"), Some(10), Some(10), None),
        call(Some("my-finetune"), Some(20), Some(20), None),
        call(None, Some(10), Some(10), None),
    ];
    let mut stale = records.clone();
    for record in &mut stale {
        record.cost_usd = Some(123.0); // as if recorded with an old, wrong table
    }
    for record in stale {
        store.add(record).await.unwrap();
    }

    let prices = Prices::shipped();
    let repriced = store.reprice(&prices).await.unwrap();
    assert_eq!(repriced.rows, records.len() as u64);
    assert_eq!(repriced.priced, 6);
    assert_eq!(repriced.updated, records.len() as u64, "every stale cost changed");
    assert_eq!(repriced.unpriced_models, vec![(Some("my-finetune".to_string()), 2), (None, 1)]);
    let mut stored = store.unsynced(None, 100).await.unwrap();
    stored.sort_by_key(|r| r.id);
    for (record, row) in records.iter().zip(&stored) {
        assert_eq!(record.id, row.id);
        let expected = prices.cost(record);
        // The same doubles, bit for bit: SQL and Rust add the same terms in the same order.
        assert_eq!(row.cost_usd.map(f64::to_bits), expected.map(f64::to_bits), "{record:?}");
    }

    // Again: nothing changes.
    assert_eq!(store.reprice(&prices).await.unwrap().updated, 0);

    // A new table: the fine-tune gets a price, gpt-4o-mini loses its own.
    let mine = Prices::empty().with(Price {
        model: "my-finetune".into(),
        input: 2.0,
        cached_input: None,
        output: 4.0,
        source: None,
        taken: None,
    });
    let repriced = store.reprice(&mine).await.unwrap();
    assert_eq!(repriced.priced, 2);
    let rows =
        store.query("SELECT model, cost_usd FROM openai_records WHERE cost_usd IS NOT NULL").await.unwrap();
    assert_eq!(rows.iter().map(|b| b.num_rows()).sum::<usize>(), 2);

    // An empty store: nothing to do, no error.
    let empty = DuckDbStore::open(dir.path().join("empty.db")).unwrap();
    assert_eq!(empty.reprice(&prices).await.unwrap(), Default::default());
}
