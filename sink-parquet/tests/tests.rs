//! The sink and the catalog together: files written, then read back with
//! DataFusion SQL.

#![allow(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    Array, ArrayRef, DictionaryArray, Int64Array, RecordBatch, TimestampNanosecondArray,
    UInt32Array, UInt64Array,
};
use arrow_schema::{DataType, Field};
use datafusion::prelude::SessionContext;
use trawl_core::{EventBatch, Loss, Message, Sink, Watermark, envelope};
use trawl_sink_parquet::{FileFormat, ParquetSink, ParquetSinkConfig, catalog};

const HOUR: i64 = 3_600_000_000_000;

/// Rows of `event` from host `h`, domain `ust`, with an Int64 payload column
/// per entry of `payload` (same length as `ts`).
fn events(event: &str, ts: &[i64], payload: &[(&str, Vec<i64>)]) -> Message {
    let fields = payload
        .iter()
        .map(|(name, _)| Field::new(*name, DataType::Int64, false))
        .collect();
    let schema = envelope::schema_with_metadata(fields, event, "h", "ust", "");
    let n = ts.len();
    let dict = |v: &str| -> ArrayRef {
        Arc::new(DictionaryArray::<Int32Type>::from_iter(
            std::iter::repeat_n(v, n),
        ))
    };
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(TimestampNanosecondArray::from(ts.to_vec()).with_timezone("UTC")),
        dict("h"),
        dict("ust"),
        Arc::new(UInt64Array::from(vec![7; n])),
        Arc::new(UInt32Array::from(vec![Some(0); n])),
        dict(event),
    ];
    for (_, values) in payload {
        columns.push(Arc::new(Int64Array::from(values.clone())));
    }
    Message::Events(EventBatch {
        batch: RecordBatch::try_new(schema, columns).unwrap(),
    })
}

/// Visible data files under `dir`, sorted.
fn data_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                stack.push(p);
            } else if !name.starts_with('.') {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

/// `sql` over the data directory; the result batches.
fn query(dir: &Path, sql: &str) -> Vec<RecordBatch> {
    runtime().block_on(async {
        let (ctx, _) = catalog::session(dir).await.unwrap();
        ctx.sql(sql).await.unwrap().collect().await.unwrap()
    })
}

/// The single integer a `SELECT count(...)`-like query returns, per column.
fn counts(dir: &Path, sql: &str) -> Vec<i64> {
    let batches = query(dir, sql);
    let batch = &batches[0];
    (0..batch.num_columns())
        .map(|i| {
            let c = arrow_cast::cast(batch.column(i), &DataType::Int64).unwrap();
            c.as_any().downcast_ref::<Int64Array>().unwrap().value(0)
        })
        .collect()
}

fn config(dir: &Path) -> ParquetSinkConfig {
    ParquetSinkConfig::new(dir)
}

#[test]
fn files_roll_by_rows_and_each_is_sorted_by_ts() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.max_rows = 100;
    c.row_group_rows = 50;
    let mut sink = ParquetSink::new(c).unwrap();
    // Ten batches of 30 rows, each in descending time order.
    for b in 0..10i64 {
        let ts: Vec<i64> = (0..30).rev().map(|i| b * 30 + i).collect();
        sink.consume(events("ev:a", &ts, &[("v", ts.clone())]))
            .unwrap();
    }
    sink.flush().unwrap();
    let files = data_files(dir.path());
    // 100, 100 and 100 rows: batches are split at the limit.
    assert_eq!(files.len(), 3, "{files:?}");
    let rel = files[0].strip_prefix(dir.path()).unwrap();
    assert!(
        rel.starts_with("ev_a/host=h/date=1970-01-01/hour=00"),
        "{}",
        rel.display()
    );
    let mut rows = 0;
    for f in &files {
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(f).unwrap(),
        )
        .unwrap();
        let groups = reader.metadata().num_row_groups();
        for batch in reader.build().unwrap() {
            let batch = batch.unwrap();
            let ts = batch
                .column(0)
                .as_any()
                .downcast_ref::<TimestampNanosecondArray>()
                .unwrap();
            assert!(ts.values().is_sorted(), "{}", f.display());
            rows += batch.num_rows();
        }
        assert_eq!(groups, 2, "{}: row groups", f.display());
    }
    assert_eq!(rows, 300);
    assert_eq!(
        counts(dir.path(), "SELECT count(*), sum(v) FROM ev_a"),
        [300, 44850]
    );
}

#[test]
fn nothing_is_visible_before_a_file_closes() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = ParquetSink::new(config(dir.path())).unwrap();
    for b in 0..20 {
        sink.consume(events("ev", &[b], &[])).unwrap();
    }
    assert!(data_files(dir.path()).is_empty());
    assert_eq!(sink.stats().buffered_rows, 20);
    sink.flush().unwrap();
    // Twenty batches, one file.
    assert_eq!(data_files(dir.path()).len(), 1);
    assert_eq!(sink.stats().rows, 20);
}

#[test]
fn a_schema_change_starts_a_new_file_and_the_table_merges_both() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = ParquetSink::new(config(dir.path())).unwrap();
    sink.consume(events("ev", &[1, 2, 3], &[("size", vec![1, 2, 3])]))
        .unwrap();
    sink.consume(events(
        "ev",
        &[4, 5],
        &[("size", vec![4, 5]), ("caller", vec![40, 50])],
    ))
    .unwrap();
    sink.flush().unwrap();
    assert_eq!(data_files(dir.path()).len(), 2);
    assert_eq!(
        counts(
            dir.path(),
            "SELECT count(*), count(caller), sum(size), sum(caller) FROM ev"
        ),
        [5, 2, 15, 90]
    );
}

#[test]
fn a_batch_across_hours_lands_in_one_partition_per_hour() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = ParquetSink::new(config(dir.path())).unwrap();
    sink.consume(events("ev", &[HOUR + 5, HOUR - 5, 2 * HOUR], &[]))
        .unwrap();
    sink.flush().unwrap();
    let dirs: Vec<_> = data_files(dir.path())
        .iter()
        .map(|f| {
            f.parent()
                .unwrap()
                .strip_prefix(dir.path())
                .unwrap()
                .to_path_buf()
        })
        .collect();
    assert_eq!(
        dirs,
        [
            PathBuf::from("ev/host=h/date=1970-01-01/hour=00"),
            PathBuf::from("ev/host=h/date=1970-01-01/hour=01"),
            PathBuf::from("ev/host=h/date=1970-01-01/hour=02"),
        ]
    );
}

#[test]
fn a_watermark_past_the_hour_closes_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = ParquetSink::new(config(dir.path())).unwrap();
    sink.consume(events("ev", &[10, 20], &[])).unwrap();
    sink.consume(events("ev", &[HOUR + 1], &[])).unwrap();
    let mark = |host: &str, ts| {
        Message::Watermark(Watermark {
            host: host.into(),
            domain: "ust".into(),
            ts,
        })
    };
    // Another host's watermark, or one inside the hour, closes nothing.
    sink.consume(mark("other", 2 * HOUR)).unwrap();
    sink.consume(mark("h", HOUR - 1)).unwrap();
    sink.wait_closing().unwrap();
    assert!(data_files(dir.path()).is_empty());
    sink.consume(mark("h", HOUR)).unwrap();
    sink.wait_closing().unwrap();
    assert_eq!(data_files(dir.path()).len(), 1);
    assert_eq!(sink.stats().buffered_rows, 1);
}

/// The `ts` values of a Parquet file, in file order.
fn file_ts(path: &Path) -> Vec<i64> {
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(path).unwrap(),
    )
    .unwrap()
    .build()
    .unwrap();
    reader
        .flat_map(|b| {
            let b = b.unwrap();
            let ts = b
                .column(0)
                .as_any()
                .downcast_ref::<TimestampNanosecondArray>();
            ts.unwrap().values().to_vec()
        })
        .collect()
}

#[test]
fn rows_out_of_order_are_sorted_in_their_window_and_start_a_new_file_beyond_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.row_group_rows = 4;
    let mut sink = ParquetSink::new(c).unwrap();
    // Within one row group (the window): sorted into one file.
    for ts in [[12, 11], [10, 13]] {
        sink.consume(events("ev", &ts, &[])).unwrap();
    }
    // Older than rows already encoded: the file ends, a new one starts.
    sink.consume(events("ev", &[5, 6, 7, 8], &[])).unwrap();
    sink.consume(events("ev", &[1, 2], &[])).unwrap();
    sink.flush().unwrap();
    let files = data_files(dir.path());
    let mut per_file: Vec<Vec<i64>> = files.iter().map(|f| file_ts(f)).collect();
    per_file.sort();
    assert_eq!(
        per_file,
        [vec![1, 2], vec![5, 6, 7, 8], vec![10, 11, 12, 13]]
    );
    assert_eq!(sink.stats().files, 3);
    assert_eq!(sink.stats().rows, 10);
}

#[test]
fn losses_of_several_streams_in_any_order_make_one_sorted_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = ParquetSink::new(config(dir.path())).unwrap();
    for (stream_id, to) in [(1, 30), (2, 10), (3, 20)] {
        let loss = Loss {
            host: "h".into(),
            domain: "ust".into(),
            stream_id,
            cpu: None,
            events_discarded: 1,
            packets_lost: 0,
            from_ts: None,
            to_ts: Some(to),
        };
        sink.consume(Message::Loss(loss)).unwrap();
    }
    sink.flush().unwrap();
    let files = data_files(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(file_ts(&files[0]), [10, 20, 30]);
}

#[test]
fn a_tiny_memory_budget_slows_the_sink_down_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    // Every batch alone in flight: the windows of every table are encoded
    // whenever the budget is spent.
    c.max_buffered_bytes = 1;
    c.row_group_rows = 1000;
    let mut sink = ParquetSink::new(c).unwrap();
    for b in 0..200i64 {
        let event = ["ev:a", "ev:b", "ev:c"][b as usize % 3];
        sink.consume(events(event, &[b, b], &[("v", vec![b, 1])]))
            .unwrap();
    }
    sink.flush().unwrap();
    assert_eq!(sink.stats().buffered_rows, 0);
    let total: i64 = (0..200).sum::<i64>() + 200;
    for (table, n) in [("ev_a", 67), ("ev_b", 67), ("ev_c", 66)] {
        let [rows, _] = counts(dir.path(), &format!("SELECT count(*), sum(v) FROM {table}"))[..]
        else {
            panic!("two counts")
        };
        assert_eq!(rows, 2 * n, "{table}");
    }
    assert_eq!(
        counts(
            dir.path(),
            "SELECT sum(v) FROM (SELECT v FROM ev_a UNION ALL SELECT v FROM ev_b UNION ALL SELECT v FROM ev_c)"
        ),
        [total]
    );
}

#[test]
fn a_table_that_cannot_be_written_is_reported_by_path_and_the_others_are_written() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the `bad_x` table's directory should be.
    std::fs::write(dir.path().join("bad_x"), b"not a directory").unwrap();
    let mut sink = ParquetSink::new(config(dir.path())).unwrap();
    sink.consume(events("bad:x", &[1], &[])).unwrap();
    sink.consume(events("good:y", &[2], &[])).unwrap();
    let e = sink.flush().unwrap_err().to_string();
    assert!(e.contains("bad_x"), "{e}");
    assert_eq!(counts(dir.path(), "SELECT count(*) FROM good_y"), [1]);
    // The sink goes on: the next rows of the good table are written too.
    sink.consume(events("good:y", &[3], &[])).unwrap();
    sink.flush().unwrap();
    assert_eq!(counts(dir.path(), "SELECT count(*) FROM good_y"), [2]);
}

#[test]
fn losses_and_the_events_view() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = ParquetSink::new(config(dir.path())).unwrap();
    sink.consume(events("a:x", &[1, 2], &[])).unwrap();
    sink.consume(events("b:y", &[3], &[("v", vec![9])]))
        .unwrap();
    sink.consume(Message::Loss(Loss {
        host: "h".into(),
        domain: "ust".into(),
        stream_id: 3,
        cpu: Some(1),
        events_discarded: 17,
        packets_lost: 2,
        from_ts: Some(5),
        to_ts: Some(HOUR + 1),
    }))
    .unwrap();
    sink.flush().unwrap();
    assert_eq!(
        counts(
            dir.path(),
            "SELECT count(*), sum(events_discarded), sum(packets_lost), max(cpu) FROM losses"
        ),
        [1, 17, 2, 1]
    );
    assert_eq!(
        counts(
            dir.path(),
            "SELECT count(*), count(DISTINCT event), min(stream_id) FROM events"
        ),
        [3, 2, 7]
    );
    let tables = runtime().block_on(async {
        let ctx = SessionContext::new();
        catalog::register(&ctx, dir.path()).await.unwrap()
    });
    assert_eq!(tables.events, ["a_x", "b_y"]);
    assert!(tables.losses);
}

#[test]
fn an_empty_data_directory_still_has_events_and_losses() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(counts(dir.path(), "SELECT count(*) FROM events"), [0]);
    assert_eq!(counts(dir.path(), "SELECT count(*) FROM losses"), [0]);
}

#[test]
fn arrow_ipc_files_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.format = FileFormat::Arrow;
    c.row_group_rows = 2;
    let mut sink = ParquetSink::new(c).unwrap();
    sink.consume(events("ev", &[3, 1, 2], &[("v", vec![30, 10, 20])]))
        .unwrap();
    sink.flush().unwrap();
    let files = data_files(dir.path());
    assert_eq!(files.len(), 1);
    assert!(files[0].extension().is_some_and(|e| e == "arrow"));
    let batches = query(dir.path(), "SELECT v FROM ev");
    let v: Vec<i64> = batches
        .iter()
        .flat_map(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap()
                .values()
                .to_vec()
        })
        .collect();
    assert_eq!(v, [10, 20, 30]);
}

#[test]
fn a_restarted_sink_removes_leftovers_and_does_not_collide() {
    let dir = tempfile::tempdir().unwrap();
    let part = dir.path().join("ev/host=h/date=1970-01-01/hour=00");
    std::fs::create_dir_all(&part).unwrap();
    // What a writer killed mid-write leaves (pid above Linux's pid_max: dead).
    let leftover = part.join(".part-19700101T000000.000000000Z-4194305-000000.parquet.tmp");
    std::fs::write(&leftover, b"PAR1 half a file").unwrap();
    for round in 0..2 {
        let mut sink = ParquetSink::new(config(dir.path())).unwrap();
        sink.consume(events("ev", &[round], &[])).unwrap();
        sink.flush().unwrap();
    }
    assert!(!leftover.exists());
    assert_eq!(data_files(dir.path()).len(), 2);
    assert_eq!(counts(dir.path(), "SELECT count(*) FROM ev"), [2]);
}

#[test]
fn a_ts_range_reads_only_the_files_and_row_groups_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.max_rows = 1000;
    c.row_group_rows = 250;
    let mut sink = ParquetSink::new(c).unwrap();
    // Ten files of 1000 rows, ts 0..10000 in order: four row groups each.
    for f in 0..10i64 {
        let ts: Vec<i64> = (f * 1000..(f + 1) * 1000).collect();
        sink.consume(events("ev", &ts, &[])).unwrap();
    }
    sink.flush().unwrap();
    assert_eq!(data_files(dir.path()).len(), 10);
    // Rows 4300..4400: one row group of one file.
    let sql = "EXPLAIN ANALYZE SELECT count(*) FROM ev \
               WHERE ts >= to_timestamp_nanos(4300) AND ts < to_timestamp_nanos(4400)";
    let batches = query(dir.path(), sql);
    let plan = arrow_cast::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string();
    // Nine files pruned by their statistics, three of the four row groups
    // of the tenth: 250 rows read of 10000.
    for metric in [
        "files_ranges_pruned_statistics=10 total → 1 matched",
        "row_groups_pruned_statistics=4 total → 1 matched",
        "DataSourceExec",
    ] {
        assert!(plan.contains(metric), "{metric} not in\n{plan}");
    }
    let scan = plan.lines().find(|l| l.contains("DataSourceExec")).unwrap();
    assert!(scan.contains("metrics=[output_rows=250,"), "{scan}");
    assert_eq!(
        counts(
            dir.path(),
            "SELECT count(*) FROM ev WHERE ts >= to_timestamp_nanos(4300) AND ts < to_timestamp_nanos(4400)"
        ),
        [100]
    );
}
