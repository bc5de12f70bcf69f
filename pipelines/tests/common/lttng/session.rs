//! Recording sessions: one user-space channel, its events and contexts.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use super::{
    CHANNEL, DEFAULT_NUM_SUBBUF, DEFAULT_SUBBUF_SIZE, LIBC_EVENTS, LttngDaemon, Relayd, Result,
};

/// Buffering scheme of the harness channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Buffers {
    /// One buffer set per user (`--buffers-uid`): the LTTng default.
    PerUid,
    /// One buffer set per process (`--buffers-pid`).
    PerPid,
}

/// Where a session's trace goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionOutput {
    /// A local trace directory.
    Local(PathBuf),
    /// A live session streamed to a relay daemon.
    Live {
        /// `net://127.0.0.1:CONTROL:DATA`.
        url: String,
        /// The relay daemon's output directory (the trace lands below it).
        relayd_output: PathBuf,
        /// Live timer (µs).
        timer_us: u64,
    },
}

/// Builds a session with one user-space channel ([`CHANNEL`]).
#[derive(Debug)]
pub struct SessionBuilder<'d> {
    daemon: &'d LttngDaemon,
    name: String,
    output: SessionOutput,
    buffers: Buffers,
    events: Vec<String>,
    contexts: Vec<String>,
    subbuf_size: u64,
    num_subbuf: u32,
    blocking: bool,
}

impl<'d> SessionBuilder<'d> {
    /// Defaults: per-UID buffers, [`LIBC_EVENTS`], no contexts, non-blocking,
    /// [`DEFAULT_SUBBUF_SIZE`] × [`DEFAULT_NUM_SUBBUF`], output in the daemon's home.
    pub(super) fn new(daemon: &'d LttngDaemon, name: &str) -> Self {
        SessionBuilder {
            daemon,
            name: name.to_owned(),
            output: SessionOutput::Local(daemon.home().join("traces").join(name)),
            buffers: Buffers::PerUid,
            events: vec![LIBC_EVENTS.to_owned()],
            contexts: Vec::new(),
            subbuf_size: DEFAULT_SUBBUF_SIZE,
            num_subbuf: DEFAULT_NUM_SUBBUF,
            blocking: false,
        }
    }

    /// Records into the local directory `dir`.
    pub fn output(mut self, dir: impl Into<PathBuf>) -> Self {
        self.output = SessionOutput::Local(dir.into());
        self
    }

    /// Streams live to `relayd` with the given live timer.
    pub fn live(mut self, relayd: &Relayd, timer_us: u64) -> Self {
        self.output = SessionOutput::Live {
            url: relayd.url(),
            relayd_output: relayd.output().to_path_buf(),
            timer_us,
        };
        self
    }

    /// Per-UID or per-PID buffers.
    pub fn buffers(mut self, buffers: Buffers) -> Self {
        self.buffers = buffers;
        self
    }

    /// Replaces the enabled `-u` events (default: [`LIBC_EVENTS`]).
    pub fn events(mut self, events: &[&str]) -> Self {
        self.events = events.iter().map(|e| (*e).to_owned()).collect();
        self
    }

    /// Adds contexts (`lttng add-context -t`), e.g. [`ALL_CONTEXTS`].
    pub fn contexts(mut self, contexts: &[&str]) -> Self {
        self.contexts
            .extend(contexts.iter().map(|c| (*c).to_owned()));
        self
    }

    /// Sub-buffer size (bytes) and count.
    pub fn subbuffers(mut self, size: u64, count: u32) -> Self {
        self.subbuf_size = size;
        self.num_subbuf = count;
        self
    }

    /// A blocking channel (`--blocking-timeout=inf`): the app waits instead of
    /// losing events when the consumer falls behind. Trace it with `blocking`.
    pub fn blocking(mut self, blocking: bool) -> Self {
        self.blocking = blocking;
        self
    }

    /// Creates the session, its channel, events and contexts (not started).
    pub fn create(self) -> Result<Session<'d>> {
        let d = self.daemon;
        let name = self.name.as_str();
        match &self.output {
            SessionOutput::Local(dir) => {
                // The consumer daemon writes there as the harness user.
                d.prepare_dir(dir)?;
                let output = format!("--output={}", dir.display());
                d.lttng(&["create", name, &output])?;
            }
            SessionOutput::Live { url, timer_us, .. } => {
                let live = format!("--live={timer_us}");
                let url = format!("--set-url={url}");
                d.lttng(&["create", name, &live, &url])?;
            }
        }
        // From here on, a failing step destroys the session (Drop).
        let session = Session {
            daemon: d,
            name: self.name.clone(),
            output: self.output.clone(),
            blocking: self.blocking,
            destroyed: false,
        };
        let buffers = match self.buffers {
            Buffers::PerUid => "--buffers-uid",
            Buffers::PerPid => "--buffers-pid",
        };
        let size = format!("--subbuf-size={}", self.subbuf_size);
        let count = format!("--num-subbuf={}", self.num_subbuf);
        let mut args = vec!["enable-channel", "-u", "-s", name, buffers, &size, &count];
        if self.blocking {
            args.push("--blocking-timeout=inf");
        }
        args.push(CHANNEL);
        d.lttng(&args)?;
        let events = self.events.join(",");
        d.lttng(&["enable-event", "-u", "-s", name, "-c", CHANNEL, &events])?;
        if !self.contexts.is_empty() {
            let mut args = vec!["add-context", "-u", "-s", name, "-c", CHANNEL];
            for context in &self.contexts {
                args.push("-t");
                args.push(context);
            }
            d.lttng(&args)?;
        }
        Ok(session)
    }

    /// Creates and starts the session, then runs `program ARGS` traced in it
    /// (at most [`RUN_TIMEOUT`]); stopping and destroying are the caller's.
    pub fn start_traced(self, program: &Path, args: &[&str]) -> Result<Session<'d>> {
        let session = self.create()?;
        session.start()?;
        session.run_traced(program, args, RUN_TIMEOUT)?;
        Ok(session)
    }

    /// [`SessionBuilder::start_traced`], then stop and destroy: the trace.
    pub fn record(self, program: &Path, args: &[&str]) -> Result<PathBuf> {
        let session = self.start_traced(program, args)?;
        session.stop()?;
        session.destroy()
    }
}

/// How long a traced program may run in the harness's sessions.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// A created session; destroyed on drop if [`Session::destroy`] was not called.
#[derive(Debug)]
pub struct Session<'d> {
    daemon: &'d LttngDaemon,
    name: String,
    output: SessionOutput,
    blocking: bool,
    destroyed: bool,
}

impl Session<'_> {
    /// `lttng start`.
    pub fn start(&self) -> Result<()> {
        self.daemon.lttng(&["start", &self.name]).map(drop)
    }

    /// `lttng stop` (waits until the data is flushed to the output).
    pub fn stop(&self) -> Result<()> {
        self.daemon.lttng(&["stop", &self.name]).map(drop)
    }

    /// Runs `program ARGS` traced into this session (see [`LttngDaemon::run_traced`]).
    pub fn run_traced(&self, program: &Path, args: &[&str], timeout: Duration) -> Result<Output> {
        self.daemon
            .run_traced(program, args, self.blocking, timeout)
    }

    /// `lttng destroy`; returns the trace directory (for live sessions, the one
    /// the relay daemon wrote).
    pub fn destroy(mut self) -> Result<PathBuf> {
        self.destroyed = true;
        self.daemon.lttng(&["destroy", &self.name])?;
        Ok(match &self.output {
            SessionOutput::Local(dir) => dir.clone(),
            SessionOutput::Live { relayd_output, .. } => {
                relayd_trace_dir(relayd_output, &self.name).unwrap_or(relayd_output.clone())
            }
        })
    }

    /// The session's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        if !self.destroyed {
            let _ = self.daemon.lttng(&["destroy", &self.name]);
        }
    }
}

/// The relay daemon writes `OUTPUT/HOSTNAME/SESSION-DATE-TIME/`.
fn relayd_trace_dir(output: &Path, session: &str) -> Option<PathBuf> {
    let prefix = format!("{session}-");
    fs::read_dir(output)
        .ok()?
        .flatten()
        .filter_map(|host| fs::read_dir(host.path()).ok())
        .flat_map(|entries| entries.flatten())
        .find(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
}
