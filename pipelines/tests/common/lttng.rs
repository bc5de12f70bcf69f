//! Private LTTng daemons and recording sessions for integration tests and benches.
//!
//! Every [`LttngDaemon`] is a session daemon of its own: its own `LTTNG_HOME`
//! (a temporary directory holding its sockets, shm-free configuration and, by
//! default, its traces), so tests running in parallel, other engineers' daemons
//! and the user's own daemon never see each other's sessions.
//!
//! Isolation as root needs care: a root `lttng-sessiond` always binds the global
//! `/var/run/lttng` sockets (whatever `LTTNG_HOME` says) and the root `lttng`
//! command always talks to that global daemon. So when the harness runs as root
//! it runs the daemons, the `lttng` commands and the traced programs as an
//! unprivileged user (`nobody`), for which LTTng uses `$LTTNG_HOME/.lttng` only.
//! Directories those processes write to are handed to that user with `chown`.
//!
//! Traced programs run with `LD_PRELOAD=liblttng-ust-libc-wrapper.so.1`, so
//! their `malloc`/`free`/... calls become `lttng_ust_libc:*` events. They wait up
//! to [`REGISTER_TIMEOUT_MS`] for the session daemon before `main` runs (the
//! default, 3 s, is too short on a loaded 2-core machine and then the first
//! events are silently missing).
//!
//! Each failing step returns a [`LttngError`] naming the command and its stderr;
//! [`LttngError::Unavailable`] means "LTTng is not installed or cannot run here",
//! on which tests print `skipped: ...` and return.
//!
//! This file is shared: `pipelines/tests/tests.rs` uses it as `common::lttng`,
//! and the comparison harness (`benches/src/bin/compare.rs`) includes it with
//! `#[path]`. It may only use `std`, `thiserror` and `tempfile`.

use std::fs;
use std::io::{self, Read};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The libc wrapper's events.
pub const LIBC_EVENTS: &str = "lttng_ust_libc:*";

/// Every context the container-oriented pipeline cares about.
pub const ALL_CONTEXTS: &[&str] = &[
    "vpid",
    "vtid",
    "procname",
    "pid_ns",
    "net_ns",
    "mnt_ns",
    "cgroup_ns",
    "ipc_ns",
    "uts_ns",
    "user_ns",
];

/// Default sub-buffer size (bytes) of the harness channel.
pub const DEFAULT_SUBBUF_SIZE: u64 = 1 << 20;

/// Default sub-buffer count of the harness channel.
pub const DEFAULT_NUM_SUBBUF: u32 = 4;

/// The channel every harness session records into.
pub const CHANNEL: &str = "trawl";

/// How long a traced app waits for the session daemon before `main` (ms).
pub const REGISTER_TIMEOUT_MS: u32 = 30_000;

/// How long a daemon may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one `lttng` command may take (`stop` waits for data to be flushed).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

/// How long a daemon gets to exit after SIGTERM before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(5);

/// Environment variable overriding the path of the libc wrapper.
pub const LIBC_WRAPPER_ENV: &str = "TRAWL_LTTNG_LIBC_WRAPPER";

/// The file name of the LTTng-UST libc wrapper.
const LIBC_WRAPPER: &str = "liblttng-ust-libc-wrapper.so.1";

/// A tiny C program doing `malloc`/`free` in a loop: with the libc wrapper,
/// `N` iterations give `2 N` events (plus a few from the C runtime).
pub const MALLOC_LOOP_C: &str = r#"
#include <stdlib.h>
int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000;
    volatile char *keep;
    for (long i = 0; i < n; i++) {
        char *p = malloc(16 + (i & 255));
        if (!p) return 1;
        p[0] = (char)i;
        keep = p;
        free(p);
    }
    (void)keep;
    return 0;
}
"#;

/// What went wrong while driving LTTng.
#[derive(Debug, thiserror::Error)]
pub enum LttngError {
    /// LTTng is not installed or cannot run here: tests skip on this.
    #[error("LTTng is not available: {0}")]
    Unavailable(String),
    /// A command ran and failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// How it ended.
        status: String,
        /// What it printed on stderr (stdout when stderr is empty).
        stderr: String,
    },
    /// A command did not finish in time and was killed.
    #[error("`{command}` did not finish within {timeout:?} and was killed")]
    Timeout {
        /// The command line.
        command: String,
        /// The time it was given.
        timeout: Duration,
    },
    /// A command could not be started.
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// Why.
        source: io::Error,
    },
    /// A file-system step failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// On which path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A daemon exited or never became ready.
    #[error("{daemon} is not ready after {waited:?}; its log: {log}")]
    NotReady {
        /// Which daemon.
        daemon: &'static str,
        /// How long we waited.
        waited: Duration,
        /// The tail of its log.
        log: String,
    },
}

/// Result of a harness step.
pub type Result<T> = std::result::Result<T, LttngError>;

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> LttngError {
    let path = path.to_path_buf();
    move |source| LttngError::Io { what, path, source }
}

/// The Unix user the LTTng processes run as (`None`: as ourselves).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RunAs {
    uid: u32,
    gid: u32,
}

impl RunAs {
    /// `nobody` when we are root (see the module docs), else ourselves.
    fn detect() -> Result<Option<RunAs>> {
        let me = fs::metadata("/proc/self").map_err(io_err("stat", Path::new("/proc/self")))?;
        if me.uid() != 0 {
            return Ok(None);
        }
        let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
        let nobody = passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            match fields.as_slice() {
                ["nobody", _, uid, gid, ..] => Some(RunAs {
                    uid: uid.parse().ok()?,
                    gid: gid.parse().ok()?,
                }),
                _ => None,
            }
        });
        Ok(Some(nobody.unwrap_or(RunAs {
            uid: 65534,
            gid: 65534,
        })))
    }
}

/// Makes `dir` (created if missing) writable by the LTTng processes.
///
/// Only `dir` itself changes owner; its parents must be traversable by the
/// harness user (true for the daemon's home and for `target/`).
fn hand_over(dir: &Path, run_as: Option<RunAs>) -> Result<()> {
    fs::create_dir_all(dir).map_err(io_err("create", dir))?;
    if let Some(who) = run_as {
        std::os::unix::fs::chown(dir, Some(who.uid), Some(who.gid))
            .map_err(io_err("chown", dir))?;
        // tempfile makes 0700 dirs: let every user read and traverse it too.
        let mut perms = fs::metadata(dir)
            .map_err(io_err("stat", dir))?
            .permissions();
        perms.set_mode(perms.mode() | 0o755);
        fs::set_permissions(dir, perms).map_err(io_err("chmod", dir))?;
    }
    Ok(())
}

/// Finds `liblttng-ust-libc-wrapper.so.1` ([`LIBC_WRAPPER_ENV`] overrides).
pub fn libc_wrapper_path() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(LIBC_WRAPPER_ENV) {
        return Ok(PathBuf::from(path));
    }
    let mut dirs = vec![
        PathBuf::from("/usr/lib"),
        PathBuf::from("/usr/lib64"),
        PathBuf::from("/usr/local/lib"),
    ];
    // Debian multiarch: /usr/lib/x86_64-linux-gnu and friends.
    if let Ok(entries) = fs::read_dir("/usr/lib") {
        dirs.extend(
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().ends_with("-linux-gnu")),
        );
    }
    dirs.into_iter()
        .map(|d| d.join(LIBC_WRAPPER))
        .find(|p| p.exists())
        .ok_or_else(|| {
            LttngError::Unavailable(format!(
                "{LIBC_WRAPPER} not found (install liblttng-ust-dev or set {LIBC_WRAPPER_ENV})"
            ))
        })
}

/// Whether `program` is on `PATH`.
fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// A printable command line.
fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        s.push(' ');
        s.push_str(&arg.to_string_lossy());
    }
    s
}

/// Runs `cmd` to the end (or kills it after `timeout`), capturing its output.
/// Non-zero exit is an error naming the command and its stderr.
pub fn run_captured(cmd: &mut Command, timeout: Duration) -> Result<Output> {
    let command = describe(cmd);
    run_labeled(cmd, command, timeout)
}

/// [`run_captured`], naming the command `command` in errors.
fn run_labeled(cmd: &mut Command, command: String, timeout: Duration) -> Result<Output> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| LttngError::Spawn {
            command: command.clone(),
            source,
        })?;
    // Drain both pipes on threads so a chatty child never blocks on a full pipe.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let status = wait_deadline(&mut child, timeout).map_err(|source| LttngError::Spawn {
        command: command.clone(),
        source,
    })?;
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(LttngError::Timeout { command, timeout });
    };
    let output = Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    };
    if !output.status.success() {
        let text = if output.stderr.is_empty() {
            &output.stdout
        } else {
            &output.stderr
        };
        return Err(LttngError::Command {
            command,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(text).trim().to_owned(),
        });
    }
    Ok(output)
}

/// Waits for `child` until `timeout`; `None` if it is still running.
fn wait_deadline(child: &mut Child, timeout: Duration) -> io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Stops a daemon: SIGTERM (so it cleans up its consumer daemons), then SIGKILL.
fn terminate(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .stderr(Stdio::null())
        .status();
    if !matches!(wait_deadline(child, EXIT_GRACE), Ok(Some(_))) {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The last lines of a daemon log, for error messages.
fn log_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(15)..].join("\n");
    if tail.is_empty() {
        "(empty)".to_owned()
    } else {
        tail
    }
}

/// A private `lttng-sessiond`, killed on drop.
#[derive(Debug)]
pub struct LttngDaemon {
    // Field order matters: the daemon dies (Drop) before its home is removed.
    child: Child,
    run_as: Option<RunAs>,
    wrapper: PathBuf,
    home: tempfile::TempDir,
}

impl LttngDaemon {
    /// Starts a private session daemon and waits until it answers.
    ///
    /// [`LttngError::Unavailable`] when LTTng is not installed or the daemon
    /// cannot start here.
    pub fn start() -> Result<LttngDaemon> {
        for tool in ["lttng", "lttng-sessiond"] {
            if !on_path(tool) {
                return Err(LttngError::Unavailable(format!(
                    "`{tool}` is not on PATH (run scripts/install-deps.sh)"
                )));
            }
        }
        let wrapper = libc_wrapper_path()?;
        let run_as = RunAs::detect()?;
        let home = tempfile::Builder::new()
            .prefix("trawl-lttng-")
            .tempdir()
            .map_err(io_err("create temp dir in", &std::env::temp_dir()))?;
        hand_over(home.path(), run_as)?;
        let log_path = home.path().join("sessiond.log");
        let log = fs::File::create(&log_path).map_err(io_err("create", &log_path))?;
        let log2 = log.try_clone().map_err(io_err("dup", &log_path))?;
        let mut cmd = Command::new("lttng-sessiond");
        cmd.arg("--no-kernel")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        let mut daemon = LttngDaemon {
            child: spawn_as(&mut cmd, home.path(), run_as)
                .map_err(|e| LttngError::Unavailable(e.to_string()))?,
            run_as,
            wrapper,
            home,
        };
        daemon.wait_ready(&log_path)?;
        Ok(daemon)
    }

    fn wait_ready(&mut self, log_path: &Path) -> Result<()> {
        let start = Instant::now();
        let socket = self.home.path().join(".lttng/client-lttng-sessiond");
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(LttngError::Unavailable(format!(
                    "lttng-sessiond exited ({status}): {}",
                    log_tail(log_path)
                )));
            }
            if socket.exists() && self.lttng(&["list"]).is_ok() {
                return Ok(());
            }
            if start.elapsed() > READY_TIMEOUT {
                return Err(LttngError::NotReady {
                    daemon: "lttng-sessiond",
                    waited: start.elapsed(),
                    log: log_tail(log_path),
                });
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The daemon's `LTTNG_HOME`.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// Runs `lttng --no-sessiond ARGS` against this daemon; returns its stdout.
    pub fn lttng(&self, args: &[&str]) -> Result<String> {
        // --no-sessiond: never let the CLI spawn a daemon of its own.
        let mut label = String::from("lttng --no-sessiond");
        for arg in args {
            label.push(' ');
            label.push_str(arg);
        }
        // On an error reply the session daemon closes the socket while lttng
        // 2.13 is still writing, and lttng dies of SIGPIPE before printing the
        // error. Run it with SIGPIPE ignored (inherited through exec), so it
        // gets EPIPE and says what went wrong.
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "trap '' PIPE; exec lttng --no-sessiond \"$@\"",
            "lttng",
        ])
        .args(args);
        self.prepare(&mut cmd);
        let out = run_labeled(&mut cmd, label, COMMAND_TIMEOUT)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Points `cmd` at this daemon and runs it as the harness user.
    fn prepare(&self, cmd: &mut Command) {
        configure(cmd, self.home.path(), self.run_as);
    }

    /// Makes `dir` (created if missing) writable by the LTTng processes.
    pub fn prepare_dir(&self, dir: &Path) -> Result<()> {
        hand_over(dir, self.run_as)
    }

    /// A new session named `name`, recorded under this daemon's home by default.
    pub fn session(&self, name: &str) -> SessionBuilder<'_> {
        SessionBuilder {
            daemon: self,
            name: name.to_owned(),
            output: SessionOutput::Local(self.home.path().join("traces").join(name)),
            buffers: Buffers::PerUid,
            events: vec![LIBC_EVENTS.to_owned()],
            contexts: Vec::new(),
            subbuf_size: DEFAULT_SUBBUF_SIZE,
            num_subbuf: DEFAULT_NUM_SUBBUF,
            blocking: false,
        }
    }

    /// Starts a private `lttng-relayd` on free loopback ports writing under `output`.
    pub fn start_relayd(&self, output: &Path) -> Result<Relayd> {
        Relayd::start(self, output)
    }

    /// Runs `program ARGS` traced by the libc wrapper, pointed at this daemon.
    ///
    /// `blocking` sets `LTTNG_UST_ALLOW_BLOCKING=1`, needed for channels with a
    /// blocking timeout. Fails if the program exits non-zero.
    pub fn run_traced(
        &self,
        program: &Path,
        args: &[&str],
        blocking: bool,
        timeout: Duration,
    ) -> Result<Output> {
        let mut cmd = Command::new(program);
        // First the daemon's environment (it clears LD_PRELOAD), then the wrapper.
        self.prepare(&mut cmd);
        cmd.args(args).env("LD_PRELOAD", &self.wrapper).env(
            "LTTNG_UST_REGISTER_TIMEOUT",
            REGISTER_TIMEOUT_MS.to_string(),
        );
        if blocking {
            cmd.env("LTTNG_UST_ALLOW_BLOCKING", "1");
        }
        run_captured(&mut cmd, timeout)
    }

    /// Compiles [`MALLOC_LOOP_C`] with `cc -O2` into this daemon's home.
    pub fn build_malloc_loop(&self) -> Result<PathBuf> {
        let src = self.home.path().join("malloc_loop.c");
        let bin = self.home.path().join("malloc_loop");
        fs::write(&src, MALLOC_LOOP_C).map_err(io_err("write", &src))?;
        let mut cmd = Command::new("cc");
        cmd.arg("-O2").arg("-o").arg(&bin).arg(&src);
        run_captured(&mut cmd, COMMAND_TIMEOUT)?;
        Ok(bin)
    }
}

impl Drop for LttngDaemon {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

/// Sets the environment pointing LTTng at `home` and the user to run as.
fn configure(cmd: &mut Command, home: &Path, run_as: Option<RunAs>) {
    cmd.env("LTTNG_HOME", home)
        .env("HOME", home)
        .env_remove("LD_PRELOAD")
        .current_dir(home);
    if let Some(who) = run_as {
        // std drops root's supplementary groups when it changes the uid.
        cmd.uid(who.uid).gid(who.gid);
    }
}

fn spawn_as(cmd: &mut Command, home: &Path, run_as: Option<RunAs>) -> Result<Child> {
    configure(cmd, home, run_as);
    cmd.spawn().map_err(|source| LttngError::Spawn {
        command: describe(cmd),
        source,
    })
}

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
}

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

/// A private `lttng-relayd` on free loopback ports, killed on drop.
#[derive(Debug)]
pub struct Relayd {
    child: Child,
    control_port: u16,
    data_port: u16,
    live_port: u16,
    output: PathBuf,
}

impl Relayd {
    fn start(daemon: &LttngDaemon, output: &Path) -> Result<Relayd> {
        if !on_path("lttng-relayd") {
            return Err(LttngError::Unavailable(
                "`lttng-relayd` is not on PATH".to_owned(),
            ));
        }
        daemon.prepare_dir(output)?;
        // A free port can be taken between our probe and the bind: retry.
        let mut last = None;
        for attempt in 0..5 {
            let log_path = daemon.home().join(format!("relayd-{attempt}.log"));
            match Relayd::try_start(daemon, output, &log_path) {
                Ok(relayd) => return Ok(relayd),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(LttngError::Unavailable("lttng-relayd".to_owned())))
    }

    fn try_start(daemon: &LttngDaemon, output: &Path, log_path: &Path) -> Result<Relayd> {
        let [control_port, data_port, live_port] = free_ports()?;
        let log = fs::File::create(log_path).map_err(io_err("create", log_path))?;
        let log2 = log.try_clone().map_err(io_err("dup", log_path))?;
        let mut cmd = Command::new("lttng-relayd");
        cmd.arg(format!("--control-port=tcp://127.0.0.1:{control_port}"))
            .arg(format!("--data-port=tcp://127.0.0.1:{data_port}"))
            .arg(format!("--live-port=tcp://127.0.0.1:{live_port}"))
            .arg(format!("--output={}", output.display()))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        let child = spawn_as(&mut cmd, daemon.home(), daemon.run_as)?;
        let mut relayd = Relayd {
            child,
            control_port,
            data_port,
            live_port,
            output: output.to_path_buf(),
        };
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = relayd.child.try_wait() {
                return Err(LttngError::NotReady {
                    daemon: "lttng-relayd",
                    waited: start.elapsed(),
                    log: format!("exited ({status}): {}", log_tail(log_path)),
                });
            }
            let up = |port| TcpStream::connect(("127.0.0.1", port)).is_ok();
            if up(control_port) && up(live_port) {
                return Ok(relayd);
            }
            if start.elapsed() > READY_TIMEOUT {
                return Err(LttngError::NotReady {
                    daemon: "lttng-relayd",
                    waited: start.elapsed(),
                    log: log_tail(log_path),
                });
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The session URL: `net://127.0.0.1:CONTROL:DATA`.
    pub fn url(&self) -> String {
        format!("net://127.0.0.1:{}:{}", self.control_port, self.data_port)
    }

    /// The live viewer URL: `net://127.0.0.1:LIVE`.
    pub fn live_url(&self) -> String {
        format!("net://127.0.0.1:{}", self.live_port)
    }

    /// The live port.
    pub fn live_port(&self) -> u16 {
        self.live_port
    }

    /// Where the relay daemon writes traces.
    pub fn output(&self) -> &Path {
        &self.output
    }
}

impl Drop for Relayd {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

/// Three distinct ports free right now on 127.0.0.1.
fn free_ports() -> Result<[u16; 3]> {
    let bind =
        || TcpListener::bind(("127.0.0.1", 0)).map_err(io_err("bind", Path::new("127.0.0.1:0")));
    // Hold all three listeners at once so the kernel hands out distinct ports.
    let (a, b, c) = (bind()?, bind()?, bind()?);
    let port = |l: &TcpListener| {
        l.local_addr()
            .map(|a| a.port())
            .map_err(io_err("local_addr", Path::new("127.0.0.1")))
    };
    Ok([port(&a)?, port(&b)?, port(&c)?])
}

/// Records `2 × iterations` `lttng_ust_libc:malloc`/`free` events with every
/// context of [`ALL_CONTEXTS`] into `out`, loss-free (blocking channel, 4 MiB ×
/// 8 sub-buffers), and returns the trace directory.
///
/// About 1.5 s and 380 MB per 4 M events on a 2-core VM.
pub fn record_malloc_trace(
    daemon: &LttngDaemon,
    name: &str,
    out: &Path,
    iterations: u64,
    buffers: Buffers,
) -> Result<PathBuf> {
    let program = daemon.build_malloc_loop()?;
    let session = daemon
        .session(name)
        .output(out)
        .buffers(buffers)
        .events(&["lttng_ust_libc:malloc", "lttng_ust_libc:free"])
        .contexts(ALL_CONTEXTS)
        .subbuffers(4 << 20, 8)
        .blocking(true)
        .create()?;
    session.start()?;
    session.run_traced(&program, &[&iterations.to_string()], COMMAND_TIMEOUT)?;
    session.stop()?;
    session.destroy()
}
