//! Typed helpers for the kernel events the analyses read, filling every
//! field the way lttng-modules does from the registered tasks.

use super::task::{Task, host_ns};
use super::value::{Fields, Value, fields};
use super::{GenerateError, KernelTraceBuilder};

/// `rwbs` bit of a write request (block.h).
pub const RWBS_WRITE: u32 = 1;
/// `rwbs` bit of a read request (block.h).
pub const RWBS_READ: u32 = 4;
/// `prev_state` of a task switched out while runnable (preempted).
pub const TASK_RUNNING: i64 = 0;
/// `prev_state` of a task switched out to sleep (`TASK_INTERRUPTIBLE`).
pub const TASK_INTERRUPTIBLE: i64 = 1;

/// A packet as `net_dev_queue` / `net_if_receive_skb` record it.
#[derive(Debug, Clone, PartialEq)]
pub struct NetPacket {
    /// `skbaddr`.
    pub skbaddr: u64,
    /// `len`: skb->len, bytes.
    pub len: u32,
    /// `name`: the device.
    pub dev: String,
    /// The IPv4 + TCP headers, or `None` for a packet whose network header
    /// lttng does not decode (`network_header_type` `_unknown`).
    pub tcp4: Option<Tcp4>,
}

/// IPv4 + TCP header fields of a [`NetPacket`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tcp4 {
    /// Source address.
    pub saddr: [u8; 4],
    /// Destination address.
    pub daddr: [u8; 4],
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack_seq: u32,
    /// The 9 flag bits (ACK = 0x10, PSH = 0x08, SYN = 0x02, FIN = 0x01).
    pub flags: u16,
}

impl NetPacket {
    /// A packet of `len` bytes on device `dev`, no decoded headers.
    pub fn new(len: u32, dev: &str) -> NetPacket {
        NetPacket {
            skbaddr: 0xffff_8800_1234_0000,
            len,
            dev: dev.to_string(),
            tcp4: None,
        }
    }

    /// With IPv4 + TCP headers.
    pub fn tcp4(mut self, tcp: Tcp4) -> NetPacket {
        self.tcp4 = Some(tcp);
        self
    }

    fn fields(&self) -> Fields {
        let header = match &self.tcp4 {
            None => Value::Variant("unknown".into(), Vec::new()),
            Some(t) => {
                let addr = |a: [u8; 4]| Value::List(a.iter().map(|&b| b.into()).collect());
                let tcp = fields([
                    ("source_port", Value::from(t.sport)),
                    ("dest_port", t.dport.into()),
                    ("seq", t.seq.into()),
                    ("ack_seq", t.ack_seq.into()),
                    ("data_offset", 5u8.into()),
                    ("flags", t.flags.into()),
                    ("window_size", 502u16.into()),
                ]);
                Value::Variant(
                    "ipv4".into(),
                    fields([
                        ("version", Value::from(4u8)),
                        ("ihl", 5u8.into()),
                        ("tot_len", self.len.min(u32::from(u16::MAX)).into()),
                        ("frag_off", 0x4000u16.into()),
                        ("ttl", 64u8.into()),
                        ("saddr", addr(t.saddr)),
                        ("daddr", addr(t.daddr)),
                        ("transport_header", Value::Variant("tcp".into(), tcp)),
                    ]),
                )
            }
        };
        fields([
            ("skbaddr", Value::from(self.skbaddr)),
            ("len", self.len.into()),
            ("name", self.dev.as_str().into()),
            ("network_header", header),
        ])
    }
}

impl KernelTraceBuilder {
    /// `sched_switch` from `prev_tid` (which must be the current task of
    /// `cpu`) to `next_tid`, which becomes current. `prev_state`: see
    /// [`TASK_RUNNING`], [`TASK_INTERRUPTIBLE`].
    pub fn sched_switch(
        &mut self,
        ts: u64,
        cpu: u32,
        prev_tid: i32,
        prev_state: i64,
        next_tid: i32,
    ) -> Result<&mut Self, GenerateError> {
        self.task_or_err(next_tid)?;
        let prev = self.current(cpu);
        if prev.tid != prev_tid {
            return Err(GenerateError::Value {
                event: "sched_switch".into(),
                field: "prev_tid".into(),
                why: format!("{prev_tid} is not current on CPU {cpu} ({} is)", prev.tid),
            });
        }
        let next = self.task_on(next_tid, cpu);
        self.write(
            ts,
            cpu,
            "sched_switch",
            &fields([
                ("prev_comm", Value::from(prev.comm.as_str())),
                ("prev_tid", prev.tid.into()),
                ("prev_prio", prev.prio.into()),
                ("prev_state", prev_state.into()),
                ("next_comm", next.comm.as_str().into()),
                ("next_tid", next.tid.into()),
                ("next_prio", next.prio.into()),
            ]),
        )?;
        self.set_current(cpu, next_tid)
    }

    /// `sched_wakeup` of `tid` (to run on `target_cpu`), written on `cpu`.
    pub fn sched_wakeup(
        &mut self,
        ts: u64,
        cpu: u32,
        tid: i32,
        target_cpu: u32,
    ) -> Result<&mut Self, GenerateError> {
        self.wakeup("sched_wakeup", ts, cpu, tid, target_cpu)
    }

    /// `sched_waking` of `tid` (to run on `target_cpu`), written on `cpu`.
    pub fn sched_waking(
        &mut self,
        ts: u64,
        cpu: u32,
        tid: i32,
        target_cpu: u32,
    ) -> Result<&mut Self, GenerateError> {
        self.wakeup("sched_waking", ts, cpu, tid, target_cpu)
    }

    fn wakeup(
        &mut self,
        name: &str,
        ts: u64,
        cpu: u32,
        tid: i32,
        target_cpu: u32,
    ) -> Result<&mut Self, GenerateError> {
        self.task_or_err(tid)?;
        let t = self.task_on(tid, target_cpu);
        self.write(
            ts,
            cpu,
            name,
            &fields([
                ("comm", Value::from(t.comm.as_str())),
                ("tid", t.tid.into()),
                ("prio", t.prio.into()),
                ("target_cpu", target_cpu.into()),
            ]),
        )
    }

    /// `sched_process_fork`: the current task of `cpu` forks `child`, which is
    /// registered. `vtids` lists the child's tid at each pid-namespace level,
    /// root first (two levels when its pid namespace is not the host's).
    pub fn sched_process_fork(
        &mut self,
        ts: u64,
        cpu: u32,
        child: Task,
    ) -> Result<&mut Self, GenerateError> {
        let parent = self.current(cpu);
        let mut vtids = vec![Value::from(child.tid)];
        if child.ns.nested_pid() {
            vtids.push(child.vtid.into());
        }
        self.write(
            ts,
            cpu,
            "sched_process_fork",
            &fields([
                ("parent_comm", Value::from(parent.comm.as_str())),
                ("parent_tid", parent.tid.into()),
                ("parent_pid", parent.pid.into()),
                ("parent_ns_inum", parent.ns.pid.into()),
                ("child_comm", child.comm.as_str().into()),
                ("child_tid", child.tid.into()),
                ("vtids", Value::List(vtids)),
                ("child_pid", child.pid.into()),
                ("child_ns_inum", child.ns.pid.into()),
            ]),
        )?;
        self.add_task(child);
        Ok(self)
    }

    /// `sched_process_exec` of `filename` by the current task of `cpu`, whose
    /// comm becomes the file's base name (15 bytes at most, as the kernel keeps it).
    pub fn sched_process_exec(
        &mut self,
        ts: u64,
        cpu: u32,
        filename: &str,
    ) -> Result<&mut Self, GenerateError> {
        let tid = self.current(cpu).tid;
        self.write(
            ts,
            cpu,
            "sched_process_exec",
            &fields([
                ("filename", Value::from(filename)),
                ("tid", tid.into()),
                ("old_tid", tid.into()),
            ]),
        )?;
        if let Some(t) = self.tasks.get_mut(&tid) {
            let base = filename.rsplit('/').next().unwrap_or(filename);
            t.comm = base
                .chars()
                .scan(0, |n, c| {
                    *n += c.len_utf8();
                    (*n <= 15).then_some(c)
                })
                .collect();
        }
        Ok(self)
    }

    /// `sched_process_exit` of the current task of `cpu`.
    pub fn sched_process_exit(&mut self, ts: u64, cpu: u32) -> Result<&mut Self, GenerateError> {
        let t = self.current(cpu);
        self.write(
            ts,
            cpu,
            "sched_process_exit",
            &fields([
                ("comm", Value::from(t.comm.as_str())),
                ("tid", t.tid.into()),
                ("prio", t.prio.into()),
            ]),
        )
    }

    /// `syscall_entry_<name>` by the current task of `cpu`.
    pub fn syscall_entry(
        &mut self,
        ts: u64,
        cpu: u32,
        name: &str,
        args: &[(&str, Value)],
    ) -> Result<&mut Self, GenerateError> {
        self.event(ts, cpu, &format!("syscall_entry_{name}"), args)
    }

    /// `syscall_exit_<name>` with return value `ret` by the current task of `cpu`.
    pub fn syscall_exit(
        &mut self,
        ts: u64,
        cpu: u32,
        name: &str,
        ret: i64,
        args: &[(&str, Value)],
    ) -> Result<&mut Self, GenerateError> {
        let mut all: Fields = vec![("ret".into(), ret.into())];
        all.extend(args.iter().map(|(n, v)| ((*n).to_string(), v.clone())));
        self.write(ts, cpu, &format!("syscall_exit_{name}"), &all)
    }

    /// `syscall_entry_read(fd, count)`.
    pub fn syscall_entry_read(
        &mut self,
        ts: u64,
        cpu: u32,
        fd: u32,
        count: u64,
    ) -> Result<&mut Self, GenerateError> {
        self.syscall_entry(
            ts,
            cpu,
            "read",
            &[("fd", fd.into()), ("count", count.into())],
        )
    }

    /// `syscall_exit_read(ret)`.
    pub fn syscall_exit_read(
        &mut self,
        ts: u64,
        cpu: u32,
        ret: i64,
    ) -> Result<&mut Self, GenerateError> {
        self.syscall_exit(ts, cpu, "read", ret, &[])
    }

    /// `net_dev_queue` (a packet sent) on `cpu`.
    pub fn net_dev_queue(
        &mut self,
        ts: u64,
        cpu: u32,
        packet: &NetPacket,
    ) -> Result<&mut Self, GenerateError> {
        self.write(ts, cpu, "net_dev_queue", &packet.fields())
    }

    /// `net_if_receive_skb` (the kernel's `netif_receive_skb`: a packet received) on `cpu`.
    pub fn netif_receive_skb(
        &mut self,
        ts: u64,
        cpu: u32,
        packet: &NetPacket,
    ) -> Result<&mut Self, GenerateError> {
        self.write(ts, cpu, "net_if_receive_skb", &packet.fields())
    }

    /// `block_rq_issue` of a request of `bytes` at `sector` of `dev` by the
    /// current task of `cpu`; `rwbs`: [`RWBS_READ`], [`RWBS_WRITE`].
    pub fn block_rq_issue(
        &mut self,
        ts: u64,
        cpu: u32,
        dev: u32,
        sector: u64,
        bytes: u32,
        rwbs: u32,
    ) -> Result<&mut Self, GenerateError> {
        let t = self.current(cpu);
        self.write(
            ts,
            cpu,
            "block_rq_issue",
            &fields([
                ("dev", Value::from(dev)),
                ("sector", sector.into()),
                ("nr_sector", (bytes >> 9).into()),
                ("bytes", bytes.into()),
                ("tid", t.tid.into()),
                ("rwbs", rwbs.into()),
                ("comm", t.comm.as_str().into()),
            ]),
        )
    }

    /// `block_rq_complete` of the request of `bytes` at `sector` of `dev`.
    pub fn block_rq_complete(
        &mut self,
        ts: u64,
        cpu: u32,
        dev: u32,
        sector: u64,
        bytes: u32,
        rwbs: u32,
    ) -> Result<&mut Self, GenerateError> {
        self.write(
            ts,
            cpu,
            "block_rq_complete",
            &fields([
                ("dev", Value::from(dev)),
                ("sector", sector.into()),
                ("nr_sector", (bytes >> 9).into()),
                ("errors", 0i32.into()),
                ("rwbs", rwbs.into()),
            ]),
        )
    }

    /// `kmem_mm_page_alloc` of 2^`order` pages at `pfn` by the current task of `cpu`.
    pub fn mm_page_alloc(
        &mut self,
        ts: u64,
        cpu: u32,
        pfn: u64,
        order: u32,
    ) -> Result<&mut Self, GenerateError> {
        self.write(
            ts,
            cpu,
            "kmem_mm_page_alloc",
            &fields([
                ("page", Value::from(0xffff_ea00_0000_0000u64 + pfn * 64)),
                ("pfn", pfn.into()),
                ("order", order.into()),
                ("gfp_flags", 0x0060_00c0u32.into()), // GFP_KERNEL
                ("migratetype", 0i32.into()),
            ]),
        )
    }

    /// `kmem_mm_page_free` of 2^`order` pages at `pfn`.
    pub fn mm_page_free(
        &mut self,
        ts: u64,
        cpu: u32,
        pfn: u64,
        order: u32,
    ) -> Result<&mut Self, GenerateError> {
        self.write(
            ts,
            cpu,
            "kmem_mm_page_free",
            &fields([
                ("page", Value::from(0xffff_ea00_0000_0000u64 + pfn * 64)),
                ("pfn", pfn.into()),
                ("order", order.into()),
            ]),
        )
    }

    /// `x86_exceptions_page_fault_user` of the current task of `cpu`.
    pub fn page_fault_user(
        &mut self,
        ts: u64,
        cpu: u32,
        address: u64,
        ip: u64,
        error_code: u8,
    ) -> Result<&mut Self, GenerateError> {
        self.write(
            ts,
            cpu,
            "x86_exceptions_page_fault_user",
            &fields([
                ("address", Value::from(address)),
                ("ip", ip.into()),
                ("error_code", error_code.into()),
            ]),
        )
    }

    /// A whole statedump on `cpu`, all events at `ts`: `lttng_statedump_start`,
    /// [`statedump_process`](Self::statedump_process) for every registered
    /// task (by tid), `lttng_statedump_end`.
    pub fn statedump(&mut self, ts: u64, cpu: u32) -> Result<&mut Self, GenerateError> {
        self.event(ts, cpu, "lttng_statedump_start", &[])?;
        let mut tids: Vec<i32> = self.tasks.keys().copied().filter(|&t| t != 0).collect();
        tids.sort_unstable();
        for tid in tids {
            self.statedump_process(ts, cpu, tid)?;
        }
        self.event(ts, cpu, "lttng_statedump_end", &[])
    }

    /// The statedump events of one task: `lttng_statedump_process_state` (the
    /// 2.10 form, which carries the innermost pid namespace), then the 2.12+
    /// `lttng_statedump_process_{pid,cgroup,ipc,mnt,net,user,uts}_ns` events
    /// (`pid_ns` once per level, innermost first, as lttng-modules walks them).
    pub fn statedump_process(
        &mut self,
        ts: u64,
        cpu: u32,
        tid: i32,
    ) -> Result<&mut Self, GenerateError> {
        self.task_or_err(tid)?;
        let t = self.task_on(tid, cpu);
        let level = i32::from(t.ns.nested_pid());
        self.write(
            ts,
            cpu,
            "lttng_statedump_process_state",
            &fields([
                ("tid", Value::from(t.tid)),
                ("vtid", t.vtid.into()),
                ("pid", t.pid.into()),
                ("vpid", t.vpid.into()),
                ("ppid", t.ppid.into()),
                ("vppid", t.vppid.into()),
                ("name", t.comm.as_str().into()),
                ("type", 0i32.into()),    // user thread
                ("mode", 5i32.into()),    // unknown
                ("submode", 1i32.into()), // unknown
                ("status", 5i32.into()),  // wait
                ("ns_level", level.into()),
                ("ns_inum", t.ns.pid.into()),
                ("cpu", cpu.into()),
            ]),
        )?;
        let mut levels = Vec::new();
        if t.ns.nested_pid() {
            levels.push((1, t.vtid, t.vpid, t.vppid, t.ns.pid));
        }
        levels.push((0, t.tid, t.pid, t.ppid, host_ns::PID));
        for (level, vtid, vpid, vppid, inum) in levels {
            self.write(
                ts,
                cpu,
                "lttng_statedump_process_pid_ns",
                &fields([
                    ("tid", Value::from(t.tid)),
                    ("vtid", vtid.into()),
                    ("vpid", vpid.into()),
                    ("vppid", vppid.into()),
                    ("ns_level", Value::from(level)),
                    ("ns_inum", inum.into()),
                ]),
            )?;
        }
        for (ns, inum) in [
            ("cgroup", t.ns.cgroup),
            ("ipc", t.ns.ipc),
            ("mnt", t.ns.mnt),
            ("net", t.ns.net),
            ("uts", t.ns.uts),
        ] {
            self.write(
                ts,
                cpu,
                &format!("lttng_statedump_process_{ns}_ns"),
                &fields([("tid", Value::from(t.tid)), ("ns_inum", inum.into())]),
            )?;
        }
        self.write(
            ts,
            cpu,
            "lttng_statedump_process_user_ns",
            &fields([
                ("tid", Value::from(t.tid)),
                ("vuid", 0u32.into()),
                ("vgid", 0u32.into()),
                ("ns_level", 0i32.into()),
                ("ns_inum", t.ns.user.into()),
            ]),
        )
    }
}
