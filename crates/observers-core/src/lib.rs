//! The record, its single Arrow schema, and the [`Store`] trait of
//! [observers](https://crates.io/crates/observers).
//!
//! This crate provides:
//! - [`ChatCompletionRecord`] and [`Message`]: one row per chat completion;
//! - [`schema()`], [`records_to_batch`] and [`records_from_batch`]: the one Arrow schema every
//!   store writes, and the conversions both ways;
//! - [`Store`] and [`StoreStats`]: what every backend implements; [`Fanout`]: several stores
//!   as one;
//! - [`StoreError`]: the error they share;
//! - [`pricing`]: what calls cost ([`pricing::Prices`], a price table shipped as a data file).
//!
//! # Usage
//! Applications use the `observers` crate, which re-exports this one. Depend on
//! `observers-core` alone to write a store of your own: it knows nothing of HTTP, DuckDB or
//! the Hugging Face Hub, and changes rarely.
//!
//! # Example
//! ```
//! use observers_core::{records_to_batch, ChatCompletionRecord, Message};
//!
//! let mut record = ChatCompletionRecord::new("gpt-4o-mini");
//! record.messages.push(Message::new("user", "Tell me a joke"));
//! let batch = records_to_batch(&[record])?;
//! assert_eq!(batch.schema(), observers_core::schema());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Supported Rust Versions
//! The minimum supported Rust version is 1.88.

mod error;
mod fanout;
pub mod pricing;
#[cfg(feature = "queue")]
#[cfg_attr(docsrs, doc(cfg(feature = "queue")))]
pub mod queue;
mod record;
pub mod schema;
mod store;

pub use error::{Result, StoreError};
pub use fanout::Fanout;
pub use record::{ChatCompletionRecord, Message, MAX_JSON_DEPTH};
pub use schema::{records_from_batch, records_to_batch, schema, COLUMNS};
pub use store::{Store, StoreStats, TryAddError};

// Re-exported so users and stores name exactly the versions these types use.
pub use arrow;
pub use chrono;
pub use serde_json;
pub use uuid;
