//! One data file being written: rows are encoded a row group at a time
//! into a hidden temporary file, which is fsynced and renamed into place
//! when the file is closed (hidden temporary file → fsync → rename → fsync
//! of the directory, DESIGN.md §6).

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::RecordBatch;
use arrow_ipc::CompressionType;
use arrow_ipc::writer::{FileWriter, IpcWriteOptions};
use arrow_ord::sort::sort_to_indices;
use arrow_schema::SchemaRef;
use arrow_select::coalesce::BatchCoalescer;
use arrow_select::concat::concat_batches;
use arrow_select::take::take_record_batch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use trawl_core::envelope;

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

/// What closing a file wrote.
#[derive(Debug, Clone, Default)]
pub(crate) struct Written {
    /// Files renamed into place (more than one when rows came out of order).
    pub files: u64,
    pub rows: u64,
    pub bytes: u64,
}

/// The encoder of a file being written.
enum Encoder {
    Parquet(ArrowWriter<BufWriter<File>>),
    /// Arrow IPC: batches gathered into row-group-sized record batches, so
    /// that readers can stream the file.
    Arrow {
        writer: FileWriter<BufWriter<File>>,
        gather: BatchCoalescer,
    },
}

/// One file under its temporary name.
struct Part {
    temp: PathBuf,
    target: PathBuf,
    rows: u64,
    encoder: Encoder,
}

/// The rows of a data file: encoded a row group at a time into a hidden
/// temporary file, renamed into place by [`DataFile::finish`].
///
/// Rows wait in a window of up to a row group before they are encoded
/// (less when the sink's memory budget is spent: then every window is
/// encoded): out-of-order rows within it are sorted. A row older than one already
/// encoded (rows far out of order: two sources feeding one table, losses of
/// several streams) makes the file end there and a new one start, so that
/// every file is sorted by `ts`, as the catalog declares.
pub(crate) struct DataFile {
    /// Its table (for errors).
    table: String,
    dir: PathBuf,
    schema: SchemaRef,
    part: Option<Part>,
    /// The newest `ts` encoded into `part`.
    encoded_newest: i64,
    window: Vec<RecordBatch>,
    window_rows: usize,
    /// Whether the window's batches follow each other in time.
    window_in_order: bool,
    window_oldest: i64,
    window_newest: i64,
    written: Written,
}

impl DataFile {
    /// A data file of `table` for rows of `schema` in `dir`; nothing is
    /// created before rows are encoded.
    pub fn new(table: String, dir: PathBuf, schema: SchemaRef) -> Self {
        DataFile {
            table,
            dir,
            schema,
            part: None,
            encoded_newest: i64::MIN,
            window: Vec::new(),
            window_rows: 0,
            window_in_order: true,
            window_oldest: i64::MAX,
            window_newest: i64::MIN,
            written: Written::default(),
        }
    }

    /// Takes rows; encodes the window once it
    /// holds a row group. Returns whether it did: no row waits any more.
    pub fn write(&mut self, batch: RecordBatch, settings: &Settings) -> Result<bool> {
        let batch = sort_by_ts(&self.table, batch)?;
        let ts = ts_values(&self.table, &batch)?;
        let (Some(&oldest), Some(&newest)) = (ts.first(), ts.last()) else {
            return Ok(false);
        };
        self.window_in_order &= oldest >= self.window_newest;
        self.window_oldest = self.window_oldest.min(oldest);
        self.window_newest = self.window_newest.max(newest);
        self.window_rows += batch.num_rows();
        self.window.push(batch);
        if self.window_rows < settings.row_group_rows {
            return Ok(false);
        }
        self.encode_window(settings)?;
        Ok(true)
    }

    /// Encodes the rows of the window (sorted), starting a new file first
    /// if they are older than rows already encoded.
    pub fn encode_window(&mut self, settings: &Settings) -> Result<()> {
        if self.window.is_empty() {
            return Ok(());
        }
        let batches = std::mem::take(&mut self.window);
        let batches = if self.window_in_order {
            batches
        } else {
            let all = concat_batches(&self.schema, &batches)?;
            vec![sort_by_ts(&self.table, all)?]
        };
        if self.window_oldest < self.encoded_newest {
            self.finish_part()?;
        }
        let part = match &mut self.part {
            Some(part) => part,
            None => self
                .part
                .insert(Part::create(&self.dir, &self.schema, settings)?),
        };
        for batch in batches {
            part.write(batch)?;
        }
        self.encoded_newest = self.encoded_newest.max(self.window_newest);
        self.window_rows = 0;
        self.window_in_order = true;
        self.window_oldest = i64::MAX;
        self.window_newest = i64::MIN;
        Ok(())
    }

    /// Encodes what is left and renames the file(s) into place.
    pub fn finish(mut self, settings: &Settings) -> Result<Written> {
        let result = self
            .encode_window(settings)
            .and_then(|()| self.finish_part());
        match result {
            Ok(()) => Ok(std::mem::take(&mut self.written)),
            Err(e) => {
                self.abandon();
                Err(e)
            }
        }
    }

    fn finish_part(&mut self) -> Result<()> {
        if let Some(part) = self.part.take() {
            let (rows, bytes) = part.finish(&self.dir)?;
            self.written.files += 1;
            self.written.rows += rows;
            self.written.bytes += bytes;
        }
        self.encoded_newest = i64::MIN;
        Ok(())
    }

    /// Drops the rows not yet in place; the temporary file is removed (best
    /// effort: a leftover is removed by the next start anyway).
    pub fn abandon(mut self) {
        if let Some(part) = self.part.take() {
            drop(part.encoder);
            let _ = std::fs::remove_file(&part.temp);
        }
    }
}

impl Part {
    /// Creates a temporary file in `dir` (created if needed) for rows of `schema`.
    fn create(dir: &Path, schema: &SchemaRef, settings: &Settings) -> Result<Self> {
        create_dir_durably(dir)?;
        let name = file_name(settings.format);
        let temp = dir.join(format!(".{name}{TEMP_SUFFIX}"));
        let target = dir.join(&name);
        let file = File::create(&temp).map_err(Error::io("creating", &temp))?;
        let out = BufWriter::with_capacity(1 << 20, file);
        let encoder = match settings.format {
            FileFormat::Parquet => {
                // The schema of the batches `write` will pass on.
                let schema =
                    super::compat::without_empty_structs(RecordBatch::new_empty(schema.clone()))?
                        .schema();
                let properties = properties(settings, &schema)?;
                let writer = ArrowWriter::try_new(out, schema, Some(properties))
                    .map_err(parquet_error(&temp))?;
                Encoder::Parquet(writer)
            }
            FileFormat::Arrow => {
                let options =
                    IpcWriteOptions::default().try_with_compression(Some(CompressionType::ZSTD))?;
                Encoder::Arrow {
                    writer: FileWriter::try_new_with_options(out, schema, options)?,
                    gather: BatchCoalescer::new(schema.clone(), settings.row_group_rows),
                }
            }
        };
        Ok(Part {
            temp,
            target,
            rows: 0,
            encoder,
        })
    }

    fn write(&mut self, batch: RecordBatch) -> Result<()> {
        self.rows += batch.num_rows() as u64;
        match &mut self.encoder {
            Encoder::Parquet(writer) => {
                let batch = super::compat::without_empty_structs(batch)?;
                writer.write(&batch).map_err(parquet_error(&self.temp))
            }
            Encoder::Arrow { writer, gather } => {
                gather.push_batch(batch)?;
                while let Some(batch) = gather.next_completed_batch() {
                    writer.write(&batch)?;
                }
                Ok(())
            }
        }
    }

    /// Finishes the file, fsyncs it and renames it into place: (rows, bytes).
    fn finish(self, dir: &Path) -> Result<(u64, u64)> {
        let Part {
            temp,
            target,
            rows,
            encoder,
        } = self;
        let bytes = finish_encoder(encoder, &temp)
            .and_then(|out| {
                let file = out
                    .into_inner()
                    .map_err(|e| Error::io("writing", &temp)(e.into_error()))?;
                file.sync_all().map_err(Error::io("syncing", &temp))?;
                Ok(file
                    .metadata()
                    .map_err(Error::io("reading size of", &temp))?
                    .len())
            })
            .inspect_err(|_| {
                // Best effort: a leftover is removed by the next start anyway.
                let _ = std::fs::remove_file(&temp);
            })?;
        std::fs::rename(&temp, &target).map_err(Error::io("renaming into place", &target))?;
        sync_dir(dir)?;
        Ok((rows, bytes))
    }
}

fn finish_encoder(encoder: Encoder, temp: &Path) -> Result<BufWriter<File>> {
    match encoder {
        Encoder::Parquet(writer) => writer.into_inner().map_err(parquet_error(temp)),
        Encoder::Arrow {
            mut writer,
            mut gather,
        } => {
            gather.finish_buffered_batch()?;
            while let Some(batch) = gather.next_completed_batch() {
                writer.write(&batch)?;
            }
            writer.finish()?;
            Ok(writer.into_inner()?)
        }
    }
}

fn parquet_error(path: &Path) -> impl FnOnce(parquet::errors::ParquetError) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Parquet { path, source }
}

/// `batch` in `ts` order (stable; the batch itself, no copy, when already sorted).
fn sort_by_ts(event: &str, batch: RecordBatch) -> Result<RecordBatch> {
    let ts = ts_values(event, &batch)?;
    if ts.is_sorted() {
        return Ok(batch);
    }
    let column = batch
        .column_by_name(envelope::TS)
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

/// Writer settings for rows of `schema`: dictionary encoding for strings (class
/// names, process names, dictionary columns), plain encoding for fixed-width
/// columns, whose runs zstd compresses as well: interning every integer of
/// every row was most of the write time. `ts` (sorted) is delta-encoded.
fn properties(settings: &Settings, schema: &SchemaRef) -> Result<WriterProperties> {
    let level = ZstdLevel::try_new(settings.zstd_level).map_err(|e| Error::Config {
        field: "zstd_level".into(),
        reason: e.to_string(),
    })?;
    let mut builder = WriterProperties::builder();
    for field in schema.fields() {
        if field.data_type().is_primitive() {
            let path = ColumnPath::from(field.name().as_str());
            builder = builder.set_column_dictionary_enabled(path, false);
        }
    }
    // One value per file (its table, its `host=` directory, its trace):
    // statistics would prune nothing, and computing them compares the
    // string of every row.
    for name in [envelope::HOST, envelope::DOMAIN, envelope::EVENT] {
        builder = builder.set_column_statistics_enabled(name.into(), EnabledStatistics::None);
    }
    Ok(builder
        .set_column_encoding(
            ColumnPath::from(envelope::TS),
            Encoding::DELTA_BINARY_PACKED,
        )
        .set_column_dictionary_enabled(ColumnPath::from(envelope::TS), false)
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
