//! `observers export --otlp` as users run it: the real binary backfills an existing
//! `store.db` into a real Arize Phoenix, read back with Phoenix's own client. A collector that
//! is down marks nothing; a rerun sends the rest, and a record sent twice is one span.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use observers::openai::WrapOptions;
use observers::{wrap_openai_with, ChatCompletionRequest, ChatMessage, DuckDbStore, OpenAi, Store};
use observers_testkit::openai::{MockOpenAi, Scenario};
use observers_testkit::phoenix::Phoenix;
use serde_json::Value;

fn export(db: &Path, otlp: &str, project: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_observers"))
        .args(["export", "--otlp", otlp, "--db"])
        .arg(db)
        .args(["--page-size", "7"])
        .env("OTEL_RESOURCE_ATTRIBUTES", format!("openinference.project.name={project}"))
        .env("OTEL_EXPORTER_OTLP_TIMEOUT", "2000")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// A store with `n` recorded calls (every fifth one failed), as an application leaves it.
async fn store_with_calls(path: &Path, n: usize) -> Vec<String> {
    let ok = MockOpenAi::start_with(Scenario::Text).await.unwrap();
    let failing = MockOpenAi::start_with(Scenario::HttpError(500)).await.unwrap();
    let store = DuckDbStore::open(path).unwrap();
    let options = || WrapOptions::default().tags(["backfill"]);
    let good = wrap_openai_with(
        OpenAi::builder().base_url(ok.base_url()).build().unwrap(),
        store.clone(),
        options(),
    );
    let bad = wrap_openai_with(
        OpenAi::builder().base_url(failing.base_url()).build().unwrap(),
        store.clone(),
        options(),
    );
    for i in 0..n {
        let request =
            ChatCompletionRequest::new("gpt-4o-mini").message(ChatMessage::user(format!("question {i}")));
        if i % 5 == 4 {
            bad.chat().completions().create(request).await.unwrap_err();
        } else {
            good.chat().completions().create(request).await.unwrap();
        }
    }
    store.flush().await.unwrap();
    let ids = store.unsynced(None, 1000).await.unwrap().into_iter().map(|r| r.id.to_string()).collect();
    store.close().await.unwrap();
    ids
}

fn record_ids(spans: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = spans
        .iter()
        .map(|span| {
            let attributes = &span["attributes"];
            let id =
                attributes.get("observers.record_id").or_else(|| attributes["observers"].get("record_id"));
            id.and_then(Value::as_str)
                .unwrap_or_else(|| panic!("a span without its record id: {span:#}"))
                .to_owned()
        })
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_backfills_a_store_into_phoenix_resumably_and_never_twice() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let mut ids = store_with_calls(&db, 20).await;
    ids.sort();
    let phoenix = tokio::task::spawn_blocking(Phoenix::shared).await.unwrap();
    let project = "export-cli";

    // The collector is down: the command fails, says what to do, and marks nothing.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let down = export(&db, &format!("http://127.0.0.1:{closed}"), project);
    assert!(!down.status.success(), "{}", text(&down));
    assert!(text(&down).contains("run the export again"), "{}", text(&down));
    let store = DuckDbStore::open(&db).unwrap();
    assert_eq!(store.unexported_count().await.unwrap(), 20, "a failed page is not marked");
    store.close().await.unwrap();

    // Against Phoenix: every record once, in pages of 7.
    let up = export(&db, &phoenix.base_url(), project);
    assert!(up.status.success(), "{}", text(&up));
    assert!(String::from_utf8_lossy(&up.stdout).contains("exported 20 records"), "{}", text(&up));
    let spans = tokio::task::spawn_blocking(move || {
        Phoenix::shared().wait_for_spans(project, 20, Duration::from_secs(60)).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(record_ids(&spans), ids, "each record became one span");
    let errors = spans.iter().filter(|s| s["status_code"] == "ERROR").count();
    assert_eq!(errors, 4, "the failed calls are error spans");
    assert!(spans.iter().all(|s| s["name"] == "chat gpt-4o-mini"));

    // Again: nothing left to send, and Phoenix still has each record once.
    let again = export(&db, &phoenix.base_url(), project);
    assert!(again.status.success(), "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stdout).contains("exported 0 records"), "{}", text(&again));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let spans = tokio::task::spawn_blocking(move || Phoenix::shared().spans(project).unwrap()).await.unwrap();
    assert_eq!(record_ids(&spans), ids);

    // Sent again whole (as after a crash between a page's flush and its mark): the same
    // records are the same spans, which Phoenix keeps once.
    duckdb::Connection::open(&db).unwrap().execute_batch("DELETE FROM otlp_exports").unwrap();
    let resent = export(&db, &phoenix.base_url(), project);
    assert!(String::from_utf8_lossy(&resent.stdout).contains("exported 20 records"), "{}", text(&resent));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let spans = tokio::task::spawn_blocking(move || Phoenix::shared().spans(project).unwrap()).await.unwrap();
    assert_eq!(record_ids(&spans), ids, "no span twice");

    // A store that does not exist is not created.
    let missing = export(&dir.path().join("nope.db"), &phoenix.base_url(), project);
    assert!(!missing.status.success());
    assert!(text(&missing).contains("no store at"), "{}", text(&missing));
    assert!(!dir.path().join("nope.db").exists());
}
