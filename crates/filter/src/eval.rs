//! Evaluation of a [`Program`] against a [`Message`].

use crate::ast::Op;
use crate::compile::*;
use crate::json::{self, Json};
use std::cell::OnceCell;

/// One log message, with its JSON parse and its space-delimited split computed on first use and
/// cached, so any number of patterns evaluated against the same `&Message` parse it at most once.
#[derive(Debug)]
pub struct Message<'a> {
    text: &'a str,
    /// What to build of the JSON (`None`: everything); see [`crate::PatternSet::message`].
    keep: Option<&'a json::Keep>,
    json: OnceCell<Option<Json<'a>>>,
    tokens: OnceCell<Vec<Token>>,
}

/// A space-delimited token: `start..end` in the message, `vstart..vend` without `[]`/`""`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Token {
    start: usize,
    vstart: usize,
    vend: usize,
}

impl<'a> Message<'a> {
    /// Wraps a message. Nothing is parsed until a pattern needs it.
    pub fn new(text: &'a str) -> Message<'a> {
        Message {
            text,
            keep: None,
            json: OnceCell::new(),
            tokens: OnceCell::new(),
        }
    }

    /// A message whose JSON is built only along `keep`'s paths.
    pub(crate) fn kept(text: &'a str, keep: &'a json::Keep) -> Message<'a> {
        Message {
            keep: Some(keep),
            ..Message::new(text)
        }
    }

    /// The message text.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// The message as a JSON object, or `None` when it is not one (spec §5.3).
    pub(crate) fn json(&self) -> Option<&Json<'a>> {
        self.json
            .get_or_init(|| {
                // Cheap reject before any work: a JSON object starts with `{`.
                let t = self.text.trim_start_matches([' ', '\t', '\n', '\r']);
                if !t.starts_with('{') {
                    None
                } else if let Some(keep) = self.keep {
                    json::parse_object_kept(self.text, keep)
                } else {
                    json::parse_object(self.text)
                }
            })
            .as_ref()
    }

    /// Has the JSON parse been done (for tests of the at-most-once rule)?
    pub fn json_parsed(&self) -> bool {
        self.json.get().is_some()
    }

    /// Whether the JSON parse or the field split is already done (or settled), so that a
    /// prefilter would save nothing.
    pub(crate) fn is_read(&self, json: bool) -> bool {
        if json {
            self.json.get().is_some()
        } else {
            self.tokens.get().is_some()
        }
    }

    pub(crate) fn tokens(&self) -> &[Token] {
        self.tokens.get_or_init(|| split(self.text))
    }

    fn value(&self, t: &Token) -> &'a str {
        &self.text[t.vstart..t.vend]
    }
}

/// Splits a message into fields (spec §6.2): runs of spaces and tabs separate; a field starting
/// with `[` or `"` runs to the next `]` or `"` when there is one.
fn split(text: &str) -> Vec<Token> {
    let b = text.as_bytes();
    // Room for the common lines (VPC flow logs have 14 fields, access logs about 10) without
    // growing the vector field by field.
    let mut out = Vec::with_capacity(16);
    let mut i = 0;
    while i < b.len() {
        if b[i] == b' ' || b[i] == b'\t' {
            i += 1;
            continue;
        }
        let start = i;
        let close = match b[i] {
            b'[' => Some(b']'),
            b'"' => Some(b'"'),
            _ => None,
        };
        if let Some(k) = close.and_then(|c| memchr::memchr(c, &b[i + 1..])) {
            let end = i + 1 + k;
            out.push(Token {
                start,
                vstart: i + 1,
                vend: end,
            });
            i = end + 1;
            continue;
        }
        i = memchr::memchr2(b' ', b'\t', &b[i..]).map_or(b.len(), |k| i + k);
        out.push(Token {
            start,
            vstart: start,
            vend: i,
        });
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Terms

impl Terms {
    /// Evaluates with `present(i)` telling whether needle `i` occurs.
    pub(crate) fn eval_with(&self, mut present: impl FnMut(usize) -> bool) -> bool {
        if self.all.is_empty() && self.none.is_empty() {
            return self.any.iter().any(|&i| present(i));
        }
        self.all.iter().all(|&i| present(i)) && !self.none.iter().any(|&i| present(i))
    }

    pub(crate) fn eval(&self, text: &str) -> bool {
        self.eval_with(|i| self.needles[i].is_in(text))
    }
}

// ---------------------------------------------------------------------------------------------
// JSON

/// Calls `f` on every node `steps` yields from `node`; stops at the first `true`.
pub(crate) fn visit<'j, 'a>(
    node: &'j Json<'a>,
    steps: &[Step],
    f: &mut dyn FnMut(&'j Json<'a>) -> bool,
) -> bool {
    let Some((step, rest)) = steps.split_first() else {
        return f(node);
    };
    match step {
        Step::Key(k) => node.get(k).is_some_and(|n| visit(n, rest, f)),
        Step::Index(i) => match node {
            Json::Arr(items) => items.get(*i).is_some_and(|n| visit(n, rest, f)),
            _ => false,
        },
        Step::AnyElement => match node {
            Json::Arr(items) => items.iter().any(|n| visit(n, rest, f)),
            Json::Obj(_) => {
                let mut vals = Vec::new();
                node.member_values(&mut vals);
                vals.into_iter().any(|n| visit(n, rest, f))
            }
            _ => false,
        },
        Step::AnyMember => {
            let mut vals = Vec::new();
            node.member_values(&mut vals);
            vals.into_iter().any(|n| visit(n, rest, f))
        }
    }
}

fn num_cmp(op: Op, a: f64, b: f64) -> bool {
    match op {
        Op::Eq => a == b,
        Op::Ne => a != b,
        Op::Lt => a < b,
        Op::Le => a <= b,
        Op::Gt => a > b,
        Op::Ge => a >= b,
    }
}

/// `=` between a JSON node and a value (spec §5.5). Only strings and numbers can be equal.
fn json_eq(node: &Json<'_>, val: &Val) -> bool {
    let (text, num) = match node {
        Json::Str(s) => (s.as_ref(), false),
        Json::Num(n) => (*n, true),
        _ => return false,
    };
    match val {
        Val::Num(v, spelling) => {
            if num {
                text.parse::<f64>().is_ok_and(|n| n == *v)
            } else {
                text == spelling
            }
        }
        Val::Glob(g) => g.is_match(text),
        Val::Regex(r) => r.is_match(text),
    }
}

fn json_test(node: &Json<'_>, test: &JTest) -> bool {
    match test {
        JTest::Cmp(Op::Eq, v) => json_eq(node, v),
        JTest::Cmp(Op::Ne, v) => matches!(node, Json::Str(_) | Json::Num(_)) && !json_eq(node, v),
        JTest::Cmp(op, Val::Num(v, _)) => match node {
            Json::Num(n) => n.parse::<f64>().is_ok_and(|n| num_cmp(*op, n, *v)),
            _ => false,
        },
        JTest::Cmp(..) => false,
        JTest::IsNull => match node {
            Json::Null => true,
            Json::Arr(items) => items.iter().any(|i| matches!(i, Json::Null)),
            _ => false,
        },
        JTest::IsTrue => matches!(node, Json::Bool(true)),
        JTest::IsFalse => matches!(node, Json::Bool(false)),
        JTest::NotExists => false,
    }
}

pub(crate) fn eval_json(e: &JExpr, root: &Json<'_>) -> bool {
    match e {
        JExpr::Or(xs) => xs.iter().any(|x| eval_json(x, root)),
        JExpr::And(xs) => xs.iter().all(|x| eval_json(x, root)),
        JExpr::Test(steps, JTest::NotExists) => !visit(root, steps, &mut |_| true),
        JExpr::Test(steps, t) => visit(root, steps, &mut |n| json_test(n, t)),
    }
}

// ---------------------------------------------------------------------------------------------
// Space-delimited

/// Where the slots of a space-delimited pattern sit in a message (spec §6.3), computed without
/// allocating: slot texts are slices of the message.
pub(crate) struct Bound<'m, 'a> {
    msg: &'m Message<'a>,
    toks: &'m [Token],
    /// Left slots (the only ones without an ellipsis).
    nleft: usize,
    /// Right slots (after the ellipsis).
    nright: usize,
    /// No ellipsis and more tokens than slots: the last slot takes the raw rest of the line.
    absorb: bool,
}

impl<'a> Bound<'_, 'a> {
    pub(crate) fn left(&self, i: usize) -> &'a str {
        let t = &self.toks[i];
        if self.absorb && i + 1 == self.nleft {
            &self.msg.text[t.start..]
        } else {
            self.msg.value(t)
        }
    }

    pub(crate) fn right(&self, j: usize) -> &'a str {
        self.msg
            .value(&self.toks[self.toks.len() - self.nright + j])
    }
}

impl Delim {
    /// Binds the slots to the message's fields, or `None` when there are too few.
    pub(crate) fn bind<'m, 'a>(&self, msg: &'m Message<'a>) -> Option<Bound<'m, 'a>> {
        let toks = msg.tokens();
        let n = toks.len();
        let nleft = self.left.len();
        let nright = self.right.as_ref().map_or(0, Vec::len);
        if n < nleft + nright {
            return None;
        }
        Some(Bound {
            msg,
            toks,
            nleft,
            nright,
            absorb: self.right.is_none() && n > nleft,
        })
    }

    pub(crate) fn eval(&self, msg: &Message<'_>) -> bool {
        let Some(b) = self.bind(msg) else {
            return false;
        };
        self.check(&b)
    }

    pub(crate) fn check(&self, b: &Bound<'_, '_>) -> bool {
        let sides = [
            (true, &self.left[..]),
            (false, self.right.as_deref().unwrap_or(&[])),
        ];
        for (is_left, slots) in sides {
            for (i, slot) in slots.iter().enumerate() {
                if slot.conds.is_empty() {
                    continue;
                }
                let own = if is_left { b.left(i) } else { b.right(i) };
                let ok = slot.conds.iter().any(|ands| {
                    ands.iter().all(|c| {
                        let v = match c.target {
                            Target::Own => own,
                            Target::Left(j) => b.left(j),
                            Target::Right(j) => b.right(j),
                            Target::Unbound => return false,
                        };
                        field_test(v, c.op, &c.val)
                    })
                });
                if !ok {
                    return false;
                }
            }
        }
        true
    }

    /// The value of the first slot named `name` in a matching message: what [`Delim::extract`]
    /// lists under `$name`, without building the list. `None` when the message does not match
    /// or no slot has that name.
    pub(crate) fn named(&self, msg: &Message<'_>, name: &str) -> Option<String> {
        let b = self.bind(msg)?;
        if !self.check(&b) {
            return None;
        }
        if let Some(i) = self
            .left
            .iter()
            .position(|s| s.name.as_deref() == Some(name))
        {
            return Some(b.left(i).to_string());
        }
        let right = self.right.as_deref()?;
        let i = right.iter().position(|s| s.name.as_deref() == Some(name))?;
        Some(b.right(i).to_string())
    }

    /// Extracted values (spec §6.3): `$name` for named slots, `$<position>` for the rest.
    pub(crate) fn extract(&self, msg: &Message<'_>) -> Option<Vec<(String, usize, String)>> {
        let b = self.bind(msg)?;
        if !self.check(&b) {
            return None;
        }
        let toks = msg.tokens();
        let n = toks.len();
        let key = |slot: &Slot, pos: usize| match &slot.name {
            Some(name) => format!("${name}"),
            None => format!("${pos}"),
        };
        let mut out = Vec::new();
        match &self.right {
            None if self.left.is_empty() => {
                for (i, t) in toks.iter().enumerate() {
                    out.push((format!("${}", i + 1), i + 1, msg.value(t).to_string()));
                }
            }
            None => {
                for (i, slot) in self.left.iter().enumerate() {
                    out.push((key(slot, i + 1), i + 1, b.left(i).to_string()));
                }
            }
            Some(right) => {
                let (l, r) = (self.left.len(), right.len());
                for (i, slot) in self.left.iter().enumerate() {
                    out.push((key(slot, i + 1), i + 1, b.left(i).to_string()));
                }
                for (i, t) in toks.iter().enumerate().take(n - r).skip(l) {
                    out.push((format!("${}", i + 1), i + 1, msg.value(t).to_string()));
                }
                for (i, slot) in right.iter().enumerate() {
                    out.push((
                        key(slot, n - r + i + 1),
                        n - r + i + 1,
                        b.right(i).to_string(),
                    ));
                }
            }
        }
        Some(out)
    }
}

fn field_test(v: &str, op: Op, val: &Val) -> bool {
    let eq = || match val {
        Val::Num(n, spelling) => match as_number(v) {
            Some(x) => x == *n,
            None => v == spelling,
        },
        Val::Glob(g) => g.is_match(v),
        Val::Regex(r) => r.is_match(v),
    };
    match op {
        Op::Eq => eq(),
        Op::Ne => !eq(),
        _ => match (val, as_number(v)) {
            (Val::Num(n, _), Some(x)) => num_cmp(op, x, *n),
            _ => false,
        },
    }
}
