//! Shared helpers of trawl's benches and of the comparison harness
//! (`trawl-compare`, in `src/bin/compare.rs`), which times `trawl cat` against
//! `babeltrace2` on the same real LTTng trace in one run.
//!
//! ```
//! use std::time::Duration;
//! use trawl_benches::{events_per_second, median};
//!
//! let runs = [Duration::from_secs(3), Duration::from_secs(2), Duration::from_secs(4)];
//! let typical = median(&runs).unwrap();
//! assert_eq!(events_per_second(4_000_000, typical), 1_333_333.3333333333);
//! ```

mod babeltrace;
mod measure;

pub use babeltrace::{BabeltraceError, Counts, count_events, parse_counter_output};
pub use measure::{MeasureError, Measurement, measure, median, run_and_report};

use std::time::Duration;

/// `events / wall` (0 for a zero duration).
pub fn events_per_second(events: u64, wall: Duration) -> f64 {
    let secs = wall.as_secs_f64();
    if secs > 0.0 {
        events as f64 / secs
    } else {
        0.0
    }
}
