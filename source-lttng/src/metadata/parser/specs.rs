//! Type specifiers and declarators: `integer {..}`, `struct name {..} align(N)`,
//! `variant name <tag> {..}`, `enum name : T {..}`, alias names, and the
//! `*name[2][len]` declarators that turn a specifier into a field type.

use std::borrow::Cow;

use super::{C_TYPE_WORDS, Declarator, Decls, Dim, Kind, Parser, Spec};
use crate::metadata::attrs;
use crate::metadata::error::{MetadataError, Pos};
use crate::metadata::lexer::Tok;
use crate::metadata::model::{EnumMapping, EnumType};
use crate::metadata::types::{PathRef, Ty};

impl<'t> Parser<'t> {
    /// A type specifier. Every nested specifier (struct member, enum
    /// container, typealias in an integer block...) goes through here, so the
    /// depth check bounds the parser's recursion.
    pub(super) fn type_spec(&mut self) -> Result<Spec<'t>, MetadataError> {
        self.enter()?;
        let spec = self.type_spec_inner();
        self.leave();
        spec
    }

    fn type_spec_inner(&mut self) -> Result<Spec<'t>, MetadataError> {
        let pos = self.pos();
        let Some(&Tok::Ident(word)) = self.peek() else {
            return Err(self.unexpected("a type"));
        };
        match word {
            "integer" => {
                self.i += 1;
                let a = self.attr_body()?;
                let native = self.out.native;
                Ok(Spec::Ty(Ty::Int(attrs::integer(
                    &a,
                    pos,
                    native,
                    &self.out.clocks,
                    &mut self.out.warnings,
                )?)))
            }
            "floating_point" => {
                self.i += 1;
                let a = self.attr_body()?;
                let native = self.out.native;
                Ok(Spec::Ty(Ty::Float(attrs::float(
                    &a,
                    pos,
                    native,
                    &mut self.out.warnings,
                )?)))
            }
            "string" => {
                self.i += 1;
                let enc = if self.is_punct("{") {
                    let a = self.attr_body()?;
                    attrs::string(&a, &mut self.out.warnings)?
                } else {
                    crate::metadata::model::Encoding::Utf8
                };
                Ok(Spec::Ty(Ty::Str(enc)))
            }
            "struct" => {
                self.i += 1;
                self.struct_spec(pos).map(Spec::Ty)
            }
            "variant" => {
                self.i += 1;
                self.variant_spec(pos).map(Spec::Ty)
            }
            "enum" => {
                self.i += 1;
                self.enum_spec(pos).map(Spec::Ty)
            }
            w if C_TYPE_WORDS.contains(&w) => {
                let mut words = Vec::new();
                while let Some(&Tok::Ident(w)) = self.peek() {
                    if !C_TYPE_WORDS.contains(&w) {
                        break;
                    }
                    words.push(w);
                    self.i += 1;
                }
                Ok(Spec::Alias(Cow::Owned(words.join(" ")), pos))
            }
            _ => {
                self.i += 1;
                Ok(Spec::Alias(Cow::Borrowed(word), pos))
            }
        }
    }

    /// An optional name after `struct`/`variant`/`enum`.
    fn opt_name(&mut self) -> Option<String> {
        match self.peek() {
            Some(&Tok::Ident(s)) => {
                self.i += 1;
                Some(s.to_string())
            }
            _ => None,
        }
    }

    fn struct_spec(&mut self, pos: Pos) -> Result<Ty, MetadataError> {
        let name = self.opt_name();
        if !self.is_punct("{") {
            let Some(name) = name else {
                return Err(self.unexpected("a struct name or `{`"));
            };
            let ty = self.lookup(Kind::Struct, &name, pos)?;
            return self.opt_align(ty);
        }
        let fields = self.members("struct")?;
        let ty = self.checked(Ty::new_struct(fields, 1), pos)?;
        let ty = self.opt_align(ty)?;
        if let Some(name) = name {
            self.declare(Kind::Struct, name, ty.clone());
        }
        Ok(ty)
    }

    /// `align(N)` after a struct.
    fn opt_align(&mut self, mut ty: Ty) -> Result<Ty, MetadataError> {
        if !self.is_word("align") || self.peek_at(1) != Some(&Tok::Punct("(")) {
            return Ok(ty);
        }
        self.i += 2;
        let pos = self.pos();
        let value = self.value()?;
        let n = attrs::Attr {
            name: "align".into(),
            pos,
            value,
        }
        .align()?;
        self.expect(")", "`)`")?;
        if let Ty::Struct { min_align, .. } = &mut ty {
            *min_align = n;
        }
        Ok(ty)
    }

    fn variant_spec(&mut self, pos: Pos) -> Result<Ty, MetadataError> {
        let name = self.opt_name();
        let tag = if self.eat("<") {
            let p = self.path_text()?;
            self.expect(">", "`>` after a variant tag")?;
            Some(p)
        } else {
            None
        };
        if !self.is_punct("{") {
            let Some(name) = name else {
                return Err(self.unexpected("a variant name or `{`"));
            };
            let mut ty = self.lookup(Kind::Variant, &name, pos)?;
            if let (Ty::Variant { tag: t, .. }, Some(new)) = (&mut ty, tag) {
                *t = Some(new);
            }
            return Ok(ty);
        }
        let options = self.members("variant")?;
        let ty = self.checked(Ty::new_variant(tag, options, pos), pos)?;
        if let Some(name) = name {
            self.declare(Kind::Variant, name, ty.clone());
        }
        Ok(ty)
    }

    /// A dotted path (variant tag, sequence length).
    fn path_text(&mut self) -> Result<PathRef, MetadataError> {
        let (mut text, pos) = self.ident("a field path")?;
        while self.eat(".") {
            text.push('.');
            text.push_str(&self.ident("a field name after `.`")?.0);
        }
        Ok(PathRef { text, pos })
    }

    fn enum_spec(&mut self, pos: Pos) -> Result<Ty, MetadataError> {
        let name = self.opt_name();
        let container = if self.eat(":") {
            let spec = self.type_spec()?;
            Some(self.apply(
                &spec,
                &Declarator {
                    pointers: 0,
                    name: None,
                    pos,
                    dims: Vec::new(),
                },
            )?)
        } else {
            None
        };
        if !self.is_punct("{") {
            let Some(name) = name else {
                return Err(self.unexpected("an enum name or `{`"));
            };
            return self.lookup(Kind::Enum, &name, pos);
        }
        let container = match container {
            Some(t) => t,
            None => self.lookup(Kind::Alias, "int", pos)?,
        };
        let Ty::Int(container) = container else {
            return Err(MetadataError::InvalidAttribute {
                pos,
                name: "enum container".into(),
                value: "not an integer type".into(),
            });
        };
        self.i += 1;
        let mut mappings: Vec<EnumMapping> = Vec::new();
        let mut next: i128 = 0;
        loop {
            if self.eat("}") {
                break;
            }
            let label = match self.peek() {
                Some(&Tok::Ident(s)) => s.to_string(),
                Some(Tok::Str(s)) => s.clone(),
                _ => return Err(self.unexpected("an enumerator label or `}`")),
            };
            self.i += 1;
            let (lo, hi) = if self.eat("=") {
                let lo = self.enum_value()?;
                let hi = if self.eat("...") {
                    self.enum_value()?
                } else {
                    lo
                };
                (lo, hi)
            } else {
                (next, next)
            };
            next = hi.saturating_add(1);
            let (lo, hi) = (lo.min(hi), lo.max(hi));
            match mappings.iter_mut().find(|m| m.label == label) {
                Some(m) => m.ranges.push((lo, hi)),
                None => mappings.push(EnumMapping {
                    label,
                    ranges: vec![(lo, hi)],
                }),
            }
            if !self.eat(",") {
                self.expect("}", "`,` or `}` in an enum")?;
                break;
            }
        }
        let ty = Ty::Enum(EnumType {
            container,
            mappings,
        });
        if let Some(name) = name {
            self.declare(Kind::Enum, name, ty.clone());
        }
        Ok(ty)
    }

    fn enum_value(&mut self) -> Result<i128, MetadataError> {
        match self.value()? {
            attrs::Value::Int(v) => Ok(v),
            _ => Err(self.unexpected("an integer")),
        }
    }

    /// `{ members }` of a struct or variant, with its own declaration scope.
    fn members(&mut self, what: &'static str) -> Result<Vec<(String, Ty)>, MetadataError> {
        self.expect("{", "`{`")?;
        self.scopes.push(Decls::default());
        let mut out: Vec<(String, Ty)> = Vec::with_capacity(8);
        loop {
            if self.eat("}") {
                break;
            }
            if self.is_word("typealias") || self.is_word("typedef") {
                self.declaration()?;
                continue;
            }
            let spec = self.type_spec()?;
            if self.eat(";") {
                continue; // a nested named declaration
            }
            loop {
                let d = self.declarator()?;
                let Some(name) = d.name.clone() else {
                    return Err(self.unexpected(if what == "struct" {
                        "a field name"
                    } else {
                        "an option name"
                    }));
                };
                if out.iter().any(|(n, _)| *n == name) {
                    return Err(MetadataError::Duplicate { pos: d.pos, name });
                }
                let ty = self.apply(&spec, &d)?;
                out.push((name, ty));
                if !self.eat(",") {
                    break;
                }
            }
            self.expect(";", "`;` after a member")?;
        }
        self.scopes.pop();
        Ok(out)
    }

    /// `*`s, an optional name and `[N]`/`[path]` suffixes.
    pub(super) fn declarator(&mut self) -> Result<Declarator, MetadataError> {
        let mut pointers = 0;
        while self.eat("*") {
            pointers += 1;
        }
        let pos = self.pos();
        let name = match self.peek() {
            Some(&Tok::Ident(s)) => {
                self.i += 1;
                Some(s.to_string())
            }
            _ => None,
        };
        let mut dims = Vec::new();
        while self.eat("[") {
            let dim = match self.peek() {
                Some(Tok::Int(n)) => {
                    let n = *n;
                    self.i += 1;
                    Dim::Fixed(n)
                }
                Some(Tok::Ident(_)) => Dim::Path(self.path_text()?),
                _ => return Err(self.unexpected("an array length or a sequence length field")),
            };
            self.expect("]", "`]`")?;
            dims.push(dim);
            if dims.len() > super::MAX_DEPTH {
                return Err(MetadataError::TooDeep {
                    pos,
                    limit: super::MAX_DEPTH,
                });
            }
        }
        Ok(Declarator {
            pointers,
            name,
            pos,
            dims,
        })
    }

    /// The field type a specifier and a declarator make: `T x[2][3]` is an
    /// array of 2 arrays of 3 `T`.
    pub(super) fn apply(&mut self, spec: &Spec<'_>, d: &Declarator) -> Result<Ty, MetadataError> {
        let mut ty = match spec {
            Spec::Ty(t) if d.pointers == 0 => {
                self.charge(t.shape().nodes, d.pos)?;
                t.clone()
            }
            Spec::Ty(_) => return Err(self.unexpected("no `*` after a non-alias type")),
            Spec::Alias(name, pos) => {
                if d.pointers == 0 {
                    self.lookup(Kind::Alias, name, *pos)?
                } else {
                    let key = format!("{name}{}", " *".repeat(d.pointers));
                    self.lookup(Kind::Alias, &key, *pos)?
                }
            }
        };
        for dim in d.dims.iter().rev() {
            ty = match dim {
                Dim::Fixed(n) => Ty::new_array(ty, *n),
                Dim::Path(p) => Ty::new_sequence(ty, p.clone()),
            };
            ty = self.checked(ty, d.pos)?;
        }
        Ok(ty)
    }
}

#[cfg(test)]
mod tests {
    use crate::metadata::{FieldType, parse_metadata};

    const HEAD: &str = "/* CTF 1.8 */ trace { major = 1; minor = 8; byte_order = le; };\n";

    fn fields(body: &str) -> Vec<(String, FieldType)> {
        let text = format!(
            "{HEAD}typealias integer {{ size = 8; }} := uint8_t;\n\
             typealias integer {{ size = 32; signed = true; }} := int;\n\
             event {{ name = e; fields := struct {{ {body} }}; }};"
        );
        let tc = parse_metadata(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let ev = &tc.streams[0].events[0];
        ev.payload
            .as_ref()
            .unwrap()
            .fields
            .iter()
            .map(|f| (f.name.clone(), f.ty.clone()))
            .collect()
    }

    #[test]
    fn multi_dimensional_arrays_nest_outer_first() {
        let f = fields("uint8_t a[2][3];");
        let FieldType::Array(outer) = &f[0].1 else {
            panic!()
        };
        assert_eq!(outer.length, 2);
        let FieldType::Array(inner) = outer.element.as_ref() else {
            panic!()
        };
        assert_eq!(inner.length, 3);
    }

    #[test]
    fn enum_values_continue_and_default_container_is_int() {
        let f = fields("enum { A, B = 5, C, \"q d\" = 10 ... 20, _int } e;");
        let FieldType::Enum(e) = &f[0].1 else {
            panic!()
        };
        assert!(e.container.signed);
        let r: Vec<_> = e
            .mappings
            .iter()
            .map(|m| (m.label.as_str(), m.ranges[0]))
            .collect();
        assert_eq!(
            r,
            [
                ("A", (0, 0)),
                ("B", (5, 5)),
                ("C", (6, 6)),
                ("q d", (10, 20)),
                ("_int", (21, 21))
            ]
        );
    }

    #[test]
    fn struct_align_and_named_declarations() {
        let f = fields(
            "struct s { uint8_t x; } align(32) a; struct s b; enum k : uint8_t { X } c; enum k d;",
        );
        let FieldType::Struct(s) = &f[1].1 else {
            panic!()
        };
        assert_eq!(s.min_align, 32);
        assert!(matches!(f[3].1, FieldType::Enum(_)));
    }
}
