//! Packet decoding throughput: a synthetic lttng-ust-like stream
//! (`event_header_large`, vpid/vtid/procname contexts, malloc-like payload)
//! decoded into Arrow batches, reported as events/s.
#![expect(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use trawl_source_lttng::decode::TraceDecoder;
use trawl_source_lttng::decode::testing::ust_like_stream;

const PACKETS: usize = 64;
const PER_PACKET: usize = 4096;

fn decode(c: &mut Criterion) {
    let (trace, data) = ust_like_stream(PACKETS, PER_PACKET);
    let Ok(dec) = TraceDecoder::new(Arc::new(trace)) else {
        return;
    };
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements((PACKETS * PER_PACKET) as u64));
    g.bench_function("ust_malloc_large_header", |b| {
        b.iter(|| {
            let mut s = dec.new_stream(0);
            let mut off = 0usize;
            let mut rows = 0usize;
            while off < data.len() {
                let Ok(info) = s.decode_packet(&dec, &data[off..], off as u64) else {
                    break;
                };
                off += info.packet_size as usize;
                if s.rows_pending() >= 16_384
                    && let Ok(ev) = s.take(&dec)
                {
                    rows += ev.batches.iter().map(|b| b.num_rows()).sum::<usize>();
                }
            }
            if let Ok(ev) = s.take(&dec) {
                rows += ev.batches.iter().map(|b| b.num_rows()).sum::<usize>();
            }
            black_box(rows)
        })
    });
    g.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
