//! The aggregator: messages in, per-container series out.
//!
//! Counters that need no ordering (network bytes, page allocations, page
//! faults, syscall and user-space event counts) are summed per batch, per
//! container key, column by column. Analyses that pair events (CPU time,
//! run-queue latency, syscall latency, block latency, request latency) need
//! the events of one trace in time order across event classes and CPUs:
//! their batches wait until a watermark says every earlier event has
//! arrived, then the waiting rows older than the watermark are merged by
//! time and run through per-CPU and per-thread state machines.

use std::collections::HashMap;
use std::time::Instant;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int32Type, Int64Type, TimestampNanosecondType, UInt8Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrowPrimitiveType, RecordBatch};
use arrow_schema::DataType;
use trawl_core::{Loss, Message, Watermark, envelope};

use crate::config::Settings;
use crate::labels::{Interner, RowKeys, StrCol, host_of};
use crate::state::{BATCH_ROWS_BOUNDS, IntMap, Names, PipelineStats, Series};

/// The demo tracepoints whose begin→end time is a request latency.
pub const REQUEST_BEGIN: &str = "trawl_demo:request_begin";
/// See [`REQUEST_BEGIN`].
pub const REQUEST_END: &str = "trawl_demo:request_end";

/// What a waiting batch feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Switch,
    Wakeup,
    SysEntry(u32),
    SysExit(u32),
    BlockIssue,
    BlockComplete,
    RequestBegin,
    RequestEnd,
}

/// A batch waiting for its watermark.
struct Waiting {
    batch: RecordBatch,
    kind: Kind,
    keys: RowKeys,
    /// Row order by time when the batch is not already in time order.
    order: Option<Vec<u32>>,
    /// Rows (in time order) already processed.
    done: usize,
}

impl Waiting {
    /// The row that is `i`-th in time order.
    #[inline]
    fn row(&self, i: usize) -> usize {
        self.order
            .as_ref()
            .map_or(i, |o| o.get(i).map_or(usize::MAX, |&r| r as usize))
    }
}

/// Per-thread state of one trace.
#[derive(Default, Clone, Copy)]
struct Thread {
    /// Became runnable (woken, or preempted) at.
    runnable_since: Option<i64>,
    /// Run-queue latency of the last switch-in, waiting for the thread's
    /// next switch-out to learn its container.
    runq_pending: Option<u64>,
    /// Syscall in progress: (name id, entry time).
    syscall: Option<(u32, i64)>,
}

/// State of one trace (host, domain).
#[derive(Default)]
struct Trace {
    waiting: Vec<Waiting>,
    /// Per CPU: the time the running thread was switched in.
    cpu_since: Vec<Option<i64>>,
    threads: IntMap<i64, Thread>,
    /// Issued block requests by (dev, sector): (time, key, write?).
    block: IntMap<(u32, u64), (i64, u32, usize)>,
    /// Demo requests in flight by (vpid, id): begin time.
    requests: IntMap<(i64, u64), i64>,
}

/// All aggregated state (behind the sink's lock).
pub struct Aggregator {
    pub(crate) settings: Settings,
    pub(crate) interner: Interner,
    pub(crate) series: Vec<Series>,
    pub(crate) names: Names,
    pub(crate) pipeline: PipelineStats,
    traces: HashMap<(String, String), Trace>,
}

/// A primitive column's values (null slots hold arbitrary values).
fn prim<'a, T: ArrowPrimitiveType>(b: &'a RecordBatch, name: &str) -> Option<&'a [T::Native]> {
    let c = b.column_by_name(name)?;
    c.as_primitive_opt::<T>().map(|a| a.values().as_ref())
}

/// An integer column of any width as i64 (for ids, tids, statuses).
fn int_at(b: &RecordBatch, name: &str, row: usize) -> Option<i64> {
    let c = b.column_by_name(name)?;
    if !c.is_valid(row) {
        return None;
    }
    Some(match c.data_type() {
        DataType::Int8 => i64::from(c.as_primitive::<arrow_array::types::Int8Type>().value(row)),
        DataType::Int16 => i64::from(c.as_primitive::<arrow_array::types::Int16Type>().value(row)),
        DataType::Int32 => i64::from(c.as_primitive::<Int32Type>().value(row)),
        DataType::Int64 => c.as_primitive::<Int64Type>().value(row),
        DataType::UInt8 => i64::from(c.as_primitive::<UInt8Type>().value(row)),
        DataType::UInt16 => i64::from(
            c.as_primitive::<arrow_array::types::UInt16Type>()
                .value(row),
        ),
        DataType::UInt32 => i64::from(c.as_primitive::<UInt32Type>().value(row)),
        DataType::UInt64 => c.as_primitive::<UInt64Type>().value(row) as i64,
        _ => return None,
    })
}

/// The columns the hot state machines read, looked up once per batch.
#[derive(Default)]
struct Cols<'a> {
    cpu: Option<&'a [u32]>,
    /// `prev_tid` (switch), the woken tid (wakeup), the thread (syscalls).
    a: Option<&'a [i32]>,
    /// `next_tid` (switch).
    b: Option<&'a [i32]>,
    /// `prev_state` (switch).
    state: Option<&'a [i64]>,
}

impl<'a> Cols<'a> {
    fn of(b: &'a RecordBatch, kind: Kind) -> Self {
        let cpu = prim::<UInt32Type>(b, envelope::CPU);
        let i32s = |n: &str| prim::<Int32Type>(b, n);
        match kind {
            Kind::Switch => Cols {
                cpu,
                a: i32s("prev_tid"),
                b: i32s("next_tid"),
                state: prim::<Int64Type>(b, "prev_state"),
            },
            // With a `tid` context, the payload's is `payload_tid`.
            Kind::Wakeup => Cols {
                cpu,
                a: i32s("payload_tid").or_else(|| i32s("tid")),
                ..Cols::default()
            },
            // The `tid` context, else `vtid`.
            Kind::SysEntry(_) | Kind::SysExit(_) => Cols {
                cpu,
                a: i32s("tid").or_else(|| i32s("vtid")),
                ..Cols::default()
            },
            _ => Cols::default(),
        }
    }

    /// The thread of a syscall row: its tid, or (without a tid column) the
    /// CPU as a stand-in (negative, so it never collides with a tid).
    #[inline]
    fn thread(&self, row: usize) -> i64 {
        match self.a {
            Some(t) => i64::from(t[row]),
            None => -1 - self.cpu.map_or(0, |c| i64::from(c[row])),
        }
    }
}

impl Aggregator {
    /// An empty aggregator.
    pub fn new(settings: Settings) -> Self {
        Self {
            interner: Interner::new(settings.keep),
            settings,
            series: Vec::new(),
            names: Names::default(),
            pipeline: PipelineStats::default(),
            traces: HashMap::new(),
        }
    }

    /// Takes one message.
    pub fn consume(&mut self, msg: &Message, now: Instant) {
        match msg {
            Message::Events(e) => self.events(&e.batch, now),
            Message::Watermark(w) => self.watermark(w),
            Message::Loss(l) => self.loss(l),
            Message::Containers(_) => {}
        }
    }

    /// Processes every waiting row (end of input).
    pub fn flush(&mut self) {
        let keys: Vec<_> = self.traces.keys().cloned().collect();
        for k in keys {
            self.drain(&k, i64::MAX);
        }
    }

    /// Drops series not updated since `now - stale_after`.
    pub fn expire(&mut self, now: Instant) {
        let Some(after) = self.settings.stale_after else {
            return;
        };
        for s in &mut self.series {
            if s.last
                .is_some_and(|t| now.saturating_duration_since(t) > after)
            {
                *s = Series::default();
            }
        }
        self.interner
            .containers
            .retain(|_, t| now.saturating_duration_since(*t) <= after);
    }

    fn series_mut(&mut self, key: u32) -> &mut Series {
        let k = key as usize;
        if self.series.len() <= k {
            self.series.resize_with(k + 1, Series::default);
        }
        &mut self.series[k]
    }

    fn touch(&mut self, keys: &RowKeys, now: Instant) {
        match keys {
            RowKeys::One(k) => self.series_mut(*k).last = Some(now),
            RowKeys::PerRow(v) => {
                let mut prev = u32::MAX;
                for &k in v {
                    if k != prev {
                        self.series_mut(k).last = Some(now);
                        prev = k;
                    }
                }
            }
        }
    }

    /// Adds `f(row)` to the series of each row's key (one add per key for `One`).
    fn add_per_key(
        &mut self,
        keys: &RowKeys,
        rows: usize,
        mut add: impl FnMut(&mut Series, std::ops::Range<usize>),
    ) {
        match keys {
            RowKeys::One(k) => add(self.series_mut(*k), 0..rows),
            RowKeys::PerRow(v) => {
                let mut start = 0;
                while start < v.len() {
                    let k = v[start];
                    let end = v[start..]
                        .iter()
                        .position(|&x| x != k)
                        .map_or(v.len(), |p| start + p);
                    add(self.series_mut(k), start..end);
                    start = end;
                }
            }
        }
    }

    fn events(&mut self, batch: &RecordBatch, now: Instant) {
        let rows = batch.num_rows();
        if rows == 0 {
            return;
        }
        let meta = batch.schema_ref().metadata().clone();
        let host = host_of(batch);
        let domain = meta.get(envelope::META_DOMAIN).cloned().unwrap_or_default();
        let event = meta.get(envelope::META_EVENT).cloned().unwrap_or_default();
        let p = &mut self.pipeline;
        *p.events.entry((host.clone(), domain.clone())).or_default() += rows as u64;
        p.batches += 1;
        p.batch_rows[BATCH_ROWS_BOUNDS.partition_point(|&b| b < rows as u64)] += 1;
        p.batch_rows_sum += rows as u64;

        let keys = self.interner.row_keys(batch, &host, now);
        self.touch(&keys, now);
        let kind = if domain == "kernel" {
            self.kernel_counts(batch, &event, &keys)
        } else {
            let id = self.names.id(&event);
            self.add_per_key(&keys, rows, |s, r| {
                *s.ust.entry(id).or_default() += r.len() as u64
            });
            match event.as_str() {
                REQUEST_BEGIN => Some(Kind::RequestBegin),
                REQUEST_END => Some(Kind::RequestEnd),
                _ => None,
            }
        };
        if let Some(kind) = kind {
            let ts = prim::<TimestampNanosecondType>(batch, envelope::TS).unwrap_or(&[]);
            let order = (!ts.is_sorted()).then(|| {
                let mut o: Vec<u32> = (0..rows as u32).collect();
                o.sort_by_key(|&i| ts[i as usize]);
                o
            });
            self.traces
                .entry((host, domain))
                .or_default()
                .waiting
                .push(Waiting {
                    batch: batch.clone(),
                    kind,
                    keys,
                    order,
                    done: 0,
                });
        }
    }

    /// Counts what needs no ordering; returns the kind of analysis the batch also feeds.
    fn kernel_counts(&mut self, batch: &RecordBatch, event: &str, keys: &RowKeys) -> Option<Kind> {
        let rows = batch.num_rows();
        let syscall = |prefix: &str| {
            event
                .strip_prefix(prefix)
                .or_else(|| event.strip_prefix(&format!("compat_{prefix}")))
        };
        if let Some(name) = syscall("syscall_entry_") {
            let id = self.names.id(name);
            self.add_per_key(keys, rows, |s, r| {
                s.syscalls.entry(id).or_default().0 += r.len() as u64
            });
            return Some(Kind::SysEntry(id));
        }
        if let Some(name) = syscall("syscall_exit_") {
            return Some(Kind::SysExit(self.names.id(name)));
        }
        match event {
            "sched_switch" => Some(Kind::Switch),
            "sched_wakeup" | "sched_wakeup_new" | "sched_waking" => Some(Kind::Wakeup),
            "block_rq_issue" => Some(Kind::BlockIssue),
            "block_rq_complete" => Some(Kind::BlockComplete),
            "net_dev_queue" | "net_if_receive_skb" => {
                let tx = event == "net_dev_queue";
                let len = prim::<UInt32Type>(batch, "len")?;
                let dev = batch.column_by_name("name").and_then(StrCol::of)?;
                // One interface lookup per run of equal names.
                let mut ifaces = Vec::with_capacity(rows);
                let mut last: Option<(&str, u32)> = None;
                for row in 0..rows {
                    let name = dev.get(row).unwrap_or("");
                    let id = match last {
                        Some((n, id)) if n == name => id,
                        _ => self.names.id(name),
                    };
                    last = Some((name, id));
                    ifaces.push(id);
                }
                self.add_per_key(keys, rows, |s, r| {
                    for row in r {
                        let e = s.net.entry((tx, ifaces[row])).or_default();
                        e.0 += u64::from(len[row]);
                        e.1 += 1;
                    }
                });
                None
            }
            "kmem_mm_page_alloc" => {
                let order = prim::<UInt32Type>(batch, "order")?;
                self.add_per_key(keys, rows, |s, r| {
                    s.pages += r.map(|i| 1u64 << order[i].min(63)).sum::<u64>();
                });
                None
            }
            "x86_exceptions_page_fault_user" | "x86_exceptions_page_fault_kernel" => {
                self.add_per_key(keys, rows, |s, r| s.faults += r.len() as u64);
                None
            }
            _ => None,
        }
    }

    fn watermark(&mut self, w: &Watermark) {
        let key = (w.host.clone(), w.domain.clone());
        let mark = self
            .pipeline
            .watermarks
            .entry(key.clone())
            .or_insert(i64::MIN);
        *mark = (*mark).max(w.ts);
        self.drain(&key, w.ts);
    }

    fn loss(&mut self, l: &Loss) {
        let key = (l.host.clone(), l.domain.clone());
        *self.pipeline.lost_events.entry(key.clone()).or_default() += l.events_discarded;
        *self.pipeline.lost_packets.entry(key).or_default() += l.packets_lost;
    }

    /// Runs the waiting rows of trace `key` older than `limit` in time order.
    fn drain(&mut self, key: &(String, String), limit: i64) {
        let Some(mut trace) = self.traces.remove(key) else {
            return;
        };
        let mut waiting = std::mem::take(&mut trace.waiting);
        let mut todo: Vec<(i64, u32, u32)> = Vec::new();
        for (w, wait) in waiting.iter_mut().enumerate() {
            let ts = prim::<TimestampNanosecondType>(&wait.batch, envelope::TS).unwrap_or(&[]);
            while let Some(&t) = ts.get(wait.row(wait.done)) {
                if t >= limit {
                    break;
                }
                todo.push((t, w as u32, wait.row(wait.done) as u32));
                wait.done += 1;
            }
        }
        // Each batch's rows are in time order: the stable sort finds those
        // runs and merges them (O(n log batches)).
        todo.sort();
        let cols: Vec<Cols<'_>> = waiting.iter().map(|w| Cols::of(&w.batch, w.kind)).collect();
        for (ts, w, row) in todo {
            let (wait, c) = (&waiting[w as usize], &cols[w as usize]);
            self.step(&mut trace, wait, c, row as usize, ts);
        }
        drop(cols);
        waiting.retain(|w| w.done < w.batch.num_rows());
        trace.waiting = waiting;
        self.traces.insert(key.clone(), trace);
    }

    /// One row of a waiting batch through the state machines.
    fn step(&mut self, t: &mut Trace, wait: &Waiting, c: &Cols<'_>, row: usize, ts: i64) {
        let b = &wait.batch;
        let key = wait.keys.at(row);
        match wait.kind {
            Kind::Switch => {
                let cpu = c.cpu.map_or(0, |v| v[row]) as usize;
                let prev = c.a.map_or(0, |v| i64::from(v[row]));
                let next = c.b.map_or(0, |v| i64::from(v[row]));
                let state = c.state.map_or(1, |v| v[row]);
                if t.cpu_since.len() <= cpu {
                    t.cpu_since.resize(cpu + 1, None);
                }
                if prev != 0 {
                    let th = t.threads.entry(prev).or_default();
                    let ran = t.cpu_since[cpu].map(|since| (ts - since).max(0) as u64);
                    let runq = th.runq_pending.take();
                    // Preempted (still runnable): waits in the run queue from now.
                    th.runnable_since = (state == 0).then_some(ts);
                    let s = self.series_mut(key);
                    if let Some(ns) = ran {
                        s.cpu_ns += ns;
                    }
                    if let Some(ns) = runq {
                        s.runq.observe(ns);
                    }
                }
                t.cpu_since[cpu] = (next != 0).then_some(ts);
                if next != 0 {
                    let th = t.threads.entry(next).or_default();
                    if let Some(since) = th.runnable_since.take() {
                        th.runq_pending = Some((ts - since).max(0) as u64);
                    }
                }
            }
            Kind::Wakeup => {
                if let Some(tid) = c.a {
                    let th = t.threads.entry(i64::from(tid[row])).or_default();
                    th.runnable_since.get_or_insert(ts);
                }
            }
            Kind::SysEntry(id) => {
                t.threads.entry(c.thread(row)).or_default().syscall = Some((id, ts));
            }
            Kind::SysExit(id) => {
                if let Some(th) = t.threads.get_mut(&c.thread(row))
                    && let Some((entry_id, since)) = th.syscall.take()
                    && entry_id == id
                {
                    let ns = (ts - since).max(0) as u64;
                    self.series_mut(key)
                        .syscalls
                        .entry(id)
                        .or_default()
                        .1
                        .observe(ns);
                }
            }
            Kind::BlockIssue => {
                let dev = int_at(b, "dev", row).unwrap_or(0) as u32;
                let sector = int_at(b, "sector", row).unwrap_or(0) as u64;
                let bytes = int_at(b, "bytes", row).unwrap_or(0) as u64;
                let write = usize::from(int_at(b, "rwbs", row).unwrap_or(0) & 1 == 1);
                self.series_mut(key).block[write].0 += bytes;
                t.block.insert((dev, sector), (ts, key, write));
            }
            Kind::BlockComplete => {
                let dev = int_at(b, "dev", row).unwrap_or(0) as u32;
                let sector = int_at(b, "sector", row).unwrap_or(0) as u64;
                if let Some((since, issuer, write)) = t.block.remove(&(dev, sector)) {
                    let ns = (ts - since).max(0) as u64;
                    self.series_mut(issuer).block[write].1.observe(ns);
                }
            }
            Kind::RequestBegin | Kind::RequestEnd => {
                let vpid = int_at(b, "vpid", row).unwrap_or(0);
                let Some(id) = int_at(b, "id", row) else {
                    return;
                };
                if wait.kind == Kind::RequestBegin {
                    t.requests.insert((vpid, id as u64), ts);
                } else if let Some(since) = t.requests.remove(&(vpid, id as u64)) {
                    let status = status_at(b, row);
                    let sid = self.names.id(&status);
                    let ns = (ts - since).max(0) as u64;
                    self.series_mut(key)
                        .requests
                        .entry(sid)
                        .or_default()
                        .observe(ns);
                }
            }
        }
    }
}

/// The `status` field of a request end, as label text.
fn status_at(b: &RecordBatch, row: usize) -> String {
    if let Some(v) = int_at(b, "status", row) {
        return v.to_string();
    }
    b.column_by_name("status")
        .and_then(StrCol::of)
        .and_then(|c| c.get(row).map(str::to_string))
        .unwrap_or_default()
}
