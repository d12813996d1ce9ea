//! The default [observers](https://crates.io/crates/observers) store: a local DuckDB file.
//!
//! This crate provides [`DuckDbStore`], which writes every
//! [`ChatCompletionRecord`](observers_core::ChatCompletionRecord) to the table
//! `openai_records` of a DuckDB file (`./store.db` by default) that the `duckdb` CLI, Python
//! or any DuckDB client can query:
//!
//! ```sql
//! -- duckdb store.db
//! from openai_records limit 10;
//! select messages[1].content, raw_response->>'$.model' from openai_records
//! where list_contains(tags, 'prod');
//! ```
//!
//! One background thread owns the connection and writes records in groups (each waits up
//! to a second for others, [`DEFAULT_FLUSH_INTERVAL`]), so recording never blocks a request
//! on I/O and costs little CPU at any rate. The file is written in DuckDB's v1.5 storage
//! format so that both DuckDB 1.5 and 2.x tools open it. The schema is versioned: numbered
//! migrations run once each, in a transaction, and a file from a newer observers is refused
//! rather than downgraded.
//!
//! # Example
//! ```
//! use observers_store_duckdb::DuckDbStore;
//! use observers_core::{ChatCompletionRecord, Message, Store};
//!
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! let store = DuckDbStore::open(":memory:")?;
//! let mut record = ChatCompletionRecord::new("gpt-4o-mini");
//! record.messages.push(Message::new("user", "Hi"));
//! let id = record.id;
//! store.add(record).await?;
//! let back = store.get(id).await?.expect("stored");
//! assert_eq!(back.messages[0].content.as_deref(), Some("Hi"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod migrations;
mod store;
mod writer;

pub use error::{Error, Result};
pub use store::{
    DuckDbStore, DuckDbStoreBuilder, Repriced, ShardRecords, DEFAULT_FLUSH_INTERVAL, DEFAULT_MAX_BATCH,
    DEFAULT_MEMORY_LIMIT, DEFAULT_PATH, DEFAULT_QUEUE_CAPACITY, DEFAULT_THREADS, DROP_FLUSH_TIMEOUT,
    MARK_ROWS_PER_TRANSACTION, TABLE,
};
