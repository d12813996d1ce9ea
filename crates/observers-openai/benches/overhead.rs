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
use observers_openai::{wrap_openai, ChatCompletionRequest, ChatMessage, OpenAi};
use observers_store_duckdb::DuckDbStore;
use observers_testkit::openai::{MockOpenAi, Scenario};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn request() -> ChatCompletionRequest {
    ChatCompletionRequest::new("gpt-4o-mini")
        .message(ChatMessage::system("You are a helpful assistant. ".repeat(10)))
        .message(ChatMessage::user(
            "Explain in detail what an observability library does for LLM apps. ".repeat(6),
        ))
        .temperature(0.7)
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

struct Row {
    name: &'static str,
    bare: Vec<Duration>,
    wrapped: Vec<Duration>,
}

impl Row {
    fn print(&mut self, per: f64) {
        self.bare.sort();
        self.wrapped.sort();
        let (b50, b99) = (percentile(&self.bare, 0.5), percentile(&self.bare, 0.99));
        let (w50, w99) = (percentile(&self.wrapped, 0.5), percentile(&self.wrapped, 0.99));
        println!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {:+.1} | {:+.1} |",
            self.name,
            micros(b50) / per,
            micros(b99) / per,
            micros(w50) / per,
            micros(w99) / per,
            (micros(w50) - micros(b50)) / per,
            (micros(w99) - micros(b99)) / per,
        );
    }
}

fn main() {
    let calls: usize =
        std::env::var("OBSERVERS_BENCH_CALLS").ok().and_then(|v| v.parse().ok()).unwrap_or(3000);
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
        let mut plain = Row { name: "plain call", bare: Vec::new(), wrapped: Vec::new() };
        let mut streamed = Row { name: "streamed call", bare: Vec::new(), wrapped: Vec::new() };
        let mut per_chunk = Row { name: "per streamed chunk", bare: Vec::new(), wrapped: Vec::new() };
        let mut chunks_per_stream = 0;
        for i in 0..calls {
            // Alternate which goes first, so neither always gets the warmer cache.
            if i % 2 == 0 {
                plain.bare.push(plain_call(&bare).await);
                plain.wrapped.push(plain_call(&wrapped).await);
            } else {
                plain.wrapped.push(plain_call(&wrapped).await);
                plain.bare.push(plain_call(&bare).await);
            }
            let (b, n) = streamed_call(&bare).await;
            let (w, _) = streamed_call(&wrapped).await;
            chunks_per_stream = n;
            streamed.bare.push(b);
            streamed.wrapped.push(w);
        }
        per_chunk.bare = streamed.bare.clone();
        per_chunk.wrapped = streamed.wrapped.clone();
        store.flush().await.unwrap();
        let rows = store.count().await.unwrap();

        println!("overhead: {calls} calls of each kind, {chunks_per_stream} chunks per stream, µs");
        println!("| what | bare p50 | bare p99 | wrapped p50 | wrapped p99 | added p50 | added p99 |");
        println!("|---|---|---|---|---|---|---|");
        plain.print(1.0);
        streamed.print(1.0);
        per_chunk.print(chunks_per_stream as f64);
        println!("rows recorded: {rows} (expected {})", 2 * calls + 200);

        // 64 concurrent callers: each round runs 64 bare calls at once, then 64 wrapped ones;
        // latencies are per call.
        let mut concurrent =
            Row { name: "plain call, 64 concurrent callers", bare: Vec::new(), wrapped: Vec::new() };
        for _ in 0..(calls / 64).max(10) {
            for (client, into) in [(&bare, &mut concurrent.bare), (&wrapped, &mut concurrent.wrapped)] {
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
        concurrent.print(1.0);
        store.close().await.unwrap();
    });
}
