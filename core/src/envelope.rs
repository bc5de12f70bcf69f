//! The envelope columns every event batch starts with, in this order
//! (DESIGN.md §2), and the schema metadata keys that name the batch.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, TimeUnit};

/// Absolute event time, ns since the Unix epoch, clock offset applied.
pub const TS: &str = "ts";
/// The traced host (the trace's `env.hostname`).
pub const HOST: &str = "host";
/// The tracing domain: `kernel`, `ust`, ...
pub const DOMAIN: &str = "domain";
/// The data stream within its trace (`stream_instance_id`, or the stream's
/// position among the trace's stream files when the header has none).
pub const STREAM_ID: &str = "stream_id";
/// The CPU whose buffer held the event (`packet.context.cpu_id`), if known.
pub const CPU: &str = "cpu";
/// The event class name.
pub const EVENT: &str = "event";

/// Names of the envelope columns, in schema order.
pub const COLUMNS: [&str; 6] = [TS, HOST, DOMAIN, STREAM_ID, CPU, EVENT];

/// Schema metadata key: the event class name.
pub const META_EVENT: &str = "trawl.event";
/// Schema metadata key: the traced host.
pub const META_HOST: &str = "trawl.host";
/// Schema metadata key: the tracing domain.
pub const META_DOMAIN: &str = "trawl.domain";
/// Schema metadata key: the trace UUID (lowercase hyphenated), empty if none.
pub const META_TRACE_UUID: &str = "trawl.trace_uuid";

/// The Arrow type of [`TS`].
pub fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

/// The Arrow type of the dictionary-encoded string columns ([`HOST`], [`DOMAIN`], [`EVENT`]).
pub fn dict_utf8_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// The six envelope fields, in order.
pub fn fields() -> Vec<Field> {
    vec![
        Field::new(TS, ts_type(), false),
        Field::new(HOST, dict_utf8_type(), false),
        Field::new(DOMAIN, dict_utf8_type(), false),
        Field::new(STREAM_ID, DataType::UInt64, false),
        Field::new(CPU, DataType::UInt32, true),
        Field::new(EVENT, dict_utf8_type(), false),
    ]
}

/// An event schema: the envelope followed by `rest` (context and payload columns).
pub fn schema(rest: Vec<Field>) -> Schema {
    let mut all = fields();
    all.extend(rest);
    Schema::new(all)
}

/// An event schema carrying the metadata keys that name its batch.
pub fn schema_with_metadata(
    rest: Vec<Field>,
    event: &str,
    host: &str,
    domain: &str,
    trace_uuid: &str,
) -> Arc<Schema> {
    let metadata = HashMap::from([
        (META_EVENT.to_string(), event.to_string()),
        (META_HOST.to_string(), host.to_string()),
        (META_DOMAIN.to_string(), domain.to_string()),
        (META_TRACE_UUID.to_string(), trace_uuid.to_string()),
    ]);
    Arc::new(schema(rest).with_metadata(metadata))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_order_is_the_contract() {
        let s = schema(vec![Field::new("vpid", DataType::Int32, true)]);
        let names: Vec<_> = s.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, [TS, HOST, DOMAIN, STREAM_ID, CPU, EVENT, "vpid"]);
    }

    #[test]
    fn metadata_names_the_batch() {
        let s = schema_with_metadata(vec![], "sched_switch", "h1", "kernel", "");
        assert_eq!(s.metadata()[META_EVENT], "sched_switch");
        assert_eq!(s.metadata()[META_DOMAIN], "kernel");
    }
}
