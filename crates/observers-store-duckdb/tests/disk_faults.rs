//! Disk faults, each in a child process. A full disk (a file-size limit, `ulimit -f`): writes
//! fail with a clear, counted error, adding records never fails the caller, the file opens
//! afterwards. A read-only disk (a read-only bind mount in the child's own mount namespace):
//! a clear error, and the store is left untouched.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use observers_core::{ChatCompletionRecord, Store};
use observers_store_duckdb::DuckDbStore;

const CHILD: &str = "OBSERVERS_TEST_DISK_FULL_CHILD";

#[test]
fn a_full_disk_is_a_counted_error_not_a_crash() {
    if let Ok(path) = std::env::var(CHILD) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let store = DuckDbStore::open(&path).unwrap();
            for i in 0..3_000 {
                let mut r = ChatCompletionRecord::new("m");
                r.assistant_message = Some(format!("{i} {}", "y".repeat(4000)));
                // Adding never fails because the disk is full.
                store.add(r).await.unwrap();
            }
            let _ = store.flush().await;
            let stats = store.stats();
            println!("CHILD-RESULT written={} failed={}", stats.written, stats.failed);
        });
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    // Create the file with its schema first, without a limit.
    drop(DuckDbStore::open(&path).unwrap());
    let exe = std::env::current_exe().unwrap();
    let script = format!(
        "trap '' XFSZ; ulimit -f 4096; exec '{}' a_full_disk_is_a_counted_error_not_a_crash --exact --nocapture --test-threads=1",
        exe.display()
    );
    let output = Command::new("bash").args(["-c", &script]).env(CHILD, &path).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the process crashed: {stdout}\n{stderr}");
    let line = stdout.lines().find(|l| l.contains("CHILD-RESULT")).unwrap_or_else(|| panic!("{stdout}"));
    let number = |key: &str| -> u64 {
        line.split_whitespace().find_map(|kv| kv.strip_prefix(key)).unwrap().parse().unwrap()
    };
    let (written, failed) = (number("written="), number("failed="));
    assert_eq!(written + failed, 3_000, "{line}");
    assert!(failed > 0, "the size limit was never hit: {line}");

    // With room again, the file opens.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = DuckDbStore::open(&path).expect("the store opens after the disk was full");
        assert!(store.count().await.unwrap() <= written);
    });
}

const READ_ONLY_CHILD: &str = "OBSERVERS_TEST_READ_ONLY_CHILD";

#[test]
fn a_store_on_a_read_only_disk_gets_a_clear_error() {
    if let Ok(path) = std::env::var(READ_ONLY_CHILD) {
        match DuckDbStore::open(&path) {
            Ok(_) => println!("CHILD-RESULT opened"),
            Err(e) => println!("CHILD-RESULT {e}"),
        }
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    drop(DuckDbStore::open(&path).unwrap());
    let before = std::fs::read(&path).unwrap();
    // The folder becomes read-only in a mount namespace of the child's own.
    let script = format!(
        "mount --bind '{dir}' '{dir}' && mount -o remount,ro,bind '{dir}' && exec '{exe}' \
         a_store_on_a_read_only_disk_gets_a_clear_error --exact --nocapture --test-threads=1",
        dir = dir.path().display(),
        exe = std::env::current_exe().unwrap().display()
    );
    let output =
        Command::new("unshare").args(["--mount", "bash", "-c", &script]).env(READ_ONLY_CHILD, &path).output();
    let output = output.expect("`unshare` (util-linux) runs this test's child in its own mount namespace");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let line = stdout.lines().find(|l| l.contains("CHILD-RESULT")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.contains("cannot be written") && line.contains("writable disk"), "{line}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "the store is untouched");
}
