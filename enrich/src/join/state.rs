//! What the join knows about one host: its containers by namespace inode,
//! its own namespaces, and which namespaces each kernel thread is in.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::record::{Change, ContainerRecord, Namespaces};

/// The namespace kinds the join keys on, in the order it tries them.
pub(crate) const KINDS: usize = 4;
/// Index of the pid namespace in a key.
pub(crate) const PID: usize = 0;

/// Well-known inodes of the initial namespaces (`include/linux/proc_ns.h`):
/// pid, then none for net and mnt (allocated at boot), then cgroup.
const INITIAL: [Option<u32>; KINDS] = [Some(0xEFFF_FFFC), None, None, Some(0xEFFF_FFFB)];

/// A row's namespace inodes (0: unknown), in [`KINDS`] order.
pub(crate) type NsKey = [u32; KINDS];

/// What a row resolves to: a slot index, or one of these.
pub(crate) type Code = u32;
/// In the host's own namespaces: no container.
pub(crate) const HOST: Code = u32::MAX;
/// Not known yet: the row may wait for a container record.
pub(crate) const UNKNOWN: Code = u32::MAX - 1;
/// Nothing to join on (no namespace, no tid): no container, never waits.
pub(crate) const NO_KEY: Code = u32::MAX - 2;

/// A fast hasher for small integer keys (namespace inodes, tids); not
/// DoS-resistant, which is fine for keys a tracer produced.
#[derive(Default)]
pub(crate) struct IntHasher(u64);

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Eight bytes a round (a namespace key of four u32 arrives as 16 bytes).
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_i32(&mut self, n: i32) {
        self.write_u64(n as u32 as u64);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// A `HashMap` with [`IntHasher`].
pub(crate) type IntMap<K, V> = HashMap<K, V, BuildHasherDefault<IntHasher>>;

/// The enrichment values of one container, in `trawl_core::containers::ENRICHMENT` order.
pub(crate) type Info = [Option<Arc<str>>; 6];

/// A known container.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) id: String,
    pub(crate) info: Info,
    ns: NsKey,
    /// When it got its namespaces (the start record's time).
    started_at: i64,
    /// When it stopped or was removed (its mappings stay for the grace period).
    ended_at: Option<i64>,
}

/// The namespaces a kernel thread is in, learned from fork and statedump events.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Thread {
    pub(crate) ns: NsKey,
    exited_at: Option<i64>,
}

/// One host's tables.
#[derive(Debug, Default)]
pub(crate) struct HostState {
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    by_id: HashMap<String, u32>,
    /// The containers in each namespace (several share one: a pod's network namespace).
    by_ns: [IntMap<u32, Vec<u32>>; KINDS],
    host_ns: [Option<u32>; KINDS],
    pub(crate) threads: IntMap<i32, Thread>,
    /// Per CPU, the threads `sched_switch` put on it, in time order.
    switches: IntMap<u32, Vec<(i64, i32)>>,
    /// The latest watermark of any of the host's traces.
    pub(crate) watermark: i64,
    /// The latest watermark of the host's kernel trace: every
    /// `sched_switch` before it has been seen.
    pub(crate) kernel_watermark: i64,
}

/// Which thread ran on a CPU at some time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Running {
    Thread(i32),
    /// No switch to it is in the trace (it ran since before the trace began).
    Unknowable,
    /// A switch may still arrive (the kernel trace's watermark is behind).
    NotYet,
}

fn key_of(ns: &Namespaces) -> NsKey {
    [ns.pid_ns, ns.net_ns, ns.mnt_ns, ns.cgroup_ns].map(|v| v.unwrap_or(0))
}

fn info_of(r: &ContainerRecord) -> Info {
    let s = |v: Option<&str>| v.map(Arc::<str>::from);
    [
        s(Some(&r.id)),
        s(r.name.as_deref()),
        s(r.image.as_deref()),
        s(r.k8s_namespace()),
        s(r.k8s_pod()),
        s(r.k8s_container()),
    ]
}

impl HostState {
    /// The container in slot `code`.
    pub(crate) fn slot(&self, code: Code) -> Option<&Slot> {
        self.slots.get(code as usize).and_then(Option::as_ref)
    }

    /// Applies one record.
    pub(crate) fn apply(&mut self, r: &ContainerRecord) {
        if r.change == Change::Host {
            let key = key_of(&r.ns);
            for (kind, v) in key.into_iter().enumerate() {
                if v != 0 {
                    self.host_ns[kind] = Some(v);
                }
            }
            return;
        }
        let index = match self.by_id.get(&r.id) {
            Some(&i) => i,
            None => {
                let i = self.free.pop().unwrap_or(self.slots.len() as u32);
                if i as usize == self.slots.len() {
                    self.slots.push(None);
                }
                self.by_id.insert(r.id.clone(), i);
                i
            }
        };
        let (old_ns, old_start) = self.slots[index as usize]
            .as_ref()
            .map_or(([0; KINDS], r.ts), |s| (s.ns, s.started_at));
        let mut ns = key_of(&r.ns);
        // A stop record without namespaces keeps the ones it had.
        if ns == [0; KINDS] {
            ns = old_ns;
        }
        let started_at = if ns == old_ns { old_start } else { r.ts };
        self.unmap(index, old_ns);
        self.slots[index as usize] = Some(Slot {
            id: r.id.clone(),
            info: info_of(r),
            ns,
            started_at,
            ended_at: r.change.is_end().then_some(r.ts),
        });
        for (kind, v) in ns.into_iter().enumerate() {
            if v != 0 {
                let mut slots = self.by_ns[kind].remove(&v).unwrap_or_default();
                slots.push(index);
                slots.sort_by_key(|&s| self.slot(s).map_or(i64::MIN, |s| s.started_at));
                self.by_ns[kind].insert(v, slots);
            }
        }
        for &pid in &r.pids {
            // Seed the kernel-thread table: the watcher's pids are the host's.
            self.threads.entry(pid).or_insert(Thread {
                ns,
                exited_at: None,
            });
        }
    }

    fn unmap(&mut self, index: u32, ns: NsKey) {
        for (kind, v) in ns.into_iter().enumerate() {
            if let Some(slots) = self.by_ns[kind].get_mut(&v) {
                slots.retain(|&s| s != index);
                if slots.is_empty() {
                    self.by_ns[kind].remove(&v);
                }
            }
        }
    }

    /// Forgets containers and threads that ended more than `grace` before
    /// the watermark.
    pub(crate) fn purge(&mut self, grace: i64) {
        let limit = self.watermark.saturating_sub(grace);
        for index in 0..self.slots.len() {
            let Some(slot) = &self.slots[index] else {
                continue;
            };
            if slot.ended_at.is_some_and(|t| t < limit) {
                let (id, ns) = (slot.id.clone(), slot.ns);
                self.unmap(index as u32, ns);
                self.by_id.remove(&id);
                self.slots[index] = None;
                self.free.push(index as u32);
            }
        }
        self.threads
            .retain(|_, t| t.exited_at.is_none_or(|at| at >= limit));
        // Keep the last switch before the limit: its thread still runs.
        for timeline in self.switches.values_mut() {
            let before = timeline.partition_point(|&(t, _)| t < limit);
            timeline.drain(..before.saturating_sub(1));
        }
    }

    /// The container a `pid_ns` inode names whatever the row's other
    /// namespaces and time: a live container's own (what
    /// [`HostState::resolve`] answers first for such rows). `None` when the
    /// row's other namespaces or its time must be looked at.
    pub(crate) fn owner_of_pid_ns(&self, v: u32) -> Option<Code> {
        if v == 0 || self.host_ns[PID] == Some(v) || INITIAL[PID] == Some(v) {
            return None;
        }
        match self.by_ns[PID].get(&v).map(Vec::as_slice) {
            Some(&[slot]) if self.slot(slot).is_some_and(|c| c.ended_at.is_none()) => Some(slot),
            _ => None,
        }
    }

    /// What a row at time `ts` with these namespaces belongs to, and
    /// whether that answer holds at any time (so it may be cached).
    ///
    /// The first kind (pid, net, mnt, cgroup) naming a container wins; a
    /// namespace of the host's names none (containers often share the
    /// host's cgroup or network namespace). Else the host if the first
    /// known kind is the host's; else unknown.
    pub(crate) fn resolve(&self, key: &NsKey, ts: i64) -> (Code, bool) {
        let mut first_is_host = None;
        let mut timeless = true;
        for kind in 0..KINDS {
            let v = key[kind];
            if v == 0 {
                continue;
            }
            let on_host = self.host_ns[kind] == Some(v) || INITIAL[kind] == Some(v);
            first_is_host.get_or_insert(on_host);
            if on_host {
                continue;
            }
            match self.by_ns[kind].get(&v).map(Vec::as_slice) {
                Some(&[slot]) if self.slot(slot).is_some_and(|c| c.ended_at.is_none()) => {
                    return (slot, timeless);
                }
                // Ended containers own their inodes only until they ended.
                Some(slots) => {
                    timeless = false;
                    if let Some(slot) = self.owner_at(slots, ts) {
                        return (slot, false);
                    }
                }
                None => {}
            }
        }
        let code = match first_is_host {
            None => NO_KEY,
            Some(true) => HOST,
            Some(false) => UNKNOWN,
        };
        (code, timeless)
    }

    /// Of several containers with one namespace inode (by start time), the
    /// one it belonged to at `ts`. The kernel reuses the inode of a freed
    /// namespace, so containers run one after the other share it: each owns
    /// it until it ended (after that, until the next one's record arrives,
    /// the inode is unknown: its events wait). Containers alive together (a pod's network
    /// namespace) name none.
    fn owner_at(&self, slots: &[u32], ts: i64) -> Option<u32> {
        let slot = |s: u32| self.slot(s);
        let at = slots
            .iter()
            .position(|&s| slot(s).is_some_and(|c| c.ended_at.is_none_or(|e| e >= ts)))?;
        let overlapping = slots[at + 1..]
            .iter()
            .any(|&s| slot(s).is_some_and(|c| c.started_at <= ts));
        (!overlapping).then_some(slots[at])
    }

    /// `sched_switch` put `tid` on `cpu` at `ts`.
    pub(crate) fn switched(&mut self, cpu: u32, ts: i64, tid: i32) {
        let timeline = self.switches.entry(cpu).or_default();
        // Switches come in time order; a late one is put in its place.
        let at = timeline.partition_point(|&(t, _)| t <= ts);
        timeline.insert(at, (ts, tid));
    }

    /// The thread on `cpu` at `ts`. Known once a later switch on that CPU
    /// or the kernel trace's watermark shows that no switch in between can
    /// still arrive (sources deliver each class's rows in time order).
    pub(crate) fn running_at(&self, cpu: u32, ts: i64) -> Running {
        let timeline = self.switches.get(&cpu).map_or(&[][..], Vec::as_slice);
        let after = timeline.partition_point(|&(t, _)| t <= ts);
        let closed = after < timeline.len() || ts < self.kernel_watermark;
        match (after.checked_sub(1).map(|i| timeline[i].1), closed) {
            (_, false) => Running::NotYet,
            (Some(tid), true) => Running::Thread(tid),
            (None, true) => Running::Unknowable,
        }
    }

    /// What a kernel thread belongs to at `ts` (see [`HostState::resolve`]).
    pub(crate) fn resolve_tid(&self, tid: i32, ts: i64) -> (Code, bool) {
        if tid == 0 {
            // The idle task (swapper) of every CPU.
            return (HOST, true);
        }
        self.threads
            .get(&tid)
            .map_or((UNKNOWN, true), |t| self.resolve(&t.ns, ts))
    }

    /// `child` was forked by `parent` into the pid namespace `pid_ns`: it
    /// shares the parent's other namespaces (setns/unshare leave no event).
    pub(crate) fn fork(&mut self, parent: Option<i32>, child: i32, pid_ns: u32) {
        let mut ns = parent
            .and_then(|p| self.threads.get(&p))
            .map_or([0; KINDS], |t| t.ns);
        ns[PID] = pid_ns;
        self.threads.insert(
            child,
            Thread {
                ns,
                exited_at: None,
            },
        );
    }

    /// `tid` is in namespace `inode` of `kind` (statedump).
    pub(crate) fn learn(&mut self, tid: i32, kind: usize, inode: u32) {
        let t = self.threads.entry(tid).or_insert(Thread {
            ns: [0; KINDS],
            exited_at: None,
        });
        t.ns[kind] = inode;
        t.exited_at = None;
    }

    /// `tid` exited at `ts` (kept for the grace period: its last events follow).
    pub(crate) fn exit(&mut self, tid: i32, ts: i64) {
        if let Some(t) = self.threads.get_mut(&tid) {
            t.exited_at = Some(ts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, change: Change, pid_ns: u32, net_ns: u32) -> ContainerRecord {
        ContainerRecord {
            ts: 100,
            host: "h".into(),
            change,
            id: id.into(),
            name: Some(format!("n-{id}")),
            ns: Namespaces {
                pid_ns: Some(pid_ns),
                net_ns: Some(net_ns),
                ..Namespaces::default()
            },
            ..ContainerRecord::default()
        }
    }

    #[test]
    fn pid_ns_first_then_net_ns_then_host_or_unknown() {
        let mut h = HostState::default();
        h.apply(&record("a", Change::Started, 10, 20));
        h.apply(&ContainerRecord {
            change: Change::Host,
            ns: Namespaces {
                pid_ns: Some(1),
                net_ns: Some(2),
                ..Namespaces::default()
            },
            ..ContainerRecord::default()
        });
        let a = h.resolve(&[10, 0, 0, 0], 0).0;
        assert_eq!(h.slot(a).unwrap().id, "a");
        // A container sharing the host's pid namespace, found by its network one.
        assert_eq!(h.resolve(&[1, 20, 0, 0], 0).0, a);
        assert_eq!(h.resolve(&[1, 2, 0, 0], 0).0, HOST);
        assert_eq!(h.resolve(&[0xEFFF_FFFC, 0, 0, 0], 0).0, HOST);
        assert_eq!(h.resolve(&[11, 2, 0, 0], 0).0, UNKNOWN);
        assert_eq!(h.resolve(&[0; 4], 0).0, NO_KEY);
        // A container in the host's cgroup namespace (Docker on cgroup v1):
        // the host's own events do not become its.
        h.apply(&ContainerRecord {
            ns: Namespaces {
                cgroup_ns: Some(0xEFFF_FFFB),
                ..record("b", Change::Started, 12, 22).ns
            },
            ..record("b", Change::Started, 12, 22)
        });
        assert_eq!(h.resolve(&[1, 2, 0, 0xEFFF_FFFB], 0).0, HOST);
        // Two containers alive in one network namespace (a pod): it names neither.
        h.apply(&record("c", Change::Started, 13, 22));
        assert_eq!(h.resolve(&[14, 22, 0, 0], 1000).0, UNKNOWN);
        assert_eq!(h.slot(h.resolve(&[13, 22, 0, 0], 1000).0).unwrap().id, "c");
    }

    #[test]
    fn the_thread_on_a_cpu_is_known_once_no_switch_can_still_come() {
        let mut h = HostState::default();
        h.switched(0, 100, 7);
        h.switched(0, 300, 8);
        // Put in place although it came late.
        h.switched(0, 200, 9);
        // Before the first switch, which came in time order: never known.
        assert_eq!(h.running_at(0, 50), Running::Unknowable);
        assert_eq!(h.running_at(1, 50), Running::NotYet);
        assert_eq!(h.running_at(0, 150), Running::Thread(7));
        assert_eq!(h.running_at(0, 200), Running::Thread(9));
        // After the last switch: a later one may still arrive.
        assert_eq!(h.running_at(0, 400), Running::NotYet);
        h.kernel_watermark = 500;
        assert_eq!(h.running_at(0, 400), Running::Thread(8));
        assert_eq!(h.running_at(0, 50), Running::Unknowable);
        assert_eq!(h.running_at(1, 50), Running::Unknowable);
        // Purging keeps the switch whose thread still runs at the limit.
        h.watermark = 350;
        h.purge(100);
        assert_eq!(h.running_at(0, 260), Running::Thread(9));
        assert_eq!(h.running_at(0, 400), Running::Thread(8));
    }

    #[test]
    fn ended_containers_stay_for_the_grace_period_and_slots_are_reused() {
        let mut h = HostState::default();
        h.apply(&record("a", Change::Started, 10, 20));
        h.apply(&ContainerRecord {
            ns: Namespaces::default(),
            ..record("a", Change::Removed, 0, 0)
        });
        h.watermark = 150;
        h.purge(100);
        assert_eq!(h.slot(h.resolve(&[10, 0, 0, 0], 0).0).unwrap().id, "a");
        // Its late events join; none can come from it after it ended.
        assert_eq!(h.resolve(&[10, 0, 0, 0], 101).0, UNKNOWN);
        h.watermark = 201;
        h.purge(100);
        assert_eq!(h.resolve(&[10, 0, 0, 0], 0).0, UNKNOWN);
        h.apply(&record("b", Change::Started, 30, 40));
        assert_eq!(h.resolve(&[30, 0, 0, 0], 0).0, 0);
    }

    #[test]
    fn a_reused_namespace_inode_belongs_to_each_container_in_turn() {
        let mut h = HostState::default();
        let at = |ts, r: ContainerRecord| ContainerRecord { ts, ..r };
        h.apply(&at(100, record("a", Change::Started, 10, 20)));
        h.apply(&at(200, record("a", Change::Stopped, 10, 20)));
        h.apply(&at(300, record("b", Change::Started, 10, 21)));
        let who = |ts| h.slot(h.resolve(&[10, 0, 0, 0], ts).0).unwrap().id.clone();
        assert_eq!(who(150), "a");
        assert_eq!(who(200), "a");
        assert_eq!(who(250), "b");
        assert_eq!(who(400), "b");
        // Not cacheable across rows: the answer depends on the time.
        assert!(!h.resolve(&[10, 0, 0, 0], 150).1);
        assert!(h.resolve(&[0, 21, 0, 0], 150).1);
    }

    #[test]
    fn threads_inherit_namespaces_on_fork() {
        let mut h = HostState::default();
        h.apply(&record("a", Change::Started, 10, 20));
        h.learn(5, 1, 20);
        assert_eq!(h.slot(h.resolve_tid(5, 0).0).unwrap().id, "a");
        h.fork(Some(5), 6, 99);
        // Unknown pid namespace, but the parent's network namespace is a's.
        assert_eq!(h.slot(h.resolve_tid(6, 0).0).unwrap().id, "a");
        assert_eq!(h.resolve_tid(7, 0).0, UNKNOWN);
        assert_eq!(h.resolve_tid(0, 0).0, HOST);
    }
}
