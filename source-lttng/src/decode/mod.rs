//! Decode plans and the packet decoder: CTF 1.8 packet bytes → Arrow batches,
//! one per event class (the column contract is in [`schema`]).
//!
//! A [`TraceDecoder`] compiles the trace class once: every event class
//! becomes a flat op list (stream event context, event context, payload)
//! bound to its column builders. A [`StreamDecoder`] holds what one data
//! stream needs across packets (running clock, loss counters, builders) and
//! decodes packets into them; [`StreamDecoder::take`] turns the pending rows
//! into `RecordBatch`es.
//!
//! ```
//! use std::sync::Arc;
//! use trawl_source_lttng::decode::TraceDecoder;
//! use trawl_source_lttng::decode::testing::ust_like_stream;
//!
//! // Two packets of 10 lttng-ust-like `malloc` events each.
//! let (trace, data) = ust_like_stream(2, 10);
//! let dec = TraceDecoder::new(Arc::new(trace)).unwrap();
//! let mut stream = dec.new_stream(0);
//! let mut offset = 0;
//! while offset < data.len() {
//!     let packet = stream.decode_packet(&dec, &data[offset..], offset as u64).unwrap();
//!     offset += packet.packet_size as usize;
//! }
//! let events = stream.take(&dec).unwrap();
//! let batch = &events.batches[0];
//! assert_eq!(batch.num_rows(), 20);
//! assert_eq!(batch.schema().field(0).name(), "ts");
//! assert!(batch.column_by_name("ptr").is_some()); // `_ptr`: one leading `_` stripped
//! ```
//!
//! Semantics follow babeltrace2 2.0 where CTF leaves room (checked against
//! it over the conformance traces in `tests/decode.rs`): an event's time is
//! the stream clock after its header; N-bit clock fields widen with the
//! single-wrap rule; cycles → ns like babeltrace2 (offset normalized, offset
//! and value converted separately, truncated); variant options are chosen by
//! the tag label equal to the option name as written; a packet uuid that
//! differs from the trace's is flagged, not refused (unless
//! [`TraceDecoder::set_strict_uuid`]).

mod bits;
mod clock;
mod columns;
mod error;
mod exec;
mod fuse;
mod header;
mod paths;
mod plan;
pub mod schema;
mod stream;
pub mod testing;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow_schema::{Field, SchemaRef};
use trawl_core::envelope;

pub use error::{DecodeError, DecodeErrorKind};
pub use stream::{DecodedEvents, PacketInfo, StreamDecoder};

use clock::ClockConv;
use columns::{ColRef, Columns};
use paths::collect_paths;
pub(crate) use plan::align_of;
use plan::{Compiler, FIRST_USER_REG, Plan, Specials};
use schema::{column_name, is_hidden_packet_context_field, scope_prefix};

use crate::metadata::{FieldPath, Scope, StreamClass, StructType, TraceClass};

/// One compiled event class.
#[derive(Debug)]
pub(crate) struct ClassPlan {
    pub(crate) id: u64,
    /// Stream event context + event context + payload.
    pub(crate) plan: Plan,
    /// The packet context again, writing its non-hidden fields as columns
    /// (only when there are such fields).
    pub(crate) pctx: Option<Plan>,
    pub(crate) schema: SchemaRef,
    /// Top-level builders, in schema order after the envelope.
    pub(crate) top: Vec<ColRef>,
    /// Empty builders to clone for each stream.
    pub(crate) template: Columns,
}

/// One compiled stream class.
#[derive(Debug)]
pub(crate) struct StreamPlan {
    pub(crate) id: u64,
    pub(crate) pctx: Plan,
    pub(crate) pspec: Specials,
    pub(crate) header: Plan,
    pub(crate) hspec: Specials,
    /// `header` done natively, when it is one of LTTng's.
    pub(crate) fast_header: Option<header::FastHeader>,
    pub(crate) classes: Vec<ClassPlan>,
    pub(crate) by_id: HashMap<u64, usize>,
    /// `by_id` as a table when ids are small (the usual case): no hashing per event.
    pub(crate) dense: Vec<u32>,
    pub(crate) clock: Option<ClockConv>,
}

impl StreamPlan {
    /// The index of event class `id`.
    #[inline]
    pub(crate) fn class_index(&self, id: u64) -> Option<usize> {
        match self.dense.get(id as usize) {
            Some(&i) if i != u32::MAX => Some(i as usize),
            Some(_) => None,
            None => self.by_id.get(&id).copied(),
        }
    }
}

const DENSE_IDS: u64 = 1 << 16;

/// Compiled plans and schemas for one trace class.
#[derive(Debug)]
pub struct TraceDecoder {
    trace: Arc<TraceClass>,
    pub(crate) nregs: usize,
    pub(crate) header: Plan,
    pub(crate) hspec: Specials,
    pub(crate) streams: Vec<StreamPlan>,
    pub(crate) strict_uuid: bool,
}

fn roots<'t>(
    trace: &'t TraceClass,
    sc: Option<&'t StreamClass>,
    ec: Option<&'t crate::metadata::EventClass>,
) -> [Option<&'t StructType>; 6] {
    [
        trace.packet_header.as_ref(),
        sc.and_then(|s| s.packet_context.as_ref()),
        sc.and_then(|s| s.event_header.as_ref()),
        sc.and_then(|s| s.event_context.as_ref()),
        ec.and_then(|e| e.context.as_ref()),
        ec.and_then(|e| e.payload.as_ref()),
    ]
}

fn uuid_text(u: &Option<[u8; 16]>) -> String {
    let Some(u) = u else { return String::new() };
    let h: String = u.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

impl TraceDecoder {
    /// Compiles every stream and event class of `trace`.
    pub fn new(trace: Arc<TraceClass>) -> Result<Self, DecodeError> {
        // Registers for every path a variant or sequence reads.
        let mut paths: Vec<FieldPath> = Vec::new();
        let mut walk = |s: Option<&StructType>| {
            if let Some(s) = s {
                s.fields
                    .iter()
                    .for_each(|f| collect_paths(&f.ty, &mut paths));
            }
        };
        walk(trace.packet_header.as_ref());
        for sc in &trace.streams {
            walk(sc.packet_context.as_ref());
            walk(sc.event_header.as_ref());
            walk(sc.event_context.as_ref());
            for ec in &sc.events {
                walk(ec.context.as_ref());
                walk(ec.payload.as_ref());
            }
        }
        let mut regs: HashMap<FieldPath, u16> = HashMap::new();
        for p in paths {
            let next = FIRST_USER_REG as usize + regs.len();
            if let std::collections::hash_map::Entry::Vacant(slot) = regs.entry(p) {
                let r = u16::try_from(next)
                    .ok()
                    .filter(|&r| r != plan::NO_REG)
                    .ok_or_else(|| {
                        DecodeError::plan(
                            DecodeErrorKind::Unsupported {
                                what: "too many tag and length fields",
                            },
                            "",
                        )
                    })?;
                slot.insert(r);
            }
        }
        let nregs = FIRST_USER_REG as usize + regs.len();
        let auto_clock = match trace.clocks.len() {
            0 => Some(String::new()),
            1 => trace.clocks.first().map(|c| c.name.clone()),
            _ => None,
        };

        let mut hc = Compiler::new(&regs, roots(&trace, None, None), false, true);
        hc.auto_clock = auto_clock.clone();
        if let Some(h) = &trace.packet_header {
            hc.scope(
                Scope::PacketHeader,
                h,
                "packet header",
                |_, _| None,
                &mut Vec::new(),
            )?;
        }
        let header = std::mem::take(&mut hc.plan);
        let hspec = std::mem::take(&mut hc.specials);

        let host = trace.env_str("hostname").unwrap_or("").to_string();
        let domain = trace.env_str("domain").unwrap_or("").to_string();
        let uuid = uuid_text(&trace.uuid);

        let mut streams = Vec::with_capacity(trace.streams.len());
        for sc in &trace.streams {
            let r = roots(&trace, Some(sc), None);
            let mut c = Compiler::new(&regs, r, false, true);
            c.auto_clock = auto_clock.clone();
            if let Some(p) = &sc.packet_context {
                c.scope(
                    Scope::PacketContext,
                    p,
                    "packet context",
                    |_, _| None,
                    &mut Vec::new(),
                )?;
            }
            let pctx = std::mem::take(&mut c.plan);
            let pspec = std::mem::take(&mut c.specials);
            let what = format!("stream class {} event header", sc.id);
            if let Some(h) = &sc.event_header {
                c.scope(Scope::EventHeader, h, &what, |_, _| None, &mut Vec::new())?;
            }
            let hplan = std::mem::take(&mut c.plan);
            let hs = std::mem::take(&mut c.specials);
            let mut clocks: Vec<String> = pspec.clocks.iter().chain(&hs.clocks).cloned().collect();

            let mut classes = Vec::with_capacity(sc.events.len());
            let mut by_id = HashMap::new();
            for (i, ec) in sc.events.iter().enumerate() {
                let mut c = Compiler::new(&regs, roots(&trace, Some(sc), Some(ec)), true, false);
                c.auto_clock = auto_clock.clone();
                let mut taken: HashSet<String> =
                    envelope::COLUMNS.iter().map(|s| s.to_string()).collect();
                let mut name_of = |scope: Scope, raw: &str| {
                    let base = column_name(raw);
                    let name = if taken.contains(base) {
                        format!("{}{base}", scope_prefix(scope))
                    } else {
                        base.to_string()
                    };
                    taken.insert(name.clone());
                    taken.insert(format!("{name}_value"));
                    name
                };
                let mut out: Vec<(Field, ColRef)> = Vec::new();
                let mut pctx_cols = None;
                if let Some(p) = &sc.packet_context
                    && p.fields
                        .iter()
                        .any(|f| !is_hidden_packet_context_field(&f.name))
                {
                    let what = format!("event `{}` packet context", ec.name);
                    c.scope(
                        Scope::PacketContext,
                        p,
                        &what,
                        |_, raw| {
                            (!is_hidden_packet_context_field(raw))
                                .then(|| name_of(Scope::PacketContext, raw))
                        },
                        &mut out,
                    )?;
                    pctx_cols = Some(std::mem::take(&mut c.plan));
                }
                c.clock_on = true;
                let scopes = [
                    (
                        Scope::StreamEventContext,
                        sc.event_context.as_ref(),
                        "stream event context",
                    ),
                    (Scope::EventContext, ec.context.as_ref(), "context"),
                    (Scope::EventPayload, ec.payload.as_ref(), "payload"),
                ];
                for (scope, root, label) in scopes {
                    if let Some(root) = root {
                        let what = format!("event `{}` {label}", ec.name);
                        c.scope(
                            scope,
                            root,
                            &what,
                            |_, raw| Some(name_of(scope, raw)),
                            &mut out,
                        )?;
                    }
                }
                clocks.extend(c.specials.clocks.iter().cloned());
                let (fields, top): (Vec<Field>, Vec<ColRef>) = out.into_iter().unzip();
                let schema =
                    envelope::schema_with_metadata(fields, &ec.name, &host, &domain, &uuid);
                by_id.entry(ec.id).or_insert(i);
                classes.push(ClassPlan {
                    id: ec.id,
                    plan: fuse::fuse(c.plan),
                    pctx: pctx_cols,
                    schema,
                    top,
                    template: c.cols,
                });
            }
            let clock = match clocks.first() {
                None => None,
                Some(n) if n.is_empty() => Some(ClockConv::default_clock()),
                Some(n) => Some(ClockConv::new(trace.clock(n).ok_or_else(|| {
                    DecodeError::plan(DecodeErrorKind::UnknownClock { name: n.clone() }, "")
                })?)),
            };
            let mut dense = Vec::new();
            for (&id, &i) in &by_id {
                if id < DENSE_IDS {
                    if dense.len() <= id as usize {
                        dense.resize(id as usize + 1, u32::MAX);
                    }
                    dense[id as usize] = u32::try_from(i).unwrap_or(u32::MAX);
                }
            }
            streams.push(StreamPlan {
                id: sc.id,
                pctx,
                pspec,
                header: hplan,
                hspec: hs,
                fast_header: sc
                    .event_header
                    .as_ref()
                    .and_then(|h| header::FastHeader::recognize(h, &regs)),
                classes,
                by_id,
                dense,
                clock,
            });
        }
        Ok(Self {
            trace,
            nregs,
            header,
            hspec,
            streams,
            strict_uuid: false,
        })
    }

    /// Makes a packet whose header `uuid` differs from the trace's an error
    /// ([`DecodeErrorKind::UuidMismatch`]) instead of a flag in [`PacketInfo`].
    pub fn set_strict_uuid(&mut self, on: bool) {
        self.strict_uuid = on;
    }

    /// The trace class the plans were compiled from.
    pub fn trace(&self) -> &Arc<TraceClass> {
        &self.trace
    }

    /// Metadata grew (same trace, more event or stream classes): recompile.
    /// Existing classes must be unchanged, so that stream decoders' pending
    /// rows stay valid.
    pub fn update(&mut self, trace: Arc<TraceClass>) -> Result<(), DecodeError> {
        let old = &self.trace;
        let compatible = old.packet_header == trace.packet_header
            && old.streams.len() <= trace.streams.len()
            && old.streams.iter().zip(&trace.streams).all(|(a, b)| {
                a.id == b.id
                    && a.packet_context == b.packet_context
                    && a.event_header == b.event_header
                    && a.event_context == b.event_context
                    && a.events.len() <= b.events.len()
                    && a.events.iter().zip(&b.events).all(|(x, y)| x == y)
            });
        if !compatible {
            return Err(DecodeError::plan(DecodeErrorKind::IncompatibleUpdate, ""));
        }
        let strict = self.strict_uuid;
        *self = Self::new(trace)?;
        self.strict_uuid = strict;
        Ok(())
    }

    /// A decoder for one data stream. `fallback_stream_id` is the envelope
    /// `stream_id` when packet headers carry no `stream_instance_id`.
    pub fn new_stream(&self, fallback_stream_id: u64) -> StreamDecoder {
        StreamDecoder::new(self, fallback_stream_id)
    }

    /// `cycles` of the clock that times stream class `stream_class` as
    /// absolute ns (what an lttng-live inactivity beacon carries); `None`
    /// for an unknown stream class or one without a clock.
    pub fn clock_ns(&self, stream_class: u64, cycles: u64) -> Option<i64> {
        let sp = self.streams.iter().find(|s| s.id == stream_class)?;
        sp.clock.map(|c| c.to_ns(cycles))
    }

    /// The Arrow schema of an event class (stream class id, event class id).
    pub fn schema(&self, stream_class: u64, event_class: u64) -> Option<SchemaRef> {
        let sp = self.streams.iter().find(|s| s.id == stream_class)?;
        let i = *sp.by_id.get(&event_class)?;
        sp.classes.get(i).map(|c| c.schema.clone())
    }
}
