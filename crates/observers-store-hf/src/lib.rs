//! An [observers](https://crates.io/crates/observers) store that writes records as Parquet
//! shards and pushes them to a Hugging Face Hub dataset.
//!
//! This crate provides [`HubStore`]: records become ZSTD-compressed Parquet shards of the
//! core's Arrow schema (every column but `synced_at`) in a local folder, pushed in one commit
//! per push through the Hub's LFS upload path (preupload, LFS batch, single or multipart PUT,
//! verify, NDJSON commit). The dataset card's `configs:` block points the dataset viewer,
//! `datasets.load_dataset`, DuckDB (`hf://`) and TRL at the shards; `messages` is a list of
//! `{role, content, ...}` structs, the chat format fine-tuning tools take.
//!
//! Nothing is lost or duplicated: a shard is renamed into place only once complete, a local
//! manifest records what was committed, a failed push keeps the shards and retries, and before
//! each commit the Hub is asked which shards it already has. Shard names are a time plus a
//! random part, so many processes and machines can feed one dataset.
//!
//! # Example
//! ```no_run
//! use observers_store_hf::HubStore;
//! use observers_core::{ChatCompletionRecord, Store};
//! use std::time::Duration;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // Token from HF_TOKEN (or `hf auth login`), endpoint from HF_ENDPOINT.
//! let store = HubStore::builder()
//!     .repo_id("my-llm-logs")           // in the token owner's namespace
//!     .private(true)
//!     .every(Duration::from_secs(60))   // push every minute
//!     .build()?;
//! store.add(ChatCompletionRecord::new("gpt-4o-mini")).await?;
//! store.close().await?;                 // final push
//! # Ok(())
//! # }
//! ```

mod api;
mod auth;
mod card;
mod error;
mod manifest;
mod push;
mod shard;
mod store;

pub use auth::{endpoint_from_env, hf_home, token_from_env, DEFAULT_ENDPOINT};
pub use error::{Error, Result};
pub use push::{PushSummary, Pusher};
pub use shard::{new_shard_name, shard_batch, shard_schema, write_shard, ShardFile};
pub use store::{
    HubStore, HubStoreBuilder, DEFAULT_EVERY, DEFAULT_MAX_SHARD_BYTES, DEFAULT_MAX_SHARD_RECORDS,
    DROP_PUSH_TIMEOUT,
};
