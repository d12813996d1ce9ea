//! What observing costs an async-openai call: a bare async-openai client against the same
//! client wrapped with `observers_async_openai::wrap`, both calling the same loopback mock
//! server in the same run, interleaved call by call so machine noise hits both alike. For
//! reference, observers' own client bare and wrapped (`wrap_openai`) in the same run.
//! Reports p50/p99 latency and the difference, for plain and streamed calls, and per
//! streamed chunk. Store: DuckDB in a temporary file.
//!
//! `cargo bench -p observers-async-openai --bench overhead` (or `cargo xtask bench`).
//! `OBSERVERS_BENCH_CALLS` sets the number of calls of each kind (default 3000).

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::future::Future;
use std::time::{Duration, Instant};

use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage, CreateChatCompletionRequest,
    CreateChatCompletionRequestArgs,
};
use async_openai::Client;
use futures_util::StreamExt;
use observers_core::Store;
use observers_openai::{wrap_openai, ChatCompletionRequest, ChatMessage, OpenAi};
use observers_store_duckdb::DuckDbStore;
use observers_testkit::openai::{MockOpenAi, Scenario};

const SYSTEM: &str = "You are a helpful assistant. ";
const QUESTION: &str = "Explain in detail what an observability library does for LLM apps. ";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// The request of crates/observers-openai/benches/overhead.rs, in async-openai's types.
fn their_request() -> CreateChatCompletionRequest {
    CreateChatCompletionRequestArgs::default()
        .model("gpt-4o-mini")
        .messages([
            ChatCompletionRequestSystemMessage::from(SYSTEM.repeat(10)).into(),
            ChatCompletionRequestUserMessage::from(QUESTION.repeat(6)).into(),
        ])
        .temperature(0.7)
        .build()
        .unwrap()
}

fn our_request() -> ChatCompletionRequest {
    ChatCompletionRequest::new("gpt-4o-mini")
        .message(ChatMessage::system(SYSTEM.repeat(10)))
        .message(ChatMessage::user(QUESTION.repeat(6)))
        .temperature(0.7)
}

async fn timed<F: Future<Output = usize>>(call: F) -> (Duration, usize) {
    let start = Instant::now();
    let chunks = call.await;
    (start.elapsed(), chunks)
}

async fn their_plain(client: &Client<OpenAIConfig>) -> usize {
    client.chat().create(their_request()).await.unwrap();
    0
}

async fn their_stream(client: &Client<OpenAIConfig>) -> usize {
    let mut stream = client.chat().create_stream(their_request()).await.unwrap();
    let mut chunks = 0;
    while let Some(chunk) = stream.next().await {
        chunk.unwrap();
        chunks += 1;
    }
    chunks
}

async fn our_plain(client: &OpenAi) -> usize {
    client.chat().completions().create(our_request()).await.unwrap();
    0
}

async fn our_stream(client: &OpenAi) -> usize {
    let mut stream = client.chat().completions().create_stream(our_request()).await.unwrap();
    let mut chunks = 0;
    while let Some(chunk) = stream.next().await {
        chunk.unwrap();
        chunks += 1;
    }
    chunks
}

#[derive(Default)]
struct Row {
    bare: Vec<Duration>,
    wrapped: Vec<Duration>,
}

impl Row {
    fn print(&mut self, name: &str, per: f64) {
        self.bare.sort();
        self.wrapped.sort();
        let (b50, b99) = (percentile(&self.bare, 0.5), percentile(&self.bare, 0.99));
        let (w50, w99) = (percentile(&self.wrapped, 0.5), percentile(&self.wrapped, 0.99));
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} | {:.1} | {:+.1} | {:+.1} |",
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

        let config = OpenAIConfig::new().with_api_base(server.base_url()).with_api_key("sk-bench");
        let bare = Client::with_config(config.clone());
        let wrapped = observers_async_openai::wrap(Client::with_config(config), store.clone());
        let ours_bare = OpenAi::builder().base_url(server.base_url()).api_key("sk-bench").build().unwrap();
        let ours_wrapped = wrap_openai(ours_bare.clone(), store.clone());

        // Warm up connections and code paths.
        let warmup = 200;
        for _ in 0..warmup {
            their_plain(&bare).await;
            their_plain(&wrapped).await;
            our_plain(&ours_bare).await;
            our_plain(&ours_wrapped).await;
        }
        let (mut plain, mut streamed) = (Row::default(), Row::default());
        let (mut our_plain_row, mut our_streamed) = (Row::default(), Row::default());
        let mut chunks_per_stream = 0;
        for i in 0..calls {
            // Alternate which goes first, so neither always gets the warmer cache.
            let (b, w, ob, ow) = if i % 2 == 0 {
                let b = timed(their_plain(&bare)).await;
                let w = timed(their_plain(&wrapped)).await;
                let ob = timed(our_plain(&ours_bare)).await;
                let ow = timed(our_plain(&ours_wrapped)).await;
                (b, w, ob, ow)
            } else {
                let w = timed(their_plain(&wrapped)).await;
                let b = timed(their_plain(&bare)).await;
                let ow = timed(our_plain(&ours_wrapped)).await;
                let ob = timed(our_plain(&ours_bare)).await;
                (b, w, ob, ow)
            };
            plain.bare.push(b.0);
            plain.wrapped.push(w.0);
            our_plain_row.bare.push(ob.0);
            our_plain_row.wrapped.push(ow.0);

            let (b, n) = timed(their_stream(&bare)).await;
            let (w, _) = timed(their_stream(&wrapped)).await;
            let (ob, _) = timed(our_stream(&ours_bare)).await;
            let (ow, _) = timed(our_stream(&ours_wrapped)).await;
            chunks_per_stream = n;
            streamed.bare.push(b);
            streamed.wrapped.push(w);
            our_streamed.bare.push(ob);
            our_streamed.wrapped.push(ow);
        }
        let mut per_chunk = Row { bare: streamed.bare.clone(), wrapped: streamed.wrapped.clone() };
        store.flush().await.unwrap();
        let rows = store.count().await.unwrap();

        println!(
            "async_openai_overhead: {calls} calls of each kind, {chunks_per_stream} chunks per stream, µs"
        );
        println!("| what | bare p50 | bare p99 | wrapped p50 | wrapped p99 | added p50 | added p99 |");
        println!("|---|---|---|---|---|---|---|");
        plain.print("async-openai plain call", 1.0);
        streamed.print("async-openai streamed call", 1.0);
        per_chunk.print("async-openai per streamed chunk", chunks_per_stream as f64);
        our_plain_row.print("observers client plain call (reference)", 1.0);
        our_streamed.print("observers client streamed call (reference)", 1.0);
        println!("rows recorded: {rows} (expected {})", 4 * calls + 2 * warmup);

        // 64 concurrent callers: each round runs 64 bare calls at once, then 64 wrapped ones;
        // latencies are per call.
        let mut concurrent = Row::default();
        for _ in 0..(calls / 64).max(10) {
            for (client, into) in [(&bare, &mut concurrent.bare), (&wrapped, &mut concurrent.wrapped)] {
                let tasks: Vec<_> = (0..64)
                    .map(|_| {
                        let client = client.clone();
                        tokio::spawn(async move { timed(their_plain(&client)).await.0 })
                    })
                    .collect();
                for task in tasks {
                    into.push(task.await.unwrap());
                }
            }
        }
        println!("| what | bare p50 | bare p99 | wrapped p50 | wrapped p99 | added p50 | added p99 |");
        println!("|---|---|---|---|---|---|---|");
        concurrent.print("async-openai plain call, 64 concurrent callers", 1.0);
        store.close().await.unwrap();
    });
}
