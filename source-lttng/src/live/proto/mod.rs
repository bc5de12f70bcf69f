//! The LTTng live viewer wire format (lttng-tools `lttng-viewer-abi.hpp`).
//!
//! Every message is a packed struct of big-endian integers. Requests are a
//! 16-byte [`CommandHeader`] plus a fixed payload; replies are a fixed header,
//! sometimes followed by a counted tail (session or stream entries, packet or
//! metadata bytes). Each struct here has `encode` (append to a `Vec<u8>`) and
//! `decode` (from exactly its bytes). Decoders never trust a count or length
//! from the wire: they check it against the `MAX_*` caps below before the
//! caller reads or allocates anything for it, so a garbage server yields a
//! [`ProtoError`], never a panic or a huge allocation.

use std::fmt;

/// The protocol major version we speak; a relay with another major is refused.
pub const VIEWER_MAJOR: u32 = 2;
/// The highest minor we understand: 2.15 introduced variable-length session
/// entries. We offer it and use `min(ours, relay's)`.
pub const VIEWER_MINOR: u32 = 15;
/// First minor whose LIST_SESSIONS entries are [`SESSION_2_15_HEADER_LEN`] plus strings.
pub const MINOR_VARIABLE_SESSION_ENTRIES: u32 = 15;

/// `lttng_viewer_cmd`: u64 data_size, u32 cmd, u32 cmd_version.
pub const HEADER_LEN: usize = 16;
/// `lttng_viewer_connect`: u64 viewer_session_id, u32 major, u32 minor, u32 type.
pub const CONNECT_LEN: usize = 20;
/// `lttng_viewer_session` of protocol 2.4: id, timer, clients, streams, hostname[64], name[255].
pub const SESSION_2_4_LEN: usize = 8 + 4 + 4 + 4 + HOSTNAME_LEN + SESSION_NAME_LEN;
/// Fixed part of the 2.15 session entry; hostname and name bytes follow.
pub const SESSION_2_15_HEADER_LEN: usize = 32;
/// `lttng_viewer_stream`: id, ctf_trace_id, metadata_flag, path_name[4096], channel_name[255].
pub const STREAM_LEN: usize = 8 + 8 + 4 + PATH_LEN + CHANNEL_NAME_LEN;
/// `lttng_viewer_index`: seven u64 then u32 status and u32 flags.
pub const INDEX_LEN: usize = 64;
/// `lttng_viewer_attach_session_request` / `_response` header sizes.
pub const ATTACH_REQUEST_LEN: usize = 20;
/// `{u32 status; u32 streams_count}` of ATTACH_SESSION and GET_NEW_STREAMS replies.
pub const STREAMS_REPLY_LEN: usize = 8;
/// `lttng_viewer_get_packet`: stream id, offset, len.
pub const GET_PACKET_LEN: usize = 20;
/// `lttng_viewer_trace_packet` header: status, len, flags.
pub const PACKET_REPLY_LEN: usize = 12;
/// `lttng_viewer_metadata_packet` header: u64 len, u32 status.
pub const METADATA_REPLY_LEN: usize = 12;

pub(super) const HOSTNAME_LEN: usize = 64;
pub(super) const SESSION_NAME_LEN: usize = 255;
pub(super) const PATH_LEN: usize = 4096;
pub(super) const CHANNEL_NAME_LEN: usize = 255;

/// At most this many sessions in one LIST_SESSIONS reply (a relay serving a
/// big fleet has hundreds, not millions).
pub const MAX_SESSIONS: u32 = 65_536;
/// At most this many streams in one ATTACH / GET_NEW_STREAMS reply (one per
/// CPU and channel and, with per-PID buffers, per process: thousands at most).
pub const MAX_STREAMS: u32 = 65_536;
/// Longest hostname or session name accepted in a 2.15 session entry.
pub const MAX_NAME_LEN: u32 = 4096;
/// Largest metadata chunk accepted in one GET_METADATA reply. Kernel metadata
/// is a few MiB; 64 MiB is far beyond any real trace.
pub const MAX_METADATA_LEN: u64 = 64 << 20;
/// Largest packet (index `packet_size`) the client fetches. LTTng sub-buffers
/// are at most a few hundred MiB even when users raise them.
pub const MAX_PACKET_LEN: u64 = 256 << 20;

/// A wire decoding failure: which struct, the offending value, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// Fewer bytes than the struct needs.
    #[error("{what}: {got} bytes, need {need}")]
    Short {
        /// The struct being decoded.
        what: &'static str,
        /// Bytes it needs.
        need: usize,
        /// Bytes available.
        got: usize,
    },
    /// A status field holds a value the protocol does not define.
    #[error("{what}: unknown status {value}")]
    UnknownStatus {
        /// The reply.
        what: &'static str,
        /// The raw status.
        value: u32,
    },
    /// A count or length is above its cap (see the `MAX_*` constants).
    #[error("{what}: {value} exceeds the maximum {max}")]
    TooLarge {
        /// The field.
        what: &'static str,
        /// The value sent.
        value: u64,
        /// The cap.
        max: u64,
    },
    /// A field holds a value that contradicts the request or the protocol.
    #[error("{what}: unexpected value {value}")]
    Invalid {
        /// The field.
        what: &'static str,
        /// The value sent.
        value: u64,
    },
}

/// Viewer command codes (`enum lttng_viewer_command`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Command {
    /// Version handshake; must be first.
    Connect = 1,
    /// List relay sessions.
    ListSessions = 2,
    /// Attach to a relay session, get its streams.
    AttachSession = 3,
    /// Next packet index (or RETRY / INACTIVE / HUP) of one stream.
    GetNextIndex = 4,
    /// Bytes of a data stream.
    GetPacket = 5,
    /// New metadata bytes of a metadata stream.
    GetMetadata = 6,
    /// Streams created since the last ATTACH / GET_NEW_STREAMS.
    GetNewStreams = 7,
    /// Create the viewer session (before ATTACH).
    CreateSession = 8,
    /// Detach from a relay session (protocol ≥ 2.8).
    DetachSession = 9,
}

impl Command {
    /// The command for a wire code.
    pub fn from_code(code: u32) -> Option<Command> {
        Some(match code {
            1 => Command::Connect,
            2 => Command::ListSessions,
            3 => Command::AttachSession,
            4 => Command::GetNextIndex,
            5 => Command::GetPacket,
            6 => Command::GetMetadata,
            7 => Command::GetNewStreams,
            8 => Command::CreateSession,
            9 => Command::DetachSession,
            _ => return None,
        })
    }

    /// The name lttng-tools uses, for error messages.
    pub fn name(self) -> &'static str {
        match self {
            Command::Connect => "CONNECT",
            Command::ListSessions => "LIST_SESSIONS",
            Command::AttachSession => "ATTACH_SESSION",
            Command::GetNextIndex => "GET_NEXT_INDEX",
            Command::GetPacket => "GET_PACKET",
            Command::GetMetadata => "GET_METADATA",
            Command::GetNewStreams => "GET_NEW_STREAMS",
            Command::CreateSession => "CREATE_SESSION",
            Command::DetachSession => "DETACH_SESSION",
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A big-endian reader over one struct's bytes; the length is checked once,
/// up front, by [`Reader::new`].
pub(super) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(
        what: &'static str,
        bytes: &'a [u8],
        need: usize,
    ) -> Result<Self, ProtoError> {
        if bytes.len() < need {
            return Err(ProtoError::Short {
                what,
                need,
                got: bytes.len(),
            });
        }
        Ok(Reader { bytes, at: 0 })
    }

    pub(super) fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        if let Some(src) = self.bytes.get(self.at..self.at + N) {
            out.copy_from_slice(src);
        }
        self.at += N;
        out
    }

    pub(super) fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.take())
    }

    pub(super) fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.take())
    }

    /// A fixed-size NUL-padded C string field.
    pub(super) fn c_string(&mut self, len: usize) -> String {
        let field = self.bytes.get(self.at..self.at + len).unwrap_or(&[]);
        self.at += len;
        let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
        String::from_utf8_lossy(&field[..end]).into_owned()
    }
}

pub(super) fn put_c_string(out: &mut Vec<u8>, s: &str, len: usize) {
    // Keep room for the NUL, as the C side does with strncpy + terminator.
    let bytes = s.as_bytes();
    let n = bytes.len().min(len.saturating_sub(1));
    out.extend_from_slice(&bytes[..n]);
    out.resize(out.len() + (len - n), 0);
}

/// `lttng_viewer_cmd`, the header of every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandHeader {
    /// Payload length after the header.
    pub data_size: u64,
    /// Raw command code (see [`Command`]).
    pub cmd: u32,
    /// Always 0.
    pub cmd_version: u32,
}

impl CommandHeader {
    /// Append the header.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend(self.data_size.to_be_bytes());
        out.extend(self.cmd.to_be_bytes());
        out.extend(self.cmd_version.to_be_bytes());
    }

    /// Read a header.
    pub fn decode(b: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new("command header", b, HEADER_LEN)?;
        Ok(CommandHeader {
            data_size: r.u64(),
            cmd: r.u32(),
            cmd_version: r.u32(),
        })
    }
}

/// A whole request (header and payload) as one buffer, so it goes out in one
/// write (two writes stall on Nagle + delayed ACK).
pub fn request(cmd: Command, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    CommandHeader {
        data_size: payload.len() as u64,
        cmd: cmd as u32,
        cmd_version: 0,
    }
    .encode(&mut out);
    out.extend_from_slice(payload);
    out
}

/// `lttng_viewer_connect`, sent by the viewer and echoed by the relay with
/// its own version and the viewer session id it assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connect {
    /// `u64::MAX` from the viewer; the assigned id in the reply.
    pub viewer_session_id: u64,
    /// Protocol major.
    pub major: u32,
    /// Protocol minor.
    pub minor: u32,
    /// 1 = client command connection (relayd leaves it 0 in replies).
    pub conn_type: u32,
}

impl Connect {
    /// `type` of a command connection.
    pub const CLIENT_COMMAND: u32 = 1;

    /// Append the struct.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend(self.viewer_session_id.to_be_bytes());
        out.extend(self.major.to_be_bytes());
        out.extend(self.minor.to_be_bytes());
        out.extend(self.conn_type.to_be_bytes());
    }

    /// Read the struct.
    pub fn decode(b: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new("connect", b, CONNECT_LEN)?;
        Ok(Connect {
            viewer_session_id: r.u64(),
            major: r.u32(),
            minor: r.u32(),
            conn_type: r.u32(),
        })
    }
}

/// Declares a `#[repr(u32)]` status enum with wire decoding.
macro_rules! status_enum {
    ($(#[$m:meta])* $name:ident, $what:literal { $($(#[$vm:meta])* $v:ident = $n:literal,)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($(#[$vm])* $v = $n,)+ }

        impl $name {
            /// The status for a wire value.
            pub fn from_code(value: u32) -> Result<Self, ProtoError> {
                match value {
                    $($n => Ok($name::$v),)+
                    value => Err(ProtoError::UnknownStatus { what: $what, value }),
                }
            }
        }
    };
}

status_enum!(
    /// `lttng_viewer_attach_return_code`.
    AttachStatus, "attach reply" {
        /// Attached.
        Ok = 1,
        /// Another viewer is attached to the session.
        Already = 2,
        /// No such session.
        Unknown = 3,
        /// The session is not a live session.
        NotLive = 4,
        /// The seek could not be done.
        SeekErr = 5,
        /// CREATE_SESSION was not sent first.
        NoSession = 6,
    }
);

status_enum!(
    /// `lttng_viewer_new_streams_return_code`.
    NewStreamsStatus, "new streams reply" {
        /// Streams follow (maybe zero).
        Ok = 1,
        /// Nothing new.
        NoNew = 2,
        /// Error.
        Err = 3,
        /// The session is closed and has no stream with data left.
        Hup = 4,
    }
);

status_enum!(
    /// `lttng_viewer_next_index_return_code`.
    IndexStatus, "next index reply" {
        /// An index of a new packet.
        Ok = 1,
        /// Nothing yet; ask again later.
        Retry = 2,
        /// The stream is finished.
        Hup = 3,
        /// Error (unknown stream, not attached).
        Err = 4,
        /// Nothing new but a live-timer beacon: no event before `timestamp_end`.
        Inactive = 5,
        /// End of file (defined, never sent by relayd).
        Eof = 6,
    }
);

status_enum!(
    /// `lttng_viewer_get_packet_return_code`.
    PacketStatus, "get packet reply" {
        /// Bytes follow.
        Ok = 1,
        /// Ask again later (unused by relayd).
        Retry = 2,
        /// Error.
        Err = 3,
        /// End of file.
        Eof = 4,
    }
);

status_enum!(
    /// `lttng_viewer_get_metadata_return_code`.
    MetadataStatus, "get metadata reply" {
        /// Bytes follow.
        Ok = 1,
        /// Everything was sent.
        NoNew = 2,
        /// Error (a closed metadata stream ends with this).
        Err = 3,
    }
);

status_enum!(
    /// `lttng_viewer_create_session_return_code`.
    CreateStatus, "create session reply" {
        /// Created.
        Ok = 1,
        /// Error.
        Err = 2,
    }
);

status_enum!(
    /// `lttng_viewer_detach_session_return_code`.
    DetachStatus, "detach session reply" {
        /// Detached.
        Ok = 1,
        /// Unknown session.
        Unknown = 2,
        /// Error.
        Err = 3,
    }
);

/// The flags of index and packet replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags(pub u32);

impl Flags {
    /// `LTTNG_VIEWER_FLAG_NEW_METADATA`: fetch metadata before decoding more.
    pub const NEW_METADATA: u32 = 1;
    /// `LTTNG_VIEWER_FLAG_NEW_STREAM`: call GET_NEW_STREAMS.
    pub const NEW_STREAM: u32 = 2;

    /// The relay has metadata this viewer has not received.
    pub fn new_metadata(self) -> bool {
        self.0 & Self::NEW_METADATA != 0
    }

    /// Some attached session has streams not announced yet.
    pub fn new_stream(self) -> bool {
        self.0 & Self::NEW_STREAM != 0
    }
}

/// Encode a request payload that is a single big-endian u64 (a stream or
/// session id: GET_NEXT_INDEX, GET_METADATA, GET_NEW_STREAMS, DETACH_SESSION).
pub fn encode_id(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

/// Decode a single-u64 request payload.
pub fn decode_id(b: &[u8]) -> Result<u64, ProtoError> {
    Ok(Reader::new("id request", b, 8)?.u64())
}

/// Decode a 4-byte status reply (CREATE_SESSION, DETACH_SESSION) as its raw value.
pub fn decode_u32(what: &'static str, b: &[u8]) -> Result<u32, ProtoError> {
    Ok(Reader::new(what, b, 4)?.u32())
}

mod data;
mod entries;

pub use data::{GetPacket, MetadataReply, PacketReply, ViewerIndex};
pub use entries::{
    AttachRequest, NameLens, Seek, SessionEntry, StreamEntry, StreamsReply, TraceFormat,
    decode_sessions_count,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_request_round_trip() {
        let req = request(Command::GetNextIndex, &encode_id(42));
        assert_eq!(req.len(), HEADER_LEN + 8);
        let h = CommandHeader::decode(&req).unwrap();
        assert_eq!(
            h,
            CommandHeader {
                data_size: 8,
                cmd: 4,
                cmd_version: 0
            }
        );
        assert_eq!(decode_id(&req[HEADER_LEN..]).unwrap(), 42);
        // Big-endian on the wire: data_size 8 is the last byte of the first u64.
        assert_eq!(
            &req[..16],
            &[0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 4, 0, 0, 0, 0]
        );
        let mut out = Vec::new();
        h.encode(&mut out);
        assert_eq!(out, req[..HEADER_LEN]);
    }

    #[test]
    fn connect_round_trip() {
        let c = Connect {
            viewer_session_id: u64::MAX,
            major: 2,
            minor: 15,
            conn_type: Connect::CLIENT_COMMAND,
        };
        let mut b = Vec::new();
        c.encode(&mut b);
        assert_eq!(b.len(), CONNECT_LEN);
        assert_eq!(Connect::decode(&b).unwrap(), c);
    }

    #[test]
    fn commands_round_trip() {
        for code in 1..=9 {
            let c = Command::from_code(code).unwrap();
            assert_eq!(c as u32, code);
            assert!(!c.name().is_empty());
        }
        assert_eq!(Command::from_code(0), None);
        assert_eq!(Command::from_code(10), None);
    }

    #[test]
    fn short_input_is_an_error_for_every_fixed_struct() {
        for len in 0..CONNECT_LEN {
            let b = vec![0xAB; len];
            assert!(matches!(
                Connect::decode(&b),
                Err(ProtoError::Short { need: 20, .. })
            ));
            if len < HEADER_LEN {
                assert!(CommandHeader::decode(&b).is_err());
            }
            if len < 8 {
                assert!(decode_id(&b).is_err());
            }
            if len < 4 {
                assert!(decode_u32("x", &b).is_err());
            }
        }
    }

    #[test]
    fn statuses_decode_and_refuse_unknown_values() {
        assert_eq!(AttachStatus::from_code(6).unwrap(), AttachStatus::NoSession);
        assert_eq!(IndexStatus::from_code(5).unwrap(), IndexStatus::Inactive);
        assert_eq!(PacketStatus::from_code(4).unwrap(), PacketStatus::Eof);
        assert_eq!(MetadataStatus::from_code(2).unwrap(), MetadataStatus::NoNew);
        assert_eq!(
            NewStreamsStatus::from_code(4).unwrap(),
            NewStreamsStatus::Hup
        );
        assert_eq!(CreateStatus::from_code(1).unwrap(), CreateStatus::Ok);
        assert_eq!(DetachStatus::from_code(2).unwrap(), DetachStatus::Unknown);
        for bad in [0, 7, u32::MAX] {
            assert!(matches!(
                AttachStatus::from_code(bad),
                Err(ProtoError::UnknownStatus { value, .. }) if value == bad
            ));
            assert!(IndexStatus::from_code(bad).is_err());
            assert!(NewStreamsStatus::from_code(bad).is_err());
        }
        assert!(MetadataStatus::from_code(4).is_err());
        assert!(PacketStatus::from_code(5).is_err());
        assert!(CreateStatus::from_code(3).is_err());
        assert!(DetachStatus::from_code(4).is_err());
    }

    #[test]
    fn flags() {
        assert!(Flags(1).new_metadata() && !Flags(1).new_stream());
        assert!(Flags(2).new_stream() && !Flags(2).new_metadata());
        assert!(Flags(0xFFFF_FFFF).new_stream());
    }

    #[test]
    fn c_strings_are_truncated_and_nul_padded() {
        let mut out = Vec::new();
        put_c_string(&mut out, "abcdef", 4);
        assert_eq!(out, b"abc\0");
        let mut r = Reader::new("t", &out, 4).unwrap();
        assert_eq!(r.c_string(4), "abc");
        // No NUL at all: the whole field; invalid UTF-8 is replaced, not a panic.
        let mut r = Reader::new("t", &[b'x', 0xFF, b'y'], 3).unwrap();
        assert_eq!(r.c_string(3), "x\u{FFFD}y");
    }
}
