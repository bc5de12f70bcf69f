//! `type = "prometheus"`: per-container metrics on an OpenMetrics
//! `/metrics` endpoint (`trawl-exporter`; options in
//! [`trawl_exporter::PrometheusSinkConfig`]: `listen`, `labels`,
//! `stale_after_secs`, `cadvisor_names`).

use trawl_exporter::{PrometheusSink, PrometheusSinkConfig};

use crate::pipeline::{BuildContext, BuildError, Stage, StageFactory};

impl StageFactory for PrometheusSinkConfig {
    fn build(&self, _: &BuildContext) -> Result<Stage, BuildError> {
        let sink = PrometheusSink::new(self)?;
        eprintln!("trawl: metrics on http://{}/metrics", sink.addr());
        Ok(Stage::Sink(Box::new(sink)))
    }
}
