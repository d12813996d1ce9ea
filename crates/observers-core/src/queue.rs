//! The handle side of a store's background writer (feature `queue`).
//!
//! Stores that write on a thread of their own (DuckDB, the Hub) share this: a bounded queue
//! of records and control messages behind cheap, cloneable handles. [`QueueHandle::add`]
//! waits only while the queue is full (backpressure, never a silent drop); when the last
//! handle is dropped the writer sees the queue close, drains it, and the drop waits for it
//! to finish, so a clean exit loses nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::error::{Result, StoreError};
use crate::record::ChatCompletionRecord;
use crate::store::TryAddError;

/// What travels on the queue: a record, or one of the store's own control messages.
#[derive(Debug)]
pub enum Message<C> {
    /// A record to write.
    Record(Box<ChatCompletionRecord>),
    /// A store-specific message (flush, close, a read...).
    Control(C),
}

/// Held by the writer; dropping it (when the writer ends) releases the last handle's drop.
#[derive(Debug)]
pub struct Finished(#[allow(dead_code)] std_mpsc::Sender<()>);

struct Shared {
    closed: AtomicBool,
    finished: Mutex<std_mpsc::Receiver<()>>,
    what: String,
    drop_timeout: Duration,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Every sender is gone: the writer drains the queue and stops; wait for it.
        let finished = self.finished.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Err(std_mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(self.drop_timeout) {
            tracing::error!(store = %self.what, "the store's writer is still busy after {:?}; giving up waiting", self.drop_timeout);
        }
    }
}

/// A cheap, cloneable handle on a store's queue.
pub struct QueueHandle<C> {
    // Field order matters: the sender drops before `shared`, whose `Drop` waits for the
    // writer to see the queue closed and finish.
    sender: mpsc::Sender<Message<C>>,
    shared: Arc<Shared>,
}

impl<C> Clone for QueueHandle<C> {
    fn clone(&self) -> Self {
        Self { sender: self.sender.clone(), shared: self.shared.clone() }
    }
}

impl<C> std::fmt::Debug for QueueHandle<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueHandle")
            .field("store", &self.shared.what)
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// A queue of `capacity` messages for the store described by `what`; the last handle's drop
/// waits up to `drop_timeout` for the writer. Give the receiver and [`Finished`] to the writer.
pub fn queue<C>(
    capacity: usize,
    what: impl Into<String>,
    drop_timeout: Duration,
) -> (QueueHandle<C>, mpsc::Receiver<Message<C>>, Finished) {
    let (sender, receiver) = mpsc::channel(capacity.max(1));
    let (finished_tx, finished_rx) = std_mpsc::channel();
    let shared = Arc::new(Shared {
        closed: AtomicBool::new(false),
        finished: Mutex::new(finished_rx),
        what: what.into(),
        drop_timeout,
    });
    (QueueHandle { sender, shared }, receiver, Finished(finished_tx))
}

impl<C> QueueHandle<C> {
    /// Queues a record, waiting while the queue is full; refuses one that
    /// [`validate`](ChatCompletionRecord::validate) rejects.
    pub async fn add(&self, record: ChatCompletionRecord) -> Result<()> {
        if self.is_closed() {
            return Err(StoreError::Closed);
        }
        record.validate()?;
        self.sender.send(Message::Record(Box::new(record))).await.map_err(|_| StoreError::Closed)
    }

    /// Queues a record if there is room now; otherwise gives it back.
    pub fn try_add(&self, record: ChatCompletionRecord) -> std::result::Result<(), TryAddError> {
        if self.is_closed() {
            return Err(TryAddError::Closed(Box::new(record)));
        }
        record.validate().map_err(TryAddError::Invalid)?;
        self.sender.try_send(Message::Record(Box::new(record))).map_err(|e| {
            let full = matches!(e, mpsc::error::TrySendError::Full(_));
            let Message::Record(record) = e.into_inner() else { unreachable!("try_add only sends records") };
            if full {
                TryAddError::Full(record)
            } else {
                TryAddError::Closed(record)
            }
        })
    }

    /// Sends a control message after everything queued before it.
    pub async fn send(&self, control: C) -> Result<()> {
        self.sender.send(Message::Control(control)).await.map_err(|_| StoreError::Closed)
    }

    /// Marks the store closed (later `add`s fail); returns whether it already was.
    pub fn mark_closed(&self) -> bool {
        self.shared.closed.swap(true, Ordering::AcqRel)
    }

    /// Whether [`mark_closed`](Self::mark_closed) was called.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }
}
