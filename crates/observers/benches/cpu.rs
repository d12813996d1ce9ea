//! What observing costs in CPU, at the steady rates a service sees: process CPU time (every
//! thread: the caller's, the runtime's and the store's writer) per call, with the bare client
//! and with the observed one, in the same run. The mock OpenAI server and the fake Hub run in
//! a child process, so their CPU is not counted.
//!
//! For each rate (10, 100, 1,000 and 5,000 calls/s, and a burst of calls as fast as they go)
//! and each kind of call (plain, streamed), calls start on a fixed schedule (each its own
//! task, so a slow call does not delay the next); CPU is read before the first and after
//! the store has written the last (`flush`). Reports µs per call and the difference.
//!
//! The DuckDB store already holds [`PREFILLED`] rows, as a store in use for a while does: a cost
//! that grows with the store (as a primary key's index did) shows here, not on an empty file.
//!
//! `cargo bench -p observers --bench cpu` (or `cargo xtask bench`); `OBSERVERS_BENCH_SECONDS`
//! scales the run length (default 1.0).

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use observers::hf::HubStore;
use observers::{wrap_openai, ChatCompletionRequest, ChatMessage, DuckDbStore, OpenAi, Store};
use observers_testkit::bench::ChildServers;
use observers_testkit::hub as fake;
use observers_testkit::records::{process_cpu, realistic, KeptStore};

/// Rows in the DuckDB store before the first measured call.
const PREFILLED: usize = 100_000;

fn request(i: usize) -> ChatCompletionRequest {
    ChatCompletionRequest::new("gpt-4o-mini")
        .message(ChatMessage::system("You are a helpful assistant. ".repeat(10)))
        .message(ChatMessage::user(format!(
            "{i}: {}",
            "Explain in detail what an observability library does for LLM apps. ".repeat(6)
        )))
        .temperature(0.7)
}

async fn call(client: OpenAi, i: usize, streamed: bool) {
    if !streamed {
        client.chat().completions().create(request(i)).await.unwrap();
        return;
    }
    let mut stream = client.chat().completions().create_stream(request(i)).await.unwrap();
    while let Some(chunk) = stream.next().await {
        chunk.unwrap();
    }
}

/// Runs `calls` calls at `rate` per second (`None`: as fast as 64 concurrent callers go), then
/// flushes `store`; returns the CPU per call in µs and the rows/s the calls came at.
async fn run(
    client: &OpenAi,
    store: Option<&dyn Store>,
    rate: Option<f64>,
    calls: usize,
    streamed: bool,
) -> (f64, f64) {
    let start = Instant::now();
    let cpu = process_cpu();
    match rate {
        Some(rate) => {
            let mut tasks = Vec::with_capacity(calls);
            let period = Duration::from_secs_f64(1.0 / rate);
            let mut ticker = tokio::time::interval(period);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            for i in 0..calls {
                ticker.tick().await;
                tasks.push(tokio::spawn(call(client.clone(), i, streamed)));
            }
            for task in tasks {
                task.await.unwrap();
            }
        }
        None => {
            let per_caller = calls / 64;
            let tasks: Vec<_> = (0..64)
                .map(|caller| {
                    let client = client.clone();
                    tokio::spawn(async move {
                        for i in 0..per_caller {
                            call(client.clone(), caller * per_caller + i, streamed).await;
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
        }
    }
    if let Some(store) = store {
        store.flush().await.unwrap();
    }
    let used = process_cpu() - cpu;
    (used.as_secs_f64() * 1e6 / calls as f64, calls as f64 / start.elapsed().as_secs_f64())
}

fn main() {
    if ChildServers::serve_if_child() {
        return;
    }
    let scale: f64 =
        std::env::var("OBSERVERS_BENCH_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(1.0);
    let servers = ChildServers::start();
    let (openai_url, hub_url) = (servers.openai.clone(), servers.hub.clone());

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let bare = OpenAi::builder().base_url(&openai_url).api_key("sk-bench").build().unwrap();
        let path = dir.path().join("store.db");
        let duckdb = DuckDbStore::open(&path).unwrap();
        for i in 0..PREFILLED {
            duckdb.add(realistic(i)).await.unwrap();
        }
        // Closing checkpoints, so the prefill's own compression is not billed to a rate below.
        duckdb.close().await.unwrap();
        let duckdb = DuckDbStore::open(&path).unwrap();
        // The wrapper's own work (building each record) with a store that only keeps it.
        let kept = KeptStore::default();
        let hub = HubStore::builder()
            .repo_id(format!("{}/bench-cpu", fake::USER))
            .endpoint(&hub_url)
            .token(fake::WRITE_TOKEN)
            .folder(dir.path().join("shards"))
            .build()
            .unwrap();
        let with_duckdb = wrap_openai(bare.clone(), duckdb.clone());
        let with_hub = wrap_openai(bare.clone(), hub.clone());
        let with_kept = wrap_openai(bare.clone(), kept.clone());
        // Warm up connections, code paths, the store's first write.
        for client in [&bare, &with_kept, &with_duckdb, &with_hub] {
            run(client, None, Some(1000.0), 200, false).await;
            run(client, None, Some(1000.0), 200, true).await;
        }
        duckdb.flush().await.unwrap();

        println!(
            "cpu: process CPU per call (µs, every thread), steady rates, mock server in another process, DuckDB store holding {PREFILLED} rows"
        );
        println!(
            "| calls/s | call | bare | in memory | added | DuckDB | added | Hub | added | calls/s reached |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|");
        // Each run lasts about `seconds` (at least 100 calls).
        let rates: [(Option<f64>, f64); 5] =
            [(Some(10.0), 10.0), (Some(100.0), 5.0), (Some(1000.0), 3.0), (Some(5000.0), 2.0), (None, 2.0)];
        for (rate, seconds) in rates {
            for streamed in [false, true] {
                let calls = match rate {
                    Some(rate) => ((rate * seconds * scale) as usize).max(100),
                    None => ((20_000.0 * scale) as usize).max(640),
                };
                // Alternate the order so neither always meets the warmer machine.
                let (b, _) = run(&bare, None, rate, calls, streamed).await;
                let (k, _) = run(&with_kept, Some(&kept), rate, calls, streamed).await;
                let (d, reached) = run(&with_duckdb, Some(&duckdb), rate, calls, streamed).await;
                let (h, _) = run(&with_hub, Some(&hub), rate, calls, streamed).await;
                let label = rate.map_or("burst (64 callers)".to_string(), |r| format!("{r:.0}"));
                let kind = if streamed { "streamed" } else { "plain" };
                println!(
                    "| {label} | {kind} | {b:.1} | {k:.1} | {:+.1} | {d:.1} | {:+.1} | {h:.1} | {:+.1} | {reached:.0} |",
                    k - b,
                    d - b,
                    h - b
                );
            }
        }
        println!(
            "in memory: the wrapper's own work, records kept in a Vec. Hub: includes one push to the \
             fake Hub per run (its flush), which an app pays once per push interval (5 min)"
        );
        let idle = process_cpu();
        tokio::time::sleep(Duration::from_secs(2)).await;
        println!(
            "idle CPU with both stores open: {:.1} ms over 2 s",
            (process_cpu() - idle).as_secs_f64() * 1e3
        );
        duckdb.close().await.unwrap();
        hub.close().await.unwrap();
    });
    drop(servers);
}
