//! Native decoding of the two event headers every LTTng tracer writes
//! (`event_header_compact` and `event_header_large`, see
//! `lttng-ring-buffer-client.h`), recognized by their exact layout.
//!
//! The general plan for these headers is an enum, a variant and a
//! clock-mapped integer per event: a handful of dispatches, range lookups and
//! branches on the hottest path there is. Recognized here, the header is a
//! couple of loads. Any other header layout keeps the general plan; the two
//! must agree, and the unit tests compare them.

use super::bits::BitReader;
use super::clock::update_clock;
use super::error::DecodeErrorKind;
use super::exec::ExecState;
use super::plan::REG_EVENT_ID;
use std::collections::HashMap;

use crate::metadata::{
    ByteOrder, EnumType, Field, FieldPath, FieldType, IntegerType, Scope, StructType,
};

/// A recognized LTTng event header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FastHeader {
    layout: Layout,
    /// The register the `id` enum feeds (the variant's tag), if any:
    /// written with the raw enum value, as the general plan does.
    tag_reg: Option<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// 5-bit id and 27-bit timestamp in one 32-bit word; id 31 = extended.
    Compact,
    /// 16-bit id, 32-bit timestamp; id 65535 = extended.
    Large,
}

impl FastHeader {
    /// The fast form of `header`, if it is exactly one of LTTng's, little
    /// endian, with clock-mapped timestamps, and nothing outside it reads
    /// its fields other than the `id` tag (register `tag_reg`).
    pub(crate) fn recognize(
        header: &StructType,
        regs: &HashMap<FieldPath, u16>,
    ) -> Option<FastHeader> {
        let mut tag_reg = None;
        for (path, &reg) in regs.iter().filter(|(p, _)| p.scope == Scope::EventHeader) {
            if path.indexes != [0] {
                return None;
            }
            tag_reg = Some(reg);
        }
        Some(FastHeader {
            layout: Self::layout(header)?,
            tag_reg,
        })
    }

    fn layout(header: &StructType) -> Option<Layout> {
        let [id, v] = header.fields.as_slice() else {
            return None;
        };
        if id.name != "id" || v.name != "v" || header.min_align > 8 {
            return None;
        }
        let FieldType::Enum(id_enum) = &id.ty else {
            return None;
        };
        let FieldType::Variant(var) = &v.ty else {
            return None;
        };
        let [compact, extended] = var.options.as_slice() else {
            return None;
        };
        if compact.name != "compact" || extended.name != "extended" {
            return None;
        }
        // extended: { uint32_t id; uint64 timestamp (clock) }
        let [ext_id, ext_ts] = members(extended)? else {
            return None;
        };
        let ext_ok = ext_id.name == "id"
            && is_int(&ext_id.ty, 32, 8, false)
            && ext_ts.name == "timestamp"
            && is_int(&ext_ts.ty, 64, 8, true);
        let [ts] = members(compact)? else { return None };
        if !ext_ok || ts.name != "timestamp" {
            return None;
        }
        if is_int(&ts.ty, 27, 1, true) && is_id(id_enum, 5, 1, 31) {
            Some(Layout::Compact)
        } else if is_int(&ts.ty, 32, 8, true) && is_id(id_enum, 16, 8, 65535) {
            Some(Layout::Large)
        } else {
            None
        }
    }

    /// Reads one header at `r`: the event id into its register, the
    /// timestamp into the running clock, as the general plan would.
    #[inline(always)]
    pub(crate) fn read(
        self,
        r: &mut BitReader<'_>,
        st: &mut ExecState,
    ) -> Result<(), DecodeErrorKind> {
        r.align(8)?;
        let (tag, (id, ts, bits)) = match self.layout {
            Layout::Large => {
                let tag = u16::from_le_bytes(r.bytes()?);
                if tag != u16::MAX {
                    let ts = u32::from_le_bytes(r.bytes()?);
                    (u64::from(tag), (u64::from(tag), u64::from(ts), 32))
                } else {
                    (u64::from(tag), extended(r)?)
                }
            }
            Layout::Compact => {
                let tag = r.peek_byte()? & 0x1f;
                if tag != 0x1f {
                    let word = u32::from_le_bytes(r.bytes()?);
                    (u64::from(tag), (u64::from(tag), u64::from(word >> 5), 27))
                } else {
                    r.bytes::<1>()?;
                    (u64::from(tag), extended(r)?)
                }
            }
        };
        st.clock = update_clock(st.clock, ts, bits);
        if let Some(reg) = st.regs.get_mut(REG_EVENT_ID as usize) {
            *reg = id;
        }
        if let Some(reg) = self.tag_reg.and_then(|r| st.regs.get_mut(r as usize)) {
            *reg = tag;
        }
        Ok(())
    }
}

/// `struct { uint32_t id; uint64_t timestamp; } extended`, byte aligned.
#[inline(always)]
fn extended(r: &mut BitReader<'_>) -> Result<(u64, u64, u32), DecodeErrorKind> {
    let id = u64::from(u32::from_le_bytes(r.bytes()?));
    let ts = u64::from_le_bytes(r.bytes()?);
    Ok((id, ts, 64))
}

fn members(option: &Field) -> Option<&[Field]> {
    match &option.ty {
        FieldType::Struct(s) if s.min_align <= 8 => Some(&s.fields),
        _ => None,
    }
}

fn plain(t: &IntegerType, size: u32, align: u32) -> bool {
    t.size == size && t.align == align && !t.signed && t.byte_order == ByteOrder::Little
}

fn is_int(ty: &FieldType, size: u32, align: u32, clock: bool) -> bool {
    matches!(ty, FieldType::Integer(t) if plain(t, size, align) && t.mapped_clock.is_some() == clock)
}

/// `enum : uintN_t { compact = 0 ... ext-1, extended = ext }`.
fn is_id(e: &EnumType, size: u32, align: u32, ext: i128) -> bool {
    let [c, x] = e.mappings.as_slice() else {
        return false;
    };
    plain(&e.container, size, align)
        && e.container.mapped_clock.is_none()
        && c.label == "compact"
        && c.ranges == [(0, ext - 1)]
        && x.label == "extended"
        && x.ranges == [(ext, ext)]
}
