//! A stream file paired with its stream decoder: "decode the next packet".

use std::path::Path;

use super::stream::StreamFile;
use super::{Trace, TraceDirError};
use crate::decode::{DecodeError, DecodeErrorKind, PacketInfo, StreamDecoder, TraceDecoder};

/// A cursor on every stream of every trace, with the index of its trace and
/// its stream id until a packet header says otherwise (the stream file's
/// position in its trace).
pub(crate) fn open_all(traces: &[Trace]) -> Result<Vec<(usize, u64, StreamCursor)>, TraceDirError> {
    let mut cursors = Vec::new();
    for (t, trace) in traces.iter().enumerate() {
        let whole_file = !trace.packets_sized();
        for (i, path) in trace.streams.iter().enumerate() {
            let cursor = StreamCursor::open(path, &trace.decoder, i as u64, whole_file).map_err(
                |source| TraceDirError::Io {
                    path: path.clone(),
                    source,
                },
            )?;
            cursors.push((t, i as u64, cursor));
        }
    }
    Ok(cursors)
}

/// Reads and decodes one stream file, one packet per call.
pub(crate) struct StreamCursor {
    pub file: StreamFile,
    pub decoder: StreamDecoder,
}

impl StreamCursor {
    pub(crate) fn open(
        path: &Path,
        trace: &TraceDecoder,
        fallback_stream_id: u64,
        whole_file: bool,
    ) -> std::io::Result<Self> {
        Ok(StreamCursor {
            file: StreamFile::open(path, whole_file)?,
            decoder: trace.new_stream(fallback_stream_id),
        })
    }

    /// Whether every packet has been read.
    pub(crate) fn at_end(&self) -> bool {
        self.file.remaining() == 0
    }

    /// A decode error of this stream of `trace`, naming both.
    pub(crate) fn error(&self, trace: &Trace, source: DecodeError) -> TraceDirError {
        let stream = self.file.path().file_name();
        TraceDirError::Decode {
            trace: trace.path.clone(),
            stream: stream
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            source,
        }
    }

    /// Decodes the next packet into the stream decoder's builders. On error
    /// the cursor has moved past the bad packet (or to the end of the file
    /// when its size is unknown), so the caller can report and go on.
    pub(crate) fn decode_next(
        &mut self,
        trace: &TraceDecoder,
    ) -> std::io::Result<Option<Result<PacketInfo, DecodeError>>> {
        if self.at_end() {
            return Ok(None);
        }
        let mut want = self.file.wanted();
        loop {
            let pos = self.file.pos();
            let data = self.file.window(want)?;
            let offered = data.len() as u64;
            match self.decoder.decode_packet(trace, data, pos) {
                Ok(info) => {
                    self.file.advance(info.packet_size);
                    return Ok(Some(Ok(info)));
                }
                Err(e) => match e.kind {
                    // The packet is larger than the window: offer it whole.
                    DecodeErrorKind::PacketBeyondData { packet_size, .. }
                        if packet_size / 8 > offered
                            && packet_size / 8 <= self.file.remaining() =>
                    {
                        want = packet_size / 8;
                    }
                    _ => {
                        self.file.seek_to(e.next_packet.unwrap_or(u64::MAX));
                        return Ok(Some(Err(e)));
                    }
                },
            }
        }
    }
}
