//! [`HubStore`]: records → Parquet shards → one Hub commit per push.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use observers_core::queue::{queue, Message, QueueHandle};
use observers_core::{ChatCompletionRecord, Store, StoreError, StoreStats, TryAddError};
use tokio::sync::{mpsc, oneshot};

use crate::api::{HubApi, RepoId, Retry};
use crate::error::{Error, Result};
use crate::push::{PushSummary, Pusher};
use crate::shard::ShardWriter;

/// Default push interval (as the Python observers: 5 minutes).
pub const DEFAULT_EVERY: Duration = Duration::from_secs(5 * 60);
/// Default largest number of records in one shard.
pub const DEFAULT_MAX_SHARD_RECORDS: usize = 100_000;
/// Default largest shard size, in bytes.
pub const DEFAULT_MAX_SHARD_BYTES: usize = 128 * 1024 * 1024;
/// Options for a [`HubStore`].
#[derive(Debug, Clone)]
pub struct HubStoreBuilder {
    repo_id: Option<String>,
    private: bool,
    revision: String,
    every: Duration,
    token: Option<String>,
    endpoint: Option<String>,
    folder: Option<PathBuf>,
    max_shard_records: usize,
    max_shard_bytes: usize,
    retry: Retry,
}

impl Default for HubStoreBuilder {
    fn default() -> Self {
        Self {
            repo_id: None,
            private: false,
            revision: "main".into(),
            every: DEFAULT_EVERY,
            token: None,
            endpoint: None,
            folder: None,
            max_shard_records: DEFAULT_MAX_SHARD_RECORDS,
            max_shard_bytes: DEFAULT_MAX_SHARD_BYTES,
            retry: Retry::default(),
        }
    }
}

impl HubStoreBuilder {
    /// The dataset: `owner/name`, or `name` for the token owner's namespace.
    pub fn repo_id(mut self, repo_id: impl Into<String>) -> Self {
        self.repo_id = Some(repo_id.into());
        self
    }
    /// Creates the repository private (if it does not exist yet).
    pub fn private(mut self, private: bool) -> Self {
        self.private = private;
        self
    }
    /// The branch to commit to (default `main`).
    pub fn revision(mut self, revision: impl Into<String>) -> Self {
        self.revision = revision.into();
        self
    }
    /// How often shards are pushed in the background (default 5 minutes).
    pub fn every(mut self, every: Duration) -> Self {
        self.every = every.max(Duration::from_millis(10));
        self
    }
    /// The token; default `HF_TOKEN`, else the file the Hugging Face tools write.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into()).filter(|t: &String| !t.is_empty());
        self
    }
    /// The Hub; default `HF_ENDPOINT`, else `https://huggingface.co`.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into().trim_end_matches('/').to_string());
        self
    }
    /// Where shards wait for upload; default a folder per repository in the user's cache.
    pub fn folder(mut self, folder: impl Into<PathBuf>) -> Self {
        self.folder = Some(folder.into());
        self
    }
    /// A shard is closed at this many records.
    pub fn max_shard_records(mut self, records: usize) -> Self {
        self.max_shard_records = records.max(1);
        self
    }
    /// A shard is closed at about this many bytes.
    pub fn max_shard_bytes(mut self, bytes: usize) -> Self {
        self.max_shard_bytes = bytes.max(1);
        self
    }
    /// How often and how patiently failed requests are retried within one push.
    pub fn retries(mut self, attempts: u32, first_backoff: Duration) -> Self {
        self.retry = Retry { attempts: attempts.max(1), backoff: first_backoff, ..self.retry };
        self
    }

    /// A [`Pusher`] of the shards in this store's folder, without a background thread: for
    /// tools that write shards themselves (such as `observers sync`).
    pub fn pusher(self) -> Result<Pusher> {
        let repo_id = self.repo_id.ok_or_else(|| Error::Config("HubStore needs a dataset: call `.repo_id(\"owner/name\")` (or `.repo_id(\"name\")` for the token owner's namespace)".into()))?;
        let (owner, name) = RepoId::parse(&repo_id)?;
        let folder = match self.folder {
            Some(folder) => folder,
            None => dirs::cache_dir()
                .ok_or_else(|| {
                    Error::Config("no cache folder on this system: set one with `.folder(..)`".into())
                })?
                .join("observers")
                .join("hf")
                .join(repo_id.replace('/', "__")),
        };
        std::fs::create_dir_all(&folder).map_err(Error::io("create the shard folder", &folder))?;
        let token = self.token.or_else(crate::auth::token_from_env);
        let endpoint = self.endpoint.unwrap_or_else(crate::auth::endpoint_from_env);
        let api = HubApi::new(endpoint, token, self.retry)?;
        Ok(Pusher { folder, api, owner, name, repo: None, private: self.private, revision: self.revision })
    }

    /// Starts the store: its background thread writes shards and pushes them every `every`.
    /// Shards left by an earlier run in the same folder are pushed too.
    ///
    /// Nothing goes over the network here; a missing token or an unreachable Hub shows at
    /// the first push (the shards wait on disk).
    pub fn build(self) -> Result<HubStore> {
        let (max_records, max_bytes) = (self.max_shard_records, self.max_shard_bytes);
        let every = self.every;
        let pusher = self.pusher()?;
        let folder = pusher.folder.clone();
        let shards = ShardWriter::new(folder.clone(), max_records, max_bytes)?;
        shards.discard_incomplete()?;
        let counters = Arc::new(Counters::default());
        let (queue, receiver, finished) =
            queue(8192, format!("Hub store {}", folder.display()), DROP_PUSH_TIMEOUT);
        let worker = Worker { shards, pusher, counters: counters.clone() };
        std::thread::Builder::new()
            .name("observers-hf-pusher".into())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(runtime) => runtime.block_on(worker.run(receiver, every)),
                    Err(e) => tracing::error!(error = %e, "could not start the Hub store's runtime"),
                }
                drop(finished);
            })
            .map_err(Error::io("start the Hub store's thread", &folder))?;
        Ok(HubStore { queue, folder: Arc::new(folder), counters })
    }
}

#[derive(Debug, Default)]
struct Counters {
    written: AtomicU64,
    failed: AtomicU64,
}

/// The Hub store's control messages (records travel as [`Message::Record`]).
enum Control {
    Push(oneshot::Sender<Result<PushSummary>>),
    Close(oneshot::Sender<Result<PushSummary>>),
}

/// A store writing records as Parquet shards pushed to a Hugging Face Hub dataset.
///
/// Records go to ZSTD Parquet shards in a local folder (the core schema, all columns but
/// `synced_at`); shards are pushed in one commit each time `every` elapses, on
/// [`flush`](Store::flush) and [`push`](HubStore::push), and when the store is closed or its
/// last handle dropped. A failed push keeps the shards and retries later; a shard already on
/// the Hub is never uploaded twice.
///
/// # Example
/// ```no_run
/// use observers_store_hf::HubStore;
/// use observers_core::{ChatCompletionRecord, Store};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let store = HubStore::builder().repo_id("me/my-llm-logs").private(true).build()?; // HF_TOKEN
/// store.add(ChatCompletionRecord::new("gpt-4o-mini")).await?;
/// let pushed = store.push().await?;
/// println!("{} records in {:?}", pushed.records, pushed.commit_url);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct HubStore {
    queue: QueueHandle<Control>,
    folder: Arc<PathBuf>,
    counters: Arc<Counters>,
}

/// How long dropping the last handle waits for the final push.
pub const DROP_PUSH_TIMEOUT: Duration = Duration::from_secs(120);

impl fmt::Debug for HubStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubStore").field("folder", &self.folder).finish()
    }
}

impl HubStore {
    /// Options for a store; `repo_id` is required.
    pub fn builder() -> HubStoreBuilder {
        HubStoreBuilder::default()
    }

    /// The local folder of shards.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// Closes the current shard and pushes every shard not yet on the Hub, in one commit.
    pub async fn push(&self) -> Result<PushSummary> {
        let (reply, answer) = oneshot::channel();
        self.queue.send(Control::Push(reply)).await.map_err(|_| Error::Closed)?;
        answer.await.map_err(|_| Error::Closed)?
    }
}

#[async_trait]
impl Store for HubStore {
    async fn add(&self, record: ChatCompletionRecord) -> observers_core::Result<()> {
        self.queue.add(record).await
    }

    fn try_add(&self, record: ChatCompletionRecord) -> std::result::Result<(), TryAddError> {
        self.queue.try_add(record)
    }

    /// Closes the current shard and pushes: returns once the records are on the Hub (or
    /// with the push's error, the shards kept on disk for the next push).
    async fn flush(&self) -> observers_core::Result<()> {
        self.push().await.map(|_| ()).map_err(StoreError::from)
    }

    async fn close(&self) -> observers_core::Result<()> {
        if self.queue.mark_closed() {
            return Ok(());
        }
        let (reply, answer) = oneshot::channel();
        if self.queue.send(Control::Close(reply)).await.is_err() {
            return Ok(());
        }
        match answer.await {
            Ok(result) => result.map(|_| ()).map_err(StoreError::from),
            Err(_) => Ok(()),
        }
    }

    fn stats(&self) -> StoreStats {
        let c = &self.counters;
        StoreStats { written: c.written.load(Ordering::Relaxed), failed: c.failed.load(Ordering::Relaxed) }
    }
}

/// The background side: owns the shard writer and the Hub client.
struct Worker {
    shards: ShardWriter,
    pusher: Pusher,
    counters: Arc<Counters>,
}

impl Worker {
    async fn run(mut self, mut queue: mpsc::Receiver<Message<Control>>, every: Duration) {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                message = queue.recv() => {
                    if !self.handle(message).await {
                        return;
                    }
                    // Take what is already queued without a trip through `select!` per record.
                    while let Ok(message) = queue.try_recv() {
                        if !self.handle(Some(message)).await {
                            return;
                        }
                    }
                }
                _ = tick.tick() => {
                    if let Err(e) = self.close_and_push().await {
                        tracing::warn!(error = %e, "push to the Hub failed; the shards are kept and the next push retries");
                    }
                }
            }
        }
    }

    /// Handles one message; `false` when the store is done.
    async fn handle(&mut self, message: Option<Message<Control>>) -> bool {
        match message {
            Some(Message::Record(record)) => self.add(*record),
            Some(Message::Control(Control::Push(reply))) => {
                let _ = reply.send(self.close_and_push().await);
            }
            Some(Message::Control(Control::Close(reply))) => {
                let _ = reply.send(self.close_and_push().await);
                return false;
            }
            None => {
                if let Err(e) = self.close_and_push().await {
                    tracing::error!(error = %e, folder = %self.pusher.folder().display(), "final push to the Hub failed; the shards stay on disk for the next run");
                }
                return false;
            }
        }
        true
    }

    fn add(&mut self, record: ChatCompletionRecord) {
        if let Err(e) = self.shards.add(record) {
            // A failed write loses the records it held: count them, never silently.
            let lost = self.shards.discard_unclosed() as u64;
            self.counters.failed.fetch_add(lost.max(1), Ordering::Relaxed);
            tracing::error!(error = %e, records = lost, "could not write observers records to a shard");
        }
        self.counters.written.store(self.shards.closed_records, Ordering::Relaxed);
    }

    async fn close_and_push(&mut self) -> Result<PushSummary> {
        let closed = self.shards.close();
        self.counters.written.store(self.shards.closed_records, Ordering::Relaxed);
        if let Err(e) = closed {
            let lost = self.shards.discard_unclosed() as u64;
            self.counters.failed.fetch_add(lost, Ordering::Relaxed);
            return Err(e);
        }
        self.pusher.push().await
    }
}
