//! Side by side with what a user would pick instead (`cargo xtask bench --compare`): the same
//! calls, one caller after the other, against the same mock server (in a child process, so its
//! CPU is not counted), in one run:
//! - this project's client bare, and wrapped with the DuckDB, Hub and OpenTelemetry stores
//!   (rounds interleaved, so none always meets the warmer machine);
//! - the official Python `openai` SDK bare, wrapped by the Python `observers` library from PyPI
//!   with its default DuckDB store, and by the Langfuse SDK's OpenAI integration exporting to
//!   a loopback OTLP sink (`xtask/compare/python_peers.py`, each in a process of its own, in
//!   the venv `cargo xtask bench --compare` prepares and names in `OBSERVERS_COMPARE_PYTHON`).
//!
//! Each is reported against its own bare client: latency p50/p99 per call, and process CPU
//! per call (every thread, the library's background work included, its queue flushed), then
//! the ratios of what observing adds.

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::process::Command;
use std::time::{Duration, Instant};

use observers::hf::HubStore;
use observers::{wrap_openai, ChatCompletionRequest, DuckDbStore, Fanout, OpenAi, OtelStore, Store};
use observers_testkit::bench::{self, ChildServers};
use observers_testkit::hub as fake;
use observers_testkit::records::process_cpu;
use serde_json::Value;

const PYTHON_VAR: &str = "OBSERVERS_COMPARE_PYTHON";
const ROUNDS: usize = 4;

/// What one client did: its latencies and its CPU per call.
#[derive(Default)]
struct Run {
    latencies: Vec<Duration>,
    cpu: Duration,
}

impl Run {
    fn p(&mut self, q: f64) -> f64 {
        self.latencies.sort();
        self.latencies[((self.latencies.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e6
    }
    fn cpu_per_call(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.latencies.len() as f64
    }
}

async fn calls(client: &OpenAi, store: Option<&dyn Store>, n: usize, run: &mut Run) {
    let cpu = process_cpu();
    for _ in 0..n {
        let request = ChatCompletionRequest::from_json(bench::request_json(false)).unwrap();
        let started = Instant::now();
        client.chat().completions().create(request).await.unwrap();
        run.latencies.push(started.elapsed());
    }
    if let Some(store) = store {
        store.flush().await.unwrap();
    }
    run.cpu += process_cpu() - cpu;
}

/// `| name | p50 | p99 | added p50 | CPU/call | added CPU/call |` against `bare`.
fn row(name: &str, run: &mut Run, bare: &mut Run) -> (String, f64) {
    let (p50, p99, b50) = (run.p(0.5), run.p(0.99), bare.p(0.5));
    let added_cpu = run.cpu_per_call() - bare.cpu_per_call();
    let line = format!(
        "| {name} | {p50:.1} | {p99:.1} | {:+.1} | {:.1} | {added_cpu:+.1} |",
        p50 - b50,
        run.cpu_per_call()
    );
    (line, added_cpu)
}

/// One Python library's run (`xtask/compare/python_peers.py MODE`): its JSON (`p50_us`,
/// `p99_us`, `cpu_us_per_call`, `calls`, `rows`).
fn python(mode: &str, servers: &ChildServers, calls: usize) -> Value {
    let python = std::env::var_os(PYTHON_VAR).unwrap_or_else(|| {
        panic!("{PYTHON_VAR} is not set: run `cargo xtask bench --compare`, which installs the Python libraries in a venv")
    });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../xtask/compare/python_peers.py");
    let messages = bench::request_json(false)["messages"].to_string();
    // Python observers opens `./store.db` when imported: each run in a folder of its own.
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(python)
        .args([script, mode, &servers.openai, &calls.to_string()])
        .current_dir(dir.path())
        .env("OBSERVERS_COMPARE_MESSAGES", messages)
        .env("LANGFUSE_HOST", servers.otlp.trim_end_matches("/v1/traces"))
        .env("LANGFUSE_PUBLIC_KEY", "pk-lf-compare")
        .env("LANGFUSE_SECRET_KEY", "sk-lf-compare")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "python_peers.py {mode} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn main() {
    if ChildServers::serve_if_child() {
        return;
    }
    let n = bench::calls(2000);
    let servers = ChildServers::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (lines, ours, rust_bare_cpu) = runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let bare = OpenAi::builder().base_url(&servers.openai).api_key("sk-bench").build().unwrap();
        let duckdb = DuckDbStore::open(dir.path().join("store.db")).unwrap();
        let hub = HubStore::builder()
            .repo_id(format!("{}/bench-compare", fake::USER))
            .endpoint(&servers.hub)
            .token(fake::WRITE_TOKEN)
            .folder(dir.path().join("shards"))
            .build()
            .unwrap();
        let otel = OtelStore::builder().endpoint(&servers.otlp).build().unwrap();
        let both = Fanout::new().with(duckdb.clone()).with(otel.clone());
        let setups: Vec<(&str, OpenAi, Option<&dyn Store>)> = vec![
            ("Rust `observers`, no store (bare client)", bare.clone(), None),
            ("Rust `observers` + DuckDB", wrap_openai(bare.clone(), duckdb.clone()), Some(&duckdb)),
            ("Rust `observers` + Hub (Parquet shards)", wrap_openai(bare.clone(), hub.clone()), Some(&hub)),
            ("Rust `observers` + OTLP", wrap_openai(bare.clone(), otel.clone()), Some(&otel)),
            ("Rust `observers` + DuckDB + OTLP", wrap_openai(bare.clone(), both.clone()), Some(&both)),
        ];
        for (_, client, store) in &setups {
            calls(client, *store, 100, &mut Run::default()).await; // warm up
        }
        let mut runs: Vec<Run> = setups.iter().map(|_| Run::default()).collect();
        for round in 0..ROUNDS {
            // Each round in another order, so none always meets the warmer machine.
            let mut order: Vec<usize> = (0..setups.len()).collect();
            order.rotate_left(round % setups.len());
            for i in order {
                let (_, client, store) = &setups[i];
                calls(client, *store, n / ROUNDS, &mut runs[i]).await;
            }
        }
        let mut bare_run = runs.remove(0);
        let bare_cpu = bare_run.cpu_per_call();
        let mut lines = vec![format!(
            "| {} | {:.1} | {:.1} | | {bare_cpu:.1} | |",
            setups[0].0,
            bare_run.p(0.5),
            bare_run.p(0.99)
        )];
        let mut added = Vec::new();
        for (i, run) in runs.iter_mut().enumerate() {
            let (line, cpu) = row(setups[i + 1].0, run, &mut bare_run);
            lines.push(line);
            added.push(cpu);
        }
        duckdb.close().await.unwrap();
        hub.close().await.unwrap();
        otel.close().await.unwrap();
        (lines, added, bare_cpu)
    });

    let num = |v: &Value, k: &str| v[k].as_f64().unwrap();
    let py_bare = python("bare", &servers, n);
    let peers = [
        ("Python `observers` 0.2 + DuckDB", python("observers", &servers, n)),
        ("Langfuse 5.2 OpenAI integration (OTLP to a loopback sink)", python("langfuse", &servers, n)),
    ];

    println!("compare: {n} plain calls each, one caller, the same mock server; µs");
    println!("| client | p50 | p99 | added p50 | CPU/call | added CPU/call |");
    println!("|---|---|---|---|---|---|");
    for line in &lines {
        println!("{line}");
    }
    let (pb50, pb_cpu) = (num(&py_bare, "p50_us"), num(&py_bare, "cpu_us_per_call"));
    println!(
        "| Python `openai` 3.57 SDK, bare | {pb50:.1} | {:.1} | | {pb_cpu:.1} | |",
        num(&py_bare, "p99_us")
    );
    let mut py_added = Vec::new();
    for (name, run) in &peers {
        let added = num(run, "cpu_us_per_call") - pb_cpu;
        py_added.push(added);
        println!(
            "| {name} | {:.1} | {:.1} | {:+.1} | {:.1} | {added:+.1} |",
            num(run, "p50_us"),
            num(run, "p99_us"),
            num(run, "p50_us") - pb50,
            num(run, "cpu_us_per_call")
        );
    }
    let ours_duckdb = ours[0].max(0.1);
    println!(
        "ratios: added CPU per call, Python observers / Rust observers + DuckDB: {:.0}x; Langfuse / Rust observers + OTLP: {:.0}x; bare clients, Python / Rust CPU per call: {:.1}x",
        py_added[0] / ours_duckdb,
        py_added[1] / ours[2].max(0.1),
        pb_cpu / rust_bare_cpu.max(0.1)
    );
    println!("rows written by Python observers: {} (of {} calls and its warm-up)", peers[0].1["rows"], n);
    drop(servers);
}
