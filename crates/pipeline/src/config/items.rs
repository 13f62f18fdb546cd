//! Every unknown key and mistyped value of a configuration at once. `toml`'s deserializer
//! stops at the first one; [`deserialize_all`] records it, blanks the key-value item (or the
//! section, or the array element) it is in with spaces (newlines kept, so that every other
//! position in the text stays where it was) and deserializes again, until the text
//! deserializes or an error cannot be pinned to an item (a syntax error). A mistyped value is
//! replaced by a placeholder of the expected type instead, when one fits in the same bytes, so
//! that a required key (a rule's `name = 7`) does not take its table with it. The section
//! checks then run on what is left, so that one `check-config` shows every mistake; what they
//! say about a placeholder is left out ([`Deserialized::placeholders`]).

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::ops::Range;
use toml::Spanned;

/// At most this many keys or values are left out or replaced; past it, what is found is
/// reported as it is.
const MAX_ROUNDS: usize = 200;

/// At most this many bytes are parsed in all (each round parses the text twice), so that a
/// large file full of mistakes costs a bounded time: 32 rounds of a 1 MiB file.
const MAX_PARSED_BYTES: usize = 64 << 20;

/// An error of the deserializer: where (a byte span of the text, when known) and what.
pub(super) type Found = (Option<Range<usize>>, String);

/// What [`deserialize_all`] made of a text.
pub(super) struct Deserialized<T> {
    /// The text's value with the faulty items left out or replaced (`None` when the text could
    /// not be read that far, after a syntax error).
    pub value: Option<T>,
    /// The errors, in the order found.
    pub found: Vec<Found>,
    /// Where placeholders replaced mistyped values: the checks' findings there are about the
    /// placeholder, not the file.
    pub placeholders: Vec<Range<usize>>,
}

/// Deserializes `text`, reporting every unknown key and mistyped value.
pub(super) fn deserialize_all<T: DeserializeOwned>(text: &str) -> Deserialized<T> {
    let mut work = text.to_string();
    let mut out = Deserialized {
        value: None,
        found: Vec::new(),
        placeholders: Vec::new(),
    };
    // The keys blanked so far: a "missing field" error for one of them is a consequence, not
    // a mistake of its own.
    let mut blanked: Vec<String> = Vec::new();
    let rounds = MAX_ROUNDS
        .min(MAX_PARSED_BYTES / (2 * text.len()).max(1))
        .max(1);
    for _ in 0..rounds {
        let e = match toml::from_str::<T>(&work) {
            Ok(value) => {
                out.value = Some(value);
                return out;
            }
            Err(e) => e,
        };
        let message = e.message().to_string();
        let consequence = missing_field(&message).is_some_and(|f| blanked.iter().any(|b| b == f));
        if !consequence {
            out.found.push((e.span(), message.clone()));
        }
        let Some(span) = e.span() else {
            return out;
        };
        let Some(item) = item_at(&work, span.start) else {
            return out;
        };
        if let Some(range) = placeholder(&mut work, &item, &message) {
            out.placeholders.push(range);
            continue;
        }
        blank(&mut work, item.range);
        blanked.extend(item.key.map(|(k, _)| k));
    }
    out
}

/// Replaces a mistyped value by a placeholder of the type `message` expects (`invalid type:
/// ..., expected a string`): `key = "..."` (the value's own text when it fits, so that what
/// names a rule still reads), `key = 0`, `key = false`, `key = []`, `key = {}`, padded with
/// spaces to the item's length. The replaced range, or `None` when nothing fits.
fn placeholder(work: &mut String, item: &Item, message: &str) -> Option<Range<usize>> {
    let expected = message
        .strip_prefix("invalid type: ")?
        .split_once(", expected ")?
        .1;
    let ((_, key), value) = (item.key.as_ref()?, item.value.clone()?);
    let original = work[value.clone()].trim();
    let mut candidates: Vec<String> = Vec::new();
    if expected.contains("string") {
        if !original.contains(['"', '\\', '\n']) {
            candidates.push(format!("\"{original}\""));
        }
        candidates.push("\"\"".into());
    } else if expected.contains("bool") {
        candidates.push("false".into());
    } else if expected.contains("f64") || expected.contains("float") {
        candidates.push("0.0".into());
    } else if ["integer", "u8", "u16", "u32", "u64", "usize", "i32", "i64"]
        .iter()
        .any(|t| expected.contains(t))
    {
        candidates.push("0".into());
    } else if expected.contains("sequence") {
        candidates.push("[]".into());
    } else if expected.contains("map") || expected.contains("struct") {
        candidates.push("{}".into());
    } else {
        return None;
    }
    let range = key.start..value.end;
    let key_text = work[key.clone()].to_string();
    let text = candidates.iter().find_map(|c| {
        [format!("{key_text} = {c}"), format!("{key_text}={c}")]
            .into_iter()
            .find(|t| t.len() <= range.len())
    })?;
    let padded = format!("{text}{}", " ".repeat(range.len() - text.len()));
    work.replace_range(range.clone(), &padded);
    Some(range)
}

/// The field of a `missing field `NAME`` message.
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// Replaces `range` of `text` by spaces, newlines kept.
fn blank(text: &mut String, range: Range<usize>) {
    // A space per byte (a multi-byte character becomes as many), so that no offset moves.
    let blanked: String = text[range.clone()]
        .chars()
        .map(|c| match c {
            '\n' | '\r' => c.to_string(),
            c => " ".repeat(c.len_utf8()),
        })
        .collect();
    text.replace_range(range, &blanked);
}

/// A key as the deserializer gives it.
struct Key(String);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E>(self, s: &str) -> Result<Key, E> {
                Ok(Key(s.to_string()))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// The document as a tree of spans: tables of (key, value), arrays of values.
enum Node {
    Table(Vec<(Spanned<Key>, Spanned<Node>)>),
    Array(Vec<Spanned<Node>>),
    Scalar,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        struct NodeVisitor;
        impl<'de> Visitor<'de> for NodeVisitor {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a TOML value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(k) = map.next_key::<Spanned<Key>>()? {
                    items.push((k, map.next_value::<Spanned<Node>>()?));
                }
                Ok(Node::Table(items))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(v) = seq.next_element::<Spanned<Node>>()? {
                    items.push(v);
                }
                Ok(Node::Array(items))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_str<E>(self, _: &str) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
        }
        d.deserialize_any(NodeVisitor)
    }
}

/// An item of the text: what to blank to leave it out, its key (name and span) and its
/// value's span, when it is a `key = value`.
struct Item {
    range: Range<usize>,
    key: Option<(String, Range<usize>)>,
    value: Option<Range<usize>>,
}

/// The smallest item of `text` that holds byte `at`: `key = value` (to blank with the comma that
/// separates it from its neighbours in an inline table or array), a whole `[section]` or
/// `[[section]]` (header included) when `at` is in its header, an element of an array. `None`
/// when the text has no such item (or cannot be read as a tree: dotted keys and dates are not
/// spanned).
fn item_at(text: &str, at: usize) -> Option<Item> {
    let tree: Node = toml::from_str(text).ok()?;
    let mut best: Option<Item> = None;
    let mut consider = |item: Item| {
        let range = &item.range;
        if range.contains(&at) && best.as_ref().is_none_or(|b| range.len() < b.range.len()) {
            best = Some(item);
        }
    };
    let mut stack: Vec<(&Node, bool)> = vec![(&tree, false)];
    while let Some((node, inline)) = stack.pop() {
        match node {
            Node::Table(items) => {
                for (k, v) in items {
                    let (ks, vs) = (k.span(), v.span());
                    // A `[section]` or `[[section]]`: its span starts at the header, before its
                    // key; the whole section goes.
                    let key = Some((k.get_ref().0.clone(), ks.clone()));
                    if vs.start < ks.start {
                        consider(Item {
                            range: vs.clone(),
                            key,
                            value: None,
                        });
                    } else {
                        let r = ks.start..vs.end.max(ks.end);
                        consider(Item {
                            range: if inline { with_comma(text, r) } else { r },
                            key,
                            value: Some(vs.clone()),
                        });
                    }
                    let nested_inline = text[vs.start..].starts_with(['{', '[']);
                    stack.push((v.get_ref(), nested_inline));
                }
            }
            Node::Array(items) => {
                for v in items {
                    let vs = v.span();
                    let header = text[vs.start..].starts_with("[[");
                    let range = if header {
                        vs.clone()
                    } else {
                        with_comma(text, vs.clone())
                    };
                    consider(Item {
                        range,
                        key: None,
                        value: None,
                    });
                    let nested_inline = !header && text[vs.start..].starts_with(['{', '[']);
                    stack.push((v.get_ref(), nested_inline));
                }
            }
            Node::Scalar => {}
        }
    }
    best
}

/// `range` of an item of an inline table or array, widened to the comma that follows it (else
/// the one before it), so that what is left still parses.
fn with_comma(text: &str, range: Range<usize>) -> Range<usize> {
    let after = &text[range.end..];
    let gap = after.len() - after.trim_start_matches([' ', '\t']).len();
    if after[gap..].starts_with(',') {
        return range.start..range.end + gap + 1;
    }
    let before = &text[..range.start];
    let trimmed = before.trim_end_matches([' ', '\t']);
    if trimmed.ends_with(',') {
        return trimmed.len() - 1..range.end;
    }
    range
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Section {
        a: Option<u32>,
        b: Option<String>,
        inline: Option<Inline>,
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Inline {
        x: Option<u32>,
        y: Option<u32>,
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        section: Option<Section>,
        #[serde(default)]
        item: Vec<Named>,
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Named {
        name: String,
        a: Option<u32>,
    }

    fn lines(text: &str, found: &[Found]) -> Vec<(usize, String)> {
        found
            .iter()
            .map(|(span, m)| {
                let at = span.as_ref().map_or(0, |s| s.start);
                (text[..at].matches('\n').count() + 1, m.clone())
            })
            .collect()
    }

    #[test]
    fn every_unknown_key_and_mistyped_value_is_found() {
        let text = "[section]\nbad1 = 1\na = \"x\"\nbad2 = 2\ninline = { x = 1, bad3 = 3, y = 2 }\n\n[nope]\nk = 1\n\n[[item]]\nname = 7\na = 1\n\n[[item]]\nname = \"ok\"\nbad4 = [1, 2]\n";
        let Deserialized {
            value: doc,
            found,
            placeholders,
        } = deserialize_all::<Doc>(text);
        let found = lines(text, &found);
        let want = [
            (2, "unknown field `bad1`"),
            (3, "invalid type: string \"x\", expected u32"),
            (4, "unknown field `bad2`"),
            (5, "unknown field `bad3`"),
            (7, "unknown field `nope`"),
            (11, "invalid type: integer `7`, expected a string"),
            // No `missing field` for the name: a placeholder keeps the item's place.
            (16, "unknown field `bad4`"),
        ];
        assert_eq!(found.len(), want.len(), "{found:#?}");
        for ((line, m), (want_line, want_m)) in found.iter().zip(want) {
            assert_eq!(*line, want_line, "{m}");
            assert!(m.starts_with(want_m), "{m} is not {want_m}");
        }
        // What is left is read: both items stay, the first with a placeholder name that reads
        // as its value did (`7`), where its other checks can still run.
        let doc = doc.expect("the rest deserializes");
        let inline = doc.section.and_then(|s| s.inline).expect("inline");
        assert_eq!((inline.x, inline.y), (Some(1), Some(2)));
        assert_eq!(doc.item.len(), 2);
        assert_eq!((doc.item[0].name.as_str(), doc.item[0].a), ("7", Some(1)));
        assert_eq!((doc.item[1].name.as_str(), doc.item[1].a), ("ok", None));
        assert_eq!(placeholders.len(), 2, "`a = \"x\"` and `name = 7`");
        assert_eq!(&text[placeholders[1].clone()], "name = 7");
        let d = deserialize_all::<Doc>("[section]\na = 1\nb = \"x\"\n");
        let section = d.value.and_then(|d| d.section).expect("section");
        assert_eq!((section.a, section.b.as_deref()), (Some(1), Some("x")));
        assert!(d.found.is_empty());
    }

    #[test]
    fn a_syntax_error_is_the_only_error() {
        let d = deserialize_all::<Doc>("[section\na = 1\n");
        assert!(d.value.is_none());
        assert_eq!(d.found.len(), 1);
    }

    #[test]
    fn blanking_keeps_every_position() {
        let mut text = "a = \"é\"\nb = 1\n".to_string();
        blank(&mut text, 0..8);
        assert_eq!(text, "        \nb = 1\n");
    }
}
