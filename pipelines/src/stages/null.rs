//! `type = "null"`: consumes everything, keeps nothing (the runner's
//! counters say what went through). For measuring sources and transforms.

use serde::Deserialize;
use trawl_core::{Message, Sink};

use crate::pipeline::{BuildContext, BuildError, Stage, StageFactory};

/// Options of a `null` sink: none.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NullSinkConfig {}

impl StageFactory for NullSinkConfig {
    fn build(&self, _: &BuildContext) -> Result<Stage, BuildError> {
        Ok(Stage::Sink(Box::new(NullSink)))
    }
}

struct NullSink;

impl Sink for NullSink {
    fn consume(&mut self, _: Message) -> trawl_core::Result<()> {
        Ok(())
    }

    fn flush(&mut self) -> trawl_core::Result<()> {
        Ok(())
    }
}
