//! The join on a kernel trace written by the generator in real lttng-modules
//! layouts and read back by our decoder: events carry no namespace context,
//! so the container comes from the thread table learned from the
//! statedump's `*_ns` events and from `sched_process_fork`, and the thread
//! from the `tid` context or, without it, from `sched_switch` on the
//! event's CPU.

#![expect(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_schema::DataType;
use trawl_core::{Containers, Message, Source, Transform};
use trawl_enrich::{ContainerRecord, Enricher, Namespaces, record};
use trawl_source_lttng::generate::{Context, KernelTraceBuilder, Namespaces as GenNs, Task};
use trawl_source_lttng::trace_dir::TraceDirSourceBuilder;

const WEB_PID_NS: u32 = 4_026_532_500;

/// The container of every syscall row of `out`, by what the syscall says
/// (`fd` of an entry, `ret` of an exit).
fn syscalls(out: &[Message]) -> Vec<(String, i64, Option<String>)> {
    let mut seen = Vec::new();
    for msg in out {
        let Message::Events(e) = msg else { continue };
        let event = e.batch.schema().metadata()["trawl.event"].clone();
        let Some(field) = e
            .batch
            .column_by_name("fd")
            .or(e.batch.column_by_name("ret"))
        else {
            continue;
        };
        let field = arrow_cast::cast(field, &DataType::Int64).unwrap();
        let field = field.as_primitive::<Int64Type>();
        let ids = e.batch.column_by_name("container_id").unwrap();
        let ids = arrow_cast::cast(ids, &DataType::Utf8).unwrap();
        let ids = ids.as_string::<i32>();
        for r in 0..e.batch.num_rows() {
            let id = ids.is_valid(r).then(|| ids.value(r).to_string());
            seen.push((event.clone(), field.value(r), id));
        }
    }
    seen
}

/// Joins a 2-CPU kernel trace with these contexts: nginx (tid 100, in
/// the container, known from the statedump) and its worker (101, forked
/// after the statedump) read on CPU 0; a host shell (300) on CPU 1.
/// Returns the syscall rows and how many rows left unenriched.
fn join_kernel_trace(contexts: &[Context]) -> (Vec<(String, i64, Option<String>)>, u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut b = KernelTraceBuilder::new(dir.path())
        .cpus(2)
        .hostname("node-1")
        .contexts(contexts);
    b.add_task(Task::new(100, "nginx").namespaces(GenNs::container(WEB_PID_NS)));
    b.add_task(Task::new(300, "bash"));
    // The statedump says which pid namespace each thread is in.
    b.statedump(1_000, 0).unwrap();
    b.sched_switch(2_000, 0, 0, 0, 100).unwrap();
    b.syscall_entry_read(2_100, 0, 3, 4096).unwrap();
    b.syscall_exit_read(2_200, 0, 4096).unwrap();
    // nginx forks a worker after the statedump: known through the fork.
    b.sched_process_fork(
        2_300,
        0,
        Task::new(101, "nginx").namespaces(GenNs::container(WEB_PID_NS)),
    )
    .unwrap();
    b.sched_switch(2_400, 0, 100, 0, 101).unwrap();
    b.syscall_entry_read(2_500, 0, 5, 512).unwrap();
    b.syscall_exit_read(2_600, 0, 512).unwrap();
    // A host shell on the other CPU.
    b.sched_switch(2_000, 1, 0, 0, 300).unwrap();
    b.syscall_entry_read(2_700, 1, 0, 1).unwrap();
    b.syscall_exit_read(2_800, 1, 1).unwrap();
    b.finish().unwrap();

    let web = ContainerRecord {
        host: "node-1".into(),
        id: "c0ffee".into(),
        name: Some("web".into()),
        ns: Namespaces {
            pid_ns: Some(WEB_PID_NS),
            ..Namespaces::default()
        },
        ..ContainerRecord::default()
    };
    let mut join = Enricher::default();
    let mut out = Vec::new();
    let batch = record::to_batch(&[web]).unwrap();
    join.process(Message::Containers(Containers { batch }), &mut out)
        .unwrap();
    let mut source = TraceDirSourceBuilder::new(vec![dir.path().to_path_buf()])
        .build()
        .unwrap();
    while let Some(msg) = source.next_message().unwrap() {
        join.process(msg, &mut out).unwrap();
    }
    join.flush(&mut out).unwrap();
    (syscalls(&out), join.stats().rows_unenriched)
}

/// The expected container of each syscall row of [`join_kernel_trace`].
fn check(seen: &[(String, i64, Option<String>)]) {
    assert_eq!(seen.len(), 6, "{seen:?}");
    for (event, value, id) in seen {
        // fd 3, 5 and ret 4096, 512: nginx and its worker; fd 0, ret 1: the shell.
        let in_container = [3, 5, 4096, 512].contains(value);
        let expected = in_container.then(|| "c0ffee".to_string());
        assert_eq!(id, &expected, "{event} ({value})");
    }
}

#[test]
fn kernel_events_join_through_statedump_and_fork() {
    // Events carry the `tid` context: the thread is on every row.
    let (seen, unenriched) = join_kernel_trace(&[Context::Tid, Context::Procname]);
    check(&seen);
    assert_eq!(unenriched, 0);
}

#[test]
fn kernel_events_without_thread_context_join_through_the_cpu_schedule() {
    // No context at all: the thread is the one `sched_switch` put on the
    // event's CPU. Events before the first switch of their CPU (the
    // statedump's start and end) cannot be placed.
    let (seen, unenriched) = join_kernel_trace(&[]);
    check(&seen);
    assert!(unenriched <= 3, "{unenriched}");
}
