//! Truncatable column builders: plain `Vec`s the decode plan pushes into by
//! index, cut back to the last complete row when an event fails half-way,
//! and finished into Arrow arrays without copying where the layout allows.

use std::sync::Arc;

use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{
    ArrayRef, DictionaryArray, FixedSizeListArray, ListArray, PrimitiveArray, StringArray,
    StructArray, new_empty_array,
};
use arrow_buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::DataType;

use super::error::DecodeErrorKind;

/// Validity that costs nothing until the first null. The owner knows its
/// length; a null needs it to fill the earlier entries as valid.
#[derive(Debug, Clone, Default)]
pub(crate) struct Validity {
    bits: Option<Vec<bool>>,
}

impl Validity {
    /// One more entry, valid or not; `before` = entries so far.
    #[inline]
    fn push(&mut self, valid: bool, before: usize) {
        if let Some(b) = &mut self.bits {
            b.push(valid);
        } else if !valid {
            let mut b = vec![true; before];
            b.push(false);
            self.bits = Some(b);
        }
    }

    fn truncate(&mut self, n: usize) {
        if let Some(b) = &mut self.bits {
            b.truncate(n);
        }
    }

    fn take(&mut self) -> Option<NullBuffer> {
        self.bits.take().map(NullBuffer::from)
    }
}

/// A reference to one builder of a [`Columns`] set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColRef {
    /// Integers (any width; sign-extended raw bits).
    Int(u32),
    /// Floats.
    Float(u32),
    /// UTF-8 strings.
    Str(u32),
    /// Enum labels: index into the enum's label list.
    Dict(u32),
    /// Structs (and variants).
    Struct(u32),
    /// Sequences.
    List(u32),
    /// Fixed-length arrays.
    Fixed(u32),
}

/// Integer builder: every width is kept as u64 (signed values sign-extended).
#[derive(Debug, Clone, Default)]
pub(crate) struct IntCol {
    pub(crate) vals: Vec<u64>,
    valid: Validity,
}

/// Float builder.
#[derive(Debug, Clone, Default)]
pub(crate) struct FloatCol {
    pub(crate) vals: Vec<f64>,
    valid: Validity,
}

/// String builder (offsets + bytes), always valid UTF-8.
#[derive(Debug, Clone)]
pub(crate) struct StrCol {
    offsets: Vec<i32>,
    bytes: Vec<u8>,
    valid: Validity,
    /// The raw bytes of the last fixed-length text pushed, and its row
    /// (none when unknown): see [`Columns::push_text`].
    last_raw: Vec<u8>,
    last_row: Option<usize>,
}

impl Default for StrCol {
    fn default() -> Self {
        Self {
            offsets: vec![0],
            bytes: Vec::new(),
            valid: Validity::default(),
            last_raw: Vec::new(),
            last_row: None,
        }
    }
}

/// Enum label builder: key into `labels` (the enum's mappings), null when no mapping matches.
#[derive(Debug, Clone, Default)]
pub(crate) struct DictCol {
    keys: Vec<i32>,
    valid: Validity,
    labels: Option<ArrayRef>,
}

/// Struct builder: its own validity; children are separate builders.
#[derive(Debug, Clone, Default)]
pub(crate) struct StructCol {
    len: usize,
    valid: Validity,
    pub(crate) children: Vec<ColRef>,
}

/// List builder (sequences).
#[derive(Debug, Clone)]
pub(crate) struct ListCol {
    offsets: Vec<i32>,
    valid: Validity,
    pub(crate) child: ColRef,
}

/// Fixed-size list builder (arrays).
#[derive(Debug, Clone)]
pub(crate) struct FixedCol {
    len: usize,
    size: usize,
    valid: Validity,
    pub(crate) child: ColRef,
}

/// All builders of one event class.
#[derive(Debug, Clone, Default)]
pub(crate) struct Columns {
    pub(crate) ints: Vec<IntCol>,
    pub(crate) floats: Vec<FloatCol>,
    pub(crate) strs: Vec<StrCol>,
    pub(crate) dicts: Vec<DictCol>,
    pub(crate) structs: Vec<StructCol>,
    pub(crate) lists: Vec<ListCol>,
    pub(crate) fixeds: Vec<FixedCol>,
}

impl Columns {
    /// No builders at all.
    pub(crate) const EMPTY: Columns = Columns {
        ints: Vec::new(),
        floats: Vec::new(),
        strs: Vec::new(),
        dicts: Vec::new(),
        structs: Vec::new(),
        lists: Vec::new(),
        fixeds: Vec::new(),
    };
}

fn idx(v: usize) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

impl Columns {
    // ---- creation (plan compile time) ----

    pub(crate) fn new_int(&mut self) -> ColRef {
        self.ints.push(IntCol::default());
        ColRef::Int(idx(self.ints.len() - 1))
    }
    pub(crate) fn new_float(&mut self) -> ColRef {
        self.floats.push(FloatCol::default());
        ColRef::Float(idx(self.floats.len() - 1))
    }
    pub(crate) fn new_str(&mut self) -> ColRef {
        self.strs.push(StrCol::default());
        ColRef::Str(idx(self.strs.len() - 1))
    }
    pub(crate) fn new_dict(&mut self, labels: &[String]) -> ColRef {
        let arr: ArrayRef = Arc::new(StringArray::from_iter_values(labels.iter()));
        self.dicts.push(DictCol {
            labels: Some(arr),
            ..DictCol::default()
        });
        ColRef::Dict(idx(self.dicts.len() - 1))
    }
    pub(crate) fn new_struct(&mut self) -> ColRef {
        self.structs.push(StructCol::default());
        ColRef::Struct(idx(self.structs.len() - 1))
    }
    pub(crate) fn set_struct_children(&mut self, s: ColRef, children: Vec<ColRef>) {
        if let ColRef::Struct(i) = s
            && let Some(c) = self.structs.get_mut(i as usize)
        {
            c.children = children;
        }
    }
    pub(crate) fn new_list(&mut self, child: ColRef) -> ColRef {
        self.lists.push(ListCol {
            offsets: vec![0],
            valid: Validity::default(),
            child,
        });
        ColRef::List(idx(self.lists.len() - 1))
    }
    pub(crate) fn new_fixed(&mut self, child: ColRef, size: usize) -> ColRef {
        self.fixeds.push(FixedCol {
            len: 0,
            size,
            valid: Validity::default(),
            child,
        });
        ColRef::Fixed(idx(self.fixeds.len() - 1))
    }

    // ---- pushing (hot path) ----

    #[inline]
    pub(crate) fn push_int(&mut self, i: u32, v: u64) {
        if let Some(c) = self.ints.get_mut(i as usize) {
            c.vals.push(v);
            if let Some(b) = &mut c.valid.bits {
                b.push(true);
            }
        }
    }
    #[inline]
    pub(crate) fn push_float(&mut self, i: u32, v: f64) {
        if let Some(c) = self.floats.get_mut(i as usize) {
            c.valid.push(true, c.vals.len());
            c.vals.push(v);
        }
    }
    /// Pushes a fixed-length 8-bit text array: the string up to the first
    /// NUL. The same raw bytes as the row just pushed (a process name, in
    /// event after event) repeat that row's string without searching for the
    /// NUL or validating again.
    #[inline]
    pub(crate) fn push_text(&mut self, i: u32, raw: &[u8]) {
        let Some(c) = self.strs.get_mut(i as usize) else {
            return;
        };
        let row = c.offsets.len() - 1;
        if !raw.is_empty() && c.last_row.is_some_and(|r| r + 1 == row) && c.last_raw == raw {
            let from = c.offsets.get(row - 1).copied().unwrap_or(0).max(0) as usize;
            let to = c.offsets.get(row).copied().unwrap_or(0).max(0) as usize;
            c.bytes.extend_from_within(from..to);
            c.valid.push(true, row);
            c.offsets
                .push(i32::try_from(c.bytes.len()).unwrap_or(i32::MAX));
            c.last_row = Some(row);
            return;
        }
        c.last_raw.clear();
        c.last_raw.extend_from_slice(raw);
        c.last_row = Some(row);
        let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        self.push_str(i, &raw[..end]);
    }

    /// Pushes `bytes` as UTF-8 (invalid sequences become U+FFFD).
    #[inline]
    pub(crate) fn push_str(&mut self, i: u32, bytes: &[u8]) {
        if let Some(c) = self.strs.get_mut(i as usize) {
            // Trace strings are nearly always ASCII, which `is_ascii` checks a
            // word at a time; `from_utf8` costs several times more on short
            // strings (process names, paths).
            if bytes.is_ascii() || std::str::from_utf8(bytes).is_ok() {
                c.bytes.extend_from_slice(bytes);
            } else {
                c.bytes
                    .extend_from_slice(String::from_utf8_lossy(bytes).as_bytes());
            }
            c.valid.push(true, c.offsets.len().saturating_sub(1));
            c.offsets
                .push(i32::try_from(c.bytes.len()).unwrap_or(i32::MAX));
        }
    }
    #[inline]
    pub(crate) fn push_dict(&mut self, i: u32, key: Option<i32>) {
        if let Some(c) = self.dicts.get_mut(i as usize) {
            c.valid.push(key.is_some(), c.keys.len());
            c.keys.push(key.unwrap_or(0));
        }
    }
    #[inline]
    pub(crate) fn push_struct(&mut self, i: u32) {
        if let Some(c) = self.structs.get_mut(i as usize) {
            c.valid.push(true, c.len);
            c.len += 1;
        }
    }
    #[inline]
    pub(crate) fn push_fixed(&mut self, i: u32) {
        if let Some(c) = self.fixeds.get_mut(i as usize) {
            c.valid.push(true, c.len);
            c.len += 1;
        }
    }
    /// Closes one list entry: its items are what the child holds now.
    #[inline]
    pub(crate) fn end_list(&mut self, i: u32) {
        let Some(child) = self.lists.get(i as usize).map(|c| c.child) else {
            return;
        };
        let n = self.len(child);
        if let Some(c) = self.lists.get_mut(i as usize) {
            c.valid.push(true, c.offsets.len().saturating_sub(1));
            c.offsets.push(i32::try_from(n).unwrap_or(i32::MAX));
        }
    }

    /// Appends one null entry to `col` (and what Arrow needs in its children).
    pub(crate) fn push_null(&mut self, col: ColRef) {
        match col {
            ColRef::Int(i) => {
                if let Some(c) = self.ints.get_mut(i as usize) {
                    c.valid.push(false, c.vals.len());
                    c.vals.push(0);
                }
            }
            ColRef::Float(i) => {
                if let Some(c) = self.floats.get_mut(i as usize) {
                    c.valid.push(false, c.vals.len());
                    c.vals.push(0.0);
                }
            }
            ColRef::Str(i) => {
                if let Some(c) = self.strs.get_mut(i as usize) {
                    c.valid.push(false, c.offsets.len().saturating_sub(1));
                    c.offsets
                        .push(i32::try_from(c.bytes.len()).unwrap_or(i32::MAX));
                }
            }
            ColRef::Dict(i) => self.push_dict(i, None),
            ColRef::Struct(i) => {
                let count = match self.structs.get_mut(i as usize) {
                    Some(c) => {
                        c.valid.push(false, c.len);
                        c.len += 1;
                        c.children.len()
                    }
                    None => return,
                };
                // By index: no clone of the child list (this runs per event
                // for every unselected variant option).
                for k in 0..count {
                    let ch = self
                        .structs
                        .get(i as usize)
                        .and_then(|c| c.children.get(k))
                        .copied();
                    if let Some(ch) = ch {
                        self.push_null(ch);
                    }
                }
            }
            ColRef::List(i) => {
                let Some(child) = self.lists.get(i as usize).map(|c| c.child) else {
                    return;
                };
                let n = self.len(child);
                if let Some(c) = self.lists.get_mut(i as usize) {
                    c.valid.push(false, c.offsets.len().saturating_sub(1));
                    c.offsets.push(i32::try_from(n).unwrap_or(i32::MAX));
                }
            }
            ColRef::Fixed(i) => {
                let (child, size) = match self.fixeds.get_mut(i as usize) {
                    Some(c) => {
                        c.valid.push(false, c.len);
                        c.len += 1;
                        (c.child, c.size)
                    }
                    None => return,
                };
                for _ in 0..size {
                    self.push_null(child);
                }
            }
        }
    }

    /// Number of entries in `col`.
    pub(crate) fn len(&self, col: ColRef) -> usize {
        match col {
            ColRef::Int(i) => self.ints.get(i as usize).map_or(0, |c| c.vals.len()),
            ColRef::Float(i) => self.floats.get(i as usize).map_or(0, |c| c.vals.len()),
            ColRef::Str(i) => self
                .strs
                .get(i as usize)
                .map_or(0, |c| c.offsets.len().saturating_sub(1)),
            ColRef::Dict(i) => self.dicts.get(i as usize).map_or(0, |c| c.keys.len()),
            ColRef::Struct(i) => self.structs.get(i as usize).map_or(0, |c| c.len),
            ColRef::List(i) => self
                .lists
                .get(i as usize)
                .map_or(0, |c| c.offsets.len().saturating_sub(1)),
            ColRef::Fixed(i) => self.fixeds.get(i as usize).map_or(0, |c| c.len),
        }
    }

    /// Cuts `col` back to `n` entries (children follow).
    pub(crate) fn truncate(&mut self, col: ColRef, n: usize) {
        match col {
            ColRef::Int(i) => {
                if let Some(c) = self.ints.get_mut(i as usize) {
                    c.vals.truncate(n);
                    c.valid.truncate(n);
                }
            }
            ColRef::Float(i) => {
                if let Some(c) = self.floats.get_mut(i as usize) {
                    c.vals.truncate(n);
                    c.valid.truncate(n);
                }
            }
            ColRef::Str(i) => {
                if let Some(c) = self.strs.get_mut(i as usize) {
                    c.offsets.truncate(n + 1);
                    let end = c.offsets.last().copied().unwrap_or(0).max(0) as usize;
                    c.bytes.truncate(end);
                    c.valid.truncate(n);
                    c.last_row = None;
                }
            }
            ColRef::Dict(i) => {
                if let Some(c) = self.dicts.get_mut(i as usize) {
                    c.keys.truncate(n);
                    c.valid.truncate(n);
                }
            }
            ColRef::Struct(i) => {
                let children = match self.structs.get_mut(i as usize) {
                    Some(c) => {
                        c.len = c.len.min(n);
                        c.valid.truncate(n);
                        c.children.clone()
                    }
                    None => return,
                };
                for ch in children {
                    self.truncate(ch, n);
                }
            }
            ColRef::List(i) => {
                let (child, m) = match self.lists.get_mut(i as usize) {
                    Some(c) => {
                        c.offsets.truncate(n + 1);
                        c.valid.truncate(n);
                        (
                            c.child,
                            c.offsets.last().copied().unwrap_or(0).max(0) as usize,
                        )
                    }
                    None => return,
                };
                self.truncate(child, m);
            }
            ColRef::Fixed(i) => {
                let (child, m) = match self.fixeds.get_mut(i as usize) {
                    Some(c) => {
                        c.len = c.len.min(n);
                        c.valid.truncate(n);
                        (c.child, n.saturating_mul(c.size))
                    }
                    None => return,
                };
                self.truncate(child, m);
            }
        }
    }

    // ---- finishing ----

    /// Moves `col`'s contents out as an Arrow array of type `ty`.
    pub(crate) fn finish(
        &mut self,
        col: ColRef,
        ty: &DataType,
    ) -> Result<ArrayRef, DecodeErrorKind> {
        let arrow = |e: arrow_schema::ArrowError| DecodeErrorKind::Arrow(e.to_string());
        Ok(match col {
            ColRef::Int(i) => {
                let Some(c) = self.ints.get_mut(i as usize) else {
                    return Ok(new_empty_array(ty));
                };
                let n = c.vals.len();
                let vals = std::mem::replace(&mut c.vals, Vec::with_capacity(n));
                let nulls = c.valid.take();
                int_array(vals, nulls, ty)
            }
            ColRef::Float(i) => {
                let Some(c) = self.floats.get_mut(i as usize) else {
                    return Ok(new_empty_array(ty));
                };
                let vals = std::mem::take(&mut c.vals);
                let nulls = c.valid.take();
                if *ty == DataType::Float32 {
                    let v: Vec<f32> = vals.iter().map(|&x| x as f32).collect();
                    Arc::new(PrimitiveArray::<Float32Type>::new(
                        ScalarBuffer::from(v),
                        nulls,
                    ))
                } else {
                    Arc::new(PrimitiveArray::<Float64Type>::new(
                        ScalarBuffer::from(vals),
                        nulls,
                    ))
                }
            }
            ColRef::Str(i) => {
                let Some(c) = self.strs.get_mut(i as usize) else {
                    return Ok(new_empty_array(ty));
                };
                if c.bytes.len() >= i32::MAX as usize {
                    return Err(DecodeErrorKind::BatchTooLarge);
                }
                let mut fresh = Vec::with_capacity(c.offsets.len());
                fresh.push(0);
                c.last_row = None;
                let offsets = std::mem::replace(&mut c.offsets, fresh);
                let nb = c.bytes.len();
                let bytes = std::mem::replace(&mut c.bytes, Vec::with_capacity(nb));
                let nulls = c.valid.take();
                let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
                Arc::new(
                    StringArray::try_new(offsets, Buffer::from_vec(bytes), nulls).map_err(arrow)?,
                )
            }
            ColRef::Dict(i) => {
                let Some(c) = self.dicts.get_mut(i as usize) else {
                    return Ok(new_empty_array(ty));
                };
                let keys = std::mem::take(&mut c.keys);
                let nulls = c.valid.take();
                let keys = PrimitiveArray::<Int32Type>::new(ScalarBuffer::from(keys), nulls);
                let values = c
                    .labels
                    .clone()
                    .unwrap_or_else(|| new_empty_array(&DataType::Utf8));
                Arc::new(DictionaryArray::<Int32Type>::try_new(keys, values).map_err(arrow)?)
            }
            ColRef::Struct(i) => {
                let DataType::Struct(fields) = ty else {
                    return Err(DecodeErrorKind::Arrow(
                        "struct builder without struct type".into(),
                    ));
                };
                let (children, len, nulls) = match self.structs.get_mut(i as usize) {
                    Some(c) => {
                        let len = std::mem::take(&mut c.len);
                        (c.children.clone(), len, c.valid.take())
                    }
                    None => return Ok(new_empty_array(ty)),
                };
                let mut arrays = Vec::with_capacity(children.len());
                for (ch, f) in children.iter().zip(fields.iter()) {
                    arrays.push(self.finish(*ch, f.data_type())?);
                }
                if fields.is_empty() {
                    Arc::new(StructArray::new_empty_fields(len, nulls))
                } else {
                    Arc::new(StructArray::try_new(fields.clone(), arrays, nulls).map_err(arrow)?)
                }
            }
            ColRef::List(i) => {
                let DataType::List(field) = ty else {
                    return Err(DecodeErrorKind::Arrow(
                        "list builder without list type".into(),
                    ));
                };
                let (child, offsets, nulls) = match self.lists.get_mut(i as usize) {
                    Some(c) => (
                        c.child,
                        std::mem::replace(&mut c.offsets, vec![0]),
                        c.valid.take(),
                    ),
                    None => return Ok(new_empty_array(ty)),
                };
                if offsets.last().copied().unwrap_or(0) == i32::MAX {
                    return Err(DecodeErrorKind::BatchTooLarge);
                }
                let values = self.finish(child, field.data_type())?;
                let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
                Arc::new(ListArray::try_new(field.clone(), offsets, values, nulls).map_err(arrow)?)
            }
            ColRef::Fixed(i) => {
                let DataType::FixedSizeList(field, size) = ty else {
                    return Err(DecodeErrorKind::Arrow(
                        "array builder without array type".into(),
                    ));
                };
                let (child, nulls, len) = match self.fixeds.get_mut(i as usize) {
                    Some(c) => (c.child, c.valid.take(), std::mem::take(&mut c.len)),
                    None => return Ok(new_empty_array(ty)),
                };
                let values = self.finish(child, field.data_type())?;
                if *size == 0 {
                    Arc::new(FixedSizeListArray::new_null(field.clone(), 0, len))
                } else {
                    Arc::new(
                        FixedSizeListArray::try_new(field.clone(), *size, values, nulls)
                            .map_err(arrow)?,
                    )
                }
            }
        })
    }
}

/// Narrows the u64 raw values to the column's Arrow integer type.
fn int_array(vals: Vec<u64>, nulls: Option<NullBuffer>, ty: &DataType) -> ArrayRef {
    macro_rules! narrow {
        ($t:ty, $n:ty) => {{
            let v: Vec<$n> = vals.iter().map(|&x| x as $n).collect();
            Arc::new(PrimitiveArray::<$t>::new(ScalarBuffer::from(v), nulls)) as ArrayRef
        }};
    }
    match ty {
        DataType::Int8 => narrow!(Int8Type, i8),
        DataType::Int16 => narrow!(Int16Type, i16),
        DataType::Int32 => narrow!(Int32Type, i32),
        DataType::Int64 => {
            let buf = Buffer::from_vec(vals);
            let len = buf.len() / 8;
            Arc::new(PrimitiveArray::<Int64Type>::new(
                ScalarBuffer::new(buf, 0, len),
                nulls,
            ))
        }
        DataType::UInt8 => narrow!(UInt8Type, u8),
        DataType::UInt16 => narrow!(UInt16Type, u16),
        DataType::UInt32 => narrow!(UInt32Type, u32),
        _ => Arc::new(PrimitiveArray::<UInt64Type>::new(
            ScalarBuffer::from(vals),
            nulls,
        )),
    }
}

#[cfg(test)]
mod tests {

    /// Repeated text rows reuse the previous row's string, but never across a
    /// rollback, a null or a batch boundary.
    #[test]
    fn repeated_text_is_reused_only_when_it_is_the_last_row() {
        let mut c = Columns::default();
        let col = c.new_str();
        let ColRef::Str(i) = col else { unreachable!() };
        c.push_text(i, b"ls\0\0xx");
        c.push_text(i, b"ls\0\0xx"); // same raw: reused
        c.push_text(i, b"sh\0\0xx");
        c.truncate(col, 2); // drop "sh"
        c.push_text(i, b"sh\0\0xx"); // not reused from the dropped row
        c.push_null(col);
        c.push_text(i, b"sh\0\0xx"); // the last row is null: decoded again
        let a = c.finish(col, &DataType::Utf8).unwrap();
        let got: Vec<_> = a.as_string::<i32>().iter().collect();
        assert_eq!(got, [Some("ls"), Some("ls"), Some("sh"), None, Some("sh")]);
        c.push_text(i, b"sh\0\0xx"); // a new batch starts afresh
        let a = c.finish(col, &DataType::Utf8).unwrap();
        assert_eq!(a.as_string::<i32>().value(0), "sh");
    }

    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_schema::{Field, Fields};

    #[test]
    fn truncate_rolls_back_nested_lists() {
        let mut c = Columns::default();
        let item = c.new_int();
        let list = c.new_list(item);
        let ColRef::List(l) = list else {
            unreachable!()
        };
        let ColRef::Int(it) = item else {
            unreachable!()
        };
        c.push_int(it, 1);
        c.end_list(l);
        c.push_int(it, 2);
        c.push_int(it, 3);
        c.end_list(l);
        c.truncate(list, 1);
        assert_eq!(c.len(item), 1);
        let ty = DataType::List(Arc::new(Field::new("item", DataType::UInt8, true)));
        let a = c.finish(list, &ty).unwrap();
        assert_eq!(a.len(), 1);
    }

    #[test]
    fn null_struct_fills_children() {
        let mut c = Columns::default();
        let a = c.new_str();
        let s = c.new_struct();
        c.set_struct_children(s, vec![a]);
        c.push_null(s);
        let ty = DataType::Struct(Fields::from(vec![Field::new("a", DataType::Utf8, true)]));
        let arr = c.finish(s, &ty).unwrap();
        assert_eq!(arr.null_count(), 1);
        assert_eq!(arr.as_struct().column(0).null_count(), 1);
    }
}
