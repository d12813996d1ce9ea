//! A loopback OTLP/HTTP traces receiver that only counts: requests and body bytes, each
//! answered with the empty (valid) protobuf response a collector sends. For benchmarks of
//! OpenTelemetry exporters (ours, and Langfuse's, which posts to `/api/public/otel/v1/traces`
//! under its host), where a real collector's own work would be measured too.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::routing::post;

/// A running receiver; it stops with the runtime it was started on.
#[derive(Debug, Clone)]
pub struct OtlpSink {
    url: String,
    requests: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
}

impl OtlpSink {
    /// Binds `127.0.0.1` on a free port and serves `POST /v1/traces` (and Langfuse's
    /// `POST /api/public/otel/v1/traces`).
    ///
    /// # Errors
    /// The port could not be bound.
    pub async fn start() -> std::io::Result<OtlpSink> {
        let requests = Arc::new(AtomicU64::new(0));
        let bytes = Arc::new(AtomicU64::new(0));
        let (r, b) = (requests.clone(), bytes.clone());
        let count = post(move |body: bytes::Bytes| {
            let (r, b) = (r.clone(), b.clone());
            async move {
                r.fetch_add(1, Ordering::Relaxed);
                b.fetch_add(body.len() as u64, Ordering::Relaxed);
                ([("content-type", "application/x-protobuf")], Vec::<u8>::new())
            }
        });
        let app =
            axum::Router::new().route("/v1/traces", count.clone()).route("/api/public/otel/v1/traces", count);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "the OTLP sink stopped");
            }
        });
        Ok(OtlpSink { url: format!("http://{addr}/v1/traces"), requests, bytes })
    }

    /// The traces URL: `http://127.0.0.1:PORT/v1/traces`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The sink's base URL, `http://127.0.0.1:PORT` (a Langfuse host).
    pub fn base_url(&self) -> &str {
        self.url.trim_end_matches("/v1/traces")
    }

    /// Export requests received.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Body bytes received.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}
