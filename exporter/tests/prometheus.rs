//! A real Prometheus (the Debian package, installed by
//! scripts/install-deps.sh) scrapes a sink fed with a generated kernel trace
//! and demo requests: `promtool check metrics` passes on the text, and every
//! expression of every dashboard in `exporter/dashboards/` returns data from
//! that Prometheus, its variables set to the first value Grafana would list.
//! Skipped, saying why, when `prometheus` or `promtool` is not installed.

use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use serde_json::Value;
use trawl_core::{Message, Sink};
use trawl_exporter::{PrometheusSink, PrometheusSinkConfig, StageCounters};
use trawl_source_lttng::generate::{
    GeneratedTrace, KernelTraceBuilder, Namespaces, NetPacket, RWBS_READ, TASK_INTERRUPTIBLE,
    TASK_RUNNING, Task,
};

use crate::common::{Containers, demo_requests, http_get, messages};

const NS_API: u32 = 4_026_532_400;
const NS_WORKER: u32 = 4_026_532_500;
const MS: u64 = 1_000_000;
/// What `$__rate_interval` becomes (Grafana derives it from the scrape interval).
const RATE_INTERVAL: &str = "1m";
/// How long to wait for Prometheus to start, scrape, or see new values.
const PATIENCE: Duration = Duration::from_secs(60);

fn containers() -> Containers {
    HashMap::from([
        (
            NS_API,
            ["a1a1", "api", "trawl/demo:1", "shop", "api-0", "api"],
        ),
        (
            NS_WORKER,
            [
                "b2b2",
                "worker",
                "trawl/worker:1",
                "shop",
                "worker-0",
                "worker",
            ],
        ),
    ])
}

/// `api` (sorted first, so the variables pick it) does everything a panel
/// shows: it is woken and runs on CPU 0, reads, sends and receives packets,
/// reads from disk, allocates pages and faults; `worker` runs and writes
/// on CPU 1; the host's `bash` runs in between; CPU 1 loses events.
fn scenario(dir: &Path) -> GeneratedTrace {
    let mut b = KernelTraceBuilder::new(dir)
        .cpus(2)
        .hostname("node-1")
        .packet_size(4096);
    b.add_task(Task::new(100, "api").namespaces(Namespaces::container(NS_API)));
    b.add_task(Task::new(200, "worker").namespaces(Namespaces::container(NS_WORKER)));
    b.add_task(Task::new(900, "bash"));
    for i in 0..20u64 {
        let t = 1_000 + i * 5 * MS;
        let step = |k: u64| t + k * 10_000;
        b.sched_wakeup(step(0), 1, 100, 0).unwrap();
        b.sched_switch(step(2), 0, 0, TASK_RUNNING, 100).unwrap();
        b.syscall_entry_read(step(3), 0, 5, 4096).unwrap();
        b.syscall_exit_read(step(4 + i), 0, 4096).unwrap();
        b.net_dev_queue(step(30), 0, &NetPacket::new(1_500, "eth0"))
            .unwrap();
        b.netif_receive_skb(step(31), 0, &NetPacket::new(600, "eth0"))
            .unwrap();
        b.block_rq_issue(step(32), 0, 0x800_010, 1_000 + i * 8, 4096, RWBS_READ)
            .unwrap();
        b.mm_page_alloc(step(33), 0, 4_242 + i, 1).unwrap();
        b.page_fault_user(step(34), 0, 0x7f00_0000_0000, 0x40_0000, 4)
            .unwrap();
        b.sched_switch(step(100), 0, 100, TASK_INTERRUPTIBLE, 900)
            .unwrap();
        b.sched_switch(step(150), 0, 900, TASK_INTERRUPTIBLE, 0)
            .unwrap();
        b.sched_switch(step(10), 1, 0, TASK_RUNNING, 200).unwrap();
        b.block_rq_complete(step(80 + i), 1, 0x800_010, 1_000 + i * 8, 4096, RWBS_READ)
            .unwrap();
        b.syscall_entry(step(81 + i), 1, "write", &[]).unwrap();
        b.syscall_exit(step(90 + i), 1, "write", 0, &[]).unwrap();
        b.sched_switch(step(200), 1, 200, TASK_INTERRUPTIBLE, 0)
            .unwrap();
        if i == 10 {
            b.loss(1, 7, 1).unwrap();
        }
    }
    b.finish().unwrap()
}

/// Whether `cmd --version` runs.
fn installed(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A private Prometheus on a free loopback port, scraping `target` every
/// second into a temporary storage directory; killed when dropped.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(target: SocketAddr) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
                 scrape_configs:\n  - job_name: trawl\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let p = Prometheus { child, addr, dir };
        p.wait_for("ready", || {
            std::net::TcpStream::connect(p.addr).is_ok()
                && http_get(p.addr, "/-/ready", "*/*").starts_with("HTTP/1.0 200")
        });
        p
    }

    /// The result of the instant query `expr` (panics with Prometheus's
    /// answer when it is not a success).
    fn query(&self, expr: &str) -> Vec<Value> {
        let path = format!("/api/v1/query?query={}", encode(expr));
        let response = http_get(self.addr, &path, "*/*");
        let body = response.split("\r\n\r\n").nth(1).unwrap_or("");
        let json: Value =
            serde_json::from_str(body).unwrap_or_else(|e| panic!("query {expr}: {e}: {response}"));
        assert_eq!(json["status"], "success", "query {expr}: {json}");
        json["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Polls `ready` until it holds; panics with the log after [`PATIENCE`].
    fn wait_for(&self, what: &str, ready: impl Fn() -> bool) {
        let start = Instant::now();
        while !ready() {
            if start.elapsed() > PATIENCE {
                let log = std::fs::read_to_string(self.dir.path().join("prometheus.log"));
                panic!("Prometheus: not {what} after {PATIENCE:?}; its log:\n{log:?}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Percent-encodes a query parameter.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `promtool check metrics` on `text`: its complaints, if any.
fn promtool_check(text: &str) -> Result<(), String> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() && said.trim().is_empty() {
        Ok(())
    } else {
        Err(said)
    }
}

/// Every dashboard JSON file, with its name.
fn dashboards() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let json =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (name, json)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(out.len(), 3, "fleet, container and pipeline dashboards");
    out
}

/// Every `expr` anywhere in a dashboard (panel targets, rows' panels).
fn exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("expr", Value::String(e)) => out.push(e.clone()),
                    _ => exprs(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

/// `expr` with the dashboard's variables (`$name`, `${name}`) and
/// `$__rate_interval` replaced.
fn substitute(expr: &str, vars: &[(String, String)]) -> String {
    let mut e = expr.replace("$__rate_interval", RATE_INTERVAL);
    let mut by_length: Vec<_> = vars.iter().collect();
    by_length.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
    for (name, value) in by_length {
        e = e
            .replace(&format!("${{{name}}}"), value)
            .replace(&format!("${name}"), value);
    }
    assert!(!e.contains('$'), "unresolved variable in {expr}");
    e
}

/// The dashboard's query variables, in order, each set to the first value
/// (sorted, as the dashboards ask Grafana to) of its `label_values(SELECTOR,
/// LABEL)` query asked of Prometheus.
fn variables(p: &Prometheus, board: &str, json: &Value) -> Vec<(String, String)> {
    let mut vars = Vec::new();
    for v in json["templating"]["list"].as_array().unwrap() {
        if v["type"] != "query" {
            continue;
        }
        let name = v["name"].as_str().unwrap().to_string();
        let query = v["query"]["query"].as_str().unwrap();
        let (selector, label) = query
            .strip_prefix("label_values(")
            .and_then(|q| q.strip_suffix(')'))
            .and_then(|q| q.rsplit_once(", "))
            .unwrap_or_else(|| {
                panic!("{board}: variable {name}: not label_values(SELECTOR, LABEL): {query}")
            });
        let selector = substitute(selector, &vars);
        let mut values: Vec<String> = p
            .query(&selector)
            .iter()
            .filter_map(|s| s["metric"][label].as_str().map(str::to_string))
            .filter(|s| !s.is_empty())
            .collect();
        values.sort();
        let first = values
            .first()
            .unwrap_or_else(|| {
                panic!("{board}: variable {name}: no value of {label} in {selector}")
            })
            .clone();
        vars.push((name, first));
    }
    vars
}

#[test]
fn prometheus_scrapes_the_endpoint_and_every_dashboard_query_returns_data() {
    for cmd in ["prometheus", "promtool"] {
        if !installed(cmd) {
            eprintln!("skipped: `{cmd}` is not installed (scripts/install-deps.sh installs it)");
            return;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let trace = scenario(dir.path());
    let mut input = messages(&trace.dir, &containers());
    let ms = MS as i64;
    let requests: Vec<_> = (0..50u64)
        .map(|i| {
            let begin = trace.absolute(i * 2 * MS);
            let status = if i % 10 == 9 { 500 } else { 200 };
            (4_242, i, begin, begin + (1 + (i % 7) as i64) * ms, status)
        })
        .collect();
    input.extend(demo_requests("node-1", containers()[&NS_API], &requests));

    // The stage counters a runner would hand over: rows through a source,
    // this sink and a Parquet sink that writes one file per round.
    let rows = Arc::new(AtomicU64::new(0));
    let rounds = Arc::new(AtomicU64::new(0));
    let (r, n) = (rows.clone(), rounds.clone());
    let reader = Box::new(move || {
        let (rows, rounds) = (r.load(Relaxed), n.load(Relaxed));
        let stage = |name: &str| StageCounters {
            stage: name.into(),
            newest_ts: Some(a_minute_ago_ns()),
            ..Default::default()
        };
        vec![
            StageCounters {
                sent_events: rows,
                sent_batches: rounds * 10,
                sent_bytes: rows * 64,
                losses: rounds * 8,
                ..stage("sources.trace")
            },
            StageCounters {
                received_events: rows,
                received_batches: rounds * 10,
                received_bytes: rows * 64,
                ..stage("sinks.metrics")
            },
            StageCounters {
                received_events: rows,
                received_batches: rounds * 10,
                received_bytes: rows * 64,
                stalls: rounds,
                blocked_ns: rounds * 1_000_000,
                files_written: Some(rounds),
                ..stage("sinks.store")
            },
        ]
    });
    let config = PrometheusSinkConfig {
        listen: "127.0.0.1:0".into(),
        ..Default::default()
    };
    let mut sink = PrometheusSink::with_stages(&config, reader).unwrap();
    let feed = |sink: &mut PrometheusSink| {
        for m in input.clone() {
            if let Message::Events(e) = &m {
                rows.fetch_add(e.batch.num_rows() as u64, Relaxed);
            }
            sink.consume(m).unwrap();
        }
        sink.flush().unwrap();
        rounds.fetch_add(1, Relaxed);
    };
    feed(&mut sink);
    // What `curl /metrics | promtool check metrics` sees.
    let served = http_get(sink.addr(), "/metrics", "*/*");
    let text = served.split("\r\n\r\n").nth(1).unwrap();
    if let Err(complaints) = promtool_check(text) {
        panic!("promtool check metrics:\n{complaints}\non:\n{text}");
    }

    let prometheus = Prometheus::start(sink.addr());
    prometheus.wait_for("scraping trawl", || {
        !prometheus
            .query(r#"count_over_time(up{job="trawl"}[1m]) >= 2 and up{job="trawl"} == 1"#)
            .is_empty()
    });
    // A second round makes every counter move, so that rates and quantiles
    // have something to say.
    feed(&mut sink);
    prometheus.wait_for("seeing the second round", || {
        !prometheus
            .query("rate(trawl_exporter_batches_total[1m]) > 0")
            .is_empty()
    });

    let mut checked = 0;
    for (board, json) in dashboards() {
        let vars = variables(&prometheus, &board, &json);
        let mut all = Vec::new();
        exprs(&json["panels"], &mut all);
        assert!(!all.is_empty(), "{board}: no expressions");
        for expr in all {
            let q = substitute(&expr, &vars);
            let result = prometheus.query(&q);
            assert!(
                !result.is_empty(),
                "{board}: no data for {q}\n(variables {vars:?})"
            );
            let finite = result.iter().any(|s| {
                s["value"][1]
                    .as_str()
                    .and_then(|v| v.parse::<f64>().ok())
                    .is_some_and(f64::is_finite)
            });
            assert!(finite, "{board}: only NaN or ±Inf for {q}: {result:?}");
            checked += 1;
        }
    }
    eprintln!("{checked} dashboard expressions returned data");
}

/// The newest time the stages saw, for their lag: a minute ago.
fn a_minute_ago_ns() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    now.as_nanos() as i64 - 60_000_000_000
}
