//! Where rows go: the dataset (table) of an event class and the hive
//! partition directory of each row.

use std::collections::BTreeSet;
use std::path::PathBuf;

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampNanosecondType;
use arrow_array::{BooleanArray, RecordBatch};
use arrow_select::filter::filter_record_batch;
use chrono::{DateTime, Timelike};
use trawl_core::envelope;

use crate::config::PartitionKey;
use crate::error::{Error, Result};

const NS_PER_HOUR: i64 = 3_600_000_000_000;
const NS_PER_DAY: i64 = 24 * NS_PER_HOUR;

/// The dataset (table) of the `Loss` rows.
pub const LOSSES_TABLE: &str = "losses";
/// The view over the envelope columns of every event table.
pub const EVENTS_VIEW: &str = "events";

/// The table name of an event class: every character other than an ASCII
/// letter, digit or `_` becomes `_` (`lttng_ust_libc:malloc` →
/// `lttng_ust_libc_malloc`); a leading digit gets a `_` prefix; a name that
/// would shadow [`LOSSES_TABLE`] or [`EVENTS_VIEW`] gets an `_event` suffix.
pub fn table_name(event_class: &str) -> String {
    let mut name: String = event_class
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    if name == LOSSES_TABLE || name == EVENTS_VIEW {
        name.push_str("_event");
    }
    name
}

/// A directory value: safe characters kept, anything else (`/`, `=`, spaces) → `_`.
fn dir_value(value: &str) -> String {
    if value.is_empty() {
        return "unknown".into();
    }
    value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// How rows are split into partition directories.
#[derive(Debug, Clone)]
pub(crate) struct Partitioner {
    keys: Vec<PartitionKey>,
    /// Width of one time partition in ns (an hour or a day), if time partitions.
    bucket_ns: Option<i64>,
}

impl Partitioner {
    pub fn new(keys: &[PartitionKey]) -> Self {
        let bucket_ns = if keys.contains(&PartitionKey::Hour) {
            Some(NS_PER_HOUR)
        } else if keys.contains(&PartitionKey::Date) {
            Some(NS_PER_DAY)
        } else {
            None
        };
        Partitioner {
            keys: keys.to_vec(),
            bucket_ns,
        }
    }

    /// The exclusive end (ns) of the time partition holding `ts`, if time partitions.
    pub fn bucket_end(&self, ts: i64) -> Option<i64> {
        self.bucket_ns
            .map(|w| ts.div_euclid(w).saturating_add(1).saturating_mul(w))
    }

    /// The relative directory (`host=h/date=2024-05-01/hour=13`) of rows of
    /// `host`/`domain` at time `ts`.
    pub fn dir(&self, host: &str, domain: &str, ts: i64) -> PathBuf {
        let time = DateTime::from_timestamp_nanos(ts);
        self.keys
            .iter()
            .map(|key| {
                let value = match key {
                    PartitionKey::Host => dir_value(host),
                    PartitionKey::Domain => dir_value(domain),
                    PartitionKey::Date => time.format("%Y-%m-%d").to_string(),
                    PartitionKey::Hour => format!("{:02}", time.hour()),
                };
                format!("{}={value}", key.name())
            })
            .collect()
    }

    /// Splits `batch` by time partition: `(a ts inside the partition, rows)`.
    /// One partition (the usual case) costs one pass over `ts` and no copy.
    pub fn split(&self, event: &str, batch: RecordBatch) -> Result<Vec<(i64, RecordBatch)>> {
        let ts = ts_values(event, &batch)?;
        let Some(&first) = ts.first() else {
            return Ok(Vec::new());
        };
        let Some(width) = self.bucket_ns else {
            return Ok(vec![(first, batch)]);
        };
        let bucket = |t: i64| t.div_euclid(width);
        let b0 = bucket(first);
        if ts.iter().all(|&t| bucket(t) == b0) {
            return Ok(vec![(first, batch)]);
        }
        let buckets: BTreeSet<i64> = ts.iter().map(|&t| bucket(t)).collect();
        let mut out = Vec::with_capacity(buckets.len());
        for b in buckets {
            let mask: BooleanArray = ts.iter().map(|&t| Some(bucket(t) == b)).collect();
            out.push((b.saturating_mul(width), filter_record_batch(&batch, &mask)?));
        }
        Ok(out)
    }
}

/// The `ts` column's values (ns) of an event batch.
pub(crate) fn ts_values<'a>(event: &str, batch: &'a RecordBatch) -> Result<&'a [i64]> {
    let column = batch
        .column_by_name(envelope::TS)
        .ok_or_else(|| Error::BadBatch {
            event: event.into(),
            reason: format!("no `{}` column", envelope::TS),
        })?;
    let ts = column
        .as_primitive_opt::<TimestampNanosecondType>()
        .ok_or_else(|| Error::BadBatch {
            event: event.into(),
            reason: format!(
                "`{}` is {}, not {}",
                envelope::TS,
                column.data_type(),
                envelope::ts_type()
            ),
        })?;
    Ok(ts.values())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::TimestampNanosecondArray;
    use arrow_schema::{Field, Schema};

    use super::*;

    #[test]
    fn table_names_are_sanitized() {
        assert_eq!(table_name("lttng_ust_libc:malloc"), "lttng_ust_libc_malloc");
        assert_eq!(table_name("sched switch/x"), "sched_switch_x");
        assert_eq!(table_name("9p"), "_9p");
        assert_eq!(table_name("losses"), "losses_event");
        assert_eq!(table_name(""), "_");
    }

    #[test]
    fn hive_directories_from_host_and_ts() {
        let p = Partitioner::new(&crate::config::DEFAULT_PARTITION_BY);
        // 2024-05-01T13:20:00Z
        let ts = 1_714_569_600_000_000_000;
        assert_eq!(
            p.dir("web/1", "ust", ts),
            PathBuf::from("host=web_1/date=2024-05-01/hour=13")
        );
        assert_eq!(p.bucket_end(ts), Some(1_714_572_000_000_000_000));
        let none = Partitioner::new(&[PartitionKey::Domain]);
        assert_eq!(none.dir("h", "", ts), PathBuf::from("domain=unknown"));
        assert_eq!(none.bucket_end(ts), None);
    }

    #[test]
    fn a_batch_across_an_hour_boundary_is_split() {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "ts",
            envelope::ts_type(),
            false,
        )]));
        let ts = TimestampNanosecondArray::from(vec![NS_PER_HOUR - 1, NS_PER_HOUR, 5])
            .with_timezone("UTC");
        let batch = RecordBatch::try_new(schema, vec![Arc::new(ts)]).unwrap();
        let p = Partitioner::new(&crate::config::DEFAULT_PARTITION_BY);
        let parts = p.split("e", batch).unwrap();
        let rows: Vec<_> = parts.iter().map(|(t, b)| (*t, b.num_rows())).collect();
        assert_eq!(rows, [(0, 2), (NS_PER_HOUR, 1)]);
    }

    #[test]
    fn a_batch_without_ts_is_refused() {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "x",
            arrow_schema::DataType::Int32,
            false,
        )]));
        let batch = RecordBatch::try_new(
            schema,
            vec![Arc::new(arrow_array::Int32Array::from(vec![1]))],
        )
        .unwrap();
        let e = Partitioner::new(&[]).split("ev", batch).unwrap_err();
        assert_eq!(e.to_string(), "event batch of `ev`: no `ts` column");
    }
}
