//! Observe every chat completion of any OpenAI-compatible API: OpenAI, Hugging Face
//! Inference (router and dedicated endpoints), vLLM, TGI, Ollama, llama.cpp, LiteLLM...
//!
//! This crate provides:
//! - [`OpenAi`]: a chat-completions client over reqwest, configured from the usual
//!   environment ([`OpenAi::from_env`]) or a [builder](OpenAi::builder);
//! - [`wrap_openai`] / [`wrap_openai_with`]: the same client, recording every call as a
//!   [`ChatCompletionRecord`](observers_core::ChatCompletionRecord) in any
//!   [`Store`](observers_core::Store), with tags, properties, sampling and default arguments
//!   ([`WrapOptions`]);
//! - lenient request and response types ([`ChatCompletionRequest`], [`ChatCompletion`],
//!   [`ChatCompletionChunk`]) that accept what real providers send;
//! - [`ChatCompletionStream`]: streamed answers, reassembled into one record;
//! - [`Recorder`]: the same records for calls your own code sends (a proxy, an adapter
//!   around another client), from the bytes of each request and answer, and
//!   [`take_header_metadata`]: per-call tags, user and session such callers send as
//!   `X-Observers-*` headers.
//!
//! The caller always gets what the server returned; observing adds a queue push, and a
//! failing store never fails a call. API keys never reach a record, a log line or an error.
//!
//! # Example
//! ```no_run
//! use futures_util::StreamExt;
//! use observers_openai::{wrap_openai, ChatCompletionRequest, ChatMessage, OpenAi};
//! use observers_store_duckdb::DuckDbStore;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = wrap_openai(OpenAi::from_env()?, DuckDbStore::open_default()?);
//! let request = ChatCompletionRequest::new("gpt-4o-mini").message(ChatMessage::user("Tell me a joke"));
//!
//! let completion = client.chat().completions().create(request.clone()).await?;
//! println!("{}", completion.content().unwrap_or_default());
//!
//! let mut stream = client.chat().completions().create_stream(request).await?;
//! while let Some(chunk) = stream.next().await {
//!     print!("{}", chunk?.content().unwrap_or_default());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! ## Crate Feature Flags
//! - `blocking`: [`blocking::OpenAi`], a blocking client for scripts and non-async code.
//! - `otel`: a call made inside an OpenTelemetry span (the span of
//!   `opentelemetry::Context::current()` when the call starts, made current with
//!   `Context::attach` or `FutureExt::with_context`) records that span's `trace_id` as its own
//!   and the span as its `parent_span_id`, with a fresh `span_id`, so `observers-store-otel`
//!   exports the call as that span's child. A `tracing` span counts when a bridge such as
//!   `tracing-opentelemetry` makes its OpenTelemetry context current.

#[cfg(feature = "blocking")]
#[cfg_attr(docsrs, doc(cfg(feature = "blocking")))]
pub mod blocking;
mod client;
mod error;
#[cfg(test)]
mod fuzz;
mod headers;
mod observe;
mod recorder;
mod redact;
mod sse;
mod stream;
mod types;

pub use client::{
    error_chain, retry_after, Chat, Completions, OpenAi, OpenAiBuilder, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_TIMEOUT, HF_ROUTER_BASE_URL, MAX_ANSWER_BYTES, OPENAI_BASE_URL,
};
pub use error::{ApiError, Error, Result};
pub use headers::{
    take_header_metadata, HeaderMetadata, OWN_HEADER_PREFIX, PROPERTY_HEADER_PREFIX, SESSION_ID_HEADER,
    SKIP_HEADER, TAGS_HEADER, USER_ID_HEADER,
};
pub use observe::{wrap_openai, wrap_openai_with, WrapOptions};
pub use recorder::{Exchange, Recorder, StreamRecorder};
pub use redact::{Capture, Masker};
pub use stream::ChatCompletionStream;
pub use types::{
    AssistantMessage, CallMetadata, ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ChatMessage,
    Choice, ChunkChoice, Delta, FunctionCall, ToolCall, ToolCallDelta, Usage,
};
