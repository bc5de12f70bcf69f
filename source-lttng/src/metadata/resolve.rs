//! Assembles the model from the parsed blocks: attaches events to stream
//! classes and resolves every variant tag and sequence length path into a
//! [`FieldPath`], the way babeltrace2 does:
//!
//! * absolute paths (`stream.event.header.id`) name a scope and walk from its root;
//! * relative paths are looked up first in the innermost struct or variant
//!   being visited (only members before the current one), then in each
//!   enclosing one, then in the roots of the previous dynamic scopes, last
//!   one first.
//!
//! Arrays and sequences on the way (to the target, or from the scope root to
//! the variant/sequence) add no index: a path through them means the field
//! in the element decoded last, which is what babeltrace2 reads.
//!
//! One deliberate difference: babeltrace2 2.0.4 looks a relative path up in
//! the current scope only, while we then also try the previous scopes (CTF
//! 1.8.3 §7.3.2 and babeltrace 1 do); this accepts more, never less.

use super::error::{MetadataError, Pos};
use super::model::{
    ArrayType, EventClass, Field, FieldPath, FieldType, Scope, SequenceType, StreamClass,
    StructType, TraceClass, VariantType,
};
use super::parser::{EventDecl, Parsed, StreamDecl};
use super::types::{PathRef, Ty};

const SCOPES: [Scope; 6] = [
    Scope::PacketHeader,
    Scope::PacketContext,
    Scope::EventHeader,
    Scope::StreamEventContext,
    Scope::EventContext,
    Scope::EventPayload,
];

const PREFIXES: [(&str, Scope); 6] = [
    ("trace.packet.header.", Scope::PacketHeader),
    ("stream.packet.context.", Scope::PacketContext),
    ("stream.event.header.", Scope::EventHeader),
    ("stream.event.context.", Scope::StreamEventContext),
    ("event.context.", Scope::EventContext),
    ("event.fields.", Scope::EventPayload),
];

fn scope_index(s: Scope) -> usize {
    SCOPES.iter().position(|&x| x == s).unwrap_or(0)
}

/// The roots of the six scopes visible to one event class.
type Roots<'a> = [Option<&'a Ty>; 6];

/// Resolves the paths of one scope.
struct Resolver<'a> {
    roots: Roots<'a>,
    scope: Scope,
    /// Structs/variants being visited and the index of the member being visited.
    stack: Vec<(&'a Ty, usize)>,
}

/// Walks `tokens` down from `ty`; with `limit`, the first member must be at or before it.
fn walk<'a>(mut ty: &'a Ty, tokens: &[&str], limit: Option<usize>) -> Option<(Vec<usize>, &'a Ty)> {
    let mut idxs = Vec::with_capacity(tokens.len());
    for (k, tok) in tokens.iter().enumerate() {
        // Through an array or sequence the path names the field of the last
        // element decoded (babeltrace2 accepts this); no index is added.
        while let Ty::Array { element, .. } | Ty::Sequence { element, .. } = ty {
            ty = element;
        }
        let members = ty.members()?;
        let idx = members.iter().position(|(n, _)| n == tok)?;
        if k == 0 && limit.is_some_and(|l| idx > l) {
            return None;
        }
        idxs.push(idx);
        ty = &members[idx].1;
    }
    Some((idxs, ty))
}

impl<'a> Resolver<'a> {
    fn find(
        &self,
        path: &PathRef,
        kind: &'static str,
    ) -> Result<(FieldPath, &'a Ty), MetadataError> {
        let not_found = || MetadataError::PathNotFound {
            pos: path.pos,
            kind,
            path: path.text.clone(),
        };
        let not_before = || MetadataError::PathNotBefore {
            pos: path.pos,
            kind,
            path: path.text.clone(),
        };
        let ctx: Vec<usize> = self.stack.iter().map(|&(_, i)| i).collect();
        if path.text.starts_with("env.") {
            return Err(not_found());
        }
        if let Some((rest, scope)) = PREFIXES
            .iter()
            .find_map(|(p, s)| path.text.strip_prefix(p).map(|r| (r, *s)))
        {
            let tokens: Vec<&str> = rest.split('.').collect();
            if scope > self.scope {
                return Err(not_before());
            }
            let root = if scope == self.scope {
                self.stack.first().map(|&(t, _)| t)
            } else {
                self.roots[scope_index(scope)]
            };
            let (idxs, ty) =
                walk(root.ok_or_else(not_found)?, &tokens, None).ok_or_else(not_found)?;
            if scope == self.scope {
                // The target must be before the source at their lowest common ancestor.
                let lca = idxs.iter().zip(&ctx).take_while(|(a, b)| a == b).count();
                match (idxs.get(lca), ctx.get(lca)) {
                    (Some(t), Some(c)) if t < c => {}
                    _ => return Err(not_before()),
                }
            }
            return Ok((
                FieldPath {
                    scope,
                    indexes: idxs,
                },
                ty,
            ));
        }
        let tokens: Vec<&str> = path.text.split('.').collect();
        for depth in (0..self.stack.len()).rev() {
            let (parent, cur) = self.stack[depth];
            if let Some((tail, ty)) = walk(parent, &tokens, Some(cur)) {
                if tail.first() == Some(&cur) {
                    return Err(not_before());
                }
                let mut indexes = ctx[..depth].to_vec();
                indexes.extend(tail);
                return Ok((
                    FieldPath {
                        scope: self.scope,
                        indexes,
                    },
                    ty,
                ));
            }
        }
        for &scope in SCOPES[..scope_index(self.scope)].iter().rev() {
            if let Some(root) = self.roots[scope_index(scope)]
                && let Some((indexes, ty)) = walk(root, &tokens, None)
            {
                return Ok((FieldPath { scope, indexes }, ty));
            }
        }
        Err(not_found())
    }

    fn members(
        &mut self,
        ty: &'a Ty,
        members: &'a [(String, Ty)],
    ) -> Result<Vec<Field>, MetadataError> {
        self.stack.push((ty, 0));
        let mut out = Vec::with_capacity(members.len());
        for (i, (name, t)) in members.iter().enumerate() {
            if let Some(top) = self.stack.last_mut() {
                top.1 = i;
            }
            out.push(Field {
                name: name.clone(),
                ty: self.convert(t)?,
            });
        }
        self.stack.pop();
        Ok(out)
    }

    fn convert(&mut self, ty: &'a Ty) -> Result<FieldType, MetadataError> {
        Ok(match ty {
            Ty::Int(i) => FieldType::Integer(i.clone()),
            Ty::Float(f) => FieldType::Float(f.clone()),
            Ty::Str(e) => FieldType::String(*e),
            Ty::Enum(e) => FieldType::Enum(e.clone()),
            Ty::Struct {
                fields, min_align, ..
            } => FieldType::Struct(StructType {
                fields: self.members(ty, fields)?,
                min_align: *min_align,
            }),
            Ty::Variant {
                tag, options, pos, ..
            } => {
                let tag = tag
                    .as_ref()
                    .ok_or(MetadataError::VariantWithoutTag { pos: *pos })?;
                let (path, target) = self.find(tag, "variant tag")?;
                if !matches!(target, Ty::Enum(_)) {
                    return Err(MetadataError::TagNotEnum {
                        pos: tag.pos,
                        path: tag.text.clone(),
                    });
                }
                FieldType::Variant(VariantType {
                    tag: path,
                    options: self.members(ty, options)?,
                })
            }
            Ty::Array {
                element, length, ..
            } => FieldType::Array(ArrayType {
                element: Box::new(self.convert(element)?),
                length: *length,
            }),
            Ty::Sequence {
                element, length, ..
            } => {
                let (path, target) = self.find(length, "sequence length")?;
                let unsigned = match target {
                    Ty::Int(i) => !i.signed,
                    Ty::Enum(e) => !e.container.signed,
                    _ => false,
                };
                if !unsigned {
                    return Err(MetadataError::LengthNotUnsigned {
                        pos: length.pos,
                        path: length.text.clone(),
                    });
                }
                FieldType::Sequence(SequenceType {
                    element: Box::new(self.convert(element)?),
                    length: path,
                })
            }
        })
    }
}

/// Resolves the root struct of `scope`.
fn scope_struct<'a>(
    roots: Roots<'a>,
    scope: Scope,
    pos: Pos,
) -> Result<Option<StructType>, MetadataError> {
    let Some(root) = roots[scope_index(scope)] else {
        return Ok(None);
    };
    if !matches!(root, Ty::Struct { .. }) {
        return Err(MetadataError::Semantic {
            pos,
            what: format!("{scope:?} scope is not a struct"),
        });
    }
    let mut r = Resolver {
        roots,
        scope,
        stack: Vec::new(),
    };
    match r.convert(root)? {
        FieldType::Struct(s) => Ok(Some(s)),
        _ => Ok(None),
    }
}

fn stream_roots<'a>(header: Option<&'a Ty>, s: Option<&'a StreamDecl>) -> Roots<'a> {
    [
        header,
        s.and_then(|s| s.packet_context.as_ref()),
        s.and_then(|s| s.event_header.as_ref()),
        s.and_then(|s| s.event_context.as_ref()),
        None,
        None,
    ]
}

fn event_class<'a>(
    e: &'a EventDecl,
    mut roots: Roots<'a>,
    stream_id: u64,
) -> Result<EventClass, MetadataError> {
    roots[4] = e.context.as_ref();
    roots[5] = e.fields.as_ref();
    Ok(EventClass {
        id: e.id.unwrap_or(0),
        name: e.name.clone().unwrap_or_default(),
        stream_id,
        loglevel: e.loglevel,
        model_emf_uri: e.model_emf_uri.clone(),
        context: scope_struct(roots, Scope::EventContext, e.pos)?,
        payload: scope_struct(roots, Scope::EventPayload, e.pos)?,
    })
}

/// Builds the trace class.
pub(crate) fn resolve(p: Parsed) -> Result<TraceClass, MetadataError> {
    let start = Pos { line: 1, column: 1 };
    let trace = p.trace.as_ref().ok_or(MetadataError::Semantic {
        pos: start,
        what: "no trace block".into(),
    })?;
    let header = trace.packet_header.as_ref();
    let packet_header = scope_struct(stream_roots(header, None), Scope::PacketHeader, trace.pos)?;

    if p.streams.len() > 1
        && let Some(s) = p.streams.iter().find(|s| s.id.is_none())
    {
        return Err(MetadataError::MissingAttribute {
            pos: s.pos,
            name: "id",
            block: "stream (one of several)",
        });
    }
    let mut streams: Vec<StreamClass> = Vec::with_capacity(p.streams.len() + 1);
    let header_has_stream_id = matches!(header, Some(Ty::Struct { fields, .. })
        if fields.iter().any(|(n, _)| n == "stream_id"));
    for s in &p.streams {
        if s.id.is_some() && !header_has_stream_id {
            // The id could never be read from a packet (babeltrace2 refuses too).
            return Err(MetadataError::Semantic {
                pos: s.pos,
                what: "stream has an `id` but the trace packet header has no `stream_id` field"
                    .into(),
            });
        }
        let id = s.id.unwrap_or(0);
        if streams.iter().any(|x| x.id == id) {
            return Err(MetadataError::Duplicate {
                pos: s.pos,
                name: format!("stream id {id}"),
            });
        }
        let roots = stream_roots(header, Some(s));
        streams.push(StreamClass {
            id,
            packet_context: scope_struct(roots, Scope::PacketContext, s.pos)?,
            event_header: scope_struct(roots, Scope::EventHeader, s.pos)?,
            event_context: scope_struct(roots, Scope::StreamEventContext, s.pos)?,
            events: Vec::new(),
        });
    }
    for e in &p.events {
        let sid = match (e.stream_id, p.streams.len()) {
            (Some(id), _) => id,
            (None, 0) => 0,
            (None, 1) => streams[0].id,
            (None, _) => {
                return Err(MetadataError::MissingAttribute {
                    pos: e.pos,
                    name: "stream_id",
                    block: "event (several stream classes exist)",
                });
            }
        };
        let decl = p.streams.iter().find(|s| s.id.unwrap_or(0) == sid);
        if decl.is_none() && !p.streams.is_empty() {
            return Err(MetadataError::Semantic {
                pos: e.pos,
                what: format!("event refers to unknown stream id {sid}"),
            });
        }
        if !streams.iter().any(|s| s.id == sid) {
            streams.push(StreamClass {
                id: sid,
                packet_context: None,
                event_header: None,
                event_context: None,
                events: Vec::new(),
            });
        }
        let ec = event_class(e, stream_roots(header, decl), sid)?;
        let Some(stream) = streams.iter_mut().find(|s| s.id == sid) else {
            continue;
        };
        if stream.events.iter().any(|x| x.id == ec.id) {
            return Err(MetadataError::Duplicate {
                pos: e.pos,
                name: format!("event id {} in stream {sid}", ec.id),
            });
        }
        stream.events.push(ec);
    }
    Ok(TraceClass {
        major: 1,
        minor: 8,
        uuid: trace.uuid,
        byte_order: trace.byte_order.unwrap_or(p.native),
        packet_header,
        env: p.env,
        clocks: p.clocks,
        streams,
        warnings: p.warnings,
    })
}
