//! What the proxy costs a call: the same HTTP client calling the loopback mock server
//! directly, and through the proxy (recording every call into DuckDB), in the same run,
//! interleaved call by call so machine noise hits both alike. Reports p50/p99 latency of
//! plain calls, time to first token and whole time of streamed calls, each with the added
//! difference, then requests per second with 64 concurrent callers.
//!
//! `cargo xtask bench` (release). `OBSERVERS_BENCH_CALLS` sets the calls of each kind
//! (default 3000).

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use observers_core::Store;
use observers_proxy::Proxy;
use observers_store_duckdb::DuckDbStore;
use observers_testkit::bench::{self, Latencies};
use observers_testkit::openai::{MockOpenAi, Scenario};

/// About 1 KB of request, as the wrapper's overhead bench sends.
fn body(stream: bool) -> String {
    bench::request_json(stream).to_string()
}

/// One endpoint the client calls: the mock itself, or the proxy in front of it.
struct Target {
    client: reqwest::Client,
    url: String,
}

impl Target {
    fn new(base_url: &str) -> Target {
        Target { client: reqwest::Client::new(), url: format!("{base_url}/chat/completions") }
    }

    fn send(&self, body: &str) -> reqwest::RequestBuilder {
        self.client
            .post(&self.url)
            .bearer_auth("sk-bench")
            .header("content-type", "application/json")
            .body(body.to_owned())
    }

    async fn plain(&self, body: &str) -> Duration {
        let start = Instant::now();
        let response = self.send(body).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap();
        start.elapsed()
    }

    /// Time to the first piece of the stream, and to its end.
    async fn streamed(&self, body: &str) -> (Duration, Duration) {
        let start = Instant::now();
        let mut response = self.send(body).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.chunk().await.unwrap().unwrap();
        let first = start.elapsed();
        while response.chunk().await.unwrap().is_some() {}
        (first, start.elapsed())
    }
}

/// Plain calls per second from `callers` concurrent callers making `calls` in all.
async fn throughput(target: &'static Target, body: &'static str, callers: usize, calls: usize) -> f64 {
    let start = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|caller| {
            tokio::spawn(async move {
                for _ in (caller..calls).step_by(callers) {
                    target.plain(body).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    calls as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let calls = bench::calls(3000);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let server = MockOpenAi::start_with(Scenario::Text).await.unwrap();
        server.set_recording(false); // millions of kept requests would be the memory growth
        let dir = tempfile::tempdir().unwrap();
        let store = DuckDbStore::open(dir.path().join("store.db")).unwrap();
        let proxy = Proxy::builder()
            .upstream(server.base_url())
            .store(store.clone())
            .listen(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .start()
            .await
            .unwrap();
        let direct: &'static Target = Box::leak(Box::new(Target::new(&server.base_url())));
        let proxied: &'static Target = Box::leak(Box::new(Target::new(&proxy.base_url())));
        let (plain_body, stream_body) = (body(false), body(true));

        // Warm up connections and code paths.
        for _ in 0..200 {
            direct.plain(&plain_body).await;
            proxied.plain(&plain_body).await;
            direct.streamed(&stream_body).await;
            proxied.streamed(&stream_body).await;
        }
        let (mut plain, mut first_token, mut whole_stream) = (Latencies::default(), Latencies::default(), Latencies::default());
        for i in 0..calls {
            // Alternate which goes first, so neither always gets the warmer cache.
            let order = if i % 2 == 0 { [direct, proxied] } else { [proxied, direct] };
            for target in order {
                let elapsed = target.plain(&plain_body).await;
                let (first, whole) = target.streamed(&stream_body).await;
                let is_direct = std::ptr::eq(target, direct);
                for (row, value) in [(&mut plain, elapsed), (&mut first_token, first), (&mut whole_stream, whole)] {
                    if is_direct { row.baseline.push(value) } else { row.observed.push(value) }
                }
            }
        }

        println!(
            "proxy: {calls} calls of each kind, the same client direct to the mock server and through the \
             proxy recording to DuckDB, µs"
        );
        println!("| what | direct p50 | direct p99 | proxy p50 | proxy p99 | added p50 | added p99 |");
        println!("|---|---|---|---|---|---|---|");
        println!("{}", plain.row("plain call", 1.0));
        println!("{}", first_token.row("streamed call, time to first token", 1.0));
        println!("{}", whole_stream.row("streamed call, whole", 1.0));

        let plain_body: &'static str = Box::leak(plain_body.into_boxed_str());
        let callers = 64;
        let total = calls.max(callers * 10);
        let mut rates = (Vec::new(), Vec::new());
        for round in 0..2 {
            // Alternate, as above; the best of two rounds each.
            if round % 2 == 0 {
                rates.0.push(throughput(direct, plain_body, callers, total).await);
                rates.1.push(throughput(proxied, plain_body, callers, total).await);
            } else {
                rates.1.push(throughput(proxied, plain_body, callers, total).await);
                rates.0.push(throughput(direct, plain_body, callers, total).await);
            }
        }
        let best = |rates: &[f64]| rates.iter().copied().fold(0.0, f64::max);
        let (direct_rate, proxy_rate) = (best(&rates.0), best(&rates.1));
        println!("| what | direct | proxy | proxy / direct |");
        println!("|---|---|---|---|");
        println!(
            "| plain calls per second, {callers} concurrent callers (best of 2 rounds) | {direct_rate:.0} | {proxy_rate:.0} | {:.2} |",
            proxy_rate / direct_rate
        );

        let stats = proxy.shutdown().await.unwrap();
        let rows = store.count().await.unwrap();
        let expected = 2 * (200 + calls) + 2 * total;
        println!("rows recorded: {rows} (expected {expected}), records lost: {}", stats.records_lost);
        store.close().await.ok();
    });
}
