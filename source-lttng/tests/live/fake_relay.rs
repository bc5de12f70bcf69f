//! The live client against fake relays on loopback.
//!
//! Most of them lie: impossible versions, counts and lengths, truncated
//! replies, silence, and byte-level mutations of an otherwise well-behaved
//! relay. Every case must end in a clear error (or a clean end), never a
//! panic, a hang, or an allocation sized by the lie. One scripted relay
//! walks the session state machine through the cases a real relay rarely
//! shows on demand (repeated beacons, flags, an older relay's GET_PACKET
//! refusal).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use trawl_source_lttng::live::proto::{
    self, AttachStatus, Command, Connect, Flags, IndexStatus, MetadataReply, MetadataStatus,
    PacketReply, PacketStatus, SessionEntry, StreamEntry, StreamsReply, TraceFormat, ViewerIndex,
};
use trawl_source_lttng::live::{
    LiveError, LiveItem, LiveSessionBuilder, Seek, SessionNotFoundAction, ViewerConnection,
};

/// What the fake relay answers to one request: bytes, or hang up.
type Script = Arc<dyn Fn(Command, &[u8]) -> Option<Vec<u8>> + Send + Sync>;

/// Serve `script` on a loopback port, one connection after another.
async fn fake_relay(script: Script) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let script = script.clone();
            tokio::spawn(async move {
                loop {
                    let mut head = [0u8; proto::HEADER_LEN];
                    if sock.read_exact(&mut head).await.is_err() {
                        return;
                    }
                    let h = proto::CommandHeader::decode(&head).unwrap();
                    assert!(
                        h.data_size <= 64,
                        "client sent a {} byte payload",
                        h.data_size
                    );
                    let mut payload = vec![0u8; h.data_size as usize];
                    if sock.read_exact(&mut payload).await.is_err() {
                        return;
                    }
                    let cmd = Command::from_code(h.cmd).expect("client sent an unknown command");
                    match script(cmd, &payload) {
                        Some(reply) => {
                            if sock.write_all(&reply).await.is_err() {
                                return;
                            }
                        }
                        None => return,
                    }
                }
            });
        }
    });
    addr
}

fn connect_reply(major: u32, minor: u32) -> Vec<u8> {
    let mut b = Vec::new();
    Connect {
        viewer_session_id: 1,
        major,
        minor,
        conn_type: 0,
    }
    .encode(&mut b);
    b
}

fn be(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_be_bytes()).collect()
}

async fn connect(addr: &str) -> Result<ViewerConnection, LiveError> {
    ViewerConnection::connect(addr, Duration::from_millis(500)).await
}

#[tokio::test]
async fn wrong_major_version_is_refused() {
    let addr = fake_relay(Arc::new(|_, _| Some(connect_reply(3, 0)))).await;
    let err = connect(&addr).await.unwrap_err();
    assert!(matches!(err, LiveError::Version { major: 3, .. }), "{err}");
    assert!(err.to_string().contains(&addr), "{err}");
}

#[tokio::test]
async fn truncated_connect_reply_names_the_command() {
    let addr = fake_relay(Arc::new(|_, _| Some(connect_reply(2, 4)[..10].to_vec()))).await;
    // The fake keeps the socket open after 10 bytes: the read times out.
    let err = connect(&addr).await.unwrap_err();
    assert!(
        matches!(
            err,
            LiveError::Timeout {
                cmd: Command::Connect,
                ..
            }
        ),
        "{err}"
    );
    let addr = fake_relay(Arc::new(|cmd, _| match cmd {
        Command::Connect => None,
        _ => unreachable!(),
    }))
    .await;
    let err = connect(&addr).await.unwrap_err();
    assert!(
        matches!(
            err,
            LiveError::Io {
                cmd: Command::Connect,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("CONNECT"), "{err}");
}

#[tokio::test]
async fn minor_is_negotiated_down() {
    let addr = fake_relay(Arc::new(|_, _| Some(connect_reply(2, 4)))).await;
    let conn = connect(&addr).await.unwrap();
    assert_eq!((conn.relay_version(), conn.minor()), ((2, 4), 4));
    let addr = fake_relay(Arc::new(|_, _| Some(connect_reply(2, 99)))).await;
    assert_eq!(connect(&addr).await.unwrap().minor(), 15);
}

/// A relay that answers CONNECT properly and `reply` to everything else.
async fn relay_with(
    minor: u32,
    reply: impl Fn(Command) -> Vec<u8> + Send + Sync + 'static,
) -> String {
    fake_relay(Arc::new(move |cmd, _| match cmd {
        Command::Connect => Some(connect_reply(2, minor)),
        other => Some(reply(other)),
    }))
    .await
}

fn assert_protocol_error(err: &LiveError, what_field: &str) {
    assert!(matches!(err, LiveError::Protocol { .. }), "{err}");
    assert!(err.to_string().contains(what_field), "{err}");
}

#[tokio::test]
async fn absurd_counts_and_lengths_are_refused() {
    // LIST_SESSIONS claiming four billion sessions.
    let addr = relay_with(13, |_| be(&[u32::MAX])).await;
    let err = connect(&addr)
        .await
        .unwrap()
        .list_sessions()
        .await
        .unwrap_err();
    assert_protocol_error(&err, "sessions_count");

    // A 2.15 entry whose hostname is four GiB long.
    let addr = relay_with(15, |_| {
        let mut b = be(&[1]);
        b.extend(0u64.to_be_bytes());
        b.extend(be(&[0, 0, 0, u32::MAX, 1, 0]));
        b
    })
    .await;
    let err = connect(&addr)
        .await
        .unwrap()
        .list_sessions()
        .await
        .unwrap_err();
    assert_protocol_error(&err, "hostname_len");

    // ATTACH with a billion streams.
    let addr = relay_with(13, |_| be(&[1, 1_000_000_000])).await;
    let err = connect(&addr)
        .await
        .unwrap()
        .attach_session(1, Seek::Last)
        .await
        .unwrap_err();
    assert_protocol_error(&err, "streams_count");

    // GET_METADATA announcing 16 EiB.
    let addr = relay_with(13, |_| {
        let mut b = Vec::new();
        MetadataReply {
            len: u64::MAX,
            status: MetadataStatus::Ok,
        }
        .encode(&mut b);
        b
    })
    .await;
    let err = connect(&addr)
        .await
        .unwrap()
        .get_metadata(1)
        .await
        .unwrap_err();
    assert_protocol_error(&err, "metadata len");

    // An index pointing to a 2 EiB packet.
    let addr = relay_with(13, |_| {
        let mut b = Vec::new();
        ViewerIndex {
            offset: 0,
            packet_size_bits: u64::MAX - 7,
            content_size_bits: 0,
            timestamp_begin: 0,
            timestamp_end: 0,
            events_discarded: 0,
            stream_class_id: 0,
            status: IndexStatus::Ok,
            flags: Flags(0),
        }
        .encode(&mut b);
        b
    })
    .await;
    let err = connect(&addr)
        .await
        .unwrap()
        .get_next_index(1)
        .await
        .unwrap_err();
    assert_protocol_error(&err, "packet_size");

    // A packet reply longer than asked.
    let addr = relay_with(13, |_| {
        let mut b = Vec::new();
        PacketReply {
            status: PacketStatus::Ok,
            len: u32::MAX,
            flags: Flags(0),
        }
        .encode(&mut b);
        b
    })
    .await;
    let err = connect(&addr)
        .await
        .unwrap()
        .get_packet(1, 0, 4096)
        .await
        .unwrap_err();
    assert_protocol_error(&err, "get packet reply len");

    // Unknown status codes.
    let addr = relay_with(13, |_| be(&[77, 0])).await;
    let err = connect(&addr)
        .await
        .unwrap()
        .attach_session(1, Seek::Last)
        .await
        .unwrap_err();
    assert_protocol_error(&err, "unknown status 77");
}

#[tokio::test]
async fn a_failed_command_leaves_the_connection_marked_broken() {
    // METADATA says 100 bytes follow, sends 3 and goes silent.
    let addr = relay_with(13, |_| {
        let mut b = Vec::new();
        MetadataReply {
            len: 100,
            status: MetadataStatus::Ok,
        }
        .encode(&mut b);
        b.extend([1, 2, 3]);
        b
    })
    .await;
    let mut conn = connect(&addr).await.unwrap();
    let err = conn.get_metadata(1).await.unwrap_err();
    assert!(
        matches!(
            err,
            LiveError::Timeout {
                cmd: Command::GetMetadata,
                ..
            }
        ),
        "{err}"
    );
    let err = conn.get_metadata(1).await.unwrap_err();
    assert!(matches!(err, LiveError::Broken { .. }), "{err}");
    assert!(err.is_transient());
}

#[tokio::test]
async fn refused_attach_says_why() {
    let addr = relay_with(13, |_| be(&[2, 0])).await;
    let err = connect(&addr)
        .await
        .unwrap()
        .attach_session(5, Seek::Last)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("another viewer is already attached"),
        "{err}"
    );
    assert!(
        matches!(
            err,
            LiveError::AttachRefused {
                session_id: 5,
                status: AttachStatus::Already,
                ..
            }
        ),
        "{err}"
    );
}

/// A well-behaved relay with one session ("h"/"s"), one metadata stream and
/// one data stream holding two packets, then HUP. Used as the base of the
/// mutation test and checked alone first.
fn good_relay(cmd: Command, payload: &[u8], calls: &AtomicUsize) -> Vec<u8> {
    const PACKET: u32 = 64;
    let mut b = Vec::new();
    match cmd {
        Command::Connect => b = connect_reply(2, 13),
        Command::CreateSession => b = be(&[1]),
        Command::ListSessions => {
            b = be(&[1]);
            SessionEntry {
                id: 1,
                live_timer_us: 1000,
                clients: 0,
                streams: 2,
                hostname: "h".into(),
                session_name: "s".into(),
                trace_format: TraceFormat::Ctf1_8,
            }
            .encode_2_4(&mut b);
        }
        Command::AttachSession | Command::GetNewStreams => {
            let attach = cmd == Command::AttachSession;
            StreamsReply {
                status: if attach { 1 } else { 4 },
                streams_count: if attach { 2 } else { 0 },
            }
            .encode(&mut b);
            if attach {
                for (id, metadata, channel) in [(10, true, "metadata"), (11, false, "channel0_0")] {
                    StreamEntry {
                        id,
                        ctf_trace_id: 1,
                        metadata,
                        path_name: "h/s/ust/uid/0/64-bit".into(),
                        channel_name: channel.into(),
                    }
                    .encode(&mut b);
                }
            }
        }
        Command::GetMetadata => {
            let first = calls.fetch_add(1, Ordering::SeqCst) == 0;
            let text: &[u8] = b"/* CTF 1.8 */ trace { major = 1; minor = 8; };";
            let len = if first { text.len() as u64 } else { 0 };
            let status = if first {
                MetadataStatus::Ok
            } else {
                MetadataStatus::NoNew
            };
            MetadataReply { len, status }.encode(&mut b);
            if first {
                b.extend_from_slice(text);
            }
        }
        Command::GetNextIndex => {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            let status = match n {
                0..=2 => IndexStatus::Ok,
                3 => IndexStatus::Inactive,
                _ => IndexStatus::Hup,
            };
            ViewerIndex {
                offset: n as u64 * u64::from(PACKET),
                packet_size_bits: u64::from(PACKET) * 8,
                content_size_bits: u64::from(PACKET) * 8,
                timestamp_begin: n as u64,
                timestamp_end: n as u64 + 1,
                events_discarded: 0,
                stream_class_id: 0,
                status,
                flags: Flags(0),
            }
            .encode(&mut b);
        }
        Command::GetPacket => {
            let req = proto::GetPacket::decode(payload).unwrap();
            PacketReply {
                status: PacketStatus::Ok,
                len: req.len,
                flags: Flags(0),
            }
            .encode(&mut b);
            b.resize(b.len() + req.len as usize, 0x5A);
        }
        Command::DetachSession => b = be(&[1]),
    }
    b
}

/// Run a whole live session against `script`; the number of items it gave.
async fn run_session(addr: &str) -> Result<usize, LiveError> {
    let mut session = LiveSessionBuilder::parse(&format!("net://{addr}/host/h/s"))?
        .poll_interval(Duration::from_millis(1))
        .command_timeout(Duration::from_millis(100))
        .session_not_found(SessionNotFoundAction::End)
        .seek(Seek::Beginning)
        .connect()
        .await?;
    let mut n = 0;
    while let Some(item) = session.next().await? {
        if matches!(item, LiveItem::RoundDone { .. }) {
            continue;
        }
        n += 1;
        if n > 10_000 {
            break;
        }
    }
    Ok(n)
}

#[tokio::test]
async fn the_good_fake_relay_works() {
    let meta_calls = Arc::new(AtomicUsize::new(0));
    let index_calls = Arc::new(AtomicUsize::new(0));
    let addr = fake_relay(Arc::new(move |cmd, payload| {
        let calls = if cmd == Command::GetMetadata {
            &meta_calls
        } else {
            &index_calls
        };
        Some(good_relay(cmd, payload, calls))
    }))
    .await;
    // Attached, 2 × StreamAdded, MetadataGrew, 3 packets, Inactive, StreamEnd, SessionEnd.
    assert_eq!(run_session(&addr).await.unwrap(), 10);
}

/// xorshift64: a tiny deterministic generator for the mutation test.
fn next_rand(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[tokio::test]
async fn mutated_replies_never_panic() {
    let mut errors = 0;
    for seed in 1..=200u64 {
        let meta_calls = Arc::new(AtomicUsize::new(0));
        let index_calls = Arc::new(AtomicUsize::new(0));
        let rng = Arc::new(std::sync::Mutex::new(
            seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        ));
        let addr = fake_relay(Arc::new(move |cmd, payload| {
            let calls = if cmd == Command::GetMetadata {
                &meta_calls
            } else {
                &index_calls
            };
            let mut reply = good_relay(cmd, payload, calls);
            let mut r = rng.lock().unwrap();
            let roll = next_rand(&mut r) % 8;
            if roll == 0 && !reply.is_empty() {
                // Overwrite one byte with anything.
                let at = (next_rand(&mut r) % reply.len() as u64) as usize;
                reply[at] = next_rand(&mut r) as u8;
            } else if roll == 1 {
                // Set a whole u32 to something huge.
                if reply.len() >= 4 {
                    let at = (next_rand(&mut r) % (reply.len() as u64 - 3)) as usize;
                    reply[at..at + 4].copy_from_slice(&0xFFFF_FFF0u32.to_be_bytes());
                }
            } else if roll == 2 {
                reply.truncate((next_rand(&mut r) % (reply.len() as u64 + 1)) as usize);
            }
            Some(reply)
        }))
        .await;
        match tokio::time::timeout(Duration::from_secs(10), run_session(&addr)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                errors += 1;
                assert!(!e.to_string().is_empty());
            }
            Err(_) => panic!("seed {seed}: session hung"),
        }
    }
    assert!(errors > 0, "no mutation was detected at all");
}

/// Scripted relay state for `session_follows_flags_beacons_and_retries`.
#[derive(Default)]
struct Scenario {
    /// Metadata chunks not yet served.
    metadata: Vec<&'static str>,
    index_calls_11: usize,
    index_calls_12: usize,
    packet_calls_12: usize,
    new_stream_pending: bool,
    new_streams_calls: usize,
}

fn scenario_reply(st: &mut Scenario, cmd: Command, payload: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    let index = |status, offset: u64, flags: u32, ts: u64| ViewerIndex {
        offset,
        packet_size_bits: 64 * 8,
        content_size_bits: 64 * 8,
        timestamp_begin: ts,
        timestamp_end: ts,
        events_discarded: 0,
        stream_class_id: 3,
        status,
        flags: Flags(flags),
    };
    let stream = |id, metadata| StreamEntry {
        id,
        ctf_trace_id: 1,
        metadata,
        path_name: "ust/uid/0/64-bit".into(),
        channel_name: if metadata {
            "metadata".into()
        } else {
            format!("channel0_{id}")
        },
    };
    match cmd {
        Command::Connect => b = connect_reply(2, 13),
        Command::CreateSession | Command::DetachSession => b = be(&[1]),
        Command::ListSessions => {
            b = be(&[1]);
            SessionEntry {
                id: 1,
                live_timer_us: 1000,
                clients: 0,
                streams: 2,
                hostname: "h".into(),
                session_name: "s".into(),
                trace_format: TraceFormat::Ctf1_8,
            }
            .encode_2_4(&mut b);
        }
        Command::AttachSession => {
            StreamsReply {
                status: 1,
                streams_count: 2,
            }
            .encode(&mut b);
            stream(10, true).encode(&mut b);
            stream(11, false).encode(&mut b);
        }
        Command::GetNewStreams => {
            st.new_streams_calls += 1;
            if std::mem::take(&mut st.new_stream_pending) {
                StreamsReply {
                    status: 1,
                    streams_count: 1,
                }
                .encode(&mut b);
                stream(12, false).encode(&mut b);
            } else {
                StreamsReply {
                    status: 4,
                    streams_count: 0,
                }
                .encode(&mut b);
            }
        }
        Command::GetMetadata => {
            if st.metadata.is_empty() {
                MetadataReply {
                    len: 0,
                    status: MetadataStatus::NoNew,
                }
                .encode(&mut b);
            } else {
                let chunk = st.metadata.remove(0);
                MetadataReply {
                    len: chunk.len() as u64,
                    status: MetadataStatus::Ok,
                }
                .encode(&mut b);
                b.extend_from_slice(chunk.as_bytes());
            }
        }
        Command::GetNextIndex => {
            let id = proto::decode_id(payload).unwrap();
            let i = if id == 11 {
                st.index_calls_11 += 1;
                match st.index_calls_11 {
                    1 | 2 => index(IndexStatus::Inactive, 0, 0, 5),
                    3 => {
                        st.metadata.push(" B");
                        index(IndexStatus::Ok, 0, Flags::NEW_METADATA, 7)
                    }
                    4 => {
                        st.new_stream_pending = true;
                        index(IndexStatus::Ok, 64, Flags::NEW_STREAM, 8)
                    }
                    5 => index(IndexStatus::Retry, 0, 0, 0),
                    _ => index(IndexStatus::Hup, 0, 0, 0),
                }
            } else {
                st.index_calls_12 += 1;
                match st.index_calls_12 {
                    1 => index(IndexStatus::Ok, 0, 0, 9),
                    _ => index(IndexStatus::Hup, 0, 0, 0),
                }
            };
            i.encode(&mut b);
        }
        Command::GetPacket => {
            let req = proto::GetPacket::decode(payload).unwrap();
            let refuse = req.stream_id == 12 && {
                st.packet_calls_12 += 1;
                st.packet_calls_12 == 1
            };
            if refuse {
                // An older relay: refuse until the viewer fetched the new metadata.
                st.metadata.push(" C");
                PacketReply {
                    status: PacketStatus::Err,
                    len: 0,
                    flags: Flags(Flags::NEW_METADATA),
                }
                .encode(&mut b);
            } else {
                PacketReply {
                    status: PacketStatus::Ok,
                    len: req.len,
                    flags: Flags(0),
                }
                .encode(&mut b);
                b.resize(b.len() + req.len as usize, req.stream_id as u8);
            }
        }
    }
    b
}

#[tokio::test]
async fn session_follows_flags_beacons_and_retries() {
    let state = Arc::new(std::sync::Mutex::new(Scenario {
        metadata: vec!["/* CTF 1.8 */ A"],
        ..Scenario::default()
    }));
    let addr = fake_relay(Arc::new(move |cmd, payload| {
        Some(scenario_reply(&mut state.lock().unwrap(), cmd, payload))
    }))
    .await;
    let mut session = LiveSessionBuilder::parse(&format!("net://{addr}/host/h/s"))
        .unwrap()
        .poll_interval(Duration::from_millis(1))
        .session_not_found(SessionNotFoundAction::Fail)
        .connect()
        .await
        .unwrap();
    let mut log = Vec::new();
    while let Some(item) = tokio::time::timeout(Duration::from_secs(5), session.next())
        .await
        .expect("session hung")
        .unwrap()
    {
        log.push(match item {
            // Round boundaries depend on timing, not on what the relay said.
            LiveItem::RoundDone { .. } => continue,
            LiveItem::Attached { session } => format!("attached {}", session.id),
            LiveItem::StreamAdded { stream, .. } => format!("stream {}", stream.id),
            LiveItem::MetadataGrew {
                text_so_far,
                appended,
                ..
            } => {
                format!("metadata {text_so_far:?} +{appended}")
            }
            LiveItem::Packet {
                stream_id,
                bytes,
                index,
                ..
            } => {
                assert!(bytes.iter().all(|&b| b == stream_id as u8));
                format!(
                    "packet {stream_id}@{} ts {}",
                    index.offset, index.timestamp_end
                )
            }
            LiveItem::Inactive {
                stream_id,
                ts_end_cycles,
                stream_class_id,
                ..
            } => {
                format!("inactive {stream_id} ts {ts_end_cycles} class {stream_class_id}")
            }
            LiveItem::StreamEnd { stream_id, .. } => format!("end {stream_id}"),
            LiveItem::SessionEnd { session_id } => format!("session end {session_id}"),
        });
    }
    assert_eq!(
        log,
        [
            "attached 1",
            "stream 10",
            "stream 11",
            "metadata \"/* CTF 1.8 */ A\" +15",
            // The same beacon twice: reported once.
            "inactive 11 ts 5 class 3",
            // NEW_METADATA on an index: metadata first, then the packet.
            "metadata \"/* CTF 1.8 */ A B\" +2",
            "packet 11@0 ts 7",
            "packet 11@64 ts 8",
            // NEW_STREAM: picked up in the next round (seek beginning).
            "stream 12",
            // An older relay refusing GET_PACKET until metadata is fetched:
            // fetch, then the same packet again.
            "metadata \"/* CTF 1.8 */ A B C\" +2",
            "end 11",
            "packet 12@0 ts 9",
            "end 12",
            "session end 1",
        ]
    );
}

#[tokio::test]
async fn session_not_found_actions() {
    // A relay with no session at all.
    let addr = relay_with(13, |cmd| match cmd {
        Command::CreateSession => be(&[1]),
        _ => be(&[0]),
    })
    .await;
    let open = |action| {
        LiveSessionBuilder::parse(&format!("net://{addr}/host/h/missing"))
            .unwrap()
            .poll_interval(Duration::from_millis(5))
            .session_not_found(action)
            .connect()
    };
    let err = open(SessionNotFoundAction::Fail)
        .await
        .unwrap()
        .next()
        .await
        .unwrap_err();
    assert!(matches!(err, LiveError::SessionNotFound { .. }), "{err}");
    assert!(err.to_string().contains("`missing` of host `h`"), "{err}");
    assert!(err.to_string().contains("trawl ls"), "{err}");
    assert_eq!(
        open(SessionNotFoundAction::End)
            .await
            .unwrap()
            .next()
            .await
            .unwrap(),
        None
    );
    // Continue keeps waiting for the session: idle rounds, nothing else.
    let mut waiting = open(SessionNotFoundAction::Continue).await.unwrap();
    let waited = tokio::time::timeout(Duration::from_millis(200), async {
        loop {
            let item = waiting.next().await.unwrap();
            assert_eq!(item, Some(LiveItem::RoundDone { idle: true }));
        }
    })
    .await;
    assert!(waited.is_err());
}

#[tokio::test]
async fn url_without_session_is_refused_before_connecting() {
    let err = LiveSessionBuilder::parse("net://127.0.0.1:1").unwrap_err();
    assert!(err.to_string().contains("/host/HOSTNAME/SESSION"), "{err}");
    let err = LiveSessionBuilder::parse("net://127.0.0.1:1/host/h/s")
        .unwrap()
        .command_timeout(Duration::from_millis(500))
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(err, LiveError::Connect { .. }), "{err}");
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
}

/// The live source on a relay that answers garbage: an error that names the
/// relay and what was wrong, not a panic and not an endless retry.
#[tokio::test]
async fn live_source_refuses_a_garbage_relay() {
    let addr = fake_relay(Arc::new(|_, _| Some(vec![0xA5; 4096]))).await;
    let url = trawl_source_lttng::live::LiveUrl::parse(&format!("net://{addr}/host/h/s")).unwrap();
    let mut source = trawl_source_lttng::live::LiveSourceBuilder::new(vec![url]).start();
    let err = match tokio::time::timeout(Duration::from_secs(10), source.next_output())
        .await
        .expect("the source hung")
    {
        Err(e) => e,
        Ok(Some(trawl_source_lttng::live::LiveOutput::Warning(w))) => {
            panic!("garbage taken for a transient failure: {w}")
        }
        Ok(other) => panic!("unexpected output: {other:?}"),
    };
    let text = err.to_string();
    assert!(!err.is_transient());
    assert!(text.contains(&addr), "{text}");
}
