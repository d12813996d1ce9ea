//! The Hub store against the fake Hub: shards pushed, read back, faults at every step.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use observers_core::serde_json::{json, value::RawValue};
use observers_core::{records_from_batch, ChatCompletionRecord, Message, Store};
use observers_store_hf::{Error, HubStore, HubStoreBuilder};
use observers_testkit::hub::{self as fake, FakeHub, FakeHubConfig, Fault, Route};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

const REPO: &str = "tester/llm-logs";

fn record(i: usize) -> ChatCompletionRecord {
    let mut r = ChatCompletionRecord::new("gpt-4o-mini");
    r.messages = vec![Message::new("system", "be brief"), Message::new("user", format!("question {i} ✓"))];
    r.assistant_message = Some(format!("answer {i}"));
    r.total_tokens = Some(i as i32);
    r.tags = vec!["hub".into()];
    r.properties = Some(json!({"i": i}));
    r.raw_response = Some(RawValue::from_string(format!(r#"{{"n":{i}}}"#)).unwrap());
    r.latency_ms = Some(i as f64 / 2.0);
    r
}

fn builder(hub: &FakeHub, folder: &Path) -> HubStoreBuilder {
    HubStore::builder()
        .repo_id(REPO)
        .endpoint(hub.endpoint())
        .token(fake::WRITE_TOKEN)
        .folder(folder)
        .every(Duration::from_secs(3600))
        .retries(3, Duration::from_millis(10))
}

/// Every record in the dataset's shards, read back with the `parquet` crate.
fn hub_records(hub: &FakeHub) -> Vec<ChatCompletionRecord> {
    let mut records = Vec::new();
    for path in hub.files(REPO).into_iter().filter(|p| p.ends_with(".parquet")) {
        assert!(path.starts_with("data/train-"), "{path}");
        let bytes = Bytes::from(hub.file(REPO, &path).unwrap());
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap().build().unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            assert!(batch.schema().column_with_name("synced_at").is_none());
            records.extend(records_from_batch(&batch).unwrap());
        }
    }
    records.sort_by_key(|r| r.id);
    records
}

fn same(a: &ChatCompletionRecord, b: &ChatCompletionRecord) -> bool {
    let text = |r: &ChatCompletionRecord| {
        let mut r = r.clone();
        let raw = r.raw_response.take().map(|v| v.get().to_string());
        (format!("{r:?}"), raw)
    };
    text(a) == text(b)
}

#[tokio::test(flavor = "multi_thread")]
async fn records_land_on_the_hub_exactly_as_added() {
    let hub = FakeHub::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = builder(&hub, dir.path()).private(true).build().unwrap();
    let added: Vec<_> = (0..250).map(record).collect();
    for r in &added {
        store.add(r.clone()).await.unwrap();
    }
    let summary = store.push().await.unwrap();
    assert_eq!((summary.shards, summary.records), (1, 250));
    assert!(summary.commit_url.is_some());

    let back = hub_records(&hub);
    assert_eq!(back.len(), added.len());
    for (b, a) in back.iter().zip(&added) {
        assert!(same(b, a), "{b:?}\n{a:?}");
    }
    assert_eq!(hub.is_private(REPO), Some(true));
    let card = String::from_utf8(hub.file(REPO, "README.md").unwrap()).unwrap();
    assert!(
        card.contains("configs:")
            && card.contains("path: data/train-*.parquet")
            && card.contains("- observers")
    );
    // Pushed shards leave the local folder; the manifest remembers them.
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["manifest.json"]);
    // Nothing new: no commit.
    let commits = hub.commits(REPO).len();
    assert_eq!(store.push().await.unwrap().shards, 0);
    assert_eq!(hub.commits(REPO).len(), commits);
}

#[tokio::test(flavor = "multi_thread")]
async fn several_pushes_add_shards_and_never_duplicate() {
    let hub = FakeHub::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = builder(&hub, dir.path()).max_shard_records(400).build().unwrap();
    for round in 0..3 {
        for i in 0..1000 {
            store.add(record(round * 1000 + i)).await.unwrap();
        }
        store.flush().await.unwrap();
    }
    let back = hub_records(&hub);
    assert_eq!(back.len(), 3000);
    let ids: BTreeSet<_> = back.iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), 3000);
    // 1000 records at 400 per shard: 3 shards a round; the README is committed once.
    assert_eq!(hub.files(REPO).iter().filter(|p| p.ends_with(".parquet")).count(), 9);
    let readme_commits =
        hub.commits(REPO).iter().filter(|c| c.added.iter().any(|p| p == "README.md")).count();
    assert_eq!(readme_commits, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failure_at_any_step_is_retried_and_nothing_is_lost_or_duplicated() {
    let routes = [
        Route::CreateRepo,
        Route::Preupload,
        Route::LfsBatch,
        Route::UploadPut,
        Route::Verify,
        Route::Commit,
    ];
    for route in routes {
        for fault in [Fault::Status(500), Fault::RetryAfter(429, 0), Fault::DropConnection] {
            let hub = FakeHub::start().await.unwrap();
            let dir = tempfile::tempdir().unwrap();
            let store = builder(&hub, dir.path()).build().unwrap();
            for i in 0..50 {
                store.add(record(i)).await.unwrap();
            }
            // Once: the push's own retries cure it.
            hub.fail_next(route, fault.clone(), 1);
            store.flush().await.unwrap_or_else(|e| panic!("{route:?} {fault:?}: {e}"));
            assert_eq!(hub_records(&hub).len(), 50, "{route:?} {fault:?}");

            // Longer than the retries: the push fails, the shard stays, the next push lands it.
            for i in 50..80 {
                store.add(record(i)).await.unwrap();
            }
            hub.fail_next(route, fault.clone(), 10);
            if route != Route::CreateRepo {
                // (The repository exists by now, so its creation is not asked again.)
                let error = store.push().await.unwrap_err();
                assert!(error.is_transient(), "{route:?} {fault:?}: {error}");
                assert_eq!(hub_records(&hub).len(), 50);
            }
            // Later pushes (the background ones) retry until the faults are used up.
            let mut pushes = 0;
            while let Err(error) = store.push().await {
                assert!(error.is_transient(), "{route:?} {fault:?}: {error}");
                pushes += 1;
                assert!(pushes < 10, "{route:?} {fault:?}: still failing");
            }
            let back = hub_records(&hub);
            let ids: BTreeSet<_> = back.iter().map(|r| r.id).collect();
            assert_eq!((back.len(), ids.len()), (80, 80), "{route:?} {fault:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn shards_left_by_a_previous_run_are_pushed_by_the_next() {
    let hub = FakeHub::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    {
        // The Hub is unreachable for this run: a closed port.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let offline = HubStore::builder()
            .repo_id(REPO)
            .endpoint(format!("http://127.0.0.1:{port}"))
            .token(fake::WRITE_TOKEN)
            .folder(dir.path())
            .retries(1, Duration::from_millis(1))
            .build()
            .unwrap();
        for i in 0..120 {
            offline.add(record(i)).await.unwrap();
        }
        let error = offline.push().await.unwrap_err();
        assert!(matches!(error, Error::Network { .. }), "{error}");
        drop(offline); // its final push fails too; the shard stays
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "one closed shard waits");
    let store = builder(&hub, dir.path()).build().unwrap();
    let summary = store.push().await.unwrap();
    assert_eq!(summary.records, 120);
    assert_eq!(hub_records(&hub).len(), 120);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shard_committed_before_a_crash_is_not_uploaded_twice() {
    let hub = FakeHub::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = builder(&hub, dir.path()).build().unwrap();
    for i in 0..41 {
        store.add(record(i)).await.unwrap();
    }
    store.flush().await.unwrap();
    drop(store);
    // A crash between the commit and the manifest update leaves the shard on disk and the
    // manifest without it.
    let shard_name = hub.files(REPO).into_iter().find(|p| p.ends_with(".parquet")).unwrap();
    let file_name = shard_name.trim_start_matches("data/");
    std::fs::write(dir.path().join(file_name), hub.file(REPO, &shard_name).unwrap()).unwrap();
    std::fs::remove_file(dir.path().join("manifest.json")).unwrap();
    let uploads_before = hub.requests().iter().filter(|r| r.method == "PUT").count();
    let commits_before = hub.commits(REPO).len();

    let store = builder(&hub, dir.path()).build().unwrap();
    let summary = store.push().await.unwrap();
    assert_eq!(summary.shards, 0);
    assert_eq!(hub.requests().iter().filter(|r| r.method == "PUT").count(), uploads_before);
    assert_eq!(hub.commits(REPO).len(), commits_before);
    assert_eq!(hub_records(&hub).len(), 41);
    assert!(!dir.path().join(file_name).exists(), "the local copy is dropped once known to be on the Hub");
}

#[tokio::test(flavor = "multi_thread")]
async fn large_shards_go_up_in_parts() {
    let config =
        FakeHubConfig { multipart_threshold: 64 * 1024, chunk_size: 32 * 1024, ..FakeHubConfig::default() };
    let hub = FakeHub::start_with(config).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = builder(&hub, dir.path()).build().unwrap();
    for i in 0..2000 {
        let mut r = record(i);
        // Incompressible text, so the shard is well above the threshold.
        r.assistant_message = Some(format!("{:x}{:x}", rand_u64(i), rand_u64(i + 7)));
        store.add(r).await.unwrap();
    }
    store.flush().await.unwrap();
    assert_eq!(hub_records(&hub).len(), 2000);
    let parts = hub.requests().iter().filter(|r| r.method == "PUT").count();
    assert!(parts >= 3, "uploaded in {parts} PUTs");
}

fn rand_u64(seed: usize) -> u64 {
    let mut x = seed as u64 ^ 0x9E37_79B9_7F4A_7C15;
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^ (x >> 31)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_owner_comes_from_whoami_when_the_repo_id_has_none() {
    let hub = FakeHub::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = builder(&hub, dir.path()).repo_id("llm-logs").build().unwrap();
    store.add(record(1)).await.unwrap();
    store.flush().await.unwrap();
    assert!(hub.repo_exists(&format!("{}/llm-logs", fake::USER)));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_tokens_get_clear_errors_and_keep_the_data() {
    let hub = FakeHub::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = builder(&hub, dir.path()).token("hf_not_a_valid_token").build().unwrap();
    store.add(record(1)).await.unwrap();
    let error = store.push().await.unwrap_err();
    assert!(matches!(error, Error::Unauthorized { .. }), "{error}");
    assert!(error.to_string().contains("HF_TOKEN"), "{error}");
    assert!(!error.to_string().contains("hf_not_a_valid_token"));
    drop(store);

    let store = builder(&hub, dir.path()).token(fake::READ_TOKEN).build().unwrap();
    let error = store.push().await.unwrap_err();
    assert!(matches!(error, Error::Forbidden { .. }), "{error}");
    assert!(error.to_string().contains("write access"), "{error}");
    drop(store);

    // The record waited on disk: a good token pushes it.
    let store = builder(&hub, dir.path()).build().unwrap();
    assert_eq!(store.push().await.unwrap().records, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn closing_pushes_and_add_after_close_is_refused() {
    let hub = FakeHub::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = builder(&hub, dir.path()).build().unwrap();
    store.add(record(1)).await.unwrap();
    store.close().await.unwrap();
    assert_eq!(hub_records(&hub).len(), 1);
    assert!(store.add(record(2)).await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_background_push_runs_every_interval() {
    let hub = FakeHub::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = builder(&hub, dir.path()).every(Duration::from_millis(200)).build().unwrap();
    store.add(record(1)).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while hub_records_count(&hub) < 1 {
        assert!(std::time::Instant::now() < deadline, "no background push within 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn hub_records_count(hub: &FakeHub) -> usize {
    if !hub.repo_exists(REPO) {
        return 0;
    }
    hub_records(hub).len()
}
