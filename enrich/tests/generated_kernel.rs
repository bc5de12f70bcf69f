//! The join on a kernel trace written by the generator in real lttng-modules
//! layouts and read back by our decoder: events carry only the `tid`
//! context, so the container comes from the thread table learned from the
//! statedump's `*_ns` events and from `sched_process_fork`.

#![expect(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{Array, RecordBatch};
use trawl_core::{Containers, Message, Source, Transform};
use trawl_enrich::{ContainerRecord, Enricher, Namespaces, record};
use trawl_source_lttng::generate::{Context, KernelTraceBuilder, Namespaces as GenNs, Task};
use trawl_source_lttng::trace_dir::TraceDirSourceBuilder;

const WEB_PID_NS: u32 = 4_026_532_500;

/// `(tid context, container_id)` of every row of `batch`.
fn rows(batch: &RecordBatch) -> Vec<(i32, Option<String>)> {
    let tids = batch
        .column_by_name("tid")
        .unwrap()
        .as_primitive::<Int32Type>();
    let ids = batch.column_by_name("container_id").unwrap();
    let ids = arrow_cast::cast(ids, &arrow_schema::DataType::Utf8).unwrap();
    let ids = ids.as_string::<i32>();
    (0..batch.num_rows())
        .map(|r| {
            (
                tids.value(r),
                ids.is_valid(r).then(|| ids.value(r).to_string()),
            )
        })
        .collect()
}

#[test]
fn kernel_events_join_through_statedump_and_fork() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = KernelTraceBuilder::new(dir.path())
        .cpus(2)
        .hostname("node-1")
        .contexts(&[Context::Tid, Context::Procname]);
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

    let mut seen = Vec::new();
    for msg in &out {
        if let Message::Events(e) = msg {
            let event = e.batch.schema().metadata()["trawl.event"].clone();
            for (tid, id) in rows(&e.batch) {
                seen.push((event.clone(), tid, id));
            }
        }
    }
    let syscalls: Vec<_> = seen
        .iter()
        .filter(|(event, _, _)| event.starts_with("syscall_"))
        .collect();
    assert_eq!(syscalls.len(), 6, "{seen:?}");
    for (event, tid, id) in syscalls {
        let expected = (*tid == 100 || *tid == 101).then(|| "c0ffee".to_string());
        assert_eq!(id, &expected, "{event} of tid {tid}");
    }
}
