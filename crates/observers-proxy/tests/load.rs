//! A thousand streaming clients at once through one proxy, on the machine's cores (2 on the
//! project's): every stream is relayed whole, none fails, every call is a row.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{chat_body, Setup};
use futures_util::StreamExt;
use observers_testkit::openai::{Scenario, MOCK_ANSWER_PREFIX};

const CLIENTS: usize = 1000;
/// Every stream waits this long for its first token, so all of them are open at once.
const FIRST_TOKEN: Duration = Duration::from_secs(5);

/// Each call holds four descriptors in this process (client, proxy's two sides, mock).
fn raise_open_files_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let needed = (CLIENTS as u64) * 4 + 1024;
    let limit = getrlimit(Resource::Nofile);
    if limit.current.is_some_and(|current| current >= needed) {
        return;
    }
    let hard = limit.maximum;
    assert!(
        hard.is_none_or(|hard| hard >= needed),
        "this test needs {needed} open files but the hard limit is {hard:?}: raise it (ulimit -Hn {needed})"
    );
    setrlimit(Resource::Nofile, Rlimit { current: hard.or(Some(needed)), maximum: hard }).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_streams_are_all_relayed_and_recorded() {
    raise_open_files_limit();
    let slow = Scenario::SlowFirstToken(FIRST_TOKEN);
    let mut s = Setup::new(slow).await;
    s.mock.set_recording(false);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(120)).build().unwrap();
    let url = s.url("/v1/chat/completions");
    let (open, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let started = Instant::now();
    let calls: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (client, url, open, peak) = (client.clone(), url.clone(), open.clone(), peak.clone());
            tokio::spawn(async move {
                let response = client
                    .post(url)
                    .header("authorization", "Bearer sk-load")
                    .header("x-observers-tags", "load")
                    .body(chat_body("gpt-4o-mini", &format!("question {i}"), true))
                    .send()
                    .await
                    .map_err(|e| format!("call {i}: {e}"))?;
                if response.status() != 200 {
                    return Err(format!("call {i}: HTTP {}", response.status()));
                }
                let now_open = open.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now_open, Ordering::SeqCst);
                let mut body = Vec::new();
                let mut pieces = response.bytes_stream();
                while let Some(piece) = pieces.next().await {
                    body.extend_from_slice(&piece.map_err(|e| format!("call {i}: {e}"))?);
                }
                open.fetch_sub(1, Ordering::SeqCst);
                let body = String::from_utf8_lossy(&body);
                if !body.ends_with("data: [DONE]\n\n") {
                    return Err(format!("call {i}: the stream did not end: {body}"));
                }
                Ok(())
            })
        })
        .collect();
    let mut failures = Vec::new();
    for call in calls {
        if let Err(failure) = call.await.unwrap() {
            failures.push(failure);
        }
    }
    let elapsed = started.elapsed();
    assert!(
        failures.is_empty(),
        "{} of {CLIENTS} calls failed, e.g. {:?}",
        failures.len(),
        &failures[..3.min(failures.len())]
    );
    let peak = peak.load(Ordering::SeqCst);
    eprintln!("{CLIENTS} streams in {elapsed:?}, {peak} open at once");
    assert_eq!(peak, CLIENTS, "the streams were not all open at once");

    let stats = s.shutdown().await;
    assert_eq!(
        (stats.requests, stats.recorded, stats.upstream_failures, stats.records_lost),
        (1000, 1000, 0, 0)
    );
    let rows = s.rows().await;
    assert_eq!(rows.len(), CLIENTS);
    let mut questions: Vec<usize> = rows
        .iter()
        .map(|row| {
            assert!(row.error.is_none(), "{:?}", row.error);
            assert_eq!(row.tags, ["load"]);
            let question = row.messages[1].content.as_deref().unwrap();
            assert_eq!(
                row.assistant_message.as_deref(),
                Some(format!("{MOCK_ANSWER_PREFIX}{question}").as_str())
            );
            question.strip_prefix("question ").unwrap().parse().unwrap()
        })
        .collect();
    questions.sort_unstable();
    assert_eq!(questions, (0..CLIENTS).collect::<Vec<_>>(), "every call is one row");
}
