//! Per-container metrics from trawl events, served as OpenMetrics text on
//! `/metrics` for Prometheus (DESIGN.md §1), with Grafana dashboards in
//! `exporter/dashboards/`. Clients that do not ask for OpenMetrics (curl,
//! `promtool check metrics`) get the Prometheus text format.
//!
//! [`PrometheusSink`] is a [`trawl_core::Sink`]: it aggregates every event
//! batch per container (labels `host`, `container_id`, `container_name`,
//! `image`, `namespace`, `pod`, `container`, from the enrichment columns;
//! empty when a batch has none, i.e. host level) and serves the result:
//!
//! - kernel: `trawl_kernel_cpu_usage_seconds_total` (sched_switch),
//!   `trawl_kernel_runqueue_latency_seconds` (wakeup → switch-in),
//!   `trawl_kernel_syscalls_total` and `trawl_kernel_syscall_latency_seconds`
//!   by `syscall`, `trawl_kernel_network_{transmit,receive}_{bytes,packets}_total`
//!   by `interface`, `trawl_kernel_block_io_bytes_total` and
//!   `trawl_kernel_block_io_latency_seconds` by `op`,
//!   `trawl_kernel_page_allocations_total`, `trawl_kernel_page_faults_total`;
//! - user space: `trawl_ust_events_total` by `event`,
//!   `trawl_ust_request_latency_seconds` by `status` (the demo's
//!   `trawl_demo:request_begin`/`request_end`, matched by `vpid` and `id`);
//! - the exporter itself: events, batches, batch sizes, lost events and
//!   packets (Loss messages), watermark lag, live series;
//! - the pipeline's stages, when the runner hands their counters over
//!   ([`PrometheusSink::with_stages`]): `trawl_pipeline_*{stage}` (events,
//!   batches and bytes received and sent, losses, stalls, time blocked,
//!   errors, files written, lag);
//! - `trawl_container_info{...} 1` per container seen.
//!
//! ```
//! use trawl_core::Sink;
//! use trawl_exporter::{PrometheusSink, PrometheusSinkConfig};
//!
//! let config = PrometheusSinkConfig { listen: "127.0.0.1:0".into(), ..Default::default() };
//! let mut sink = PrometheusSink::new(&config).unwrap();
//! sink.flush().unwrap();
//! let text = sink.render();
//! assert!(text.contains("# TYPE trawl_exporter_batches counter"));
//! assert!(text.ends_with("# EOF\n"));
//! ```

mod aggregate;
mod config;
mod error;
mod hist;
mod http;
mod labels;
mod render;
mod sink;
mod stages;
mod state;

pub use aggregate::{Aggregator, REQUEST_BEGIN, REQUEST_END};
pub use config::{
    ALL_LABELS, DEFAULT_LISTEN, DEFAULT_STALE_AFTER_SECS, PrometheusSinkConfig, Settings,
};
pub use error::ExporterError;
pub use hist::LATENCY_BOUNDS_NS;
pub use http::{CONTENT_TYPE, Server, TEXT_CONTENT_TYPE};
pub use sink::PrometheusSink;
pub use stages::{StageCounters, StageReader};
