//! Errors of the exporter.

/// Why the exporter cannot start or render.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExporterError {
    /// An option that cannot be used.
    #[error("{field}: {why}")]
    Config {
        /// The option.
        field: &'static str,
        /// What is wrong.
        why: String,
    },
    /// The endpoint cannot listen.
    #[error("listening on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl From<ExporterError> for trawl_core::Error {
    fn from(e: ExporterError) -> Self {
        match e {
            ExporterError::Config { .. } => trawl_core::Error::Config(e.to_string()),
            ExporterError::Listen { source, addr } => trawl_core::Error::Io {
                context: format!("listening on {addr}"),
                source,
            },
        }
    }
}
