//! The container-record contract (DESIGN.md §2): the columns of a
//! [`crate::Containers`] batch, and the columns enrichment adds to events.
//!
//! A Containers batch holds one row per state change of one container on one
//! host (or, with [`CHANGE_HOST`], the host's own namespaces). Watchers emit
//! them; the join consumes them, possibly from another process (Kafka).

use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};

use crate::envelope;

/// When the change happened (Timestamp ns, UTC).
pub const TS: &str = envelope::TS;
/// The host the container runs on (the traces' `env.hostname`).
pub const HOST: &str = envelope::HOST;
/// What changed: one of [`CHANGES`].
pub const CHANGE: &str = "change";
/// The runtime's container id (64 hex digits for Docker, containerd, CRI-O, podman).
pub const CONTAINER_ID: &str = "container_id";
/// The container's name (without Docker's leading `/`).
pub const NAME: &str = "name";
/// The image the container runs, as the runtime names it.
pub const IMAGE: &str = "image";
/// The container's labels (Map Utf8 → Utf8).
pub const LABELS: &str = "labels";
/// Kubernetes namespace (CRI label `io.kubernetes.pod.namespace`).
pub const K8S_NAMESPACE: &str = "k8s_namespace";
/// Kubernetes pod (CRI label `io.kubernetes.pod.name`).
pub const K8S_POD: &str = "k8s_pod";
/// Kubernetes container (CRI label `io.kubernetes.container.name`).
pub const K8S_CONTAINER: &str = "k8s_container";
/// The container's cgroup path (from `/proc/PID/cgroup`).
pub const CGROUP_PATH: &str = "cgroup_path";
/// The container's init process, as the watcher's `/proc` numbers it.
pub const PID: &str = "pid";
/// Every process of the container when the record was made (List Int32).
pub const PIDS: &str = "pids";
/// Namespace inode columns (UInt32, as the `*_ns` trace contexts), in join order first.
pub const PID_NS: &str = "pid_ns";
/// Network namespace inode.
pub const NET_NS: &str = "net_ns";
/// Mount namespace inode.
pub const MNT_NS: &str = "mnt_ns";
/// Cgroup namespace inode.
pub const CGROUP_NS: &str = "cgroup_ns";
/// IPC namespace inode.
pub const IPC_NS: &str = "ipc_ns";
/// UTS namespace inode.
pub const UTS_NS: &str = "uts_ns";
/// User namespace inode.
pub const USER_NS: &str = "user_ns";

/// The namespace columns, in the order the join tries them.
pub const NAMESPACES: [&str; 7] = [PID_NS, NET_NS, MNT_NS, CGROUP_NS, IPC_NS, UTS_NS, USER_NS];

/// The container was created (not running yet: no pid, no namespaces).
pub const CHANGE_CREATED: &str = "created";
/// The container started: pid and namespaces are known.
pub const CHANGE_STARTED: &str = "started";
/// Metadata changed (renamed), or a rescan saw it again.
pub const CHANGE_UPDATED: &str = "updated";
/// The container's processes ended.
pub const CHANGE_STOPPED: &str = "stopped";
/// The container is gone.
pub const CHANGE_REMOVED: &str = "removed";
/// Not a container: the host's own namespaces (events in them carry no container).
pub const CHANGE_HOST: &str = "host";
/// Every value of [`CHANGE`].
pub const CHANGES: [&str; 6] = [
    CHANGE_CREATED,
    CHANGE_STARTED,
    CHANGE_UPDATED,
    CHANGE_STOPPED,
    CHANGE_REMOVED,
    CHANGE_HOST,
];

/// The Arrow type of [`LABELS`]: what `MapBuilder<StringBuilder, StringBuilder>` builds.
pub fn labels_type() -> DataType {
    let entries = Fields::from(vec![
        Field::new("keys", DataType::Utf8, false),
        Field::new("values", DataType::Utf8, true),
    ]);
    DataType::Map(
        Arc::new(Field::new("entries", DataType::Struct(entries), false)),
        false,
    )
}

/// The schema of a Containers batch.
pub fn schema() -> SchemaRef {
    let mut fields = vec![
        Field::new(TS, envelope::ts_type(), false),
        Field::new(HOST, DataType::Utf8, false),
        Field::new(CHANGE, DataType::Utf8, false),
        Field::new(CONTAINER_ID, DataType::Utf8, true),
        Field::new(NAME, DataType::Utf8, true),
        Field::new(IMAGE, DataType::Utf8, true),
        Field::new(LABELS, labels_type(), true),
        Field::new(K8S_NAMESPACE, DataType::Utf8, true),
        Field::new(K8S_POD, DataType::Utf8, true),
        Field::new(K8S_CONTAINER, DataType::Utf8, true),
        Field::new(CGROUP_PATH, DataType::Utf8, true),
        Field::new(PID, DataType::Int32, true),
        Field::new(
            PIDS,
            DataType::List(Arc::new(Field::new("item", DataType::Int32, true))),
            true,
        ),
    ];
    fields.extend(NAMESPACES.map(|ns| Field::new(ns, DataType::UInt32, true)));
    Arc::new(Schema::new(fields))
}

/// Event column: the container's id.
pub const EVENT_CONTAINER_ID: &str = "container_id";
/// Event column: the container's name.
pub const EVENT_CONTAINER_NAME: &str = "container_name";
/// Event column: the container's image.
pub const EVENT_CONTAINER_IMAGE: &str = "container_image";

/// The columns enrichment adds to event batches, in order (all nullable:
/// host processes and unknown containers have none).
pub const ENRICHMENT: [&str; 6] = [
    EVENT_CONTAINER_ID,
    EVENT_CONTAINER_NAME,
    EVENT_CONTAINER_IMAGE,
    K8S_NAMESPACE,
    K8S_POD,
    K8S_CONTAINER,
];

/// The fields of [`ENRICHMENT`]: nullable dictionary-encoded Utf8.
pub fn enrichment_fields() -> Vec<Field> {
    ENRICHMENT
        .iter()
        .map(|name| Field::new(*name, envelope::dict_utf8_type(), true))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_come_last_in_join_order() {
        let s = schema();
        let n = s.fields().len();
        assert_eq!(s.field(n - NAMESPACES.len()).name(), PID_NS);
        assert_eq!(s.field(n - 1).name(), USER_NS);
        assert_eq!(s.field(0).name(), envelope::TS);
    }
}
