//! A hard kill (SIGKILL) while writing at full speed: the store opens afterwards, reads in
//! full, passes DuckDB's own checks, and holds every record whose `flush()` had returned.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use observers_core::{ChatCompletionRecord, Message, Store};
use observers_store_duckdb::DuckDbStore;
use observers_testkit::tools;

const CHILD: &str = "OBSERVERS_TEST_CRASH_CHILD";

/// The child: adds records as fast as it can, flushing every 500 and saying how many were
/// flushed, until it is killed.
fn write_until_killed(path: &str) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = DuckDbStore::open(path).unwrap();
        let mut flushed = 0u64;
        loop {
            for i in 0..500 {
                let mut r = ChatCompletionRecord::new("gpt-4o-mini");
                r.messages = vec![Message::new("user", format!("record {}", flushed + i))];
                r.assistant_message = Some("x".repeat(2000));
                store.add(r).await.unwrap();
            }
            store.flush().await.unwrap();
            flushed += 500;
            let mut out = std::io::stdout().lock();
            writeln!(out, "FLUSHED {flushed}").unwrap();
            out.flush().unwrap();
        }
    });
}

#[test]
fn a_hard_kill_keeps_every_flushed_record() {
    if let Ok(path) = std::env::var(CHILD) {
        write_until_killed(&path);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["a_hard_kill_keeps_every_flushed_record", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, &path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut flushed = 0u64;
    while flushed < 5000 {
        assert!(Instant::now() < deadline, "the child flushed only {flushed} records in 60 s");
        let line = lines.next().expect("the child stopped early").unwrap();
        if let Some(n) = line.strip_prefix("FLUSHED ") {
            flushed = n.parse().unwrap();
        }
    }
    child.kill().unwrap(); // SIGKILL: no destructor, no final flush
    child.wait().unwrap();
    drop(lines);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let count = runtime.block_on(async {
        let store = DuckDbStore::open(&path).expect("the store opens after a hard kill");
        let count = store.count().await.unwrap();
        assert!(count >= flushed, "{count} records survived, {flushed} had been flushed");
        // Every row reads back whole.
        let mut read = 0;
        let mut after = None;
        loop {
            let page = store.unsynced(after, 2000).await.unwrap();
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            assert!(page.iter().all(|r| r.assistant_message.as_deref().map(str::len) == Some(2000)));
            read += page.len() as u64;
        }
        assert_eq!(read, count);
        // And the store keeps working.
        store.add(ChatCompletionRecord::new("after")).await.unwrap();
        store.close().await.unwrap();
        count + 1
    });

    // DuckDB has no integrity-check statement: it verifies a checksum on every block it reads.
    // So the CLI users have (its own build of DuckDB) reads every column of every row, checks
    // that recovery wrote no row twice, and checkpoints the file.
    let check =
        "SELECT count(*), count(DISTINCT id), bool_and(length(t::VARCHAR) > 0) FROM openai_records AS t;";
    assert_eq!(tools::duckdb_csv(&path, check, true).trim(), format!("{count},{count},true"));
    let checkpoint = "CHECKPOINT; SELECT count(*) FROM openai_records;";
    assert_eq!(tools::duckdb_csv(&path, checkpoint, false).trim(), count.to_string());
}
