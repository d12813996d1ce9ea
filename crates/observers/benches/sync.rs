//! `observers sync` throughput and memory: rows/s from a DuckDB store to the fake Hub, and the
//! peak RSS of the process that syncs, for a store of realistic ~3 KB records. Baseline in the
//! same run: bare DuckDB reading the same rows out of the store in one streaming query, and the
//! same shard writer putting them in Parquet, without any Hub: the two steps a sync cannot
//! avoid.
//!
//! `OBSERVERS_BENCH_ROWS=1000000 cargo bench -p observers --features cli --bench sync`
//! (or `cargo xtask bench`). The store is built first; the baseline and the sync then each run
//! in a fresh process of their own (this benchmark, re-run), as `observers sync` would: their
//! peak RSS is theirs alone, not the build's or the fake Hub's, which stays in this process.

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use observers::hf::ShardFile;
use observers::sync::{sync_to_hub, SyncEvent, SyncOptions};
use observers::{DuckDbStore, Store};
use observers_testkit::hub::{self as fake, FakeHub};
use observers_testkit::records::{realistic, rss_mib};

/// Set in a child: which path it measures (`baseline` or `sync`).
const CHILD: &str = "OBSERVERS_BENCH_SYNC_CHILD";
const DB: &str = "OBSERVERS_BENCH_SYNC_DB";
const HUB: &str = "OBSERVERS_BENCH_SYNC_HUB";
const REPO: &str = "tester/bench";

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    if let Ok(path) = std::env::var(CHILD) {
        let db = PathBuf::from(std::env::var(DB).unwrap());
        match path.as_str() {
            "baseline" => baseline(&db),
            _ => runtime.block_on(sync(&db, &std::env::var(HUB).unwrap())),
        }
        return;
    }
    let rows: usize =
        std::env::var("OBSERVERS_BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    runtime.block_on(async {
        let store = DuckDbStore::open(&db).unwrap();
        for i in 0..rows {
            store.add(realistic(i)).await.unwrap();
        }
        let size = serde_sizes(&store).await;
        store.close().await.unwrap();
        drop(store);

        let baseline = child("baseline", &db, "");
        let hub = FakeHub::start().await.unwrap();
        let endpoint = hub.endpoint();
        let synced = {
            let db = db.clone();
            tokio::task::spawn_blocking(move || child("sync", &db, &endpoint)).await.unwrap()
        };
        let field = |lines: &[String], key: &str| -> f64 {
            lines.iter().find_map(|l| l.strip_prefix(key)?.trim().parse().ok()).unwrap_or(f64::NAN)
        };
        let (base_secs, base_peak) = (field(&baseline, "secs"), field(&baseline, "peak_mib"));
        let (sync_secs, sync_peak) = (field(&synced, "secs"), field(&synced, "peak_mib"));
        assert_eq!(field(&synced, "rows") as usize, rows, "{synced:?}");
        let hub_bytes: u64 =
            hub.files(REPO).iter().map(|p| hub.file(REPO, p).map_or(0, |f| f.len() as u64)).sum();

        println!("sync: {rows} rows of ~{:.1} KB (JSON), DuckDB file {:.0} MiB", size.0, size.1);
        println!("| path (its own process) | rows/s | RSS MiB at start | peak RSS MiB |");
        println!("|---|---|---|---|");
        println!(
            "| bare DuckDB stream + write Parquet, no Hub (baseline) | {:.0} | {:.0} | {base_peak:.0} |",
            rows as f64 / base_secs,
            field(&baseline, "start_mib"),
        );
        println!(
            "| `observers sync` to the fake Hub | {:.0} | {:.0} | {sync_peak:.0} |",
            rows as f64 / sync_secs,
            field(&synced, "start_mib"),
        );
        println!("| ratio sync / baseline | {:.2} | | {:.2} |", base_secs / sync_secs, sync_peak / base_peak);
        println!(
            "pushed {:.0} MiB in {} shard(s)",
            hub_bytes as f64 / (1 << 20) as f64,
            field(&synced, "shards")
        );
        println!(
            "sync phases: assign {:.1} s, write shards {:.1} s, push {:.1} s, mark synced {:.1} s",
            field(&synced, "assign"),
            field(&synced, "write"),
            field(&synced, "push"),
            field(&synced, "mark"),
        );
        println!(
            "store open {:.2} s; a second sync of the unchanged store {:.2} s",
            field(&synced, "open"),
            field(&synced, "again")
        );
    });
}

/// Runs this benchmark again as the child measuring `path`; returns its result lines.
fn child(path: &str, db: &Path, hub: &str) -> Vec<String> {
    let output = Command::new(std::env::current_exe().unwrap())
        .env(CHILD, path)
        .env(DB, db)
        .env(HUB, hub)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{path}: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    stdout.lines().map(str::to_owned).collect()
}

/// The store as `observers sync` opens it.
fn open_like_the_cli(db: &Path) -> DuckDbStore {
    DuckDbStore::builder(db).memory_limit(observers::cli::CLI_MEMORY_LIMIT).open().unwrap()
}

/// Child: the floor of a sync's work. Bare DuckDB streams every unsynced row out in one query
/// (Arrow, 2,048 rows a batch, no shard bookkeeping), and they go into Parquet shards of the
/// sync's size, with the same shard writer.
fn baseline(db: &Path) {
    let conn = duckdb::Connection::open(db).unwrap();
    conn.execute_batch(&format!("SET memory_limit = '{}'", observers::cli::CLI_MEMORY_LIMIT)).unwrap();
    println!("start_mib {}", rss_mib().0);
    let out = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let sql =
        format!("SELECT {} FROM openai_records WHERE synced_at IS NULL", observers::core::COLUMNS.join(", "));
    let mut statement = conn.prepare(&sql).unwrap();
    let mut shard: Option<ShardFile> = None;
    let mut shards = 0;
    for batch in statement.stream_arrow([]).unwrap() {
        let records = observers::core::records_from_batch(&batch.unwrap()).unwrap();
        let file = match &mut shard {
            Some(file) => file,
            None => {
                shards += 1;
                shard.insert(ShardFile::create(out.path(), &format!("p{shards}.parquet")).unwrap())
            }
        };
        file.write(&records).unwrap();
        if file.records() >= observers::sync::DEFAULT_BATCH_SIZE {
            shard.take().unwrap().finish().unwrap();
        }
    }
    if let Some(file) = shard {
        file.finish().unwrap();
    }
    println!("secs {}", start.elapsed().as_secs_f64());
    println!("peak_mib {}", rss_mib().1);
}

/// Child: the sync, as `observers sync --repo tester/bench` runs it.
async fn sync(db: &Path, endpoint: &str) {
    let opening = Instant::now();
    let store = open_like_the_cli(db);
    println!("open {}", opening.elapsed().as_secs_f64());
    println!("start_mib {}", rss_mib().0);
    let out = tempfile::tempdir().unwrap();
    let options = SyncOptions {
        endpoint: Some(endpoint.to_owned()),
        token: Some(fake::WRITE_TOKEN.into()),
        folder: Some(out.path().join("shards")),
        ..SyncOptions::new(REPO)
    };
    let start = Instant::now();
    let mut phases = Vec::new();
    let report = sync_to_hub(&store, &options, |event| {
        let phase = match event {
            SyncEvent::Planned { .. } => "assign",
            SyncEvent::ShardWritten { .. } => "write",
            SyncEvent::Pushed(_) => "push",
        };
        phases.push((phase, start.elapsed().as_secs_f64()));
    })
    .await
    .unwrap();
    let elapsed = start.elapsed().as_secs_f64();
    let at = |name: &str| phases.iter().rev().find(|(p, _)| *p == name).map_or(elapsed, |(_, t)| *t);
    let (assign, write, push) = (at("assign"), at("write"), at("push"));
    println!("secs {elapsed}");
    println!("peak_mib {}", rss_mib().1);
    println!("rows {}", report.rows);
    println!("shards {}", report.shards);
    println!("assign {assign}\nwrite {}\npush {}\nmark {}", write - assign, push - write, elapsed - push);
    // A second sync of the unchanged store: it should find nothing to do, quickly.
    let again = Instant::now();
    let report = sync_to_hub(&store, &options, |_| {}).await.unwrap();
    assert_eq!(report.rows, 0, "a second sync sent rows again");
    println!("again {}", again.elapsed().as_secs_f64());
}

/// Average JSON size of a record and the store file's size, for the report.
async fn serde_sizes(store: &DuckDbStore) -> (f64, f64) {
    store.flush().await.unwrap();
    let sample = store.unsynced(None, 100).await.unwrap();
    let json: usize = sample.iter().map(|r| observers::core::serde_json::to_string(r).unwrap().len()).sum();
    let file = std::fs::metadata(store.path()).map(|m| m.len()).unwrap_or_default();
    (json as f64 / sample.len().max(1) as f64 / 1024.0, file as f64 / (1 << 20) as f64)
}
