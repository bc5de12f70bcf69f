//! `trawl sql`: DataFusion SQL over a data directory the Parquet sink wrote.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use trawl_sink_parquet::catalog;

/// Arguments of `trawl sql`.
#[derive(Debug, Args)]
pub struct SqlArgs {
    /// The data directory (`trawl convert --out DIR`, or a Parquet sink's `path`).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// The query (one statement).
    #[arg(value_name = "SQL")]
    pub sql: String,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = SqlFormat::Table)]
    pub format: SqlFormat,
}

/// How `trawl sql` prints the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SqlFormat {
    /// An aligned table with a header.
    Table,
    /// CSV with a header line.
    Csv,
    /// One JSON object per row, one per line.
    Json,
}

pub(super) fn run(args: SqlArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    if !args.data.is_dir() {
        return Err(format!("--data {}: not a directory", args.data.display()).into());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let batches = runtime.block_on(async {
        let (ctx, _) = catalog::session(&args.data).await?;
        let frame = ctx.sql(&args.sql).await?;
        Ok::<_, Box<dyn std::error::Error>>(frame.collect().await?)
    })?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    print(&mut out, &batches, args.format)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn print(
    out: &mut impl Write,
    batches: &[RecordBatch],
    format: SqlFormat,
) -> Result<(), Box<dyn std::error::Error>> {
    match format {
        SqlFormat::Table => writeln!(out, "{}", pretty_format_batches(batches)?)?,
        SqlFormat::Csv => {
            let mut writer = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(out);
            for batch in batches {
                writer.write(batch)?;
            }
        }
        SqlFormat::Json => {
            let mut writer = datafusion::arrow::json::LineDelimitedWriter::new(out);
            writer.write_batches(&batches.iter().collect::<Vec<_>>())?;
            writer.finish()?;
        }
    }
    Ok(())
}
