//! The DataFusion catalog over a data directory: one table per dataset
//! (event class), `losses`, and the `events` view over the envelope columns
//! of every event table, and the columns they all share (the contexts a
//! session added to every event: `vpid`, `procname`, `pid_ns`...).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::arrow::ArrowFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::{SessionContext, col};
use trawl_core::envelope;

use crate::config::FileFormat;
use crate::error::{Error, Result};
use crate::sink::is_data_file;
use crate::sink::partition::{EVENTS_VIEW, LOSSES_TABLE};

/// What [`register`] found in a data directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tables {
    /// Event tables (one per event class), sorted by name.
    pub events: Vec<String>,
    /// Whether a `losses` dataset exists (an empty `losses` table is registered otherwise).
    pub losses: bool,
}

/// The non-envelope columns every table has, with one type, in the first
/// table's order.
fn shared_columns(tables: &[(String, SchemaRef)]) -> Vec<String> {
    let Some((_, first)) = tables.first() else {
        return Vec::new();
    };
    first
        .fields()
        .iter()
        .filter(|f| !envelope::COLUMNS.contains(&f.name().as_str()))
        .filter(|f| {
            tables.iter().all(|(_, s)| {
                s.field_with_name(f.name())
                    .is_ok_and(|g| g.data_type() == f.data_type())
            })
        })
        .map(|f| f.name().clone())
        .collect()
}

/// A dataset found on disk.
struct Dataset {
    dir: PathBuf,
    format: FileFormat,
    /// Hive keys of the partition directories, outermost first.
    partition_keys: Vec<String>,
}

/// A session with the tables of `data_dir` registered (see [`register`]).
pub async fn session(data_dir: &Path) -> Result<(SessionContext, Tables)> {
    let ctx = SessionContext::new();
    let tables = register(&ctx, data_dir).await?;
    Ok((ctx, tables))
}

/// Registers in `ctx` one table per dataset of `data_dir` (a directory the
/// sink writes), named after the dataset, with the schema merged over all
/// its files (columns missing from older files read as null) and the leading
/// hive partition keys that are not file columns as columns;
/// `losses`; and the `events` view (`ts, host, domain, stream_id, cpu, event`
/// of every event table, then every other column all of them have with the
/// same type, `UNION ALL`).
pub async fn register(ctx: &SessionContext, data_dir: &Path) -> Result<Tables> {
    let datasets = find_datasets(data_dir)?;
    let mut tables = Tables::default();
    let mut envelope_tables = Vec::new();
    for (name, dataset) in &datasets {
        let schema = register_dataset(ctx, name, dataset).await?;
        if name == LOSSES_TABLE {
            tables.losses = true;
            continue;
        }
        if envelope::COLUMNS
            .iter()
            .all(|c| schema.field_with_name(c).is_ok())
        {
            envelope_tables.push((name.clone(), schema));
        }
        tables.events.push(name.clone());
    }
    if !tables.losses {
        let empty = MemTable::try_new(crate::sink::losses_schema(), vec![vec![]])?;
        ctx.register_table(LOSSES_TABLE, Arc::new(empty))?;
    }
    if envelope_tables.is_empty() {
        let schema = Arc::new(envelope::schema(vec![]));
        ctx.register_table(
            EVENTS_VIEW,
            Arc::new(MemTable::try_new(schema, vec![vec![]])?),
        )?;
    } else {
        let columns = envelope::COLUMNS
            .iter()
            .map(|c| c.to_string())
            .chain(shared_columns(&envelope_tables))
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let union = envelope_tables
            .iter()
            .map(|(t, _)| format!("SELECT {columns} FROM \"{t}\""))
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        ctx.sql(&format!("CREATE VIEW \"{EVENTS_VIEW}\" AS {union}"))
            .await?;
    }
    Ok(tables)
}

/// Registers one dataset; returns its table schema.
async fn register_dataset(
    ctx: &SessionContext,
    name: &str,
    dataset: &Dataset,
) -> Result<SchemaRef> {
    let format: Arc<dyn datafusion::datasource::file_format::FileFormat> = match dataset.format {
        FileFormat::Parquet => Arc::new(ParquetFormat::default()),
        FileFormat::Arrow => Arc::new(ArrowFormat),
    };
    let extension = dataset.format.extension();
    let url = ListingTableUrl::parse(format!("{}/", dataset.dir.display()))?;
    let options = ListingOptions::new(format).with_file_extension(extension);
    let file_schema = options.infer_schema(&ctx.state(), &url).await?;
    // DataFusion matches partition columns against the directory levels in
    // order, and a partition column cannot share a file column's name: the
    // leading keys that are not file columns become columns (`date`, `hour`
    // with `partition_by = ["date", "hour", "host"]`); the first key that is
    // a file column (`host`, read from the files with its envelope type)
    // ends them. `ts` statistics prune files and row groups either way.
    let partition_cols: Vec<(String, DataType)> = dataset
        .partition_keys
        .iter()
        .take_while(|k| file_schema.field_with_name(k).is_err())
        .map(|k| (k.clone(), DataType::Utf8))
        .collect();
    // Files written before a schema change lack the new columns: every
    // column may read as null.
    let fields: Vec<Field> = file_schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    let file_schema = Arc::new(Schema::new(fields));
    let options = options
        .with_table_partition_cols(partition_cols)
        .with_file_sort_order(vec![vec![col(envelope::TS).sort(true, false)]]);
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(file_schema);
    let table = ListingTable::try_new(config)?;
    let schema = datafusion::datasource::TableProvider::schema(&table);
    ctx.register_table(name, Arc::new(table))?;
    Ok(schema)
}

/// The datasets under `data_dir`: sub-directories holding data files, with
/// the format and partition keys of the first file found.
fn find_datasets(data_dir: &Path) -> Result<BTreeMap<String, Dataset>> {
    let mut out = BTreeMap::new();
    let entries = std::fs::read_dir(data_dir).map_err(Error::io("listing", data_dir))?;
    for entry in entries {
        let entry = entry.map_err(Error::io("listing", data_dir))?;
        let dir = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !dir.is_dir() || name.starts_with(['.', '_']) {
            continue;
        }
        if let Some((format, partition_keys)) = first_file(&dir, Vec::new())? {
            out.insert(
                name,
                Dataset {
                    dir,
                    format,
                    partition_keys,
                },
            );
        }
    }
    Ok(out)
}

/// The format of the first data file under `dir` and the hive keys of the
/// directories leading to it (Parquet preferred where a directory holds both).
fn first_file(dir: &Path, keys: Vec<String>) -> Result<Option<(FileFormat, Vec<String>)>> {
    let mut subdirs = Vec::new();
    let mut found = None;
    for entry in std::fs::read_dir(dir).map_err(Error::io("listing", dir))? {
        let entry = entry.map_err(Error::io("listing", dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if path.is_dir() {
            if let Some((key, _)) = name.split_once('=') {
                subdirs.push((path, key.to_string()));
            }
        } else if is_data_file(&name) {
            let format = if name.ends_with(FileFormat::Parquet.extension()) {
                FileFormat::Parquet
            } else {
                FileFormat::Arrow
            };
            if found.is_none() || format == FileFormat::Parquet {
                found = Some(format);
            }
        }
    }
    if let Some(format) = found {
        return Ok(Some((format, keys)));
    }
    subdirs.sort();
    for (sub, key) in subdirs {
        let mut keys = keys.clone();
        keys.push(key);
        if let Some(found) = first_file(&sub, keys)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}
