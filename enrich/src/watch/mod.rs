//! Watchers: where container records come from.
//!
//! A [`Watcher`] runs next to the tracer on each host. It first reports the
//! host's own namespaces ([`Change::Host`]) and every container, then each
//! change as it happens:
//!
//! - with the Docker Engine API when its socket answers (events: create,
//!   start, die, destroy, rename; names, images, labels from inspect);
//! - otherwise, with a warning, from `/proc` and the cgroup paths
//!   ([`crate::procfs`]), rescanned every `rescan_interval` (ids, pids,
//!   namespaces, cgroup paths and Kubernetes pod UIDs; no names).
//!
//! Namespace inodes and pids are read from `proc_root` (`/proc`): the
//! watcher must see the host's processes (on Kubernetes: `hostPID`, and the
//! Docker socket mounted in).

mod docker;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::procfs::{self, Procfs};
use crate::record::{Change, ContainerRecord};
use docker::DockerWatcher;

/// Where the Docker socket is unless `DOCKER_HOST` names a `unix://` one.
pub const DEFAULT_DOCKER_SOCKET: &str = "/var/run/docker.sock";
/// Where `/proc` is.
pub const DEFAULT_PROC_ROOT: &str = "/proc";
/// How often the cgroupfs scanner looks again.
pub const DEFAULT_RESCAN_INTERVAL: Duration = Duration::from_secs(1);

/// Nanoseconds since the epoch, now.
pub(crate) fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The Docker socket `DOCKER_HOST` names (`unix://PATH`), else [`DEFAULT_DOCKER_SOCKET`].
pub fn default_docker_socket() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|h| h.strip_prefix("unix://").map(str::to_owned))
        .unwrap_or_else(|| DEFAULT_DOCKER_SOCKET.to_owned())
}

/// Settings of a [`Watcher`].
#[derive(Debug, Clone)]
pub struct WatcherBuilder {
    docker_socket: Option<String>,
    proc_root: PathBuf,
    host: Option<String>,
    rescan_interval: Duration,
    follow: bool,
}

impl Default for WatcherBuilder {
    fn default() -> Self {
        WatcherBuilder {
            docker_socket: Some(default_docker_socket()),
            proc_root: PathBuf::from(DEFAULT_PROC_ROOT),
            host: None,
            rescan_interval: DEFAULT_RESCAN_INTERVAL,
            follow: true,
        }
    }
}

impl WatcherBuilder {
    /// Defaults: Docker at [`default_docker_socket`], `/proc`, the kernel's
    /// host name, rescans every [`DEFAULT_RESCAN_INTERVAL`], following changes.
    pub fn new() -> Self {
        Self::default()
    }

    /// The Docker socket; `None`: only the cgroupfs scanner.
    pub fn docker_socket(mut self, socket: Option<String>) -> Self {
        self.docker_socket = socket;
        self
    }

    /// Where `/proc` is mounted.
    pub fn proc_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.proc_root = root.into();
        self
    }

    /// The host name records carry (default: the kernel's, as LTTng's `env.hostname`).
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// How often the scanner looks again (only without Docker).
    pub fn rescan_interval(mut self, interval: Duration) -> Self {
        self.rescan_interval = interval;
        self
    }

    /// `false`: the first snapshot only, then the end.
    pub fn follow(mut self, follow: bool) -> Self {
        self.follow = follow;
        self
    }

    /// Connects to Docker, or falls back to the scanner with a warning
    /// (see [`Watcher::take_warnings`]).
    pub async fn start(self) -> Watcher {
        let procfs = Procfs::new(&self.proc_root);
        let host = self
            .host
            .clone()
            .unwrap_or_else(|| procfs::hostname(&self.proc_root));
        let mut warnings = Vec::new();
        let docker = match &self.docker_socket {
            None => None,
            Some(socket) => {
                match DockerWatcher::connect(socket, procfs.clone(), host.clone()).await {
                    Ok(d) => Some(d),
                    Err(e) => {
                        warnings.push(format!(
                        "no Docker Engine API ({e}); finding containers from /proc and cgroup paths instead (no names, images or labels)"
                    ));
                        None
                    }
                }
            }
        };
        Watcher {
            docker,
            procfs,
            host,
            settings: self,
            started: false,
            scanned: HashMap::new(),
            warnings,
        }
    }
}

/// Container records of one host, as a stream of changes.
pub struct Watcher {
    docker: Option<DockerWatcher>,
    procfs: Procfs,
    host: String,
    settings: WatcherBuilder,
    started: bool,
    /// The scanner's last view, by id.
    scanned: HashMap<String, ContainerRecord>,
    warnings: Vec<String>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("source", &self.source())
            .field("host", &self.host)
            .finish()
    }
}

impl Watcher {
    /// Where the records come from: `docker` or `cgroupfs`.
    pub fn source(&self) -> &'static str {
        if self.docker.is_some() {
            "docker"
        } else {
            "cgroupfs"
        }
    }

    /// The host name the records carry.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Problems the watcher went on after (no Docker socket, a stream that broke).
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// The next records: first the host and every container, then changes
    /// (waits for them). `None` at the end (not following).
    pub async fn next_records(&mut self) -> Option<Vec<ContainerRecord>> {
        if !self.started {
            self.started = true;
            return Some(self.snapshot().await);
        }
        if !self.settings.follow {
            return None;
        }
        if let Some(docker) = self.docker.as_mut() {
            match docker.next_change().await {
                Ok(Some(record)) => return Some(vec![record]),
                Ok(None) => self.docker_lost("the event stream ended".to_owned()),
                Err(e) => self.docker_lost(e.to_string()),
            }
        }
        loop {
            tokio::time::sleep(self.settings.rescan_interval).await;
            let changes = self.rescan();
            if !changes.is_empty() {
                return Some(changes);
            }
        }
    }

    fn docker_lost(&mut self, why: String) {
        self.warnings.push(format!(
            "Docker Engine API lost ({why}); finding containers from /proc and cgroup paths from now on"
        ));
        self.docker = None;
    }

    async fn snapshot(&mut self) -> Vec<ContainerRecord> {
        let ts = now_ns();
        let mut records = vec![ContainerRecord {
            ts,
            host: self.host.clone(),
            change: Change::Host,
            ns: self.procfs.host_namespaces(),
            ..ContainerRecord::default()
        }];
        if let Some(docker) = self.docker.as_mut() {
            match docker.snapshot(self.settings.follow).await {
                Ok(containers) => {
                    records.extend(containers);
                    return records;
                }
                Err(e) => self.docker_lost(e.to_string()),
            }
        }
        records.extend(self.rescan());
        records
    }

    /// The scanner's changes since its last look: new containers
    /// (`started`), changed ones (`updated`), gone ones (`removed`).
    fn rescan(&mut self) -> Vec<ContainerRecord> {
        let ts = now_ns();
        let mut now: HashMap<String, ContainerRecord> = self
            .procfs
            .scan(&self.host, ts)
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        let mut changes = Vec::new();
        for (id, old) in &self.scanned {
            if !now.contains_key(id) {
                changes.push(ContainerRecord {
                    ts,
                    change: Change::Removed,
                    pids: Vec::new(),
                    ..old.clone()
                });
            }
        }
        for (id, record) in &mut now {
            match self.scanned.get(id) {
                None => changes.push(record.clone()),
                Some(old) if old.pids != record.pids || old.ns != record.ns => {
                    record.change = Change::Updated;
                    changes.push(record.clone());
                }
                Some(_) => {}
            }
        }
        self.scanned = now;
        changes.sort_by(|a, b| a.id.cmp(&b.id));
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_a_docker_socket_the_scanner_runs_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("docker.sock");
        let mut watcher = WatcherBuilder::new()
            .docker_socket(Some(socket.display().to_string()))
            .follow(false)
            .start()
            .await;
        assert_eq!(watcher.source(), "cgroupfs");
        let warnings = watcher.take_warnings();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("docker.sock"), "{warnings:?}");
        let first = watcher.next_records().await.unwrap();
        assert_eq!(first[0].change, Change::Host);
        assert!(first[0].ns.pid_ns.is_some());
        assert!(watcher.next_records().await.is_none());
    }
}
