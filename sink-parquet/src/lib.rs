//! Partitioned, rolling, atomically visible Parquet writer and the DataFusion
//! catalog over it (DESIGN.md §1, §6).
//!
//! [`ParquetSink`] writes [`Message`](trawl_core::Message)s into a data
//! directory: one dataset (directory) per event class, named after the class
//! ([`table_name`]: `lttng_ust_libc:malloc` → `lttng_ust_libc_malloc`),
//! hive-partitioned (`host=web-1/date=2024-05-01/hour=13/` by default), plus
//! a `losses` dataset for [`Loss`](trawl_core::Loss) rows:
//!
//! - a file's rows are encoded by a writer thread as they arrive, a row
//!   group at a time (rows within one row group are sorted by `ts`; a row
//!   older than rows already encoded starts a new file, so that every file
//!   is sorted by `ts`); rows not yet encoded take at most
//!   `max_buffered_bytes` (above it the sink waits: backpressure), so memory
//!   does not grow with the input;
//! - a file is closed when it reaches `max_rows` or `max_bytes`, is
//!   `max_age_secs` old, its time partition is complete (a watermark passed
//!   its end), its table's schema changes, or on
//!   [`flush`](trawl_core::Sink::flush), which returns once every file is in
//!   place;
//! - Parquet files are zstd-compressed (strings dictionary-encoded, `ts`
//!   delta-encoded) with row-group and page statistics, so a `ts` range
//!   reads only the row groups it needs;
//! - a file is written under a hidden name (`.part-….tmp`), fsynced and
//!   renamed into place: readers never see a partial file, and a sink that
//!   starts removes what a crashed one left;
//! - `format = "arrow"` writes Arrow IPC files instead.
//!
//! [`catalog::register`] turns a data directory into DataFusion tables
//! (merged schema across files), the `losses` table and the `events` view.
//!
//! ```
//! use std::sync::Arc;
//! use arrow_array::{RecordBatch, TimestampNanosecondArray, UInt64Array};
//! use arrow_array::{DictionaryArray, UInt32Array, types::Int32Type};
//! use trawl_core::{envelope, EventBatch, Message, Sink};
//! use trawl_sink_parquet::{ParquetSink, ParquetSinkConfig, catalog};
//!
//! let dir = tempfile::tempdir()?;
//! let mut sink = ParquetSink::new(ParquetSinkConfig::new(dir.path()))?;
//!
//! // Two rows of `lttng_ust_libc:malloc`, out of time order.
//! let schema = envelope::schema_with_metadata(
//!     vec![arrow_schema::Field::new("size", arrow_schema::DataType::UInt64, false)],
//!     "lttng_ust_libc:malloc", "web-1", "ust", "",
//! );
//! let dict = |v: &str| Arc::new(DictionaryArray::<Int32Type>::from_iter([v, v]));
//! let batch = RecordBatch::try_new(schema, vec![
//!     Arc::new(TimestampNanosecondArray::from(vec![2_000, 1_000]).with_timezone("UTC")),
//!     dict("web-1"), dict("ust"),
//!     Arc::new(UInt64Array::from(vec![0, 0])),
//!     Arc::new(UInt32Array::from(vec![Some(1), Some(1)])),
//!     dict("lttng_ust_libc:malloc"),
//!     Arc::new(UInt64Array::from(vec![32, 16])),
//! ])?;
//! sink.consume(Message::Events(EventBatch { batch }))?;
//! sink.flush()?; // the file is renamed into place
//!
//! // Read it back with SQL.
//! let rt = tokio::runtime::Builder::new_current_thread().build()?;
//! let sizes = rt.block_on(async {
//!     let (ctx, tables) = catalog::session(dir.path()).await?;
//!     assert_eq!(tables.events, ["lttng_ust_libc_malloc"]);
//!     let df = ctx.sql("SELECT size FROM lttng_ust_libc_malloc").await?;
//!     Ok::<_, Box<dyn std::error::Error>>(df.collect().await?)
//! })?;
//! let sizes = sizes[0].column(0).as_any().downcast_ref::<UInt64Array>().unwrap();
//! assert_eq!(sizes.values(), &[16, 32]); // sorted by ts within the file
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod catalog;
mod config;
mod error;
mod sink;

pub use config::{
    DEFAULT_FORMAT, DEFAULT_MAX_AGE_SECS, DEFAULT_MAX_BUFFERED_BYTES, DEFAULT_MAX_BYTES,
    DEFAULT_MAX_ROWS, DEFAULT_PARTITION_BY, DEFAULT_ROW_GROUP_ROWS, DEFAULT_ZSTD_LEVEL, FileFormat,
    ParquetSinkConfig, PartitionKey,
};
pub use error::{Error, Result};
pub use sink::partition::{EVENTS_VIEW, LOSSES_TABLE, table_name};
pub use sink::{ParquetSink, SinkStats};
