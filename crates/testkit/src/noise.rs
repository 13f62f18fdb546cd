//! Deterministic bytes that do not compress: a xorshift stream, for tests that need input no
//! compressor or template miner can shorten.

/// `len` bytes of the xorshift64 stream started from `seed` (any seed, 0 included, gives a
/// stream of its own); the same seed gives the same bytes in every run.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed ^ 0x9e37_79b9_7f4a_7c15;
    if x == 0 {
        x = 0x9e37_79b9_7f4a_7c15;
    }
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::noise;

    #[test]
    fn noise_is_deterministic_and_spread() {
        assert_eq!(noise(64, 7), noise(64, 7));
        assert_ne!(noise(64, 7), noise(64, 8));
        assert_ne!(noise(64, 0x9e37_79b9_7f4a_7c15), vec![0; 64]);
        let bytes = noise(1 << 16, 1);
        let mut seen = [false; 256];
        bytes.iter().for_each(|&b| seen[usize::from(b)] = true);
        assert!(seen.iter().all(|&s| s), "every byte value occurs");
    }
}
