//! babeltrace2's default text output (`sink.text.pretty`, 2.0.4, default
//! parameters, no colours), byte for byte.
//!
//! One event is one line:
//!
//! ```text
//! [19:32:00.714198479] (+?.?????????) line-endings lttng_ust_tracef:event: { cpu_id = 0 }, { _msg_length = 3, msg = "One" }
//! ```
//!
//! - `[HH:MM:SS.nnnnnnnnn] ` — the event's clock value as time of day
//!   (babeltrace2 uses local time: we print UTC, i.e. what `TZ=UTC
//!   babeltrace2` prints); no date. Only when the stream class has a default
//!   clock (see `layout::has_clock`); otherwise the line starts at the host
//!   part, with no `[...] (...)` at all.
//! - `(+S.nnnnnnnnn) ` — time since the previous printed timestamp, over all
//!   traces and streams (`(+?.?????????)` for the first). babeltrace2 keeps
//!   the difference in a `uint64_t`: a step back in time prints as a huge
//!   positive delta, and so do we.
//! - negative times: the first one prints as `-S.nnnnnnnnn` with a warning
//!   on stderr ([`PrettyFormatter::take_stderr`]); later ones print the
//!   time of day of the absolute value (babeltrace2's behaviour).
//! - the host part: env `hostname`, `procname` (strings) and `(vpid)`
//!   (integer), those present, joined by `:`, then a space.
//! - the event name, then `: ` (an empty name prints `<unknown>`). Loglevel
//!   and EMF URI are not printed by default.
//! - the scopes that babeltrace2 keeps (see `layout`): packet context,
//!   stream event context, event context, payload, separated by `, `, each
//!   as a struct with field names.
//!
//! Values: struct `{ a = 1, b = 2 }` (empty: `{ }`); array and sequence
//! `[ [0] = 1, [1] = 2 ]` (empty: `[ ]`); text arrays and sequences as
//! strings; variant `{ VALUE }` (the selected option's value, no name);
//! enum `( "LABEL" : container = 3 )`, several labels `( "A", "B" : ...)`,
//! none `( <unknown> : ...)`; integers per display base and floats as `%g`
//! (see `text`).

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampNanosecondType;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;

use super::FormatError;
use super::layout::{EventLayout, Member, Node, TS_COLUMN};
use super::text::{push_escaped, push_g, push_int, push_padded, push_radix, time_of_day};
use super::values::{float_at, int_at, list_at, str_at, struct_at};
use crate::metadata::TraceClass;

const NS_PER_S: i64 = 1_000_000_000;

/// Layouts kept before the cache is cleared (one per event class and trace).
const MAX_CACHED_LAYOUTS: usize = 4096;

/// babeltrace2 `sink.text.pretty` with default parameters.
///
/// Keeps the last printed timestamp (for the `(+delta)`), the "negative
/// time" warning state, and a layout per event class (keyed by the batch's
/// schema, which it holds so the key stays unique).
#[derive(Debug, Default)]
pub struct PrettyFormatter {
    last_ts: Option<i64>,
    negative_warned: bool,
    stderr: Vec<u8>,
    layouts: HashMap<(usize, u64, u64), (SchemaRef, Arc<EventLayout>)>,
}

/// A discarded-events or discarded-packets notice, as babeltrace2 gets it
/// from `src.ctf.fs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscardedNotice<'a> {
    /// The trace name: see [`trace_name`].
    pub trace_name: &'a str,
    /// The trace UUID, if the metadata has one.
    pub trace_uuid: Option<[u8; 16]>,
    /// The stream's path as babeltrace2 names it: the absolute path of the
    /// stream file (e.g. `/.../multi-domains/kernel/kernel_channel_0`).
    pub stream_path: &'a str,
    /// The stream class id.
    pub stream_class_id: u64,
    /// The stream id (`stream_instance_id`, or the reader's own numbering).
    pub stream_id: Option<u64>,
    /// How many were discarded; `None` prints "may have discarded".
    pub count: Option<u64>,
    /// Beginning and end (absolute ns) when the stream class has them
    /// (packet `timestamp_begin`/`timestamp_end`); `None` prints
    /// "(unknown time range)".
    pub range: Option<(i64, i64)>,
}

/// The trace name babeltrace2's `src.ctf.fs` gives a trace: env `hostname`
/// (when a string) and the trace directory relative to the common parent
/// of the input traces (empty when the trace itself was given), joined by
/// `/`; e.g. `joraj-alpa/kernel` for `babeltrace2 multi-domains`,
/// `joraj-alpa` for `babeltrace2 multi-domains/kernel`, `` when neither.
pub fn trace_name(trace: &TraceClass, relative_dir: &str) -> String {
    let host = trace.env_str("hostname").unwrap_or("");
    match (host.is_empty(), relative_dir.is_empty()) {
        (false, false) => format!("{host}/{relative_dir}"),
        (false, true) => host.to_string(),
        (true, _) => relative_dir.to_string(),
    }
}

impl PrettyFormatter {
    /// A formatter that has printed nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Text babeltrace2 would have written to stderr while printing events
    /// (the one-time negative-time fallback warning); drained by this call.
    pub fn take_stderr(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.stderr)
    }

    /// Appends the line (with `\n`) of event `row` of `batch`, an event of
    /// class `event_class_id` in stream class `stream_class_id` of `trace`.
    /// On error `out` is left as it was.
    pub fn write_event(
        &mut self,
        out: &mut Vec<u8>,
        trace: &TraceClass,
        stream_class_id: u64,
        event_class_id: u64,
        batch: &RecordBatch,
        row: usize,
    ) -> Result<(), FormatError> {
        if row >= batch.num_rows() {
            return Err(FormatError::RowOutOfRange { row, rows: batch.num_rows() });
        }
        let layout = self.layout(trace, stream_class_id, event_class_id, batch)?;
        let start = out.len();
        let last_ts = self.last_ts;
        let warned = self.negative_warned;
        let result = self.write_line(out, &layout, batch, row);
        if result.is_err() {
            out.truncate(start);
            self.last_ts = last_ts;
            self.negative_warned = warned;
        }
        result
    }

    /// Appends every row of `batch` (see [`Self::write_event`]).
    pub fn write_batch(
        &mut self,
        out: &mut Vec<u8>,
        trace: &TraceClass,
        stream_class_id: u64,
        event_class_id: u64,
        batch: &RecordBatch,
    ) -> Result<(), FormatError> {
        for row in 0..batch.num_rows() {
            self.write_event(out, trace, stream_class_id, event_class_id, batch, row)?;
        }
        Ok(())
    }

    /// Appends babeltrace2's discarded-events warning line. babeltrace2
    /// writes it to **stderr** (for Babeltrace 1 compatibility), so callers
    /// imitating it send `out` there:
    ///
    /// ```text
    /// WARNING: Tracer discarded 728 events between [19:16:02.352676346] and [19:16:33.426663981] in trace "joraj-alpa/kernel" (UUID: 830f2129-77d5-cb4e-90cf-b0754d8ce889) within stream "/path/kernel_channel_0" (stream class ID: 0, stream ID: 0).
    /// ```
    pub fn write_discarded_events(&mut self, out: &mut Vec<u8>, notice: &DiscardedNotice<'_>) {
        self.write_discarded(out, notice, "event");
    }

    /// Appends babeltrace2's discarded-packets warning line (to stderr too;
    /// same shape as [`Self::write_discarded_events`] with `packet(s)`).
    pub fn write_discarded_packets(&mut self, out: &mut Vec<u8>, notice: &DiscardedNotice<'_>) {
        self.write_discarded(out, notice, "packet");
    }

    fn write_discarded(&mut self, out: &mut Vec<u8>, n: &DiscardedNotice<'_>, what: &str) {
        match n.count {
            Some(count) => {
                out.extend_from_slice(b"WARNING: Tracer discarded ");
                push_radix(out, count, 10);
                out.push(b' ');
                out.extend_from_slice(what.as_bytes());
                if count != 1 {
                    out.push(b's');
                }
            }
            None => {
                out.extend_from_slice(b"WARNING: Tracer may have discarded ");
                out.extend_from_slice(what.as_bytes());
                out.push(b's');
            }
        }
        out.push(b' ');
        match n.range {
            Some((begin, end)) => {
                out.extend_from_slice(b"between [");
                self.push_wall(out, begin);
                out.extend_from_slice(b"] and [");
                self.push_wall(out, end);
                out.push(b']');
            }
            None => out.extend_from_slice(b"(unknown time range)"),
        }
        out.extend_from_slice(b" in trace \"");
        out.extend_from_slice(n.trace_name.as_bytes());
        out.extend_from_slice(b"\" ");
        match n.trace_uuid {
            Some(u) => {
                out.extend_from_slice(b"(UUID: ");
                push_uuid(out, &u);
                out.extend_from_slice(b") ");
            }
            None => out.extend_from_slice(b"(no UUID) "),
        }
        out.extend_from_slice(b"within stream \"");
        out.extend_from_slice(n.stream_path.as_bytes());
        out.extend_from_slice(b"\" (stream class ID: ");
        push_radix(out, n.stream_class_id, 10);
        out.extend_from_slice(b", ");
        match n.stream_id {
            Some(id) => {
                out.extend_from_slice(b"stream ID: ");
                push_radix(out, id, 10);
            }
            None => out.extend_from_slice(b"no stream ID"),
        }
        out.extend_from_slice(b").\n");
    }

    fn layout(
        &mut self,
        trace: &TraceClass,
        sc: u64,
        ec: u64,
        batch: &RecordBatch,
    ) -> Result<Arc<EventLayout>, FormatError> {
        let schema = batch.schema();
        let key = (Arc::as_ptr(&schema) as *const () as usize, sc, ec);
        if let Some((held, layout)) = self.layouts.get(&key)
            && Arc::ptr_eq(held, &schema)
        {
            return Ok(Arc::clone(layout));
        }
        let layout = Arc::new(EventLayout::build(trace, sc, ec, schema.fields())?);
        if self.layouts.len() >= MAX_CACHED_LAYOUTS {
            self.layouts.clear();
        }
        self.layouts.insert(key, (schema, Arc::clone(&layout)));
        Ok(layout)
    }

    fn write_line(
        &mut self,
        out: &mut Vec<u8>,
        layout: &EventLayout,
        batch: &RecordBatch,
        row: usize,
    ) -> Result<(), FormatError> {
        if layout.has_clock {
            let ts = batch
                .column(TS_COLUMN)
                .as_primitive_opt::<TimestampNanosecondType>()
                .ok_or_else(|| FormatError::ColumnType {
                    event: layout.name.clone(),
                    field: "ts".to_string(),
                    expected: "Timestamp(ns)",
                    found: batch.column(TS_COLUMN).data_type().clone(),
                })?
                .value(row);
            out.push(b'[');
            self.push_wall(out, ts);
            out.extend_from_slice(b"] (");
            match self.last_ts {
                Some(last) => {
                    // babeltrace2: `uint64_t delta = ts - last`.
                    let delta = ts.wrapping_sub(last) as u64;
                    out.push(b'+');
                    push_radix(out, delta / NS_PER_S as u64, 10);
                    out.push(b'.');
                    push_padded(out, delta % NS_PER_S as u64, 9);
                }
                None => out.extend_from_slice(b"+?.?????????"),
            }
            out.extend_from_slice(b") ");
            self.last_ts = Some(ts);
        }
        if !layout.host.is_empty() {
            out.extend_from_slice(layout.host.as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(layout.name.as_bytes());
        out.extend_from_slice(b": ");
        for (i, members) in layout.scopes.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            write_struct(out, members, batch.columns(), row)?;
        }
        out.push(b'\n');
        Ok(())
    }

    /// `print_timestamp_wall`: `HH:MM:SS.nnnnnnnnn` of `ns` since the epoch.
    fn push_wall(&mut self, out: &mut Vec<u8>, ns: i64) {
        // C division truncates: both parts carry the sign of `ns`.
        let sec_abs = (ns / NS_PER_S).unsigned_abs();
        let nsec_abs = (ns % NS_PER_S).unsigned_abs();
        if ns < 0 && !self.negative_warned {
            self.negative_warned = true;
            self.stderr.extend_from_slice(
                b"[warning] Fallback to [sec.ns] to print negative time value. Use --clock-seconds.\n",
            );
            out.push(b'-');
            push_radix(out, sec_abs, 10);
            out.push(b'.');
            push_padded(out, nsec_abs, 9);
            return;
        }
        let (h, m, s) = time_of_day(sec_abs);
        push_padded(out, h, 2);
        out.push(b':');
        push_padded(out, m, 2);
        out.push(b':');
        push_padded(out, s, 2);
        out.push(b'.');
        push_padded(out, nsec_abs, 9);
    }
}

/// `8-4-4-4-12` lowercase hex.
pub(crate) fn push_uuid(out: &mut Vec<u8>, u: &[u8; 16]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in u.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push(b'-');
        }
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0xF)]);
    }
}

/// `{ name = value, ... }`, `{ }` when empty.
fn write_struct(
    out: &mut Vec<u8>,
    members: &[Member],
    columns: &[ArrayRef],
    index: usize,
) -> Result<(), FormatError> {
    out.push(b'{');
    for (i, m) in members.iter().enumerate() {
        out.extend_from_slice(if i == 0 { b" " } else { b", " });
        out.extend_from_slice(m.name.as_bytes());
        out.extend_from_slice(b" = ");
        let arr = columns.get(m.col).ok_or_else(|| FormatError::NullValue {
            field: m.name.clone(),
            index,
        })?;
        write_value(out, &m.node, arr.as_ref(), index, &m.name)?;
    }
    out.extend_from_slice(b" }");
    Ok(())
}

fn write_value(
    out: &mut Vec<u8>,
    node: &Node,
    arr: &dyn Array,
    index: usize,
    name: &str,
) -> Result<(), FormatError> {
    match node {
        Node::Int(f) => push_int(out, int_at(arr, index, name)?, *f),
        Node::Enum { int, ty, wrapped } => {
            let v = if *wrapped {
                let s = struct_at(arr, index, name)?;
                int_at(s.column(1).as_ref(), index, name)?
            } else {
                int_at(arr, index, name)?
            };
            out.extend_from_slice(b"( ");
            // One label per mapping (babeltrace2 merges same-label ranges
            // into one mapping), in declaration order.
            let mut printed: Vec<&str> = Vec::new();
            for label in ty.labels_of(v) {
                if printed.contains(&label) {
                    continue;
                }
                if !printed.is_empty() {
                    out.extend_from_slice(b", ");
                }
                push_escaped(out, label.as_bytes());
                printed.push(label);
            }
            if printed.is_empty() {
                out.extend_from_slice(b"<unknown>");
            }
            out.extend_from_slice(b" : container = ");
            push_int(out, v, *int);
            out.extend_from_slice(b" )");
        }
        Node::Float => push_g(out, float_at(arr, index, name)?),
        Node::Str => push_escaped(out, str_at(arr, index, name)?.as_bytes()),
        Node::Struct(members) => {
            let s = struct_at(arr, index, name)?;
            write_struct(out, members, s.columns(), index)?;
        }
        Node::List(elem) => {
            let (values, range) = list_at(arr, index, name)?;
            out.push(b'[');
            for (i, at) in range.enumerate() {
                out.extend_from_slice(if i == 0 { b" [" } else { b", [" });
                push_radix(out, i as u64, 10);
                out.extend_from_slice(b"] = ");
                write_value(out, elem, values.as_ref(), at, name)?;
            }
            out.extend_from_slice(b" ]");
        }
        Node::Variant(options) => {
            let s = struct_at(arr, index, name)?;
            let selected = options
                .iter()
                .zip(s.columns())
                .find(|(_, child)| child.is_valid(index))
                .ok_or_else(|| FormatError::NoVariantOption { field: name.to_string(), index })?;
            out.extend_from_slice(b"{ ");
            write_value(out, selected.0, selected.1.as_ref(), index, name)?;
            out.extend_from_slice(b" }");
        }
    }
    Ok(())
}
