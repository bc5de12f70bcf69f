//! Helpers: generated traces read into messages, the enrichment columns a
//! container map would add, and a reader of the exported text.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::UInt32Type;
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use trawl_core::{EventBatch, Message, Source};
use trawl_source_lttng::trace_dir::TraceDirSourceBuilder;

/// Container labels (id, name, image, namespace, pod, container) by pid-ns inode.
pub type Containers = HashMap<u32, [&'static str; 6]>;

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
    for (i, name) in [
        "container_id",
        "container_name",
        "container_image",
        "k8s_namespace",
        "k8s_pod",
        "k8s_container",
    ]
    .iter()
    .enumerate()
    {
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

/// A raw HTTP GET: the whole response (status line, headers, body).
pub fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}
