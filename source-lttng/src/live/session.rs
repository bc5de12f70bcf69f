//! A live session: every relay session of one traced host and session name,
//! read round by round.
//!
//! One round: list relay sessions now and then (a domain's relay session may
//! appear late), ask for new streams where the relay flagged some (or where a
//! session has no data stream left, which is also how a closed session is
//! noticed: GET_NEW_STREAMS answers HUP), fetch metadata where it grew, then
//! ask every data stream for its next index and fetch the packet. A round
//! that produced nothing sleeps one poll interval (the relay answers RETRY
//! rather than blocking). Items come out in an order a decoder can follow: a
//! stream's `StreamAdded` and its trace's metadata come before its packets,
//! and metadata flagged new by an index is fetched before that index's packet.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::conn::{
    DEFAULT_COMMAND_TIMEOUT, MetadataChunk, NewStreams, PacketData, ViewerConnection,
};
use super::error::LiveError;
use super::metadata::MetadataText;
use super::proto::{
    AttachStatus, Command, IndexStatus, Seek, SessionEntry, StreamEntry, ViewerIndex,
};
use super::url::{LiveUrl, SessionTarget, UrlError};

/// How long to wait after a round in which no stream had anything new
/// (babeltrace's `--retry-duration` default).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(100);
/// How often to list relay sessions again to find new ones of the same host
/// and name (e.g. the kernel domain started after the user-space one).
pub const DEFAULT_RELIST_INTERVAL: Duration = Duration::from_secs(1);

/// What to do when no relay session matches (babeltrace2's `session-not-found-action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SessionNotFoundAction {
    /// Keep looking, every poll interval; also look again after the
    /// sessions end (a new session of the same name is followed).
    #[default]
    Continue,
    /// Return [`LiveError::SessionNotFound`].
    Fail,
    /// End the item stream (`next()` returns `None`).
    End,
}

/// What a [`LiveSession`] hands out.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveItem {
    /// Attached to a relay session (one per tracing domain / ABI).
    Attached {
        /// The relay's description of it.
        session: SessionEntry,
    },
    /// A stream appeared (metadata or data).
    StreamAdded {
        /// Relay session it belongs to.
        session_id: u64,
        /// Viewer stream id, trace id, path (`kernel`, `ust/uid/1000/64-bit`...), channel.
        stream: StreamEntry,
    },
    /// The metadata of a trace grew. `text_so_far` is the TSDL text of
    /// everything received for that trace since attaching (the relay never
    /// resends bytes; LTTng's metadata packets are already unwrapped), so a
    /// parser can simply re-parse it.
    MetadataGrew {
        /// The trace (`ctf_trace_id`).
        trace_id: u64,
        /// All metadata text so far.
        text_so_far: Arc<str>,
        /// How many of its bytes are new.
        appended: usize,
    },
    /// One whole packet of a data stream.
    Packet {
        /// The trace (`ctf_trace_id`): which metadata decodes it.
        trace_id: u64,
        /// Viewer stream id.
        stream_id: u64,
        /// The packet bytes (`index.packet_len()` of them).
        bytes: Vec<u8>,
        /// The relay's index entry: file offset, sizes in bits, begin/end
        /// timestamps (cycles), discarded-event count, stream class id.
        index: ViewerIndex,
    },
    /// The stream is quiescent: no event older than `ts_end_cycles` will
    /// come from it (a live-timer beacon; emitted once per beacon value).
    Inactive {
        /// The trace.
        trace_id: u64,
        /// Viewer stream id.
        stream_id: u64,
        /// Beacon time, in cycles of the trace's clock.
        ts_end_cycles: u64,
        /// CTF stream class id of the stream.
        stream_class_id: u64,
    },
    /// The stream has no more data (HUP).
    StreamEnd {
        /// The trace.
        trace_id: u64,
        /// Viewer stream id.
        stream_id: u64,
    },
    /// A relay session is closed and all its data was delivered.
    SessionEnd {
        /// Relay session id.
        session_id: u64,
    },
    /// Every stream was asked once since the previous `RoundDone`, and no
    /// stream or metadata the relay announced is still unfetched: a good
    /// moment to emit what was decoded, and watermarks. Emitted after every
    /// such round; `idle` when the round brought nothing new (the session
    /// then waits one poll interval).
    RoundDone {
        /// Nothing new this round.
        idle: bool,
    },
}

/// Options of a [`LiveSession`].
#[derive(Debug, Clone)]
pub struct LiveSessionBuilder {
    url: LiveUrl,
    target: SessionTarget,
    poll_interval: Duration,
    relist_interval: Duration,
    command_timeout: Duration,
    seek: Seek,
    not_found: SessionNotFoundAction,
}

impl LiveSessionBuilder {
    /// Options for a URL that names a session (`net://RELAY/host/HOST/SESSION`).
    pub fn new(url: LiveUrl) -> Result<Self, LiveError> {
        let target = url.target.clone().ok_or_else(|| UrlError {
            url: url.to_string(),
            reason: "the URL names no session; add /host/HOSTNAME/SESSION",
        })?;
        Ok(LiveSessionBuilder {
            url,
            target,
            poll_interval: DEFAULT_POLL_INTERVAL,
            relist_interval: DEFAULT_RELIST_INTERVAL,
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
            seek: Seek::default(),
            not_found: SessionNotFoundAction::default(),
        })
    }

    /// [`LiveSessionBuilder::new`] from URL text.
    pub fn parse(url: &str) -> Result<Self, LiveError> {
        Self::new(LiveUrl::parse(url)?)
    }

    /// Sleep after an unproductive round (default [`DEFAULT_POLL_INTERVAL`]).
    pub fn poll_interval(mut self, d: Duration) -> Self {
        self.poll_interval = d;
        self
    }

    /// How often to look for new relay sessions (default [`DEFAULT_RELIST_INTERVAL`]).
    pub fn relist_interval(mut self, d: Duration) -> Self {
        self.relist_interval = d;
        self
    }

    /// Timeout of each socket read or write (default [`DEFAULT_COMMAND_TIMEOUT`]).
    pub fn command_timeout(mut self, d: Duration) -> Self {
        self.command_timeout = d;
        self
    }

    /// Where to start in the sessions found at connect time (default
    /// [`Seek::Last`], as babeltrace). Sessions and streams that appear later
    /// are always read from their beginning.
    pub fn seek(mut self, seek: Seek) -> Self {
        self.seek = seek;
        self
    }

    /// What to do when no session matches (default [`SessionNotFoundAction::Continue`]).
    pub fn session_not_found(mut self, action: SessionNotFoundAction) -> Self {
        self.not_found = action;
        self
    }

    /// Connect, negotiate the version, create the viewer session. Attaching
    /// happens in the first [`LiveSession::next`] call (so `Fail` reports a
    /// missing session there).
    pub async fn connect(self) -> Result<LiveSession, LiveError> {
        let mut conn =
            ViewerConnection::connect(&self.url.relay_addr(), self.command_timeout).await?;
        conn.create_session().await?;
        Ok(LiveSession {
            conn,
            opts: self,
            sessions: BTreeMap::new(),
            seen_sessions: BTreeSet::new(),
            traces: BTreeMap::new(),
            streams: BTreeMap::new(),
            queue: VecDeque::new(),
            last_list: None,
            ever_attached: false,
            finished: false,
            idle: false,
        })
    }
}

/// List the sessions of a relay (`trawl ls net://RELAY`).
pub async fn list_sessions(
    url: &LiveUrl,
    timeout: Duration,
) -> Result<Vec<SessionEntry>, LiveError> {
    let mut conn = ViewerConnection::connect(&url.relay_addr(), timeout).await?;
    conn.list_sessions().await
}

#[derive(Debug)]
struct RelaySession {
    /// Call GET_NEW_STREAMS in the next round.
    new_streams_needed: bool,
}

#[derive(Debug, Default)]
struct TraceState {
    metadata_stream: Option<u64>,
    metadata: MetadataText,
    /// Fetch metadata before any more packets of this trace.
    needed: bool,
    /// The metadata stream answered ERR (closed): nothing more will come.
    closed: bool,
}

#[derive(Debug)]
struct StreamState {
    trace_id: u64,
    session_id: u64,
    /// Beacon time last reported, to report each beacon once.
    last_inactive: Option<u64>,
    /// An index whose packet the relay asked us to fetch again later.
    pending: Option<ViewerIndex>,
}

/// A live session reader; see the module documentation.
#[derive(Debug)]
pub struct LiveSession {
    conn: ViewerConnection,
    opts: LiveSessionBuilder,
    sessions: BTreeMap<u64, RelaySession>,
    seen_sessions: BTreeSet<u64>,
    traces: BTreeMap<u64, TraceState>,
    streams: BTreeMap<u64, StreamState>,
    queue: VecDeque<LiveItem>,
    last_list: Option<Instant>,
    ever_attached: bool,
    finished: bool,
    /// The last round brought nothing: wait before the next.
    idle: bool,
}

impl LiveSession {
    /// The connection (relay version, negotiated minor).
    pub fn connection(&self) -> &ViewerConnection {
        &self.conn
    }

    /// The next item, waiting for the relay as needed. `None` once every
    /// attached session ended (or, with [`SessionNotFoundAction::End`], when
    /// none was found); with `Continue` the stream only ends on error.
    ///
    /// Not cancel-safe: dropping the future while a command is in flight
    /// leaves the connection [`LiveError::Broken`]; run it in its own task
    /// and hand items over a channel when other events must interrupt it.
    /// After any error, build a new session (reconnect); an error for which
    /// [`LiveError::is_transient`] is true is worth a retry with backoff.
    pub async fn next(&mut self) -> Result<Option<LiveItem>, LiveError> {
        loop {
            if let Some(item) = self.queue.pop_front() {
                return Ok(Some(item));
            }
            if self.finished {
                return Ok(None);
            }
            if std::mem::take(&mut self.idle) {
                tokio::time::sleep(self.opts.poll_interval).await;
            }
            let progressed = self.round().await?;
            self.idle = !progressed && !self.finished;
            if !self.finished && self.settled() {
                self.queue
                    .push_back(LiveItem::RoundDone { idle: self.idle });
            }
        }
    }

    /// No stream or metadata announced by the relay is still to be fetched.
    fn settled(&self) -> bool {
        !self.sessions.values().any(|s| s.new_streams_needed)
            && !self
                .traces
                .values()
                .any(|t| t.needed && t.metadata_stream.is_some())
    }

    /// Detach from every relay session and close the connection. Errors are
    /// ignored: closing the socket detaches anyway.
    pub async fn close(mut self) {
        let ids: Vec<u64> = self.sessions.keys().copied().collect();
        for id in ids {
            if self.conn.detach_session(id).await.is_err() {
                break;
            }
        }
    }

    /// One round over all sessions and streams; true if anything was queued.
    async fn round(&mut self) -> Result<bool, LiveError> {
        let due = match self.last_list {
            None => true,
            Some(t) if self.sessions.is_empty() => t.elapsed() >= self.opts.poll_interval,
            Some(t) => t.elapsed() >= self.opts.relist_interval,
        };
        if due {
            self.discover().await?;
            if self.finished {
                return Ok(true);
            }
        }
        self.new_streams().await?;
        let trace_ids: Vec<u64> = self
            .traces
            .iter()
            .filter(|(_, t)| t.needed)
            .map(|(id, _)| *id)
            .collect();
        for trace_id in trace_ids {
            self.fetch_metadata(trace_id).await?;
        }
        let mut progressed = !self.queue.is_empty();
        let stream_ids: Vec<u64> = self.streams.keys().copied().collect();
        for stream_id in stream_ids {
            progressed |= self.poll_stream(stream_id).await?;
        }
        if self.sessions.is_empty()
            && self.ever_attached
            && self.opts.not_found != SessionNotFoundAction::Continue
        {
            self.finished = true;
        }
        Ok(progressed || self.finished)
    }

    /// List relay sessions and attach every new one of our host and name.
    async fn discover(&mut self) -> Result<(), LiveError> {
        self.last_list = Some(Instant::now());
        let listed = self.conn.list_sessions().await?;
        let target = &self.opts.target;
        let matching: Vec<SessionEntry> = listed
            .into_iter()
            .filter(|s| s.hostname == target.hostname && s.session_name == target.session)
            .filter(|s| !self.seen_sessions.contains(&s.id))
            .collect();
        if matching.is_empty() && !self.ever_attached {
            match self.opts.not_found {
                SessionNotFoundAction::Continue => {}
                SessionNotFoundAction::End => self.finished = true,
                SessionNotFoundAction::Fail => {
                    return Err(LiveError::SessionNotFound {
                        addr: self.conn.addr().to_string(),
                        hostname: target.hostname.clone(),
                        session: target.session.clone(),
                    });
                }
            }
            return Ok(());
        }
        // Sessions found at start honour the configured seek; any found
        // later began after we started, so all their data is new to us.
        let seek = if self.ever_attached {
            Seek::Beginning
        } else {
            self.opts.seek
        };
        for entry in matching {
            self.seen_sessions.insert(entry.id);
            let streams = match self.conn.attach_session(entry.id, seek).await {
                Ok(streams) => streams,
                // Destroyed between LIST and ATTACH: nothing to read.
                Err(LiveError::AttachRefused {
                    status: AttachStatus::Unknown,
                    ..
                }) => continue,
                Err(e) => return Err(e),
            };
            self.ever_attached = true;
            self.sessions.insert(
                entry.id,
                RelaySession {
                    new_streams_needed: false,
                },
            );
            let session_id = entry.id;
            self.queue.push_back(LiveItem::Attached { session: entry });
            self.add_streams(session_id, streams);
        }
        Ok(())
    }

    fn add_streams(&mut self, session_id: u64, streams: Vec<StreamEntry>) {
        for stream in streams {
            let trace = self.traces.entry(stream.ctf_trace_id).or_default();
            if stream.metadata {
                trace.metadata_stream = Some(stream.id);
                trace.needed = true;
            } else {
                self.streams.insert(
                    stream.id,
                    StreamState {
                        trace_id: stream.ctf_trace_id,
                        session_id,
                        last_inactive: None,
                        pending: None,
                    },
                );
            }
            self.queue
                .push_back(LiveItem::StreamAdded { session_id, stream });
        }
    }

    /// GET_NEW_STREAMS where flagged, or where a session has no data stream
    /// (streams of per-UID buffers appear with the first traced process; a
    /// closed session is only noticed this way).
    async fn new_streams(&mut self) -> Result<(), LiveError> {
        let ids: Vec<u64> = self.sessions.keys().copied().collect();
        for session_id in ids {
            let has_streams = self.streams.values().any(|s| s.session_id == session_id);
            let flagged = self
                .sessions
                .get(&session_id)
                .is_some_and(|s| s.new_streams_needed);
            if has_streams && !flagged {
                continue;
            }
            match self.conn.get_new_streams(session_id).await? {
                NewStreams::Streams(streams) => {
                    if let Some(s) = self.sessions.get_mut(&session_id) {
                        s.new_streams_needed = false;
                    }
                    self.add_streams(session_id, streams);
                }
                NewStreams::Hup => {
                    // Data streams end with their own HUP; only a session
                    // without any is closed here.
                    if !has_streams {
                        self.sessions.remove(&session_id);
                        self.queue.push_back(LiveItem::SessionEnd { session_id });
                    } else if let Some(s) = self.sessions.get_mut(&session_id) {
                        s.new_streams_needed = false;
                    }
                }
            }
        }
        Ok(())
    }

    /// GET_METADATA until the relay has nothing more; queue what grew.
    async fn fetch_metadata(&mut self, trace_id: u64) -> Result<(), LiveError> {
        let Some(stream_id) = self.traces.get(&trace_id).and_then(|t| t.metadata_stream) else {
            return Ok(());
        };
        let mut appended = 0;
        loop {
            let chunk = self.conn.get_metadata(stream_id).await?;
            let Some(trace) = self.traces.get_mut(&trace_id) else {
                return Ok(());
            };
            match chunk {
                // OK with nothing (after `lttng clear`): try again next round.
                MetadataChunk::Data(b) if b.is_empty() => break,
                MetadataChunk::Data(b) => {
                    appended += trace
                        .metadata
                        .push(&b)
                        .map_err(|source| LiveError::Metadata {
                            addr: self.conn.addr().to_string(),
                            trace_id,
                            source,
                        })?;
                }
                MetadataChunk::NoNew => {
                    trace.needed = false;
                    break;
                }
                MetadataChunk::Closed => {
                    trace.needed = false;
                    trace.closed = true;
                    break;
                }
            }
        }
        if appended > 0
            && let Some(trace) = self.traces.get(&trace_id)
        {
            self.queue.push_back(LiveItem::MetadataGrew {
                trace_id,
                text_so_far: Arc::from(trace.metadata.text()),
                appended,
            });
        }
        Ok(())
    }

    /// Ask one data stream for its next packet; true if something was queued.
    async fn poll_stream(&mut self, stream_id: u64) -> Result<bool, LiveError> {
        let Some(state) = self.streams.get_mut(&stream_id) else {
            return Ok(false);
        };
        let trace_id = state.trace_id;
        if self
            .traces
            .get(&trace_id)
            .is_some_and(|t| t.needed && t.metadata_stream.is_some())
        {
            // Metadata is still incomplete (fetched this round but empty):
            // no packet before the metadata that describes it.
            return Ok(false);
        }
        let index = match state.pending.take() {
            Some(index) => index,
            None => {
                let index = self.conn.get_next_index(stream_id).await?;
                if index.flags.new_stream() {
                    for s in self.sessions.values_mut() {
                        s.new_streams_needed = true;
                    }
                }
                if index.flags.new_metadata() {
                    self.mark_metadata_needed(trace_id);
                    self.fetch_metadata(trace_id).await?;
                }
                index
            }
        };
        match index.status {
            IndexStatus::Ok => self.fetch_packet(stream_id, trace_id, index).await,
            IndexStatus::Retry => Ok(false),
            IndexStatus::Inactive => {
                let Some(state) = self.streams.get_mut(&stream_id) else {
                    return Ok(false);
                };
                if state.last_inactive == Some(index.timestamp_end) {
                    return Ok(false);
                }
                state.last_inactive = Some(index.timestamp_end);
                self.queue.push_back(LiveItem::Inactive {
                    trace_id,
                    stream_id,
                    ts_end_cycles: index.timestamp_end,
                    stream_class_id: index.stream_class_id,
                });
                Ok(true)
            }
            IndexStatus::Hup | IndexStatus::Eof => {
                self.end_stream(stream_id, trace_id);
                Ok(true)
            }
            IndexStatus::Err => Err(LiveError::Refused {
                addr: self.conn.addr().to_string(),
                cmd: Command::GetNextIndex,
                status: format!("stream {stream_id}: error (unknown stream or not attached)"),
            }),
        }
    }

    async fn fetch_packet(
        &mut self,
        stream_id: u64,
        trace_id: u64,
        index: ViewerIndex,
    ) -> Result<bool, LiveError> {
        match self.conn.fetch_packet(stream_id, &index).await? {
            PacketData::Bytes(bytes) => {
                if let Some(state) = self.streams.get_mut(&stream_id) {
                    // Data moves the stream past any earlier beacon.
                    state.last_inactive = None;
                }
                self.queue.push_back(LiveItem::Packet {
                    trace_id,
                    stream_id,
                    bytes,
                    index,
                });
                Ok(true)
            }
            PacketData::Retry => {
                self.set_pending(stream_id, index);
                Ok(false)
            }
            PacketData::Eof => {
                self.end_stream(stream_id, trace_id);
                Ok(true)
            }
            PacketData::Error(flags) if flags.new_metadata() || flags.new_stream() => {
                // Older relays refuse a packet until the viewer has caught up
                // with metadata or streams; do that, then ask again.
                if flags.new_metadata() {
                    self.mark_metadata_needed(trace_id);
                }
                if flags.new_stream() {
                    for s in self.sessions.values_mut() {
                        s.new_streams_needed = true;
                    }
                }
                self.set_pending(stream_id, index);
                Ok(false)
            }
            PacketData::Error(_) => Err(LiveError::Refused {
                addr: self.conn.addr().to_string(),
                cmd: Command::GetPacket,
                status: format!(
                    "stream {stream_id}: error reading {} bytes at offset {}",
                    index.packet_len(),
                    index.offset
                ),
            }),
        }
    }

    fn set_pending(&mut self, stream_id: u64, index: ViewerIndex) {
        if let Some(state) = self.streams.get_mut(&stream_id) {
            state.pending = Some(index);
        }
    }

    fn mark_metadata_needed(&mut self, trace_id: u64) {
        if let Some(t) = self.traces.get_mut(&trace_id)
            && !t.closed
        {
            t.needed = true;
        }
    }

    fn end_stream(&mut self, stream_id: u64, trace_id: u64) {
        self.streams.remove(&stream_id);
        self.queue.push_back(LiveItem::StreamEnd {
            trace_id,
            stream_id,
        });
    }
}
