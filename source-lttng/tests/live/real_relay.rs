//! Against a real `lttng-relayd` (see [`crate::relay`] for how the daemons
//! are kept private): handshake, listing, one viewer per session, whole
//! sessions compared byte for byte with what the relay wrote.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use trawl_source_lttng::live::proto::AttachStatus;
use trawl_source_lttng::live::{
    LiveError, LiveItem, LiveSessionBuilder, Seek, SessionNotFoundAction, ViewerConnection,
    list_sessions,
};

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

async fn sessions_of(addr: &str) -> Vec<trawl_source_lttng::live::SessionEntry> {
    let url = trawl_source_lttng::live::LiveUrl::parse(&format!("net://{addr}")).unwrap();
    list_sessions(&url, Duration::from_secs(5)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_and_list_against_real_relay() {
    let lttng = relay_or_skip!();
    lttng.live_session("listme", false);
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
    // One viewer per session: a second one is told so.
    let id = sessions_of(&addr)
        .await
        .iter()
        .find(|s| s.session_name == "listme")
        .unwrap()
        .id;
    let mut first = ViewerConnection::connect(&addr, Duration::from_secs(5))
        .await
        .unwrap();
    first.create_session().await.unwrap();
    first.attach_session(id, Seek::Last).await.unwrap();
    let mut second = ViewerConnection::connect(&addr, Duration::from_secs(5))
        .await
        .unwrap();
    second.create_session().await.unwrap();
    let err = second.attach_session(id, Seek::Last).await.unwrap_err();
    println!("second viewer: {err}");
    assert!(
        matches!(
            err,
            LiveError::AttachRefused {
                status: AttachStatus::Already,
                ..
            }
        ),
        "{err}"
    );
    first.detach_session(id).await.unwrap();
    second.attach_session(id, Seek::Last).await.unwrap();
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

/// What a live session delivered, gathered per stream and trace.
#[derive(Default)]
struct Delivered {
    /// Viewer stream id → (trace id, path, channel, is metadata).
    streams: BTreeMap<u64, (u64, String, String, bool)>,
    /// Trace id → metadata text.
    metadata: BTreeMap<u64, String>,
    /// Viewer stream id → (packets, bytes).
    packets: BTreeMap<u64, (u64, u64)>,
    /// Viewer stream id → all packet bytes, concatenated.
    contents: BTreeMap<u64, Vec<u8>>,
    inactive: usize,
    /// MetadataGrew items.
    metadata_growths: usize,
    ended: usize,
    sessions_ended: usize,
    /// Streams announced after the first packet arrived (found mid-session).
    late_streams: usize,
}

impl Delivered {
    fn gather(items: &[LiveItem]) -> Delivered {
        let mut d = Delivered::default();
        let debug = std::env::var_os("TRAWL_LIVE_DEBUG").is_some();
        for item in items {
            if debug {
                match item {
                    LiveItem::Packet {
                        stream_id, index, ..
                    } => println!("packet {stream_id} {index:?}"),
                    LiveItem::MetadataGrew {
                        trace_id, appended, ..
                    } => println!("metadata {trace_id} +{appended}"),
                    other => println!("{other:?}"),
                }
            }
            match item {
                LiveItem::StreamAdded { stream, .. } => {
                    if !d.packets.is_empty() {
                        d.late_streams += 1;
                    }
                    let s = stream.clone();
                    d.streams.insert(
                        s.id,
                        (s.ctf_trace_id, s.path_name, s.channel_name, s.metadata),
                    );
                }
                LiveItem::MetadataGrew {
                    trace_id,
                    text_so_far,
                    appended,
                } => {
                    let before = d.metadata.get(trace_id).map_or(0, String::len);
                    assert_eq!(text_so_far.len(), before + appended);
                    d.metadata_growths += 1;
                    d.metadata.insert(*trace_id, text_so_far.to_string());
                }
                LiveItem::Packet {
                    trace_id,
                    stream_id,
                    bytes,
                    index,
                } => {
                    assert_eq!(bytes.len() as u64, index.packet_len());
                    assert!(
                        d.metadata.contains_key(trace_id),
                        "packet before its metadata"
                    );
                    let e = d.packets.entry(*stream_id).or_default();
                    e.0 += 1;
                    e.1 += bytes.len() as u64;
                    let c = d.contents.entry(*stream_id).or_default();
                    assert_eq!(
                        c.len() as u64,
                        index.offset,
                        "packets in file order, no gap"
                    );
                    c.extend_from_slice(bytes);
                }
                LiveItem::Inactive { .. } => d.inactive += 1,
                LiveItem::StreamEnd { .. } => d.ended += 1,
                LiveItem::SessionEnd { .. } => d.sessions_ended += 1,
                LiveItem::Attached { .. } | LiveItem::RoundDone { .. } => {}
            }
        }
        println!(
            "{} items: {} streams ({} found late), {} traces with metadata, {} packets, {} bytes, \
             {} inactive, {} stream ends, {} session ends",
            items.len(),
            d.streams.len(),
            d.late_streams,
            d.metadata.len(),
            d.packets.values().map(|p| p.0).sum::<u64>(),
            d.packets.values().map(|p| p.1).sum::<u64>(),
            d.inactive,
            d.ended,
            d.sessions_ended
        );
        d
    }

    /// Compare with what the relay wrote (HOST/SESSION-DATE/PATH/CHANNEL,
    /// index/CHANNEL.idx, metadata): same packets, same bytes, same metadata.
    /// Unless `strict`, a stream may lack packets at its end (see
    /// `per_pid_traces_appear_mid_session`); the number missing is returned.
    fn check_against(&self, output: &Path, strict: bool) -> u64 {
        let mut missing = 0;
        let written = files_under(output);
        if std::env::var_os("TRAWL_LIVE_DEBUG").is_some() {
            println!("{written:#?}");
        }
        let find = |path: &str, channel: &str| -> PathBuf {
            let rel = Path::new(path.trim_start_matches('/')).join(channel);
            written
                .keys()
                .find(|f| f.ends_with(&rel))
                .unwrap_or_else(|| panic!("no file for {path}/{channel} in {written:?}"))
                .clone()
        };
        let data: Vec<_> = self.streams.iter().filter(|(_, s)| !s.3).collect();
        assert!(!data.is_empty());
        assert_eq!(self.ended, data.len(), "every data stream reached HUP");
        for (id, (_, path, channel, _)) in &data {
            let file = find(path, channel);
            let idx = file
                .parent()
                .unwrap()
                .join("index")
                .join(format!("{channel}.idx"));
            // Index v1.1: 16-byte header, 72-byte entries.
            let entries = (written[&idx] - 16) / 72;
            let got = self.packets.get(id).copied().unwrap_or_default();
            let on_disk = std::fs::read(output.join(&file)).unwrap();
            let delivered = self.contents.get(id).map_or(&[][..], Vec::as_slice);
            assert!(
                on_disk.starts_with(delivered),
                "{path}/{channel}: bytes differ"
            );
            if strict {
                assert_eq!(
                    got,
                    (entries, written[&file]),
                    "{path}/{channel}: (packets, bytes)"
                );
            } else {
                assert!(got.0 <= entries);
                if got.0 < entries {
                    println!(
                        "{path}/{channel}: {} of {entries} packets before HUP",
                        got.0
                    );
                }
                missing += entries - got.0;
            }
        }
        for (trace_id, text) in &self.metadata {
            assert!(
                text.starts_with("/* CTF 1.8"),
                "{:?}",
                &text[..40.min(text.len())]
            );
            let (_, (_, path, channel, _)) = self
                .streams
                .iter()
                .find(|(_, s)| s.3 && s.0 == *trace_id)
                .unwrap();
            let disk = std::fs::read(output.join(find(path, channel))).unwrap();
            assert_eq!(&unwrap_metadata(&disk), text, "trace {trace_id}: metadata");
        }
        missing
    }
}

/// The TSDL text of a little-endian packetized metadata file (independent
/// of the client's own unwrapping): header of 37 bytes, content_size and
/// packet_size in bits at bytes 24 and 28.
fn unwrap_metadata(file: &[u8]) -> String {
    let mut text = String::new();
    let mut at = 0;
    while at < file.len() {
        let u32_at = |i: usize| u32::from_le_bytes(file[at + i..at + i + 4].try_into().unwrap());
        assert_eq!(u32_at(0), 0x75D1_1D57);
        let (content, packet) = ((u32_at(24) / 8) as usize, (u32_at(28) / 8) as usize);
        text.push_str(
            std::str::from_utf8(&file[at + 37..at + content])
                .unwrap()
                .trim_end_matches('\0'),
        );
        at += packet;
    }
    text
}

/// Read `url` until every relay session ended; all items.
fn spawn_reader(url: &str, seek: Seek) -> tokio::task::JoinHandle<Vec<LiveItem>> {
    let builder = LiveSessionBuilder::parse(url)
        .unwrap()
        .seek(seek)
        .poll_interval(Duration::from_millis(20))
        .session_not_found(SessionNotFoundAction::End);
    tokio::spawn(async move {
        let mut session = builder.connect().await.unwrap();
        println!("negotiated minor {}", session.connection().minor());
        let mut items = Vec::new();
        while let Some(item) = session.next().await.unwrap() {
            items.push(item);
        }
        items
    })
}

async fn finish(reader: tokio::task::JoinHandle<Vec<LiveItem>>) -> Vec<LiveItem> {
    tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .expect("session did not end")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_delivers_every_packet_the_relay_wrote() {
    let lttng = relay_or_skip!();
    tokio::task::block_in_place(|| {
        lttng.live_session("full", false);
        lttng.run_traced();
    });
    let reader = spawn_reader(
        &format!(
            "net://127.0.0.1:{}/host/{}/full",
            lttng.viewer_port, lttng.hostname
        ),
        Seek::Beginning,
    );
    // Idle long enough for several 100 ms beacons, then more data, then end.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    tokio::task::block_in_place(|| lttng.run_traced_pthread());
    // Stop first (flushes the last packets while the streams stay open),
    // let the reader take them, then destroy (see the per-PID test).
    tokio::time::sleep(Duration::from_millis(300)).await;
    tokio::task::block_in_place(|| lttng.lttng(&["stop", "full"])).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    tokio::task::block_in_place(|| lttng.lttng(&["destroy", "full"])).unwrap();
    let d = Delivered::gather(&finish(reader).await);
    assert!(d.sessions_ended >= 1);
    assert!(d.inactive > 0, "no INACTIVE beacon while idle");
    assert!(d.metadata_growths > 1, "metadata did not grow mid-session");
    assert!(
        d.metadata
            .values()
            .any(|t| t.contains("lttng_ust_pthread:"))
    );
    d.check_against(&lttng.output, true);
}

/// Per-PID buffers: every traced process is its own trace with its own
/// metadata and streams, all created after we attached (NEW_STREAM flag /
/// GET_NEW_STREAMS), and their streams hang up when the process exits.
///
/// Observed with lttng-tools 2.13.9: the packet flushed at process exit is
/// often never served to a live viewer, although it is in the relay's
/// output file. `lttng-relayd -vvv` shows why: its data arrives, but the
/// consumer closes the stream without sending that packet's live index
/// (control part), so the relay never counts it and answers HUP once the
/// earlier packets are sent. babeltrace2 2.0.4 as a live viewer misses the
/// same events (807 of 813 in the same scenario). This test checks that
/// everything served is right and reports how much was not served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_pid_traces_appear_mid_session() {
    let lttng = relay_or_skip!();
    tokio::task::block_in_place(|| lttng.live_session("perpid", true));
    let reader = spawn_reader(
        &format!(
            "net://127.0.0.1:{}/host/{}/perpid",
            lttng.viewer_port, lttng.hostname
        ),
        Seek::Last,
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..3 {
        tokio::task::block_in_place(|| lttng.run_traced_cmd(&["sleep", "0.5"]));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::task::block_in_place(|| lttng.lttng(&["destroy", "perpid"])).unwrap();
    let d = Delivered::gather(&finish(reader).await);
    let missing = d.check_against(&lttng.output, false);
    println!("per-PID: {missing} packets written by the relay but never served");
    assert_eq!(d.metadata.len(), 3, "one trace per traced process");
    assert!(d.late_streams > 0);
}
