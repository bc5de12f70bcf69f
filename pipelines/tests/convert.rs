//! `trawl convert` and `trawl sql`: the Parquet files hold exactly what the
//! decoder (`trawl cat`) yields, pyarrow reads them, and kill -9 mid-write
//! leaves nothing partial behind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::DataType;
use trawl_core::{Message, Source, envelope};
use trawl_sink_parquet::table_name;
use trawl_source_lttng::trace_dir::TraceDirSourceBuilder;

use crate::common::lttng::{self, Buffers, LiveRecording};
use crate::common::{files_under, lttng_or_skip};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/ctf-traces/succeed")
}

fn trawl(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_trawl"))
        .args(args)
        .output()
        .expect("run trawl");
    assert!(
        out.status.success(),
        "trawl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn convert(input: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "convert",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    trawl(&args)
}

/// Rows per table, each row rendered as `name: type = value` per column, sorted.
type Rows = BTreeMap<String, Vec<String>>;

fn render(batch: &RecordBatch, skip: &dyn Fn(&DataType) -> bool, into: &mut Vec<String>) {
    let options = FormatOptions::default().with_null("null");
    let columns: Vec<_> = batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .filter(|(f, _)| !skip(f.data_type()))
        .map(|(f, c)| {
            let head = format!("{}: {}", f.name(), f.data_type());
            (head, ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
        })
        .collect();
    for row in 0..batch.num_rows() {
        let cells: Vec<String> = columns
            .iter()
            .map(|(head, fmt)| format!("{head} = {}", fmt.value(row)))
            .collect();
        into.push(cells.join(", "));
    }
}

/// What the decoder yields for `input`, through the source `trawl cat
/// --format none` and `trawl convert` drive. Top-level empty structs are
/// left out: Parquet cannot hold them.
fn decoded(input: &Path) -> Rows {
    let empty_struct = |t: &DataType| matches!(t, DataType::Struct(f) if f.is_empty());
    let mut source = TraceDirSourceBuilder::new(vec![input.to_path_buf()])
        .build()
        .unwrap();
    let mut rows = Rows::new();
    while let Some(msg) = source.next_message().unwrap() {
        if let Message::Events(e) = msg {
            let class = &e.batch.schema_ref().metadata()[envelope::META_EVENT];
            let table = rows.entry(table_name(class)).or_default();
            render(&e.batch, &empty_struct, table);
        }
    }
    rows.values_mut().for_each(|v| v.sort());
    rows
}

/// Every visible file under `dir` (hidden ones are work in progress).
fn visible_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if !p.file_name().unwrap().to_string_lossy().starts_with('.') {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Every file of every event table under `out`, read with the parquet crate.
fn written(out: &Path) -> Rows {
    let mut rows = Rows::new();
    for file in visible_files(out) {
        let table = file.strip_prefix(out).unwrap().components().next().unwrap();
        let table = table.as_os_str().to_string_lossy().into_owned();
        if table == trawl_sink_parquet::LOSSES_TABLE {
            continue;
        }
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(&file).unwrap(),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .build()
        .unwrap();
        let into = rows.entry(table).or_default();
        for batch in reader {
            render(&batch.unwrap(), &|_| false, into);
        }
    }
    rows.values_mut().for_each(|v| v.sort());
    rows
}

fn assert_same_rows(input: &Path, out: &Path) {
    let (ours, theirs) = (written(out), decoded(input));
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>(),
        "tables"
    );
    for (table, rows) in &theirs {
        let got = &ours[table];
        assert_eq!(got.len(), rows.len(), "{table}: row count");
        if let Some(i) = (0..rows.len()).find(|&i| got[i] != rows[i]) {
            panic!(
                "{table}: row {i} differs:\n parquet: {}\n decoder: {}",
                got[i], rows[i]
            );
        }
    }
}

/// `trawl sql --format csv SQL`'s single value.
fn sql_value(data: &Path, sql: &str) -> String {
    let out = trawl(&["sql", "--data", data.to_str().unwrap(), "-f", "csv", sql]);
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines().nth(1).unwrap_or_default().to_string()
}

/// Lines of `trawl cat --format json INPUT`: one per event.
fn cat_events(input: &Path) -> usize {
    let out = trawl(&["cat", "--format", "json", input.to_str().unwrap()]);
    out.stdout.iter().filter(|&&b| b == b'\n').count()
}

/// The Python with pyarrow that `scripts/install-deps.sh` installs
/// ($TRAWL_PYTHON overrides), or `None` with a "skipped" line.
fn pyarrow_python() -> Option<PathBuf> {
    let python = std::env::var_os("TRAWL_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
            Some(cache.join("trawl/venv/bin/python"))
        })?;
    let ok = Command::new(&python)
        .args(["-c", "import pyarrow"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!(
            "skipped: no pyarrow at {} (scripts/install-deps.sh installs it)",
            python.display()
        );
        return None;
    }
    Some(python)
}

/// Rows per table as pyarrow reads them: every file alone, and each table
/// directory as one hive-partitioned dataset (`pq.read_table(dir)`).
fn pyarrow_counts(python: &Path, out: &Path) -> BTreeMap<String, u64> {
    const SCRIPT: &str = r#"
import json, os, sys
import pyarrow.parquet as pq
root = sys.argv[1]
counts = {}
for table in sorted(os.listdir(root)):
    files = 0
    for d, _, names in os.walk(os.path.join(root, table)):
        for n in names:
            if not n.startswith("."):
                files += pq.read_table(os.path.join(d, n)).num_rows
    whole = pq.read_table(os.path.join(root, table)).num_rows
    assert files == whole, (table, files, whole)
    counts[table] = whole
print(json.dumps(counts))
"#;
    let run = Command::new(python)
        .args(["-c", SCRIPT])
        .arg(out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "pyarrow: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    serde_json::from_slice(&run.stdout).unwrap()
}

fn check_with_pyarrow(out: &Path) {
    let Some(python) = pyarrow_python() else {
        return;
    };
    let theirs = pyarrow_counts(&python, out);
    for (table, rows) in written(out) {
        assert_eq!(theirs.get(&table), Some(&(rows.len() as u64)), "{table}");
    }
    let losses = sql_value(out, "SELECT count(*) FROM losses");
    let py_losses = theirs.get("losses").copied().unwrap_or(0);
    assert_eq!(losses, py_losses.to_string());
}

#[test]
fn corpus_in_parquet_equals_what_cat_decodes() {
    let out = tempfile::tempdir().unwrap();
    convert(&corpus(), out.path(), &[]);
    assert_same_rows(&corpus(), out.path());
    let events = sql_value(out.path(), "SELECT count(*) FROM events");
    assert_eq!(events, cat_events(&corpus()).to_string());
    // Two corpus traces report discarded events.
    assert_eq!(
        sql_value(out.path(), "SELECT sum(events_discarded) FROM losses"),
        "745"
    );
    check_with_pyarrow(out.path());
}

/// A real lttng-ust trace: malloc/free with every context, 40 000 events.
fn record_malloc(daemon: &lttng::LttngDaemon, name: &str, dir: &Path, iterations: u64) -> PathBuf {
    lttng::record_malloc_trace(daemon, name, dir, iterations, Buffers::PerUid).expect("record")
}

#[test]
fn a_real_ust_trace_in_parquet_equals_what_cat_decodes() {
    let Some(daemon) = lttng_or_skip() else {
        return;
    };
    let traces = tempfile::tempdir().unwrap();
    daemon.prepare_dir(traces.path()).unwrap();
    let trace = record_malloc(&daemon, "pq", traces.path(), 20_000);
    let out = tempfile::tempdir().unwrap();
    // Small files: several per table, each sorted, all read back.
    convert(&trace, out.path(), &["--max-rows", "7000"]);
    assert_same_rows(&trace, out.path());
    assert_eq!(
        sql_value(out.path(), "SELECT count(*) FROM lttng_ust_libc_malloc"),
        "20000"
    );
    assert_eq!(
        sql_value(out.path(), "SELECT count(*) FROM events"),
        cat_events(&trace).to_string()
    );
    check_with_pyarrow(out.path());
}

#[test]
fn kill_9_mid_write_leaves_no_partial_file_and_a_rerun_continues() {
    let Some(daemon) = lttng_or_skip() else {
        return;
    };
    let traces = tempfile::tempdir().unwrap();
    daemon.prepare_dir(traces.path()).unwrap();
    let trace = record_malloc(&daemon, "pqkill", traces.path(), 200_000);
    let total = cat_events(&trace);
    let out = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_trawl"))
        .args(["convert", trace.to_str().unwrap(), "--out"])
        .arg(out.path())
        .args(["--max-rows", "10000"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill once the first file is visible: the writer is busy with more.
    let deadline = Instant::now() + Duration::from_secs(60);
    while visible_files(out.path()).is_empty() {
        assert!(Instant::now() < deadline, "no file written in 60 s");
        assert!(
            child.try_wait().unwrap().is_none(),
            "convert ended before the kill"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let partial: usize = written(out.path()).values().map(Vec::len).sum();
    assert!(
        partial < total,
        "killed too late: {partial} of {total} rows written"
    );
    // Every visible file is complete (written() read each one to its end).
    // The re-run removes what the killed run left and adds a whole copy.
    convert(&trace, out.path(), &["--max-rows", "10000"]);
    let hidden: Vec<_> = files_under(out.path())
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "leftovers: {hidden:?}");
    let rows: usize = written(out.path()).values().map(Vec::len).sum();
    assert_eq!(rows, partial + total);
    assert_eq!(
        sql_value(out.path(), "SELECT count(*) FROM events"),
        (partial + total).to_string()
    );
}

#[test]
fn sql_prints_an_aligned_table_csv_and_json() {
    let out = tempfile::tempdir().unwrap();
    convert(&corpus(), out.path(), &[]);
    let data = out.path().to_str().unwrap();
    let sql =
        "SELECT event, count(*) AS n FROM events GROUP BY event ORDER BY n DESC, event LIMIT 2";
    let table = String::from_utf8(trawl(&["sql", "--data", data, sql]).stdout).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("+--") && lines[1].starts_with("| event"),
        "{table}"
    );
    assert!(
        lines
            .iter()
            .all(|l| l.chars().count() == lines[0].chars().count()),
        "{table}"
    );
    let csv = String::from_utf8(trawl(&["sql", "--data", data, "-f", "csv", sql]).stdout).unwrap();
    assert_eq!(csv.lines().next(), Some("event,n"));
    assert_eq!(csv.lines().count(), 3);
    let json =
        String::from_utf8(trawl(&["sql", "--data", data, "-f", "json", sql]).stdout).unwrap();
    for line in json.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["n"].as_u64().unwrap() > 0, "{line}");
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_trawl"))
        .args(["sql", "--data", data, "SELECT nope FROM events"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("nope"));
}

/// A live session converted while it is recorded: the same rows as the
/// relay's trace directory converted afterwards.
#[test]
fn a_live_session_in_parquet_equals_its_relay_output() {
    let Some(daemon) = lttng_or_skip() else {
        return;
    };
    // The relay runs until the end of the test.
    let LiveRecording {
        relayd: _relayd,
        session,
        url,
    } = daemon.live_recording("pqlive").expect("live session");
    let out = tempfile::tempdir().unwrap();
    let converting = Command::new(env!("CARGO_BIN_EXE_trawl"))
        .args(["convert", &url, "--out", out.path().to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for dir in ["/usr/lib", "/etc"] {
        session
            .run_traced(Path::new("/bin/ls"), &["-la", dir], lttng::RUN_TIMEOUT)
            .unwrap();
    }
    session.stop().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let trace = session.destroy().unwrap();
    let done = converting.wait_with_output().unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert_same_rows(&trace, out.path());
    assert_eq!(
        sql_value(out.path(), "SELECT count(*) FROM events"),
        cat_events(&trace).to_string()
    );
}
