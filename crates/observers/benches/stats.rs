//! `observers stats` and `observers report` on a large store: wall time of the whole command
//! (its own process: open the file, query, print or write), against bare DuckDB scanning the
//! same rows for a count and an average per model in the same run (the floor of any summary).
//!
//! `OBSERVERS_BENCH_STATS_ROWS=10000000 cargo bench -p observers --features cli --bench stats` (or
//! `cargo xtask bench`). The store is filled by DuckDB itself from `range()` (calls spread
//! over 30 days, 8 models, 2% errors, half of them streamed), since the point is reading it.

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use observers::{DuckDbStore, Store};

fn main() {
    let rows: u64 =
        std::env::var("OBSERVERS_BENCH_STATS_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        // The schema, as the store creates it; then rows straight from DuckDB.
        DuckDbStore::open(&db).unwrap().close().await.unwrap();
    });
    let step_ms = (30 * 86_400 * 1000 / rows.max(1)).max(1);
    let filled = Instant::now();
    {
        let conn = duckdb::Connection::open(&db).unwrap();
        conn.execute_batch(&format!(
            "INSERT INTO openai_records (id, model, timestamp, messages, assistant_message, completion_tokens,
                 prompt_tokens, total_tokens, finish_reason, tags, error, latency_ms, time_to_first_token_ms,
                 cached_tokens, reasoning_tokens, cost_usd)
             SELECT uuid()::VARCHAR,
                    ['gpt-4o-mini', 'gpt-4.1', 'claude-sonnet-4-5', 'llama-3.3-70b-versatile', 'mistral-small-2503',
                     'deepseek-chat', 'my-local-llama', 'o4-mini'][1 + (i % 8)::INTEGER],
                    now()::TIMESTAMP - INTERVAL (i * {step_ms}) MILLISECOND,
                    [{{'role': 'user', 'content': 'question number ' || i, 'name': NULL, 'tool_call_id': NULL,
                       'tool_calls': NULL}}],
                    CASE WHEN i % 50 <> 0 THEN 'answer number ' || i END,
                    CASE WHEN i % 50 <> 0 THEN (20 + i % 400)::INTEGER END,
                    CASE WHEN i % 50 <> 0 THEN (200 + i % 3000)::INTEGER END,
                    CASE WHEN i % 50 <> 0 THEN (220 + i % 400 + i % 3000)::INTEGER END,
                    CASE WHEN i % 50 <> 0 THEN 'stop' ELSE 'error' END,
                    CASE WHEN i % 3 = 0 THEN ['prod', 'batch'] WHEN i % 3 = 1 THEN ['prod'] ELSE [] END,
                    CASE WHEN i % 50 = 0 THEN 'the server answered HTTP 429: Rate limit reached' END,
                    100 + (hash(i) % 5000)::DOUBLE / 1.7,
                    CASE WHEN i % 2 = 0 THEN 20 + (hash(i + 1) % 800)::DOUBLE / 3.1 END,
                    CASE WHEN i % 50 <> 0 AND i % 4 = 0 THEN 128 END,
                    CASE WHEN i % 8 = 7 AND i % 50 <> 0 THEN (i % 300)::INTEGER END,
                    CASE WHEN i % 50 <> 0 AND i % 8 <> 6 THEN (200 + i % 3000) * 1e-6 END
             FROM range({rows}) t(i)"
        ))
        .unwrap();
    }
    let fill_secs = filled.elapsed().as_secs_f64();
    let size_mib = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0) as f64 / (1 << 20) as f64;

    // Baseline: bare DuckDB, the CLI's memory cap, one grouped scan (count, average).
    let baseline = {
        let config = duckdb::Config::default().max_memory(observers::cli::CLI_MEMORY_LIMIT).unwrap();
        let started = Instant::now();
        let conn = duckdb::Connection::open_with_flags(&db, config).unwrap();
        let mut statement = conn
            .prepare("SELECT model, count(*), avg(latency_ms) FROM openai_records GROUP BY model")
            .unwrap();
        let groups = statement.query_map([], |row| row.get::<_, i64>(1)).unwrap().count();
        assert_eq!(groups, 8.min(rows as usize));
        started.elapsed().as_secs_f64()
    };

    println!("stats: {rows} rows over 30 days, 8 models, DuckDB file {size_mib:.0} MiB (filled in {fill_secs:.1} s)");
    println!("| command (its own process, whole run) | seconds | vs bare DuckDB |");
    println!("|---|---|---|");
    println!("| bare DuckDB: open, count and average per model (baseline) | {baseline:.2} | 1.00 |");
    let out = dir.path().join("report.html");
    let out = out.to_str().unwrap();
    for (label, args) in [
        ("`observers stats` (all calls, by model)", vec!["stats"]),
        ("`observers stats --since 24h`", vec!["stats", "--since", "24h"]),
        ("`observers stats --by tag`", vec!["stats", "--by", "tag"]),
        ("`observers stats --by day`", vec!["stats", "--by", "day"]),
        ("`observers report` (all calls)", vec!["report", "--out", out]),
        ("`observers report --since 24h`", vec!["report", "--since", "24h", "--out", out]),
    ] {
        let secs = run(&db, &args);
        println!("| {label} | {secs:.2} | {:.1} |", secs / baseline);
    }
    let report_kib = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0) / 1024;
    println!("report.html: {report_kib} KiB");
}

/// Wall time of `observers <args> --db <db>`, which must succeed.
fn run(db: &Path, args: &[&str]) -> f64 {
    let started = Instant::now();
    // `OBSERVERS_BIN` benches another build of the command (an installed one, say).
    let bin = std::env::var_os("OBSERVERS_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_observers").into());
    let output = Command::new(bin).args(args).arg("--db").arg(db).output().unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert!(
        output.status.success(),
        "{args:?}: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    secs
}
