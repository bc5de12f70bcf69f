//! The sink's errors, classified once into [`trawl_core::Error`].

use std::path::PathBuf;

/// What went wrong in the sink or the catalog.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration field is invalid; `field` is its dotted path.
    #[error("{field} {reason}")]
    Config {
        /// Dotted path of the field (`sinks.out.max_rows`).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A file or directory operation failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done (`creating`, `renaming`, ...).
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Writing a Parquet file failed.
    #[error("writing {}: {source}", path.display())]
    Parquet {
        /// The (temporary) file being written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// Building, sorting or writing Arrow data failed.
    #[error(transparent)]
    Arrow(#[from] arrow_schema::ArrowError),
    /// An event batch lacks an envelope column or has it with the wrong type.
    #[error("event batch of `{event}`: {reason}")]
    BadBatch {
        /// The event class (schema metadata `trawl.event`, or the table name).
        event: String,
        /// What is missing or wrong.
        reason: String,
    },
    /// A writer thread stopped while the sink still needed it (it panicked):
    /// the rows of its open files are lost.
    #[error("a Parquet writer thread stopped; the rows of its open files are lost")]
    WriterStopped,
    /// Registering or querying tables failed.
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
}

impl Error {
    pub(crate) fn io(
        what: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { what, path, source }
    }
}

impl From<Error> for trawl_core::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Config { .. } => trawl_core::Error::Config(e.to_string()),
            Error::Io { what, path, source } => trawl_core::Error::Io {
                context: format!("{what} {}", path.display()),
                source,
            },
            Error::Arrow(e) => trawl_core::Error::Arrow(e),
            Error::BadBatch { .. } => trawl_core::Error::BadInput(e.to_string()),
            // Encoding failures are mostly I/O underneath; retrying the whole file is safe.
            Error::Parquet { path, source } => trawl_core::Error::Io {
                context: format!("writing {}", path.display()),
                source: std::io::Error::other(source),
            },
            Error::WriterStopped => trawl_core::Error::Io {
                context: "writing Parquet files".into(),
                source: std::io::Error::other(e),
            },
            Error::DataFusion(e) => trawl_core::Error::Io {
                context: "query".into(),
                source: std::io::Error::other(e),
            },
        }
    }
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
