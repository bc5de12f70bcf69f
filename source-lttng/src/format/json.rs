//! JSON lines: one object per event, mirroring the Arrow columns, so that
//! what a user sees with `trawl cat --json` is what the Parquet tables and
//! SQL queries hold.
//!
//! Shape of one line (keys in column order, no spaces):
//!
//! ```text
//! {"ts":1434085020916580091,"time":"2015-06-12T04:57:00.916580091Z","host":"raton","domain":"ust","stream_id":0,"cpu":0,"event":"my_app:temp","vtid":12,"status":"OK","status_value":1,"data":{"a":1,"b":[1,2]}}
//! ```
//!
//! - `ts`: the event time, integer ns since the Unix epoch (clock offset
//!   applied); `time`: the same as RFC 3339 UTC with 9 fractional digits.
//!   Both are `null` when the stream class has no clock.
//! - `host`, `domain`, `stream_id`, `cpu` (`null` when unknown), `event`:
//!   the other envelope columns.
//! - every other column under its Arrow name: integers as JSON integers
//!   (exact, including 64-bit values), floats as JSON numbers (shortest
//!   round-trip form; NaN and infinities as `null`), strings (text arrays
//!   included) as JSON strings, structs as objects, arrays and sequences as
//!   arrays, a null as `null`.
//! - an enum in a column or struct member is two keys, as in Arrow: `name`
//!   (the first matching label, `null` if none) and `name_value` (the
//!   integer); an enum elsewhere (array element, variant option) is
//!   `{"label":..., "value":...}`.
//! - a variant is an object holding only its selected option (the null
//!   options of its Arrow struct are left out; this is the only place a
//!   struct member is ever null).

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, TimestampNanosecondType,
    UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, SchemaRef};

use super::FormatError;
use super::layout::{TS_COLUMN, has_clock};
use super::notice::{DiscardedNotice, push_uuid};
use super::text::{civil_from_days, push_i64, push_padded, push_radix, time_of_day};
use crate::metadata::TraceClass;
use trawl_core::envelope;

/// Layout cache bound (see [`super::PrettyFormatter`]).
const MAX_CACHED: usize = 4096;

/// One JSON object per line per event; see the module documentation for
/// the exact shape.
#[derive(Debug, Default)]
pub struct JsonFormatter {
    /// Whether the stream class has a clock, per batch schema.
    clocked: HashMap<usize, (SchemaRef, bool)>,
}

impl JsonFormatter {
    /// A new formatter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the JSON line (with `\n`) of event `row` of `batch`, an event
    /// of `trace`. On error `out` is left as it was.
    ///
    /// The stream class is found by the event class name (schema metadata
    /// `trawl.event`, else the `event` column): `ts`/`time` are `null` when
    /// no stream class holding an event class of that name has a clock.
    pub fn write_event(
        &mut self,
        out: &mut Vec<u8>,
        trace: &TraceClass,
        batch: &RecordBatch,
        row: usize,
    ) -> Result<(), FormatError> {
        if row >= batch.num_rows() {
            return Err(FormatError::RowOutOfRange {
                row,
                rows: batch.num_rows(),
            });
        }
        let clocked = self.clocked(trace, batch, row);
        let start = out.len();
        let result = write_row(out, batch, row, clocked);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// Appends every row of `batch`.
    pub fn write_batch(
        &mut self,
        out: &mut Vec<u8>,
        trace: &TraceClass,
        batch: &RecordBatch,
    ) -> Result<(), FormatError> {
        for row in 0..batch.num_rows() {
            self.write_event(out, trace, batch, row)?;
        }
        Ok(())
    }

    /// Appends every row of `batch` without the trace class, as a pipeline
    /// sink sees events: `ts`/`time` are written from the `ts` column as it
    /// is, so an event of a stream class without a clock has `"ts":0`
    /// (that column's value, see [`crate::decode`]) where
    /// [`Self::write_batch`] writes `null`. Otherwise the same lines.
    pub fn write_batch_as_stored(
        &mut self,
        out: &mut Vec<u8>,
        batch: &RecordBatch,
    ) -> Result<(), FormatError> {
        let start = out.len();
        for row in 0..batch.num_rows() {
            if let Err(e) = write_row(out, batch, row, true) {
                out.truncate(start);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Appends a discarded-events line:
    /// `{"discarded":"events","count":728,"from_ts":..,"to_ts":..,"trace":"..","trace_uuid":"..","stream":"..","stream_class_id":0,"stream_id":0}`
    /// (`count`, `from_ts`/`to_ts`, `trace_uuid`, `stream_id` are `null`
    /// when unknown).
    pub fn write_discarded_events(&mut self, out: &mut Vec<u8>, notice: &DiscardedNotice<'_>) {
        write_discarded(out, notice, "events");
    }

    /// Appends a discarded-packets line (`"discarded":"packets"`, otherwise
    /// as [`Self::write_discarded_events`]).
    pub fn write_discarded_packets(&mut self, out: &mut Vec<u8>, notice: &DiscardedNotice<'_>) {
        write_discarded(out, notice, "packets");
    }

    fn clocked(&mut self, trace: &TraceClass, batch: &RecordBatch, row: usize) -> bool {
        let schema = batch.schema();
        let key = Arc::as_ptr(&schema) as *const () as usize;
        if let Some((held, c)) = self.clocked.get(&key)
            && Arc::ptr_eq(held, &schema)
        {
            return *c;
        }
        let name = match schema.metadata().get(envelope::META_EVENT) {
            Some(n) => n.clone(),
            None => event_column(batch, row).unwrap_or_default(),
        };
        let c = trace
            .streams
            .iter()
            .filter(|s| s.events.iter().any(|e| e.name == name))
            .any(|s| has_clock(trace, s));
        if self.clocked.len() >= MAX_CACHED {
            self.clocked.clear();
        }
        self.clocked.insert(key, (schema, c));
        c
    }
}

/// The `event` envelope column's value at `row`.
fn event_column(batch: &RecordBatch, row: usize) -> Option<String> {
    let col = batch.column_by_name(envelope::EVENT)?;
    let d = col.as_dictionary_opt::<Int32Type>()?;
    let key = usize::try_from(d.keys().value(row)).ok()?;
    let values = d.values().as_string_opt::<i32>()?;
    (key < values.len()).then(|| values.value(key).to_string())
}

fn write_discarded(out: &mut Vec<u8>, n: &DiscardedNotice<'_>, what: &str) {
    out.extend_from_slice(b"{\"discarded\":\"");
    out.extend_from_slice(what.as_bytes());
    out.extend_from_slice(b"\",\"count\":");
    match n.count {
        Some(c) => push_radix(out, c, 10),
        None => out.extend_from_slice(b"null"),
    }
    match n.range {
        Some((a, b)) => {
            out.extend_from_slice(b",\"from_ts\":");
            push_i64(out, a);
            out.extend_from_slice(b",\"to_ts\":");
            push_i64(out, b);
        }
        None => out.extend_from_slice(b",\"from_ts\":null,\"to_ts\":null"),
    }
    out.extend_from_slice(b",\"trace\":");
    push_json_str(out, n.trace_name);
    out.extend_from_slice(b",\"trace_uuid\":");
    match n.trace_uuid {
        Some(u) => {
            out.push(b'"');
            push_uuid(out, &u);
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"stream\":");
    push_json_str(out, n.stream_path);
    out.extend_from_slice(b",\"stream_class_id\":");
    push_radix(out, n.stream_class_id, 10);
    out.extend_from_slice(b",\"stream_id\":");
    match n.stream_id {
        Some(id) => push_radix(out, id, 10),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b"}\n");
}

fn write_row(
    out: &mut Vec<u8>,
    batch: &RecordBatch,
    row: usize,
    clocked: bool,
) -> Result<(), FormatError> {
    let schema = batch.schema();
    out.push(b'{');
    for (i, (field, col)) in schema.fields().iter().zip(batch.columns()).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_json_str(out, field.name());
        out.push(b':');
        if i == TS_COLUMN {
            let ts = col
                .as_primitive_opt::<TimestampNanosecondType>()
                .ok_or_else(|| FormatError::ColumnType {
                    event: String::new(),
                    field: field.name().clone(),
                    expected: "Timestamp(ns)",
                    found: col.data_type().clone(),
                })?;
            if clocked && ts.is_valid(row) {
                let ns = ts.value(row);
                push_i64(out, ns);
                out.extend_from_slice(b",\"time\":\"");
                push_rfc3339(out, ns);
                out.push(b'"');
            } else {
                out.extend_from_slice(b"null,\"time\":null");
            }
            continue;
        }
        write_json_value(out, col.as_ref(), row, field.name())?;
    }
    out.extend_from_slice(b"}\n");
    Ok(())
}

/// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` (UTC).
fn push_rfc3339(out: &mut Vec<u8>, ns: i64) {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000).unsigned_abs();
    let days = secs.div_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = time_of_day(secs.rem_euclid(86_400).unsigned_abs());
    if y < 0 {
        out.push(b'-');
    }
    push_padded(out, y.unsigned_abs(), 4);
    out.push(b'-');
    push_padded(out, u64::from(m), 2);
    out.push(b'-');
    push_padded(out, u64::from(d), 2);
    out.push(b'T');
    push_padded(out, hh, 2);
    out.push(b':');
    push_padded(out, mm, 2);
    out.push(b':');
    push_padded(out, ss, 2);
    out.push(b'.');
    push_padded(out, frac, 9);
    out.push(b'Z');
}

/// A JSON string literal.
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0C => out.extend_from_slice(b"\\f"),
            0x00..=0x1F => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xF)]);
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

fn push_float(out: &mut Vec<u8>, v: f64, f32_width: bool) {
    if !v.is_finite() {
        out.extend_from_slice(b"null");
    } else if f32_width {
        out.extend_from_slice(format!("{}", v as f32).as_bytes());
    } else {
        out.extend_from_slice(format!("{v}").as_bytes());
    }
}

fn write_json_value(
    out: &mut Vec<u8>,
    arr: &dyn Array,
    i: usize,
    name: &str,
) -> Result<(), FormatError> {
    if arr.is_null(i) {
        out.extend_from_slice(b"null");
        return Ok(());
    }
    match arr.data_type() {
        DataType::Int8 => push_i64(out, i64::from(arr.as_primitive::<Int8Type>().value(i))),
        DataType::Int16 => push_i64(out, i64::from(arr.as_primitive::<Int16Type>().value(i))),
        DataType::Int32 => push_i64(out, i64::from(arr.as_primitive::<Int32Type>().value(i))),
        DataType::Int64 => push_i64(out, arr.as_primitive::<Int64Type>().value(i)),
        DataType::UInt8 => push_radix(out, u64::from(arr.as_primitive::<UInt8Type>().value(i)), 10),
        DataType::UInt16 => push_radix(
            out,
            u64::from(arr.as_primitive::<UInt16Type>().value(i)),
            10,
        ),
        DataType::UInt32 => push_radix(
            out,
            u64::from(arr.as_primitive::<UInt32Type>().value(i)),
            10,
        ),
        DataType::UInt64 => push_radix(out, arr.as_primitive::<UInt64Type>().value(i), 10),
        DataType::Float32 => push_float(
            out,
            f64::from(arr.as_primitive::<Float32Type>().value(i)),
            true,
        ),
        DataType::Float64 => push_float(out, arr.as_primitive::<Float64Type>().value(i), false),
        DataType::Utf8 => push_json_str(out, arr.as_string::<i32>().value(i)),
        DataType::Dictionary(_, _) => {
            // The contract's dictionaries have Int32 keys.
            let Some(d) = arr.as_dictionary_opt::<Int32Type>() else {
                return Err(unsupported(name, arr));
            };
            let key = usize::try_from(d.keys().value(i)).unwrap_or(usize::MAX);
            if key >= d.values().len() {
                return Err(unsupported(name, arr));
            }
            write_json_value(out, d.values().as_ref(), key, name)?;
        }
        DataType::Struct(fields) => {
            let s = arr.as_struct();
            out.push(b'{');
            let mut first = true;
            for (field, child) in fields.iter().zip(s.columns()) {
                if child.is_null(i) {
                    continue;
                }
                if !first {
                    out.push(b',');
                }
                first = false;
                push_json_str(out, field.name());
                out.push(b':');
                write_json_value(out, child.as_ref(), i, field.name())?;
            }
            out.push(b'}');
        }
        DataType::List(_) | DataType::FixedSizeList(_, _) => {
            let (values, range) = super::values::list_at(arr, i, name)?;
            out.push(b'[');
            for (k, at) in range.enumerate() {
                if k > 0 {
                    out.push(b',');
                }
                write_json_value(out, values.as_ref(), at, name)?;
            }
            out.push(b']');
        }
        _ => return Err(unsupported(name, arr)),
    }
    Ok(())
}

fn unsupported(name: &str, arr: &dyn Array) -> FormatError {
    FormatError::ColumnType {
        event: String::new(),
        field: name.to_string(),
        expected: "a type of the Arrow mapping contract",
        found: arr.data_type().clone(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::builder::StringDictionaryBuilder;
    use arrow_array::types::Int32Type;
    use arrow_array::{
        ArrayRef, Float32Array, Int32Array, ListArray, StringArray, StructArray, UInt64Array,
    };
    use arrow_buffer::OffsetBuffer;
    use arrow_schema::{DataType, Fields};

    use super::*;
    use crate::format::test_util::*;
    use crate::metadata::{Encoding, FieldType};

    fn json_line(trace: &TraceClass, b: &RecordBatch) -> String {
        let mut out = Vec::new();
        JsonFormatter::new()
            .write_event(&mut out, trace, b, 0)
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn envelope_columns_and_nested_values() {
        let t = trace(&[], lttng_stream(None, vec![event(0, "e", None)]));
        let mut labels = StringDictionaryBuilder::<Int32Type>::new();
        labels.append_value("OK");
        let item = Arc::new(af("item", DataType::Int32));
        let list = ListArray::new(
            Arc::clone(&item),
            OffsetBuffer::new(vec![0, 2].into()),
            Arc::new(Int32Array::from(vec![1, -2])),
            None,
        );
        let var_fields = Fields::from(vec![af("a", DataType::Utf8), af("b", DataType::UInt64)]);
        let var = StructArray::new(
            var_fields.clone(),
            vec![
                Arc::new(StringArray::from(vec![None::<&str>])) as ArrayRef,
                Arc::new(UInt64Array::from(vec![u64::MAX])),
            ],
            None,
        );
        let b = batch(
            "e",
            &[at(4, 57, 0, 916_580_091)],
            &[Some(3)],
            vec![
                (
                    af("msg", DataType::Utf8),
                    Arc::new(StringArray::from(vec!["a\"b\n\u{1}é"])) as ArrayRef,
                ),
                (
                    af(
                        "status",
                        DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                    ),
                    Arc::new(labels.finish()),
                ),
                (
                    af("status_value", DataType::Int32),
                    Arc::new(Int32Array::from(vec![1])),
                ),
                (af("l", DataType::List(item)), Arc::new(list)),
                (af("v", DataType::Struct(var_fields)), Arc::new(var)),
                (
                    af("f", DataType::Float32),
                    Arc::new(Float32Array::from(vec![0.1f32])),
                ),
                (
                    af("nan", DataType::Float32),
                    Arc::new(Float32Array::from(vec![f32::NAN])),
                ),
            ],
        );
        assert_eq!(
            json_line(&t, &b),
            "{\"ts\":1434085020916580091,\"time\":\"2015-06-12T04:57:00.916580091Z\",\"host\":\"h\",\"domain\":\"h\",\"stream_id\":0,\"cpu\":3,\"event\":\"e\",\"msg\":\"a\\\"b\\n\\u0001é\",\"status\":\"OK\",\"status_value\":1,\"l\":[1,-2],\"v\":{\"b\":18446744073709551615},\"f\":0.1,\"nan\":null}\n"
        );
    }

    #[test]
    fn no_clock_means_null_time() {
        let payload = st(vec![f("s", FieldType::String(Encoding::Utf8))]);
        let t = trace(&[], bare_stream(vec![event(0, "e", Some(payload))]));
        let b = batch(
            "e",
            &[0],
            &[None],
            vec![(
                af("s", DataType::Utf8),
                Arc::new(StringArray::from(vec!["x"])) as ArrayRef,
            )],
        );
        assert_eq!(
            json_line(&t, &b),
            "{\"ts\":null,\"time\":null,\"host\":\"h\",\"domain\":\"h\",\"stream_id\":0,\"cpu\":null,\"event\":\"e\",\"s\":\"x\"}\n"
        );
    }

    #[test]
    fn rfc3339_before_the_epoch() {
        let mut out = Vec::new();
        push_rfc3339(&mut out, -1);
        assert_eq!(out, b"1969-12-31T23:59:59.999999999Z");
    }
}
