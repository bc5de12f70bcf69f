//! The join: container columns onto every event batch.
//!
//! [`Enricher`] is a [`Transform`]: it takes the container records
//! ([`Message::Containers`]) and the events of any number of traces, and
//! adds `container_id`, `container_name`, `container_image`, `k8s_namespace`,
//! `k8s_pod`, `k8s_container` ([`trawl_core::containers::ENRICHMENT`]:
//! nullable, dictionary-encoded) to every event batch.
//!
//! # Keys
//!
//! A row belongs to the container whose namespace inode it carries, on the
//! same host: `pid_ns` first, then `net_ns`, `mnt_ns`, `cgroup_ns` (a
//! container sharing the host's pid namespace is still found by its network
//! namespace). Rows in the host's own namespaces get no container.
//!
//! Kernel events usually have no namespace contexts: they join by thread
//! (`tid`, else `prev_tid` for `sched_switch`, `parent_tid` for
//! `sched_process_fork`) through a table of each thread's namespaces,
//! learned from `sched_process_fork` (the child's `child_ns_inum`, the
//! parent's other namespaces), the `lttng_statedump_process_{pid,net,mnt,cgroup}_ns`
//! events (the innermost pid-namespace level) and the pids the watcher
//! reports; `sched_process_exit` ends a thread after the grace period
//! (`exec` keeps its tid, so nothing changes). Kernel events without any
//! thread column (no `tid` context) take the thread `sched_switch` put on
//! their CPU; they wait (like rows of an unknown container) until a later
//! switch on that CPU or the kernel trace's watermark shows no switch in
//! between can still arrive. Events before a CPU's first switch stay
//! unenriched.
//!
//! # Waiting for late records
//!
//! A container's first events often arrive before its record (the runtime
//! reports a start after the process ran). A batch with rows that resolve
//! to nothing known waits, with every later message of its trace (order is
//! kept), until the records arrive or the trace's watermark passes its
//! first event by `hold`; then it leaves with those rows unenriched, and
//! they are counted ([`EnrichStats::rows_unenriched`]). At most
//! `max_held_rows` wait; past that the oldest leave at once. Records of
//! stopped or removed containers stay `grace` past the host's watermark.
//!
//! # Cost
//!
//! One lookup per distinct key per batch: rows carry the same key in runs,
//! a per-batch cache maps each distinct key to its dictionary index, and
//! the six columns share one keys buffer.

mod annotate;
mod state;

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use arrow_array::RecordBatch;
use trawl_core::{Containers, EventBatch, Message, Transform, Watermark, envelope};

use crate::record;
use annotate::{Resolution, annotate, learn, resolve};
use state::HostState;

/// How long (trace time past a batch's first event) a batch may wait for its container's record.
pub const DEFAULT_HOLD: Duration = Duration::from_secs(2);
/// How long (trace time) records of stopped or removed containers stay.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(30);
/// Rows that may wait at once, over all traces.
pub const DEFAULT_MAX_HELD_ROWS: usize = 1 << 20;

/// Counters of an [`Enricher`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EnrichStats {
    /// Rows that got a container.
    pub rows_in_containers: u64,
    /// Rows of host processes.
    pub rows_on_host: u64,
    /// Rows that left without a container although they may have had one
    /// (waited too long, or nothing to join on).
    pub rows_unenriched: u64,
    /// Batches that had to wait.
    pub batches_held: u64,
    /// Container records applied.
    pub records: u64,
}

/// Settings of an [`Enricher`].
#[derive(Debug, Clone)]
pub struct EnricherBuilder {
    hold: Duration,
    grace: Duration,
    max_held_rows: usize,
}

impl Default for EnricherBuilder {
    fn default() -> Self {
        EnricherBuilder {
            hold: DEFAULT_HOLD,
            grace: DEFAULT_GRACE,
            max_held_rows: DEFAULT_MAX_HELD_ROWS,
        }
    }
}

impl EnricherBuilder {
    /// Defaults: [`DEFAULT_HOLD`], [`DEFAULT_GRACE`], [`DEFAULT_MAX_HELD_ROWS`].
    pub fn new() -> Self {
        Self::default()
    }

    /// How long a batch waits for unknown containers (0: never).
    pub fn hold(mut self, hold: Duration) -> Self {
        self.hold = hold;
        self
    }

    /// How long records of ended containers stay.
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Rows that may wait at once.
    pub fn max_held_rows(mut self, rows: usize) -> Self {
        self.max_held_rows = rows;
        self
    }

    /// The join.
    pub fn build(self) -> Enricher {
        Enricher {
            hold: i64::try_from(self.hold.as_nanos()).unwrap_or(i64::MAX),
            grace: i64::try_from(self.grace.as_nanos()).unwrap_or(i64::MAX),
            max_held_rows: self.max_held_rows,
            hosts: HashMap::new(),
            queues: HashMap::new(),
            held_rows: 0,
            stats: EnrichStats::default(),
        }
    }
}

/// A message waiting behind a held batch of its trace.
#[derive(Debug)]
enum Held {
    Events { batch: RecordBatch, first_ts: i64 },
    Mark(Watermark),
}

/// The messages of one trace (host, domain) waiting, in order.
#[derive(Debug, Default)]
struct Queue {
    items: VecDeque<Held>,
    watermark: i64,
}

/// The container join (see the [crate documentation](crate)).
#[derive(Debug)]
pub struct Enricher {
    hold: i64,
    grace: i64,
    max_held_rows: usize,
    hosts: HashMap<String, HostState>,
    queues: HashMap<(String, String), Queue>,
    held_rows: usize,
    stats: EnrichStats,
}

impl Default for Enricher {
    fn default() -> Self {
        EnricherBuilder::new().build()
    }
}

/// The host and domain a batch's schema metadata names.
fn trace_of(batch: &RecordBatch) -> (String, String) {
    let meta = batch.schema_ref().metadata();
    let get = |k: &str| meta.get(k).cloned().unwrap_or_default();
    (get(envelope::META_HOST), get(envelope::META_DOMAIN))
}

impl Enricher {
    /// The counters so far.
    pub fn stats(&self) -> EnrichStats {
        self.stats
    }

    /// Rows waiting for container records now.
    pub fn held_rows(&self) -> usize {
        self.held_rows
    }

    fn on_containers(&mut self, c: &Containers, out: &mut Vec<Message>) -> trawl_core::Result<()> {
        let records = record::from_batch(&c.batch)?;
        let mut hosts = Vec::new();
        for r in &records {
            self.hosts.entry(r.host.clone()).or_default().apply(r);
            if !hosts.contains(&r.host) {
                hosts.push(r.host.clone());
            }
        }
        self.stats.records += records.len() as u64;
        for host in hosts {
            self.drain_host(&host, out)?;
        }
        Ok(())
    }

    fn on_events(&mut self, batch: RecordBatch, out: &mut Vec<Message>) -> trawl_core::Result<()> {
        let key = trace_of(&batch);
        let state = self.hosts.entry(key.0.clone()).or_default();
        let learned = learn(state, &batch);
        let queue = self.queues.entry(key.clone()).or_default();
        if queue.items.is_empty() {
            let res = resolve(state, &batch);
            if res.unknown == 0 {
                out.push(self.finish(&key.0, &batch, res)?);
                return Ok(());
            }
        }
        self.stats.batches_held += 1;
        let first_ts = annotate::first_ts(&batch);
        self.held_rows += batch.num_rows();
        queue.items.push_back(Held::Events { batch, first_ts });
        if learned {
            self.drain_host(&key.0, out)?;
        } else {
            self.drain(&key, false, out)?;
        }
        self.enforce_limit(out)
    }

    fn on_watermark(&mut self, w: Watermark, out: &mut Vec<Message>) -> trawl_core::Result<()> {
        let state = self.hosts.entry(w.host.clone()).or_default();
        state.watermark = state.watermark.max(w.ts);
        if w.domain == "kernel" {
            state.kernel_watermark = state.kernel_watermark.max(w.ts);
        }
        state.purge(self.grace);
        let key = (w.host.clone(), w.domain.clone());
        match self.queues.get_mut(&key) {
            Some(q) if !q.items.is_empty() => {
                q.watermark = q.watermark.max(w.ts);
                q.items.push_back(Held::Mark(w));
                self.drain(&key, false, out)
            }
            _ => {
                out.push(Message::Watermark(w));
                Ok(())
            }
        }
    }

    /// Adds the columns to `batch` and counts its rows.
    fn finish(
        &mut self,
        host: &str,
        batch: &RecordBatch,
        res: Resolution,
    ) -> trawl_core::Result<Message> {
        self.stats.rows_in_containers += res.in_containers as u64;
        self.stats.rows_on_host += res.on_host as u64;
        self.stats.rows_unenriched += (res.unknown + res.no_key) as u64;
        let state = self.hosts.entry(host.to_owned()).or_default();
        let batch = annotate(state, batch, &res)?;
        Ok(Message::Events(EventBatch { batch }))
    }

    fn drain_host(&mut self, host: &str, out: &mut Vec<Message>) -> trawl_core::Result<()> {
        let keys: Vec<_> = self
            .queues
            .keys()
            .filter(|k| k.0 == host)
            .cloned()
            .collect();
        for key in keys {
            self.drain(&key, false, out)?;
        }
        Ok(())
    }

    /// Lets out the messages at the front of a trace's queue that may go:
    /// watermarks, batches that now resolve, batches that waited long
    /// enough (or all, when `force`).
    fn drain(
        &mut self,
        key: &(String, String),
        force: bool,
        out: &mut Vec<Message>,
    ) -> trawl_core::Result<()> {
        loop {
            let Some(queue) = self.queues.get_mut(key) else {
                return Ok(());
            };
            let watermark = queue.watermark;
            let Some(front) = queue.items.front() else {
                return Ok(());
            };
            let res = match front {
                Held::Mark(_) => None,
                Held::Events { batch, first_ts } => {
                    let state = self.hosts.entry(key.0.clone()).or_default();
                    let res = resolve(state, batch);
                    let expired = first_ts.saturating_add(self.hold) <= watermark;
                    if res.unknown > 0 && !force && !expired {
                        return Ok(());
                    }
                    Some(res)
                }
            };
            match (queue.items.pop_front(), res) {
                (Some(Held::Mark(w)), _) => out.push(Message::Watermark(w)),
                (Some(Held::Events { batch, .. }), Some(res)) => {
                    self.held_rows -= batch.num_rows();
                    out.push(self.finish(&key.0, &batch, res)?);
                }
                _ => return Ok(()),
            }
        }
    }

    /// Past `max_held_rows`, the oldest held batches leave at once.
    fn enforce_limit(&mut self, out: &mut Vec<Message>) -> trawl_core::Result<()> {
        while self.held_rows > self.max_held_rows {
            let oldest = self
                .queues
                .iter()
                .filter_map(|(k, q)| match q.items.front() {
                    Some(Held::Events { first_ts, .. }) => Some((*first_ts, k.clone())),
                    _ => None,
                })
                .min();
            let Some((_, key)) = oldest else {
                return Ok(());
            };
            self.release_front(&key, out)?;
        }
        Ok(())
    }

    /// The front batch of a queue leaves now (and the watermarks behind it).
    fn release_front(
        &mut self,
        key: &(String, String),
        out: &mut Vec<Message>,
    ) -> trawl_core::Result<()> {
        let Some(Held::Events { batch, .. }) =
            self.queues.get_mut(key).and_then(|q| q.items.pop_front())
        else {
            return Ok(());
        };
        self.held_rows -= batch.num_rows();
        let state = self.hosts.entry(key.0.clone()).or_default();
        let res = resolve(state, &batch);
        out.push(self.finish(&key.0, &batch, res)?);
        self.drain(key, false, out)
    }
}

impl Transform for Enricher {
    fn process(&mut self, msg: Message, out: &mut Vec<Message>) -> trawl_core::Result<()> {
        match msg {
            Message::Events(e) => self.on_events(e.batch, out),
            Message::Watermark(w) => self.on_watermark(w, out),
            Message::Containers(c) => {
                self.on_containers(&c, out)?;
                // Downstream stages may want the records too (a sink writing them).
                out.push(Message::Containers(c));
                Ok(())
            }
            Message::Loss(l) => {
                out.push(Message::Loss(l));
                Ok(())
            }
        }
    }

    fn flush(&mut self, out: &mut Vec<Message>) -> trawl_core::Result<()> {
        let mut keys: Vec<_> = self.queues.keys().cloned().collect();
        keys.sort();
        for key in keys {
            self.drain(&key, true, out)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::cast::AsArray;
    use arrow_array::types::Int32Type;
    use arrow_array::{
        Array, ArrayRef, DictionaryArray, Int32Array, TimestampNanosecondArray, UInt32Array,
        UInt64Array,
    };
    use arrow_schema::Field;

    use super::*;
    use crate::record::{ContainerRecord, LABEL_POD_NAME, LABEL_POD_NAMESPACE, Namespaces};

    /// An event batch of class `event` on host `h` with extra columns.
    fn events(domain: &str, event: &str, ts: &[i64], extra: Vec<(&str, ArrayRef)>) -> Message {
        let n = ts.len();
        let fields = extra
            .iter()
            .map(|(name, a)| Field::new(*name, a.data_type().clone(), true))
            .collect();
        let schema = envelope::schema_with_metadata(fields, event, "h", domain, "");
        let dict = |v: &str| -> ArrayRef {
            Arc::new(DictionaryArray::<Int32Type>::from_iter(
                std::iter::repeat_n(v, n),
            ))
        };
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(TimestampNanosecondArray::from(ts.to_vec()).with_timezone("UTC")),
            dict("h"),
            dict(domain),
            Arc::new(UInt64Array::from(vec![0; n])),
            Arc::new(UInt32Array::from(vec![0; n])),
            dict(event),
        ];
        columns.extend(extra.into_iter().map(|(_, a)| a));
        let batch = RecordBatch::try_new(schema, columns).unwrap();
        Message::Events(EventBatch { batch })
    }

    fn u32s(v: &[u32]) -> ArrayRef {
        Arc::new(UInt32Array::from(v.to_vec()))
    }

    fn i32s(v: &[i32]) -> ArrayRef {
        Arc::new(Int32Array::from(v.to_vec()))
    }

    fn containers(records: Vec<ContainerRecord>) -> Message {
        Message::Containers(Containers {
            batch: record::to_batch(&records).unwrap(),
        })
    }

    fn container(id: &str, pid_ns: u32, ts: i64) -> ContainerRecord {
        ContainerRecord {
            ts,
            host: "h".into(),
            id: id.into(),
            name: Some(format!("{id}-name")),
            image: Some("img".into()),
            ns: Namespaces {
                pid_ns: Some(pid_ns),
                ..Namespaces::default()
            },
            ..ContainerRecord::default()
        }
    }

    fn mark(ts: i64) -> Message {
        Message::Watermark(Watermark {
            host: "h".into(),
            domain: "ust".into(),
            ts,
        })
    }

    /// The values of an enrichment column of an output batch.
    fn column(msg: &Message, name: &str) -> Vec<Option<String>> {
        let Message::Events(e) = msg else {
            panic!("not events: {msg:?}")
        };
        let dict = e
            .batch
            .column_by_name(name)
            .unwrap()
            .as_dictionary::<Int32Type>();
        let values = dict.values().as_string::<i32>();
        // A missing value is a null row, never a valid key to a null value
        // (readers that look at the keys' nulls only must see it).
        (0..dict.len())
            .map(|i| {
                let k = dict.is_valid(i).then(|| dict.keys().value(i) as usize)?;
                assert!(
                    values.is_valid(k),
                    "{name} row {i}: valid key to a null value"
                );
                Some(values.value(k).to_owned())
            })
            .collect()
    }

    fn run(join: &mut Enricher, msgs: Vec<Message>) -> Vec<Message> {
        let mut out = Vec::new();
        for m in msgs {
            join.process(m, &mut out).unwrap();
        }
        out
    }

    #[test]
    fn early_events_wait_for_their_record_in_order() {
        let mut join = Enricher::default();
        let out = run(
            &mut join,
            vec![
                events(
                    "ust",
                    "e",
                    &[10, 11],
                    vec![("pid_ns", u32s(&[7, 0xEFFF_FFFC]))],
                ),
                mark(12),
                events("ust", "e", &[13], vec![("pid_ns", u32s(&[0xEFFF_FFFC]))]),
            ],
        );
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(join.held_rows(), 3);
        let out = run(&mut join, vec![containers(vec![container("a", 7, 5)])]);
        assert_eq!(out.len(), 4, "{out:?}");
        assert_eq!(column(&out[0], "container_id"), [Some("a".into()), None]);
        assert_eq!(
            column(&out[0], "container_name"),
            [Some("a-name".into()), None]
        );
        assert!(matches!(
            out[1],
            Message::Watermark(Watermark { ts: 12, .. })
        ));
        assert_eq!(column(&out[2], "container_id"), [None]);
        assert!(matches!(out[3], Message::Containers(_)));
        let stats = join.stats();
        assert_eq!(
            (
                stats.rows_in_containers,
                stats.rows_on_host,
                stats.rows_unenriched
            ),
            (1, 2, 0)
        );
    }

    #[test]
    fn events_of_a_never_known_container_leave_after_the_hold_and_are_counted() {
        let mut join = EnricherBuilder::new()
            .hold(Duration::from_nanos(100))
            .build();
        let out = run(
            &mut join,
            vec![
                events("ust", "e", &[10], vec![("pid_ns", u32s(&[7]))]),
                mark(50),
            ],
        );
        assert!(out.is_empty());
        let out = run(&mut join, vec![mark(110)]);
        assert_eq!(out.len(), 3);
        assert_eq!(column(&out[0], "container_id"), [None]);
        assert_eq!(join.stats().rows_unenriched, 1);
        assert_eq!(join.held_rows(), 0);
    }

    #[test]
    fn the_row_limit_lets_the_oldest_out_and_flush_lets_all_out() {
        let mut join = EnricherBuilder::new().max_held_rows(2).build();
        let msgs = (0..3)
            .map(|i| events("ust", "e", &[i], vec![("pid_ns", u32s(&[7]))]))
            .collect();
        let out = run(&mut join, msgs);
        assert_eq!(out.len(), 1);
        let mut out = Vec::new();
        join.flush(&mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(join.stats().rows_unenriched, 3);
    }

    #[test]
    fn k8s_labels_and_missing_fields() {
        let mut join = Enricher::default();
        let mut pod = container("p", 8, 0);
        pod.labels.insert(LABEL_POD_NAME.into(), "web-0".into());
        pod.labels.insert(LABEL_POD_NAMESPACE.into(), "shop".into());
        // Another pattern of present values: a namespace label, no pod name.
        let mut other = container("q", 9, 0);
        other
            .labels
            .insert(LABEL_POD_NAMESPACE.into(), "batch".into());
        let out = run(
            &mut join,
            vec![
                containers(vec![container("a", 7, 0), pod, other]),
                events(
                    "ust",
                    "e",
                    &[1, 2, 3, 4],
                    vec![("pid_ns", u32s(&[7, 8, 7, 9]))],
                ),
            ],
        );
        assert_eq!(
            column(&out[1], "k8s_pod"),
            [None, Some("web-0".into()), None, None]
        );
        assert_eq!(
            column(&out[1], "k8s_namespace"),
            [None, Some("shop".into()), None, Some("batch".into())]
        );
        assert_eq!(column(&out[1], "k8s_container"), [None, None, None, None]);
        assert_eq!(
            column(&out[1], "container_id"),
            [
                Some("a".into()),
                Some("p".into()),
                Some("a".into()),
                Some("q".into())
            ]
        );
    }

    #[test]
    fn kernel_threads_join_through_statedump_fork_and_exit() {
        let mut join = EnricherBuilder::new()
            .grace(Duration::from_nanos(10))
            .build();
        let out = run(
            &mut join,
            vec![
                containers(vec![container("a", 7, 0)]),
                // tid 100: container a at level 1 (innermost first), host at level 0.
                events(
                    "kernel",
                    "lttng_statedump_process_pid_ns",
                    &[1, 1, 1],
                    vec![
                        ("tid", i32s(&[100, 100, 200])),
                        ("ns_level", i32s(&[1, 0, 0])),
                        ("ns_inum", u32s(&[7, 0xEFFF_FFFC, 0xEFFF_FFFC])),
                    ],
                ),
                events(
                    "kernel",
                    "sched_process_fork",
                    &[2],
                    vec![
                        ("parent_tid", i32s(&[100])),
                        ("child_tid", i32s(&[101])),
                        ("child_ns_inum", u32s(&[7])),
                    ],
                ),
                events(
                    "kernel",
                    "sched_switch",
                    &[3, 4, 5, 6],
                    vec![("prev_tid", i32s(&[100, 101, 200, 0]))],
                ),
                events(
                    "kernel",
                    "sched_process_exit",
                    &[7],
                    vec![("tid", i32s(&[101]))],
                ),
            ],
        );
        assert_eq!(out.len(), 5, "{out:?}");
        assert_eq!(
            column(&out[1], "container_id"),
            [Some("a".into()), Some("a".into()), None]
        );
        assert_eq!(column(&out[2], "container_id"), [Some("a".into())]);
        assert_eq!(
            column(&out[3], "container_id"),
            [Some("a".into()), Some("a".into()), None, None]
        );
        assert_eq!(column(&out[4], "container_id"), [Some("a".into())]);
        // Past the grace period the exited thread is forgotten.
        let kernel_mark = Message::Watermark(Watermark {
            host: "h".into(),
            domain: "kernel".into(),
            ts: 100,
        });
        run(&mut join, vec![kernel_mark]);
        let out = run(
            &mut join,
            vec![events(
                "kernel",
                "sched_switch",
                &[101],
                vec![("prev_tid", i32s(&[101]))],
            )],
        );
        assert!(out.is_empty(), "tid 101 is unknown again and waits");
    }
}
