//! Compiling the trace class into flat decode plans: one op list per scope
//! group, with nested types turned into loops and jumps, every field already
//! bound to its column builder and to the register that variants and
//! sequences read later. Compiled once per class, run for every event.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields};

use super::columns::{ColRef, Columns};
use super::error::{DecodeError, DecodeErrorKind};
use super::paths::resolve;
use super::schema::{
    enum_struct_type, float_type, int_type, is_text_element, item_field, label_type,
};
use crate::metadata::{ByteOrder, FieldPath, FieldType, IntegerType, Scope, StructType};

/// No column.
pub(crate) const NONE: u32 = u32::MAX;
/// No register.
pub(crate) const NO_REG: u16 = u16::MAX;

// Registers of the special fields; user registers (variant tags, sequence lengths) follow.
pub(crate) const REG_MAGIC: u16 = 0;
pub(crate) const REG_STREAM_ID: u16 = 1;
pub(crate) const REG_STREAM_INSTANCE: u16 = 2;
pub(crate) const REG_TS_BEGIN: u16 = 3;
pub(crate) const REG_TS_END: u16 = 4;
pub(crate) const REG_CONTENT_SIZE: u16 = 5;
pub(crate) const REG_PACKET_SIZE: u16 = 6;
pub(crate) const REG_SEQ_NUM: u16 = 7;
pub(crate) const REG_DISCARDED: u16 = 8;
pub(crate) const REG_CPU: u16 = 9;
pub(crate) const REG_EVENT_ID: u16 = 10;
pub(crate) const FIRST_USER_REG: u16 = 11;

/// How an integer is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntRead {
    /// Byte-aligned 8 bits.
    U8,
    /// Byte-aligned little-endian 16/32/64 bits.
    Le16,
    Le32,
    Le64,
    /// Byte-aligned big-endian 16/32/64 bits.
    Be16,
    Be32,
    Be64,
    /// Any size at any bit position.
    Bits(ByteOrder),
}

/// One integer field.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IntOp {
    pub(crate) read: IntRead,
    pub(crate) align: u32,
    pub(crate) size: u32,
    pub(crate) signed: bool,
    /// `Columns::ints` index or [`NONE`].
    pub(crate) col: u32,
    /// Special register or [`NO_REG`].
    pub(crate) reg: u16,
    /// User register (tag / length) or [`NO_REG`].
    pub(crate) reg2: u16,
    /// Updates the running clock.
    pub(crate) clock: bool,
}

/// A length: fixed, or the value of a register.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Len {
    Fixed(u64),
    Reg(u16),
}

/// One variant option.
#[derive(Debug, Clone)]
pub(crate) struct VarOption {
    /// Tag ranges (inclusive) that select it.
    pub(crate) ranges: Box<[(i128, i128)]>,
    /// First op of its body.
    pub(crate) pc: u32,
    /// Its column, to fill with a null when another option is selected.
    pub(crate) col: Option<ColRef>,
}

/// One instruction.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// Any integer (bit-level or big-endian path).
    Int(IntOp),
    /// Fast paths: byte-aligned little-endian (or 8-bit) integers, one
    /// dispatch per field.
    Int8(IntOp),
    Int16Le(IntOp),
    Int32Le(IntOp),
    Int64Le(IntOp),
    /// An enum: the container integer (its `col` is the `_value` column) and the label column.
    Enum {
        int: IntOp,
        label: u32,
        /// `(low, high, label index)` in declaration order.
        table: Box<[(i128, i128, i32)]>,
    },
    Float {
        align: u32,
        order: ByteOrder,
        exp: u32,
        mant: u32,
        col: u32,
    },
    /// NUL-terminated string.
    Str {
        col: u32,
    },
    /// An 8-bit text array/sequence: a string cut at the first NUL.
    Text {
        len: Len,
        align: u32,
        col: u32,
    },
    /// The packet header's 16-byte uuid.
    Uuid {
        align: u32,
    },
    /// Start of a struct value: align, mark it valid.
    Struct {
        align: u32,
        col: u32,
    },
    /// Start of an array/sequence body; `end` is the op after the matching `LoopEnd`.
    LoopBegin {
        len: Len,
        align: u32,
        min_bits: u64,
        fixed: u32,
        list: u32,
        end: u32,
    },
    LoopEnd {
        begin: u32,
    },
    Variant {
        reg: u16,
        signed: bool,
        col: u32,
        options: Box<[VarOption]>,
    },
    Jump(u32),
    /// A run of byte-aligned fields that only feed columns (see `fuse`):
    /// `bytes` long in all, each field at its byte offset.
    Flat {
        bytes: u32,
        fields: Box<[FlatField]>,
    },
}

/// The longest [`Op::Flat`] run in bytes (offsets fit a `u8`).
pub(crate) const FLAT_MAX: u32 = 256;

/// One field of an [`Op::Flat`] run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FlatField {
    /// Byte offset in the run (< [`FLAT_MAX`]).
    pub(crate) off: u8,
    pub(crate) kind: FlatKind,
    /// The column (`Columns::ints`, or `Columns::strs` for text).
    pub(crate) col: u32,
    /// Index of its path in `Plan::paths`, for errors.
    pub(crate) path: u32,
}

/// The layout of a flat field (little endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlatKind {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    U64,
    /// A fixed-length 8-bit text array: a string cut at the first NUL.
    Text(u32),
}

impl FlatKind {
    pub(crate) fn bytes(self) -> u32 {
        match self {
            FlatKind::U8 | FlatKind::I8 => 1,
            FlatKind::U16 | FlatKind::I16 => 2,
            FlatKind::U32 | FlatKind::I32 => 4,
            FlatKind::U64 => 8,
            FlatKind::Text(n) => n,
        }
    }
}

/// An op list and, per op, the field path text errors name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    pub(crate) ops: Vec<Op>,
    pub(crate) paths: Vec<Arc<str>>,
}

/// Which special register a field feeds, by scope and top-level name.
fn special_reg(scope: Scope, depth: usize, name: &str) -> u16 {
    match (scope, depth, name) {
        (Scope::PacketHeader, 1, "magic") => REG_MAGIC,
        (Scope::PacketHeader, 1, "stream_id") => REG_STREAM_ID,
        (Scope::PacketHeader, 1, "stream_instance_id") => REG_STREAM_INSTANCE,
        (Scope::PacketContext, 1, "timestamp_begin") => REG_TS_BEGIN,
        (Scope::PacketContext, 1, "timestamp_end") => REG_TS_END,
        (Scope::PacketContext, 1, "content_size") => REG_CONTENT_SIZE,
        (Scope::PacketContext, 1, "packet_size") => REG_PACKET_SIZE,
        (Scope::PacketContext, 1, "packet_seq_num") => REG_SEQ_NUM,
        (Scope::PacketContext, 1, "events_discarded") => REG_DISCARDED,
        (Scope::PacketContext, 1, "cpu_id") => REG_CPU,
        (Scope::EventHeader, _, "id") => REG_EVENT_ID,
        _ => NO_REG,
    }
}

/// What the compiler learned about special fields while compiling.
#[derive(Debug, Clone, Default)]
pub(crate) struct Specials {
    /// Registers that some field writes.
    pub(crate) present: [bool; FIRST_USER_REG as usize],
    /// Bit width of each special field (for the events_discarded wrap).
    pub(crate) width: [u32; FIRST_USER_REG as usize],
    /// The packet header has a 16-byte `uuid`.
    pub(crate) uuid: bool,
    /// Clock names the compiled fields map to, in order met.
    pub(crate) clocks: Vec<String>,
}

/// The compiler for one op list.
pub(crate) struct Compiler<'a> {
    /// Paths read by variants and sequences → user register.
    pub(crate) regs: &'a HashMap<FieldPath, u16>,
    /// The root struct of each scope (indexed by `Scope as usize`), to resolve tags.
    pub(crate) roots: [Option<&'a StructType>; 6],
    /// Fields named like auto-mapped clock fields count as mapped (babeltrace2
    /// maps unmapped `timestamp*` fields to the trace's only clock).
    pub(crate) auto_clock: Option<String>,
    /// Whether to create columns at all.
    pub(crate) with_cols: bool,
    /// Whether clock mappings update the running clock.
    pub(crate) clock_on: bool,
    pub(crate) plan: Plan,
    pub(crate) cols: Columns,
    pub(crate) specials: Specials,
}

/// Columns a field produced: none, one, or an enum's label + value pair.
pub(crate) enum ColOut {
    None,
    One(Field, ColRef),
    Enum(Field, ColRef, Field, ColRef),
}

/// Where a field sits: struct-like positions spread an enum into two columns.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pos {
    StructLike,
    Element,
}

fn bad(what: &'static str, path: &str) -> DecodeError {
    DecodeError::plan(DecodeErrorKind::Unsupported { what }, path)
}

/// Alignment of a type in bits (a variant aligns per selected option: 1 here).
pub(crate) fn align_of(t: &FieldType) -> u32 {
    match t {
        FieldType::Integer(i) => i.align.max(1),
        FieldType::Float(f) => f.align.max(1),
        FieldType::String(_) => 8,
        FieldType::Enum(e) => e.container.align.max(1),
        FieldType::Struct(s) => struct_align(s),
        FieldType::Variant(_) => 1,
        FieldType::Array(a) => align_of(&a.element),
        FieldType::Sequence(s) => align_of(&s.element),
    }
}

fn struct_align(s: &StructType) -> u32 {
    s.fields
        .iter()
        .map(|f| align_of(&f.ty))
        .fold(s.min_align.max(1), u32::max)
}

/// Fewest bits a value of the type takes (alignment ignored), for length checks.
fn min_bits(t: &FieldType) -> u64 {
    match t {
        FieldType::Integer(i) => u64::from(i.size),
        FieldType::Float(f) => u64::from(f.exp_dig + f.mant_dig),
        FieldType::String(_) => 8,
        FieldType::Enum(e) => u64::from(e.container.size),
        FieldType::Struct(s) => s
            .fields
            .iter()
            .fold(0u64, |a, f| a.saturating_add(min_bits(&f.ty))),
        FieldType::Variant(v) => v.options.iter().map(|f| min_bits(&f.ty)).min().unwrap_or(0),
        FieldType::Array(a) => a.length.saturating_mul(min_bits(&a.element)),
        FieldType::Sequence(_) => 0,
    }
}

fn check_align(a: u32, path: &str) -> Result<u32, DecodeError> {
    if a.is_power_of_two() {
        Ok(a)
    } else {
        Err(bad("alignment is not a power of two", path))
    }
}

impl<'a> Compiler<'a> {
    pub(crate) fn new(
        regs: &'a HashMap<FieldPath, u16>,
        roots: [Option<&'a StructType>; 6],
        with_cols: bool,
        clock_on: bool,
    ) -> Self {
        Self {
            regs,
            roots,
            auto_clock: None,
            with_cols,
            clock_on,
            plan: Plan::default(),
            cols: Columns::default(),
            specials: Specials::default(),
        }
    }

    fn pc(&self) -> u32 {
        u32::try_from(self.plan.ops.len()).unwrap_or(u32::MAX)
    }

    fn emit(&mut self, op: Op, path: &Arc<str>) -> usize {
        self.plan.ops.push(op);
        self.plan.paths.push(path.clone());
        self.plan.ops.len() - 1
    }

    fn int_op(
        &mut self,
        t: &IntegerType,
        col: u32,
        reg: u16,
        reg2: u16,
        auto_clock: bool,
        path: &str,
    ) -> Result<IntOp, DecodeError> {
        if t.size == 0 || t.size > 64 {
            return Err(bad("integer size outside 1..=64", path));
        }
        let align = check_align(t.align.max(1), path)?;
        let aligned = align % 8 == 0;
        let read = match (aligned, t.size, t.byte_order) {
            (true, 8, _) => IntRead::U8,
            (true, 16, ByteOrder::Little) => IntRead::Le16,
            (true, 32, ByteOrder::Little) => IntRead::Le32,
            (true, 64, ByteOrder::Little) => IntRead::Le64,
            (true, 16, ByteOrder::Big) => IntRead::Be16,
            (true, 32, ByteOrder::Big) => IntRead::Be32,
            (true, 64, ByteOrder::Big) => IntRead::Be64,
            (_, _, o) => IntRead::Bits(o),
        };
        let clock_name = match (&t.mapped_clock, auto_clock) {
            (Some(c), _) => Some(c.clone()),
            (None, true) => self.auto_clock.clone(),
            (None, false) => None,
        };
        if let Some(c) = &clock_name
            && !self.specials.clocks.contains(c)
        {
            self.specials.clocks.push(c.clone());
        }
        // `timestamp_end` is a snapshot, never an update of the running clock.
        let clock = self.clock_on && clock_name.is_some() && reg != REG_TS_END;
        if reg != NO_REG {
            self.specials.present[reg as usize] = true;
            self.specials.width[reg as usize] = t.size;
        }
        Ok(IntOp {
            read,
            align,
            size: t.size,
            signed: t.signed,
            col,
            reg,
            reg2,
            clock,
        })
    }

    /// Compiles the members of a scope's root struct. `name_of` turns a
    /// member (index, name) into its column name, or `None` for no column.
    pub(crate) fn scope(
        &mut self,
        scope: Scope,
        root: &StructType,
        what: &str,
        mut name_of: impl FnMut(usize, &str) -> Option<String>,
        out: &mut Vec<(Field, ColRef)>,
    ) -> Result<(), DecodeError> {
        let path: Arc<str> = Arc::from(what);
        let align = check_align(struct_align(root), what)?;
        // The first member aligns the struct anyway when it aligns at least as much.
        let first = root.fields.first().map_or(1, |f| align_of(&f.ty));
        if align > first {
            self.emit(Op::Struct { align, col: NONE }, &path);
        }
        let mut idx = Vec::new();
        for (i, f) in root.fields.iter().enumerate() {
            idx.push(i);
            let text = format!("{what} field `{}`", f.name);
            let col_name = if self.with_cols {
                name_of(i, &f.name)
            } else {
                None
            };
            let res = self.field(
                scope,
                &mut idx,
                &f.ty,
                &f.name,
                col_name.as_deref(),
                Pos::StructLike,
                &text,
            )?;
            push_out(res, out);
            idx.pop();
        }
        Ok(())
    }

    /// Compiles one field. `col_name` is `None` when it gets no column.
    #[allow(clippy::too_many_arguments)]
    fn field(
        &mut self,
        scope: Scope,
        idx: &mut Vec<usize>,
        ty: &FieldType,
        raw_name: &str,
        col_name: Option<&str>,
        pos: Pos,
        text: &str,
    ) -> Result<ColOut, DecodeError> {
        let path: Arc<str> = Arc::from(text);
        let fp = FieldPath {
            scope,
            indexes: idx.clone(),
        };
        let reg2 = self.regs.get(&fp).copied().unwrap_or(NO_REG);
        let reg = special_reg(scope, idx.len(), raw_name);
        let auto = matches!(
            (scope, idx.len(), raw_name),
            (Scope::EventHeader, 1, "timestamp")
                | (Scope::PacketContext, 1, "timestamp_begin" | "timestamp_end")
        );
        if scope == Scope::PacketHeader
            && idx.len() == 1
            && raw_name == "uuid"
            && let FieldType::Array(a) = ty
            && a.length == 16
            && matches!(&*a.element, FieldType::Integer(i) if i.size == 8 && i.align % 8 == 0)
        {
            self.specials.uuid = true;
            let align = check_align(align_of(ty), text)?;
            self.emit(Op::Uuid { align }, &path);
            return Ok(ColOut::None);
        }
        match ty {
            FieldType::Integer(t) => {
                let (col, out) = match col_name {
                    Some(n) => {
                        let c = self.cols.new_int();
                        (col_idx(c), ColOut::One(Field::new(n, int_type(t), true), c))
                    }
                    None => (NONE, ColOut::None),
                };
                let op = self.int_op(t, col, reg, reg2, auto, text)?;
                self.emit(int_fast(op), &path);
                Ok(out)
            }
            FieldType::Enum(e) => {
                let labels: Vec<String> = e.mappings.iter().map(|m| m.label.clone()).collect();
                let mut table = Vec::new();
                for (li, m) in e.mappings.iter().enumerate() {
                    for &(lo, hi) in &m.ranges {
                        table.push((lo, hi, i32::try_from(li).unwrap_or(i32::MAX)));
                    }
                }
                let (value, label, out) = match (col_name, pos) {
                    (None, _) => (NONE, NONE, ColOut::None),
                    (Some(n), Pos::StructLike) => {
                        let l = self.cols.new_dict(&labels);
                        let v = self.cols.new_int();
                        let out = ColOut::Enum(
                            Field::new(n, label_type(), true),
                            l,
                            Field::new(format!("{n}_value"), int_type(&e.container), true),
                            v,
                        );
                        (col_idx(v), col_idx(l), out)
                    }
                    (Some(n), Pos::Element) => {
                        let l = self.cols.new_dict(&labels);
                        let v = self.cols.new_int();
                        let s = self.cols.new_struct();
                        self.cols.set_struct_children(s, vec![l, v]);
                        let a = check_align(e.container.align.max(1), text)?;
                        self.emit(
                            Op::Struct {
                                align: a,
                                col: col_idx(s),
                            },
                            &path,
                        );
                        let f = Field::new(n, enum_struct_type(&e.container), true);
                        (col_idx(v), col_idx(l), ColOut::One(f, s))
                    }
                };
                let int = self.int_op(&e.container, value, reg, reg2, auto, text)?;
                if label == NONE {
                    self.emit(int_fast(int), &path);
                    return Ok(out);
                }
                self.emit(
                    Op::Enum {
                        int,
                        label,
                        table: table.into_boxed_slice(),
                    },
                    &path,
                );
                Ok(out)
            }
            FieldType::Float(f) => {
                if f.exp_dig == 0
                    || f.mant_dig == 0
                    || f.exp_dig + f.mant_dig > 64
                    || f.exp_dig > 16
                {
                    return Err(bad("floating point layout wider than 64 bits", text));
                }
                let (col, out) = match col_name {
                    Some(n) => {
                        let c = self.cols.new_float();
                        (
                            col_idx(c),
                            ColOut::One(Field::new(n, float_type(f), true), c),
                        )
                    }
                    None => (NONE, ColOut::None),
                };
                let align = check_align(f.align.max(1), text)?;
                self.emit(
                    Op::Float {
                        align,
                        order: f.byte_order,
                        exp: f.exp_dig,
                        mant: f.mant_dig,
                        col,
                    },
                    &path,
                );
                Ok(out)
            }
            FieldType::String(_) => {
                let (col, out) = self.str_col(col_name);
                self.emit(Op::Str { col }, &path);
                Ok(out)
            }
            FieldType::Struct(s) => {
                let align = check_align(struct_align(s), text)?;
                let (scol, at) = if col_name.is_some() {
                    let c = self.cols.new_struct();
                    (
                        Some(c),
                        self.emit(
                            Op::Struct {
                                align,
                                col: col_idx(c),
                            },
                            &path,
                        ),
                    )
                } else if align > s.fields.first().map_or(1, |f| align_of(&f.ty)) {
                    (None, self.emit(Op::Struct { align, col: NONE }, &path))
                } else {
                    (None, 0)
                };
                let _ = at;
                let mut fields = Vec::new();
                let mut children = Vec::new();
                for (i, m) in s.fields.iter().enumerate() {
                    idx.push(i);
                    let t = format!("{text}.{}", m.name);
                    let n = col_name.map(|_| super::schema::column_name(&m.name).to_string());
                    let res = self.field(
                        scope,
                        idx,
                        &m.ty,
                        &m.name,
                        n.as_deref(),
                        Pos::StructLike,
                        &t,
                    )?;
                    idx.pop();
                    let mut v = Vec::new();
                    push_out(res, &mut v);
                    for (f, c) in v {
                        fields.push(f);
                        children.push(c);
                    }
                }
                match (scol, col_name) {
                    (Some(c), Some(n)) => {
                        self.cols.set_struct_children(c, children);
                        let f = Field::new(n, DataType::Struct(Fields::from(fields)), true);
                        Ok(ColOut::One(f, c))
                    }
                    _ => Ok(ColOut::None),
                }
            }
            FieldType::Variant(v) => {
                let tag_reg = self
                    .regs
                    .get(&v.tag)
                    .copied()
                    .ok_or_else(|| DecodeError::plan(DecodeErrorKind::UnresolvedPath, text))?;
                let tag_signed = self.tag_signed(&v.tag);
                let vcol = col_name.map(|_| self.cols.new_struct());
                let at = self.emit(
                    Op::Variant {
                        reg: tag_reg,
                        signed: tag_signed,
                        col: vcol.map_or(NONE, col_idx),
                        options: Box::new([]),
                    },
                    &path,
                );
                let ranges_of = self.tag_ranges(&v.tag);
                let mut options = Vec::new();
                let mut jumps = Vec::new();
                let mut fields = Vec::new();
                let mut children = Vec::new();
                for (i, o) in v.options.iter().enumerate() {
                    let pc = self.pc();
                    idx.push(i);
                    let t = format!("{text}.{}", o.name);
                    let n = col_name.map(|_| super::schema::column_name(&o.name).to_string());
                    let res =
                        self.field(scope, idx, &o.ty, &o.name, n.as_deref(), Pos::Element, &t)?;
                    idx.pop();
                    jumps.push(self.emit(Op::Jump(0), &path));
                    let col = match res {
                        ColOut::One(f, c) => {
                            fields.push(f);
                            children.push(c);
                            Some(c)
                        }
                        _ => None,
                    };
                    let ranges = ranges_of
                        .iter()
                        .filter(|(label, _)| label == &o.name)
                        .map(|&(_, r)| r)
                        .collect::<Vec<_>>()
                        .into_boxed_slice();
                    options.push(VarOption { ranges, pc, col });
                }
                let end = self.pc();
                for j in jumps {
                    if let Some(op) = self.plan.ops.get_mut(j) {
                        *op = Op::Jump(end);
                    }
                }
                if let Some(Op::Variant { options: o, .. }) = self.plan.ops.get_mut(at) {
                    *o = options.into_boxed_slice();
                }
                match (vcol, col_name) {
                    (Some(c), Some(n)) => {
                        self.cols.set_struct_children(c, children);
                        let f = Field::new(n, DataType::Struct(Fields::from(fields)), false);
                        Ok(ColOut::One(f, c))
                    }
                    _ => Ok(ColOut::None),
                }
            }
            FieldType::Array(a) => {
                self.list(scope, idx, &a.element, Len::Fixed(a.length), col_name, text)
            }
            FieldType::Sequence(s) => {
                let r = self
                    .regs
                    .get(&s.length)
                    .copied()
                    .ok_or_else(|| DecodeError::plan(DecodeErrorKind::UnresolvedPath, text))?;
                self.list(scope, idx, &s.element, Len::Reg(r), col_name, text)
            }
        }
    }

    fn str_col(&mut self, col_name: Option<&str>) -> (u32, ColOut) {
        match col_name {
            Some(n) => {
                let c = self.cols.new_str();
                (
                    col_idx(c),
                    ColOut::One(Field::new(n, DataType::Utf8, true), c),
                )
            }
            None => (NONE, ColOut::None),
        }
    }

    fn list(
        &mut self,
        scope: Scope,
        idx: &mut Vec<usize>,
        elem: &FieldType,
        len: Len,
        col_name: Option<&str>,
        text: &str,
    ) -> Result<ColOut, DecodeError> {
        let path: Arc<str> = Arc::from(text);
        let align = check_align(align_of(elem), text)?;
        if is_text_element(elem) {
            let (col, out) = self.str_col(col_name);
            self.emit(Op::Text { len, align, col }, &path);
            return Ok(out);
        }
        let at = self.emit(Op::Jump(0), &path);
        let item = col_name.map(|_| "item");
        let res = self.field(
            scope,
            idx,
            elem,
            "",
            item,
            Pos::Element,
            &format!("{text}[]"),
        )?;
        let begin = u32::try_from(at).unwrap_or(u32::MAX);
        self.emit(Op::LoopEnd { begin }, &path);
        let end = self.pc();
        let (fixed, list, out) = match (res, col_name) {
            (ColOut::One(f, child), Some(n)) => match len {
                Len::Fixed(k) => {
                    let size = i32::try_from(k).map_err(|_| bad("array too long", text))?;
                    let c = self.cols.new_fixed(child, k as usize);
                    let ty = DataType::FixedSizeList(item_field(f.data_type().clone()), size);
                    (col_idx(c), NONE, ColOut::One(Field::new(n, ty, true), c))
                }
                Len::Reg(_) => {
                    let c = self.cols.new_list(child);
                    let ty = DataType::List(item_field(f.data_type().clone()));
                    (NONE, col_idx(c), ColOut::One(Field::new(n, ty, true), c))
                }
            },
            _ => (NONE, NONE, ColOut::None),
        };
        if let Some(op) = self.plan.ops.get_mut(at) {
            *op = Op::LoopBegin {
                len,
                align,
                min_bits: min_bits(elem).max(1),
                fixed,
                list,
                end,
            };
        }
        Ok(out)
    }

    /// Whether the tag at `path` is a signed integer.
    fn tag_signed(&self, path: &FieldPath) -> bool {
        match resolve(&self.roots, path) {
            Some(FieldType::Enum(e)) => e.container.signed,
            Some(FieldType::Integer(i)) => i.signed,
            _ => false,
        }
    }

    /// `(label, range)` of the tag enum at `path`, in declaration order.
    fn tag_ranges(&self, path: &FieldPath) -> Vec<(String, (i128, i128))> {
        match resolve(&self.roots, path) {
            Some(FieldType::Enum(e)) => e
                .mappings
                .iter()
                .flat_map(|m| m.ranges.iter().map(|&r| (m.label.clone(), r)))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// The fastest op for an integer.
fn int_fast(op: IntOp) -> Op {
    match op.read {
        IntRead::U8 => Op::Int8(op),
        IntRead::Le16 => Op::Int16Le(op),
        IntRead::Le32 => Op::Int32Le(op),
        IntRead::Le64 => Op::Int64Le(op),
        _ => Op::Int(op),
    }
}

fn col_idx(c: ColRef) -> u32 {
    match c {
        ColRef::Int(i)
        | ColRef::Float(i)
        | ColRef::Str(i)
        | ColRef::Dict(i)
        | ColRef::Struct(i)
        | ColRef::List(i)
        | ColRef::Fixed(i) => i,
    }
}

fn push_out(res: ColOut, out: &mut Vec<(Field, ColRef)>) {
    match res {
        ColOut::None => {}
        ColOut::One(f, c) => out.push((f, c)),
        ColOut::Enum(f1, c1, f2, c2) => {
            out.push((f1, c1));
            out.push((f2, c2));
        }
    }
}
