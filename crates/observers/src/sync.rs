//! Push what a local DuckDB store holds and a Hub dataset lacks, and mark it synced.
//!
//! The protocol survives being stopped at any point. Unsynced rows are first assigned to
//! named shards in the store itself (table `hub_sync_shards`, in one statement);
//! shard files are written from those assignments, pushed (the Hub is asked which shards it
//! already has), and only then are exactly the rows of the shards on the Hub marked synced.
//! A rerun finds the same assignments, rewrites any missing file under the same name, and so
//! pushes no row twice and skips none.

use std::collections::HashSet;
use std::path::PathBuf;

use observers_store_duckdb::DuckDbStore;
use observers_store_hf::{new_shard_name, write_shard, HubStore, PushSummary, ShardFile};

/// Default number of rows per shard (and so the most rows held in memory at once).
pub const DEFAULT_BATCH_SIZE: usize = 20_000;

/// What to sync, and where.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// The dataset: `owner/name`, or `name` in the token owner's namespace.
    pub repo_id: String,
    /// Create the dataset private.
    pub private: bool,
    /// The branch to commit to.
    pub revision: String,
    /// Rows per shard.
    pub batch_size: usize,
    /// Only say what would be pushed.
    pub dry_run: bool,
    /// The token (default `HF_TOKEN`, else the Hugging Face tools' token file).
    pub token: Option<String>,
    /// The Hub (default `HF_ENDPOINT`, else `https://huggingface.co`).
    pub endpoint: Option<String>,
    /// Where shards wait for upload (default a folder per dataset in the user's cache).
    pub folder: Option<PathBuf>,
    /// Test hook: stop (as if killed) just before this step.
    #[doc(hidden)]
    pub stop_before: Option<SyncStep>,
}

impl SyncOptions {
    /// Options to sync to `repo_id`, everything else default.
    pub fn new(repo_id: impl Into<String>) -> Self {
        Self {
            repo_id: repo_id.into(),
            private: false,
            revision: "main".into(),
            batch_size: DEFAULT_BATCH_SIZE,
            dry_run: false,
            token: None,
            endpoint: None,
            folder: None,
            stop_before: None,
        }
    }
}

/// The steps of a sync, after rows are assigned to shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncStep {
    /// Writing shard files.
    Write,
    /// Uploading and committing them.
    Push,
    /// Marking their rows synced.
    Mark,
}

/// Progress reported while syncing.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncEvent {
    /// Rows to push, found at the start (including those of an interrupted sync).
    Planned {
        /// Rows.
        rows: u64,
    },
    /// A shard file was written.
    ShardWritten {
        /// Its rows.
        rows: u64,
    },
    /// The push is done.
    Pushed(PushSummary),
}

/// What a sync did (or, for a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// The dataset.
    pub repo_id: String,
    /// Rows pushed and marked synced (dry run: rows that would be).
    pub rows: u64,
    /// Shards committed (dry run: shards that would be written).
    pub shards: usize,
    /// Bytes uploaded (dry run: an estimate).
    pub bytes: u64,
    /// The commit's URL, when one was made.
    pub commit_url: Option<String>,
    /// Whether this was a dry run.
    pub dry_run: bool,
}

/// What can stop a sync. Nothing is lost: rerun it.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Reading or updating the local store failed.
    #[error("the local store: {0}")]
    Store(#[from] observers_store_duckdb::Error),
    /// Writing shards or pushing them failed.
    #[error("{0}")]
    Hub(#[from] observers_store_hf::Error),
    /// The test hook stopped the sync.
    #[error("sync stopped before {0:?}")]
    Stopped(SyncStep),
}

fn checkpoint(options: &SyncOptions, step: SyncStep) -> Result<(), SyncError> {
    match options.stop_before {
        Some(stop) if stop == step => Err(SyncError::Stopped(step)),
        _ => Ok(()),
    }
}

/// Pushes every row of `store` not yet on the Hub to `options.repo_id`, then marks exactly
/// those rows synced. Calls `on_event` as it goes (for a progress bar).
///
/// Shards stream from the store a chunk at a time, its writer thread reading the next chunk
/// while this task writes the last: records an application adds to the same store meanwhile
/// wait in its queue, a fraction of a second per shard.
///
/// # Example
/// ```no_run
/// use observers::sync::{sync_to_hub, SyncOptions};
/// use observers::DuckDbStore;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let store = DuckDbStore::open("store.db")?;
/// let report = sync_to_hub(&store, &SyncOptions::new("me/llm-logs"), |_| {}).await?;
/// println!("pushed {} rows: {:?}", report.rows, report.commit_url);
/// # Ok(())
/// # }
/// ```
pub async fn sync_to_hub(
    store: &DuckDbStore,
    options: &SyncOptions,
    mut on_event: impl FnMut(&SyncEvent),
) -> Result<SyncReport, SyncError> {
    let batch_size = options.batch_size.max(1);
    let mut builder =
        HubStore::builder().repo_id(&options.repo_id).private(options.private).revision(&options.revision);
    if let Some(token) = &options.token {
        builder = builder.token(token);
    }
    if let Some(endpoint) = &options.endpoint {
        builder = builder.endpoint(endpoint);
    }
    let folder = match &options.folder {
        Some(folder) => folder.clone(),
        None => dirs::cache_dir()
            .unwrap_or_else(std::env::temp_dir)
            .join("observers")
            .join("sync")
            .join(options.repo_id.replace('/', "__")),
    };
    let mut pusher = builder.folder(&folder).pusher()?;
    let mut report =
        SyncReport { repo_id: options.repo_id.clone(), dry_run: options.dry_run, ..SyncReport::default() };

    if options.dry_run {
        return dry_run(store, batch_size, report).await;
    }
    // 1. Assign unsynced rows to shards (an earlier, interrupted sync's assignments stay).
    let base = new_shard_name();
    store.assign_to_shards(base.trim_end_matches(".parquet"), batch_size).await?;
    let assigned = store.assigned_shards().await?;
    on_event(&SyncEvent::Planned { rows: assigned.iter().map(|(_, rows)| rows).sum() });

    // 2. Write the shard files that are not on disk yet.
    checkpoint(options, SyncStep::Write)?;
    for (shard, rows) in &assigned {
        if !folder.join(shard).exists() {
            // A chunk at a time: memory stays flat whatever `batch_size` is.
            let mut file = ShardFile::create(&folder, shard)?;
            let mut chunks = store.shard_records(shard).await?;
            while let Some(chunk) = chunks.next().await {
                file.write(&chunk?)?;
            }
            file.finish()?;
        }
        on_event(&SyncEvent::ShardWritten { rows: *rows });
    }

    // 3. Push them: one commit (per 200 shards); shards already on the Hub are not re-sent.
    checkpoint(options, SyncStep::Push)?;
    let pushed = pusher.push().await?;
    on_event(&SyncEvent::Pushed(pushed.clone()));

    // 4. Mark synced exactly the rows of the shards now on the Hub.
    checkpoint(options, SyncStep::Mark)?;
    let on_hub: HashSet<&str> = pushed.on_hub.iter().map(String::as_str).collect();
    let done: Vec<String> = assigned
        .iter()
        .filter(|(shard, _)| on_hub.contains(shard.as_str()))
        .map(|(shard, _)| shard.clone())
        .collect();
    report.rows = store.mark_shards_synced(&done, chrono::Utc::now()).await?;
    report.shards = done.len();
    report.bytes = pushed.bytes;
    report.commit_url = pushed.commit_url;
    Ok(report)
}

/// Counts what would be pushed, and estimates the bytes from a sample shard.
async fn dry_run(
    store: &DuckDbStore,
    batch_size: usize,
    mut report: SyncReport,
) -> Result<SyncReport, SyncError> {
    report.rows = store.unsynced_count().await?;
    report.shards = usize::try_from(report.rows.div_ceil(batch_size as u64)).unwrap_or(usize::MAX);
    let sample = store.unsynced(None, 1000).await?;
    if !sample.is_empty() {
        let dir = std::env::temp_dir().join(format!("observers-dry-run-{}", std::process::id()));
        let path = write_shard(&dir, "sample.parquet", &sample)?;
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&dir);
        report.bytes = size * report.rows / sample.len() as u64;
    }
    Ok(report)
}
