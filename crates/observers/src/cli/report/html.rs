//! The report as one HTML page: inline CSS and SVG, no script, no external resource.
//!
//! Everything that comes from the store (model names, messages, answers, errors, tags) goes
//! through [`esc`] on its way into the page, and the page's Content-Security-Policy forbids
//! scripts and every network load, so even a missed escape could not run code or call out.

use std::fmt::Write as _;

use chrono::DateTime;

use super::{Bucket, Call, Histogram, Report, BINS_PER_DECADE, MAX_MODELS};
use crate::cli::query::{int, ms, percent, usd};
use crate::cli::stats::{cost_cell, Group};

const BLUE: &str = "#4269d0";
const RED: &str = "#e45756";
const GREEN: &str = "#3ca951";
const ORANGE: &str = "#efb118";
const PURPLE: &str = "#a463f2";
const GREY: &str = "#9aa0a6";

/// Text made safe for HTML element content and quoted attribute values.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than tab and newlines have no business in a page.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// At most `n` characters of `text`, with an ellipsis when cut.
fn cut(text: &str, n: usize) -> String {
    match text.char_indices().nth(n) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// JSON for a `<script type="application/json">` block: `<`, `>` and `&` written as
/// `\u003c`..., so no text in it can close the element.
fn json_for_script(value: &observers_core::serde_json::Value) -> String {
    value.to_string().replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.sub{color:#59636e;margin:0 0 16px}
section{background:#fff;border:1px solid #d1d9e0;border-radius:8px;padding:12px 16px;margin:16px 0}
.cards{display:flex;flex-wrap:wrap;gap:12px;background:none;border:0;padding:0}
.card{flex:1 1 150px;background:#fff;border:1px solid #d1d9e0;border-radius:8px;padding:10px 14px}
.card .v{font-size:22px;font-weight:600}.card .l{color:#59636e;font-size:12px}
.scroll{overflow-x:auto}tr.total td{font-weight:600}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:4px 8px;border-bottom:1px solid #eaeef2;text-align:right;vertical-align:top}
th:first-child,td:first-child,td.t,th.t{text-align:left}
th{color:#59636e;font-weight:600;white-space:nowrap}
td{white-space:nowrap}td.t{max-width:520px;overflow-wrap:anywhere;white-space:normal}
.legend span{display:inline-block;margin-right:14px;font-size:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
.note{color:#59636e;font-size:12px}
.err{color:#b3261e}
details summary{cursor:pointer}
pre{white-space:pre-wrap;overflow-wrap:anywhere;margin:2px 0 8px;padding:6px 8px;background:#f6f8fa;border-radius:4px;font-size:12px}
svg text{font:11px system-ui,sans-serif;fill:#59636e}
";

/// The whole page.
pub(crate) fn render(report: &Report) -> String {
    let mut page = String::with_capacity(64 * 1024);
    let title = format!("observers report: {}", report.db);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>\
         <h1>observers report</h1><p class=\"sub\">{} · {} · generated {}</p>",
        esc(&title),
        esc(&report.db),
        esc(&report.window),
        report.generated.format("%Y-%m-%d %H:%M:%S UTC"),
    );
    let total = &report.summary.total;
    if total.calls == 0 {
        page.push_str(
            "<section id=\"empty\"><p>No calls were recorded in this window, so there is nothing to chart. \
             Record some calls through a wrapped client (or widen <code>--since</code>) and run \
             <code>observers report</code> again.</p></section>",
        );
    } else {
        cards(&mut page, report);
        per_model(&mut page, report);
        timeline(&mut page, report);
        distributions(
            &mut page,
            "latency",
            "Latency per model",
            &report.latency,
            "the whole call, request to last byte",
        );
        if report.ttft.is_empty() {
            page.push_str(
                "<section id=\"ttft\"><h2>Time to first token per model</h2><p class=\"note\">No call in this \
                 window has a time to first token: it is measured for streamed calls only.</p></section>",
            );
        } else {
            distributions(
                &mut page,
                "ttft",
                "Time to first token per model",
                &report.ttft,
                "streamed calls only",
            );
        }
        errors(&mut page, report);
        tokens(&mut page, report);
        calls(&mut page, "slowest", "Slowest calls", &report.slowest, "No call has a latency.");
        calls(
            &mut page,
            "costliest",
            "Most expensive calls",
            &report.costliest,
            "No call has a cost: their models have no price (see <code>observers reprice --prices FILE</code>).",
        );
    }
    let _ = write!(
        page,
        "<p class=\"note\">Made by <code>observers report</code>: one file, no script, nothing loaded from the \
         network. The figures are also in the <code>observers-data</code> JSON block of this page.</p>\
         </main><script type=\"application/json\" id=\"observers-data\">{}</script></body></html>",
        json_for_script(&report.data())
    );
    page.push('\n');
    page
}

fn cards(page: &mut String, report: &Report) {
    let t = &report.summary.total;
    let tokens = t.prompt_tokens.unwrap_or(0) + t.completion_tokens.unwrap_or(0);
    let cost = if t.priced > 0 { usd(t.cost_usd.unwrap_or(0.0)) } else { "-".into() };
    let latency = t.latency[0].map_or("-".into(), |x| format!("{} ms", ms(x)));
    let cards = [
        ("total-calls", int(t.calls), "calls".to_string()),
        ("total-errors", int(t.errors), format!("errors ({})", percent(t.errors, t.calls))),
        ("total-latency-p50", latency, "median latency".to_string()),
        ("total-tokens", int(tokens), "tokens (prompt + completion)".to_string()),
        (
            "total-cost",
            cost,
            if t.unpriced > 0 {
                format!("cost, {} calls without a price", int(t.unpriced))
            } else {
                "cost".to_string()
            },
        ),
    ];
    page.push_str("<section class=\"cards\" id=\"totals\">");
    for (id, value, label) in cards {
        let _ = write!(
            page,
            "<div class=\"card\"><div class=\"v\" id=\"{id}\">{}</div><div class=\"l\">{}</div></div>",
            esc(&value),
            esc(&label)
        );
    }
    page.push_str("</section>");
}

fn per_model(page: &mut String, report: &Report) {
    page.push_str(
        "<section id=\"per-model\"><h2>Per model</h2><div class=\"scroll\"><table><thead><tr><th>model</th><th>calls</th>\
         <th>errors</th><th>latency ms<br>p50 / p95 / p99</th><th>TTFT ms<br>p50 / p95 / p99</th>\
         <th>prompt tokens<br>(cached)</th><th>completion tokens<br>(reasoning)</th><th>cost</th></tr></thead><tbody>",
    );
    let three = |x: [Option<f64>; 3]| {
        if x.iter().all(Option::is_none) {
            "-".to_string()
        } else {
            x.map(|v| v.map_or("-".into(), ms)).join(" / ")
        }
    };
    let tokens = |n: Option<i64>, part: Option<i64>| match (n, part) {
        (None, _) => "-".to_string(),
        (Some(n), Some(part)) if part > 0 => format!("{} ({})", int(n), int(part)),
        (Some(n), _) => int(n),
    };
    let row = |page: &mut String, g: &Group, class: &str| {
        let _ = write!(
            page,
            "<tr class=\"{class}\"><td>{}</td><td>{}</td><td>{} ({})</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&g.key),
            int(g.calls),
            int(g.errors),
            percent(g.errors, g.calls),
            three(g.latency),
            three(g.ttft),
            tokens(g.prompt_tokens, g.cached_tokens),
            tokens(g.completion_tokens, g.reasoning_tokens),
            esc(&cost_cell(g)),
        );
    };
    for g in &report.summary.groups {
        row(page, g, "model");
    }
    row(page, &report.summary.total, "total");
    page.push_str("</tbody></table></div>");
    if !report.summary.unpriced_models.is_empty() {
        let models: Vec<String> =
            report.summary.unpriced_models.iter().map(|(m, n)| format!("{} ({})", esc(m), int(*n))).collect();
        let _ = write!(
            page,
            "<p class=\"note\" id=\"unpriced\">Successful calls without a cost (<code>+?</code> beside a partial sum): \
             their model has no price, or they reported no token counts: {}. Add prices with \
             <code>observers reprice --prices FILE</code>.</p>",
            models.join(", ")
        );
    }
    page.push_str("</section>");
}

/// A stacked series over time: each bucket's value, its colour, its name.
type Series<'a> = (&'a dyn Fn(&Bucket) -> f64, &'a str, &'a str);
/// A horizontal bar: its label, its stacked parts (value, colour, name), the total's text.
type BarRow<'a> = (String, Vec<(f64, &'a str, &'a str)>, String);

/// A "nice" step for an axis from 0 to `max` with about four ticks.
fn nice_step(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let raw = max / 4.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw);
    step.unwrap_or(10.0 * magnitude)
}

/// Vertical bars over time, stacked from `series` (value of each bucket, colour, name).
fn time_bars(
    page: &mut String,
    id: &str,
    buckets: &[Bucket],
    series: &[Series<'_>],
    label: &dyn Fn(f64) -> String,
    bucket_seconds: i64,
) {
    let (width, height, left, right, top, bottom) = (960.0, 220.0, 64.0, 12.0, 10.0, 36.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let max = buckets.iter().map(|b| series.iter().map(|(f, _, _)| f(b)).sum::<f64>()).fold(0.0, f64::max);
    let step = nice_step(max);
    let top_value = (max / step).ceil().max(1.0) * step;
    let y = |v: f64| top + plot_h - v / top_value * plot_h;
    let _ = write!(page, "<svg id=\"{id}\" viewBox=\"0 0 {width} {height}\" width=\"100%\" role=\"img\">");
    let mut tick = 0.0;
    while tick <= top_value + step / 2.0 {
        let _ = write!(
            page,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#eaeef2\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            width - right,
            left - 6.0,
            y(tick) + 4.0,
            esc(&label(tick)),
            y = y(tick),
        );
        tick += step;
    }
    let n = buckets.len().max(1) as f64;
    let bar = plot_w / n;
    let format = if bucket_seconds >= 86_400 {
        "%Y-%m-%d"
    } else if bucket_seconds >= 60 {
        "%m-%d %H:%M"
    } else {
        "%H:%M:%S"
    };
    let when = |b: &Bucket| {
        DateTime::from_timestamp_micros(b.start_us).map_or_else(String::new, |t| t.format(format).to_string())
    };
    for (i, b) in buckets.iter().enumerate() {
        let x = left + i as f64 * bar;
        let mut base = 0.0;
        let mut tip = when(b);
        for (f, colour, name) in series {
            let v = f(b);
            let _ = write!(tip, ", {name} {}", label(v));
            if v > 0.0 {
                let _ = write!(
                    page,
                    "<rect x=\"{x:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\" fill=\"{colour}\"/>",
                    y(base + v),
                    (bar - 0.6).max(0.5),
                    (y(base) - y(base + v)).max(0.5),
                );
            }
            base += v;
        }
        // A full-height, invisible target: hovering the bucket tells its figures.
        let _ = write!(
            page,
            "<rect x=\"{x:.2}\" y=\"{top}\" width=\"{bar:.2}\" height=\"{plot_h}\" fill=\"transparent\"><title>{}</title></rect>",
            esc(&tip)
        );
    }
    let labels = 6.min(buckets.len());
    for k in 0..labels {
        let i = if labels <= 1 { 0 } else { k * (buckets.len() - 1) / (labels - 1) };
        let x = left + (i as f64 + 0.5) * bar;
        let anchor = if k == 0 && labels > 1 {
            "start"
        } else if k + 1 == labels && labels > 1 {
            "end"
        } else {
            "middle"
        };
        let x = match anchor {
            "start" => left,
            "end" => width - right,
            _ => x,
        };
        let _ = write!(
            page,
            "<text x=\"{x:.1}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text>",
            height - bottom + 16.0,
            esc(&when(&buckets[i]))
        );
    }
    page.push_str("</svg>");
}

fn legend(page: &mut String, items: &[(&str, &str)]) {
    page.push_str("<div class=\"legend\">");
    for (colour, name) in items {
        let _ = write!(page, "<span><i style=\"background:{colour}\"></i>{}</span>", esc(name));
    }
    page.push_str("</div>");
}

fn timeline(page: &mut String, report: &Report) {
    let _ = write!(
        page,
        "<section id=\"timeline\"><h2>Calls over time</h2><p class=\"note\">One bar per {} (UTC); hover a bar for its figures.</p>",
        report.bucket_name
    );
    legend(page, &[(BLUE, "succeeded"), (RED, "failed")]);
    let ok = |b: &Bucket| (b.calls - b.errors) as f64;
    let failed = |b: &Bucket| b.errors as f64;
    time_bars(
        page,
        "calls-over-time",
        &report.timeline,
        &[(&ok, BLUE, "succeeded"), (&failed, RED, "failed")],
        &|v| int(v.round() as i64),
        report.bucket_seconds,
    );
    page.push_str("<h2>Cost over time</h2>");
    if report.summary.total.priced == 0 {
        page.push_str("<p class=\"note\">No call in this window has a cost: their models have no price.</p>");
    } else {
        let cost = |b: &Bucket| b.cost_usd;
        time_bars(
            page,
            "cost-over-time",
            &report.timeline,
            &[(&cost, GREEN, "cost")],
            &usd,
            report.bucket_seconds,
        );
    }
    page.push_str("</section>");
}

/// Milliseconds at the lower edge of histogram bin `bin`.
fn bin_ms(bin: f64) -> f64 {
    10f64.powf(bin / BINS_PER_DECADE as f64)
}

/// `x` to three significant digits (axis labels: 178 ms, not 177.83 ms).
fn round3(x: f64) -> f64 {
    if x <= 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powf(2.0 - x.log10().floor());
    (x * scale).round() / scale
}

fn ms_label(x: f64) -> String {
    if x >= 10_000.0 {
        format!("{} s", ms(x / 1000.0))
    } else if x >= 1000.0 {
        format!("{:.2} s", x / 1000.0)
    } else {
        format!("{} ms", ms(x))
    }
}

/// One histogram per model over a shared logarithmic axis, with p50/p95/p99 marked.
fn distributions(page: &mut String, id: &str, title: &str, histograms: &[Histogram], what: &str) {
    let _ = write!(
        page,
        "<section id=\"{id}\"><h2>{}</h2><p class=\"note\">{}; logarithmic axis, {} bins per factor of ten; \
         each model's bars scaled to its own busiest bin; dashed lines: p50, p95, p99{}.</p>",
        esc(title),
        esc(what),
        BINS_PER_DECADE,
        if histograms.len() >= MAX_MODELS { "; the models with the most calls" } else { "" }
    );
    let lo = histograms.iter().flat_map(|h| h.bins.iter().map(|b| b.0)).min().unwrap_or(0);
    let hi = histograms.iter().flat_map(|h| h.bins.iter().map(|b| b.0)).max().unwrap_or(0) + 1;
    let (width, row_h, left, right) = (960.0, 64.0, 190.0, 28.0);
    let plot_w = width - left - right;
    let height = histograms.len() as f64 * row_h + 30.0;
    let span = (hi - lo).max(1) as f64;
    let x = |bin: f64| left + (bin - lo as f64) / span * plot_w;
    let x_of_ms = |v: f64| x((v.max(0.01).log10() * BINS_PER_DECADE as f64).clamp(lo as f64, hi as f64));
    let _ = write!(
        page,
        "<svg id=\"{id}-histograms\" viewBox=\"0 0 {width} {height}\" width=\"100%\" role=\"img\">"
    );
    for (row, h) in histograms.iter().enumerate() {
        let top = row as f64 * row_h + 6.0;
        let bar_h = row_h - 16.0;
        let busiest = h.bins.iter().map(|b| b.1).max().unwrap_or(1).max(1) as f64;
        let calls: i64 = h.bins.iter().map(|b| b.1).sum();
        let _ = write!(
            page,
            "<text x=\"0\" y=\"{:.1}\"><title>{}</title>{}</text><text x=\"0\" y=\"{:.1}\">{} calls</text>",
            top + bar_h / 2.0,
            esc(&h.model),
            esc(&cut(&h.model, 28)),
            top + bar_h / 2.0 + 14.0,
            int(calls)
        );
        let _ = write!(
            page,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#d1d9e0\"/>",
            width - right,
            top + bar_h,
            top + bar_h
        );
        for (bin, count) in &h.bins {
            let bh = *count as f64 / busiest * bar_h;
            let _ = write!(
                page,
                "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\" fill=\"{BLUE}\"><title>{}: {} to {}: {} calls</title></rect>",
                x(*bin as f64) + 0.5,
                top + bar_h - bh,
                (plot_w / span - 1.0).max(0.5),
                bh.max(0.5),
                esc(&h.model),
                ms_label(bin_ms(*bin as f64)),
                ms_label(bin_ms(*bin as f64 + 1.0)),
                int(*count)
            );
        }
        for (k, (value, name, colour)) in h
            .percentiles
            .iter()
            .zip([("p50", GREY), ("p95", ORANGE), ("p99", RED)])
            .map(|(v, (n, c))| (v, n, c))
            .enumerate()
        {
            if let Some(v) = value {
                let px = x_of_ms(*v);
                let _ = write!(
                    page,
                    "<line x1=\"{px:.1}\" x2=\"{px:.1}\" y1=\"{top:.1}\" y2=\"{:.1}\" stroke=\"{colour}\" stroke-width=\"1.5\" stroke-dasharray=\"3 2\"><title>{name}: {}</title></line>\
                     <text x=\"{:.1}\" y=\"{:.1}\" style=\"fill:{colour}\">{name}</text>",
                    top + bar_h,
                    ms_label(*v),
                    px + 2.0,
                    top + 9.0 + 10.0 * k as f64,
                );
            }
        }
    }
    let axis_y = histograms.len() as f64 * row_h + 18.0;
    let every = if hi - lo <= 12 { 1 } else { BINS_PER_DECADE };
    let mut edge = lo.div_euclid(every) * every;
    while edge <= hi {
        if edge >= lo {
            let _ = write!(
                page,
                "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#d1d9e0\"/>\
                 <text x=\"{x:.1}\" y=\"{axis_y}\" text-anchor=\"middle\">{}</text>",
                axis_y - 14.0,
                axis_y - 10.0,
                ms_label(round3(bin_ms(edge as f64))),
                x = x(edge as f64),
            );
        }
        edge += every;
    }
    page.push_str("</svg></section>");
}

/// Horizontal bars: a label, stacked parts (value, colour, name), the total's text.
fn hbars(page: &mut String, id: &str, rows: &[BarRow<'_>]) {
    let (width, row_h, left, right) = (960.0, 24.0, 220.0, 110.0);
    let plot_w = width - left - right;
    let max = rows.iter().map(|(_, parts, _)| parts.iter().map(|p| p.0).sum::<f64>()).fold(0.0, f64::max);
    let height = rows.len() as f64 * row_h + 4.0;
    let _ = write!(page, "<svg id=\"{id}\" viewBox=\"0 0 {width} {height}\" width=\"100%\" role=\"img\">");
    for (i, (label, parts, total)) in rows.iter().enumerate() {
        let y = i as f64 * row_h + 2.0;
        let _ = write!(
            page,
            "<text x=\"0\" y=\"{:.1}\"><title>{}</title>{}</text>",
            y + 15.0,
            esc(label),
            esc(&cut(label, 32))
        );
        let mut at = left;
        for (value, colour, name) in parts {
            let w = if max > 0.0 { value / max * plot_w } else { 0.0 };
            if w > 0.0 {
                let _ = write!(
                    page,
                    "<rect x=\"{at:.2}\" y=\"{:.1}\" width=\"{w:.2}\" height=\"{}\" fill=\"{colour}\"><title>{}: {}</title></rect>",
                    y + 3.0,
                    row_h - 8.0,
                    esc(&format!("{label}, {name}")),
                    esc(&format!("{value}")),
                );
            }
            at += w;
        }
        let _ = write!(page, "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>", at + 6.0, y + 15.0, esc(total));
    }
    page.push_str("</svg>");
}

fn errors(page: &mut String, report: &Report) {
    page.push_str("<section id=\"errors\"><h2>Errors by kind</h2>");
    if report.errors.is_empty() {
        page.push_str("<p class=\"note\">No call in this window failed.</p></section>");
        return;
    }
    let rows: Vec<BarRow<'_>> = report
        .errors
        .iter()
        .map(|e| (e.kind.clone(), vec![(e.calls as f64, RED, "calls")], int(e.calls)))
        .collect();
    hbars(page, "error-kinds", &rows);
    page.push_str("<table><thead><tr><th class=\"t\">kind</th><th>calls</th><th>models</th><th class=\"t\">example</th></tr></thead><tbody>");
    for e in &report.errors {
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"t err\">{}</td></tr>",
            esc(&e.kind),
            int(e.calls),
            int(e.models),
            esc(&cut(&e.example, 300))
        );
    }
    page.push_str("</tbody></table></section>");
}

fn tokens(page: &mut String, report: &Report) {
    page.push_str("<section id=\"tokens\"><h2>Tokens per model</h2>");
    let groups: Vec<&Group> = report.summary.groups.iter().take(MAX_MODELS * 2).collect();
    if groups.iter().all(|g| g.prompt_tokens.is_none() && g.completion_tokens.is_none()) {
        page.push_str("<p class=\"note\">No call in this window reported token counts.</p>");
    } else {
        legend(page, &[(BLUE, "prompt, not cached"), (PURPLE, "prompt, cached"), (ORANGE, "completion")]);
        let rows: Vec<BarRow<'_>> = groups
            .iter()
            .map(|g| {
                let prompt = g.prompt_tokens.unwrap_or(0) as f64;
                let cached = (g.cached_tokens.unwrap_or(0) as f64).min(prompt);
                let completion = g.completion_tokens.unwrap_or(0) as f64;
                (
                    g.key.clone(),
                    vec![
                        (prompt - cached, BLUE, "prompt, not cached"),
                        (cached, PURPLE, "prompt, cached"),
                        (completion, ORANGE, "completion"),
                    ],
                    int((prompt + completion) as i64),
                )
            })
            .collect();
        hbars(page, "tokens-per-model", &rows);
    }
    page.push_str("<h2>Cost per model</h2>");
    let priced: Vec<&&Group> = groups.iter().filter(|g| g.priced > 0).collect();
    if priced.is_empty() {
        page.push_str("<p class=\"note\">No call in this window has a cost: their models have no price.</p>");
    } else {
        let rows: Vec<BarRow<'_>> = priced
            .iter()
            .map(|g| (g.key.clone(), vec![(g.cost_usd.unwrap_or(0.0), GREEN, "USD")], cost_cell(g)))
            .collect();
        hbars(page, "cost-per-model", &rows);
    }
    page.push_str("</section>");
}

fn calls(page: &mut String, id: &str, title: &str, calls: &[Call], none: &str) {
    let _ = write!(page, "<section id=\"{id}\"><h2>{}</h2>", esc(title));
    if calls.is_empty() {
        let _ = write!(page, "<p class=\"note\">{none}</p></section>");
        return;
    }
    page.push_str(
        "<table><thead><tr><th class=\"t\">time (UTC)</th><th class=\"t\">model</th><th>latency</th><th>TTFT</th>\
         <th>tokens in / out</th><th>cost</th><th class=\"t\">messages and answer</th></tr></thead><tbody>",
    );
    let tokens = |n: Option<i64>| n.map_or("-".into(), int);
    for c in calls {
        let last = c.messages.last().map_or(String::new(), |(role, content)| format!("{role}: {content}"));
        let _ = write!(
            page,
            "<tr><td class=\"t\">{}</td><td class=\"t\">{}</td><td>{}</td><td>{}</td><td>{} / {}</td><td>{}</td>\
             <td class=\"t\"><details><summary>{} message(s); last: {}</summary>",
            esc(&c.time),
            esc(&c.model),
            c.latency_ms.map_or("-".into(), ms_label),
            c.ttft_ms.map_or("-".into(), ms_label),
            tokens(c.prompt_tokens),
            tokens(c.completion_tokens),
            c.cost_usd.map_or("-".into(), usd),
            int(c.message_count),
            esc(&cut(&last, 140)),
        );
        if c.message_count > c.messages.len() as i64 {
            let _ = write!(
                page,
                "<p class=\"note\">the last {} of {} messages:</p>",
                c.messages.len(),
                c.message_count
            );
        }
        for (role, content) in &c.messages {
            let _ = write!(page, "<b>{}</b><pre>{}</pre>", esc(role), esc(content));
        }
        match (&c.error, &c.answer) {
            (Some(error), _) => {
                let _ = write!(page, "<b class=\"err\">error</b><pre class=\"err\">{}</pre>", esc(error));
            }
            (None, Some(answer)) => {
                let _ = write!(page, "<b>answer</b><pre>{}</pre>", esc(answer));
            }
            (None, None) => {}
        }
        let _ = write!(page, "<p class=\"note\">id {}</p></details></td></tr>", esc(&c.id));
    }
    page.push_str("</tbody></table></section>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_no_markup_from_the_store() {
        let hostile = "</script><script>alert('x')</script><img src=x onerror=\"alert(1)\">&amp;\u{0}";
        let safe = esc(hostile);
        assert!(!safe.contains('<') && !safe.contains('>') && !safe.contains('"') && !safe.contains('\''));
        assert!(safe.contains("&amp;amp;") && safe.ends_with('\u{FFFD}'));
        let json = json_for_script(&observers_core::serde_json::json!({"m": hostile}));
        assert!(!json.contains('<') && !json.contains('>'), "{json}");
        let back: observers_core::serde_json::Value =
            observers_core::serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back["m"], hostile, "the JSON still reads back as the same text");
    }

    #[test]
    fn axis_steps_are_round() {
        assert_eq!(nice_step(100.0), 25.0);
        assert_eq!(nice_step(7.0), 2.0);
        assert_eq!(nice_step(0.0), 1.0);
        assert!((nice_step(0.003) - 0.001).abs() < 1e-12);
        assert_eq!(cut("héllo wörld", 5), "héllo…");
        assert_eq!(cut("short", 10), "short");
    }
}
