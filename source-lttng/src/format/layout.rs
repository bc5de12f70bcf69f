//! What babeltrace2 prints for one event class, and where each printed value
//! sits in the event's Arrow batch.
//!
//! babeltrace2 does not print the CTF metadata as written: its `src.ctf.fs`
//! translates it to its trace IR first, and `sink.text.pretty` prints the IR.
//! The translation rules that change the text (babeltrace2 2.0,
//! `ctf-meta-update-meanings.c`, `ctf-meta-update-in-ir.c`,
//! `ctf-meta-translate.c`):
//! - field names lose ONE leading `_` (TSDL's escape: `__msg_length` prints
//!   as `_msg_length`, `_vpid` as `vpid`); enum labels and option names
//!   keep theirs;
//! - top-level packet context integers named `timestamp_begin`,
//!   `timestamp_end`, `content_size`, `packet_size`, `packet_seq_num`,
//!   `events_discarded` have a "meaning" and are dropped (the Arrow mapping
//!   drops them too; `cpu_id` stays and prints at its place, from the
//!   envelope `cpu` column);
//! - an integer or enum mapped to a clock (`map = clock.X.value`) is dropped
//!   unless a sequence length or a variant tag refers to it (it keeps its
//!   Arrow column, it just does not print);
//! - a struct whose members were all dropped is dropped; a struct that was
//!   empty in the metadata stays (`{ }`); an array or sequence is dropped
//!   with its element; a variant stays when one option stays, and then all
//!   its options stay;
//! - a whole scope (packet context, stream event context, event context,
//!   payload) prints only if it has no member at all or keeps at least one.
//!
//! The column walk follows the mapping contract (notes: arrow-mapping):
//! envelope (6 columns), packet context minus the hidden ones and `cpu_id`,
//! stream event context, event context, payload; one column per field, two
//! for an enum in a struct-like position (label, then `_value`).

use std::collections::HashSet;

use arrow_schema::{DataType, FieldRef};

use super::FormatError;
use super::text::IntFmt;
use crate::metadata::{
    EnumType, EnvValue, EventClass, Field, FieldPath, FieldType, Scope, StreamClass, StructType,
    TraceClass,
};

/// Index of the envelope `ts` column.
pub(crate) const TS_COLUMN: usize = 0;
/// Index of the envelope `cpu` column (where `cpu_id` is).
const CPU_COLUMN: usize = 4;
/// Envelope columns before the first context column.
const ENVELOPE_COLUMNS: usize = 6;

/// Packet context members babeltrace2 gives a meaning and never prints.
pub(crate) const HIDDEN_PACKET_CONTEXT: [&str; 6] = [
    "timestamp_begin",
    "timestamp_end",
    "content_size",
    "packet_size",
    "packet_seq_num",
    "events_discarded",
];

/// How to print one value, given the Arrow array that holds it.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// An integer array.
    Int(IntFmt),
    /// An enum: the container value array (`wrapped == false`), or a
    /// `Struct{label, value}` array (`wrapped == true`).
    Enum {
        /// How the container prints.
        int: IntFmt,
        /// The mappings, for the labels.
        ty: EnumType,
        /// Whether the array is the `Struct{label, value}` form.
        wrapped: bool,
    },
    /// A Float32 or Float64 array.
    Float,
    /// A Utf8 array (a string, or a text array/sequence).
    Str,
    /// A struct array: only the members that print.
    Struct(Vec<Member>),
    /// A List or FixedSizeList array and how its elements print.
    List(Box<Node>),
    /// A struct array with one child per option, in option order.
    Variant(Vec<Node>),
}

/// A struct member (or a scope member) that prints.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    /// The printed name (one leading `_` stripped).
    pub name: String,
    /// Index of its array among its parent's columns (the batch's columns
    /// for a scope member, the struct children otherwise). For an enum in a
    /// struct-like position, the `_value` column.
    pub col: usize,
    /// How it prints.
    pub node: Node,
}

/// Everything the pretty printer needs for one event class of one trace.
#[derive(Debug, Clone)]
pub(crate) struct EventLayout {
    /// The event class name (`<unknown>` when empty).
    pub name: String,
    /// Whether the stream class has a default clock (else no timestamp).
    pub has_clock: bool,
    /// `hostname`, `procname`, `(vpid)` from the env, joined by `:` (empty
    /// when none is there).
    pub host: String,
    /// The printed scopes, in order, each with its printed members.
    pub scopes: Vec<Vec<Member>>,
}

/// The name babeltrace2's CTF 1.8 reader gives a field: one leading `_` off.
pub(crate) fn ir_name(name: &str) -> &str {
    name.strip_prefix('_').unwrap_or(name)
}

impl EventLayout {
    /// Lays out event class `ec_id` of stream class `sc_id` against the
    /// batch's columns.
    pub(crate) fn build(
        trace: &TraceClass,
        sc_id: u64,
        ec_id: u64,
        columns: &[FieldRef],
    ) -> Result<Self, FormatError> {
        let sc = trace
            .stream(sc_id)
            .ok_or(FormatError::UnknownStreamClass { id: sc_id })?;
        let ec =
            sc.events
                .iter()
                .find(|e| e.id == ec_id)
                .ok_or(FormatError::UnknownEventClass {
                    stream_class_id: sc_id,
                    id: ec_id,
                })?;
        let walker = Walker {
            event: &ec.name,
            deps: dependencies(sc, ec),
        };
        let mut next = ENVELOPE_COLUMNS;
        let mut scopes = Vec::new();
        let roots = [
            (Scope::PacketContext, sc.packet_context.as_ref()),
            (Scope::StreamEventContext, sc.event_context.as_ref()),
            (Scope::EventContext, ec.context.as_ref()),
            (Scope::EventPayload, ec.payload.as_ref()),
        ];
        for (scope, root) in roots {
            let Some(root) = root else { continue };
            let mut members = Vec::new();
            let mut path = FieldPath {
                scope,
                indexes: Vec::new(),
            };
            for (i, f) in root.fields.iter().enumerate() {
                path.indexes.push(i);
                let member = if scope == Scope::PacketContext {
                    // Raw names, as the decoder matches them.
                    let name = f.name.as_str();
                    if HIDDEN_PACKET_CONTEXT.contains(&name) {
                        None
                    } else if name == "cpu_id" {
                        walker.cpu_id(f, columns)?
                    } else {
                        walker.member(f, columns, &mut next, &mut path)?
                    }
                } else {
                    walker.member(f, columns, &mut next, &mut path)?
                };
                path.indexes.pop();
                members.extend(member);
            }
            if root.fields.is_empty() || !members.is_empty() {
                scopes.push(members);
            }
        }
        Ok(EventLayout {
            name: if ec.name.is_empty() {
                "<unknown>".to_string()
            } else {
                ec.name.clone()
            },
            has_clock: has_clock(trace, sc),
            host: host_prefix(trace),
            scopes,
        })
    }
}

/// `hostname:procname:(vpid)` as `print_event_header` builds it with the
/// default `field-trace:*` settings (domain off): each part only if its env
/// entry exists (and has the type babeltrace2 reads), `:` between parts.
fn host_prefix(trace: &TraceClass) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(h) = trace.env_str("hostname") {
        parts.push(h.to_string());
    }
    if let Some(p) = trace.env_str("procname") {
        parts.push(p.to_string());
    }
    if let Some(EnvValue::Int(v)) = trace.env("vpid") {
        parts.push(format!("({v})"));
    }
    parts.join(":")
}

/// Whether babeltrace2 gives the stream class a default clock class: some
/// integer of its packet context, event header, contexts or payloads is
/// mapped to a clock, or (`auto_map_fields_to_trace_clock_class`) the trace
/// has at most one clock and the event header has a `timestamp` or the
/// packet context a `timestamp_begin`/`timestamp_end` integer, at any depth
/// of structs and variants (babeltrace2 then maps them to that clock, or to
/// an implicit 1 GHz one).
pub(crate) fn has_clock(trace: &TraceClass, sc: &StreamClass) -> bool {
    let mut roots: Vec<&StructType> = Vec::new();
    roots.extend(sc.packet_context.as_ref());
    roots.extend(sc.event_header.as_ref());
    roots.extend(sc.event_context.as_ref());
    for ec in &sc.events {
        roots.extend(ec.context.as_ref());
        roots.extend(ec.payload.as_ref());
    }
    if roots.iter().any(|s| s.fields.iter().any(|f| mapped(&f.ty))) {
        return true;
    }
    trace.clocks.len() <= 1
        && (sc
            .event_header
            .as_ref()
            .is_some_and(|s| named_int(&s.fields, &["timestamp"]))
            || sc
                .packet_context
                .as_ref()
                .is_some_and(|s| named_int(&s.fields, &["timestamp_begin", "timestamp_end"])))
}

/// Some integer in `ty` is mapped to a clock.
fn mapped(ty: &FieldType) -> bool {
    match ty {
        FieldType::Integer(i) => i.mapped_clock.is_some(),
        FieldType::Enum(e) => e.container.mapped_clock.is_some(),
        FieldType::Struct(s) => s.fields.iter().any(|f| mapped(&f.ty)),
        FieldType::Variant(v) => v.options.iter().any(|f| mapped(&f.ty)),
        FieldType::Array(a) => mapped(&a.element),
        FieldType::Sequence(s) => mapped(&s.element),
        FieldType::Float(_) | FieldType::String(_) => false,
    }
}

/// Some integer member called one of `names`, in structs and variants.
fn named_int(fields: &[Field], names: &[&str]) -> bool {
    fields.iter().any(|f| match &f.ty {
        FieldType::Integer(_) | FieldType::Enum(_) => names.contains(&ir_name(&f.name)),
        FieldType::Struct(s) => named_int(&s.fields, names),
        FieldType::Variant(v) => named_int(&v.options, names),
        _ => false,
    })
}

/// The field paths sequences and variants of this event refer to: the
/// integers there print even when mapped to a clock.
fn dependencies(sc: &StreamClass, ec: &EventClass) -> HashSet<FieldPath> {
    fn walk(ty: &FieldType, deps: &mut HashSet<FieldPath>) {
        match ty {
            FieldType::Struct(s) => s.fields.iter().for_each(|f| walk(&f.ty, deps)),
            FieldType::Variant(v) => {
                deps.insert(v.tag.clone());
                v.options.iter().for_each(|f| walk(&f.ty, deps));
            }
            FieldType::Array(a) => walk(&a.element, deps),
            FieldType::Sequence(s) => {
                deps.insert(s.length.clone());
                walk(&s.element, deps);
            }
            _ => {}
        }
    }
    let mut deps = HashSet::new();
    let roots = [
        &sc.packet_context,
        &sc.event_context,
        &ec.context,
        &ec.payload,
    ];
    for root in roots.into_iter().flatten() {
        root.fields.iter().for_each(|f| walk(&f.ty, &mut deps));
    }
    deps
}

/// Builds nodes for one event class.
struct Walker<'a> {
    /// Event class name, for errors.
    event: &'a str,
    /// See [`dependencies`].
    deps: HashSet<FieldPath>,
}

fn int_fmt(i: &crate::metadata::IntegerType) -> IntFmt {
    IntFmt {
        size: i.size,
        signed: i.signed,
        base: i.base,
    }
}

fn is_int(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
    )
}

impl Walker<'_> {
    fn column<'c>(
        &self,
        columns: &'c [FieldRef],
        i: usize,
        field: &Field,
    ) -> Result<&'c DataType, FormatError> {
        columns
            .get(i)
            .map(|c| c.data_type())
            .ok_or_else(|| FormatError::MissingColumn {
                event: self.event.to_string(),
                field: field.name.clone(),
                column: i,
                columns: columns.len(),
            })
    }

    fn mismatch(&self, field: &str, expected: &'static str, found: &DataType) -> FormatError {
        FormatError::ColumnType {
            event: self.event.to_string(),
            field: field.to_string(),
            expected,
            found: found.clone(),
        }
    }

    /// `cpu_id` of the packet context: printed from the envelope `cpu` column.
    fn cpu_id(&self, f: &Field, columns: &[FieldRef]) -> Result<Option<Member>, FormatError> {
        let dt = self.column(columns, CPU_COLUMN, f)?;
        if !is_int(dt) {
            return Err(self.mismatch(&f.name, "an integer (envelope cpu)", dt));
        }
        let node = match &f.ty {
            FieldType::Enum(e) => Node::Enum {
                int: int_fmt(&e.container),
                ty: e.clone(),
                wrapped: false,
            },
            FieldType::Integer(i) => Node::Int(int_fmt(i)),
            _ => return Err(self.mismatch(&f.name, "an integer cpu_id in the metadata", dt)),
        };
        Ok(Some(Member {
            name: ir_name(&f.name).to_string(),
            col: CPU_COLUMN,
            node,
        }))
    }

    /// A member in a struct-like position (scope root or struct): consumes
    /// one column from `columns[*next..]`, two for an enum. `None` when it
    /// does not print.
    fn member(
        &self,
        f: &Field,
        columns: &[FieldRef],
        next: &mut usize,
        path: &mut FieldPath,
    ) -> Result<Option<Member>, FormatError> {
        let (col, node, visible) = if let FieldType::Enum(e) = &f.ty {
            let label = self.column(columns, *next, f)?;
            if !matches!(label, DataType::Dictionary(_, _) | DataType::Utf8) {
                return Err(self.mismatch(&f.name, "a dictionary label column", label));
            }
            let value = self.column(columns, *next + 1, f)?;
            if !is_int(value) {
                return Err(self.mismatch(&f.name, "an integer `_value` column", value));
            }
            let visible = e.container.mapped_clock.is_none() || self.deps.contains(path);
            let node = Node::Enum {
                int: int_fmt(&e.container),
                ty: e.clone(),
                wrapped: false,
            };
            (*next + 1, node, visible)
        } else {
            let dt = self.column(columns, *next, f)?;
            let (node, visible) = self.node(&f.name, &f.ty, dt, path)?;
            (*next, node, visible)
        };
        *next = col + 1;
        Ok(visible.then(|| Member {
            name: ir_name(&f.name).to_string(),
            col,
            node,
        }))
    }

    /// A value held by one array of type `dt` (enums in their wrapped form).
    /// Returns the node and whether it prints.
    fn node(
        &self,
        name: &str,
        ty: &FieldType,
        dt: &DataType,
        path: &mut FieldPath,
    ) -> Result<(Node, bool), FormatError> {
        match ty {
            FieldType::Integer(i) => {
                if !is_int(dt) {
                    return Err(self.mismatch(name, "an integer", dt));
                }
                let visible = i.mapped_clock.is_none() || self.deps.contains(path);
                Ok((Node::Int(int_fmt(i)), visible))
            }
            FieldType::Enum(e) => {
                let ok = matches!(dt, DataType::Struct(ch) if ch.len() == 2 && is_int(ch[1].data_type()));
                if !ok {
                    return Err(self.mismatch(name, "Struct{label, value}", dt));
                }
                let visible = e.container.mapped_clock.is_none() || self.deps.contains(path);
                let node = Node::Enum {
                    int: int_fmt(&e.container),
                    ty: e.clone(),
                    wrapped: true,
                };
                Ok((node, visible))
            }
            FieldType::Float(_) => match dt {
                DataType::Float32 | DataType::Float64 => Ok((Node::Float, true)),
                _ => Err(self.mismatch(name, "a float", dt)),
            },
            FieldType::String(_) => match dt {
                DataType::Utf8 => Ok((Node::Str, true)),
                _ => Err(self.mismatch(name, "Utf8", dt)),
            },
            FieldType::Struct(s) => {
                let DataType::Struct(children) = dt else {
                    return Err(self.mismatch(name, "a struct", dt));
                };
                let mut next = 0;
                let mut members = Vec::new();
                for (i, f) in s.fields.iter().enumerate() {
                    path.indexes.push(i);
                    let m = self.member(f, children, &mut next, path);
                    path.indexes.pop();
                    members.extend(m?);
                }
                let visible = s.fields.is_empty() || !members.is_empty();
                Ok((Node::Struct(members), visible))
            }
            FieldType::Array(a) => self.list(name, &a.element, dt, path),
            FieldType::Sequence(s) => self.list(name, &s.element, dt, path),
            FieldType::Variant(v) => {
                let DataType::Struct(children) = dt else {
                    return Err(self.mismatch(name, "a struct of variant options", dt));
                };
                if children.len() != v.options.len() {
                    return Err(self.mismatch(name, "one struct child per variant option", dt));
                }
                let mut options = Vec::new();
                let mut visible = false;
                for (i, (opt, child)) in v.options.iter().zip(children.iter()).enumerate() {
                    path.indexes.push(i);
                    let built = self.node(&opt.name, &opt.ty, child.data_type(), path);
                    path.indexes.pop();
                    let (node, vis) = built?;
                    visible |= vis;
                    options.push(node);
                }
                Ok((Node::Variant(options), visible))
            }
        }
    }

    /// An array or sequence: text (Utf8) or a list of elements.
    fn list(
        &self,
        name: &str,
        element: &FieldType,
        dt: &DataType,
        path: &mut FieldPath,
    ) -> Result<(Node, bool), FormatError> {
        match dt {
            DataType::Utf8 => Ok((Node::Str, true)),
            DataType::List(item) | DataType::FixedSizeList(item, _) => {
                let (elem, visible) = self.node(name, element, item.data_type(), path)?;
                Ok((Node::List(Box::new(elem)), visible))
            }
            _ => Err(self.mismatch(name, "Utf8, List or FixedSizeList", dt)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::decode::TraceDecoder;
    use crate::metadata::{metadata_text, parse_metadata};

    const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data");

    /// Every event class of `metadata` lays out against the decoder's schema.
    fn lays_out(metadata: &Path) -> usize {
        let bytes = std::fs::read(metadata).unwrap();
        let class = Arc::new(parse_metadata(&metadata_text(&bytes).unwrap()).unwrap());
        let dec = TraceDecoder::new(Arc::clone(&class)).unwrap();
        let mut n = 0;
        for sc in &class.streams {
            for ec in &sc.events {
                let schema = dec.schema(sc.id, ec.id).unwrap();
                EventLayout::build(&class, sc.id, ec.id, schema.fields())
                    .unwrap_or_else(|e| panic!("{}: {e}", metadata.display()));
                n += 1;
            }
        }
        n
    }

    /// The decoder's columns and the formatter's walk agree on the whole
    /// lttng-modules 2.10 kernel metadata (enums, `payload_cpu`-style
    /// prefixed names, text arrays, variants).
    #[test]
    fn kernel_metadata_lays_out_against_decoder_schemas() {
        let n = lays_out(&Path::new(DATA).join("kernel-metadata/lttng-modules-2.10.metadata"));
        assert!(n > 300, "{n} event classes");
    }

    #[test]
    fn hidden_packet_context_and_cpu_id_take_no_column() {
        use crate::format::test_util::*;
        let t = trace(
            &[],
            lttng_stream(
                None,
                vec![event(0, "e", Some(st(vec![f("a", int(8, false, 10))])))],
            ),
        );
        let columns: Vec<FieldRef> = trawl_core::envelope::fields()
            .into_iter()
            .chain([af("a", DataType::UInt8)])
            .map(Arc::new)
            .collect();
        let l = EventLayout::build(&t, 0, 0, &columns).unwrap();
        assert!(l.has_clock);
        assert_eq!(l.scopes.len(), 2);
        assert_eq!(
            (l.scopes[0][0].name.as_str(), l.scopes[0][0].col),
            ("cpu_id", 4)
        );
        assert_eq!((l.scopes[1][0].name.as_str(), l.scopes[1][0].col), ("a", 6));
    }
}
