//! Send what a local DuckDB store holds to another store, resumably: the backfill behind
//! `observers export --otlp`, which replays an existing `store.db` into an OpenTelemetry
//! collector as spans.
//!
//! Records go a page at a time, oldest first. A page is marked exported (table
//! `otlp_exports` of the store) only once the destination has flushed it without counting a
//! failure; a destination that fails stops the export with nothing of that page marked. A
//! rerun resumes with what is not marked: no record is skipped, and only a page whose flush
//! failed part-way can be sent twice (an OTLP receiver takes a repeated span id as the same
//! span).

use std::time::{Duration, Instant};

use chrono::Utc;
use observers_core::Store;
use observers_store_duckdb::DuckDbStore;

/// Default number of records sent before each flush and mark: small enough for an
/// exporter's bounded queue (OpenTelemetry's default holds 2,048 spans).
pub const DEFAULT_PAGE_SIZE: usize = 512;

/// Progress reported while exporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportEvent {
    /// Records to send, found at the start.
    Planned {
        /// Records.
        records: u64,
    },
    /// A page was sent, flushed and marked.
    Page {
        /// Its records.
        records: u64,
    },
}

/// What an export did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportReport {
    /// Records sent and marked exported.
    pub records: u64,
    /// How long it took.
    pub elapsed: Duration,
}

/// What can stop an export. Nothing is lost: run it again.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the store or marking records in it failed.
    #[error("the local store: {0}")]
    Store(#[from] observers_store_duckdb::Error),
    /// The destination failed to take a page.
    #[error("the destination failed to take records ({0}); {records} were exported before, run the export again to resume", records = .1)]
    Destination(observers_core::StoreError, u64),
    /// The destination counted records it could not send (a collector down or refusing).
    #[error(
        "the destination could not send {failed} of the last {page} records (see the warnings above: is \
         the collector up and its address right?); {records} were exported before, none of that page was \
         marked: run the export again to resume"
    )]
    NotSent {
        /// Records counted as failed during the page.
        failed: u64,
        /// Records in the page.
        page: u64,
        /// Records exported (and marked) before it.
        records: u64,
    },
}

/// Sends every record of `store` not yet exported to `destination`, `page_size` at a time,
/// marking each page once `destination` has flushed it whole. Calls `on_event` as it goes.
///
/// The destination's [`StoreStats::failed`](observers_core::StoreStats::failed) tells
/// whether a page got through, so any [`Store`] keeping that contract can be the target;
/// the command line uses the OpenTelemetry store.
///
/// # Example
/// ```no_run
/// use observers::export::{export_unexported, DEFAULT_PAGE_SIZE};
/// use observers::otel::OtelStore;
/// use observers::DuckDbStore;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let store = DuckDbStore::open("store.db")?;
/// let collector = OtelStore::from_env()?; // OTEL_EXPORTER_OTLP_ENDPOINT...
/// let report = export_unexported(&store, &collector, DEFAULT_PAGE_SIZE, |_| {}).await?;
/// println!("{} records exported", report.records);
/// # Ok(())
/// # }
/// ```
pub async fn export_unexported(
    store: &DuckDbStore,
    destination: &dyn Store,
    page_size: usize,
    mut on_event: impl FnMut(ExportEvent),
) -> Result<ExportReport, ExportError> {
    let started = Instant::now();
    on_event(ExportEvent::Planned { records: store.unexported_count().await? });
    let mut report = ExportReport::default();
    let mut after = None;
    loop {
        let page = store.unexported(after, page_size.max(1)).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        let ids: Vec<_> = page.iter().map(|record| record.id).collect();
        let size = ids.len() as u64;
        let failed_before = destination.stats().failed;
        for record in page {
            destination.add(record).await.map_err(|e| ExportError::Destination(e, report.records))?;
        }
        destination.flush().await.map_err(|e| ExportError::Destination(e, report.records))?;
        let failed = destination.stats().failed.saturating_sub(failed_before);
        if failed > 0 {
            return Err(ExportError::NotSent { failed, page: size, records: report.records });
        }
        store.mark_exported(&ids, Utc::now()).await?;
        report.records += size;
        on_event(ExportEvent::Page { records: size });
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Mutex;

    use async_trait::async_trait;
    use observers_core::{ChatCompletionRecord, StoreStats};
    use uuid::Uuid;

    use super::*;

    /// A destination that takes records until `fail_after` have come, then counts the rest
    /// as failed (a collector going down mid-export).
    #[derive(Debug, Default)]
    struct Flaky {
        fail_after: Option<usize>,
        taken: Mutex<Vec<Uuid>>,
        failed: AtomicU64,
    }

    #[async_trait]
    impl Store for Flaky {
        async fn add(&self, record: ChatCompletionRecord) -> observers_core::Result<()> {
            let mut taken = self.taken.lock().unwrap();
            if self.fail_after.is_some_and(|n| taken.len() >= n) {
                self.failed.fetch_add(1, Ordering::Relaxed);
            } else {
                taken.push(record.id);
            }
            Ok(())
        }
        async fn flush(&self) -> observers_core::Result<()> {
            Ok(())
        }
        async fn close(&self) -> observers_core::Result<()> {
            Ok(())
        }
        fn stats(&self) -> StoreStats {
            StoreStats {
                written: self.taken.lock().unwrap().len() as u64,
                failed: self.failed.load(Ordering::Relaxed),
            }
        }
    }

    #[tokio::test]
    async fn a_destination_failing_mid_export_marks_only_whole_pages_and_a_rerun_sends_the_rest() {
        let store = DuckDbStore::open(":memory:").unwrap();
        let mut ids = Vec::new();
        for i in 0..23 {
            let record = ChatCompletionRecord::new(format!("model-{i}"));
            ids.push(record.id);
            store.add(record).await.unwrap();
        }
        ids.sort();

        // Down after 12 records: pages of 5 → two whole pages marked, the third not.
        let flaky = Flaky { fail_after: Some(12), ..Flaky::default() };
        let error = export_unexported(&store, &flaky, 5, |_| {}).await.unwrap_err();
        assert!(matches!(error, ExportError::NotSent { failed: 3, page: 5, records: 10 }), "{error}");
        assert!(error.to_string().contains("run the export again"), "{error}");
        assert_eq!(store.unexported_count().await.unwrap(), 13);

        // The rerun sends from the first unmarked record on, each once.
        let healthy = Flaky::default();
        let mut events = Vec::new();
        let report = export_unexported(&store, &healthy, 5, |e| events.push(e)).await.unwrap();
        assert_eq!(report.records, 13);
        assert_eq!(events.first(), Some(&ExportEvent::Planned { records: 13 }));
        assert_eq!(*healthy.taken.lock().unwrap(), ids[10..]);
        assert_eq!(store.unexported_count().await.unwrap(), 0);

        // Nothing left: nothing sent.
        let idle = Flaky::default();
        assert_eq!(export_unexported(&store, &idle, 5, |_| {}).await.unwrap().records, 0);
        assert!(idle.taken.lock().unwrap().is_empty());
    }
}
