//! Generated kernel scenarios with known truth: the exported values equal it
//! (counts exact, sums within one clock tick, i.e. 1 ns).

use std::collections::HashMap;

use trawl_core::Sink;
use trawl_exporter::{PrometheusSink, PrometheusSinkConfig};
use trawl_source_lttng::generate::{
    KernelTraceBuilder, Namespaces, NetPacket, RWBS_READ, TASK_INTERRUPTIBLE, TASK_RUNNING, Task,
};

use crate::common::{ACCEPT_OPENMETRICS, Containers, demo_requests, http_get, messages, sample};

const NS_A: u32 = 4_026_532_100;
const NS_B: u32 = 4_026_532_200;
const NS_C: u32 = 4_026_532_300;
const MS: u64 = 1_000_000;

fn containers() -> Containers {
    HashMap::from([
        (
            NS_A,
            ["aaaa", "web", "nginx:1.27", "shop", "web-0", "nginx"],
        ),
        (
            NS_B,
            ["bbbb", "db", "postgres:16", "shop", "db-0", "postgres"],
        ),
        (NS_C, ["cccc", "cache", "redis:7", "", "", ""]),
    ])
}

/// A runs 3 slices of 10 ms on CPU 0 (woken 50 µs before each); B makes 5
/// reads of 2 ms each on CPU 1; C sends 3 packets of 1,000 bytes and reads
/// 64 KiB from disk in 4 ms; everything runs between statedump and end.
fn scenario(dir: &std::path::Path) -> trawl_source_lttng::generate::GeneratedTrace {
    let mut b = KernelTraceBuilder::new(dir)
        .cpus(2)
        .hostname("node-1")
        .packet_size(4096);
    b.add_task(Task::new(100, "nginx").namespaces(Namespaces::container(NS_A)));
    b.add_task(Task::new(200, "postgres").namespaces(Namespaces::container(NS_B)));
    b.add_task(Task::new(300, "redis").namespaces(Namespaces::container(NS_C)));
    b.add_task(Task::new(900, "bash"));
    let mut ts = 1_000;
    for _ in 0..3 {
        b.sched_wakeup(ts, 1, 100, 0).unwrap();
        b.sched_switch(ts + 50_000, 0, 0, TASK_RUNNING, 100)
            .unwrap();
        b.sched_switch(ts + 50_000 + 10 * MS, 0, 100, TASK_INTERRUPTIBLE, 0)
            .unwrap();
        ts += 20 * MS;
    }
    // B on CPU 1 (from 100 ms on), C on CPU 0 (from 200 ms on).
    b.sched_switch(100 * MS, 1, 0, TASK_RUNNING, 200).unwrap();
    for i in 0..5 {
        let t = 100 * MS + 1_000 + i * 3 * MS;
        b.syscall_entry_read(t, 1, 5, 8192).unwrap();
        b.syscall_exit_read(t + 2 * MS, 1, 8192).unwrap();
    }
    b.sched_switch(200 * MS, 0, 0, TASK_RUNNING, 300).unwrap();
    for i in 0..3 {
        b.net_dev_queue(200 * MS + i * 1_000, 0, &NetPacket::new(1_000, "eth0"))
            .unwrap();
    }
    b.block_rq_issue(201 * MS, 0, 0x800_010, 4096, 65536, RWBS_READ)
        .unwrap();
    b.block_rq_complete(205 * MS, 1, 0x800_010, 4096, 65536, RWBS_READ)
        .unwrap();
    b.mm_page_alloc(206 * MS, 0, 4242, 2).unwrap();
    b.page_fault_user(206 * MS + 10, 0, 0x7f00_0000_0000, 0x40_0000, 4)
        .unwrap();
    b.sched_switch(210 * MS, 0, 300, TASK_INTERRUPTIBLE, 900)
        .unwrap();
    b.sched_switch(215 * MS, 0, 900, TASK_INTERRUPTIBLE, 0)
        .unwrap();
    b.sched_switch(216 * MS, 1, 200, TASK_INTERRUPTIBLE, 0)
        .unwrap();
    b.finish().unwrap()
}

/// The exported text after the whole scenario went through a sink.
fn export(config: &PrometheusSinkConfig) -> (PrometheusSink, String) {
    let dir = tempfile::tempdir().unwrap();
    let trace = scenario(dir.path());
    let mut sink = PrometheusSink::new(config).unwrap();
    // A's demo service: vpid 10 serves requests 1 and 2 (overlapping, 3 ms
    // each, status 200); vpid 11 also has a request 1 (30 ms, status 500).
    let t = trace.absolute(50 * MS);
    let ms = MS as i64;
    let requests = [
        (10, 1, t, t + 3 * ms, 200),
        (10, 2, t + ms, t + 4 * ms, 200),
        (11, 1, t + 2 * ms, t + 32 * ms, 500),
    ];
    let a = containers()[&NS_A];
    let mut all = messages(&trace.dir, &containers());
    all.extend(demo_requests("node-1", a, &requests));
    for m in all {
        sink.consume(m).unwrap();
    }
    sink.flush().unwrap();
    let text = sink.render();
    (sink, text)
}

fn local() -> PrometheusSinkConfig {
    PrometheusSinkConfig {
        listen: "127.0.0.1:0".into(),
        ..Default::default()
    }
}

#[test]
fn exported_values_equal_the_scenario_truth() {
    let (_sink, text) = export(&local());
    let a = [
        ("container_name", "web"),
        ("host", "node-1"),
        ("namespace", "shop"),
        ("pod", "web-0"),
    ];
    let b = [("container_name", "db"), ("image", "postgres:16")];
    let c = [("container_name", "cache"), ("container_id", "cccc")];
    let host = [("container_id", ""), ("host", "node-1")];
    let get = |name: &str, labels: &[(&str, &str)]| {
        sample(&text, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?} in\n{text}"))
    };
    // A: 3 × 10 ms of CPU; 3 run-queue waits of 50 µs (bucket le=5e-05).
    assert_eq!(get("trawl_kernel_cpu_usage_seconds_total", &a), 0.030);
    assert_eq!(get("trawl_kernel_runqueue_latency_seconds_count", &a), 3.0);
    assert!((get("trawl_kernel_runqueue_latency_seconds_sum", &a) - 150e-6).abs() <= 1e-9);
    let le = |v: &'static str| [a[0], ("le", v)];
    assert_eq!(
        get(
            "trawl_kernel_runqueue_latency_seconds_bucket",
            &le("0.000025")
        ),
        0.0
    );
    assert_eq!(
        get(
            "trawl_kernel_runqueue_latency_seconds_bucket",
            &le("0.00005")
        ),
        3.0
    );
    // A's requests, by status; counted as user-space events too.
    let status = |s: &'static str| [a[0], ("status", s)];
    assert_eq!(
        get("trawl_ust_request_latency_seconds_count", &status("200")),
        2.0
    );
    assert!((get("trawl_ust_request_latency_seconds_sum", &status("200")) - 0.006).abs() <= 1e-9);
    assert_eq!(
        get("trawl_ust_request_latency_seconds_count", &status("500")),
        1.0
    );
    assert!((get("trawl_ust_request_latency_seconds_sum", &status("500")) - 0.030).abs() <= 1e-9);
    assert_eq!(
        get(
            "trawl_ust_events_total",
            &[a[0], ("event", "trawl_demo:request_end")]
        ),
        3.0
    );
    // B: 5 reads of 2 ms; CPU from 100 ms to 216 ms.
    let read = |l: &[(&'static str, &'static str)]| {
        let mut v = l.to_vec();
        v.push(("syscall", "read"));
        v
    };
    assert_eq!(get("trawl_kernel_syscalls_total", &read(&b)), 5.0);
    assert_eq!(
        get("trawl_kernel_syscall_latency_seconds_count", &read(&b)),
        5.0
    );
    assert!((get("trawl_kernel_syscall_latency_seconds_sum", &read(&b)) - 0.010).abs() <= 1e-9);
    let mut b_le = read(&b);
    b_le.push(("le", "0.0025"));
    assert_eq!(
        get("trawl_kernel_syscall_latency_seconds_bucket", &b_le),
        5.0
    );
    assert_eq!(get("trawl_kernel_cpu_usage_seconds_total", &b), 0.116);
    // C: 3 packets, 3,000 bytes; 64 KiB read in 4 ms; 4 pages; 1 fault; 10 ms CPU.
    let mut eth0 = c.to_vec();
    eth0.push(("interface", "eth0"));
    assert_eq!(
        get("trawl_kernel_network_transmit_bytes_total", &eth0),
        3000.0
    );
    assert_eq!(
        get("trawl_kernel_network_transmit_packets_total", &eth0),
        3.0
    );
    let mut rd = c.to_vec();
    rd.push(("op", "read"));
    assert_eq!(get("trawl_kernel_block_io_bytes_total", &rd), 65536.0);
    assert_eq!(get("trawl_kernel_block_io_latency_seconds_count", &rd), 1.0);
    assert!((get("trawl_kernel_block_io_latency_seconds_sum", &rd) - 0.004).abs() <= 1e-9);
    assert_eq!(get("trawl_kernel_page_allocations_total", &c), 4.0);
    assert_eq!(get("trawl_kernel_page_faults_total", &c), 1.0);
    assert_eq!(get("trawl_kernel_cpu_usage_seconds_total", &c), 0.010);
    // The host's own task (bash): 5 ms, with empty container labels.
    assert_eq!(get("trawl_kernel_cpu_usage_seconds_total", &host), 0.005);
    // One info series per container, full labels.
    assert_eq!(
        get(
            "trawl_container_info",
            &[
                ("container_id", "aaaa"),
                ("image", "nginx:1.27"),
                ("container", "nginx")
            ]
        ),
        1.0
    );
    assert_eq!(text.matches("trawl_container_info{").count(), 3);
    assert!(text.ends_with("# EOF\n"));
}

#[test]
fn dropped_labels_sum_their_series() {
    let config = PrometheusSinkConfig {
        labels: vec!["host".into(), "namespace".into()],
        ..local()
    };
    let (_sink, text) = export(&config);
    // A and B share namespace `shop`: 30 ms + 116 ms.
    assert_eq!(
        sample(
            &text,
            "trawl_kernel_cpu_usage_seconds_total",
            &[("namespace", "shop")]
        ),
        Some(0.146)
    );

    assert!(
        text.lines()
            .filter(|l| l.starts_with("trawl_kernel_cpu_usage_seconds_total{"))
            .all(|l| !l.contains("pod=")),
        "{text}"
    );
}

#[test]
fn the_endpoint_serves_the_same_text() {
    let (sink, text) = export(&local());
    let body = http_get(sink.addr(), "/metrics", ACCEPT_OPENMETRICS);
    assert!(body.starts_with("HTTP/1.1 200 OK\r\n"), "{body}");
    assert!(
        body.contains("Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    let served = body.split("\r\n\r\n").nth(1).unwrap();
    // Only the lag gauge moves between two renders.
    let strip = |t: &str| {
        t.lines()
            .filter(|l| !l.starts_with("trawl_exporter_lag_seconds"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(served), strip(&text));
    assert!(http_get(sink.addr(), "/nope", "*/*").starts_with("HTTP/1.1 404"));

    // Clients that do not ask for OpenMetrics get the Prometheus text format.
    let plain = http_get(sink.addr(), "/metrics", "*/*");
    assert!(
        plain.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8"),
        "{plain}"
    );
    assert!(plain.contains("# TYPE trawl_kernel_cpu_usage_seconds_total counter\n"));
    assert!(plain.contains("# TYPE trawl_container_info gauge\n"));
    assert!(!plain.contains("# EOF"));
    let samples = |t: &str| {
        t.lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("trawl_exporter_lag_seconds"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        samples(plain.split("\r\n\r\n").nth(1).unwrap()),
        samples(&text)
    );
}
