//! `type = "lttng"`: CTF trace directories (`trawl_source_lttng::trace_dir`).

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;
use trawl_core::{Message, Source};
use trawl_source_lttng::trace_dir::{TraceDirSource, TraceDirSourceBuilder};

use crate::pipeline::metrics::StageMetrics;
use crate::pipeline::{BuildContext, BuildError, SourceStage, Stage, StageFactory};

pub use trawl_source_lttng::trace_dir::DEFAULT_BATCH_ROWS;

/// Options of an `lttng` source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LttngSourceConfig {
    /// Trace directories, or directories holding traces at any depth (an
    /// LTTng session output, a relay daemon's output tree). Required.
    pub paths: Vec<PathBuf>,
    /// Rows decoded, across all streams, before they leave as batches
    /// (default [`DEFAULT_BATCH_ROWS`]).
    #[serde(default = "default_batch_rows")]
    pub batch_rows: NonZeroUsize,
}

fn default_batch_rows() -> NonZeroUsize {
    NonZeroUsize::new(DEFAULT_BATCH_ROWS).unwrap_or(NonZeroUsize::MIN)
}

impl StageFactory for LttngSourceConfig {
    fn check(&self) -> Vec<(String, String)> {
        if self.paths.is_empty() {
            vec![("paths".into(), "at least one path is needed".into())]
        } else {
            Vec::new()
        }
    }

    fn build(&self, ctx: &BuildContext) -> Result<Stage, BuildError> {
        let paths = self.paths.iter().map(|p| ctx.resolve(p)).collect();
        let inner = TraceDirSourceBuilder::new(paths)
            .batch_rows(self.batch_rows.get())
            .build()?;
        let mut source = LttngSource {
            inner,
            metrics: ctx.metrics.clone(),
        };
        // Traces that could not be opened: reported, the others are read.
        source.report_errors();
        Ok(Stage::Source(SourceStage::Blocking(Box::new(source))))
    }
}

/// A trace-directory source that reports the packets it skips.
struct LttngSource {
    inner: TraceDirSource,
    metrics: Arc<StageMetrics>,
}

impl LttngSource {
    fn report_errors(&mut self) {
        for e in self.inner.take_errors() {
            self.metrics.error(&e);
        }
    }
}

impl Source for LttngSource {
    fn next_message(&mut self) -> trawl_core::Result<Option<Message>> {
        let next = self.inner.next_message();
        self.report_errors();
        next
    }
}
