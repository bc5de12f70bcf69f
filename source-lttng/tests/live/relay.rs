//! A private session daemon + relay daemon pair, killed on drop.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The libc wrapper that makes any program emit `lttng_ust_libc:*` events.
const LIBC_WRAPPER: &str = "liblttng-ust-libc-wrapper.so.1";
/// Its sibling for `lttng_ust_pthread:*`.
const PTHREAD_WRAPPER: &str = "liblttng-ust-pthread-wrapper.so.1";

pub struct Lttng {
    sessiond: Child,
    relayd: Child,
    pub home: tempfile::TempDir,
    pub output: PathBuf,
    pub control_port: u16,
    pub data_port: u16,
    pub viewer_port: u16,
    pub hostname: String,
    wrapper: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn find_wrapper() -> Option<PathBuf> {
    [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
        "/usr/local/lib",
    ]
    .iter()
    .map(|d| Path::new(d).join(LIBC_WRAPPER))
    .find(|p| p.exists() && p.with_file_name(PTHREAD_WRAPPER).exists())
}

fn have(bin: &str) -> bool {
    Command::new(bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

fn spawn_relayd(home: &Path, output: &Path, ports: [u16; 3]) -> Result<Child, String> {
    let [control, data, viewer] = ports;
    Command::new("lttng-relayd")
        .arg(format!("--control-port=tcp://127.0.0.1:{control}"))
        .arg(format!("--data-port=tcp://127.0.0.1:{data}"))
        .arg(format!("--live-port=tcp://127.0.0.1:{viewer}"))
        .arg(format!("--output={}", output.display()))
        .env("LTTNG_HOME", home)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("lttng-relayd: {e}"))
}

impl Lttng {
    /// Start both daemons, or say why not.
    pub fn start() -> Result<Lttng, String> {
        for bin in [
            "lttng",
            "lttng-sessiond",
            "lttng-relayd",
            "unshare",
            "nsenter",
            "timeout",
        ] {
            if !have(bin) {
                return Err(format!("`{bin}` not installed"));
            }
        }
        let wrapper = find_wrapper().ok_or("liblttng-ust-{libc,pthread}-wrapper.so.1 not found")?;
        let home = tempfile::tempdir().map_err(|e| e.to_string())?;
        let output = home.path().join("relay-out");
        std::fs::create_dir(&output).map_err(|e| e.to_string())?;
        let (control_port, data_port, viewer_port) = (free_port(), free_port(), free_port());
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map_err(|e| e.to_string())?
            .trim()
            .to_string();
        let relayd = spawn_relayd(home.path(), &output, [control_port, data_port, viewer_port])?;
        let script = "mount -t tmpfs tmpfs /var/run/lttng 2>/dev/null || \
                      { mkdir -p /var/run/lttng && mount -t tmpfs tmpfs /var/run/lttng; } && \
                      mount -t tmpfs tmpfs /dev/shm && exec lttng-sessiond --no-kernel";
        let sessiond = Command::new("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "--",
                "sh",
                "-c",
                script,
            ])
            .env("LTTNG_HOME", home.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("unshare lttng-sessiond: {e}"))?;
        let mut lttng = Lttng {
            sessiond,
            relayd,
            home,
            output,
            control_port,
            data_port,
            viewer_port,
            hostname,
            wrapper,
        };
        lttng.wait_ready()?;
        Ok(lttng)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        // `/run`, not `/var/run`: on Debian `/var/run` is an absolute
        // symlink, which would resolve against our root, not the daemon's.
        let client = PathBuf::from(format!(
            "/proc/{}/root/run/lttng/client-lttng-sessiond",
            self.sessiond.id()
        ));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.sessiond.try_wait() {
                return Err(format!(
                    "lttng-sessiond exited: {status} (no right to unshare/mount?)"
                ));
            }
            if let Ok(Some(status)) = self.relayd.try_wait() {
                return Err(format!("lttng-relayd exited: {status}"));
            }
            let relay_up = TcpStream::connect(("127.0.0.1", self.viewer_port)).is_ok();
            if relay_up && client.exists() && self.lttng(&["list"]).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("daemons not ready after 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A command inside the session daemon's mount namespace.
    /// Killed after 60 s: an `lttng` command that never returns (seen with
    /// `stop`/`destroy` under a very high event rate) fails the test
    /// instead of hanging it.
    fn in_ns(&self, program: &str) -> Command {
        let mut c = Command::new("timeout");
        c.args(["60", "nsenter", "-t"])
            .arg(self.sessiond.id().to_string())
            .args(["-m", "--", program]);
        c.env("LTTNG_HOME", self.home.path());
        c
    }

    /// Run `lttng ARGS`; its output or its error text.
    pub fn lttng(&self, args: &[&str]) -> Result<String, String> {
        // Never let the client spawn a daemon of its own; a busy
        // session daemon sometimes looks absent for a moment: retry.
        let mut tries = 0;
        loop {
            let out = self
                .in_ns("lttng")
                .arg("--no-sessiond")
                .args(args)
                .output()
                .map_err(|e| e.to_string())?;
            if out.status.success() {
                return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
            }
            let stderr = String::from_utf8_lossy(&out.stderr);
            tries += 1;
            if !stderr.contains("No session daemon") || tries == 40 {
                return Err(format!(
                    "lttng {}: {}{stderr}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stdout),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Create, configure and start live session `name` (live timer 100 ms).
    /// With `per_pid`, a channel with per-process buffers.
    pub fn live_session(&self, name: &str, per_pid: bool) {
        let url = format!(
            "--set-url=net://127.0.0.1:{}:{}",
            self.control_port, self.data_port
        );
        self.lttng(&["create", name, "--live=100000", &url])
            .unwrap();
        if per_pid {
            self.lttng(&["enable-channel", "-u", "--buffers-pid", "chan", "-s", name])
                .unwrap();
            self.lttng(&[
                "enable-event",
                "-u",
                "lttng_ust_libc:*",
                "-c",
                "chan",
                "-s",
                name,
            ])
            .unwrap();
        } else {
            self.lttng(&["enable-event", "-u", "lttng_ust_libc:*", "-s", name])
                .unwrap();
            // Only registered by programs that load the pthread wrapper:
            // their event classes grow the metadata mid-session.
            self.lttng(&["enable-event", "-u", "lttng_ust_pthread:*", "-s", name])
                .unwrap();
        }
        self.lttng(&[
            "add-context",
            "-u",
            "-t",
            "vpid",
            "-t",
            "vtid",
            "-t",
            "procname",
            "-s",
            name,
        ])
        .unwrap();
        self.lttng(&["start", name]).unwrap();
    }

    /// The live URL of session `name` on our relay.
    pub fn url(&self, name: &str) -> String {
        format!(
            "net://127.0.0.1:{}/host/{}/{name}",
            self.viewer_port, self.hostname
        )
    }

    /// Kill the relay daemon (SIGKILL: no goodbye to anyone) and start a new
    /// one on the same ports and output directory.
    pub fn restart_relayd(&mut self) {
        let _ = self.relayd.kill();
        let _ = self.relayd.wait();
        self.relayd = spawn_relayd(
            self.home.path(),
            &self.output,
            [self.control_port, self.data_port, self.viewer_port],
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.viewer_port)).is_err() {
            assert!(Instant::now() < deadline, "relay daemon did not come back");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Start `cmd` under the libc wrapper without waiting for it.
    pub fn spawn_traced_cmd(&self, cmd: &[&str]) -> Child {
        self.in_ns("env")
            .arg(format!("LD_PRELOAD={}", self.wrapper.display()))
            .args(cmd)
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// Run a short traced program (`ls` under the libc wrapper).
    pub fn run_traced(&self) {
        self.run_traced_cmd(&["ls", "-la", "/usr/lib"]);
    }

    /// Run `cmd` under the libc wrapper.
    pub fn run_traced_cmd(&self, cmd: &[&str]) {
        self.run_preloaded(&self.wrapper.display().to_string(), cmd);
    }

    /// Run `ls` under the libc and pthread wrappers.
    pub fn run_traced_pthread(&self) {
        let pthread = self.wrapper.with_file_name(PTHREAD_WRAPPER);
        let preload = format!("{}:{}", self.wrapper.display(), pthread.display());
        self.run_preloaded(&preload, &["ls", "-la", "/usr/lib"]);
    }

    fn run_preloaded(&self, preload: &str, cmd: &[&str]) {
        let status = self
            .in_ns("env")
            .arg(format!("LD_PRELOAD={preload}"))
            .args(cmd)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Lttng {
    fn drop(&mut self) {
        for child in [&mut self.sessiond, &mut self.relayd] {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
        }
        for child in [&mut self.sessiond, &mut self.relayd] {
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Start the daemons, or print why not and return from the test.
macro_rules! relay_or_skip {
    () => {
        match crate::relay::Lttng::start() {
            Ok(l) => l,
            Err(why) => {
                println!("skipped: {why}");
                return;
            }
        }
    };
}
