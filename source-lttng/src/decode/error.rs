//! Decoder errors: small, typed, and carrying the byte offset in the stream,
//! the field path being decoded and, when the packet size is known, where the
//! caller can resume (DESIGN §6).

use std::fmt;
use std::sync::Arc;

/// What went wrong while decoding (or compiling the decode plans).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeErrorKind {
    /// `trace.packet.header.magic` is not 0xC1FC1FC1.
    #[error("bad packet magic {found:#x} (expected 0xc1fc1fc1)")]
    BadMagic {
        /// The value read.
        found: u64,
    },
    /// The packet header's `uuid` differs from the trace's.
    #[error("packet uuid {found:02x?} differs from the trace uuid")]
    UuidMismatch {
        /// The value read (the expected one is the trace class's).
        found: [u8; 16],
    },
    /// `stream_id` names no stream class.
    #[error("unknown stream class id {id}")]
    UnknownStreamClass {
        /// The id read.
        id: u64,
    },
    /// The packet header has no `stream_id` but the trace has several stream classes.
    #[error("no stream_id in the packet header and the trace has {count} stream classes")]
    AmbiguousStreamClass {
        /// Number of stream classes.
        count: usize,
    },
    /// The event header's id names no event class of the stream class.
    #[error("unknown event class id {id} in stream class {stream_class}")]
    UnknownEventClass {
        /// The id read.
        id: u64,
        /// The stream class id.
        stream_class: u64,
    },
    /// `packet_size` is smaller than what the packet header and context take.
    #[error(
        "packet size {packet_size} bits is smaller than its header and context ({needed} bits)"
    )]
    PacketSizeTooSmall {
        /// `packet_size` in bits.
        packet_size: u64,
        /// Bits used by the header and context.
        needed: u64,
    },
    /// `packet_size` (bits) goes past the end of the data.
    #[error("packet size {packet_size} bits goes beyond the {available} bits left in the stream")]
    PacketBeyondData {
        /// `packet_size` in bits.
        packet_size: u64,
        /// Bits left in the stream.
        available: u64,
    },
    /// `packet_size` is not a whole number of bytes.
    #[error("packet size {packet_size} bits is not a multiple of 8")]
    PacketSizeNotBytes {
        /// `packet_size` in bits.
        packet_size: u64,
    },
    /// `content_size` is larger than `packet_size`.
    #[error("content size {content_size} bits is larger than the packet size {packet_size} bits")]
    ContentBeyondPacket {
        /// `content_size` in bits.
        content_size: u64,
        /// `packet_size` in bits.
        packet_size: u64,
    },
    /// A field (or its alignment padding) ends after the packet content.
    #[error("field needs bits {start}..{end} but the content ends at bit {limit}")]
    FieldBeyondContent {
        /// First bit of the field (packet-relative).
        start: u64,
        /// One past its last bit.
        end: u64,
        /// Content size in bits.
        limit: u64,
    },
    /// A string has no NUL before the end of the content.
    #[error("unterminated string (no NUL before the content end at bit {limit})")]
    UnterminatedString {
        /// Content size in bits.
        limit: u64,
    },
    /// A sequence or array length cannot fit in what is left of the packet.
    #[error("length {length} is larger than the {remaining} bits left in the packet")]
    LengthTooLarge {
        /// The length.
        length: u64,
        /// Bits left before the content end.
        remaining: u64,
    },
    /// A variant's tag value selects no option.
    #[error("variant tag value {tag} selects no option")]
    NoVariantOption {
        /// The tag value (a signed tag's bits as two's complement).
        tag: u64,
    },
    /// An event decoded to zero bits: decoding would never advance.
    #[error("event of class {id} decodes to zero bits")]
    ZeroSizeEvent {
        /// Event class id.
        id: u64,
    },
    /// A batch would exceed Arrow's 32-bit offsets (take() more often).
    #[error("a string or list column exceeds 2^31 bytes or items in one batch")]
    BatchTooLarge,
    /// The trace class cannot be compiled: a path or type it uses is unsupported.
    #[error("cannot compile the trace class: {what}")]
    Unsupported {
        /// What is wrong.
        what: &'static str,
    },
    /// The trace class uses a field path that resolves to nothing usable.
    #[error("field path does not resolve to an integer or enumeration field")]
    UnresolvedPath,
    /// A clock mapping names a clock the trace class does not declare.
    #[error("unknown clock `{name}`")]
    UnknownClock {
        /// The clock name.
        name: String,
    },
    /// `update` was given a trace class that changed existing classes.
    #[error("updated metadata changes an existing stream or event class")]
    IncompatibleUpdate,
    /// Arrow refused the columns (a decoder bug: the schema and builders disagree).
    #[error("arrow: {0}")]
    Arrow(String),
}

/// A decode error with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset in the stream (packet start + offset in the packet).
    pub offset: u64,
    /// The field being decoded, e.g. "event `malloc` payload field `size`"
    /// (empty when the error is not about a field). Shared with the plan, so
    /// making an error allocates nothing.
    pub path: Arc<str>,
    /// What went wrong.
    pub kind: DecodeErrorKind,
    /// Byte offset in the stream of the next packet, when this packet's size
    /// is known: the caller can resume decoding there.
    pub next_packet: Option<u64>,
}

impl DecodeError {
    /// An error not tied to any input position (compiling the plans).
    pub(crate) fn plan(kind: DecodeErrorKind, path: &str) -> Self {
        Self {
            offset: 0,
            path: Arc::from(path),
            kind,
            next_packet: None,
        }
    }
}

impl DecodeError {
    /// Byte offset in the stream where the next packet starts, when this
    /// packet's size is known (resume there).
    pub fn next_packet(&self) -> Option<u64> {
        self.next_packet
    }

    /// When the packet is larger than the bytes given to `decode_packet`
    /// (a window of a larger file): how many bytes from the packet start the
    /// decoder needs. `None` for every other error.
    pub fn needs_bytes(&self) -> Option<u64> {
        match self.kind {
            DecodeErrorKind::PacketBeyondData { packet_size, .. } => Some(packet_size.div_ceil(8)),
            _ => None,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}", self.offset)?;
        if !self.path.is_empty() {
            write!(f, ", {}", self.path)?;
        }
        write!(f, ": {}", self.kind)
    }
}

impl std::error::Error for DecodeError {}
