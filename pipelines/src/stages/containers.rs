//! `type = "containers"`: container records (DESIGN.md §2) from the Docker
//! Engine API, or `/proc` and cgroup paths when Docker does not answer, or
//! a static file (`trawl_enrich::WatcherBuilder`, `ContainerFile`).
//!
//! The records feed an `enrich` transform: name this source in its inputs
//! next to the events (`inputs = ["traces", "containers"]`). A watcher
//! follows changes until the pipeline stops; a pipeline reading finished
//! traces wants `follow = false` (the current containers, then the end) or
//! a `file`, so that it ends when the traces do.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use trawl_core::{Containers, Message};
use trawl_enrich::{
    ContainerFile, DEFAULT_PROC_ROOT, DEFAULT_RECONNECT_MAX, DEFAULT_RECONNECT_MIN,
    DEFAULT_RESCAN_INTERVAL, Watcher, WatcherBuilder, default_docker_socket, record,
};

use crate::pipeline::metrics::StageMetrics;
use crate::pipeline::{
    AsyncSource, BuildContext, BuildError, LocalBoxFuture, SourceStage, Stage, StageFactory,
};

/// Options of a `containers` source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainersSourceConfig {
    /// The Docker socket (default: `DOCKER_HOST` if it is `unix://PATH`,
    /// else `/var/run/docker.sock`); `""`: do not ask Docker, scan `/proc`.
    #[serde(default = "default_docker_socket")]
    pub docker_socket: String,
    /// Where `/proc` is mounted (default `/proc`; a container watching its
    /// host mounts the host's there, with the host's pid namespace).
    #[serde(default = "default_proc_root")]
    pub proc_root: PathBuf,
    /// The host name the records carry; it must be the traces' `hostname`
    /// (default: this kernel's host name, which is what LTTng records).
    #[serde(default)]
    pub host: Option<String>,
    /// Follow changes (default true); false: the containers running now, then the end.
    #[serde(default = "default_follow")]
    pub follow: bool,
    /// Milliseconds between two scans of `/proc` when Docker does not
    /// answer (default [`DEFAULT_RESCAN_INTERVAL`], 1000).
    #[serde(default = "default_rescan_ms")]
    pub rescan_interval_ms: u64,
    /// Milliseconds before Docker is tried again after it went away or did
    /// not answer (default [`DEFAULT_RECONNECT_MIN`], 100), doubling up to
    /// `reconnect_max_ms` (default [`DEFAULT_RECONNECT_MAX`], 5000).
    #[serde(default = "default_reconnect_min_ms")]
    pub reconnect_min_ms: u64,
    /// See `reconnect_min_ms`.
    #[serde(default = "default_reconnect_max_ms")]
    pub reconnect_max_ms: u64,
    /// A static file of records (TOML, or JSON for `.json`) instead of any
    /// watcher: its records, then the end. For traces read offline.
    #[serde(default)]
    pub file: Option<PathBuf>,
}

fn default_proc_root() -> PathBuf {
    PathBuf::from(DEFAULT_PROC_ROOT)
}

fn default_follow() -> bool {
    true
}

fn default_rescan_ms() -> u64 {
    DEFAULT_RESCAN_INTERVAL.as_millis() as u64
}

fn default_reconnect_min_ms() -> u64 {
    DEFAULT_RECONNECT_MIN.as_millis() as u64
}

fn default_reconnect_max_ms() -> u64 {
    DEFAULT_RECONNECT_MAX.as_millis() as u64
}

impl StageFactory for ContainersSourceConfig {
    fn check(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        for (name, value) in [
            ("rescan_interval_ms", self.rescan_interval_ms),
            ("reconnect_min_ms", self.reconnect_min_ms),
        ] {
            if value == 0 {
                problems.push((name.into(), "must be > 0".into()));
            }
        }
        if self.reconnect_max_ms < self.reconnect_min_ms {
            problems.push((
                "reconnect_max_ms".into(),
                format!(
                    "must be at least reconnect_min_ms ({})",
                    self.reconnect_min_ms
                ),
            ));
        }
        problems
    }

    fn build(&self, ctx: &BuildContext) -> Result<Stage, BuildError> {
        let inner = match &self.file {
            Some(path) => {
                let path = ctx.resolve(path);
                Inner::File(Some(ContainerFile::load(&path)?.containers))
            }
            None => {
                let mut builder = WatcherBuilder::new()
                    .docker_socket(Some(self.docker_socket.clone()).filter(|s| !s.is_empty()))
                    .proc_root(ctx.resolve(&self.proc_root))
                    .follow(self.follow)
                    .rescan_interval(Duration::from_millis(self.rescan_interval_ms))
                    .reconnect_backoff(
                        Duration::from_millis(self.reconnect_min_ms),
                        Duration::from_millis(self.reconnect_max_ms),
                    );
                if let Some(host) = &self.host {
                    builder = builder.host(host);
                }
                Inner::Starting(builder)
            }
        };
        Ok(Stage::Source(SourceStage::Async(Box::new(
            ContainersStage {
                inner,
                metrics: ctx.metrics.clone(),
            },
        ))))
    }
}

enum Inner {
    /// A watcher to connect on the first call (on the stage's runtime).
    Starting(WatcherBuilder),
    Watching(Box<Watcher>),
    /// The file's records, until sent.
    File(Option<Vec<trawl_enrich::ContainerRecord>>),
}

struct ContainersStage {
    inner: Inner,
    metrics: Arc<StageMetrics>,
}

impl ContainersStage {
    async fn next(&mut self) -> trawl_core::Result<Option<Message>> {
        if let Inner::Starting(builder) = &self.inner {
            let watcher = builder.clone().start().await;
            self.inner = Inner::Watching(Box::new(watcher));
        }
        let records = match &mut self.inner {
            Inner::Starting(_) => None,
            Inner::File(records) => records.take(),
            Inner::Watching(watcher) => loop {
                let records = watcher.next_records().await;
                for warning in watcher.take_warnings() {
                    self.metrics.warn(&warning);
                }
                // Nothing but a warning (Docker went away): nothing to send.
                if records.as_ref().is_none_or(|r| !r.is_empty()) {
                    break records;
                }
            },
        };
        let Some(records) = records else {
            return Ok(None);
        };
        let batch = record::to_batch(&records)?;
        Ok(Some(Message::Containers(Containers { batch })))
    }
}

impl AsyncSource for ContainersStage {
    fn next_message(&mut self) -> LocalBoxFuture<'_, trawl_core::Result<Option<Message>>> {
        Box::pin(self.next())
    }

    fn close(self: Box<Self>) -> LocalBoxFuture<'static, ()> {
        Box::pin(async {})
    }
}
