//! The live client against a real `lttng-relayd` fed by a private
//! `lttng-sessiond`, tracing `lttng_ust_libc:*` of short processes.
//!
//! Privacy: a root session daemon always uses `/var/run/lttng` (and
//! `/dev/shm`), whatever `LTTNG_HOME` says, and other tests on this machine
//! may run one. So our session daemon, the `lttng` commands and the traced
//! programs run in their own mount namespace with private tmpfs mounts over
//! both (`unshare --mount`, then `nsenter`). The relay daemon only speaks TCP
//! on free loopback ports. Without lttng (or without the right to unshare)
//! the tests print `skipped: ...` and pass.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use trawl_source_lttng::live::{
    LiveItem, LiveSessionBuilder, Seek, SessionNotFoundAction, ViewerConnection, list_sessions,
};

mod relay {
    //! A private session daemon + relay daemon pair, killed on drop.

    use std::net::{TcpListener, TcpStream};
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    /// The libc wrapper that makes any program emit `lttng_ust_libc:*` events.
    const LIBC_WRAPPER: &str = "liblttng-ust-libc-wrapper.so.1";

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
        .find(|p| p.exists())
    }

    fn have(bin: &str) -> bool {
        Command::new(bin)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
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
            ] {
                if !have(bin) {
                    return Err(format!("`{bin}` not installed"));
                }
            }
            let wrapper = find_wrapper().ok_or("liblttng-ust-libc-wrapper.so.1 not found")?;
            let home = tempfile::tempdir().map_err(|e| e.to_string())?;
            let output = home.path().join("relay-out");
            std::fs::create_dir(&output).map_err(|e| e.to_string())?;
            let (control_port, data_port, viewer_port) = (free_port(), free_port(), free_port());
            let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map_err(|e| e.to_string())?
                .trim()
                .to_string();
            let relayd = Command::new("lttng-relayd")
                .arg(format!("--control-port=tcp://127.0.0.1:{control_port}"))
                .arg(format!("--data-port=tcp://127.0.0.1:{data_port}"))
                .arg(format!("--live-port=tcp://127.0.0.1:{viewer_port}"))
                .arg(format!("--output={}", output.display()))
                .env("LTTNG_HOME", home.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("lttng-relayd: {e}"))?;
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
            let client = PathBuf::from(format!(
                "/proc/{}/root/var/run/lttng/client-lttng-sessiond",
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
        fn in_ns(&self, program: &str) -> Command {
            let mut c = Command::new("nsenter");
            c.arg("-t")
                .arg(self.sessiond.id().to_string())
                .args(["-m", "--", program]);
            c.env("LTTNG_HOME", self.home.path());
            c
        }

        /// Run `lttng ARGS`; its output or its error text.
        pub fn lttng(&self, args: &[&str]) -> Result<String, String> {
            let out = self
                .in_ns("lttng")
                .args(args)
                .output()
                .map_err(|e| e.to_string())?;
            if out.status.success() {
                Ok(String::from_utf8_lossy(&out.stdout).into_owned())
            } else {
                Err(format!(
                    "lttng {}: {}{}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ))
            }
        }

        /// Create, configure and start live session `name` (live timer 100 ms).
        pub fn live_session(&self, name: &str) {
            let url = format!(
                "--set-url=net://127.0.0.1:{}:{}",
                self.control_port, self.data_port
            );
            self.lttng(&["create", name, "--live=100000", &url])
                .unwrap();
            self.lttng(&["enable-event", "-u", "lttng_ust_libc:*", "-s", name])
                .unwrap();
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

        /// Run a short traced program (`ls` under the libc wrapper).
        pub fn run_traced(&self) {
            let status = self
                .in_ns("env")
                .arg(format!("LD_PRELOAD={}", self.wrapper.display()))
                .args(["ls", "-la", "/usr/lib"])
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
}

/// Every regular file under `dir`, by path relative to `dir`.
fn files_under(dir: &Path) -> BTreeMap<PathBuf, u64> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let md = e.metadata().unwrap();
            if md.is_dir() {
                todo.push(e.path());
            } else {
                out.insert(e.path().strip_prefix(dir).unwrap().to_path_buf(), md.len());
            }
        }
    }
    out
}

macro_rules! relay_or_skip {
    () => {
        match relay::Lttng::start() {
            Ok(l) => l,
            Err(why) => {
                println!("skipped: {why}");
                return;
            }
        }
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_and_list_against_real_relay() {
    let lttng = relay_or_skip!();
    lttng.live_session("listme");
    let addr = format!("127.0.0.1:{}", lttng.viewer_port);
    let conn = ViewerConnection::connect(&addr, Duration::from_secs(5))
        .await
        .unwrap();
    let (major, minor) = conn.relay_version();
    let relayd_version = std::process::Command::new("lttng-relayd")
        .arg("--version")
        .output()
        .unwrap();
    println!(
        "relayd {} answered protocol {major}.{minor}; negotiated minor {}",
        String::from_utf8_lossy(&relayd_version.stdout).trim(),
        conn.minor()
    );
    assert_eq!(major, 2);
    assert_eq!(conn.minor(), minor.min(15));
    let url = trawl_source_lttng::live::LiveUrl::parse(&format!("net://{addr}")).unwrap();
    let sessions = list_sessions(&url, Duration::from_secs(5)).await.unwrap();
    println!("sessions: {sessions:?}");
    assert!(
        sessions.iter().any(|s| s.session_name == "listme"
            && s.hostname == lttng.hostname
            && s.live_timer_us == 100_000),
        "{sessions:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_delivers_every_packet_the_relay_wrote() {
    let lttng = relay_or_skip!();
    tokio::task::block_in_place(|| {
        lttng.live_session("full");
        lttng.run_traced();
    });
    let url = format!(
        "net://127.0.0.1:{}/host/{}/full",
        lttng.viewer_port, lttng.hostname
    );
    let mut session = LiveSessionBuilder::parse(&url)
        .unwrap()
        .seek(Seek::Beginning)
        .poll_interval(Duration::from_millis(20))
        .session_not_found(SessionNotFoundAction::End)
        .connect()
        .await
        .unwrap();
    println!("negotiated minor {}", session.connection().minor());
    let reader = tokio::spawn(async move {
        let mut items = Vec::new();
        while let Some(item) = session.next().await.unwrap() {
            items.push(item);
        }
        items
    });
    // Idle long enough for several 100 ms beacons, then more data, then end.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    tokio::task::block_in_place(|| lttng.run_traced());
    tokio::time::sleep(Duration::from_millis(500)).await;
    tokio::task::block_in_place(|| lttng.lttng(&["destroy", "full"])).unwrap();
    let items = tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .expect("session did not end")
        .unwrap();

    // What arrived, per stream path/channel.
    let mut paths = BTreeMap::new();
    let mut metadata: BTreeMap<u64, String> = BTreeMap::new();
    let mut packets: BTreeMap<u64, (usize, u64)> = BTreeMap::new();
    let (mut inactive, mut ended, mut sessions_ended) = (0, 0, 0);
    for item in &items {
        match item {
            LiveItem::StreamAdded { stream, .. } => {
                paths.insert(
                    stream.id,
                    (stream.path_name.clone(), stream.channel_name.clone()),
                );
            }
            LiveItem::MetadataGrew {
                trace_id,
                text_so_far,
                ..
            } => {
                metadata.insert(*trace_id, text_so_far.to_string());
            }
            LiveItem::Packet {
                stream_id,
                bytes,
                index,
                ..
            } => {
                assert_eq!(bytes.len() as u64, index.packet_len());
                let e = packets.entry(*stream_id).or_default();
                e.0 += 1;
                e.1 += bytes.len() as u64;
            }
            LiveItem::Inactive { .. } => inactive += 1,
            LiveItem::StreamEnd { .. } => ended += 1,
            LiveItem::SessionEnd { .. } => sessions_ended += 1,
            LiveItem::Attached { .. } => {}
        }
    }
    println!(
        "{} items: {} streams, {} traces with metadata, {} packets, {inactive} inactive, {ended} ended, {sessions_ended} sessions ended",
        items.len(),
        paths.len(),
        metadata.len(),
        packets.values().map(|p| p.0).sum::<usize>()
    );
    assert!(sessions_ended >= 1);
    assert!(inactive > 0, "no INACTIVE beacon while idle");
    assert!(!metadata.is_empty());
    for text in metadata.values() {
        assert!(
            text.starts_with("/* CTF 1.8"),
            "{:?}",
            &text[..40.min(text.len())]
        );
    }
    // What the relay wrote: HOST/SESSION-DATE/PATH/CHANNEL (+ index/CHANNEL.idx).
    let written = files_under(&lttng.output);
    let data_streams: Vec<_> = paths
        .iter()
        .filter(|(_, (_, ch))| ch != "metadata")
        .collect();
    assert!(!data_streams.is_empty());
    assert_eq!(ended, data_streams.len(), "every data stream reached HUP");
    for (id, (path, channel)) in &data_streams {
        let (file, size) = written
            .iter()
            .find(|(f, _)| {
                f.ends_with(Path::new(path).join(channel))
                    || f.ends_with(Path::new(path.trim_start_matches('/')).join(channel))
            })
            .unwrap_or_else(|| panic!("no file for {path}/{channel} in {written:?}"));
        let idx = file
            .parent()
            .unwrap()
            .join("index")
            .join(format!("{channel}.idx"));
        let idx_size = written[&idx];
        let entries = (idx_size - 16) / 72;
        let got = packets.get(id).copied().unwrap_or_default();
        assert_eq!(got.1, *size, "{path}/{channel}: bytes");
        assert_eq!(got.0 as u64, entries, "{path}/{channel}: packets");
    }
    for (trace_id, text) in &metadata {
        let meta_stream = paths
            .iter()
            .find(|(_, (_, ch))| ch == "metadata")
            .map(|(_, p)| p.0.clone())
            .unwrap();
        let on_disk = written
            .keys()
            .find(|f| f.ends_with(Path::new(&meta_stream).join("metadata")))
            .unwrap();
        // The relay's file is packetized like what it served: sizes match
        // once the text is unwrapped, and the text is in the file.
        let disk = std::fs::read(lttng.output.join(on_disk)).unwrap();
        assert!(disk.len() >= text.len());
        let disk_text: Vec<u8> = disk.iter().copied().filter(|&b| b != 0).collect();
        let needle = &text.as_bytes()[..text.len().min(4000)];
        assert!(
            disk_text.windows(needle.len()).any(|w| w == needle),
            "trace {trace_id}: metadata text not in the relay's file"
        );
    }
}
