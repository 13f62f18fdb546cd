//! Short content hashes: names that follow from what was delivered, so a redelivery lands on
//! the same name.

use sha2::{Digest, Sha256};

/// The first 16 hex digits of SHA-256 of `bytes`: names dead letters after their content, so
/// a redelivered input overwrites its own dead letter.
pub fn short_hash(bytes: &[u8]) -> String {
    short_hash_hex(bytes)
        .iter()
        .map(|&c| char::from(c))
        .collect()
}

/// [`short_hash`] as its 16 ASCII bytes (lowercase hex), without an allocation.
pub fn short_hash_hex(bytes: &[u8]) -> [u8; 16] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(bytes);
    let mut out = [0u8; 16];
    for (pair, b) in out.chunks_exact_mut(2).zip(&digest[..8]) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 0x0f)];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_hash_is_the_first_16_hex_digits_of_sha256() {
        // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
        assert_eq!(short_hash(b"abc"), "ba7816bf8f01cfea");
        assert_eq!(&short_hash_hex(b"abc"), b"ba7816bf8f01cfea");
        // SHA-256("") = e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
        assert_eq!(short_hash(b""), "e3b0c44298fc1c14");
    }
}
