//! Single events from many traces in global time order, for `trawl cat`.
//!
//! Each stream decodes one packet at a time (with its cross-class event
//! order kept), and a heap picks the stream whose next event is the oldest.
//! Events with the same time are ordered as babeltrace2's muxer orders them
//! (`common_muxing_compare_messages`): trace UUID (traces with one first),
//! stream class id, stream id, event class id; then input order.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::TimestampNanosecondType;

use super::cursor::StreamCursor;
use super::{Trace, TraceDirError};
use crate::decode::{DecodedEvents, PacketInfo};

/// One event: a row of a decoded batch.
pub struct EventRow<'a> {
    /// The trace it belongs to.
    pub trace: &'a Trace,
    /// The stream class it belongs to.
    pub stream_class_id: u64,
    /// Its event class.
    pub event_class_id: u64,
    /// The batch holding it.
    pub batch: &'a RecordBatch,
    /// Its row in `batch`.
    pub row: usize,
    /// Its `ts` (absolute ns).
    pub ts: i64,
}

/// Dropped data noticed at a packet boundary.
#[derive(Debug, Clone)]
pub struct LossNotice {
    /// Index of the trace in [`EventMerger::traces`].
    pub trace: usize,
    /// The stream file.
    pub stream: std::path::PathBuf,
    /// The stream's class.
    pub stream_class_id: u64,
    /// The stream id (see `trawl_core::envelope::STREAM_ID`).
    pub stream_id: u64,
    /// Events the tracer discarded.
    pub events_discarded: u64,
    /// Packets missing.
    pub packets_lost: u64,
    /// End of the previous packet of the stream (ns), if known.
    pub prev_end: Option<i64>,
    /// Begin of this packet (ns), if known: lost packets end here.
    pub begin: Option<i64>,
    /// End of this packet (ns), if known: discarded events end here.
    pub end: Option<i64>,
}

/// What [`EventMerger::next`] hands out.
pub enum MergedItem<'a> {
    /// The next event in time order.
    Event(EventRow<'a>),
    /// Data the tracer dropped, or packets missing.
    Loss(LossNotice),
    /// A packet that cannot be decoded; its stream continues after it.
    Error(TraceDirError),
}

struct Cursor {
    trace: usize,
    stream: StreamCursor,
    events: DecodedEvents,
    next: usize,
    stream_class_id: u64,
    stream_id: u64,
    last_end: Option<i64>,
}

/// The order of events across streams; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct MergeKey {
    ts: i64,
    /// `None` sorts after every UUID, as in babeltrace2.
    trace_uuid: UuidKey,
    stream_class_id: u64,
    stream_id: u64,
    event_class_id: u64,
    cursor: usize,
}

/// A trace UUID that sorts before "no UUID".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum UuidKey {
    Some([u8; 16]),
    None,
}

/// Merges the events of every stream of every trace by time.
pub struct EventMerger {
    traces: Vec<Trace>,
    cursors: Vec<Cursor>,
    heap: BinaryHeap<Reverse<MergeKey>>,
    notices: VecDeque<MergedItem<'static>>,
    /// The cursor whose event was handed out last; advanced on the next call.
    last: Option<usize>,
    started: bool,
}

impl EventMerger {
    /// Opens every stream of `traces`.
    pub fn new(traces: Vec<Trace>) -> Result<Self, TraceDirError> {
        let mut cursors = Vec::new();
        for (t, trace) in traces.iter().enumerate() {
            let whole_file = !trace.packets_sized();
            for (i, path) in trace.streams.iter().enumerate() {
                let stream = StreamCursor::open(path, &trace.decoder, i as u64, whole_file)
                    .map_err(|source| TraceDirError::Io {
                        path: path.clone(),
                        source,
                    })?;
                let mut stream = stream;
                stream.decoder.set_track_order(true);
                cursors.push(Cursor {
                    trace: t,
                    stream,
                    events: DecodedEvents::default(),
                    next: 0,
                    stream_class_id: 0,
                    stream_id: i as u64,
                    last_end: None,
                });
            }
        }
        Ok(EventMerger {
            traces,
            cursors,
            heap: BinaryHeap::new(),
            notices: VecDeque::new(),
            last: None,
            started: false,
        })
    }

    /// The traces being merged.
    pub fn traces(&self) -> &[Trace] {
        &self.traces
    }

    /// The next event, loss or error; `None` at the end of every stream.
    pub fn next(&mut self) -> std::io::Result<Option<MergedItem<'_>>> {
        if !self.started {
            self.started = true;
            for c in 0..self.cursors.len() {
                self.refill(c)?;
            }
        }
        if let Some(c) = self.last.take() {
            self.cursors[c].next += 1;
            self.refill(c)?;
        }
        if let Some(notice) = self.notices.pop_front() {
            return Ok(Some(notice));
        }
        let Some(Reverse(MergeKey { ts, cursor: c, .. })) = self.heap.pop() else {
            return Ok(None);
        };
        self.last = Some(c);
        let cur = &self.cursors[c];
        let (batch, row) = cur.events.order[cur.next];
        let (batch, row) = (batch as usize, row as usize);
        Ok(Some(MergedItem::Event(EventRow {
            trace: &self.traces[cur.trace],
            stream_class_id: cur.stream_class_id,
            event_class_id: cur.events.event_class_ids[batch],
            batch: &cur.events.batches[batch],
            row,
            ts,
        })))
    }

    /// Makes cursor `c` point at an event (decoding packets as needed) and
    /// queues it, or leaves it out at the end of its stream.
    fn refill(&mut self, c: usize) -> std::io::Result<()> {
        loop {
            let cur = &mut self.cursors[c];
            if cur.next < cur.events.order.len() {
                let (batch, row) = cur.events.order[cur.next];
                let ts = cur.events.batches[batch as usize]
                    .column(0)
                    .as_primitive::<TimestampNanosecondType>()
                    .value(row as usize);
                let trace_uuid = match self.traces[cur.trace].class().uuid {
                    Some(u) => UuidKey::Some(u),
                    None => UuidKey::None,
                };
                self.heap.push(Reverse(MergeKey {
                    ts,
                    trace_uuid,
                    stream_class_id: cur.stream_class_id,
                    stream_id: cur.stream_id,
                    event_class_id: cur.events.event_class_ids[batch as usize],
                    cursor: c,
                }));
                return Ok(());
            }
            let trace = &self.traces[cur.trace];
            let Some(result) = cur.stream.decode_next(&trace.decoder)? else {
                return Ok(());
            };
            let failed = match result {
                Ok(info) => {
                    self.note_packet(c, &info);
                    None
                }
                Err(source) => Some(TraceDirError::Decode {
                    trace: trace.path.clone(),
                    stream: cur.stream.name(),
                    source,
                }),
            };
            // Events decoded before an error stay: they were valid.
            let cur = &mut self.cursors[c];
            match cur.stream.decoder.take(&self.traces[cur.trace].decoder) {
                Ok(events) => {
                    cur.events = events;
                    cur.next = 0;
                }
                Err(source) => self
                    .notices
                    .push_back(MergedItem::Error(TraceDirError::Decode {
                        trace: self.traces[cur.trace].path.clone(),
                        stream: cur.stream.name(),
                        source,
                    })),
            }
            if let Some(e) = failed {
                self.notices.push_back(MergedItem::Error(e));
            }
        }
    }

    fn note_packet(&mut self, c: usize, info: &PacketInfo) {
        let cur = &mut self.cursors[c];
        cur.stream_class_id = info.stream_class_id;
        if let Some(id) = info.stream_instance_id {
            cur.stream_id = id;
        }
        let discarded = info.events_discarded.unwrap_or(0);
        if discarded > 0 || info.packets_lost > 0 {
            self.notices.push_back(MergedItem::Loss(LossNotice {
                trace: cur.trace,
                stream: cur.stream.file.path().to_path_buf(),
                stream_class_id: info.stream_class_id,
                stream_id: cur.stream_id,
                events_discarded: discarded,
                packets_lost: info.packets_lost,
                prev_end: cur.last_end,
                begin: info.ts_begin,
                end: info.ts_end,
            }));
        }
        cur.last_end = info.ts_end.or(cur.last_end);
    }
}
