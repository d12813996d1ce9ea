//! `observers sync` throughput: rows/s from a DuckDB store to the (in-process) fake Hub, and
//! peak memory, for a store of realistic ~3 KB records. Baseline in the same run: reading the
//! same rows out of the store and writing them to Parquet without any Hub, the two steps a
//! sync cannot avoid.
//!
//! `OBSERVERS_BENCH_ROWS=1000000 cargo bench -p observers --features cli --bench sync`
//! (or `cargo xtask bench`). The fake Hub keeps what it receives in memory, in this process:
//! the peak RSS printed includes it, so the sync's own share is printed too.

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::time::Instant;

use observers::sync::{sync_to_hub, SyncOptions};
use observers::{DuckDbStore, Store};
use observers_testkit::hub::{self as fake, FakeHub};
use observers_testkit::records::{realistic, rss_mib};

fn main() {
    let rows: usize =
        std::env::var("OBSERVERS_BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    runtime.block_on(async {
        let store = DuckDbStore::open(dir.path().join("store.db")).unwrap();
        for i in 0..rows {
            store.add(realistic(i)).await.unwrap();
        }
        store.close().await.unwrap();
        drop(store);
        // Reopen as `observers sync` does, and measure from here: the peak-RSS mark is reset.
        let store = DuckDbStore::builder(dir.path().join("store.db"))
            .memory_limit(observers::cli::CLI_MEMORY_LIMIT)
            .open()
            .unwrap();
        let size = serde_sizes(&store).await;
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let before = rss_mib().0;

        // Baseline: read every unsynced row in pages and write Parquet, no Hub.
        let start = Instant::now();
        let mut after = None;
        let mut page_no = 0;
        loop {
            let page = store.unsynced(after, observers::sync::DEFAULT_BATCH_SIZE).await.unwrap();
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            observers::hf::write_shard(&dir.path().join("baseline"), &format!("p{page_no}.parquet"), &page)
                .unwrap();
            page_no += 1;
        }
        let baseline = start.elapsed();

        let hub = FakeHub::start().await.unwrap();
        let options = SyncOptions {
            endpoint: Some(hub.endpoint()),
            token: Some(fake::WRITE_TOKEN.into()),
            folder: Some(dir.path().join("shards")),
            ..SyncOptions::new("tester/bench")
        };
        let start = Instant::now();
        let mut phases = Vec::new();
        let report = sync_to_hub(&store, &options, |event| {
            let phase = match event {
                observers::sync::SyncEvent::Planned { .. } => "assign",
                observers::sync::SyncEvent::ShardWritten { .. } => "write",
                observers::sync::SyncEvent::Pushed(_) => "push",
            };
            phases.push((phase, start.elapsed()));
        })
        .await
        .unwrap();
        let elapsed = start.elapsed();
        let at = |name: &str| phases.iter().rev().find(|(p, _)| *p == name).map_or(elapsed, |(_, t)| *t);
        let (assign, write, push) = (at("assign"), at("write"), at("push"));
        assert_eq!(report.rows, rows as u64);
        let hub_bytes: u64 = hub
            .files("tester/bench")
            .iter()
            .map(|p| hub.file("tester/bench", p).map_or(0, |f| f.len() as u64))
            .sum();
        let peak = rss_mib().1;

        println!("sync: {rows} rows of ~{:.1} KB (JSON), DuckDB file {:.0} MiB", size.0, size.1);
        println!("| path | rows/s |");
        println!("|---|---|");
        println!(
            "| read store + write Parquet, no Hub (baseline) | {:.0} |",
            rows as f64 / baseline.as_secs_f64()
        );
        println!("| sync to the fake Hub | {:.0} |", rows as f64 / elapsed.as_secs_f64());
        println!("| ratio sync / baseline | {:.2} |", baseline.as_secs_f64() / elapsed.as_secs_f64());
        println!(
            "peak RSS {peak:.0} MiB during baseline and sync ({before:.0} MiB before them; the fake Hub holds {:.0} MiB)",
            hub_bytes as f64 / (1 << 20) as f64
        );
        println!("pushed {} bytes in {} shard(s)", report.bytes, report.shards);
        println!(
            "sync phases: assign {:.1} s, write shards {:.1} s, push {:.1} s, mark synced {:.1} s",
            assign.as_secs_f64(),
            (write - assign).as_secs_f64(),
            (push - write).as_secs_f64(),
            (elapsed - push).as_secs_f64()
        );
    });
}

/// Average JSON size of a record and the store file's size, for the report.
async fn serde_sizes(store: &DuckDbStore) -> (f64, f64) {
    let sample = store.unsynced(None, 100).await.unwrap();
    let json: usize = sample.iter().map(|r| observers::core::serde_json::to_string(r).unwrap().len()).sum();
    let file = std::fs::metadata(store.path()).map(|m| m.len()).unwrap_or_default();
    (json as f64 / sample.len().max(1) as f64 / 1024.0, file as f64 / (1 << 20) as f64)
}
