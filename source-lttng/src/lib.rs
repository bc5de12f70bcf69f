//! LTTng / CTF 1.8 input for trawl: the TSDL metadata parser, decode plans that
//! turn packet bytes straight into Arrow batches, the trace-directory reader,
//! and a generator of synthetic lttng-modules kernel traces ([`generate`]).

pub mod decode;
pub mod format;
pub mod generate;
pub mod live;
pub mod metadata;
pub mod trace_dir;

mod progress;
