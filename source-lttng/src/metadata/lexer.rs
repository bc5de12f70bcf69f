//! TSDL lexer: turns metadata text into tokens carrying their line and column.
//!
//! Keywords are not told apart from identifiers here: TSDL lets many of them
//! appear where names are expected (`name = string;`, enum labels), so the
//! parser decides by context.

use super::error::{MetadataError, Pos};

/// One token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok<'a> {
    /// An identifier or keyword (borrowed: no allocation per word).
    Ident(&'a str),
    /// An unsigned integer literal (a leading `-` is a separate token).
    Int(u64),
    /// A string literal, escapes decoded.
    Str(String),
    /// A character literal, escapes decoded (accepted where strings are).
    Char(String),
    /// Punctuation: `{ } ( ) [ ] < > ; , = : . * + -`, `:=` and `...`.
    Punct(&'static str),
}

impl std::fmt::Display for Tok<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tok::Ident(s) => write!(f, "`{s}`"),
            Tok::Int(v) => write!(f, "integer {v}"),
            Tok::Str(s) => write!(f, "string {s:?}"),
            Tok::Char(s) => write!(f, "character {s:?}"),
            Tok::Punct(p) => write!(f, "`{p}`"),
        }
    }
}

/// A token and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token<'a> {
    pub tok: Tok<'a>,
    pub pos: Pos,
}

const PUNCTS: [&str; 17] = [
    "...", ":=", "{", "}", "(", ")", "[", "]", "<", ">", ";", ",", "=", ":", ".", "*", "+",
];

struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
    line: u32,
    line_start: usize,
}

impl Lexer<'_> {
    fn pos_at(&self, i: usize) -> Pos {
        let column = u32::try_from(i.saturating_sub(self.line_start) + 1).unwrap_or(u32::MAX);
        Pos {
            line: self.line,
            column,
        }
    }

    fn err(&self, i: usize, what: impl Into<String>) -> MetadataError {
        MetadataError::Lex {
            pos: self.pos_at(i),
            what: what.into(),
        }
    }

    fn peek(&self, k: usize) -> Option<u8> {
        self.s.get(self.i + k).copied()
    }

    fn newline(&mut self) {
        self.line = self.line.saturating_add(1);
        self.line_start = self.i + 1;
    }

    /// Skips blanks and comments.
    fn skip(&mut self) -> Result<(), MetadataError> {
        while let Some(c) = self.peek(0) {
            match c {
                b'\n' => {
                    self.newline();
                    self.i += 1;
                }
                b' ' | b'\t' | b'\r' | 0x0b | 0x0c => self.i += 1,
                b'/' if self.peek(1) == Some(b'*') => {
                    // Taken now: the comment may span lines.
                    let pos = self.pos_at(self.i);
                    self.i += 2;
                    loop {
                        match self.peek(0) {
                            None => {
                                return Err(MetadataError::Lex {
                                    pos,
                                    what: "unterminated comment".into(),
                                });
                            }
                            Some(b'*') if self.peek(1) == Some(b'/') => {
                                self.i += 2;
                                break;
                            }
                            Some(b'\n') => {
                                self.newline();
                                self.i += 1;
                            }
                            Some(_) => self.i += 1,
                        }
                    }
                }
                b'/' if self.peek(1) == Some(b'/') => {
                    while let Some(c) = self.peek(0) {
                        if c == b'\n' {
                            break;
                        }
                        self.i += 1;
                    }
                }
                _ => break,
            }
        }
        Ok(())
    }

    fn number(&mut self) -> Result<Tok<'static>, MetadataError> {
        let start = self.i;
        let (radix, digits_start) =
            if self.peek(0) == Some(b'0') && matches!(self.peek(1), Some(b'x' | b'X')) {
                (16, self.i + 2)
            } else if self.peek(0) == Some(b'0') {
                (8, self.i + 1)
            } else {
                (10, self.i)
            };
        self.i = digits_start;
        while self.peek(0).is_some_and(|c| c.is_ascii_alphanumeric()) {
            self.i += 1;
        }
        let body = &self.s[digits_start..self.i];
        let suffix_len = body
            .iter()
            .rev()
            .take_while(|c| matches!(c, b'u' | b'U' | b'l' | b'L'))
            .count();
        let digits = &body[..body.len() - suffix_len];
        // The text is only copied on error: literals are frequent.
        let bad = || MetadataError::IntegerLiteral {
            pos: self.pos_at(start),
            text: String::from_utf8_lossy(&self.s[start..self.i]).into_owned(),
        };
        if digits.is_empty() {
            return if radix == 8 {
                Ok(Tok::Int(0))
            } else {
                Err(bad())
            };
        }
        let mut v: u64 = 0;
        for &d in digits {
            let dv = (d as char).to_digit(radix).ok_or_else(bad)?;
            v = v
                .checked_mul(u64::from(radix))
                .and_then(|v| v.checked_add(u64::from(dv)))
                .ok_or_else(bad)?;
        }
        Ok(Tok::Int(v))
    }

    /// A string or character literal ending with `quote`.
    fn quoted(&mut self, quote: u8) -> Result<String, MetadataError> {
        let start = self.i;
        self.i += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(c) = self.peek(0) else {
                return Err(self.err(start, "unterminated literal"));
            };
            match c {
                b'\n' => return Err(self.err(start, "newline in literal")),
                c if c == quote => {
                    self.i += 1;
                    break;
                }
                b'\\' => {
                    let esc_at = self.i;
                    let Some(e) = self.peek(1) else {
                        return Err(self.err(start, "unterminated literal"));
                    };
                    self.i += 2;
                    let simple = match e {
                        b'n' => Some(b'\n'),
                        b't' => Some(b'\t'),
                        b'r' => Some(b'\r'),
                        b'a' => Some(0x07),
                        b'b' => Some(0x08),
                        b'f' => Some(0x0c),
                        b'v' => Some(0x0b),
                        b'\\' | b'\'' | b'"' | b'?' => Some(e),
                        _ => None,
                    };
                    if let Some(b) = simple {
                        out.push(b);
                    } else if (b'0'..=b'7').contains(&e) {
                        let mut v = u32::from(e - b'0');
                        for _ in 0..2 {
                            match self.peek(0) {
                                Some(d @ b'0'..=b'7') => {
                                    v = v * 8 + u32::from(d - b'0');
                                    self.i += 1;
                                }
                                _ => break,
                            }
                        }
                        out.push(
                            u8::try_from(v)
                                .map_err(|_| self.err(esc_at, "octal escape out of range"))?,
                        );
                    } else if e == b'x' {
                        let mut v: u32 = 0;
                        let mut n = 0;
                        while let Some(d) = self.peek(0).and_then(|d| (d as char).to_digit(16)) {
                            v = v.saturating_mul(16).saturating_add(d);
                            self.i += 1;
                            n += 1;
                        }
                        if n == 0 || v > 0xff {
                            return Err(self.err(esc_at, "invalid hexadecimal escape"));
                        }
                        out.push(v as u8);
                    } else {
                        return Err(self.err(esc_at, format!("invalid escape `\\{}`", e as char)));
                    }
                }
                0 => return Err(self.err(self.i, "NUL byte in literal")),
                _ => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

/// Splits TSDL text into tokens.
pub(crate) fn tokenize(text: &str) -> Result<Vec<Token<'_>>, MetadataError> {
    let mut lx = Lexer {
        s: text.as_bytes(),
        i: 0,
        line: 1,
        line_start: 0,
    };
    // About one token per 3 bytes of TSDL; the hint is capped, not input-driven.
    let mut out = Vec::with_capacity((text.len() / 3).min(1 << 18));
    loop {
        lx.skip()?;
        let Some(c) = lx.peek(0) else { break };
        let pos = lx.pos_at(lx.i);
        let tok = if c.is_ascii_alphabetic() || c == b'_' {
            let start = lx.i;
            while lx
                .peek(0)
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
            {
                lx.i += 1;
            }
            // ASCII only, so these are char boundaries.
            Tok::Ident(text.get(start..lx.i).unwrap_or_default())
        } else if c.is_ascii_digit() {
            lx.number()?
        } else if c == b'"' {
            Tok::Str(lx.quoted(b'"')?)
        } else if c == b'\'' {
            Tok::Char(lx.quoted(b'\'')?)
        } else if c == b'-' {
            lx.i += 1;
            Tok::Punct("-")
        } else {
            let p = match (c, lx.peek(1), lx.peek(2)) {
                (b'.', Some(b'.'), Some(b'.')) => "...",
                (b':', Some(b'='), _) => ":=",
                _ => PUNCTS
                    .iter()
                    .find(|p| p.len() == 1 && p.as_bytes()[0] == c)
                    .ok_or_else(|| lx.err(lx.i, format!("invalid character {:?}", c as char)))?,
            };
            lx.i += p.len();
            Tok::Punct(p)
        };
        out.push(Token { tok, pos });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok<'_>> {
        tokenize(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn integer_literals_in_all_bases_with_suffixes() {
        assert_eq!(
            toks("10 0x1F 017 0 42UL 7u 18446744073709551615"),
            [10, 31, 15, 0, 42, 7, u64::MAX].map(Tok::Int)
        );
    }

    #[test]
    fn integer_overflow_is_an_error_with_position() {
        let e = tokenize("\n  18446744073709551616").unwrap_err();
        assert!(matches!(
            e,
            MetadataError::IntegerLiteral {
                pos: Pos { line: 2, column: 3 },
                ..
            }
        ));
    }

    #[test]
    fn string_escapes_are_decoded() {
        assert_eq!(toks(r#""a\"b\x41\101\n""#), [Tok::Str("a\"bAA\n".into())]);
    }

    #[test]
    fn bad_escape_names_line() {
        let e = tokenize("a\nb = \"\\o040\";").unwrap_err();
        assert!(
            matches!(
                e,
                MetadataError::Lex {
                    pos: Pos { line: 2, .. },
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn comments_and_crlf_are_skipped_and_lines_counted() {
        let t = tokenize("/* a\r\n b */ x // c\r\n:= ...").unwrap();
        assert_eq!(t[0].tok, Tok::Ident("x"));
        assert_eq!(t[1].pos, Pos { line: 3, column: 1 });
        assert_eq!(t[2].tok, Tok::Punct("..."));
    }

    #[test]
    fn unterminated_comment_is_an_error() {
        assert!(tokenize("/* x").is_err());
    }

    #[test]
    fn unterminated_multiline_comment_reports_its_start() {
        let e = tokenize("a /* x\n\n y").unwrap_err();
        assert!(
            matches!(
                e,
                MetadataError::Lex {
                    pos: Pos { line: 1, column: 3 },
                    ..
                }
            ),
            "{e}"
        );
    }
}
