//! Container enrichment: which container every event came from.
//!
//! - **Records** ([`ContainerRecord`], [`record::to_batch`]): one state change
//!   of one container (created, started, updated, stopped, removed) or the
//!   host's own namespaces; as Arrow, the `Containers` message of DESIGN.md §2.
//! - **Watchers** ([`WatcherBuilder`]): the Docker Engine API when its socket
//!   answers, else `/proc` and cgroup paths ([`cgroup`] knows the Docker,
//!   containerd, CRI-O, podman and kubepods layouts, cgroup v1 and v2) while
//!   Docker is tried again; Kubernetes identity from the CRI labels. A
//!   static file ([`ContainerFile`]) serves traces read offline.
//! - **The join** ([`Enricher`], a `trawl_core::Transform`): by namespace
//!   inode on the same host, and by thread for kernel events (the `tid`
//!   context, else the thread `sched_switch` put on the event's CPU); adds
//!   `container_id`, `container_name`, `container_image`, `k8s_namespace`,
//!   `k8s_pod`, `k8s_container` to every event batch.
//!
//! ```
//! use std::sync::Arc;
//! use arrow_array::{
//!     Array, ArrayAccessor, DictionaryArray, RecordBatch, StringArray, TimestampNanosecondArray, UInt32Array,
//!     UInt64Array, cast::AsArray, types::Int32Type,
//! };
//! use arrow_schema::{DataType, Field};
//! use trawl_core::{envelope, Containers, EventBatch, Message, Transform};
//! use trawl_enrich::{ContainerRecord, Enricher, Namespaces, record};
//!
//! // The watcher's record: container "web" runs in pid namespace 4026532500.
//! let web = ContainerRecord {
//!     host: "node1".into(),
//!     id: "c0ffee".into(),
//!     name: Some("web".into()),
//!     ns: Namespaces { pid_ns: Some(4026532500), ..Namespaces::default() },
//!     ..ContainerRecord::default()
//! };
//! let mut join = Enricher::default();
//! let mut out = Vec::new();
//! let batch = record::to_batch(&[web]).unwrap();
//! join.process(Message::Containers(Containers { batch }), &mut out).unwrap();
//!
//! // Two events: one in the container, one on the host (initial pid namespace).
//! let schema = envelope::schema_with_metadata(
//!     vec![Field::new("pid_ns", DataType::UInt32, true)],
//!     "lttng_ust_libc:malloc", "node1", "ust", "",
//! );
//! let dict = |v: &str| -> Arc<dyn arrow_array::Array> {
//!     Arc::new(DictionaryArray::<Int32Type>::from_iter([v, v]))
//! };
//! let columns: Vec<Arc<dyn arrow_array::Array>> = vec![
//!     Arc::new(TimestampNanosecondArray::from(vec![1, 2]).with_timezone("UTC")),
//!     dict("node1"),
//!     dict("ust"),
//!     Arc::new(UInt64Array::from(vec![0, 0])),
//!     Arc::new(UInt32Array::from(vec![0, 0])),
//!     dict("lttng_ust_libc:malloc"),
//!     Arc::new(UInt32Array::from(vec![4026532500, 0xEFFF_FFFC])),
//! ];
//! let batch = RecordBatch::try_new(schema, columns).unwrap();
//! join.process(Message::Events(EventBatch { batch }), &mut out).unwrap();
//!
//! let Message::Events(enriched) = &out[1] else { panic!() };
//! let names = enriched.batch.column_by_name("container_name").unwrap();
//! let names = names.as_dictionary::<Int32Type>().downcast_dict::<StringArray>().unwrap();
//! assert_eq!(names.value(0), "web");
//! assert!(names.is_null(1)); // the host process
//! ```

pub mod cgroup;
mod error;
mod file;
mod join;
pub mod procfs;
pub mod record;
mod watch;

pub use error::EnrichError;
pub use file::ContainerFile;
pub use join::{
    DEFAULT_GRACE, DEFAULT_HOLD, DEFAULT_MAX_HELD_ROWS, EnrichStats, Enricher, EnricherBuilder,
};
pub use record::{Change, ContainerRecord, Namespaces};
pub use watch::{
    DEFAULT_DOCKER_SOCKET, DEFAULT_PROC_ROOT, DEFAULT_RECONNECT_MAX, DEFAULT_RECONNECT_MIN,
    DEFAULT_RESCAN_INTERVAL, Watcher, WatcherBuilder, default_docker_socket,
};
