//! Text renderings of decoded events.
//!
//! - [`PrettyFormatter`]: babeltrace2's default text output, byte for byte
//!   (what `trawl cat` prints; `TZ=UTC babeltrace2 TRACE` is the oracle).
//! - [`JsonFormatter`]: one JSON object per event per line, mirroring the
//!   Arrow columns (the shape is documented on the type).
//!
//! Both take an event as a row of its event class's Arrow batch (the
//! mapping contract of the decoder) plus the resolved [`TraceClass`], which
//! carries what Arrow does not: display bases, enum mappings, the env, the
//! clocks.
//!
//! ```
//! use trawl_source_lttng::format::{PrettyFormatter, trace_name};
//! let f = PrettyFormatter::new();
//! # let _ = f;
//! ```
//!
//! [`TraceClass`]: crate::metadata::TraceClass

mod error;
mod json;
mod layout;
mod pretty;
#[cfg(test)]
mod test_util;
mod text;
mod values;

pub use error::FormatError;
pub use json::JsonFormatter;
pub use pretty::{DiscardedNotice, PrettyFormatter, trace_name};
