//! Attribute values (`name = value;`) and how the attributes of `integer`,
//! `floating_point` and `string` blocks become model types.

use std::borrow::Cow;

use super::error::{MetadataError, Pos};
use super::model::{ByteOrder, ClockClass, Encoding, FloatType, IntegerType};

/// The right-hand side of `name = value;`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// An integer literal, possibly negated.
    Int(i128),
    /// A string or character literal.
    Str(String),
    /// An identifier or a dotted path of identifiers (`le`, `clock.monotonic.value`).
    Path(Vec<String>),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Path(p) => write!(f, "{}", p.join(".")),
        }
    }
}

/// One `name = value;` of a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attr<'a> {
    pub name: Cow<'a, str>,
    pub pos: Pos,
    pub value: Value,
}

impl Attr<'_> {
    fn invalid(&self, why: &str) -> MetadataError {
        MetadataError::InvalidAttribute {
            pos: self.pos,
            name: self.name.to_string(),
            value: format!("{} ({why})", self.value),
        }
    }

    /// The value as an unsigned integer.
    pub(crate) fn uint(&self) -> Result<u64, MetadataError> {
        match self.value {
            Value::Int(v) => {
                u64::try_from(v).map_err(|_| self.invalid("expected an unsigned integer"))
            }
            _ => Err(self.invalid("expected an unsigned integer")),
        }
    }

    /// The value as a signed 64-bit integer.
    pub(crate) fn int(&self) -> Result<i64, MetadataError> {
        match self.value {
            Value::Int(v) => {
                i64::try_from(v).map_err(|_| self.invalid("expected a 64-bit signed integer"))
            }
            _ => Err(self.invalid("expected an integer")),
        }
    }

    /// The value as a `u32` in `range`.
    pub(crate) fn u32_in(
        &self,
        range: std::ops::RangeInclusive<u32>,
    ) -> Result<u32, MetadataError> {
        let v = self.uint()?;
        u32::try_from(v)
            .ok()
            .filter(|v| range.contains(v))
            .ok_or_else(|| {
                self.invalid(&format!("out of range {}..={}", range.start(), range.end()))
            })
    }

    /// An alignment: a power of two.
    pub(crate) fn align(&self) -> Result<u32, MetadataError> {
        let v = self.u32_in(1..=u32::MAX)?;
        if v.is_power_of_two() {
            Ok(v)
        } else {
            Err(self.invalid("not a power of two"))
        }
    }

    /// A string literal, or an identifier taken as text (TSDL writers do both).
    pub(crate) fn text(&self) -> Result<String, MetadataError> {
        match &self.value {
            Value::Str(s) => Ok(s.clone()),
            Value::Path(p) => Ok(p.join(".")),
            Value::Int(_) => Err(self.invalid("expected a string")),
        }
    }

    /// A string literal only.
    pub(crate) fn string(&self) -> Result<String, MetadataError> {
        match &self.value {
            Value::Str(s) => Ok(s.clone()),
            _ => Err(self.invalid("expected a string literal")),
        }
    }

    /// A boolean: true/TRUE/1 or false/FALSE/0.
    pub(crate) fn boolean(&self) -> Result<bool, MetadataError> {
        match &self.value {
            Value::Int(1) => Ok(true),
            Value::Int(0) => Ok(false),
            Value::Path(p) if p.len() == 1 && matches!(p[0].as_str(), "true" | "TRUE") => Ok(true),
            Value::Path(p) if p.len() == 1 && matches!(p[0].as_str(), "false" | "FALSE") => {
                Ok(false)
            }
            _ => Err(self.invalid("expected a boolean")),
        }
    }

    fn word(&self) -> Option<&str> {
        match &self.value {
            Value::Path(p) if p.len() == 1 => Some(&p[0]),
            _ => None,
        }
    }

    /// A byte order; `native` gives `native`.
    pub(crate) fn byte_order(&self, native: ByteOrder) -> Result<ByteOrder, MetadataError> {
        match self.word() {
            Some("native") => Ok(native),
            Some(w) => {
                trace_byte_order(w).ok_or_else(|| self.invalid("expected native/network/be/le"))
            }
            None => Err(self.invalid("expected native/network/be/le")),
        }
    }

    /// The trace's own byte order: `native` would be circular.
    pub(crate) fn trace_byte_order(&self) -> Result<ByteOrder, MetadataError> {
        self.word().and_then(trace_byte_order).ok_or_else(|| {
            self.invalid("expected be/le/network; the trace byte order cannot be native")
        })
    }

    /// A UUID string `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
    pub(crate) fn uuid(&self) -> Result<[u8; 16], MetadataError> {
        let s = self.string()?;
        parse_uuid(&s).ok_or_else(|| self.invalid("not a UUID"))
    }

    fn encoding(&self) -> Result<Encoding, MetadataError> {
        let w = self.text()?;
        match w.to_ascii_uppercase().as_str() {
            "NONE" => Ok(Encoding::None),
            "UTF8" | "UTF-8" => Ok(Encoding::Utf8),
            "ASCII" => Ok(Encoding::Ascii),
            _ => Err(self.invalid("expected none/UTF8/ASCII")),
        }
    }
}

/// A non-native byte order word.
pub(crate) fn trace_byte_order(w: &str) -> Option<ByteOrder> {
    match w {
        "be" | "network" | "big" => Some(ByteOrder::Big),
        "le" | "little" => Some(ByteOrder::Little),
        _ => None,
    }
}

/// Parses a canonical UUID text.
pub(crate) fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
        return None;
    }
    let hex: Vec<u8> = b.iter().copied().filter(|&c| c != b'-').collect();
    let mut out = [0u8; 16];
    for (o, pair) in out.iter_mut().zip(hex.chunks(2)) {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (*pair.get(1)? as char).to_digit(16)?;
        *o = u8::try_from(hi * 16 + lo).ok()?;
    }
    (hex.len() == 32).then_some(out)
}

/// Finds an attribute by name.
fn get<'a, 'n>(attrs: &'a [Attr<'n>], name: &str) -> Option<&'a Attr<'n>> {
    attrs.iter().find(|a| a.name == name)
}

/// Warnings for attributes outside `known`.
fn unknown(attrs: &[Attr<'_>], known: &[&str], block: &str, warnings: &mut Vec<String>) {
    for a in attrs.iter().filter(|a| !known.contains(&&*a.name)) {
        warnings.push(format!(
            "line {}: unknown attribute `{}` in {block}",
            a.pos.line, a.name
        ));
    }
}

/// `integer { ... }` attributes → [`IntegerType`].
pub(crate) fn integer(
    attrs: &[Attr<'_>],
    pos: Pos,
    native: ByteOrder,
    clocks: &[ClockClass],
    warnings: &mut Vec<String>,
) -> Result<IntegerType, MetadataError> {
    const KNOWN: [&str; 7] = [
        "size",
        "align",
        "signed",
        "byte_order",
        "base",
        "encoding",
        "map",
    ];
    unknown(attrs, &KNOWN, "integer", warnings);
    let size = get(attrs, "size")
        .ok_or(MetadataError::MissingAttribute {
            pos,
            name: "size",
            block: "integer",
        })?
        .u32_in(1..=64)?;
    let align = match get(attrs, "align") {
        Some(a) => a.align()?,
        None if size % 8 == 0 => 8,
        None => 1,
    };
    let signed = get(attrs, "signed")
        .map(Attr::boolean)
        .transpose()?
        .unwrap_or(false);
    let byte_order = get(attrs, "byte_order")
        .map(|a| a.byte_order(native))
        .transpose()?
        .unwrap_or(native);
    let base = match get(attrs, "base") {
        None => 10,
        Some(a) => match (&a.value, a.word()) {
            (Value::Int(v @ (2 | 8 | 10 | 16)), _) => *v as u32,
            (_, Some("decimal" | "dec" | "d" | "i" | "u")) => 10,
            (_, Some("hexadecimal" | "hex" | "x" | "X" | "p")) => 16,
            (_, Some("octal" | "oct" | "o")) => 8,
            (_, Some("binary" | "b")) => 2,
            _ => return Err(a.invalid("expected a base")),
        },
    };
    let encoding = get(attrs, "encoding")
        .map(Attr::encoding)
        .transpose()?
        .unwrap_or(Encoding::None);
    let mapped_clock = match get(attrs, "map") {
        None => None,
        Some(a) => match &a.value {
            // The clock must be declared before (babeltrace2 refuses otherwise).
            Value::Path(p) if p.len() == 3 && p[0] == "clock" && p[2] == "value" => {
                if !clocks.iter().any(|c| c.name == p[1]) {
                    return Err(a.invalid("no clock of this name declared before"));
                }
                Some(p[1].clone())
            }
            _ => return Err(a.invalid("expected clock.NAME.value")),
        },
    };
    Ok(IntegerType {
        size,
        align,
        signed,
        byte_order,
        base,
        encoding,
        mapped_clock,
    })
}

/// `floating_point { ... }` attributes → [`FloatType`] (32- and 64-bit IEEE 754 only,
/// as babeltrace2).
pub(crate) fn float(
    attrs: &[Attr<'_>],
    pos: Pos,
    native: ByteOrder,
    warnings: &mut Vec<String>,
) -> Result<FloatType, MetadataError> {
    unknown(
        attrs,
        &["exp_dig", "mant_dig", "byte_order", "align"],
        "floating_point",
        warnings,
    );
    let exp = get(attrs, "exp_dig").ok_or(MetadataError::MissingAttribute {
        pos,
        name: "exp_dig",
        block: "floating_point",
    })?;
    let mant = get(attrs, "mant_dig").ok_or(MetadataError::MissingAttribute {
        pos,
        name: "mant_dig",
        block: "floating_point",
    })?;
    let (exp_dig, mant_dig) = (exp.u32_in(1..=64)?, mant.u32_in(1..=64)?);
    if !matches!((exp_dig, mant_dig), (8, 24) | (11, 53)) {
        return Err(mant.invalid("only exp_dig/mant_dig 8/24 and 11/53 are supported"));
    }
    let align = match get(attrs, "align") {
        Some(a) => a.align()?,
        None => 8,
    };
    let byte_order = get(attrs, "byte_order")
        .map(|a| a.byte_order(native))
        .transpose()?
        .unwrap_or(native);
    Ok(FloatType {
        exp_dig,
        mant_dig,
        align,
        byte_order,
    })
}

/// `string { ... }` attributes → its encoding.
pub(crate) fn string(
    attrs: &[Attr<'_>],
    warnings: &mut Vec<String>,
) -> Result<Encoding, MetadataError> {
    unknown(attrs, &["encoding"], "string", warnings);
    Ok(get(attrs, "encoding")
        .map(Attr::encoding)
        .transpose()?
        .unwrap_or(Encoding::Utf8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_text_is_parsed() {
        let u = parse_uuid("2a6422d0-6cee-11e0-8c08-cb07d7b3a564").unwrap();
        assert_eq!(u[0], 0x2a);
        assert_eq!(u[15], 0x64);
        assert!(parse_uuid("2a6422d0-6cee-11e0-8c08-cb07d7b3a56").is_none());
        assert!(parse_uuid("2a6422d0x6cee-11e0-8c08-cb07d7b3a564").is_none());
        assert!(parse_uuid("éa6422d0-6cee-11e0-8c08-cb07d7b3a56").is_none());
    }
}
