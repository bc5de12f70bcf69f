//! Metadata as the relay serves it: the bytes of the trace's `metadata` file,
//! which LTTng writes as CTF *metadata packets* (a 37-byte header, then TSDL
//! text, then padding), or, for other producers, plain TSDL text.
//!
//! [`MetadataText`] takes the bytes in whatever chunks GET_METADATA returns
//! them and keeps the TSDL text of every complete packet, so the live session
//! can hand a parser text, as the trace-directory reader does.

/// `0x75D11D57`: first field of every metadata packet.
const PACKET_MAGIC: u32 = 0x75D1_1D57;
/// magic u32, uuid[16], checksum u32, content_size u32, packet_size u32,
/// compression, encryption, checksum schemes, major, minor (u8 each).
const HEADER_LEN: usize = 37;

/// Malformed metadata packets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataPacketError {
    /// A size field is impossible.
    #[error("metadata packet at byte {offset}: {what} {value} bits is impossible")]
    BadSize {
        /// Offset of the packet in the metadata stream.
        offset: u64,
        /// `content_size` or `packet_size`.
        what: &'static str,
        /// The value.
        value: u32,
    },
    /// Compressed, encrypted or checksummed packets are not supported (LTTng never writes them).
    #[error("metadata packet at byte {offset}: {what} scheme {value} is not supported")]
    Scheme {
        /// Offset of the packet in the metadata stream.
        offset: u64,
        /// Which scheme.
        what: &'static str,
        /// Its value.
        value: u8,
    },
    /// A packet does not start with the magic number.
    #[error("metadata packet at byte {offset}: bad magic {value:#010x}")]
    Magic {
        /// Offset of the packet in the metadata stream.
        offset: u64,
        /// What was found.
        value: u32,
    },
}

/// Incremental TSDL text of one trace's metadata stream.
#[derive(Debug, Default)]
pub(crate) struct MetadataText {
    /// Decided on the first 4 bytes: `Some(little_endian)` when packetized.
    packetized: Option<Option<bool>>,
    /// Bytes of an incomplete packet (or of a first chunk shorter than 4 bytes).
    pending: Vec<u8>,
    /// Stream offset of `pending[0]`.
    pending_offset: u64,
    text: String,
}

impl MetadataText {
    /// The TSDL text so far.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Add bytes received from the relay; returns how many text bytes grew.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Result<usize, MetadataPacketError> {
        let before = self.text.len();
        self.pending.extend_from_slice(bytes);
        let mode = match self.packetized {
            Some(mode) => mode,
            None => {
                let Some(first) = self.pending.first_chunk::<4>() else {
                    return Ok(0);
                };
                let mode = if u32::from_le_bytes(*first) == PACKET_MAGIC {
                    Some(true)
                } else if u32::from_be_bytes(*first) == PACKET_MAGIC {
                    Some(false)
                } else {
                    None
                };
                self.packetized = Some(mode);
                mode
            }
        };
        match mode {
            None => {
                // Plain text: take everything (lossy: TSDL is ASCII).
                self.text.push_str(&String::from_utf8_lossy(&self.pending));
                self.pending_offset += self.pending.len() as u64;
                self.pending.clear();
            }
            Some(le) => {
                let mut at = 0;
                while let Some(used) = packet(
                    &mut self.text,
                    &self.pending[at..],
                    le,
                    self.pending_offset + at as u64,
                )? {
                    at += used;
                }
                self.pending.drain(..at);
                self.pending_offset += at as u64;
            }
        }
        Ok(self.text.len() - before)
    }
}

/// Append the text of the complete packet at the start of `b` to `text` and
/// return its length; `None` if the packet is incomplete.
fn packet(
    text: &mut String,
    b: &[u8],
    le: bool,
    offset: u64,
) -> Result<Option<usize>, MetadataPacketError> {
    let Some(head) = b.first_chunk::<HEADER_LEN>() else {
        return Ok(None);
    };
    let u32_at = |i: usize| {
        let v = [head[i], head[i + 1], head[i + 2], head[i + 3]];
        if le {
            u32::from_le_bytes(v)
        } else {
            u32::from_be_bytes(v)
        }
    };
    let magic = u32_at(0);
    if magic != PACKET_MAGIC {
        return Err(MetadataPacketError::Magic {
            offset,
            value: magic,
        });
    }
    let content_bits = u32_at(24);
    let packet_bits = u32_at(28);
    if !packet_bits.is_multiple_of(8) || (packet_bits / 8) < HEADER_LEN as u32 {
        return Err(MetadataPacketError::BadSize {
            offset,
            what: "packet_size",
            value: packet_bits,
        });
    }
    if !content_bits.is_multiple_of(8)
        || content_bits > packet_bits
        || (content_bits / 8) < HEADER_LEN as u32
    {
        return Err(MetadataPacketError::BadSize {
            offset,
            what: "content_size",
            value: content_bits,
        });
    }
    for (what, i) in [("compression", 32), ("encryption", 33), ("checksum", 34)] {
        if head[i] != 0 {
            return Err(MetadataPacketError::Scheme {
                offset,
                what,
                value: head[i],
            });
        }
    }
    let packet_len = (packet_bits / 8) as usize;
    let Some(packet) = b.get(..packet_len) else {
        return Ok(None);
    };
    let content = &packet[HEADER_LEN..(content_bits / 8) as usize];
    // Text stops at the first NUL, if the tracer padded inside the content.
    let end = content
        .iter()
        .position(|&c| c == 0)
        .unwrap_or(content.len());
    text.push_str(&String::from_utf8_lossy(&content[..end]));
    Ok(Some(packet_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One little-endian metadata packet holding `text`, padded with `pad` zero bytes.
    fn packet(text: &str, pad: usize) -> Vec<u8> {
        let content = HEADER_LEN + text.len();
        let mut b = Vec::new();
        b.extend(PACKET_MAGIC.to_le_bytes());
        b.extend([7u8; 16]); // uuid
        b.extend(0u32.to_le_bytes()); // checksum
        b.extend(((content * 8) as u32).to_le_bytes()); // content_size
        b.extend((((content + pad) * 8) as u32).to_le_bytes()); // packet_size
        b.extend([0, 0, 0, 1, 8]); // schemes, major, minor
        b.extend(text.as_bytes());
        b.resize(content + pad, 0);
        b
    }

    #[test]
    fn packets_in_any_chunking() {
        let mut all = packet("/* CTF 1.8 */\ntrace {", 11);
        all.extend(packet(" major = 1; };\n", 3));
        for split in 0..all.len() {
            let mut m = MetadataText::default();
            let mut grew = m.push(&all[..split]).unwrap();
            grew += m.push(&all[split..]).unwrap();
            assert_eq!(
                m.text(),
                "/* CTF 1.8 */\ntrace { major = 1; };\n",
                "split {split}"
            );
            assert_eq!(grew, m.text().len());
        }
    }

    #[test]
    fn plain_text() {
        let mut m = MetadataText::default();
        m.push(b"/* C").unwrap();
        m.push(b"TF 1.8 */").unwrap();
        assert_eq!(m.text(), "/* CTF 1.8 */");
    }

    #[test]
    fn bad_packets() {
        let mut p = packet("x", 0);
        p[28..32].copy_from_slice(&8u32.to_le_bytes()); // packet smaller than its header
        assert!(matches!(
            MetadataText::default().push(&p),
            Err(MetadataPacketError::BadSize { .. })
        ));
        let mut p = packet("x", 0);
        p[24..28].copy_from_slice(&u32::MAX.to_le_bytes()); // content beyond packet
        assert!(matches!(
            MetadataText::default().push(&p),
            Err(MetadataPacketError::BadSize { .. })
        ));
        let mut p = packet("x", 0);
        p[32] = 1;
        assert!(matches!(
            MetadataText::default().push(&p),
            Err(MetadataPacketError::Scheme { .. })
        ));
        let mut two = packet("x", 0);
        two.extend([0u8; HEADER_LEN]);
        assert!(matches!(
            MetadataText::default().push(&two),
            Err(MetadataPacketError::Magic { offset: 38, .. })
        ));
    }
}
