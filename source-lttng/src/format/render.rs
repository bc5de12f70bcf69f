//! Field values as `sink.text.pretty` prints them (`print_field` and
//! friends): structs `{ a = 1 }`, arrays `[ [0] = 1 ]`, variants `{ v }`,
//! enums `( "L" : container = 1 )`, integers, floats and strings (see
//! `text`).

use arrow_array::{Array, ArrayRef};

use super::FormatError;
use super::layout::{Member, Node};
use super::text::{push_escaped, push_g, push_int, push_radix};
use super::values::{float_at, int_at, list_at, str_at, struct_at};

/// `{ name = value, ... }`, `{ }` when empty.
pub(super) fn write_struct(
    out: &mut Vec<u8>,
    members: &[Member],
    columns: &[ArrayRef],
    index: usize,
) -> Result<(), FormatError> {
    out.push(b'{');
    for (i, m) in members.iter().enumerate() {
        out.extend_from_slice(if i == 0 { b" " } else { b", " });
        out.extend_from_slice(m.name.as_bytes());
        out.extend_from_slice(b" = ");
        let arr = columns.get(m.col).ok_or_else(|| FormatError::NullValue {
            field: m.name.clone(),
            index,
        })?;
        write_value(out, &m.node, arr.as_ref(), index, &m.name)?;
    }
    out.extend_from_slice(b" }");
    Ok(())
}

fn write_value(
    out: &mut Vec<u8>,
    node: &Node,
    arr: &dyn Array,
    index: usize,
    name: &str,
) -> Result<(), FormatError> {
    match node {
        Node::Int(f) => push_int(out, int_at(arr, index, name)?, *f),
        Node::Enum { int, ty, wrapped } => {
            let v = if *wrapped {
                let s = struct_at(arr, index, name)?;
                int_at(s.column(1).as_ref(), index, name)?
            } else {
                int_at(arr, index, name)?
            };
            out.extend_from_slice(b"( ");
            // One label per mapping (babeltrace2 merges same-label ranges
            // into one mapping), in declaration order.
            let mut printed: Vec<&str> = Vec::new();
            for label in ty.labels_of(v) {
                if printed.contains(&label) {
                    continue;
                }
                if !printed.is_empty() {
                    out.extend_from_slice(b", ");
                }
                push_escaped(out, label.as_bytes());
                printed.push(label);
            }
            if printed.is_empty() {
                out.extend_from_slice(b"<unknown>");
            }
            out.extend_from_slice(b" : container = ");
            push_int(out, v, *int);
            out.extend_from_slice(b" )");
        }
        Node::Float => push_g(out, float_at(arr, index, name)?),
        Node::Str => push_escaped(out, str_at(arr, index, name)?.as_bytes()),
        Node::Struct(members) => {
            let s = struct_at(arr, index, name)?;
            write_struct(out, members, s.columns(), index)?;
        }
        Node::List(elem) => {
            let (values, range) = list_at(arr, index, name)?;
            out.push(b'[');
            for (i, at) in range.enumerate() {
                out.extend_from_slice(if i == 0 { b" [" } else { b", [" });
                push_radix(out, i as u64, 10);
                out.extend_from_slice(b"] = ");
                write_value(out, elem, values.as_ref(), at, name)?;
            }
            out.extend_from_slice(b" ]");
        }
        Node::Variant(options) => {
            let s = struct_at(arr, index, name)?;
            let selected = options
                .iter()
                .zip(s.columns())
                .find(|(_, child)| child.is_valid(index))
                .ok_or_else(|| FormatError::NoVariantOption {
                    field: name.to_string(),
                    index,
                })?;
            out.extend_from_slice(b"{ ");
            write_value(out, selected.0, selected.1.as_ref(), index, name)?;
            out.extend_from_slice(b" }");
        }
    }
    Ok(())
}
