//! The Arrow side of the contract (notes/arrow-mapping.md): column names and
//! the Arrow type of each CTF field type.

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
