//! The slow path: a JSON message the cluster would reject (too deep, too many fields, bad or
//! duplicate keys) rewritten one object level at a time.

use super::*;

/// An object's members in order, keys decoded, values as raw text. Parsing a level skips the
/// values with `serde_json`'s iterative skipper, so no input nests the stack.
pub(super) struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> serde::Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut v = Vec::new();
                while let Some(k) = map.next_key::<CowStr<'de>>()? {
                    v.push((k.0, map.next_value::<&'de RawValue>()?));
                }
                Ok(Members(v))
            }
        }
        deserializer.deserialize_map(V)
    }
}

/// A string borrowed from the input when it has no escapes.
pub(super) struct CowStr<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<CowStr<'de>, E> {
                Ok(CowStr(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<CowStr<'de>, E> {
                Ok(CowStr(Cow::Owned(s.to_owned())))
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// Checks one scalar as fully as the fast path does (number range, string escapes).
pub(super) fn check_scalar(raw: &str) -> Result<(), serde_json::Error> {
    struct Scalar;
    impl<'de> serde::Deserialize<'de> for Scalar {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Scalar, D::Error> {
            d.deserialize_any(IgnoredAny).map(|_| Scalar)
        }
    }
    serde_json::from_str::<Scalar>(raw).map(|_| ())
}

/// Writes a rewritten copy of a JSON object (see the module docs for the rules).
pub(super) struct Rewriter {
    pub(super) max_depth: usize,
    pub(super) max_fields: usize,
    pub(super) fields: usize,
    pub(super) reasons: u8,
}

impl Rewriter {
    /// Counts one more field; false once the cap is reached.
    pub(super) fn take_field(&mut self) -> bool {
        if self.fields >= self.max_fields {
            self.reasons |= FIELDS;
            return false;
        }
        self.fields += 1;
        true
    }

    /// The keys as written, each with the depth its value's content starts at, for an object
    /// at `depth`; `None` for a member left out because a later one has the same key.
    pub(super) fn keys<'a>(
        &mut self,
        raw: Vec<Cow<'a, str>>,
        depth: usize,
    ) -> Vec<(Option<Cow<'a, str>>, usize)> {
        let mut keys: Vec<(Option<Cow<'a, str>>, usize)> = raw
            .into_iter()
            .map(|k| match key_dots(&k) {
                Some(d) if depth + d <= self.max_depth => (Some(k), depth + 1 + d),
                Some(_) => {
                    self.reasons |= DEPTH;
                    (Some(Cow::Owned(k.replace('.', "_"))), depth + 1)
                }
                None => {
                    self.reasons |= KEY;
                    let fixed = k.replace('.', "_");
                    let fixed = if fixed.trim().is_empty() {
                        "_empty".to_string()
                    } else {
                        fixed
                    };
                    (Some(Cow::Owned(fixed)), depth + 1)
                }
            })
            .collect();
        // Keep the last of equal keys.
        let mut seen = std::collections::HashSet::new();
        for (key, _) in keys.iter_mut().rev() {
            if let Some(k) = key
                && !seen.insert(k.clone())
            {
                *key = None;
                self.reasons |= DUPLICATE;
            }
        }
        keys
    }

    /// Writes the object in `text` (at `depth`, which is within the limit).
    pub(super) fn object(
        &mut self,
        out: &mut Vec<u8>,
        text: &str,
        depth: usize,
    ) -> Result<(), serde_json::Error> {
        let Members(members) = serde_json::from_str(text)?;
        let (keys, values): (Vec<_>, Vec<_>) = members.into_iter().unzip();
        let keys = self.keys(keys, depth);
        out.push(b'{');
        let mut first = true;
        for ((key, inner), value) in keys.into_iter().zip(values) {
            let Some(key) = key else { continue };
            if !self.take_field() {
                break;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            push_str(out, &key);
            out.push(b':');
            self.value(out, value.get(), inner)?;
        }
        out.push(b'}');
        Ok(())
    }

    /// Writes a value whose content, if it is an object or array, is at level `depth`.
    pub(super) fn value(
        &mut self,
        out: &mut Vec<u8>,
        raw: &str,
        depth: usize,
    ) -> Result<(), serde_json::Error> {
        match raw.as_bytes().first() {
            Some(b'{') if depth <= self.max_depth => self.object(out, raw, depth),
            Some(b'[') if depth + nesting(raw) - 1 <= self.max_depth => self.array(out, raw, depth),
            Some(b'{' | b'[') => {
                self.reasons |= DEPTH;
                push_str(out, raw);
                Ok(())
            }
            _ => {
                check_scalar(raw)?;
                out.extend_from_slice(raw.as_bytes());
                Ok(())
            }
        }
    }

    /// Writes the array in `text` (at `depth`; its content fits within the limit).
    pub(super) fn array(
        &mut self,
        out: &mut Vec<u8>,
        text: &str,
        depth: usize,
    ) -> Result<(), serde_json::Error> {
        let items: Vec<&RawValue> = serde_json::from_str(text)?;
        out.push(b'[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            self.value(out, item.get(), depth + 1)?;
        }
        out.push(b']');
        Ok(())
    }
}

/// How many levels of objects and arrays `json` (syntactically valid) nests, itself included.
pub(super) fn nesting(json: &str) -> usize {
    let (mut depth, mut max, mut in_str, mut escaped) = (0usize, 0usize, false, false);
    for &b in json.as_bytes() {
        if in_str {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_str = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_str = true,
                b'{' | b'[' => {
                    depth += 1;
                    max = max.max(depth);
                }
                b'}' | b']' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }
    max
}
