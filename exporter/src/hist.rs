//! Latency histograms kept in integer nanoseconds (exact sums and counts).

/// Upper bounds (ns) of the latency buckets: 1 µs to 10 s, 1-2.5-5 steps.
pub const LATENCY_BOUNDS_NS: [u64; 22] = [
    1_000,
    2_500,
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// A histogram over [`LATENCY_BOUNDS_NS`] (+Inf last).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hist {
    /// Per-bucket (not cumulative) counts; index `LATENCY_BOUNDS_NS.len()` is +Inf.
    pub buckets: [u64; LATENCY_BOUNDS_NS.len() + 1],
    /// Observations.
    pub count: u64,
    /// Sum of observations, ns.
    pub sum_ns: u64,
}

impl Hist {
    /// Adds one observation of `ns`.
    #[inline]
    pub fn observe(&mut self, ns: u64) {
        let i = LATENCY_BOUNDS_NS.partition_point(|&b| b < ns);
        self.buckets[i] += 1;
        self.count += 1;
        self.sum_ns += ns;
    }

    /// `(upper bound in seconds, count)` pairs as the encoder wants them.
    pub fn seconds_buckets(&self) -> Vec<(f64, u64)> {
        LATENCY_BOUNDS_NS
            .iter()
            .map(|&b| b as f64 / 1e9)
            .chain(std::iter::once(f64::MAX))
            .zip(self.buckets.iter().copied())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bound_is_inclusive() {
        let mut h = Hist::default();
        h.observe(1_000);
        h.observe(1_001);
        h.observe(u64::MAX / 2);
        assert_eq!(h.buckets[0], 1);
        assert_eq!(h.buckets[1], 1);
        assert_eq!(h.buckets[LATENCY_BOUNDS_NS.len()], 1);
        assert_eq!(h.count, 3);
    }
}
