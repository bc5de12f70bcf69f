//! Live packets through the metadata parser and the stream decoder, the way
//! the live source will use them, compared with babeltrace2 reading the
//! relay's output directory afterwards.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use trawl_source_lttng::decode::{StreamDecoder, TraceDecoder};
use trawl_source_lttng::live::{LiveItem, LiveSessionBuilder, Seek, SessionNotFoundAction};
use trawl_source_lttng::metadata::parse_metadata;

/// Decode every item of a live session; (events, packets).
async fn decode_all(url: String) -> (usize, usize) {
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
    let (mut events, mut packets) = (0, 0);
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
                let dec = &traces[&trace_id];
                let sd = streams
                    .entry(stream_id)
                    .or_insert_with(|| dec.new_stream(stream_id));
                let info = sd.decode_packet(dec, &bytes, index.offset).unwrap();
                assert_eq!(info.packet_size, index.packet_len());
                let decoded = sd.take(dec).unwrap();
                events += decoded.batches.iter().map(|b| b.num_rows()).sum::<usize>();
                packets += 1;
            }
            _ => {}
        }
    }
    (events, packets)
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
    let (events, packets) = tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .expect("session did not end")
        .unwrap();
    let bt = std::process::Command::new("babeltrace2")
        .arg(&lttng.output)
        .env("TZ", "UTC")
        .output();
    let Ok(bt) = bt else {
        println!("skipped comparison: babeltrace2 not installed ({events} events decoded)");
        return;
    };
    let expected = String::from_utf8_lossy(&bt.stdout).lines().count();
    println!(
        "{events} events from {packets} live packets; babeltrace2 on the relay output: {expected}"
    );
    assert!(expected > 0);
    assert_eq!(events, expected);
}
