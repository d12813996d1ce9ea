//! `observers stats`, `observers report` and `observers reprice`, run as a user runs them (the
//! binary, on a real store file). Their figures are checked against DuckDB's own answers (the
//! `duckdb` CLI over the same file), the report is opened in a headless Chromium, and bad
//! input (an empty store, only errors, models without a price, a store of schema version 1)
//! gives clear output.

#![cfg(feature = "cli")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use observers::core::chrono::{DateTime, TimeDelta, Utc};
use observers::core::serde_json::{self, Value};
use observers::pricing::Prices;
use observers::{ChatCompletionRecord, DuckDbStore, Message, Store};
use observers_testkit::tools::{duckdb_csv, headless_chromium};

/// Text that breaks a page if it reaches it unescaped: it would add an image whose error
/// handler, or a script, sets the title.
const HOSTILE: &str = "<img src=x onerror=\"document.title='pwned'\"></pre></details></td></table>\
                       <script>document.title='pwned'</script> & 'quotes'";
const HOSTILE_MODEL: &str = "<svg onload=alert(1)>";
const RATE_LIMITED: &str =
    "the server answered HTTP 429: Rate limit reached for gpt-4o-mini (rate_limit_exceeded)";
const TIMED_OUT: &str =
    "the request to http://127.0.0.1:9/v1/chat/completions timed out: no answer within the \
                         configured timeout (5s); raise it with `timeout(..)` or check the server";

fn base_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-28T00:00:00Z").unwrap().with_timezone(&Utc)
}

/// Call `i` of a varied workload over three days: priced and unpriced models, streams with
/// a time to first token, errors of two kinds, tags, and hostile text.
fn call(i: usize) -> ChatCompletionRecord {
    let model =
        if i == 7 { HOSTILE_MODEL } else { ["gpt-4o-mini", "claude-sonnet-4-5", "my-local-llama"][i % 3] };
    let mut r =
        ChatCompletionRecord::started_at(Some(model.into()), base_time() + TimeDelta::minutes(15 * i as i64));
    r.messages = vec![
        Message::new("system", "You are terse."),
        Message::new("user", if i % 20 == 1 { format!("{HOSTILE} #{i}") } else { format!("question #{i}") }),
    ];
    r.latency_ms = Some(100.0 + ((i * 37) % 2000) as f64 + i as f64 / 7.0);
    if i.is_multiple_of(4) {
        r.time_to_first_token_ms = r.latency_ms.map(|l| l / 5.0);
    }
    r.tags = match i % 3 {
        0 => vec!["prod".into(), "batch".into()],
        1 => vec!["prod".into()],
        _ => vec![],
    };
    if i % 10 == 3 {
        r.error = Some(RATE_LIMITED.into());
        r.finish_reason = Some("error".into());
    } else if i % 17 == 5 {
        r.error = Some(TIMED_OUT.into());
        r.finish_reason = Some("error".into());
    } else {
        r.prompt_tokens = Some(100 + i as i32);
        r.completion_tokens = Some(20 + (i % 50) as i32);
        r.total_tokens = Some(r.prompt_tokens.unwrap() + r.completion_tokens.unwrap());
        r.cached_tokens = i.is_multiple_of(5).then_some(50);
        r.reasoning_tokens = i.is_multiple_of(6).then_some(10);
        r.assistant_message = Some(if i % 20 == 1 { HOSTILE.to_string() } else { format!("answer #{i}") });
        r.finish_reason = Some("stop".into());
    }
    r.cost_usd = Prices::shipped().cost(&r);
    r
}

async fn store_of(path: &Path, records: impl IntoIterator<Item = ChatCompletionRecord>) {
    let store = DuckDbStore::open(path).unwrap();
    for record in records {
        store.add(record).await.unwrap();
    }
    store.close().await.unwrap();
}

fn observers(args: &[&str], db: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_observers")).args(args).arg("--db").arg(db).output().unwrap()
}

fn stdout_of(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

/// DuckDB's answer (one CSV line per row).
fn duckdb(db: &Path, sql: &str) -> Vec<String> {
    duckdb_csv(db, sql, true).lines().map(str::to_string).collect()
}

fn number(cell: &str) -> f64 {
    let cell = cell.trim().trim_start_matches('$').replace(',', "");
    cell.parse().unwrap_or_else(|_| panic!("not a number: {cell:?}"))
}

/// The cells of the table row whose first cell is `key`.
fn row<'a>(table: &'a str, key: &str) -> Vec<&'a str> {
    let line = table
        .lines()
        .find(|l| l.split('|').nth(1).map(str::trim) == Some(key))
        .unwrap_or_else(|| panic!("no row {key:?} in\n{table}"));
    line.split('|').map(str::trim).filter(|c| !c.is_empty()).collect()
}

fn close(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance * b.abs().max(1.0)
}

#[tokio::test]
async fn stats_per_model_tag_and_day_agree_with_duckdb() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    store_of(&db, (0..300).map(call)).await;

    let table = stdout_of(&observers(&["stats"], &db));
    assert!(table.contains("all calls, by model"), "{table}");
    for model in ["gpt-4o-mini", "claude-sonnet-4-5", "my-local-llama"] {
        let cells = row(&table, model);
        let expected = duckdb(
            &db,
            &format!(
                "SELECT count(*), count(error), quantile_cont(latency_ms, 0.5), quantile_cont(latency_ms, 0.99),
                        quantile_cont(time_to_first_token_ms, 0.95), sum(prompt_tokens), sum(completion_tokens)
                 FROM openai_records WHERE model = '{model}'"
            ),
        );
        let expected: Vec<f64> = expected[0].split(',').map(|v| v.parse().unwrap()).collect();
        assert_eq!(number(cells[1]), expected[0], "{model} calls: {table}");
        assert_eq!(number(cells[2]), expected[1], "{model} errors");
        assert!(close(number(cells[4]), expected[2], 0.001), "{model} p50 {} vs {}", cells[4], expected[2]);
        assert!(close(number(cells[6]), expected[3], 0.001), "{model} p99");
        assert!(close(number(cells[8]), expected[4], 0.001), "{model} TTFT p95");
        assert_eq!(number(cells[10]), expected[5], "{model} prompt tokens");
        assert_eq!(number(cells[12]), expected[6], "{model} completion tokens");
    }
    // Costs: gpt-4o-mini is priced, the local model is not (and says so).
    let cost = duckdb(&db, "SELECT sum(cost_usd) FROM openai_records WHERE model = 'gpt-4o-mini'");
    let shown = number(row(&table, "gpt-4o-mini")[14]);
    assert!(close(shown, cost[0].parse().unwrap(), 0.01), "{shown} vs {cost:?}");
    assert_eq!(row(&table, "my-local-llama")[14], "-");
    assert!(table.contains("my-local-llama ("), "the unpriced models are named: {table}");
    let total = row(&table, "all");
    assert_eq!(number(total[1]), 300.0);

    // By tag: a call counts under each of its tags, once in the total.
    let table = stdout_of(&observers(&["stats", "--by", "tag"], &db));
    let tagged = |tag: &str| {
        duckdb(&db, &format!("SELECT count(*) FROM openai_records WHERE list_contains(tags, '{tag}')"))[0]
            .parse::<f64>()
            .unwrap()
    };
    assert_eq!(number(row(&table, "prod")[1]), tagged("prod"));
    assert_eq!(number(row(&table, "batch")[1]), tagged("batch"));
    assert_eq!(number(row(&table, "(no tag)")[1]), 100.0);
    assert_eq!(number(row(&table, "all")[1]), 300.0);
    assert!(table.contains("counts under each"), "{table}");

    // By day, over a window: only the calls since the date.
    let table = stdout_of(&observers(&["stats", "--by", "day", "--since", "2026-11-29"], &db));
    let days = duckdb(
        &db,
        "SELECT strftime(timestamp, '%Y-%m-%d'), count(*) FROM openai_records
         WHERE timestamp >= TIMESTAMP '2026-11-29' GROUP BY 1 ORDER BY 1",
    );
    assert_eq!(days.len(), 3, "{days:?}");
    for day in &days {
        let (day, calls) = day.split_once(',').unwrap();
        assert_eq!(number(row(&table, day)[1]), calls.parse::<f64>().unwrap(), "{table}");
    }
    assert!(!table.contains("2026-11-28"), "{table}");
    assert!(table.contains("since 2026-11-29 00:00:00 UTC"), "{table}");

    // `--since 24h` is relative to now: these calls are all older.
    let table = stdout_of(&observers(&["stats", "--since", "24h"], &db));
    assert!(table.contains("no calls recorded in this window"), "{table}");

    let bad = observers(&["stats", "--since", "yesterday"], &db);
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("--since takes") && stderr.contains("yesterday"), "{stderr}");
}

/// The JSON block of a report page.
fn report_data(page: &str) -> Value {
    let start = page.find("id=\"observers-data\">").expect("the data block") + "id=\"observers-data\">".len();
    let end = start + page[start..].find("</script>").unwrap();
    serde_json::from_str(&page[start..end]).unwrap()
}

fn report(db: &Path, out: &Path, extra: &[&str]) -> (String, String) {
    let mut args = vec!["report", "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let stdout = stdout_of(&observers(&args, db));
    (stdout, std::fs::read_to_string(out).unwrap())
}

/// Runs headless Chromium on `page`; returns the DOM after it loaded.
fn chromium_dom(page: &Path, dir: &Path) -> String {
    let output = headless_chromium(&dir.join("profile"))
        .arg("--virtual-time-budget=2000")
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success() && dom.contains("</html>"),
        "{dom}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    dom
}

#[tokio::test]
async fn the_report_agrees_with_duckdb_and_renders_in_a_browser_without_running_store_text() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    store_of(&db, (0..300).map(call)).await;
    let out = dir.path().join("report.html");
    let (stdout, page) = report(&db, &out, &[]);
    assert!(stdout.contains("wrote") && stdout.contains("300 calls"), "{stdout}");
    let data = report_data(&page);

    // Totals and per-model figures.
    let total = duckdb(
        &db,
        "SELECT count(*), count(error), sum(prompt_tokens), sum(completion_tokens), sum(cached_tokens),
                sum(reasoning_tokens), sum(cost_usd), quantile_cont(latency_ms, 0.95) FROM openai_records",
    );
    let total: Vec<f64> = total[0].split(',').map(|v| v.parse().unwrap()).collect();
    let t = &data["total"];
    assert_eq!(t["calls"], 300);
    assert_eq!(t["errors"].as_f64(), Some(total[1]));
    assert_eq!(t["prompt_tokens"].as_f64(), Some(total[2]));
    assert_eq!(t["completion_tokens"].as_f64(), Some(total[3]));
    assert_eq!(t["cached_tokens"].as_f64(), Some(total[4]));
    assert_eq!(t["reasoning_tokens"].as_f64(), Some(total[5]));
    assert!(close(t["cost_usd"].as_f64().unwrap(), total[6], 1e-9));
    assert!(close(t["latency_ms"]["p95"].as_f64().unwrap(), total[7], 1e-9));
    for model in data["models"].as_array().unwrap() {
        let key = model["key"].as_str().unwrap().replace('\'', "''");
        let expected = duckdb(
            &db,
            &format!(
                "SELECT count(*), count(error), quantile_cont(latency_ms, 0.5), count(cost_usd)
                 FROM openai_records WHERE model = '{key}'"
            ),
        );
        let expected: Vec<f64> = expected[0].split(',').map(|v| v.parse().unwrap()).collect();
        assert_eq!(model["calls"].as_f64(), Some(expected[0]), "{model}");
        assert_eq!(model["errors"].as_f64(), Some(expected[1]), "{model}");
        assert!(close(model["latency_ms"]["p50"].as_f64().unwrap(), expected[2], 1e-9), "{model}");
        assert_eq!(model["priced_calls"].as_f64(), Some(expected[3]), "{model}");
    }

    // Over time: every call in exactly one bucket, and the buckets' costs add up.
    let timeline = data["timeline"].as_array().unwrap();
    let calls: i64 = timeline.iter().map(|b| b[1].as_i64().unwrap()).sum();
    let errors: i64 = timeline.iter().map(|b| b[2].as_i64().unwrap()).sum();
    let cost: f64 = timeline.iter().map(|b| b[3].as_f64().unwrap()).sum();
    assert_eq!((calls, errors as f64), (300, total[1]));
    assert!(close(cost, total[6], 1e-9));
    assert_eq!(data["bucket_seconds"], 3600, "75 hours of calls: hourly buckets");
    let busiest_hour = duckdb(
        &db,
        "SELECT count(*) FROM openai_records GROUP BY date_trunc('hour', timestamp) ORDER BY 1 DESC LIMIT 1",
    );
    assert_eq!(timeline.iter().map(|b| b[1].as_i64().unwrap()).max(), Some(busiest_hour[0].parse().unwrap()));

    // Latency histograms: every call with a latency of a drawn model is in a bin.
    for histogram in data["latency_histograms"].as_array().unwrap() {
        let model = histogram["model"].as_str().unwrap().replace('\'', "''");
        let binned: i64 = histogram["bins"].as_array().unwrap().iter().map(|b| b[1].as_i64().unwrap()).sum();
        let expected =
            duckdb(&db, &format!("SELECT count(latency_ms) FROM openai_records WHERE model = '{model}'"));
        assert_eq!(binned, expected[0].parse::<i64>().unwrap(), "{model}");
    }
    assert!(!data["ttft_histograms"].as_array().unwrap().is_empty());

    // Error kinds.
    let kinds: Vec<(String, i64)> = data["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap().to_string(), e["calls"].as_i64().unwrap()))
        .collect();
    let count = |pattern: &str| -> i64 {
        duckdb(&db, &format!("SELECT count(*) FROM openai_records WHERE error LIKE '{pattern}'"))[0]
            .parse()
            .unwrap()
    };
    assert_eq!(
        kinds,
        vec![("HTTP 429".to_string(), count("%HTTP 429%")), ("timeout".to_string(), count("%timed out%"))]
    );

    // The slowest and the most expensive calls, in order.
    let ids = |key: &str| -> Vec<String> {
        data[key].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(
        ids("slowest"),
        duckdb(&db, "SELECT id FROM openai_records ORDER BY latency_ms DESC, id LIMIT 10")
    );
    assert_eq!(
        ids("costliest"),
        duckdb(
            &db,
            "SELECT id FROM openai_records WHERE cost_usd IS NOT NULL ORDER BY cost_usd DESC, id LIMIT 10"
        )
    );

    // Self-contained: nothing is loaded from anywhere, and no script runs.
    for external in ["src=\"http", "href=\"http", "src=\"//", "@import", "url("] {
        assert!(!page.contains(external), "{external}");
    }
    assert!(page.contains("default-src 'none'"));
    assert!(!page.contains(HOSTILE) && !page.contains(HOSTILE_MODEL), "store text is escaped");
    assert!(page.contains("&lt;svg onload=alert(1)&gt;"), "the hostile model is shown, as text");

    // Opened in a browser: the page renders its sections, and the hostile text stays text.
    let dom = chromium_dom(&out, dir.path());
    assert!(dom.contains("<title>observers report: "), "the title is untouched: no script ran");
    assert!(!dom.contains("<title>pwned"), "a script from the store ran");
    for id in [
        "totals",
        "per-model",
        "calls-over-time",
        "cost-over-time",
        "latency-histograms",
        "ttft-histograms",
        "error-kinds",
        "tokens-per-model",
        "slowest",
        "costliest",
    ] {
        assert!(dom.contains(&format!("id=\"{id}\"")), "{id} missing from the rendered page");
    }
    assert!(dom.contains("id=\"total-calls\">300<"), "the total as shown");
    assert!(!dom.contains("<img") && !dom.contains("<svg onload"), "store text became markup");
    assert!(dom.contains("&lt;img src=x onerror="), "the hostile message is shown as text");

    // And it draws: a screenshot has more than a blank page's bytes.
    let png = dir.path().join("report.png");
    let output = headless_chromium(&dir.path().join("profile"))
        .args(["--window-size=1200,2400", &format!("--screenshot={}", png.display())])
        .arg(format!("file://{}", out.display()))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
    assert!(size > 50_000, "the screenshot is {size} bytes: the charts did not draw");
    if let Some(keep) = std::env::var_os("OBSERVERS_KEEP_REPORT") {
        let keep = PathBuf::from(keep);
        std::fs::copy(&out, keep.join("report.html")).unwrap();
        std::fs::copy(&png, keep.join("report.png")).unwrap();
        std::fs::copy(&db, keep.join("store.db")).unwrap();
    }
}

/// A store written by schema version 1 (migrations 1 and 2 only): no cost, token detail or
/// identity columns.
fn schema_v1_store(path: &Path) {
    // Written by the DuckDB CLI (1.5), as an older observers would have left it.
    let sql = format!(
        "SELECT 1;\n{}\n{}\n{}",
        include_str!("../../observers-store-duckdb/migrations/0001_create_openai_records.sql"),
        include_str!("../../observers-store-duckdb/migrations/0002_hub_sync_shards.sql"),
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, migration_name VARCHAR NOT NULL,
                                      applied_at TIMESTAMP NOT NULL);
         INSERT INTO schema_version VALUES (1, 'create_openai_records', now()::TIMESTAMP),
                                           (2, 'hub_sync_shards', now()::TIMESTAMP);
         INSERT INTO openai_records (id, model, timestamp, messages, prompt_tokens, completion_tokens, total_tokens,
                                     latency_ms, error, tags)
         SELECT '0190a0c0-0000-7000-8000-' || lpad(i::VARCHAR, 12, '0'), 'gpt-4o-mini',
                TIMESTAMP '2025-06-01' + INTERVAL (i) MINUTE, [{'role': 'user', 'content': 'old #' || i,
                'name': NULL, 'tool_call_id': NULL, 'tool_calls': NULL}], 1000, 100, 1100, 200.0 + i,
                CASE WHEN i % 4 = 0 THEN 'the server answered HTTP 500: upstream failed' END, ['old']
         FROM range(20) t(i);"
    );
    duckdb_csv(path, &sql, false);
}

#[tokio::test]
async fn bad_input_gives_clear_stats_and_reports() {
    let dir = tempfile::tempdir().unwrap();

    // An empty store.
    let empty = dir.path().join("empty.db");
    store_of(&empty, []).await;
    let table = stdout_of(&observers(&["stats"], &empty));
    assert!(table.contains("no calls recorded in this window"), "{table}");
    let (stdout, page) = report(&empty, &dir.path().join("empty.html"), &[]);
    assert!(stdout.contains("0 calls"), "{stdout}");
    assert!(page.contains("No calls were recorded in this window"), "{page}");
    assert_eq!(report_data(&page)["total"]["calls"], 0);

    // Only errors: no tokens, no cost, no TTFT; every section says why it is empty.
    let errors = dir.path().join("errors.db");
    store_of(
        &errors,
        (0..30).map(|i| {
            let mut r = call(3 + 10 * i); // an HTTP 429 each
            r.time_to_first_token_ms = None;
            r
        }),
    )
    .await;
    let table = stdout_of(&observers(&["stats"], &errors));
    let all = row(&table, "all");
    assert_eq!((all[1], all[2], all[3]), ("30", "30", "100.0%"), "{table}");
    assert_eq!(all[10], "-", "no token counts: {table}");
    assert_eq!(all[14], "-", "no cost: {table}");
    assert!(table.contains("every call in this window failed"), "{table}");
    let (_, page) = report(&errors, &dir.path().join("errors.html"), &[]);
    assert!(page.contains("id=\"error-kinds\""));
    assert!(page.contains("No call in this window reported token counts"));
    assert!(page.contains("No call in this window has a cost"));
    assert!(page.contains("it is measured for streamed calls only"));
    chromium_dom(&dir.path().join("errors.html"), dir.path());

    // Models without a price only.
    let unpriced = dir.path().join("unpriced.db");
    store_of(
        &unpriced,
        (0..30).map(|i| {
            let mut r = call(3 * i + 2); // my-local-llama
            r.error = None;
            r.prompt_tokens = Some(10);
            r.completion_tokens = Some(5);
            r.cost_usd = None;
            r
        }),
    )
    .await;
    let table = stdout_of(&observers(&["stats"], &unpriced));
    assert_eq!(row(&table, "my-local-llama")[14], "-");
    assert!(
        table.contains("30 successful call(s) have no cost") && table.contains("observers reprice"),
        "{table}"
    );
    let (_, page) = report(&unpriced, &dir.path().join("unpriced.html"), &[]);
    assert!(page.contains("id=\"unpriced\"") && page.contains("No call has a cost"));

    // A store of schema version 1: opened (and upgraded), its rows have no cost until repriced.
    let old = dir.path().join("old.db");
    schema_v1_store(&old);
    let table = stdout_of(&observers(&["stats"], &old));
    let gpt = row(&table, "gpt-4o-mini");
    assert_eq!((gpt[1], gpt[2], gpt[14]), ("20", "5", "-"), "{table}");
    let (_, page) = report(&old, &dir.path().join("old.html"), &[]);
    assert_eq!(report_data(&page)["total"]["calls"], 20);
    chromium_dom(&dir.path().join("old.html"), dir.path());

    let repriced = stdout_of(&observers(&["reprice"], &old));
    assert!(repriced.contains("20 of 20 calls have a cost; 20 changed"), "{repriced}");
    let cost = duckdb(&old, "SELECT DISTINCT cost_usd FROM openai_records");
    let expected = Prices::shipped().get("gpt-4o-mini").unwrap().cost(1000, 100, 0);
    assert_eq!(cost.len(), 1);
    assert!(close(cost[0].parse().unwrap(), expected, 1e-12), "{cost:?} vs {expected}");
    let table = stdout_of(&observers(&["stats"], &old));
    assert!(close(number(row(&table, "gpt-4o-mini")[14]), 20.0 * expected, 0.01), "{table}");
}

#[tokio::test]
async fn reprice_takes_a_price_file_and_refuses_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    store_of(&db, (0..30).map(call)).await;

    let prices = dir.path().join("prices.json");
    std::fs::write(&prices, r#"{"models": {"my-local-llama": {"input": 1.0, "output": 2.0, "source": "https://example.com/our-gpus"}}}"#)
        .unwrap();
    let stdout = stdout_of(&observers(&["reprice", "--prices", prices.to_str().unwrap()], &db));
    let priced = duckdb(&db, "SELECT count(cost_usd) FROM openai_records");
    assert!(stdout.contains(&format!("{} of 30 calls have a cost", priced[0])), "{stdout}");
    let local = duckdb(
        &db,
        "SELECT count(*) FROM openai_records WHERE model = 'my-local-llama' AND error IS NULL
         AND cost_usd = (prompt_tokens * 1.0 + completion_tokens * 2.0) / 1e6",
    );
    let local_ok =
        duckdb(&db, "SELECT count(*) FROM openai_records WHERE model = 'my-local-llama' AND error IS NULL");
    assert_eq!(local, local_ok, "the file's price is used");
    assert!(stdout.contains(HOSTILE_MODEL) && stdout.contains("no price for"), "{stdout}");

    std::fs::write(&prices, r#"{"models": {"x": {"input": 1.0, "ouput": 2.0}}}"#).unwrap();
    let bad = observers(&["reprice", "--prices", prices.to_str().unwrap()], &db);
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("price table is not valid") && stderr.contains("ouput"), "{stderr}");
    let missing = observers(&["reprice", "--prices", "/nonexistent.json"], &db);
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("could not read the price table /nonexistent.json")
    );
}
