//! Generative-AI observability: record every LLM chat completion your application makes.
//!
//! Wrap an OpenAI-compatible client (OpenAI, Hugging Face Inference, vLLM, TGI, Ollama,
//! llama.cpp...) and every chat completion (request messages, arguments, response, tokens,
//! tool calls, errors, latency) becomes a row in a store:
//! - [`DuckDbStore`] (feature `duckdb`, default): a local DuckDB file, `store.db`, table
//!   `openai_records`, queryable with the `duckdb` CLI;
//! - [`hf`] (feature `hf`): Parquet shards pushed to a Hugging Face Hub dataset.
//!
//! This crate only re-exports; the pieces live in `observers-core` (the record, its Arrow
//! schema, the [`Store`] trait), `observers-openai`, `observers-store-duckdb` and
//! `observers-store-hf`, which can also be used alone.
//!
//! # Example
//! ```no_run
//! use observers::{wrap_openai, ChatCompletionRequest, ChatMessage, DuckDbStore, OpenAi};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // OPENAI_API_KEY / OPENAI_BASE_URL from the environment; rows go to ./store.db
//! let client = wrap_openai(OpenAi::from_env()?, DuckDbStore::open_default()?);
//! let request = ChatCompletionRequest::new("gpt-4o-mini").message(ChatMessage::user("Hello!"));
//! let completion = client.chat().completions().create(request).await?;
//! println!("{}", completion.content().unwrap_or_default());
//! # Ok(())
//! # }
//! ```
//!
//! Records can also be written directly:
//! ```
//! use observers::{ChatCompletionRecord, DuckDbStore, Message, Store};
//!
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! let store = DuckDbStore::open(":memory:")?;
//! let mut record = ChatCompletionRecord::new("gpt-4o-mini");
//! record.messages.push(Message::new("user", "Hello"));
//! store.add(record).await?;
//! store.flush().await?;
//! assert_eq!(store.count().await?, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Crate Feature Flags
//! - `duckdb` (default): [`DuckDbStore`] and the [`duckdb`] module.
//! - `openai` (default): the OpenAI-compatible client wrapper, module [`openai`].
//! - `hf`: the Hugging Face Hub store, module [`hf`].
//! - `sync`: [`sync::sync_to_hub`], pushing a DuckDB store to a Hub dataset.
//! - `proxy`: [`proxy`], an OpenAI-compatible recording proxy that apps in any language
//!   point `OPENAI_BASE_URL` at.
//! - `otel`: [`OtelStore`], every record as an OpenTelemetry GenAI span sent to the collector
//!   you run (Phoenix, Jaeger, Tempo, Langfuse, Datadog...), nested in your own traces;
//!   [`export`] replays a DuckDB store into one. `otel-grpc`: its gRPC transport.
//! - `cli`: the `observers` command line (`observers sync`, `export`, `stats`, `report`,
//!   `reprice`, `proxy`).
//! - `blocking`: a blocking client for scripts, `observers::openai::blocking`.
//! - `async-openai`: [`async_openai::wrap`], recording the chat completions of an
//!   [async-openai](https://docs.rs/async-openai) client you already have.

#![cfg_attr(docsrs, feature(doc_cfg))]

pub use observers_core::{
    records_from_batch, records_to_batch, schema, ChatCompletionRecord, Fanout, Message, Store, StoreError,
    StoreStats,
};

/// The record, schema and store trait (`observers-core`).
pub use observers_core as core;

/// What calls cost: the price table `cost_usd` is computed from (`observers-core`).
pub use observers_core::pricing;

/// The DuckDB store (`observers-store-duckdb`).
#[cfg(feature = "duckdb")]
#[cfg_attr(docsrs, doc(cfg(feature = "duckdb")))]
pub use observers_store_duckdb as duckdb;
#[cfg(feature = "duckdb")]
#[cfg_attr(docsrs, doc(cfg(feature = "duckdb")))]
pub use observers_store_duckdb::DuckDbStore;

/// The OpenAI-compatible client wrapper (`observers-openai`).
#[cfg(feature = "openai")]
#[cfg_attr(docsrs, doc(cfg(feature = "openai")))]
pub use observers_openai as openai;
#[cfg(feature = "openai")]
#[cfg_attr(docsrs, doc(cfg(feature = "openai")))]
pub use observers_openai::{
    wrap_openai, wrap_openai_with, ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ChatMessage,
    OpenAi, WrapOptions,
};

/// Recording an async-openai client's chat completions (`observers-async-openai`).
#[cfg(feature = "async-openai")]
#[cfg_attr(docsrs, doc(cfg(feature = "async-openai")))]
pub use observers_async_openai as async_openai;

/// The OpenAI-compatible recording proxy (`observers-proxy`).
#[cfg(feature = "proxy")]
#[cfg_attr(docsrs, doc(cfg(feature = "proxy")))]
pub use observers_proxy as proxy;

#[cfg(feature = "sync")]
#[cfg_attr(docsrs, doc(cfg(feature = "sync")))]
pub mod sync;

/// Records as OpenTelemetry GenAI spans, sent to a collector (`observers-store-otel`).
#[cfg(feature = "otel")]
#[cfg_attr(docsrs, doc(cfg(feature = "otel")))]
pub use observers_store_otel as otel;
#[cfg(feature = "otel")]
#[cfg_attr(docsrs, doc(cfg(feature = "otel")))]
pub use observers_store_otel::OtelStore;

#[cfg(all(feature = "otel", feature = "duckdb"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "otel", feature = "duckdb"))))]
pub mod export;

#[cfg(feature = "cli")]
#[cfg_attr(docsrs, doc(cfg(feature = "cli")))]
pub mod cli;

/// The Hugging Face Hub store (`observers-store-hf`).
#[cfg(feature = "hf")]
#[cfg_attr(docsrs, doc(cfg(feature = "hf")))]
pub use observers_store_hf as hf;
