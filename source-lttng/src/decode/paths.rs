//! Field paths (variant tags, sequence lengths): where they point and which
//! ones a trace class uses, so that each gets a register.

use crate::metadata::{FieldPath, FieldType, StructType};

/// The type at `path` (arrays and sequences are transparent).
pub(crate) fn resolve<'t>(
    roots: &[Option<&'t StructType>; 6],
    path: &FieldPath,
) -> Option<&'t FieldType> {
    let root = roots.get(path.scope as usize).copied().flatten()?;
    let (first, rest) = path.indexes.split_first()?;
    let mut cur = &root.fields.get(*first)?.ty;
    for &i in rest {
        let mut t = cur;
        loop {
            match t {
                FieldType::Array(a) => t = &a.element,
                FieldType::Sequence(s) => t = &s.element,
                _ => break,
            }
        }
        cur = match t {
            FieldType::Struct(s) => &s.fields.get(i)?.ty,
            FieldType::Variant(v) => &v.options.get(i)?.ty,
            _ => return None,
        };
    }
    Some(cur)
}

/// Every path a variant tag or sequence length reads, in `ty`.
pub(crate) fn collect_paths(ty: &FieldType, out: &mut Vec<FieldPath>) {
    match ty {
        FieldType::Struct(s) => s.fields.iter().for_each(|f| collect_paths(&f.ty, out)),
        FieldType::Variant(v) => {
            out.push(v.tag.clone());
            v.options.iter().for_each(|f| collect_paths(&f.ty, out));
        }
        FieldType::Array(a) => collect_paths(&a.element, out),
        FieldType::Sequence(s) => {
            out.push(s.length.clone());
            collect_paths(&s.element, out);
        }
        _ => {}
    }
}
