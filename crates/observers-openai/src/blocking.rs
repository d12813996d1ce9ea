//! A blocking client for scripts and non-async code, as `reqwest::blocking` offers: the async
//! client run on a runtime of its own.
//!
//! Do not use it inside an async runtime (it blocks the thread; tokio refuses nested
//! runtimes): there, use the async [`crate::OpenAi`].
//!
//! # Example
//! ```no_run
//! use observers_openai::blocking::{wrap_openai, OpenAi};
//! use observers_openai::{ChatCompletionRequest, ChatMessage};
//! use observers_store_duckdb::DuckDbStore;
//!
//! let client = wrap_openai(OpenAi::from_env()?, DuckDbStore::open_default()?);
//! let request = ChatCompletionRequest::new("gpt-4o-mini").message(ChatMessage::user("Hi"));
//! let completion = client.chat().completions().create(request)?;
//! for chunk in client.chat().completions().create_stream(ChatCompletionRequest::new("gpt-4o-mini"))? {
//!     print!("{}", chunk?.content().unwrap_or_default());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;

use futures_util::StreamExt;
use observers_core::Store;

use crate::error::{Error, Result};
use crate::types::{ChatCompletion, ChatCompletionChunk, ChatCompletionRequest};
use crate::WrapOptions;

/// The blocking twin of [`crate::OpenAi`].
#[derive(Debug, Clone)]
pub struct OpenAi {
    client: crate::OpenAi,
    runtime: Arc<tokio::runtime::Runtime>,
}

impl OpenAi {
    /// Wraps an async client (built with [`crate::OpenAi::builder`]).
    pub fn new(client: crate::OpenAi) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| {
            Error::InvalidArgument(format!("could not start the blocking client's runtime: {e}"))
        })?;
        Ok(Self { client, runtime: Arc::new(runtime) })
    }

    /// As [`crate::OpenAi::from_env`].
    pub fn from_env() -> Result<Self> {
        Self::new(crate::OpenAi::from_env()?)
    }

    /// The chat API.
    pub fn chat(&self) -> Chat<'_> {
        Chat { client: self }
    }

    /// As [`crate::OpenAi::records_lost`].
    pub fn records_lost(&self) -> u64 {
        self.client.records_lost()
    }
}

/// Records every call of `client` in `store`, as [`crate::wrap_openai`].
pub fn wrap_openai(client: OpenAi, store: impl Store) -> OpenAi {
    wrap_openai_with(client, store, WrapOptions::default())
}

/// [`wrap_openai`] with options.
pub fn wrap_openai_with(client: OpenAi, store: impl Store, options: WrapOptions) -> OpenAi {
    OpenAi { client: crate::wrap_openai_with(client.client, store, options), runtime: client.runtime }
}

/// `client.chat()`.
#[derive(Debug, Clone, Copy)]
pub struct Chat<'a> {
    client: &'a OpenAi,
}

impl<'a> Chat<'a> {
    /// `client.chat().completions()`.
    pub fn completions(&self) -> Completions<'a> {
        Completions { client: self.client }
    }
}

/// Create chat completions, blocking.
#[derive(Debug, Clone, Copy)]
pub struct Completions<'a> {
    client: &'a OpenAi,
}

impl Completions<'_> {
    /// As [`crate::Completions::create`], blocking until the whole answer is in.
    pub fn create(&self, request: impl Into<ChatCompletionRequest>) -> Result<ChatCompletion> {
        let OpenAi { client, runtime } = self.client;
        runtime.block_on(client.chat().completions().create(request))
    }

    /// As [`crate::Completions::create_stream`]: an iterator of chunks.
    pub fn create_stream(&self, request: impl Into<ChatCompletionRequest>) -> Result<ChatCompletionStream> {
        let OpenAi { client, runtime } = self.client;
        let stream = runtime.block_on(client.chat().completions().create_stream(request))?;
        Ok(ChatCompletionStream { stream: Some(stream), runtime: runtime.clone() })
    }
}

/// A streamed answer as an iterator; recorded when it ends or is dropped.
#[derive(Debug)]
pub struct ChatCompletionStream {
    stream: Option<crate::ChatCompletionStream>,
    runtime: Arc<tokio::runtime::Runtime>,
}

impl Iterator for ChatCompletionStream {
    type Item = Result<ChatCompletionChunk>;

    fn next(&mut self) -> Option<Self::Item> {
        let stream = self.stream.as_mut()?;
        self.runtime.block_on(stream.next())
    }
}

impl Drop for ChatCompletionStream {
    fn drop(&mut self) {
        // The stream records itself when dropped; do it inside the runtime so a full store
        // queue can still be waited on.
        let _guard = self.runtime.enter();
        drop(self.stream.take());
    }
}
