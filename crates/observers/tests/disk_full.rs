//! A full disk under a wrapped client (a child process with a file-size limit, `ulimit -f`):
//! every call succeeds, the store counts the records it could not write, nothing crashes, and
//! the file opens afterwards.

#![cfg(all(feature = "openai", feature = "duckdb"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // the child reports on stdout

use std::process::Command;

use observers::{wrap_openai, ChatCompletionRequest, ChatMessage, DuckDbStore, OpenAi, Store};
use observers_testkit::openai::MockOpenAi;

const CHILD: &str = "OBSERVERS_TEST_DISK_FULL_CHILD";
const CALLS: u64 = 3_000;

/// The child: `CALLS` calls through the wrapped client into the store at `path`, on a disk that
/// fills up; prints how many calls failed and what the store wrote.
fn calls_on_a_full_disk(path: &str) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let server = MockOpenAi::start().await.unwrap();
        server.set_recording(false);
        let store = DuckDbStore::open(path).unwrap();
        let client =
            wrap_openai(OpenAi::builder().base_url(server.base_url()).build().unwrap(), store.clone());
        let mut failed_calls = 0;
        for i in 0..CALLS {
            let request = ChatCompletionRequest::new("gpt-4o-mini")
                .message(ChatMessage::user(format!("{i} {}", "y".repeat(4000))));
            if client.chat().completions().create(request).await.is_err() {
                failed_calls += 1;
            }
        }
        let _ = store.flush().await;
        let stats = store.stats();
        println!(
            "CHILD-RESULT calls_failed={failed_calls} written={} failed={}",
            stats.written, stats.failed
        );
    });
}

#[test]
fn on_a_full_disk_calls_succeed_and_lost_records_are_counted() {
    if let Ok(path) = std::env::var(CHILD) {
        calls_on_a_full_disk(&path);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    // Create the file with its schema first, without a limit.
    drop(DuckDbStore::open(&path).unwrap());
    let exe = std::env::current_exe().unwrap();
    let script = format!(
        "trap '' XFSZ; ulimit -f 4096; exec '{}' on_a_full_disk_calls_succeed_and_lost_records_are_counted \
         --exact --nocapture --test-threads=1",
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
    assert_eq!(number("calls_failed="), 0, "a full disk failed calls: {line}");
    let (written, failed) = (number("written="), number("failed="));
    assert_eq!(written + failed, CALLS, "{line}");
    assert!(failed > 0, "the size limit was never hit: {line}");

    // With room again, the file opens.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = DuckDbStore::open(&path).expect("the store opens after the disk was full");
        assert!(store.count().await.unwrap() <= written);
    });
}
