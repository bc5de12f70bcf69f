//! LTTng packet index files (`index/STREAM.idx`, lttng-tools `ctf-index.hpp`).
//!
//! The index lists where each packet of a stream file starts and how long it
//! is. The reader uses it to read exactly one packet at a time; without it, it
//! reads a window and lets the decoder find each packet's size.

use std::path::Path;

/// `0xC1F1DCC1`, big-endian, at the start of every index file.
const MAGIC: u32 = 0xC1F1_DCC1;
/// magic, major, minor, entry length: four big-endian u32.
const HEADER_LEN: usize = 16;
/// offset and packet_size are the first two u64 of every entry (v1.0 and v1.1).
const MIN_ENTRY_LEN: usize = 16;

/// Where one packet is in its stream file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IndexEntry {
    /// Byte offset of the packet in the stream file.
    pub offset: u64,
    /// Packet size in bytes.
    pub packet_size: u64,
}

/// The index of the stream file `stream`, if `index/NAME.idx` exists beside
/// it; an error says why a present index is malformed.
pub(crate) fn read_index(stream: &Path) -> Option<Result<Vec<IndexEntry>, String>> {
    let name = stream.file_name()?;
    let mut idx = stream.parent()?.join("index").join(name);
    idx.as_mut_os_string().push(".idx");
    let bytes = std::fs::read(&idx).ok()?;
    Some(parse_index(&bytes).map_err(|e| format!("{}: {e}", idx.display())))
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn parse_index(bytes: &[u8]) -> Result<Vec<IndexEntry>, String> {
    let magic = be_u32(bytes, 0).ok_or("index shorter than its header")?;
    if magic != MAGIC {
        return Err(format!("bad index magic {magic:#x}"));
    }
    let entry_len = be_u32(bytes, 12).ok_or("index shorter than its header")? as usize;
    if entry_len < MIN_ENTRY_LEN {
        return Err(format!("index entry length {entry_len} < {MIN_ENTRY_LEN}"));
    }
    let body = &bytes[HEADER_LEN..];
    let mut entries = Vec::with_capacity(body.len() / entry_len);
    for (i, e) in body.chunks_exact(entry_len).enumerate() {
        let offset = be_u64(e, 0).ok_or("short entry")?;
        let size_bits = be_u64(e, 8).ok_or("short entry")?;
        if size_bits % 8 != 0 || size_bits == 0 {
            return Err(format!("entry {i}: packet size {size_bits} bits"));
        }
        entries.push(IndexEntry {
            offset,
            packet_size: size_bits / 8,
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(entries: &[(u64, u64)], entry_len: u32) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(MAGIC.to_be_bytes());
        b.extend(1u32.to_be_bytes()); // major
        b.extend(1u32.to_be_bytes()); // minor
        b.extend(entry_len.to_be_bytes());
        for &(off, bits) in entries {
            let mut e = vec![0u8; entry_len as usize];
            e[0..8].copy_from_slice(&off.to_be_bytes());
            e[8..16].copy_from_slice(&bits.to_be_bytes());
            b.extend(e);
        }
        b
    }

    #[test]
    fn reads_v1_1_entries() {
        let got = parse_index(&index(&[(0, 4096 * 8), (4096, 8192 * 8)], 72)).unwrap();
        assert_eq!(
            got[1],
            IndexEntry {
                offset: 4096,
                packet_size: 8192
            }
        );
    }

    #[test]
    fn refuses_bad_magic_and_odd_sizes() {
        let mut b = index(&[(0, 8)], 56);
        b[0] = 0;
        assert!(parse_index(&b).is_err());
        assert!(parse_index(&index(&[(0, 7)], 56)).is_err());
        assert!(parse_index(&[1, 2]).is_err());
    }

    #[test]
    fn corpus_index_matches_stream_size() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/data/ctf-traces/succeed/trace-with-index"
        );
        let stream = Path::new(dir).join("ust_channel_0");
        let Some(entries) = read_index(&stream) else {
            eprintln!("skipped: {} not found", stream.display());
            return;
        };
        let entries = entries.unwrap();
        let len = std::fs::metadata(&stream).unwrap().len();
        let last = entries.last().unwrap();
        assert_eq!(last.offset + last.packet_size, len);
    }
}
