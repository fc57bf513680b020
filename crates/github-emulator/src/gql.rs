//! A small GraphQL document parser (the executable subset of the October 2021 spec): operations
//! with variable definitions, fields with aliases, arguments and directives, inline fragments and
//! fragment spreads. Type system definitions are not accepted; values are kept as written.

use std::collections::HashMap;

/// A value as written in a document.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Var(String),
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    Null,
    Enum(String),
    List(Vec<Val>),
    Obj(Vec<(String, Val)>),
}

/// Where a token starts: 1-based line and column, as GraphQL errors report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Loc {
    pub(crate) line: usize,
    pub(crate) column: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct Directive {
    pub(crate) name: String,
    pub(crate) args: Vec<(String, Val)>,
}

#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub(crate) alias: Option<String>,
    pub(crate) name: String,
    pub(crate) args: Vec<(String, Val)>,
    pub(crate) directives: Vec<Directive>,
    pub(crate) selection: Vec<Selection>,
    pub(crate) loc: Loc,
}

impl Field {
    /// The key of this field in the response.
    pub(crate) fn key(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Selection {
    Field(Field),
    Inline {
        type_cond: Option<String>,
        directives: Vec<Directive>,
        selection: Vec<Selection>,
    },
    Spread {
        name: String,
        directives: Vec<Directive>,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct VarDef {
    pub(crate) name: String,
    /// The type as written, e.g. `String!` or `[Int!]`.
    pub(crate) ty: String,
    pub(crate) default: Option<Val>,
}

#[derive(Debug, Clone)]
pub(crate) struct Operation {
    /// `query`, `mutation` or `subscription`.
    pub(crate) kind: String,
    pub(crate) name: Option<String>,
    pub(crate) vars: Vec<VarDef>,
    pub(crate) selection: Vec<Selection>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Document {
    pub(crate) operations: Vec<Operation>,
    /// name → (type condition, selection)
    pub(crate) fragments: HashMap<String, (String, Vec<Selection>)>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Punct(&'static str),
    Name(String),
    Int(i64),
    Float(f64),
    Str(String),
}

/// A syntax error: GitHub answers `Parse error on "x" (NAME) at [line, column]`.
#[derive(Debug, Clone)]
pub(crate) struct SyntaxError {
    pub(crate) message: String,
    pub(crate) loc: Loc,
}

fn lex(src: &str) -> Result<Vec<(Tok, Loc)>, SyntaxError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line, mut col) = (0usize, 1usize, 1usize);
    let err = |msg: String, line, column| SyntaxError {
        message: msg,
        loc: Loc { line, column },
    };
    while i < chars.len() {
        let c = chars[i];
        let loc = Loc { line, column: col };
        match c {
            '\n' => {
                line += 1;
                col = 1;
                i += 1;
            }
            ' ' | '\t' | '\r' | ',' | '\u{feff}' => {
                i += 1;
                col += 1;
            }
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '{' | '}' | '(' | ')' | '[' | ']' | ':' | '!' | '$' | '@' | '=' | '|' | '&' => {
                let p = match c {
                    '{' => "{",
                    '}' => "}",
                    '(' => "(",
                    ')' => ")",
                    '[' => "[",
                    ']' => "]",
                    ':' => ":",
                    '!' => "!",
                    '$' => "$",
                    '@' => "@",
                    '=' => "=",
                    '|' => "|",
                    _ => "&",
                };
                out.push((Tok::Punct(p), loc));
                i += 1;
                col += 1;
            }
            '.' => {
                if chars.get(i + 1) == Some(&'.') && chars.get(i + 2) == Some(&'.') {
                    out.push((Tok::Punct("..."), loc));
                    i += 3;
                    col += 3;
                } else {
                    return Err(err("Unexpected character \".\"".into(), line, col));
                }
            }
            '"' => {
                let block = chars.get(i + 1) == Some(&'"') && chars.get(i + 2) == Some(&'"');
                let mut s = String::new();
                if block {
                    i += 3;
                    col += 3;
                    loop {
                        if i >= chars.len() {
                            return Err(err("Unterminated string".into(), loc.line, loc.column));
                        }
                        if chars[i] == '"'
                            && chars.get(i + 1) == Some(&'"')
                            && chars.get(i + 2) == Some(&'"')
                        {
                            i += 3;
                            col += 3;
                            break;
                        }
                        if chars[i] == '\n' {
                            line += 1;
                            col = 1;
                        } else {
                            col += 1;
                        }
                        s.push(chars[i]);
                        i += 1;
                    }
                    s = s.trim().to_string();
                } else {
                    i += 1;
                    col += 1;
                    loop {
                        let Some(&ch) = chars.get(i) else {
                            return Err(err("Unterminated string".into(), loc.line, loc.column));
                        };
                        i += 1;
                        col += 1;
                        match ch {
                            '"' => break,
                            '\n' => {
                                return Err(err(
                                    "Unterminated string".into(),
                                    loc.line,
                                    loc.column,
                                ));
                            }
                            '\\' => {
                                let e = chars.get(i).copied().unwrap_or(' ');
                                i += 1;
                                col += 1;
                                match e {
                                    'n' => s.push('\n'),
                                    't' => s.push('\t'),
                                    'r' => s.push('\r'),
                                    'b' => s.push('\u{8}'),
                                    'f' => s.push('\u{c}'),
                                    'u' => {
                                        let hex: String =
                                            chars[i..(i + 4).min(chars.len())].iter().collect();
                                        i += 4;
                                        col += 4;
                                        let v = u32::from_str_radix(&hex, 16).ok();
                                        s.push(v.and_then(char::from_u32).unwrap_or('\u{fffd}'));
                                    }
                                    other => s.push(other),
                                }
                            }
                            other => s.push(other),
                        }
                    }
                }
                out.push((Tok::Str(s), loc));
            }
            c if c == '-' || c.is_ascii_digit() => {
                let start = i;
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_digit() || matches!(chars[i], '.' | 'e' | 'E' | '+'))
                {
                    // A '-' only after an exponent marker.
                    i += 1;
                }
                while i < chars.len() && chars[i] == '-' && matches!(chars[i - 1], 'e' | 'E') {
                    i += 1;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
                let text: String = chars[start..i].iter().collect();
                col += i - start;
                if let Ok(n) = text.parse::<i64>() {
                    out.push((Tok::Int(n), loc));
                } else if let Ok(f) = text.parse::<f64>() {
                    out.push((Tok::Float(f), loc));
                } else {
                    return Err(err(
                        format!("Parse error on \"{text}\""),
                        loc.line,
                        loc.column,
                    ));
                }
            }
            c if c == '_' || c.is_ascii_alphabetic() => {
                let start = i;
                while i < chars.len() && (chars[i] == '_' || chars[i].is_ascii_alphanumeric()) {
                    i += 1;
                }
                col += i - start;
                out.push((Tok::Name(chars[start..i].iter().collect()), loc));
            }
            other => {
                return Err(err(
                    format!("Parse error on \"{other}\" (error) at [{line}, {col}]"),
                    line,
                    col,
                ));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, Loc)>,
    pos: usize,
    end: Loc,
}

type PResult<T> = Result<T, SyntaxError>;

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }

    fn loc(&self) -> Loc {
        self.toks.get(self.pos).map_or(self.end, |(_, l)| *l)
    }

    fn error<T>(&self) -> PResult<T> {
        let loc = self.loc();
        let what = match self.peek() {
            None => "end of file".to_string(),
            Some(Tok::Punct(p)) => format!("\"{p}\""),
            Some(Tok::Name(n)) => format!("\"{n}\" (IDENTIFIER)"),
            Some(Tok::Int(n)) => format!("\"{n}\" (INT)"),
            Some(Tok::Float(f)) => format!("\"{f}\" (FLOAT)"),
            Some(Tok::Str(s)) => format!("\"{s}\" (STRING)"),
        };
        Err(SyntaxError {
            message: format!("Parse error on {what} at [{}, {}]", loc.line, loc.column),
            loc,
        })
    }

    fn is(&self, p: &str) -> bool {
        matches!(self.peek(), Some(Tok::Punct(q)) if *q == p)
    }

    fn eat(&mut self, p: &str) -> bool {
        if self.is(p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, p: &str) -> PResult<()> {
        if self.eat(p) { Ok(()) } else { self.error() }
    }

    fn name(&mut self) -> PResult<String> {
        match self.peek() {
            Some(Tok::Name(n)) => {
                let n = n.clone();
                self.pos += 1;
                Ok(n)
            }
            _ => self.error(),
        }
    }

    fn document(&mut self) -> PResult<Document> {
        let mut doc = Document::default();
        while self.peek().is_some() {
            if self.is("{") {
                let selection = self.selection_set()?;
                doc.operations.push(Operation {
                    kind: "query".into(),
                    name: None,
                    vars: Vec::new(),
                    selection,
                });
                continue;
            }
            let word = self.name()?;
            match word.as_str() {
                "query" | "mutation" | "subscription" => {
                    let name = match self.peek() {
                        Some(Tok::Name(_)) => Some(self.name()?),
                        _ => None,
                    };
                    let vars = if self.eat("(") {
                        let mut vars = Vec::new();
                        while !self.eat(")") {
                            self.expect("$")?;
                            let name = self.name()?;
                            self.expect(":")?;
                            let ty = self.type_ref()?;
                            let default = if self.eat("=") {
                                Some(self.value(true)?)
                            } else {
                                None
                            };
                            self.directives()?;
                            vars.push(VarDef { name, ty, default });
                        }
                        vars
                    } else {
                        Vec::new()
                    };
                    self.directives()?;
                    let selection = self.selection_set()?;
                    doc.operations.push(Operation {
                        kind: word,
                        name,
                        vars,
                        selection,
                    });
                }
                "fragment" => {
                    let name = self.name()?;
                    if self.name()? != "on" {
                        self.pos -= 1;
                        return self.error();
                    }
                    let ty = self.name()?;
                    self.directives()?;
                    let selection = self.selection_set()?;
                    doc.fragments.insert(name, (ty, selection));
                }
                _ => {
                    self.pos -= 1;
                    return self.error();
                }
            }
        }
        Ok(doc)
    }

    fn type_ref(&mut self) -> PResult<String> {
        let mut ty = if self.eat("[") {
            let inner = self.type_ref()?;
            self.expect("]")?;
            format!("[{inner}]")
        } else {
            self.name()?
        };
        if self.eat("!") {
            ty.push('!');
        }
        Ok(ty)
    }

    fn directives(&mut self) -> PResult<Vec<Directive>> {
        let mut out = Vec::new();
        while self.eat("@") {
            let name = self.name()?;
            let args = self.arguments()?;
            out.push(Directive { name, args });
        }
        Ok(out)
    }

    fn arguments(&mut self) -> PResult<Vec<(String, Val)>> {
        let mut args = Vec::new();
        if self.eat("(") {
            while !self.eat(")") {
                let name = self.name()?;
                self.expect(":")?;
                args.push((name, self.value(false)?));
            }
        }
        Ok(args)
    }

    fn value(&mut self, constant: bool) -> PResult<Val> {
        let v = match self.peek().cloned() {
            Some(Tok::Punct("$")) if !constant => {
                self.pos += 1;
                return Ok(Val::Var(self.name()?));
            }
            Some(Tok::Punct("[")) => {
                self.pos += 1;
                let mut items = Vec::new();
                while !self.eat("]") {
                    items.push(self.value(constant)?);
                }
                return Ok(Val::List(items));
            }
            Some(Tok::Punct("{")) => {
                self.pos += 1;
                let mut fields = Vec::new();
                while !self.eat("}") {
                    let name = self.name()?;
                    self.expect(":")?;
                    fields.push((name, self.value(constant)?));
                }
                return Ok(Val::Obj(fields));
            }
            Some(Tok::Int(n)) => Val::Int(n),
            Some(Tok::Float(f)) => Val::Float(f),
            Some(Tok::Str(s)) => Val::Str(s),
            Some(Tok::Name(n)) => match n.as_str() {
                "true" => Val::Bool(true),
                "false" => Val::Bool(false),
                "null" => Val::Null,
                _ => Val::Enum(n),
            },
            _ => return self.error(),
        };
        self.pos += 1;
        Ok(v)
    }

    fn selection_set(&mut self) -> PResult<Vec<Selection>> {
        self.expect("{")?;
        let mut out = Vec::new();
        while !self.eat("}") {
            if self.eat("...") {
                let on = matches!(self.peek(), Some(Tok::Name(n)) if n == "on");
                if on {
                    self.pos += 1;
                    let ty = self.name()?;
                    let directives = self.directives()?;
                    let selection = self.selection_set()?;
                    out.push(Selection::Inline {
                        type_cond: Some(ty),
                        directives,
                        selection,
                    });
                } else if self.is("{") || self.is("@") {
                    let directives = self.directives()?;
                    let selection = self.selection_set()?;
                    out.push(Selection::Inline {
                        type_cond: None,
                        directives,
                        selection,
                    });
                } else {
                    let name = self.name()?;
                    let directives = self.directives()?;
                    out.push(Selection::Spread { name, directives });
                }
                continue;
            }
            let loc = self.loc();
            let first = self.name()?;
            let (alias, name) = if self.eat(":") {
                (Some(first), self.name()?)
            } else {
                (None, first)
            };
            let args = self.arguments()?;
            let directives = self.directives()?;
            let selection = if self.is("{") {
                self.selection_set()?
            } else {
                Vec::new()
            };
            out.push(Selection::Field(Field {
                alias,
                name,
                args,
                directives,
                selection,
                loc,
            }));
        }
        Ok(out)
    }
}

pub(crate) fn parse(src: &str) -> Result<Document, SyntaxError> {
    let toks = lex(src)?;
    let end = Loc {
        line: src.lines().count().max(1),
        column: src.lines().last().map_or(1, |l| l.chars().count() + 1),
    };
    let mut p = Parser { toks, pos: 0, end };
    let doc = p.document()?;
    if doc.operations.is_empty() {
        return Err(SyntaxError {
            message: "Parse error on end of file".into(),
            loc: end,
        });
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_operations_fragments_and_values() {
        let doc = parse(
            "# c\nquery Q($a: Int! = 3, $b: [String!]) @x {\n  r: repository(owner: \"o\\n\", n: $a, l: [1, 2.5, ENUM, null, true], o: {k: \"\"\"v\"\"\"}) {\n    ...F\n    ... on PullRequest @include(if: $b) { number }\n  }\n}\nfragment F on Repository { name }\n",
        )
        .expect("parses");
        let op = &doc.operations[0];
        assert_eq!(op.name.as_deref(), Some("Q"));
        assert_eq!(op.vars[0].ty, "Int!");
        assert_eq!(op.vars[0].default, Some(Val::Int(3)));
        assert_eq!(op.vars[1].ty, "[String!]");
        let Selection::Field(f) = &op.selection[0] else {
            panic!("a field");
        };
        assert_eq!((f.key(), f.name.as_str()), ("r", "repository"));
        assert_eq!(f.loc, Loc { line: 3, column: 3 });
        assert_eq!(f.args[0].1, Val::Str("o\n".into()));
        assert_eq!(f.args[1].1, Val::Var("a".into()));
        assert_eq!(
            f.args[2].1,
            Val::List(vec![
                Val::Int(1),
                Val::Float(2.5),
                Val::Enum("ENUM".into()),
                Val::Null,
                Val::Bool(true)
            ])
        );
        assert_eq!(
            f.args[3].1,
            Val::Obj(vec![("k".into(), Val::Str("v".into()))])
        );
        assert_eq!(f.selection.len(), 2);
        assert!(doc.fragments.contains_key("F"));
        assert!(parse("{ viewer { login } }").is_ok());
        assert!(parse("query { a(").is_err());
        assert!(parse("").is_err());
    }
}
