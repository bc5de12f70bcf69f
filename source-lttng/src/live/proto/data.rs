//! GET_NEXT_INDEX, GET_PACKET and GET_METADATA: where packets are and their bytes.

use super::{
    Flags, GET_PACKET_LEN, INDEX_LEN, IndexStatus, MAX_METADATA_LEN, MAX_PACKET_LEN,
    METADATA_REPLY_LEN, MetadataStatus, PACKET_REPLY_LEN, PacketStatus, ProtoError, Reader,
};

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
            if packet_size_bits == 0 || !packet_size_bits.is_multiple_of(8) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ok_index() -> ViewerIndex {
        ViewerIndex {
            offset: 4096,
            packet_size_bits: 4096 * 8,
            content_size_bits: 1000 * 8,
            timestamp_begin: 10,
            timestamp_end: 20,
            events_discarded: 2,
            stream_class_id: 0,
            status: IndexStatus::Ok,
            flags: Flags(Flags::NEW_METADATA),
        }
    }

    fn encoded(i: &ViewerIndex) -> Vec<u8> {
        let mut b = Vec::new();
        i.encode(&mut b);
        b
    }

    #[test]
    fn index_round_trip() {
        let i = ok_index();
        let b = encoded(&i);
        assert_eq!(b.len(), INDEX_LEN);
        assert_eq!(ViewerIndex::decode(&b).unwrap(), i);
        assert_eq!(i.packet_len(), 4096);
        // INACTIVE only fills timestamp_end and the stream class: sizes are 0.
        let beacon = ViewerIndex {
            offset: 0,
            packet_size_bits: 0,
            content_size_bits: 0,
            timestamp_begin: 0,
            status: IndexStatus::Inactive,
            ..i
        };
        assert_eq!(ViewerIndex::decode(&encoded(&beacon)).unwrap(), beacon);
    }

    #[test]
    fn index_garbage() {
        assert!(ViewerIndex::decode(&encoded(&ok_index())[..63]).is_err());
        for (packet, content) in [
            (0, 0),                        // empty packet
            (4095 * 8 + 1, 0),             // not whole bytes
            ((MAX_PACKET_LEN + 1) * 8, 0), // beyond the cap
            (u64::MAX - 7, 0),             // absurd
            (4096 * 8, 4097 * 8),          // content beyond packet
        ] {
            let i = ViewerIndex {
                packet_size_bits: packet,
                content_size_bits: content,
                ..ok_index()
            };
            assert!(
                ViewerIndex::decode(&encoded(&i)).is_err(),
                "{packet} {content}"
            );
        }
        let mut b = encoded(&ok_index());
        b[56..60].copy_from_slice(&9u32.to_be_bytes());
        assert!(matches!(
            ViewerIndex::decode(&b),
            Err(ProtoError::UnknownStatus { value: 9, .. })
        ));
    }

    #[test]
    fn get_packet_round_trip() {
        let g = GetPacket {
            stream_id: 1,
            offset: 1 << 40,
            len: 65536,
        };
        let mut b = Vec::new();
        g.encode(&mut b);
        assert_eq!(b.len(), GET_PACKET_LEN);
        assert_eq!(GetPacket::decode(&b).unwrap(), g);
        assert!(GetPacket::decode(&b[..19]).is_err());
    }

    #[test]
    fn packet_reply_round_trip_and_len_check() {
        let r = PacketReply {
            status: PacketStatus::Ok,
            len: 100,
            flags: Flags(0),
        };
        let mut b = Vec::new();
        r.encode(&mut b);
        assert_eq!(PacketReply::decode(&b, 100).unwrap(), r);
        // An OK reply with more (or fewer) bytes than asked is refused.
        assert!(matches!(
            PacketReply::decode(&b, 99),
            Err(ProtoError::Invalid {
                what: "get packet reply len",
                value: 100
            })
        ));
        // ERR carries no bytes; its length is irrelevant, its flags matter.
        let e = PacketReply {
            status: PacketStatus::Err,
            len: u32::MAX,
            flags: Flags(1),
        };
        let mut b = Vec::new();
        e.encode(&mut b);
        assert_eq!(PacketReply::decode(&b, 100).unwrap(), e);
        assert!(PacketReply::decode(&b[..11], 100).is_err());
        b[3] = 0;
        assert!(PacketReply::decode(&b, 100).is_err());
    }

    #[test]
    fn metadata_reply_round_trip_and_cap() {
        let r = MetadataReply {
            len: 1234,
            status: MetadataStatus::Ok,
        };
        let mut b = Vec::new();
        r.encode(&mut b);
        assert_eq!(MetadataReply::decode(&b).unwrap(), r);
        let big = MetadataReply {
            len: u64::MAX,
            status: MetadataStatus::Ok,
        };
        let mut b = Vec::new();
        big.encode(&mut b);
        assert!(matches!(
            MetadataReply::decode(&b),
            Err(ProtoError::TooLarge {
                what: "metadata len",
                ..
            })
        ));
        assert!(MetadataReply::decode(&b[..11]).is_err());
    }
}
