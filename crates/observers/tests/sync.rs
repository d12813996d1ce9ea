//! `observers sync`: local DuckDB store → Hub dataset, exactly once, whatever stops it.

#![cfg(feature = "cli")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use observers::sync::{sync_to_hub, SyncError, SyncOptions, SyncStep};
use observers::{ChatCompletionRecord, DuckDbStore, Message, Store};
use observers_testkit::hub::{self as fake, FakeHub, Fault, Route};

const REPO: &str = "tester/synced";

/// Ids of every row in the dataset's shards, read back with the `parquet` crate.
fn hub_rows(hub: &FakeHub, repo: &str) -> Vec<observers::core::uuid::Uuid> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let mut ids = Vec::new();
    for path in hub.files(repo).into_iter().filter(|p| p.ends_with(".parquet")) {
        let bytes = bytes::Bytes::from(hub.file(repo, &path).unwrap());
        for batch in ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap().build().unwrap() {
            let records = observers::records_from_batch(&batch.unwrap()).unwrap();
            ids.extend(records.into_iter().map(|r| r.id));
        }
    }
    ids
}

fn record(i: usize) -> ChatCompletionRecord {
    let mut r = ChatCompletionRecord::new(if i.is_multiple_of(3) { "gpt-4o-mini" } else { "llama3.2" });
    r.messages = vec![Message::new("user", format!("question {i}"))];
    r.assistant_message = Some(format!("answer {i}"));
    r.prompt_tokens = Some(3);
    r.completion_tokens = Some(2);
    r.latency_ms = Some(10.0 + i as f64);
    if i.is_multiple_of(10) {
        r.error = Some("HTTP 500".into());
    }
    r
}

async fn store_with(path: &Path, range: std::ops::Range<usize>) -> DuckDbStore {
    let store = DuckDbStore::open(path).unwrap();
    for i in range {
        store.add(record(i)).await.unwrap();
    }
    store.flush().await.unwrap();
    store
}

fn options(hub: &FakeHub, folder: &Path) -> SyncOptions {
    SyncOptions {
        endpoint: Some(hub.endpoint()),
        token: Some(fake::WRITE_TOKEN.into()),
        folder: Some(folder.to_path_buf()),
        batch_size: 1000,
        ..SyncOptions::new(REPO)
    }
}

fn assert_exactly_once(hub: &FakeHub, expected: usize) {
    let ids = hub_rows(hub, REPO);
    let unique: BTreeSet<_> = ids.iter().collect();
    assert_eq!((ids.len(), unique.len()), (expected, expected), "rows on the Hub, unique rows");
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_pushes_what_the_hub_lacks_and_marks_it() {
    let hub = FakeHub::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(&dir.path().join("store.db"), 0..2500).await;
    let opts = options(&hub, &dir.path().join("shards"));

    let dry = sync_to_hub(&store, &SyncOptions { dry_run: true, ..opts.clone() }, |_| {}).await.unwrap();
    assert_eq!((dry.rows, dry.shards, dry.dry_run), (2500, 3, true));
    assert!(dry.bytes > 0);
    assert!(!hub.repo_exists(REPO), "a dry run pushes nothing");

    let report = sync_to_hub(&store, &opts, |_| {}).await.unwrap();
    assert_eq!((report.rows, report.shards), (2500, 3));
    assert!(report.commit_url.is_some());
    assert_eq!(store.unsynced_count().await.unwrap(), 0);
    assert_exactly_once(&hub, 2500);

    // Nothing new: nothing pushed. New rows: only they are pushed.
    assert_eq!(sync_to_hub(&store, &opts, |_| {}).await.unwrap().rows, 0);
    for i in 2500..2600 {
        store.add(record(i)).await.unwrap();
    }
    assert_eq!(sync_to_hub(&store, &opts, |_| {}).await.unwrap().rows, 100);
    assert_exactly_once(&hub, 2600);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sync_stopped_at_any_step_resumes_without_loss_or_duplicates() {
    for step in [SyncStep::Write, SyncStep::Push, SyncStep::Mark] {
        let hub = FakeHub::start().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("store.db");
        let store = store_with(&db, 0..2200).await;
        let opts = options(&hub, &dir.path().join("shards"));
        let stopped =
            sync_to_hub(&store, &SyncOptions { stop_before: Some(step), ..opts.clone() }, |_| {}).await;
        assert!(matches!(stopped, Err(SyncError::Stopped(s)) if s == step), "{stopped:?}");
        // As if the process died: reopen the store, add more rows, sync again.
        store.close().await.unwrap();
        drop(store);
        let store = store_with(&db, 2200..2300).await;
        let report = sync_to_hub(&store, &opts, |_| {}).await.unwrap();
        assert_eq!(store.unsynced_count().await.unwrap(), 0, "{step:?}");
        assert_exactly_once(&hub, 2300);
        if step == SyncStep::Mark {
            assert_eq!(report.rows, 2300, "rows pushed before the stop are marked by the rerun");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hub_failures_leave_rows_unsynced_until_a_sync_succeeds() {
    {
        let route = Route::Commit;
        let hub = FakeHub::start().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = store_with(&dir.path().join("store.db"), 0..1500).await;
        let opts = options(&hub, &dir.path().join("shards"));
        hub.fail_next(route, Fault::Status(500), 50);
        let error = sync_to_hub(&store, &opts, |_| {}).await.unwrap_err();
        assert!(matches!(error, SyncError::Hub(_)), "{error}");
        assert_eq!(store.unsynced_count().await.unwrap(), 1500);
        let hub_ok = FakeHub::start().await.unwrap(); // the faults would take minutes of backoff
        let opts = SyncOptions { endpoint: Some(hub_ok.endpoint()), ..opts };
        sync_to_hub(&store, &opts, |_| {}).await.unwrap();
        assert_eq!(store.unsynced_count().await.unwrap(), 0);
        assert_exactly_once(&hub_ok, 1500);
    }
}

fn observers_cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_observers"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_syncs_and_prints_stats() {
    let hub = FakeHub::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let store = store_with(&db, 0..300).await;
    store.close().await.unwrap();
    drop(store);

    let endpoint = hub.endpoint();
    let db_arg = db.clone();
    let output = tokio::task::spawn_blocking(move || {
        observers_cli()
            .args(["sync", "--repo", REPO, "--batch-size", "100", "--endpoint", &endpoint, "--db"])
            .arg(&db_arg)
            .env("HF_TOKEN", fake::WRITE_TOKEN)
            .env("XDG_CACHE_HOME", db_arg.parent().unwrap())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("pushed 300 rows in 3 shard(s)"), "{stdout}");
    assert!(stdout.contains(&format!("{}/datasets/{REPO}/commit/", hub.endpoint())), "{stdout}");
    assert!(!String::from_utf8_lossy(&output.stderr).contains(fake::WRITE_TOKEN));
    assert_exactly_once(&hub, 300);

    let output = observers_cli().args(["stats", "--db"]).arg(&db).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let llama = stdout.lines().find(|l| l.contains("llama3.2")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(llama.contains(" 200 |"), "200 llama calls: {llama}");
    assert!(stdout.contains("latency p50 ms") && stdout.contains("error %"), "{stdout}");

    let output = observers_cli()
        .args(["sync", "--repo", REPO, "--db"])
        .arg(dir.path().join("missing.db"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no store at") && stderr.contains("--db"), "{stderr}");
    assert!(!dir.path().join("missing.db").exists(), "a missing store is not created");
}
