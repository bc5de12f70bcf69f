//! The kernel trace generator against babeltrace2 (the oracle) and our own
//! decoder: every generated trace decodes to exactly the values written.

#![allow(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use std::path::Path;
use std::process::Command;

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, TimestampNanosecondType, UInt32Type, UInt64Type};
use arrow_schema::DataType;
use trawl_core::{Loss, Message, Source, envelope};
use trawl_source_lttng::generate::{
    Context, GenerateError, GeneratedTrace, KernelTraceBuilder, Namespaces, NetPacket, RWBS_READ,
    TASK_INTERRUPTIBLE, TASK_RUNNING, Task, Tcp4, host_ns,
};
use trawl_source_lttng::trace_dir::TraceDirSourceBuilder;

const NGINX_NS: u32 = 4_026_532_500;

/// A small scenario touching every typed helper, on two CPUs.
fn scenario(dir: &Path) -> GeneratedTrace {
    let mut b = KernelTraceBuilder::new(dir).cpus(2).hostname("node-1");
    b.add_task(
        Task::new(1000, "nginx")
            .virtual_ids(1, 1, 0)
            .namespaces(Namespaces::container(NGINX_NS)),
    );
    b.add_task(Task::new(2000, "bash"));
    b.statedump(100, 0).unwrap();
    b.sched_wakeup(900, 1, 1000, 0).unwrap();
    b.sched_switch(1_000, 0, 0, TASK_RUNNING, 1000).unwrap();
    b.syscall_entry_read(1_500, 0, 3, 4096).unwrap();
    b.syscall_exit_read(3_500, 0, 4096).unwrap();
    let p = NetPacket::new(1500, "eth0").tcp4(Tcp4 {
        saddr: [10, 0, 0, 1],
        daddr: [10, 0, 0, 2],
        sport: 80,
        dport: 40000,
        seq: 7,
        ack_seq: 9,
        flags: 0x18,
    });
    b.net_dev_queue(4_000, 0, &p).unwrap();
    b.netif_receive_skb(4_100, 1, &NetPacket::new(60, "lo"))
        .unwrap();
    b.block_rq_issue(5_000, 0, 8 << 20, 2048, 8192, RWBS_READ)
        .unwrap();
    b.mm_page_alloc(5_500, 0, 42, 1).unwrap();
    b.page_fault_user(5_600, 0, 0x7f00_0000_1000, 0x40_1000, 6)
        .unwrap();
    b.sched_process_fork(
        6_000,
        0,
        Task::new(1001, "nginx")
            .ppid(1000)
            .virtual_ids(2, 2, 1)
            .namespaces(Namespaces::container(NGINX_NS)),
    )
    .unwrap();
    b.sched_switch(7_000, 0, 1000, TASK_INTERRUPTIBLE, 1001)
        .unwrap();
    b.sched_process_exec(7_100, 0, "/usr/sbin/nginx-worker-process")
        .unwrap();
    b.sched_process_exit(8_000, 0).unwrap();
    b.block_rq_complete(9_000, 1, 8 << 20, 2048, 8192, RWBS_READ)
        .unwrap();
    // More than 2^27 ns later: the header must be extended.
    b.syscall_entry_read(1_000_000_000, 0, 3, 1).unwrap();
    b.finish().unwrap()
}

fn babeltrace2(trace: &Path) -> Option<std::process::Output> {
    match Command::new("babeltrace2")
        .arg(trace)
        .env("TZ", "UTC")
        .output()
    {
        Ok(out) => Some(out),
        Err(_) => {
            eprintln!("skipped: babeltrace2 is not installed (make test installs it)");
            None
        }
    }
}

/// Every message of the trace, from our own reader.
fn read_all(trace: &Path) -> Vec<Message> {
    let mut src = TraceDirSourceBuilder::new(vec![trace.to_path_buf()])
        .build()
        .unwrap();
    let mut out = Vec::new();
    while let Some(m) = src.next_message().unwrap() {
        out.push(m);
    }
    assert!(src.take_errors().is_empty());
    out
}

/// Rows of event class `name`, concatenated over batches.
fn rows(msgs: &[Message], name: &str) -> Vec<RecordBatch> {
    let batches: Vec<RecordBatch> = msgs
        .iter()
        .filter_map(|m| match m {
            Message::Events(e) if e.batch.schema().metadata()[envelope::META_EVENT] == name => {
                Some(e.batch.clone())
            }
            _ => None,
        })
        .collect();
    assert!(!batches.is_empty(), "no {name} events");
    batches
}

/// Values of a primitive column over batches.
fn col<T: arrow_array::ArrowPrimitiveType>(b: &[RecordBatch], name: &str) -> Vec<T::Native> {
    b.iter()
        .flat_map(|b| {
            b.column_by_name(name)
                .unwrap_or_else(|| panic!("no column {name}"))
                .as_primitive::<T>()
                .values()
                .to_vec()
        })
        .collect()
}

/// Values of a string column (plain or dictionary) over batches.
fn text(b: &[RecordBatch], name: &str) -> Vec<String> {
    b.iter()
        .flat_map(|b| {
            let c = arrow_cast::cast(b.column_by_name(name).unwrap(), &DataType::Utf8).unwrap();
            c.as_string::<i32>()
                .iter()
                .map(|s| s.unwrap_or("").to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn babeltrace2_reads_the_values_written() {
    let dir = tempfile::tempdir().unwrap();
    let t = scenario(dir.path());
    let Some(out) = babeltrace2(&t.dir) else {
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count() as u64, t.events);
    let nginx = "procname = \"nginx\", pid = 1000, tid = 1000, vpid = 1, vtid = 1, \
                 pid_ns = 4026532500, net_ns = 4026532501, mnt_ns = 4026532502, cgroup_ns = 4026532503";
    for expected in [
        format!("[18:05:03.143837108] (+0.000000500) node-1 syscall_entry_read: {{ cpu_id = 0 }}, {{ {nginx} }}, {{ fd = 3, count = 4096 }}"),
        format!("[18:05:03.143839608] (+0.000000500) node-1 net_dev_queue: {{ cpu_id = 0 }}, {{ {nginx} }}, \
                 {{ skbaddr = 0xFFFF880012340000, len = 1500, name = \"eth0\", network_header_type = ( \"_ipv4\" : container = 1 ), \
                 network_header = {{ {{ version = 4, ihl = 5, tos = 0, tot_len = 1500, id = 0x0, frag_off = 16384, ttl = 64, \
                 protocol = ( \"_tcp\" : container = 6 ), checksum = 0x0, saddr_padding = {{ }}, saddr = [ [0] = 10, [1] = 0, [2] = 0, [3] = 1 ], \
                 daddr_padding = {{ }}, daddr = [ [0] = 10, [1] = 0, [2] = 0, [3] = 2 ], transport_header = {{ {{ source_port = 80, \
                 dest_port = 40000, seq = 7, ack_seq = 9, data_offset = 5, reserved = 0, flags = 0x18, window_size = 502, checksum = 0x0, urg_ptr = 0 }} }} }} }} }}"),
        format!("node-1 sched_process_fork: {{ cpu_id = 0 }}, {{ {nginx} }}, {{ parent_comm = \"nginx\", parent_tid = 1000, parent_pid = 1000, \
                 parent_ns_inum = 4026532500, child_comm = \"nginx\", child_tid = 1001, _vtids_length = 2, vtids = [ [0] = 1001, [1] = 2 ], \
                 child_pid = 1001, child_ns_inum = 4026532500 }}"),
        "lttng_statedump_process_pid_ns: { cpu_id = 0 }, { procname = \"swapper/0\", pid = 0, tid = 0, vpid = 0, vtid = 0, \
         pid_ns = 4026531836, net_ns = 4026531992, mnt_ns = 4026531840, cgroup_ns = 4026531835 }, \
         { tid = 1000, vtid = 1, vpid = 1, vppid = 0, ns_level = 1, ns_inum = 4026532500 }".to_string(),
        "sched_process_exit: { cpu_id = 0 }, { procname = \"nginx-worker-pr\", pid = 1001, tid = 1001, vpid = 2, vtid = 2,".to_string(),
        // 2^27 ns and more after the previous event: an extended header, read back exactly.
        "[18:05:04.143835608] (+0.999991000) node-1 syscall_entry_read: { cpu_id = 0 }".to_string(),
    ] {
        let expected = expected.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            stdout.lines().any(|l| l.contains(&expected)),
            "babeltrace2 printed no line containing\n{expected}\n---\n{stdout}"
        );
    }
}

#[test]
fn our_decoder_reads_the_values_written() {
    let dir = tempfile::tempdir().unwrap();
    let t = scenario(dir.path());
    let msgs = read_all(&t.dir);
    let total: usize = msgs
        .iter()
        .map(|m| match m {
            Message::Events(e) => e.batch.num_rows(),
            _ => 0,
        })
        .sum();
    assert_eq!(total as u64, t.events);

    let sw = rows(&msgs, "sched_switch");
    assert_eq!(col::<Int32Type>(&sw, "prev_tid"), [0, 1000]);
    assert_eq!(col::<Int32Type>(&sw, "next_tid"), [1000, 1001]);
    assert_eq!(col::<Int64Type>(&sw, "prev_state"), [0, 1]);
    assert_eq!(text(&sw, "next_comm"), ["nginx", "nginx"]);
    assert_eq!(text(&sw, "procname"), ["swapper/0", "nginx"]);
    assert_eq!(col::<UInt32Type>(&sw, "pid_ns"), [host_ns::PID, NGINX_NS]);
    assert_eq!(
        col::<TimestampNanosecondType>(&sw, "ts"),
        [t.absolute(1_000), t.absolute(7_000)]
    );

    let read = rows(&msgs, "syscall_entry_read");
    assert_eq!(
        col::<TimestampNanosecondType>(&read, "ts"),
        [t.absolute(1_500), t.absolute(1_000_000_000)]
    );
    assert_eq!(col::<UInt64Type>(&read, "count"), [4096, 1]);
    assert_eq!(col::<Int32Type>(&read, "vtid"), [1, 2]);
    assert_eq!(col::<UInt32Type>(&read, "net_ns"), [NGINX_NS + 1; 2]);
    assert_eq!(
        col::<Int64Type>(&rows(&msgs, "syscall_exit_read"), "ret"),
        [4096]
    );

    let tx = rows(&msgs, "net_dev_queue");
    assert_eq!(col::<UInt32Type>(&tx, "len"), [1500]);
    assert_eq!(text(&tx, "name"), ["eth0"]);
    let rx = rows(&msgs, "net_if_receive_skb");
    assert_eq!(col::<UInt32Type>(&rx, "len"), [60]);
    assert_eq!(col::<UInt32Type>(&rx, "cpu"), [1]);

    let issue = rows(&msgs, "block_rq_issue");
    assert_eq!(col::<UInt32Type>(&issue, "bytes"), [8192]);
    assert_eq!(col::<UInt64Type>(&issue, "sector"), [2048]);
    // The payload's `tid` is `payload_tid`: the `tid` context took the name.
    assert_eq!(col::<Int32Type>(&issue, "payload_tid"), [1000]);
    let done = rows(&msgs, "block_rq_complete");
    assert_eq!(col::<UInt32Type>(&done, "nr_sector"), [16]);
    assert_eq!(
        col::<UInt32Type>(&rows(&msgs, "kmem_mm_page_alloc"), "order"),
        [1]
    );
    assert_eq!(
        col::<UInt64Type>(&rows(&msgs, "x86_exceptions_page_fault_user"), "address"),
        [0x7f00_0000_1000]
    );

    let pid_ns = rows(&msgs, "lttng_statedump_process_pid_ns");
    assert_eq!(col::<Int32Type>(&pid_ns, "payload_tid"), [1000, 1000, 2000]);
    assert_eq!(col::<Int32Type>(&pid_ns, "ns_level"), [1, 0, 0]);
    assert_eq!(
        col::<UInt32Type>(&pid_ns, "ns_inum"),
        [NGINX_NS, host_ns::PID, host_ns::PID]
    );
    let net_ns = rows(&msgs, "lttng_statedump_process_net_ns");
    assert_eq!(
        col::<UInt32Type>(&net_ns, "ns_inum"),
        [NGINX_NS + 1, host_ns::NET]
    );
    let exec = rows(&msgs, "sched_process_exec");
    assert_eq!(text(&exec, "filename"), ["/usr/sbin/nginx-worker-process"]);
}

/// Many events over small packets (the compact header's 27-bit times wrap
/// between packets and inside them), and a loss: every value and the loss
/// come back, from babeltrace2 and from our reader.
#[test]
fn packets_split_losses_and_long_gaps_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = KernelTraceBuilder::new(dir.path()).packet_size(4096);
    b.add_task(Task::new(7, "app"));
    b.sched_switch(10, 0, 0, TASK_RUNNING, 7).unwrap();
    let n: u64 = 2_000;
    for i in 0..n {
        // Times step by 100 ms: every header is extended (delta ≥ 2^27 ns).
        let ts = 1_000 + i * 100_000_000;
        if i == 1_000 {
            b.loss(0, 5, 1).unwrap();
        }
        b.syscall_entry_read(ts, 0, i as u32, i).unwrap();
        b.syscall_exit_read(ts + 10, 0, i as i64).unwrap();
    }
    let t = b.finish().unwrap();
    assert!(t.packets > 10, "{} packets", t.packets);
    let msgs = read_all(&t.dir);
    let entry = rows(&msgs, "syscall_entry_read");
    assert_eq!(
        col::<UInt64Type>(&entry, "count"),
        (0..n).collect::<Vec<_>>()
    );
    let exit_ts = col::<TimestampNanosecondType>(&rows(&msgs, "syscall_exit_read"), "ts");
    let expected: Vec<i64> = (0..n)
        .map(|i| t.absolute(1_010 + i * 100_000_000))
        .collect();
    assert_eq!(exit_ts, expected);
    let losses: Vec<&Loss> = msgs
        .iter()
        .filter_map(|m| match m {
            Message::Loss(l) => Some(l),
            _ => None,
        })
        .collect();
    assert_eq!(losses.len(), 1);
    assert_eq!((losses[0].events_discarded, losses[0].packets_lost), (5, 1));

    let Some(out) = babeltrace2(&t.dir) else {
        return;
    };
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count() as u64, t.events);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("discarded 5 events"), "{stderr}");
    assert!(stderr.contains("discarded 1 packet"), "{stderr}");
}

#[test]
fn mistakes_are_refused_with_what_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = KernelTraceBuilder::new(dir.path()).cpus(2);
    let err = |r: Result<&mut KernelTraceBuilder, GenerateError>| r.err().unwrap().to_string();
    assert_eq!(
        err(b.event(1, 0, "sched_swtich", &[])),
        "no event class `sched_swtich` in the generator's metadata"
    );
    assert_eq!(
        err(b.event(1, 0, "sched_switch", &[("next_tidd", 1i32.into())])),
        "event `sched_switch`, field `next_tidd`: no such field"
    );
    assert_eq!(
        err(b.event(1, 0, "sched_switch", &[("next_tid", (1i64 << 40).into())])),
        "event `sched_switch`, field `next_tid`: 1099511627776 does not fit in 32 bits (signed: true)"
    );
    assert_eq!(
        err(b.event(
            1,
            0,
            "sched_switch",
            &[("next_comm", "a-name-of-17-byte".into())]
        )),
        "event `sched_switch`, field `next_comm`: 17 elements do not fit in [16]"
    );
    assert_eq!(
        err(b.event(1, 2, "sched_switch", &[])),
        "event `sched_switch` on CPU 2, but the trace has 2 CPUs"
    );
    b.event(10, 0, "lttng_statedump_start", &[]).unwrap();
    assert_eq!(
        err(b.event(9, 0, "lttng_statedump_end", &[])),
        "event `lttng_statedump_end` at 9 on CPU 0 is before the previous event (10)"
    );
    assert_eq!(
        err(b.sched_switch(20, 0, 0, TASK_RUNNING, 42)),
        "no task with tid 42 (add it with add_task first)"
    );
    b.add_task(Task::new(42, "x"));
    assert_eq!(
        err(b.sched_switch(20, 0, 42, TASK_RUNNING, 0)),
        "event `sched_switch`, field `prev_tid`: 42 is not current on CPU 0 (0 is)"
    );
}

#[test]
fn contexts_are_what_the_session_added() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = KernelTraceBuilder::new(dir.path())
        .hostname("h")
        .contexts(&[
            Context::Hostname,
            Context::Ppid,
            Context::UserNs,
            Context::Prio,
            Context::CpuId,
        ]);
    b.add_task(Task::new(5, "c").ppid(4).hostname("web-1"));
    b.set_current(0, 5).unwrap();
    b.event(1, 0, "lttng_statedump_start", &[]).unwrap();
    let t = b.finish().unwrap();
    let start = rows(&read_all(&t.dir), "lttng_statedump_start");
    assert_eq!(text(&start, "hostname"), ["web-1"]);
    assert_eq!(col::<Int32Type>(&start, "ppid"), [4]);
    assert_eq!(col::<UInt32Type>(&start, "user_ns"), [host_ns::USER]);
    assert_eq!(col::<Int32Type>(&start, "prio"), [20]);
    assert_eq!(col::<Int32Type>(&start, "cpu_id"), [0]);
    assert!(start[0].column_by_name("procname").is_none());
}
