//! Single events from many traces in global time order, for `trawl cat`.
//!
//! Each stream decodes one packet at a time (with its cross-class event
//! order kept), and a heap picks the oldest pending item. Items with the
//! same time are ordered as babeltrace2's muxer orders messages
//! (`common_muxing_compare_messages`): trace UUID (traces with one first),
//! stream class id, stream id, then events before discarded-events notices
//! before discarded-packets notices, then event class id; then input order.
//! A loss notice is timed at its range's beginning, as the muxer times it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::path::PathBuf;

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::TimestampNanosecondType;

use super::cursor::{StreamCursor, open_all};
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

/// What was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossKind {
    /// Events the tracer discarded (ring buffer full).
    DiscardedEvents,
    /// Whole packets missing (`packet_seq_num` gap).
    LostPackets,
}

/// Dropped data noticed at a packet boundary.
#[derive(Debug, Clone)]
pub struct LossNotice {
    /// Index of the trace in [`EventMerger::traces`].
    pub trace: usize,
    /// The stream file.
    pub stream: PathBuf,
    /// The stream's class.
    pub stream_class_id: u64,
    /// The stream id (see `trawl_core::envelope::STREAM_ID`).
    pub stream_id: u64,
    /// Events or packets.
    pub kind: LossKind,
    /// How many.
    pub count: u64,
    /// When (absolute ns), if the packets carry times: discarded events lie
    /// between the previous packet's end and this packet's end, lost packets
    /// between the previous packet's end and this packet's beginning.
    pub range: Option<(i64, i64)>,
}

/// What [`EventMerger::next_item`] hands out.
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

/// The order of pending items; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct MergeKey {
    ts: i64,
    trace_uuid: UuidKey,
    stream_class_id: u64,
    stream_id: u64,
    /// 0 event, 1 discarded events, 2 lost packets.
    kind: u8,
    event_class_id: u64,
    cursor: usize,
    item: Pending,
}

/// A trace UUID that sorts before "no UUID".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum UuidKey {
    Some([u8; 16]),
    None,
}

/// What a heap entry stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Pending {
    /// The cursor's current event.
    Event,
    /// A loss notice waiting in `EventMerger::losses`.
    Loss(u64),
}

/// Merges the events of every stream of every trace by time.
pub struct EventMerger {
    traces: Vec<Trace>,
    cursors: Vec<Cursor>,
    heap: BinaryHeap<Reverse<MergeKey>>,
    losses: HashMap<u64, LossNotice>,
    next_loss: u64,
    /// Errors go out before anything else.
    errors: VecDeque<TraceDirError>,
    /// The cursor whose event was handed out last; advanced on the next call.
    last: Option<usize>,
    /// Time of the last item handed out: notices without a time go out now.
    last_ts: i64,
    started: bool,
}

impl EventMerger {
    /// Opens every stream of `traces`.
    pub fn new(traces: Vec<Trace>) -> Result<Self, TraceDirError> {
        let cursors = open_all(&traces)?
            .into_iter()
            .map(|(trace, stream_id, mut stream)| {
                stream.decoder.set_track_order(true);
                Cursor {
                    trace,
                    stream,
                    events: DecodedEvents::default(),
                    next: 0,
                    stream_class_id: 0,
                    stream_id,
                    last_end: None,
                }
            })
            .collect();
        Ok(EventMerger {
            traces,
            cursors,
            heap: BinaryHeap::new(),
            losses: HashMap::new(),
            next_loss: 0,
            errors: VecDeque::new(),
            last: None,
            last_ts: i64::MIN,
            started: false,
        })
    }

    /// The traces being merged.
    pub fn traces(&self) -> &[Trace] {
        &self.traces
    }

    /// The next event, loss or error; `None` at the end of every stream.
    pub fn next_item(&mut self) -> std::io::Result<Option<MergedItem<'_>>> {
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
        if let Some(e) = self.errors.pop_front() {
            return Ok(Some(MergedItem::Error(e)));
        }
        let Some(Reverse(key)) = self.heap.pop() else {
            return Ok(None);
        };
        self.last_ts = key.ts;
        if let Pending::Loss(id) = key.item {
            return Ok(self.losses.remove(&id).map(MergedItem::Loss));
        }
        let c = key.cursor;
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
            ts: key.ts,
        })))
    }

    fn key(&self, c: usize, ts: i64, kind: u8, event_class_id: u64, item: Pending) -> MergeKey {
        let cur = &self.cursors[c];
        let trace_uuid = match self.traces[cur.trace].class().uuid {
            Some(u) => UuidKey::Some(u),
            None => UuidKey::None,
        };
        MergeKey {
            ts,
            trace_uuid,
            stream_class_id: cur.stream_class_id,
            stream_id: cur.stream_id,
            kind,
            event_class_id,
            cursor: c,
            item,
        }
    }

    /// Makes cursor `c` point at an event (decoding packets as needed) and
    /// queues it, or leaves it out at the end of its stream.
    fn refill(&mut self, c: usize) -> std::io::Result<()> {
        loop {
            let cur = &self.cursors[c];
            if cur.next < cur.events.order.len() {
                let (batch, row) = cur.events.order[cur.next];
                let ts = cur.events.batches[batch as usize]
                    .column(0)
                    .as_primitive::<TimestampNanosecondType>()
                    .value(row as usize);
                let class = cur.events.event_class_ids[batch as usize];
                let key = self.key(c, ts, 0, class, Pending::Event);
                self.heap.push(Reverse(key));
                return Ok(());
            }
            let cur = &mut self.cursors[c];
            let trace = &self.traces[cur.trace];
            let Some(result) = cur.stream.decode_next(&trace.decoder)? else {
                return Ok(());
            };
            let failed = match result {
                Ok(info) => {
                    self.note_packet(c, &info);
                    None
                }
                Err(source) => Some(cur.stream.error(trace, source)),
            };
            // Events decoded before an error stay: they were valid.
            let cur = &mut self.cursors[c];
            let trace = &self.traces[cur.trace];
            match cur.stream.decoder.take(&trace.decoder) {
                Ok(events) => {
                    cur.events = events;
                    cur.next = 0;
                }
                Err(source) => self.errors.push_back(cur.stream.error(trace, source)),
            }
            self.errors.extend(failed);
        }
    }

    /// Records a decoded packet's stream identity and queues its losses.
    fn note_packet(&mut self, c: usize, info: &PacketInfo) {
        let cur = &mut self.cursors[c];
        cur.stream_class_id = info.stream_class_id;
        if let Some(id) = info.stream_instance_id {
            cur.stream_id = id;
        }
        let prev_end = cur.last_end;
        cur.last_end = info.ts_end.or(cur.last_end);
        let discarded = info.events_discarded.unwrap_or(0);
        if discarded > 0 {
            let range = prev_end.or(info.ts_begin).zip(info.ts_end);
            self.queue_loss(c, LossKind::DiscardedEvents, discarded, range);
        }
        if info.packets_lost > 0 {
            let range = prev_end.zip(info.ts_begin);
            self.queue_loss(c, LossKind::LostPackets, info.packets_lost, range);
        }
    }

    fn queue_loss(&mut self, c: usize, kind: LossKind, count: u64, range: Option<(i64, i64)>) {
        let cur = &self.cursors[c];
        let notice = LossNotice {
            trace: cur.trace,
            stream: cur.stream.file.path().to_path_buf(),
            stream_class_id: cur.stream_class_id,
            stream_id: cur.stream_id,
            kind,
            count,
            range,
        };
        // Without a time, the notice goes out next (never before what was
        // already handed out).
        let ts = range.map_or(self.last_ts, |(begin, _)| begin.max(self.last_ts));
        let weight = match kind {
            LossKind::DiscardedEvents => 1,
            LossKind::LostPackets => 2,
        };
        let id = self.next_loss;
        self.next_loss += 1;
        let key = self.key(c, ts, weight, 0, Pending::Loss(id));
        self.heap.push(Reverse(key));
        self.losses.insert(id, notice);
    }
}
