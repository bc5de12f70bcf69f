//! LIST_SESSIONS, ATTACH_SESSION and GET_NEW_STREAMS: session and stream entries.

use super::{
    ATTACH_REQUEST_LEN, CHANNEL_NAME_LEN, HOSTNAME_LEN, MAX_NAME_LEN, MAX_SESSIONS, MAX_STREAMS,
    PATH_LEN, ProtoError, Reader, SESSION_2_4_LEN, SESSION_2_15_HEADER_LEN, SESSION_NAME_LEN,
    STREAM_LEN, STREAMS_REPLY_LEN, put_c_string,
};

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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(host: &str, name: &str) -> SessionEntry {
        SessionEntry {
            id: 7,
            live_timer_us: 100_000,
            clients: 1,
            streams: 3,
            hostname: host.into(),
            session_name: name.into(),
            trace_format: TraceFormat::Ctf1_8,
        }
    }

    #[test]
    fn session_2_4_round_trip() {
        let e = entry("web-1", "my-session");
        let mut b = Vec::new();
        e.encode_2_4(&mut b);
        assert_eq!(b.len(), SESSION_2_4_LEN);
        assert_eq!(b.len(), 339);
        assert_eq!(SessionEntry::decode_2_4(&b).unwrap(), e);
        // Names too long for the fixed fields are cut, keeping the NUL.
        let long = entry(&"h".repeat(100), &"s".repeat(300));
        let mut b = Vec::new();
        long.encode_2_4(&mut b);
        let back = SessionEntry::decode_2_4(&b).unwrap();
        assert_eq!((back.hostname.len(), back.session_name.len()), (63, 254));
        assert!(SessionEntry::decode_2_4(&b[..338]).is_err());
    }

    #[test]
    fn session_2_15_round_trip() {
        let mut e = entry(
            "a-host-name-much-longer-than-sixty-four-bytes-is-fine-in-2.15-entries",
            "s",
        );
        e.trace_format = TraceFormat::Ctf2;
        let mut b = Vec::new();
        e.encode_2_15(&mut b);
        assert_eq!(b.len(), SESSION_2_15_HEADER_LEN + e.hostname.len() + 1);
        let (back, used) = SessionEntry::decode_2_15(&b).unwrap();
        assert_eq!((back, used), (e, b.len()));
    }

    #[test]
    fn session_2_15_garbage() {
        let mut b = Vec::new();
        entry("h", "s").encode_2_15(&mut b);
        // Names announced but missing.
        assert!(matches!(
            SessionEntry::decode_2_15(&b[..b.len() - 1]),
            Err(ProtoError::Short { .. })
        ));
        let (e, lens) = SessionEntry::decode_2_15_header(&b).unwrap();
        assert!(e.clone().set_names_2_15(lens, b"h").is_err());
        // A hostname length of 4 GiB is refused before anything is read for it.
        let mut huge = b.clone();
        huge[20..24].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            SessionEntry::decode_2_15_header(&huge),
            Err(ProtoError::TooLarge {
                what: "hostname_len",
                ..
            })
        ));
        let mut huge = b.clone();
        huge[24..28].copy_from_slice(&(MAX_NAME_LEN + 1).to_be_bytes());
        assert!(SessionEntry::decode_2_15_header(&huge).is_err());
        let mut fmt = b.clone();
        fmt[28..32].copy_from_slice(&2u32.to_be_bytes());
        assert!(matches!(
            SessionEntry::decode_2_15_header(&fmt),
            Err(ProtoError::Invalid {
                what: "trace_format",
                value: 2
            })
        ));
        assert!(SessionEntry::decode_2_15_header(&b[..31]).is_err());
    }

    #[test]
    fn sessions_count_is_capped() {
        assert_eq!(decode_sessions_count(&3u32.to_be_bytes()).unwrap(), 3);
        assert!(matches!(
            decode_sessions_count(&(MAX_SESSIONS + 1).to_be_bytes()),
            Err(ProtoError::TooLarge {
                what: "sessions_count",
                ..
            })
        ));
        assert!(decode_sessions_count(&[0, 0]).is_err());
    }

    #[test]
    fn attach_request_round_trip() {
        for seek in [Seek::Beginning, Seek::Last] {
            let r = AttachRequest {
                session_id: 9,
                seek,
            };
            let mut b = Vec::new();
            r.encode(&mut b);
            assert_eq!(b.len(), ATTACH_REQUEST_LEN);
            assert_eq!(AttachRequest::decode(&b).unwrap(), r);
        }
        let mut b = Vec::new();
        AttachRequest {
            session_id: 9,
            seek: Seek::Last,
        }
        .encode(&mut b);
        b[19] = 3;
        assert!(AttachRequest::decode(&b).is_err());
    }

    #[test]
    fn streams_reply_round_trip_and_cap() {
        let r = StreamsReply {
            status: 1,
            streams_count: 3,
        };
        let mut b = Vec::new();
        r.encode(&mut b);
        assert_eq!(StreamsReply::decode(&b).unwrap(), r);
        let bad = StreamsReply {
            status: 1,
            streams_count: u32::MAX,
        };
        let mut b = Vec::new();
        bad.encode(&mut b);
        assert!(matches!(
            StreamsReply::decode(&b),
            Err(ProtoError::TooLarge {
                what: "streams_count",
                ..
            })
        ));
        assert!(StreamsReply::decode(&b[..7]).is_err());
    }

    #[test]
    fn stream_entry_round_trip() {
        let s = StreamEntry {
            id: 3,
            ctf_trace_id: 1,
            metadata: false,
            path_name: "vm/full-20260101-000000/ust/uid/0/64-bit".into(),
            channel_name: "channel0_1".into(),
        };
        let mut b = Vec::new();
        s.encode(&mut b);
        assert_eq!(b.len(), STREAM_LEN);
        assert_eq!(b.len(), 4371);
        assert_eq!(StreamEntry::decode(&b).unwrap(), s);
        assert!(StreamEntry::decode(&b[..4370]).is_err());
        b[19] = 2; // metadata_flag
        assert!(matches!(
            StreamEntry::decode(&b),
            Err(ProtoError::Invalid {
                what: "metadata_flag",
                value: 2
            })
        ));
    }
}
