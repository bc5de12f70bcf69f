//! TSDL recursive-descent parser. Type declarations are resolved while
//! parsing (aliases are expanded in lexical scope, integer attributes are
//! defaulted, `native` becomes the trace byte order found by a pre-scan), so
//! what comes out are the top-level blocks with intermediate [`Ty`] scopes;
//! [`super::resolve`] then resolves paths and assembles the model.

use std::collections::HashMap;

use super::attrs::{self, Attr, Value};
use super::error::{MetadataError, Pos};
use super::lexer::{Tok, Token};
use super::model::{ByteOrder, ClockClass, EnvValue};
use super::types::{MAX_DEPTH, PathRef, Ty};

/// Total type nodes alias expansion may produce (bounds memory on hostile input;
/// the 1,400-event kernel metadata needs about 30,000).
const MAX_NODES: u64 = 1 << 22;

/// C type keywords that combine into alias names (`unsigned long`).
const C_TYPE_WORDS: [&str; 13] = [
    "const",
    "char",
    "double",
    "float",
    "int",
    "long",
    "short",
    "signed",
    "unsigned",
    "void",
    "_Bool",
    "_Complex",
    "_Imaginary",
];

/// `trace { ... }`.
#[derive(Debug, Default)]
pub(crate) struct TraceDecl {
    pub pos: Pos,
    pub uuid: Option<[u8; 16]>,
    pub byte_order: Option<ByteOrder>,
    pub packet_header: Option<Ty>,
}

/// `stream { ... }`.
#[derive(Debug, Default)]
pub(crate) struct StreamDecl {
    pub pos: Pos,
    pub id: Option<u64>,
    pub packet_context: Option<Ty>,
    pub event_header: Option<Ty>,
    pub event_context: Option<Ty>,
}

/// `event { ... }`.
#[derive(Debug, Default)]
pub(crate) struct EventDecl {
    pub pos: Pos,
    pub name: Option<String>,
    pub id: Option<u64>,
    pub stream_id: Option<u64>,
    pub loglevel: Option<i64>,
    pub model_emf_uri: Option<String>,
    pub context: Option<Ty>,
    pub fields: Option<Ty>,
}

/// Everything the text declares, in order.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub trace: Option<TraceDecl>,
    pub env: Vec<(String, EnvValue)>,
    pub clocks: Vec<ClockClass>,
    pub streams: Vec<StreamDecl>,
    pub events: Vec<EventDecl>,
    pub warnings: Vec<String>,
    pub native: ByteOrder,
}

/// A type specifier before declarators apply: alias names stay names because
/// a declarator's `*` changes which alias is meant (`void *`).
enum Spec {
    Ty(Ty),
    Alias(String, Pos),
}

/// A declarator: pointers, a name, array/sequence suffixes.
struct Declarator {
    pointers: usize,
    name: Option<String>,
    pos: Pos,
    dims: Vec<Dim>,
}

enum Dim {
    Fixed(u64),
    Path(PathRef),
}

pub(crate) struct Parser<'t> {
    toks: &'t [Token],
    i: usize,
    depth: usize,
    scopes: Vec<HashMap<String, Ty>>,
    budget: u64,
    out: Parsed,
}

/// Finds `byte_order` of the `trace` block by scanning tokens, so that types
/// declared before the trace block can resolve `native`.
fn prescan_byte_order(toks: &[Token]) -> Option<ByteOrder> {
    let is = |i: usize, t: &Tok| toks.get(i).is_some_and(|x| &x.tok == t);
    let start = (0..toks.len()).find(|&i| {
        matches!(&toks[i].tok, Tok::Ident(s) if s == "trace") && is(i + 1, &Tok::Punct("{"))
    })?;
    let mut depth = 0usize;
    for i in start + 1..toks.len() {
        match &toks[i].tok {
            Tok::Punct("{") => depth += 1,
            Tok::Punct("}") => {
                depth -= 1;
                if depth == 0 {
                    return None;
                }
            }
            Tok::Ident(s) if depth == 1 && s == "byte_order" && is(i + 1, &Tok::Punct("=")) => {
                if let Some(Tok::Ident(w)) = toks.get(i + 2).map(|t| &t.tok) {
                    return attrs::trace_byte_order(w);
                }
            }
            _ => {}
        }
    }
    None
}

impl<'t> Parser<'t> {
    pub(crate) fn new(toks: &'t [Token]) -> Self {
        let native = prescan_byte_order(toks).unwrap_or(ByteOrder::Little);
        Parser {
            toks,
            i: 0,
            depth: 0,
            scopes: vec![HashMap::new()],
            budget: MAX_NODES,
            out: Parsed {
                trace: None,
                env: Vec::new(),
                clocks: Vec::new(),
                streams: Vec::new(),
                events: Vec::new(),
                warnings: Vec::new(),
                native,
            },
        }
    }

    // ---- token helpers ----

    fn peek(&self) -> Option<&'t Tok> {
        self.toks.get(self.i).map(|t| &t.tok)
    }

    fn peek_at(&self, k: usize) -> Option<&'t Tok> {
        self.toks.get(self.i + k).map(|t| &t.tok)
    }

    fn pos(&self) -> Pos {
        match self.toks.get(self.i).or(self.toks.last()) {
            Some(t) => t.pos,
            None => Pos { line: 1, column: 1 },
        }
    }

    fn unexpected(&self, expected: &'static str) -> MetadataError {
        let found = match self.peek() {
            Some(t) => t.to_string(),
            None => "end of metadata".to_string(),
        };
        MetadataError::UnexpectedToken {
            pos: self.pos(),
            found,
            expected,
        }
    }

    fn is_punct(&self, p: &str) -> bool {
        matches!(self.peek(), Some(Tok::Punct(q)) if *q == p)
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(s)) if s == w)
    }

    fn eat(&mut self, p: &str) -> bool {
        let yes = self.is_punct(p);
        if yes {
            self.i += 1;
        }
        yes
    }

    fn expect(&mut self, p: &str, expected: &'static str) -> Result<(), MetadataError> {
        if self.eat(p) {
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    fn ident(&mut self, expected: &'static str) -> Result<(String, Pos), MetadataError> {
        match self.peek() {
            Some(Tok::Ident(s)) => {
                let pos = self.pos();
                self.i += 1;
                Ok((s.clone(), pos))
            }
            _ => Err(self.unexpected(expected)),
        }
    }

    fn enter(&mut self) -> Result<(), MetadataError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(MetadataError::TooDeep {
                pos: self.pos(),
                limit: MAX_DEPTH,
            });
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    // ---- scopes ----

    fn declare(&mut self, key: String, ty: Ty) {
        if let Some(s) = self.scopes.last_mut() {
            s.insert(key, ty);
        }
    }

    fn lookup(&mut self, key: &str, pos: Pos) -> Result<Ty, MetadataError> {
        let ty = self
            .scopes
            .iter()
            .rev()
            .find_map(|s| s.get(key))
            .ok_or_else(|| MetadataError::UnknownType {
                pos,
                name: key.to_string(),
            })?;
        self.budget = self
            .budget
            .checked_sub(ty.shape().nodes)
            .ok_or(MetadataError::TooLarge {
                pos,
                limit: MAX_NODES,
            })?;
        Ok(ty.clone())
    }

    /// Checks a freshly built compound type against the nesting limit.
    fn checked(&self, ty: Ty, pos: Pos) -> Result<Ty, MetadataError> {
        let s = ty.shape();
        if s.depth > MAX_DEPTH {
            return Err(MetadataError::TooDeep {
                pos,
                limit: MAX_DEPTH,
            });
        }
        if s.nodes > MAX_NODES {
            return Err(MetadataError::TooLarge {
                pos,
                limit: MAX_NODES,
            });
        }
        Ok(ty)
    }

    // ---- top level ----

    pub(crate) fn parse(mut self) -> Result<Parsed, MetadataError> {
        while self.peek().is_some() {
            let block = match self.peek() {
                Some(Tok::Ident(s)) if self.peek_at(1) == Some(&Tok::Punct("{")) => {
                    match s.as_str() {
                        "trace" | "env" | "clock" | "stream" | "event" | "callsite" => {
                            Some(s.clone())
                        }
                        _ => None,
                    }
                }
                _ => None,
            };
            match block {
                Some(b) => {
                    let pos = self.pos();
                    self.i += 2;
                    self.enter()?;
                    self.scopes.push(HashMap::new());
                    match b.as_str() {
                        "trace" => self.trace_block(pos)?,
                        "env" => self.env_block()?,
                        "clock" => self.clock_block(pos)?,
                        "stream" => self.stream_block(pos)?,
                        "event" => self.event_block(pos)?,
                        _ => self.callsite_block()?,
                    }
                    self.scopes.pop();
                    self.leave();
                    self.expect(";", "`;` after a block")?;
                }
                None => self.declaration()?,
            }
        }
        Ok(self.out)
    }

    /// `typealias`, `typedef` or a named struct/variant/enum declaration, up to its `;`.
    fn declaration(&mut self) -> Result<(), MetadataError> {
        if self.is_word("typealias") {
            self.i += 1;
            return self.typealias();
        }
        if self.is_word("typedef") {
            self.i += 1;
            let spec = self.type_spec()?;
            loop {
                let d = self.declarator()?;
                let name = d
                    .name
                    .clone()
                    .ok_or_else(|| self.unexpected("a typedef name"))?;
                let ty = self.apply(&spec, &d)?;
                self.declare(format!("alias {name}"), ty);
                if !self.eat(",") {
                    break;
                }
            }
            return self.expect(";", "`;` after typedef");
        }
        if !matches!(self.peek(), Some(Tok::Ident(s)) if matches!(s.as_str(), "struct" | "variant" | "enum"))
        {
            return Err(self.unexpected("a block, typealias, typedef or type declaration"));
        }
        self.type_spec()?;
        self.expect(";", "`;` after a type declaration")
    }

    fn typealias(&mut self) -> Result<(), MetadataError> {
        let spec = self.type_spec()?;
        let d = self.declarator()?;
        if d.name.is_some() {
            return Err(MetadataError::UnexpectedToken {
                pos: d.pos,
                found: "a name".into(),
                expected: "`:=` in typealias",
            });
        }
        let ty = self.apply(&spec, &d)?;
        self.expect(":=", "`:=` in typealias")?;
        let mut words = Vec::new();
        loop {
            match self.peek() {
                Some(Tok::Ident(w)) => words.push(w.clone()),
                Some(Tok::Punct("*")) => words.push("*".to_string()),
                _ => break,
            }
            self.i += 1;
        }
        if words.is_empty() || words[0] == "*" {
            return Err(self.unexpected("an alias name"));
        }
        self.declare(format!("alias {}", words.join(" ")), ty);
        self.expect(";", "`;` after typealias")
    }

    // ---- blocks ----

    /// Parses `name = value;` / `name := type;` entries and nested declarations
    /// until `}`, handing each entry to `f`.
    fn entries(
        &mut self,
        mut f: impl FnMut(&mut Self, String, Pos, Result<Value, Ty>) -> Result<(), MetadataError>,
    ) -> Result<(), MetadataError> {
        let mut seen: Vec<String> = Vec::new();
        loop {
            if self.eat("}") {
                return Ok(());
            }
            if matches!(self.peek(), Some(Tok::Ident(s)) if matches!(s.as_str(), "typealias" | "typedef" | "struct" | "variant" | "enum"))
            {
                self.declaration()?;
                continue;
            }
            let (mut name, pos) = self.ident("an attribute name or `}`")?;
            while self.eat(".") {
                name.push('.');
                name.push_str(&self.ident("an attribute name")?.0);
            }
            if seen.contains(&name) {
                return Err(MetadataError::Duplicate { pos, name });
            }
            seen.push(name.clone());
            let rhs = if self.eat(":=") {
                let spec = self.type_spec()?;
                let d = Declarator {
                    pointers: 0,
                    name: None,
                    pos,
                    dims: Vec::new(),
                };
                Err(self.apply(&spec, &d)?)
            } else if self.eat("=") {
                Ok(self.value()?)
            } else {
                return Err(self.unexpected("`=` or `:=`"));
            };
            self.expect(";", "`;` after an attribute")?;
            f(self, name, pos, rhs)?;
        }
    }

    /// Entries of an `integer`/`floating_point`/`string` block (values only).
    fn attr_body(&mut self) -> Result<Vec<Attr>, MetadataError> {
        self.expect("{", "`{`")?;
        let mut attrs = Vec::new();
        self.entries(|_, name, pos, rhs| match rhs {
            Ok(value) => {
                attrs.push(Attr { name, pos, value });
                Ok(())
            }
            Err(_) => Err(MetadataError::UnexpectedToken {
                pos,
                found: "`:=`".into(),
                expected: "`=`",
            }),
        })?;
        Ok(attrs)
    }

    fn value(&mut self) -> Result<Value, MetadataError> {
        let neg = if self.eat("-") {
            true
        } else {
            self.eat("+");
            false
        };
        let v = match self.peek() {
            Some(Tok::Int(v)) => {
                let v = i128::from(*v);
                Value::Int(if neg { -v } else { v })
            }
            Some(Tok::Str(s) | Tok::Char(s)) if !neg => Value::Str(s.clone()),
            Some(Tok::Ident(s)) if !neg => {
                let mut path = vec![s.clone()];
                self.i += 1;
                while self.eat(".") {
                    path.push(self.ident("an identifier after `.`")?.0);
                }
                return Ok(Value::Path(path));
            }
            _ => return Err(self.unexpected("a value")),
        };
        self.i += 1;
        Ok(v)
    }

    fn warn_unknown(&mut self, block: &str, name: &str, pos: Pos) {
        self.out.warnings.push(format!(
            "line {}: unknown attribute `{name}` in {block} block",
            pos.line
        ));
    }

    fn trace_block(&mut self, pos: Pos) -> Result<(), MetadataError> {
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
            match (name.as_str(), rhs) {
                ("major", Ok(v)) => major = Some((a(v).uint()?, pos)),
                ("minor", Ok(v)) => minor = Some((a(v).uint()?, pos)),
                ("uuid", Ok(v)) => t.uuid = Some(a(v).uuid()?),
                ("byte_order", Ok(v)) => {
                    let at = a(v);
                    t.byte_order =
                        Some(
                            at.byte_order(ByteOrder::Little)
                                .and_then(|o| match at.value {
                                    Value::Path(ref w) if w[0] == "native" => {
                                        Err(MetadataError::InvalidAttribute {
                                            pos,
                                            name: name.clone(),
                                            value: "native (the trace byte order cannot be native)"
                                                .into(),
                                        })
                                    }
                                    _ => Ok(o),
                                })?,
                        )
                }
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

    fn env_block(&mut self) -> Result<(), MetadataError> {
        self.entries(|p, name, pos, rhs| {
            match rhs {
                Ok(Value::Int(v)) => {
                    let v = Attr {
                        name: name.clone(),
                        pos,
                        value: Value::Int(v),
                    }
                    .int()?;
                    p.out.env.push((name, EnvValue::Int(v)));
                }
                Ok(Value::Str(s)) => p.out.env.push((name, EnvValue::Str(s))),
                _ => p.out.warnings.push(format!(
                    "line {}: env entry `{name}` is neither an integer nor a string: ignored",
                    pos.line
                )),
            }
            Ok(())
        })
    }

    fn clock_block(&mut self, pos: Pos) -> Result<(), MetadataError> {
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
            match name.as_str() {
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
                            name,
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

    fn stream_block(&mut self, pos: Pos) -> Result<(), MetadataError> {
        let mut s = StreamDecl {
            pos,
            ..StreamDecl::default()
        };
        self.entries(|p, name, pos, rhs| {
            match (name.as_str(), rhs) {
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

    fn event_block(&mut self, pos: Pos) -> Result<(), MetadataError> {
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
            match (name.as_str(), rhs) {
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

    fn callsite_block(&mut self) -> Result<(), MetadataError> {
        self.entries(|_, _, _, _| Ok(()))
    }
}

#[path = "parser_types.rs"]
mod parser_types;
