//! The CloudWatch Logs filter-pattern language, evaluated locally.
//!
//! The same language drives metric filters, subscription filters, `FilterLogEvents` and Live
//! Tail: term patterns (`ERROR -DEBUG ?WARN`, `"quoted phrase"`, `%regex%`), JSON patterns
//! (`{ $.errorCode = "AccessDenied" && $.latency > 100 }`) and space-delimited patterns
//! (`[ip, user, ..., status = 4*, bytes > 1000]`). This crate follows what AWS was *observed* to
//! do where that differs from the documentation: each observed answer is a row of
//! `testdata/*.toml` (format: `testdata/README.md`), with the source it comes from.
//!
//! It works in phases: [`parse`] builds an [`ast::Ast`] with byte spans (its `Display` prints a
//! pattern that parses back to the same tree), the tree is lowered to a small program, and the
//! program is evaluated against a [`Message`], which parses its JSON at most once, lazily, however
//! many patterns read it. [`PatternSet`] evaluates many patterns together, finding the literals
//! of all term patterns in one Aho-Corasick pass.
//!
//! # Example
//!
//! ```
//! use cwlogs_filter::{Message, MetricValue, Pattern, PatternKind, PatternSet};
//!
//! let p = Pattern::new(r#"{ $.errorCode = "AccessDenied" && $.latency > 100 }"#)?;
//! assert_eq!(p.kind(), PatternKind::Json);
//! let msg = Message::new(r#"{"errorCode":"AccessDenied","latency":250}"#);
//! assert!(p.is_match(&msg));
//! let latency = MetricValue::parse("$.latency")?;
//! assert_eq!(p.metric_value(&msg, &latency), Some(250.0));
//!
//! let apache = Pattern::new("[ip, user, ..., status = 4*, bytes]")?;
//! let line = Message::new(r#"127.0.0.1 frank [10/Oct/2000:13:25:15 -0700] "GET /a HTTP/1.0" 404 1534"#);
//! let fields = apache.extract(&line).expect("matches");
//! assert_eq!(fields.get("$status"), Some("404"));
//!
//! let set = PatternSet::new([p.clone(), apache, Pattern::new("ERROR -DEBUG")?]);
//! let mut hits = Vec::new();
//! set.matches(&Message::new("ERROR disk full"), &mut hits);
//! assert_eq!(hits, vec![2]);
//!
//! let err = Pattern::new("ERR*").unwrap_err();
//! assert_eq!(err.aws_message(), "Invalid character(s) in term '*'");
//! # Ok::<(), cwlogs_filter::Error>(())
//! ```
//!
//! # Input safety
//!
//! Patterns and messages come from outside; every cost is bounded:
//!
//! - **Pattern length**: at most [`MAX_PATTERN_CHARS`] (1024) characters, as in CloudWatch.
//!   Parsing is linear in the length.
//! - **Nesting**: parentheses in JSON patterns nest at most [`MAX_NESTING`] (64) levels; deeper
//!   gives [`ErrorKind::NestingTooDeep`]. No recursion in parsing or evaluation goes deeper.
//! - **Regexes**: at most [`MAX_REGEXES`] (2) per pattern, only the CloudWatch subset, each
//!   compiled by the `regex` crate (linear-time matching, no backtracking) with a compiled-size
//!   limit and a lazy-DFA cache limit of 1 MiB each and a syntax nesting limit of 64.
//! - **JSON selectors**: at most 1 wildcard per selector and 3 wildcard selectors per pattern.
//! - **Messages**: taken as `&str` (the caller decides what to do with invalid UTF-8, e.g.
//!   lossy conversion). The JSON reader recurses at most [`MAX_JSON_DEPTH`] (128) levels; a
//!   deeper or malformed message simply does not match JSON patterns. JSON is read once per
//!   [`Message`], lazily; field splitting is one linear pass, also cached. Term literals are
//!   found by `memchr`/Aho-Corasick in linear time. Nothing allocates more than a small
//!   multiple of the message size, and no input makes evaluation panic (fuzzed).
//! - **Metric value expressions**: at most [`MAX_METRIC_VALUE_CHARS`] (100) characters.
//!
//! # Decisions on open questions (spec §10)
//!
//! Recorded as rows of `testdata/decisions.toml`: Lambda-prefixed JSON lines are text (§10.1);
//! a `*` inside a value is literal, only leading/trailing `*` are wildcards (§10.2); wildcards
//! and regexes apply to a JSON number's spelling (§10.3); unquoted terms may hold letters
//! (any script), digits and `_ - . : / @ # = + ' ; ! ~ ^ & < > \ $ |`, while `*`, `,`, `"`,
//! `%`, brackets and braces must be quoted (§10.4); regex `.` does not match a newline and `^`
//! `$` anchor the whole message (§10.5); a metric value is taken from a JSON number or a string
//! that is exactly a number, or from a numeric extracted field, and is otherwise absent (§10.6);
//! a space-delimited condition naming another slot tests that slot, and one naming no slot is
//! never true (§10.8); whitespace-only patterns match everything (§10.9).
//!
//! # Errors
//!
//! [`Pattern::new`] rejects every pattern CloudWatch rejects (never evaluating it as "no
//! match"). The [`Error`] carries an [`ErrorKind`], the pattern and the byte span of the fault;
//! [`Error::aws_message`] is the text CloudWatch replies with (for example
//! `Invalid character(s) in term '%^('`), and `Display` adds the pattern with a caret under the
//! fault.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod ast;
mod aws_regex;
mod compile;
mod error;
mod eval;
mod json;
mod parse;

pub use error::{Error, ErrorKind};
pub use eval::Message;
pub use json::MAX_JSON_DEPTH;
pub use parse::{MAX_PATTERN_CHARS, parse};

use aho_corasick::AhoCorasick;
use compile::{Needle, Program, Step};
use json::Json;
use memchr::memmem::Finder;
use std::fmt;
use std::sync::Arc;

/// Deepest parenthesis nesting accepted in a JSON pattern.
pub const MAX_NESTING: usize = 64;
/// Regular expressions allowed in one pattern.
pub const MAX_REGEXES: usize = 2;
/// Selectors with a wildcard allowed in one JSON pattern.
pub const MAX_WILDCARD_SELECTORS: usize = 3;
/// Longest metric value expression, in characters.
pub const MAX_METRIC_VALUE_CHARS: usize = 100;

/// The family of a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatternKind {
    /// Empty or whitespace only: matches every event.
    MatchAll,
    /// Terms, quoted phrases and regexes.
    Terms,
    /// `{ ... }`.
    Json,
    /// `[ ... ]`.
    Delimited,
}

/// A compiled filter pattern. Cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct Pattern {
    inner: Arc<Inner>,
}

struct Inner {
    source: String,
    normalized: String,
    ast: ast::Ast,
    program: Program,
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pattern").field(&self.inner.source).finish()
    }
}

/// Prints the normalized pattern (one space between tokens, `{ ... }`, `[a, b]`).
impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.normalized)
    }
}

/// The fields a space-delimited pattern extracted from a message, in pattern order. Keys carry
/// the `$` (`$ip`, `$3`); values are always strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    /// `(key, 1-based field position, value)`.
    fields: Vec<(String, usize, String)>,
}

impl Extracted {
    /// The value of `key` (`"$ip"` or `"$3"`).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, _, v)| v.as_str())
    }

    /// The value at 1-based field position `n`, whatever its name (`$7` of a 7-field pattern
    /// is its last named field).
    pub fn get_position(&self, n: usize) -> Option<&str> {
        self.fields
            .iter()
            .find(|(_, p, _)| *p == n)
            .map(|(_, _, v)| v.as_str())
    }

    /// `(key, value)` pairs in pattern order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(k, _, v)| (k.as_str(), v.as_str()))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True when nothing was extracted (always, for non-delimited patterns).
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

impl Pattern {
    /// Parses and compiles a pattern. Rejects what CloudWatch rejects.
    pub fn new(src: &str) -> Result<Pattern, Error> {
        let ast = parse::parse(src)?;
        let program = compile::compile(src, &ast)?;
        Ok(Pattern {
            inner: Arc::new(Inner {
                source: src.to_string(),
                normalized: ast.to_string(),
                ast,
                program,
            }),
        })
    }

    /// The pattern as given.
    pub fn source(&self) -> &str {
        &self.inner.source
    }

    /// The syntax tree.
    pub fn ast(&self) -> &ast::Ast {
        &self.inner.ast
    }

    /// The family of the pattern.
    pub fn kind(&self) -> PatternKind {
        match self.inner.program {
            Program::MatchAll => PatternKind::MatchAll,
            Program::Terms(_) => PatternKind::Terms,
            Program::Json(_) => PatternKind::Json,
            Program::Delimited(_) => PatternKind::Delimited,
        }
    }

    /// Does the message match?
    pub fn is_match(&self, msg: &Message<'_>) -> bool {
        match &self.inner.program {
            Program::MatchAll => true,
            Program::Terms(t) => t.eval(msg.text()),
            Program::Json(e) => msg.json().is_some_and(|root| eval::eval_json(e, root)),
            Program::Delimited(d) => d.eval(msg),
        }
    }

    /// For a matching message, the extracted fields (empty for non-delimited patterns, like
    /// TestMetricFilter's `extractedValues`). `None` when the message does not match.
    pub fn extract(&self, msg: &Message<'_>) -> Option<Extracted> {
        match &self.inner.program {
            Program::Delimited(d) => d.extract(msg).map(|fields| Extracted { fields }),
            _ => self.is_match(msg).then(Extracted::default),
        }
    }

    /// Checks that `value` can be used as this pattern's `metricValue`: a literal always, `$.path`
    /// only with JSON patterns, `$name`/`$N` only with space-delimited ones (`$name` must be a
    /// field of the pattern).
    pub fn check_metric_value(&self, value: &MetricValue) -> Result<(), Error> {
        self.check_ref(value, false)
    }

    /// Checks that `value` can be a dimension value of a metric filter with this pattern. Term
    /// and match-all patterns do not support dimensions (AWS: `The specified filter pattern does
    /// not support dimensions`); literals are not field references.
    pub fn check_dimension(&self, value: &MetricValue) -> Result<(), Error> {
        self.check_ref(value, true)
    }

    fn check_ref(&self, value: &MetricValue, dimension: bool) -> Result<(), Error> {
        let kind = self.kind();
        let not_supported = || {
            Err(Error::new(
                ErrorKind::DimensionsNotSupported,
                &value.source,
                0..value.source.len(),
            ))
        };
        if dimension && matches!(kind, PatternKind::Terms | PatternKind::MatchAll) {
            return not_supported();
        }
        let bad = |reason: &str| {
            Err(Error::new(
                ErrorKind::InvalidMetricValue {
                    reason: reason.to_string(),
                },
                &value.source,
                0..value.source.len(),
            ))
        };
        match &value.kind {
            MetricKind::Literal(_) if dimension => {
                bad("a dimension value must be a field reference")
            }
            MetricKind::Literal(_) => Ok(()),
            MetricKind::Path(_) if kind == PatternKind::Json => Ok(()),
            MetricKind::Path(_) => bad("`$.path` needs a JSON pattern"),
            MetricKind::Position(_) if kind == PatternKind::Delimited => Ok(()),
            MetricKind::Field(name) if kind == PatternKind::Delimited => {
                let declared = match &self.inner.ast {
                    ast::Ast::Delimited(fields) => fields.iter().any(|f| f.name() == Some(name)),
                    _ => false,
                };
                if declared {
                    Ok(())
                } else {
                    bad("the pattern has no field of that name")
                }
            }
            MetricKind::Position(_) | MetricKind::Field(_) => {
                bad("`$field` needs a space-delimited pattern")
            }
        }
    }

    /// The metric value that `metricValue = value` publishes for `msg`: `None` when the message
    /// does not match or the referenced value is missing or not numeric (decision §10.6: a JSON
    /// string that is exactly a number counts as that number).
    pub fn metric_value(&self, msg: &Message<'_>, value: &MetricValue) -> Option<f64> {
        if let MetricKind::Literal(n) = value.kind {
            return self.is_match(msg).then_some(n);
        }
        let text = self.field_text(msg, value)?;
        compile::as_number(&text).filter(|n| n.is_finite())
    }

    /// The text of the value `value` refers to in a matching message (for dimension values):
    /// a JSON string's content, a number's spelling, `true`/`false`; an extracted field. `None`
    /// when not matched, missing, `null`, an object or an array.
    pub fn field_text(&self, msg: &Message<'_>, value: &MetricValue) -> Option<String> {
        match (&value.kind, &self.inner.program) {
            (MetricKind::Literal(_), _) => self.is_match(msg).then(|| value.source.clone()),
            (MetricKind::Path(steps), Program::Json(e)) => {
                let root = msg.json()?;
                if !eval::eval_json(e, root) {
                    return None;
                }
                let mut found: Option<&Json<'_>> = None;
                eval::visit(root, steps, &mut |n| {
                    found = Some(n);
                    true
                });
                match found? {
                    Json::Str(s) => Some(s.to_string()),
                    Json::Num(n) => Some((*n).to_string()),
                    Json::Bool(b) => Some(b.to_string()),
                    Json::Null | Json::Arr(_) | Json::Obj(_) => None,
                }
            }
            // A named field (not one spelled like a position, `$3`, which `extract` could also
            // list for an unnamed slot): read the slot directly.
            (MetricKind::Field(name), Program::Delimited(d))
                if !name.bytes().all(|c| c.is_ascii_digit()) =>
            {
                d.named(msg, name)
            }
            (MetricKind::Field(_), Program::Delimited(_)) => {
                let ex = self.extract(msg)?;
                ex.get(&value.source).map(str::to_string)
            }
            (MetricKind::Position(n), Program::Delimited(_)) => {
                let ex = self.extract(msg)?;
                ex.get_position(*n).map(str::to_string)
            }
            _ => None,
        }
    }
}

/// A `metricValue` (or dimension value) expression: a number literal, `$.path`, `$name` or `$N`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricValue {
    source: String,
    kind: MetricKind,
}

#[derive(Debug, Clone, PartialEq)]
enum MetricKind {
    Literal(f64),
    Path(Vec<Step>),
    Field(String),
    Position(usize),
}

impl MetricValue {
    /// Parses an expression.
    pub fn parse(expr: &str) -> Result<MetricValue, Error> {
        let bad = |reason: &str, start: usize, end: usize| {
            Err(Error::new(
                ErrorKind::InvalidMetricValue {
                    reason: reason.to_string(),
                },
                expr,
                start..end,
            ))
        };
        let chars = expr.chars().count();
        if chars > MAX_METRIC_VALUE_CHARS {
            return bad("longer than 100 characters", 0, expr.len());
        }
        let kind = if let Some(rest) = expr.strip_prefix('$') {
            if rest.starts_with('.') || rest.starts_with('[') {
                let (sel, end) = parse::parse_selector(expr, 0, expr.len())?;
                if end != expr.len() {
                    return bad("unexpected text after the selector", end, expr.len());
                }
                if sel.wildcards() > 0 {
                    return bad("a metric value selector cannot hold a wildcard", 0, end);
                }
                MetricKind::Path(compile::steps(&sel))
            } else if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
                match rest.parse::<usize>() {
                    Ok(n) if n >= 1 => MetricKind::Position(n),
                    _ => return bad("field positions start at $1", 0, expr.len()),
                }
            } else if !rest.is_empty() && rest.chars().all(|c| c.is_alphanumeric() || c == '_') {
                MetricKind::Field(rest.to_string())
            } else {
                return bad("expected `$.path`, `$name` or `$N`", 0, expr.len());
            }
        } else {
            match compile::as_number(expr) {
                Some(n) if n.is_finite() => MetricKind::Literal(n),
                _ => {
                    return bad(
                        "expected a number, `$.path`, `$name` or `$N`",
                        0,
                        expr.len(),
                    );
                }
            }
        };
        Ok(MetricValue {
            source: expr.to_string(),
            kind,
        })
    }

    /// The expression as given.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The number, when the expression is a number literal (`"1"`): the value every matching
    /// message publishes, which a caller that knows the message matched can take without
    /// [`Pattern::metric_value`] evaluating the pattern again.
    pub fn literal(&self) -> Option<f64> {
        match self.kind {
            MetricKind::Literal(n) => Some(n),
            _ => None,
        }
    }
}

/// Leftmost-longest searches per message before [`PatternSet::matches`] switches to one
/// overlapping pass.
const MAX_RESTARTS: usize = 256;

/// Texts a message is searched for, per [`PatternSet::matches_among`], to rule patterns out
/// before its JSON is parsed or its fields split; past it, reading the message once costs less
/// than searching it again for each further pattern.
const MAX_PREFILTER_SEARCHES: usize = 16;

/// Distinct texts (term literals and the required texts of JSON and space-delimited patterns)
/// up to which a [`PatternSet`] finds them all in one shared scan of each message.
const MAX_ONE_PASS_LITERALS: usize = 32;

/// Whether `text` holds a `\u` (a JSON escape that can spell any character).
fn has_unicode_escape(text: &[u8]) -> bool {
    memchr::memchr_iter(b'\\', text).any(|i| text.get(i + 1) == Some(&b'u'))
}

/// Many patterns compiled together. [`PatternSet::matches`] gives the same answers as calling
/// [`Pattern::is_match`] on each, but finds the literals of all term patterns in one
/// Aho-Corasick pass and parses the message's JSON at most once.
#[derive(Debug, Clone)]
pub struct PatternSet {
    patterns: Vec<Pattern>,
    /// Distinct non-empty literals of all term patterns, leftmost-longest (the fast pass).
    ac: Option<AhoCorasick>,
    /// For up to [`MAX_ONE_PASS_LITERALS`] literals, the same leftmost-longest search by the
    /// packed (SIMD) searcher alone, which the automaton above uses as its prefilter: without
    /// the automaton around it, a scan costs a fifth less.
    packed: Option<aho_corasick::packed::Searcher>,
    /// The same literals for an overlapping search, used after [`MAX_RESTARTS`] matches in one
    /// message: the restart pass costs up to (message length x longest literal), the overlapping
    /// one (message length + matches).
    ac_overlapping: Option<AhoCorasick>,
    literal_count: usize,
    /// For each literal id, the ids of the literals that are prefixes of it (itself included).
    prefixes: Vec<Vec<usize>>,
    /// For each pattern, for each of its needles: the literal id (`None` for regexes and empty
    /// literals, which are evaluated directly).
    needle_ids: Vec<Vec<Option<usize>>>,
    /// For each JSON and space-delimited pattern, the texts its matches contain (see
    /// `JExpr::required_texts`, `Delim::required_texts`): clauses that must all hold, each met
    /// by any of its texts. Until some pattern has parsed the message's JSON (or split its
    /// fields), a message failing a clause is ruled out without that work (a JSON one only
    /// when it holds no `\u` escape). Searched per pattern, not in the shared literal scan:
    /// that scan slows down with many literals, while these searches stop once the message
    /// has been read.
    required: Vec<Vec<Vec<Finder<'static>>>>,
    /// For small sets (at most [`MAX_ONE_PASS_LITERALS`] distinct texts, term literals and
    /// required texts together): the same clauses as `required`, as literal ids. The required
    /// texts are then literals of the shared scan too, so a message is read once for all of
    /// them instead of once per pattern and text (a CloudTrail message was searched up to
    /// five times by the e2e bench's ten rules); with more texts, the shared scan slows down
    /// more than the searches it saves, and `required` is searched per pattern.
    required_ids: Option<Vec<Vec<Vec<usize>>>>,
    /// The patterns evaluated first: those without texts to look for.
    immediate: Vec<usize>,
    /// The patterns evaluated after them: JSON and space-delimited ones with texts.
    deferred: Vec<usize>,
    /// The union of the JSON patterns' selectors: what a pass over a message builds of its
    /// JSON (the rest is checked, not built).
    keep: json::Keep,
}

impl PatternSet {
    /// Compiles the literal index of `patterns`.
    pub fn new(patterns: impl IntoIterator<Item = Pattern>) -> PatternSet {
        let patterns: Vec<Pattern> = patterns.into_iter().collect();
        let mut keep = json::Keep::default();
        for p in &patterns {
            if let Program::Json(e) = &p.inner.program {
                e.paths(&mut |steps| keep.add(steps));
            }
        }
        let mut literals: Vec<Vec<u8>> = Vec::new();
        let mut index = std::collections::HashMap::new();
        let mut needle_ids = Vec::with_capacity(patterns.len());
        let mut required_finders = Vec::with_capacity(patterns.len());
        let mut id_of = |lit: &[u8]| -> usize {
            *index.entry(lit.to_vec()).or_insert_with(|| {
                literals.push(lit.to_vec());
                literals.len() - 1
            })
        };
        for p in &patterns {
            let mut ids = Vec::new();
            let mut required = Vec::new();
            match &p.inner.program {
                Program::Terms(t) => {
                    for n in &t.needles {
                        ids.push(match n {
                            Needle::Text(f) if !f.needle().is_empty() => Some(id_of(f.needle())),
                            _ => None,
                        });
                    }
                }
                Program::Json(e) => required = e.required_texts(),
                Program::Delimited(d) => required = d.required_texts(),
                Program::MatchAll => {}
            }
            needle_ids.push(ids);
            required_finders.push(
                required
                    .iter()
                    .map(|texts| {
                        texts
                            .iter()
                            .map(|t| Finder::new(t.as_bytes()).into_owned())
                            .collect()
                    })
                    .collect::<Vec<Vec<Finder<'static>>>>(),
            );
        }
        // Small sets: the required texts join the term literals in the shared scan.
        let required_ids = {
            let mut distinct: std::collections::HashSet<&[u8]> = std::collections::HashSet::new();
            for (p, clauses) in patterns.iter().zip(&required_finders) {
                if let Program::Terms(t) = &p.inner.program {
                    for n in &t.needles {
                        if let Needle::Text(f) = n
                            && !f.needle().is_empty()
                        {
                            distinct.insert(f.needle());
                        }
                    }
                }
                for f in clauses.iter().flatten() {
                    distinct.insert(f.needle());
                }
            }
            (distinct.len() <= MAX_ONE_PASS_LITERALS).then(|| {
                required_finders
                    .iter()
                    .map(|clauses| {
                        clauses
                            .iter()
                            .map(|any| any.iter().map(|f| id_of(f.needle())).collect())
                            .collect()
                    })
                    .collect::<Vec<Vec<Vec<usize>>>>()
            })
        };
        // Leftmost-longest search keeps the automaton's SIMD prefilter; restarting one byte after
        // each match start visits every position where a literal starts, and at such a position
        // the longest literal is reported, so marking every literal that is a prefix of it finds
        // every literal present.
        let build = |kind| {
            if literals.is_empty() {
                None
            } else {
                // A contiguous NFA, not the DFA the builder picks for small sets: a DFA over
                // long literals (a config of 1,000-character phrases) takes seconds and tens of
                // MB to build at every cold start; the NFA builds in milliseconds, and the
                // packed prefilter does most of the searching either way.
                AhoCorasick::builder()
                    .match_kind(kind)
                    .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
                    .build(&literals)
                    .ok()
            }
        };
        let ac = build(aho_corasick::MatchKind::LeftmostLongest);
        let packed = if literals.is_empty() || literals.len() > MAX_ONE_PASS_LITERALS {
            None
        } else {
            aho_corasick::packed::Config::new()
                .match_kind(aho_corasick::packed::MatchKind::LeftmostLongest)
                .builder()
                .extend(&literals)
                .build()
        };
        let ac_overlapping = build(aho_corasick::MatchKind::Standard);
        let (deferred, immediate): (Vec<usize>, Vec<usize>) = (0..patterns.len()).partition(|&i| {
            matches!(
                patterns[i].inner.program,
                Program::Json(_) | Program::Delimited(_)
            ) && !required_finders[i].is_empty()
        });
        let prefixes = literals
            .iter()
            .map(|long| {
                (0..literals.len())
                    .filter(|&j| long.starts_with(&literals[j]))
                    .collect()
            })
            .collect();
        PatternSet {
            patterns,
            literal_count: literals.len(),
            ac,
            packed,
            ac_overlapping,
            prefixes,
            needle_ids,
            immediate,
            deferred,
            required: required_finders,
            required_ids,
            keep,
        }
    }

    /// Heap bytes held by the literal index (the automata over the term literals), for
    /// sizing: a configuration's rules cost this much memory in every function instance.
    pub fn literal_index_bytes(&self) -> usize {
        [&self.ac, &self.ac_overlapping]
            .into_iter()
            .flatten()
            .map(AhoCorasick::memory_usage)
            .sum::<usize>()
            + self
                .packed
                .as_ref()
                .map_or(0, aho_corasick::packed::Searcher::memory_usage)
    }

    /// Also keeps `value`'s path in the JSON of [`PatternSet::message`]s: the metric values,
    /// dimensions and group-by fields read from matching messages must be added here.
    pub fn keep_value(&mut self, value: &MetricValue) {
        if let MetricKind::Path(steps) = &value.kind {
            self.keep.add(steps);
        }
    }

    /// `text` as a message for this set's patterns: its JSON, when a JSON pattern reads it, is
    /// built only along the selectors of the set's JSON patterns and the values given to
    /// [`PatternSet::keep_value`] (the rest is checked, not built: a rule on `$.errorCode`
    /// does not build the rest of a CloudTrail record). Such a message must only be given to
    /// this set's patterns, and only those values read from it; [`Message::new`] builds
    /// everything.
    pub fn message<'a>(&'a self, text: &'a str) -> Message<'a> {
        Message::kept(text, &self.keep)
    }

    /// The patterns, in the order given.
    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// Number of patterns.
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    /// True when the set holds no pattern.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Clears `out` and fills it with the indices of the patterns `msg` matches, ascending.
    pub fn matches(&self, msg: &Message<'_>, out: &mut Vec<usize>) {
        let scan = self.ac.is_some();
        let one_pass = scan && self.required_ids.is_some();
        self.run(&self.immediate, &self.deferred, scan, one_pass, msg, out);
    }

    /// Like [`PatternSet::matches`], but only patterns `i` with `wanted(i)` are evaluated (the
    /// others are left out of `out`): callers that know some patterns do not apply to a
    /// message (rules scoped to other log groups) skip their JSON parse or field split. For
    /// many messages with the same `wanted` (a batch of one log group), [`PatternSet::among`]
    /// sorts the patterns once.
    pub fn matches_among(
        &self,
        msg: &Message<'_>,
        wanted: &dyn Fn(usize) -> bool,
        out: &mut Vec<usize>,
    ) {
        self.among(wanted).matches(msg, out);
    }

    /// The patterns `i` with `wanted(i)`, ready to be evaluated against many messages.
    pub fn among(&self, wanted: &dyn Fn(usize) -> bool) -> Among<'_> {
        let immediate: Vec<usize> = self
            .immediate
            .iter()
            .copied()
            .filter(|&i| wanted(i))
            .collect();
        let deferred: Vec<usize> = self
            .deferred
            .iter()
            .copied()
            .filter(|&i| wanted(i))
            .collect();
        // The literal scan is needed for term patterns with literals, and finds the required
        // texts of small sets when there are two or more of them to find (one text alone is
        // found faster by its own search, which stops at the first occurrence).
        let terms = immediate
            .iter()
            .any(|&i| self.needle_ids[i].iter().any(Option::is_some));
        let texts: usize = deferred
            .iter()
            .map(|&i| self.required[i].iter().map(Vec::len).sum::<usize>())
            .sum();
        let one_pass = self.ac.is_some() && self.required_ids.is_some() && (terms || texts > 1);
        Among {
            set: self,
            deferred,
            immediate,
            scan: self.ac.is_some() && (terms || one_pass),
            one_pass,
        }
    }

    /// Evaluates the patterns `immediate`, then `deferred` (see [`PatternSet::matches`]); the
    /// literal scan runs only with `scan`, and with `one_pass` (which needs `scan` and
    /// `required_ids`) it also finds the deferred patterns' required texts.
    fn run(
        &self,
        immediate: &[usize],
        deferred: &[usize],
        scan: bool,
        one_pass: bool,
        msg: &Message<'_>,
        out: &mut Vec<usize>,
    ) {
        out.clear();
        // Which literals occur: on the stack for the usual few dozen, so that a message costs
        // no allocation here.
        let mut on_stack = [false; 64];
        let mut on_heap = Vec::new();
        let found: &mut [bool] = if self.literal_count <= on_stack.len() {
            &mut on_stack[..self.literal_count]
        } else {
            on_heap.resize(self.literal_count, false);
            &mut on_heap
        };
        if let Some(ac) = self.ac.as_ref().filter(|_| scan) {
            let text = msg.text().as_bytes();
            let mut left = self.literal_count;
            let mut at = 0;
            let mut restarts = 0;
            'search: while at < text.len() {
                if restarts == MAX_RESTARTS {
                    if let Some(ov) = &self.ac_overlapping {
                        let input = aho_corasick::Input::new(text).range(at..);
                        for m in ov.find_overlapping_iter(input) {
                            let id = m.pattern().as_usize();
                            if !found[id] {
                                found[id] = true;
                                left -= 1;
                                if left == 0 {
                                    break;
                                }
                            }
                        }
                    }
                    break;
                }
                restarts += 1;
                let found_at = match &self.packed {
                    Some(p) => p.find_in(text, aho_corasick::Span::from(at..text.len())),
                    None => ac.find(aho_corasick::Input::new(text).range(at..)),
                };
                let Some(m) = found_at else {
                    break;
                };
                for &id in &self.prefixes[m.pattern().as_usize()] {
                    if !found[id] {
                        found[id] = true;
                        left -= 1;
                        if left == 0 {
                            break 'search;
                        }
                    }
                }
                at = m.start() + 1;
            }
        }
        // Patterns with texts to look for wait until the others have run (a second pass, below):
        // if one of those parsed the message's JSON (or split its fields), searching would save
        // nothing.
        for &i in immediate {
            let p = &self.patterns[i];
            let hit = match &p.inner.program {
                Program::Terms(t) => {
                    let ids = &self.needle_ids[i];
                    t.eval_with(|k| match ids[k] {
                        Some(id) => found[id],
                        None => t.needles[k].is_in(msg.text()),
                    })
                }
                _ => p.is_match(msg),
            };
            if hit {
                out.push(i);
            }
        }
        if deferred.is_empty() {
            return;
        }
        let text = msg.text().as_bytes();
        // Whether the message holds a `\u` escape, looked for once, when first needed.
        let mut escaped: Option<bool> = None;
        let mut searches = 0;
        let required_ids = self.required_ids.as_ref().filter(|_| one_pass && scan);
        for &i in deferred {
            let p = &self.patterns[i];
            let json = matches!(p.inner.program, Program::Json(_));
            let ruled_out = if let Some(ids) = required_ids {
                // The scan found every text: checking costs nothing, even after a parse.
                !(json && *escaped.get_or_insert_with(|| has_unicode_escape(text)))
                    && ids[i].iter().any(|any| !any.iter().any(|&id| found[id]))
            } else {
                // Nothing left to save, or the texts could be spelled otherwise: evaluate.
                let evaluate = searches >= MAX_PREFILTER_SEARCHES
                    || msg.is_read(json)
                    || (json && *escaped.get_or_insert_with(|| has_unicode_escape(text)));
                !evaluate
                    && self.required[i].iter().any(|any| {
                        !any.iter().any(|f| {
                            searches += 1;
                            f.find(text).is_some()
                        })
                    })
            };
            if !ruled_out && p.is_match(msg) {
                out.push(i);
            }
        }
        out.sort_unstable();
    }
}

/// Some patterns of a [`PatternSet`], chosen once ([`PatternSet::among`]) for many messages.
#[derive(Debug, Clone)]
pub struct Among<'s> {
    set: &'s PatternSet,
    immediate: Vec<usize>,
    deferred: Vec<usize>,
    scan: bool,
    one_pass: bool,
}

impl Among<'_> {
    /// Clears `out` and fills it with the indices (in the whole set) of the chosen patterns
    /// `msg` matches, ascending.
    pub fn matches(&self, msg: &Message<'_>, out: &mut Vec<usize>) {
        self.set.run(
            &self.immediate,
            &self.deferred,
            self.scan,
            self.one_pass,
            msg,
            out,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + Clone>() {}

    #[test]
    fn pattern_is_send_sync_clone() {
        assert_send_sync::<Pattern>();
        assert_send_sync::<PatternSet>();
    }

    #[test]
    fn caret_points_at_the_fault() {
        let e = Pattern::new("ERROR ERR*").unwrap_err();
        let shown = e.to_string();
        assert_eq!(
            shown,
            "Invalid character(s) in term '*'\n  ERROR ERR*\n           ^"
        );
    }

    #[test]
    fn error_spans_stay_on_char_boundaries() {
        for src in ["{é", "{ $.a = 1 é", "[é", "%é", "{ $.é = 1 }", "é*"] {
            let e = Pattern::new(src).unwrap_err();
            let _ = e.to_string();
            assert!(src.is_char_boundary(e.span().start) && src.is_char_boundary(e.span().end));
        }
    }

    #[test]
    fn json_patterns_name_the_texts_their_matches_contain() {
        let required = |src: &str| -> Vec<Vec<String>> {
            let p = Pattern::new(src).unwrap();
            let Program::Json(e) = &p.inner.program else {
                panic!("{src} is not a JSON pattern");
            };
            e.required_texts()
                .iter()
                .map(|c| c.iter().map(|t| t.to_string()).collect())
                .collect()
        };
        let v = |clauses: &[&[&str]]| -> Vec<Vec<String>> {
            clauses
                .iter()
                .map(|c| c.iter().map(|t| t.to_string()).collect())
                .collect()
        };
        assert_eq!(
            required(r#"{ $.errorCode = "AccessDenied" }"#),
            v(&[&["AccessDenied"]])
        );
        assert_eq!(required(r#"{ $.e = "*Exception" }"#), v(&[&["Exception"]]));
        assert_eq!(
            required(
                r#"{ ($.src = "iam.amazonaws.com") && (($.n = "CreateKey") || ($.n = "DeleteKey")) }"#
            ),
            v(&[&["iam.amazonaws.com"], &["CreateKey", "DeleteKey"]])
        );
        assert_eq!(
            required("{ $.a IS TRUE || ($.b IS NULL && $.c = x) }"),
            v(&[&["true", "null"]])
        );
        // Nothing known: numbers, !=, regexes, NOT EXISTS, a bare *, texts an escape other
        // than \u could spell, and an OR with such a branch.
        for src in [
            "{ $.latency > 100 }",
            "{ $.a = 1 }",
            r#"{ $.a != "x" }"#,
            "{ $.a = %ab+% }",
            "{ $.a NOT EXISTS }",
            "{ $.a = * }",
            r#"{ $.a = "a/b" }"#,
            r#"{ $.a = "x" || $.b > 1 }"#,
        ] {
            assert!(required(src).is_empty(), "{src}");
        }
        // One branch of an AND with nothing known still leaves the other's; texts under 3
        // bytes are not worth a prefilter.
        assert_eq!(required(r#"{ $.a > 1 && $.b = "yes" }"#), v(&[&["yes"]]));
        assert!(required(r#"{ $.a = "no" }"#).is_empty());

        let delimited = |src: &str| -> Vec<Vec<String>> {
            let p = Pattern::new(src).unwrap();
            let Program::Delimited(d) = &p.inner.program else {
                panic!("{src} is not a space-delimited pattern");
            };
            d.required_texts()
                .iter()
                .map(|c| c.iter().map(|t| t.to_string()).collect())
                .collect()
        };
        assert_eq!(
            delimited(r#"[v, a, ..., action = "REJECT", status]"#),
            v(&[&["REJECT"]])
        );
        assert_eq!(
            delimited(r#"[ip, m = GET* || m = POST*, code = 5*, size > 100]"#),
            v(&[&["GET", "POST"]])
        );
        assert!(delimited("[ip, code != 200, size > 100]").is_empty());
    }

    #[test]
    fn sets_past_the_stack_literal_table_agree_with_single_patterns() {
        // 100 term literals (past the 64 looked up on the stack), and patterns deferred for
        // their texts, some of them not wanted.
        let mut patterns: Vec<Pattern> = (0..100)
            .map(|i| Pattern::new(&format!("word{i}")).unwrap())
            .collect();
        patterns.push(Pattern::new(r#"{ $.e = "AccessDenied" }"#).unwrap());
        patterns.push(Pattern::new(r#"[a, b = "REJECT"]"#).unwrap());
        patterns.push(Pattern::new(r#"{ $.n > 1 }"#).unwrap());
        // A regex term: no literal, evaluated directly, also when no literal scan runs.
        patterns.push(Pattern::new("%word1[0-9]%").unwrap());
        let set = PatternSet::new(patterns.clone());
        let every: &dyn Fn(usize) -> bool = &|_| true;
        let some: &dyn Fn(usize) -> bool = &|i| i % 3 != 0;
        let no_literals: &dyn Fn(usize) -> bool = &|i| i >= 100;
        let mut hits = Vec::new();
        let mut matched = 0;
        for text in [
            "word7 word70 word99 word12",
            r#"{"e":"AccessDenied","m":"word3","n":2}"#,
            "x REJECT",
            "word100 REJECT",
            "nothing",
        ] {
            let msg = Message::new(text);
            for wanted in [every, some, no_literals] {
                set.matches_among(&msg, wanted, &mut hits);
                let want: Vec<usize> = (0..patterns.len())
                    .filter(|&i| wanted(i) && patterns[i].is_match(&msg))
                    .collect();
                assert_eq!(hits, want, "{text}");
                matched += want.len();
            }
        }
        assert!(matched > 10, "the messages match something: {matched}");
    }

    #[test]
    fn set_switches_to_the_overlapping_pass_on_repetitive_text() {
        let long = format!("{}b", "a".repeat(1000));
        let patterns = [
            Pattern::new("a").unwrap(),
            Pattern::new(&long).unwrap(),
            Pattern::new("ab").unwrap(),
            Pattern::new("aa c").unwrap(),
        ];
        let set = PatternSet::new(patterns.clone());
        let mut hits = Vec::new();
        for text in [
            format!("{}b", "a".repeat(200_000)),
            "a".repeat(300),
            "ab".repeat(400),
        ] {
            let msg = Message::new(&text);
            set.matches(&msg, &mut hits);
            let want: Vec<usize> = (0..4).filter(|&i| patterns[i].is_match(&msg)).collect();
            assert_eq!(hits, want);
        }
    }

    #[test]
    fn metric_values_and_dimensions_are_checked_against_the_pattern_kind() {
        let mv = |s: &str| MetricValue::parse(s).unwrap();
        let terms = Pattern::new("ERROR").unwrap();
        let json = Pattern::new("{ $.a = * }").unwrap();
        let delim = Pattern::new("[ip, status, bytes]").unwrap();
        assert!(terms.check_metric_value(&mv("1")).is_ok());
        assert!(terms.check_metric_value(&mv("$.a")).is_err());
        assert_eq!(
            terms.check_dimension(&mv("$.a")).unwrap_err().aws_message(),
            "The specified filter pattern does not support dimensions"
        );
        assert!(json.check_dimension(&mv("$.a.b")).is_ok());
        assert!(json.check_dimension(&mv("$bytes")).is_err());
        assert!(json.check_dimension(&mv("1")).is_err());
        assert!(delim.check_dimension(&mv("$status")).is_ok());
        assert!(delim.check_metric_value(&mv("$7")).is_ok());
        assert!(delim.check_metric_value(&mv("$size")).is_err());
        assert!(delim.check_metric_value(&mv("$.a")).is_err());
        assert!(MetricValue::parse("$.a[*]").is_err());
        assert!(MetricValue::parse("$0").is_err());
        assert!(MetricValue::parse(&"1".repeat(101)).is_err());
        assert!(MetricValue::parse("abc").is_err());
        assert_eq!(mv("2.5").literal(), Some(2.5));
        assert_eq!(mv("$.a").literal(), None);
        assert_eq!(mv("$ip").literal(), None);

        let m = Message::new(r#"{"a":{"b":"x"},"n":1.50,"t":true}"#);
        let json = Pattern::new("{ $.n > 1 }").unwrap();
        assert_eq!(json.field_text(&m, &mv("$.a.b")).as_deref(), Some("x"));
        assert_eq!(json.field_text(&m, &mv("$.n")).as_deref(), Some("1.50"));
        assert_eq!(json.field_text(&m, &mv("$.t")).as_deref(), Some("true"));
        assert_eq!(json.field_text(&m, &mv("$.a")), None);
        assert_eq!(json.metric_value(&m, &mv("$.n")), Some(1.5));
        assert_eq!(json.metric_value(&m, &mv("$.t")), None);
        let l = Message::new("1.2.3.4 404 12");
        assert_eq!(delim.field_text(&l, &mv("$status")).as_deref(), Some("404"));
        assert_eq!(delim.metric_value(&l, &mv("$3")), Some(12.0));
    }

    #[test]
    fn display_prints_the_normalized_pattern() {
        let p = Pattern::new("  {$.a=1&&($.b>2||$.c IS NULL)}  ").unwrap();
        assert_eq!(p.to_string(), "{ $.a = 1 && ($.b > 2 || $.c IS NULL) }");
        assert_eq!(format!("{:#}", p.ast()), "{$.a=1&&($.b>2||$.c IS NULL)}");
        let p = Pattern::new("[a,...,b=4*&&b!=404 ,]").unwrap();
        assert_eq!(p.to_string(), "[a, ..., b = 4* && b != 404, ]");
        assert_eq!(
            Pattern::new("?a   -\"b c\"  %x+%").unwrap().to_string(),
            "?a -\"b c\" %x+%"
        );
    }

    #[test]
    fn named_fields_read_directly_agree_with_extract() {
        let cases = [
            (
                "[ip, user, ..., status = 5*, size]",
                "1.2.3.4 bob x y 500 12",
            ),
            ("[ip, user, ..., status, size]", "1.2.3.4 - 404 7"),
            ("[a, b = x, c]", "1 x 3"),
            ("[..., last]", "p q r"),
        ];
        for (src, text) in cases {
            let p = Pattern::new(src).unwrap();
            let m = Message::new(text);
            let ex = p.extract(&m).expect(src);
            for name in [
                "$ip", "$user", "$status", "$size", "$a", "$b", "$c", "$last",
            ] {
                let v = MetricValue::parse(name).unwrap();
                if p.check_metric_value(&v).is_ok() {
                    assert_eq!(
                        p.field_text(&m, &v).as_deref(),
                        ex.get(name),
                        "{src} {name}"
                    );
                }
            }
        }
    }

    #[test]
    fn set_evaluates_only_the_wanted_patterns() {
        let set = PatternSet::new([
            Pattern::new("a").unwrap(),
            Pattern::new("{ $.a = 1 }").unwrap(),
            Pattern::new("[x, y]").unwrap(),
        ]);
        let m = Message::new(r#"{"a":1}"#);
        let mut out = Vec::new();
        set.matches_among(&m, &|i| i != 1, &mut out);
        assert_eq!(out, vec![0]);
        assert!(!m.json_parsed());
        set.matches_among(&m, &|i| i == 1, &mut out);
        assert_eq!(out, vec![1]);
        set.matches(&m, &mut out);
        assert_eq!(out, vec![0, 1]);
    }

    #[test]
    fn json_is_parsed_only_when_needed() {
        let m = Message::new(r#"{"a":1}"#);
        let set = PatternSet::new([Pattern::new("a").unwrap()]);
        let mut out = Vec::new();
        set.matches(&m, &mut out);
        assert!(!m.json_parsed());
        assert!(Pattern::new("{ $.a = 1 }").unwrap().is_match(&m));
        assert!(m.json_parsed());
    }
}
