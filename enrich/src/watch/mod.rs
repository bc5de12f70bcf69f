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
//! Docker may be away for a while: not started yet when the watcher is, or
//! restarted (its event stream breaks). The watcher then warns once, scans
//! meanwhile, and tries Docker again in the background after 100 ms,
//! doubling up to 5 s ([`WatcherBuilder::reconnect_backoff`]). When Docker
//! answers, a warning says so, and the next records bring consumers up to
//! date, as at start: the host and every container Docker lists, with
//! names, images and labels (also those the scanner found without), and
//! `removed` for every container told before that Docker no longer lists.
//! Docker is then the authority: containers of other runtimes that the
//! scanner found meanwhile are reported removed too. Then its events again.
//!
//! While Docker is away, what the scanner finds is completed with what was
//! told before: a container keeps its name, image and labels; one whose
//! processes are gone is `stopped` (Docker tells later whether it was
//! removed). With no Docker socket at all, a container whose processes are
//! gone is `removed`.
//!
//! Namespace inodes and pids are read from `proc_root` (`/proc`): the
//! watcher must see the host's processes (on Kubernetes: `hostPID`, and the
//! Docker socket mounted in).

mod docker;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::EnrichError;
use crate::procfs::{self, Procfs};
use crate::record::{Change, ContainerRecord};
use docker::{DockerWatcher, Snapshot};

/// Where the Docker socket is unless `DOCKER_HOST` names a `unix://` one.
pub const DEFAULT_DOCKER_SOCKET: &str = "/var/run/docker.sock";
/// Where `/proc` is.
pub const DEFAULT_PROC_ROOT: &str = "/proc";
/// How often the cgroupfs scanner looks again.
pub const DEFAULT_RESCAN_INTERVAL: Duration = Duration::from_secs(1);
/// The wait before the first new try after Docker went away.
pub const DEFAULT_RECONNECT_MIN: Duration = Duration::from_millis(100);
/// The longest wait between two tries (the wait doubles after each failure).
pub const DEFAULT_RECONNECT_MAX: Duration = Duration::from_secs(5);

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
    reconnect_min: Duration,
    reconnect_max: Duration,
    follow: bool,
}

impl Default for WatcherBuilder {
    fn default() -> Self {
        WatcherBuilder {
            docker_socket: Some(default_docker_socket()),
            proc_root: PathBuf::from(DEFAULT_PROC_ROOT),
            host: None,
            rescan_interval: DEFAULT_RESCAN_INTERVAL,
            reconnect_min: DEFAULT_RECONNECT_MIN,
            reconnect_max: DEFAULT_RECONNECT_MAX,
            follow: true,
        }
    }
}

impl WatcherBuilder {
    /// Defaults: Docker at [`default_docker_socket`], `/proc`, the kernel's
    /// host name, rescans every [`DEFAULT_RESCAN_INTERVAL`], Docker tried
    /// again after [`DEFAULT_RECONNECT_MIN`] up to [`DEFAULT_RECONNECT_MAX`],
    /// following changes.
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

    /// How often the scanner looks again (only while Docker does not
    /// answer); at least 1 ms (no busy loop).
    pub fn rescan_interval(mut self, interval: Duration) -> Self {
        self.rescan_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// How long to wait before trying Docker again: `min` after it went
    /// away, doubling after each failed try, at most `max` (defaults
    /// [`DEFAULT_RECONNECT_MIN`], [`DEFAULT_RECONNECT_MAX`]). `min` is at
    /// least 1 ms (no busy loop), `max` at least `min`.
    pub fn reconnect_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.reconnect_min = min.max(Duration::from_millis(1));
        self.reconnect_max = max.max(self.reconnect_min);
        self
    }

    /// `false`: the first snapshot only, then the end (Docker is not tried again).
    pub fn follow(mut self, follow: bool) -> Self {
        self.follow = follow;
        self
    }

    /// Connects to Docker, or warns (see [`Watcher::take_warnings`]),
    /// finds containers with the scanner and tries Docker again in the
    /// background.
    pub async fn start(self) -> Watcher {
        let procfs = Procfs::new(&self.proc_root);
        let host = self
            .host
            .clone()
            .unwrap_or_else(|| procfs::hostname(&self.proc_root));
        let mut watcher = Watcher {
            docker: None,
            retry: None,
            procfs,
            host,
            settings: self,
            started: false,
            next_scan: tokio::time::Instant::now(),
            known: HashMap::new(),
            warnings: Vec::new(),
        };
        if let Some(socket) = &watcher.settings.docker_socket {
            let connected =
                DockerWatcher::connect(socket, watcher.procfs.clone(), watcher.host.clone()).await;
            match connected {
                Ok(docker) => watcher.docker = Some(docker),
                Err(e) => watcher.away("no Docker Engine API", &e),
            }
        }
        watcher
    }
}

/// One try to connect to Docker and list its containers.
type Attempt = Pin<Box<dyn Future<Output = Result<(DockerWatcher, Snapshot), EnrichError>> + Send>>;

/// Docker is away: since when, and the next try, under way.
struct Retry {
    since: Instant,
    /// The wait before this try.
    delay: Duration,
    attempt: Attempt,
}

/// Container records of one host, as a stream of changes.
pub struct Watcher {
    /// Connected.
    docker: Option<DockerWatcher>,
    /// Not connected, following: trying again.
    retry: Option<Retry>,
    procfs: Procfs,
    host: String,
    settings: WatcherBuilder,
    started: bool,
    /// When the scanner looks again (while Docker is away).
    next_scan: tokio::time::Instant,
    /// The last record told of every container not removed, by id.
    known: HashMap<String, ContainerRecord>,
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
    /// Where the records come from now: `docker` or `cgroupfs`.
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

    /// What happened to the Docker connection since the last call: no
    /// Docker socket, a stream that broke, Docker back.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// The next records: first the host and every container, then changes
    /// (waits for them). `None` at the end (not following).
    ///
    /// Also returns, maybe without records, when Docker went away: see
    /// [`Watcher::take_warnings`] after each call. Cancel-safe between
    /// changes: a try to reach Docker under way goes on at the next call.
    pub async fn next_records(&mut self) -> Option<Vec<ContainerRecord>> {
        if !self.started {
            self.started = true;
            return Some(self.first_records().await);
        }
        if !self.settings.follow {
            return None;
        }
        loop {
            if let Some(docker) = self.docker.as_mut() {
                let why = match docker.next_change().await {
                    Ok(Some(record)) => return Some(vec![self.tell(record)]),
                    Ok(None) => format!("docker {}: the event stream ended", docker.socket()),
                    Err(e) => e.to_string(),
                };
                self.away("Docker Engine API lost", &why);
                // Now, with its warning: the scanner takes over.
                return Some(self.rescan());
            }
            let tick = tokio::time::sleep_until(self.next_scan);
            let tried = match self.retry.as_mut() {
                Some(retry) => tokio::select! {
                    result = &mut retry.attempt => Some(result),
                    () = tick => None,
                },
                None => {
                    tick.await;
                    None
                }
            };
            match tried {
                Some(Ok((docker, snapshot))) => return Some(self.back(docker, snapshot)),
                Some(Err(_)) => self.try_again(),
                None => {
                    let changes = self.rescan();
                    if !changes.is_empty() {
                        return Some(changes);
                    }
                }
            }
        }
    }

    async fn first_records(&mut self) -> Vec<ContainerRecord> {
        if let Some(docker) = self.docker.as_mut() {
            match docker.snapshot(self.settings.follow).await {
                Ok(snapshot) => return self.resync(snapshot),
                Err(e) => self.away("Docker Engine API lost", &e),
            }
        }
        let mut records = vec![self.host_record()];
        records.extend(self.rescan());
        records
    }

    fn host_record(&self) -> ContainerRecord {
        ContainerRecord {
            ts: now_ns(),
            host: self.host.clone(),
            change: Change::Host,
            ns: self.procfs.host_namespaces(),
            ..ContainerRecord::default()
        }
    }

    /// Docker does not answer: scan instead, try again soon (following),
    /// and say so.
    fn away(&mut self, what: &str, why: &dyn std::fmt::Display) {
        self.docker = None;
        let delay = self.settings.reconnect_min;
        self.retry = self.attempt(delay).map(|attempt| Retry {
            since: Instant::now(),
            delay,
            attempt,
        });
        let until = if self.retry.is_some() {
            ", until it answers again"
        } else {
            ""
        };
        self.warnings.push(format!(
            "{what} ({why}); finding containers from /proc and cgroup paths instead (new ones without names, images or labels){until}"
        ));
    }

    /// The last try failed: the next one, after twice the wait.
    fn try_again(&mut self) {
        let Some(retry) = &self.retry else { return };
        let delay = retry
            .delay
            .saturating_mul(2)
            .min(self.settings.reconnect_max);
        if let (Some(attempt), Some(retry)) = (self.attempt(delay), self.retry.as_mut()) {
            retry.delay = delay;
            retry.attempt = attempt;
        }
    }

    /// A try to connect to Docker and list its containers after `delay`;
    /// `None` when there is no Docker socket or nothing to follow.
    fn attempt(&self, delay: Duration) -> Option<Attempt> {
        let socket = self.settings.docker_socket.clone()?;
        if !self.settings.follow {
            return None;
        }
        let (procfs, host) = (self.procfs.clone(), self.host.clone());
        Some(Box::pin(async move {
            tokio::time::sleep(delay).await;
            let mut docker = DockerWatcher::connect(&socket, procfs, host).await?;
            let snapshot = docker.snapshot(true).await?;
            Ok((docker, snapshot))
        }))
    }

    /// Docker answers again: say so, and bring consumers up to date.
    fn back(&mut self, docker: DockerWatcher, snapshot: Snapshot) -> Vec<ContainerRecord> {
        if let Some(retry) = self.retry.take() {
            self.warnings.push(format!(
                "Docker Engine API back at {} after {:.1} s",
                docker.socket(),
                retry.since.elapsed().as_secs_f64()
            ));
        }
        self.docker = Some(docker);
        self.resync(snapshot)
    }

    /// The host and every container of `snapshot`, after `removed` for each
    /// container told before that it does not list.
    fn resync(&mut self, snapshot: Snapshot) -> Vec<ContainerRecord> {
        let mut gone: Vec<ContainerRecord> = {
            let listed: HashSet<&str> = snapshot.records.iter().map(|r| r.id.as_str()).collect();
            self.known
                .values()
                // Told after the listing began: the events since then tell the rest.
                .filter(|r| r.ts < snapshot.ts && !listed.contains(r.id.as_str()))
                .map(|r| ContainerRecord {
                    ts: snapshot.ts,
                    change: Change::Removed,
                    ..r.clone()
                })
                .collect()
        };
        gone.sort_by(|a, b| a.id.cmp(&b.id));
        let mut records = vec![self.host_record()];
        for record in gone.into_iter().chain(snapshot.records) {
            records.push(self.tell(record));
        }
        records
    }

    /// Completes `record` with what was told of its container before (an
    /// end or a scan names no image; a stopped container has no namespaces
    /// left to read), and remembers it.
    fn tell(&mut self, mut record: ContainerRecord) -> ContainerRecord {
        if let Some(old) = self.known.get(&record.id) {
            if record.name.is_none() {
                record.name.clone_from(&old.name);
            }
            if record.image.is_none() {
                record.image.clone_from(&old.image);
            }
            for (key, value) in &old.labels {
                record
                    .labels
                    .entry(key.clone())
                    .or_insert_with(|| value.clone());
            }
            if record.cgroup_path.is_none() {
                record.cgroup_path.clone_from(&old.cgroup_path);
            }
            if record.ns.is_empty() {
                record.ns = old.ns;
            }
        }
        if record.change.is_end() {
            record.pid = None;
            record.pids.clear();
        }
        if record.change == Change::Removed {
            self.known.remove(&record.id);
        } else {
            self.known.insert(record.id.clone(), record.clone());
        }
        record
    }

    /// The scanner's changes since the last records: new containers
    /// (`started`), changed ones (`updated`), those whose processes are
    /// gone (`stopped` while Docker is away, else `removed`).
    fn rescan(&mut self) -> Vec<ContainerRecord> {
        let now = tokio::time::Instant::now();
        // An interval too long for the clock: never again (as tokio's `sleep`).
        let never = Duration::from_secs(86_400 * 365 * 30);
        self.next_scan = now
            .checked_add(self.settings.rescan_interval)
            .unwrap_or(now + never);
        let ts = now_ns();
        let found: HashMap<String, ContainerRecord> = self
            .procfs
            .scan(&self.host, ts)
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        let end = if self.retry.is_some() {
            Change::Stopped
        } else {
            Change::Removed
        };
        // A record with a pid: its container was running.
        let mut changes: Vec<ContainerRecord> = self
            .known
            .values()
            .filter(|old| old.pid.is_some() && !found.contains_key(&old.id))
            .map(|old| ContainerRecord {
                ts,
                change: end,
                ..old.clone()
            })
            .collect();
        for (id, mut record) in found {
            if let Some(old) = self.known.get(&id).filter(|old| old.pid.is_some()) {
                if old.pids == record.pids && old.ns == record.ns {
                    continue;
                }
                record.change = Change::Updated;
            }
            changes.push(record);
        }
        changes.sort_by(|a, b| a.id.cmp(&b.id));
        changes.into_iter().map(|r| self.tell(r)).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::fs;
    use std::path::Path;

    use super::*;

    /// A fake `/proc`: process `pid` (child of 1) in Docker container `id`.
    fn fake_process(proc: &Path, pid: i32, id: &str) {
        let dir = proc.join(pid.to_string());
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("cgroup"), format!("0::/docker/{id}\n")).unwrap();
        fs::write(dir.join("stat"), format!("{pid} (sleep) S 1 1 1")).unwrap();
    }

    /// A watcher of `proc` whose Docker socket does not exist, following.
    async fn without_docker(proc: &Path) -> Watcher {
        WatcherBuilder::new()
            .docker_socket(Some(proc.join("docker.sock").display().to_string()))
            .proc_root(proc)
            .host("h")
            .reconnect_backoff(Duration::from_millis(1), Duration::from_millis(4))
            .rescan_interval(Duration::from_millis(5))
            .start()
            .await
    }

    /// What Docker says of a container: name, image, labels too.
    fn from_docker(id: &str, change: Change, ts: i64) -> ContainerRecord {
        ContainerRecord {
            ts,
            host: "h".into(),
            change,
            id: id.into(),
            name: Some(format!("{id}-name")),
            image: Some("busybox".into()),
            labels: BTreeMap::from([("team".into(), "a".into())]),
            ..ContainerRecord::default()
        }
    }

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
        // Not following: no promise to try again.
        assert!(!warnings[0].contains("until"), "{warnings:?}");
        assert!(watcher.retry.is_none());
        let first = watcher.next_records().await.unwrap();
        assert_eq!(first[0].change, Change::Host);
        assert!(first[0].ns.pid_ns.is_some());
        assert!(watcher.next_records().await.is_none());
    }

    #[tokio::test]
    async fn while_docker_is_away_the_scanner_goes_on_and_warns_once() {
        let proc = tempfile::tempdir().unwrap();
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        fake_process(proc.path(), 100, &a);
        let mut watcher = without_docker(proc.path()).await;
        let first = watcher.next_records().await.unwrap();
        assert_eq!(
            first
                .iter()
                .map(|r| (r.change, r.id.as_str()))
                .collect::<Vec<_>>(),
            [(Change::Host, ""), (Change::Started, a.as_str())]
        );
        fake_process(proc.path(), 200, &b);
        let next = watcher.next_records().await.unwrap();
        assert_eq!((next.len(), next[0].id.as_str()), (1, b.as_str()));
        fs::remove_dir_all(proc.path().join("100")).unwrap();
        let next = watcher.next_records().await.unwrap();
        // Docker may know it still (stopped): it says when it is back.
        assert_eq!(
            (next.len(), next[0].id.as_str(), next[0].change),
            (1, a.as_str(), Change::Stopped)
        );
        assert!(next[0].pids.is_empty() && next[0].pid.is_none());
        let warnings = watcher.take_warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].starts_with("no Docker Engine API (docker ")
                && warnings[0].contains("docker.sock")
                && warnings[0].ends_with("until it answers again"),
            "{warnings:?}"
        );
        assert_eq!(watcher.source(), "cgroupfs");
        assert!(watcher.retry.is_some());
    }

    #[tokio::test]
    async fn tries_wait_twice_as_long_each_time_up_to_the_bound() {
        let proc = tempfile::tempdir().unwrap();
        let mut watcher = without_docker(proc.path()).await;
        let mut delays = Vec::new();
        for _ in 0..5 {
            delays.push(watcher.retry.as_ref().unwrap().delay.as_millis());
            watcher.try_again();
        }
        assert_eq!(delays, [1, 2, 4, 4, 4]);
        // A zero bound cannot make a busy loop.
        let builder = WatcherBuilder::new().reconnect_backoff(Duration::ZERO, Duration::ZERO);
        assert_eq!(
            (builder.reconnect_min, builder.reconnect_max),
            (Duration::from_millis(1), Duration::from_millis(1))
        );
    }

    #[tokio::test]
    async fn while_docker_is_away_known_containers_keep_their_identity() {
        let proc = tempfile::tempdir().unwrap();
        let a = "a".repeat(64);
        fake_process(proc.path(), 100, &a);
        let mut watcher = without_docker(proc.path()).await;
        // What Docker said before it went away, with the processes the scanner sees.
        let mut told = from_docker(&a, Change::Started, 1);
        told.pid = Some(100);
        told.pids = vec![100];
        told.cgroup_path = Some(format!("/docker/{a}"));
        watcher.tell(told);
        assert!(watcher.rescan().is_empty(), "nothing changed");
        fake_process(proc.path(), 101, &a);
        let changes = watcher.rescan();
        assert_eq!(changes.len(), 1);
        let r = &changes[0];
        assert_eq!(
            (r.change, r.pids.as_slice()),
            (Change::Updated, &[100, 101][..])
        );
        assert_eq!(r.name.as_deref(), Some(format!("{a}-name").as_str()));
        assert_eq!((r.image.as_deref(), r.labels.len()), (Some("busybox"), 1));
    }

    #[tokio::test]
    async fn back_from_docker_removes_what_it_no_longer_lists_and_names_the_rest() {
        let proc = tempfile::tempdir().unwrap();
        let mut watcher = without_docker(proc.path()).await;
        let id = |c: char| c.to_string().repeat(64);
        let ns = crate::record::Namespaces {
            pid_ns: Some(4026532001),
            ..Default::default()
        };
        // Told before the snapshot (ts 10): a running, b stopped (by
        // Docker), c found by the scanner without a name.
        let mut a = from_docker(&id('a'), Change::Started, 10);
        a.ns = ns;
        watcher.tell(a);
        let mut b = from_docker(&id('b'), Change::Started, 10);
        b.ns = ns;
        watcher.tell(b);
        watcher.tell(from_docker(&id('b'), Change::Stopped, 10));
        watcher.tell(ContainerRecord {
            ts: 10,
            host: "h".into(),
            id: id('c'),
            ns,
            ..ContainerRecord::default()
        });
        // Found by the scanner while the snapshot was taken (ts 25).
        watcher.tell(ContainerRecord {
            ts: 25,
            host: "h".into(),
            id: id('d'),
            ..ContainerRecord::default()
        });
        // Docker lists a (stopped meanwhile) and c; b is gone.
        let snapshot = Snapshot {
            ts: 20,
            records: vec![
                from_docker(&id('a'), Change::Stopped, 20),
                from_docker(&id('c'), Change::Started, 20),
            ],
        };
        let records = watcher.resync(snapshot);
        let summary: Vec<_> = records
            .iter()
            .map(|r| {
                (
                    r.change,
                    r.id.get(..1).unwrap_or(""),
                    r.name.is_some(),
                    r.ns == ns,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (Change::Host, "", false, false),
                (Change::Removed, "b", true, true),
                (Change::Stopped, "a", true, true),
                (Change::Started, "c", true, true),
            ]
        );
        assert_eq!(records[1].ts, 20);
        let mut known: Vec<_> = watcher.known.keys().map(|k| &k[..1]).collect();
        known.sort_unstable();
        assert_eq!(known, ["a", "c", "d"]);
    }
}
