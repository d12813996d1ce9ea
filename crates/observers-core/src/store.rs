//! The [`Store`] trait every backend implements.

use std::fmt::Debug;

use async_trait::async_trait;

use crate::error::Result;
use crate::record::ChatCompletionRecord;

/// Where records go.
///
/// The contract every implementation keeps, because the client wrapper relies on it:
/// - [`add`](Store::add) never waits for I/O. It hands the record to the store's queue and
///   returns; it waits only when that queue is full (backpressure), never drops silently.
/// - [`flush`](Store::flush) returns once every record added before it is durable (or has
///   been counted as failed in [`StoreStats::failed`]).
/// - [`close`](Store::close) flushes and releases the backend; later calls to `add` get
///   [`StoreError::Closed`](crate::StoreError::Closed). Closing twice is harmless.
/// - A store retries its own transient failures; callers never have to.
///
/// Stores are shared: implementations are cheap to clone handles, `Send + Sync`, used from
/// many tasks and threads at once.
#[async_trait]
pub trait Store: Send + Sync + Debug + 'static {
    /// Queues one record for writing, waiting only while the queue is full.
    async fn add(&self, record: ChatCompletionRecord) -> Result<()>;

    /// Queues one record if that needs no waiting at all; otherwise gives it back.
    ///
    /// For callers that cannot `.await` (a `Drop`, a `poll_next`). The default gives every
    /// record back as [`TryAddError::Full`], so such callers fall back to [`add`](Store::add).
    fn try_add(&self, record: ChatCompletionRecord) -> std::result::Result<(), TryAddError> {
        Err(TryAddError::Full(Box::new(record)))
    }

    /// Waits until everything added before this call is written.
    async fn flush(&self) -> Result<()>;

    /// Flushes, then releases the backend (file, connection...).
    async fn close(&self) -> Result<()>;

    /// Counters of what happened to added records, so loss is never invisible.
    fn stats(&self) -> StoreStats;
}

/// What a store did with the records it was given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Records durably written.
    pub written: u64,
    /// Records that could not be written; each was logged with the reason.
    pub failed: u64,
}

#[async_trait]
impl<S: Store + ?Sized> Store for std::sync::Arc<S> {
    async fn add(&self, record: ChatCompletionRecord) -> Result<()> {
        (**self).add(record).await
    }
    async fn flush(&self) -> Result<()> {
        (**self).flush().await
    }
    fn try_add(&self, record: ChatCompletionRecord) -> std::result::Result<(), TryAddError> {
        (**self).try_add(record)
    }
    async fn close(&self) -> Result<()> {
        (**self).close().await
    }
    fn stats(&self) -> StoreStats {
        (**self).stats()
    }
}

/// Why [`Store::try_add`] gave a record back.
#[derive(Debug, thiserror::Error)]
pub enum TryAddError {
    /// The queue is full (or the store cannot queue without waiting): use [`Store::add`].
    #[error("the store's queue is full")]
    Full(Box<ChatCompletionRecord>),
    /// The store is closed; the record cannot be stored.
    #[error("the store is closed")]
    Closed(Box<ChatCompletionRecord>),
    /// The record cannot be stored at all (see [`ChatCompletionRecord::validate`]).
    #[error(transparent)]
    Invalid(crate::StoreError),
}
