//! A peephole pass over compiled plans: runs of byte-aligned little-endian
//! integers and fixed-length text arrays that only feed columns become one
//! [`Op::Flat`], which checks the bounds once for the whole run and then
//! copies each field into its column by byte offset.
//!
//! This is the shape of almost every LTTng event on x86-64 and arm64
//! (`align = 8` everywhere, contexts and payloads of fixed-size integers),
//! where per-field dispatch, alignment and bounds checks dominated decoding.
//! Fields that feed registers (tags, lengths, special fields) or the clock
//! keep their own ops.

use std::collections::HashSet;

use super::plan::{FLAT_MAX, FlatField, FlatKind, IntOp, Len, NO_REG, NONE, Op, Plan};

/// Fuses the flat runs of `plan`; jump targets are renumbered.
pub(crate) fn fuse(plan: Plan) -> Plan {
    let targets = jump_targets(&plan.ops);
    let Plan { ops, paths } = plan;
    let mut out = Plan::default();
    let mut extra_paths = Vec::new();
    // new index of each old op, plus one past the end
    let mut new_of = Vec::with_capacity(ops.len() + 1);
    let mut i = 0;
    while i < ops.len() {
        let start = i;
        let mut fields = Vec::new();
        let mut bytes = 0u32;
        while i < ops.len() && (i == start || !targets.contains(&i)) {
            let Some((kind, col)) = flat(&ops[i]) else {
                break;
            };
            let Ok(off) = u8::try_from(bytes) else { break };
            if bytes + kind.bytes() > FLAT_MAX {
                break;
            }
            if col != NONE {
                let path = u32::try_from(extra_paths.len()).unwrap_or(u32::MAX);
                extra_paths.push(paths.get(i).cloned().unwrap_or_default());
                fields.push(FlatField {
                    off,
                    kind,
                    col,
                    path,
                });
            }
            bytes += kind.bytes();
            i += 1;
        }
        if i - start >= 2 {
            for _ in start..i {
                new_of.push(out.ops.len());
            }
            out.paths
                .push(paths.get(start).cloned().unwrap_or_default());
            out.ops.push(Op::Flat {
                bytes,
                fields: fields.into_boxed_slice(),
            });
        } else {
            // Not a run: keep the op as it was.
            i = start + 1;
            new_of.push(out.ops.len());
            out.paths
                .push(paths.get(start).cloned().unwrap_or_default());
            out.ops.push(ops[start].clone());
        }
    }
    new_of.push(out.ops.len());
    // Flat fields name their paths after the ops' own.
    let base = u32::try_from(out.ops.len()).unwrap_or(u32::MAX);
    for op in &mut out.ops {
        renumber(op, &new_of);
        if let Op::Flat { fields, .. } = op {
            for f in fields.iter_mut() {
                f.path = f.path.saturating_add(base);
            }
        }
    }
    out.paths.extend(extra_paths);
    out
}

/// What a flat field is, if `op` can be one.
fn flat(op: &Op) -> Option<(FlatKind, u32)> {
    let int = |i: &IntOp, unsigned: FlatKind, signed: FlatKind| {
        let plain = i.align == 8 && i.reg == NO_REG && i.reg2 == NO_REG && !i.clock;
        plain.then_some((if i.signed { signed } else { unsigned }, i.col))
    };
    match op {
        Op::Int8(i) => int(i, FlatKind::U8, FlatKind::I8),
        Op::Int16Le(i) => int(i, FlatKind::U16, FlatKind::I16),
        Op::Int32Le(i) => int(i, FlatKind::U32, FlatKind::I32),
        Op::Int64Le(i) => int(i, FlatKind::U64, FlatKind::U64),
        Op::Text {
            len: Len::Fixed(n),
            align: 8,
            col,
        } => {
            let n = u32::try_from(*n).ok().filter(|&n| n <= FLAT_MAX)?;
            Some((FlatKind::Text(n), *col))
        }
        _ => None,
    }
}

/// Ops that control flow may land on: a run may start there, not span them.
fn jump_targets(ops: &[Op]) -> HashSet<usize> {
    let mut t = HashSet::new();
    for (at, op) in ops.iter().enumerate() {
        match op {
            Op::LoopBegin { end, .. } => {
                t.insert(at + 1);
                t.insert(*end as usize);
            }
            Op::LoopEnd { begin } => {
                t.insert(*begin as usize);
                t.insert(at + 1);
            }
            Op::Variant { options, .. } => t.extend(options.iter().map(|o| o.pc as usize)),
            Op::Jump(to) => {
                t.insert(*to as usize);
            }
            _ => {}
        }
    }
    t
}

fn renumber(op: &mut Op, new_of: &[usize]) {
    let map = |old: u32| -> u32 {
        new_of
            .get(old as usize)
            .and_then(|&n| u32::try_from(n).ok())
            .unwrap_or(u32::MAX)
    };
    match op {
        Op::LoopBegin { end, .. } => *end = map(*end),
        Op::LoopEnd { begin } => *begin = map(*begin),
        Op::Variant { options, .. } => {
            for o in options.iter_mut() {
                o.pc = map(o.pc);
            }
        }
        Op::Jump(to) => *to = map(*to),
        _ => {}
    }
}
