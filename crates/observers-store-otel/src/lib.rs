//! An [observers](https://crates.io/crates/observers) store that sends every chat completion
//! as an OpenTelemetry GenAI span over OTLP, to the tracing stack a team already runs
//! (an OpenTelemetry Collector, Arize Phoenix, Langfuse, Jaeger, Grafana Tempo, Datadog,
//! Honeycomb...).
//!
//! This crate provides [`OtelStore`], configured by [`OtelStoreBuilder`] or the standard
//! `OTEL_*` variables ([`OtelStore::from_env`]). Each record becomes one span `chat {model}`
//! (kind CLIENT, from the call's start to its end) following the
//! [GenAI semantic conventions](https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/):
//! `gen_ai.operation.name`, `gen_ai.provider.name`, `gen_ai.request.*`, `gen_ai.response.*`,
//! `gen_ai.usage.*`, `gen_ai.response.time_to_first_chunk`, `error.type` and an Error status
//! on failures, `server.address`/`server.port`, `user.id`, `session.id`; tags and properties
//! as `observers.tags` and `observers.property.<key>`. Message content
//! (`gen_ai.input.messages`, `gen_ai.output.messages`) is sent only with
//! [`capture_content(true)`](OtelStoreBuilder::capture_content) or
//! `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`. The OpenInference attributes
//! Phoenix and Arize read (`openinference.span.kind=LLM`, `llm.*`, and `input.value` /
//! `output.value` with content) are on by default ([`openinference(false)`](OtelStoreBuilder::openinference)
//! turns them off).
//!
//! A record that carries `trace_id` and `parent_span_id` (the `otel` feature of
//! `observers-openai` sets them from the current OpenTelemetry context) becomes a child of
//! that span, and keeps its `span_id`, so the row in a local store and the span agree.
//!
//! Exporting is batched, bounded and retried on the store's own thread; a collector that is
//! down costs counted drops ([`OtelStore::dropped`]), never a failed or slower call.
//!
//! # Example
//! ```no_run
//! use observers_core::{ChatCompletionRecord, Store};
//! use observers_store_otel::OtelStore;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // Arize Phoenix on this machine: `python -m phoenix.server.main serve`
//! let store = OtelStore::builder()
//!     .endpoint("http://localhost:6006/v1/traces")
//!     .service_name("chatbot")
//!     .resource_attribute("openinference.project.name", "chatbot")
//!     .build()?;
//! let mut record = ChatCompletionRecord::new("gpt-4o-mini");
//! record.latency_ms = Some(420.0);
//! store.add(record).await?;
//! store.close().await?; // exports what is queued
//! # Ok(())
//! # }
//! ```
//!
//! ## Crate Feature Flags
//! - `grpc`: OTLP over gRPC (tonic), chosen with [`Protocol::Grpc`] or
//!   `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`. Without it, HTTP/protobuf only.
//!
//! ## Supported Rust Versions
//! The minimum supported Rust version is 1.88.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod config;
mod error;
mod span;
mod store;

pub use config::{
    OtelStoreBuilder, Protocol, CAPTURE_CONTENT_VAR, DEFAULT_GRPC_ENDPOINT, DEFAULT_HTTP_ENDPOINT,
    DEFAULT_MAX_EXPORT_BATCH_SIZE, DEFAULT_MAX_QUEUE_SIZE, DEFAULT_MAX_RETRIES, DEFAULT_SCHEDULED_DELAY,
    DEFAULT_SERVICE_NAME, DEFAULT_TIMEOUT, ENDPOINT_VAR, HEADERS_VAR, MAX_EXPORT_BATCH_SIZE_VAR,
    MAX_QUEUE_SIZE_VAR, PROTOCOL_VAR, RESOURCE_ATTRIBUTES_VAR, SCHEDULE_DELAY_VAR, SERVICE_NAME_VAR,
    TIMEOUT_VAR, TRACES_ENDPOINT_VAR, TRACES_HEADERS_VAR, TRACES_PROTOCOL_VAR, TRACES_TIMEOUT_VAR,
};
pub use error::{Error, Result};
pub use store::OtelStore;

// Re-exported so users name exactly the versions this crate uses (custom exporters, tests).
pub use opentelemetry;
pub use opentelemetry_sdk;
