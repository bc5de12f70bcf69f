//! Join throughput: event batches through `trawl_enrich::Enricher` with
//! 1,000 known containers. Goal: ≥ 50 M rows/s per core (one lookup per
//! distinct key per batch, not per row).
//!
//! Two shapes of 8,192-row batches with the four namespace contexts
//! (`pid_ns`, `net_ns`, `mnt_ns`, `cgroup_ns`, as `lttng add-context`
//! records them): `runs` (rows in runs of 64 of one process, 128 distinct
//! containers per batch: what per-CPU buffers look like) and `scattered`
//! (every row a random container of the 1,000: the worst case). Half of
//! the containers carry Kubernetes labels.
#![expect(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]
#![expect(
    clippy::unwrap_used,
    reason = "a bench: a failed unwrap is a broken bench"
)]

use std::hint::black_box;
use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, DictionaryArray, RecordBatch, TimestampNanosecondArray, UInt32Array, UInt64Array,
};
use arrow_schema::{DataType, Field};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use trawl_core::{Containers, EventBatch, Message, Transform, envelope};
use trawl_enrich::{ContainerRecord, Enricher, Namespaces, record};

const CONTAINERS: u32 = 1000;
const ROWS: usize = 8192;
const BASE_NS: u32 = 4_026_532_000;

fn known_containers() -> Message {
    let records: Vec<_> = (0..CONTAINERS)
        .map(|i| ContainerRecord {
            host: "node1".into(),
            id: format!("{i:064x}"),
            name: Some(format!("container-{i}")),
            image: Some(format!("registry.example/app-{}:1", i % 50)),
            ns: Namespaces {
                pid_ns: Some(BASE_NS + 4 * i),
                net_ns: Some(BASE_NS + 4 * i + 1),
                mnt_ns: Some(BASE_NS + 4 * i + 2),
                cgroup_ns: Some(BASE_NS + 4 * i + 3),
                ..Namespaces::default()
            },
            // Half of them are Kubernetes pods' (the worst case for the
            // label columns: some containers have them, some not).
            labels: if i % 2 == 0 {
                [
                    ("io.kubernetes.pod.namespace", "shop".to_owned()),
                    ("io.kubernetes.pod.name", format!("pod-{i}")),
                    ("io.kubernetes.container.name", "app".to_owned()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect()
            } else {
                Default::default()
            },
            ..ContainerRecord::default()
        })
        .collect();
    Message::Containers(Containers {
        batch: record::to_batch(&records).unwrap(),
    })
}

/// A batch whose row `i` is in container `which(i)`.
fn batch(which: impl Fn(usize) -> u32) -> Message {
    let ns = |k: u32| -> ArrayRef {
        Arc::new(UInt32Array::from_iter_values(
            (0..ROWS).map(|i| BASE_NS + 4 * which(i) + k),
        ))
    };
    let fields = ["pid_ns", "net_ns", "mnt_ns", "cgroup_ns"]
        .map(|n| Field::new(n, DataType::UInt32, true))
        .to_vec();
    let schema =
        envelope::schema_with_metadata(fields, "lttng_ust_libc:malloc", "node1", "ust", "");
    let dict = |v: &str| -> ArrayRef {
        Arc::new(DictionaryArray::<Int32Type>::from_iter(
            std::iter::repeat_n(v, ROWS),
        ))
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(TimestampNanosecondArray::from_iter_values(0..ROWS as i64).with_timezone("UTC")),
        dict("node1"),
        dict("ust"),
        Arc::new(UInt64Array::from(vec![0; ROWS])),
        Arc::new(UInt32Array::from(vec![0; ROWS])),
        dict("lttng_ust_libc:malloc"),
        ns(0),
        ns(1),
        ns(2),
        ns(3),
    ];
    Message::Events(EventBatch {
        batch: RecordBatch::try_new(schema, columns).unwrap(),
    })
}

fn bench_join(c: &mut Criterion) {
    let mut join = Enricher::default();
    let mut out = Vec::new();
    join.process(known_containers(), &mut out).unwrap();
    // A small xorshift: reproducible "random" containers.
    let scattered: Vec<u32> = (0..ROWS)
        .scan(0x2545_f491_u32, |x, _| {
            *x ^= *x << 13;
            *x ^= *x >> 17;
            *x ^= *x << 5;
            Some(*x % CONTAINERS)
        })
        .collect();
    let shapes = [
        ("runs", batch(|i| ((i / 64) as u32 * 7) % CONTAINERS)),
        ("scattered", batch(|i| scattered[i])),
    ];
    let mut group = c.benchmark_group("enrich_join_1000_containers");
    group.throughput(Throughput::Elements(ROWS as u64));
    for (name, msg) in shapes {
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                join.process(black_box(msg.clone()), &mut out).unwrap();
                black_box(&out);
            })
        });
    }
    group.finish();
    assert_eq!(join.stats().rows_unenriched, 0);
}

criterion_group!(benches, bench_join);
criterion_main!(benches);
