//! JSON lines.

/// One JSON object per event.
#[derive(Debug, Default)]
pub struct JsonFormatter {}
