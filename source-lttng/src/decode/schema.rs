//! How decoded events look in Arrow (DESIGN.md §2, made precise here).
//!
//! One `RecordBatch` per event class per trace, rows in stream order.
//! Columns, in order:
//! 1. the envelope (`trawl_core::envelope`): `ts` (absolute ns, 0 when the
//!    stream class has no clock), `host` (env `hostname`), `domain` (env
//!    `domain`), `stream_id` (`stream_instance_id`, else the stream file's
//!    position in its trace), `cpu` (`cpu_id`), `event` (class name);
//! 2. packet context fields other than those babeltrace2 hides
//!    ([`is_hidden_packet_context_field`]; LTTng traces have none left);
//! 3. stream event context, event context, then payload fields, each in
//!    declaration order.
//!
//! Names: the metadata name with one leading `_` stripped ([`column_name`]);
//! a name already taken (envelope or earlier column) gets its scope's prefix
//! ([`scope_prefix`]: kernel `lttng_statedump_process_state.cpu` becomes
//! `payload_cpu`). Every column but the envelope's is nullable.
//!
//! Types: an N-bit integer → the smallest Arrow integer holding it, signedness
//! kept; an enumeration → two columns, `<name>` (dictionary label of the first
//! matching mapping, null when none matches) and `<name>_value` (the integer,
//! always: DESIGN.md keeps it only when no label matches, but a value can
//! match several labels or none, and readers want the number), or
//! `Struct{label, value}` where it is an array element or variant option; a
//! string → Utf8 (invalid UTF-8 replaced by U+FFFD); an 8-bit UTF-8/ASCII
//! array or sequence → Utf8 up to the first NUL; other arrays →
//! FixedSizeList, sequences → List (child `item`); struct → Struct; variant →
//! Struct of nullable options, only the selected one set; floats → Float32
//! (8/24) or Float64.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields};

use crate::metadata::{Encoding, FieldType, FloatType, IntegerType, Scope};

/// `_vpid` → `vpid`, `__seq_length` → `_seq_length`: exactly one leading `_` goes.
pub fn column_name(name: &str) -> &str {
    name.strip_prefix('_').unwrap_or(name)
}

/// The prefix a top-level column gets when its name is already taken.
pub fn scope_prefix(scope: Scope) -> &'static str {
    match scope {
        Scope::PacketHeader => "packet_header_",
        Scope::PacketContext => "packet_ctx_",
        Scope::EventHeader => "event_header_",
        Scope::StreamEventContext => "stream_ctx_",
        Scope::EventContext => "event_ctx_",
        Scope::EventPayload => "payload_",
    }
}

/// Packet context fields babeltrace2 hides (and `cpu_id`, which is the envelope `cpu`).
pub fn is_hidden_packet_context_field(name: &str) -> bool {
    matches!(
        name,
        "timestamp_begin"
            | "timestamp_end"
            | "content_size"
            | "packet_size"
            | "packet_seq_num"
            | "events_discarded"
            | "cpu_id"
    )
}

/// Smallest Arrow integer holding an N-bit integer, signedness kept.
pub fn int_type(t: &IntegerType) -> DataType {
    match (t.signed, t.size) {
        (true, 0..=8) => DataType::Int8,
        (true, 9..=16) => DataType::Int16,
        (true, 17..=32) => DataType::Int32,
        (true, _) => DataType::Int64,
        (false, 0..=8) => DataType::UInt8,
        (false, 9..=16) => DataType::UInt16,
        (false, 17..=32) => DataType::UInt32,
        (false, _) => DataType::UInt64,
    }
}

/// Float32 for the IEEE single layout, Float64 for anything else.
pub fn float_type(t: &FloatType) -> DataType {
    if t.exp_dig == 8 && t.mant_dig == 24 {
        DataType::Float32
    } else {
        DataType::Float64
    }
}

/// The Arrow type of an enum label.
pub fn label_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// The element of an array/sequence when it is text (8-bit, UTF8/ASCII encoded).
pub fn is_text_element(t: &FieldType) -> bool {
    matches!(t, FieldType::Integer(i) if i.size == 8 && i.encoding != Encoding::None)
}

/// An enum outside a struct-like position: `Struct{label, value}`.
pub fn enum_struct_type(container: &IntegerType) -> DataType {
    DataType::Struct(Fields::from(vec![
        Field::new("label", label_type(), true),
        Field::new("value", int_type(container), true),
    ]))
}

/// A list/array child field.
pub fn item_field(ty: DataType) -> Arc<Field> {
    Arc::new(Field::new("item", ty, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_underscore_is_stripped() {
        assert_eq!(column_name("_vpid"), "vpid");
        assert_eq!(column_name("__seq_length"), "_seq_length");
        assert_eq!(column_name("x"), "x");
    }
}
