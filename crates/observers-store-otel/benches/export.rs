//! What the OpenTelemetry store costs: `Store::add` per record against a store that only
//! keeps records (the baseline), export throughput to a loopback OTLP/HTTP receiver (testkit's
//! `OtlpSink`, which counts requests and bytes), and a wrapped client's call latency with the
//! store against the bare client, all in one run.
//!
//! `cargo bench -p observers-store-otel --bench export`; `OBSERVERS_BENCH_SPANS` (default
//! 50 000) spans, `OBSERVERS_BENCH_CALLS` (default 2000) calls.

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::time::{Duration, Instant};

use observers_core::{ChatCompletionRecord, Fanout, Store};
use observers_openai::{wrap_openai, ChatCompletionRequest, OpenAi};
use observers_store_duckdb::DuckDbStore;
use observers_store_otel::OtelStore;
use observers_testkit::bench::{self, Latencies};
use observers_testkit::openai::{MockOpenAi, Scenario};
use observers_testkit::otlp::OtlpSink;
use observers_testkit::records::{process_cpu, realistic, KeptStore};

fn per_record_ns(took: Duration, n: usize) -> f64 {
    took.as_nanos() as f64 / n as f64
}

fn main() {
    let spans: usize =
        std::env::var("OBSERVERS_BENCH_SPANS").ok().and_then(|v| v.parse().ok()).unwrap_or(50_000);
    let calls = bench::calls(2000);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let sink = OtlpSink::start().await.unwrap();
        let endpoint = sink.url().to_string();
        let records: Vec<ChatCompletionRecord> = (0..spans).map(realistic).collect();

        // Store::add: the baseline store, then the OTel store (queue large enough to keep all).
        let keep = KeptStore::default();
        let cloned: Vec<ChatCompletionRecord> = records.clone();
        let started = Instant::now();
        for record in cloned {
            keep.add(record).await.unwrap();
        }
        let keep_ns = per_record_ns(started.elapsed(), spans);
        drop(keep);

        let otel = OtelStore::builder()
            .endpoint(&endpoint)
            .max_queue_size(spans)
            .scheduled_delay(Duration::from_millis(100))
            .build()
            .unwrap();
        let cloned: Vec<ChatCompletionRecord> = records.clone();
        let cpu = process_cpu();
        let started = Instant::now();
        for record in cloned {
            otel.add(record).await.unwrap();
        }
        let add_took = started.elapsed();
        otel.flush().await.unwrap();
        let export_took = started.elapsed();
        let cpu = process_cpu() - cpu;
        let (exported, dropped) = (otel.exported(), otel.dropped());
        otel.close().await.unwrap();

        println!("export: {spans} realistic records (~3 KB each), loopback OTLP/HTTP receiver");
        println!("| what | value |");
        println!("|---|---|");
        println!("| `Store::add`, baseline (a store keeping records in memory), ns/record | {keep_ns:.0} |");
        println!("| `Store::add`, OtelStore, ns/record | {:.0} |", per_record_ns(add_took, spans));
        println!(
            "| export throughput, spans/s (add → flush done) | {:.0} |",
            exported as f64 / export_took.as_secs_f64()
        );
        println!("| CPU per span (all threads), µs | {:.1} |", cpu.as_secs_f64() * 1e6 / spans as f64);
        println!(
            "| OTLP requests / MiB sent | {} / {:.1} |",
            sink.requests(),
            sink.bytes() as f64 / (1024.0 * 1024.0)
        );
        println!("| exported / dropped | {exported} / {dropped} |");

        // A wrapped client's calls with the OTel store, against the bare client.
        let server = MockOpenAi::start_with(Scenario::Text).await.unwrap();
        server.set_recording(false);
        let otel = OtelStore::builder()
            .endpoint(&endpoint)
            .scheduled_delay(Duration::from_millis(100))
            .build()
            .unwrap();
        let bare = OpenAi::builder().base_url(server.base_url()).api_key("sk-bench").build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let duckdb = DuckDbStore::open(dir.path().join("store.db")).unwrap();
        let request = || ChatCompletionRequest::from_json(bench::request_json(false)).unwrap();
        let call = |client: OpenAi| async move {
            let started = Instant::now();
            client.chat().completions().create(request()).await.unwrap();
            started.elapsed()
        };
        // Each against the bare client in the same run, interleaved: OTel alone, DuckDB
        // alone (the default), and both at once (`Fanout`), as a team sending to a collector
        // while keeping the local file would run it.
        let setups: [(&str, OpenAi); 3] = [
            ("plain call, OtelStore", wrap_openai(bare.clone(), otel.clone())),
            ("plain call, DuckDbStore alone", wrap_openai(bare.clone(), duckdb.clone())),
            (
                "plain call, DuckDbStore + OtelStore (Fanout)",
                wrap_openai(bare.clone(), Fanout::new().with(duckdb.clone()).with(otel.clone())),
            ),
        ];
        println!();
        println!("overhead with the OTel store: {calls} plain calls each, µs");
        println!("| what | bare p50 | bare p99 | wrapped p50 | wrapped p99 | added p50 | added p99 |");
        println!("|---|---|---|---|---|---|---|");
        for (name, wrapped) in setups {
            for _ in 0..200 {
                call(bare.clone()).await;
                call(wrapped.clone()).await;
            }
            let mut plain = Latencies::default();
            for i in 0..calls {
                if i % 2 == 0 {
                    plain.baseline.push(call(bare.clone()).await);
                    plain.observed.push(call(wrapped.clone()).await);
                } else {
                    plain.observed.push(call(wrapped.clone()).await);
                    plain.baseline.push(call(bare.clone()).await);
                }
            }
            println!("{}", plain.row(name, 1.0));
        }
        otel.flush().await.unwrap();
        duckdb.close().await.unwrap();
        println!("spans exported / dropped: {} / {}", otel.exported(), otel.dropped());
        otel.close().await.unwrap();
    });
}
