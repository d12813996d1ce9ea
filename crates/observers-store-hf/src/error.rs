//! Errors of the Hugging Face Hub store.

use std::path::PathBuf;
use std::time::Duration;

use observers_core::StoreError;

/// What can go wrong writing shards or pushing them to the Hub.
///
/// A failed push never loses data: the shards stay on disk and the next push retries them.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No token was found and the operation needs one.
    #[error(
        "no Hugging Face token: pass one with `.token(..)`, set HF_TOKEN, or run `hf auth login` \
         (which writes $HF_HOME/token)"
    )]
    MissingToken,
    /// The Hub refused the token (HTTP 401).
    #[error("the Hub at {endpoint} refused the token (HTTP 401: {message}); check HF_TOKEN or log in again")]
    Unauthorized {
        /// The Hub endpoint.
        endpoint: String,
        /// The Hub's message.
        message: String,
    },
    /// The token cannot write to the repository (HTTP 403).
    #[error(
        "the token cannot write to the dataset {repo_id} (HTTP 403: {message}); use a token with \
         write access to it"
    )]
    Forbidden {
        /// The repository.
        repo_id: String,
        /// The Hub's message.
        message: String,
    },
    /// The Hub answered an error that retrying did not cure.
    #[error("the Hub answered HTTP {status} to {action}: {message}")]
    Hub {
        /// What was being done (`create the repository`, `commit`...).
        action: &'static str,
        /// HTTP status.
        status: u16,
        /// The Hub's message.
        message: String,
        /// What the Hub asked to wait before retrying, if it said.
        retry_after: Option<Duration>,
    },
    /// The Hub could not be reached.
    #[error("could not reach the Hub at {endpoint} to {action}: {message}")]
    Network {
        /// The Hub endpoint.
        endpoint: String,
        /// What was being done.
        action: &'static str,
        /// What failed.
        message: String,
    },
    /// The Hub's answer did not have the expected shape.
    #[error("unexpected answer from the Hub to {action}: {message}")]
    Protocol {
        /// What was being done.
        action: &'static str,
        /// What was wrong.
        message: String,
    },
    /// The repository id is not `owner/name` or `name`.
    #[error("invalid dataset repository id {0:?}: expected `owner/name` or `name`")]
    InvalidRepoId(String),
    /// A local file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Writing Parquet failed.
    #[error("writing a Parquet shard: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// Converting records failed.
    #[error(transparent)]
    Record(#[from] StoreError),
    /// The store is closed.
    #[error("the store is closed; create a new one")]
    Closed,
    /// The store needs a configuration it did not get.
    #[error("{0}")]
    Config(String),
}

impl Error {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { action, path, source }
    }

    /// Whether retrying later may succeed (rate limits, server errors, network).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Network { .. } => true,
            Error::Hub { status, .. } => matches!(status, 408 | 409 | 412 | 423 | 429) || *status >= 500,
            _ => false,
        }
    }
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

/// `Result` with the Hub store's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
