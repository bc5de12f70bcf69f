//! Hand-built trace classes and batches for the formatter tests, following
//! the Arrow mapping contract (until the parser and decoder land, and to pin
//! exact corner cases). Expected lines come from `TZ=UTC babeltrace2` on the
//! conformance traces named in each test.

use std::sync::Arc;

use arrow_array::builder::StringDictionaryBuilder;
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, RecordBatch, TimestampNanosecondArray, UInt32Array, UInt64Array};
use arrow_schema::{DataType, Field as ArrowField};

use crate::metadata::{
    ByteOrder, ClockClass, Encoding, EnvValue, EventClass, Field, FieldType, IntegerType,
    StreamClass, StructType, TraceClass,
};

/// An integer type.
pub(crate) fn int_ty(size: u32, signed: bool, base: u32) -> IntegerType {
    IntegerType {
        size,
        align: 8,
        signed,
        byte_order: ByteOrder::Little,
        base,
        encoding: Encoding::None,
        mapped_clock: None,
    }
}

/// An integer field type.
pub(crate) fn int(size: u32, signed: bool, base: u32) -> FieldType {
    FieldType::Integer(int_ty(size, signed, base))
}

/// An integer mapped to clock `monotonic`.
pub(crate) fn clock_int(size: u32) -> FieldType {
    let mut i = int_ty(size, false, 10);
    i.mapped_clock = Some("monotonic".into());
    FieldType::Integer(i)
}

/// An enum over a 32-bit signed container.
pub(crate) fn enum_ty(mappings: &[(&str, i128, i128)]) -> FieldType {
    crate::decode::testing::enum_t(int_ty(32, true, 10), mappings)
}

/// A named field.
pub(crate) fn f(name: &str, ty: FieldType) -> Field {
    Field {
        name: name.into(),
        ty,
    }
}

/// A struct type.
pub(crate) fn st(fields: Vec<Field>) -> StructType {
    StructType {
        fields,
        min_align: 1,
    }
}

/// LTTng's packet context (`cpu_id` last).
pub(crate) fn lttng_packet_context() -> StructType {
    st(vec![
        f("timestamp_begin", clock_int(64)),
        f("timestamp_end", clock_int(64)),
        f("content_size", int(64, false, 10)),
        f("packet_size", int(64, false, 10)),
        f("packet_seq_num", int(64, false, 10)),
        f("events_discarded", int(64, false, 10)),
        f("cpu_id", int(32, false, 10)),
    ])
}

/// A clocked stream class 0 (LTTng packet context, event header with a
/// mapped timestamp) with an optional stream event context.
pub(crate) fn lttng_stream(
    event_context: Option<StructType>,
    events: Vec<EventClass>,
) -> StreamClass {
    StreamClass {
        id: 0,
        packet_context: Some(lttng_packet_context()),
        event_header: Some(st(vec![
            f("id", int(16, false, 10)),
            f("timestamp", clock_int(64)),
        ])),
        event_context,
        events,
    }
}

/// A bare stream class 0: no packet context, no clock.
pub(crate) fn bare_stream(events: Vec<EventClass>) -> StreamClass {
    StreamClass {
        id: 0,
        packet_context: None,
        event_header: None,
        event_context: None,
        events,
    }
}

/// Event class `id` with a payload.
pub(crate) fn event(id: u64, name: &str, payload: Option<StructType>) -> EventClass {
    EventClass {
        id,
        name: name.into(),
        stream_id: 0,
        loglevel: None,
        model_emf_uri: None,
        context: None,
        payload,
    }
}

/// A trace class with one stream class, the given env and a `monotonic`
/// clock.
pub(crate) fn trace(env: &[(&str, EnvValue)], stream: StreamClass) -> TraceClass {
    TraceClass {
        major: 1,
        minor: 8,
        uuid: None,
        byte_order: ByteOrder::Little,
        packet_header: None,
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        clocks: vec![ClockClass {
            name: "monotonic".into(),
            uuid: None,
            description: None,
            freq: 1_000_000_000,
            precision: 0,
            offset_s: 0,
            offset: 0,
            absolute: false,
        }],
        streams: vec![stream],
        warnings: Vec::new(),
    }
}

/// A string env value.
pub(crate) fn s(v: &str) -> EnvValue {
    EnvValue::Str(v.into())
}

/// Nanoseconds of `HH:MM:SS.nnnnnnnnn` on 2015-06-12 (any day works: only
/// the time of day prints).
pub(crate) fn at(h: i64, m: i64, sec: i64, ns: i64) -> i64 {
    const DAY: i64 = 16_598; // 2015-06-12
    ((DAY * 86_400 + h * 3600 + m * 60 + sec) * 1_000_000_000) + ns
}

fn dict(values: &[&str]) -> ArrayRef {
    let mut b = StringDictionaryBuilder::<Int32Type>::new();
    for v in values {
        b.append_value(v);
    }
    Arc::new(b.finish())
}

/// A batch: the envelope (ts, cpu per row) then `rest`.
pub(crate) fn batch(
    event: &str,
    ts: &[i64],
    cpu: &[Option<u32>],
    rest: Vec<(ArrowField, ArrayRef)>,
) -> RecordBatch {
    let n = ts.len();
    let names = vec![event; n];
    let hosts = vec!["h"; n];
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(TimestampNanosecondArray::from(ts.to_vec()).with_timezone("UTC")),
        dict(&hosts),
        dict(&hosts),
        Arc::new(UInt64Array::from(vec![0u64; n])),
        Arc::new(UInt32Array::from(cpu.to_vec())),
        dict(&names),
    ];
    let mut fields = Vec::new();
    for (field, col) in rest {
        fields.push(field);
        columns.push(col);
    }
    let schema = trawl_core::envelope::schema_with_metadata(fields, event, "h", "ust", "");
    RecordBatch::try_new(schema, columns).unwrap()
}

/// A nullable Arrow field.
pub(crate) fn af(name: &str, dt: DataType) -> ArrowField {
    ArrowField::new(name, dt, true)
}
