//! `type = "enrich"`: container columns onto every event batch
//! (`trawl_enrich::Enricher`).
//!
//! The transform needs two inputs: the events and the container records.
//! The runner hands a transform every message of every input, so both are
//! named in `inputs`:
//!
//! ```toml
//! [sources.live]
//! type = "lttng-live"
//! urls = ["net://localhost/host/node1/s"]
//!
//! [sources.containers]
//! type = "containers"
//!
//! [transforms.enrich]
//! type = "enrich"
//! inputs = ["live", "containers"]
//! ```
//!
//! Events that arrive before their container's record wait up to `hold_ms`
//! of trace time (their trace's watermark decides); those that leave
//! without it are counted and reported at the end.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use trawl_core::{Message, Transform};
use trawl_enrich::{DEFAULT_GRACE, DEFAULT_HOLD, DEFAULT_MAX_HELD_ROWS, Enricher, EnricherBuilder};

use crate::pipeline::metrics::StageMetrics;
use crate::pipeline::{BuildContext, BuildError, Stage, StageFactory};

/// Options of an `enrich` transform.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrichConfig {
    /// Milliseconds of trace time a batch may wait for its container's
    /// record (default [`DEFAULT_HOLD`], 2000; 0: never wait).
    #[serde(default = "default_hold_ms")]
    pub hold_ms: u64,
    /// Milliseconds of trace time records of stopped or removed containers
    /// stay, for late events (default [`DEFAULT_GRACE`], 30000).
    #[serde(default = "default_grace_ms")]
    pub grace_ms: u64,
    /// Rows that may wait at once (default [`DEFAULT_MAX_HELD_ROWS`]).
    #[serde(default = "default_max_held_rows")]
    pub max_held_rows: usize,
}

fn default_hold_ms() -> u64 {
    DEFAULT_HOLD.as_millis() as u64
}

fn default_grace_ms() -> u64 {
    DEFAULT_GRACE.as_millis() as u64
}

fn default_max_held_rows() -> usize {
    DEFAULT_MAX_HELD_ROWS
}

impl StageFactory for EnrichConfig {
    fn build(&self, ctx: &BuildContext) -> Result<Stage, BuildError> {
        let join = EnricherBuilder::new()
            .hold(Duration::from_millis(self.hold_ms))
            .grace(Duration::from_millis(self.grace_ms))
            .max_held_rows(self.max_held_rows)
            .build();
        Ok(Stage::Transform(Box::new(EnrichTransform {
            join,
            metrics: ctx.metrics.clone(),
        })))
    }
}

/// The join, reporting at the end how many rows left without their container.
struct EnrichTransform {
    join: Enricher,
    metrics: Arc<StageMetrics>,
}

impl Transform for EnrichTransform {
    fn process(&mut self, msg: Message, out: &mut Vec<Message>) -> trawl_core::Result<()> {
        self.join.process(msg, out)
    }

    fn flush(&mut self, out: &mut Vec<Message>) -> trawl_core::Result<()> {
        self.join.flush(out)?;
        let s = self.join.stats();
        if s.rows_unenriched > 0 {
            self.metrics.warn(&format!(
                "{} event(s) left without their container (no record within hold_ms, or nothing to join on); {} in containers, {} on hosts",
                s.rows_unenriched, s.rows_in_containers, s.rows_on_host
            ));
        }
        Ok(())
    }
}
