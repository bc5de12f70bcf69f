//! The container model: one state change of one container, and its Arrow
//! form ([`trawl_core::containers`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::builder::{
    Int32Builder, ListBuilder, MapBuilder, MapFieldNames, StringBuilder, UInt32Builder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, TimestampNanosecondType, UInt32Type};
use arrow_array::{Array, ArrayRef, RecordBatch, TimestampNanosecondArray};
use serde::{Deserialize, Serialize};
use trawl_core::containers as col;

use crate::error::EnrichError;

/// CRI label naming the pod.
pub const LABEL_POD_NAME: &str = "io.kubernetes.pod.name";
/// CRI label naming the pod's namespace.
pub const LABEL_POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
/// CRI label naming the container within its pod.
pub const LABEL_CONTAINER_NAME: &str = "io.kubernetes.container.name";
/// CRI label holding the pod's UID (the cgroup scanner fills it from `pod<UID>`).
pub const LABEL_POD_UID: &str = "io.kubernetes.pod.uid";

/// What happened to a container ([`trawl_core::containers::CHANGES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// Created, not running yet.
    Created,
    /// Running: pid and namespaces known.
    #[default]
    Started,
    /// Renamed, or seen again by a rescan.
    Updated,
    /// Its processes ended.
    Stopped,
    /// Gone.
    Removed,
    /// Not a container: the host's own namespaces.
    Host,
}

impl Change {
    /// The value of the `change` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Created => col::CHANGE_CREATED,
            Change::Started => col::CHANGE_STARTED,
            Change::Updated => col::CHANGE_UPDATED,
            Change::Stopped => col::CHANGE_STOPPED,
            Change::Removed => col::CHANGE_REMOVED,
            Change::Host => col::CHANGE_HOST,
        }
    }

    fn parse(s: &str) -> Option<Change> {
        Some(match s {
            col::CHANGE_CREATED => Change::Created,
            col::CHANGE_STARTED => Change::Started,
            col::CHANGE_UPDATED => Change::Updated,
            col::CHANGE_STOPPED => Change::Stopped,
            col::CHANGE_REMOVED => Change::Removed,
            col::CHANGE_HOST => Change::Host,
            _ => return None,
        })
    }

    /// Whether the container's processes are gone after this change.
    pub fn is_end(self) -> bool {
        matches!(self, Change::Stopped | Change::Removed)
    }
}

/// Namespace inodes (`/proc/PID/ns/*`, the `*_ns` trace contexts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Namespaces {
    /// PID namespace.
    pub pid_ns: Option<u32>,
    /// Network namespace.
    pub net_ns: Option<u32>,
    /// Mount namespace.
    pub mnt_ns: Option<u32>,
    /// Cgroup namespace.
    pub cgroup_ns: Option<u32>,
    /// IPC namespace.
    pub ipc_ns: Option<u32>,
    /// UTS namespace.
    pub uts_ns: Option<u32>,
    /// User namespace.
    pub user_ns: Option<u32>,
}

impl Namespaces {
    /// In the order of [`trawl_core::containers::NAMESPACES`].
    pub fn to_array(self) -> [Option<u32>; 7] {
        [
            self.pid_ns,
            self.net_ns,
            self.mnt_ns,
            self.cgroup_ns,
            self.ipc_ns,
            self.uts_ns,
            self.user_ns,
        ]
    }

    /// From the order of [`trawl_core::containers::NAMESPACES`].
    pub fn from_array(a: [Option<u32>; 7]) -> Self {
        let [pid_ns, net_ns, mnt_ns, cgroup_ns, ipc_ns, uts_ns, user_ns] = a;
        Namespaces {
            pid_ns,
            net_ns,
            mnt_ns,
            cgroup_ns,
            ipc_ns,
            uts_ns,
            user_ns,
        }
    }

    /// Whether no inode is known.
    pub fn is_empty(&self) -> bool {
        self.to_array().iter().all(Option::is_none)
    }
}

/// One state change of one container on one host. Also the form of the
/// static container file and of `trawl containers --format json` (there the
/// namespace inodes are fields of the record: `pid_ns = 4026532301`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(from = "RecordForm", into = "RecordForm")]
pub struct ContainerRecord {
    /// When it happened, ns since the epoch (0: unknown, "always").
    pub ts: i64,
    /// The host (as the traces name it: `env.hostname`).
    pub host: String,
    /// What happened.
    pub change: Change,
    /// The runtime's id; empty for [`Change::Host`].
    pub id: String,
    /// Name, without Docker's leading `/`.
    pub name: Option<String>,
    /// Image.
    pub image: Option<String>,
    /// Labels (Kubernetes identity comes from the CRI labels).
    pub labels: BTreeMap<String, String>,
    /// Cgroup path of the init process.
    pub cgroup_path: Option<String>,
    /// Init process (watcher's `/proc` numbering).
    pub pid: Option<i32>,
    /// Every process of the container.
    pub pids: Vec<i32>,
    /// Namespace inodes of the init process.
    pub ns: Namespaces,
}

/// The serde form of a record: flat, strict (a misspelt field is an error;
/// serde's `flatten` would lose `deny_unknown_fields`).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordForm {
    #[serde(default)]
    ts: i64,
    host: String,
    #[serde(default)]
    change: Change,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    image: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cgroup_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pid: Option<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pids: Vec<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pid_ns: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    net_ns: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mnt_ns: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cgroup_ns: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ipc_ns: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    uts_ns: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_ns: Option<u32>,
}

impl From<RecordForm> for ContainerRecord {
    fn from(f: RecordForm) -> Self {
        ContainerRecord {
            ts: f.ts,
            host: f.host,
            change: f.change,
            id: f.id,
            name: f.name,
            image: f.image,
            labels: f.labels,
            cgroup_path: f.cgroup_path,
            pid: f.pid,
            pids: f.pids,
            ns: Namespaces {
                pid_ns: f.pid_ns,
                net_ns: f.net_ns,
                mnt_ns: f.mnt_ns,
                cgroup_ns: f.cgroup_ns,
                ipc_ns: f.ipc_ns,
                uts_ns: f.uts_ns,
                user_ns: f.user_ns,
            },
        }
    }
}

impl From<ContainerRecord> for RecordForm {
    fn from(r: ContainerRecord) -> Self {
        let Namespaces {
            pid_ns,
            net_ns,
            mnt_ns,
            cgroup_ns,
            ipc_ns,
            uts_ns,
            user_ns,
        } = r.ns;
        RecordForm {
            ts: r.ts,
            host: r.host,
            change: r.change,
            id: r.id,
            name: r.name,
            image: r.image,
            labels: r.labels,
            cgroup_path: r.cgroup_path,
            pid: r.pid,
            pids: r.pids,
            pid_ns,
            net_ns,
            mnt_ns,
            cgroup_ns,
            ipc_ns,
            uts_ns,
            user_ns,
        }
    }
}

impl ContainerRecord {
    /// Kubernetes namespace, from the CRI label.
    pub fn k8s_namespace(&self) -> Option<&str> {
        self.labels.get(LABEL_POD_NAMESPACE).map(String::as_str)
    }

    /// Kubernetes pod, from the CRI label.
    pub fn k8s_pod(&self) -> Option<&str> {
        self.labels.get(LABEL_POD_NAME).map(String::as_str)
    }

    /// Kubernetes container, from the CRI label.
    pub fn k8s_container(&self) -> Option<&str> {
        self.labels.get(LABEL_CONTAINER_NAME).map(String::as_str)
    }
}

/// Records as a Containers batch ([`trawl_core::containers::schema`]).
pub fn to_batch(records: &[ContainerRecord]) -> Result<RecordBatch, EnrichError> {
    let n = records.len();
    let ts = TimestampNanosecondArray::from_iter_values(records.iter().map(|r| r.ts))
        .with_timezone("UTC");
    let strings = |f: &dyn Fn(&ContainerRecord) -> Option<&str>| -> ArrayRef {
        let mut b = StringBuilder::with_capacity(n, n * 16);
        for r in records {
            b.append_option(f(r));
        }
        Arc::new(b.finish())
    };
    let names = MapFieldNames {
        entry: "entries".into(),
        key: "keys".into(),
        value: "values".into(),
    };
    let mut labels = MapBuilder::new(Some(names), StringBuilder::new(), StringBuilder::new());
    let mut pids = ListBuilder::new(Int32Builder::new());
    for r in records {
        for (k, v) in &r.labels {
            labels.keys().append_value(k);
            labels.values().append_value(v);
        }
        labels.append(true)?;
        pids.values().append_slice(&r.pids);
        pids.append(true);
    }
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(ts),
        strings(&|r| Some(&r.host)),
        strings(&|r| Some(r.change.as_str())),
        strings(&|r| (!r.id.is_empty()).then_some(r.id.as_str())),
        strings(&|r| r.name.as_deref()),
        strings(&|r| r.image.as_deref()),
        Arc::new(labels.finish()),
        strings(&|r| r.k8s_namespace()),
        strings(&|r| r.k8s_pod()),
        strings(&|r| r.k8s_container()),
        strings(&|r| r.cgroup_path.as_deref()),
        Arc::new(
            records
                .iter()
                .map(|r| r.pid)
                .collect::<arrow_array::Int32Array>(),
        ),
        Arc::new(pids.finish()),
    ];
    for i in 0..col::NAMESPACES.len() {
        let mut b = UInt32Builder::with_capacity(n);
        for r in records {
            b.append_option(r.ns.to_array()[i]);
        }
        columns.push(Arc::new(b.finish()));
    }
    Ok(RecordBatch::try_new(col::schema(), columns)?)
}

/// Column `name` of `batch` as the array type `cast` picks; `None` when
/// the batch has no such column, an error when it has another type.
fn typed<'a, T>(
    batch: &'a RecordBatch,
    name: &'static str,
    cast: impl FnOnce(&'a ArrayRef) -> Option<T>,
) -> Result<Option<T>, EnrichError> {
    batch
        .column_by_name(name)
        .map(|c| cast(c).ok_or(EnrichError::ColumnType(name)))
        .transpose()
}

/// Reads a Containers batch back (from another process, Kafka, a file).
///
/// Columns are found by name; a missing optional column reads as nulls, a
/// missing `host` or `change` or a column of the wrong type is an error.
pub fn from_batch(batch: &RecordBatch) -> Result<Vec<ContainerRecord>, EnrichError> {
    let n = batch.num_rows();
    let strings = |name| typed(batch, name, |c| c.as_string_opt::<i32>());
    let get = |a: Option<&arrow_array::StringArray>, i: usize| -> Option<String> {
        a.filter(|a| a.is_valid(i)).map(|a| a.value(i).to_owned())
    };
    let host = strings(col::HOST)?.ok_or(EnrichError::MissingColumn(col::HOST))?;
    let change = strings(col::CHANGE)?.ok_or(EnrichError::MissingColumn(col::CHANGE))?;
    let id = strings(col::CONTAINER_ID)?;
    let name = strings(col::NAME)?;
    let image = strings(col::IMAGE)?;
    let cgroup = strings(col::CGROUP_PATH)?;
    let ts = typed(batch, col::TS, |c| {
        c.as_primitive_opt::<TimestampNanosecondType>()
    })?;
    let pid = typed(batch, col::PID, |c| c.as_primitive_opt::<Int32Type>())?;
    let pids = typed(batch, col::PIDS, |c| c.as_list_opt::<i32>())?;
    let labels = typed(batch, col::LABELS, |c| c.as_map_opt())?;
    let ns = col::NAMESPACES
        .iter()
        .map(|&name| typed(batch, name, |c| c.as_primitive_opt::<UInt32Type>()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let change_str = change.value(i);
        let mut r = ContainerRecord {
            ts: ts.map_or(0, |a| a.value(i)),
            host: host.value(i).to_owned(),
            change: Change::parse(change_str)
                .ok_or_else(|| EnrichError::BadChange(change_str.to_owned()))?,
            id: get(id, i).unwrap_or_default(),
            name: get(name, i),
            image: get(image, i),
            cgroup_path: get(cgroup, i),
            pid: pid.filter(|a| a.is_valid(i)).map(|a| a.value(i)),
            ..ContainerRecord::default()
        };
        if let Some(list) = pids.filter(|a| a.is_valid(i)) {
            let values = list.value(i);
            if let Some(values) = values.as_primitive_opt::<Int32Type>() {
                r.pids = values.iter().flatten().collect();
            }
        }
        if let Some(map) = labels.filter(|a| a.is_valid(i)) {
            let entries = map.value(i);
            let (Some(keys), Some(values)) = (
                entries.column(0).as_string_opt::<i32>(),
                entries.column(1).as_string_opt::<i32>(),
            ) else {
                return Err(EnrichError::ColumnType(col::LABELS));
            };
            for j in 0..keys.len() {
                if values.is_valid(j) {
                    r.labels
                        .insert(keys.value(j).to_owned(), values.value(j).to_owned());
                }
            }
        }
        let mut inodes = [None; 7];
        for (slot, a) in inodes.iter_mut().zip(&ns) {
            *slot = a.filter(|a| a.is_valid(i)).map(|a| a.value(i));
        }
        r.ns = Namespaces::from_array(inodes);
        out.push(r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> ContainerRecord {
        ContainerRecord {
            ts: 42,
            host: "node1".into(),
            change: Change::Started,
            id: "ab".repeat(32),
            name: Some("web".into()),
            image: Some("nginx:1".into()),
            labels: BTreeMap::from([
                (LABEL_POD_NAME.into(), "web-0".into()),
                (LABEL_POD_NAMESPACE.into(), "shop".into()),
                (LABEL_CONTAINER_NAME.into(), "nginx".into()),
            ]),
            cgroup_path: Some("/docker/x".into()),
            pid: Some(1234),
            pids: vec![1234, 1240],
            ns: Namespaces {
                pid_ns: Some(4026532001),
                net_ns: Some(4026532004),
                ..Namespaces::default()
            },
        }
    }

    #[test]
    fn batch_round_trip_keeps_every_field() {
        let host = ContainerRecord {
            host: "node1".into(),
            change: Change::Host,
            ns: Namespaces {
                pid_ns: Some(4026531836),
                ..Namespaces::default()
            },
            ..ContainerRecord::default()
        };
        let records = vec![sample(), host];
        let batch = to_batch(&records).unwrap();
        assert_eq!(batch.schema(), col::schema());
        assert_eq!(from_batch(&batch).unwrap(), records);
        let pods = batch
            .column_by_name(col::K8S_POD)
            .unwrap()
            .as_string::<i32>();
        assert_eq!(pods.value(0), "web-0");
        assert!(pods.is_null(1));
    }

    #[test]
    fn unknown_change_is_an_error_naming_it() {
        let mut batch = to_batch(&[sample()]).unwrap();
        let mut cols = batch.columns().to_vec();
        cols[2] = Arc::new(arrow_array::StringArray::from(vec!["exploded"]));
        batch = RecordBatch::try_new(batch.schema(), cols).unwrap();
        let e = from_batch(&batch).unwrap_err().to_string();
        assert!(e.contains("\"exploded\""), "{e}");
    }
}
