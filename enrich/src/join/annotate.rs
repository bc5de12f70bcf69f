//! Per batch: learn threads from kernel process events, resolve each row to
//! a container (one lookup per distinct key), add the columns.

use std::hash::Hash;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, TimestampNanosecondType, UInt32Type};
use arrow_array::{
    Array, ArrayRef, DictionaryArray, Int32Array, PrimitiveArray, RecordBatch, StringArray,
    new_null_array,
};
use arrow_buffer::{BooleanBuffer, NullBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, Schema};
use trawl_core::{containers, envelope};

use super::state::{Code, HOST, HostState, IntMap, KINDS, NO_KEY, PID, Running, UNKNOWN};

/// Namespace context columns, in [`KINDS`] order.
const NS_COLUMNS: [&str; KINDS] = [
    containers::PID_NS,
    containers::NET_NS,
    containers::MNT_NS,
    containers::CGROUP_NS,
];
/// Thread columns of kernel events, best first: the `tid` context, the
/// task switched out (`sched_switch`), the forking task.
const TID_COLUMNS: [&str; 3] = ["tid", "prev_tid", "parent_tid"];

/// Local key values below 0: why a row has no container.
const L_HOST: i32 = -1;
const L_UNKNOWN: i32 = -2;
const L_NO_KEY: i32 = -3;

/// Where each row of a batch goes.
#[derive(Debug)]
pub(crate) struct Resolution {
    /// Per row: index into `slots`, or a negative `L_*` reason.
    keys: Vec<i32>,
    /// The distinct containers of the batch (dictionary order).
    slots: Vec<Code>,
    pub(crate) in_containers: usize,
    pub(crate) on_host: usize,
    pub(crate) unknown: usize,
    pub(crate) no_key: usize,
}

/// A column as `T`, cast when the decoder chose another integer width.
fn column_as<T: arrow_array::ArrowPrimitiveType>(
    batch: &RecordBatch,
    name: &str,
) -> Option<PrimitiveArray<T>> {
    let col = batch.column_by_name(name)?;
    if !col.data_type().is_integer() {
        return None;
    }
    let cast = arrow_cast::cast(col, &T::DATA_TYPE).ok()?;
    cast.as_primitive_opt::<T>().cloned()
}

/// Time of the first row (`i64::MIN` when unknown).
pub(crate) fn first_ts(batch: &RecordBatch) -> i64 {
    ts_column(batch)
        .filter(|c| !c.is_empty())
        .map_or(i64::MIN, |c| c.value(0))
}

/// The value at `i`, `None` when null.
fn at<T: arrow_array::ArrowPrimitiveType>(a: &PrimitiveArray<T>, i: usize) -> Option<T::Native> {
    a.is_valid(i).then(|| a.value(i))
}

/// Learns threads from kernel process-lifetime and statedump events.
/// Returns whether anything was learned.
pub(crate) fn learn(state: &mut HostState, batch: &RecordBatch) -> bool {
    let Some(event) = batch.schema_ref().metadata().get(envelope::META_EVENT) else {
        return false;
    };
    let n = batch.num_rows();
    let i32s = |name| column_as::<Int32Type>(batch, name);
    let u32s = |name| column_as::<UInt32Type>(batch, name);
    // The thread an exit or statedump event is about. With a `tid` context
    // on the channel, the decoder names the payload's own `tid` field
    // `payload_tid` (and `tid` is the thread that wrote the event).
    let subject = || i32s("payload_tid").or_else(|| i32s("tid"));
    match event.as_str() {
        "sched_switch" => {
            let (Some(cpu), Some(next), Some(ts)) =
                (u32s(envelope::CPU), i32s("next_tid"), ts_column(batch))
            else {
                return false;
            };
            for i in 0..n {
                if let (Some(cpu), Some(tid)) = (at(&cpu, i), at(&next, i)) {
                    state.switched(cpu, ts.value(i), tid);
                }
            }
            n > 0
        }
        "sched_process_fork" => {
            let (Some(child), parent) = (i32s("child_tid"), i32s("parent_tid")) else {
                return false;
            };
            let ns = u32s("child_ns_inum");
            for i in 0..n {
                let Some(child) = at(&child, i) else { continue };
                let parent = parent.as_ref().and_then(|p| at(p, i));
                // Before lttng-modules 2.7 there is no child_ns_inum: the parent's.
                let pid_ns = ns.as_ref().and_then(|c| at(c, i)).or_else(|| {
                    parent
                        .and_then(|p| state.threads.get(&p))
                        .map(|t| t.ns[PID])
                });
                state.fork(parent, child, pid_ns.unwrap_or(0));
            }
            n > 0
        }
        "sched_process_exit" => {
            let (Some(tid), Some(ts)) = (subject(), ts_column(batch)) else {
                return false;
            };
            for i in 0..n {
                if let Some(tid) = at(&tid, i) {
                    state.exit(tid, ts.value(i));
                }
            }
            false
        }
        "lttng_statedump_process_pid_ns" | "lttng_statedump_process_state" => {
            let (Some(tid), Some(inum)) = (subject(), u32s("ns_inum")) else {
                return false;
            };
            let level = i32s("ns_level");
            // One row per level, innermost first: keep the deepest level.
            let mut deepest: IntMap<i32, i32> = IntMap::default();
            for i in 0..n {
                let (Some(t), Some(v)) = (at(&tid, i), at(&inum, i)) else {
                    continue;
                };
                let l = level.as_ref().and_then(|l| at(l, i)).unwrap_or(0);
                if deepest.get(&t).is_none_or(|&d| l > d) {
                    deepest.insert(t, l);
                    state.learn(t, PID, v);
                }
            }
            n > 0
        }
        other => {
            let kind = match other {
                "lttng_statedump_process_net_ns" => 1,
                "lttng_statedump_process_mnt_ns" => 2,
                "lttng_statedump_process_cgroup_ns" => 3,
                _ => return false,
            };
            let (Some(tid), Some(inum)) = (subject(), u32s("ns_inum")) else {
                return false;
            };
            for i in 0..n {
                if let (Some(t), Some(v)) = (at(&tid, i), at(&inum, i)) {
                    state.learn(t, kind, v);
                }
            }
            n > 0
        }
    }
}

/// The `ts` column.
fn ts_column(batch: &RecordBatch) -> Option<&PrimitiveArray<TimestampNanosecondType>> {
    batch
        .column_by_name(envelope::TS)?
        .as_primitive_opt::<TimestampNanosecondType>()
}

/// Maps codes to the batch's local dictionary indices.
struct Locals {
    slots: Vec<Code>,
    index: IntMap<Code, i32>,
}

impl Locals {
    fn local(&mut self, code: Code) -> i32 {
        match code {
            HOST => L_HOST,
            UNKNOWN => L_UNKNOWN,
            NO_KEY => L_NO_KEY,
            slot => *self.index.entry(slot).or_insert_with(|| {
                self.slots.push(slot);
                (self.slots.len() - 1) as i32
            }),
        }
    }
}

/// A first key's memo entry: its rows need their full key looked at.
const UNDECIDED: i32 = i32::MIN;

/// Per row, where it goes, with one lookup per distinct key of the batch.
///
/// Each row has a cheap first key (`first_at`: a `pid_ns` inode, a tid)
/// and a full key (`key_at`). `decide(first)` answers for every row with
/// that first key when it can (a live container's own `pid_ns`); only the
/// rows it cannot decide build their full key, and `resolve(key, row)`
/// answers for them, also saying whether its answer holds for every row
/// with that key (false for a namespace inode reused by containers one
/// after the other: then it is asked again for each such row). The
/// previous row's first key is checked before the memo: rows come in runs
/// of one thread.
fn run<F: Copy + Eq + Hash, K: Copy + Eq + Hash>(
    n: usize,
    first_at: impl Fn(usize) -> F,
    decide: impl Fn(&F) -> Option<Code>,
    key_at: impl Fn(usize) -> K,
    mut resolve: impl FnMut(&K, usize) -> (Code, bool),
) -> Resolution {
    let mut locals = Locals {
        slots: Vec::new(),
        index: IntMap::with_capacity_and_hasher(n.min(1024), <_>::default()),
    };
    // Sized for a batch of many containers: growing the tables row by row costs more.
    let mut by_first: IntMap<F, i32> =
        IntMap::with_capacity_and_hasher(n.min(1024), <_>::default());
    let mut by_key: IntMap<K, i32> = IntMap::default();
    let mut keys = Vec::with_capacity(n);
    let mut counts = [0usize; 4];
    let mut last: Option<(F, i32)> = None;
    for i in 0..n {
        let first = first_at(i);
        let mut v = match last {
            Some((f, v)) if f == first => v,
            _ => {
                let v = *by_first
                    .entry(first)
                    .or_insert_with(|| decide(&first).map_or(UNDECIDED, |code| locals.local(code)));
                last = Some((first, v));
                v
            }
        };
        if v == UNDECIDED {
            let key = key_at(i);
            v = match by_key.get(&key) {
                Some(&v) => v,
                None => {
                    let (code, timeless) = resolve(&key, i);
                    let v = locals.local(code);
                    if timeless {
                        by_key.insert(key, v);
                    }
                    v
                }
            };
        }
        keys.push(v);
        counts[if v >= 0 { 3 } else { (v - L_NO_KEY) as usize }] += 1;
    }
    // counts: [0] no key, [1] unknown, [2] host, [3] containers.
    Resolution {
        keys,
        slots: locals.slots,
        in_containers: counts[3],
        on_host: counts[2],
        unknown: counts[1],
        no_key: counts[0],
    }
}

/// An answer of [`HostState::resolve`] (asked at any time) if it is the
/// same at every time.
fn at_every_time((code, timeless): (Code, bool)) -> Option<Code> {
    timeless.then_some(code)
}

/// Where each row of `batch` goes.
pub(crate) fn resolve(state: &HostState, batch: &RecordBatch) -> Resolution {
    let n = batch.num_rows();
    let ts = ts_column(batch);
    let ts_at = |i: usize| ts.map_or(0, |ts| ts.value(i));
    let ns: Vec<Option<PrimitiveArray<UInt32Type>>> = NS_COLUMNS
        .iter()
        .map(|name| column_as::<UInt32Type>(batch, name))
        .collect();
    if ns.iter().any(Option::is_some) {
        // Fixed positions (no indexing by kind): the key stays in registers.
        let cols: [(&[u32], Option<&NullBuffer>); KINDS] = std::array::from_fn(|kind| {
            ns[kind]
                .as_ref()
                .map_or((&[][..], None), |c| (&c.values()[..], c.nulls()))
        });
        let get = |kind: usize, i: usize| -> u32 {
            let (values, nulls) = cols[kind];
            match values.get(i) {
                Some(&v) if nulls.is_none_or(|b| b.is_valid(i)) => v,
                _ => 0,
            }
        };
        return run(
            n,
            |i| get(PID, i),
            |&pid_ns| state.owner_of_pid_ns(pid_ns),
            |i| [get(0, i), get(1, i), get(2, i), get(3, i)],
            |key, i| state.resolve(key, ts_at(i)),
        );
    }
    if let Some(tid) = TID_COLUMNS
        .iter()
        .find_map(|name| column_as::<Int32Type>(batch, name))
    {
        let tid_at = |i| at(&tid, i);
        let resolve =
            |tid: Option<i32>, ts| tid.map_or((NO_KEY, true), |t| state.resolve_tid(t, ts));
        return run(
            n,
            tid_at,
            |&tid| at_every_time(resolve(tid, 0)),
            tid_at,
            |&tid, i| resolve(tid, ts_at(i)),
        );
    }
    let kernel = batch
        .schema_ref()
        .metadata()
        .get(envelope::META_DOMAIN)
        .is_some_and(|d| d == "kernel");
    if let (true, Some(cpu), Some(ts)) = (kernel, column_as::<UInt32Type>(batch, envelope::CPU), ts)
    {
        // A kernel event without any thread column (no `tid` context): the
        // thread `sched_switch` put on its CPU.
        let running_at =
            |i| at(&cpu, i).map_or(Running::Unknowable, |c| state.running_at(c, ts.value(i)));
        let resolve = |running: Running, ts| match running {
            Running::Thread(tid) => state.resolve_tid(tid, ts),
            Running::Unknowable => (NO_KEY, true),
            Running::NotYet => (UNKNOWN, true),
        };
        return run(
            n,
            running_at,
            |&running| at_every_time(resolve(running, 0)),
            running_at,
            |&running, i| resolve(running, ts_at(i)),
        );
    }
    run(n, |_| (), |_| Some(NO_KEY), |_| (), |_, _| (NO_KEY, true))
}

/// `batch` with the enrichment columns (replacing any it had).
pub(crate) fn annotate(
    state: &HostState,
    batch: &RecordBatch,
    res: &Resolution,
) -> Result<RecordBatch, ArrowError> {
    let n = batch.num_rows();
    let schema = batch.schema_ref();
    let mut fields = Vec::with_capacity(schema.fields().len() + containers::ENRICHMENT.len());
    let mut columns = Vec::with_capacity(fields.capacity());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        if !containers::ENRICHMENT.contains(&field.name().as_str()) {
            fields.push(field.clone());
            columns.push(column.clone());
        }
    }
    let new_fields = containers::enrichment_fields();
    if res.slots.is_empty() {
        for f in &new_fields {
            columns.push(new_null_array(f.data_type(), n));
        }
    } else {
        let keys: ScalarBuffer<i32> = res.keys.iter().map(|&k| k.max(0)).collect();
        let valid = NullBuffer::new(BooleanBuffer::collect_bool(n, |i| res.keys[i] >= 0));
        // The rows' validity for the containers that have a value; the k8s
        // columns share theirs, so it is computed once per pattern.
        let mut by_pattern: Option<(NullBuffer, NullBuffer)> = None;
        for (f, field) in new_fields.iter().enumerate() {
            let values: StringArray = res
                .slots
                .iter()
                .map(|&s| state.slot(s).and_then(|slot| slot.info[f].as_deref()))
                .collect();
            let nulls = match values.nulls() {
                None => valid.clone(),
                // No container of the batch has this one (no k8s labels, say).
                Some(_) if values.null_count() == values.len() => {
                    columns.push(new_null_array(field.data_type(), n));
                    continue;
                }
                Some(present) => match &by_pattern {
                    Some((pattern, rows)) if pattern == present => rows.clone(),
                    _ => {
                        let rows = NullBuffer::new(BooleanBuffer::collect_bool(n, |i| {
                            let k = res.keys[i];
                            k >= 0 && present.is_valid(k as usize)
                        }));
                        by_pattern = Some((present.clone(), rows.clone()));
                        rows
                    }
                },
            };
            let keys = Int32Array::new(keys.clone(), Some(nulls));
            let dict = DictionaryArray::<Int32Type>::try_new(keys, Arc::new(values))?;
            columns.push(Arc::new(dict) as ArrayRef);
        }
    }
    fields.extend(new_fields.into_iter().map(Arc::new));
    let schema = Schema::new(fields).with_metadata(schema.metadata().clone());
    RecordBatch::try_new(Arc::new(schema), columns)
}
