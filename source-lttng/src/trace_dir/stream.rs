//! One stream file read packet by packet, through a sliding window.
//!
//! A packet is handed to the decoder as the bytes from its start to the end of
//! the window; the decoder reads the packet's own size from its context. The
//! window is the packet's size when the index gives it, else a few MiB,
//! grown when a packet turns out larger. Memory stays bounded by the largest
//! packet, whatever the file size.
//!
//! The window is a read-only memory map of the file when the system allows
//! it (no copy: at trace sizes the copy out of the page cache costs as much as
//! decoding), else a buffer filled by `read`.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use memmap2::{Mmap, MmapOptions};

use super::index::{IndexEntry, read_index};

/// Bytes taken at once when the index does not say how large the next
/// packet is, and the least a window holds (small packets share one).
const DEFAULT_WINDOW: u64 = 4 << 20;

/// What holds the window's bytes.
enum Window {
    Empty,
    Mapped(Mmap),
    Read(Vec<u8>),
}

impl Window {
    fn bytes(&self) -> &[u8] {
        match self {
            Window::Empty => &[],
            Window::Mapped(m) => m,
            Window::Read(v) => v,
        }
    }
}

/// A stream file with a window over it.
pub(crate) struct StreamFile {
    path: PathBuf,
    file: File,
    len: u64,
    index: Vec<IndexEntry>,
    /// The whole file is one window (the trace's packets carry no size).
    whole_file: bool,
    /// Map windows instead of reading them (off after a failed map).
    map: bool,
    window: Window,
    /// File offset of the window's first byte.
    window_start: u64,
    /// File offset of the next packet.
    pos: u64,
}

impl StreamFile {
    /// Opens `path`; `whole_file` when packets of this trace carry no size.
    pub(crate) fn open(path: &Path, whole_file: bool) -> std::io::Result<Self> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        // The index only sizes the window: a malformed one is ignored and
        // the stream, which is the authority, is read without it.
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
            map: true,
            window: Window::Empty,
            window_start: 0,
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
    /// the file), and whatever else the window holds after them.
    pub(crate) fn window(&mut self, want: u64) -> std::io::Result<&[u8]> {
        let want = want.min(self.remaining());
        let window_end = self.window_start + self.window.bytes().len() as u64;
        let covered = self.pos >= self.window_start && self.pos + want <= window_end;
        if !covered {
            self.window = Window::Empty;
            let len = want.max(DEFAULT_WINDOW).min(self.remaining());
            self.fill(len)?;
        }
        let bytes = self.window.bytes();
        let from = usize::try_from(self.pos - self.window_start).map_err(std::io::Error::other)?;
        Ok(bytes.get(from..).unwrap_or_default())
    }

    /// Makes the window `len` bytes from `pos`.
    fn fill(&mut self, len: u64) -> std::io::Result<()> {
        let usize_len = usize::try_from(len).map_err(std::io::Error::other)?;
        if self.map && len > 0 {
            match map(&self.file, self.pos, usize_len) {
                Ok(m) => {
                    self.window = Window::Mapped(m);
                    self.window_start = self.pos;
                    return Ok(());
                }
                // Some files cannot be mapped (special file systems): read.
                Err(_) => self.map = false,
            }
        }
        let mut buf = Vec::with_capacity(usize_len);
        self.file.seek(SeekFrom::Start(self.pos))?;
        (&mut self.file).take(len).read_to_end(&mut buf)?;
        if (buf.len() as u64) < len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("{} shrank while being read", self.path.display()),
            ));
        }
        self.window = Window::Read(buf);
        self.window_start = self.pos;
        Ok(())
    }
}

/// Maps `len` bytes of `file` from `offset`, read-only, pages loaded up front.
#[expect(unsafe_code, reason = "memory-mapping a trace file; see SAFETY")]
fn map(file: &File, offset: u64, len: usize) -> std::io::Result<Mmap> {
    // SAFETY: the map is read-only and covers only bytes that existed when
    // the stream was opened. Tracers and relay daemons only append to stream
    // files and never rewrite or truncate written packets, so the mapped bytes
    // do not change while borrowed. (A file truncated by someone else would
    // raise SIGBUS, as with any mapping reader, e.g. ripgrep.)
    unsafe {
        MmapOptions::new()
            .offset(offset)
            .len(len)
            .populate()
            .map(file)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn file_of(len: usize) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        f.write_all(&bytes).unwrap();
        f
    }

    fn check_windows(s: &mut StreamFile, len: usize) {
        let mut pos = 0usize;
        while s.remaining() > 0 {
            let step = 1_000_003.min(len - pos);
            let w = s.window(step as u64).unwrap();
            assert!(w.len() >= step);
            assert_eq!(w[0], (pos % 251) as u8, "byte at {pos}");
            assert_eq!(w[step - 1], ((pos + step - 1) % 251) as u8);
            s.advance(step as u64);
            pos += step;
        }
        assert_eq!(pos, len);
    }

    #[test]
    fn windows_slide_over_the_file_mapped_and_read() {
        let len = 9 << 20;
        let f = file_of(len);
        let mut mapped = StreamFile::open(f.path(), false).unwrap();
        check_windows(&mut mapped, len);
        let mut read = StreamFile::open(f.path(), false).unwrap();
        read.map = false;
        check_windows(&mut read, len);
    }

    #[test]
    fn a_window_grows_for_a_large_packet() {
        let len = 12 << 20;
        let f = file_of(len);
        let mut s = StreamFile::open(f.path(), false).unwrap();
        s.advance(5);
        let w = s.window(10 << 20).unwrap();
        assert!(w.len() >= 10 << 20);
        assert_eq!(w[0], 5);
    }
}
