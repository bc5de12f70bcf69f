//! The sink: aggregate under a lock, serve `/metrics` from another thread.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use prometheus_client::registry::Registry;
use trawl_core::{Message, Sink};

use crate::aggregate::Aggregator;
use crate::config::PrometheusSinkConfig;
use crate::error::ExporterError;
use crate::http::Server;
use crate::render;
use crate::stages::StageReader;

/// Aggregates events per container and serves them on `/metrics`.
///
/// A metric is applied when `consume` returns for counters; the analyses
/// that pair events (CPU time, latencies) apply rows once a watermark (or
/// `flush`) says every earlier event has arrived.
pub struct PrometheusSink {
    state: Arc<Mutex<Aggregator>>,
    registry: Arc<Registry>,
    server: Server,
}

impl std::fmt::Debug for PrometheusSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusSink")
            .field("addr", &self.server.addr())
            .finish()
    }
}

impl PrometheusSink {
    /// Checks the config and starts the endpoint.
    pub fn new(config: &PrometheusSinkConfig) -> Result<Self, ExporterError> {
        Self::start(config, None)
    }

    /// Like [`PrometheusSink::new`], and also exports the counters of the
    /// pipeline's stages (`trawl_pipeline_*{stage}`) that `stages` reads
    /// on each scrape.
    pub fn with_stages(
        config: &PrometheusSinkConfig,
        stages: StageReader,
    ) -> Result<Self, ExporterError> {
        Self::start(config, Some(stages))
    }

    fn start(
        config: &PrometheusSinkConfig,
        stages: Option<StageReader>,
    ) -> Result<Self, ExporterError> {
        let settings = config.settings()?;
        let listen = settings.listen;
        let state = Arc::new(Mutex::new(Aggregator::new(settings)));
        let registry = Arc::new(render::registry(state.clone(), stages));
        let r = registry.clone();
        let server = Server::start(listen, move || render::text(&r))?;
        Ok(Self {
            state,
            registry,
            server,
        })
    }

    /// Where `/metrics` is served.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The `/metrics` text now.
    pub fn render(&self) -> String {
        render::text(&self.registry)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Aggregator> {
        // A panic elsewhere left the counters as they were: keep serving them.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Sink for PrometheusSink {
    fn consume(&mut self, msg: Message) -> trawl_core::Result<()> {
        self.lock().consume(&msg, Instant::now());
        Ok(())
    }

    fn flush(&mut self) -> trawl_core::Result<()> {
        self.lock().flush();
        Ok(())
    }
}
