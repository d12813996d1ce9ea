//! Parquet shards: records written with the core schema (all columns but `synced_at`), ZSTD.
//!
//! A shard is written as `<name>.parquet.tmp` and renamed to `<name>.parquet` once closed
//! (footer written, file synced), so a `.parquet` file in the folder is always complete.
//! Names are a UTC time plus 64 random bits: writers on many machines never collide.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use observers_core::arrow::array::RecordBatch;
use observers_core::arrow::datatypes::{Schema, SchemaRef};
use observers_core::{records_to_batch, ChatCompletionRecord};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::error::{Error, Result};

/// Extension of closed shards.
pub(crate) const SHARD_EXT: &str = "parquet";
const TMP_EXT: &str = "parquet.tmp";
/// Records buffered before they are converted and handed to the Parquet writer.
const BUFFER: usize = 1024;
/// Rows per Parquet row group: bounds the writer's memory and suits the dataset viewer.
const ROW_GROUP_ROWS: usize = 10_000;

/// The columns of a shard: the core schema without `synced_at`, which only means something
/// in a local store.
pub fn shard_schema() -> SchemaRef {
    let schema = observers_core::schema();
    let fields: Vec<_> = schema.fields().iter().filter(|f| f.name() != "synced_at").cloned().collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

fn shard_columns() -> Vec<usize> {
    let schema = observers_core::schema();
    (0..schema.fields().len()).filter(|&i| schema.field(i).name() != "synced_at").collect()
}

/// Records as one batch of [`shard_schema`].
pub fn shard_batch(records: &[ChatCompletionRecord]) -> Result<RecordBatch> {
    let batch = records_to_batch(records)?;
    Ok(batch.project(&shard_columns()).map_err(observers_core::StoreError::from)?)
}

/// A unique shard file name: `train-<UTC time>-<random>.parquet`.
pub fn new_shard_name() -> String {
    let time = chrono::Utc::now().format("%Y%m%dT%H%M%S%3fZ");
    format!("train-{time}-{:016x}.{SHARD_EXT}", rand::random::<u64>())
}

/// One shard written a piece at a time: [`create`](Self::create) it, [`write`](Self::write)
/// records in as many calls as needed, then [`finish`](Self::finish) it. Until then it is a
/// `.parquet.tmp` file that no push takes; a shard of any size costs the memory of the
/// records in hand plus one compressed row group.
///
/// ```
/// # fn main() -> Result<(), observers_store_hf::Error> {
/// use observers_core::ChatCompletionRecord;
/// use observers_store_hf::ShardFile;
///
/// let folder = std::env::temp_dir().join("observers-shard-file-doc");
/// let mut shard = ShardFile::create(&folder, "train-example.parquet")?;
/// for _ in 0..3 {
///     shard.write(&[ChatCompletionRecord::new("gpt-4o-mini")])?;
/// }
/// assert_eq!(shard.records(), 3);
/// let path = shard.finish()?;
/// assert!(path.ends_with("train-example.parquet"));
/// # std::fs::remove_dir_all(&folder).ok();
/// # Ok(())
/// # }
/// ```
pub struct ShardFile {
    tmp: PathBuf,
    done: PathBuf,
    writer: ArrowWriter<File>,
    records: usize,
}

impl ShardFile {
    /// Starts the shard `file_name` in `folder` (created if missing).
    pub fn create(folder: &Path, file_name: &str) -> Result<ShardFile> {
        std::fs::create_dir_all(folder).map_err(Error::io("create the shard folder", folder))?;
        let done = folder.join(file_name);
        let tmp = folder.join(format!("{file_name}.tmp"));
        let file = File::create(&tmp).map_err(Error::io("create", &tmp))?;
        let properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .build();
        let writer = ArrowWriter::try_new(file, shard_schema(), Some(properties))?;
        Ok(ShardFile { tmp, done, writer, records: 0 })
    }

    /// Appends `records` (converted to Arrow 1,024 at a time).
    pub fn write(&mut self, records: &[ChatCompletionRecord]) -> Result<()> {
        for chunk in records.chunks(BUFFER) {
            self.writer.write(&shard_batch(chunk)?)?;
            self.records += chunk.len();
        }
        Ok(())
    }

    /// Records written so far.
    pub fn records(&self) -> usize {
        self.records
    }

    /// Bytes written so far, and buffered for the row group in progress.
    fn size(&self) -> usize {
        self.writer.bytes_written() + self.writer.in_progress_size()
    }

    /// Writes the footer, syncs the file and gives it its final name; returns its path.
    pub fn finish(self) -> Result<PathBuf> {
        let file = self.writer.into_inner()?;
        file.sync_all().map_err(Error::io("sync", &self.tmp))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.done).map_err(Error::io("rename", &self.tmp))?;
        Ok(self.done)
    }

    /// Drops the unfinished file.
    fn discard(self) {
        drop(self.writer);
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// Writes records into shards in one folder, closing a shard when it is full.
pub(crate) struct ShardWriter {
    dir: PathBuf,
    max_records: usize,
    max_bytes: usize,
    buffer: Vec<ChatCompletionRecord>,
    current: Option<ShardFile>,
    /// Records in every shard this writer closed.
    pub(crate) closed_records: u64,
}

impl ShardWriter {
    pub(crate) fn new(dir: PathBuf, max_records: usize, max_bytes: usize) -> Result<Self> {
        std::fs::create_dir_all(&dir).map_err(Error::io("create the shard folder", &dir))?;
        Ok(Self {
            dir,
            max_records: max_records.max(1),
            max_bytes,
            buffer: Vec::new(),
            current: None,
            closed_records: 0,
        })
    }

    /// Shard files left half-written by a crash: unreadable without their footer.
    pub(crate) fn discard_incomplete(&self) -> Result<usize> {
        let mut discarded = 0;
        for entry in std::fs::read_dir(&self.dir).map_err(Error::io("list", &self.dir))? {
            let path = entry.map_err(Error::io("list", &self.dir))?.path();
            if path.to_string_lossy().ends_with(TMP_EXT) {
                tracing::warn!(path = %path.display(), "removing a shard left incomplete by an earlier crash");
                std::fs::remove_file(&path).map_err(Error::io("remove", &path))?;
                discarded += 1;
            }
        }
        Ok(discarded)
    }

    /// Adds a record; it reaches the file when the buffer fills or the shard is closed.
    pub(crate) fn add(&mut self, record: ChatCompletionRecord) -> Result<()> {
        self.buffer.push(record);
        let in_shard = self.current.as_ref().map_or(0, |c| c.records);
        if self.buffer.len() >= BUFFER || in_shard + self.buffer.len() >= self.max_records {
            self.write_buffer()?;
        }
        Ok(())
    }

    /// Records accepted but not yet in a closed shard.
    pub(crate) fn unclosed(&self) -> usize {
        self.buffer.len() + self.current.as_ref().map_or(0, |c| c.records)
    }

    /// Writes the buffer into shards, closing each one as it fills up.
    fn write_buffer(&mut self) -> Result<()> {
        while !self.buffer.is_empty() {
            let in_shard = self.current.as_ref().map_or(0, |c| c.records);
            let take = self.max_records.saturating_sub(in_shard).clamp(1, self.buffer.len());
            let shard = match &mut self.current {
                Some(shard) => shard,
                None => self.current.insert(ShardFile::create(&self.dir, &new_shard_name())?),
            };
            shard.write(&self.buffer[..take])?;
            self.buffer.drain(..take);
            if shard.records >= self.max_records || shard.size() >= self.max_bytes {
                self.close_current()?;
            }
        }
        Ok(())
    }

    /// Closes the current shard with everything buffered, making it uploadable.
    pub(crate) fn close(&mut self) -> Result<()> {
        self.write_buffer()?;
        self.close_current()
    }

    fn close_current(&mut self) -> Result<()> {
        let Some(shard) = self.current.take() else { return Ok(()) };
        let records = shard.records;
        let path = shard.finish()?;
        tracing::debug!(path = %path.display(), records, "closed a shard");
        self.closed_records += records as u64;
        Ok(())
    }

    /// After a failed write: drops the buffer and the open shard; returns how many records
    /// they held.
    pub(crate) fn discard_unclosed(&mut self) -> usize {
        let lost = self.unclosed();
        self.buffer.clear();
        if let Some(shard) = self.current.take() {
            shard.discard();
        }
        lost
    }
}

/// Closed shards in `dir`, oldest name first.
pub(crate) fn closed_shards(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut shards = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(Error::io("list", dir))? {
        let path = entry.map_err(Error::io("list", dir))?.path();
        if path.extension().is_some_and(|e| e == SHARD_EXT) {
            shards.push(path);
        }
    }
    shards.sort();
    Ok(shards)
}

/// Rows in a closed shard, from its footer.
pub(crate) fn shard_rows(path: &Path) -> Result<u64> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let file = File::open(path).map_err(Error::io("open", path))?;
    let reader = SerializedFileReader::new(file)?;
    Ok(u64::try_from(reader.metadata().file_metadata().num_rows()).unwrap_or_default())
}

/// Writes `records` as one complete shard named `file_name` in `folder` (written aside, then
/// renamed into place), ready for a [`Pusher`](crate::Pusher). Returns its path. For a shard
/// too large to hold in memory at once, use [`ShardFile`].
pub fn write_shard(folder: &Path, file_name: &str, records: &[ChatCompletionRecord]) -> Result<PathBuf> {
    let mut shard = ShardFile::create(folder, file_name)?;
    shard.write(records)?;
    shard.finish()
}
