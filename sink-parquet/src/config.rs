//! The sink's configuration: a serde [`ParquetSinkConfig`] (a TOML table of
//! the pipeline config) validated once into [`Settings`] (STYLE.md §5).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Default [`ParquetSinkConfig::format`].
pub const DEFAULT_FORMAT: FileFormat = FileFormat::Parquet;
/// Default [`ParquetSinkConfig::partition_by`]: `host=/date=/hour=` directories.
pub const DEFAULT_PARTITION_BY: [PartitionKey; 3] =
    [PartitionKey::Host, PartitionKey::Date, PartitionKey::Hour];
/// Default [`ParquetSinkConfig::max_rows`]: rows per file.
pub const DEFAULT_MAX_ROWS: u64 = 1 << 20;
/// Default [`ParquetSinkConfig::max_bytes`]: Arrow bytes of rows per file (64 MiB).
pub const DEFAULT_MAX_BYTES: u64 = 64 << 20;
/// Default [`ParquetSinkConfig::max_age_secs`]: seconds a file stays open.
pub const DEFAULT_MAX_AGE_SECS: u64 = 60;
/// Default [`ParquetSinkConfig::max_buffered_bytes`]: Arrow bytes of rows not yet encoded (16 MiB).
pub const DEFAULT_MAX_BUFFERED_BYTES: u64 = 16 << 20;
/// Default [`ParquetSinkConfig::write_threads`].
pub const DEFAULT_WRITE_THREADS: u64 = 2;
/// Most [`ParquetSinkConfig::write_threads`] (a typo should not start a million threads).
const MAX_WRITE_THREADS: u64 = 256;
/// Default [`ParquetSinkConfig::row_group_rows`]: rows per Parquet row group.
pub const DEFAULT_ROW_GROUP_ROWS: u64 = 128 * 1024;
/// Default [`ParquetSinkConfig::zstd_level`].
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;

/// The file format the sink writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    /// Apache Parquet: zstd, strings dictionary-encoded, row-group and page statistics.
    Parquet,
    /// Arrow IPC files (zstd-compressed buffers).
    Arrow,
}

impl FileFormat {
    /// The file name extension, with its dot.
    pub fn extension(self) -> &'static str {
        match self {
            FileFormat::Parquet => ".parquet",
            FileFormat::Arrow => ".arrow",
        }
    }
}

/// A level of the hive partition directories (`key=value/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PartitionKey {
    /// The traced host (`host=web-1`).
    Host,
    /// The tracing domain (`domain=ust`).
    Domain,
    /// The UTC day of the event's `ts` (`date=2024-05-01`).
    Date,
    /// The UTC hour of the event's `ts` (`hour=13`).
    Hour,
}

impl PartitionKey {
    /// The directory key (`host` in `host=web-1`).
    pub fn name(self) -> &'static str {
        match self {
            PartitionKey::Host => "host",
            PartitionKey::Domain => "domain",
            PartitionKey::Date => "date",
            PartitionKey::Hour => "hour",
        }
    }
}

/// Configuration of a [`crate::ParquetSink`], e.g. as a pipeline TOML table:
///
/// ```toml
/// [sinks.out]
/// type = "parquet"          # read by the pipeline runner, not by this struct
/// path = "/var/lib/trawl"
/// max_rows = 500000
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParquetSinkConfig {
    /// The data directory: one sub-directory (dataset) per event class, plus `losses`.
    pub path: PathBuf,
    /// `parquet` (default) or `arrow` (Arrow IPC files).
    #[serde(default = "default_format")]
    pub format: FileFormat,
    /// Hive partition directories, outermost first (default `["host", "date", "hour"]`).
    #[serde(default = "default_partition_by")]
    pub partition_by: Vec<PartitionKey>,
    /// A file is closed once it holds this many rows.
    #[serde(default = "default_max_rows")]
    pub max_rows: u64,
    /// A file is closed once its rows took this many Arrow bytes (the file is much smaller).
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    /// A file is closed this many seconds after its first row, so that live data becomes visible.
    #[serde(default = "default_max_age_secs")]
    pub max_age_secs: u64,
    /// Arrow bytes of rows handed to the writer threads and not yet
    /// encoded; above it the sink waits for them (backpressure).
    #[serde(default = "default_max_buffered_bytes")]
    pub max_buffered_bytes: u64,
    /// Threads encoding files while the pipeline goes on (each open file
    /// is encoded by one of them as its rows arrive).
    #[serde(default = "default_write_threads")]
    pub write_threads: u64,
    /// Rows per Parquet row group (the unit of statistics-based pruning).
    #[serde(default = "default_row_group_rows")]
    pub row_group_rows: u64,
    /// zstd compression level (1..=22).
    #[serde(default = "default_zstd_level")]
    pub zstd_level: i32,
}

fn default_format() -> FileFormat {
    DEFAULT_FORMAT
}
fn default_partition_by() -> Vec<PartitionKey> {
    DEFAULT_PARTITION_BY.to_vec()
}
fn default_max_rows() -> u64 {
    DEFAULT_MAX_ROWS
}
fn default_max_bytes() -> u64 {
    DEFAULT_MAX_BYTES
}
fn default_max_age_secs() -> u64 {
    DEFAULT_MAX_AGE_SECS
}
fn default_max_buffered_bytes() -> u64 {
    DEFAULT_MAX_BUFFERED_BYTES
}
fn default_write_threads() -> u64 {
    DEFAULT_WRITE_THREADS
}
fn default_row_group_rows() -> u64 {
    DEFAULT_ROW_GROUP_ROWS
}
fn default_zstd_level() -> i32 {
    DEFAULT_ZSTD_LEVEL
}

impl ParquetSinkConfig {
    /// The defaults, writing under `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ParquetSinkConfig {
            path: path.into(),
            format: DEFAULT_FORMAT,
            partition_by: default_partition_by(),
            max_rows: DEFAULT_MAX_ROWS,
            max_bytes: DEFAULT_MAX_BYTES,
            max_age_secs: DEFAULT_MAX_AGE_SECS,
            max_buffered_bytes: DEFAULT_MAX_BUFFERED_BYTES,
            write_threads: DEFAULT_WRITE_THREADS,
            row_group_rows: DEFAULT_ROW_GROUP_ROWS,
            zstd_level: DEFAULT_ZSTD_LEVEL,
        }
    }

    /// Checks every field; `prefix` is the dotted path of this table in the
    /// enclosing config (e.g. `sinks.out`), used in error messages:
    /// `sinks.out.max_rows must be > 0`.
    pub fn validate(&self, prefix: &str) -> Result<(), Error> {
        self.settings(prefix).map(drop)
    }

    /// The validated runtime form.
    pub(crate) fn settings(&self, prefix: &str) -> Result<Settings, Error> {
        let field = |name: &str| {
            if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}.{name}")
            }
        };
        let invalid = |name: &str, reason: String| Error::Config {
            field: field(name),
            reason,
        };
        if self.path.as_os_str().is_empty() {
            return Err(invalid("path", "must not be empty".into()));
        }
        for (name, value) in [
            ("max_rows", self.max_rows),
            ("max_bytes", self.max_bytes),
            ("max_age_secs", self.max_age_secs),
            ("max_buffered_bytes", self.max_buffered_bytes),
            ("write_threads", self.write_threads),
            ("row_group_rows", self.row_group_rows),
        ] {
            if value == 0 {
                return Err(invalid(name, "must be > 0".into()));
            }
        }
        if self.write_threads > MAX_WRITE_THREADS {
            return Err(invalid(
                "write_threads",
                format!(
                    "must be at most {MAX_WRITE_THREADS}, not {}",
                    self.write_threads
                ),
            ));
        }
        for (i, key) in self.partition_by.iter().enumerate() {
            if self.partition_by[..i].contains(key) {
                return Err(invalid(
                    "partition_by",
                    format!("must not list `{}` twice", key.name()),
                ));
            }
        }
        if !(1..=22).contains(&self.zstd_level) {
            return Err(invalid(
                "zstd_level",
                format!("must be in 1..=22, not {}", self.zstd_level),
            ));
        }
        let to_usize = |name: &str, v: u64| {
            usize::try_from(v).map_err(|_| invalid(name, format!("{v} is too large")))
        };
        Ok(Settings {
            path: self.path.clone(),
            format: self.format,
            partition_by: self.partition_by.clone(),
            max_rows: to_usize("max_rows", self.max_rows)?,
            max_bytes: to_usize("max_bytes", self.max_bytes)?,
            max_age: Duration::from_secs(self.max_age_secs),
            max_buffered_bytes: to_usize("max_buffered_bytes", self.max_buffered_bytes)?,
            write_threads: to_usize("write_threads", self.write_threads)?,
            row_group_rows: to_usize("row_group_rows", self.row_group_rows)?,
            zstd_level: self.zstd_level,
        })
    }
}

/// A validated [`ParquetSinkConfig`].
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub path: PathBuf,
    pub format: FileFormat,
    pub partition_by: Vec<PartitionKey>,
    pub max_rows: usize,
    pub max_bytes: usize,
    pub max_age: Duration,
    pub max_buffered_bytes: usize,
    pub write_threads: usize,
    pub row_group_rows: usize,
    pub zstd_level: i32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_dotted_field() {
        let mut c = ParquetSinkConfig::new("/tmp/x");
        c.max_rows = 0;
        let e = c.validate("sinks.out").unwrap_err().to_string();
        assert_eq!(e, "sinks.out.max_rows must be > 0");
        let mut c = ParquetSinkConfig::new("/tmp/x");
        c.partition_by = vec![PartitionKey::Hour, PartitionKey::Hour];
        let e = c.validate("").unwrap_err().to_string();
        assert_eq!(e, "partition_by must not list `hour` twice");
    }

    #[test]
    fn json_with_defaults_and_unknown_keys() {
        let c: ParquetSinkConfig =
            serde_json::from_str(r#"{"path": "d", "format": "arrow", "partition_by": ["date"]}"#)
                .unwrap();
        assert_eq!(c.format, FileFormat::Arrow);
        assert_eq!(c.partition_by, [PartitionKey::Date]);
        assert_eq!(c.max_rows, DEFAULT_MAX_ROWS);
        let e = serde_json::from_str::<ParquetSinkConfig>(r#"{"path": "d", "max_row": 1}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `max_row`"), "{e}");
    }
}
