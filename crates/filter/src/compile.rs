//! [`Ast`] to the small normalized program that evaluation walks.
//!
//! Lowering applies the rules that do not depend on the message: optional terms vanish when a
//! required or excluded term exists (spec §3), parentheses disappear, values become globs,
//! numbers or compiled regexes, and space-delimited slots are split around the ellipsis.

use crate::ast::*;
use crate::aws_regex;
use crate::error::{Error, ErrorKind};
use crate::parse::is_number_literal;
use memchr::memmem::Finder;
use regex::Regex;

/// The compiled form of a pattern.
#[derive(Debug, Clone)]
pub(crate) enum Program {
    MatchAll,
    Terms(Terms),
    Json(JExpr),
    Delimited(Delim),
}

/// A term pattern: every `all` needle present and no `none` needle present, or, when both are
/// empty, at least one `any` needle present.
#[derive(Debug, Clone)]
pub(crate) struct Terms {
    pub needles: Vec<Needle>,
    pub all: Vec<usize>,
    pub none: Vec<usize>,
    pub any: Vec<usize>,
}

#[derive(Debug, Clone)]
pub(crate) enum Needle {
    Text(Box<Finder<'static>>),
    Regex(Regex),
}

impl Needle {
    pub(crate) fn is_in(&self, text: &str) -> bool {
        match self {
            Needle::Text(f) => f.find(text.as_bytes()).is_some(),
            Needle::Regex(r) => r.is_match(text),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum JExpr {
    Or(Vec<JExpr>),
    And(Vec<JExpr>),
    Test(Vec<Step>, JTest),
}

impl JExpr {
    /// Calls `path` with every selector's path.
    pub(crate) fn paths(&self, path: &mut dyn FnMut(&[Step])) {
        match self {
            JExpr::Or(xs) | JExpr::And(xs) => xs.iter().for_each(|x| x.paths(path)),
            JExpr::Test(steps, _) => path(steps),
        }
    }
}

/// Clauses over the texts of a message: every clause holds, each when the message contains
/// at least one of its texts. Empty when nothing is known.
pub(crate) type Clauses<'a> = Vec<Vec<&'a str>>;

/// Literals shorter than this are not worth a prefilter (a 1- or 2-byte literal is found in
/// nearly every message and slows the literal scan).
const MIN_REQUIRED_LEN: usize = 3;

/// The text that `op val` holding proves is in the compared value (and so in the message),
/// if any: the fixed part of an `=` glob.
fn required_text(op: Op, val: &Val) -> Option<&str> {
    match (op, val) {
        (
            Op::Eq,
            Val::Glob(Glob::Exact(s) | Glob::Prefix(s) | Glob::Suffix(s) | Glob::Contains(s)),
        ) => Some(s.as_str()),
        _ => None,
    }
}

/// One clause from a text, if it is long enough and (for JSON, `json`) could only be spelled
/// differently in the message through a `\u` escape.
fn clause(text: &str, json: bool) -> Clauses<'_> {
    let plain = |c: char| !(json && (matches!(c, '"' | '\\' | '/') || c.is_control()));
    if text.len() >= MIN_REQUIRED_LEN && text.chars().all(plain) {
        vec![vec![text]]
    } else {
        Vec::new()
    }
}

/// The clauses of alternatives of which one holds: one clause of each (its fewest texts),
/// joined; nothing when an alternative has none.
fn any_of<'a>(alternatives: impl Iterator<Item = Clauses<'a>>) -> Clauses<'a> {
    let mut joined = Vec::new();
    for clauses in alternatives {
        let Some(best) = clauses.into_iter().min_by_key(Vec::len) else {
            return Vec::new();
        };
        joined.extend(best);
    }
    if joined.is_empty() {
        Vec::new()
    } else {
        vec![joined]
    }
}

impl JExpr {
    /// What a matching message must contain (see [`Clauses`]), unless the message holds a
    /// `\u` escape. Empty when nothing is known (a numeric comparison, `!=`, a regex, `NOT
    /// EXISTS`, a bare `*`, a short text).
    ///
    /// Sound because a JSON string value can only be written differently from its decoded
    /// text through escapes, and a text without `"`, `\`, `/` or control characters can only
    /// be escaped with `\u`; a number matched by a quoted literal is compared by its raw
    /// spelling; `true`, `false` and `null` have one spelling. Used by `PatternSet` to rule
    /// messages out before any JSON parse.
    pub(crate) fn required_texts(&self) -> Clauses<'_> {
        match self {
            JExpr::Test(_, test) => match test {
                JTest::Cmp(op, v) => {
                    required_text(*op, v).map_or_else(Vec::new, |t| clause(t, true))
                }
                JTest::IsTrue => clause("true", true),
                JTest::IsFalse => clause("false", true),
                JTest::IsNull => clause("null", true),
                JTest::NotExists => Vec::new(),
            },
            JExpr::And(xs) => xs.iter().flat_map(JExpr::required_texts).collect(),
            JExpr::Or(xs) => any_of(xs.iter().map(JExpr::required_texts)),
        }
    }
}

impl Delim {
    /// What a matching message must contain (see [`Clauses`]): the fixed part of every `=`
    /// text condition a slot must meet. Field values are slices of the message, so no escape
    /// can hide them.
    pub(crate) fn required_texts(&self) -> Clauses<'_> {
        let slots = self.left.iter().chain(self.right.iter().flatten());
        slots
            .filter(|slot| !slot.conds.is_empty())
            .flat_map(|slot| {
                any_of(slot.conds.iter().map(|all| {
                    all.iter()
                        .flat_map(|c| {
                            required_text(c.op, &c.val).map_or_else(Vec::new, |t| clause(t, false))
                        })
                        .collect()
                }))
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    Key(String),
    Index(usize),
    AnyMember,
    AnyElement,
}

#[derive(Debug, Clone)]
pub(crate) enum JTest {
    Cmp(Op, Val),
    IsNull,
    IsTrue,
    IsFalse,
    NotExists,
}

/// A comparison value.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    /// A number literal: its value and its spelling.
    Num(f64, String),
    Glob(Glob),
    Regex(Regex),
}

/// A text value with optional leading and trailing `*` (a `*` elsewhere is literal, §10.2).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Glob {
    Any,
    Exact(String),
    Prefix(String),
    Suffix(String),
    Contains(String),
}

impl Glob {
    pub(crate) fn new(s: &str) -> Glob {
        if s == "*" {
            return Glob::Any;
        }
        let lead = s.starts_with('*');
        let trail = s.len() > 1 && s.ends_with('*');
        let core = &s[usize::from(lead)..s.len() - usize::from(trail)];
        match (lead, trail) {
            (false, false) => Glob::Exact(core.to_string()),
            (false, true) => Glob::Prefix(core.to_string()),
            (true, false) => Glob::Suffix(core.to_string()),
            (true, true) => Glob::Contains(core.to_string()),
        }
    }

    pub(crate) fn is_match(&self, t: &str) -> bool {
        match self {
            Glob::Any => true,
            Glob::Exact(s) => t == s,
            Glob::Prefix(s) => t.starts_with(s.as_str()),
            Glob::Suffix(s) => t.ends_with(s.as_str()),
            Glob::Contains(s) => memchr::memmem::find(t.as_bytes(), s.as_bytes()).is_some(),
        }
    }
}

/// A space-delimited pattern. `right` is `Some` when the pattern has an ellipsis.
#[derive(Debug, Clone)]
pub(crate) struct Delim {
    pub left: Vec<Slot>,
    pub right: Option<Vec<Slot>>,
}

#[derive(Debug, Clone)]
pub(crate) struct Slot {
    pub name: Option<String>,
    /// OR of ANDs; empty means no condition.
    pub conds: Vec<Vec<Cond>>,
}

#[derive(Debug, Clone)]
pub(crate) struct Cond {
    pub target: Target,
    pub op: Op,
    pub val: Val,
}

/// The value a space-delimited condition tests.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    /// The slot's own value.
    Own,
    /// Another slot named in the pattern: left of the ellipsis (or no ellipsis) at an index.
    Left(usize),
    /// Another slot, right of the ellipsis.
    Right(usize),
    /// A name no slot binds: the condition is never true (decision §10.8).
    Unbound,
}

fn regex(src: &str, lit: &RegexLit) -> Result<Regex, Error> {
    aws_regex::compile(&lit.source)
        .map_err(|()| Error::new(ErrorKind::RegexCompile, src, lit.span.start..lit.span.end))
}

pub(crate) fn value(src: &str, v: &Value) -> Result<Val, Error> {
    Ok(match v {
        Value::Number(s) => Val::Num(s.parse::<f64>().unwrap_or(f64::NAN), s.clone()),
        Value::Word(s) | Value::Quoted(s) => Val::Glob(Glob::new(s)),
        Value::Regex(r) => Val::Regex(regex(src, r)?),
    })
}

pub(crate) fn steps(sel: &Selector) -> Vec<Step> {
    sel.segments
        .iter()
        .map(|s| match s {
            Segment::Name(n) | Segment::QuotedKey(n) => Step::Key(n.clone()),
            Segment::Index(i) => Step::Index(*i as usize),
            Segment::AnyMember => Step::AnyMember,
            Segment::AnyElement => Step::AnyElement,
        })
        .collect()
}

pub(crate) fn compile(src: &str, ast: &Ast) -> Result<Program, Error> {
    Ok(match ast {
        Ast::MatchAll => Program::MatchAll,
        Ast::Terms(terms) => {
            let mut t = Terms {
                needles: Vec::new(),
                all: Vec::new(),
                none: Vec::new(),
                any: Vec::new(),
            };
            let strict = terms.iter().any(|t| t.prefix != TermPrefix::Optional);
            for term in terms {
                if strict && term.prefix == TermPrefix::Optional {
                    // Still compile it, so a bad regex is reported, but do not use it.
                    if let TermBody::Regex(r) = &term.body {
                        regex(src, r)?;
                    }
                    continue;
                }
                let needle = match &term.body {
                    TermBody::Word(w) | TermBody::Phrase(w) => {
                        Needle::Text(Box::new(Finder::new(w.as_bytes()).into_owned()))
                    }
                    TermBody::Regex(r) => Needle::Regex(regex(src, r)?),
                };
                let i = t.needles.len();
                t.needles.push(needle);
                match term.prefix {
                    TermPrefix::Required => t.all.push(i),
                    TermPrefix::Exclude => t.none.push(i),
                    TermPrefix::Optional => t.any.push(i),
                }
            }
            Program::Terms(t)
        }
        Ast::Json(e) => Program::Json(json(src, e)?),
        Ast::Delimited(fields) => Program::Delimited(delimited(src, fields)?),
    })
}

fn json(src: &str, e: &JsonExpr) -> Result<JExpr, Error> {
    Ok(match e {
        JsonExpr::Or(xs) => JExpr::Or(xs.iter().map(|x| json(src, x)).collect::<Result<_, _>>()?),
        JsonExpr::And(xs) => JExpr::And(xs.iter().map(|x| json(src, x)).collect::<Result<_, _>>()?),
        JsonExpr::Group(x) => json(src, x)?,
        JsonExpr::Test(sel, test) => {
            let t = match test {
                JsonTest::Compare(op, v) => JTest::Cmp(*op, value(src, v)?),
                JsonTest::IsNull => JTest::IsNull,
                JsonTest::IsTrue => JTest::IsTrue,
                JsonTest::IsFalse => JTest::IsFalse,
                JsonTest::NotExists => JTest::NotExists,
            };
            JExpr::Test(steps(sel), t)
        }
    })
}

fn delimited(src: &str, fields: &[Field]) -> Result<Delim, Error> {
    let ell = fields.iter().position(|f| matches!(f, Field::Ellipsis(_)));
    let (lf, rf) = match ell {
        Some(i) => (&fields[..i], Some(&fields[i + 1..])),
        None => (fields, None),
    };
    // Where each named slot lives, for conditions that name another slot (decision §10.8).
    let find = |name: &str| -> Target {
        if let Some(i) = lf.iter().position(|f| f.name() == Some(name)) {
            return Target::Left(i);
        }
        rf.and_then(|r| r.iter().position(|f| f.name() == Some(name)))
            .map_or(Target::Unbound, Target::Right)
    };
    let slot = |f: &Field| -> Result<Slot, Error> {
        let name = f.name().map(str::to_string);
        let mut conds = Vec::new();
        if let Field::Conditions(ors, _) = f {
            for ands in ors {
                let mut group = Vec::new();
                for c in ands {
                    let target = if Some(c.name.as_str()) == f.name() {
                        Target::Own
                    } else {
                        find(&c.name)
                    };
                    group.push(Cond {
                        target,
                        op: c.op,
                        val: value(src, &c.value)?,
                    });
                }
                conds.push(group);
            }
        }
        Ok(Slot { name, conds })
    };
    Ok(Delim {
        left: lf.iter().map(slot).collect::<Result<_, _>>()?,
        right: match rf {
            Some(r) => Some(r.iter().map(slot).collect::<Result<_, _>>()?),
            None => None,
        },
    })
}

/// Is `s` numeric for `< <= > >=` and metric values?
pub(crate) fn as_number(s: &str) -> Option<f64> {
    if is_number_literal(s) {
        s.parse::<f64>().ok()
    } else {
        None
    }
}
