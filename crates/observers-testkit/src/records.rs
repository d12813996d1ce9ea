//! Realistic records for benchmarks and load tests: about 1 KB of messages and 2 KB of
//! raw response each, varied text (not one repeated string, which would compress unrealistically
//! well), deterministic for a given index. Also the process measurements benchmarks report.

use observers_core::serde_json::{json, value::RawValue};
use std::sync::{Arc, Mutex, PoisonError};

use observers_core::{ChatCompletionRecord, Message, Store, StoreStats};

const WORDS: [&str; 16] = [
    "observability",
    "latency",
    "token",
    "prompt",
    "model",
    "vector",
    "parquet",
    "shard",
    "the",
    "of",
    "request",
    "answer",
    "stream",
    "tool",
    "dataset",
    "query",
];

/// `n` words, varied by `salt`.
fn text(n: usize, salt: usize) -> String {
    (0..n)
        .map(|k| WORDS[(k * 7 + salt * 13 + k / 3 + (k * salt) % 5) % WORDS.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `i`-th realistic record (fresh id, current time).
pub fn realistic(i: usize) -> ChatCompletionRecord {
    let mut r = ChatCompletionRecord::new(["gpt-4o-mini", "llama3.2", "qwen3"][i % 3]);
    r.messages =
        vec![Message::new("system", text(25, i)), Message::new("user", format!("{i}: {}", text(110, i + 1)))];
    r.assistant_message = Some(text(60, i + 2));
    r.prompt_tokens = Some(180);
    r.completion_tokens = Some(64);
    r.total_tokens = Some(244);
    r.finish_reason = Some("stop".into());
    r.tags = vec!["bench".into(), format!("user-{}", i % 100)];
    r.properties = Some(json!({"session": i / 10}));
    r.arguments = Some(json!({"temperature": 0.7, "max_tokens": 256}));
    let body = json!({"id": format!("chatcmpl-{i}"), "object": "chat.completion", "created": 1_742_733_210,
        "model": "gpt-4o-mini-2024-07-18", "choices": [{"index": 0,
        "message": {"role": "assistant", "content": text(230, i + 3)}, "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 180, "completion_tokens": 64, "total_tokens": 244}});
    r.raw_response = RawValue::from_string(body.to_string()).ok();
    r.response_id = Some(format!("chatcmpl-{i}"));
    r.latency_ms = Some((i % 1000) as f64 + 0.5);
    r
}

/// Current resident memory and its peak, in MiB (Linux; `NaN` elsewhere).
pub fn rss_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU time this process has used so far, every thread included (user + system).
pub fn process_cpu() -> std::time::Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    std::time::Duration::new(u64::try_from(t.tv_sec).unwrap_or(0), u32::try_from(t.tv_nsec).unwrap_or(0))
}

/// A store that keeps every record it is given, in order, in memory: a baseline for benches
/// and a record of what a wrapped client produced, for tests to compare with.
#[derive(Debug, Clone, Default)]
pub struct KeptStore(Arc<Mutex<Vec<ChatCompletionRecord>>>);

impl KeptStore {
    /// The records kept so far.
    pub fn records(&self) -> Vec<ChatCompletionRecord> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

#[async_trait::async_trait]
impl Store for KeptStore {
    async fn add(&self, record: ChatCompletionRecord) -> observers_core::Result<()> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push(record);
        Ok(())
    }
    async fn flush(&self) -> observers_core::Result<()> {
        Ok(())
    }
    async fn close(&self) -> observers_core::Result<()> {
        Ok(())
    }
    fn stats(&self) -> StoreStats {
        StoreStats { written: self.0.lock().unwrap_or_else(PoisonError::into_inner).len() as u64, failed: 0 }
    }
}
