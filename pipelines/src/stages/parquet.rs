//! `type = "parquet"`: the Parquet (or Arrow IPC) data directory of
//! `trawl_sink_parquet`, which `trawl sql` and any Parquet reader query.

use std::sync::Arc;

use trawl_core::{Message, Sink};
use trawl_sink_parquet::{ParquetSink, ParquetSinkConfig};

use crate::pipeline::metrics::StageMetrics;
use crate::pipeline::{BuildContext, BuildError, Stage, StageFactory};

impl StageFactory for ParquetSinkConfig {
    fn check(&self) -> Vec<(String, String)> {
        match self.validate("") {
            Err(trawl_sink_parquet::Error::Config { field, reason }) => vec![(field, reason)],
            Err(other) => vec![("path".into(), other.to_string())],
            Ok(()) => Vec::new(),
        }
    }

    fn build(&self, ctx: &BuildContext) -> Result<Stage, BuildError> {
        let mut config = self.clone();
        config.path = ctx.resolve(&config.path);
        Ok(Stage::Sink(Box::new(CountingFiles {
            sink: ParquetSink::new(config)?,
            metrics: ctx.metrics.clone(),
        })))
    }
}

/// The Parquet sink, telling the stage's counters how many files it wrote.
struct CountingFiles {
    sink: ParquetSink,
    metrics: Arc<StageMetrics>,
}

impl Sink for CountingFiles {
    fn consume(&mut self, msg: Message) -> trawl_core::Result<()> {
        let result = self.sink.consume(msg);
        self.metrics.files_written(self.sink.stats().files);
        result
    }

    fn flush(&mut self) -> trawl_core::Result<()> {
        let result = self.sink.flush();
        self.metrics.files_written(self.sink.stats().files);
        result
    }
}
