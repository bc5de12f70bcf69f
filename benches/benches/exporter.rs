//! The Prometheus exporter: aggregation throughput on a generated kernel
//! trace of `sched_switch` and syscall entry/exit events (decoded by our
//! reader, enriched with dictionary-encoded container columns), reported as
//! events/s; and rendering `/metrics` with 10,000 container × syscall series.
//!
//! The goal (issue 6) is ≥ 20 M events/s per core for the aggregation.
#![expect(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, UInt32Type};
use arrow_array::{ArrayRef, DictionaryArray, Int32Array, RecordBatch, StringArray};
use arrow_array::{TimestampNanosecondArray, UInt32Array, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use trawl_core::{EventBatch, Message, Sink, Source, Watermark, envelope};
use trawl_exporter::{Aggregator, PrometheusSink, PrometheusSinkConfig};
use trawl_source_lttng::generate::{KernelTraceBuilder, Namespaces, TASK_RUNNING, Task};
use trawl_source_lttng::trace_dir::TraceDirSourceBuilder;

const CPUS: u32 = 4;
const CONTAINERS: u32 = 16;
const TASKS_PER_CONTAINER: i32 = 8;
/// Time slices per CPU; each is a switch in and 3 syscalls (7 events).
const SLICES: u64 = 40_000;
const SYSCALLS: [&str; 3] = ["read", "write", "futex"];
const NS_BASE: u32 = 4_026_540_000;

/// The enrichment columns, in the order of the values in [`container`].
const ENRICHMENT: [&str; 6] = [
    "container_id",
    "container_name",
    "container_image",
    "k8s_namespace",
    "k8s_pod",
    "k8s_container",
];

fn container(i: u32) -> [String; 6] {
    [
        format!("{i:064x}"),
        format!("svc-{i}"),
        format!("registry.local/svc-{i}:1.0"),
        "prod".into(),
        format!("svc-{i}-7d9f8-abcde"),
        format!("svc-{i}"),
    ]
}

/// Every message of a generated trace: on each CPU, tasks of all
/// containers take turns; each slice makes 3 syscalls.
fn kernel_messages(dir: &std::path::Path) -> Vec<Message> {
    let mut b = KernelTraceBuilder::new(dir).cpus(CPUS).hostname("bench");
    let tasks = CONTAINERS as i32 * TASKS_PER_CONTAINER;
    for t in 0..tasks {
        let ns = NS_BASE + (t as u32 % CONTAINERS) * 8;
        b.add_task(Task::new(1_000 + t, "svc").namespaces(Namespaces::container(ns)));
    }
    let mut prev = vec![0; CPUS as usize];
    for s in 0..SLICES {
        for cpu in 0..CPUS {
            let ts = 1_000 + s * 100_000 + u64::from(cpu) * 10;
            let next = 1_000 + ((s * u64::from(CPUS) + u64::from(cpu)) % tasks as u64) as i32;
            b.sched_switch(ts, cpu, prev[cpu as usize], TASK_RUNNING, next)
                .unwrap_or_else(|e| panic!("{e}"));
            prev[cpu as usize] = next;
            for (k, name) in SYSCALLS.iter().enumerate() {
                let at = ts + 1_000 + k as u64 * 20_000;
                b.syscall_entry(at, cpu, name, &[])
                    .unwrap_or_else(|e| panic!("{e}"));
                b.syscall_exit(at + 5_000 + s % 7 * 1_000, cpu, name, 0, &[])
                    .unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }
    let trace = b.finish().unwrap_or_else(|e| panic!("{e}"));
    let mut src = TraceDirSourceBuilder::new(vec![trace.dir])
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    while let Some(m) = src.next_message().unwrap_or_else(|e| panic!("{e}")) {
        out.push(match m {
            Message::Events(e) => Message::Events(EventBatch {
                batch: enrich(&e.batch),
            }),
            other => other,
        });
    }
    out
}

/// The enrichment columns from `pid_ns`, dictionary-encoded.
fn enrich(batch: &RecordBatch) -> RecordBatch {
    let Some(ns) = batch.column_by_name("pid_ns") else {
        return batch.clone();
    };
    let keys: Int32Array = ns
        .as_primitive::<UInt32Type>()
        .values()
        .iter()
        .map(|n| n.checked_sub(NS_BASE).map(|d| (d / 8) as i32))
        .collect();
    let mut fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let mut cols = batch.columns().to_vec();
    let labels: Vec<[String; 6]> = (0..CONTAINERS).map(container).collect();
    for (i, name) in ENRICHMENT.iter().enumerate() {
        let values = StringArray::from_iter_values(labels.iter().map(|c| c[i].as_str()));
        let Ok(dict) = DictionaryArray::<Int32Type>::try_new(keys.clone(), Arc::new(values)) else {
            return batch.clone();
        };
        fields.push(Field::new(*name, envelope::dict_utf8_type(), true));
        cols.push(Arc::new(dict));
    }
    let schema = Schema::new(fields).with_metadata(batch.schema().metadata().clone());
    RecordBatch::try_new(Arc::new(schema), cols).unwrap_or_else(|_| batch.clone())
}

fn rows(messages: &[Message]) -> u64 {
    messages
        .iter()
        .map(|m| match m {
            Message::Events(e) => e.batch.num_rows() as u64,
            _ => 0,
        })
        .sum()
}

fn settings() -> trawl_exporter::Settings {
    let config = PrometheusSinkConfig {
        listen: "127.0.0.1:0".into(),
        ..Default::default()
    };
    config.settings().unwrap_or_else(|e| panic!("{e}"))
}

fn aggregate(c: &mut Criterion) {
    let Ok(dir) = tempfile::tempdir() else { return };
    let messages = kernel_messages(dir.path());
    let mut g = c.benchmark_group("exporter");
    g.throughput(Throughput::Elements(rows(&messages)));
    g.bench_function("aggregate_sched_switch_syscalls", |b| {
        b.iter(|| {
            let mut agg = Aggregator::new(settings());
            let now = Instant::now();
            for m in &messages {
                agg.consume(m, now);
            }
            agg.flush();
            black_box(agg)
        })
    });
    g.finish();
}

/// Syscall entry or exit batch: one row per container (its `tid` = its index).
fn syscall_batch(name: &str, entry: bool, containers: u32, ts: i64) -> Message {
    let event = format!("syscall_{}_{name}", if entry { "entry" } else { "exit" });
    let n = containers as usize;
    let dict = |v: &str| -> ArrayRef {
        Arc::new(std::iter::repeat_n(v, n).collect::<DictionaryArray<Int32Type>>())
    };
    let mut fields = envelope::fields();
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(TimestampNanosecondArray::from(vec![ts; n]).with_timezone("UTC")),
        dict("bench"),
        dict("kernel"),
        Arc::new(UInt64Array::from(vec![0; n])),
        Arc::new(UInt32Array::from(vec![0; n])),
        dict(&event),
    ];
    fields.push(Field::new("tid", DataType::Int32, false));
    cols.push(Arc::new(Int32Array::from_iter_values(0..containers as i32)));
    let labels: Vec<[String; 6]> = (0..containers).map(container).collect();
    for (i, col) in ENRICHMENT.iter().enumerate() {
        fields.push(Field::new(*col, DataType::Utf8, true));
        cols.push(Arc::new(StringArray::from_iter_values(
            labels.iter().map(|c| c[i].as_str()),
        )));
    }
    let meta = envelope::schema_with_metadata(fields.split_off(6), &event, "bench", "kernel", "");
    let batch = RecordBatch::try_new(meta, cols).unwrap_or_else(|e| panic!("{e}"));
    Message::Events(EventBatch { batch })
}

fn render(c: &mut Criterion) {
    // 1,000 containers × 10 syscalls: 10,000 counter series, each with a
    // latency histogram.
    const CONTAINERS: u32 = 1_000;
    const NAMES: [&str; 10] = [
        "read",
        "write",
        "openat",
        "close",
        "futex",
        "epoll_wait",
        "sendto",
        "recvfrom",
        "mmap",
        "fstat",
    ];
    let config = PrometheusSinkConfig {
        listen: "127.0.0.1:0".into(),
        ..Default::default()
    };
    let Ok(mut sink) = PrometheusSink::new(&config) else {
        return;
    };
    for (k, name) in NAMES.iter().enumerate() {
        let ts = 1_000_000 * k as i64;
        for m in [
            syscall_batch(name, true, CONTAINERS, ts),
            syscall_batch(name, false, CONTAINERS, ts + 40_000),
        ] {
            sink.consume(m).ok();
        }
    }
    sink.consume(Message::Watermark(Watermark {
        host: "bench".into(),
        domain: "kernel".into(),
        ts: i64::MAX,
    }))
    .ok();
    let text = sink.render();
    let series = text
        .lines()
        .filter(|l| l.starts_with("trawl_kernel_syscalls_total{"))
        .count();
    assert_eq!(series, 10_000);
    eprintln!(
        "render: {} lines, {} bytes",
        text.lines().count(),
        text.len()
    );
    let mut g = c.benchmark_group("exporter");
    g.throughput(Throughput::Elements(series as u64));
    g.bench_function("render_10k_syscall_series", |b| {
        b.iter(|| black_box(sink.render().len()))
    });
    g.finish();
}

criterion_group!(benches, aggregate, render);
criterion_main!(benches);
