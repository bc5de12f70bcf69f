//! The counters of the pipeline's stages, read at scrape time from whoever
//! runs the pipeline (`trawl run` hands them over) and exported as
//! `trawl_pipeline_*{stage="sources.traces"}`.

use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;

use crate::render::family;

/// One stage's counters at one time (what the runner keeps per stage).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageCounters {
    /// Dotted stage name (`sources.traces`).
    pub stage: String,
    /// Event rows that entered the stage.
    pub received_events: u64,
    /// Event batches that entered the stage.
    pub received_batches: u64,
    /// Arrow memory of those batches, bytes.
    pub received_bytes: u64,
    /// Event rows delivered downstream.
    pub sent_events: u64,
    /// Event batches delivered downstream.
    pub sent_batches: u64,
    /// Arrow memory of those batches, bytes.
    pub sent_bytes: u64,
    /// Events discarded plus packets lost, from loss messages.
    pub losses: u64,
    /// Sends that found an edge full (backpressure).
    pub stalls: u64,
    /// Time spent waiting for room in full edges, ns.
    pub blocked_ns: u64,
    /// Errors the stage reported.
    pub errors: u64,
    /// Newest watermark (else event time) the stage saw, ns since the epoch.
    pub newest_ts: Option<i64>,
    /// Files the stage made durable (Parquet sinks), when it writes files.
    pub files_written: Option<u64>,
}

/// Reads every stage's counters; called on each scrape.
pub type StageReader = Box<dyn Fn() -> Vec<StageCounters> + Send + Sync>;

/// The collector of the stage counters.
pub(crate) struct StagesCollector(pub(crate) StageReader);

impl std::fmt::Debug for StagesCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StagesCollector")
    }
}

/// `(name, help, value)` of each counter family.
type CounterFamily = (&'static str, &'static str, fn(&StageCounters) -> u64);

const COUNTERS: [CounterFamily; 9] = [
    (
        "trawl_pipeline_received_events",
        "Event rows that entered the stage",
        |s| s.received_events,
    ),
    (
        "trawl_pipeline_received_batches",
        "Event batches that entered the stage",
        |s| s.received_batches,
    ),
    (
        "trawl_pipeline_received_bytes",
        "Arrow memory of the event batches that entered the stage, bytes",
        |s| s.received_bytes,
    ),
    (
        "trawl_pipeline_sent_events",
        "Event rows the stage delivered downstream",
        |s| s.sent_events,
    ),
    (
        "trawl_pipeline_sent_batches",
        "Event batches the stage delivered downstream",
        |s| s.sent_batches,
    ),
    (
        "trawl_pipeline_sent_bytes",
        "Arrow memory of the event batches the stage delivered, bytes",
        |s| s.sent_bytes,
    ),
    (
        "trawl_pipeline_losses",
        "Events discarded plus packets lost, from the loss messages the stage saw",
        |s| s.losses,
    ),
    (
        "trawl_pipeline_stalls",
        "Sends that found an edge full (backpressure)",
        |s| s.stalls,
    ),
    ("trawl_pipeline_errors", "Errors the stage reported", |s| {
        s.errors
    }),
];

impl Collector for StagesCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut stages = (self.0)();
        stages.sort_by(|a, b| a.stage.cmp(&b.stage));
        fn label(s: &StageCounters) -> Vec<(&str, &str)> {
            vec![("stage", s.stage.as_str())]
        }
        for (name, help, value) in COUNTERS {
            let mut f = family(&mut enc, name, help, MetricType::Counter)?;
            for s in &stages {
                f.counter(&label(s), value(s))?;
            }
        }
        let mut f = family(
            &mut enc,
            "trawl_pipeline_blocked_seconds",
            "Time the stage waited for room in full edges, seconds",
            MetricType::Counter,
        )?;
        for s in &stages {
            f.counter(&label(s), s.blocked_ns as f64 / 1e9)?;
        }
        let mut f = family(
            &mut enc,
            "trawl_pipeline_files_written",
            "Files the stage made durable (Parquet sinks)",
            MetricType::Counter,
        )?;
        for s in &stages {
            if let Some(n) = s.files_written {
                f.counter(&label(s), n)?;
            }
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        let mut f = family(
            &mut enc,
            "trawl_pipeline_lag_seconds",
            "Wall clock minus the newest watermark (else event time) the stage saw, seconds",
            MetricType::Gauge,
        )?;
        for s in &stages {
            if let Some(ts) = s.newest_ts {
                f.gauge(&label(s), now.saturating_sub(ts) as f64 / 1e9)?;
            }
        }
        Ok(())
    }
}
