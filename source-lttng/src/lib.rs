//! LTTng / CTF 1.8 input for trawl: the TSDL metadata parser, decode plans that
//! turn packet bytes straight into Arrow batches, and the trace-directory reader.

pub mod decode;
pub mod format;
pub mod live;
pub mod metadata;
pub mod trace_dir;
