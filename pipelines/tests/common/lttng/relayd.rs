//! A private relay daemon on free loopback ports.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::process::{log_tail, on_path, terminate};
use super::{LttngDaemon, LttngError, READY_TIMEOUT, Result, io_err, spawn_as};

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
    pub(super) fn start(daemon: &LttngDaemon, output: &Path) -> Result<Relayd> {
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

    /// The live URL of session `name` traced on this machine:
    /// `net://127.0.0.1:LIVE/host/HOSTNAME/NAME`.
    pub fn session_url(&self, name: &str) -> String {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        format!("{}/host/{}/{name}", self.live_url(), host.trim())
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
