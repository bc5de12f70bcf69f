//! Container enrichment end to end: a private dockerd, containers running a
//! program traced by the host's session daemon, the Docker watcher's
//! records, and the join over the recorded trace.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, UInt32Type, UInt64Type};
use arrow_array::{Array, RecordBatch};
use trawl_core::{Containers, Message, Source, Transform};
use trawl_enrich::{Change, ContainerRecord, Enricher, WatcherBuilder, record};
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

/// One answer of the watcher: where it came from, its records, and the
/// warnings taken after it.
#[derive(Debug)]
struct Batch {
    source: &'static str,
    records: Vec<ContainerRecord>,
    warnings: Vec<String>,
}

/// The watcher on its own thread, collecting what it says until stopped.
struct Watching {
    batches: Arc<Mutex<Vec<Batch>>>,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: thread::JoinHandle<()>,
}

impl Watching {
    /// The Docker watcher of `socket`, which must answer.
    fn start(socket: &Path) -> Watching {
        let watching = Watching::spawn(
            WatcherBuilder::new().docker_socket(Some(socket.display().to_string())),
        );
        {
            let first = &watching.batches.lock().unwrap()[0];
            assert_eq!(first.source, "docker", "{:?}", first.warnings);
        }
        watching
    }

    /// Starts `builder`'s watcher; returns once it told its first records.
    fn spawn(builder: WatcherBuilder) -> Watching {
        let batches = Arc::new(Mutex::new(Vec::new()));
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let sink = batches.clone();
        let thread = thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let mut w = builder.start().await;
                let mut ready = Some(ready_tx);
                loop {
                    tokio::select! {
                        r = w.next_records() => sink.lock().unwrap().push(Batch {
                            source: w.source(),
                            records: r.unwrap(),
                            warnings: w.take_warnings(),
                        }),
                        _ = &mut stopped => break,
                    }
                    if let Some(ready) = ready.take() {
                        ready.send(()).unwrap();
                    }
                }
            });
        });
        ready_rx.recv().unwrap();
        Watching {
            batches,
            stop,
            thread,
        }
    }

    /// Waits (at most a minute) until what the watcher said satisfies `done`.
    fn wait_for(&self, what: &str, done: impl Fn(&[Batch]) -> bool) {
        let start = std::time::Instant::now();
        while !done(&self.batches.lock().unwrap()) {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "no {what} after a minute: {:#?}",
                self.batches.lock().unwrap()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn finish(self) -> Vec<Batch> {
        let _ = self.stop.send(());
        self.thread.join().unwrap();
        Arc::try_unwrap(self.batches).unwrap().into_inner().unwrap()
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
    let records: Vec<ContainerRecord> = watching
        .finish()
        .into_iter()
        .flat_map(|b| b.records)
        .collect();

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

/// A watcher of `dockerd` that tries again quickly and scans often.
fn quick_watcher(dockerd: &Dockerd) -> WatcherBuilder {
    WatcherBuilder::new()
        .docker_socket(Some(dockerd.socket().display().to_string()))
        .rescan_interval(Duration::from_millis(100))
        .reconnect_backoff(Duration::from_millis(50), Duration::from_millis(400))
}

/// `docker run -d --name NAME ARGS trawl-test:idle sleep 600`: its id.
fn run_idle(dockerd: &Dockerd, name: &str, args: &[&str]) -> String {
    let mut all = vec!["run", "-d", "--name", name, "--network", "none"];
    all.extend(args);
    all.extend(["trawl-test:idle", "sleep", "600"]);
    dockerd.docker(&all)
}

/// Every record of container `id`, in order.
fn records_of<'a>(batches: &'a [Batch], id: &str) -> Vec<&'a ContainerRecord> {
    batches
        .iter()
        .flat_map(|b| &b.records)
        .filter(|r| r.id == id)
        .collect()
}

/// Every warning, in order.
fn warnings(batches: &[Batch]) -> Vec<&str> {
    batches
        .iter()
        .flat_map(|b| &b.warnings)
        .map(String::as_str)
        .collect()
}

#[test]
fn a_restarted_dockerd_is_watched_again_and_the_scanner_fills_the_gap() {
    let Some(mut dockerd) = dockerd_or_skip() else {
        return;
    };
    dockerd.import_busybox("trawl-test:idle");
    let keep = run_idle(&dockerd, "keep", &["--label", "team=a"]);
    // --rm: the restarted dockerd removes it, as it ended while it was down.
    let gone = run_idle(&dockerd, "gone", &["--rm"]);
    let socket = dockerd.socket().display().to_string();
    let watching = Watching::spawn(quick_watcher(&dockerd));
    let gone_pid = {
        let batches = watching.batches.lock().unwrap();
        assert_eq!(batches[0].source, "docker", "{batches:?}");
        let first = records_of(&batches, &gone);
        assert_eq!(first[0].name.as_deref(), Some("gone"), "{batches:?}");
        first[0].pid.unwrap()
    };

    // dockerd crashes; its containers live on, the scanner watches them.
    dockerd.kill();
    watching.wait_for("loss", |b| {
        warnings(b)
            .iter()
            .any(|w| w.starts_with("Docker Engine API lost"))
    });
    let status = Command::new("kill")
        .args(["-KILL", &gone_pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    watching.wait_for("end of gone from the scanner", |b| {
        records_of(b, &gone)
            .iter()
            .any(|r| r.change == Change::Stopped)
    });

    dockerd.restart();
    watching.wait_for("reconnection", |b| {
        warnings(b)
            .iter()
            .any(|w| w.starts_with("Docker Engine API back"))
    });
    let fresh = run_idle(
        &dockerd,
        "fresh",
        &["--label", "io.kubernetes.pod.name=fresh-0"],
    );
    watching.wait_for("fresh", |b| {
        records_of(b, &fresh)
            .iter()
            .any(|r| r.change == Change::Started)
    });
    dockerd.docker(&["rm", "-f", "keep"]);
    watching.wait_for("removal of keep", |b| {
        records_of(b, &keep)
            .iter()
            .any(|r| r.change == Change::Removed)
    });
    let batches = watching.finish();

    // One warning when it went, one when it came back, naming the socket.
    let said = warnings(&batches);
    assert_eq!(said.len(), 2, "{said:?}");
    assert!(
        said[0].starts_with(&format!("Docker Engine API lost (docker {socket}: ")),
        "{said:?}"
    );
    assert!(
        said[1].starts_with(&format!("Docker Engine API back at {socket} after ")),
        "{said:?}"
    );
    // Docker, then the scanner while it was down, then Docker again.
    let sources: Vec<&str> = batches.iter().map(|b| b.source).collect();
    let down = sources.iter().position(|&s| s == "cgroupfs").unwrap();
    let back = down + sources[down..].iter().position(|&s| s == "docker").unwrap();
    assert!(
        sources[back..].iter().all(|&s| s == "docker"),
        "{sources:?}"
    );
    assert!(batches[back].warnings[0].starts_with("Docker Engine API back"));

    // While it was down the scanner saw gone end, and kept its identity.
    let scanned = &batches[down..back];
    let gone_while_down = records_of(scanned, &gone);
    assert_eq!(gone_while_down.len(), 1, "{scanned:?}");
    assert_eq!(gone_while_down[0].change, Change::Stopped);
    assert_eq!(gone_while_down[0].name.as_deref(), Some("gone"));
    assert!(
        records_of(scanned, &keep)
            .iter()
            .all(|r| r.name.as_deref() == Some("keep")),
        "{scanned:?}"
    );

    // Back: gone removed, keep named, then the events again.
    let after = &batches[back..];
    assert_eq!(after[0].records[0].change, Change::Host);
    let gone_after = records_of(after, &gone);
    assert_eq!(
        gone_after.last().map(|r| (r.change, r.name.as_deref())),
        Some((Change::Removed, Some("gone"))),
        "{after:?}"
    );
    let keep_after = records_of(after, &keep);
    assert!(
        keep_after.iter().all(|r| r.name.as_deref() == Some("keep")
            && r.labels.get("team").map(String::as_str) == Some("a")),
        "{keep_after:?}"
    );
    assert_eq!(keep_after.last().unwrap().change, Change::Removed);
    let started = records_of(after, &fresh)
        .into_iter()
        .find(|r| r.change == Change::Started)
        .unwrap();
    assert_eq!(started.name.as_deref(), Some("fresh"));
    assert_eq!(started.image.as_deref(), Some("trawl-test:idle"));
    assert_eq!(started.k8s_pod(), Some("fresh-0"));
    assert!(started.ns.pid_ns.is_some(), "{started:?}");
}

#[test]
fn a_dockerd_started_after_the_watcher_is_found_and_names_what_the_scanner_saw() {
    let Some(mut dockerd) = dockerd_or_skip() else {
        return;
    };
    dockerd.import_busybox("trawl-test:idle");
    let early = run_idle(&dockerd, "early", &["--label", "team=b"]);
    // dockerd is down when the watcher starts; its container is not.
    dockerd.kill();
    let socket = dockerd.socket().display().to_string();
    let watching = Watching::spawn(quick_watcher(&dockerd));
    {
        let batches = watching.batches.lock().unwrap();
        assert_eq!(batches[0].source, "cgroupfs");
        let seen = records_of(&batches, &early);
        assert_eq!(
            seen.iter()
                .map(|r| (r.change, r.name.is_none()))
                .collect::<Vec<_>>(),
            [(Change::Started, true)],
            "{batches:?}"
        );
    }
    dockerd.restart();
    watching.wait_for("reconnection", |b| {
        warnings(b)
            .iter()
            .any(|w| w.starts_with("Docker Engine API back"))
    });
    let late = run_idle(&dockerd, "late", &[]);
    watching.wait_for("late", |b| {
        records_of(b, &late)
            .iter()
            .any(|r| r.change == Change::Started)
    });
    let batches = watching.finish();

    let said = warnings(&batches);
    assert_eq!(said.len(), 2, "{said:?}");
    assert!(
        said[0].starts_with(&format!("no Docker Engine API (docker {socket}: "))
            && said[0].ends_with("until it answers again"),
        "{said:?}"
    );
    assert!(said[1].starts_with(&format!("Docker Engine API back at {socket} after ")));
    // What the scanner found unnamed, Docker names when it answers.
    let back = batches.iter().position(|b| b.source == "docker").unwrap();
    let early_after = records_of(&batches[back..], &early);
    assert!(!early_after.is_empty(), "{batches:?}");
    for r in early_after {
        assert_eq!(r.name.as_deref(), Some("early"), "{r:?}");
        assert_eq!(r.image.as_deref(), Some("trawl-test:idle"));
        assert_eq!(r.labels.get("team").map(String::as_str), Some("b"));
    }
    let started = records_of(&batches, &late);
    assert_eq!(started[0].name.as_deref(), Some("late"), "{started:?}");
}
