//! Ingest throughput of the DuckDB store against a bare DuckDB Arrow insert of the same rows,
//! measured in the same run (the machine is noisy: compare the ratio, not the absolute rate).
//!
//! `cargo bench -p observers-store-duckdb --bench ingest` (or `cargo xtask bench`).
//! Rows are realistic: ~1 KB of messages and ~2 KB of raw_response each.

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::time::{Duration, Instant};

use duckdb::vtab::arrow::{ArrowBatchRegistration, ArrowVTab};
use observers_core::serde_json::{json, value::RawValue};
use observers_core::{records_to_batch, ChatCompletionRecord, Message, Store};
use observers_store_duckdb::DuckDbStore;

fn realistic(i: usize) -> ChatCompletionRecord {
    let mut r = ChatCompletionRecord::new("gpt-4o-mini");
    let filler = "lorem ipsum dolor sit amet consectetur ".repeat(12);
    r.messages = vec![
        Message::new("system", format!("You are a helpful assistant. {}", &filler[..200])),
        Message::new("user", format!("Question {i}: {filler}")),
    ];
    r.assistant_message = Some(format!("Answer {i}: {}", &filler[..300]));
    r.completion_tokens = Some(64);
    r.prompt_tokens = Some(180);
    r.total_tokens = Some(244);
    r.finish_reason = Some("stop".into());
    r.tags = vec!["bench".into(), "prod".into(), format!("shard-{}", i % 8)];
    r.properties = Some(json!({"user": format!("user-{}", i % 100), "session": i / 10}));
    r.arguments = Some(json!({"temperature": 0.7, "max_tokens": 256}));
    let body = json!({"id": format!("chatcmpl-{i}"), "object": "chat.completion", "created": 1_742_733_210,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": format!("{filler}{filler}{filler}")},
                     "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 180, "completion_tokens": 64, "total_tokens": 244}});
    r.raw_response = Some(RawValue::from_string(body.to_string()).unwrap());
    r.response_id = Some(format!("chatcmpl-{i}"));
    r.latency_ms = Some(812.5);
    r
}

fn rss_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Bare DuckDB: the same rows, prebuilt as Arrow batches of 4096, one INSERT each.
fn bare(path: &std::path::Path, records: &[ChatCompletionRecord]) -> Duration {
    let batches: Vec<_> = records.chunks(4096).map(|c| records_to_batch(c).unwrap()).collect();
    let conn = duckdb::Connection::open(path).unwrap();
    conn.register_table_function::<ArrowVTab>("arrow").unwrap();
    let columns = observers_core::COLUMNS.join(", ");
    let sql = format!("INSERT INTO openai_records ({columns}) SELECT {columns} FROM arrow(?)");
    let start = Instant::now();
    for batch in batches {
        conn.execute(&sql, [&ArrowBatchRegistration::new(batch)]).unwrap();
    }
    start.elapsed()
}

/// The store: `add` every record, then `flush`; includes conversion to Arrow.
async fn store(path: &std::path::Path, records: Vec<ChatCompletionRecord>) -> Duration {
    let store = DuckDbStore::open(path).unwrap();
    let start = Instant::now();
    for r in records {
        store.add(r).await.unwrap();
    }
    store.flush().await.unwrap();
    let elapsed = start.elapsed();
    store.close().await.unwrap();
    elapsed
}

fn main() {
    let rows: usize =
        std::env::var("OBSERVERS_BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(50_000);
    let rounds = 3;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let records: Vec<_> = (0..rows).map(realistic).collect();
    let bytes: usize = records_to_batch(&records[..1000]).unwrap().get_array_memory_size() / 1000;
    println!("ingest: {rows} rows of ~{:.1} KB, {rounds} rounds, median", bytes as f64 / 1024.0);

    let (mut bare_times, mut store_times) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        // Fresh files with the store's schema for both, so they insert into identical tables.
        let (bare_path, store_path) =
            (dir.path().join(format!("bare{round}.db")), dir.path().join(format!("store{round}.db")));
        runtime.block_on(async { DuckDbStore::open(&bare_path).unwrap().close().await.unwrap() });
        bare_times.push(bare(&bare_path, &records));
        store_times.push(runtime.block_on(store(&store_path, records.clone())));
    }
    bare_times.sort();
    store_times.sort();
    let rate = |d: Duration| rows as f64 / d.as_secs_f64();
    let (bare_rate, store_rate) = (rate(bare_times[rounds / 2]), rate(store_times[rounds / 2]));
    println!("| path | rows/s |");
    println!("|---|---|");
    println!("| bare DuckDB Arrow insert (baseline) | {bare_rate:.0} |");
    println!("| DuckDbStore add + flush | {store_rate:.0} |");
    println!("| ratio store / baseline | {:.2} |", store_rate / bare_rate);

    // Memory while the count grows: add in steps through one store, RSS after each.
    let path = dir.path().join("growth.db");
    runtime.block_on(async {
        let store = DuckDbStore::open(&path).unwrap();
        for step in 1..=4 {
            for r in &records {
                let mut r = r.clone();
                r.id = observers_core::uuid::Uuid::now_v7();
                store.add(r).await.unwrap();
            }
            store.flush().await.unwrap();
            let (rss, peak) = rss_mib();
            println!("memory after {:>7} rows: RSS {rss:.0} MiB (peak {peak:.0} MiB)", step * rows);
        }
        store.close().await.unwrap();
    });
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!("bytes per record on disk: {:.0}", size as f64 / (4 * rows) as f64);
}
