//! [`Fanout`]: several stores as one, so a call is recorded in each (a local DuckDB file and
//! an OpenTelemetry collector, say).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use uuid::Uuid;

use crate::error::Result;
use crate::record::ChatCompletionRecord;
use crate::store::{Store, StoreStats, TryAddError};

/// Several stores as one: every record goes to each of them.
///
/// Each store keeps its own contract: a slow or failing one does not stop the others from
/// getting the record (an error is returned after every store was tried). [`stats`](Store::stats)
/// adds up the stores' counters.
///
/// # Example
/// ```
/// use observers_core::{ChatCompletionRecord, Fanout, Store};
/// # use observers_core::{StoreStats, Result};
/// # #[derive(Debug, Default, Clone)] struct Memory(std::sync::Arc<std::sync::Mutex<Vec<ChatCompletionRecord>>>);
/// # #[async_trait::async_trait] impl Store for Memory {
/// #     async fn add(&self, r: ChatCompletionRecord) -> Result<()> { self.0.lock().unwrap().push(r); Ok(()) }
/// #     async fn flush(&self) -> Result<()> { Ok(()) }
/// #     async fn close(&self) -> Result<()> { Ok(()) }
/// #     fn stats(&self) -> StoreStats { StoreStats::default() }
/// # }
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// let (local, remote) = (Memory::default(), Memory::default());
/// let both = Fanout::new().with(local.clone()).with(remote.clone());
/// both.add(ChatCompletionRecord::new("gpt-4o-mini")).await?;
/// assert_eq!((local.0.lock().unwrap().len(), remote.0.lock().unwrap().len()), (1, 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct Fanout {
    stores: Vec<Arc<dyn Store>>,
    /// Records that [`Store::try_add`] handed to some stores but gave back because another
    /// was full: the stores that already have each, so the caller's [`Store::add`] that
    /// follows reaches only the others (no store gets a record twice).
    partial: Arc<Mutex<HashMap<Uuid, Vec<bool>>>>,
}

impl fmt::Debug for Fanout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.stores).finish()
    }
}

impl Fanout {
    /// No store yet: add them with [`with`](Self::with).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a store.
    pub fn with(mut self, store: impl Store) -> Self {
        self.stores.push(Arc::new(store));
        self
    }

    /// Which stores still need `id` (all, unless a `try_add` gave it to some already).
    fn needed(&self, id: Uuid) -> Vec<bool> {
        let taken = self.partial.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
        taken.map_or_else(|| vec![true; self.stores.len()], |taken| taken.iter().map(|t| !t).collect())
    }
}

/// The first error of several, once every store was tried.
fn first_error(results: Vec<Result<()>>) -> Result<()> {
    results.into_iter().find(Result::is_err).unwrap_or(Ok(()))
}

#[async_trait]
impl Store for Fanout {
    async fn add(&self, record: ChatCompletionRecord) -> Result<()> {
        let needed = self.needed(record.id);
        let mut results = Vec::with_capacity(self.stores.len());
        for (store, _) in self.stores.iter().zip(needed).filter(|(_, needed)| *needed) {
            results.push(store.add(record.clone()).await);
        }
        first_error(results)
    }

    fn try_add(&self, record: ChatCompletionRecord) -> std::result::Result<(), TryAddError> {
        let needed = self.needed(record.id);
        let mut taken: Vec<bool> = needed.iter().map(|needed| !needed).collect();
        let mut full = false;
        let mut error = None;
        for (at, store) in self.stores.iter().enumerate().filter(|(at, _)| needed[*at]) {
            match store.try_add(record.clone()) {
                Ok(()) => taken[at] = true,
                Err(TryAddError::Full(_)) => full = true,
                // Closed or refused there: it will never take the record; the others still do.
                Err(TryAddError::Closed(_)) => {
                    taken[at] = true;
                    error.get_or_insert(TryAddError::Closed(Box::new(record.clone())));
                }
                Err(TryAddError::Invalid(e)) => {
                    taken[at] = true;
                    error.get_or_insert(TryAddError::Invalid(e));
                }
            }
        }
        if full {
            self.partial.lock().unwrap_or_else(PoisonError::into_inner).insert(record.id, taken);
            return Err(TryAddError::Full(Box::new(record)));
        }
        error.map_or(Ok(()), Err)
    }

    async fn flush(&self) -> Result<()> {
        let mut results = Vec::with_capacity(self.stores.len());
        for store in &self.stores {
            results.push(store.flush().await);
        }
        first_error(results)
    }

    async fn close(&self) -> Result<()> {
        let mut results = Vec::with_capacity(self.stores.len());
        for store in &self.stores {
            results.push(store.close().await);
        }
        first_error(results)
    }

    fn stats(&self) -> StoreStats {
        self.stores.iter().map(|s| s.stats()).fold(StoreStats::default(), |sum, s| StoreStats {
            written: sum.written + s.written,
            failed: sum.failed + s.failed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreError;

    /// A store holding what it was given, whose `try_add` is full while `full` is set.
    #[derive(Debug, Default, Clone)]
    struct Memory {
        records: Arc<Mutex<Vec<Uuid>>>,
        full: Arc<std::sync::atomic::AtomicBool>,
        closed: bool,
    }

    #[async_trait]
    impl Store for Memory {
        async fn add(&self, record: ChatCompletionRecord) -> Result<()> {
            if self.closed {
                return Err(StoreError::Closed);
            }
            self.records.lock().unwrap_or_else(PoisonError::into_inner).push(record.id);
            Ok(())
        }
        fn try_add(&self, record: ChatCompletionRecord) -> std::result::Result<(), TryAddError> {
            if self.full.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(TryAddError::Full(Box::new(record)));
            }
            if self.closed {
                return Err(TryAddError::Closed(Box::new(record)));
            }
            self.records.lock().unwrap_or_else(PoisonError::into_inner).push(record.id);
            Ok(())
        }
        async fn flush(&self) -> Result<()> {
            Ok(())
        }
        async fn close(&self) -> Result<()> {
            Ok(())
        }
        fn stats(&self) -> StoreStats {
            let written = self.records.lock().unwrap_or_else(PoisonError::into_inner).len() as u64;
            StoreStats { written, failed: 0 }
        }
    }

    fn count(store: &Memory) -> usize {
        store.records.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    #[tokio::test]
    async fn a_full_store_gets_the_record_later_and_no_store_gets_it_twice() {
        let (a, b) = (Memory::default(), Memory::default());
        let fanout = Fanout::new().with(a.clone()).with(b.clone());
        b.full.store(true, std::sync::atomic::Ordering::Relaxed);
        let record = ChatCompletionRecord::new("m");
        let Err(TryAddError::Full(given_back)) = fanout.try_add(record) else { panic!("b is full") };
        assert_eq!((count(&a), count(&b)), (1, 0));
        b.full.store(false, std::sync::atomic::Ordering::Relaxed);
        fanout.add(*given_back).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((count(&a), count(&b)), (1, 1));
        assert_eq!(fanout.stats().written, 2);
        assert!(fanout.partial.lock().unwrap_or_else(PoisonError::into_inner).is_empty());
    }

    #[tokio::test]
    async fn a_closed_store_does_not_keep_the_others_from_recording() {
        let (closed, open) = (Memory { closed: true, ..Memory::default() }, Memory::default());
        let fanout = Fanout::new().with(closed).with(open.clone());
        assert!(matches!(fanout.add(ChatCompletionRecord::new("m")).await, Err(StoreError::Closed)));
        assert!(matches!(fanout.try_add(ChatCompletionRecord::new("m")), Err(TryAddError::Closed(_))));
        assert_eq!(count(&open), 2);
    }
}
