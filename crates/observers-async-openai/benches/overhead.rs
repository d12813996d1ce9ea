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
use observers_testkit::bench::{self, Latencies, QUESTION, SYSTEM_PROMPT};
use observers_testkit::openai::{MockOpenAi, Scenario};

/// The request of crates/observers-openai/benches/overhead.rs, in async-openai's types.
fn their_request() -> CreateChatCompletionRequest {
    CreateChatCompletionRequestArgs::default()
        .model("gpt-4o-mini")
        .messages([
            ChatCompletionRequestSystemMessage::from(SYSTEM_PROMPT.repeat(10)).into(),
            ChatCompletionRequestUserMessage::from(QUESTION.repeat(6)).into(),
        ])
        .temperature(0.7)
        .build()
        .unwrap()
}

fn our_request() -> ChatCompletionRequest {
    ChatCompletionRequest::new("gpt-4o-mini")
        .message(ChatMessage::system(SYSTEM_PROMPT.repeat(10)))
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

fn main() {
    let calls = bench::calls(3000);
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
        let (mut plain, mut streamed) = (Latencies::default(), Latencies::default());
        let (mut our_plain_row, mut our_streamed) = (Latencies::default(), Latencies::default());
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
            plain.baseline.push(b.0);
            plain.observed.push(w.0);
            our_plain_row.baseline.push(ob.0);
            our_plain_row.observed.push(ow.0);

            let (b, n) = timed(their_stream(&bare)).await;
            let (w, _) = timed(their_stream(&wrapped)).await;
            let (ob, _) = timed(our_stream(&ours_bare)).await;
            let (ow, _) = timed(our_stream(&ours_wrapped)).await;
            chunks_per_stream = n;
            streamed.baseline.push(b);
            streamed.observed.push(w);
            our_streamed.baseline.push(ob);
            our_streamed.observed.push(ow);
        }
        let mut per_chunk =
            Latencies { baseline: streamed.baseline.clone(), observed: streamed.observed.clone() };
        store.flush().await.unwrap();
        let rows = store.count().await.unwrap();

        println!(
            "async_openai_overhead: {calls} calls of each kind, {chunks_per_stream} chunks per stream, µs"
        );
        println!("| what | bare p50 | bare p99 | wrapped p50 | wrapped p99 | added p50 | added p99 |");
        println!("|---|---|---|---|---|---|---|");
        println!("{}", plain.row("async-openai plain call", 1.0));
        println!("{}", streamed.row("async-openai streamed call", 1.0));
        println!("{}", per_chunk.row("async-openai per streamed chunk", chunks_per_stream as f64));
        println!("{}", our_plain_row.row("observers client plain call (reference)", 1.0));
        println!("{}", our_streamed.row("observers client streamed call (reference)", 1.0));
        println!("rows recorded: {rows} (expected {})", 4 * calls + 2 * warmup);

        // 64 concurrent callers: each round runs 64 bare calls at once, then 64 wrapped ones;
        // latencies are per call.
        let mut concurrent = Latencies::default();
        for _ in 0..(calls / 64).max(10) {
            for (client, into) in [(&bare, &mut concurrent.baseline), (&wrapped, &mut concurrent.observed)] {
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
        println!("{}", concurrent.row("async-openai plain call, 64 concurrent callers", 1.0));
        store.close().await.unwrap();
    });
}
