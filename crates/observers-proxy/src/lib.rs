//! An OpenAI-compatible recording proxy: observe the chat completions of any app, in any
//! language, with no code change.
//!
//! Point any OpenAI client (the Python or TypeScript SDKs, LangChain, curl, an IDE plugin...)
//! at the proxy with `OPENAI_BASE_URL=http://127.0.0.1:8788/v1`: every request is forwarded
//! to the upstream API as it came, every answer comes back as the upstream sent it (streams
//! chunk by chunk, as they arrive), and every chat completion becomes a row in a store, the
//! same row the wrapped Rust client ([`observers_openai::wrap_openai`]) writes: the proxy
//! records with the wrapper's own code ([`observers_openai::Recorder`]).
//!
//! This crate provides:
//! - [`Proxy`] and its [`ProxyBuilder`]: upstreams (a default one under `/v1`, named routes
//!   under `/{name}/v1`), keys the proxy holds, an access token, the store and how calls are
//!   recorded ([`WrapOptions`](observers_openai::WrapOptions));
//! - [`ProxyHandle`]: a running proxy, stopped with a bounded graceful
//!   [`shutdown`](ProxyHandle::shutdown) that flushes the store;
//! - the per-request metadata headers ([`TAGS_HEADER`], [`PROPERTY_HEADER_PREFIX`],
//!   [`SKIP_HEADER`], [`USER_ID_HEADER`], [`SESSION_ID_HEADER`]), read and removed before
//!   forwarding.
//!
//! The `observers proxy` command (crate `observers`, feature `cli`) runs it with a DuckDB
//! and/or Hub store.
//!
//! What a request meets:
//! - **Pass-through.** Method, path, query, headers and body go upstream unchanged, except
//!   the `X-Observers-*` headers, hop-by-hop headers (`Connection`, `Host`...) and, on
//!   recorded calls, `Accept-Encoding` (set to `identity`, so the answer can be read for the
//!   record). Endpoints other than chat completions pass through unrecorded.
//! - **Keys.** The client's `Authorization` / `api-key` go upstream and are scrubbed from
//!   every record; nothing is logged of them. With a key of its own
//!   ([`upstream_key`](ProxyBuilder::upstream_key)) the proxy sends that one instead.
//! - **Failures.** An upstream that cannot be reached gets a 502, one that stays silent
//!   past the timeout a 504, both with an OpenAI-shaped error body; both are recorded.
//!   The proxy answers nothing else of its own but 404 (unknown path), 401 (missing access
//!   token) and 400 (unreadable body); never 500.
//! - **Disconnects.** A client that goes away mid-answer cancels the upstream request, and
//!   the call is recorded with what arrived.
//!
//! # Example
//! ```
//! use observers_proxy::Proxy;
//! use observers_store_duckdb::DuckDbStore;
//! use observers_testkit::openai::MockOpenAi;
//!
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! let upstream = MockOpenAi::start().await?; // any OpenAI-compatible API
//! let store = DuckDbStore::open(":memory:")?;
//! let proxy = Proxy::builder()
//!     .upstream(upstream.base_url())
//!     .store(store.clone())
//!     .listen("127.0.0.1:0".parse()?) // a free port
//!     .start()
//!     .await?;
//!
//! // What any client sends, here with reqwest: only the base URL is the proxy's.
//! let answer = reqwest::Client::new()
//!     .post(format!("{}/chat/completions", proxy.base_url()))
//!     .bearer_auth("sk-...")
//!     .header("X-Observers-Tags", "docs")
//!     .body(r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]}"#)
//!     .send()
//!     .await?;
//! assert_eq!(answer.status(), 200);
//! answer.text().await?;
//!
//! proxy.shutdown().await?; // lets requests in flight finish, flushes the store
//! let rows = store.query("select model, tags from openai_records").await?;
//! assert_eq!(rows[0].num_rows(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Serving until Ctrl-C or SIGTERM, as a program embedding it would:
//! ```no_run
//! # async fn run(store: impl observers_core::Store) -> Result<(), observers_proxy::Error> {
//! use observers_proxy::Proxy;
//!
//! let stats = Proxy::builder()
//!     .upstream("https://api.openai.com/v1")
//!     .route("hf", "https://router.huggingface.co/v1")
//!     .store(store)
//!     .serve()
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! ## Crate Feature Flags
//! None: everything is always there.
//!
//! ## Supported Rust Versions
//! Rust 1.88 and later.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod builder;
mod error;
mod headers;
mod relay;
mod server;

pub use builder::{
    ProxyBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_GRACE_PERIOD, DEFAULT_LISTEN, DEFAULT_TIMEOUT,
};
pub use error::{Error, Result};
pub use headers::TOKEN_HEADER;
pub use observers_openai::{
    PROPERTY_HEADER_PREFIX, SESSION_ID_HEADER, SKIP_HEADER, TAGS_HEADER, USER_ID_HEADER,
};
pub use server::{Proxy, ProxyHandle, ProxyStats};
