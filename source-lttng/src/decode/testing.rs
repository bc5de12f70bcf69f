//! Test and bench helpers: a tiny CTF packet assembler and hand-built trace
//! classes shaped like LTTng's (notes/reference §2.4). Fixtures are
//! assembled field by field with a comment each (STYLE §14).

use crate::metadata::{
    ArrayType, ByteOrder, ClockClass, Encoding, EnumMapping, EnumType, EnvValue, EventClass, Field,
    FieldPath, FieldType, IntegerType, Scope, StreamClass, StructType, TraceClass, VariantType,
};

/// Writes CTF fields bit by bit, packet-relative.
#[derive(Debug, Clone)]
pub struct Asm {
    bytes: Vec<u8>,
    bit: u64,
    order: ByteOrder,
}

impl Asm {
    /// An empty packet with `order` as the default byte order.
    pub fn new(order: ByteOrder) -> Self {
        Self {
            bytes: Vec::new(),
            bit: 0,
            order,
        }
    }

    /// Current position in bits.
    pub fn bit_pos(&self) -> u64 {
        self.bit
    }

    /// Skips (zero) bits up to a multiple of `align` bits.
    pub fn align(&mut self, align: u64) -> &mut Self {
        let a = align.max(1);
        self.bit = self.bit.div_ceil(a) * a;
        self.grow();
        self
    }

    fn grow(&mut self) {
        let need = self.bit.div_ceil(8) as usize;
        if self.bytes.len() < need {
            self.bytes.resize(need, 0);
        }
    }

    fn set_bit(&mut self, at: u64, one: bool, order: ByteOrder) {
        let byte = (at / 8) as usize;
        let shift = match order {
            ByteOrder::Little => at % 8,
            ByteOrder::Big => 7 - at % 8,
        };
        if let Some(b) = self.bytes.get_mut(byte) {
            if one {
                *b |= 1 << shift;
            } else {
                *b &= !(1 << shift);
            }
        }
    }

    /// A `size`-bit integer at the current bit (no alignment) in `order`.
    pub fn int_bo(&mut self, size: u32, v: u64, order: ByteOrder) -> &mut Self {
        if self.bit.is_multiple_of(8) && size.is_multiple_of(8) && (8..=64).contains(&size) {
            // Whole bytes at a byte boundary (most fields): no bit loop.
            let n = (size / 8) as usize;
            let at = (self.bit / 8) as usize;
            self.bit += u64::from(size);
            self.grow();
            let bytes = match order {
                ByteOrder::Little => v.to_le_bytes(),
                ByteOrder::Big => (v << (64 - size)).to_be_bytes(),
            };
            self.bytes[at..at + n].copy_from_slice(&bytes[..n]);
            return self;
        }
        let start = self.bit;
        self.bit += u64::from(size);
        self.grow();
        for i in 0..u64::from(size) {
            let bit = match order {
                ByteOrder::Little => (v >> i) & 1,
                ByteOrder::Big => (v >> (u64::from(size) - 1 - i)) & 1,
            };
            self.set_bit(start + i, bit == 1, order);
        }
        self
    }

    /// A `size`-bit integer in the default order, at the current bit.
    pub fn int(&mut self, size: u32, v: u64) -> &mut Self {
        self.int_bo(size, v, self.order)
    }

    /// Byte-aligned 8-bit integer.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.align(8).int(8, u64::from(v))
    }
    /// Byte-aligned 16-bit integer.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.align(8).int(16, u64::from(v))
    }
    /// Byte-aligned 32-bit integer.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.align(8).int(32, u64::from(v))
    }
    /// Byte-aligned 64-bit integer.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.align(8).int(64, v)
    }
    /// Byte-aligned 32-bit float.
    pub fn f32(&mut self, v: f32) -> &mut Self {
        self.align(8).int(32, u64::from(v.to_bits()))
    }
    /// Byte-aligned 64-bit float.
    pub fn f64(&mut self, v: f64) -> &mut Self {
        self.align(8).int(64, v.to_bits())
    }
    /// Raw bytes (byte-aligned).
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.align(8);
        for &x in b {
            self.int(8, u64::from(x));
        }
        self
    }
    /// A NUL-terminated string.
    pub fn string(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes()).u8(0)
    }
    /// Overwrites a 64-bit field at byte `at` (little or big per default order).
    pub fn patch_u64(&mut self, at: usize, v: u64) -> &mut Self {
        let b = match self.order {
            ByteOrder::Little => v.to_le_bytes(),
            ByteOrder::Big => v.to_be_bytes(),
        };
        if let Some(dst) = self.bytes.get_mut(at..at + 8) {
            dst.copy_from_slice(&b);
        }
        self
    }
    /// Zero bytes up to `len` bytes in total.
    pub fn pad_to(&mut self, len: usize) -> &mut Self {
        if self.bytes.len() < len {
            self.bytes.resize(len, 0);
        }
        self.bit = self.bit.max(len as u64 * 8);
        self
    }
    /// The bytes written.
    pub fn finish(&self) -> Vec<u8> {
        self.bytes.clone()
    }
}

/// An integer type.
pub fn int_t(size: u32, align: u32, signed: bool) -> IntegerType {
    IntegerType {
        size,
        align,
        signed,
        byte_order: ByteOrder::Little,
        base: 10,
        encoding: Encoding::None,
        mapped_clock: None,
    }
}

/// An unsigned byte-aligned integer field type.
pub fn uint(size: u32) -> FieldType {
    FieldType::Integer(int_t(size, 8, false))
}

/// A signed byte-aligned integer field type.
pub fn sint(size: u32) -> FieldType {
    FieldType::Integer(int_t(size, 8, true))
}

/// An unsigned integer mapped to the `monotonic` clock.
pub fn clock_uint(size: u32, align: u32) -> FieldType {
    FieldType::Integer(IntegerType {
        mapped_clock: Some("monotonic".into()),
        ..int_t(size, align, false)
    })
}

/// A named field.
pub fn field(name: &str, ty: FieldType) -> Field {
    Field {
        name: name.into(),
        ty,
    }
}

/// A struct.
pub fn struct_t(fields: Vec<Field>) -> StructType {
    StructType {
        fields,
        min_align: 1,
    }
}

/// `char name[len]` text.
pub fn text_array(len: u64) -> FieldType {
    FieldType::Array(ArrayType {
        element: Box::new(FieldType::Integer(IntegerType {
            encoding: Encoding::Utf8,
            ..int_t(8, 8, true)
        })),
        length: len,
    })
}

/// An enum with `(label, low, high)` mappings.
pub fn enum_t(container: IntegerType, maps: &[(&str, i128, i128)]) -> FieldType {
    FieldType::Enum(EnumType {
        container,
        mappings: maps
            .iter()
            .map(|&(l, lo, hi)| EnumMapping {
                label: l.into(),
                ranges: vec![(lo, hi)],
            })
            .collect(),
    })
}

/// The LTTng 2.13 packet header (magic, uuid, stream_id, stream_instance_id).
pub fn lttng_packet_header() -> StructType {
    struct_t(vec![
        field("magic", uint(32)),
        field(
            "uuid",
            FieldType::Array(ArrayType {
                element: Box::new(uint(8)),
                length: 16,
            }),
        ),
        field("stream_id", uint(32)),
        field("stream_instance_id", uint(64)),
    ])
}

/// The LTTng 2.13 packet context.
pub fn lttng_packet_context() -> StructType {
    struct_t(vec![
        field("timestamp_begin", clock_uint(64, 8)),
        field("timestamp_end", clock_uint(64, 8)),
        field("content_size", uint(64)),
        field("packet_size", uint(64)),
        field("packet_seq_num", uint(64)),
        field("events_discarded", uint(64)),
        field("cpu_id", uint(32)),
    ])
}

/// An LTTng event header: `large` (u16 id, u32 timestamp) or compact (5/27 bits).
pub fn lttng_event_header(large: bool) -> StructType {
    let (id_t, compact_ts, ext_id) = if large {
        (int_t(16, 8, false), clock_uint(32, 8), 65535)
    } else {
        (int_t(5, 1, false), clock_uint(27, 1), 31)
    };
    let id = enum_t(
        id_t,
        &[("compact", 0, ext_id - 1), ("extended", ext_id, ext_id)],
    );
    let tag = FieldPath {
        scope: Scope::EventHeader,
        indexes: vec![0],
    };
    let v = FieldType::Variant(VariantType {
        tag,
        options: vec![
            field(
                "compact",
                FieldType::Struct(struct_t(vec![field("timestamp", compact_ts)])),
            ),
            field(
                "extended",
                FieldType::Struct(struct_t(vec![
                    field("id", uint(32)),
                    field("timestamp", clock_uint(64, 8)),
                ])),
            ),
        ],
    });
    StructType {
        fields: vec![field("id", id), field("v", v)],
        // `align(A16)`/`align(A32)` with A = 8 bits on x86-64 (reference §2.4).
        min_align: 8,
    }
}

/// The trace uuid used by the fixtures.
pub const UUID: [u8; 16] = *b"trawl-test-uuid!";

/// A trace class shaped like lttng-ust's: one stream class with `large` or
/// compact headers, `vpid`/`vtid`/`procname` contexts and `events`.
pub fn ust_like_trace(large: bool, events: Vec<EventClass>) -> TraceClass {
    TraceClass {
        major: 1,
        minor: 8,
        uuid: Some(UUID),
        byte_order: ByteOrder::Little,
        packet_header: Some(lttng_packet_header()),
        env: vec![
            ("hostname".into(), EnvValue::Str("host1".into())),
            ("domain".into(), EnvValue::Str("ust".into())),
        ],
        clocks: vec![ClockClass {
            name: "monotonic".into(),
            uuid: None,
            description: None,
            freq: 1_000_000_000,
            precision: 0,
            offset_s: 0,
            offset: 1_700_000_000_000_000_000,
            absolute: false,
        }],
        streams: vec![StreamClass {
            id: 0,
            packet_context: Some(lttng_packet_context()),
            event_header: Some(lttng_event_header(large)),
            event_context: Some(struct_t(vec![
                field("_vpid", sint(32)),
                field("_vtid", sint(32)),
                field("_procname", text_array(17)),
            ])),
            events,
        }],
        warnings: vec![],
    }
}

/// An event class of stream 0.
pub fn event(id: u64, name: &str, payload: Vec<Field>) -> EventClass {
    EventClass {
        id,
        name: name.into(),
        stream_id: 0,
        loglevel: None,
        model_emf_uri: None,
        context: None,
        payload: Some(struct_t(payload)),
    }
}

/// `malloc`-like payload: `u64 size`, `u64 ptr` (hex).
pub fn malloc_event(id: u64) -> EventClass {
    let mut ptr = int_t(64, 8, false);
    ptr.base = 16;
    event(
        id,
        "lttng_ust_libc:malloc",
        vec![
            field("_size", uint(64)),
            field("_ptr", FieldType::Integer(ptr)),
        ],
    )
}

/// Writes an LTTng packet header + context; returns the byte offsets of
/// `content_size` and `packet_size` for [`close_lttng_packet`].
pub fn open_lttng_packet(
    a: &mut Asm,
    ts_begin: u64,
    ts_end: u64,
    seq: u64,
    discarded: u64,
    cpu: u32,
) {
    a.u32(0xC1FC_1FC1); // magic
    a.bytes(&UUID); // uuid
    a.u32(0); // stream_id
    a.u64(7); // stream_instance_id
    a.u64(ts_begin); // timestamp_begin
    a.u64(ts_end); // timestamp_end
    a.u64(0); // content_size (patched)
    a.u64(0); // packet_size (patched)
    a.u64(seq); // packet_seq_num
    a.u64(discarded); // events_discarded
    a.u32(cpu); // cpu_id
}

/// Patches content/packet size (packet padded to `pad_to` bytes, at least the content).
pub fn close_lttng_packet(a: &mut Asm, pad_to: usize) -> Vec<u8> {
    let content = a.bit_pos();
    let len = (content.div_ceil(8) as usize).max(pad_to);
    a.pad_to(len);
    a.patch_u64(48, content); // content_size (bits)
    a.patch_u64(56, len as u64 * 8); // packet_size (bits)
    a.finish()
}

/// One `event_header_large` compact event of the ust-like trace: header,
/// contexts, then `payload` written by the caller.
pub fn ust_event_large(a: &mut Asm, id: u16, ts32: u32, vpid: i32, procname: &str) {
    a.u16(id); // id
    a.u32(ts32); // v.compact.timestamp
    a.u32(vpid as u32); // vpid
    a.u32(vpid as u32 + 1); // vtid
    let mut name = [0u8; 17];
    for (d, s) in name.iter_mut().zip(procname.bytes()) {
        *d = s;
    }
    a.bytes(&name); // procname[17]
}

/// A synthetic ust-like stream: `packets` packets of `per_packet` malloc
/// events each (for benches). Returns the trace class and the bytes.
pub fn ust_like_stream(packets: usize, per_packet: usize) -> (TraceClass, Vec<u8>) {
    let trace = ust_like_trace(true, vec![malloc_event(0)]);
    let mut out = Vec::new();
    let mut ts: u64 = 1_000;
    for p in 0..packets {
        let mut a = Asm::new(ByteOrder::Little);
        open_lttng_packet(&mut a, ts, ts + per_packet as u64 * 100, p as u64, 0, 0);
        for i in 0..per_packet {
            ts += 100;
            ust_event_large(&mut a, 0, ts as u32, 1234, "app");
            a.u64(64 + i as u64); // size
            a.u64(0x7f00_0000_0000 + i as u64 * 64); // ptr
        }
        out.extend(close_lttng_packet(&mut a, 0));
    }
    (trace, out)
}
