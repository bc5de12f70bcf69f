//! Private LTTng daemons and recording sessions for integration tests and benches.
//!
//! Every [`LttngDaemon`] is a session daemon of its own: its own `LTTNG_HOME`
//! (a temporary directory holding its sockets, its logs and, by default, its
//! traces), so tests running in parallel, other daemons on the machine and the
//! user's own daemon never see each other's sessions.
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
//! to [`REGISTER_TIMEOUT_MS`] for the session daemon before `main` runs: past
//! LTTng-UST's default 3 s (reachable on a loaded 2-core machine) the program
//! runs on untraced until registration completes, and its first events are
//! silently missing. The session is always started before the program runs.
//!
//! Each failing step returns a [`LttngError`] naming the command and its stderr;
//! [`LttngError::Unavailable`] means "LTTng is not installed or cannot run here",
//! on which tests print `skipped: ...` and return.
//!
//! This module is shared: `pipelines/tests/tests.rs` uses it as `common::lttng`,
//! and the bench binaries (`benches/src/bin/`) include it with `#[path]`. It
//! may only use `std`, `thiserror` and `tempfile`.

mod process;
mod relayd;
mod session;

pub use process::run_captured;
pub use relayd::Relayd;
#[allow(
    unused_imports,
    reason = "the harness API; each includer uses a different part of it"
)]
pub use session::{Buffers, RUN_TIMEOUT, Session, SessionBuilder, SessionOutput};

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use process::{describe, log_tail, on_path, run_labeled, terminate};

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
        SessionBuilder::new(self, name)
    }

    /// Starts a private `lttng-relayd` on free loopback ports writing under `output`.
    pub fn start_relayd(&self, output: &Path) -> Result<Relayd> {
        Relayd::start(self, output)
    }

    /// A new relay daemon (writing under this daemon's home) and a started
    /// live session `name` on it (live timer 100 ms, the libc events, every
    /// context of [`ALL_CONTEXTS`]).
    pub fn live_recording(&self, name: &str) -> Result<LiveRecording<'_>> {
        let relayd = self.start_relayd(&self.home().join("relayd"))?;
        let session = self
            .session(name)
            .live(&relayd, 100_000)
            .contexts(ALL_CONTEXTS)
            .create()?;
        session.start()?;
        let url = relayd.session_url(name);
        Ok(LiveRecording {
            relayd,
            session,
            url,
        })
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

/// A live session being recorded through its own relay daemon.
pub struct LiveRecording<'d> {
    /// The relay daemon (its output tree is what the relay wrote).
    pub relayd: Relayd,
    pub session: Session<'d>,
    /// `net://` URL of the session for live viewers.
    pub url: String,
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
