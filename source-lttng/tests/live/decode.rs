//! Live packets through the metadata parser and the stream decoder, the way
//! the live source will use them: compared with babeltrace2 reading the
//! relay's output directory afterwards, and timed (event to item latency).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arrow_array::{Array, TimestampNanosecondArray};
use trawl_source_lttng::decode::{StreamDecoder, TraceDecoder};
use trawl_source_lttng::live::{LiveItem, LiveSessionBuilder, Seek, SessionNotFoundAction};
use trawl_source_lttng::metadata::parse_metadata;

/// What [`decode_all`] saw.
struct Decoded {
    events: usize,
    packets: usize,
    /// Per event: (its timestamp, wall-clock time its packet was handed
    /// out minus that timestamp), ns.
    latencies_ns: Vec<(i64, i64)>,
}

/// Decode every item of a live session.
async fn decode_all(url: String) -> Decoded {
    let mut session = LiveSessionBuilder::parse(&url)
        .unwrap()
        .seek(Seek::Beginning)
        .poll_interval(Duration::from_millis(20))
        .session_not_found(SessionNotFoundAction::End)
        .connect()
        .await
        .unwrap();
    let mut traces: BTreeMap<u64, TraceDecoder> = BTreeMap::new();
    let mut streams: BTreeMap<u64, StreamDecoder> = BTreeMap::new();
    let mut d = Decoded {
        events: 0,
        packets: 0,
        latencies_ns: Vec::new(),
    };
    while let Some(item) = session.next().await.unwrap() {
        match item {
            // The whole text each time: re-parse, then recompile the plans.
            LiveItem::MetadataGrew {
                trace_id,
                text_so_far,
                ..
            } => {
                let class = Arc::new(parse_metadata(&text_so_far).unwrap());
                match traces.get_mut(&trace_id) {
                    Some(dec) => dec.update(class).unwrap(),
                    None => {
                        traces.insert(trace_id, TraceDecoder::new(class).unwrap());
                    }
                }
            }
            LiveItem::Packet {
                trace_id,
                stream_id,
                bytes,
                index,
            } => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as i64;
                let dec = &traces[&trace_id];
                let sd = streams
                    .entry(stream_id)
                    .or_insert_with(|| dec.new_stream(stream_id));
                let info = sd.decode_packet(dec, &bytes, index.offset).unwrap();
                assert_eq!(info.packet_size, index.packet_len());
                let decoded = sd.take(dec).unwrap();
                d.packets += 1;
                for batch in &decoded.batches {
                    d.events += batch.num_rows();
                    let ts = batch.column_by_name("ts").unwrap();
                    let ts = ts
                        .as_any()
                        .downcast_ref::<TimestampNanosecondArray>()
                        .unwrap();
                    d.latencies_ns
                        .extend(ts.values().iter().map(|&t| (t, now - t)));
                }
            }
            _ => {}
        }
    }
    d
}

async fn finish(reader: tokio::task::JoinHandle<Decoded>) -> Decoded {
    tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .expect("session did not end")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_events_equal_babeltrace_on_the_relay_output() {
    let lttng = relay_or_skip!();
    tokio::task::block_in_place(|| {
        lttng.live_session("decode", false);
        lttng.run_traced();
    });
    let url = format!(
        "net://127.0.0.1:{}/host/{}/decode",
        lttng.viewer_port, lttng.hostname
    );
    let reader = tokio::spawn(decode_all(url));
    tokio::time::sleep(Duration::from_millis(800)).await;
    // New event classes mid-session: the decoder is updated, not rebuilt.
    tokio::task::block_in_place(|| lttng.run_traced_pthread());
    tokio::time::sleep(Duration::from_millis(300)).await;
    tokio::task::block_in_place(|| lttng.lttng(&["stop", "decode"])).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    tokio::task::block_in_place(|| lttng.lttng(&["destroy", "decode"])).unwrap();
    let d = finish(reader).await;
    let bt = std::process::Command::new("babeltrace2")
        .arg(&lttng.output)
        .env("TZ", "UTC")
        .output();
    let Ok(bt) = bt else {
        println!(
            "skipped comparison: babeltrace2 not installed ({} events decoded)",
            d.events
        );
        return;
    };
    let expected = String::from_utf8_lossy(&bt.stdout).lines().count();
    println!(
        "{} events from {} live packets; babeltrace2 on the relay output: {expected}",
        d.events, d.packets
    );
    assert!(expected > 0);
    assert_eq!(d.events, expected);
}

/// Event-to-item latency while a process traces steadily for 1.5 s (live
/// timer 100 ms, poll interval 20 ms). An event waits for the live timer to
/// flush its sub-buffer, then for the next poll: about one live timer plus
/// one poll interval, plus relay and scheduling delays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_latency_event_to_item() {
    let lttng = relay_or_skip!();
    tokio::task::block_in_place(|| lttng.live_session("latency", false));
    let url = format!(
        "net://127.0.0.1:{}/host/{}/latency",
        lttng.viewer_port, lttng.hostname
    );
    let reader = tokio::spawn(decode_all(url));
    // Buffers over 512 bytes come from libc malloc (smaller ones from
    // Python's own allocator): 8 events every 10 ms.
    let script = "import time\nfor i in range(150):\n    x = [bytearray(4096) for _ in range(4)]\n    time.sleep(0.01)\n";
    tokio::task::block_in_place(|| lttng.run_traced_cmd(&["/usr/bin/python3", "-c", script]));
    tokio::time::sleep(Duration::from_millis(300)).await;
    tokio::task::block_in_place(|| lttng.lttng(&["stop", "latency"])).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    tokio::task::block_in_place(|| lttng.lttng(&["destroy", "latency"])).unwrap();
    let d = finish(reader).await;
    // Startup (registration, first metadata) apart from the steady state.
    let first = d.latencies_ns.iter().map(|l| l.0).min().unwrap();
    let report = |what: &str, mut l: Vec<i64>| {
        l.sort_unstable();
        let pct = |p: usize| l[(l.len() - 1) * p / 100] as f64 / 1e6;
        println!(
            "latency event -> Packet item, {what}, {} events: p50 {:.1} ms, p90 {:.1} ms, \
             p99 {:.1} ms, max {:.1} ms",
            l.len(),
            pct(50),
            pct(90),
            pct(99),
            pct(100)
        );
        pct(90)
    };
    let all = d.latencies_ns.iter().map(|l| l.1).collect();
    let steady: Vec<i64> = d
        .latencies_ns
        .iter()
        .filter(|l| l.0 > first + 500_000_000)
        .map(|l| l.1)
        .collect();
    assert!(steady.len() > 500, "{} steady events", steady.len());
    report("all", all);
    let p90 = report("after the first 500 ms", steady);
    // Loose bound: a loaded 2-core test machine; the figures are the point.
    assert!(p90 < 1000.0);
}
