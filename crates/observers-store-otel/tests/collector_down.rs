//! A collector that is down: every call still succeeds, at full speed; the lost spans are
//! counted; nothing panics; the credentials in the headers never reach a log line.
//!
//! Its own test binary: it installs a global `tracing` subscriber to see what the store's
//! thread logs.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use observers_core::Store;
use observers_openai::{ChatCompletionRequest, ChatMessage, OpenAi};
use observers_store_otel::OtelStore;
use observers_testkit::openai::{MockOpenAi, Scenario};

const SECRET: &str = "Bearer sk-otel-SECRET-4f9a2c";

/// Everything logged, at every level, by every thread.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A loopback port with nothing listening.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_is_down_costs_counted_drops_never_a_call() {
    let logs = Logs::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let port = closed_port();
    let otel = OtelStore::builder()
        .endpoint(format!("http://127.0.0.1:{port}/v1/traces"))
        .header("authorization", SECRET)
        .header("x-api-key", SECRET)
        .timeout(Duration::from_secs(2))
        .max_retries(2)
        .scheduled_delay(Duration::from_millis(50))
        .capture_content(true)
        .build()
        .unwrap();
    assert!(!format!("{otel:?}").contains("SECRET"));
    let server = MockOpenAi::start_with(Scenario::Text).await.unwrap();
    server.set_recording(false);
    let bare = OpenAi::builder().base_url(server.base_url()).api_key("sk-test").build().unwrap();
    let (client, kept) = common::wrapped(&server, &otel);
    let request = || ChatCompletionRequest::new("gpt-4o-mini").message(ChatMessage::user("Hello"));

    // Warm both clients' connections.
    bare.chat().completions().create(request()).await.unwrap();
    client.chat().completions().create(request()).await.unwrap();
    let calls = 60;
    let (mut bare_total, mut wrapped_total, mut slowest) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for _ in 0..calls {
        let started = Instant::now();
        bare.chat().completions().create(request()).await.unwrap();
        bare_total += started.elapsed();
        let started = Instant::now();
        client.chat().completions().create(request()).await.unwrap();
        let took = started.elapsed();
        wrapped_total += took;
        slowest = slowest.max(took);
    }
    // No call waits for an export (each failing export takes the store's thread ~300 ms).
    assert!(slowest < Duration::from_millis(250), "slowest observed call {slowest:?}");
    assert!(
        wrapped_total < bare_total * 3 + Duration::from_millis(200),
        "observed calls {wrapped_total:?} vs bare {bare_total:?}"
    );

    let started = Instant::now();
    otel.flush().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "flush is bounded: {:?}", started.elapsed());
    assert_eq!(kept.records().len(), calls + 1);
    assert_eq!(otel.exported(), 0);
    assert_eq!(otel.dropped(), calls as u64 + 1, "every span is counted as dropped");
    assert_eq!(otel.stats().failed, calls as u64 + 1);
    otel.close().await.unwrap();
    drop(otel);

    let logs = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(logs.contains("could not send spans to the OpenTelemetry collector"), "{logs}");
    let warnings = logs.matches("could not send spans").count();
    assert!(warnings <= 2, "warnings are rate-limited, got {warnings}:\n{logs}");
    assert!(!logs.contains("SECRET"), "a header value reached the logs:\n{logs}");
}
