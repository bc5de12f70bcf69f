//! The parser's intermediate field types: like the model's [`FieldType`] but
//! with variant tags and sequence lengths still written as path strings
//! (they can only be resolved once the whole dynamic scope is known).
//!
//! Compound types cache their depth and node count so that alias expansion
//! can be bounded cheaply: a metadata text of a few lines can otherwise
//! describe a type with 2^n members or nested n levels deep.

use super::error::Pos;
use super::model::{Encoding, EnumType, FloatType, IntegerType};

/// Deepest nesting of types accepted (struct in struct in array ...).
pub(crate) const MAX_DEPTH: usize = 64;

/// A path written in a variant tag or a sequence length, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathRef {
    pub text: String,
    pub pos: Pos,
}

/// Depth and node count of a type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    pub depth: usize,
    pub nodes: u64,
}

impl Shape {
    const LEAF: Shape = Shape { depth: 1, nodes: 1 };

    /// The shape of a compound type with these children.
    pub(crate) fn of<'a>(children: impl Iterator<Item = &'a Ty>) -> Shape {
        children.fold(Shape { depth: 1, nodes: 1 }, |acc, t| {
            let s = t.shape();
            Shape {
                depth: acc.depth.max(s.depth + 1),
                nodes: acc.nodes.saturating_add(s.nodes),
            }
        })
    }
}

/// An intermediate field type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ty {
    Int(IntegerType),
    Float(FloatType),
    Str(Encoding),
    Enum(EnumType),
    Struct {
        fields: Vec<(String, Ty)>,
        min_align: u32,
        shape: Shape,
    },
    Variant {
        tag: Option<PathRef>,
        options: Vec<(String, Ty)>,
        shape: Shape,
        pos: Pos,
    },
    Array {
        element: Box<Ty>,
        length: u64,
        shape: Shape,
    },
    Sequence {
        element: Box<Ty>,
        length: PathRef,
        shape: Shape,
    },
}

impl Ty {
    /// Depth and node count.
    pub(crate) fn shape(&self) -> Shape {
        match self {
            Ty::Int(_) | Ty::Float(_) | Ty::Str(_) | Ty::Enum(_) => Shape::LEAF,
            Ty::Struct { shape, .. }
            | Ty::Variant { shape, .. }
            | Ty::Array { shape, .. }
            | Ty::Sequence { shape, .. } => *shape,
        }
    }

    /// Named members of a struct or options of a variant.
    pub(crate) fn members(&self) -> Option<&[(String, Ty)]> {
        match self {
            Ty::Struct { fields, .. } => Some(fields),
            Ty::Variant { options, .. } => Some(options),
            _ => None,
        }
    }

    pub(crate) fn new_struct(fields: Vec<(String, Ty)>, min_align: u32) -> Ty {
        let shape = Shape::of(fields.iter().map(|(_, t)| t));
        Ty::Struct {
            fields,
            min_align,
            shape,
        }
    }

    pub(crate) fn new_variant(tag: Option<PathRef>, options: Vec<(String, Ty)>, pos: Pos) -> Ty {
        let shape = Shape::of(options.iter().map(|(_, t)| t));
        Ty::Variant {
            tag,
            options,
            shape,
            pos,
        }
    }

    pub(crate) fn new_array(element: Ty, length: u64) -> Ty {
        let shape = Shape::of(std::iter::once(&element));
        Ty::Array {
            element: Box::new(element),
            length,
            shape,
        }
    }

    pub(crate) fn new_sequence(element: Ty, length: PathRef) -> Ty {
        let shape = Shape::of(std::iter::once(&element));
        Ty::Sequence {
            element: Box::new(element),
            length,
            shape,
        }
    }
}
