//! What observing costs a call: the wrapped client against the bare one, both calling the
//! same loopback mock server in the same run, interleaved call by call so machine noise hits
//! both alike. Reports p50/p99 latency of each and the difference, for plain and streamed
//! calls, and per streamed chunk. Store: DuckDB in a temporary file.
//!
//! `cargo bench -p observers-openai --bench overhead` (or `cargo xtask bench`).

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use observers_core::Store;
use observers_openai::{wrap_openai, ChatCompletionRequest, OpenAi};
use observers_store_duckdb::DuckDbStore;
use observers_testkit::bench::{self, Latencies};
use observers_testkit::openai::{MockOpenAi, Scenario};

fn request() -> ChatCompletionRequest {
    ChatCompletionRequest::from_json(bench::request_json(false)).unwrap()
}

async fn plain_call(client: &OpenAi) -> Duration {
    let start = Instant::now();
    client.chat().completions().create(request()).await.unwrap();
    start.elapsed()
}

async fn streamed_call(client: &OpenAi) -> (Duration, usize) {
    let start = Instant::now();
    let mut stream = client.chat().completions().create_stream(request()).await.unwrap();
    let mut chunks = 0;
    while let Some(chunk) = stream.next().await {
        chunk.unwrap();
        chunks += 1;
    }
    (start.elapsed(), chunks)
}

fn main() {
    let calls = bench::calls(3000);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let server = MockOpenAi::start_with(Scenario::Text).await.unwrap();
        server.set_recording(false); // millions of kept requests would be the memory growth
        let dir = tempfile::tempdir().unwrap();
        let store = DuckDbStore::open(dir.path().join("store.db")).unwrap();
        let bare = OpenAi::builder().base_url(server.base_url()).api_key("sk-bench").build().unwrap();
        let wrapped = wrap_openai(bare.clone(), store.clone());

        // Warm up connections and code paths.
        for _ in 0..200 {
            plain_call(&bare).await;
            plain_call(&wrapped).await;
        }
        let mut plain = Latencies::default();
        let mut streamed = Latencies::default();
        let mut per_chunk = Latencies::default();
        let mut chunks_per_stream = 0;
        for i in 0..calls {
            // Alternate which goes first, so neither always gets the warmer cache.
            if i % 2 == 0 {
                plain.baseline.push(plain_call(&bare).await);
                plain.observed.push(plain_call(&wrapped).await);
            } else {
                plain.observed.push(plain_call(&wrapped).await);
                plain.baseline.push(plain_call(&bare).await);
            }
            let (b, n) = streamed_call(&bare).await;
            let (w, _) = streamed_call(&wrapped).await;
            chunks_per_stream = n;
            streamed.baseline.push(b);
            streamed.observed.push(w);
        }
        per_chunk.baseline = streamed.baseline.clone();
        per_chunk.observed = streamed.observed.clone();
        store.flush().await.unwrap();
        let rows = store.count().await.unwrap();

        println!("overhead: {calls} calls of each kind, {chunks_per_stream} chunks per stream, µs");
        println!("| what | bare p50 | bare p99 | wrapped p50 | wrapped p99 | added p50 | added p99 |");
        println!("|---|---|---|---|---|---|---|");
        println!("{}", plain.row("plain call", 1.0));
        println!("{}", streamed.row("streamed call", 1.0));
        println!("{}", per_chunk.row("per streamed chunk", chunks_per_stream as f64));
        println!("rows recorded: {rows} (expected {})", 2 * calls + 200);

        // 64 concurrent callers: each round runs 64 bare calls at once, then 64 wrapped ones;
        // latencies are per call.
        let mut concurrent = Latencies::default();
        for _ in 0..(calls / 64).max(10) {
            for (client, into) in [(&bare, &mut concurrent.baseline), (&wrapped, &mut concurrent.observed)] {
                let tasks: Vec<_> = (0..64)
                    .map(|_| {
                        let client = client.clone();
                        tokio::spawn(async move { plain_call(&client).await })
                    })
                    .collect();
                for task in tasks {
                    into.push(task.await.unwrap());
                }
            }
        }
        println!("| what | bare p50 | bare p99 | wrapped p50 | wrapped p99 | added p50 | added p99 |");
        println!("|---|---|---|---|---|---|---|");
        println!("{}", concurrent.row("plain call, 64 concurrent callers", 1.0));
        store.close().await.unwrap();
    });
}
