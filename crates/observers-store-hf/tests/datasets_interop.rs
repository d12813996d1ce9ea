//! What users load: the pushed dataset read by the official `datasets` library (through the
//! fake Hub, with the official client's download path), checked row by row.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use observers_core::serde_json::{self, json, Value};
use observers_core::{ChatCompletionRecord, Message, Store};
use observers_store_hf::HubStore;
use observers_testkit::hub::{self as fake, FakeHub};

const REPO: &str = "tester/chat-logs";

const SCRIPT: &str = r#"
import json, sys
from datasets import load_dataset
repo, ids = sys.argv[1], json.loads(sys.argv[2])
ds = load_dataset(repo, split="train")
rows = {row["id"]: row for row in ds if row["id"] in ids}
out = {
    "num_rows": ds.num_rows,
    "columns": ds.column_names,
    "features": {name: str(feature) for name, feature in ds.features.items()},
    "rows": {i: {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()} for i, row in rows.items()},
}
print(json.dumps(out))
"#;

/// Loads the dataset with `datasets.load_dataset` and returns its size, features and the rows
/// of `picked`.
async fn load_with_datasets(hub: &FakeHub, picked: &[&ChatCompletionRecord]) -> Value {
    let python = observers_testkit::tools::python_with_hub_clients();
    let ids: Vec<String> = picked.iter().map(|r| r.id.to_string()).collect();
    let endpoint = hub.endpoint();
    let home = tempfile::tempdir().unwrap();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg("-c")
            .arg(SCRIPT)
            .arg(REPO)
            .arg(serde_json::to_string(&ids).unwrap())
            .env("HF_ENDPOINT", endpoint)
            .env("HF_TOKEN", fake::WRITE_TOKEN)
            .env("HF_HUB_DISABLE_XET", "1")
            .env("HF_HUB_DISABLE_TELEMETRY", "1")
            .env("HF_HOME", home.path())
            .env("HF_DATASETS_CACHE", home.path().join("datasets"))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(output.status.success(), "datasets failed:\n{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn record(i: usize) -> ChatCompletionRecord {
    let mut r = ChatCompletionRecord::new("gpt-4o-mini");
    r.messages =
        vec![Message::new("system", "Be brief."), Message::new("user", format!("Question {i}: héllo?"))];
    r.assistant_message = Some(format!("Answer {i}"));
    r.prompt_tokens = Some(10);
    r.completion_tokens = if i.is_multiple_of(2) { Some(5) } else { None };
    r.total_tokens = Some(15);
    r.finish_reason = Some("stop".into());
    r.tags = vec!["interop".into(), format!("n{}", i % 3)];
    r.properties = Some(json!({"user": format!("u{}", i % 10)}));
    r.latency_ms = Some(12.5);
    r
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_records_over_several_pushes_load_as_one_dataset() {
    let hub = FakeHub::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = HubStore::builder()
        .repo_id(REPO)
        .endpoint(hub.endpoint())
        .token(fake::WRITE_TOKEN)
        .folder(dir.path().join("shards"))
        .max_shard_records(3000)
        .every(Duration::from_secs(3600))
        .build()
        .unwrap();
    let mut added = Vec::new();
    for push in 0..4 {
        for i in 0..2500 {
            let r = record(push * 2500 + i);
            added.push(r.clone());
            store.add(r).await.unwrap();
        }
        store.flush().await.unwrap();
    }
    store.close().await.unwrap();
    assert!(hub.commits(REPO).len() >= 5, "one commit per push, plus the initial one");

    let picked: Vec<&ChatCompletionRecord> = [0usize, 1, 4999, 9999].iter().map(|&i| &added[i]).collect();
    let out = load_with_datasets(&hub, &picked).await;
    assert_eq!(out["num_rows"], 10_000);
    let columns: Vec<&str> = out["columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    let expected: Vec<&str> = observers_core::COLUMNS.iter().copied().filter(|c| *c != "synced_at").collect();
    assert_eq!(columns, expected);
    let messages = out["features"]["messages"].as_str().unwrap();
    assert!(
        messages.contains("'role'") && messages.contains("'content'"),
        "messages is a list of structs: {messages}"
    );
    assert!(out["features"]["total_tokens"].as_str().unwrap().contains("int32"));
    assert!(out["features"]["timestamp"].as_str().unwrap().contains("timestamp"));

    for r in picked {
        let row = &out["rows"][r.id.to_string()];
        assert_eq!(row["model"], "gpt-4o-mini");
        assert_eq!(row["messages"][1]["role"], "user");
        assert_eq!(row["messages"][1]["content"], r.messages[1].content.clone().unwrap());
        assert_eq!(row["assistant_message"], r.assistant_message.clone().unwrap());
        assert_eq!(row["completion_tokens"], json!(r.completion_tokens));
        assert_eq!(row["tags"], json!(r.tags));
        let properties: Value = serde_json::from_str(row["properties"].as_str().unwrap()).unwrap();
        assert_eq!(Some(properties), r.properties);
        assert_eq!(row["latency_ms"], 12.5);
        assert!(row["timestamp"]
            .as_str()
            .unwrap()
            .starts_with(&r.timestamp.format("%Y-%m-%dT%H:%M:%S").to_string()));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn shards_of_an_older_schema_load_together_with_new_ones() {
    use observers_store_hf::{shard_batch, shard_schema};
    use parquet::arrow::ArrowWriter;

    let hub = FakeHub::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("shards");
    std::fs::create_dir_all(&folder).unwrap();
    // A shard as version 1 of the schema wrote it (none of the columns from `cached_tokens`
    // on); its name sorts first, as older shards' names do, so `datasets` meets it first.
    let old: Vec<_> = (0..5).map(record).collect();
    let first_new = shard_schema().index_of("cached_tokens").unwrap();
    let keep: Vec<usize> = (0..first_new).collect();
    let batch = shard_batch(&old).unwrap().project(&keep).unwrap();
    let file =
        std::fs::File::create(folder.join("train-20000101T000000000Z-0000000000000000.parquet")).unwrap();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();

    let store = HubStore::builder()
        .repo_id(REPO)
        .endpoint(hub.endpoint())
        .token(fake::WRITE_TOKEN)
        .folder(&folder)
        .build()
        .unwrap();
    let new: Vec<_> = (5..8)
        .map(|i| {
            let mut r = record(i);
            r.user_id = Some(format!("user-{i}"));
            r
        })
        .collect();
    for r in &new {
        store.add(r.clone()).await.unwrap();
    }
    store.close().await.unwrap();

    let out = load_with_datasets(&hub, &[&old[0], &new[0]]).await;
    assert_eq!(out["num_rows"], 8);
    assert!(out["rows"][old[0].id.to_string()]["user_id"].is_null(), "{out}");
    assert_eq!(out["rows"][new[0].id.to_string()]["user_id"], "user-5");
    assert_eq!(out["rows"][old[0].id.to_string()]["latency_ms"], 12.5);
    assert_eq!(out["rows"][old[0].id.to_string()]["assistant_message"], "Answer 0");
}
