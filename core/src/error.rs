//! Error kinds shared by every stage.

/// What went wrong, classified once: a stage decides from the variant whether
/// to retry ([`Error::is_retryable`]) or to give up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Input that cannot be decoded (corrupt packet, bad metadata). Permanent
    /// for that input; the stage skips it and counts the loss.
    #[error("{0}")]
    BadInput(String),
    /// A configuration mistake the user must fix.
    #[error("configuration: {0}")]
    Config(String),
    /// An I/O failure (file, socket). Usually retryable.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, and where.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An Arrow failure building or reading a batch.
    #[error(transparent)]
    Arrow(#[from] arrow_schema::ArrowError),
    /// The downstream edge is gone (shutdown).
    #[error("edge closed")]
    Closed,
    /// A source's input failed for good (a relay refused the session, a
    /// session that must exist does not); the message names what and where.
    #[error(transparent)]
    Input(Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    /// Whether trying the same operation again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Io { .. })
    }
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
