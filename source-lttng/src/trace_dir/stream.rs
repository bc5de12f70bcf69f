//! One stream file read packet by packet, through a reusable window.
//!
//! A packet is handed to the decoder as the bytes from its start to the end of
//! the window; the decoder reads the packet's own size from its context. The
//! window is the packet's size when the index gives it, else a few MiB,
//! grown when a packet turns out larger. Memory stays bounded by the largest
//! packet, whatever the file size.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::index::{IndexEntry, read_index};

/// Bytes read at once when the index does not say how large the next packet is.
const DEFAULT_WINDOW: u64 = 4 << 20;

/// A stream file with a read window.
pub(crate) struct StreamFile {
    path: PathBuf,
    file: File,
    len: u64,
    index: Vec<IndexEntry>,
    /// The whole file is one window (the trace's packets carry no size).
    whole_file: bool,
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    buf_start: u64,
    /// File offset of the next packet.
    pos: u64,
}

impl StreamFile {
    /// Opens `path`; `whole_file` when packets of this trace carry no size.
    pub(crate) fn open(path: &Path, whole_file: bool) -> std::io::Result<Self> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        // The index only sizes the read window: a malformed one is ignored
        // and the stream, which is the authority, is read without it.
        let index = match read_index(path) {
            Some(Ok(entries)) => entries,
            Some(Err(_)) | None => Vec::new(),
        };
        Ok(StreamFile {
            path: path.to_path_buf(),
            file,
            len,
            index,
            whole_file,
            buf: Vec::new(),
            buf_start: 0,
            pos: 0,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// File offset of the next packet.
    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    /// Bytes left from the next packet to the end of the file.
    pub(crate) fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    /// Moves to the next packet.
    pub(crate) fn advance(&mut self, packet_size: u64) {
        self.pos = self.pos.saturating_add(packet_size.max(1)).min(self.len);
    }

    /// Moves to `offset` (after an error: the next packet, or the end).
    pub(crate) fn seek_to(&mut self, offset: u64) {
        self.pos = offset.max(self.pos).min(self.len);
    }

    /// How many bytes to offer the decoder for the packet at `pos`.
    pub(crate) fn wanted(&self) -> u64 {
        if self.whole_file {
            return self.remaining();
        }
        let hinted = self
            .index
            .binary_search_by_key(&self.pos, |e| e.offset)
            .ok()
            .map(|i| self.index[i].packet_size);
        hinted.unwrap_or(DEFAULT_WINDOW).min(self.remaining())
    }

    /// At least `want` bytes from the next packet (fewer only at the end of
    /// the file).
    pub(crate) fn window(&mut self, want: u64) -> std::io::Result<&[u8]> {
        let want = want.min(self.remaining());
        let buf_end = self.buf_start + self.buf.len() as u64;
        let covered = self.pos >= self.buf_start && self.pos + want <= buf_end;
        if !covered {
            // Read at least a default window so that small packets without an
            // index do not cost one read each.
            let read_len = want.max(DEFAULT_WINDOW.min(self.remaining()));
            self.buf.clear();
            self.file.seek(SeekFrom::Start(self.pos))?;
            // `take` + `read_to_end` fills spare capacity without zeroing it first.
            (&mut self.file).take(read_len).read_to_end(&mut self.buf)?;
            if (self.buf.len() as u64) < read_len {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("{} shrank while being read", self.path.display()),
                ));
            }
            self.buf_start = self.pos;
        }
        let from = (self.pos - self.buf_start) as usize;
        let to = self.buf.len().min(from + (self.len - self.pos) as usize);
        Ok(&self.buf[from..to])
    }
}
