//! Packetized metadata (CTF 1.8 §7.1): a sequence of packets, each a 37-byte
//! header followed by a slice of the TSDL text. The header's byte order is
//! the tracer's; the magic tells it.

use super::error::MetadataError;

/// Magic number of a metadata packet.
const MAGIC: u32 = 0x75D1_1D57;
/// Header size in bytes: magic, uuid[16], checksum, content_size,
/// packet_size, compression, encryption, checksum_scheme, major, minor.
const HEADER_LEN: usize = 37;

/// Whether `bytes` start like a packetized metadata stream.
pub(crate) fn is_packetized(bytes: &[u8]) -> bool {
    bytes.len() >= 4 && {
        let m = [bytes[0], bytes[1], bytes[2], bytes[3]];
        u32::from_le_bytes(m) == MAGIC || u32::from_be_bytes(m) == MAGIC
    }
}

fn read_u32(b: &[u8], at: usize, le: bool) -> u32 {
    let w = [b[at], b[at + 1], b[at + 2], b[at + 3]];
    if le {
        u32::from_le_bytes(w)
    } else {
        u32::from_be_bytes(w)
    }
}

/// Concatenates the payloads of the packets of `bytes`.
pub(crate) fn depacketize(bytes: &[u8]) -> Result<Vec<u8>, MetadataError> {
    let le =
        bytes.len() >= 4 && u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) == MAGIC;
    let mut out = Vec::with_capacity(bytes.len());
    let mut uuid: Option<&[u8]> = None;
    let mut offset = 0;
    while offset < bytes.len() {
        let b = &bytes[offset..];
        if b.len() < HEADER_LEN {
            return Err(MetadataError::PacketTruncated {
                offset,
                needed: HEADER_LEN,
                available: b.len(),
            });
        }
        let magic = read_u32(b, 0, le);
        if magic != MAGIC {
            return Err(MetadataError::PacketMagic { offset, magic });
        }
        let content_size = read_u32(b, 24, le);
        let packet_size = read_u32(b, 28, le);
        let sizes_ok = content_size.is_multiple_of(8)
            && packet_size.is_multiple_of(8)
            && content_size as usize / 8 >= HEADER_LEN
            && content_size <= packet_size;
        if !sizes_ok {
            return Err(MetadataError::PacketSizes {
                offset,
                content_size,
                packet_size,
            });
        }
        for (what, at) in [
            ("compression scheme", 32),
            ("encryption scheme", 33),
            ("checksum scheme", 34),
        ] {
            if b[at] != 0 {
                return Err(MetadataError::PacketUnsupported {
                    offset,
                    what,
                    value: b[at].to_string(),
                });
            }
        }
        if (b[35], b[36]) != (1, 8) {
            return Err(MetadataError::PacketUnsupported {
                offset,
                what: "version",
                value: format!("{}.{}", b[35], b[36]),
            });
        }
        let (content, packet) = (content_size as usize / 8, packet_size as usize / 8);
        if packet > b.len() {
            return Err(MetadataError::PacketTruncated {
                offset,
                needed: packet,
                available: b.len(),
            });
        }
        match uuid {
            None => uuid = Some(&b[4..20]),
            Some(u) if u != &b[4..20] => return Err(MetadataError::PacketUuid { offset }),
            Some(_) => {}
        }
        out.extend_from_slice(&b[HEADER_LEN..content]);
        offset += packet;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One packet: header fields in order, then `text`, then `pad` zero bytes.
    fn packet(le: bool, text: &[u8], pad: usize, version: (u8, u8)) -> Vec<u8> {
        let w = |v: u32| if le { v.to_le_bytes() } else { v.to_be_bytes() };
        let content = u32::try_from((HEADER_LEN + text.len()) * 8).unwrap();
        let mut p = Vec::new();
        p.extend(w(MAGIC)); // magic
        p.extend([7u8; 16]); // uuid
        p.extend(w(0)); // checksum
        p.extend(w(content)); // content_size (bits)
        p.extend(w(content + u32::try_from(pad * 8).unwrap())); // packet_size (bits)
        p.extend([0, 0, 0, version.0, version.1]); // compression, encryption, checksum_scheme, major, minor
        p.extend(text);
        p.extend(std::iter::repeat_n(0u8, pad));
        p
    }

    #[test]
    fn payloads_are_concatenated_in_both_byte_orders() {
        for le in [true, false] {
            let mut s = packet(le, b"/* CTF 1.8 */ a", 5, (1, 8));
            s.extend(packet(le, b" b", 0, (1, 8)));
            assert!(is_packetized(&s));
            assert_eq!(depacketize(&s).unwrap(), b"/* CTF 1.8 */ a b");
        }
    }

    #[test]
    fn wrong_version_is_refused() {
        let s = packet(true, b"x", 0, (116, 121));
        assert!(matches!(
            depacketize(&s),
            Err(MetadataError::PacketUnsupported {
                what: "version",
                ..
            })
        ));
    }

    #[test]
    fn truncated_packet_is_refused() {
        let s = packet(true, b"abc", 10, (1, 8));
        assert!(matches!(
            depacketize(&s[..s.len() - 1]),
            Err(MetadataError::PacketTruncated { .. })
        ));
        assert!(matches!(
            depacketize(&s[..20]),
            Err(MetadataError::PacketTruncated { .. })
        ));
    }

    #[test]
    fn zero_packet_size_cannot_loop_forever() {
        let mut s = packet(true, b"", 0, (1, 8));
        s[28..32].copy_from_slice(&0u32.to_le_bytes());
        assert!(matches!(
            depacketize(&s),
            Err(MetadataError::PacketSizes { .. })
        ));
    }
}
