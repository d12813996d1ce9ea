//! The writer thread: the one owner of the DuckDB connection.
//!
//! Every command goes through one bounded queue, so a flush or a read sees every record
//! added before it. Records are written in groups: a record waits up to `flush_interval`
//! for others (or until `max_batch` are pending, or a flush or read comes), then they are
//! written together. Each write costs DuckDB a fixed amount of CPU whatever its size, so at a
//! steady rate of calls writing each record on its own would cost milliseconds per call.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use duckdb::arrow::record_batch::RecordBatch;
use duckdb::vtab::arrow::{ArrowBatchRegistration, ArrowVTab};
use duckdb::Connection;
use observers_core::queue::{Finished, Message};
use observers_core::{records_to_batch, ChatCompletionRecord, StoreStats};
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};

/// A job run on the writer thread with the connection (reads, marking synced...).
pub(crate) type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// The DuckDB store's control messages (records travel as [`Message::Record`]).
pub(crate) enum Control {
    Flush(oneshot::Sender<()>),
    Run(Job),
    Close(oneshot::Sender<()>),
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    written: AtomicU64,
    failed: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> StoreStats {
        StoreStats {
            written: self.written.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

/// `INSERT INTO openai_records (<columns>) SELECT <columns> FROM arrow(?)`, columns by name
/// from the core schema, so the table's physical order never matters.
pub(crate) fn insert_sql() -> String {
    let columns = observers_core::COLUMNS.join(", ");
    format!("INSERT INTO openai_records ({columns}) SELECT {columns} FROM arrow(?)")
}

pub(crate) struct Writer {
    pub(crate) conn: Connection,
    pub(crate) counters: Arc<Counters>,
    pub(crate) max_batch: usize,
    /// Longest a record waits for others before its batch is written (group commit).
    pub(crate) flush_interval: Duration,
    pub(crate) insert_sql: String,
    /// DuckDB's configured `memory_limit`, restored after a huge record's insert.
    pub(crate) memory_limit: String,
}

/// How much memory inserting a record may take per byte of its Arrow data. DuckDB checks
/// every JSON value by parsing it, and that parse takes one block of about 5 times the text
/// (a 50 MiB `raw_response` asks for 256 MiB); 8 leaves room for the rest of the insert.
const INSERT_BYTES_PER_RECORD_BYTE: usize = 8;

impl Writer {
    pub(crate) fn prepare(conn: &Connection) -> Result<()> {
        conn.register_table_function::<ArrowVTab>("arrow")?;
        Ok(())
    }

    pub(crate) fn run(mut self, mut queue: mpsc::Receiver<Message<Control>>, finished: Finished) {
        // Only for waiting on the queue with a deadline; jobs run outside it, since they may
        // block (a shard read hands its chunks over with `blocking_send`).
        let timer = tokio::runtime::Builder::new_current_thread().enable_time().build();
        if let Err(e) = &timer {
            tracing::warn!(error = %e, "no timer for the observers store's writer: each record is written at once");
            self.flush_interval = Duration::ZERO;
        }
        let mut pending: Vec<ChatCompletionRecord> = Vec::with_capacity(self.max_batch);
        let mut due = Instant::now();
        let mut close_reply = None;
        loop {
            let message = match (&timer, pending.is_empty()) {
                // Nothing to write: sleep until something comes (an idle store takes no CPU).
                (_, true) | (Err(_), false) => queue.blocking_recv(),
                (Ok(timer), false) => {
                    let wait = due.saturating_duration_since(Instant::now());
                    match timer.block_on(async { tokio::time::timeout(wait, queue.recv()).await }) {
                        Ok(message) => message,
                        Err(_) => {
                            self.write(&mut pending);
                            continue;
                        }
                    }
                }
            };
            let Some(message) = message else { break };
            match message {
                Message::Record(record) => {
                    if pending.is_empty() {
                        due = Instant::now() + self.flush_interval;
                    }
                    pending.push(*record);
                    if pending.len() >= self.max_batch || self.flush_interval.is_zero() {
                        self.write(&mut pending);
                    }
                }
                Message::Control(Control::Flush(reply)) => {
                    self.write(&mut pending);
                    let _ = reply.send(());
                }
                Message::Control(Control::Run(job)) => {
                    self.write(&mut pending);
                    job(&mut self.conn);
                }
                Message::Control(Control::Close(reply)) => {
                    close_reply = Some(reply);
                    break;
                }
            }
        }
        // Closed, or every handle dropped (the queue is drained by then): write what is left.
        self.write(&mut pending);
        if let Err(e) = self.conn.execute_batch("CHECKPOINT") {
            tracing::warn!(error = %e, "final checkpoint of the observers store failed");
        }
        // Closing the connection releases the file: only then do `close()` and the last
        // handle's drop return, so the file can be reopened at once.
        drop(self.conn);
        if let Some(reply) = close_reply {
            let _ = reply.send(());
        }
        drop(finished);
    }

    /// Inserts `pending` as one batch; if that fails, inserts record by record so one bad
    /// record costs only itself, logged and counted.
    fn write(&mut self, pending: &mut Vec<ChatCompletionRecord>) {
        if pending.is_empty() {
            return;
        }
        match self.insert(pending) {
            Ok(()) => {
                self.counters.written.fetch_add(pending.len() as u64, Ordering::Relaxed);
            }
            Err(batch_error) => {
                tracing::debug!(error = %batch_error, rows = pending.len(), "batch insert failed; retrying row by row");
                for record in pending.iter() {
                    match self.insert_one(record) {
                        Ok(()) => self.counters.written.fetch_add(1, Ordering::Relaxed),
                        Err(e) => {
                            tracing::error!(id = %record.id, error = %e, "could not store an observers record");
                            self.counters.failed.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                }
            }
        }
        pending.clear();
    }

    fn insert(&mut self, records: &[ChatCompletionRecord]) -> Result<()> {
        let batch = records_to_batch(records).map_err(Error::Record)?;
        self.insert_batch(batch)
    }

    fn insert_batch(&mut self, batch: RecordBatch) -> Result<()> {
        let registration = ArrowBatchRegistration::new(batch);
        let mut statement = self.conn.prepare_cached(&self.insert_sql)?;
        statement.execute([&registration])?;
        Ok(())
    }

    /// Inserts one record. A record too large for DuckDB's memory limit (tens of megabytes
    /// of JSON) is retried once with the limit raised for that insert alone: the limit is
    /// there to keep DuckDB's cache small, not to refuse a call's record.
    fn insert_one(&mut self, record: &ChatCompletionRecord) -> Result<()> {
        let batch = records_to_batch(std::slice::from_ref(record)).map_err(Error::Record)?;
        match self.insert_batch(batch.clone()) {
            Err(e) if is_out_of_memory(&e) => {
                let headroom = batch.get_array_memory_size().saturating_mul(INSERT_BYTES_PER_RECORD_BYTE);
                let in_use = memory_in_use(&self.conn).unwrap_or(0);
                let raised = format!("{}MiB", ((headroom + in_use) >> 20).max(1));
                tracing::debug!(id = %record.id, limit = %raised, "raising DuckDB's memory limit for one large record");
                if set_memory_limit(&self.conn, &raised).is_err() {
                    return Err(e); // DuckDB's own message says more than the failed setting
                }
                let inserted = self.insert_batch(batch);
                if let Err(e) = set_memory_limit(&self.conn, &self.memory_limit) {
                    tracing::warn!(error = %e, "could not restore DuckDB's memory limit after a large record");
                }
                inserted
            }
            other => other,
        }
    }
}

/// DuckDB ran out of its memory limit (rather than the record or the file being at fault).
fn is_out_of_memory(error: &Error) -> bool {
    error.to_string().contains("Out of Memory")
}

/// Bytes DuckDB holds now (its cache included).
fn memory_in_use(conn: &Connection) -> Result<usize> {
    let bytes: i64 =
        conn.query_row("SELECT sum(memory_usage_bytes)::BIGINT FROM duckdb_memory()", [], |row| row.get(0))?;
    Ok(usize::try_from(bytes).unwrap_or(0))
}

/// `SET memory_limit` (a setting takes no parameters; `limit` is ours or was accepted when the
/// store opened with it, and is quoted all the same).
fn set_memory_limit(conn: &Connection, limit: &str) -> Result<()> {
    conn.execute_batch(&format!("SET memory_limit = '{}'", limit.replace('\'', "''")))?;
    Ok(())
}
