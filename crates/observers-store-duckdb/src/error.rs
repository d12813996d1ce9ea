//! Errors of the DuckDB store.

use std::path::PathBuf;

use observers_core::StoreError;

/// What can go wrong opening, writing or reading a DuckDB store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Another process has the file open. DuckDB allows one process per file.
    #[error(
        "{path} is locked by another process ({detail}); DuckDB lets one process open a file \
         for writing: stop the other process (a `duckdb` CLI session, another app), or open a \
         different path"
    )]
    Locked {
        /// The database file.
        path: PathBuf,
        /// DuckDB's own words, which name the process holding the lock.
        detail: String,
    },
    /// The file exists but is not a DuckDB database (or is corrupt). It is left untouched.
    #[error(
        "{path} is not a DuckDB database or is damaged ({detail}); observers never overwrites \
         it: move it away or open a different path"
    )]
    NotADatabase {
        /// The file.
        path: PathBuf,
        /// DuckDB's own words.
        detail: String,
    },
    /// The file (or its folder) cannot be written: a read-only file system, or no permission.
    #[error(
        "{path} cannot be written ({detail}); observers needs to write its store: open a path on \
         a writable disk"
    )]
    NotWritable {
        /// The file.
        path: PathBuf,
        /// DuckDB's own words.
        detail: String,
    },
    /// The file was written by a newer observers whose schema this version does not know.
    #[error(
        "{path} has store schema version {found}, newer than the {supported} this version of \
         observers knows; upgrade observers to open it (nothing was changed)"
    )]
    SchemaTooNew {
        /// The file.
        path: PathBuf,
        /// Version found in its `schema_version` table.
        found: i64,
        /// Highest version this library knows.
        supported: i64,
    },
    /// The file already has an `openai_records` table that observers did not create
    /// (for example one written by the Python observers).
    #[error(
        "{path} already has an `openai_records` table without observers' `schema_version` \
         table (perhaps written by another tool); open a different path"
    )]
    ForeignTable {
        /// The file.
        path: PathBuf,
    },
    /// A schema migration failed; it was rolled back and the file is as it was.
    #[error("migration {version} ({name}) failed and was rolled back: {source}")]
    Migration {
        /// Its number.
        version: i64,
        /// Its name.
        name: &'static str,
        /// DuckDB's error.
        #[source]
        source: duckdb::Error,
    },
    /// The store was closed.
    #[error("the store is closed; open a new one")]
    Closed,
    /// The writer thread could not be started.
    #[error("could not start the store's writer thread: {0}")]
    Spawn(#[source] std::io::Error),
    /// Converting rows to or from records failed.
    #[error(transparent)]
    Record(#[from] StoreError),
    /// Any other DuckDB error.
    #[error("duckdb: {0}")]
    DuckDb(#[from] duckdb::Error),
}

impl From<Error> for StoreError {
    fn from(error: Error) -> Self {
        match error {
            Error::Closed => StoreError::Closed,
            Error::Record(inner) => inner,
            other => StoreError::Backend(Box::new(other)),
        }
    }
}

/// `Result` with the DuckDB store's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
