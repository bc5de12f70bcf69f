//! Clock values: widening N-bit timestamps against the stream's running clock
//! and converting cycles to absolute nanoseconds the way babeltrace2 does.

use crate::metadata::ClockClass;

const NS_PER_S: u128 = 1_000_000_000;

/// Updates the running clock `cur` with an `size`-bit value `v` (CTF 1.8 §8,
/// babeltrace2 `update_default_clock`): a value smaller than the low bits of
/// the current clock means exactly one wrap.
#[inline]
pub(crate) fn update_clock(cur: u64, v: u64, size: u32) -> u64 {
    if size >= 64 {
        return v;
    }
    let mask = (1u64 << size) - 1;
    let mut c = cur;
    if v < (c & mask) {
        c = c.wrapping_add(mask + 1);
    }
    (c & !mask) | v
}

/// Cycles → ns since the Unix epoch for one clock class.
///
/// babeltrace2 first normalizes the offset so that `offset < freq` (moving
/// whole seconds into `offset_s`), then converts the offset cycles and the
/// value separately, each truncated towards zero, and adds them to
/// `offset_s * 1e9`. We do the same in integer arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClockConv {
    freq: u64,
    /// `offset_s * 1e9 + ns(offset cycles)` after normalization.
    base_ns: i128,
}

impl ClockConv {
    /// The conversion for `clock`.
    pub(crate) fn new(clock: &ClockClass) -> Self {
        Self::from_parts(clock.freq, clock.offset_s, clock.offset)
    }

    /// The conversion for a 1 GHz clock with no offset (a trace without clock classes).
    pub(crate) fn default_clock() -> Self {
        Self::from_parts(1_000_000_000, 0, 0)
    }

    fn from_parts(freq: u64, offset_s: i64, offset: i64) -> Self {
        let freq = freq.max(1);
        let f = i128::from(freq);
        let off = i128::from(offset);
        let secs = i128::from(offset_s) + off.div_euclid(f);
        let cycles = off.rem_euclid(f) as u128;
        let base_ns = secs * NS_PER_S as i128 + (cycles * NS_PER_S / u128::from(freq)) as i128;
        Self { freq, base_ns }
    }

    /// Absolute ns of `cycles`, saturated to the i64 range.
    #[inline]
    pub(crate) fn to_ns(self, cycles: u64) -> i64 {
        // Common case (1 GHz, values in range): plain i64 arithmetic.
        if self.freq == 1_000_000_000
            && let (Ok(base), Ok(c)) = (i64::try_from(self.base_ns), i64::try_from(cycles))
            && let Some(t) = base.checked_add(c)
        {
            return t;
        }
        let ns = if self.freq == 1_000_000_000 {
            i128::from(cycles)
        } else {
            (u128::from(cycles) * NS_PER_S / u128::from(self.freq)) as i128
        };
        let t = self.base_ns + ns;
        t.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_rule_of_a_27_bit_timestamp() {
        let cur = 0x1234_07ff_fff0;
        // Larger low bits: no wrap.
        assert_eq!(update_clock(cur, 0x7ff_fff8, 27), 0x1234_07ff_fff8);
        // Smaller low bits: exactly one wrap.
        assert_eq!(update_clock(cur, 0x10, 27), 0x1234_0800_0010);
        assert_eq!(update_clock(cur, 5, 64), 5);
    }

    #[test]
    fn conversion_normalizes_the_offset_like_babeltrace2() {
        let c = ClockClass {
            name: "c".into(),
            uuid: None,
            description: None,
            freq: 1000,
            precision: 0,
            offset_s: 10,
            offset: 2500,
            absolute: false,
        };
        let conv = ClockConv::new(&c);
        // 10 s + 2 s + 500 ms + 1.5 ms truncated per part.
        assert_eq!(conv.to_ns(1), 12_501_000_000);
        let neg = ClockClass { offset: -1, ..c };
        assert_eq!(ClockConv::new(&neg).to_ns(0), 9_999_000_000);
    }
}
