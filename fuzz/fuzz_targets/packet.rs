//! Arbitrary bytes as a data stream of a fixed trace class (`packet.tsdl`,
//! which uses every kind of field the decoder compiles): decoding may fail but
//! never panic or allocate without bound, and what it decodes is consistent
//! (rows = events reported; every batch matches its schema; the order
//! covers every row).
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use trawl_source_lttng::decode::TraceDecoder;
use trawl_source_lttng::metadata::parse_metadata;

fn decoder() -> &'static TraceDecoder {
    static DEC: OnceLock<TraceDecoder> = OnceLock::new();
    DEC.get_or_init(|| {
        let tc = parse_metadata(include_str!("packet.tsdl")).expect("fuzz metadata parses");
        TraceDecoder::new(Arc::new(tc)).expect("fuzz metadata compiles")
    })
}

fuzz_target!(|data: &[u8]| {
    let dec = decoder();
    let mut s = dec.new_stream(0);
    s.set_track_order(true);
    let mut off = 0usize;
    let mut events = 0u64;
    while off < data.len() {
        match s.decode_packet(dec, &data[off..], off as u64) {
            Ok(info) => {
                assert!(info.packet_size > 0);
                assert!(info.content_size <= info.packet_size * 8);
                events += info.events;
                off += info.packet_size as usize;
            }
            Err(e) => {
                assert!(e.offset <= data.len() as u64, "{e}");
                match e.next_packet {
                    Some(n) if n as usize > off => off = n as usize,
                    _ => break,
                }
            }
        }
    }
    let pending = s.rows_pending() as u64;
    let ev = s.take(dec).expect("finishing batches");
    let rows: u64 = ev.batches.iter().map(|b| b.num_rows() as u64).sum();
    assert_eq!(rows, pending);
    assert!(rows >= events);
    assert_eq!(ev.order.len() as u64, rows);
    for &(b, r) in &ev.order {
        assert!((r as usize) < ev.batches[b as usize].num_rows());
    }
});
