//! babeltrace2's default text output (`sink.text.pretty`, 2.0.4, default
//! parameters, no colours), byte for byte.
//!
//! One event is one line:
//!
//! ```text
//! [19:32:00.714198479] (+?.?????????) line-endings lttng_ust_tracef:event: { cpu_id = 0 }, { _msg_length = 3, msg = "One" }
//! ```
//!
//! - `[HH:MM:SS.nnnnnnnnn] ` — the event's clock value as time of day, in
//!   UTC by default or in the local time zone (`TZ`) with
//!   [`PrettyFormatter::local_time`], as babeltrace2 prints it; no date. Only when the stream class has a default
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
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, SchemaRef};

use super::FormatError;
use super::layout::{EventLayout, TS_COLUMN};
use super::notice::{DiscardedNotice, write_notice};
use super::render::write_struct;
use super::text::{push_padded, push_radix, time_of_day};
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
    /// Local time instead of UTC, with the last UTC offset looked up.
    local: Option<OffsetCache>,
}

/// The local UTC offset of the last quarter hour looked up: zone changes
/// fall on quarter hours, and events come in time order, so one lookup
/// serves millions of events.
#[derive(Debug, Clone, Copy)]
struct OffsetCache {
    quarter: i64,
    offset_s: i64,
}

impl OffsetCache {
    const QUARTER_S: i64 = 900;

    fn offset(&mut self, secs: i64) -> i64 {
        let quarter = secs.div_euclid(Self::QUARTER_S);
        if quarter != self.quarter {
            use chrono::{Local, Offset, TimeZone};
            self.quarter = quarter;
            self.offset_s = Local
                .timestamp_opt(quarter * Self::QUARTER_S, 0)
                .earliest()
                .map_or(0, |t| i64::from(t.offset().fix().local_minus_utc()));
        }
        self.offset_s
    }
}

impl PrettyFormatter {
    /// A formatter that has printed nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Print times of day in the local time zone (the `TZ` environment
    /// variable, else the system's), as babeltrace2 does, instead of UTC.
    pub fn local_time(mut self) -> Self {
        self.local = Some(OffsetCache {
            quarter: i64::MIN,
            offset_s: 0,
        });
        self
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
            return Err(FormatError::RowOutOfRange {
                row,
                rows: batch.num_rows(),
            });
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
    /// imitating it send `out` there. It comes at the beginning of the
    /// packet that reports the loss, before the discarded-packets line of
    /// the same packet, with the range `[previous packet end, this packet
    /// end]` (packets: `[previous packet end, this packet begin]`):
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
        write_notice(out, n, what, &mut |o, ns| self.push_wall(o, ns));
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
            let ts_col = batch.columns().get(TS_COLUMN);
            let ts = ts_col
                .and_then(|c| c.as_primitive_opt::<TimestampNanosecondType>())
                .ok_or_else(|| FormatError::ColumnType {
                    event: layout.name.clone(),
                    field: "ts".to_string(),
                    expected: "Timestamp(ns)",
                    found: ts_col.map_or(DataType::Null, |c| c.data_type().clone()),
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
        let secs = match &mut self.local {
            // Non-negative here, and an offset is at most a day.
            Some(cache) => sec_abs.saturating_add_signed(cache.offset(ns / NS_PER_S)),
            None => sec_abs,
        };
        let (h, m, s) = time_of_day(secs);
        push_padded(out, h, 2);
        out.push(b':');
        push_padded(out, m, 2);
        out.push(b':');
        push_padded(out, s, 2);
        out.push(b'.');
        push_padded(out, nsec_abs, 9);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::builder::StringDictionaryBuilder;
    use arrow_array::types::Int32Type;
    use arrow_array::{
        ArrayRef, FixedSizeListArray, Int32Array, Int64Array, ListArray, StringArray, StructArray,
        UInt8Array, UInt64Array,
    };
    use arrow_buffer::OffsetBuffer;
    use arrow_schema::{DataType, Fields};

    use super::*;
    use crate::format::test_util::*;
    use crate::metadata::{
        ArrayType, EnvValue, FieldPath, FieldType, Scope, SequenceType, StructType, VariantType,
    };

    fn line(
        f: &mut PrettyFormatter,
        trace: &TraceClass,
        batch: &RecordBatch,
        row: usize,
    ) -> String {
        let mut out = Vec::new();
        f.write_event(&mut out, trace, 0, 0, batch, row).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn labels(values: &[Option<&str>]) -> ArrayRef {
        let mut b = StringDictionaryBuilder::<Int32Type>::new();
        for v in values {
            b.append_option(*v);
        }
        Arc::new(b.finish())
    }

    fn dict_type() -> DataType {
        DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
    }

    /// crlf-metadata: clock, hostname, `cpu_id` from the envelope, a
    /// `__msg_length` that prints as `_msg_length`, and the deltas.
    #[test]
    fn crlf_metadata_lines() {
        let payload = st(vec![
            f("__msg_length", int(32, false, 10)),
            f("_msg", FieldType::String(crate::metadata::Encoding::Utf8)),
        ]);
        let t = trace(
            &[("hostname", s("line-endings"))],
            lttng_stream(
                None,
                vec![event(0, "lttng_ust_tracef:event", Some(payload))],
            ),
        );
        let b = batch(
            "lttng_ust_tracef:event",
            &[at(19, 32, 0, 714_198_479), at(19, 32, 1, 714_368_484)],
            &[Some(0), Some(0)],
            vec![
                (
                    af("_msg_length", DataType::UInt32),
                    Arc::new(arrow_array::UInt32Array::from(vec![3, 3])) as ArrayRef,
                ),
                (
                    af("msg", DataType::Utf8),
                    Arc::new(StringArray::from(vec!["One", "Two"])),
                ),
            ],
        );
        let mut p = PrettyFormatter::new();
        assert_eq!(
            line(&mut p, &t, &b, 0),
            "[19:32:00.714198479] (+?.?????????) line-endings lttng_ust_tracef:event: { cpu_id = 0 }, { _msg_length = 3, msg = \"One\" }\n"
        );
        assert_eq!(
            line(&mut p, &t, &b, 1),
            "[19:32:01.714368484] (+1.000170005) line-endings lttng_ust_tracef:event: { cpu_id = 0 }, { _msg_length = 3, msg = \"Two\" }\n"
        );
    }

    /// debug-info: hexadecimal stream event context member.
    #[test]
    fn debug_info_hex_context() {
        let ctx = st(vec![
            f("_vpid", int(32, true, 10)),
            f("_ip", int(64, false, 16)),
        ]);
        let payload = st(vec![
            f(
                "_my_string_field",
                FieldType::String(crate::metadata::Encoding::Utf8),
            ),
            f("_my_integer_field", int(32, true, 10)),
        ]);
        let t = trace(
            &[("hostname", s("raton"))],
            lttng_stream(
                Some(ctx),
                vec![event(0, "my_provider:my_first_tracepoint", Some(payload))],
            ),
        );
        let b = batch(
            "my_provider:my_first_tracepoint",
            &[at(14, 9, 41, 351_812_195)],
            &[Some(0)],
            vec![
                (
                    af("vpid", DataType::Int32),
                    Arc::new(Int32Array::from(vec![9746])) as ArrayRef,
                ),
                (
                    af("ip", DataType::UInt64),
                    Arc::new(UInt64Array::from(vec![0x7F09_B7F9_A349u64])),
                ),
                (
                    af("my_string_field", DataType::Utf8),
                    Arc::new(StringArray::from(vec!["hello, tracer"])),
                ),
                (
                    af("my_integer_field", DataType::Int32),
                    Arc::new(Int32Array::from(vec![42])),
                ),
            ],
        );
        assert_eq!(
            line(&mut PrettyFormatter::new(), &t, &b, 0),
            "[14:09:41.351812195] (+?.?????????) raton my_provider:my_first_tracepoint: { cpu_id = 0 }, { vpid = 9746, ip = 0x7F09B7F9A349 }, { my_string_field = \"hello, tracer\", my_integer_field = 42 }\n"
        );
    }

    /// meta-variant-one-underscore: no clock, no packet context, a tagged
    /// variant prints only the selected value.
    #[test]
    fn meta_variant_prints_selected_value() {
        let tag = enum_ty(&[("COSSETTE", 0, 0), ("PELCHAT", 1, 1), ("_VOISINE", 2, 2)]);
        let str_ty = FieldType::String(crate::metadata::Encoding::Utf8);
        let var = FieldType::Variant(VariantType {
            tag: FieldPath {
                scope: Scope::EventPayload,
                indexes: vec![0],
            },
            options: vec![
                f("COSSETTE", str_ty.clone()),
                f("PELCHAT", str_ty.clone()),
                f("_VOISINE", str_ty),
            ],
        });
        let t = trace(
            &[],
            bare_stream(vec![event(
                0,
                "yo",
                Some(st(vec![f("tag", tag), f("var", var)])),
            )]),
        );
        let options = Fields::from(vec![
            af("COSSETTE", DataType::Utf8),
            af("PELCHAT", DataType::Utf8),
            af("VOISINE", DataType::Utf8),
        ]);
        let var_arr = StructArray::new(
            options.clone(),
            vec![
                Arc::new(StringArray::from(vec![None::<&str>])) as ArrayRef,
                Arc::new(StringArray::from(vec![Some("Daniel Lavoie")])),
                Arc::new(StringArray::from(vec![None::<&str>])),
            ],
            None,
        );
        let b = batch(
            "yo",
            &[0],
            &[None],
            vec![
                (af("tag", dict_type()), labels(&[Some("PELCHAT")])),
                (
                    af("tag_value", DataType::Int32),
                    Arc::new(Int32Array::from(vec![1])),
                ),
                (af("var", DataType::Struct(options)), Arc::new(var_arr)),
            ],
        );
        assert_eq!(
            line(&mut PrettyFormatter::new(), &t, &b, 0),
            "yo: { tag = ( \"PELCHAT\" : container = 1 ), var = { \"Daniel Lavoie\" } }\n"
        );
    }

    /// Enums with no label and with two labels.
    #[test]
    fn enum_unknown_and_several_labels() {
        let e = enum_ty(&[("A", 0, 5), ("B", 3, 9), ("A", 20, 20)]);
        let t = trace(
            &[],
            bare_stream(vec![event(0, "e", Some(st(vec![f("x", e)])))]),
        );
        let b = batch(
            "e",
            &[0, 0, 0],
            &[None, None, None],
            vec![
                (af("x", dict_type()), labels(&[None, Some("A"), Some("A")])),
                (
                    af("x_value", DataType::Int32),
                    Arc::new(Int32Array::from(vec![-7, 4, 20])),
                ),
            ],
        );
        let mut p = PrettyFormatter::new();
        assert_eq!(
            line(&mut p, &t, &b, 0),
            "e: { x = ( <unknown> : container = -7 ) }\n"
        );
        assert_eq!(
            line(&mut p, &t, &b, 1),
            "e: { x = ( \"A\", \"B\" : container = 4 ) }\n"
        );
        assert_eq!(
            line(&mut p, &t, &b, 2),
            "e: { x = ( \"A\" : container = 20 ) }\n"
        );
    }

    /// sequence: a sequence of signed ints and its `_length`; plus the
    /// struct-array-align-elem shape (nested struct with an empty array).
    #[test]
    fn sequences_arrays_and_nested_structs() {
        let payload = st(vec![
            f("__len", int(8, false, 10)),
            f(
                "_seq",
                FieldType::Sequence(SequenceType {
                    element: Box::new(int(32, true, 10)),
                    length: FieldPath {
                        scope: Scope::EventPayload,
                        indexes: vec![0],
                    },
                }),
            ),
            f(
                "y",
                FieldType::Struct(st(vec![
                    f("a", int(8, false, 10)),
                    f(
                        "b",
                        FieldType::Array(ArrayType {
                            element: Box::new(int(8, false, 10)),
                            length: 0,
                        }),
                    ),
                ])),
            ),
        ]);
        let t = trace(&[], bare_stream(vec![event(0, "ev", Some(payload))]));
        let item = Arc::new(af("item", DataType::Int32));
        let seq = ListArray::new(
            Arc::clone(&item),
            OffsetBuffer::new(vec![0, 3, 3].into()),
            Arc::new(Int32Array::from(vec![-1, -2, -3])),
            None,
        );
        let b_item = Arc::new(af("item", DataType::UInt8));
        let empty = FixedSizeListArray::try_new_with_length(
            Arc::clone(&b_item),
            0,
            Arc::new(UInt8Array::from(Vec::<u8>::new())),
            None,
            2,
        )
        .unwrap();
        let y_fields = Fields::from(vec![
            af("a", DataType::UInt8),
            af("b", DataType::FixedSizeList(b_item, 0)),
        ]);
        let y = StructArray::new(
            y_fields.clone(),
            vec![
                Arc::new(UInt8Array::from(vec![5, 6])) as ArrayRef,
                Arc::new(empty),
            ],
            None,
        );
        let b = batch(
            "ev",
            &[0, 0],
            &[None, None],
            vec![
                (
                    af("_len", DataType::UInt8),
                    Arc::new(UInt8Array::from(vec![3, 0])) as ArrayRef,
                ),
                (af("seq", DataType::List(item)), Arc::new(seq)),
                (af("y", DataType::Struct(y_fields)), Arc::new(y)),
            ],
        );
        let mut p = PrettyFormatter::new();
        assert_eq!(
            line(&mut p, &t, &b, 0),
            "ev: { _len = 3, seq = [ [0] = -1, [1] = -2, [2] = -3 ], y = { a = 5, b = [ ] } }\n"
        );
        assert_eq!(
            line(&mut p, &t, &b, 1),
            "ev: { _len = 0, seq = [ ], y = { a = 6, b = [ ] } }\n"
        );
    }

    /// session-rotation / wk-heartbeat-u: host part from hostname, procname
    /// and vpid; an empty payload prints `{ }`.
    #[test]
    fn host_part_and_empty_payload() {
        let env = [
            ("hostname", s("smarchi-efficios")),
            ("procname", s("hello-ust")),
            ("vpid", EnvValue::Int(10352)),
        ];
        let t = trace(
            &env,
            lttng_stream(
                None,
                vec![event(
                    0,
                    "lttng_ust_statedump:start",
                    Some(StructType::default()),
                )],
            ),
        );
        let b = batch(
            "lttng_ust_statedump:start",
            &[at(19, 57, 48, 350_556_750)],
            &[Some(2)],
            vec![],
        );
        assert_eq!(
            line(&mut PrettyFormatter::new(), &t, &b, 0),
            "[19:57:48.350556750] (+?.?????????) smarchi-efficios:hello-ust:(10352) lttng_ust_statedump:start: { cpu_id = 2 }, { }\n"
        );
        let env = [
            ("vpid", EnvValue::Int(3208)),
            ("procname", s("wk-heartbeat")),
        ];
        let t = trace(
            &env,
            lttng_stream(None, vec![event(0, "heartbeat:msg", None)]),
        );
        let b = batch(
            "heartbeat:msg",
            &[at(17, 48, 17, 586_558_519)],
            &[Some(2)],
            vec![],
        );
        assert_eq!(
            line(&mut PrettyFormatter::new(), &t, &b, 0),
            "[17:48:17.586558519] (+?.?????????) wk-heartbeat:(3208) heartbeat:msg: { cpu_id = 2 }\n"
        );
    }

    /// An integer mapped to a clock does not print (but has its column);
    /// a struct left with no member disappears; a scope with only such
    /// members disappears with its separator.
    #[test]
    fn clock_mapped_integers_do_not_print() {
        let ctx = st(vec![f("ts2", clock_int(64))]);
        let payload = st(vec![
            f("a", int(8, false, 10)),
            f("when", clock_int(64)),
            f("inner", FieldType::Struct(st(vec![f("t", clock_int(64))]))),
        ]);
        let mut ec = event(0, "ev", Some(payload));
        ec.context = Some(ctx);
        let t = trace(&[], lttng_stream(None, vec![ec]));
        let inner_fields = Fields::from(vec![af("t", DataType::UInt64)]);
        let inner = StructArray::new(
            inner_fields.clone(),
            vec![Arc::new(UInt64Array::from(vec![1u64])) as ArrayRef],
            None,
        );
        let b = batch(
            "ev",
            &[at(0, 0, 1, 0)],
            &[Some(1)],
            vec![
                (
                    af("ts2", DataType::UInt64),
                    Arc::new(UInt64Array::from(vec![5u64])) as ArrayRef,
                ),
                (
                    af("a", DataType::UInt8),
                    Arc::new(UInt8Array::from(vec![7])),
                ),
                (
                    af("when", DataType::UInt64),
                    Arc::new(UInt64Array::from(vec![9u64])),
                ),
                (af("inner", DataType::Struct(inner_fields)), Arc::new(inner)),
            ],
        );
        assert_eq!(
            line(&mut PrettyFormatter::new(), &t, &b, 0),
            "[00:00:01.000000000] (+?.?????????) ev: { cpu_id = 1 }, { a = 7 }\n"
        );
    }

    /// Deltas are unsigned (a step back wraps) and negative times fall back
    /// to seconds once, with a warning on stderr.
    #[test]
    fn negative_delta_and_negative_time() {
        let t = trace(&[], lttng_stream(None, vec![event(0, "e", None)]));
        let b = batch(
            "e",
            &[2_000_000_000, 1_000_000_000, -1_500_000_000, -1_500_000_000],
            &[Some(0); 4],
            vec![],
        );
        let mut p = PrettyFormatter::new();
        line(&mut p, &t, &b, 0);
        assert_eq!(
            line(&mut p, &t, &b, 1),
            "[00:00:01.000000000] (+18446744072.709551616) e: { cpu_id = 0 }\n"
        );
        assert_eq!(
            line(&mut p, &t, &b, 2),
            "[-1.500000000] (+18446744071.209551616) e: { cpu_id = 0 }\n"
        );
        assert_eq!(
            line(&mut p, &t, &b, 3),
            "[00:00:01.500000000] (+0.000000000) e: { cpu_id = 0 }\n"
        );
        assert_eq!(
            p.take_stderr(),
            b"[warning] Fallback to [sec.ns] to print negative time value. Use --clock-seconds.\n"
        );
    }

    /// Wrapped enums (array elements) and floats.
    #[test]
    fn enum_elements_and_floats() {
        let payload = st(vec![
            f(
                "e",
                FieldType::Array(ArrayType {
                    element: Box::new(enum_ty(&[("Z", 0, 0)])),
                    length: 2,
                }),
            ),
            f(
                "d",
                FieldType::Float(crate::metadata::FloatType {
                    exp_dig: 11,
                    mant_dig: 53,
                    align: 8,
                    byte_order: crate::metadata::ByteOrder::Little,
                }),
            ),
        ]);
        let t = trace(&[], bare_stream(vec![event(0, "ev", Some(payload))]));
        let elem_fields =
            Fields::from(vec![af("label", dict_type()), af("value", DataType::Int32)]);
        let elems = StructArray::new(
            elem_fields.clone(),
            vec![
                labels(&[Some("Z"), None]),
                Arc::new(Int32Array::from(vec![0, 1])),
            ],
            None,
        );
        let item = Arc::new(af("item", DataType::Struct(elem_fields)));
        let list = FixedSizeListArray::new(Arc::clone(&item), 2, Arc::new(elems), None);
        let b = batch(
            "ev",
            &[0],
            &[None],
            vec![
                (
                    af("e", DataType::FixedSizeList(item, 2)),
                    Arc::new(list) as ArrayRef,
                ),
                (
                    af("d", DataType::Float64),
                    Arc::new(arrow_array::Float64Array::from(vec![0.1])),
                ),
            ],
        );
        assert_eq!(
            line(&mut PrettyFormatter::new(), &t, &b, 0),
            "ev: { e = [ [0] = ( \"Z\" : container = 0 ), [1] = ( <unknown> : container = 1 ) ], d = 0.1 }\n"
        );
    }

    /// A batch that does not follow the contract is an error, `out` untouched.
    #[test]
    fn contract_violations_are_errors() {
        let t = trace(
            &[],
            bare_stream(vec![event(
                0,
                "ev",
                Some(st(vec![f("a", int(8, false, 10))])),
            )]),
        );
        let b = batch(
            "ev",
            &[0],
            &[None],
            vec![(
                af("a", DataType::Utf8),
                Arc::new(StringArray::from(vec!["x"])) as ArrayRef,
            )],
        );
        let mut out = b"keep".to_vec();
        let err = PrettyFormatter::new()
            .write_event(&mut out, &t, 0, 0, &b, 0)
            .unwrap_err();
        assert!(matches!(err, FormatError::ColumnType { .. }), "{err}");
        assert_eq!(out, b"keep");
        let b = batch("ev", &[0], &[None], vec![]);
        let err = PrettyFormatter::new()
            .write_event(&mut out, &t, 0, 0, &b, 0)
            .unwrap_err();
        assert!(
            matches!(err, FormatError::MissingColumn { column: 6, .. }),
            "{err}"
        );
        let err = PrettyFormatter::new()
            .write_event(&mut out, &t, 0, 9, &b, 0)
            .unwrap_err();
        assert_eq!(
            err,
            FormatError::UnknownEventClass {
                stream_class_id: 0,
                id: 9
            }
        );
        let err = PrettyFormatter::new()
            .write_event(&mut out, &t, 0, 0, &b, 1)
            .unwrap_err();
        assert_eq!(err, FormatError::RowOutOfRange { row: 1, rows: 1 });
        let _ = Int64Array::from(vec![0i64]);
    }
}
