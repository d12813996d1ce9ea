//! What the latency benchmarks share: the ~1 KB request they all send, how many calls to
//! make, the row that sets a baseline's latencies beside the observed ones, and the servers
//! run in a child process so that their CPU is not counted with the client's.

use std::io::{BufRead, BufReader, Lines, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use crate::hub::FakeHub;
use crate::openai::{MockOpenAi, Scenario};
use crate::otlp::OtlpSink;

const CHILD_VAR: &str = "OBSERVERS_BENCH_SERVERS";

/// The mock OpenAI server (answering [`Scenario::Text`], not keeping requests), the fake Hub
/// and an OTLP sink, served by a child process running the benchmark's own executable.
///
/// A benchmark's `main` first calls [`ChildServers::serve_if_child`] (which serves and
/// returns `true` in the child), then [`ChildServers::start`].
#[derive(Debug)]
pub struct ChildServers {
    child: Child,
    /// The OpenAI-compatible base URL (`…/v1`).
    pub openai: String,
    /// The fake Hub's endpoint.
    pub hub: String,
    /// The OTLP/HTTP traces URL.
    pub otlp: String,
}

impl ChildServers {
    /// In the child process: serves until the parent closes stdin, then returns `true`.
    /// Elsewhere: returns `false` at once.
    ///
    /// # Panics
    /// A server could not start (a benchmark has nothing to measure then).
    #[allow(clippy::unwrap_used, clippy::print_stdout)]
    pub fn serve_if_child() -> bool {
        if std::env::var_os(CHILD_VAR).is_none() {
            return false;
        }
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let openai = MockOpenAi::start_with(Scenario::Text).await.unwrap();
            openai.set_recording(false);
            let hub = FakeHub::start().await.unwrap();
            let otlp = OtlpSink::start().await.unwrap();
            println!("OPENAI {}", openai.base_url());
            println!("HUB {}", hub.endpoint());
            println!("OTLP {}", otlp.url());
            std::io::stdout().flush().unwrap();
            tokio::task::spawn_blocking(|| std::io::stdin().lines().count()).await.unwrap();
        });
        true
    }

    /// Starts the child and waits for its addresses.
    ///
    /// # Panics
    /// The child could not start or did not say where it serves.
    #[allow(clippy::unwrap_used)]
    pub fn start() -> ChildServers {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env(CHILD_VAR, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines: Lines<BufReader<ChildStdout>> = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut url = |prefix: &str| {
            let line = lines.next().unwrap().unwrap();
            line.strip_prefix(prefix).unwrap_or_else(|| panic!("expected {prefix}…, got {line}")).to_string()
        };
        let (openai, hub, otlp) = (url("OPENAI "), url("HUB "), url("OTLP "));
        ChildServers { child, openai, hub, otlp }
    }
}

impl Drop for ChildServers {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

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
