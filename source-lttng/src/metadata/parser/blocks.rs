//! The top-level blocks: `trace`, `env`, `clock`, `stream`, `event` and
//! (ignored) `callsite`, with their attributes checked and defaulted.

use super::{EventDecl, Parser, StreamDecl, TraceDecl};
use crate::metadata::attrs::{Attr, Value};
use crate::metadata::error::{MetadataError, Pos};
use crate::metadata::model::{ClockClass, EnvValue};

impl Parser<'_> {
    fn warn_unknown(&mut self, block: &str, name: &str, pos: Pos) {
        self.out.warnings.push(format!(
            "line {}: unknown attribute `{name}` in {block} block",
            pos.line
        ));
    }

    pub(super) fn trace_block(&mut self, pos: Pos) -> Result<(), MetadataError> {
        if self.out.trace.is_some() {
            return Err(MetadataError::Duplicate {
                pos,
                name: "trace".into(),
            });
        }
        let mut t = TraceDecl {
            pos,
            ..TraceDecl::default()
        };
        let (mut major, mut minor) = (None, None);
        self.entries(|p, name, pos, rhs| {
            let a = |value| Attr {
                name: name.clone(),
                pos,
                value,
            };
            match (&*name, rhs) {
                ("major", Ok(v)) => major = Some((a(v).uint()?, pos)),
                ("minor", Ok(v)) => minor = Some((a(v).uint()?, pos)),
                ("uuid", Ok(v)) => t.uuid = Some(a(v).uuid()?),
                ("byte_order", Ok(v)) => t.byte_order = Some(a(v).trace_byte_order()?),
                ("packet.header", Err(ty)) => t.packet_header = Some(ty),
                _ => p.warn_unknown("trace", &name, pos),
            }
            Ok(())
        })?;
        for (what, got, want) in [("major", major, 1), ("minor", minor, 8)] {
            match got {
                None => {
                    return Err(MetadataError::MissingAttribute {
                        pos,
                        name: what,
                        block: "trace",
                    });
                }
                Some((v, p)) if v != want => {
                    return Err(MetadataError::InvalidAttribute {
                        pos: p,
                        name: what.into(),
                        value: format!("{v} (expected {want})"),
                    });
                }
                _ => {}
            }
        }
        if t.byte_order.is_none() {
            return Err(MetadataError::MissingAttribute {
                pos,
                name: "byte_order",
                block: "trace",
            });
        }
        self.out.trace = Some(t);
        Ok(())
    }

    pub(super) fn env_block(&mut self) -> Result<(), MetadataError> {
        self.entries(|p, name, pos, rhs| {
            match rhs {
                Ok(Value::Int(v)) => {
                    let v = Attr {
                        name: name.clone(),
                        pos,
                        value: Value::Int(v),
                    }
                    .int()?;
                    p.out.env.push((name.into_owned(), EnvValue::Int(v)));
                }
                Ok(Value::Str(s)) => p.out.env.push((name.into_owned(), EnvValue::Str(s))),
                _ => p.out.warnings.push(format!(
                    "line {}: env entry `{name}` is neither an integer nor a string: ignored",
                    pos.line
                )),
            }
            Ok(())
        })
    }

    pub(super) fn clock_block(&mut self, pos: Pos) -> Result<(), MetadataError> {
        let mut c = ClockClass {
            name: String::new(),
            uuid: None,
            description: None,
            freq: 1_000_000_000,
            precision: 0,
            offset_s: 0,
            offset: 0,
            absolute: false,
        };
        let mut named = false;
        self.entries(|p, name, pos, rhs| {
            let Ok(value) = rhs else {
                p.warn_unknown("clock", &name, pos);
                return Ok(());
            };
            let a = Attr {
                name: name.clone(),
                pos,
                value,
            };
            match &*name {
                "name" => {
                    c.name = a.text()?;
                    named = true;
                }
                "uuid" => c.uuid = Some(a.uuid()?),
                "description" => c.description = Some(a.text()?),
                "freq" => {
                    c.freq = a.uint()?;
                    if c.freq == 0 {
                        return Err(MetadataError::InvalidAttribute {
                            pos,
                            name: name.to_string(),
                            value: "0 (must be > 0)".into(),
                        });
                    }
                }
                "precision" => c.precision = a.uint()?,
                "offset_s" => c.offset_s = a.int()?,
                "offset" => c.offset = a.int()?,
                "absolute" => c.absolute = a.boolean()?,
                _ => p.warn_unknown("clock", &name, pos),
            }
            Ok(())
        })?;
        if !named {
            return Err(MetadataError::MissingAttribute {
                pos,
                name: "name",
                block: "clock",
            });
        }
        if self.out.clocks.iter().any(|k| k.name == c.name) {
            return Err(MetadataError::Duplicate {
                pos,
                name: format!("clock {}", c.name),
            });
        }
        self.out.clocks.push(c);
        Ok(())
    }

    pub(super) fn stream_block(&mut self, pos: Pos) -> Result<(), MetadataError> {
        let mut s = StreamDecl {
            pos,
            ..StreamDecl::default()
        };
        self.entries(|p, name, pos, rhs| {
            match (&*name, rhs) {
                ("id", Ok(v)) => {
                    s.id = Some(
                        Attr {
                            name,
                            pos,
                            value: v,
                        }
                        .uint()?,
                    )
                }
                ("packet.context", Err(ty)) => s.packet_context = Some(ty),
                ("event.header", Err(ty)) => s.event_header = Some(ty),
                ("event.context", Err(ty)) => s.event_context = Some(ty),
                _ => p.warn_unknown("stream", &name, pos),
            }
            Ok(())
        })?;
        self.out.streams.push(s);
        Ok(())
    }

    pub(super) fn event_block(&mut self, pos: Pos) -> Result<(), MetadataError> {
        let mut e = EventDecl {
            pos,
            ..EventDecl::default()
        };
        self.entries(|p, name, pos, rhs| {
            let a = |value| Attr {
                name: name.clone(),
                pos,
                value,
            };
            match (&*name, rhs) {
                ("name", Ok(v)) => e.name = Some(a(v).text()?),
                ("id", Ok(v)) => e.id = Some(a(v).uint()?),
                ("stream_id", Ok(v)) => e.stream_id = Some(a(v).uint()?),
                ("loglevel", Ok(v)) => e.loglevel = Some(a(v).int()?),
                ("model.emf.uri", Ok(v)) => e.model_emf_uri = Some(a(v).text()?),
                ("context", Err(ty)) => e.context = Some(ty),
                ("fields", Err(ty)) => e.fields = Some(ty),
                _ => p.warn_unknown("event", &name, pos),
            }
            Ok(())
        })?;
        if e.name.is_none() {
            return Err(MetadataError::MissingAttribute {
                pos,
                name: "name",
                block: "event",
            });
        }
        self.out.events.push(e);
        Ok(())
    }

    pub(super) fn callsite_block(&mut self) -> Result<(), MetadataError> {
        self.entries(|_, _, _, _| Ok(()))
    }
}
