//! Field values and their encoding along a metadata type: the writing half
//! of what the decoder reads.

use crate::decode::align_of;
use crate::decode::testing::Asm;
use crate::metadata::{Encoding, FieldPath, FieldType, IntegerType, Scope, StructType};

use super::GenerateError;

/// A value for one field, named as the decoder names columns (the leading
/// `_` of the metadata name dropped: `prev_tid`, not `_prev_tid`).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An integer, or an enumeration's integer value.
    Int(i128),
    /// A floating-point number.
    Float(f64),
    /// A string, a text array or sequence (`char[16]`), or an enumeration label.
    Str(String),
    /// The elements of an array or a sequence (a sequence's length field is
    /// filled in from it).
    List(Vec<Value>),
    /// The members of a structure.
    Struct(Vec<(String, Value)>),
    /// A variant: the option's name (without its leading `_`) and the
    /// members of the option's structure (the variant's tag is filled in).
    Variant(String, Vec<(String, Value)>),
}

macro_rules! int_value {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::Int(i128::from(v))
            }
        }
    )*};
}
int_value!(i8, i16, i32, i64, u8, u16, u32, u64, bool);

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Str(v.to_string())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Str(v)
    }
}

/// Members given by name, as the typed helpers and callers build them.
pub type Fields = Vec<(String, Value)>;

/// Builds [`Fields`] from `(name, value)` pairs.
pub fn fields<'a, I, V>(pairs: I) -> Fields
where
    I: IntoIterator<Item = (&'a str, V)>,
    V: Into<Value>,
{
    pairs
        .into_iter()
        .map(|(n, v)| (n.to_string(), v.into()))
        .collect()
}

/// The column name of a metadata field name: one leading `_` dropped.
fn short(name: &str) -> &str {
    name.strip_prefix('_').unwrap_or(name)
}

/// Writes values along metadata types into an [`Asm`].
pub(crate) struct Encoder<'a> {
    pub(crate) asm: &'a mut Asm,
    /// The event class (for errors).
    pub(crate) event: &'a str,
    /// The scope being written (variant tags and sequence lengths are paths in it).
    pub(crate) scope: Scope,
}

impl Encoder<'_> {
    /// Writes a structure; `given` names members (unknown names are refused).
    pub(crate) fn write_struct(
        &mut self,
        st: &StructType,
        given: &[(String, Value)],
        path: &mut Vec<usize>,
        dotted: &str,
    ) -> Result<(), GenerateError> {
        for (name, _) in given {
            if !st.fields.iter().any(|f| short(&f.name) == name) {
                return Err(self.err(&format!("{dotted}{name}"), "no such field"));
            }
        }
        let align = st
            .fields
            .iter()
            .map(|f| align_of(&f.ty))
            .fold(st.min_align.max(1), u32::max);
        self.asm.align(u64::from(align));
        let derived = self.derived(st, given, path)?;
        let mut written: Vec<Option<i128>> = vec![None; st.fields.len()];
        for (i, f) in st.fields.iter().enumerate() {
            let name = short(&f.name);
            let value = given
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v)
                .or(derived[i].as_ref());
            let field_path = format!("{dotted}{name}");
            path.push(i);
            let int = self.write_field(&f.ty, value, path, &field_path, st, &written)?;
            path.pop();
            written[i] = int;
        }
        Ok(())
    }

    /// Values implied by later members: sequence lengths and variant tags
    /// that are members of this same structure.
    fn derived(
        &self,
        st: &StructType,
        given: &[(String, Value)],
        path: &[usize],
    ) -> Result<Vec<Option<Value>>, GenerateError> {
        let mut out: Vec<Option<Value>> = vec![None; st.fields.len()];
        for f in &st.fields {
            let Some((_, v)) = given.iter().find(|(n, _)| n == short(&f.name)) else {
                continue;
            };
            match (&f.ty, v) {
                (FieldType::Sequence(s), _) => {
                    if let Some(j) = self.sibling(&s.length, path) {
                        let len = match v {
                            Value::List(items) => items.len(),
                            Value::Str(s) => s.len(),
                            _ => continue,
                        };
                        out[j] = Some(Value::Int(len as i128));
                    }
                }
                (FieldType::Variant(var), Value::Variant(option, _)) => {
                    if let Some(j) = self.sibling(&var.tag, path)
                        && let Some(FieldType::Enum(e)) = st.fields.get(j).map(|t| &t.ty)
                    {
                        let low = e
                            .mappings
                            .iter()
                            .find(|m| short(&m.label) == option)
                            .and_then(|m| m.ranges.first())
                            .map(|r| r.0)
                            .ok_or_else(|| {
                                self.err(&f.name, &format!("no tag label for option `{option}`"))
                            })?;
                        out[j] = Some(Value::Int(low));
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// The index of `target` among the members of the structure at `path`, if it is one.
    fn sibling(&self, target: &FieldPath, path: &[usize]) -> Option<usize> {
        let (last, parent) = target.indexes.split_last()?;
        (target.scope == self.scope && parent == path).then_some(*last)
    }

    /// Writes one field; returns its integer value (for variant tags).
    fn write_field(
        &mut self,
        ty: &FieldType,
        value: Option<&Value>,
        path: &mut Vec<usize>,
        dotted: &str,
        parent: &StructType,
        written: &[Option<i128>],
    ) -> Result<Option<i128>, GenerateError> {
        match ty {
            FieldType::Integer(i) => {
                let v = match value {
                    None => 0,
                    Some(Value::Int(v)) => *v,
                    Some(_) => return Err(self.err(dotted, "expects an integer")),
                };
                self.int(i, v, dotted)?;
                Ok(Some(v))
            }
            FieldType::Enum(e) => {
                let v = match value {
                    None => 0,
                    Some(Value::Int(v)) => *v,
                    Some(Value::Str(label)) => e
                        .mappings
                        .iter()
                        .find(|m| m.label == *label || short(&m.label) == label)
                        .and_then(|m| m.ranges.first())
                        .map(|r| r.0)
                        .ok_or_else(|| self.err(dotted, &format!("no label `{label}`")))?,
                    Some(_) => return Err(self.err(dotted, "expects an integer or a label")),
                };
                self.int(&e.container, v, dotted)?;
                Ok(Some(v))
            }
            FieldType::Float(f) => {
                let v = match value {
                    None => 0.0,
                    Some(Value::Float(v)) => *v,
                    Some(Value::Int(v)) => *v as f64,
                    Some(_) => return Err(self.err(dotted, "expects a number")),
                };
                self.asm.align(u64::from(f.align.max(1)));
                let bits = if f.mant_dig <= 24 {
                    (32, u64::from((v as f32).to_bits()))
                } else {
                    (64, v.to_bits())
                };
                self.asm.int_bo(bits.0, bits.1, f.byte_order);
                Ok(None)
            }
            FieldType::String(_) => {
                let s = match value {
                    None => "",
                    Some(Value::Str(s)) => s.as_str(),
                    Some(_) => return Err(self.err(dotted, "expects a string")),
                };
                if s.contains('\0') {
                    return Err(self.err(dotted, "a string cannot hold NUL"));
                }
                self.asm.string(s);
                Ok(None)
            }
            FieldType::Struct(st) => {
                let members: &[(String, Value)] = match value {
                    None => &[],
                    Some(Value::Struct(m)) => m,
                    Some(_) => return Err(self.err(dotted, "expects a structure")),
                };
                self.write_struct(st, members, path, &format!("{dotted}."))?;
                Ok(None)
            }
            FieldType::Variant(var) => {
                let (option, members): (String, &[(String, Value)]) = match value {
                    Some(Value::Variant(o, m)) => (o.clone(), m),
                    Some(_) => return Err(self.err(dotted, "expects a variant option")),
                    None => {
                        // No value: the option the tag already written selects.
                        let tag = self
                            .sibling(&var.tag, path.get(..path.len() - 1).unwrap_or(&[]))
                            .and_then(|j| Some((j, written.get(j).copied()??)));
                        let label = tag.and_then(|(j, v)| match &parent.fields[j].ty {
                            FieldType::Enum(e) => e.labels_of(v).next().map(str::to_string),
                            _ => None,
                        });
                        match label {
                            Some(l) => (short(&l).to_string(), &[]),
                            None => return Err(self.err(dotted, "needs a variant option")),
                        }
                    }
                };
                let (k, opt) = var
                    .options
                    .iter()
                    .enumerate()
                    .find(|(_, o)| short(&o.name) == option)
                    .ok_or_else(|| self.err(dotted, &format!("no option `{option}`")))?;
                path.push(k);
                let members = Value::Struct(members.to_vec());
                let dotted = format!("{dotted}.{option}");
                self.write_field(&opt.ty, Some(&members), path, &dotted, parent, written)?;
                path.pop();
                Ok(None)
            }
            FieldType::Array(a) => {
                self.elements(&a.element, value, Some(a.length), path, dotted)?;
                Ok(None)
            }
            FieldType::Sequence(s) => {
                self.elements(&s.element, value, None, path, dotted)?;
                Ok(None)
            }
        }
    }

    /// The elements of an array (`fixed` = its length) or a sequence.
    fn elements(
        &mut self,
        element: &FieldType,
        value: Option<&Value>,
        fixed: Option<u64>,
        path: &mut Vec<usize>,
        dotted: &str,
    ) -> Result<(), GenerateError> {
        let text = matches!(element, FieldType::Integer(i)
            if i.size == 8 && i.encoding != Encoding::None);
        let items: Vec<Value> = match value {
            None => Vec::new(),
            Some(Value::Str(s)) if text => s.bytes().map(Value::from).collect(),
            Some(Value::List(items)) => items.clone(),
            Some(_) => return Err(self.err(dotted, "expects a list (or text)")),
        };
        let n = fixed.unwrap_or(items.len() as u64);
        if items.len() as u64 > n {
            return Err(self.err(
                dotted,
                &format!("{} elements do not fit in [{n}]", items.len()),
            ));
        }
        self.asm.align(u64::from(align_of(element)));
        let empty = StructType::default();
        for k in 0..n {
            let item = items.get(k as usize);
            self.write_field(element, item, path, dotted, &empty, &[])?;
        }
        Ok(())
    }

    /// An integer of type `i`, checked against its size.
    fn int(&mut self, i: &IntegerType, v: i128, dotted: &str) -> Result<(), GenerateError> {
        let size = i.size.min(64);
        let (lo, hi) = if i.signed {
            (-(1i128 << (size - 1)), (1i128 << (size - 1)) - 1)
        } else {
            (0, (1i128 << size) - 1)
        };
        if v < lo || v > hi {
            return Err(self.err(
                dotted,
                &format!("{v} does not fit in {size} bits (signed: {})", i.signed),
            ));
        }
        let mask = if size == 64 {
            u64::MAX
        } else {
            (1u64 << size) - 1
        };
        self.asm.align(u64::from(i.align.max(1)));
        self.asm.int_bo(size, (v as u64) & mask, i.byte_order);
        Ok(())
    }

    fn err(&self, field: &str, why: &str) -> GenerateError {
        GenerateError::Value {
            event: self.event.to_string(),
            field: field.to_string(),
            why: why.to_string(),
        }
    }
}
