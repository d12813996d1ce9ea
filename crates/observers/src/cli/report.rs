//! `observers report`: one self-contained HTML file of charts and tables over a time
//! window: calls and cost over time, latency and time-to-first-token per model, error kinds,
//! token use, and the slowest and most expensive calls with their messages.
//!
//! The figures come from DuckDB queries over the store; [`html`] draws them as inline SVG
//! (no script, no network), escaping everything that comes from the store.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use observers_core::serde_json::{self, json, Value};

use super::open_existing_with;
use super::query::{self, Cell};
use super::stats::{self, By, Summary};
use super::window::Window;
use crate::DuckDbStore;

mod html;

/// Arguments of `observers report`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The local store.
    #[arg(long, default_value = "store.db")]
    db: PathBuf,
    /// Where to write the report.
    #[arg(long, default_value = "report.html")]
    out: PathBuf,
    /// Only calls since then: a duration back from now (30m, 24h, 7d, 2w) or a UTC date or
    /// time (2026-12-01, 2026-12-01T08:00:00Z). Default: every call.
    #[arg(long)]
    since: Option<String>,
}

/// Models drawn one by one in the distributions (the ones with the most calls).
pub(crate) const MAX_MODELS: usize = 8;
/// Calls listed in each of the slowest and most expensive tables.
pub(crate) const TOP_CALLS: usize = 10;
/// Histogram bins per factor of ten of milliseconds.
pub(crate) const BINS_PER_DECADE: i64 = 4;

/// Bucket widths for the timeline, in seconds; the narrowest giving at most
/// [`MAX_BUCKETS`] buckets is used.
const BUCKETS: [(i64, &str); 10] = [
    (1, "second"),
    (10, "10 seconds"),
    (60, "minute"),
    (300, "5 minutes"),
    (900, "15 minutes"),
    (3600, "hour"),
    (6 * 3600, "6 hours"),
    (86_400, "day"),
    (7 * 86_400, "week"),
    (30 * 86_400, "30 days"),
];
const MAX_BUCKETS: i64 = 150;

/// One bucket of the timeline.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Bucket {
    /// Start, microseconds since the epoch (UTC).
    pub(crate) start_us: i64,
    pub(crate) calls: i64,
    pub(crate) errors: i64,
    pub(crate) cost_usd: f64,
}

/// Calls per latency bin of one model: bin `b` holds latencies in
/// `[10^(b/4), 10^((b+1)/4))` ms.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Histogram {
    pub(crate) model: String,
    pub(crate) bins: Vec<(i64, i64)>,
    /// p50, p95, p99 from the summary.
    pub(crate) percentiles: [Option<f64>; 3],
}

/// One kind of error and how often it happened.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ErrorKind {
    pub(crate) kind: String,
    pub(crate) calls: i64,
    pub(crate) models: i64,
    pub(crate) example: String,
}

/// A call listed in full.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Call {
    pub(crate) id: String,
    pub(crate) time: String,
    pub(crate) model: String,
    pub(crate) latency_ms: Option<f64>,
    pub(crate) ttft_ms: Option<f64>,
    pub(crate) prompt_tokens: Option<i64>,
    pub(crate) completion_tokens: Option<i64>,
    pub(crate) cost_usd: Option<f64>,
    pub(crate) error: Option<String>,
    pub(crate) message_count: i64,
    /// The last (up to) four messages: role and the start of the content.
    pub(crate) messages: Vec<(String, String)>,
    pub(crate) answer: Option<String>,
}

/// Everything the report shows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Report {
    pub(crate) db: String,
    pub(crate) window: String,
    pub(crate) generated: DateTime<Utc>,
    pub(crate) summary: Summary,
    pub(crate) bucket_seconds: i64,
    pub(crate) bucket_name: &'static str,
    pub(crate) timeline: Vec<Bucket>,
    pub(crate) latency: Vec<Histogram>,
    pub(crate) ttft: Vec<Histogram>,
    pub(crate) errors: Vec<ErrorKind>,
    pub(crate) slowest: Vec<Call>,
    pub(crate) costliest: Vec<Call>,
}

/// Error messages grouped by what failed: the first words of the client's messages (see
/// observers-openai's `Error`), the HTTP status for server errors.
const ERROR_KIND_SQL: &str = "CASE
    WHEN error LIKE 'the server answered HTTP 200 with an error%' THEN 'error inside an HTTP 200 answer'
    WHEN regexp_matches(error, '^the server answered HTTP [0-9]+') THEN 'HTTP ' || regexp_extract(error, '^the server answered HTTP ([0-9]+)', 1)
    WHEN error LIKE 'the request to % timed out%' THEN 'timeout'
    WHEN error LIKE 'could not connect to %' THEN 'could not connect'
    WHEN error LIKE 'the connection to % failed%' THEN 'connection failed'
    WHEN error LIKE '%dropped the stream before its end%' THEN 'stream dropped by the caller'
    WHEN error LIKE 'the stream failed%' THEN 'stream failed'
    WHEN error LIKE 'the server''s answer is not a valid chat completion%' THEN 'invalid answer'
    WHEN error LIKE 'the server''s answer is larger than%' THEN 'answer too large'
    WHEN error LIKE 'invalid request%' THEN 'invalid request'
    WHEN error LIKE 'no API key%' THEN 'no API key'
    ELSE 'other'
END";

/// The columns of a listed call, for [`call_from`].
const CALL_COLUMNS: &str = "id, strftime(timestamp, '%Y-%m-%d %H:%M:%S'), coalesce(model, '(no model)'),
    latency_ms, time_to_first_token_ms, prompt_tokens, completion_tokens, cost_usd, left(error, 600),
    coalesce(len(messages), 0),
    to_json(list_transform(list_slice(messages, -4, -1), lambda m: {'role': m.role, 'content': left(coalesce(m.content, ''), 600)}))::VARCHAR,
    left(assistant_message, 600)";

fn call_from(row: &[Cell]) -> Call {
    let get = |i: usize| row.get(i).unwrap_or(&Cell::Null);
    let text = |i: usize| get(i).text().map(str::to_string);
    let messages = text(10)
        .and_then(|json| serde_json::from_str::<Vec<Value>>(&json).ok())
        .unwrap_or_default()
        .iter()
        .map(|m| {
            let field = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            (field("role"), field("content"))
        })
        .collect();
    Call {
        id: text(0).unwrap_or_default(),
        time: text(1).unwrap_or_default(),
        model: text(2).unwrap_or_default(),
        latency_ms: get(3).float(),
        ttft_ms: get(4).float(),
        prompt_tokens: get(5).int(),
        completion_tokens: get(6).int(),
        cost_usd: get(7).float(),
        error: text(8),
        message_count: get(9).int().unwrap_or(0),
        messages,
        answer: text(11),
    }
}

/// The calls of `condition` with the largest `column`.
async fn top_calls(store: &DuckDbStore, condition: &str, column: &str) -> Result<Vec<Call>, String> {
    // The top ids first, from two narrow columns; then the wide columns of those rows only.
    let rows = query::rows(
        store,
        format!(
            "WITH top AS (SELECT id FROM openai_records WHERE {condition} AND {column} IS NOT NULL
                          ORDER BY {column} DESC, id LIMIT {TOP_CALLS})
             SELECT {CALL_COLUMNS} FROM openai_records WHERE id IN (SELECT id FROM top)
             ORDER BY {column} DESC, id"
        ),
    )
    .await?;
    Ok(rows.iter().map(|row| call_from(row)).collect())
}

/// Calls per bin of `column` for every model, the models in the summary's order.
async fn histograms(
    store: &DuckDbStore,
    condition: &str,
    column: &str,
    summary: &Summary,
    percentiles: impl Fn(&stats::Group) -> [Option<f64>; 3],
) -> Result<Vec<Histogram>, String> {
    let rows = query::rows(
        store,
        format!(
            "SELECT coalesce(model, '(no model)') AS model,
                    floor(log10(greatest({column}, 0.01)) * {BINS_PER_DECADE})::BIGINT AS bin, count(*)
             FROM openai_records WHERE {condition} AND {column} IS NOT NULL
             GROUP BY ALL ORDER BY model, bin"
        ),
    )
    .await?;
    let mut histograms = Vec::new();
    for group in summary.groups.iter().take(MAX_MODELS) {
        let bins: Vec<(i64, i64)> = rows
            .iter()
            .filter(|row| row[0].text() == Some(group.key.as_str()))
            .map(|row| (row[1].int().unwrap_or(0), row[2].int().unwrap_or(0)))
            .collect();
        if !bins.is_empty() {
            histograms.push(Histogram { model: group.key.clone(), bins, percentiles: percentiles(group) });
        }
    }
    Ok(histograms)
}

/// Gathers the report's figures.
pub(crate) async fn gather(store: &DuckDbStore, window: &Window, db: &str) -> Result<Report, String> {
    let condition = window.condition();
    let summary = stats::summarize(store, window, By::Model).await?;

    let span = query::rows(
        store,
        format!(
            "SELECT epoch_us(min(timestamp)), epoch_us(max(timestamp)) FROM openai_records WHERE {condition}"
        ),
    )
    .await?;
    let (first, last) = span.first().map_or((None, None), |row| (row[0].int(), row[1].int()));
    let span_seconds = match (first, last) {
        (Some(first), Some(last)) => (last - first) / 1_000_000 + 1,
        _ => 0,
    };
    let (bucket_seconds, bucket_name) = BUCKETS
        .iter()
        .copied()
        .find(|(seconds, _)| span_seconds / seconds < MAX_BUCKETS)
        .unwrap_or(BUCKETS[9]);
    let bucket_us = bucket_seconds * 1_000_000;
    let counted = query::rows(
        store,
        format!(
            "SELECT (epoch_us(timestamp) // {bucket_us}) * {bucket_us} AS t, count(*), count(error),
                    coalesce(sum(cost_usd), 0)
             FROM openai_records WHERE {condition} GROUP BY t ORDER BY t"
        ),
    )
    .await?;
    // Every bucket from the first call's to the last's, empty ones included.
    let mut timeline = Vec::new();
    if let (Some(first), Some(last)) = (first, last) {
        let mut counted = counted.iter().peekable();
        let mut start = first.div_euclid(bucket_us) * bucket_us;
        while start <= last {
            let mut bucket = Bucket { start_us: start, calls: 0, errors: 0, cost_usd: 0.0 };
            if let Some(row) = counted.next_if(|row| row[0].int() == Some(start)) {
                bucket.calls = row[1].int().unwrap_or(0);
                bucket.errors = row[2].int().unwrap_or(0);
                bucket.cost_usd = row[3].float().unwrap_or(0.0);
            }
            timeline.push(bucket);
            start += bucket_us;
        }
    }

    let latency = histograms(store, &condition, "latency_ms", &summary, |g| g.latency).await?;
    let ttft = histograms(store, &condition, "time_to_first_token_ms", &summary, |g| g.ttft).await?;
    let errors = query::rows(
        store,
        format!(
            "SELECT {ERROR_KIND_SQL} AS kind, count(*) AS calls, count(DISTINCT model), left(min(error), 600)
             FROM openai_records WHERE {condition} AND error IS NOT NULL
             GROUP BY kind ORDER BY calls DESC, kind"
        ),
    )
    .await?
    .iter()
    .map(|row| ErrorKind {
        kind: row[0].text().unwrap_or_default().to_string(),
        calls: row[1].int().unwrap_or(0),
        models: row[2].int().unwrap_or(0),
        example: row[3].text().unwrap_or_default().to_string(),
    })
    .collect();
    let slowest = top_calls(store, &condition, "latency_ms").await?;
    let costliest = top_calls(store, &condition, "cost_usd").await?;
    Ok(Report {
        db: db.to_string(),
        window: window.describe(),
        generated: Utc::now(),
        summary,
        bucket_seconds,
        bucket_name,
        timeline,
        latency,
        ttft,
        errors,
        slowest,
        costliest,
    })
}

impl Report {
    /// The figures as JSON, embedded in the page for scripts and tests to read.
    pub(crate) fn data(&self) -> Value {
        let group = |g: &stats::Group| {
            json!({
                "key": g.key, "calls": g.calls, "errors": g.errors,
                "latency_ms": {"p50": g.latency[0], "p95": g.latency[1], "p99": g.latency[2]},
                "ttft_ms": {"p50": g.ttft[0], "p95": g.ttft[1], "p99": g.ttft[2]},
                "prompt_tokens": g.prompt_tokens, "completion_tokens": g.completion_tokens,
                "cached_tokens": g.cached_tokens, "reasoning_tokens": g.reasoning_tokens,
                "cost_usd": g.cost_usd, "priced_calls": g.priced, "unpriced_calls": g.unpriced,
            })
        };
        let histogram = |h: &Histogram| json!({"model": h.model, "bins": h.bins});
        let call = |c: &Call| {
            json!({
                "id": c.id, "time": c.time, "model": c.model, "latency_ms": c.latency_ms,
                "ttft_ms": c.ttft_ms, "prompt_tokens": c.prompt_tokens,
                "completion_tokens": c.completion_tokens, "cost_usd": c.cost_usd, "error": c.error,
            })
        };
        json!({
            "db": self.db,
            "window": self.window,
            "generated": self.generated.to_rfc3339(),
            "total": group(&self.summary.total),
            "models": self.summary.groups.iter().map(group).collect::<Vec<_>>(),
            "unpriced_models": self.summary.unpriced_models,
            "bucket_seconds": self.bucket_seconds,
            "timeline": self.timeline.iter().map(|b| json!([b.start_us, b.calls, b.errors, b.cost_usd])).collect::<Vec<_>>(),
            "latency_bins_per_decade": BINS_PER_DECADE,
            "latency_histograms": self.latency.iter().map(histogram).collect::<Vec<_>>(),
            "ttft_histograms": self.ttft.iter().map(histogram).collect::<Vec<_>>(),
            "errors": self.errors.iter().map(|e| json!({"kind": e.kind, "calls": e.calls, "models": e.models})).collect::<Vec<_>>(),
            "slowest": self.slowest.iter().map(call).collect::<Vec<_>>(),
            "costliest": self.costliest.iter().map(call).collect::<Vec<_>>(),
        })
    }
}

pub(crate) async fn run(args: Args) -> Result<(), String> {
    let window = Window::parse(args.since.as_deref(), Utc::now())?;
    let store = open_existing_with(&args.db, stats::READ_MEMORY_LIMIT)?;
    let report = gather(&store, &window, &args.db.display().to_string()).await?;
    let page = html::render(&report);
    std::fs::write(&args.out, page)
        .map_err(|e| format!("could not write the report to {}: {e}", args.out.display()))?;
    println!(
        "wrote {} ({} calls, {}): open it in a browser",
        args.out.display(),
        query::int(report.summary.total.calls),
        report.window
    );
    Ok(())
}
