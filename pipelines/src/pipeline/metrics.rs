//! Per-stage counters, updated lock-free by the stage's thread and read by
//! the reporter, which logs them to stderr every `metrics_interval_secs` and
//! once at the end, one line per stage:
//!
//! ```text
//! trawl: metrics at=10.0s stage=sinks.out events_in=131072 batches_in=2 bytes_in=9437184 events_out=0 batches_out=0 bytes_out=0 losses=0 stalls=0 blocked_s=0.000 errors=0 lag_s=3.214
//! ```
//!
//! - `events_*`, `batches_*`, `bytes_*`: event rows, event batches and their
//!   Arrow memory that entered the stage (`_in`) and that it delivered to
//!   every stage reading it (`_out`);
//! - `losses`: events discarded plus packets lost, from the loss messages a
//!   source emitted or another stage received;
//! - `stalls`: messages the stage could not hand over at once because an
//!   edge it feeds was full (backpressure), and `blocked_s` the time it
//!   spent waiting for room;
//! - `errors`: input errors the stage reported and went on after (an
//!   undecodable packet), plus 1 if the stage failed;
//! - `lag_s`: now minus the newest watermark (else the newest event time)
//!   the stage saw, `-` before any;
//! - `files` (only for stages that write files, the Parquet sink): files
//!   made durable.
//!
//! A `prometheus` sink also exports every stage's counters (see
//! [`crate::pipeline::BuildContext::pipeline`]).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampNanosecondType;
use trawl_core::{Message, envelope};

/// The counters of one stage.
#[derive(Debug)]
pub struct StageMetrics {
    /// Dotted name (`sources.traces`).
    name: String,
    /// Whether the stage is a source: its times and losses are counted as
    /// it emits, other stages' as they receive.
    source: bool,
    events_in: AtomicU64,
    batches_in: AtomicU64,
    bytes_in: AtomicU64,
    events_out: AtomicU64,
    batches_out: AtomicU64,
    bytes_out: AtomicU64,
    losses: AtomicU64,
    stalls: AtomicU64,
    blocked_ns: AtomicU64,
    errors: AtomicU64,
    watermark: AtomicI64,
    event_ts: AtomicI64,
    /// [`NO_FILES`] until the stage says it writes files.
    files: AtomicU64,
}

/// `files` of a stage that writes none.
const NO_FILES: u64 = u64::MAX;

/// A copy of a stage's counters at one time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// Event rows received.
    pub events_in: u64,
    /// Event batches received.
    pub batches_in: u64,
    /// Arrow memory of the event batches received.
    pub bytes_in: u64,
    /// Event rows delivered downstream.
    pub events_out: u64,
    /// Event batches delivered downstream.
    pub batches_out: u64,
    /// Arrow memory of the event batches delivered.
    pub bytes_out: u64,
    /// Events discarded plus packets lost, from loss messages.
    pub losses: u64,
    /// Sends that found an edge full.
    pub stalls: u64,
    /// Time spent waiting for room in full edges, ns.
    pub blocked_ns: u64,
    /// Errors reported.
    pub errors: u64,
    /// Newest watermark seen, ns since the epoch.
    pub watermark: Option<i64>,
    /// Newest event time seen, ns since the epoch.
    pub event_ts: Option<i64>,
    /// Files made durable, for a stage that writes files.
    pub files_written: Option<u64>,
}

impl StageMetrics {
    pub(crate) fn new(name: String, source: bool) -> Self {
        StageMetrics {
            name,
            source,
            events_in: AtomicU64::new(0),
            batches_in: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            events_out: AtomicU64::new(0),
            batches_out: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            losses: AtomicU64::new(0),
            stalls: AtomicU64::new(0),
            blocked_ns: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            watermark: AtomicI64::new(i64::MIN),
            event_ts: AtomicI64::new(i64::MIN),
            files: AtomicU64::new(NO_FILES),
        }
    }

    /// The stage's dotted name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `msg` entered the stage.
    pub(crate) fn received(&self, msg: &Message) {
        if let Some((rows, bytes)) = event_size(msg) {
            self.events_in.fetch_add(rows, Relaxed);
            self.batches_in.fetch_add(1, Relaxed);
            self.bytes_in.fetch_add(bytes, Relaxed);
        }
        if !self.source {
            self.observe(msg);
        }
    }

    /// `msg` was delivered to every stage reading this one.
    pub(crate) fn sent(&self, msg: &Message) {
        if let Some((rows, bytes)) = event_size(msg) {
            self.events_out.fetch_add(rows, Relaxed);
            self.batches_out.fetch_add(1, Relaxed);
            self.bytes_out.fetch_add(bytes, Relaxed);
        }
        if self.source {
            self.observe(msg);
        }
    }

    /// A send found an edge full.
    pub(crate) fn stalled(&self) {
        self.stalls.fetch_add(1, Relaxed);
    }

    /// A send waited `waited` for room in a full edge.
    pub(crate) fn blocked(&self, waited: Duration) {
        let ns = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        self.blocked_ns.fetch_add(ns, Relaxed);
    }

    /// The stage has made `n` files durable so far.
    pub fn files_written(&self, n: u64) {
        self.files.store(n.min(NO_FILES - 1), Relaxed);
    }

    /// Logs an error the stage went on after (or failed with), and counts it.
    pub fn error(&self, e: &dyn std::fmt::Display) {
        self.errors.fetch_add(1, Relaxed);
        eprintln!("trawl: error: {}: {e}", self.name);
    }

    /// Logs a problem the stage works around (not counted as an error).
    pub fn warn(&self, what: &dyn std::fmt::Display) {
        eprintln!("trawl: warning: {}: {what}", self.name);
    }

    fn observe(&self, msg: &Message) {
        match msg {
            Message::Events(b) => {
                let newest = b
                    .batch
                    .column_by_name(envelope::TS)
                    .and_then(|c| c.as_primitive_opt::<TimestampNanosecondType>())
                    .and_then(|ts| ts.values().iter().copied().max());
                if let Some(ts) = newest {
                    self.event_ts.fetch_max(ts, Relaxed);
                }
            }
            Message::Watermark(w) => {
                self.watermark.fetch_max(w.ts, Relaxed);
            }
            Message::Loss(l) => {
                self.losses
                    .fetch_add(l.events_discarded.saturating_add(l.packets_lost), Relaxed);
            }
            Message::Containers(_) => {}
        }
    }

    /// The counters now.
    pub fn snapshot(&self) -> Snapshot {
        let set = |v: i64| (v != i64::MIN).then_some(v);
        Snapshot {
            events_in: self.events_in.load(Relaxed),
            batches_in: self.batches_in.load(Relaxed),
            bytes_in: self.bytes_in.load(Relaxed),
            events_out: self.events_out.load(Relaxed),
            batches_out: self.batches_out.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            losses: self.losses.load(Relaxed),
            stalls: self.stalls.load(Relaxed),
            blocked_ns: self.blocked_ns.load(Relaxed),
            errors: self.errors.load(Relaxed),
            watermark: set(self.watermark.load(Relaxed)),
            event_ts: set(self.event_ts.load(Relaxed)),
            files_written: Some(self.files.load(Relaxed)).filter(|&n| n != NO_FILES),
        }
    }

    /// The report line (see the module documentation), `at` being `10.0s` or `end`.
    pub(crate) fn line(&self, at: &str) -> String {
        let s = self.snapshot();
        let mut line = format!(
            "trawl: metrics at={at} stage={} events_in={} batches_in={} bytes_in={} \
             events_out={} batches_out={} bytes_out={} losses={} stalls={} blocked_s={:.3} \
             errors={} lag_s=",
            self.name,
            s.events_in,
            s.batches_in,
            s.bytes_in,
            s.events_out,
            s.batches_out,
            s.bytes_out,
            s.losses,
            s.stalls,
            s.blocked_ns as f64 / 1e9,
            s.errors,
        );
        match s.watermark.or(s.event_ts) {
            Some(ts) => {
                let lag_ns = now_ns().saturating_sub(ts);
                let _ = write!(line, "{:.3}", lag_ns as f64 / 1e9);
            }
            None => line.push('-'),
        }
        if let Some(n) = s.files_written {
            let _ = write!(line, " files={n}");
        }
        line
    }
}

/// Rows and Arrow memory of an event or container batch.
fn event_size(msg: &Message) -> Option<(u64, u64)> {
    let batch = match msg {
        Message::Events(b) => &b.batch,
        Message::Containers(c) => &c.batch,
        Message::Watermark(_) | Message::Loss(_) => return None,
    };
    Some((
        batch.num_rows() as u64,
        batch.get_array_memory_size() as u64,
    ))
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use trawl_core::{Loss, Watermark};

    #[test]
    fn sources_count_what_they_emit_others_what_they_receive() {
        let wm = Message::Watermark(Watermark {
            host: "h".into(),
            domain: "ust".into(),
            ts: 42,
        });
        let loss = Message::Loss(Loss {
            host: "h".into(),
            domain: "ust".into(),
            stream_id: 0,
            cpu: None,
            events_discarded: 3,
            packets_lost: 1,
            from_ts: None,
            to_ts: None,
        });
        let source = StageMetrics::new("sources.a".into(), true);
        let sink = StageMetrics::new("sinks.b".into(), false);
        for m in [&wm, &loss] {
            source.sent(m);
            sink.received(m);
        }
        assert_eq!(source.snapshot().watermark, Some(42));
        assert_eq!(source.snapshot().losses, 4);
        assert_eq!(sink.snapshot().losses, 4);
        assert_eq!(sink.snapshot().watermark, Some(42));
        assert!(sink.line("end").contains("stage=sinks.b "));
    }
}
