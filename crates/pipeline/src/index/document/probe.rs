//! The fast path: one validating pass over a JSON message that allocates nothing and says
//! whether its text can be copied into the document as it is. The same pass hands the JSON
//! parsers of `[parse]` (CloudTrail records, Lambda platform events) the values they need
//! ([`Capture`]), so a message is parsed once whatever reads it.

use super::*;
use crate::patterns::skeleton::{Role, Trail, from_walk};
use crate::shape::capture::{Capture, Ctx, Field, JsonKinds, Slot, Val, slot as slot_of};

/// What the validating pass found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Check {
    /// A JSON object the cluster takes as it is.
    Clean,
    /// Something to rewrite (the slow path decides what, and whether the JSON is valid).
    Risky,
    /// Not valid JSON (or not an object).
    Invalid,
}

/// The validating pass: walks the value like [`IgnoredAny`] but counts depth and fields,
/// checks keys and remembers the hashes of the current objects' keys to spot duplicates. The
/// hash stack is reused from message to message, so a warm probe allocates nothing.
#[derive(Debug, Default)]
pub(super) struct Probe {
    pub(super) max_depth: usize,
    pub(super) max_fields: usize,
    pub(super) fields: usize,
    pub(super) flags: u8,
    pub(super) keys: Vec<u64>,
    /// Walk to the end even once a rewrite is known to be needed (a capture is on).
    pub(super) keep_going: bool,
    /// Write the message's pattern skeleton ([`crate::patterns`]) to `skeleton` on the way.
    pub(super) skeleton_on: bool,
    /// The skeleton of the last message checked with `skeleton_on`: meaningful only when the
    /// check said [`Check::Clean`] and `skeleton_ok` is set.
    pub(super) skeleton: Vec<u8>,
    /// The walk found the message valid and wrote all of its skeleton.
    pub(super) skeleton_ok: bool,
    /// What the message's own object holds of a CloudTrail record, while the skeleton is
    /// written.
    pub(super) trail: Trail,
}

impl Probe {
    /// Checks `object`; with a `capture`, also collects what the JSON parsers need, and then
    /// walks to the end (skipping what is too deep with `serde_json`'s iterative skipper), so
    /// that the second value says whether the JSON is valid.
    pub(super) fn check<'m>(
        &mut self,
        object: &'m str,
        config: &DocumentConfig,
        capture: Option<&mut Capture<'m>>,
    ) -> (Check, bool) {
        self.max_depth = config.max_depth;
        self.max_fields = config.max_fields;
        self.fields = 0;
        self.flags = 0;
        self.keys.clear();
        self.keep_going = capture.is_some();
        let kinds = capture.as_ref().map_or(JsonKinds::default(), |c| c.kinds);
        let skel = self.skeleton_on.then(|| {
            from_walk::start(&mut self.skeleton, &mut self.trail);
            (0, Role::Other)
        });
        let mut de = serde_json::Deserializer::from_str(object);
        let ctx = capture.is_some().then_some(Ctx::Top);
        // Two walks: the one that writes no skeleton has none of its checks.
        fn walk<'m, const S: bool>(
            probe: &mut Probe,
            ctx: Option<Ctx>,
            capture: Option<&mut Capture<'m>>,
            kinds: JsonKinds,
            skel: Option<(u8, Role)>,
            de: &mut serde_json::Deserializer<serde_json::de::StrRead<'m>>,
        ) -> serde_json::Result<()> {
            Walk::<'_, 'm, S> {
                probe,
                ctx,
                capture,
                kinds,
                field: None,
                depth: 1,
                top: true,
                skel,
            }
            .deserialize(de)
        }
        let walked = if skel.is_some() {
            walk::<true>(self, ctx, capture, kinds, skel, &mut de)
        } else {
            walk::<false>(self, ctx, capture, kinds, skel, &mut de)
        }
        .and_then(|()| de.end());
        let valid = walked.is_ok();
        self.skeleton_ok =
            valid && self.skeleton_on && from_walk::finish(&mut self.skeleton, &self.trail);
        let check = match walked {
            _ if self.flags != 0 => Check::Risky,
            Ok(()) => Check::Clean,
            Err(_) => Check::Invalid,
        };
        (check, valid)
    }
}

/// The error the walk stops with once it knows the slow path is needed.
pub(super) fn stop<E: de::Error>() -> E {
    E::custom("rewrite needed")
}

/// One value at `depth` (the level it has if it is an object or array).
pub(super) struct Walk<'p, 'm, const S: bool> {
    pub(super) probe: &'p mut Probe,
    /// Where captured values go; `None` where nothing below is captured.
    pub(super) capture: Option<&'p mut Capture<'m>>,
    pub(super) kinds: JsonKinds,
    /// The keys to watch when this value is an object.
    pub(super) ctx: Option<Ctx>,
    /// The place this value is captured in.
    pub(super) field: Option<Field>,
    pub(super) depth: usize,
    /// The message's own value, which must be an object.
    pub(super) top: bool,
    /// Where the value is written in the pattern skeleton, if it is: its object depth (the
    /// message's own object is 0) and its key's role.
    pub(super) skel: Option<(u8, Role)>,
}

impl<'m, const S: bool> DeserializeSeed<'m> for Walk<'_, 'm, S> {
    type Value = ();

    fn deserialize<D: Deserializer<'m>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'m, const S: bool> Visitor<'m> for Walk<'_, 'm, S> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        if S && self.skel.is_some() {
            from_walk::boolean(&mut self.probe.skeleton);
        }
        self.scalar(|| Val::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        if S && self.skel.is_some() {
            from_walk::number(&mut self.probe.skeleton);
        }
        self.scalar(|| Val::I64(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        if S && self.skel.is_some() {
            from_walk::number(&mut self.probe.skeleton);
        }
        self.scalar(|| Val::U64(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        if S && self.skel.is_some() {
            from_walk::number(&mut self.probe.skeleton);
        }
        self.scalar(|| Val::F64(v))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'m str) -> Result<(), E> {
        if let (true, Some((_, role))) = (S, self.skel) {
            from_walk::string(
                &mut self.probe.skeleton,
                &mut self.probe.trail,
                role,
                v,
                false,
            );
        }
        self.scalar(|| Val::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        if let (true, Some((_, role))) = (S, self.skel) {
            from_walk::string(
                &mut self.probe.skeleton,
                &mut self.probe.trail,
                role,
                v,
                true,
            );
        }
        self.scalar(|| Val::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        if S && self.skel.is_some() {
            from_walk::null(&mut self.probe.skeleton);
        }
        self.scalar(|| Val::Null)
    }

    fn visit_seq<A: SeqAccess<'m>>(mut self, mut seq: A) -> Result<(), A::Error> {
        if self.top {
            return Err(de::Error::custom("not an object"));
        }
        if let (Some(c), Some(f)) = (self.capture.as_deref_mut(), self.field) {
            c.set(f, Val::Array);
        }
        if S && self.skel.is_some() {
            from_walk::array(&mut self.probe.skeleton);
        }
        if self.depth > self.probe.max_depth {
            self.probe.flags |= DEPTH;
            if !self.probe.keep_going {
                return Err(stop());
            }
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(());
        }
        while seq
            .next_element_seed(Walk::<'_, '_, S> {
                probe: &mut *self.probe,
                capture: None,
                kinds: self.kinds,
                ctx: None,
                field: None,
                depth: self.depth + 1,
                top: false,
                skel: None,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'m>>(mut self, mut map: A) -> Result<(), A::Error> {
        if let (Some(c), Some(f)) = (self.capture.as_deref_mut(), self.field) {
            c.set(f, Val::Object);
        }
        // The object's members are written to the skeleton at this depth, if any.
        let members = match self.skel {
            Some((d, _)) if S => {
                from_walk::object(&mut self.probe.skeleton, &self.probe.trail, d.into())
                    .then_some(d)
            }
            _ => None,
        };
        let watch = if self.capture.is_some() {
            self.ctx
        } else {
            None
        };
        if self.depth > self.probe.max_depth {
            self.probe.flags |= DEPTH;
            if !self.probe.keep_going {
                return Err(stop());
            }
            if watch.is_none() {
                while map.next_key::<IgnoredAny>()?.is_some() {
                    map.next_value::<IgnoredAny>()?;
                }
                return Ok(());
            }
        }
        let base = self.probe.keys.len();
        while let Some((dots, slot, role)) = map.next_key_seed(Key::<'_, S> {
            probe: &mut *self.probe,
            depth: self.depth,
            base,
            watch: watch.map(|ctx| (self.kinds, ctx)),
            skel: members,
        })? {
            if self.probe.flags != 0 && !self.probe.keep_going {
                return Err(stop());
            }
            map.next_value_seed(Walk::<'_, '_, S> {
                probe: &mut *self.probe,
                capture: match slot {
                    Some(_) => self.capture.as_deref_mut(),
                    None => None,
                },
                kinds: self.kinds,
                ctx: slot.and_then(|s| s.child),
                field: slot.map(|s| s.field),
                depth: self.depth + 1 + dots,
                top: false,
                skel: members.map(|d| (d + 1, role)),
            })?;
        }
        if S && members.is_some() {
            from_walk::end(&mut self.probe.skeleton);
        }
        self.probe.keys.truncate(base);
        Ok(())
    }
}

impl<'m, const S: bool> Walk<'_, 'm, S> {
    pub(super) fn scalar<E: de::Error>(self, value: impl FnOnce() -> Val<'m>) -> Result<(), E> {
        if self.top {
            return Err(E::custom("not an object"));
        }
        if let (Some(c), Some(f)) = (self.capture, self.field) {
            c.set(f, value());
        }
        Ok(())
    }
}

/// One key of an object at `depth`; its value is the number of dots in it, and the capture
/// slot it leads to when the object is watched.
pub(super) struct Key<'p, const S: bool> {
    pub(super) probe: &'p mut Probe,
    pub(super) depth: usize,
    /// Where the object's key hashes start on the probe's stack.
    pub(super) base: usize,
    /// The parsers on and the object's role, when its keys are watched.
    pub(super) watch: Option<(JsonKinds, Ctx)>,
    /// Write the key to the pattern skeleton, in an object at this skeleton depth (the
    /// message's own object: 0).
    pub(super) skel: Option<u8>,
}

impl<'de, const S: bool> DeserializeSeed<'de> for Key<'_, S> {
    type Value = (usize, Option<Slot>, Role);

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<(usize, Option<Slot>, Role), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de, const S: bool> Visitor<'de> for Key<'_, S> {
    type Value = (usize, Option<Slot>, Role);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<(usize, Option<Slot>, Role), E> {
        let slot = self.watch.and_then(|(kinds, ctx)| slot_of(kinds, ctx, key));
        let p = self.probe;
        let role = match self.skel {
            Some(d) if S => from_walk::member(&mut p.skeleton, &mut p.trail, key, d == 0),
            _ => Role::Other,
        };
        p.fields += 1;
        if p.fields > p.max_fields {
            p.flags |= FIELDS;
        }
        let (h, dotted) = key_scan(key.as_bytes());
        // Most keys are plain words: no dots and a visible ASCII first byte.
        let plain = !dotted && key.as_bytes().first().is_some_and(u8::is_ascii_graphic);
        let dots = if plain { Some(0) } else { key_dots(key) };
        match dots {
            None => p.flags |= KEY,
            Some(d) if self.depth + d > p.max_depth => p.flags |= DEPTH,
            Some(_) => {}
        }
        if p.keys[self.base..].contains(&h) {
            p.flags |= DUPLICATE;
        }
        p.keys.push(h);
        Ok((dots.unwrap_or(0), slot, role))
    }
}

/// The number of dots in a key the cluster accepts (each stands for one more object level);
/// `None` for a key it rejects: empty, blank, or with an empty or blank part between dots.
pub(super) fn key_dots(key: &str) -> Option<usize> {
    let first = *key.as_bytes().first()?;
    let plain = first.is_ascii_graphic() && first != b'.';
    if !plain && key.chars().all(char::is_whitespace) {
        return None;
    }
    // Keys are short: a plain loop beats a call to memchr.
    if !key.bytes().any(|b| b == b'.') {
        return Some(0);
    }
    let mut dots = 0;
    for part in key.split('.') {
        if part.is_empty() || part.chars().all(char::is_whitespace) {
            return None;
        }
        dots += 1;
    }
    Some(dots - 1)
}

/// A fast 64-bit hash of a key (FxHash-like), and whether the key has a dot, in one pass of
/// eight bytes at a time. Equal hashes send the message to the slow path, which compares keys
/// exactly, so a collision costs time, never correctness.
pub(super) fn key_scan(bytes: &[u8]) -> (u64, bool) {
    const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    let mut h = bytes.len() as u64;
    let mut dots = 0;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let x = u64::from_le_bytes(w);
        dots |= zero_bytes(x ^ splat(b'.'));
        h = (h.rotate_left(5) ^ x).wrapping_mul(K);
    }
    let tail = chunks.remainder();
    let mut w = [0u8; 8];
    w[..tail.len()].copy_from_slice(tail);
    let dotted = dots != 0 || tail.contains(&b'.');
    (
        (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K),
        dotted,
    )
}
