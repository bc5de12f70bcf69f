//! One TCP connection to a relay daemon's viewer port, one command at a time.
//!
//! Each method sends a whole request in one write and reads the whole reply,
//! every read under a timeout. If a command fails halfway (timeout, short
//! read, malformed reply), the byte stream is out of step with the relay; the
//! connection then refuses further commands with [`LiveError::Broken`] and
//! the caller reconnects. Dropping a command's future mid-way has the same
//! effect, so the methods are safe to use under `select!`.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::error::LiveError;
use super::proto::{
    self, AttachRequest, AttachStatus, Command, Connect, CreateStatus, DetachStatus, Flags,
    GetPacket, MetadataReply, MetadataStatus, NewStreamsStatus, PacketReply, PacketStatus,
    ProtoError, Seek, SessionEntry, StreamEntry, StreamsReply, ViewerIndex,
};

/// How long one socket read or write may take before the command fails.
/// Relayd answers every command at once (RETRY rather than blocking), so a
/// silent relay for this long is a dead relay or a dead network.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest GET_PACKET request. Bigger packets are fetched in several
/// requests; smaller ones in one (a round trip per packet, not per 256 KiB
/// as babeltrace does, which matters for remote relays).
pub const PACKET_REQUEST_MAX: u32 = 4 << 20;

/// Protocol minor from which DETACH_SESSION exists.
const MINOR_DETACH: u32 = 8;

/// A viewer connection after a successful CONNECT handshake.
#[derive(Debug)]
pub struct ViewerConnection {
    stream: TcpStream,
    addr: String,
    timeout: Duration,
    relay_major: u32,
    relay_minor: u32,
    minor: u32,
    viewer_session_id: u64,
    /// A command is in flight or failed mid-way: the stream is out of step.
    broken: bool,
}

/// The outcome of GET_METADATA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataChunk {
    /// New metadata bytes (may be empty after `lttng clear`: ask again later).
    Data(Vec<u8>),
    /// Everything available was sent.
    NoNew,
    /// The metadata stream is closed (relayd's answer after the last NO_NEW).
    Closed,
}

/// The outcome of GET_NEW_STREAMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewStreams {
    /// Streams created since the last call (maybe none).
    Streams(Vec<StreamEntry>),
    /// The session is closed and no stream has data left.
    Hup,
}

/// The outcome of fetching one packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PacketData {
    /// The packet's bytes.
    Bytes(Vec<u8>),
    /// The relay refused; its flags tell whether fetching metadata or new
    /// streams first may help.
    Error(Flags),
    /// The stream ended.
    Eof,
    /// The relay asked to retry later.
    Retry,
}

impl ViewerConnection {
    /// Connect to `addr` (`host:port`) and do the version handshake: we offer
    /// 2.[`proto::VIEWER_MINOR`], the relay answers its version, a major other
    /// than 2 is refused, and both sides then use the smaller minor.
    pub async fn connect(addr: &str, timeout: Duration) -> Result<Self, LiveError> {
        let connecting = TcpStream::connect(addr);
        let stream = match tokio::time::timeout(timeout, connecting).await {
            Err(_) => {
                return Err(LiveError::Connect {
                    addr: addr.to_string(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("no answer within {timeout:?}"),
                    ),
                });
            }
            Ok(Err(source)) => {
                return Err(LiveError::Connect {
                    addr: addr.to_string(),
                    source,
                });
            }
            Ok(Ok(s)) => s,
        };
        // Requests are single writes followed by a wait for the reply.
        stream
            .set_nodelay(true)
            .map_err(|source| LiveError::Connect {
                addr: addr.to_string(),
                source,
            })?;
        let mut conn = ViewerConnection {
            stream,
            addr: addr.to_string(),
            timeout,
            relay_major: 0,
            relay_minor: 0,
            minor: 0,
            viewer_session_id: 0,
            broken: false,
        };
        let mut payload = Vec::with_capacity(proto::CONNECT_LEN);
        Connect {
            viewer_session_id: u64::MAX,
            major: proto::VIEWER_MAJOR,
            minor: proto::VIEWER_MINOR,
            conn_type: Connect::CLIENT_COMMAND,
        }
        .encode(&mut payload);
        let cmd = Command::Connect;
        conn.begin(cmd, &payload).await?;
        let reply = conn.read_fixed::<{ proto::CONNECT_LEN }>(cmd).await?;
        let reply = conn.decoded(cmd, Connect::decode(&reply))?;
        conn.end();
        if reply.major != proto::VIEWER_MAJOR {
            return Err(LiveError::Version {
                addr: conn.addr,
                major: reply.major,
                minor: reply.minor,
            });
        }
        conn.relay_major = reply.major;
        conn.relay_minor = reply.minor;
        conn.minor = reply.minor.min(proto::VIEWER_MINOR);
        conn.viewer_session_id = reply.viewer_session_id;
        Ok(conn)
    }

    /// The relay address, as given to [`ViewerConnection::connect`].
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The relay's own protocol version (major, minor).
    pub fn relay_version(&self) -> (u32, u32) {
        (self.relay_major, self.relay_minor)
    }

    /// The protocol minor in use: `min(ours, relay's)`.
    pub fn minor(&self) -> u32 {
        self.minor
    }

    /// The viewer session id the relay assigned.
    pub fn viewer_session_id(&self) -> u64 {
        self.viewer_session_id
    }

    /// CREATE_SESSION: required once before ATTACH_SESSION.
    pub async fn create_session(&mut self) -> Result<(), LiveError> {
        let cmd = Command::CreateSession;
        self.begin(cmd, &[]).await?;
        let reply = self.read_fixed::<4>(cmd).await?;
        let status =
            proto::decode_u32("create session reply", &reply).and_then(CreateStatus::from_code);
        let status = self.decoded(cmd, status)?;
        self.end();
        match status {
            CreateStatus::Ok => Ok(()),
            CreateStatus::Err => {
                Err(self.refused(cmd, "the relay could not create a viewer session"))
            }
        }
    }

    /// LIST_SESSIONS, in the entry format of the negotiated minor.
    pub async fn list_sessions(&mut self) -> Result<Vec<SessionEntry>, LiveError> {
        let cmd = Command::ListSessions;
        self.begin(cmd, &[]).await?;
        let count = self.read_fixed::<4>(cmd).await?;
        let count = self.decoded(cmd, proto::decode_sessions_count(&count))?;
        // The count is capped; still grow the list as entries arrive.
        let mut sessions = Vec::new();
        for _ in 0..count {
            let entry = if self.minor >= proto::MINOR_VARIABLE_SESSION_ENTRIES {
                let head = self
                    .read_fixed::<{ proto::SESSION_2_15_HEADER_LEN }>(cmd)
                    .await?;
                let (mut entry, lens) =
                    self.decoded(cmd, SessionEntry::decode_2_15_header(&head))?;
                let names = self.read_vec(cmd, lens.total() as u64).await?;
                let named = entry.set_names_2_15(lens, &names);
                self.decoded(cmd, named)?;
                entry
            } else {
                let b = self.read_fixed::<{ proto::SESSION_2_4_LEN }>(cmd).await?;
                self.decoded(cmd, SessionEntry::decode_2_4(&b))?
            };
            sessions.push(entry);
        }
        self.end();
        Ok(sessions)
    }

    /// ATTACH_SESSION: the session's streams, positioned per `seek`. Any
    /// status but OK is an error that says what the relay meant.
    pub async fn attach_session(
        &mut self,
        session_id: u64,
        seek: Seek,
    ) -> Result<Vec<StreamEntry>, LiveError> {
        let cmd = Command::AttachSession;
        let mut payload = Vec::with_capacity(proto::ATTACH_REQUEST_LEN);
        AttachRequest { session_id, seek }.encode(&mut payload);
        self.begin(cmd, &payload).await?;
        let (status, streams) = self.read_streams(cmd).await?;
        let status = self.decoded(cmd, AttachStatus::from_code(status))?;
        self.end();
        if status == AttachStatus::Ok {
            return Ok(streams);
        }
        Err(LiveError::AttachRefused {
            addr: self.addr.clone(),
            session_id,
            status,
        })
    }

    /// GET_NEW_STREAMS for an attached session.
    pub async fn get_new_streams(&mut self, session_id: u64) -> Result<NewStreams, LiveError> {
        let cmd = Command::GetNewStreams;
        self.begin(cmd, &proto::encode_id(session_id)).await?;
        let (status, streams) = self.read_streams(cmd).await?;
        let status = self.decoded(cmd, NewStreamsStatus::from_code(status))?;
        self.end();
        match status {
            NewStreamsStatus::Ok | NewStreamsStatus::NoNew => Ok(NewStreams::Streams(streams)),
            NewStreamsStatus::Hup => Ok(NewStreams::Hup),
            NewStreamsStatus::Err => Err(self.refused(
                cmd,
                &format!("relay session {session_id}: error (not attached, or unknown session)"),
            )),
        }
    }

    /// GET_METADATA for a metadata stream.
    pub async fn get_metadata(&mut self, stream_id: u64) -> Result<MetadataChunk, LiveError> {
        let cmd = Command::GetMetadata;
        self.begin(cmd, &proto::encode_id(stream_id)).await?;
        let head = self
            .read_fixed::<{ proto::METADATA_REPLY_LEN }>(cmd)
            .await?;
        let head = self.decoded(cmd, MetadataReply::decode(&head))?;
        let chunk = match head.status {
            MetadataStatus::Ok => MetadataChunk::Data(self.read_vec(cmd, head.len).await?),
            MetadataStatus::NoNew => MetadataChunk::NoNew,
            MetadataStatus::Err => MetadataChunk::Closed,
        };
        self.end();
        Ok(chunk)
    }

    /// GET_NEXT_INDEX for a data stream.
    pub async fn get_next_index(&mut self, stream_id: u64) -> Result<ViewerIndex, LiveError> {
        let cmd = Command::GetNextIndex;
        self.begin(cmd, &proto::encode_id(stream_id)).await?;
        let b = self.read_fixed::<{ proto::INDEX_LEN }>(cmd).await?;
        let index = self.decoded(cmd, ViewerIndex::decode(&b))?;
        self.end();
        Ok(index)
    }

    /// One GET_PACKET: `len` bytes at byte `offset` of a data stream.
    pub async fn get_packet(
        &mut self,
        stream_id: u64,
        offset: u64,
        len: u32,
    ) -> Result<PacketData, LiveError> {
        let cmd = Command::GetPacket;
        let mut payload = Vec::with_capacity(proto::GET_PACKET_LEN);
        GetPacket {
            stream_id,
            offset,
            len,
        }
        .encode(&mut payload);
        self.begin(cmd, &payload).await?;
        let head = self.read_fixed::<{ proto::PACKET_REPLY_LEN }>(cmd).await?;
        let head = self.decoded(cmd, PacketReply::decode(&head, len))?;
        let data = match head.status {
            PacketStatus::Ok => PacketData::Bytes(self.read_vec(cmd, head.len.into()).await?),
            PacketStatus::Retry => PacketData::Retry,
            PacketStatus::Err => PacketData::Error(head.flags),
            PacketStatus::Eof => PacketData::Eof,
        };
        self.end();
        Ok(data)
    }

    /// The whole packet an OK index points to, in requests of at most
    /// [`PACKET_REQUEST_MAX`] bytes. A non-`Bytes` answer to any request is
    /// returned as is (the bytes read so far are dropped).
    pub async fn fetch_packet(
        &mut self,
        stream_id: u64,
        index: &ViewerIndex,
    ) -> Result<PacketData, LiveError> {
        let total = index.packet_len();
        if total <= u64::from(PACKET_REQUEST_MAX) {
            return self.get_packet(stream_id, index.offset, total as u32).await;
        }
        let mut bytes = Vec::new();
        while (bytes.len() as u64) < total {
            let left = total - bytes.len() as u64;
            let len = left.min(u64::from(PACKET_REQUEST_MAX)) as u32;
            let at = index.offset.saturating_add(bytes.len() as u64);
            match self.get_packet(stream_id, at, len).await? {
                PacketData::Bytes(b) => bytes.extend_from_slice(&b),
                other => return Ok(other),
            }
        }
        Ok(PacketData::Bytes(bytes))
    }

    /// DETACH_SESSION (protocol ≥ 2.8; older relays detach on close).
    pub async fn detach_session(&mut self, session_id: u64) -> Result<(), LiveError> {
        if self.minor < MINOR_DETACH {
            return Ok(());
        }
        let cmd = Command::DetachSession;
        self.begin(cmd, &proto::encode_id(session_id)).await?;
        let reply = self.read_fixed::<4>(cmd).await?;
        let status =
            proto::decode_u32("detach session reply", &reply).and_then(DetachStatus::from_code);
        let status = self.decoded(cmd, status)?;
        self.end();
        match status {
            DetachStatus::Ok => Ok(()),
            DetachStatus::Unknown => {
                Err(self.refused(cmd, &format!("relay session {session_id}: unknown")))
            }
            DetachStatus::Err => {
                Err(self.refused(cmd, &format!("relay session {session_id}: error")))
            }
        }
    }

    /// Read `{status, count}` then `count` stream entries.
    async fn read_streams(&mut self, cmd: Command) -> Result<(u32, Vec<StreamEntry>), LiveError> {
        let head = self.read_fixed::<{ proto::STREAMS_REPLY_LEN }>(cmd).await?;
        let head = self.decoded(cmd, StreamsReply::decode(&head))?;
        let mut streams = Vec::new();
        for _ in 0..head.streams_count {
            let b = self.read_fixed::<{ proto::STREAM_LEN }>(cmd).await?;
            streams.push(self.decoded(cmd, StreamEntry::decode(&b))?);
        }
        Ok((head.status, streams))
    }

    /// Mark the command in flight and send it in one write.
    async fn begin(&mut self, cmd: Command, payload: &[u8]) -> Result<(), LiveError> {
        if self.broken {
            return Err(LiveError::Broken {
                addr: self.addr.clone(),
            });
        }
        self.broken = true;
        let req = proto::request(cmd, payload);
        match tokio::time::timeout(self.timeout, self.stream.write_all(&req)).await {
            Err(_) => Err(self.timed_out(cmd)),
            Ok(Err(source)) => Err(LiveError::Io {
                addr: self.addr.clone(),
                cmd,
                source,
            }),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// The reply was read completely: the stream is in step again.
    fn end(&mut self) {
        self.broken = false;
    }

    async fn read_fixed<const N: usize>(&mut self, cmd: Command) -> Result<[u8; N], LiveError> {
        let mut buf = [0u8; N];
        match tokio::time::timeout(self.timeout, self.stream.read_exact(&mut buf)).await {
            Err(_) => Err(self.timed_out(cmd)),
            Ok(Err(source)) => Err(LiveError::Io {
                addr: self.addr.clone(),
                cmd,
                source,
            }),
            Ok(Ok(_)) => Ok(buf),
        }
    }

    /// Read `len` bytes (already checked against a cap by the decoder). The
    /// buffer grows as bytes arrive, so a lying length costs nothing until
    /// the bytes are really sent.
    async fn read_vec(&mut self, cmd: Command, len: u64) -> Result<Vec<u8>, LiveError> {
        let mut buf = Vec::new();
        let mut limited = (&mut self.stream).take(len);
        let reading = limited.read_to_end(&mut buf);
        let outcome = tokio::time::timeout(self.timeout, reading).await;
        match outcome {
            Err(_) => Err(self.timed_out(cmd)),
            Ok(Err(source)) => Err(LiveError::Io {
                addr: self.addr.clone(),
                cmd,
                source,
            }),
            Ok(Ok(n)) if (n as u64) < len => Err(LiveError::Io {
                addr: self.addr.clone(),
                cmd,
                source: std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("connection closed after {n} of {len} reply bytes"),
                ),
            }),
            Ok(Ok(_)) => Ok(buf),
        }
    }

    fn decoded<T>(&self, cmd: Command, r: Result<T, ProtoError>) -> Result<T, LiveError> {
        r.map_err(|source| LiveError::Protocol {
            addr: self.addr.clone(),
            cmd,
            source,
        })
    }

    fn timed_out(&self, cmd: Command) -> LiveError {
        LiveError::Timeout {
            addr: self.addr.clone(),
            cmd,
            after: self.timeout,
        }
    }

    fn refused(&self, cmd: Command, status: &str) -> LiveError {
        LiveError::Refused {
            addr: self.addr.clone(),
            cmd,
            status: status.to_string(),
        }
    }
}
