//! A read-only disk (a read-only bind mount in a child process's own mount namespace): a clear
//! error, and the store is left untouched. (A full disk is tested end to end, through the
//! wrapped client, in the `observers` crate's `disk_full` test.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use observers_store_duckdb::DuckDbStore;

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
