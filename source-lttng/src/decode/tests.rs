//! Decoder tests over hand-assembled packets (see `testing`).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, UInt32Type, UInt64Type};
use arrow_array::{Array, RecordBatch};

use super::testing::*;
use super::*;
use crate::metadata::{
    ArrayType, ByteOrder, FieldPath, FieldType, FloatType, IntegerType, Scope, SequenceType,
    StructType, TraceClass, VariantType,
};

fn decode_all(trace: TraceClass, data: &[u8]) -> (Vec<PacketInfo>, DecodedEvents) {
    let dec = TraceDecoder::new(Arc::new(trace)).unwrap();
    let mut s = dec.new_stream(99);
    s.set_track_order(true);
    let mut infos = Vec::new();
    let mut off = 0usize;
    while off < data.len() {
        let info = s.decode_packet(&dec, &data[off..], off as u64).unwrap();
        off += info.packet_size as usize;
        infos.push(info);
    }
    (infos, s.take(&dec).unwrap())
}

fn col<'a>(b: &'a RecordBatch, name: &str) -> &'a Arc<dyn Array> {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name} in {:?}", b.schema()))
}

fn u64s(b: &RecordBatch, name: &str) -> Vec<u64> {
    col(b, name).as_primitive::<UInt64Type>().values().to_vec()
}

fn ts(b: &RecordBatch) -> Vec<i64> {
    col(b, "ts")
        .as_primitive::<arrow_array::types::TimestampNanosecondType>()
        .values()
        .to_vec()
}

fn strs(b: &RecordBatch, name: &str) -> Vec<Option<String>> {
    col(b, name)
        .as_string::<i32>()
        .iter()
        .map(|s| s.map(str::to_string))
        .collect()
}

const OFF: i64 = 1_700_000_000_000_000_000;

#[test]
fn large_header_compact_and_extended_events() {
    let trace = ust_like_trace(true, vec![malloc_event(0), malloc_event(70_000)]);
    let mut a = Asm::new(ByteOrder::Little);
    open_lttng_packet(&mut a, 0x1_0000_0000, 0x1_0000_2000, 0, 0, 3);
    // Compact event: 32-bit timestamp above the low bits of ts_begin.
    ust_event_large(&mut a, 0, 0x10, 42, "app");
    a.u64(16); // size
    a.u64(0xdead); // ptr
    // Extended event: id 65535, then u32 id and u64 timestamp.
    a.u16(65535); // id = extended
    a.u32(70_000); // v.extended.id
    a.u64(0x1_0000_1000); // v.extended.timestamp
    a.u32(42); // vpid
    a.u32(43); // vtid
    a.bytes(&[b'x'; 17]); // procname, no NUL: all 17 bytes
    a.u64(32); // size
    a.u64(0xbeef); // ptr
    let data = close_lttng_packet(&mut a, 256);
    let (infos, ev) = decode_all(trace, &data);
    assert_eq!(infos.len(), 1);
    let info = &infos[0];
    assert_eq!(info.packet_size, 256);
    assert_eq!(info.events, 2);
    assert_eq!(info.cpu_id, Some(3));
    assert_eq!(info.stream_instance_id, Some(7));
    assert_eq!(info.ts_begin, Some(OFF + 0x1_0000_0000));
    assert_eq!(ev.batches.len(), 2);
    assert_eq!(ev.event_class_ids, vec![0, 70_000]);
    let b0 = &ev.batches[0];
    assert_eq!(ts(b0), vec![OFF + 0x1_0000_0010]);
    assert_eq!(u64s(b0, "size"), vec![16]);
    assert_eq!(u64s(b0, "ptr"), vec![0xdead]);
    assert_eq!(u64s(b0, "stream_id"), vec![7]);
    assert_eq!(col(b0, "cpu").as_primitive::<UInt32Type>().value(0), 3);
    assert_eq!(
        col(b0, "vpid")
            .as_primitive::<Int32Type>()
            .values()
            .to_vec(),
        vec![42]
    );
    assert_eq!(strs(b0, "procname"), vec![Some("app".into())]);
    let b1 = &ev.batches[1];
    assert_eq!(ts(b1), vec![OFF + 0x1_0000_1000]);
    assert_eq!(strs(b1, "procname"), vec![Some("x".repeat(17))]);
    assert_eq!(ev.order, vec![(0, 0), (1, 0)]);
    let names: Vec<_> = b0
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(
        names,
        [
            "ts",
            "host",
            "domain",
            "stream_id",
            "cpu",
            "event",
            "vpid",
            "vtid",
            "procname",
            "size",
            "ptr"
        ]
    );
    assert_eq!(
        b0.schema().metadata()["trawl.trace_uuid"],
        "7472-6177-6c2d-...".replace("7472-6177-6c2d-...", &{
            let h: String = UUID.iter().map(|b| format!("{b:02x}")).collect();
            format!(
                "{}-{}-{}-{}-{}",
                &h[0..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..]
            )
        })
    );
}

#[test]
fn compact_header_27_bit_timestamp_wraps_once() {
    let trace = ust_like_trace(false, vec![malloc_event(1)]);
    let begin: u64 = (5 << 27) | 0x7ff_fff0;
    let mut a = Asm::new(ByteOrder::Little);
    open_lttng_packet(&mut a, begin, begin + 100, 0, 0, 0);
    for low in [0x7ff_fff8u64, 0x10] {
        a.align(8);
        a.int(5, 1); // id (5-bit bitfield)
        a.int(27, low); // v.compact.timestamp (27-bit bitfield)
        a.u32(1); // vpid
        a.u32(2); // vtid
        a.bytes(&[0; 17]); // procname
        a.u64(1); // size
        a.u64(2); // ptr
    }
    let data = close_lttng_packet(&mut a, 0);
    let (_, ev) = decode_all(trace, &data);
    let t = ts(&ev.batches[0]);
    assert_eq!(
        t,
        vec![OFF + ((5 << 27) | 0x7ff_fff8), OFF + ((6 << 27) | 0x10)]
    );
}

fn simple_trace(payload: Vec<crate::metadata::Field>) -> TraceClass {
    let mut t = ust_like_trace(true, vec![event(0, "ev", payload)]);
    t.packet_header = None;
    t.uuid = None;
    t.streams[0].packet_context = None;
    t.streams[0].event_header = None;
    t.streams[0].event_context = None;
    t
}

#[test]
fn bitfields_and_big_endian_fields_in_a_little_endian_trace() {
    let be16 = FieldType::Integer(IntegerType {
        byte_order: ByteOrder::Big,
        ..int_t(16, 8, false)
    });
    let trace = simple_trace(vec![
        field("a", FieldType::Integer(int_t(3, 1, false))),
        field("b", FieldType::Integer(int_t(7, 1, true))),
        field("c", FieldType::Integer(int_t(6, 1, false))),
        field("d", be16),
        field(
            "e",
            FieldType::Integer(IntegerType {
                byte_order: ByteOrder::Big,
                ..int_t(12, 1, false)
            }),
        ),
        field("f", FieldType::Integer(int_t(4, 1, false))),
    ]);
    let mut a = Asm::new(ByteOrder::Little);
    a.int(3, 5); // a
    a.int(7, 0x7f); // b = -1
    a.int(6, 0x2a); // c
    a.u16(0); // placeholder replaced below
    let mut a = Asm::new(ByteOrder::Little);
    a.int(3, 5).int(7, 0x7f).int(6, 0x2a); // a, b, c
    a.int_bo(16, 0x1234, ByteOrder::Big); // d
    a.int_bo(12, 0xabc, ByteOrder::Big); // e
    a.int_bo(4, 0x9, ByteOrder::Big); // f: same byte as e's end, so follows e's (BE) bit order
    let data = a.finish();
    let (_, ev) = decode_all(trace, &data);
    let b = &ev.batches[0];
    assert_eq!(
        col(b, "a")
            .as_primitive::<arrow_array::types::UInt8Type>()
            .value(0),
        5
    );
    assert_eq!(
        col(b, "b")
            .as_primitive::<arrow_array::types::Int8Type>()
            .value(0),
        -1
    );
    assert_eq!(
        col(b, "c")
            .as_primitive::<arrow_array::types::UInt8Type>()
            .value(0),
        0x2a
    );
    assert_eq!(
        col(b, "d")
            .as_primitive::<arrow_array::types::UInt16Type>()
            .value(0),
        0x1234
    );
    assert_eq!(
        col(b, "e")
            .as_primitive::<arrow_array::types::UInt16Type>()
            .value(0),
        0xabc
    );
    assert_eq!(b.num_rows(), 1);
}

#[test]
fn sequences_variants_enums_floats_strings_nested() {
    let len_path = FieldPath {
        scope: Scope::EventPayload,
        indexes: vec![0],
    };
    let tag_path = FieldPath {
        scope: Scope::EventPayload,
        indexes: vec![2],
    };
    let e8 = int_t(8, 8, false);
    let trace = simple_trace(vec![
        field("_n", uint(8)),
        field(
            "_seq",
            FieldType::Sequence(SequenceType {
                element: Box::new(sint(16)),
                length: len_path.clone(),
            }),
        ),
        field(
            "_tag",
            enum_t(e8.clone(), &[("_A", 0, 0), ("B", 1, 1), ("C", 2, 2)]),
        ),
        field(
            "_var",
            FieldType::Variant(VariantType {
                tag: tag_path,
                options: vec![
                    field("_A", FieldType::String(crate::metadata::Encoding::Utf8)),
                    field("B", uint(32)),
                    field("C", FieldType::Struct(StructType::default())),
                ],
            }),
        ),
        field(
            "f32",
            FieldType::Float(FloatType {
                exp_dig: 8,
                mant_dig: 24,
                align: 8,
                byte_order: ByteOrder::Little,
            }),
        ),
        field(
            "f64",
            FieldType::Float(FloatType {
                exp_dig: 11,
                mant_dig: 53,
                align: 8,
                byte_order: ByteOrder::Little,
            }),
        ),
        field(
            "nested",
            FieldType::Struct(struct_t(vec![
                field("_x", uint(8)),
                field("_e", enum_t(e8.clone(), &[("one", 1, 1)])),
                field(
                    "_arr",
                    FieldType::Array(ArrayType {
                        element: Box::new(enum_t(e8, &[("one", 1, 1)])),
                        length: 2,
                    }),
                ),
            ])),
        ),
        field(
            "txtseq",
            FieldType::Sequence(SequenceType {
                element: Box::new(text_array(1).clone_element()),
                length: len_path,
            }),
        ),
    ]);
    let mut a = Asm::new(ByteOrder::Little);
    // Event 1: tag A (string option).
    a.u8(2); // n
    a.u16(0xffff).u16(7); // seq = [-1, 7]
    a.u8(0); // tag = _A
    a.string("hé"); // var._A
    a.f32(1.5); // f32
    a.f64(-2.25); // f64
    a.u8(9).u8(1); // nested.x, nested.e = one
    a.u8(1).u8(5); // nested.arr = [one, 5 (no label)]
    a.bytes(b"ok"); // txtseq (n = 2 bytes)
    // Event 2: tag B.
    a.u8(0); // n
    a.u8(1); // tag = B
    a.u32(77); // var.B
    a.f32(0.0).f64(0.0); // floats
    a.u8(0).u8(3).u8(0).u8(0); // nested
    let data = a.finish();
    let (_, ev) = decode_all(trace, &data);
    let b = &ev.batches[0];
    assert_eq!(b.num_rows(), 2);
    let seq = col(b, "seq").as_list::<i32>();
    assert_eq!(
        seq.value(0)
            .as_primitive::<arrow_array::types::Int16Type>()
            .values()
            .to_vec(),
        vec![-1, 7]
    );
    assert_eq!(seq.value(1).len(), 0);
    let tag = col(b, "tag").as_dictionary::<Int32Type>();
    let labels = tag.values().as_string::<i32>();
    assert_eq!(labels.value(tag.keys().value(0) as usize), "_A");
    assert_eq!(
        col(b, "tag_value")
            .as_primitive::<arrow_array::types::UInt8Type>()
            .values()
            .to_vec(),
        vec![0, 1]
    );
    let var = col(b, "var").as_struct();
    assert_eq!(var.num_columns(), 3);
    assert_eq!(var.fields()[0].name(), "A");
    assert_eq!(var.column(0).as_string::<i32>().value(0), "hé");
    assert!(var.column(0).is_null(1));
    assert!(var.column(1).is_null(0));
    assert_eq!(var.column(1).as_primitive::<UInt32Type>().value(1), 77);
    assert_eq!(
        col(b, "f32")
            .as_primitive::<arrow_array::types::Float32Type>()
            .value(0),
        1.5
    );
    assert_eq!(
        col(b, "f64")
            .as_primitive::<arrow_array::types::Float64Type>()
            .value(0),
        -2.25
    );
    let nested = col(b, "nested").as_struct();
    let names: Vec<_> = nested.fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["x", "e", "e_value", "arr"]);
    assert!(nested.column(1).is_null(1)); // 3 has no label
    let arr = nested.column(3).as_fixed_size_list();
    let first = arr.value(0);
    let items = first.as_struct();
    assert!(items.column(0).is_null(1));
    assert_eq!(strs(b, "txtseq"), vec![Some("ok".into()), Some("".into())]);
}

trait CloneElement {
    fn clone_element(&self) -> FieldType;
}
impl CloneElement for FieldType {
    fn clone_element(&self) -> FieldType {
        match self {
            FieldType::Array(a) => (*a.element).clone(),
            t => t.clone(),
        }
    }
}

#[test]
fn losses_from_events_discarded_and_packet_seq_num() {
    let trace = ust_like_trace(true, vec![malloc_event(0)]);
    let mut data = Vec::new();
    for (seq, disc) in [(0u64, 2u64), (1, 2), (4, 9)] {
        let mut a = Asm::new(ByteOrder::Little);
        open_lttng_packet(&mut a, 10, 20, seq, disc, 0);
        data.extend(close_lttng_packet(&mut a, 128));
    }
    let (infos, _) = decode_all(trace, &data);
    let lost: Vec<_> = infos
        .iter()
        .map(|i| (i.events_discarded, i.packets_lost))
        .collect();
    assert_eq!(lost, vec![(Some(2), 0), (Some(0), 0), (Some(7), 2)]);
}

#[test]
fn corrupt_packets_name_offset_and_field() {
    let trace = Arc::new(ust_like_trace(true, vec![malloc_event(0)]));
    let mut dec = TraceDecoder::new(trace.clone()).unwrap();
    dec.set_strict_uuid(true);
    let mut a = Asm::new(ByteOrder::Little);
    open_lttng_packet(&mut a, 10, 20, 0, 0, 0);
    ust_event_large(&mut a, 0, 11, 1, "a");
    a.u64(1).u64(2);
    ust_event_large(&mut a, 0, 12, 1, "a");
    a.u64(1); // ptr missing: truncated by content_size
    let good = close_lttng_packet(&mut a, 200);

    // Bad magic.
    let mut bad = good.clone();
    bad[0] ^= 1;
    let e = dec
        .new_stream(0)
        .decode_packet(&dec, &bad, 1000)
        .unwrap_err();
    assert!(matches!(e.kind, DecodeErrorKind::BadMagic { .. }), "{e}");
    assert_eq!(e.offset, 1000);

    // Field beyond content: the second event's `ptr`, row rolled back.
    let mut s = dec.new_stream(0);
    let e = s.decode_packet(&dec, &good, 1000).unwrap_err();
    assert!(
        matches!(e.kind, DecodeErrorKind::FieldBeyondContent { .. }),
        "{e}"
    );
    assert!(e.path.contains("payload field `_ptr`"), "{}", e.path);
    assert_eq!(e.next_packet, Some(1200));
    // 84 (header+context) + 47 (first event) + 31 (second header+contexts) + 8 (size).
    assert_eq!(e.offset, 1000 + 84 + 47 + 31 + 8, "{e}");
    assert_eq!(s.rows_pending(), 1);
    let ev = s.take(&dec).unwrap();
    assert_eq!(ev.batches[0].num_rows(), 1);

    // Packet size beyond the data.
    let e = dec
        .new_stream(0)
        .decode_packet(&dec, &good[..150], 0)
        .unwrap_err();
    assert!(
        matches!(e.kind, DecodeErrorKind::PacketBeyondData { .. }),
        "{e}"
    );

    // Uuid mismatch.
    let mut bad = good.clone();
    bad[5] ^= 1;
    let e = dec.new_stream(0).decode_packet(&dec, &bad, 0).unwrap_err();
    assert!(
        matches!(e.kind, DecodeErrorKind::UuidMismatch { .. }),
        "{e}"
    );

    // Unknown event id.
    let mut bad = good.clone();
    bad[84] = 9;
    let e = dec.new_stream(0).decode_packet(&dec, &bad, 0).unwrap_err();
    assert!(
        matches!(e.kind, DecodeErrorKind::UnknownEventClass { id: 9, .. }),
        "{e}"
    );

    // Every prefix and every single-byte corruption: errors, never panics.
    for n in 0..good.len() {
        let _ = dec.new_stream(0).decode_packet(&dec, &good[..n], 0);
        let mut c = good.clone();
        c[n] = c[n].wrapping_add(0x55);
        let mut s = dec.new_stream(0);
        let _ = s.decode_packet(&dec, &c, 0);
        let _ = s.take(&dec).unwrap();
    }
}

#[test]
fn huge_sequence_length_is_rejected_before_allocating() {
    let len_path = FieldPath {
        scope: Scope::EventPayload,
        indexes: vec![0],
    };
    let trace = simple_trace(vec![
        field("n", uint(64)),
        field(
            "s",
            FieldType::Sequence(SequenceType {
                element: Box::new(FieldType::Struct(StructType::default())),
                length: len_path,
            }),
        ),
    ]);
    let dec = TraceDecoder::new(Arc::new(trace)).unwrap();
    let mut a = Asm::new(ByteOrder::Little);
    a.u64(u64::MAX); // n
    let e = dec
        .new_stream(0)
        .decode_packet(&dec, &a.finish(), 0)
        .unwrap_err();
    assert!(
        matches!(e.kind, DecodeErrorKind::LengthTooLarge { .. }),
        "{e}"
    );
}

#[test]
fn name_collisions_get_scope_prefixes() {
    let mut trace = ust_like_trace(
        true,
        vec![event(
            0,
            "ev",
            vec![field("_vpid", uint(8)), field("cpu", uint(8))],
        )],
    );
    trace.streams[0]
        .packet_context
        .as_mut()
        .unwrap()
        .fields
        .push(field("extra", uint(8)));
    let dec = TraceDecoder::new(Arc::new(trace)).unwrap();
    let s = dec.schema(0, 0).unwrap();
    let names: Vec<_> = s
        .fields()
        .iter()
        .skip(6)
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(
        names,
        [
            "extra",
            "vpid",
            "vtid",
            "procname",
            "payload_vpid",
            "payload_cpu"
        ]
    );
}

#[test]
fn bench_stream_decodes() {
    let (trace, data) = ust_like_stream(3, 50);
    let (infos, ev) = decode_all(trace, &data);
    assert_eq!(infos.len(), 3);
    assert_eq!(ev.batches[0].num_rows(), 150);
}

#[test]
fn update_adds_event_classes_and_keeps_pending_rows() {
    let mut dec = TraceDecoder::new(Arc::new(ust_like_trace(true, vec![malloc_event(0)]))).unwrap();
    let mut s = dec.new_stream(0);
    let packet = |id: u16| {
        let mut a = Asm::new(ByteOrder::Little);
        open_lttng_packet(&mut a, 10, 20, 0, 0, 0);
        ust_event_large(&mut a, id, 11, 1, "a");
        a.u64(1).u64(2); // size, ptr
        close_lttng_packet(&mut a, 0)
    };
    s.decode_packet(&dec, &packet(0), 0).unwrap();
    let e = s.decode_packet(&dec, &packet(1), 0).unwrap_err();
    assert!(matches!(
        e.kind,
        DecodeErrorKind::UnknownEventClass { id: 1, .. }
    ));
    dec.update(Arc::new(ust_like_trace(
        true,
        vec![malloc_event(0), malloc_event(1)],
    )))
    .unwrap();
    s.decode_packet(&dec, &packet(1), 0).unwrap();
    let ev = s.take(&dec).unwrap();
    assert_eq!(ev.event_class_ids, vec![0, 1]);
    // Changing an existing class is refused.
    let mut changed = ust_like_trace(true, vec![malloc_event(0), malloc_event(1)]);
    changed.streams[0].events[0].name = "other".into();
    let e = dec.update(Arc::new(changed)).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::IncompatibleUpdate);
}

#[test]
fn trace_without_clock_has_zero_timestamps_and_fallback_stream_id() {
    let trace = simple_trace(vec![field("x", uint(8))]);
    let (_, ev) = decode_all(trace, &[1, 2, 3]);
    let b = &ev.batches[0];
    assert_eq!(ts(b), vec![0, 0, 0]);
    assert_eq!(u64s(b, "stream_id"), vec![99, 99, 99]);
    assert!(col(b, "cpu").is_null(0));
}

#[test]
fn decode_error_stays_small() {
    // Errors travel inside the trace-directory and pipeline error enums.
    assert!(std::mem::size_of::<DecodeError>() <= 72);
}

/// The native LTTng header path and the general plan decode the same
/// packets to the same rows: compact and extended events, both header
/// layouts, clock wraps.
#[test]
fn fast_header_agrees_with_the_general_plan() {
    for large in [true, false] {
        let trace = Arc::new(ust_like_trace(
            large,
            vec![malloc_event(1), malloc_event(40)],
        ));
        let mut a = Asm::new(ByteOrder::Little);
        let begin: u64 = (5 << 27) | 0x7ff_fff0;
        open_lttng_packet(&mut a, begin, begin + (1 << 28), 0, 0, 0);
        for (i, low) in [0x7ff_fff8u64, 0x10, 0x20].into_iter().enumerate() {
            a.align(8);
            if i == 1 {
                // extended: id 31 (compact) or 65535 (large), then u32 id, u64 ts
                if large {
                    a.u16(u16::MAX);
                } else {
                    a.int(5, 31).align(8);
                }
                a.u32(40); // v.extended.id
                a.u64((6 << 27) | low); // v.extended.timestamp
            } else if large {
                a.u16(1).u32(((6 << 27) | low) as u32);
            } else {
                a.int(5, 1).int(27, low);
            }
            a.u32(1).u32(2).bytes(&[b'p'; 17]); // vpid, vtid, procname
            a.u64(i as u64).u64(0xff); // size, ptr
        }
        let data = close_lttng_packet(&mut a, 0);

        let fast = TraceDecoder::new(Arc::clone(&trace)).unwrap();
        assert!(
            fast.streams[0].fast_header.is_some(),
            "large={large}: not recognized"
        );
        let mut general = TraceDecoder::new(Arc::clone(&trace)).unwrap();
        general.streams[0].fast_header = None;
        let decode = |dec: &TraceDecoder| {
            let mut s = dec.new_stream(0);
            s.set_track_order(true);
            s.decode_packet(dec, &data, 0).unwrap();
            s.take(dec).unwrap()
        };
        let (f, g) = (decode(&fast), decode(&general));
        assert_eq!(f.order, g.order, "large={large}");
        assert_eq!(f.batches, g.batches, "large={large}");
        assert_eq!(f.batches.iter().map(|b| b.num_rows()).sum::<usize>(), 3);
    }
}
