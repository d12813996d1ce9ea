//! Group commit, as a user relies on it: a record reaches the file no later than the flush
//! interval after it was added, with no flush (a hard kill after that keeps it); before the
//! interval, it is still in memory (the documented window a hard kill can lose).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use observers_core::{ChatCompletionRecord, Store};
use observers_store_duckdb::DuckDbStore;

const CHILD: &str = "OBSERVERS_TEST_GROUP_COMMIT_CHILD";
const INTERVAL: &str = "OBSERVERS_TEST_GROUP_COMMIT_INTERVAL_MS";

/// The child: opens the store with the interval it is given, adds 3 records, says so, and
/// waits to be killed (never flushing, never closing).
fn add_and_wait(path: &str, interval: Duration) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = DuckDbStore::builder(path).flush_interval(interval).open().unwrap();
        for i in 0..3 {
            store.add(ChatCompletionRecord::new(format!("m{i}"))).await.unwrap();
        }
        let mut out = std::io::stdout().lock();
        writeln!(out, "ADDED").unwrap();
        out.flush().unwrap();
        tokio::time::sleep(Duration::from_secs(3600)).await;
    });
}

/// Runs the child with `interval`, kills it (SIGKILL) `wait` after it added its records, and
/// returns how many records the file holds.
fn records_after_kill(test: &str, interval: Duration, wait: Duration) -> u64 {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, &path)
        .env(INTERVAL, interval.as_millis().to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // libtest may print the test's name on the same line, before ours.
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (added, said) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if stdout.lines().map_while(Result::ok).any(|line| line.ends_with("ADDED")) {
            let _ = added.send(());
        }
    });
    if said.recv_timeout(Duration::from_secs(60)).is_err() {
        let _ = child.kill();
        panic!("the child did not add its records within 60 s");
    }
    std::thread::sleep(wait);
    child.kill().unwrap(); // SIGKILL: no destructor, no final write
    child.wait().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = DuckDbStore::open(&path).expect("the store opens after a hard kill");
        let count = store.count().await.unwrap();
        store.close().await.unwrap();
        count
    })
}

fn child_mode() -> bool {
    let Ok(path) = std::env::var(CHILD) else { return false };
    let millis: u64 = std::env::var(INTERVAL).unwrap().parse().unwrap();
    add_and_wait(&path, Duration::from_millis(millis));
    true
}

#[test]
fn a_record_is_in_the_file_within_the_flush_interval() {
    if child_mode() {
        return;
    }
    let test = "a_record_is_in_the_file_within_the_flush_interval";
    // 300 ms interval, killed 1.3 s after: written by then, with a second of slack.
    assert_eq!(records_after_kill(test, Duration::from_millis(300), Duration::from_millis(1300)), 3);
}

#[test]
fn a_hard_kill_within_the_interval_loses_only_that_interval() {
    if child_mode() {
        return;
    }
    let test = "a_hard_kill_within_the_interval_loses_only_that_interval";
    // A 30 s interval, killed after 0.5 s: the records were still waiting, as documented.
    assert_eq!(records_after_kill(test, Duration::from_secs(30), Duration::from_millis(500)), 0);
}
