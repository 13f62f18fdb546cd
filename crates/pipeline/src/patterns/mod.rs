//! Log patterns: message templates learned online, per log group, one message at a time
//! (issue 21).
//!
//! Pure, no I/O. [`Miner::observe`] takes a log group and a message and answers with the
//! message's pattern: its id, its template as learned so far, and whether the message started
//! a new one.
//!
//! # How
//!
//! In the spirit of Drain (He et al., ICWS 2017), tuned for CloudWatch Logs messages and with
//! one configuration for every log group:
//!
//! 1. **Tokens** ([`tokenize`]): the message split on whitespace with its variable parts
//!    masked by built-in token classes (numbers, hex, UUIDs, IPs, times, dates, paths, URLs,
//!    quoted strings, `key=value` values, a number's unit); JSON messages as keys and value
//!    types (also after a Lambda runtime prefix). Bounded in bytes read, tokens and token
//!    length.
//! 2. **A fixed-depth prefix tree**: templates are found under (token count, first token);
//!    a message takes the most specific template of its leaf that it matches token for token
//!    (a template's `<*>` takes any token). An exact-skeleton cache answers repeated shapes
//!    without walking the leaf, and is asked before any token is built: a text message's key
//!    is its masked tokens written into a reused buffer, a JSON message's its skeleton
//!    (`skeleton.rs`: keys, value kinds, level values and masked message texts, read in one
//!    pass, or written by the document builder's validating pass in the index path); tokens
//!    are built only on a miss. The cache holds a 64-bit hash of each key, keyed at random
//!    per miner, not the key (see `SkeletonHasher`).
//! 3. **Generalisation by evidence, not by a similarity threshold**: where Drain merges a
//!    message into the most similar template above a threshold (which merges "stored as
//!    bytes" with "stored as values", "session opened" with "session closed"), a message that
//!    matches no template and differs from templates of its leaf in exactly one position
//!    (never the first), each with another value there, is merged with them into one template
//!    with `<*>` at that position once [`SIBLINGS`] distinct values have been seen. Two
//!    values are two templates; three are a variable; so are a word and a masked variable
//!    (`device lo`, `device eth0`).
//!
//! 4. **Fixed templates for the records AWS writes** (the `[parse]` formats): a CloudTrail
//!    record (a JSON object with string `eventVersion`, `eventSource` and `eventName` at its
//!    top) is `cloudtrail eventSource=s3.amazonaws.com eventName=GetObject`, with
//!    `errorCode=AccessDenied` when it has one; a VPC flow log record in the default format
//!    (version 2, fourteen fields) is `vpc-flow action=ACCEPT log-status=OK`. What a reader
//!    groups these records by, whatever their other fields hold; they match only the same
//!    tokens and are never generalised (a new API call or the first `REJECT` is a new
//!    pattern). A value that is not a plain word of at most 128 bytes (escapes are read, whitespace and quotes are not taken) leaves the record to the
//!    keys-and-types template. Lambda platform lines (`START`, `END`, `REPORT`) need none:
//!    their masked tokens are their template. Custom VPC flow log formats are learned as
//!    text (the miner does not know a log group's `[[parse.vpc_flow]]` format, and every
//!    container and command must give a record the same id).
//!
//! # Ids
//!
//! A pattern's id is the first 16 hex digits of SHA-256 of the template text it was created
//! with ([`crate::util::hash::short_hash`]); it keeps that id while its template generalises
//! (a merge keeps the oldest template's id). The same messages in the same order give the
//! same ids in every run and process, and the same template text in two log groups has the
//! same id. Ids are lowercase hex: safe for an index field or a file name.
//!
//! # Bounds
//!
//! [`Limits`]: at most `max_templates` templates per log group and `max_group_bytes` bytes of
//! them (the least recently seen template is evicted, and counted), at most `max_total_bytes`
//! for all groups (the least recently seen log groups are evicted, a quarter of the budget at
//! a time, and counted). The byte figures are estimates of the heap the templates hold. A
//! template's text is at most [`MAX_TEMPLATE_BYTES`] (its tokens are 16-bit ranges of it).
//!
//! # Alerts
//!
//! [`alerts`]: *new pattern* and *surge* alerts (`[patterns.new_alert]`,
//! `[patterns.surge_alert]`), decided by merging what an invocation mined into a per-log-group
//! template state kept in the alert [`crate::sink::StateStore`] with conditional writes, and
//! sent through [`crate::rules::alert`] as the alerts of two built-in rules. A container's miner
//! is seeded with the stored templates ([`Miner::seed`]) so that every container generalises
//! alike.

pub mod alerts;
mod config;
pub(crate) mod skeleton;
mod tokens;

pub(crate) use config::RawPatterns;
pub use config::{
    DEFAULT_PATTERN_WINDOW_MS, DEFAULT_SURGE_BASELINE_MS, DEFAULT_SURGE_FACTOR,
    DEFAULT_SURGE_MIN_COUNT, DEFAULT_WARMUP_MS, NEW_RULE, PatternAlert, PatternsConfig, SURGE_RULE,
    Surge,
};

pub use tokens::{
    MAX_JSON_BYTES, MAX_JSON_DEPTH, MAX_JSON_FIELDS, MAX_SCAN_BYTES, MAX_TOKEN_BYTES, MAX_TOKENS,
    WILD, tokenize,
};

use crate::util::hash::short_hash_hex;
use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinct values at one position that make it a variable.
pub const SIBLINGS: usize = 3;
/// Bytes of a template's example message kept.
pub const MAX_EXAMPLE_BYTES: usize = 512;
/// Ids of merged templates a template remembers (documents tagged before a merge carry them).
pub const MAX_MERGED_IDS: usize = 16;
/// Skeletons longer than this are not cached (their messages take the leaf walk).
const MAX_CACHED_SKELETON: usize = 1024;
/// Entries of a group's repeat cache (see [`Group::observe`]): 16 bytes each.
const REPEAT_SLOTS: usize = 1024;
/// Messages a group observes before it has a repeat cache, at least, and at least this many
/// per template it holds: a quiet group, or one whose messages are mostly new templates,
/// never pays for one (16 KB would outweigh its templates under the total budget).
const REPEAT_AFTER: u64 = 64;
/// See [`REPEAT_AFTER`].
const REPEATS_PER_TEMPLATE: u64 = 8;

/// A message's entry in a repeat cache, by its hash (bit 0 is always set: not used here).
fn repeat_entry(h: u64) -> usize {
    (h >> 1) as usize % REPEAT_SLOTS
}

/// How much the miner may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Templates per log group; the least recently seen is evicted past this.
    pub max_templates: usize,
    /// Estimated bytes of one log group's templates; the least recently seen are evicted past
    /// this.
    pub max_group_bytes: usize,
    /// Estimated bytes of all log groups; the least recently seen groups are evicted past this.
    pub max_total_bytes: usize,
    /// Bytes of each template's first message kept as its example (at most
    /// [`MAX_EXAMPLE_BYTES`]; 0 keeps none: the Lambda functions read no example).
    pub example_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_templates: 1000,
            max_group_bytes: 1 << 20,
            max_total_bytes: 64 << 20,
            example_bytes: MAX_EXAMPLE_BYTES,
        }
    }
}

/// FxHash-style: a fixed hash (no per-process seed), eight bytes a step.
#[derive(Default, Clone, Copy)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // FxHash's step, eight bytes at a time, then the tail.
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
        self.0 = h;
    }
}

type FnvMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

/// Hashes a message's skeleton for the exact-skeleton cache, which keeps the 64-bit hash, not
/// the skeleton (a third of the miner's memory was cache keys). Keyed at random per miner:
/// two skeletons that collide would share a template, which with 64 bits is a chance of
/// about n in 2^64 per message for a cache of n entries (n is at most four times the
/// template cap), and which no message can aim at. Pattern ids do not depend on the key.
type SkeletonHasher = foldhash::quality::RandomState;

/// What the groups of a [`Miner`] share to observe a message.
#[derive(Debug, Default)]
struct Scratch {
    /// The skeleton of the message being observed (reused: no allocation per message).
    key: Vec<u8>,
    /// Its repeat-cache key ([`tokens::repeat_key`]), reused likewise.
    repeat: Vec<u8>,
    /// Hashes skeletons for the groups' caches.
    hasher: SkeletonHasher,
}

/// The leaf of a template or message: its token count and first token.
fn leaf_key(tokens: &[Cow<'_, str>]) -> u64 {
    leaf_key_of(tokens.len(), tokens.first().map_or("", |t| &**t))
}

fn leaf_key_of(len: usize, first: &str) -> u64 {
    let mut h = Fnv::default();
    h.write(&(len as u64).to_le_bytes());
    if len > 0 {
        h.write(first.as_bytes());
    }
    h.finish()
}

/// A token's byte range in its template's text: a template's text is far below 64 KiB (at
/// most [`MAX_TOKENS`] tokens of at most [`MAX_TOKEN_BYTES`], or a JSON message's at most
/// [`MAX_JSON_FIELDS`] dotted keys of at most 48 characters a level, each with a value kind;
/// seeded templates are held to [`MAX_TEMPLATE_BYTES`]).
type Span = (u16, u16);

/// Bytes of a template's text at most (the offsets of its tokens are 16 bits).
pub const MAX_TEMPLATE_BYTES: usize = u16::MAX as usize;

/// A pattern id: 16 lowercase hex digits.
type Id = [u8; 16];

/// `id` as text.
fn id_str(id: &Id) -> &str {
    // Always ASCII: made by `short_hash_hex` or checked by `parse_id`.
    std::str::from_utf8(id).unwrap_or_default()
}

/// `s` as an id, when it is one (16 lowercase hex digits).
fn parse_id(s: &str) -> Option<Id> {
    let b: Id = s.as_bytes().try_into().ok()?;
    b.iter()
        .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
        .then_some(b)
}

/// Renders tokens as template text: joined by spaces, but none inside a JSON message value's
/// quotes (`msg="user <*> logged in"`); with each token's range in the text.
fn render<S: AsRef<str>>(tokens: &[S]) -> (String, Box<[Span]>) {
    let mut out = String::new();
    let mut spans = Vec::with_capacity(tokens.len());
    let mut prev: &str = "";
    for t in tokens {
        let t = t.as_ref();
        if !out.is_empty() && !prev.ends_with("=\"") && t != "\"" {
            out.push(' ');
        }
        // Far below u16 (see `Span`); past it the token would read as empty, never panic.
        let start = u16::try_from(out.len()).unwrap_or(u16::MAX);
        out.push_str(t);
        spans.push((start, u16::try_from(out.len()).unwrap_or(u16::MAX)));
        prev = t;
    }
    (out, spans.into_boxed_slice())
}

/// A template's tokens (`<*>` for each variable part): ranges of its text, so that a
/// template holds one string, not one per token.
#[derive(Debug, Clone, Copy)]
pub struct Tokens<'a> {
    text: &'a str,
    spans: &'a [Span],
}

impl<'a> Tokens<'a> {
    /// How many tokens.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The token at `i`, if any.
    pub fn get(&self, i: usize) -> Option<&'a str> {
        let &(a, b) = self.spans.get(i)?;
        self.text.get(a as usize..b as usize)
    }

    /// The tokens in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a str> + Clone + 'a {
        let text = self.text;
        self.spans
            .iter()
            .map(move |&(a, b)| text.get(a as usize..b as usize).unwrap_or_default())
    }
}

/// Tokens are equal when they read alike (an [`Observation`] compares by value).
impl PartialEq for Tokens<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Tokens<'_> {}

fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut at = max;
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    &s[..at]
}

/// The last [`Template::revision`] given, in this process.
static REVISIONS: AtomicU64 = AtomicU64::new(0);

/// A revision not given before in this process.
fn next_revision() -> u64 {
    REVISIONS.fetch_add(1, Ordering::Relaxed) + 1
}

/// One learned template of a log group.
#[derive(Debug, Clone)]
pub struct Template {
    id: Id,
    text: Box<str>,
    /// New with every `text` (`set_tokens`) and when a seed sets `id` (a new template's id,
    /// made from its text, is set before anything reads it): see [`Observation::revision`].
    revision: u64,
    /// Its tokens: ranges of `text`.
    spans: Box<[Span]>,
    consts: u32,
    /// A fixed template (a CloudTrail or VPC flow log record's): never generalised.
    fixed: bool,
    count: u64,
    first_seen: i64,
    last_seen: i64,
    created: u64,
    used: u64,
    /// Its example and merged ids, when it has either (the Lambda functions keep no example,
    /// and most templates merged none): not in every template's box.
    extra: Option<Box<Extra>>,
}

/// What a [`Template`] may also hold.
#[derive(Debug, Clone, Default)]
struct Extra {
    example: Box<str>,
    /// The ids of templates merged into it (at most [`MAX_MERGED_IDS`], the oldest kept).
    merged_ids: Vec<Id>,
}

impl Template {
    /// The pattern id (16 lowercase hex digits).
    pub fn id(&self) -> &str {
        id_str(&self.id)
    }
    /// The template text, `<*>` for each variable part.
    pub fn text(&self) -> &str {
        &self.text
    }
    /// Messages it took (merged templates' counts included).
    pub fn count(&self) -> u64 {
        self.count
    }
    /// The earliest event time it took (milliseconds since the epoch, as given).
    pub fn first_seen(&self) -> i64 {
        self.first_seen
    }
    /// The latest event time it took.
    pub fn last_seen(&self) -> i64 {
        self.last_seen
    }
    /// The ids of the templates merged into it (documents tagged before the merge carry
    /// them), at most [`MAX_MERGED_IDS`].
    pub fn merged_ids(&self) -> impl Iterator<Item = &str> {
        self.extra
            .iter()
            .flat_map(|e| e.merged_ids.iter().map(id_str))
    }

    /// The first message it took (cut at [`Limits::example_bytes`], [`MAX_EXAMPLE_BYTES`] by
    /// default; empty when the miner keeps no example).
    pub fn example(&self) -> &str {
        self.extra.as_ref().map_or("", |e| &e.example)
    }

    /// Its tokens (`<*>` for each variable part).
    pub fn tokens(&self) -> Tokens<'_> {
        Tokens {
            text: &self.text,
            spans: &self.spans,
        }
    }

    fn matches(&self, tokens: &[Cow<'_, str>]) -> bool {
        self.spans.len() == tokens.len()
            && (self.consts > 0 || tokens.iter().all(|t| t == WILD))
            && self
                .tokens()
                .iter()
                .zip(tokens)
                .all(|(a, b)| a == WILD || a == &**b)
    }

    fn bytes(&self) -> usize {
        // Its box, its strings and their allocation headers, its leaf and cache entries.
        std::mem::size_of::<Template>()
            + self.text.len()
            + self.spans.len() * std::mem::size_of::<Span>()
            + self.extra.as_ref().map_or(0, |e| {
                std::mem::size_of::<Extra>()
                    + e.example.len()
                    + e.merged_ids.capacity() * std::mem::size_of::<Id>()
            })
            + 80
    }

    fn set_tokens<S: AsRef<str>>(&mut self, tokens: &[S]) {
        // At most MAX_TOKENS.
        let consts = tokens.iter().filter(|t| t.as_ref() != WILD).count();
        self.consts = u32::try_from(consts).unwrap_or(u32::MAX);
        self.fixed = tokens::is_fixed(tokens);
        let (text, spans) = render(tokens);
        self.text = text.into_boxed_str();
        self.spans = spans;
        self.revision = next_revision();
    }
}

/// What a log group's miner did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It matched a template.
    Matched,
    /// It made a template a variable at one position (merging its siblings).
    Generalised,
    /// It started a new template.
    New,
}

/// Counts of one log group's miner, or of all of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages observed.
    pub messages: u64,
    /// Templates created.
    pub created: u64,
    /// Templates merged into another (generalisations).
    pub merged: u64,
    /// Templates evicted (template cap or byte cap of the group).
    pub evicted: u64,
}

/// The templates of one log group.
#[derive(Debug, Default)]
pub struct Group {
    /// Boxed: a slot table that doubles as templates come holds a pointer each, not a
    /// template.
    slots: Vec<Option<Box<Template>>>,
    free: Vec<usize>,
    live: usize,
    /// Bumped when a slot's template is removed: cache entries naming an older generation
    /// are stale.
    gens: Vec<u32>,
    leaves: FnvMap<u64, Vec<usize>>,
    /// Exact skeletons (see [`tokens::skeleton`]), by their [`Miner`]'s keyed hash (one more
    /// FxHash step picks the bucket), to the slot and generation they matched.
    cache: FnvMap<u64, (u32, u32)>,
    /// Messages seen before, byte for byte or (text) but for their digits: direct-mapped by
    /// the keyed hash of the message's [`tokens::repeat_key`],
    /// `(hash | 1, slot, generation)` of the exact-skeleton cache entry the message found
    /// (empty: all zeros, which no hash matches). Allocated once the group has observed
    /// [`REPEAT_AFTER`] messages and [`REPEATS_PER_TEMPLATE`] per template; emptied with the
    /// exact-skeleton cache.
    repeats: Box<[(u64, u32, u32)]>,
    template_bytes: usize,
    stats: Stats,
    used: u64,
    /// The earliest event time observed (milliseconds), `None` before the first message.
    first_ms: Option<i64>,
}

impl Group {
    /// The live templates, oldest slot first.
    pub fn templates(&self) -> impl Iterator<Item = &Template> {
        self.slots.iter().flatten().map(|t| &**t)
    }

    /// How many templates it holds.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether it holds no template.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Its counts.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The earliest event time it observed (milliseconds since the epoch).
    pub fn first_seen(&self) -> Option<i64> {
        self.first_ms
    }

    /// The templates first seen more than `warmup_ms` after the group's first message: the
    /// new patterns (those of the warm-up are the group's baseline).
    pub fn new_templates(&self, warmup_ms: i64) -> impl Iterator<Item = &Template> {
        let since = self
            .first_ms
            .map_or(i64::MAX, |f| f.saturating_add(warmup_ms));
        self.templates().filter(move |t| t.first_seen > since)
    }

    /// The estimated heap bytes it holds.
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<Group>()
            + self.template_bytes
            + self.slots.capacity() * std::mem::size_of::<Option<Box<Template>>>()
            + self.gens.capacity() * 4
            + self.cache.capacity() * 17
            + std::mem::size_of_val(&*self.repeats)
            + self.leaves.capacity() * 40
    }

    fn get(&self, slot: usize) -> &Template {
        self.slots[slot]
            .as_deref()
            .expect("a leaf or cache slot is live")
    }

    fn get_mut(&mut self, slot: usize) -> &mut Template {
        self.slots[slot]
            .as_deref_mut()
            .expect("a leaf or cache slot is live")
    }

    /// Learns from one message; returns the slot of its template and what happened.
    fn observe(
        &mut self,
        message: &str,
        time_ms: i64,
        seq: u64,
        limits: &Limits,
        scratch: &mut Scratch,
        skeleton: Option<&[u8]>,
    ) -> (usize, Outcome) {
        self.stats.messages += 1;
        self.used = seq;
        self.first_ms = Some(self.first_ms.map_or(time_ms, |f| f.min(time_ms)));
        // A message seen before, byte for byte or but for its digits (a text message, see
        // `tokens::repeat_key`), has the skeleton that one had: the slot its skeleton's cache
        // entry gave, while that entry is live, without the scan. Only for messages whose
        // skeleton this pass would write (another pass wrote the others').
        // Each live entry here is a copy of the exact-skeleton cache's entry for the message's
        // skeleton (both emptied together, both checked against the slot's generation), so
        // the answer is the one the skeleton cache would give.
        if self.repeats.is_empty()
            && self.stats.messages >= REPEAT_AFTER
            && self.stats.messages >= REPEATS_PER_TEMPLATE * self.live as u64
        {
            self.repeats = vec![(0, 0, 0); REPEAT_SLOTS].into_boxed_slice();
        }
        let repeat = match (skeleton, self.repeats.is_empty()) {
            (None, false) => {
                let key = tokens::repeat_key(message, &mut scratch.repeat);
                Some(scratch.hasher.hash_one(key.unwrap_or(message.as_bytes())) | 1)
            }
            _ => None,
        };
        if let Some(h) = repeat {
            let (seen, slot, generation) = self.repeats[repeat_entry(h)];
            if seen == h && self.is_live(slot, generation) {
                let slot = slot as usize;
                self.touch(slot, time_ms, seq);
                return (slot, Outcome::Matched);
            }
        }
        // The key: the skeleton another pass wrote (used where it lies), or the one written
        // here into the reused buffer.
        let built = match skeleton {
            Some(_) => None,
            None => tokens::skeleton(message, &mut scratch.key, MAX_CACHED_SKELETON),
        };
        let key: &[u8] = skeleton.unwrap_or(&scratch.key[..]);
        let cacheable = key.len() <= MAX_CACHED_SKELETON;
        let hash = scratch.hasher.hash_one(key);
        let cached = self
            .cache
            .get(&hash)
            .copied()
            .filter(|&(slot, generation)| self.is_live(slot, generation));
        let (slot, outcome) = if let Some((slot, generation)) = cached {
            if let Some(h) = repeat {
                self.repeats[repeat_entry(h)] = (h, slot, generation);
            }
            (slot as usize, Outcome::Matched)
        } else {
            // Built by the skeleton scan, or read back from its key (a fixed template's, or
            // a text message's tokens), or else (a JSON skeleton) built now.
            let tokens = built
                .or_else(|| tokens::fixed_key_tokens(key))
                .or_else(|| tokens::text_key_tokens(key))
                .unwrap_or_else(|| tokenize(message));
            let (slot, outcome) = match self.find(&tokens) {
                Some(slot) => (slot, Outcome::Matched),
                None => match self.generalise(&tokens) {
                    Some(slot) => (slot, Outcome::Generalised),
                    None => (
                        self.create(&tokens, message, time_ms, seq, limits),
                        Outcome::New,
                    ),
                },
            };
            if let (true, Ok(s)) = (cacheable, u32::try_from(slot)) {
                if self.cache.len() >= limits.max_templates.saturating_mul(4).max(64) {
                    self.cache = FnvMap::default();
                    self.repeats.fill((0, 0, 0));
                }
                self.cache.insert(hash, (s, self.gens[slot]));
                if let Some(h) = repeat {
                    self.repeats[repeat_entry(h)] = (h, s, self.gens[slot]);
                }
            }
            (slot, outcome)
        };
        if outcome != Outcome::New {
            self.touch(slot, time_ms, seq);
        }
        (slot, outcome)
    }

    /// Whether a cache entry's slot still holds the template it named.
    fn is_live(&self, slot: u32, generation: u32) -> bool {
        let slot = slot as usize;
        self.gens.get(slot) == Some(&generation)
            && self.slots.get(slot).is_some_and(Option::is_some)
    }

    /// Counts a message the template of `slot` took.
    fn touch(&mut self, slot: usize, time_ms: i64, seq: u64) {
        let t = self.get_mut(slot);
        t.count += 1;
        t.first_seen = t.first_seen.min(time_ms);
        t.last_seen = t.last_seen.max(time_ms);
        t.used = seq;
    }

    /// The most specific template matching `tokens` (the oldest among equals).
    fn find(&self, tokens: &[Cow<'_, str>]) -> Option<usize> {
        let leaf = self.leaves.get(&leaf_key(tokens))?;
        let mut best: Option<(usize, &Template)> = None;
        for &slot in leaf {
            let t = self.get(slot);
            if t.matches(tokens) && best.is_none_or(|(_, b)| t.consts > b.consts) {
                best = Some((slot, t));
            }
        }
        best.map(|(slot, _)| slot)
    }

    /// Merges the templates that differ from `tokens` in one position only (the same one,
    /// not the first) once they and `tokens` hold [`SIBLINGS`] distinct values there.
    fn generalise(&mut self, tokens: &[Cow<'_, str>]) -> Option<usize> {
        let n = tokens.len();
        // A fixed template (a CloudTrail or VPC flow log record's) is never generalised.
        if n < 2 || tokens::is_fixed(tokens) {
            return None;
        }
        let leaf = self.leaves.get(&leaf_key(tokens))?;
        // (position, siblings differing there)
        let mut by_pos: Vec<(usize, Vec<usize>)> = Vec::new();
        for &slot in leaf {
            let t = self.get(slot);
            let theirs = t.tokens();
            if theirs.len() != n || t.fixed || theirs.get(0) != Some(&*tokens[0]) {
                continue;
            }
            let mut diff = None;
            let mut count = 0;
            for (i, (a, b)) in theirs.iter().zip(tokens).enumerate().skip(1) {
                if a != WILD && a != &**b {
                    count += 1;
                    diff = Some(i);
                    if count > 1 {
                        break;
                    }
                }
            }
            if let (1, Some(p)) = (count, diff) {
                match by_pos.iter_mut().find(|(q, _)| *q == p) {
                    Some((_, v)) => v.push(slot),
                    None => by_pos.push((p, vec![slot])),
                }
            }
        }
        by_pos.sort_by_key(|(p, _)| *p);
        for (p, sibs) in by_pos {
            let mut values: Vec<&str> = sibs
                .iter()
                .filter_map(|&s| self.get(s).tokens().get(p))
                .collect();
            values.push(&tokens[p]);
            values.sort_unstable();
            values.dedup();
            // A masked variable in the message at that position is evidence enough.
            let needed = if *tokens[p] == *WILD { 2 } else { SIBLINGS };
            if values.len() < needed {
                continue;
            }
            let mut merged: Vec<&str> = tokens.iter().map(|t| &**t).collect();
            merged[p] = WILD;
            for &s in &sibs {
                for (i, t) in self.get(s).tokens().iter().enumerate() {
                    if t == WILD {
                        merged[i] = WILD;
                    }
                }
            }
            if merged.iter().all(|&t| t == WILD) {
                continue;
            }
            // Owned: the siblings are removed below.
            let merged: Vec<String> = merged.into_iter().map(str::to_string).collect();
            let keeper = *sibs
                .iter()
                .min_by_key(|&&s| self.get(s).created)
                .expect("siblings are not empty");
            let before = self.get(keeper).bytes();
            for &s in &sibs {
                if s == keeper {
                    continue;
                }
                let gone = *self.remove(s);
                let k = self.get_mut(keeper);
                k.count += gone.count;
                k.first_seen = k.first_seen.min(gone.first_seen);
                k.last_seen = k.last_seen.max(gone.last_seen);
                let ids = k.extra.get_or_insert_default();
                for id in std::iter::once(gone.id)
                    .chain(gone.extra.into_iter().flat_map(|e| e.merged_ids))
                {
                    if ids.merged_ids.len() < MAX_MERGED_IDS {
                        ids.merged_ids.push(id);
                    }
                }
                self.stats.merged += 1;
            }
            let k = self.get_mut(keeper);
            k.set_tokens(&merged);
            let after = k.bytes();
            self.template_bytes = (self.template_bytes + after).saturating_sub(before);
            return Some(keeper);
        }
        None
    }

    fn create(
        &mut self,
        tokens: &[Cow<'_, str>],
        message: &str,
        time_ms: i64,
        seq: u64,
        limits: &Limits,
    ) -> usize {
        let mut t = Template {
            id: [b'0'; 16],
            text: Box::default(),
            revision: 0,
            spans: Box::default(),
            consts: 0,
            fixed: false,
            count: 1,
            first_seen: time_ms,
            last_seen: time_ms,
            extra: None,
            created: seq,
            used: seq,
        };
        let example = cut(message, limits.example_bytes.min(MAX_EXAMPLE_BYTES));
        if !example.is_empty() {
            t.extra = Some(Box::new(Extra {
                example: Box::from(example),
                merged_ids: Vec::new(),
            }));
        }
        t.set_tokens(tokens);
        t.id = short_hash_hex(t.text.as_bytes());
        let size = t.bytes();
        while self.live > 0
            && (self.live >= limits.max_templates.max(1)
                || self.bytes() + size > limits.max_group_bytes)
        {
            self.evict();
        }
        let leaf = leaf_key(tokens);
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s] = Some(Box::new(t));
                s
            }
            None => {
                self.slots.push(Some(Box::new(t)));
                self.gens.push(0);
                self.slots.len() - 1
            }
        };
        self.leaves.entry(leaf).or_default().push(slot);
        self.live += 1;
        self.template_bytes += size;
        self.stats.created += 1;
        slot
    }

    /// Evicts the least recently seen template.
    fn evict(&mut self) {
        let oldest = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.as_ref().map(|t| (t.used, i)))
            .min();
        if let Some((_, slot)) = oldest {
            self.remove(slot);
            self.stats.evicted += 1;
        }
    }

    fn remove(&mut self, slot: usize) -> Box<Template> {
        let t = self.slots[slot].take().expect("removing a live slot");
        self.gens[slot] = self.gens[slot].wrapping_add(1);
        // Its leaf: its token count and first token never change (generalisation keeps both).
        let key = leaf_key_of(t.spans.len(), t.tokens().get(0).unwrap_or_default());
        if let Some(leaf) = self.leaves.get_mut(&key) {
            leaf.retain(|&s| s != slot);
            if leaf.is_empty() {
                self.leaves.remove(&key);
            }
        }
        self.free.push(slot);
        self.live -= 1;
        self.template_bytes -= t.bytes().min(self.template_bytes);
        t
    }
}

/// A message's pattern, as [`Miner::observe`] answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation<'a> {
    /// The pattern id.
    pub id: &'a str,
    /// The template as learned so far.
    pub template: &'a str,
    /// The template's tokens (`<*>` for each variable part).
    pub tokens: Tokens<'a>,
    /// What the message did.
    pub outcome: Outcome,
    /// Unique in the process to this template's id and text as they are now: another
    /// observation with the same revision has the same `id` and `template` (a caller can key
    /// what it derives from them on this number instead of comparing the strings).
    pub revision: u64,
}

/// Templates of many log groups, learned online, within [`Limits`].
#[derive(Debug, Default)]
pub struct Miner {
    limits: Limits,
    /// Each log group's slot in `slots`.
    groups: FnvMap<Box<str>, usize>,
    /// The groups (`None`: a slot freed by an eviction, in `free`).
    slots: Vec<Option<Group>>,
    free: Vec<usize>,
    /// The slot and name of the group observed last: the next message is most often of the
    /// same group (a batch is one log group), found without hashing its name.
    last: Option<usize>,
    last_name: String,
    scratch: Scratch,
    seq: u64,
    bytes: usize,
    evicted_groups: u64,
}

impl Miner {
    /// A miner holding at most `limits`.
    pub fn new(limits: Limits) -> Miner {
        Miner {
            limits,
            ..Miner::default()
        }
    }

    /// Learns from one message of `group` (at `time_ms`, milliseconds since the epoch; only
    /// reported back as first and last seen) and answers with its pattern.
    pub fn observe(&mut self, group: &str, message: &str, time_ms: i64) -> Observation<'_> {
        self.observe_with(group, message, time_ms, None)
    }

    /// [`Miner::observe`], with the message's JSON skeleton when another pass over it wrote
    /// one ([`skeleton::from_walk`]: the document builder's validating pass), so that it is
    /// not read again.
    pub(crate) fn observe_with(
        &mut self,
        group: &str,
        message: &str,
        time_ms: i64,
        skeleton: Option<&[u8]>,
    ) -> Observation<'_> {
        self.seq += 1;
        if self.bytes > self.limits.max_total_bytes {
            self.evict_groups(group);
        }
        let limits = self.limits;
        let seq = self.seq;
        let slot = self.group_slot(group);
        let g = self.slots[slot]
            .as_mut()
            .expect("a named group's slot is live");
        let before = g.bytes();
        let (slot, outcome) =
            g.observe(message, time_ms, seq, &limits, &mut self.scratch, skeleton);
        let after = g.bytes();
        self.bytes = (self.bytes + after).saturating_sub(before);
        let t = g.get(slot);
        Observation {
            id: id_str(&t.id),
            template: &t.text,
            tokens: t.tokens(),
            outcome,
            revision: t.revision,
        }
    }

    /// Gives `group` the template `tokens` under `id` (a template learned before, elsewhere:
    /// another container, an earlier run), first seen at `first_ms`, unless the group has a
    /// template with that id or one matching `tokens` already. Within the limits, as a new
    /// template would be. Returns whether it was added.
    pub fn seed(&mut self, group: &str, id: &str, tokens: &[String], first_ms: i64) -> bool {
        if tokens.is_empty()
            || tokens.len() > MAX_TOKENS
            || tokens.iter().all(|t| t == WILD)
            || tokens.iter().map(|t| t.len() + 1).sum::<usize>() > MAX_TEMPLATE_BYTES
        {
            return false;
        }
        let Some(id) = parse_id(id) else {
            return false;
        };
        self.seq += 1;
        if self.bytes > self.limits.max_total_bytes {
            self.evict_groups(group);
        }
        let (limits, seq) = (self.limits, self.seq);
        let slot = self.group_slot(group);
        let g = self.slots[slot]
            .as_mut()
            .expect("a named group's slot is live");
        let cows: Vec<Cow<'_, str>> = tokens.iter().map(|t| Cow::Borrowed(t.as_str())).collect();
        if g.templates().any(|t| t.id == id) || g.find(&cows).is_some() {
            return false;
        }
        let before = g.bytes();
        let (example, _) = render(tokens);
        let slot = g.create(&cows, &example, first_ms, seq, &limits);
        // Seeded templates are the oldest: generalisation keeps their ids.
        let t = g.get_mut(slot);
        t.id = id;
        t.revision = next_revision();
        t.created = 0;
        g.stats.created -= 1;
        g.first_ms = Some(g.first_ms.map_or(first_ms, |f| f.min(first_ms)));
        let after = g.bytes();
        self.bytes = (self.bytes + after).saturating_sub(before);
        true
    }

    /// The slot of the group named `group`, made when it is new.
    fn group_slot(&mut self, group: &str) -> usize {
        match self.last {
            Some(slot) if self.last_name == group => slot,
            _ => {
                let slot = match self.groups.get(group) {
                    Some(&slot) => slot,
                    None => {
                        let g = Group::default();
                        self.bytes += g.bytes() + group.len() + 64;
                        let slot = match self.free.pop() {
                            Some(slot) => {
                                self.slots[slot] = Some(g);
                                slot
                            }
                            None => {
                                self.slots.push(Some(g));
                                self.slots.len() - 1
                            }
                        };
                        self.groups.insert(Box::from(group), slot);
                        slot
                    }
                };
                self.last = Some(slot);
                self.last_name.clear();
                self.last_name.push_str(group);
                slot
            }
        }
    }

    /// Evicts the least recently seen groups (never `keep`) until a quarter of the budget is
    /// free.
    fn evict_groups(&mut self, keep: &str) {
        let slots = &self.slots;
        let mut by_use: Vec<(u64, &str, usize)> = self
            .groups
            .iter()
            .filter(|(name, _)| &***name != keep)
            .filter_map(|(name, &slot)| {
                let g = slots.get(slot)?.as_ref()?;
                Some((g.used, &**name, g.bytes() + name.len() + 64))
            })
            .collect();
        by_use.sort_unstable();
        let target = self.limits.max_total_bytes / 4 * 3;
        let mut bytes = self.bytes;
        let mut gone = Vec::new();
        for (_, name, size) in by_use {
            if bytes <= target {
                break;
            }
            bytes = bytes.saturating_sub(size);
            gone.push(Box::<str>::from(name));
        }
        for name in gone {
            if let Some(slot) = self.groups.remove(&name) {
                self.slots[slot] = None;
                self.free.push(slot);
                if self.last == Some(slot) {
                    self.last = None;
                }
            }
            self.evicted_groups += 1;
        }
        self.bytes = bytes;
    }

    /// The log groups and their templates, in no particular order.
    pub fn groups(&self) -> impl Iterator<Item = (&str, &Group)> {
        self.groups
            .iter()
            .filter_map(|(k, &slot)| Some((&**k, self.slots.get(slot)?.as_ref()?)))
    }

    /// One log group's templates.
    pub fn group(&self, name: &str) -> Option<&Group> {
        self.slots.get(*self.groups.get(name)?)?.as_ref()
    }

    /// The estimated heap bytes of every group.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Log groups evicted for the total budget.
    pub fn evicted_groups(&self) -> u64 {
        self.evicted_groups
    }

    /// The counts of every live group, added up.
    pub fn stats(&self) -> Stats {
        let mut s = Stats::default();
        for g in self.slots.iter().flatten() {
            s.messages += g.stats.messages;
            s.created += g.stats.created;
            s.merged += g.stats.merged;
            s.evicted += g.stats.evicted;
        }
        s
    }
}

#[cfg(test)]
mod tests;
