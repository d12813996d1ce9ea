//! The error every store and the record ↔ Arrow conversion share.

use std::time::Duration;

/// What can go wrong when storing or converting records.
///
/// Stores box their own errors into [`StoreError::Backend`], so a caller can still downcast
/// to the store crate's error type to tell, say, a locked file from a full disk.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store was closed: create a new one to keep recording.
    #[error("the store is closed; open a new store to record more calls")]
    Closed,
    /// The store did not answer in time; the data is still queued and may land later.
    #[error("the store did not answer within {0:?}")]
    Timeout(Duration),
    /// A batch does not have the shape of the record schema (wrong or missing column).
    #[error("column `{column}` does not match the record schema: {reason}")]
    Schema {
        /// The offending column.
        column: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The record cannot be stored as it is (see [`ChatCompletionRecord::validate`](crate::ChatCompletionRecord::validate)).
    #[error("the record cannot be stored: column `{column}` holds {reason}")]
    InvalidRecord {
        /// The offending column.
        column: &'static str,
        /// What is wrong, and what to do.
        reason: String,
    },
    /// A JSON column held text that is not valid JSON.
    #[error("column `{column}` holds invalid JSON: {source}")]
    InvalidJson {
        /// The offending column.
        column: &'static str,
        /// The parser's message.
        #[source]
        source: serde_json::Error,
    },
    /// Arrow refused to build or read a batch.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// The store's own backend failed (DuckDB, file system, Hub...).
    #[error(transparent)]
    Backend(Box<dyn std::error::Error + Send + Sync>),
}

/// `Result` with [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
