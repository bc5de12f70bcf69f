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

const HOSTNAME_LEN: usize = 64;
const SESSION_NAME_LEN: usize = 255;
const PATH_LEN: usize = 4096;
const CHANNEL_NAME_LEN: usize = 255;

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
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(what: &'static str, bytes: &'a [u8], need: usize) -> Result<Self, ProtoError> {
        if bytes.len() < need {
            return Err(ProtoError::Short {
                what,
                need,
                got: bytes.len(),
            });
        }
        Ok(Reader { bytes, at: 0 })
    }

    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        if let Some(src) = self.bytes.get(self.at..self.at + N) {
            out.copy_from_slice(src);
        }
        self.at += N;
        out
    }

    fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.take())
    }

    fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.take())
    }

    /// A fixed-size NUL-padded C string field.
    fn c_string(&mut self, len: usize) -> String {
        let field = self.bytes.get(self.at..self.at + len).unwrap_or(&[]);
        self.at += len;
        let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
        String::from_utf8_lossy(&field[..end]).into_owned()
    }
}

fn put_c_string(out: &mut Vec<u8>, s: &str, len: usize) {
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

/// The 4-byte count that starts a LIST_SESSIONS reply, capped at [`MAX_SESSIONS`].
pub fn decode_sessions_count(b: &[u8]) -> Result<u32, ProtoError> {
    let n = Reader::new("list sessions reply", b, 4)?.u32();
    if n > MAX_SESSIONS {
        return Err(ProtoError::TooLarge {
            what: "sessions_count",
            value: n.into(),
            max: MAX_SESSIONS.into(),
        });
    }
    Ok(n)
}

/// What a relay session's metadata is written in (2.15 entries only; older
/// relays only serve CTF 1.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceFormat {
    /// CTF 1.8 (TSDL metadata).
    Ctf1_8,
    /// CTF 2 (JSON metadata).
    Ctf2,
}

/// One LIST_SESSIONS entry, whichever of the two wire formats it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEntry {
    /// Relay session id (what ATTACH takes).
    pub id: u64,
    /// Live timer period in µs.
    pub live_timer_us: u32,
    /// Viewers attached.
    pub clients: u32,
    /// Streams in the session.
    pub streams: u32,
    /// Traced host.
    pub hostname: String,
    /// Tracing session name.
    pub session_name: String,
    /// Metadata format.
    pub trace_format: TraceFormat,
}

impl SessionEntry {
    /// Append a 339-byte protocol 2.4 entry (names truncated to fit).
    pub fn encode_2_4(&self, out: &mut Vec<u8>) {
        out.extend(self.id.to_be_bytes());
        out.extend(self.live_timer_us.to_be_bytes());
        out.extend(self.clients.to_be_bytes());
        out.extend(self.streams.to_be_bytes());
        put_c_string(out, &self.hostname, HOSTNAME_LEN);
        put_c_string(out, &self.session_name, SESSION_NAME_LEN);
    }

    /// Read a 339-byte protocol 2.4 entry.
    pub fn decode_2_4(b: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new("session entry (2.4)", b, SESSION_2_4_LEN)?;
        Ok(SessionEntry {
            id: r.u64(),
            live_timer_us: r.u32(),
            clients: r.u32(),
            streams: r.u32(),
            hostname: r.c_string(HOSTNAME_LEN),
            session_name: r.c_string(SESSION_NAME_LEN),
            trace_format: TraceFormat::Ctf1_8,
        })
    }

    /// Append a protocol 2.15 entry: 32-byte header, then the two names.
    pub fn encode_2_15(&self, out: &mut Vec<u8>) {
        out.extend(self.id.to_be_bytes());
        out.extend(self.live_timer_us.to_be_bytes());
        out.extend(self.clients.to_be_bytes());
        out.extend(self.streams.to_be_bytes());
        out.extend((self.hostname.len() as u32).to_be_bytes());
        out.extend((self.session_name.len() as u32).to_be_bytes());
        let format: u32 = match self.trace_format {
            TraceFormat::Ctf1_8 => 0,
            TraceFormat::Ctf2 => 1,
        };
        out.extend(format.to_be_bytes());
        out.extend_from_slice(self.hostname.as_bytes());
        out.extend_from_slice(self.session_name.as_bytes());
    }

    /// Read the 32-byte header of a 2.15 entry. Returns the entry with empty
    /// names and the lengths of the names that follow (each checked against
    /// [`MAX_NAME_LEN`]); pass those bytes to [`SessionEntry::set_names_2_15`].
    pub fn decode_2_15_header(b: &[u8]) -> Result<(Self, NameLens), ProtoError> {
        let mut r = Reader::new("session entry (2.15)", b, SESSION_2_15_HEADER_LEN)?;
        let (id, live_timer_us, clients, streams) = (r.u64(), r.u32(), r.u32(), r.u32());
        let host_len = r.u32();
        let name_len = r.u32();
        for (what, len) in [("hostname_len", host_len), ("session_name_len", name_len)] {
            if len > MAX_NAME_LEN {
                return Err(ProtoError::TooLarge {
                    what,
                    value: len.into(),
                    max: MAX_NAME_LEN.into(),
                });
            }
        }
        let trace_format = match r.u32() {
            0 => TraceFormat::Ctf1_8,
            1 => TraceFormat::Ctf2,
            value => {
                return Err(ProtoError::Invalid {
                    what: "trace_format",
                    value: value.into(),
                });
            }
        };
        let entry = SessionEntry {
            id,
            live_timer_us,
            clients,
            streams,
            hostname: String::new(),
            session_name: String::new(),
            trace_format,
        };
        Ok((
            entry,
            NameLens {
                hostname: host_len as usize,
                session_name: name_len as usize,
            },
        ))
    }

    /// Fill in the names of an entry from [`SessionEntry::decode_2_15_header`]
    /// with the `names` bytes that followed it.
    pub fn set_names_2_15(&mut self, lens: NameLens, names: &[u8]) -> Result<(), ProtoError> {
        let (host, rest) = names
            .split_at_checked(lens.hostname)
            .ok_or(ProtoError::Short {
                what: "session entry (2.15) names",
                need: lens.total(),
                got: names.len(),
            })?;
        let name = rest.get(..lens.session_name).ok_or(ProtoError::Short {
            what: "session entry (2.15) names",
            need: lens.total(),
            got: names.len(),
        })?;
        // Names are not NUL terminated, but a relay may still pad: stop at NUL.
        let cut = |b: &[u8]| {
            let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
            String::from_utf8_lossy(&b[..end]).into_owned()
        };
        self.hostname = cut(host);
        self.session_name = cut(name);
        Ok(())
    }

    /// Decode a whole 2.15 entry from contiguous bytes; returns it and its length.
    pub fn decode_2_15(b: &[u8]) -> Result<(Self, usize), ProtoError> {
        let (mut e, lens) = Self::decode_2_15_header(b)?;
        let total = SESSION_2_15_HEADER_LEN + lens.total();
        let tail = b
            .get(SESSION_2_15_HEADER_LEN..total)
            .ok_or(ProtoError::Short {
                what: "session entry (2.15)",
                need: total,
                got: b.len(),
            })?;
        e.set_names_2_15(lens, tail)?;
        Ok((e, total))
    }
}

/// Lengths of the two names after a 2.15 session entry header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameLens {
    /// Hostname bytes.
    pub hostname: usize,
    /// Session name bytes.
    pub session_name: usize,
}

impl NameLens {
    /// Bytes to read after the header.
    pub fn total(self) -> usize {
        self.hostname + self.session_name
    }
}

/// Where ATTACH_SESSION starts reading each stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Seek {
    /// The oldest packet the relay still has.
    Beginning = 1,
    /// After the newest packet: only future data (babeltrace's choice).
    #[default]
    Last = 2,
}

/// `lttng_viewer_attach_session_request`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachRequest {
    /// Relay session id.
    pub session_id: u64,
    /// Where to start.
    pub seek: Seek,
}

impl AttachRequest {
    /// Append the struct (the unused `offset` field is 0).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend(self.session_id.to_be_bytes());
        out.extend(0u64.to_be_bytes());
        out.extend((self.seek as u32).to_be_bytes());
    }

    /// Read the struct.
    pub fn decode(b: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new("attach request", b, ATTACH_REQUEST_LEN)?;
        let session_id = r.u64();
        let _offset = r.u64();
        let seek = match r.u32() {
            1 => Seek::Beginning,
            2 => Seek::Last,
            value => {
                return Err(ProtoError::Invalid {
                    what: "seek",
                    value: value.into(),
                });
            }
        };
        Ok(AttachRequest { session_id, seek })
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

/// `{u32 status; u32 streams_count}` of ATTACH_SESSION and GET_NEW_STREAMS.
/// The status stays raw: the two commands use different status enums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamsReply {
    /// Raw status ([`AttachStatus`] or [`NewStreamsStatus`]).
    pub status: u32,
    /// Stream entries that follow, at most [`MAX_STREAMS`].
    pub streams_count: u32,
}

impl StreamsReply {
    /// Append the struct.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend(self.status.to_be_bytes());
        out.extend(self.streams_count.to_be_bytes());
    }

    /// Read the struct; a count above [`MAX_STREAMS`] is an error.
    pub fn decode(b: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new("streams reply", b, STREAMS_REPLY_LEN)?;
        let (status, streams_count) = (r.u32(), r.u32());
        if streams_count > MAX_STREAMS {
            return Err(ProtoError::TooLarge {
                what: "streams_count",
                value: streams_count.into(),
                max: MAX_STREAMS.into(),
            });
        }
        Ok(StreamsReply {
            status,
            streams_count,
        })
    }
}

/// `lttng_viewer_stream`: one stream of an attached session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEntry {
    /// Viewer stream id (what GET_NEXT_INDEX / GET_PACKET / GET_METADATA take).
    pub id: u64,
    /// Groups the streams of one CTF trace (sharing one metadata stream).
    pub ctf_trace_id: u64,
    /// This is the trace's metadata stream.
    pub metadata: bool,
    /// Trace path on the relay, e.g. `ust/uid/1000/64-bit` or `kernel`.
    pub path_name: String,
    /// Channel (file) name, e.g. `channel0_1` or `metadata`.
    pub channel_name: String,
}

impl StreamEntry {
    /// Append a 4371-byte entry (names truncated to fit).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend(self.id.to_be_bytes());
        out.extend(self.ctf_trace_id.to_be_bytes());
        out.extend(u32::from(self.metadata).to_be_bytes());
        put_c_string(out, &self.path_name, PATH_LEN);
        put_c_string(out, &self.channel_name, CHANNEL_NAME_LEN);
    }

    /// Read a 4371-byte entry.
    pub fn decode(b: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new("stream entry", b, STREAM_LEN)?;
        let (id, ctf_trace_id) = (r.u64(), r.u64());
        let metadata = match r.u32() {
            0 => false,
            1 => true,
            value => {
                return Err(ProtoError::Invalid {
                    what: "metadata_flag",
                    value: value.into(),
                });
            }
        };
        Ok(StreamEntry {
            id,
            ctf_trace_id,
            metadata,
            path_name: r.c_string(PATH_LEN),
            channel_name: r.c_string(CHANNEL_NAME_LEN),
        })
    }
}

/// `lttng_viewer_index`: where the next packet of a stream is, or why there is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewerIndex {
    /// Byte offset of the packet in the relay's stream file.
    pub offset: u64,
    /// Packet size in **bits**.
    pub packet_size_bits: u64,
    /// Content size in **bits**.
    pub content_size_bits: u64,
    /// Packet begin time (clock cycles).
    pub timestamp_begin: u64,
    /// Packet end time, or the beacon time of an INACTIVE reply (clock cycles).
    pub timestamp_end: u64,
    /// Running count of events discarded by the tracer on this stream.
    pub events_discarded: u64,
    /// The CTF **stream class** id (not the viewer stream id).
    pub stream_class_id: u64,
    /// What the reply means.
    pub status: IndexStatus,
    /// New metadata / new stream hints.
    pub flags: Flags,
}

impl ViewerIndex {
    /// Append the 64-byte struct.
    pub fn encode(&self, out: &mut Vec<u8>) {
        for v in [
            self.offset,
            self.packet_size_bits,
            self.content_size_bits,
            self.timestamp_begin,
            self.timestamp_end,
            self.events_discarded,
            self.stream_class_id,
        ] {
            out.extend(v.to_be_bytes());
        }
        out.extend((self.status as u32).to_be_bytes());
        out.extend(self.flags.0.to_be_bytes());
    }

    /// Read the 64-byte struct. For OK replies the packet size is checked:
    /// a whole number of bytes, non-zero, at most [`MAX_PACKET_LEN`], and
    /// content no larger than the packet.
    pub fn decode(b: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new("index", b, INDEX_LEN)?;
        let offset = r.u64();
        let packet_size_bits = r.u64();
        let content_size_bits = r.u64();
        let timestamp_begin = r.u64();
        let timestamp_end = r.u64();
        let events_discarded = r.u64();
        let stream_class_id = r.u64();
        let status = IndexStatus::from_code(r.u32())?;
        let flags = Flags(r.u32());
        if status == IndexStatus::Ok {
            if packet_size_bits == 0 || packet_size_bits % 8 != 0 {
                return Err(ProtoError::Invalid {
                    what: "index packet_size (bits)",
                    value: packet_size_bits,
                });
            }
            if packet_size_bits / 8 > MAX_PACKET_LEN {
                return Err(ProtoError::TooLarge {
                    what: "index packet_size (bytes)",
                    value: packet_size_bits / 8,
                    max: MAX_PACKET_LEN,
                });
            }
            if content_size_bits > packet_size_bits {
                return Err(ProtoError::Invalid {
                    what: "index content_size (bits)",
                    value: content_size_bits,
                });
            }
        }
        Ok(ViewerIndex {
            offset,
            packet_size_bits,
            content_size_bits,
            timestamp_begin,
            timestamp_end,
            events_discarded,
            stream_class_id,
            status,
            flags,
        })
    }

    /// Packet size in bytes.
    pub fn packet_len(&self) -> u64 {
        self.packet_size_bits / 8
    }
}

/// `lttng_viewer_get_packet`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetPacket {
    /// Viewer stream id.
    pub stream_id: u64,
    /// Byte offset in the stream file.
    pub offset: u64,
    /// Bytes wanted.
    pub len: u32,
}

impl GetPacket {
    /// Append the struct.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend(self.stream_id.to_be_bytes());
        out.extend(self.offset.to_be_bytes());
        out.extend(self.len.to_be_bytes());
    }

    /// Read the struct.
    pub fn decode(b: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new("get packet request", b, GET_PACKET_LEN)?;
        Ok(GetPacket {
            stream_id: r.u64(),
            offset: r.u64(),
            len: r.u32(),
        })
    }
}

/// `lttng_viewer_trace_packet` header; `len` bytes follow when OK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketReply {
    /// Outcome.
    pub status: PacketStatus,
    /// Bytes that follow.
    pub len: u32,
    /// New metadata / new stream hints.
    pub flags: Flags,
}

impl PacketReply {
    /// Append the struct.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend((self.status as u32).to_be_bytes());
        out.extend(self.len.to_be_bytes());
        out.extend(self.flags.0.to_be_bytes());
    }

    /// Read the struct. `requested` is the length asked for: an OK reply with
    /// another length is refused (relayd sends exactly what was asked).
    pub fn decode(b: &[u8], requested: u32) -> Result<Self, ProtoError> {
        let mut r = Reader::new("get packet reply", b, PACKET_REPLY_LEN)?;
        let status = PacketStatus::from_code(r.u32())?;
        let len = r.u32();
        let flags = Flags(r.u32());
        if status == PacketStatus::Ok && len != requested {
            return Err(ProtoError::Invalid {
                what: "get packet reply len",
                value: len.into(),
            });
        }
        Ok(PacketReply { status, len, flags })
    }
}

/// `lttng_viewer_metadata_packet` header; `len` bytes follow when OK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetadataReply {
    /// Bytes that follow (at most [`MAX_METADATA_LEN`]).
    pub len: u64,
    /// Outcome.
    pub status: MetadataStatus,
}

impl MetadataReply {
    /// Append the struct.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend(self.len.to_be_bytes());
        out.extend((self.status as u32).to_be_bytes());
    }

    /// Read the struct; a length above [`MAX_METADATA_LEN`] is an error.
    pub fn decode(b: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new("get metadata reply", b, METADATA_REPLY_LEN)?;
        let len = r.u64();
        let status = MetadataStatus::from_code(r.u32())?;
        if len > MAX_METADATA_LEN {
            return Err(ProtoError::TooLarge {
                what: "metadata len",
                value: len,
                max: MAX_METADATA_LEN,
            });
        }
        Ok(MetadataReply { len, status })
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
