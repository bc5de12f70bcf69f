//! Live relay sessions as a pipeline source: the same Events / Watermark /
//! Loss messages as the trace-directory source, while the trace is recorded.
//!
//! Each relay URL gets a task that owns its connection and its
//! [`LiveDecoder`]: it reads items, decodes packets, and at the end of every
//! relay round (or when `batch_rows` rows are pending) hands out the rows,
//! losses and watermarks over a bounded channel. A full channel stops the
//! task from asking the relay for more (backpressure; the relay keeps the
//! data). A lost connection is retried with exponential backoff; the new
//! connection re-attaches from the beginning and the decoder skips what it
//! already decoded, so nothing is delivered twice; what cannot be recovered
//! comes out as a [`Loss`].

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use trawl_core::{EventBatch, Loss, Message, Watermark};

use super::decoder::{LiveDecodeError, LiveDecoder, StreamRows};
use super::error::LiveError;
use super::proto::Seek;
use super::session::{LiveItem, LiveSessionBuilder, SessionNotFoundAction};
use super::url::LiveUrl;
use crate::trace_dir::DEFAULT_BATCH_ROWS;

/// First wait before reconnecting to a relay that went away.
pub const DEFAULT_RECONNECT_MIN: Duration = Duration::from_millis(100);
/// Longest wait between reconnection attempts (the wait doubles up to it).
pub const DEFAULT_RECONNECT_MAX: Duration = Duration::from_secs(5);
/// Outputs buffered between the relay tasks and the consumer.
pub const DEFAULT_QUEUE: usize = 64;
/// How long [`LiveSource::close`] waits for the relays to acknowledge DETACH.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// What a [`LiveSource`] hands out at the lower level ([`LiveSource::next_output`]).
#[derive(Debug)]
pub enum LiveOutput {
    /// Rows of one stream.
    Rows(StreamRows),
    /// Every event of (host, domain) older than `ts` has been handed out.
    Watermark(Watermark),
    /// Data the tracer or the transport dropped.
    Loss(Loss),
    /// Something went wrong and the source carries on (a bad packet, a lost
    /// connection being retried).
    Warning(LiveSourceError),
}

/// A problem of one relay, named by its URL.
#[derive(Debug, thiserror::Error)]
pub enum LiveSourceError {
    /// A trace or a packet could not be decoded; the rest goes on.
    #[error("{relay}: {source}")]
    Decode {
        /// The relay URL.
        relay: String,
        /// What and where.
        #[source]
        source: LiveDecodeError,
    },
    /// The connection was lost; the source reconnects after `retry_in`.
    #[error("{source} (reconnecting in {retry_in:?})")]
    Disconnected {
        /// Why.
        #[source]
        source: LiveError,
        /// Wait before the next attempt.
        retry_in: Duration,
    },
}

/// Options of a [`LiveSource`].
#[derive(Debug, Clone)]
pub struct LiveSourceBuilder {
    urls: Vec<LiveUrl>,
    batch_rows: usize,
    poll_interval: Duration,
    seek: Seek,
    not_found: SessionNotFoundAction,
    reconnect_min: Duration,
    reconnect_max: Duration,
    queue: usize,
    track_order: bool,
}

impl LiveSourceBuilder {
    /// Reads the sessions named by `urls` (`net://RELAY/host/HOST/SESSION`),
    /// one task per URL: several relays, several sessions, one source.
    pub fn new(urls: Vec<LiveUrl>) -> Self {
        LiveSourceBuilder {
            urls,
            batch_rows: DEFAULT_BATCH_ROWS,
            poll_interval: super::DEFAULT_POLL_INTERVAL,
            seek: Seek::default(),
            not_found: SessionNotFoundAction::default(),
            reconnect_min: DEFAULT_RECONNECT_MIN,
            reconnect_max: DEFAULT_RECONNECT_MAX,
            queue: DEFAULT_QUEUE,
            track_order: false,
        }
    }

    /// Rows held per relay before they are handed out even mid-round
    /// (default [`DEFAULT_BATCH_ROWS`]; at least 1).
    pub fn batch_rows(mut self, rows: usize) -> Self {
        self.batch_rows = rows.max(1);
        self
    }

    /// Wait after a round in which the relay had nothing new (default
    /// [`super::DEFAULT_POLL_INTERVAL`]).
    pub fn poll_interval(mut self, d: Duration) -> Self {
        self.poll_interval = d;
        self
    }

    /// Where to start in sessions that exist when the source starts
    /// (default [`Seek::Last`]).
    pub fn seek(mut self, seek: Seek) -> Self {
        self.seek = seek;
        self
    }

    /// What to do when a URL's session does not exist (default
    /// [`SessionNotFoundAction::Continue`]: wait for it).
    pub fn session_not_found(mut self, action: SessionNotFoundAction) -> Self {
        self.not_found = action;
        self
    }

    /// Backoff between reconnection attempts: starts at `min`, doubles up
    /// to `max` (defaults [`DEFAULT_RECONNECT_MIN`], [`DEFAULT_RECONNECT_MAX`]).
    pub fn reconnect_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.reconnect_min = min.max(Duration::from_millis(1));
        self.reconnect_max = max.max(self.reconnect_min);
        self
    }

    /// Keep each stream's order across event classes in [`StreamRows`]
    /// (needed to merge single events by time, as `trawl cat` does).
    pub fn track_order(mut self, on: bool) -> Self {
        self.track_order = on;
        self
    }

    /// Starts one task per URL on the current tokio runtime. Connecting
    /// happens in the tasks: an unreachable relay is retried (and reported
    /// as a [`LiveOutput::Warning`]), not an error here.
    pub fn start(self) -> LiveSource {
        let (tx, rx) = mpsc::channel(self.queue.max(1));
        let (stop_tx, stop_rx) = watch::channel(false);
        let tasks = self
            .urls
            .iter()
            .enumerate()
            .map(|(i, url)| {
                let relay = RelayTx {
                    index: i,
                    tx: tx.clone(),
                    stop: stop_rx.clone(),
                };
                tokio::spawn(run_relay(url.clone(), self.clone(), relay))
            })
            .collect();
        LiveSource {
            rx,
            tasks,
            stop: stop_tx,
            marks: HashMap::new(),
            pending: VecDeque::new(),
            warnings: Vec::new(),
        }
    }
}

/// What a relay task sends: its index among the URLs, and an output or the
/// error that ended it.
type Feed = (usize, Result<LiveOutput, LiveError>);

/// Reads live relay sessions; see the module documentation.
pub struct LiveSource {
    rx: mpsc::Receiver<Feed>,
    tasks: Vec<JoinHandle<()>>,
    /// Tells the relay tasks to detach and end.
    stop: watch::Sender<bool>,
    /// Per (host, domain): each relay's latest watermark, and the one handed out.
    marks: HashMap<(String, String), (BTreeMap<usize, i64>, i64)>,
    pending: VecDeque<Message>,
    warnings: Vec<LiveSourceError>,
}

impl LiveSource {
    /// The next output of any relay; `None` once every relay task ended
    /// (their sessions ended, with [`SessionNotFoundAction::End`] or
    /// [`SessionNotFoundAction::Fail`]). An error ends the source: a relay
    /// refused what the URL asks for. Cancel-safe.
    ///
    /// Watermarks are per (host, domain) across relays: when two relays serve
    /// traces of the same host and domain, the older of their marks is handed out.
    pub async fn next_output(&mut self) -> Result<Option<LiveOutput>, LiveError> {
        loop {
            let Some((relay, output)) = self.rx.recv().await else {
                return Ok(None);
            };
            match output? {
                LiveOutput::Watermark(w) => {
                    let key = (w.host, w.domain);
                    let (per_relay, handed_out) = self
                        .marks
                        .entry(key.clone())
                        .or_insert((BTreeMap::new(), i64::MIN));
                    per_relay.insert(relay, w.ts);
                    let ts = per_relay.values().copied().min().unwrap_or(i64::MIN);
                    if ts > *handed_out {
                        *handed_out = ts;
                        let (host, domain) = key;
                        return Ok(Some(LiveOutput::Watermark(Watermark { host, domain, ts })));
                    }
                }
                other => return Ok(Some(other)),
            }
        }
    }

    /// The next pipeline message. Warnings are kept for
    /// [`LiveSource::take_warnings`]. Cancel-safe.
    pub async fn next_message(&mut self) -> trawl_core::Result<Option<Message>> {
        loop {
            if let Some(msg) = self.pending.pop_front() {
                return Ok(Some(msg));
            }
            let output = self
                .next_output()
                .await
                .map_err(|e| trawl_core::Error::Input(Box::new(e)))?;
            match output {
                None => return Ok(None),
                Some(LiveOutput::Rows(rows)) => self.pending.extend(
                    rows.events
                        .batches
                        .into_iter()
                        .map(|batch| Message::Events(EventBatch { batch })),
                ),
                Some(LiveOutput::Watermark(w)) => return Ok(Some(Message::Watermark(w))),
                Some(LiveOutput::Loss(l)) => return Ok(Some(Message::Loss(l))),
                Some(LiveOutput::Warning(w)) => self.warnings.push(w),
            }
        }
    }

    /// Warnings since the last call (bad packets, lost connections).
    pub fn take_warnings(&mut self) -> Vec<LiveSourceError> {
        std::mem::take(&mut self.warnings)
    }

    /// Stops every relay task: each detaches from its sessions (DETACH,
    /// between two commands) and closes its connection. Tasks that do not
    /// finish within [`CLOSE_TIMEOUT`] (a relay that does not answer) are
    /// dropped, which closes their connections, which detaches too.
    pub async fn close(mut self) {
        let _ = self.stop.send(true);
        // Unblock tasks waiting for room in the channel.
        self.rx.close();
        let tasks = std::mem::take(&mut self.tasks);
        let all = async {
            for task in tasks {
                let _ = task.await;
            }
        };
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, all).await;
    }
}

impl Drop for LiveSource {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A relay task's end of the channel, and its stop signal.
struct RelayTx {
    index: usize,
    tx: mpsc::Sender<Feed>,
    stop: watch::Receiver<bool>,
}

impl RelayTx {
    /// False when the consumer is gone.
    async fn send(&self, output: Result<LiveOutput, LiveError>) -> bool {
        self.tx.send((self.index, output)).await.is_ok()
    }

    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }
}

/// One relay: connect, read, decode, hand out; reconnect when the
/// connection is lost. Returns when the sessions end, on a permanent error,
/// or when the consumer is gone.
async fn run_relay(url: LiveUrl, opts: LiveSourceBuilder, tx: RelayTx) {
    let relay = url.to_string();
    let mut decoder = LiveDecoder::new();
    decoder.set_track_order(opts.track_order);
    let mut backoff = opts.reconnect_min;
    let mut seek = opts.seek;
    loop {
        let mut received = false;
        let result = read_relay(&url, &opts, seek, &relay, &mut decoder, &tx, &mut received).await;
        // Whatever was decoded before the end or the break goes out.
        if !hand_out(&relay, &mut decoder, &tx).await {
            return;
        }
        match result {
            Ok(()) => return,
            Err(Stop::ConsumerGone) => return,
            Err(Stop::Relay(e)) if e.is_transient() => {
                if received {
                    backoff = opts.reconnect_min;
                }
                let warning = LiveSourceError::Disconnected {
                    source: e,
                    retry_in: backoff,
                };
                if !tx.send(Ok(LiveOutput::Warning(warning))).await {
                    return;
                }
                decoder.disconnected();
                tokio::time::sleep(backoff).await;
                if tx.stopped() {
                    return;
                }
                backoff = (backoff * 2).min(opts.reconnect_max);
                // The relay serves everything again from the beginning; the
                // decoder skips what it already has.
                seek = Seek::Beginning;
            }
            Err(Stop::Relay(e)) => {
                tx.send(Err(e)).await;
                return;
            }
        }
    }
}

enum Stop {
    Relay(LiveError),
    ConsumerGone,
}

impl From<LiveError> for Stop {
    fn from(e: LiveError) -> Self {
        Stop::Relay(e)
    }
}

/// One connection's worth of reading.
async fn read_relay(
    url: &LiveUrl,
    opts: &LiveSourceBuilder,
    seek: Seek,
    relay: &str,
    decoder: &mut LiveDecoder,
    tx: &RelayTx,
    received: &mut bool,
) -> Result<(), Stop> {
    let mut session = LiveSessionBuilder::new(url.clone())?
        .seek(seek)
        .poll_interval(opts.poll_interval)
        .session_not_found(opts.not_found)
        .connect()
        .await?;
    while !tx.stopped() {
        let Some(item) = session.next().await? else {
            break;
        };
        *received = true;
        let round_done = matches!(item, LiveItem::RoundDone { .. });
        decoder.apply(item);
        if (round_done || decoder.rows_pending() >= opts.batch_rows)
            && !hand_out(relay, decoder, tx).await
        {
            return Err(Stop::ConsumerGone);
        }
    }
    session.close().await;
    Ok(())
}

/// Sends warnings, losses, rows, then watermarks; false if the consumer is gone.
async fn hand_out(relay: &str, decoder: &mut LiveDecoder, tx: &RelayTx) -> bool {
    let mut outputs: Vec<LiveOutput> = decoder
        .take_errors()
        .into_iter()
        .map(|source| {
            LiveOutput::Warning(LiveSourceError::Decode {
                relay: relay.to_string(),
                source,
            })
        })
        .collect();
    outputs.extend(decoder.take_losses().into_iter().map(LiveOutput::Loss));
    decoder.take_rows(|rows| outputs.push(LiveOutput::Rows(rows)));
    outputs.extend(
        decoder
            .take_watermarks()
            .into_iter()
            .map(LiveOutput::Watermark),
    );
    for output in outputs {
        if !tx.send(Ok(output)).await {
            return false;
        }
    }
    true
}
