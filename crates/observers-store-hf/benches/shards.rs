//! Shard writing throughput: the Hub store (`add` → closed Parquet shard) against a bare
//! parquet `ArrowWriter` (ZSTD) writing the same rows, measured in the same run; bytes per
//! record on disk (Parquet shard vs DuckDB file) and memory while buffering.
//!
//! `cargo bench -p observers-store-hf --bench shards` (or `cargo xtask bench`).

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::time::{Duration, Instant};

use observers_core::{ChatCompletionRecord, Store};
use observers_store_hf::{shard_batch, shard_schema, HubStore};
use observers_testkit::records::{realistic, rss_mib};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

/// The same records, owned as the store gets them: converted, written, then freed.
fn bare(dir: &std::path::Path, records: Vec<ChatCompletionRecord>) -> (Duration, u64) {
    let path = dir.join("bare.parquet");
    let start = Instant::now();
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap()))
        .set_max_row_group_row_count(Some(10_000))
        .build();
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), shard_schema(), Some(properties))
            .unwrap();
    for chunk in records.chunks(1024) {
        writer.write(&shard_batch(chunk).unwrap()).unwrap();
    }
    drop(records);
    writer.close().unwrap();
    (start.elapsed(), std::fs::metadata(&path).unwrap().len())
}

fn main() {
    let rows: usize =
        std::env::var("OBSERVERS_BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let records: Vec<_> = (0..rows).map(realistic).collect();
    let dir = tempfile::tempdir().unwrap();
    let (mut bare_times, mut store_times) = (Vec::new(), Vec::new());
    let (mut bare_bytes, mut peak_rss) = (0, 0.0f64);
    let base_rss = rss_mib().0;
    for round in 0..3 {
        let (t, bytes) = bare(dir.path(), records.clone());
        bare_times.push(t);
        bare_bytes = bytes;
        // The store, with no reachable Hub: time from the first `add` to the closed shard.
        let folder = dir.path().join(format!("store{round}"));
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let store = HubStore::builder()
            .repo_id("bench/bench")
            .endpoint(format!("http://127.0.0.1:{port}"))
            .token("hf_bench")
            .folder(&folder)
            .max_shard_records(usize::MAX)
            .retries(1, Duration::from_millis(1))
            .build()
            .unwrap();
        let copy = records.clone();
        let elapsed = runtime.block_on(async {
            let start = Instant::now();
            for (i, r) in copy.into_iter().enumerate() {
                store.add(r).await.unwrap();
                if i % 10_000 == 0 {
                    peak_rss = peak_rss.max(rss_mib().0);
                }
            }
            let _ = store.push().await; // closes the shard; the push itself fails fast
            start.elapsed()
        });
        store_times.push(elapsed);
        drop(store);
    }
    bare_times.sort();
    store_times.sort();
    let rate = |d: Duration| rows as f64 / d.as_secs_f64();
    println!("shards: {rows} rows, 3 rounds, median");
    println!("| path | rows/s |");
    println!("|---|---|");
    println!(
        "| bare ArrowWriter ZSTD(3): records → Arrow → Parquet, records freed (baseline) | {:.0} |",
        rate(bare_times[1])
    );
    println!("| HubStore add → closed shard | {:.0} |", rate(store_times[1]));
    println!("| ratio store / baseline | {:.2} |", rate(store_times[1]) / rate(bare_times[1]));
    println!("bytes per record in a Parquet shard: {:.0}", bare_bytes as f64 / rows as f64);
    println!(
        "RSS while buffering: {peak_rss:.0} MiB (records held by the bench itself: {base_rss:.0} MiB before)"
    );
}
