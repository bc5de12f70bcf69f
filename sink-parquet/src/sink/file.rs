//! One file being filled: rows buffered in memory, sorted by `ts` and written
//! atomically when the file is closed (hidden temporary file → fsync →
//! rename → fsync of the directory, DESIGN.md §6).

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use arrow_array::RecordBatch;
use arrow_ipc::CompressionType;
use arrow_ipc::writer::{FileWriter, IpcWriteOptions};
use arrow_ord::sort::sort_to_indices;
use arrow_schema::SchemaRef;
use arrow_select::concat::concat_batches;
use arrow_select::take::take_record_batch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use super::partition::ts_values;
use crate::config::{FileFormat, Settings};
use crate::error::{Error, Result};

/// Name prefix of every data file the sink writes.
const PART_PREFIX: &str = "part-";
/// Name prefix of a file being written: hidden from DataFusion, pyarrow and Spark.
const TEMP_PREFIX: &str = ".part-";
/// Name suffix of a file being written.
const TEMP_SUFFIX: &str = ".tmp";

/// Files written by this process, for unique names.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// Rows of one future file.
#[derive(Debug)]
pub(crate) struct OpenFile {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub rows: usize,
    pub bytes: usize,
    pub opened: Instant,
    /// End (ns, exclusive) of the file's time partition, if time partitions.
    pub bucket_end: Option<i64>,
}

/// What closing a file wrote.
#[derive(Debug, Clone)]
pub(crate) struct Written {
    pub rows: usize,
    pub bytes: u64,
}

impl OpenFile {
    pub fn new(schema: SchemaRef, bucket_end: Option<i64>) -> Self {
        OpenFile {
            schema,
            batches: Vec::new(),
            rows: 0,
            bytes: 0,
            opened: Instant::now(),
            bucket_end,
        }
    }

    pub fn push(&mut self, batch: RecordBatch) {
        self.rows += batch.num_rows();
        self.bytes += batch.get_array_memory_size();
        self.batches.push(batch);
    }

    /// Sorts the rows by `ts` and writes them to a new file in `dir`
    /// (created if needed); the file is visible only once complete.
    pub fn write(self, dir: &Path, settings: &Settings) -> Result<Written> {
        let table = dir.display().to_string();
        let batch = concat_batches(&self.schema, &self.batches)?;
        drop(self.batches);
        let batch = sort_by_ts(&table, batch)?;
        create_dir_durably(dir)?;
        let name = file_name(settings.format);
        let temp = dir.join(format!(".{name}{TEMP_SUFFIX}"));
        let target = dir.join(&name);
        let written = write_temp(&temp, &batch, settings).inspect_err(|_| {
            // Best effort: a leftover is removed by the next start anyway.
            let _ = std::fs::remove_file(&temp);
        })?;
        std::fs::rename(&temp, &target).map_err(Error::io("renaming into place", &target))?;
        sync_dir(dir)?;
        Ok(Written {
            rows: batch.num_rows(),
            bytes: written,
        })
    }
}

/// `batch` in `ts` order (stable; a no-op copy-free when already sorted).
fn sort_by_ts(event: &str, batch: RecordBatch) -> Result<RecordBatch> {
    let ts = ts_values(event, &batch)?;
    if ts.is_sorted() {
        return Ok(batch);
    }
    let column = batch
        .column_by_name(trawl_core::envelope::TS)
        .ok_or_else(|| Error::BadBatch {
            event: event.into(),
            reason: "no ts column".into(),
        })?;
    let indices = sort_to_indices(column, None, None)?;
    Ok(take_record_batch(&batch, &indices)?)
}

/// `part-<UTC time>-<pid>-<sequence>.<ext>`: unique across restarts and
/// across processes writing the same directory.
fn file_name(format: FileFormat) -> String {
    let now = chrono::Utc::now().format("%Y%m%dT%H%M%S%.9fZ");
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    format!(
        "{PART_PREFIX}{now}-{}-{seq:06}{}",
        std::process::id(),
        format.extension()
    )
}

/// Writes and fsyncs `path`; returns its size.
fn write_temp(path: &Path, batch: &RecordBatch, settings: &Settings) -> Result<u64> {
    let file = File::create(path).map_err(Error::io("creating", path))?;
    let out = BufWriter::with_capacity(1 << 20, file);
    let file = match settings.format {
        FileFormat::Parquet => {
            let batch = &super::compat::without_empty_structs(batch.clone())?;
            let parquet_error = |source| Error::Parquet {
                path: path.to_path_buf(),
                source,
            };
            let mut writer =
                ArrowWriter::try_new(out, batch.schema(), Some(properties(settings, batch)?))
                    .map_err(parquet_error)?;
            writer.write(batch).map_err(parquet_error)?;
            writer.into_inner().map_err(parquet_error)?
        }
        FileFormat::Arrow => {
            let options =
                IpcWriteOptions::default().try_with_compression(Some(CompressionType::ZSTD))?;
            let mut writer = FileWriter::try_new_with_options(out, &batch.schema(), options)?;
            // Row-group-sized record batches, so readers can stream the file.
            let mut offset = 0;
            while offset < batch.num_rows() {
                let len = settings.row_group_rows.min(batch.num_rows() - offset);
                writer.write(&batch.slice(offset, len))?;
                offset += len;
            }
            writer.finish()?;
            writer.into_inner()?
        }
    };
    let file = file
        .into_inner()
        .map_err(|e| Error::io("writing", path)(e.into_error()))?;
    file.sync_all().map_err(Error::io("syncing", path))?;
    let size = file
        .metadata()
        .map_err(Error::io("reading size of", path))?
        .len();
    Ok(size)
}

/// Writer settings for `batch`: dictionary encoding for strings (class
/// names, process names, dictionary columns), plain encoding for fixed-width
/// columns, whose runs zstd compresses as well: interning every integer of
/// every row was most of the write time. `ts` (sorted) is delta-encoded.
fn properties(settings: &Settings, batch: &RecordBatch) -> Result<WriterProperties> {
    let level = ZstdLevel::try_new(settings.zstd_level).map_err(|e| Error::Config {
        field: "zstd_level".into(),
        reason: e.to_string(),
    })?;
    let mut builder = WriterProperties::builder();
    for field in batch.schema_ref().fields() {
        if field.data_type().is_primitive() {
            let path = ColumnPath::from(field.name().as_str());
            builder = builder.set_column_dictionary_enabled(path, false);
        }
    }
    Ok(builder
        .set_column_encoding(
            ColumnPath::from(trawl_core::envelope::TS),
            Encoding::DELTA_BINARY_PACKED,
        )
        .set_column_dictionary_enabled(ColumnPath::from(trawl_core::envelope::TS), false)
        .set_compression(Compression::ZSTD(level))
        .set_dictionary_enabled(true)
        // Row-group and page statistics: a `ts` range skips row groups and pages.
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(settings.row_group_rows))
        .set_sorting_columns(Some(vec![SortingColumn {
            column_idx: 0,
            descending: false,
            nulls_first: false,
        }]))
        .set_created_by(concat!("trawl ", env!("CARGO_PKG_VERSION")).into())
        .build())
}

/// `create_dir_all`, with each new directory's parent fsynced so that the
/// directory entry survives a crash.
fn create_dir_durably(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dir_durably(parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(Error::io("creating directory", dir)(e)),
    }
    match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => sync_dir(parent),
        _ => Ok(()),
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io("syncing directory", dir))
}

/// Removes the temporary files under `root` left by processes that are gone
/// (a crash or kill -9 mid-write); returns how many. Files of a live process
/// (another sink writing the same directory) are left alone.
pub(crate) fn remove_stale_temp_files(root: &Path) -> Result<usize> {
    let mut removed = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io("listing", dir)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(Error::io("listing", &dir))?;
            let path: PathBuf = entry.path();
            let kind = entry.file_type().map_err(Error::io("inspecting", &path))?;
            if kind.is_dir() {
                stack.push(path);
                continue;
            }
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(temp_file_pid) else {
                continue;
            };
            if pid != std::process::id() && !process_alive(pid) {
                std::fs::remove_file(&path).map_err(Error::io("removing", &path))?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// The writer's pid, if `name` is one of our temporary files.
fn temp_file_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(TEMP_PREFIX)?.strip_suffix(TEMP_SUFFIX)?;
    // <time>-<pid>-<seq>.<ext>
    let mut parts = rest.split('-');
    parts.next()?;
    parts.next()?.parse().ok()
}

fn process_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

/// Whether `name` is a data file the sink wrote (visible, complete).
pub(crate) fn is_data_file(name: &str) -> bool {
    name.starts_with(PART_PREFIX)
        && (name.ends_with(FileFormat::Parquet.extension())
            || name.ends_with(FileFormat::Arrow.extension()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_carry_the_writer_pid() {
        let name = file_name(FileFormat::Parquet);
        assert!(is_data_file(&name), "{name}");
        let temp = format!(".{name}{TEMP_SUFFIX}");
        assert_eq!(temp_file_pid(&temp), Some(std::process::id()));
        assert_eq!(temp_file_pid(&name), None);
        assert_eq!(temp_file_pid(".part-x-notapid-1.parquet.tmp"), None);
    }

    #[test]
    fn stale_temp_files_of_dead_writers_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("t/host=h");
        std::fs::create_dir_all(&sub).unwrap();
        // pid 2^22+1 is above Linux's pid_max limit: never alive.
        let dead = sub.join(".part-20240101T000000.000000000Z-4194305-000001.parquet.tmp");
        let mine = sub.join(format!(
            ".part-20240101T000000.000000000Z-{}-000001.parquet.tmp",
            std::process::id()
        ));
        let data = sub.join("part-20240101T000000.000000000Z-4194305-000001.parquet");
        for f in [&dead, &mine, &data] {
            std::fs::write(f, b"x").unwrap();
        }
        assert_eq!(remove_stale_temp_files(dir.path()).unwrap(), 1);
        assert!(!dead.exists() && mine.exists() && data.exists());
    }
}
