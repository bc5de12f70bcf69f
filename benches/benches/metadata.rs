//! Parsing the metadata of a real lttng-modules 2.10 kernel trace (1,400
//! event classes), as the live source does again each time metadata grows.

#![expect(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use trawl_source_lttng::metadata::{metadata_text, parse_metadata};

const KERNEL_METADATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/kernel-metadata/lttng-modules-2.10.metadata"
);

fn kernel_metadata(c: &mut Criterion) {
    let Ok(bytes) = std::fs::read(KERNEL_METADATA) else {
        eprintln!("skipped: {KERNEL_METADATA} not found (shared/ beside the repository)");
        return;
    };
    let Ok(text) = metadata_text(&bytes) else {
        eprintln!("skipped: {KERNEL_METADATA} is not CTF metadata");
        return;
    };
    let mut group = c.benchmark_group("metadata");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("parse_lttng_modules_2_10_kernel", |b| {
        b.iter(|| parse_metadata(std::hint::black_box(&text)).map(|t| t.streams.len()))
    });
    group.finish();
}

criterion_group!(benches, kernel_metadata);
criterion_main!(benches);
