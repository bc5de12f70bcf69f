//! Tasks (threads) of a generated trace and the context fields recorded
//! with every event (`lttng add-context -k -t ...`).

use super::value::Value;

/// Inode numbers of the initial namespaces of a Linux host (the values
/// `/proc/1/ns/*` shows on a stock kernel); tasks start in these.
pub mod host_ns {
    /// `pid` namespace.
    pub const PID: u32 = 4_026_531_836;
    /// `net` namespace.
    pub const NET: u32 = 4_026_531_992;
    /// `mnt` namespace.
    pub const MNT: u32 = 4_026_531_840;
    /// `cgroup` namespace.
    pub const CGROUP: u32 = 4_026_531_835;
    /// `ipc` namespace.
    pub const IPC: u32 = 4_026_531_839;
    /// `uts` namespace.
    pub const UTS: u32 = 4_026_531_838;
    /// `user` namespace.
    pub const USER: u32 = 4_026_531_837;
}

/// The namespaces of a task (inode numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Namespaces {
    /// `pid` namespace (the task's active one).
    pub pid: u32,
    /// `net` namespace.
    pub net: u32,
    /// `mnt` namespace.
    pub mnt: u32,
    /// `cgroup` namespace.
    pub cgroup: u32,
    /// `ipc` namespace.
    pub ipc: u32,
    /// `uts` namespace.
    pub uts: u32,
    /// `user` namespace.
    pub user: u32,
}

impl Namespaces {
    /// The host's initial namespaces ([`host_ns`]).
    pub const HOST: Namespaces = Namespaces {
        pid: host_ns::PID,
        net: host_ns::NET,
        mnt: host_ns::MNT,
        cgroup: host_ns::CGROUP,
        ipc: host_ns::IPC,
        uts: host_ns::UTS,
        user: host_ns::USER,
    };

    /// A container's namespaces: `pid`, `net`, `mnt`, `cgroup`, `ipc`, `uts`
    /// get the inodes `base`, `base + 1`, ... `base + 5`; `user` stays the host's
    /// (as with Docker without user-namespace remapping).
    pub const fn container(base: u32) -> Namespaces {
        Namespaces {
            pid: base,
            net: base + 1,
            mnt: base + 2,
            cgroup: base + 3,
            ipc: base + 4,
            uts: base + 5,
            user: host_ns::USER,
        }
    }

    /// Whether the pid namespace is not the host's (the task has a second pid level).
    pub fn nested_pid(&self) -> bool {
        self.pid != host_ns::PID
    }
}

/// A thread as the kernel sees it. Build with [`Task::new`] and the setters.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// Thread id in the host (root) pid namespace.
    pub tid: i32,
    /// Process (thread group) id, root namespace.
    pub pid: i32,
    /// Parent process id, root namespace.
    pub ppid: i32,
    /// Thread id in the task's own pid namespace.
    pub vtid: i32,
    /// Process id in the task's own pid namespace.
    pub vpid: i32,
    /// Parent process id in the task's own pid namespace (0 when the parent is outside).
    pub vppid: i32,
    /// `comm` (at most 15 bytes, as the kernel keeps it).
    pub comm: String,
    /// Priority as lttng-modules records it (`prio - MAX_RT_PRIO`: 20 for nice 0).
    pub prio: i32,
    /// Namespaces.
    pub ns: Namespaces,
    /// UTS nodename (`hostname` context); `None` means the trace's hostname.
    pub hostname: Option<String>,
}

impl Task {
    /// A single-threaded process `tid` called `comm` in the host namespaces,
    /// child of init (ppid 1), nice 0.
    pub fn new(tid: i32, comm: &str) -> Task {
        Task {
            tid,
            pid: tid,
            ppid: 1,
            vtid: tid,
            vpid: tid,
            vppid: 1,
            comm: comm.to_string(),
            prio: 20,
            ns: Namespaces::HOST,
            hostname: None,
        }
    }

    /// The idle task of a CPU (tid 0, `swapper/N`).
    pub fn idle(cpu: u32) -> Task {
        let mut t = Task::new(0, &format!("swapper/{cpu}"));
        t.ppid = 0;
        t.vppid = 0;
        t
    }

    /// A thread of process `pid` (root-namespace id); `vpid` follows `pid`
    /// unless set after.
    pub fn thread_of(mut self, pid: i32) -> Task {
        self.vpid = self.vpid - self.pid + pid;
        self.pid = pid;
        self
    }

    /// The parent process (root-namespace id).
    pub fn ppid(mut self, ppid: i32) -> Task {
        self.ppid = ppid;
        self.vppid = ppid;
        self
    }

    /// Ids inside the task's own pid namespace.
    pub fn virtual_ids(mut self, vtid: i32, vpid: i32, vppid: i32) -> Task {
        self.vtid = vtid;
        self.vpid = vpid;
        self.vppid = vppid;
        self
    }

    /// The task's namespaces.
    pub fn namespaces(mut self, ns: Namespaces) -> Task {
        self.ns = ns;
        self
    }

    /// The task's UTS nodename (`hostname` context).
    pub fn hostname(mut self, name: &str) -> Task {
        self.hostname = Some(name.to_string());
        self
    }
}

/// A context field recorded with every event of the channel, as
/// `lttng add-context -k -t NAME` adds it (lttng-modules `lttng-context-*.c`
/// types). The column is named like the variant in snake case (`pid_ns`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Context {
    /// `procname`: `char[16]`, the task's comm.
    Procname,
    /// `pid`: s32.
    Pid,
    /// `tid`: s32.
    Tid,
    /// `ppid`: s32.
    Ppid,
    /// `vpid`: s32.
    Vpid,
    /// `vtid`: s32.
    Vtid,
    /// `vppid`: s32.
    Vppid,
    /// `pid_ns`: u32 inode.
    PidNs,
    /// `net_ns`: u32 inode.
    NetNs,
    /// `mnt_ns`: u32 inode.
    MntNs,
    /// `cgroup_ns`: u32 inode.
    CgroupNs,
    /// `ipc_ns`: u32 inode.
    IpcNs,
    /// `uts_ns`: u32 inode.
    UtsNs,
    /// `user_ns`: u32 inode.
    UserNs,
    /// `hostname`: `char[65]`, the task's UTS nodename.
    Hostname,
    /// `cpu_id`: s32.
    CpuId,
    /// `prio`: s32.
    Prio,
}

/// The contexts a container-aware kernel session adds by default.
pub const DEFAULT_CONTEXTS: &[Context] = &[
    Context::Procname,
    Context::Pid,
    Context::Tid,
    Context::Vpid,
    Context::Vtid,
    Context::PidNs,
    Context::NetNs,
    Context::MntNs,
    Context::CgroupNs,
];

const S32: &str = "integer { size = 32; align = 8; signed = 1; encoding = none; base = 10; }";
const U32: &str = "integer { size = 32; align = 8; signed = 0; encoding = none; base = 10; }";
const CHAR: &str = "integer { size = 8; align = 8; signed = 0; encoding = UTF8; base = 10; }";

impl Context {
    /// The field name (the column name; the metadata adds a leading `_`).
    pub fn name(self) -> &'static str {
        match self {
            Context::Procname => "procname",
            Context::Pid => "pid",
            Context::Tid => "tid",
            Context::Ppid => "ppid",
            Context::Vpid => "vpid",
            Context::Vtid => "vtid",
            Context::Vppid => "vppid",
            Context::PidNs => "pid_ns",
            Context::NetNs => "net_ns",
            Context::MntNs => "mnt_ns",
            Context::CgroupNs => "cgroup_ns",
            Context::IpcNs => "ipc_ns",
            Context::UtsNs => "uts_ns",
            Context::UserNs => "user_ns",
            Context::Hostname => "hostname",
            Context::CpuId => "cpu_id",
            Context::Prio => "prio",
        }
    }

    /// The TSDL declaration lttng-modules writes for it.
    pub(crate) fn declaration(self) -> String {
        let name = self.name();
        match self {
            Context::Procname => format!("{CHAR} _{name}[16];"),
            Context::Hostname => format!("{CHAR} _{name}[65];"),
            Context::Pid
            | Context::Tid
            | Context::Ppid
            | Context::Vpid
            | Context::Vtid
            | Context::Vppid
            | Context::CpuId
            | Context::Prio => format!("{S32} _{name};"),
            Context::PidNs
            | Context::NetNs
            | Context::MntNs
            | Context::CgroupNs
            | Context::IpcNs
            | Context::UtsNs
            | Context::UserNs => format!("{U32} _{name};"),
        }
    }

    /// Its value for an event of `task` on `cpu` in a trace of `hostname`.
    pub(crate) fn value(self, task: &Task, cpu: u32, hostname: &str) -> Value {
        match self {
            Context::Procname => Value::Str(task.comm.clone()),
            Context::Pid => task.pid.into(),
            Context::Tid => task.tid.into(),
            Context::Ppid => task.ppid.into(),
            Context::Vpid => task.vpid.into(),
            Context::Vtid => task.vtid.into(),
            Context::Vppid => task.vppid.into(),
            Context::PidNs => task.ns.pid.into(),
            Context::NetNs => task.ns.net.into(),
            Context::MntNs => task.ns.mnt.into(),
            Context::CgroupNs => task.ns.cgroup.into(),
            Context::IpcNs => task.ns.ipc.into(),
            Context::UtsNs => task.ns.uts.into(),
            Context::UserNs => task.ns.user.into(),
            Context::Hostname => Value::Str(task.hostname.as_deref().unwrap_or(hostname).into()),
            Context::CpuId => Value::Int(i128::from(cpu)),
            Context::Prio => task.prio.into(),
        }
    }
}
