//! Arbitrary bytes through the metadata entry points: neither may panic,
//! overflow the stack or allocate without bound; a parsed class must obey
//! the model's invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trawl_source_lttng::metadata::{FieldType, metadata_text, parse_metadata};

fn check(ty: &FieldType) {
    match ty {
        FieldType::Integer(i) => assert!((1..=64).contains(&i.size) && i.align.is_power_of_two()),
        FieldType::Enum(e) => assert!((1..=64).contains(&e.container.size)),
        FieldType::Struct(s) => s.fields.iter().for_each(|f| check(&f.ty)),
        FieldType::Variant(v) => v.options.iter().for_each(|f| check(&f.ty)),
        FieldType::Array(a) => check(&a.element),
        FieldType::Sequence(s) => check(&s.element),
        FieldType::Float(_) | FieldType::String(_) => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = metadata_text(data) else { return };
    if let Ok(tc) = parse_metadata(&text) {
        for s in &tc.streams {
            for st in [&s.packet_context, &s.event_header, &s.event_context].into_iter().flatten() {
                st.fields.iter().for_each(|f| check(&f.ty));
            }
            for e in &s.events {
                for st in [&e.context, &e.payload].into_iter().flatten() {
                    st.fields.iter().for_each(|f| check(&f.ty));
                }
            }
        }
    }
});
