//! Ingest throughput of the DuckDB store against a bare DuckDB Arrow insert of the same rows,
//! measured in the same run (the machine is noisy: compare the ratio, not the absolute rate).
//!
//! `cargo bench -p observers-store-duckdb --bench ingest` (or `cargo xtask bench`).
//! Rows are realistic: ~1 KB of messages and ~2 KB of raw_response each.

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::time::{Duration, Instant};

use duckdb::vtab::arrow::{ArrowBatchRegistration, ArrowVTab};
use observers_core::{records_to_batch, ChatCompletionRecord, Store};
use observers_store_duckdb::DuckDbStore;
use observers_testkit::records::{realistic, rss_mib};

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
