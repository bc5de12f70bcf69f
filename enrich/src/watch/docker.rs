//! The Docker Engine API over its unix socket: list and inspect, then the
//! event stream (create, start, die, destroy, rename).
//!
//! One [`DockerWatcher`] lives as long as its connection: when the stream
//! breaks, the [`super::Watcher`] drops it and connects a new one. What was
//! told about each container (to complete `die` and `destroy`, which can no
//! longer be inspected) is kept by the `Watcher`, across connections.

use std::collections::HashMap;
use std::pin::Pin;

use bollard::Docker;
use bollard::models::{ContainerInspectResponse, EventMessage, EventMessageTypeEnum};
use bollard::query_parameters::{
    EventsOptionsBuilder, InspectContainerOptions, ListContainersOptionsBuilder,
};
use futures_util::{Stream, StreamExt};

use super::now_ns;
use crate::error::EnrichError;
use crate::procfs::Procfs;
use crate::record::{Change, ContainerRecord};

/// Seconds each API request may take.
const REQUEST_TIMEOUT_SECS: u64 = 30;

type Events = Pin<Box<dyn Stream<Item = Result<EventMessage, bollard::errors::Error>> + Send>>;

/// A connected Docker watcher.
pub(crate) struct DockerWatcher {
    docker: Docker,
    socket: String,
    procfs: Procfs,
    host: String,
    events: Option<Events>,
}

/// Every container at one moment.
pub(crate) struct Snapshot {
    /// When the listing started (ns since the epoch): the records' `ts`.
    pub(crate) ts: i64,
    /// One record per container, running (`started`) or not (`stopped`).
    pub(crate) records: Vec<ContainerRecord>,
}

impl DockerWatcher {
    /// Connects to the daemon at `socket` and checks that it answers.
    pub(crate) async fn connect(
        socket: &str,
        procfs: Procfs,
        host: String,
    ) -> Result<DockerWatcher, EnrichError> {
        let err = |source| EnrichError::Docker {
            socket: socket.to_owned(),
            source,
        };
        let docker =
            Docker::connect_with_unix(socket, REQUEST_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
                .map_err(err)?;
        docker.ping().await.map_err(err)?;
        Ok(DockerWatcher {
            docker,
            socket: socket.to_owned(),
            procfs,
            host,
            events: None,
        })
    }

    /// The socket it talks to.
    pub(crate) fn socket(&self) -> &str {
        &self.socket
    }

    fn err(&self, source: bollard::errors::Error) -> EnrichError {
        EnrichError::Docker {
            socket: self.socket.clone(),
            source,
        }
    }

    /// Every container (running or not), and from now on follow the events.
    ///
    /// The event stream starts (`since`) when the listing does, so nothing
    /// is missed (a change seen twice is harmless: records are state, not
    /// deltas).
    pub(crate) async fn snapshot(&mut self, follow: bool) -> Result<Snapshot, EnrichError> {
        let ts = now_ns();
        if follow {
            let since = format!("{}.{:09}", ts / 1_000_000_000, ts % 1_000_000_000);
            let filters = HashMap::from([("type", vec!["container"])]);
            let options = EventsOptionsBuilder::new()
                .since(&since)
                .filters(&filters)
                .build();
            self.events = Some(Box::pin(self.docker.events(Some(options))));
        }
        let list = self
            .docker
            .list_containers(Some(ListContainersOptionsBuilder::new().all(true).build()))
            .await
            .map_err(|e| self.err(e))?;
        let pids = self.procfs.pids_by_container();
        let mut records = Vec::with_capacity(list.len());
        for summary in list {
            let Some(id) = summary.id else { continue };
            // Removed between the listing and now: its destroy event follows.
            let Ok(info) = self
                .docker
                .inspect_container(&id, None::<InspectContainerOptions>)
                .await
            else {
                continue;
            };
            let running = info.state.as_ref().and_then(|s| s.running) == Some(true);
            let change = if running {
                Change::Started
            } else {
                Change::Stopped
            };
            records.push(self.record(ts, change, &info, &pids));
        }
        Ok(Snapshot { ts, records })
    }

    /// The next change, `None` when the daemon ends the stream.
    pub(crate) async fn next_change(&mut self) -> Result<Option<ContainerRecord>, EnrichError> {
        loop {
            let Some(events) = self.events.as_mut() else {
                return Ok(None);
            };
            let event = match events.next().await {
                None => return Ok(None),
                Some(event) => event.map_err(|e| self.err(e))?,
            };
            if event.typ != Some(EventMessageTypeEnum::CONTAINER) {
                continue;
            }
            let (Some(action), Some(id)) = (event.action, event.actor.and_then(|a| a.id)) else {
                continue;
            };
            let ts = event.time_nano.unwrap_or_else(now_ns);
            let change = match action.as_str() {
                "create" => Change::Created,
                "start" => Change::Started,
                "rename" => Change::Updated,
                "die" => Change::Stopped,
                "destroy" => Change::Removed,
                _ => continue,
            };
            if let Some(record) = self.on_event(ts, change, &id).await {
                return Ok(Some(record));
            }
        }
    }

    async fn on_event(&self, ts: i64, change: Change, id: &str) -> Option<ContainerRecord> {
        if change.is_end() {
            // Nothing left to inspect: the watcher completes the record
            // with what it last told about the container.
            return Some(ContainerRecord {
                ts,
                host: self.host.clone(),
                change,
                id: id.to_owned(),
                ..ContainerRecord::default()
            });
        }
        // Gone already (a container that ran for a few ms): its die and
        // destroy events follow.
        let info = self
            .docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .ok()?;
        let pids = if change == Change::Created {
            HashMap::new()
        } else {
            self.procfs.pids_by_container()
        };
        Some(self.record(ts, change, &info, &pids))
    }

    /// A record from an inspection; namespaces and pids from `/proc` (none
    /// when it is not running: the watcher keeps those it had).
    fn record(
        &self,
        ts: i64,
        change: Change,
        info: &ContainerInspectResponse,
        pids: &HashMap<String, Vec<i32>>,
    ) -> ContainerRecord {
        let id = info.id.clone().unwrap_or_default();
        let config = info.config.as_ref();
        let pid = info
            .state
            .as_ref()
            .and_then(|s| s.pid)
            .and_then(|p| i32::try_from(p).ok())
            .filter(|&p| p > 0 && !change.is_end());
        let mut record = ContainerRecord {
            ts,
            host: self.host.clone(),
            change,
            name: info
                .name
                .as_ref()
                .map(|n| n.trim_start_matches('/').to_owned()),
            image: config.and_then(|c| c.image.clone()),
            labels: config
                .and_then(|c| c.labels.clone())
                .unwrap_or_default()
                .into_iter()
                .collect(),
            pid,
            pids: pids.get(&id).cloned().unwrap_or_default(),
            id,
            ..ContainerRecord::default()
        };
        if let Some(pid) = pid {
            record.ns = self.procfs.namespaces(&pid.to_string());
            record.cgroup_path = self.procfs.container_of(pid).map(|(_, path)| path);
        }
        record
    }
}
