//! One data stream: packet framing (header, context, sizes, losses) and the
//! event loop that runs the compiled plans into per-class builders.

use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, DictionaryArray, PrimitiveArray, RecordBatch, StringArray, TimestampNanosecondArray,
    UInt32Array, UInt64Array,
};
use arrow_buffer::{NullBuffer, ScalarBuffer};

use super::bits::BitReader;
use super::columns::Columns;
use super::error::{DecodeError, DecodeErrorKind};
use super::exec::{ExecState, run};
use super::plan::{
    Plan, REG_CONTENT_SIZE, REG_CPU, REG_DISCARDED, REG_EVENT_ID, REG_MAGIC, REG_PACKET_SIZE,
    REG_SEQ_NUM, REG_STREAM_ID, REG_STREAM_INSTANCE, REG_TS_BEGIN, REG_TS_END,
};
use super::{StreamPlan, TraceDecoder};

const CTF_MAGIC: u64 = 0xC1FC_1FC1;

/// What one packet held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketInfo {
    /// Packet size in bytes (the whole rest of the data when the packet context has none).
    pub packet_size: u64,
    /// Content size in bits.
    pub content_size: u64,
    /// The stream class.
    pub stream_class_id: u64,
    /// `stream_instance_id` of the packet header, if any.
    pub stream_instance_id: Option<u64>,
    /// `cpu_id` of the packet context, if any.
    pub cpu_id: Option<u32>,
    /// `timestamp_begin` in absolute ns (widened to the first event's time
    /// when that is earlier, as babeltrace2 does for barectf traces).
    pub ts_begin: Option<i64>,
    /// `timestamp_end` in absolute ns (widened to the last event's time when
    /// that is later: the lttng "event after packet" quirk).
    pub ts_end: Option<i64>,
    /// Events the tracer discarded since the previous packet of this stream
    /// (the `events_discarded` counter's delta, modulo its bit width). First
    /// packet of the stream: the counter itself; babeltrace2 then reports
    /// "may have discarded events" without a count when it is not 0.
    pub events_discarded: Option<u64>,
    /// `packet_seq_num`, if any.
    pub packet_seq_num: Option<u64>,
    /// Packets lost before this one (gap in `packet_seq_num`).
    pub packets_lost: u64,
    /// Events decoded from this packet.
    pub events: u64,
    /// The packet header's `uuid` differs from the trace's. babeltrace2 2.0
    /// reads such packets (conformance traces `intersection/onestream` have
    /// them), so this is only an error with [`TraceDecoder::set_strict_uuid`].
    pub uuid_mismatch: bool,
}

/// Rows decoded since the last [`StreamDecoder::take`].
#[derive(Debug, Clone, Default)]
pub struct DecodedEvents {
    /// One batch per event class that has rows (rows in stream order).
    pub batches: Vec<RecordBatch>,
    /// The event class id of each batch.
    pub event_class_ids: Vec<u64>,
    /// The stream class id of each batch.
    pub stream_class_ids: Vec<u64>,
    /// Stream order across batches as `(batch, row)`, when order tracking is on.
    pub order: Vec<(u32, u32)>,
}

/// Pending rows of one event class.
#[derive(Debug, Clone)]
struct ClassRows {
    cols: Columns,
    ts: Vec<i64>,
    sid: Vec<u64>,
    cpu: Vec<u32>,
    cpu_valid: Vec<bool>,
    /// `host`, `domain`, `event`: see [`ClassRows::constant_columns`].
    consts: Option<[ArrayRef; 3]>,
}

impl ClassRows {
    fn new(template: &Columns) -> Self {
        Self {
            cols: template.clone(),
            ts: Vec::new(),
            sid: Vec::new(),
            cpu: Vec::new(),
            cpu_valid: Vec::new(),
            consts: None,
        }
    }
}

/// The decoder of one data stream (see the module docs).
#[derive(Debug)]
pub struct StreamDecoder {
    fallback_stream_id: u64,
    st: ExecState,
    rows: Vec<Vec<Option<ClassRows>>>,
    order: Vec<(u32, u32, u32)>,
    track_order: bool,
    pending: usize,
    prev_discarded: Option<u64>,
    prev_seq: Option<u64>,
    /// Builders for plans that write no column.
    empty: Columns,
}

struct Packet {
    sc: usize,
    pctx_start: u64,
    packet_bits: u64,
    content_bits: u64,
    sid: u64,
    cpu: Option<u32>,
    uuid_mismatch: bool,
}

impl StreamDecoder {
    pub(crate) fn new(dec: &TraceDecoder, fallback_stream_id: u64) -> Self {
        Self {
            fallback_stream_id,
            st: ExecState::new(dec.nregs),
            rows: Vec::new(),
            order: Vec::new(),
            track_order: false,
            pending: 0,
            prev_discarded: None,
            prev_seq: None,
            empty: Columns::default(),
        }
    }

    /// Records the stream order across event classes (for [`DecodedEvents::order`]).
    pub fn set_track_order(&mut self, on: bool) {
        self.track_order = on;
    }

    /// Rows decoded and not yet taken.
    pub fn rows_pending(&self) -> usize {
        self.pending
    }

    fn err(
        &self,
        offset_bits: u64,
        stream_offset: u64,
        path: &str,
        kind: DecodeErrorKind,
        next: Option<u64>,
    ) -> DecodeError {
        DecodeError {
            offset: stream_offset.saturating_add(offset_bits / 8),
            path: Arc::from(path),
            kind,
            next_packet: next,
        }
    }

    /// Decodes the packet that starts at `data[0]` (`data` = the rest of the
    /// stream; `stream_offset` = its offset in the stream, for errors).
    pub fn decode_packet(
        &mut self,
        dec: &TraceDecoder,
        data: &[u8],
        stream_offset: u64,
    ) -> Result<PacketInfo, DecodeError> {
        if self.st.regs.len() < dec.nregs {
            self.st.regs.resize(dec.nregs, 0);
        }
        let avail = (data.len() as u64).saturating_mul(8);
        let mut r = BitReader::new(data, avail);
        let (pk, sp) = self.framing(dec, &mut r, stream_offset)?;
        let next = Some(stream_offset.saturating_add(pk.packet_bits / 8));
        let reg = |st: &ExecState, i: u16| st.regs.get(i as usize).copied().unwrap_or(0);
        let present = |i: u16| sp.pspec.present.get(i as usize).copied().unwrap_or(false);
        let conv = sp.clock;
        let ts_begin_raw = present(REG_TS_BEGIN).then(|| reg(&self.st, REG_TS_BEGIN));
        let ts_end_raw = present(REG_TS_END).then(|| reg(&self.st, REG_TS_END));
        let disc = present(REG_DISCARDED).then(|| reg(&self.st, REG_DISCARDED));
        let seq = present(REG_SEQ_NUM).then(|| reg(&self.st, REG_SEQ_NUM));
        if let Some(b) = ts_begin_raw {
            self.st.clock = b;
        }

        // Events.
        r.set_limit(pk.content_bits);
        let mut events = 0u64;
        let mut first_ts = None;
        let mut last_ts = None;
        while r.pos() < pk.content_bits {
            let start = r.pos();
            self.st.regs[REG_EVENT_ID as usize] = 0;
            match sp.fast_header {
                Some(h) => h.read(&mut r, &mut self.st).map_err(|kind| DecodeError {
                    offset: stream_offset.saturating_add(r.pos() / 8),
                    path: Arc::from("event header"),
                    kind,
                    next_packet: next,
                })?,
                None => run_plan(
                    &sp.header,
                    &mut r,
                    &mut self.st,
                    &mut self.empty,
                    stream_offset,
                    next,
                )?,
            }
            let id = if sp.hspec.present[REG_EVENT_ID as usize] {
                reg(&self.st, REG_EVENT_ID)
            } else if sp.classes.len() == 1 {
                sp.classes.first().map_or(0, |c| c.id)
            } else {
                0
            };
            let Some(ci) = sp.class_index(id) else {
                return Err(self.err(
                    start,
                    stream_offset,
                    "event header",
                    DecodeErrorKind::UnknownEventClass {
                        id,
                        stream_class: sp.id,
                    },
                    next,
                ));
            };
            let Some(cp) = sp.classes.get(ci) else { break };
            // The event's time is the clock after its header: babeltrace2
            // keeps it even when a clock-mapped context or payload field
            // moves the stream clock later on.
            let ts = conv.map_or(0, |c| c.to_ns(self.st.clock));
            let rows = rows_of(&mut self.rows, pk.sc, ci, sp);
            let n = rows.ts.len();
            let st = &mut self.st;
            let res = (|| {
                if let Some(pp) = &cp.pctx {
                    let here = r.pos();
                    let lim = r.limit();
                    r.set_limit(pk.packet_bits);
                    r.set_pos(pk.pctx_start);
                    run_plan(pp, &mut r, st, &mut rows.cols, stream_offset, next)?;
                    r.set_limit(lim);
                    r.set_pos(here);
                }
                run_plan(&cp.plan, &mut r, st, &mut rows.cols, stream_offset, next)?;
                if r.pos() == start {
                    return Err(DecodeError {
                        offset: stream_offset.saturating_add(start / 8),
                        path: Arc::from(""),
                        kind: DecodeErrorKind::ZeroSizeEvent { id },
                        next_packet: next,
                    });
                }
                Ok(())
            })();
            if let Err(e) = res {
                for &c in &cp.top {
                    rows.cols.truncate(c, n);
                }
                return Err(e);
            }
            first_ts.get_or_insert(ts);
            last_ts = Some(ts);
            rows.ts.push(ts);
            rows.sid.push(pk.sid);
            rows.cpu.push(pk.cpu.unwrap_or(0));
            rows.cpu_valid.push(pk.cpu.is_some());
            if self.track_order {
                self.order.push((pk.sc as u32, ci as u32, n as u32));
            }
            self.pending += 1;
            events += 1;
        }

        let width = sp.pspec.width[REG_DISCARDED as usize];
        let events_discarded = disc.map(|d| {
            let delta = match self.prev_discarded {
                None => d,
                Some(p) => {
                    let mask = if width >= 64 || width == 0 {
                        u64::MAX
                    } else {
                        (1u64 << width) - 1
                    };
                    d.wrapping_sub(p) & mask
                }
            };
            self.prev_discarded = Some(d);
            delta
        });
        let packets_lost = match (seq, self.prev_seq) {
            (Some(s), Some(p)) if s > p => s - p - 1,
            _ => 0,
        };
        if seq.is_some() {
            self.prev_seq = seq;
        }
        let mut ts_begin = ts_begin_raw.and_then(|c| conv.map(|k| k.to_ns(c)));
        let mut ts_end = ts_end_raw.and_then(|c| conv.map(|k| k.to_ns(c)));
        if let (Some(b), Some(f)) = (ts_begin, first_ts) {
            ts_begin = Some(b.min(f));
        }
        if let (Some(e), Some(l)) = (ts_end, last_ts) {
            ts_end = Some(e.max(l));
        }
        Ok(PacketInfo {
            packet_size: pk.packet_bits / 8,
            content_size: pk.content_bits,
            stream_class_id: sp.id,
            stream_instance_id: dec.hspec.present[REG_STREAM_INSTANCE as usize]
                .then(|| reg(&self.st, REG_STREAM_INSTANCE)),
            cpu_id: pk.cpu,
            ts_begin,
            ts_end,
            events_discarded,
            packet_seq_num: seq,
            packets_lost,
            events,
            uuid_mismatch: pk.uuid_mismatch,
        })
    }

    /// Packet header and context: stream class, sizes, checks.
    fn framing<'d>(
        &mut self,
        dec: &'d TraceDecoder,
        r: &mut BitReader<'_>,
        stream_offset: u64,
    ) -> Result<(Packet, &'d StreamPlan), DecodeError> {
        let avail = r.limit();
        let reg = |st: &ExecState, i: u16| st.regs.get(i as usize).copied().unwrap_or(0);
        run_plan(
            &dec.header,
            r,
            &mut self.st,
            &mut self.empty,
            stream_offset,
            None,
        )?;
        if dec.hspec.present[REG_MAGIC as usize] {
            let m = reg(&self.st, REG_MAGIC);
            if m != CTF_MAGIC {
                return Err(self.err(
                    0,
                    stream_offset,
                    "packet header field `magic`",
                    DecodeErrorKind::BadMagic { found: m },
                    None,
                ));
            }
        }
        let uuid_mismatch = dec.hspec.uuid && dec.trace().uuid.is_some_and(|u| u != self.st.uuid);
        if uuid_mismatch && dec.strict_uuid {
            return Err(self.err(
                32,
                stream_offset,
                "packet header field `uuid`",
                DecodeErrorKind::UuidMismatch {
                    found: self.st.uuid,
                },
                None,
            ));
        }
        let sc = if dec.hspec.present[REG_STREAM_ID as usize] {
            let id = reg(&self.st, REG_STREAM_ID);
            dec.streams.iter().position(|s| s.id == id).ok_or_else(|| {
                self.err(
                    0,
                    stream_offset,
                    "packet header field `stream_id`",
                    DecodeErrorKind::UnknownStreamClass { id },
                    None,
                )
            })?
        } else if dec.streams.len() == 1 {
            0
        } else {
            return Err(self.err(
                0,
                stream_offset,
                "packet header",
                DecodeErrorKind::AmbiguousStreamClass {
                    count: dec.streams.len(),
                },
                None,
            ));
        };
        let sid = if dec.hspec.present[REG_STREAM_INSTANCE as usize] {
            reg(&self.st, REG_STREAM_INSTANCE)
        } else {
            self.fallback_stream_id
        };
        let sp: &StreamPlan = dec.streams.get(sc).ok_or_else(|| {
            self.err(
                0,
                stream_offset,
                "",
                DecodeErrorKind::UnknownStreamClass { id: 0 },
                None,
            )
        })?;
        let pctx_start = r.pos();
        run_plan(
            &sp.pctx,
            r,
            &mut self.st,
            &mut self.empty,
            stream_offset,
            None,
        )?;
        let ctx_end = r.pos();
        let present = |i: u16| sp.pspec.present[i as usize];
        let packet_bits = if present(REG_PACKET_SIZE) {
            reg(&self.st, REG_PACKET_SIZE)
        } else {
            avail
        };
        let content_bits = if present(REG_CONTENT_SIZE) {
            reg(&self.st, REG_CONTENT_SIZE)
        } else {
            packet_bits
        };
        let path = "packet context";
        if packet_bits > avail {
            return Err(self.err(
                0,
                stream_offset,
                path,
                DecodeErrorKind::PacketBeyondData {
                    packet_size: packet_bits,
                    available: avail,
                },
                None,
            ));
        }
        if packet_bits % 8 != 0 {
            return Err(self.err(
                0,
                stream_offset,
                path,
                DecodeErrorKind::PacketSizeNotBytes {
                    packet_size: packet_bits,
                },
                None,
            ));
        }
        let next = (packet_bits > 0).then_some(stream_offset.saturating_add(packet_bits / 8));
        if content_bits > packet_bits {
            return Err(self.err(
                0,
                stream_offset,
                path,
                DecodeErrorKind::ContentBeyondPacket {
                    content_size: content_bits,
                    packet_size: packet_bits,
                },
                next,
            ));
        }
        if ctx_end > content_bits || packet_bits == 0 {
            return Err(self.err(
                0,
                stream_offset,
                path,
                DecodeErrorKind::PacketSizeTooSmall {
                    packet_size: packet_bits,
                    needed: ctx_end.max(1),
                },
                next,
            ));
        }
        let cpu = present(REG_CPU).then(|| reg(&self.st, REG_CPU) as u32);
        let packet = Packet {
            sc,
            pctx_start,
            packet_bits,
            content_bits,
            sid,
            cpu,
            uuid_mismatch,
        };
        Ok((packet, sp))
    }

    /// Everything decoded since the last call.
    pub fn take(&mut self, dec: &TraceDecoder) -> Result<DecodedEvents, DecodeError> {
        let mut out = DecodedEvents::default();
        let mut batch_of: Vec<Vec<u32>> = Vec::new();
        for (sc, classes) in self.rows.iter_mut().enumerate() {
            batch_of.push(vec![u32::MAX; classes.len()]);
            let Some(sp) = dec.streams.get(sc) else {
                continue;
            };
            for (ci, slot) in classes.iter_mut().enumerate() {
                let Some(rows) = slot.as_mut() else { continue };
                if rows.ts.is_empty() {
                    continue;
                }
                let Some(cp) = sp.classes.get(ci) else {
                    continue;
                };
                let batch = finish_batch(cp, rows).map_err(|kind| DecodeError {
                    offset: 0,
                    path: Arc::from(""),
                    kind,
                    next_packet: None,
                })?;
                batch_of[sc][ci] = out.batches.len() as u32;
                out.batches.push(batch);
                out.event_class_ids.push(cp.id);
                out.stream_class_ids.push(sp.id);
            }
        }
        out.order = self
            .order
            .drain(..)
            .map(|(sc, ci, row)| {
                let b = batch_of
                    .get(sc as usize)
                    .and_then(|v| v.get(ci as usize))
                    .copied()
                    .unwrap_or(u32::MAX);
                (b, row)
            })
            .collect();
        self.pending = 0;
        Ok(out)
    }
}

/// The pending rows of class `ci` of stream class `sc`, created on first use.
fn rows_of<'r>(
    rows: &'r mut Vec<Vec<Option<ClassRows>>>,
    sc: usize,
    ci: usize,
    sp: &StreamPlan,
) -> &'r mut ClassRows {
    if rows.len() <= sc {
        rows.resize_with(sc + 1, Vec::new);
    }
    let v = &mut rows[sc];
    if v.len() <= ci {
        v.resize_with(ci + 1, || None);
    }
    v[ci].get_or_insert_with(|| ClassRows::new(sp.classes.get(ci).map_or(&EMPTY, |c| &c.template)))
}

static EMPTY: Columns = Columns::EMPTY;

/// Runs `plan`, turning an op failure into a positioned error.
fn run_plan(
    plan: &Plan,
    r: &mut BitReader<'_>,
    st: &mut ExecState,
    cols: &mut Columns,
    stream_offset: u64,
    next: Option<u64>,
) -> Result<(), DecodeError> {
    run(&plan.ops, r, st, cols).map_err(|(at, kind)| DecodeError {
        offset: stream_offset.saturating_add(r.pos() / 8),
        path: plan.paths.get(at).cloned().unwrap_or_else(|| Arc::from("")),
        kind,
        next_packet: next,
    })
}

fn dict_const(value: &str, n: usize) -> ArrayRef {
    let keys = PrimitiveArray::<Int32Type>::new(ScalarBuffer::from(vec![0i32; n]), None);
    let values = Arc::new(StringArray::from(vec![value]));
    match DictionaryArray::<Int32Type>::try_new(keys, values) {
        Ok(d) => Arc::new(d),
        Err(_) => arrow_array::new_empty_array(&trawl_core::envelope::dict_utf8_type()),
    }
}

fn finish_batch(
    cp: &super::ClassPlan,
    rows: &mut ClassRows,
) -> Result<RecordBatch, DecodeErrorKind> {
    let n = rows.ts.len();
    let meta = cp.schema.metadata();
    let get = |k: &str| meta.get(k).map_or("", |s| s.as_str());
    let ts = TimestampNanosecondArray::from(std::mem::replace(&mut rows.ts, Vec::with_capacity(n)))
        .with_timezone("UTC");
    let sid = UInt64Array::from(std::mem::replace(&mut rows.sid, Vec::with_capacity(n)));
    let valid = std::mem::replace(&mut rows.cpu_valid, Vec::with_capacity(n));
    let nulls = (!valid.iter().all(|&v| v)).then(|| NullBuffer::from(valid));
    let cpu = UInt32Array::new(
        ScalarBuffer::from(std::mem::replace(&mut rows.cpu, Vec::with_capacity(n))),
        nulls,
    );
    // `host`, `domain` and `event` hold one value in every row: dictionary
    // arrays long enough for the largest batch so far, sliced per batch
    // (slicing copies and validates nothing; building them per batch cost
    // as much as decoding two fields).
    if rows.consts.as_ref().is_none_or(|c| c[0].len() < n) {
        let cap = n.next_power_of_two().max(1024);
        rows.consts = Some(
            [
                trawl_core::envelope::META_HOST,
                trawl_core::envelope::META_DOMAIN,
                trawl_core::envelope::META_EVENT,
            ]
            .map(|k| dict_const(get(k), cap)),
        );
    }
    let [host, domain, event] = match &rows.consts {
        Some(c) => c.clone().map(|a| a.slice(0, n)),
        None => return Err(DecodeErrorKind::Arrow("envelope constants".into())),
    };
    let mut arrays: Vec<ArrayRef> = vec![
        Arc::new(ts),
        host,
        domain,
        Arc::new(sid),
        Arc::new(cpu),
        event,
    ];
    for (i, &c) in cp.top.iter().enumerate() {
        let f = cp.schema.field(6 + i);
        arrays.push(rows.cols.finish(c, f.data_type())?);
    }
    RecordBatch::try_new(cp.schema.clone(), arrays)
        .map_err(|e| DecodeErrorKind::Arrow(e.to_string()))
}
