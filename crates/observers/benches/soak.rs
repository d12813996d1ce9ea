//! Soak: many calls from 64 concurrent callers through the wrapped client into a DuckDB
//! file, against the local mock server. Checks that every call has exactly one row and no
//! error, and reports RSS at 10%, 50% and 100% of the run, with the part DuckDB's buffer
//! manager holds (its cache, which grows to its cap by design) and the rest, which must stay
//! flat.
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

fn main() {
    let calls: usize =
        std::env::var("OBSERVERS_BENCH_CALLS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
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
    });
}

/// Memory DuckDB's buffer manager holds (its cache and the table's index), in MiB.
async fn duckdb_mib(store: &DuckDbStore) -> f64 {
    use observers::core::arrow::array::{Array, Int64Array};
    let batches = store.query("SELECT sum(memory_usage_bytes)::BIGINT FROM duckdb_memory()").await.unwrap();
    let column = batches[0].column(0).as_any().downcast_ref::<Int64Array>().unwrap();
    column.value(0) as f64 / (1 << 20) as f64
}
