//! The plan interpreter: runs an op list over a packet cursor, writing into
//! column builders and registers. The loop is the hot path: no allocation
//! per event (loop and scratch stacks are reused), one `match` per field.

use super::bits::{BitReader, sign_extend};
use super::clock::update_clock;
use super::columns::Columns;
use super::error::DecodeErrorKind;
use super::plan::{FlatField, FlatKind, IntOp, IntRead, Len, NO_REG, NONE, Op};
use crate::metadata::ByteOrder;

/// Per-stream mutable state the plans read and write.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExecState {
    /// Register values (raw bits; signed values sign-extended).
    pub(crate) regs: Vec<u64>,
    /// The running clock (cycles).
    pub(crate) clock: u64,
    /// The packet header's uuid, when read.
    pub(crate) uuid: [u8; 16],
    loops: Vec<(u64, u32)>,
    scratch: Vec<u8>,
}

impl ExecState {
    pub(crate) fn new(nregs: usize) -> Self {
        Self {
            regs: vec![0; nregs],
            ..Self::default()
        }
    }

    #[inline]
    fn reg(&self, r: u16) -> u64 {
        self.regs.get(r as usize).copied().unwrap_or(0)
    }

    #[inline]
    fn set_reg(&mut self, r: u16, v: u64) {
        if let Some(x) = self.regs.get_mut(r as usize) {
            *x = v;
        }
    }
}

#[inline(always)]
fn read_int(r: &mut BitReader<'_>, op: &IntOp) -> Result<u64, DecodeErrorKind> {
    r.align(op.align)?;
    let raw = match op.read {
        IntRead::U8 => u64::from(r.bytes::<1>()?[0]),
        IntRead::Le16 => u64::from(u16::from_le_bytes(r.bytes()?)),
        IntRead::Le32 => u64::from(u32::from_le_bytes(r.bytes()?)),
        IntRead::Le64 => u64::from_le_bytes(r.bytes()?),
        IntRead::Be16 => u64::from(u16::from_be_bytes(r.bytes()?)),
        IntRead::Be32 => u64::from(u32::from_be_bytes(r.bytes()?)),
        IntRead::Be64 => u64::from_be_bytes(r.bytes()?),
        IntRead::Bits(o) => r.bits(op.size, o)?,
    };
    Ok(if op.signed {
        sign_extend(raw, op.size)
    } else {
        raw
    })
}

#[inline(always)]
fn store_int(st: &mut ExecState, cols: &mut Columns, op: &IntOp, v: u64) {
    if op.col != NONE {
        cols.push_int(op.col, v);
    }
    if op.reg != NO_REG {
        st.set_reg(op.reg, v);
    }
    if op.reg2 != NO_REG {
        st.set_reg(op.reg2, v);
    }
    if op.clock {
        st.clock = update_clock(st.clock, v, op.size);
    }
}

/// Decodes an IEEE-754-like float of `exp` + `mant` bits (mant includes the implicit bit).
fn float_from_bits(bits: u64, exp: u32, mant: u32) -> f64 {
    match (exp, mant) {
        (8, 24) => f64::from(f32::from_bits(bits as u32)),
        (11, 53) => f64::from_bits(bits),
        _ => {
            let frac_bits = mant - 1;
            let frac = bits & ((1u64 << frac_bits) - 1);
            let e = (bits >> frac_bits) & ((1u64 << exp) - 1);
            let sign = if (bits >> (frac_bits + exp)) & 1 == 1 {
                -1.0
            } else {
                1.0
            };
            let bias = (1i64 << (exp - 1)) - 1;
            let emax = (1u64 << exp) - 1;
            let f = frac as f64 / (1u64 << frac_bits) as f64;
            if e == emax {
                if frac == 0 {
                    sign * f64::INFINITY
                } else {
                    f64::NAN
                }
            } else if e == 0 {
                sign * f * 2f64.powi((1 - bias) as i32)
            } else {
                sign * (1.0 + f) * 2f64.powi((e as i64 - bias) as i32)
            }
        }
    }
}

/// `N` bytes of `d` at `o` (the run's length was checked: `o + N <= d.len()`).
#[inline(always)]
fn le<const N: usize>(d: &[u8], o: usize) -> [u8; N] {
    d.get(o..o + N)
        .and_then(|s| s.try_into().ok())
        .unwrap_or([0; N])
}

/// The error of a flat run that does not fit: the first field that ends
/// past the content, named by its own path, with the reader at that field
/// (the error's byte offset).
fn flat_beyond(
    r: &mut BitReader<'_>,
    start: u64,
    fields: &[FlatField],
) -> (usize, DecodeErrorKind) {
    let limit = r.limit();
    let field = fields
        .iter()
        .find(|f| start + 8 * u64::from(u32::from(f.off) + f.kind.bytes()) > limit)
        .or(fields.last());
    let (path, from, to) = field.map_or((0, start, start), |f| {
        let from = start + 8 * u64::from(f.off);
        (f.path as usize, from, from + 8 * u64::from(f.kind.bytes()))
    });
    r.set_pos(from.min(limit));
    (
        path,
        DecodeErrorKind::FieldBeyondContent {
            start: from,
            end: to,
            limit,
        },
    )
}

/// Runs `ops`; on error returns the failing op index with the error.
pub(crate) fn run(
    ops: &[Op],
    r: &mut BitReader<'_>,
    st: &mut ExecState,
    cols: &mut Columns,
) -> Result<(), (usize, DecodeErrorKind)> {
    st.loops.clear();
    let mut pc = 0usize;
    while let Some(op) = ops.get(pc) {
        let at = pc;
        pc += 1;
        // `t!` turns a reader error into (failing op, error) without a closure per op.
        macro_rules! t {
            ($e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(k) => return Err((at, k)),
                }
            };
        }
        {
            match op {
                Op::Int(i) => {
                    let v = t!(read_int(r, i));
                    store_int(st, cols, i, v);
                }
                Op::Int8(i) => {
                    t!(r.align(i.align));
                    let raw = u64::from(t!(r.bytes::<1>())[0]);
                    store_int(
                        st,
                        cols,
                        i,
                        if i.signed { sign_extend(raw, 8) } else { raw },
                    );
                }
                Op::Int16Le(i) => {
                    t!(r.align(i.align));
                    let raw = u64::from(u16::from_le_bytes(t!(r.bytes())));
                    store_int(
                        st,
                        cols,
                        i,
                        if i.signed { sign_extend(raw, 16) } else { raw },
                    );
                }
                Op::Int32Le(i) => {
                    t!(r.align(i.align));
                    let raw = u64::from(u32::from_le_bytes(t!(r.bytes())));
                    store_int(
                        st,
                        cols,
                        i,
                        if i.signed { sign_extend(raw, 32) } else { raw },
                    );
                }
                Op::Int64Le(i) => {
                    t!(r.align(i.align));
                    let raw = u64::from_le_bytes(t!(r.bytes()));
                    store_int(st, cols, i, raw);
                }
                Op::Enum { int, label, table } => {
                    let v = t!(read_int(r, int));
                    store_int(st, cols, int, v);
                    if *label != NONE {
                        let x = if int.signed {
                            i128::from(v as i64)
                        } else {
                            i128::from(v)
                        };
                        let key = table
                            .iter()
                            .find(|&&(lo, hi, _)| lo <= x && x <= hi)
                            .map(|&(_, _, k)| k);
                        cols.push_dict(*label, key);
                    }
                }
                Op::Float {
                    align,
                    order,
                    exp,
                    mant,
                    col,
                } => {
                    t!(r.align(*align));
                    let size = exp + mant;
                    let bits = t!(r.bits(size, *order));
                    if *col != NONE {
                        cols.push_float(*col, float_from_bits(bits, *exp, *mant));
                    }
                }
                Op::Str { col } => {
                    t!(r.align(8));
                    let rest = r.rest();
                    let n = t!(rest
                        .iter()
                        .position(|&b| b == 0)
                        .ok_or(DecodeErrorKind::UnterminatedString { limit: r.limit() }));
                    let s = t!(r.slice(n as u64 + 1));
                    if *col != NONE {
                        cols.push_str(*col, s.get(..n).unwrap_or(&[]));
                    }
                }
                Op::Text { len, align, col } => {
                    t!(r.align(*align));
                    let n = match len {
                        Len::Fixed(n) => *n,
                        Len::Reg(g) => st.reg(*g),
                    };
                    let remaining = r.remaining();
                    if n.saturating_mul(8) > remaining {
                        return Err((
                            at,
                            DecodeErrorKind::LengthTooLarge {
                                length: n,
                                remaining,
                            },
                        ));
                    }
                    if r.pos().is_multiple_of(8) {
                        let s = t!(r.slice(n));
                        if *col != NONE {
                            let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
                            cols.push_str(*col, s.get(..end).unwrap_or(&[]));
                        }
                    } else {
                        st.scratch.clear();
                        for _ in 0..n {
                            st.scratch.push(t!(r.bits(8, ByteOrder::Little)) as u8);
                        }
                        if *col != NONE {
                            let s = &st.scratch;
                            let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
                            cols.push_str(*col, s.get(..end).unwrap_or(&[]));
                        }
                    }
                }
                Op::Uuid { align } => {
                    t!(r.align(*align));
                    st.uuid = t!(r.bytes::<16>());
                }
                Op::Struct { align, col } => {
                    t!(r.align(*align));
                    if *col != NONE {
                        cols.push_struct(*col);
                    }
                }
                Op::LoopBegin {
                    len,
                    align,
                    min_bits,
                    fixed,
                    list,
                    end,
                } => {
                    t!(r.align(*align));
                    let n = match len {
                        Len::Fixed(n) => *n,
                        Len::Reg(g) => st.reg(*g),
                    };
                    let remaining = r.remaining();
                    if n.saturating_mul(*min_bits) > remaining {
                        return Err((
                            at,
                            DecodeErrorKind::LengthTooLarge {
                                length: n,
                                remaining,
                            },
                        ));
                    }
                    if *fixed != NONE {
                        cols.push_fixed(*fixed);
                    }
                    if n == 0 {
                        if *list != NONE {
                            cols.end_list(*list);
                        }
                        pc = *end as usize;
                    } else {
                        st.loops.push((n, at as u32 + 1));
                    }
                }
                Op::LoopEnd { begin } => {
                    if let Some(top) = st.loops.last_mut() {
                        top.0 -= 1;
                        if top.0 > 0 {
                            pc = top.1 as usize;
                        } else {
                            st.loops.pop();
                            if let Some(Op::LoopBegin { list, .. }) = ops.get(*begin as usize)
                                && *list != NONE
                            {
                                cols.end_list(*list);
                            }
                        }
                    }
                }
                Op::Variant {
                    reg,
                    signed,
                    col,
                    options,
                } => {
                    let v = st.reg(*reg);
                    let x = if *signed {
                        i128::from(v as i64)
                    } else {
                        i128::from(v)
                    };
                    let sel = t!(options
                        .iter()
                        .position(|o| o.ranges.iter().any(|&(lo, hi)| lo <= x && x <= hi))
                        .ok_or(DecodeErrorKind::NoVariantOption { tag: v }));
                    if *col != NONE {
                        cols.push_struct(*col);
                        for (i, o) in options.iter().enumerate() {
                            if i != sel
                                && let Some(c) = o.col
                            {
                                cols.push_null(c);
                            }
                        }
                    }
                    if let Some(o) = options.get(sel) {
                        pc = o.pc as usize;
                    }
                }
                Op::Jump(to) => pc = *to as usize,
                Op::Flat { bytes, fields } => {
                    t!(r.align(8));
                    let start = r.pos();
                    let Ok(d) = r.slice(u64::from(*bytes)) else {
                        return Err(flat_beyond(r, start, fields));
                    };
                    for f in fields.iter() {
                        let o = usize::from(f.off);
                        let v = match f.kind {
                            FlatKind::U8 => u64::from(le::<1>(d, o)[0]),
                            FlatKind::I8 => sign_extend(u64::from(le::<1>(d, o)[0]), 8),
                            FlatKind::U16 => u64::from(u16::from_le_bytes(le(d, o))),
                            FlatKind::I16 => {
                                sign_extend(u64::from(u16::from_le_bytes(le(d, o))), 16)
                            }
                            FlatKind::U32 => u64::from(u32::from_le_bytes(le(d, o))),
                            FlatKind::I32 => {
                                sign_extend(u64::from(u32::from_le_bytes(le(d, o))), 32)
                            }
                            FlatKind::U64 => u64::from_le_bytes(le(d, o)),
                            FlatKind::Text(n) => {
                                cols.push_text(f.col, d.get(o..o + n as usize).unwrap_or_default());
                                continue;
                            }
                        };
                        cols.push_int(f.col, v);
                    }
                }
            }
        }
    }
    Ok(())
}
