//! Containers found without any runtime API: every process's cgroup path
//! (`/proc/PID/cgroup`, [`crate::cgroup`]) and namespaces (`/proc/PID/ns/*`).

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use crate::cgroup::{self, CgroupContainer};
use crate::record::{Change, ContainerRecord, LABEL_POD_UID, Namespaces};

/// A view of a `/proc` (the host's, or one mounted elsewhere).
#[derive(Debug, Clone)]
pub struct Procfs {
    root: PathBuf,
}

/// One process of a container.
#[derive(Debug, Clone)]
struct Member {
    pid: i32,
    ppid: i32,
    cgroup_path: String,
}

impl Procfs {
    /// `/proc` at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Procfs { root: root.into() }
    }

    /// Namespace inodes of process `pid` (`self` for the reader); those that
    /// cannot be read are `None`.
    pub fn namespaces(&self, pid: &str) -> Namespaces {
        let dir = self.root.join(pid).join("ns");
        let inode = |name: &str| read_ns(&dir.join(name));
        Namespaces {
            pid_ns: inode("pid"),
            net_ns: inode("net"),
            mnt_ns: inode("mnt"),
            cgroup_ns: inode("cgroup"),
            ipc_ns: inode("ipc"),
            uts_ns: inode("uts"),
            user_ns: inode("user"),
        }
    }

    /// The host's namespaces: those of process 1, or of the reader when
    /// process 1's cannot be read (no permission, a private pid namespace).
    pub fn host_namespaces(&self) -> Namespaces {
        let init = self.namespaces("1");
        if init.pid_ns.is_some() {
            init
        } else {
            self.namespaces("self")
        }
    }

    /// The container of process `pid` and its cgroup path, if it is in one.
    pub fn container_of(&self, pid: i32) -> Option<(CgroupContainer, String)> {
        let text = fs::read_to_string(self.root.join(pid.to_string()).join("cgroup")).ok()?;
        cgroup::parse_proc_cgroup(&text)
    }

    /// Every container with a process, by id, its processes sorted by pid.
    /// Processes that exit while scanning are skipped.
    fn members(&self) -> HashMap<String, (CgroupContainer, Vec<Member>)> {
        let mut found: HashMap<String, (CgroupContainer, Vec<Member>)> = HashMap::new();
        let Ok(entries) = fs::read_dir(&self.root) else {
            return found;
        };
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<i32>().ok())
            else {
                continue;
            };
            let Some((container, cgroup_path)) = self.container_of(pid) else {
                continue;
            };
            let ppid = self.ppid(pid).unwrap_or(0);
            let member = Member {
                pid,
                ppid,
                cgroup_path,
            };
            found
                .entry(container.id.clone())
                .or_insert_with(|| (container, Vec::new()))
                .1
                .push(member);
        }
        for (_, members) in found.values_mut() {
            members.sort_by_key(|m| m.pid);
        }
        found
    }

    /// The processes of every container, by id.
    pub fn pids_by_container(&self) -> HashMap<String, Vec<i32>> {
        self.members()
            .into_iter()
            .map(|(id, (_, members))| (id, members.iter().map(|m| m.pid).collect()))
            .collect()
    }

    /// Every running container, as `started` records of `host` at `ts`.
    ///
    /// The init process is the lowest pid whose parent is outside the
    /// container; names, images and labels are unknown (no runtime), except
    /// the Kubernetes pod UID taken from `kubepods` paths.
    pub fn scan(&self, host: &str, ts: i64) -> Vec<ContainerRecord> {
        let mut records: Vec<ContainerRecord> = self
            .members()
            .into_iter()
            .map(|(id, (container, members))| {
                let init = members
                    .iter()
                    .find(|m| !members.iter().any(|p| p.pid == m.ppid))
                    .unwrap_or(&members[0]);
                let mut labels = BTreeMap::new();
                if let Some(uid) = container.pod_uid {
                    labels.insert(LABEL_POD_UID.to_owned(), uid);
                }
                ContainerRecord {
                    ts,
                    host: host.to_owned(),
                    change: Change::Started,
                    id,
                    labels,
                    cgroup_path: Some(init.cgroup_path.clone()),
                    pid: Some(init.pid),
                    pids: members.iter().map(|m| m.pid).collect(),
                    ns: self.namespaces(&init.pid.to_string()),
                    ..ContainerRecord::default()
                }
            })
            .collect();
        records.sort_by(|a, b| a.id.cmp(&b.id));
        records
    }

    /// The parent of `pid` (field 4 of `/proc/PID/stat`, after the `(comm)`).
    fn ppid(&self, pid: i32) -> Option<i32> {
        let stat = fs::read_to_string(self.root.join(pid.to_string()).join("stat")).ok()?;
        let after = &stat[stat.rfind(')')? + 1..];
        after.split_whitespace().nth(1)?.parse().ok()
    }
}

/// `pid:[4026531836]` → 4026531836.
fn read_ns(link: &Path) -> Option<u32> {
    let target = fs::read_link(link).ok()?;
    let s = target.to_str()?;
    s[s.find('[')? + 1..s.rfind(']')?].parse().ok()
}

/// The host name the traces of this machine carry (`env.hostname`: the
/// kernel's nodename).
pub fn hostname(procfs_root: &Path) -> String {
    fs::read_to_string(procfs_root.join("sys/kernel/hostname"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_namespaces_and_ppid_read_from_the_real_proc() {
        let proc = Procfs::new("/proc");
        let ns = proc.namespaces("self");
        assert!(ns.pid_ns.is_some() && ns.net_ns.is_some() && ns.mnt_ns.is_some());
        let me = std::process::id() as i32;
        assert_eq!(proc.namespaces(&me.to_string()), ns);
        assert!(proc.ppid(me).is_some_and(|p| p > 0));
        assert!(!hostname(Path::new("/proc")).is_empty());
    }

    #[test]
    fn scan_of_a_fake_proc_groups_processes_and_finds_init() {
        let id = "a".repeat(64);
        let dir = tempfile::tempdir().unwrap();
        let proc = |pid: i32, ppid: i32, cgroup: &str| {
            let d = dir.path().join(pid.to_string());
            fs::create_dir_all(&d).unwrap();
            fs::write(d.join("cgroup"), cgroup).unwrap();
            fs::write(d.join("stat"), format!("{pid} (a b) S {ppid} 1 1")).unwrap();
        };
        proc(1, 0, "0::/init.scope\n");
        proc(500, 1, "0::/system.slice/docker.service\n");
        proc(600, 500, &format!("0::/system.slice/docker-{id}.scope\n"));
        proc(601, 600, &format!("0::/system.slice/docker-{id}.scope\n"));
        let records = Procfs::new(dir.path()).scan("h", 7);
        assert_eq!(records.len(), 1);
        let r = &records[0];
        assert_eq!(
            (r.id.as_str(), r.pid, r.pids.as_slice()),
            (id.as_str(), Some(600), &[600, 601][..])
        );
        assert_eq!(
            r.cgroup_path.as_deref(),
            Some(format!("/system.slice/docker-{id}.scope").as_str())
        );
    }
}
