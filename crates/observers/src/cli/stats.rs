//! `observers stats`: calls, errors, latency and time-to-first-token percentiles, tokens and
//! cost over a time window, one row per model, tag or day.

use std::path::PathBuf;

use chrono::Utc;

use super::open_existing_with;
use super::query::{self, int, ms, percent, usd, Cell};
use super::window::Window;
use crate::DuckDbStore;

/// DuckDB's memory cap for `stats` and `report`: exact percentiles hold the latency and
/// time to first token of every call in the window (16 bytes a call, twice when the groups
/// and their total are computed in one pass); 10,000,000 calls fit with room to spare.
pub(crate) const READ_MEMORY_LIMIT: &str = "1GB";

/// Arguments of `observers stats`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The local store.
    #[arg(long, default_value = "store.db")]
    db: PathBuf,
    /// Only calls since then: a duration back from now (30m, 24h, 7d, 2w) or a UTC date or
    /// time (2026-12-01, 2026-12-01T08:00:00Z). Default: every call.
    #[arg(long)]
    since: Option<String>,
    /// One row per model, per tag (a call with several tags counts under each), or per day (UTC).
    #[arg(long, value_enum, default_value_t = By::Model)]
    by: By,
}

/// What a row of `observers stats` stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum By {
    Model,
    Tag,
    Day,
}

/// The figures of one row: a model, tag or day, or all calls.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Group {
    pub(crate) key: String,
    pub(crate) calls: i64,
    pub(crate) errors: i64,
    /// p50, p95, p99 (ms); `None` when no call of the group has one.
    pub(crate) latency: [Option<f64>; 3],
    pub(crate) ttft: [Option<f64>; 3],
    pub(crate) prompt_tokens: Option<i64>,
    pub(crate) completion_tokens: Option<i64>,
    pub(crate) cached_tokens: Option<i64>,
    pub(crate) reasoning_tokens: Option<i64>,
    /// Sum over the calls that have a cost.
    pub(crate) cost_usd: Option<f64>,
    /// Calls with a cost.
    pub(crate) priced: i64,
    /// Successful calls without a cost (their model has no price, or no token counts).
    pub(crate) unpriced: i64,
}

/// What `observers stats` (and the report's table) shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Summary {
    pub(crate) groups: Vec<Group>,
    pub(crate) total: Group,
    /// Models of successful calls without a cost, with their number of calls, most first.
    pub(crate) unpriced_models: Vec<(String, i64)>,
}

/// The aggregates of a row, over the calls of `FROM (...)` (which has a `key` column).
const AGGREGATES: &str = "count(*) AS calls, count(error) AS errors,
    quantile_cont(latency_ms, [0.5, 0.95, 0.99]) AS latency,
    quantile_cont(time_to_first_token_ms, [0.5, 0.95, 0.99]) AS ttft,
    sum(prompt_tokens)::BIGINT AS prompt_tokens, sum(completion_tokens)::BIGINT AS completion_tokens,
    sum(cached_tokens)::BIGINT AS cached_tokens, sum(reasoning_tokens)::BIGINT AS reasoning_tokens,
    sum(cost_usd) AS cost_usd, count(cost_usd) AS priced,
    count(*) FILTER (WHERE cost_usd IS NULL AND error IS NULL) AS unpriced";

/// The columns read back, in [`group_from`]'s order.
const FLAT: &str =
    "is_total, key, calls, errors, latency[1], latency[2], latency[3], ttft[1], ttft[2], ttft[3],
    prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, cost_usd, priced, unpriced";

fn group_from(row: &[Cell]) -> Group {
    let get = |i: usize| row.get(i).unwrap_or(&Cell::Null);
    Group {
        key: get(1).text().unwrap_or_default().to_string(),
        calls: get(2).int().unwrap_or(0),
        errors: get(3).int().unwrap_or(0),
        latency: [get(4).float(), get(5).float(), get(6).float()],
        ttft: [get(7).float(), get(8).float(), get(9).float()],
        prompt_tokens: get(10).int(),
        completion_tokens: get(11).int(),
        cached_tokens: get(12).int(),
        reasoning_tokens: get(13).int(),
        cost_usd: get(14).float(),
        priced: get(15).int().unwrap_or(0),
        unpriced: get(16).int().unwrap_or(0),
    }
}

/// The figures of the calls in `window`, one group per `by`, and their total.
pub(crate) async fn summarize(store: &DuckDbStore, window: &Window, by: By) -> Result<Summary, String> {
    let condition = window.condition();
    let (key, order) = match by {
        By::Model => ("coalesce(model, '(no model)')", "calls DESC, key"),
        By::Day => ("strftime(timestamp, '%Y-%m-%d')", "key"),
        By::Tag => (
            "unnest(CASE WHEN coalesce(len(tags), 0) > 0 THEN tags ELSE ['(no tag)'] END)",
            "calls DESC, key",
        ),
    };
    // One pass computes the groups and the total, except by tag, where a call counts under
    // each of its tags but once in the total.
    let sets = if by == By::Tag { "(key)" } else { "(key), ()" };
    let mut rows = query::rows(
        store,
        format!(
            "SELECT {FLAT} FROM (
                SELECT grouping(key) AS is_total, key, {AGGREGATES}
                FROM (SELECT {key} AS key, * FROM openai_records WHERE {condition})
                GROUP BY GROUPING SETS ({sets})
            ) ORDER BY is_total, {order}"
        ),
    )
    .await?;
    if by == By::Tag {
        rows.extend(
            query::rows(
                store,
                format!(
                    "SELECT {FLAT} FROM (
                        SELECT 1 AS is_total, NULL AS key, {AGGREGATES}
                        FROM openai_records WHERE {condition})"
                ),
            )
            .await?,
        );
    }
    let mut summary = Summary::default();
    for row in rows {
        let group = group_from(&row);
        if row.first().and_then(Cell::int) == Some(1) {
            summary.total = Group { key: "all".into(), ..group };
        } else if group.calls > 0 {
            summary.groups.push(group);
        }
    }
    summary.total.key = "all".into();
    summary.unpriced_models = query::rows(
        store,
        format!(
            "SELECT coalesce(model, '(no model)'), count(*) FROM openai_records
             WHERE {condition} AND cost_usd IS NULL AND error IS NULL
             GROUP BY ALL ORDER BY count(*) DESC, 1 LIMIT 20"
        ),
    )
    .await?
    .into_iter()
    .map(|row| (row[0].text().unwrap_or_default().to_string(), row[1].int().unwrap_or(0)))
    .collect();
    Ok(summary)
}

/// A token count, or `-` when no call reported one.
fn tokens(n: Option<i64>) -> String {
    n.map_or_else(|| "-".into(), int)
}

fn latency(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), ms)
}

/// The cost cell: the sum over priced calls, `+?` when some calls have none, `-` when none has.
pub(crate) fn cost_cell(group: &Group) -> String {
    match group.cost_usd {
        Some(cost) if group.priced > 0 && group.unpriced > 0 => format!("{} +?", usd(cost)),
        Some(cost) if group.priced > 0 => usd(cost),
        _ => "-".into(),
    }
}

/// The table `observers stats` prints.
pub(crate) fn render(summary: &Summary, by: By, title: &str) -> String {
    if summary.total.calls == 0 {
        return format!("{title}\n\nno calls recorded in this window.\n");
    }
    let first = match by {
        By::Model => "model",
        By::Tag => "tag",
        By::Day => "day (UTC)",
    };
    let headers = [
        first,
        "calls",
        "errors",
        "error %",
        "latency p50 ms",
        "p95 ms",
        "p99 ms",
        "TTFT p50 ms",
        "p95 ms",
        "p99 ms",
        "prompt tokens",
        "cached",
        "completion tokens",
        "reasoning",
        "cost USD",
    ];
    let row = |g: &Group| {
        vec![
            g.key.clone(),
            int(g.calls),
            int(g.errors),
            percent(g.errors, g.calls),
            latency(g.latency[0]),
            latency(g.latency[1]),
            latency(g.latency[2]),
            latency(g.ttft[0]),
            latency(g.ttft[1]),
            latency(g.ttft[2]),
            tokens(g.prompt_tokens),
            tokens(g.cached_tokens),
            tokens(g.completion_tokens),
            tokens(g.reasoning_tokens),
            cost_cell(g),
        ]
    };
    let mut rows: Vec<Vec<String>> = summary.groups.iter().map(row).collect();
    rows.push(row(&summary.total));
    let mut out = format!("{title}\n\n{}", query::table(&headers, &rows));
    let mut notes = Vec::new();
    if by == By::Tag {
        notes.push("a call with several tags counts under each; `all` counts it once".to_string());
    }
    if summary.total.ttft.iter().all(Option::is_none) {
        notes.push("TTFT (time to first token) is measured for streamed calls only".to_string());
    }
    if summary.total.unpriced > 0 {
        let models: Vec<String> =
            summary.unpriced_models.iter().map(|(model, n)| format!("{model} ({})", int(*n))).collect();
        notes.push(format!(
            "{} successful call(s) have no cost (`-`, or `+?` beside a partial sum): their model has no \
             price or they reported no token counts: {}; add prices with `observers reprice --prices FILE`",
            int(summary.total.unpriced),
            models.join(", ")
        ));
    }
    if summary.total.errors == summary.total.calls {
        notes
            .push("every call in this window failed: see `observers report` for the error kinds".to_string());
    }
    for note in notes {
        out.push_str(&format!("\nnote: {note}"));
    }
    out.push('\n');
    out
}

pub(crate) async fn run(args: Args) -> Result<(), String> {
    let window = Window::parse(args.since.as_deref(), Utc::now())?;
    let store = open_existing_with(&args.db, READ_MEMORY_LIMIT)?;
    let summary = summarize(&store, &window, args.by).await?;
    let by = match args.by {
        By::Model => "model",
        By::Tag => "tag",
        By::Day => "day",
    };
    let title = format!("{}: {}, by {by}", args.db.display(), window.describe());
    println!("{}", render(&summary, args.by, &title));
    Ok(())
}
