//! `/metrics`: the aggregated state as OpenMetrics text (prometheus-client's
//! encoder, driven by a [`Collector`] that reads the state at scrape time).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::aggregate::Aggregator;
use crate::config::ALL_LABELS;
use crate::hist::Hist;
use crate::stages::{StageReader, StagesCollector};
use crate::state::BATCH_ROWS_BOUNDS;

type Labels<'a> = Vec<(&'a str, &'a str)>;

/// The collector registered once; it locks the state on each scrape.
#[derive(Debug)]
pub(crate) struct StateCollector(pub(crate) Arc<Mutex<Aggregator>>);

impl std::fmt::Debug for Aggregator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aggregator")
            .field("series", &self.series.len())
            .finish()
    }
}

/// One family: a descriptor, then one sample per label set.
pub(crate) struct Family<'e> {
    enc: prometheus_client::encoding::MetricEncoder<'e>,
}

impl Family<'_> {
    pub(crate) fn counter(
        &mut self,
        labels: &Labels<'_>,
        v: impl prometheus_client::encoding::EncodeCounterValue,
    ) -> std::fmt::Result {
        if labels.is_empty() {
            return self.enc.encode_counter::<NoLabelSet, _, u64>(&v, None);
        }
        self.enc
            .encode_family(labels)?
            .encode_counter::<NoLabelSet, _, u64>(&v, None)
    }
    pub(crate) fn gauge(&mut self, labels: &Labels<'_>, v: f64) -> std::fmt::Result {
        if labels.is_empty() {
            return self.enc.encode_gauge(&v);
        }
        self.enc.encode_family(labels)?.encode_gauge(&v)
    }
    fn histogram(&mut self, labels: &Labels<'_>, h: &Hist) -> std::fmt::Result {
        self.enc
            .encode_family(labels)?
            .encode_histogram::<NoLabelSet>(
                h.sum_ns as f64 / 1e9,
                h.count,
                &h.seconds_buckets(),
                None,
            )
    }
}

pub(crate) fn family<'e>(
    enc: &'e mut DescriptorEncoder<'_>,
    name: &'e str,
    help: &str,
    ty: MetricType,
) -> Result<Family<'e>, std::fmt::Error> {
    Ok(Family {
        enc: enc.encode_descriptor(name, help, None, ty)?,
    })
}

impl Collector for StateCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut agg = self.0.lock().unwrap_or_else(|p| p.into_inner());
        agg.expire(Instant::now());
        encode_state(&agg, &mut enc)
    }
}

/// The label pairs of series key `k` (kept labels only).
fn series_labels<'a>(agg: &'a Aggregator, k: usize) -> Labels<'a> {
    let values = &agg.interner.series_labels[k];
    ALL_LABELS
        .iter()
        .zip(values.iter())
        .zip(agg.settings.keep.iter())
        .filter(|(_, keep)| **keep)
        .map(|((n, v), _)| (*n, v.as_str()))
        .collect()
}

fn with<'a>(mut l: Labels<'a>, k: &'a str, v: &'a str) -> Labels<'a> {
    l.push((k, v));
    l
}

fn encode_state(agg: &Aggregator, enc: &mut DescriptorEncoder<'_>) -> std::fmt::Result {
    let live: Vec<(usize, &crate::state::Series)> = agg
        .series
        .iter()
        .enumerate()
        .filter(|(_, s)| s.last.is_some())
        .collect();
    let name = |id: u32| agg.names.name(id);
    const OPS: [&str; 2] = ["read", "write"];

    let mut f = family(
        enc,
        "trawl_kernel_cpu_usage_seconds",
        "CPU time of the container's threads (sched_switch), seconds",
        MetricType::Counter,
    )?;
    for (k, s) in &live {
        if s.cpu_ns > 0 {
            f.counter(&series_labels(agg, *k), s.cpu_ns as f64 / 1e9)?;
        }
    }
    if agg.settings.cadvisor_names {
        let mut f = family(
            enc,
            "container_cpu_usage_seconds",
            "Cumulative cpu time consumed in seconds (cAdvisor-compatible, from sched_switch)",
            MetricType::Counter,
        )?;
        for (k, s) in &live {
            let v = &agg.interner.series_labels[*k];
            if s.cpu_ns > 0 && !v[1].is_empty() {
                let l = vec![
                    ("id", v[1].as_str()),
                    ("name", v[2].as_str()),
                    ("image", v[3].as_str()),
                    ("namespace", v[4].as_str()),
                    ("pod", v[5].as_str()),
                    ("container", v[6].as_str()),
                ];
                f.counter(&l, s.cpu_ns as f64 / 1e9)?;
            }
        }
    }
    let mut f = family(
        enc,
        "trawl_kernel_runqueue_latency_seconds",
        "Wakeup (or preemption) to switch-in, seconds",
        MetricType::Histogram,
    )?;
    for (k, s) in &live {
        if s.runq.count > 0 {
            f.histogram(&series_labels(agg, *k), &s.runq)?;
        }
    }
    let mut f = family(
        enc,
        "trawl_kernel_syscalls",
        "System calls entered",
        MetricType::Counter,
    )?;
    for (k, s) in &live {
        for (id, (n, _)) in &s.syscalls {
            f.counter(&with(series_labels(agg, *k), "syscall", name(*id)), *n)?;
        }
    }
    let mut f = family(
        enc,
        "trawl_kernel_syscall_latency_seconds",
        "System call entry to exit, seconds",
        MetricType::Histogram,
    )?;
    for (k, s) in &live {
        for (id, (_, h)) in &s.syscalls {
            if h.count > 0 {
                f.histogram(&with(series_labels(agg, *k), "syscall", name(*id)), h)?;
            }
        }
    }
    for (tx, dir) in [(true, "transmit"), (false, "receive")] {
        for (i, what) in ["bytes", "packets"].iter().enumerate() {
            let fname = format!("trawl_kernel_network_{dir}_{what}");
            let help = format!(
                "Network {what} {} (net_dev_queue / net_if_receive_skb)",
                if tx { "sent" } else { "received" }
            );
            let mut f = family(enc, &fname, &help, MetricType::Counter)?;
            for (k, s) in &live {
                for ((t, iface), v) in &s.net {
                    if *t == tx {
                        let n = if i == 0 { v.0 } else { v.1 };
                        f.counter(&with(series_labels(agg, *k), "interface", name(*iface)), n)?;
                    }
                }
            }
        }
    }
    let mut f = family(
        enc,
        "trawl_kernel_block_io_bytes",
        "Block I/O bytes issued (block_rq_issue)",
        MetricType::Counter,
    )?;
    for (k, s) in &live {
        for (op, (bytes, h)) in OPS.iter().zip(s.block.iter()) {
            if *bytes > 0 || h.count > 0 {
                f.counter(&with(series_labels(agg, *k), "op", op), *bytes)?;
            }
        }
    }
    let mut f = family(
        enc,
        "trawl_kernel_block_io_latency_seconds",
        "Block request issue to completion, seconds",
        MetricType::Histogram,
    )?;
    for (k, s) in &live {
        for (op, (_, h)) in OPS.iter().zip(s.block.iter()) {
            if h.count > 0 {
                f.histogram(&with(series_labels(agg, *k), "op", op), h)?;
            }
        }
    }
    let mut f = family(
        enc,
        "trawl_kernel_page_allocations",
        "Pages allocated (kmem_mm_page_alloc, 2^order each)",
        MetricType::Counter,
    )?;
    for (k, s) in &live {
        if s.pages > 0 {
            f.counter(&series_labels(agg, *k), s.pages)?;
        }
    }
    let mut f = family(
        enc,
        "trawl_kernel_page_faults",
        "Page faults (x86_exceptions_page_fault_*)",
        MetricType::Counter,
    )?;
    for (k, s) in &live {
        if s.faults > 0 {
            f.counter(&series_labels(agg, *k), s.faults)?;
        }
    }
    let mut f = family(
        enc,
        "trawl_ust_events",
        "User-space events by event class",
        MetricType::Counter,
    )?;
    for (k, s) in &live {
        for (id, n) in &s.ust {
            f.counter(&with(series_labels(agg, *k), "event", name(*id)), *n)?;
        }
    }
    let mut f = family(
        enc,
        "trawl_ust_request_latency_seconds",
        "trawl_demo request_begin to request_end, seconds",
        MetricType::Histogram,
    )?;
    for (k, s) in &live {
        for (id, h) in &s.requests {
            f.histogram(&with(series_labels(agg, *k), "status", name(*id)), h)?;
        }
    }
    let mut f = family(
        enc,
        "trawl_container",
        "One series per container seen, to join on",
        MetricType::Info,
    )?;
    let mut containers: Vec<_> = agg.interner.containers.keys().collect();
    containers.sort();
    for v in containers {
        let l: Labels<'_> = ALL_LABELS
            .iter()
            .zip(v.iter())
            .map(|(n, v)| (*n, v.as_str()))
            .collect();
        f.enc.encode_info(&l)?;
    }
    encode_pipeline(agg, enc)
}

fn encode_pipeline(agg: &Aggregator, enc: &mut DescriptorEncoder<'_>) -> std::fmt::Result {
    let p = &agg.pipeline;
    let hd = |k: &(String, String)| -> (String, String) { k.clone() };
    let sorted = |m: &std::collections::HashMap<(String, String), u64>| {
        let mut v: Vec<_> = m.iter().map(|(k, n)| (hd(k), *n)).collect();
        v.sort();
        v
    };
    for (fname, help, m) in [
        (
            "trawl_exporter_events",
            "Events the exporter consumed",
            &p.events,
        ),
        (
            "trawl_exporter_lost_events",
            "Events the tracer discarded (Loss messages)",
            &p.lost_events,
        ),
        (
            "trawl_exporter_lost_packets",
            "Packets lost (Loss messages)",
            &p.lost_packets,
        ),
    ] {
        let mut f = family(enc, fname, help, MetricType::Counter)?;
        for ((h, d), n) in sorted(m) {
            f.counter(&vec![("host", h.as_str()), ("domain", d.as_str())], n)?;
        }
    }
    let mut f = family(
        enc,
        "trawl_exporter_batches",
        "Event batches the exporter consumed",
        MetricType::Counter,
    )?;
    f.counter(&Vec::new(), p.batches)?;
    let mut f = family(
        enc,
        "trawl_exporter_batch_rows",
        "Rows per event batch",
        MetricType::Histogram,
    )?;
    let buckets: Vec<(f64, u64)> = BATCH_ROWS_BOUNDS
        .iter()
        .map(|&b| b as f64)
        .chain(std::iter::once(f64::MAX))
        .zip(p.batch_rows.iter().copied())
        .collect();
    f.enc
        .encode_histogram::<NoLabelSet>(p.batch_rows_sum as f64, p.batches, &buckets, None)?;
    let now_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64);
    let mut f = family(
        enc,
        "trawl_exporter_lag_seconds",
        "Wall clock minus the latest watermark of each trace, seconds",
        MetricType::Gauge,
    )?;
    let mut marks: Vec<_> = p.watermarks.iter().collect();
    marks.sort();
    for ((h, d), ts) in marks {
        f.gauge(
            &vec![("host", h.as_str()), ("domain", d.as_str())],
            (now_ns - ts) as f64 / 1e9,
        )?;
    }
    let mut f = family(
        enc,
        "trawl_exporter_series",
        "Container series currently exported",
        MetricType::Gauge,
    )?;
    f.gauge(
        &Vec::new(),
        agg.series.iter().filter(|s| s.last.is_some()).count() as f64,
    )?;
    Ok(())
}

/// A registry holding the state's collector.
pub(crate) fn registry(state: Arc<Mutex<Aggregator>>, stages: Option<StageReader>) -> Registry {
    let mut r = Registry::default();
    r.register_collector(Box::new(StateCollector(state)));
    if let Some(stages) = stages {
        r.register_collector(Box::new(StagesCollector(stages)));
    }
    r
}

/// The Prometheus text format (0.0.4) of OpenMetrics `text`: counter
/// families are named with their `_total`, info families become `_info`
/// gauges, `# UNIT` and `# EOF` go; samples are the same.
pub(crate) fn prometheus_text(text: &str) -> String {
    let types: HashMap<&str, &str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.split_once(' '))
        .collect();
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = ["HELP", "TYPE"].into_iter().find_map(|kw| {
            Some((
                kw,
                line.strip_prefix("# ")?
                    .strip_prefix(kw)?
                    .strip_prefix(' ')?,
            ))
        });
        let Some((kw, rest)) = meta else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
        let (suffix, tail) = match (types.get(name).copied(), kw) {
            (Some("counter"), _) => ("_total", tail),
            (Some("info"), "TYPE") => ("_info", "gauge"),
            (Some("info"), _) => ("_info", tail),
            (Some("unknown"), "TYPE") => ("", "untyped"),
            _ => ("", tail),
        };
        let _ = writeln!(out, "# {kw} {name}{suffix} {tail}");
    }
    out
}

/// The OpenMetrics text of a registry.
pub(crate) fn text(r: &Registry) -> String {
    let mut out = String::with_capacity(64 * 1024);
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, r);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use arrow_array::{ArrayRef, RecordBatch, StringArray, TimestampNanosecondArray};
    use trawl_core::{EventBatch, Message, envelope};

    use crate::config::PrometheusSinkConfig;

    /// `n` user-space `app:tick` events of container `id` (named `id` too).
    fn ticks(id: &str, n: usize) -> Message {
        let mut cols: Vec<(&str, ArrayRef)> = vec![(
            envelope::TS,
            Arc::new(TimestampNanosecondArray::from(vec![1; n])),
        )];
        for c in crate::labels::COLUMNS {
            cols.push((c, Arc::new(StringArray::from(vec![id; n]))));
        }
        let batch = RecordBatch::try_from_iter(cols).unwrap();
        let meta = [
            (envelope::META_EVENT, "app:tick"),
            (envelope::META_HOST, "h"),
            (envelope::META_DOMAIN, "ust"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let schema = batch.schema().as_ref().clone().with_metadata(meta.into());
        Message::Events(EventBatch {
            batch: batch.with_schema(Arc::new(schema)).unwrap(),
        })
    }

    #[test]
    fn stale_series_expire_and_come_back_from_zero() {
        let config = PrometheusSinkConfig {
            stale_after_secs: 60,
            ..Default::default()
        };
        let state = Arc::new(Mutex::new(Aggregator::new(config.settings().unwrap())));
        let r = registry(state.clone(), None);
        let now = Instant::now();
        let long_ago = now.checked_sub(Duration::from_secs(61)).unwrap();
        let recently = now.checked_sub(Duration::from_secs(59)).unwrap();
        {
            let mut agg = state.lock().unwrap();
            agg.consume(&ticks("old", 5), long_ago);
            agg.consume(&ticks("kept", 3), long_ago);
            agg.consume(&ticks("kept", 4), recently);
        }
        let out = text(&r);
        assert!(!out.contains(r#"container_id="old""#), "{out}");
        assert!(
            out.contains(r#"container_name="kept",image="kept",namespace="kept",pod="kept",container="kept",event="app:tick"} 7"#),
            "{out}"
        );
        assert_eq!(out.matches("trawl_container_info{").count(), 1, "{out}");
        assert!(out.contains("trawl_exporter_series 1.0\n"), "{out}");
        // Seen again, the expired series starts over (a counter reset).
        state
            .lock()
            .unwrap()
            .consume(&ticks("old", 2), Instant::now());
        let out = text(&r);
        assert!(
            out.contains(r#"container="old",event="app:tick"} 2"#),
            "{out}"
        );
        assert_eq!(out.matches("trawl_container_info{").count(), 2, "{out}");
    }

    #[test]
    fn the_text_format_names_counters_and_infos_by_their_samples() {
        let om = "# HELP a_seconds Time.\n# TYPE a_seconds counter\n# UNIT a_seconds seconds\n\
                  a_seconds_total{x=\"1\"} 2.5\n# HELP c Seen.\n# TYPE c info\nc_info{id=\"x\"} 1\n\
                  # HELP h Sizes.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 3\nh_sum 4\nh_count 3\n# EOF\n";
        assert_eq!(
            prometheus_text(om),
            "# HELP a_seconds_total Time.\n# TYPE a_seconds_total counter\n\
             a_seconds_total{x=\"1\"} 2.5\n# HELP c_info Seen.\n# TYPE c_info gauge\nc_info{id=\"x\"} 1\n\
             # HELP h Sizes.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 3\nh_sum 4\nh_count 3\n"
        );
    }
}
