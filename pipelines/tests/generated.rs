//! `trawl cat` on generated lttng-modules kernel traces prints exactly what
//! babeltrace2 prints (the generator's traces decode the same in both).

use std::process::Command;

use trawl_source_lttng::generate::{
    KernelTraceBuilder, Namespaces, NetPacket, RWBS_WRITE, TASK_INTERRUPTIBLE, TASK_RUNNING, Task,
    Tcp4,
};

#[test]
fn generated_kernel_trace_prints_like_babeltrace2() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = KernelTraceBuilder::new(dir.path())
        .cpus(3)
        .hostname("node-7")
        .packet_size(4096);
    b.add_task(Task::new(300, "redis").namespaces(Namespaces::container(4_026_532_600)));
    b.add_task(Task::new(400, "curl"));
    b.statedump(50, 2).unwrap();
    let mut ts = 1_000;
    for i in 0..300u32 {
        let (cpu, tid) = (i % 2, if i % 2 == 0 { 300 } else { 400 });
        let prev = b.current(cpu).tid;
        b.sched_switch(ts, cpu, prev, TASK_INTERRUPTIBLE, tid)
            .unwrap();
        b.syscall_entry(
            ts + 10,
            cpu,
            "write",
            &[("fd", 1u32.into()), ("count", 512u64.into())],
        )
        .unwrap();
        b.syscall_exit(ts + 900, cpu, "write", 512, &[]).unwrap();
        let p = NetPacket::new(100 + i, "veth0").tcp4(Tcp4 {
            saddr: [172, 17, 0, 2],
            daddr: [172, 17, 0, 3],
            sport: 6379,
            dport: 50000,
            seq: i,
            ack_seq: 1,
            flags: 0x10,
        });
        b.net_dev_queue(ts + 1_000, cpu, &p).unwrap();
        b.netif_receive_skb(ts + 1_200, 2, &p).unwrap();
        b.block_rq_issue(
            ts + 1_300,
            cpu,
            0x800_001,
            u64::from(i) * 8,
            4096,
            RWBS_WRITE,
        )
        .unwrap();
        b.block_rq_complete(
            ts + 90_000,
            2,
            0x800_001,
            u64::from(i) * 8,
            4096,
            RWBS_WRITE,
        )
        .unwrap();
        b.sched_switch(ts + 100_000, cpu, tid, TASK_RUNNING, 0)
            .unwrap();
        if i == 150 {
            b.loss(1, 3, 0).unwrap();
        }
        ts += 200_000_000 + u64::from(i);
    }
    let trace = b.finish().unwrap();
    let theirs = match Command::new("babeltrace2")
        .arg(&trace.dir)
        .env("TZ", "UTC")
        .output()
    {
        Ok(out) => out,
        Err(_) => {
            eprintln!("skipped: babeltrace2 is not installed (make test installs it)");
            return;
        }
    };
    assert!(theirs.status.success());
    let ours = Command::new(env!("CARGO_BIN_EXE_trawl"))
        .arg("cat")
        .arg(&trace.dir)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(
        ours.status.success(),
        "{}",
        String::from_utf8_lossy(&ours.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&theirs.stdout).lines().count() as u64,
        trace.events
    );
    let first_diff = ours
        .stdout
        .split(|&b| b == b'\n')
        .zip(theirs.stdout.split(|&b| b == b'\n'))
        .position(|(a, b)| a != b);
    assert!(
        ours.stdout == theirs.stdout,
        "first differing line: {first_diff:?}"
    );
    let warnings = |e: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(e)
            .lines()
            .filter(|l| l.starts_with("WARNING"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(warnings(&ours.stderr), warnings(&theirs.stderr));
    assert_eq!(warnings(&ours.stderr).len(), 1);
}
