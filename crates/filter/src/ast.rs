//! The syntax tree of a filter pattern, with byte spans, and its printer.
//!
//! The tree keeps surface syntax (quoted or bare values, parentheses, number spellings) so that
//! printing it gives a pattern that parses back to the same tree. Spans are ignored by `==`, so
//! `parse(print(ast)) == ast` holds although the printed text differs in spacing.
//!
//! `{}` prints a readable form (`{ $.a = 1 && $.b > 2 }`, `[a, b = 1]`); `{:#}` prints the
//! compact form (`{$.a=1&&$.b>2}`, `[a,b=1]`), which is never longer than the source it was
//! parsed from, so it always fits CloudWatch's 1024-character limit when the source did.

use std::fmt;

/// A byte range in the pattern source. Equality ignores spans: two spans always compare equal.
#[derive(Debug, Clone, Copy, Default)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    pub(crate) fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }
}

impl PartialEq for Span {
    fn eq(&self, _: &Span) -> bool {
        true
    }
}
impl Eq for Span {}

/// A parsed filter pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ast {
    /// Empty or whitespace-only: matches every event.
    MatchAll,
    /// Terms, phrases and regexes.
    Terms(Vec<Term>),
    /// `{ ... }`.
    Json(JsonExpr),
    /// `[ ... ]`.
    Delimited(Vec<Field>),
}

/// Prefix of a term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermPrefix {
    /// Required.
    Required,
    /// `-`: excluded.
    Exclude,
    /// `?`: optional.
    Optional,
}

/// One token of a term pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// Required, excluded or optional.
    pub prefix: TermPrefix,
    /// What to look for.
    pub body: TermBody,
    /// Where the token (prefix included) is.
    pub span: Span,
}

/// The searchable part of a term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TermBody {
    /// A bare word.
    Word(String),
    /// A double-quoted phrase (quotes not included).
    Phrase(String),
    /// A `%regex%` (percent signs not included).
    Regex(RegexLit),
}

/// A regex as written between the `%` signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegexLit {
    /// The source between the percent signs.
    pub source: String,
    /// Where the regex (percent signs included) is.
    pub span: Span,
}

/// A JSON expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonExpr {
    /// `a || b || ...` (two or more).
    Or(Vec<JsonExpr>),
    /// `a && b && ...` (two or more).
    And(Vec<JsonExpr>),
    /// `( expr )`.
    Group(Box<JsonExpr>),
    /// `selector test`.
    Test(Selector, JsonTest),
}

/// A JSON property selector such as `$.a[0].*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// The steps after `$`.
    pub segments: Vec<Segment>,
    /// Where the selector is.
    pub span: Span,
}

impl Selector {
    /// Number of wildcard steps.
    pub fn wildcards(&self) -> usize {
        self.segments
            .iter()
            .filter(|s| matches!(s, Segment::AnyMember | Segment::AnyElement))
            .count()
    }
}

/// One step of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// `.name`.
    Name(String),
    /// `.['key']`.
    QuotedKey(String),
    /// `[n]`.
    Index(u32),
    /// `.*`.
    AnyMember,
    /// `[*]`.
    AnyElement,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    /// True for `< <= > >=`.
    pub fn is_ordering(self) -> bool {
        !matches!(self, Op::Eq | Op::Ne)
    }

    fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

/// The test applied to the nodes a selector yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonTest {
    /// `op value`.
    Compare(Op, Value),
    /// `IS NULL`.
    IsNull,
    /// `IS TRUE`.
    IsTrue,
    /// `IS FALSE`.
    IsFalse,
    /// `NOT EXISTS`.
    NotExists,
}

/// A comparison value (JSON and space-delimited patterns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A number literal, as spelled.
    Number(String),
    /// A bare word (may hold `*` wildcards).
    Word(String),
    /// A double-quoted string (quotes not included; may hold `*` wildcards).
    Quoted(String),
    /// A `%regex%`.
    Regex(RegexLit),
}

/// One slot of a space-delimited pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// `...`.
    Ellipsis(Span),
    /// A bare name.
    Name(String, Span),
    /// Conditions: an OR of ANDs. The slot's name is the name in the first condition.
    Conditions(Vec<Vec<Condition>>, Span),
    /// Nothing (from `[a,]`).
    Unnamed(Span),
}

impl Field {
    /// The name this slot binds, if any.
    pub fn name(&self) -> Option<&str> {
        match self {
            Field::Name(n, _) => Some(n),
            Field::Conditions(ors, _) => ors.first()?.first().map(|c| c.name.as_str()),
            Field::Ellipsis(_) | Field::Unnamed(_) => None,
        }
    }
}

/// `name op value` inside a space-delimited slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The field the condition tests.
    pub name: String,
    /// The operator.
    pub op: Op,
    /// The value.
    pub value: Value,
    /// Where the condition is.
    pub span: Span,
}

impl fmt::Display for Ast {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ast::MatchAll => Ok(()),
            Ast::Terms(terms) => {
                for (i, t) in terms.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    match t.prefix {
                        TermPrefix::Required => {}
                        TermPrefix::Exclude => f.write_str("-")?,
                        TermPrefix::Optional => f.write_str("?")?,
                    }
                    match &t.body {
                        TermBody::Word(w) => f.write_str(w)?,
                        TermBody::Phrase(p) => write!(f, "\"{p}\"")?,
                        TermBody::Regex(r) => write!(f, "%{}%", r.source)?,
                    }
                }
                Ok(())
            }
            Ast::Json(e) if f.alternate() => write!(f, "{{{e:#}}}"),
            Ast::Json(e) => write!(f, "{{ {e} }}"),
            Ast::Delimited(fields) => {
                f.write_str("[")?;
                let (comma, and, or) = if f.alternate() {
                    (",", "&&", "||")
                } else {
                    (", ", " && ", " || ")
                };
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(comma)?;
                    }
                    match field {
                        Field::Ellipsis(_) => f.write_str("...")?,
                        Field::Name(n, _) => f.write_str(n)?,
                        Field::Unnamed(_) => {}
                        Field::Conditions(ors, _) => {
                            for (j, ands) in ors.iter().enumerate() {
                                if j > 0 {
                                    f.write_str(or)?;
                                }
                                for (k, c) in ands.iter().enumerate() {
                                    if k > 0 {
                                        f.write_str(and)?;
                                    }
                                    if f.alternate() {
                                        write!(f, "{}{}{}", c.name, c.op.as_str(), c.value)?;
                                    } else {
                                        write!(f, "{} {} {}", c.name, c.op.as_str(), c.value)?;
                                    }
                                }
                            }
                        }
                    }
                }
                f.write_str("]")
            }
        }
    }
}

impl fmt::Display for JsonExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonExpr::Or(xs) | JsonExpr::And(xs) => {
                let sep = match (matches!(self, JsonExpr::Or(_)), f.alternate()) {
                    (true, false) => " || ",
                    (false, false) => " && ",
                    (true, true) => "||",
                    (false, true) => "&&",
                };
                for (i, x) in xs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(sep)?;
                    }
                    if f.alternate() {
                        write!(f, "{x:#}")?;
                    } else {
                        write!(f, "{x}")?;
                    }
                }
                Ok(())
            }
            JsonExpr::Group(inner) if f.alternate() => write!(f, "({inner:#})"),
            JsonExpr::Group(inner) => write!(f, "({inner})"),
            JsonExpr::Test(sel, test) => {
                write!(f, "{sel}")?;
                match test {
                    JsonTest::Compare(op, v) if f.alternate() => write!(f, "{}{v}", op.as_str()),
                    JsonTest::Compare(op, v) => write!(f, " {} {v}", op.as_str()),
                    JsonTest::IsNull => f.write_str(" IS NULL"),
                    JsonTest::IsTrue => f.write_str(" IS TRUE"),
                    JsonTest::IsFalse => f.write_str(" IS FALSE"),
                    JsonTest::NotExists => f.write_str(" NOT EXISTS"),
                }
            }
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("$")?;
        for s in &self.segments {
            match s {
                Segment::Name(n) => write!(f, ".{n}")?,
                Segment::QuotedKey(k) => write!(f, ".['{k}']")?,
                Segment::Index(i) => write!(f, "[{i}]")?,
                Segment::AnyMember => f.write_str(".*")?,
                Segment::AnyElement => f.write_str("[*]")?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Number(s) | Value::Word(s) => f.write_str(s),
            Value::Quoted(s) => write!(f, "\"{s}\""),
            Value::Regex(r) => write!(f, "%{}%", r.source),
        }
    }
}
