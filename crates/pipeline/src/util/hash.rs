//! Short content hashes: names that follow from what was delivered, so a redelivery lands on
//! the same name.

use sha2::{Digest, Sha256};

/// The first 16 hex digits of SHA-256 of `bytes`: names dead letters after their content, so
/// a redelivered input overwrites its own dead letter.
pub fn short_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}
