//! The resolved trace class: what a CTF 1.8 metadata text describes, with every
//! type alias expanded, every attribute defaulted and every variant tag and
//! sequence length resolved to a [`FieldPath`].
//!
//! The TSDL parser produces it; the decoder compiles it into decode plans; the
//! text formatter walks it next to the decoded Arrow columns. Field names are
//! kept exactly as written in the metadata (leading `_` included); the Arrow
//! column naming rule lives with the decoder.

/// Byte order of a field (already resolved: `native` means the trace's order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteOrder {
    /// Least significant byte first.
    Little,
    /// Most significant byte first.
    Big,
}

/// Character encoding of an integer, string, array or sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Not text.
    None,
    /// UTF-8 text.
    Utf8,
    /// ASCII text.
    Ascii,
}

/// `integer { ... }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegerType {
    /// Size in bits, 1 to 64.
    pub size: u32,
    /// Alignment in bits (a power of two, ≥ 1).
    pub align: u32,
    /// Two's complement when true.
    pub signed: bool,
    /// Resolved byte order.
    pub byte_order: ByteOrder,
    /// Display base: 2, 8, 10 or 16.
    pub base: u32,
    /// Character encoding (a `char` is an 8-bit integer with UTF-8 encoding).
    pub encoding: Encoding,
    /// `map = clock.NAME.value`: the clock this value updates.
    pub mapped_clock: Option<String>,
}

/// `floating_point { ... }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloatType {
    /// Exponent digits (8 for `float`, 11 for `double`).
    pub exp_dig: u32,
    /// Mantissa digits including the implicit bit (24 for `float`, 53 for `double`).
    pub mant_dig: u32,
    /// Alignment in bits.
    pub align: u32,
    /// Resolved byte order.
    pub byte_order: ByteOrder,
}

/// One mapping of an enumeration: a label and the inclusive ranges it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumMapping {
    /// The label, as written (quotes removed).
    pub label: String,
    /// Inclusive `(low, high)` ranges; i128 holds any u64 or i64 value.
    pub ranges: Vec<(i128, i128)>,
}

/// `enum : container { ... }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumType {
    /// The container integer type.
    pub container: IntegerType,
    /// Mappings in declaration order.
    pub mappings: Vec<EnumMapping>,
}

impl EnumType {
    /// Labels whose ranges contain `value`, in declaration order.
    pub fn labels_of(&self, value: i128) -> impl Iterator<Item = &str> {
        self.mappings
            .iter()
            .filter(move |m| m.ranges.iter().any(|&(lo, hi)| lo <= value && value <= hi))
            .map(|m| m.label.as_str())
    }
}

/// A named member of a struct or an option of a variant.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The name as written in the metadata (leading `_` kept).
    pub name: String,
    /// Its type.
    pub ty: FieldType,
}

/// `struct { ... } align(N)`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StructType {
    /// Members in order.
    pub fields: Vec<Field>,
    /// Minimum alignment in bits from `align(N)` (1 when absent). The effective
    /// alignment is the max of this and the members' alignments.
    pub min_align: u32,
}

/// `variant <tag> { ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantType {
    /// Where the tag (an enumeration) is.
    pub tag: FieldPath,
    /// Options in order; an option is selected when its name matches the tag's
    /// label (the matching rule, with babeltrace2's handling of leading `_`,
    /// lives in the decoder; see the `meta-variant-*` conformance traces).
    pub options: Vec<Field>,
}

/// A fixed-length array `T name[N]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrayType {
    /// Element type.
    pub element: Box<FieldType>,
    /// Number of elements.
    pub length: u64,
}

/// A sequence `T name[length_field]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SequenceType {
    /// Element type.
    pub element: Box<FieldType>,
    /// Where the unsigned integer length is.
    pub length: FieldPath,
}

/// Any field type.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldType {
    /// An integer.
    Integer(IntegerType),
    /// A floating-point number.
    Float(FloatType),
    /// A NUL-terminated string (byte aligned).
    String(Encoding),
    /// An enumeration.
    Enum(EnumType),
    /// A structure.
    Struct(StructType),
    /// A variant.
    Variant(VariantType),
    /// A static array.
    Array(ArrayType),
    /// A dynamic sequence.
    Sequence(SequenceType),
}

/// The six dynamic scopes of CTF 1.8 (spec §7.3.2), in decoding order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// `trace.packet.header`.
    PacketHeader,
    /// `stream.packet.context`.
    PacketContext,
    /// `stream.event.header`.
    EventHeader,
    /// `stream.event.context`.
    StreamEventContext,
    /// `event.context`.
    EventContext,
    /// `event.fields`.
    EventPayload,
}

/// Where a variant tag or a sequence length is: a scope, then the index of the
/// member in each struct on the way down (variants along the way count their
/// option index). The decoder reads the most recently decoded value there.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldPath {
    /// The root scope.
    pub scope: Scope,
    /// Member indexes from the scope's root struct.
    pub indexes: Vec<usize>,
}

/// `clock { ... }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockClass {
    /// `name`.
    pub name: String,
    /// `uuid`, if given.
    pub uuid: Option<[u8; 16]>,
    /// `description`, if given.
    pub description: Option<String>,
    /// `freq` in Hz (default 1 GHz).
    pub freq: u64,
    /// `precision` in cycles (default 0).
    pub precision: u64,
    /// `offset_s` in seconds (default 0).
    pub offset_s: i64,
    /// `offset` in cycles (default 0).
    pub offset: i64,
    /// `absolute` (default false).
    pub absolute: bool,
}

/// A value of the `env { ... }` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvValue {
    /// An integer literal.
    Int(i64),
    /// A string literal.
    Str(String),
}

/// `event { ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct EventClass {
    /// `id` (0 when absent).
    pub id: u64,
    /// `name`.
    pub name: String,
    /// `stream_id` of its stream class.
    pub stream_id: u64,
    /// `loglevel`, if given.
    pub loglevel: Option<i64>,
    /// `model.emf.uri`, if given.
    pub model_emf_uri: Option<String>,
    /// `context := struct { ... }`.
    pub context: Option<StructType>,
    /// `fields := struct { ... }`.
    pub payload: Option<StructType>,
}

/// `stream { ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamClass {
    /// `id` (0 when absent).
    pub id: u64,
    /// `packet.context`.
    pub packet_context: Option<StructType>,
    /// `event.header`.
    pub event_header: Option<StructType>,
    /// `event.context`.
    pub event_context: Option<StructType>,
    /// Event classes of this stream, in declaration order.
    pub events: Vec<EventClass>,
}

/// The whole trace class.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceClass {
    /// `major` (1).
    pub major: u32,
    /// `minor` (8).
    pub minor: u32,
    /// `uuid`, if given.
    pub uuid: Option<[u8; 16]>,
    /// Native byte order of the trace.
    pub byte_order: ByteOrder,
    /// `packet.header`.
    pub packet_header: Option<StructType>,
    /// `env` entries in declaration order.
    pub env: Vec<(String, EnvValue)>,
    /// Clock classes in declaration order.
    pub clocks: Vec<ClockClass>,
    /// Stream classes in declaration order.
    pub streams: Vec<StreamClass>,
    /// Things the parser accepted but a user may want to know about (unknown
    /// attributes and the like), with their line numbers, as babeltrace2 warns.
    pub warnings: Vec<String>,
}

impl TraceClass {
    /// The stream class with `id`.
    pub fn stream(&self, id: u64) -> Option<&StreamClass> {
        self.streams.iter().find(|s| s.id == id)
    }

    /// The clock called `name`.
    pub fn clock(&self, name: &str) -> Option<&ClockClass> {
        self.clocks.iter().find(|c| c.name == name)
    }

    /// An `env` entry.
    pub fn env(&self, key: &str) -> Option<&EnvValue> {
        self.env.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// An `env` entry that is a string.
    pub fn env_str(&self, key: &str) -> Option<&str> {
        match self.env(key) {
            Some(EnvValue::Str(s)) => Some(s),
            _ => None,
        }
    }
}
