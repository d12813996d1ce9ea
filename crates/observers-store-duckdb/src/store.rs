//! [`DuckDbStore`]: the handle users hold.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use duckdb::vtab::arrow::ArrowBatchRegistration;
use duckdb::{params, Config, Connection};
use observers_core::arrow::array::{RecordBatch, StringArray};
use observers_core::arrow::datatypes::{DataType, Field, Schema};
use observers_core::queue::{queue, QueueHandle};
use observers_core::uuid::Uuid;
use observers_core::{records_from_batch, ChatCompletionRecord, Store, StoreStats, TryAddError};
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};
use crate::migrations;
use crate::writer::{insert_sql, Control, Counters, Writer};

mod reprice;
pub use reprice::Repriced;

/// The file [`DuckDbStore::open_default`] opens.
pub const DEFAULT_PATH: &str = "store.db";
/// The table records go to.
pub const TABLE: &str = "openai_records";
/// Default number of queued commands before [`Store::add`] waits.
pub const DEFAULT_QUEUE_CAPACITY: usize = 8192;
/// Default largest number of records inserted in one statement.
pub const DEFAULT_MAX_BATCH: usize = 4096;
/// [`DuckDbStore::mark_shards_synced`] closes a transaction once it holds this many rows
/// (whole shards only, so one may hold up to this plus one shard).
pub const MARK_ROWS_PER_TRANSACTION: u64 = 100_000;
/// Default longest time a record waits in memory for others to be written with it: what a
/// hard kill of the process can lose (see [`DuckDbStoreBuilder::flush_interval`]).
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// Default cap on DuckDB's memory: its buffer cache would otherwise grow to 80% of the
/// machine's RAM as the file grows, which a logging store has no business taking.
pub const DEFAULT_MEMORY_LIMIT: &str = "512MB";
/// Default number of threads DuckDB may use per statement (see [`DuckDbStoreBuilder::threads`]).
pub const DEFAULT_THREADS: Option<usize> = Some(1);
/// How long dropping the last handle waits for queued records to be written.
pub const DROP_FLUSH_TIMEOUT: Duration = Duration::from_secs(60);

/// A store writing records to a local DuckDB file, table [`openai_records`](TABLE).
///
/// One background thread owns the connection and inserts records in batches; handles are
/// cheap clones sharing it. [`add`](Store::add) only queues, and waits only when the queue
/// is full. Dropping the last handle writes what is queued and releases the file; so does
/// [`close`](Store::close), which also reports errors.
///
/// Records are written in groups: each waits up to [`DEFAULT_FLUSH_INTERVAL`] (1 s) for
/// others, so that a steady trickle of calls costs microseconds of CPU each rather than a
/// DuckDB statement each ([`DuckDbStoreBuilder::flush_interval`] changes it).
///
/// What a hard kill (SIGKILL, power cut of the process) can lose: the records added in the
/// last flush interval, plus what is queued behind them if the writer is behind; never
/// anything a returned [`flush`](Store::flush) covered. Everything written is committed, and
/// the file opens and reads in full afterwards (tested by killing a writer mid-stream).
/// A clean exit loses nothing: [`close`](Store::close), and the drop of the last handle, write
/// everything queued.
///
/// The table has no primary key: DuckDB would keep it as an index rewritten at every
/// checkpoint, a cost that grows with the store. Record ids are UUIDv7s, unique as made; a
/// record added twice is stored twice.
///
/// # Example
/// ```
/// use observers_store_duckdb::DuckDbStore;
/// use observers_core::{ChatCompletionRecord, Store};
///
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// let dir = tempfile::tempdir()?;
/// let store = DuckDbStore::open(dir.path().join("store.db"))?;
/// store.add(ChatCompletionRecord::new("gpt-4o-mini")).await?;
/// store.flush().await?;
/// assert_eq!(store.count().await?, 1);
/// store.close().await?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct DuckDbStore {
    queue: QueueHandle<Control>,
    path: Arc<PathBuf>,
    counters: Arc<Counters>,
}

impl fmt::Debug for DuckDbStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DuckDbStore")
            .field("path", &self.path)
            .field("stats", &self.counters.snapshot())
            .finish()
    }
}

/// Options for opening a [`DuckDbStore`].
#[derive(Debug, Clone)]
pub struct DuckDbStoreBuilder {
    path: PathBuf,
    queue_capacity: usize,
    max_batch: usize,
    flush_interval: Duration,
    memory_limit: String,
    threads: Option<usize>,
}

impl DuckDbStoreBuilder {
    /// How many threads DuckDB may use for one statement (default [`DEFAULT_THREADS`]: 1: a
    /// store mostly inserts small groups, which gain nothing from more threads, and a logging
    /// store should not take every core of the app for a query). `None` lets DuckDB use every
    /// core, for large reads (`observers stats` does).
    pub fn threads(mut self, threads: Option<usize>) -> Self {
        self.threads = threads.map(|n| n.max(1));
        self
    }

    /// Longest a record waits in memory for others before they are written together
    /// (default [`DEFAULT_FLUSH_INTERVAL`], 1 s). This is what a hard kill of the process
    /// (SIGKILL, power loss) can lose; a clean exit, [`Store::flush`] and [`Store::close`] write
    /// everything. Shorter costs more CPU per call at low rates (each write is one DuckDB
    /// statement); `Duration::ZERO` writes each record as soon as the writer sees it.
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval;
        self
    }

    /// How many records may wait in the queue before [`Store::add`] waits (backpressure).
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity.max(1);
        self
    }

    /// The largest number of records inserted in one statement.
    pub fn max_batch(mut self, records: usize) -> Self {
        self.max_batch = records.max(1);
        self
    }

    /// DuckDB's memory limit (default [`DEFAULT_MEMORY_LIMIT`]), e.g. `"2GB"`; queries over
    /// it spill to disk.
    pub fn memory_limit(mut self, limit: impl Into<String>) -> Self {
        self.memory_limit = limit.into();
        self
    }

    /// Opens (or creates) the database, applies migrations and starts the writer thread.
    pub fn open(self) -> Result<DuckDbStore> {
        let mut conn = connect(&self.path, &self.memory_limit, self.threads)?;
        migrations::apply(&mut conn, &self.path)?;
        Writer::prepare(&conn)?;
        let counters = Arc::new(Counters::default());
        let what = format!("DuckDB store {}", self.path.display());
        let (queue, receiver, finished) = queue(self.queue_capacity, what, DROP_FLUSH_TIMEOUT);
        let writer = Writer {
            conn,
            counters: counters.clone(),
            max_batch: self.max_batch,
            flush_interval: self.flush_interval,
            insert_sql: insert_sql(),
            memory_limit: self.memory_limit.clone(),
        };
        std::thread::Builder::new()
            .name("observers-duckdb-writer".into())
            .spawn(move || writer.run(receiver, finished))
            .map_err(Error::Spawn)?;
        Ok(DuckDbStore { queue, path: Arc::new(self.path), counters })
    }
}

/// Opens the file so that DuckDB 1.5 tools (the `duckdb` CLI on PyPI) can read it too, and
/// turns DuckDB's open errors into ones that say what to do.
fn connect(path: &Path, memory_limit: &str, threads: Option<usize>) -> Result<Connection> {
    let mut config = Config::default();
    if let Some(threads) = threads {
        config = config.threads(i64::try_from(threads).unwrap_or(i64::MAX))?;
    }
    let config = config
        .max_memory(memory_limit)?
        // Large scans need not keep rows in insertion order; our reads order by id themselves.
        .with("preserve_insertion_order", "false")?
        // DuckDB 2.0's default storage format cannot be read by DuckDB 1.x tools.
        .with("storage_compatibility_version", "v1.5.0")?
        // Never reach for the network: json and parquet are linked in.
        .enable_autoload_extension(false)?;
    let opened = if path.as_os_str() == ":memory:" {
        Connection::open_in_memory_with_flags(config)
    } else {
        Connection::open_with_flags(path, config)
    };
    opened.map_err(|e| {
        let detail = e.to_string();
        let lower = detail.to_lowercase();
        if lower.contains("lock") {
            Error::Locked { path: path.to_path_buf(), detail }
        } else if lower.contains("read-only file system") || lower.contains("permission denied") {
            Error::NotWritable { path: path.to_path_buf(), detail }
        } else if lower.contains("not a valid duckdb database")
            || lower.contains("corrupt")
            || lower.contains("invalid magic")
            || lower.contains("unable to open database")
        {
            Error::NotADatabase { path: path.to_path_buf(), detail }
        } else {
            Error::DuckDb(e)
        }
    })
}

impl DuckDbStore {
    /// Opens `./store.db`, creating it if missing.
    pub fn open_default() -> Result<Self> {
        Self::open(DEFAULT_PATH)
    }

    /// Opens the database at `path` (created if missing); `":memory:"` for a throwaway one.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::builder(path).open()
    }

    /// Options for opening the database at `path`.
    pub fn builder(path: impl AsRef<Path>) -> DuckDbStoreBuilder {
        DuckDbStoreBuilder {
            path: path.as_ref().to_path_buf(),
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            max_batch: DEFAULT_MAX_BATCH,
            flush_interval: DEFAULT_FLUSH_INTERVAL,
            memory_limit: DEFAULT_MEMORY_LIMIT.into(),
            threads: DEFAULT_THREADS,
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `job` on the writer thread, after everything queued before it.
    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(move |conn: &mut Connection| {
            let _ = reply.send(job(conn));
        });
        self.queue.send(Control::Run(job)).await.map_err(|_| Error::Closed)?;
        answer.await.map_err(|_| Error::Closed)?
    }

    /// Number of records in the store (after everything added before this call).
    pub async fn count(&self) -> Result<u64> {
        self.run(|conn| {
            let n: i64 = conn.query_row("SELECT count(*) FROM openai_records", [], |row| row.get(0))?;
            Ok(u64::try_from(n).unwrap_or_default())
        })
        .await
    }

    /// The record with this id, if any.
    pub async fn get(&self, id: Uuid) -> Result<Option<ChatCompletionRecord>> {
        let sql = select_sql("WHERE id = ?");
        self.run(move |conn| Ok(query_records(conn, &sql, params![id.to_string()])?.into_iter().next())).await
    }

    /// Up to `limit` records not yet synced (`synced_at IS NULL`), in id (time) order,
    /// starting after `after`. Page through them by passing the last id you got.
    pub async fn unsynced(&self, after: Option<Uuid>, limit: usize) -> Result<Vec<ChatCompletionRecord>> {
        let after = after.map(|id| id.to_string()).unwrap_or_default();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // The page's bounds first (ids only: sorting whole rows of a large store would need
        // more memory than the store is allowed), then its rows.
        let sql = select_sql("WHERE synced_at IS NULL AND id BETWEEN ? AND ?");
        self.run(move |conn| {
            let bounds: (Option<String>, Option<String>) = conn.query_row(
                "SELECT min(id), max(id) FROM (SELECT id FROM openai_records
                 WHERE synced_at IS NULL AND id > ? ORDER BY id LIMIT ?)",
                params![after, limit],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
            let (Some(first), Some(last)) = bounds else { return Ok(Vec::new()) };
            sorted(query_records(conn, &sql, params![first, last])?)
        })
        .await
    }

    /// Records not yet synced to the Hub.
    pub async fn unsynced_count(&self) -> Result<u64> {
        self.run(|conn| {
            let n: i64 =
                conn.query_row("SELECT count(*) FROM openai_records WHERE synced_at IS NULL", [], |row| {
                    row.get(0)
                })?;
            Ok(u64::try_from(n).unwrap_or_default())
        })
        .await
    }

    /// Up to `limit` records not yet exported to OpenTelemetry (`observers export --otlp`), in
    /// id (time) order, starting after `after`. Page through them by passing the last id you
    /// got, and [`mark_exported`](Self::mark_exported) each page once the collector has it.
    pub async fn unexported(&self, after: Option<Uuid>, limit: usize) -> Result<Vec<ChatCompletionRecord>> {
        let after = after.map(|id| id.to_string()).unwrap_or_default();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // Both sides of the anti-join start after the page's lower bound, so a whole export
        // reads each exported id about once rather than once per page.
        let sql = select_sql(&format!("WHERE id BETWEEN $1 AND $2 AND {NOT_EXPORTED_AFTER_FIRST}"));
        self.run(move |conn| {
            let bounds: (Option<String>, Option<String>) = conn.query_row(
                "SELECT min(id), max(id) FROM (SELECT id FROM openai_records
                 WHERE id > $1 AND id NOT IN (SELECT id FROM otlp_exports WHERE id > $1)
                 ORDER BY id LIMIT $2)",
                params![after, limit],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
            let (Some(first), Some(last)) = bounds else { return Ok(Vec::new()) };
            sorted(query_records(conn, &sql, params![first, last])?)
        })
        .await
    }

    /// Records not yet exported to OpenTelemetry.
    pub async fn unexported_count(&self) -> Result<u64> {
        self.run(|conn| {
            let n: i64 = conn.query_row(
                "SELECT count(*) FROM openai_records WHERE id NOT IN (SELECT id FROM otlp_exports)",
                [],
                |row| row.get(0),
            )?;
            Ok(u64::try_from(n).unwrap_or_default())
        })
        .await
    }

    /// Notes these records as exported to OpenTelemetry at `at`, so
    /// [`unexported`](Self::unexported) leaves them out; returns how many were noted.
    pub async fn mark_exported(&self, ids: &[Uuid], at: DateTime<Utc>) -> Result<u64> {
        let batch = ids_batch(ids)?;
        self.run(move |conn| {
            let registration = ArrowBatchRegistration::new(batch);
            let noted = conn.execute(
                "INSERT INTO otlp_exports SELECT id, ? FROM arrow(?)",
                params![at.naive_utc(), &registration],
            )?;
            Ok(noted as u64)
        })
        .await
    }

    /// Assigns every unsynced record not yet assigned to a Hub shard, in id order, to shards
    /// of `per_shard` records named `{base}-00000.parquet`, `{base}-00001.parquet`... in one
    /// statement; returns how many records were assigned.
    ///
    /// Part of the resumable sync protocol: assign, write and push the shards, then
    /// [`mark_shards_synced`](Self::mark_shards_synced).
    pub async fn assign_to_shards(&self, base: &str, per_shard: usize) -> Result<u64> {
        let base = base.to_string();
        let per_shard = i64::try_from(per_shard.max(1)).unwrap_or(i64::MAX);
        self.run(move |conn| {
            let assigned = conn.execute(
                "INSERT INTO hub_sync_shards (id, shard)
                 SELECT id, ? || '-' || lpad(CAST((row_number() OVER (ORDER BY id) - 1) // ? AS VARCHAR), 5, '0')
                           || '.parquet'
                 FROM openai_records
                 WHERE synced_at IS NULL AND id NOT IN (SELECT id FROM hub_sync_shards)",
                params![base, per_shard],
            )?;
            Ok(assigned as u64)
        })
        .await
    }

    /// Shards with records assigned but not yet marked synced, with their record counts.
    pub async fn assigned_shards(&self) -> Result<Vec<(String, u64)>> {
        self.run(|conn| {
            let mut statement =
                conn.prepare("SELECT shard, count(*) FROM hub_sync_shards GROUP BY shard ORDER BY shard")?;
            let rows =
                statement.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)))?;
            rows.map(|r| r.map(|(s, n)| (s, u64::try_from(n).unwrap_or_default())).map_err(Error::from))
                .collect()
        })
        .await
    }

    /// The records assigned to `shard`, in chunks of up to 2,048 as DuckDB reads them (store
    /// order): a shard of any size costs the memory of a chunk or two. The store's thread
    /// serves this read until the chunks are all taken or [`ShardRecords`] is dropped, so do
    /// either before awaiting anything else of this store.
    pub async fn shard_records(&self, shard: &str) -> Result<ShardRecords> {
        let shard = shard.to_string();
        let sql = select_sql(&format!("WHERE {IN_SHARD}"));
        // One chunk in flight while the caller handles the previous one.
        let (chunks, receiver) = mpsc::channel(1);
        let job = Box::new(move |conn: &mut Connection| {
            let stream = || -> Result<bool> {
                if let Some((first, last)) = shard_bounds(conn, &shard)? {
                    let mut statement = conn.prepare(&sql)?;
                    for batch in statement.stream_arrow(params![first, last, shard])? {
                        if chunks.blocking_send(Ok(Some(records_from_batch(&batch?)?))).is_err() {
                            return Ok(false); // the caller stopped reading
                        }
                    }
                }
                Ok(true)
            };
            let _ = match stream() {
                Ok(true) => chunks.blocking_send(Ok(None)),
                Ok(false) => Ok(()),
                Err(e) => chunks.blocking_send(Err(e)),
            };
        });
        self.queue.send(Control::Run(job)).await.map_err(|_| Error::Closed)?;
        Ok(ShardRecords { receiver, done: false })
    }

    /// Marks the records of these shards synced at `at` and forgets their assignment; returns
    /// how many records were marked. Each shard is marked whole in one transaction, with other
    /// shards until the transaction holds [`MARK_ROWS_PER_TRANSACTION`] rows, which bounds the
    /// memory this takes however large the store.
    pub async fn mark_shards_synced(&self, shards: &[String], at: DateTime<Utc>) -> Result<u64> {
        if shards.is_empty() {
            return Ok(0);
        }
        let shards = names_batch(shards)?;
        self.run(move |conn| {
            let mut statement = conn.prepare(
                "SELECT shard, count(*) FROM hub_sync_shards
                 WHERE shard IN (SELECT shard FROM arrow(?)) GROUP BY shard ORDER BY shard",
            )?;
            let sizes = statement
                .query_map([&ArrowBatchRegistration::new(shards)], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
                })?
                .collect::<duckdb::Result<Vec<_>>>()?;
            drop(statement);
            let mut marked = 0;
            let mut group = Vec::new();
            let mut rows = 0;
            for (i, (shard, size)) in sizes.iter().enumerate() {
                group.push(shard.clone());
                rows += u64::try_from(*size).unwrap_or_default();
                if rows >= MARK_ROWS_PER_TRANSACTION || i + 1 == sizes.len() {
                    marked += mark_synced(conn, names_batch(&group)?, at)?;
                    group.clear();
                    rows = 0;
                }
            }
            Ok(marked)
        })
        .await
    }

    /// Runs any SQL query of yours against the store (e.g. `from openai_records limit 10`)
    /// and returns the result as Arrow batches, after everything added before this call.
    ///
    /// The SQL is yours: never build it from untrusted input.
    pub async fn query(&self, sql: impl Into<String>) -> Result<Vec<RecordBatch>> {
        let sql = sql.into();
        self.run(move |conn| {
            let mut statement = conn.prepare(&sql)?;
            Ok(statement.query_arrow([])?.collect())
        })
        .await
    }

    /// Sets `synced_at` for these records; returns how many rows were updated.
    pub async fn mark_synced(&self, ids: &[Uuid], at: DateTime<Utc>) -> Result<u64> {
        let batch = ids_batch(ids)?;
        self.run(move |conn| {
            let registration = ArrowBatchRegistration::new(batch);
            let updated = conn.execute(
                "UPDATE openai_records SET synced_at = ? WHERE id IN (SELECT id FROM arrow(?))",
                params![at.naive_utc(), &registration],
            )?;
            Ok(updated as u64)
        })
        .await
    }
}

/// Ids as a one-column Arrow batch, for DuckDB to read with `arrow(?)`.
fn ids_batch(ids: &[Uuid]) -> Result<RecordBatch> {
    let ids: StringArray = ids.iter().map(|id| Some(id.to_string())).collect();
    let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Utf8, false)]));
    Ok(RecordBatch::try_new(schema, vec![Arc::new(ids)]).map_err(observers_core::StoreError::from)?)
}

/// Not in `otlp_exports`, looking only at exported ids from `$1` (the page's first id) on.
const NOT_EXPORTED_AFTER_FIRST: &str = "id NOT IN (SELECT id FROM otlp_exports WHERE id >= $1)";

fn select_sql(filter: &str) -> String {
    format!("SELECT {} FROM openai_records {filter}", observers_core::COLUMNS.join(", "))
}

/// The rows of one shard (`$3`) between two ids (`$1`, `$2`). The id range, on both tables,
/// lets DuckDB skip the row groups outside it (ids are time-ordered, so a shard's rows sit
/// together) instead of scanning whole tables.
const IN_SHARD: &str = "id BETWEEN $1 AND $2
    AND id IN (SELECT id FROM hub_sync_shards WHERE shard = $3 AND id BETWEEN $1 AND $2)";

/// The chunks of one shard, from [`DuckDbStore::shard_records`].
#[derive(Debug)]
pub struct ShardRecords {
    /// `Ok(None)` says the shard was read whole.
    receiver: mpsc::Receiver<Result<Option<Vec<ChatCompletionRecord>>>>,
    done: bool,
}

impl ShardRecords {
    /// The next chunk; `None` once the shard has been read whole. A read that stops short
    /// (DuckDB failed, the store's thread stopped) ends with an `Err`, never silently: a
    /// shard missing rows must not be taken for a whole one.
    pub async fn next(&mut self) -> Option<Result<Vec<ChatCompletionRecord>>> {
        if self.done {
            return None;
        }
        let item = match self.receiver.recv().await {
            Some(Ok(Some(chunk))) => return Some(Ok(chunk)),
            Some(Ok(None)) => None,
            Some(Err(e)) => Some(Err(e)),
            None => Some(Err(Error::Closed)),
        };
        self.done = true;
        item
    }
}

/// Marks the rows of the shards named in `shards` synced at `at` and removes them from the
/// journal, in one transaction; returns how many were marked.
fn mark_synced(conn: &mut Connection, shards: RecordBatch, at: DateTime<Utc>) -> Result<u64> {
    let tx = conn.transaction()?;
    // The shards' rows, collected once: one pass over the big table, not one per shard.
    tx.execute(
        "CREATE TEMP TABLE syncing AS SELECT id FROM hub_sync_shards WHERE shard IN (SELECT shard FROM arrow(?))",
        [&ArrowBatchRegistration::new(shards)],
    )?;
    let bounds: (Option<String>, Option<String>) =
        tx.query_row("SELECT min(id), max(id) FROM syncing", [], |row| Ok((row.get(0)?, row.get(1)?)))?;
    let (Some(first), Some(last)) = bounds else {
        tx.execute("DROP TABLE syncing", [])?;
        tx.commit()?;
        return Ok(0);
    };
    // The id range, as constants, lets DuckDB skip the row groups outside it (ids are
    // time-ordered, so these rows sit together): each transaction then reads about its own
    // rows, not the whole table, and a large sync is linear in the rows it marks.
    let marked = tx.execute(
        "UPDATE openai_records SET synced_at = ? FROM syncing
         WHERE openai_records.id BETWEEN ? AND ? AND openai_records.id = syncing.id",
        params![at.naive_utc(), first, last],
    )?;
    tx.execute("DELETE FROM hub_sync_shards WHERE id IN (SELECT id FROM syncing)", [])?;
    tx.execute("DROP TABLE syncing", [])?;
    tx.commit()?;
    Ok(marked as u64)
}

/// Shard names as a one-column Arrow batch, for `arrow(?)`.
fn names_batch(shards: &[String]) -> Result<RecordBatch> {
    let names: StringArray = shards.iter().map(|s| Some(s.as_str())).collect();
    let schema = Arc::new(Schema::new(vec![Field::new("shard", DataType::Utf8, false)]));
    Ok(RecordBatch::try_new(schema, vec![Arc::new(names)]).map_err(observers_core::StoreError::from)?)
}

/// The first and last id assigned to `shard`.
fn shard_bounds(conn: &Connection, shard: &str) -> Result<Option<(String, String)>> {
    let bounds: (Option<String>, Option<String>) = conn.query_row(
        "SELECT min(id), max(id) FROM hub_sync_shards WHERE shard = ?",
        params![shard],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    Ok(bounds.0.zip(bounds.1))
}

/// Records in id (time) order; sorted here rather than by DuckDB, whose sort of whole rows
/// would need memory in proportion to their size.
fn sorted(mut records: Vec<ChatCompletionRecord>) -> Result<Vec<ChatCompletionRecord>> {
    records.sort_unstable_by_key(|r| r.id);
    Ok(records)
}

fn query_records(
    conn: &Connection,
    sql: &str,
    params: impl duckdb::Params,
) -> Result<Vec<ChatCompletionRecord>> {
    let mut statement = conn.prepare(sql)?;
    let mut records = Vec::new();
    for batch in statement.query_arrow(params)? {
        records.extend(records_from_batch(&batch)?);
    }
    Ok(records)
}

#[async_trait]
impl Store for DuckDbStore {
    async fn add(&self, record: ChatCompletionRecord) -> observers_core::Result<()> {
        self.queue.add(record).await
    }

    fn try_add(&self, record: ChatCompletionRecord) -> std::result::Result<(), TryAddError> {
        self.queue.try_add(record)
    }

    async fn flush(&self) -> observers_core::Result<()> {
        let (reply, done) = oneshot::channel();
        self.queue.send(Control::Flush(reply)).await?;
        done.await.map_err(|_| observers_core::StoreError::Closed)
    }

    async fn close(&self) -> observers_core::Result<()> {
        if self.queue.mark_closed() {
            return Ok(());
        }
        let (reply, done) = oneshot::channel();
        if self.queue.send(Control::Close(reply)).await.is_ok() {
            let _ = done.await;
        }
        Ok(())
    }

    fn stats(&self) -> StoreStats {
        self.counters.snapshot()
    }
}
