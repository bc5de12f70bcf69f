//! Errors of the enrichment crate.

use std::path::PathBuf;

/// What went wrong reading container records or talking to a runtime.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnrichError {
    /// A Containers batch lacks a required column.
    #[error("container records: no `{0}` column")]
    MissingColumn(&'static str),
    /// A column of a Containers batch has the wrong Arrow type.
    #[error("container records: column `{0}` has the wrong type")]
    ColumnType(&'static str),
    /// An unknown `change` value.
    #[error(
        "container records: unknown change {0:?} (expected one of created, started, updated, stopped, removed, host)"
    )]
    BadChange(String),
    /// Building a batch failed.
    #[error(transparent)]
    Arrow(#[from] arrow_schema::ArrowError),
    /// A file or `/proc` read failed.
    #[error("{context}: {source}")]
    Io {
        /// What was read, where.
        context: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// The static container file does not parse.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the position when known.
        reason: String,
    },
    /// The Docker Engine API failed.
    #[error("docker {socket}: {source}")]
    Docker {
        /// The socket.
        socket: String,
        /// The client's error.
        #[source]
        source: bollard::errors::Error,
    },
}

impl EnrichError {
    /// Whether trying again may succeed (a runtime that restarts, a socket that comes back).
    pub fn is_retryable(&self) -> bool {
        matches!(self, EnrichError::Docker { .. } | EnrichError::Io { .. })
    }
}

impl From<EnrichError> for trawl_core::Error {
    fn from(e: EnrichError) -> Self {
        match e {
            EnrichError::Arrow(e) => trawl_core::Error::Arrow(e),
            EnrichError::Io { context, source } => trawl_core::Error::Io { context, source },
            e @ (EnrichError::MissingColumn(_)
            | EnrichError::ColumnType(_)
            | EnrichError::BadChange(_)) => trawl_core::Error::BadInput(e.to_string()),
            e => trawl_core::Error::Input(Box::new(e)),
        }
    }
}
