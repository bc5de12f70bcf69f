//! Errors of the metadata layer: packetized-stream errors name the byte
//! offset of the bad packet; TSDL errors name the line and column (1-based) of
//! the offending token and what is wrong with it.

use thiserror::Error;

/// A position in the metadata text (1-based line and column, columns count bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// Line, from 1.
    pub line: u32,
    /// Column in bytes, from 1.
    pub column: u32,
}

impl std::fmt::Display for Pos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Why a metadata stream or text could not be turned into a trace class.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MetadataError {
    /// A packetized metadata stream ends inside a packet header or payload.
    #[error(
        "metadata packet at byte {offset} is truncated: needs {needed} bytes, {available} left"
    )]
    PacketTruncated {
        /// Byte offset of the packet.
        offset: usize,
        /// Bytes the packet needs.
        needed: usize,
        /// Bytes left in the stream.
        available: usize,
    },
    /// A packet does not start with the metadata magic 0x75D11D57.
    #[error("metadata packet at byte {offset}: bad magic {magic:#010x}")]
    PacketMagic {
        /// Byte offset of the packet.
        offset: usize,
        /// The magic read (in the first packet's byte order).
        magic: u32,
    },
    /// Sizes of a packet are inconsistent (not byte multiples, content larger
    /// than the packet, smaller than the header).
    #[error(
        "metadata packet at byte {offset}: bad sizes content_size={content_size} packet_size={packet_size} (bits)"
    )]
    PacketSizes {
        /// Byte offset of the packet.
        offset: usize,
        /// `content_size` in bits.
        content_size: u32,
        /// `packet_size` in bits.
        packet_size: u32,
    },
    /// A packet uses compression, encryption, a checksum or a version other than 1.8.
    #[error("metadata packet at byte {offset}: unsupported {what} = {value}")]
    PacketUnsupported {
        /// Byte offset of the packet.
        offset: usize,
        /// Which header field.
        what: &'static str,
        /// Its value (a version is shown as `major.minor`).
        value: String,
    },
    /// A packet's UUID differs from the first packet's.
    #[error("metadata packet at byte {offset}: UUID differs from the first packet's")]
    PacketUuid {
        /// Byte offset of the packet.
        offset: usize,
    },
    /// The lexer met something that is no TSDL token.
    #[error("{pos}: {what}")]
    Lex {
        /// Where.
        pos: Pos,
        /// What is wrong (invalid character, bad escape, unterminated comment...).
        what: String,
    },
    /// An integer literal does not fit 64 bits.
    #[error("{pos}: integer literal out of range: {text}")]
    IntegerLiteral {
        /// Where.
        pos: Pos,
        /// The literal.
        text: String,
    },
    /// The parser expected something else.
    #[error("{pos}: unexpected {found}, expected {expected}")]
    UnexpectedToken {
        /// Where.
        pos: Pos,
        /// The token met (`end of metadata` at the end).
        found: String,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// Types are nested deeper than the parser allows.
    #[error("{pos}: nesting deeper than {limit} levels")]
    TooDeep {
        /// Where.
        pos: Pos,
        /// The limit.
        limit: usize,
    },
    /// Types expand to more nodes than the parser allows (alias bombs).
    #[error("{pos}: metadata types expand to more than {limit} nodes")]
    TooLarge {
        /// Where.
        pos: Pos,
        /// The limit.
        limit: u64,
    },
    /// A type name is used that no typealias/typedef/declaration defined.
    #[error("{pos}: unknown type name `{name}`")]
    UnknownType {
        /// Where.
        pos: Pos,
        /// The name (`struct X`, `enum X`, `variant X` or an alias).
        name: String,
    },
    /// An attribute has a value it cannot have.
    #[error("{pos}: invalid value for `{name}`: {value}")]
    InvalidAttribute {
        /// Where.
        pos: Pos,
        /// The attribute.
        name: String,
        /// The value and why it is wrong.
        value: String,
    },
    /// A required attribute is missing.
    #[error("{pos}: missing `{name}` in {block}")]
    MissingAttribute {
        /// Where the block starts.
        pos: Pos,
        /// The attribute.
        name: &'static str,
        /// The block (`integer`, `trace`, ...).
        block: &'static str,
    },
    /// The same attribute or member is given twice.
    #[error("{pos}: duplicate `{name}`")]
    Duplicate {
        /// Where the second one is.
        pos: Pos,
        /// Its name.
        name: String,
    },
    /// A variant tag or sequence length path names no field.
    #[error("{pos}: {kind} path `{path}` not found")]
    PathNotFound {
        /// Where the path is written.
        pos: Pos,
        /// `variant tag` or `sequence length`.
        kind: &'static str,
        /// The path as written.
        path: String,
    },
    /// A path names a field that is not before the variant/sequence using it.
    #[error("{pos}: {kind} path `{path}` does not name a field located before it")]
    PathNotBefore {
        /// Where the path is written.
        pos: Pos,
        /// `variant tag` or `sequence length`.
        kind: &'static str,
        /// The path as written.
        path: String,
    },
    /// A variant tag is not an enumeration.
    #[error("{pos}: variant tag `{path}` is not an enumeration")]
    TagNotEnum {
        /// Where the path is written.
        pos: Pos,
        /// The path.
        path: String,
    },
    /// A sequence length is not an unsigned integer.
    #[error("{pos}: sequence length `{path}` is not an unsigned integer")]
    LengthNotUnsigned {
        /// Where the path is written.
        pos: Pos,
        /// The path.
        path: String,
    },
    /// A variant is used without a tag.
    #[error("{pos}: variant has no tag")]
    VariantWithoutTag {
        /// Where the variant is.
        pos: Pos,
    },
    /// Structure of the blocks is wrong (no trace block, unknown stream id, ...).
    #[error("{pos}: {what}")]
    Semantic {
        /// Where.
        pos: Pos,
        /// What is wrong.
        what: String,
    },
}
