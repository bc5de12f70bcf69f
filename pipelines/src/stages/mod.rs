//! The stages trawl ships in this crate, each with its config: small
//! enough for one file each (config struct, defaults and stage together).

mod containers;
mod enrich;
mod filter;
mod jsonl;
mod lttng;
mod lttng_live;
mod null;
mod parquet;
mod prometheus;

pub use containers::ContainersSourceConfig;
pub use enrich::EnrichConfig;
pub use filter::{FilterConfig, FilterTransform};
pub use jsonl::{DEFAULT_JSONL_PATH, JsonlSinkConfig};
pub use lttng::{DEFAULT_BATCH_ROWS, LttngSourceConfig};
pub use lttng_live::LttngLiveSourceConfig;
pub use null::NullSinkConfig;
