//! Helpers: generated traces read into messages, the enrichment columns a
//! container map would add, and a reader of the exported text.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, UInt32Type};
use arrow_array::{
    ArrayRef, DictionaryArray, Int32Array, RecordBatch, StringArray, TimestampNanosecondArray,
    UInt32Array, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema};
use trawl_core::{EventBatch, Message, Source, Watermark, envelope};
use trawl_source_lttng::trace_dir::TraceDirSourceBuilder;

/// Container labels (id, name, image, namespace, pod, container) by pid-ns inode.
pub type Containers = HashMap<u32, [&'static str; 6]>;

/// The enrichment columns of DESIGN.md §2, in the order of [`Containers`] values.
const ENRICHMENT: [&str; 6] = [
    "container_id",
    "container_name",
    "container_image",
    "k8s_namespace",
    "k8s_pod",
    "k8s_container",
];

/// The enrichment columns of DESIGN.md §2, from the `pid_ns` context (what
/// the enrichment stage will add; null for host tasks).
pub fn enrich(batch: &RecordBatch, containers: &Containers) -> RecordBatch {
    let Some(ns) = batch.column_by_name("pid_ns") else {
        return batch.clone();
    };
    let ns = ns.as_primitive::<UInt32Type>();
    let mut fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let mut cols: Vec<ArrayRef> = batch.columns().to_vec();
    for (i, name) in ENRICHMENT.iter().enumerate() {
        let values: StringArray = ns
            .values()
            .iter()
            .map(|n| containers.get(n).map(|c| c[i]))
            .collect();
        fields.push(Field::new(*name, DataType::Utf8, true));
        cols.push(Arc::new(values));
    }
    let schema = Schema::new(fields).with_metadata(batch.schema().metadata().clone());
    RecordBatch::try_new(Arc::new(schema), cols).unwrap()
}

/// One demo request: `(vpid, id, begin ns, end ns, status)`.
pub type Request = (i32, u64, i64, i64, u32);

/// What the lttng-ust reader and the enrichment make of the demo workload's
/// `trawl_demo:request_begin` / `request_end` (fields as in
/// pipelines/demo/trawl_demo_tp.h, `vpid` context) for `requests` of one
/// container on `host`: one batch per event class, then a watermark.
pub fn demo_requests(host: &str, container: [&str; 6], requests: &[Request]) -> Vec<Message> {
    let n = requests.len();
    let dict = |v: &str| -> ArrayRef {
        Arc::new(std::iter::repeat_n(v, n).collect::<DictionaryArray<Int32Type>>())
    };
    let batch = |event: &str, ts: Vec<i64>, mut rest: Vec<(Field, ArrayRef)>| {
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(TimestampNanosecondArray::from(ts).with_timezone("UTC")),
            dict(host),
            dict("ust"),
            Arc::new(UInt64Array::from(vec![0; n])),
            Arc::new(UInt32Array::from(vec![0; n])),
            dict(event),
        ];
        rest.push((
            Field::new("vpid", DataType::Int32, false),
            Arc::new(Int32Array::from_iter_values(requests.iter().map(|r| r.0))),
        ));
        rest.push((
            Field::new("id", DataType::UInt64, false),
            Arc::new(UInt64Array::from_iter_values(requests.iter().map(|r| r.1))),
        ));
        rest.push((
            Field::new("route", DataType::Utf8, false),
            Arc::new(StringArray::from(vec!["/api/orders"; n])),
        ));
        for (i, name) in ENRICHMENT.iter().enumerate() {
            rest.push((
                Field::new(*name, DataType::Utf8, true),
                Arc::new(StringArray::from(vec![container[i]; n])),
            ));
        }
        let (fields, more): (Vec<Field>, Vec<ArrayRef>) = rest.into_iter().unzip();
        cols.extend(more);
        let schema = envelope::schema_with_metadata(fields, event, host, "ust", "");
        Message::Events(EventBatch {
            batch: RecordBatch::try_new(schema, cols).unwrap(),
        })
    };
    let begin = batch(
        "trawl_demo:request_begin",
        requests.iter().map(|r| r.2).collect(),
        Vec::new(),
    );
    let end = batch(
        "trawl_demo:request_end",
        requests.iter().map(|r| r.3).collect(),
        vec![
            (
                Field::new("status", DataType::UInt32, false),
                Arc::new(UInt32Array::from_iter_values(requests.iter().map(|r| r.4))),
            ),
            (
                Field::new("duration_ns", DataType::UInt64, false),
                Arc::new(UInt64Array::from_iter_values(
                    requests.iter().map(|r| (r.3 - r.2) as u64),
                )),
            ),
        ],
    );
    let last = requests.iter().map(|r| r.3).max().unwrap_or(0);
    vec![
        begin,
        end,
        Message::Watermark(Watermark {
            host: host.into(),
            domain: "ust".into(),
            ts: last + 1,
        }),
    ]
}

/// Every message of a trace directory, event batches enriched.
pub fn messages(trace: &Path, containers: &Containers) -> Vec<Message> {
    let mut src = TraceDirSourceBuilder::new(vec![trace.to_path_buf()])
        .build()
        .unwrap();
    let mut out = Vec::new();
    while let Some(m) = src.next_message().unwrap() {
        out.push(match m {
            Message::Events(e) => Message::Events(EventBatch {
                batch: enrich(&e.batch, containers),
            }),
            other => other,
        });
    }
    out
}

/// The value of the sample `name{labels...}` (all given labels must match).
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        let (labelset, value) = match rest.strip_prefix('{') {
            Some(r) => {
                let end = r.find('}')?;
                (&r[..end], r[end + 1..].trim())
            }
            None => ("", rest.strip_prefix(' ')?.trim()),
        };
        let all = labels
            .iter()
            .all(|(k, v)| labelset.split(',').any(|kv| kv == format!("{k}=\"{v}\"")));
        all.then(|| value.split_whitespace().next()?.parse().ok())
            .flatten()
    })
}

/// What Prometheus's scraper accepts.
pub const ACCEPT_OPENMETRICS: &str =
    "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// A raw HTTP GET: the whole response (status line, headers, body). HTTP/1.0,
/// so that servers close the connection and never answer in chunks.
pub fn http_get(addr: std::net::SocketAddr, path: &str, accept: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: {accept}\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}
