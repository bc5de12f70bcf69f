//! The aggregated values per series key, and the pipeline's own counters.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::time::Instant;

use crate::hist::Hist;

/// A cheap hasher for small integer keys (tids, CPUs, sectors).
#[derive(Default, Clone, Copy)]
pub(crate) struct IntHasher(u64);

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    fn write_i32(&mut self, i: i32) {
        self.write_u64(u64::from(i as u32));
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_i64(&mut self, i: i64) {
        self.write_u64(i as u64);
    }
}

pub(crate) type IntMap<K, V> = HashMap<K, V, BuildHasherDefault<IntHasher>>;

/// Everything exported for one container (series key).
#[derive(Debug, Default, Clone)]
pub(crate) struct Series {
    /// Last update (for expiry); `None`: nothing to export.
    pub(crate) last: Option<Instant>,
    /// CPU time, ns (sched_switch: switch-in to switch-out, idle excluded).
    pub(crate) cpu_ns: u64,
    /// Wakeup (or preemption) to switch-in.
    pub(crate) runq: Hist,
    /// By syscall name id: entries, and entry→exit latency.
    pub(crate) syscalls: IntMap<u32, (u64, Hist)>,
    /// By (transmit?, interface id): bytes, packets.
    pub(crate) net: IntMap<(bool, u32), (u64, u64)>,
    /// Block requests: `[read, write]` bytes issued and issue→complete latency.
    pub(crate) block: [(u64, Hist); 2],
    /// Pages allocated (2^order per `kmem_mm_page_alloc`).
    pub(crate) pages: u64,
    /// Page faults.
    pub(crate) faults: u64,
    /// User-space events by event class id.
    pub(crate) ust: IntMap<u32, u64>,
    /// Demo request latency by status id.
    pub(crate) requests: IntMap<u32, Hist>,
}

/// Counters of the exporter itself, by (host, domain) where it applies.
#[derive(Debug, Default)]
pub(crate) struct PipelineStats {
    pub(crate) events: HashMap<(String, String), u64>,
    pub(crate) batches: u64,
    /// Batch sizes: counts per bound of [`BATCH_ROWS_BOUNDS`] (+Inf last).
    pub(crate) batch_rows: [u64; BATCH_ROWS_BOUNDS.len() + 1],
    pub(crate) batch_rows_sum: u64,
    pub(crate) lost_events: HashMap<(String, String), u64>,
    pub(crate) lost_packets: HashMap<(String, String), u64>,
    /// Latest watermark (ns since the epoch).
    pub(crate) watermarks: HashMap<(String, String), i64>,
}

/// Upper bounds of the batch-size histogram, rows.
pub(crate) const BATCH_ROWS_BOUNDS: [u64; 7] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000];

/// Strings interned to small ids (syscall names, interfaces, event classes, statuses).
#[derive(Debug, Default)]
pub(crate) struct Names {
    ids: HashMap<String, u32>,
    pub(crate) names: Vec<String>,
}

impl Names {
    pub(crate) fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.ids.get(s) {
            return i;
        }
        let i = self.names.len() as u32;
        self.ids.insert(s.to_string(), i);
        self.names.push(s.to_string());
        i
    }

    pub(crate) fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", String::as_str)
    }
}
