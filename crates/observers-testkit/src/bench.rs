//! What the latency benchmarks share: the ~1 KB request they all send, how many calls to
//! make, and the row that sets a baseline's latencies beside the observed ones.

use std::time::Duration;

/// The system prompt of the benchmarks' request (sent 10 times over).
pub const SYSTEM_PROMPT: &str = "You are a helpful assistant. ";
/// The question of the benchmarks' request (asked 6 times over).
pub const QUESTION: &str = "Explain in detail what an observability library does for LLM apps. ";

/// The benchmarks' chat completion request as JSON: about 1 KB of messages, temperature 0.7.
pub fn request_json(stream: bool) -> serde_json::Value {
    serde_json::json!({
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT.repeat(10)},
            {"role": "user", "content": QUESTION.repeat(6)},
        ],
        "temperature": 0.7,
        "stream": stream,
    })
}

/// Calls of each kind to make: `$OBSERVERS_BENCH_CALLS`, else `default`.
pub fn calls(default: usize) -> usize {
    std::env::var("OBSERVERS_BENCH_CALLS").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The latencies of one kind of call, without and with observers, measured in the same run.
#[derive(Debug, Default)]
pub struct Latencies {
    /// Without observers (the bare client, or the server called directly).
    pub baseline: Vec<Duration>,
    /// With observers (the wrapped client, or through the proxy).
    pub observed: Vec<Duration>,
}

impl Latencies {
    /// A markdown table row: `| name | baseline p50 | p99 | observed p50 | p99 | added p50 |
    /// p99 |`, in µs, each divided by `per` (1 for per call, the chunk count for per chunk).
    pub fn row(&mut self, name: &str, per: f64) -> String {
        self.baseline.sort();
        self.observed.sort();
        let (b50, b99) = (percentile(&self.baseline, 0.5), percentile(&self.baseline, 0.99));
        let (o50, o99) = (percentile(&self.observed, 0.5), percentile(&self.observed, 0.99));
        format!(
            "| {name} | {:.1} | {:.1} | {:.1} | {:.1} | {:+.1} | {:+.1} |",
            b50 / per,
            b99 / per,
            o50 / per,
            o99 / per,
            (o50 - b50) / per,
            (o99 - b99) / per,
        )
    }
}

/// The `p` quantile of `sorted`, in µs (0 for no samples).
fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_gives_percentiles_and_their_difference() {
        let ms = Duration::from_millis;
        let mut latencies = Latencies {
            baseline: (1..=100).rev().map(ms).collect(),
            observed: (1..=100).map(|i| ms(i + 1)).collect(),
        };
        assert_eq!(
            latencies.row("plain", 1.0),
            "| plain | 51000.0 | 99000.0 | 52000.0 | 100000.0 | +1000.0 | +1000.0 |"
        );
        assert_eq!(
            latencies.row("chunk", 10.0),
            "| chunk | 5100.0 | 9900.0 | 5200.0 | 10000.0 | +100.0 | +100.0 |"
        );
    }
}
