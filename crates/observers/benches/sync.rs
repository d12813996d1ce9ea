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

use observers::core::serde_json::{json, value::RawValue};
use observers::sync::{sync_to_hub, SyncOptions};
use observers::{ChatCompletionRecord, DuckDbStore, Message, Store};
use observers_testkit::hub::{self as fake, FakeHub};

fn realistic(i: usize) -> ChatCompletionRecord {
    let mut r = ChatCompletionRecord::new(["gpt-4o-mini", "llama3.2", "qwen3"][i % 3]);
    let words = ["observability", "latency", "token", "prompt", "model", "vector", "parquet", "shard"];
    let text = |n: usize, salt: usize| -> String {
        (0..n).map(|k| words[(k * 7 + salt * 13 + k / 3) % words.len()]).collect::<Vec<_>>().join(" ")
    };
    r.messages =
        vec![Message::new("system", text(25, i)), Message::new("user", format!("{i}: {}", text(100, i + 1)))];
    r.assistant_message = Some(text(60, i + 2));
    r.prompt_tokens = Some(180);
    r.completion_tokens = Some(64);
    r.total_tokens = Some(244);
    r.tags = vec!["bench".into(), format!("user-{}", i % 100)];
    r.properties = Some(json!({"session": i / 10}));
    let body = json!({"id": format!("chatcmpl-{i}"), "model": "gpt-4o-mini", "choices": [{"index": 0,
        "message": {"role": "assistant", "content": text(150, i + 3)}, "finish_reason": "stop"}]});
    r.raw_response = Some(RawValue::from_string(body.to_string()).unwrap());
    r.latency_ms = Some((i % 1000) as f64);
    r
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

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
        store.flush().await.unwrap();
        let size = serde_sizes(&store).await;
        let before = peak_rss_mib();

        // Baseline: read every unsynced row in pages and write Parquet, no Hub.
        let start = Instant::now();
        let mut after = None;
        let mut page_no = 0;
        loop {
            let page = store.unsynced(after, 20_000).await.unwrap();
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
        let report = sync_to_hub(&store, &options, |_| {}).await.unwrap();
        let elapsed = start.elapsed();
        assert_eq!(report.rows, rows as u64);
        let hub_bytes: u64 = hub
            .files("tester/bench")
            .iter()
            .map(|p| hub.file("tester/bench", p).map_or(0, |f| f.len() as u64))
            .sum();
        let peak = peak_rss_mib();

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
            "peak RSS {peak:.0} MiB: {before:.0} MiB before the sync, the fake Hub holds {:.0} MiB of it",
            hub_bytes as f64 / (1 << 20) as f64
        );
        println!("pushed {} bytes in {} shard(s)", report.bytes, report.shards);
    });
}

/// Average JSON size of a record and the store file's size, for the report.
async fn serde_sizes(store: &DuckDbStore) -> (f64, f64) {
    let sample = store.unsynced(None, 100).await.unwrap();
    let json: usize = sample.iter().map(|r| observers::core::serde_json::to_string(r).unwrap().len()).sum();
    let file = std::fs::metadata(store.path()).map(|m| m.len()).unwrap_or_default();
    (json as f64 / sample.len().max(1) as f64 / 1024.0, file as f64 / (1 << 20) as f64)
}
