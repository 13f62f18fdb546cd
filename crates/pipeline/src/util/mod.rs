//! Small pieces every stage shares: JSON splicing, UTC time arithmetic, content hashes, gzip. They
//! depend on nothing else in the crate.

pub(crate) mod gzip;
pub(crate) mod hash;
pub mod json;
pub mod time;

pub use hash::short_hash;

/// `true`: serde's default for the `enabled` keys of the configuration's sections.
pub(crate) fn yes() -> bool {
    true
}
