//! `type = "prometheus"`: per-container metrics on an OpenMetrics
//! `/metrics` endpoint (`trawl-exporter`; options in
//! [`trawl_exporter::PrometheusSinkConfig`]: `listen`, `labels`,
//! `stale_after_secs`, `cadvisor_names`), with the counters of every stage
//! of the pipeline (`trawl_pipeline_*{stage}`).

use trawl_exporter::{PrometheusSink, PrometheusSinkConfig, StageCounters};

use crate::pipeline::metrics::StageMetrics;
use crate::pipeline::{BuildContext, BuildError, Stage, StageFactory};

impl StageFactory for PrometheusSinkConfig {
    fn build(&self, ctx: &BuildContext) -> Result<Stage, BuildError> {
        let stages = ctx.pipeline.clone();
        let read = move || stages.iter().map(|m| counters(m)).collect();
        let sink = PrometheusSink::with_stages(self, Box::new(read))?;
        eprintln!("trawl: metrics on http://{}/metrics", sink.addr());
        Ok(Stage::Sink(Box::new(sink)))
    }
}

/// A stage's counters as the exporter names them.
fn counters(m: &StageMetrics) -> StageCounters {
    let s = m.snapshot();
    StageCounters {
        stage: m.name().to_string(),
        received_events: s.events_in,
        received_batches: s.batches_in,
        received_bytes: s.bytes_in,
        sent_events: s.events_out,
        sent_batches: s.batches_out,
        sent_bytes: s.bytes_out,
        losses: s.losses,
        stalls: s.stalls,
        blocked_ns: s.blocked_ns,
        errors: s.errors,
        newest_ts: s.watermark.or(s.event_ts),
        files_written: s.files_written,
    }
}
