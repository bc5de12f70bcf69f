//! The sink: routes rows to one open file per (table, partition, trace),
//! hands them to the writer threads, and closes files when they are full,
//! old, complete (watermark) or flushed.

mod compat;
mod file;
mod losses;
pub(crate) mod partition;
mod writers;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch};
use arrow_schema::{Schema, SchemaRef};
use trawl_core::{Message, Sink, Watermark, envelope};

use crate::config::{ParquetSinkConfig, Settings};
use crate::error::{Error, Result};
use partition::{LOSSES_TABLE, Partitioner, table_name};
use writers::{Done, FileId, Writers};

pub(crate) use file::is_data_file;

/// How often open files are checked against `max_age`.
const AGE_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Counters of what the sink has made durable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// Files renamed into place.
    pub files: u64,
    /// Rows in those files.
    pub rows: u64,
    /// Bytes of those files.
    pub bytes: u64,
    /// Rows consumed but not yet in a visible file.
    pub buffered_rows: u64,
}

/// Which open file a row goes to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct FileKey {
    table: String,
    /// Relative to the data directory: `table/host=../date=../hour=..`.
    dir: PathBuf,
    host: String,
    domain: String,
}

/// A file being written, as the sink sees it (its writer thread has the rest).
#[derive(Debug)]
struct OpenFile {
    id: FileId,
    schema: SchemaRef,
    rows: usize,
    bytes: usize,
    opened: Instant,
    /// End (ns, exclusive) of the file's time partition, if time partitions.
    bucket_end: Option<i64>,
}

/// Writes [`Message`]s into partitioned, rolling, atomically visible
/// Parquet (or Arrow IPC) files; see the crate documentation.
///
/// Rows are durable once [`Sink::flush`] returns; call it before dropping
/// the sink (dropping does not write: an error could not be reported).
/// A write that fails returns the error and loses that file's rows; the
/// caller stops or replays from its last acknowledged input.
#[derive(Debug)]
pub struct ParquetSink {
    settings: Settings,
    partitioner: Partitioner,
    open: HashMap<FileKey, OpenFile>,
    /// Files asked to close and not yet renamed into place, with their rows.
    closing: HashMap<FileId, usize>,
    writers: Writers,
    next_id: FileId,
    last_age_check: Instant,
    stats: SinkStats,
}

impl ParquetSink {
    /// Validates `config`, creates the data directory, removes temporary
    /// files that a crashed writer left behind and starts the writer threads.
    pub fn new(config: ParquetSinkConfig) -> Result<Self> {
        let settings = config.settings("")?;
        std::fs::create_dir_all(&settings.path)
            .map_err(Error::io("creating directory", &settings.path))?;
        file::remove_stale_temp_files(&settings.path)?;
        Ok(ParquetSink {
            partitioner: Partitioner::new(&settings.partition_by),
            writers: Writers::start(settings.write_threads, &settings)?,
            settings,
            open: HashMap::new(),
            closing: HashMap::new(),
            next_id: 0,
            last_age_check: Instant::now(),
            stats: SinkStats::default(),
        })
    }

    /// What has been written so far.
    pub fn stats(&self) -> SinkStats {
        let open = self.open.values().map(|f| f.rows);
        let buffered = open.chain(self.closing.values().copied()).sum::<usize>();
        SinkStats {
            buffered_rows: buffered as u64,
            ..self.stats
        }
    }

    /// Takes one message (the [`Sink`] contract, with this crate's error).
    pub fn write(&mut self, msg: Message) -> Result<()> {
        while let Some(done) = self.writers.try_done() {
            self.ended(done)?;
        }
        match msg {
            Message::Events(events) => self.write_events(events.batch)?,
            Message::Loss(loss) => {
                let batch = losses::batch(&loss)?;
                let ts = losses::loss_ts(&loss);
                self.append(LOSSES_TABLE, &loss.host, &loss.domain, ts, batch)?;
            }
            Message::Watermark(mark) => self.close_complete(&mark)?,
            // Container records get their own dataset with the enrichment issue.
            Message::Containers(_) => {}
        }
        self.close_old()
    }

    /// Closes every open file and waits until each is in place (or failed):
    /// everything consumed so far is durable. Returns the first failure.
    pub fn close_all(&mut self) -> Result<()> {
        let keys: Vec<FileKey> = self.open.keys().cloned().collect();
        let mut first_error = None;
        for key in keys {
            if let Err(e) = self.close(&key) {
                first_error.get_or_insert(e);
            }
        }
        if let Err(e) = self.wait_closing() {
            first_error.get_or_insert(e);
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Waits until the files already closing (full, old, complete) are in
    /// place (or failed); open files stay open. Returns the first failure.
    pub fn wait_closing(&mut self) -> Result<()> {
        let mut first_error = None;
        while !self.closing.is_empty() {
            let done = self.writers.wait_done()?;
            if let Err(e) = self.ended(done) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn write_events(&mut self, batch: RecordBatch) -> Result<()> {
        let meta = batch.schema_ref().metadata();
        let first = |column: &str| -> Option<String> {
            let array = batch.column_by_name(column)?;
            let dict = array.as_any_dictionary_opt()?;
            let values = dict.values().as_string_opt::<i32>()?;
            let key = dict.normalized_keys().first().copied()?;
            (key < values.len()).then(|| values.value(key).to_string())
        };
        let named = |key: &str, column: &str| meta.get(key).cloned().or_else(|| first(column));
        let event =
            named(envelope::META_EVENT, envelope::EVENT).ok_or_else(|| Error::BadBatch {
                event: "?".into(),
                reason: format!(
                    "neither `{}` metadata nor an `event` column",
                    envelope::META_EVENT
                ),
            })?;
        let host = named(envelope::META_HOST, envelope::HOST).unwrap_or_default();
        let domain = named(envelope::META_DOMAIN, envelope::DOMAIN).unwrap_or_default();
        let table = table_name(&event);
        // Only the class name stays as schema metadata: host, domain and
        // trace differ between files of one table and are columns anyway.
        let schema = Arc::new(Schema::new_with_metadata(
            batch.schema_ref().fields().clone(),
            HashMap::from([(envelope::META_EVENT.to_string(), event.clone())]),
        ));
        let batch = RecordBatch::try_new(schema, batch.columns().to_vec())?;
        for (ts, part) in self.partitioner.split(&event, batch)? {
            self.append(&table, &host, &domain, ts, part)?;
        }
        Ok(())
    }

    /// Appends rows of one time partition (`ts` is one of its times); a
    /// schema change closes the open file first.
    fn append(
        &mut self,
        table: &str,
        host: &str,
        domain: &str,
        ts: i64,
        batch: RecordBatch,
    ) -> Result<()> {
        let key = FileKey {
            table: table.to_string(),
            dir: PathBuf::from(table).join(self.partitioner.dir(host, domain, ts)),
            host: host.to_string(),
            domain: domain.to_string(),
        };
        let schema: SchemaRef = batch.schema();
        if self
            .open
            .get(&key)
            .is_some_and(|f| f.schema.fields() != schema.fields())
        {
            self.close(&key)?;
        }
        let mut rest = batch;
        while rest.num_rows() > 0 {
            if !self.open.contains_key(&key) {
                let id = self.next_id;
                self.next_id += 1;
                let dir = self.settings.path.join(&key.dir);
                self.writers.open(id, table, dir, schema.clone())?;
                let file = OpenFile {
                    id,
                    schema: schema.clone(),
                    rows: 0,
                    bytes: 0,
                    opened: Instant::now(),
                    bucket_end: self.partitioner.bucket_end(ts),
                };
                self.open.insert(key.clone(), file);
            }
            let Some(open) = self.open.get_mut(&key) else {
                unreachable!("inserted above");
            };
            // Never more than `max_rows` in a file: split the batch (no copy).
            let take = rest.num_rows().min(self.settings.max_rows - open.rows);
            let rows = rest.slice(0, take);
            rest = rest.slice(take, rest.num_rows() - take);
            open.rows += take;
            open.bytes += rows.get_array_memory_size();
            self.writers.write(open.id, rows)?;
            if open.rows >= self.settings.max_rows || open.bytes >= self.settings.max_bytes {
                self.close(&key)?;
            }
        }
        Ok(())
    }

    /// Closes the files of the watermark's trace whose time partition has ended.
    fn close_complete(&mut self, mark: &Watermark) -> Result<()> {
        let done: Vec<FileKey> = self
            .open
            .iter()
            .filter(|(k, f)| {
                k.host == mark.host
                    && k.domain == mark.domain
                    && f.bucket_end.is_some_and(|end| end <= mark.ts)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in done {
            self.close(&key)?;
        }
        Ok(())
    }

    /// Closes the files open for `max_age` (checked once a second).
    fn close_old(&mut self) -> Result<()> {
        if self.last_age_check.elapsed() < AGE_CHECK_INTERVAL {
            return Ok(());
        }
        self.last_age_check = Instant::now();
        let old: Vec<FileKey> = self
            .open
            .iter()
            .filter(|(_, f)| f.opened.elapsed() >= self.settings.max_age)
            .map(|(k, _)| k.clone())
            .collect();
        for key in old {
            self.close(&key)?;
        }
        Ok(())
    }

    /// Asks the file's thread to finish it; [`ParquetSink::ended`] counts it.
    fn close(&mut self, key: &FileKey) -> Result<()> {
        let Some(open) = self.open.remove(key) else {
            return Ok(());
        };
        self.closing.insert(open.id, open.rows);
        self.writers.close(open.id)
    }

    /// A file is in place, or failed: then its rows are lost, and the error
    /// says which file and why.
    fn ended(&mut self, done: Done) -> Result<()> {
        if self.closing.remove(&done.id).is_none() {
            // It failed while open: the next rows of its key start a new file.
            self.open.retain(|_, f| f.id != done.id);
        }
        let written = done.result?;
        self.stats.files += written.files;
        self.stats.rows += written.rows;
        self.stats.bytes += written.bytes;
        Ok(())
    }
}

impl Sink for ParquetSink {
    fn consume(&mut self, msg: Message) -> trawl_core::Result<()> {
        Ok(self.write(msg)?)
    }

    fn flush(&mut self) -> trawl_core::Result<()> {
        Ok(self.close_all()?)
    }
}

/// The schema of the `losses` dataset.
pub(crate) fn losses_schema() -> SchemaRef {
    losses::SCHEMA.clone()
}
