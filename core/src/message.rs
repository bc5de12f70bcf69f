//! The message model (DESIGN.md §2): what crosses every stage boundary.

use arrow_array::RecordBatch;

/// Rows of one event class from one trace, in stream order; the schema starts
/// with the [`crate::envelope`] columns and carries its metadata keys.
#[derive(Debug, Clone)]
pub struct EventBatch {
    /// The rows.
    pub batch: RecordBatch,
}

/// Every event of the trace `(host, domain)` with a smaller `ts` has been emitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watermark {
    /// The traced host.
    pub host: String,
    /// The tracing domain.
    pub domain: String,
    /// Absolute time, ns since the Unix epoch.
    pub ts: i64,
}

/// What the tracer or the transport dropped. Never silent: it becomes a metric and a row.
/// Both counts 0 means a gap of unknown size (a live stream that did not come
/// back after a reconnection), from `from_ts` on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loss {
    /// The traced host.
    pub host: String,
    /// The tracing domain.
    pub domain: String,
    /// The data stream (see [`crate::envelope::STREAM_ID`]).
    pub stream_id: u64,
    /// The CPU of the stream, if known.
    pub cpu: Option<u32>,
    /// Events the tracer discarded (ring buffer full).
    pub events_discarded: u64,
    /// Whole packets missing (`packet_seq_num` gaps, transport gaps).
    pub packets_lost: u64,
    /// Start of the window in which the loss happened (ns since the epoch), if known.
    pub from_ts: Option<i64>,
    /// End of that window, if known.
    pub to_ts: Option<i64>,
}

/// A batch of container state changes (DESIGN.md §2); the columns are in
/// [`crate::containers`].
#[derive(Debug, Clone)]
pub struct Containers {
    /// The rows.
    pub batch: RecordBatch,
}

/// Everything that crosses a stage boundary.
#[derive(Debug, Clone)]
pub enum Message {
    /// Event rows.
    Events(EventBatch),
    /// Progress of a trace's time.
    Watermark(Watermark),
    /// Dropped data.
    Loss(Loss),
    /// Container records.
    Containers(Containers),
}

impl Message {
    /// A short name of the message kind (Kafka header, logs).
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Events(_) => "events",
            Message::Watermark(_) => "watermark",
            Message::Loss(_) => "loss",
            Message::Containers(_) => "containers",
        }
    }
}
