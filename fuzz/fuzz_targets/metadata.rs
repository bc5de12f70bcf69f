//! Arbitrary bytes through the metadata entry points: neither may panic,
//! overflow the stack or allocate without bound; a parsed class must obey
//! the model's invariants (sizes in range, every variant tag path leads to an
//! enumeration and every sequence length path to an unsigned integer in the
//! same or an earlier scope).
#![no_main]

use libfuzzer_sys::fuzz_target;
use trawl_source_lttng::metadata::{Field, FieldPath, FieldType, StructType, metadata_text, parse_metadata};

/// The six scope roots seen by one event class, in `Scope` order.
type Roots<'a> = [Option<&'a StructType>; 6];

fn at<'a>(roots: &Roots<'a>, path: &FieldPath) -> Option<&'a FieldType> {
    let mut fields: &[Field] = &roots[path.scope as usize]?.fields;
    let mut found = None;
    for &i in &path.indexes {
        let f = fields.get(i)?;
        found = Some(&f.ty);
        let mut t = &f.ty;
        while let FieldType::Array(a) = t {
            t = &a.element;
        }
        while let FieldType::Sequence(s) = t {
            t = &s.element;
        }
        fields = match t {
            FieldType::Struct(s) => &s.fields,
            FieldType::Variant(v) => &v.options,
            _ => &[],
        };
    }
    found
}

fn check(ty: &FieldType, roots: &Roots<'_>, scope: usize) {
    match ty {
        FieldType::Integer(i) => assert!((1..=64).contains(&i.size) && i.align.is_power_of_two()),
        FieldType::Enum(e) => assert!((1..=64).contains(&e.container.size)),
        FieldType::Struct(s) => s.fields.iter().for_each(|f| check(&f.ty, roots, scope)),
        FieldType::Variant(v) => {
            assert!(v.tag.scope as usize <= scope);
            assert!(matches!(at(roots, &v.tag), Some(FieldType::Enum(_))), "{:?}", v.tag);
            v.options.iter().for_each(|f| check(&f.ty, roots, scope));
        }
        FieldType::Array(a) => check(&a.element, roots, scope),
        FieldType::Sequence(s) => {
            assert!(s.length.scope as usize <= scope);
            let ok = match at(roots, &s.length) {
                Some(FieldType::Integer(i)) => !i.signed,
                Some(FieldType::Enum(e)) => !e.container.signed,
                _ => false,
            };
            assert!(ok, "{:?}", s.length);
            check(&s.element, roots, scope);
        }
        FieldType::Float(_) | FieldType::String(_) => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = metadata_text(data) else { return };
    let Ok(tc) = parse_metadata(&text) else { return };
    for s in &tc.streams {
        for e in &s.events {
            let roots: Roots<'_> = [
                tc.packet_header.as_ref(),
                s.packet_context.as_ref(),
                s.event_header.as_ref(),
                s.event_context.as_ref(),
                e.context.as_ref(),
                e.payload.as_ref(),
            ];
            for (scope, root) in roots.iter().enumerate() {
                for f in root.iter().flat_map(|r| &r.fields) {
                    check(&f.ty, &roots, scope);
                }
            }
        }
    }
});
