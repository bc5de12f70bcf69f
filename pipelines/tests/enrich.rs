//! Container enrichment end to end: a private dockerd, containers running a
//! program traced by the host's session daemon, the Docker watcher's
//! records, and the join over the recorded trace.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, UInt32Type, UInt64Type};
use arrow_array::{Array, RecordBatch};
use trawl_core::{Containers, Message, Source, Transform};
use trawl_enrich::{ContainerRecord, Enricher, WatcherBuilder, record};
use trawl_source_lttng::trace_dir::TraceDirSourceBuilder;

use crate::common::docker::Dockerd;
use crate::common::lttng::{self, ALL_CONTEXTS, LttngDaemon, REGISTER_TIMEOUT_MS};
use crate::common::lttng_or_skip;

/// The containers' workload: `N` malloc/free pairs (2 N libc events), then
/// it lives on for `MS` milliseconds, as real workloads do: a container
/// that ends within milliseconds is gone before anyone can read its
/// namespaces from /proc (the Docker API does not report them).
const WORKLOAD_C: &str = r#"
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
    long n = atol(argv[1]);
    volatile char *keep;
    for (long i = 0; i < n; i++) {
        char *p = malloc(16 + (i & 255));
        if (!p) return 1;
        p[0] = (char)i;
        keep = p;
        free(p);
    }
    (void)keep;
    usleep(atol(argv[2]) * 1000);
    return 0;
}
"#;

/// How long each container's workload lives after its events.
const LINGER_MS: &str = "500";

/// Compiles [`WORKLOAD_C`] into the daemon's home (shared with the containers).
fn build_workload(daemon: &LttngDaemon) -> std::path::PathBuf {
    let src = daemon.home().join("workload.c");
    let bin = daemon.home().join("workload");
    std::fs::write(&src, WORKLOAD_C).unwrap();
    let mut cmd = Command::new("cc");
    cmd.arg("-O2").arg("-o").arg(&bin).arg(&src);
    lttng::run_captured(&mut cmd, lttng::RUN_TIMEOUT).unwrap();
    bin
}

fn dockerd_or_skip() -> Option<Dockerd> {
    match Dockerd::start() {
        Ok(d) => Some(d),
        Err(why) => {
            eprintln!("skipped: {why}");
            None
        }
    }
}

/// The Docker watcher on its own thread, collecting records until stopped.
struct Watching {
    records: Arc<Mutex<Vec<ContainerRecord>>>,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: thread::JoinHandle<()>,
}

impl Watching {
    fn start(socket: &Path) -> Watching {
        let records = Arc::new(Mutex::new(Vec::new()));
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let sink = records.clone();
        let socket = socket.display().to_string();
        let thread = thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let mut w = WatcherBuilder::new()
                    .docker_socket(Some(socket))
                    .start()
                    .await;
                assert_eq!(w.source(), "docker", "{:?}", w.take_warnings());
                let first = w.next_records().await.unwrap();
                sink.lock().unwrap().extend(first);
                ready_tx.send(()).unwrap();
                loop {
                    tokio::select! {
                        r = w.next_records() => sink.lock().unwrap().extend(r.unwrap()),
                        _ = &mut stopped => break,
                    }
                }
            });
        });
        ready_rx.recv().unwrap();
        Watching {
            records,
            stop,
            thread,
        }
    }

    fn finish(self) -> Vec<ContainerRecord> {
        let _ = self.stop.send(());
        self.thread.join().unwrap();
        Arc::try_unwrap(self.records).unwrap().into_inner().unwrap()
    }
}

/// `docker create` of `program ITERATIONS LINGER_MS` traced by `daemon`'s session:
/// the host's /usr and /lib bind-mounted read-only, the daemon's home (its
/// sockets, the program) and /dev/shm shared, as the harness user.
fn create_traced(
    dockerd: &Dockerd,
    daemon: &LttngDaemon,
    name: &str,
    labels: &[&str],
    program: &Path,
    iterations: u32,
) -> String {
    let home = daemon.home().display().to_string();
    let wrapper = lttng::libc_wrapper_path().unwrap().display().to_string();
    let mut args: Vec<String> = [
        "create",
        "--name",
        name,
        "--network",
        "none",
        "--user",
        "65534:65534",
        "-v",
        "/usr:/usr:ro",
        "-v",
        "/lib:/lib:ro",
        "-v",
        "/lib64:/lib64:ro",
        "-v",
        "/dev/shm:/dev/shm",
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend(["-v".into(), format!("{home}:{home}")]);
    for env in [
        format!("LTTNG_HOME={home}"),
        format!("HOME={home}"),
        format!("LD_PRELOAD={wrapper}"),
        format!("LTTNG_UST_REGISTER_TIMEOUT={REGISTER_TIMEOUT_MS}"),
        "LTTNG_UST_ALLOW_BLOCKING=1".into(),
    ] {
        args.extend(["-e".into(), env]);
    }
    for label in labels {
        args.extend(["--label".into(), (*label).into()]);
    }
    args.push(format!("trawl-test:{name}"));
    args.push(program.display().to_string());
    args.push(iterations.to_string());
    args.push(LINGER_MS.to_owned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    dockerd.import_busybox(&format!("trawl-test:{name}"));
    dockerd.docker(&args)
}

/// Every row of the enriched libc events: (vpid, pid_ns, container columns).
type Row = (i32, u32, [Option<String>; 6]);

fn rows(batch: &RecordBatch) -> Vec<Row> {
    let vpid = batch
        .column_by_name("vpid")
        .unwrap()
        .as_primitive::<Int32Type>();
    // lttng-ust records namespace inodes as 64-bit, lttng-modules as 32-bit.
    let pid_ns = batch.column_by_name("pid_ns").unwrap();
    let pid_ns: Vec<u32> = match pid_ns.as_primitive_opt::<UInt64Type>() {
        Some(a) => a.values().iter().map(|&v| v as u32).collect(),
        None => pid_ns.as_primitive::<UInt32Type>().values().to_vec(),
    };
    let cols: Vec<_> = trawl_core::containers::ENRICHMENT
        .iter()
        .map(|name| {
            batch
                .column_by_name(name)
                .unwrap()
                .as_dictionary::<Int32Type>()
        })
        .collect();
    (0..batch.num_rows())
        .map(|i| {
            let value = |c: usize| {
                let dict = cols[c];
                let values = dict.values().as_string::<i32>();
                dict.is_valid(i)
                    .then(|| values.value(dict.keys().value(i) as usize).to_owned())
            };
            (
                vpid.value(i),
                pid_ns[i],
                [value(0), value(1), value(2), value(3), value(4), value(5)],
            )
        })
        .collect()
}

/// Trace messages with the records merged in by time, as they would arrive
/// live: a record goes just before the first trace message that exists
/// after it (an event batch exists once its last event happened), so
/// events regularly arrive before their container's record.
fn merged(trace: &Path, records: &[ContainerRecord]) -> Vec<Message> {
    let mut source = TraceDirSourceBuilder::new(vec![trace.to_path_buf()])
        .batch_rows(256)
        .build()
        .unwrap();
    let mut pending = records.iter().peekable();
    let mut out = Vec::new();
    while let Some(msg) = source.next_message().unwrap() {
        let ts = match &msg {
            Message::Events(e) => e
                .batch
                .column_by_name("ts")
                .unwrap()
                .as_primitive::<arrow_array::types::TimestampNanosecondType>()
                .values()
                .last()
                .copied()
                .unwrap_or(i64::MIN),
            Message::Watermark(w) => w.ts,
            _ => i64::MIN,
        };
        let mut due = Vec::new();
        while let Some(r) = pending.next_if(|r| r.ts <= ts) {
            due.push(r.clone());
        }
        if !due.is_empty() {
            let batch = record::to_batch(&due).unwrap();
            out.push(Message::Containers(Containers { batch }));
        }
        out.push(msg);
    }
    let rest: Vec<_> = pending.cloned().collect();
    if !rest.is_empty() {
        let batch = record::to_batch(&rest).unwrap();
        out.push(Message::Containers(Containers { batch }));
    }
    out
}

#[test]
fn containers_and_host_events_are_told_apart_by_the_docker_watcher_and_the_join() {
    let Some(daemon) = lttng_or_skip() else {
        return;
    };
    let Some(dockerd) = dockerd_or_skip() else {
        return;
    };
    let program = build_workload(&daemon);
    let watching = Watching::start(&dockerd.socket());
    let session = daemon
        .session("containers")
        .contexts(ALL_CONTEXTS)
        .blocking(true)
        .create()
        .unwrap();
    session.start().unwrap();

    // Iterations tell the workloads apart: each gives 2 N libc events and a few more.
    let k8s = [
        "io.kubernetes.pod.name=web-0",
        "io.kubernetes.pod.namespace=shop",
        "io.kubernetes.container.name=nginx",
    ];
    let mut ids = BTreeMap::new();
    // alpha runs to its end and stays (stopped) while the trace goes on.
    let alpha = create_traced(&dockerd, &daemon, "alpha", &k8s, &program, 1000);
    dockerd.docker(&["start", "-a", "alpha"]);
    ids.insert("alpha", (alpha, 1000));
    // beta ends and is removed mid-trace.
    let beta = create_traced(&dockerd, &daemon, "beta", &[], &program, 2000);
    dockerd.docker(&["start", "-a", "beta"]);
    dockerd.docker(&["rm", "beta"]);
    ids.insert("beta", (beta, 2000));
    // A host process between them.
    session
        .run_traced(&program, &["500", "0"], lttng::RUN_TIMEOUT)
        .unwrap();
    // gamma starts after all that.
    let gamma = create_traced(&dockerd, &daemon, "gamma", &[], &program, 3000);
    dockerd.docker(&["start", "-a", "gamma"]);
    ids.insert("gamma", (gamma, 3000));

    session.stop().unwrap();
    let trace = session.destroy().unwrap();
    let records = watching.finish();

    let mut join = Enricher::default();
    let mut out = Vec::new();
    for msg in merged(&trace, &records) {
        join.process(msg, &mut out).unwrap();
    }
    join.flush(&mut out).unwrap();

    let host_pid_ns = trawl_enrich::procfs::Procfs::new("/proc")
        .namespaces("self")
        .pid_ns
        .unwrap();
    let mut per_container: BTreeMap<String, (usize, BTreeSet<Row>)> = BTreeMap::new();
    let mut host_rows = 0;
    for msg in &out {
        let Message::Events(e) = msg else { continue };
        for (vpid, pid_ns, cols) in rows(&e.batch) {
            if pid_ns == host_pid_ns {
                assert!(
                    cols.iter().all(Option::is_none),
                    "a host event got a container: {cols:?}"
                );
                host_rows += 1;
                continue;
            }
            // The container's program is its init process.
            assert_eq!(vpid, 1, "{cols:?}");
            let Some(name) = cols[1].clone() else {
                panic!(
                    "a container event (pid_ns {pid_ns}) without a container; stats {:?}; records {records:#?}",
                    join.stats()
                );
            };
            let entry = per_container.entry(name).or_default();
            entry.0 += 1;
            entry.1.insert((0, pid_ns, cols));
        }
    }
    assert!(host_rows >= 1000, "host events: {host_rows}");
    assert_eq!(
        per_container.keys().map(String::as_str).collect::<Vec<_>>(),
        ["alpha", "beta", "gamma"]
    );
    for (name, (count, distinct)) in &per_container {
        let (id, iterations) = &ids[name.as_str()];
        assert!(
            *count >= 2 * *iterations as usize && *count < 2 * *iterations as usize + 200,
            "{name}: {count} events"
        );
        // One pid namespace, one set of values, for all its events.
        assert_eq!(distinct.len(), 1, "{name}: {distinct:?}");
        let (_, _, cols) = distinct.iter().next().unwrap();
        assert_eq!(cols[0].as_deref(), Some(id.as_str()), "{name}");
        assert_eq!(cols[2], Some(format!("trawl-test:{name}")));
        let k8s = if name == "alpha" {
            [
                Some("shop".to_owned()),
                Some("web-0".into()),
                Some("nginx".into()),
            ]
        } else {
            [None, None, None]
        };
        assert_eq!(cols[3..], k8s, "{name}");
    }
    let stats = join.stats();
    assert_eq!(stats.rows_unenriched, 0, "{stats:?}");
    assert_eq!(join.held_rows(), 0);
}

#[test]
fn trawl_containers_lists_docker_and_without_its_socket_scans_cgroups() {
    let Some(dockerd) = dockerd_or_skip() else {
        return;
    };
    dockerd.import_busybox("trawl-test:idle");
    let id = dockerd.docker(&[
        "run",
        "-d",
        "--name",
        "idle",
        "--network",
        "none",
        "--label",
        "io.kubernetes.pod.name=idle-0",
        "trawl-test:idle",
        "sleep",
        "600",
    ]);
    let trawl = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_trawl"))
            .arg("containers")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let socket = dockerd.socket().display().to_string();
    let (json, _) = trawl(&["--docker-socket", &socket, "--format", "json"]);
    let file: trawl_enrich::ContainerFile = serde_json::from_str(&json).unwrap();
    let idle = file.containers.iter().find(|r| r.id == id).expect(&json);
    assert_eq!(idle.name.as_deref(), Some("idle"));
    assert_eq!(idle.k8s_pod(), Some("idle-0"));
    assert!(idle.pid.is_some() && idle.ns.pid_ns.is_some(), "{idle:?}");
    let (table, _) = trawl(&["--docker-socket", &socket]);
    assert!(table.contains(&format!("{}  idle ", &id[..12])), "{table}");

    // No socket: a warning, and the same container found from its cgroup.
    let (table, stderr) = trawl(&["--docker-socket", "/nonexistent/docker.sock"]);
    assert!(stderr.contains("warning: no Docker Engine API"), "{stderr}");
    assert!(table.starts_with("# source: cgroupfs"), "{table}");
    let line = table
        .lines()
        .find(|l| l.starts_with(&id[..12]))
        .expect(&table);
    assert!(
        line.contains(&idle.ns.pid_ns.unwrap().to_string()),
        "{line}"
    );
}
