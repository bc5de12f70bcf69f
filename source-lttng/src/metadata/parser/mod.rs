//! TSDL recursive-descent parser. Type declarations are resolved while
//! parsing (aliases are expanded in lexical scope, integer attributes are
//! defaulted, `native` becomes the trace byte order found by a pre-scan), so
//! what comes out are the top-level blocks with intermediate [`Ty`] scopes;
//! [`super::resolve`] then resolves paths and assembles the model.

use std::borrow::Cow;
use std::collections::HashMap;

use super::attrs::{self, Attr, Value};
use super::error::{MetadataError, Pos};
use super::lexer::{Tok, Token};
use super::model::{ByteOrder, ClockClass, EnvValue};
use super::types::{MAX_DEPTH, PathRef, Ty};

/// Type nodes that alias expansion and declarators may produce in one metadata
/// text (bounds memory on hostile input: a few lines can describe 2^n members).
/// The 1,400-event-class kernel metadata uses about 9,300, so this leaves more
/// than 100x headroom.
const MAX_NODES: u64 = 1 << 20;

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
enum Spec<'t> {
    Ty(Ty),
    Alias(Cow<'t, str>, Pos),
}

/// The name spaces of declared types: `typealias`/`typedef` names and the
/// tags of `struct X`, `variant X`, `enum X` are separate, as in C.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Alias,
    Struct,
    Variant,
    Enum,
}

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::Alias => "",
            Kind::Struct => "struct ",
            Kind::Variant => "variant ",
            Kind::Enum => "enum ",
        }
    }
}

/// Declarations of one lexical scope, indexed by [`Kind`].
type Decls = [HashMap<String, Ty>; 4];

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
    toks: &'t [Token<'t>],
    i: usize,
    depth: usize,
    scopes: Vec<Decls>,
    budget: u64,
    out: Parsed,
}

/// Finds `byte_order` of the `trace` block by scanning tokens, so that types
/// declared before the trace block can resolve `native`.
fn prescan_byte_order(toks: &[Token<'_>]) -> Option<ByteOrder> {
    let is = |i: usize, t: &Tok| toks.get(i).is_some_and(|x| &x.tok == t);
    let start = (0..toks.len())
        .find(|&i| matches!(toks[i].tok, Tok::Ident("trace")) && is(i + 1, &Tok::Punct("{")))?;
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
            Tok::Ident("byte_order") if depth == 1 && is(i + 1, &Tok::Punct("=")) => {
                if let Some(&Tok::Ident(w)) = toks.get(i + 2).map(|t| &t.tok) {
                    return attrs::trace_byte_order(w);
                }
            }
            _ => {}
        }
    }
    None
}

impl<'t> Parser<'t> {
    pub(crate) fn new(toks: &'t [Token<'t>]) -> Self {
        let native = prescan_byte_order(toks).unwrap_or(ByteOrder::Little);
        Parser {
            toks,
            i: 0,
            depth: 0,
            scopes: vec![Decls::default()],
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

    fn peek(&self) -> Option<&'t Tok<'t>> {
        self.toks.get(self.i).map(|t| &t.tok)
    }

    fn peek_at(&self, k: usize) -> Option<&'t Tok<'t>> {
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
        matches!(self.peek(), Some(&Tok::Ident(s)) if s == w)
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
            Some(&Tok::Ident(s)) => {
                let pos = self.pos();
                self.i += 1;
                Ok((s.to_string(), pos))
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

    fn declare(&mut self, kind: Kind, name: String, ty: Ty) {
        if let Some(s) = self.scopes.last_mut() {
            s[kind as usize].insert(name, ty);
        }
    }

    fn find_decl(&self, kind: Kind, name: &str) -> Option<&Ty> {
        self.scopes
            .iter()
            .rev()
            .find_map(|s| s[kind as usize].get(name))
    }

    /// A declared type, charged to the expansion budget before it is copied.
    fn lookup(&mut self, kind: Kind, name: &str, pos: Pos) -> Result<Ty, MetadataError> {
        let unknown = || MetadataError::UnknownType {
            pos,
            name: format!("{}{name}", kind.prefix()),
        };
        let nodes = self
            .find_decl(kind, name)
            .ok_or_else(unknown)?
            .shape()
            .nodes;
        self.charge(nodes, pos)?;
        self.find_decl(kind, name).cloned().ok_or_else(unknown)
    }

    /// Takes `nodes` from the expansion budget.
    fn charge(&mut self, nodes: u64, pos: Pos) -> Result<(), MetadataError> {
        self.budget = self
            .budget
            .checked_sub(nodes)
            .ok_or(MetadataError::TooLarge {
                pos,
                limit: MAX_NODES,
            })?;
        Ok(())
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
                Some(&Tok::Ident(s)) if self.peek_at(1) == Some(&Tok::Punct("{")) => match s {
                    "trace" | "env" | "clock" | "stream" | "event" | "callsite" => Some(s),
                    _ => None,
                },
                _ => None,
            };
            match block {
                Some(b) => {
                    let pos = self.pos();
                    self.i += 2;
                    self.enter()?;
                    self.scopes.push(Decls::default());
                    match b {
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
                self.declare(Kind::Alias, name, ty);
                if !self.eat(",") {
                    break;
                }
            }
            return self.expect(";", "`;` after typedef");
        }
        if !matches!(self.peek(), Some(Tok::Ident("struct" | "variant" | "enum"))) {
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
                Some(&Tok::Ident(w)) => words.push(w.to_string()),
                Some(Tok::Punct("*")) => words.push("*".to_string()),
                _ => break,
            }
            self.i += 1;
        }
        if words.is_empty() || words[0] == "*" {
            return Err(self.unexpected("an alias name"));
        }
        self.declare(Kind::Alias, words.join(" "), ty);
        self.expect(";", "`;` after typealias")
    }

    // ---- blocks ----

    /// Parses `name = value;` / `name := type;` entries and nested declarations
    /// until `}`, handing each entry to `f`.
    fn entries(
        &mut self,
        mut f: impl FnMut(&mut Self, Cow<'t, str>, Pos, Result<Value, Ty>) -> Result<(), MetadataError>,
    ) -> Result<(), MetadataError> {
        let mut seen: Vec<Cow<'t, str>> = Vec::with_capacity(8);
        loop {
            if self.eat("}") {
                return Ok(());
            }
            if matches!(
                self.peek(),
                Some(Tok::Ident(
                    "typealias" | "typedef" | "struct" | "variant" | "enum"
                ))
            ) {
                self.declaration()?;
                continue;
            }
            let pos = self.pos();
            let Some(&Tok::Ident(first)) = self.peek() else {
                return Err(self.unexpected("an attribute name or `}`"));
            };
            self.i += 1;
            let mut name = Cow::Borrowed(first);
            while self.eat(".") {
                let n = name.to_mut();
                n.push('.');
                n.push_str(&self.ident("an attribute name")?.0);
            }
            if seen.contains(&name) {
                return Err(MetadataError::Duplicate {
                    pos,
                    name: name.into_owned(),
                });
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
    fn attr_body(&mut self) -> Result<Vec<Attr<'t>>, MetadataError> {
        self.expect("{", "`{`")?;
        let mut attrs = Vec::with_capacity(8);
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
            Some(&Tok::Ident(s)) if !neg => {
                let mut path = vec![s.to_string()];
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
}

mod blocks;
mod specs;

#[cfg(test)]
mod tests {
    use crate::metadata::{MetadataError, parse_metadata};

    const HEAD: &str = "trace { major = 1; minor = 8; byte_order = le; };\n\
                        typealias integer { size = 8; } := u8;\n";

    #[test]
    fn deeply_nested_structs_are_refused_not_a_stack_overflow() {
        let n = 100_000;
        let text = format!(
            "{HEAD}typedef {} u8 x; {} y;",
            "struct { ".repeat(n),
            "} x; ".repeat(n)
        );
        assert!(matches!(
            parse_metadata(&text),
            Err(MetadataError::TooDeep { .. })
        ));
    }

    #[test]
    fn chained_enum_containers_are_refused_not_a_stack_overflow() {
        let text = format!("{HEAD}typedef {} u8 {{ A }} e;", "enum : ".repeat(100_000));
        assert!(matches!(
            parse_metadata(&text),
            Err(MetadataError::TooDeep { .. })
        ));
    }

    #[test]
    fn nesting_through_typedef_chains_is_refused() {
        let mut text = String::from(HEAD);
        text.push_str("typedef u8 t0[1];\n");
        for i in 1..200 {
            text.push_str(&format!("typedef t{} t{i}[1];\n", i - 1));
        }
        assert!(matches!(
            parse_metadata(&text),
            Err(MetadataError::TooDeep { .. })
        ));
    }

    #[test]
    fn alias_expansion_bombs_are_refused() {
        let mut text = String::from(HEAD);
        text.push_str("typedef struct { u8 a; u8 b; } t0;\n");
        for i in 1..64 {
            text.push_str(&format!(
                "typedef struct {{ t{p} a; t{p} b; }} t{i};\n",
                p = i - 1
            ));
        }
        assert!(matches!(
            parse_metadata(&text),
            Err(MetadataError::TooLarge { .. })
        ));
    }

    #[test]
    fn many_declarators_of_one_inline_type_are_charged() {
        let big = format!(
            "struct {{ {} }}",
            (0..5000).map(|i| format!("u8 f{i};")).collect::<String>()
        );
        let names = (0..1000)
            .map(|i| format!("v{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let text = format!("{HEAD}event {{ name = e; fields := struct {{ {big} {names}; }}; }};");
        assert!(matches!(
            parse_metadata(&text),
            Err(MetadataError::TooLarge { .. })
        ));
    }
}
