//! A bit cursor over one packet: reads integers of 1 to 64 bits at any bit
//! position in either byte order, with a fast path for byte-aligned fields.
//!
//! Positions are packet-relative bits (CTF aligns relative to the packet
//! start). `limit` is the packet content end; nothing past it is ever read.

use super::error::DecodeErrorKind;
use crate::metadata::ByteOrder;

/// The cursor. `limit <= data.len() * 8` always holds (checked by `new`).
#[derive(Debug, Clone)]
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    pos: u64,
    limit: u64,
}

impl<'a> BitReader<'a> {
    /// A cursor at bit 0 of `data`, reading at most `limit` bits (clamped to the data).
    pub(crate) fn new(data: &'a [u8], limit: u64) -> Self {
        let max = (data.len() as u64).saturating_mul(8);
        Self {
            data,
            pos: 0,
            limit: limit.min(max),
        }
    }

    /// Current position in bits.
    #[inline]
    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    /// Moves to `pos` (the caller guarantees `pos <= limit`).
    #[inline]
    pub(crate) fn set_pos(&mut self, pos: u64) {
        self.pos = pos.min(self.limit);
    }

    /// The content end in bits.
    #[inline]
    pub(crate) fn limit(&self) -> u64 {
        self.limit
    }

    /// Narrows (or widens, up to the data) the readable end.
    pub(crate) fn set_limit(&mut self, limit: u64) {
        let max = (self.data.len() as u64).saturating_mul(8);
        self.limit = limit.min(max);
    }

    /// Bits left before the limit.
    #[inline]
    pub(crate) fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.pos)
    }

    #[inline]
    fn beyond(&self, end: u64) -> DecodeErrorKind {
        DecodeErrorKind::FieldBeyondContent {
            start: self.pos,
            end,
            limit: self.limit,
        }
    }

    /// Skips to the next multiple of `align` bits (a power of two).
    #[inline]
    pub(crate) fn align(&mut self, align: u32) -> Result<(), DecodeErrorKind> {
        if align > 1 {
            let a = u64::from(align);
            let p = (self.pos + a - 1) & !(a - 1);
            if p > self.limit {
                return Err(self.beyond(p));
            }
            self.pos = p;
        }
        Ok(())
    }

    /// Reads `N` bytes at the current (byte-aligned) position.
    #[inline]
    pub(crate) fn bytes<const N: usize>(&mut self) -> Result<[u8; N], DecodeErrorKind> {
        let end = self.pos + 8 * N as u64;
        if end > self.limit {
            return Err(self.beyond(end));
        }
        let start = (self.pos / 8) as usize;
        let mut out = [0u8; N];
        if let Some(src) = self.data.get(start..start + N) {
            out.copy_from_slice(src);
        }
        self.pos = end;
        Ok(out)
    }

    /// The byte at the current (byte-aligned) position, not consumed.
    #[inline]
    pub(crate) fn peek_byte(&self) -> Result<u8, DecodeErrorKind> {
        let end = self.pos + 8;
        if end > self.limit {
            return Err(self.beyond(end));
        }
        self.data
            .get((self.pos / 8) as usize)
            .copied()
            .ok_or_else(|| self.beyond(end))
    }

    /// Borrows `n` bytes at the current (byte-aligned) position.
    #[inline]
    pub(crate) fn slice(&mut self, n: u64) -> Result<&'a [u8], DecodeErrorKind> {
        let end = n
            .checked_mul(8)
            .and_then(|b| b.checked_add(self.pos))
            .unwrap_or(u64::MAX);
        if end > self.limit {
            return Err(self.beyond(end));
        }
        let start = (self.pos / 8) as usize;
        let s = self
            .data
            .get(start..start + n as usize)
            .ok_or_else(|| self.beyond(end))?;
        self.pos = end;
        Ok(s)
    }

    /// The bytes from the current (byte-aligned) position to the limit.
    #[inline]
    pub(crate) fn rest(&self) -> &'a [u8] {
        let start = (self.pos / 8) as usize;
        let end = (self.limit / 8) as usize;
        self.data.get(start..end).unwrap_or(&[])
    }

    /// Reads an unsigned `size`-bit integer (1..=64) at any bit position.
    /// Little-endian fields fill from the least significant bit of each byte,
    /// big-endian ones from the most significant bit (CTF 1.8 §4.1.5).
    #[inline]
    pub(crate) fn bits(&mut self, size: u32, order: ByteOrder) -> Result<u64, DecodeErrorKind> {
        let end = self.pos + u64::from(size);
        if end > self.limit {
            return Err(self.beyond(end));
        }
        let first = (self.pos / 8) as usize;
        let last = end.div_ceil(8) as usize;
        let shift_in = (self.pos % 8) as u32;
        let bytes = self.data.get(first..last).unwrap_or(&[]);
        let mut acc: u128 = 0;
        let v = match order {
            ByteOrder::Little => {
                for (i, &b) in bytes.iter().enumerate() {
                    acc |= u128::from(b) << (8 * i);
                }
                acc >> shift_in
            }
            ByteOrder::Big => {
                for &b in bytes {
                    acc = (acc << 8) | u128::from(b);
                }
                let total = 8 * bytes.len() as u32;
                acc >> total.saturating_sub(shift_in + size)
            }
        };
        let mask = if size >= 64 {
            u64::MAX
        } else {
            (1u64 << size) - 1
        };
        self.pos = end;
        Ok((v as u64) & mask)
    }
}

/// Sign-extends the low `size` bits of `v`.
#[inline]
pub(crate) fn sign_extend(v: u64, size: u32) -> u64 {
    if size >= 64 || size == 0 {
        v
    } else {
        let s = 64 - size;
        (((v << s) as i64) >> s) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn little_endian_bitfields_fill_from_the_low_bits() {
        // 0b101_00011: a 5-bit field (3) then a 3-bit field (5).
        let data = [0b1010_0011u8, 0xff];
        let mut r = BitReader::new(&data, 16);
        assert_eq!(r.bits(5, ByteOrder::Little).unwrap(), 3);
        assert_eq!(r.bits(3, ByteOrder::Little).unwrap(), 5);
        assert_eq!(r.bits(8, ByteOrder::Little).unwrap(), 0xff);
    }

    #[test]
    fn big_endian_bitfields_fill_from_the_high_bits() {
        let data = [0b1010_0011u8];
        let mut r = BitReader::new(&data, 8);
        assert_eq!(r.bits(3, ByteOrder::Big).unwrap(), 5);
        assert_eq!(r.bits(5, ByteOrder::Big).unwrap(), 3);
    }

    #[test]
    fn straddling_64_bit_read_at_odd_offset() {
        let data = [0xffu8; 9];
        let mut r = BitReader::new(&data, 72);
        r.bits(3, ByteOrder::Little).unwrap();
        assert_eq!(r.bits(64, ByteOrder::Little).unwrap(), u64::MAX);
        let mut r = BitReader::new(&data, 72);
        r.bits(3, ByteOrder::Big).unwrap();
        assert_eq!(r.bits(64, ByteOrder::Big).unwrap(), u64::MAX);
    }

    #[test]
    fn reading_past_the_limit_is_an_error_not_a_panic() {
        let data = [0u8; 2];
        let mut r = BitReader::new(&data, 12);
        assert!(r.bits(13, ByteOrder::Little).is_err());
        r.bits(1, ByteOrder::Little).unwrap();
        assert!(r.align(16).is_err());
        assert!(r.slice(u64::MAX).is_err());
        assert!(r.bytes::<8>().is_err());
    }

    #[test]
    fn sign_extension() {
        assert_eq!(sign_extend(0b111, 3) as i64, -1);
        assert_eq!(sign_extend(0b011, 3) as i64, 3);
    }
}
