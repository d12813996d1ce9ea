//! Soak: many calls from 64 concurrent callers through the wrapped client into a DuckDB
//! file, against the local mock server. Checks that every call has exactly one row and no
//! error, and reports RSS at 10%, 50% and 100% of the run, with the part DuckDB's buffer
//! manager holds (its cache, which grows to its cap by design) and the rest, which must stay
//! flat.
//!
//! Then the memory an application pays for observing: the same calls made by the same app
//! without observers (the bare client, in a child process of its own), peak RSS against peak
//! RSS, with DuckDB's share of the difference apart.
//!
//! `OBSERVERS_BENCH_CALLS=1000000 cargo bench -p observers --bench soak` (or `cargo xtask
//! bench`; default 100,000 calls). CI runs a 10,000-call version as a test.

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use observers::{wrap_openai, ChatCompletionRequest, ChatMessage, DuckDbStore, OpenAi, Store};
use observers_testkit::openai::{MockOpenAi, Scenario};
use observers_testkit::records::rss_mib;

const CALLERS: usize = 64;
/// Set in the child process that makes the calls without observers.
const BARE_VAR: &str = "OBSERVERS_SOAK_BARE";

/// The app without observers: the same calls from the same callers with the bare client;
/// prints its peak RSS.
fn bare_app(calls: usize) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let server = MockOpenAi::start_with(Scenario::Text).await.unwrap();
        server.set_recording(false);
        let client = OpenAi::builder().base_url(server.base_url()).build().unwrap();
        let callers: Vec<_> = (0..CALLERS)
            .map(|caller| {
                let client = client.clone();
                tokio::spawn(async move {
                    for n in (caller..calls).step_by(CALLERS) {
                        let request = ChatCompletionRequest::new("gpt-4o-mini")
                            .message(ChatMessage::user(format!("call {n}")));
                        client.chat().completions().create(request).await.unwrap();
                    }
                })
            })
            .collect();
        for caller in callers {
            caller.await.unwrap();
        }
    });
    println!("PEAK {}", rss_mib().1);
}

/// The bare app's peak RSS in MiB, from a child process.
fn bare_peak(calls: usize) -> f64 {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .env(BARE_VAR, "1")
        .env("OBSERVERS_BENCH_CALLS", calls.to_string())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines().find_map(|l| l.strip_prefix("PEAK ")).and_then(|v| v.trim().parse().ok()).unwrap()
}

fn main() {
    let calls: usize =
        std::env::var("OBSERVERS_BENCH_CALLS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    if std::env::var_os(BARE_VAR).is_some() {
        bare_app(calls);
        return;
    }
    let bare = bare_peak(calls);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let server = MockOpenAi::start_with(Scenario::Text).await.unwrap();
        server.set_recording(false); // millions of kept requests would be the memory growth
        let dir = tempfile::tempdir().unwrap();
        let store = DuckDbStore::open(dir.path().join("store.db")).unwrap();
        let client =
            wrap_openai(OpenAi::builder().base_url(server.base_url()).build().unwrap(), store.clone());
        let done = Arc::new(AtomicUsize::new(0));
        let marks = Arc::new(std::sync::Mutex::new(Vec::new()));
        let start = Instant::now();
        let callers: Vec<_> = (0..CALLERS)
            .map(|caller| {
                let (client, done, marks, store) =
                    (client.clone(), done.clone(), marks.clone(), store.clone());
                tokio::spawn(async move {
                    for n in (caller..calls).step_by(CALLERS) {
                        let request = ChatCompletionRequest::new("gpt-4o-mini")
                            .message(ChatMessage::user(format!("call {n}")));
                        client.chat().completions().create(request).await.unwrap();
                        let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                        if finished == calls / 10 || finished == calls / 2 || finished == calls {
                            let rss = rss_mib().0;
                            let duckdb = duckdb_mib(&store).await;
                            marks.lock().unwrap().push((finished, rss, duckdb));
                        }
                    }
                })
            })
            .collect();
        for caller in callers {
            caller.await.unwrap();
        }
        let elapsed = start.elapsed();
        store.flush().await.unwrap();
        let rows = store.count().await.unwrap();
        assert_eq!(rows, calls as u64, "every call has exactly one row");
        assert_eq!((store.stats().failed, client.records_lost()), (0, 0));
        println!("soak: {calls} calls from {CALLERS} callers, DuckDB store");
        println!("| calls done | RSS MiB | DuckDB's buffers MiB | RSS outside them MiB |");
        println!("|---|---|---|---|");
        let mut marks = marks.lock().unwrap().clone();
        marks.sort_by_key(|(finished, _, _)| *finished);
        for (finished, rss, duckdb) in marks {
            println!("| {finished} | {rss:.0} | {duckdb:.0} | {:.0} |", rss - duckdb);
        }
        println!("{:.0} calls/s, {rows} rows, 0 errors", calls as f64 / elapsed.as_secs_f64());
        let duckdb = duckdb_mib(&store).await;
        let observed = rss_mib().1;
        println!(
            "peak RSS: app without observers {bare:.0} MiB, with observers and DuckDB {observed:.0} MiB: {:+.0} MiB, of which DuckDB's buffers {duckdb:.0} MiB (capped at 512 MB), the rest {:+.0} MiB",
            observed - bare,
            observed - bare - duckdb
        );
    });
}

/// Memory DuckDB's buffer manager holds (its cache and the table's index), in MiB.
async fn duckdb_mib(store: &DuckDbStore) -> f64 {
    use observers::core::arrow::array::{Array, Int64Array};
    let batches = store.query("SELECT sum(memory_usage_bytes)::BIGINT FROM duckdb_memory()").await.unwrap();
    let column = batches[0].column(0).as_any().downcast_ref::<Int64Array>().unwrap();
    column.value(0) as f64 / (1 << 20) as f64
}
