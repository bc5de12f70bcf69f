//! The sink: routes rows to one open file per (table, partition, trace) and
//! closes files when they are full, old, complete (watermark) or flushed.

mod compat;
mod file;
mod losses;
pub(crate) mod partition;

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
use file::OpenFile;
use partition::{LOSSES_TABLE, Partitioner, table_name};

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
    buffered_bytes: usize,
    last_age_check: Instant,
    stats: SinkStats,
}

impl ParquetSink {
    /// Validates `config`, creates the data directory and removes temporary
    /// files that a crashed writer left behind.
    pub fn new(config: ParquetSinkConfig) -> Result<Self> {
        let settings = config.settings("")?;
        std::fs::create_dir_all(&settings.path)
            .map_err(Error::io("creating directory", &settings.path))?;
        file::remove_stale_temp_files(&settings.path)?;
        Ok(ParquetSink {
            partitioner: Partitioner::new(&settings.partition_by),
            settings,
            open: HashMap::new(),
            buffered_bytes: 0,
            last_age_check: Instant::now(),
            stats: SinkStats::default(),
        })
    }

    /// What has been written so far.
    pub fn stats(&self) -> SinkStats {
        SinkStats {
            buffered_rows: self.open.values().map(|f| f.rows as u64).sum(),
            ..self.stats
        }
    }

    /// Takes one message (the [`Sink`] contract, with this crate's error).
    pub fn write(&mut self, msg: Message) -> Result<()> {
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
        self.enforce_limits()
    }

    /// Closes every open file: everything consumed so far is durable.
    pub fn close_all(&mut self) -> Result<()> {
        let keys: Vec<FileKey> = self.open.keys().cloned().collect();
        for key in keys {
            self.close(&key)?;
        }
        Ok(())
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

    /// Appends rows of one time partition; a schema change closes the open file first.
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
        let bucket_end = self.partitioner.bucket_end(ts);
        let mut rest = batch;
        while rest.num_rows() > 0 {
            let open = self
                .open
                .entry(key.clone())
                .or_insert_with(|| OpenFile::new(schema.clone(), bucket_end));
            // Never more than `max_rows` in a file: split the batch (no copy).
            let take = rest.num_rows().min(self.settings.max_rows - open.rows);
            let before = open.bytes;
            open.push(rest.slice(0, take));
            rest = rest.slice(take, rest.num_rows() - take);
            self.buffered_bytes += open.bytes - before;
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

    /// Memory bound (largest files first) and age.
    fn enforce_limits(&mut self) -> Result<()> {
        while self.buffered_bytes > self.settings.max_buffered_bytes {
            let Some(key) = self
                .open
                .iter()
                .max_by_key(|(_, f)| f.bytes)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.close(&key)?;
        }
        if self.last_age_check.elapsed() >= AGE_CHECK_INTERVAL {
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
        }
        Ok(())
    }

    fn close(&mut self, key: &FileKey) -> Result<()> {
        let Some(open) = self.open.remove(key) else {
            return Ok(());
        };
        self.buffered_bytes = self.buffered_bytes.saturating_sub(open.bytes);
        let written = open.write(&self.settings.path.join(&key.dir), &self.settings)?;
        self.stats.files += 1;
        self.stats.rows += written.rows as u64;
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
