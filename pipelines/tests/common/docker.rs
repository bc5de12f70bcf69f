//! A private `dockerd` for tests: its own data root, exec root, pid file and
//! socket in a temporary directory, vfs storage (works in any file system),
//! no bridge or iptables (containers run with `--network none`). Images are
//! built locally with `docker import` from a tarball holding the static
//! busybox of Debian's `busybox-static`: no registry.
//!
//! The daemon can be killed as in a crash ([`Dockerd::kill`]: its
//! containers live on) and started again on the same socket and data
//! ([`Dockerd::restart`]).
//!
//! Needs root, `dockerd` and `docker` (Debian `docker.io`) and
//! `/bin/busybox` static (`busybox-static`): `scripts/install-deps.sh`.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long dockerd may take to answer.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The Docker client of the `docker.io` package (a newer client elsewhere
/// on PATH would do too; this one matches the daemon).
const DOCKER_CLI: &str = "/usr/bin/docker";

/// A private Docker daemon, stopped (containers removed first) on drop.
pub struct Dockerd {
    /// The daemon; `None` once killed.
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl Dockerd {
    /// Starts dockerd, or says why it cannot run here (`Err`: skip).
    pub fn start() -> Result<Dockerd, String> {
        // /proc/self is owned by our effective uid.
        let uid = std::os::unix::fs::MetadataExt::uid(
            &fs::metadata("/proc/self").map_err(|e| e.to_string())?,
        );
        if uid != 0 {
            return Err("dockerd needs root".into());
        }
        for tool in ["/usr/sbin/dockerd", DOCKER_CLI, "/bin/busybox"] {
            if !Path::new(tool).exists() {
                return Err(format!("{tool} is missing (run scripts/install-deps.sh)"));
            }
        }
        // Short path: the socket's must fit in 108 bytes.
        let dir = tempfile::Builder::new()
            .prefix("trawl-dockerd-")
            .tempdir_in("/tmp")
            .map_err(|e| e.to_string())?;
        let mut d = Dockerd { child: None, dir };
        d.launch()?;
        Ok(d)
    }

    /// Starts the daemon and waits until it answers; `Err`: it exited.
    /// Panics when it does not answer in time.
    fn launch(&mut self) -> Result<(), String> {
        let p = self.dir.path();
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p.join("dockerd.log"))
            .map_err(|e| e.to_string())?;
        let child = Command::new("/usr/sbin/dockerd")
            .arg("--storage-driver=vfs")
            .arg(format!("--data-root={}", p.join("data").display()))
            .arg(format!("--exec-root={}", p.join("exec").display()))
            .arg(format!("--pidfile={}", p.join("dockerd.pid").display()))
            .arg(format!("--host=unix://{}", p.join("docker.sock").display()))
            .args(["--bridge=none", "--iptables=false", "--ip6tables=false"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("dockerd: {e}"))?;
        self.child = Some(child);
        let start = Instant::now();
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                return Err(format!("dockerd exited ({status}): {}", self.log_tail()));
            }
            if self.socket().exists() && self.cli(&["version"]).status.success() {
                return Ok(());
            }
            if start.elapsed() > READY_TIMEOUT {
                let why = format!(
                    "dockerd not ready after {READY_TIMEOUT:?}: {}",
                    self.log_tail()
                );
                // Cleaning up after a failed test: a second panic would abort.
                if thread::panicking() {
                    return Err(why);
                }
                panic!("{why}");
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills the daemon (SIGKILL), as in a crash: the containers' processes
    /// live on under their shims, the socket file stays and refuses.
    pub fn kill(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid_file = self.dir.path().join("exec/containerd/containerd.pid");
        let containerd = fs::read_to_string(&pid_file).unwrap_or_default();
        let _ = child.kill();
        let _ = child.wait();
        // Its containerd dies with it (parent-death signal). Where init is
        // slow to reap it, the restarted dockerd would take the zombie for
        // a live containerd and wait for it in vain: once it is dead, its
        // pid file goes, as after a crash where init reaps at once.
        let stat = PathBuf::from(format!("/proc/{}/stat", containerd.trim()));
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            let state = fs::read_to_string(&stat).ok().and_then(|s| {
                let after = &s[s.rfind(')')? + 1..];
                after.split_whitespace().next().map(str::to_owned)
            });
            if state.is_none_or(|s| s == "Z") {
                let _ = fs::remove_file(&pid_file);
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts the daemon again on the same socket and data (after [`Dockerd::kill`]).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "dockerd is running");
        if let Err(e) = self.launch() {
            panic!("dockerd restart: {e}");
        }
    }

    /// Removes every container, then stops the daemon.
    fn stop(&self, mut child: Child) {
        let ids = self.cli(&["ps", "-aq"]);
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = self.cli(&["rm", "-f", id]);
        }
        // SIGTERM through kill(1): std only sends SIGKILL, which leaves containerd behind.
        let _ = Command::new("kill").arg(child.id().to_string()).status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// The API socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    fn log_tail(&self) -> String {
        let log = fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// `docker -H SOCKET ARGS`, whatever its status.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(DOCKER_CLI)
            .arg("-H")
            .arg(format!("unix://{}", self.socket().display()))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run docker")
    }

    /// `docker ARGS`, which must succeed; its trimmed stdout.
    pub fn docker(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "docker {args:?}: {}{}",
            String::from_utf8_lossy(&out.stderr),
            self.log_tail()
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Imports a busybox root file system as image `tag`.
    pub fn import_busybox(&self, tag: &str) {
        let root = self.dir.path().join("rootfs");
        let bin = root.join("bin");
        if !bin.exists() {
            fs::create_dir_all(&bin).unwrap();
            fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
            for applet in ["sh", "sleep", "true"] {
                symlink("busybox", bin.join(applet)).unwrap();
            }
            let status = Command::new("tar")
                .arg("-C")
                .arg(&root)
                .arg("-cf")
                .arg(self.dir.path().join("rootfs.tar"))
                .arg(".")
                .status()
                .unwrap();
            assert!(status.success(), "tar rootfs");
        }
        let tar = self.dir.path().join("rootfs.tar");
        self.docker(&["import", tar.to_str().unwrap(), tag]);
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // Killed: start it again to clean up its containers.
        if self.child.is_none() {
            let _ = self.launch();
        }
        if let Some(child) = self.child.take() {
            self.stop(child);
        }
        // dockerd bind-mounts its data root onto itself; after a crash and
        // a restart, nobody unmounts it.
        let data = self.dir.path().join("data");
        let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        if mounts.lines().any(|l| l.split(' ').nth(1) == data.to_str()) {
            let _ = Command::new("umount").arg(&data).status();
        }
    }
}
