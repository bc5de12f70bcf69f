//! `type = "parquet"`: the Parquet (or Arrow IPC) data directory of
//! `trawl_sink_parquet`, which `trawl sql` and any Parquet reader query.

use trawl_sink_parquet::{ParquetSink, ParquetSinkConfig};

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
        Ok(Stage::Sink(Box::new(ParquetSink::new(config)?)))
    }
}
