//! Size-capped gunzip.

use crate::error::{DecodeError, Stage};
use std::io::Read;

/// The two bytes every gzip member starts with.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Deflate cannot expand by more than about 1032:1; used to bound the buffer we pre-allocate from
/// the (untrusted) size field in the gzip trailer.
const MAX_DEFLATE_RATIO: usize = 1032;

/// Whether `bytes` starts like a gzip stream.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

/// Decompresses a gzip stream (one or more members, as `gzip -c a b` writes) into a new buffer,
/// failing once the output would exceed `max_output` bytes.
///
/// A stream of one member (every CloudWatch Logs payload) is inflated in one call by libdeflate
/// into a buffer sized from the gzip trailer (bounded by `max_output` and by the deflate
/// expansion limit): about twice as fast as a streaming inflate (BENCHMARKS.md, "gzip").
/// Anything else goes through flate2's streaming decoder, which handles several members and
/// words the errors: a trailer that disagrees with the output, trailing bytes, a byte sequence
/// that could start a second member, or a stream libdeflate refuses.
pub fn gunzip(input: &[u8], max_output: usize) -> Result<Vec<u8>, DecodeError> {
    if !is_gzip(input) {
        return Err(DecodeError::new(
            Stage::Gzip,
            "not gzip data (the first two bytes are not 1f 8b)",
        ));
    }
    let hint = match input.len() {
        n if n >= 18 => {
            let t = &input[n - 4..];
            u32::from_le_bytes([t[0], t[1], t[2], t[3]]) as usize
        }
        _ => 0,
    };
    let hint = hint
        .min(max_output)
        .min(input.len().saturating_mul(MAX_DEFLATE_RATIO));
    if let Some(out) = one_member(input, hint) {
        return Ok(out);
    }
    gunzip_streaming(input, hint, max_output)
}

/// `input` inflated in one call when it is exactly one gzip member whose trailer says
/// `size` bytes (at most the caller's bound); `None` when that cannot be shown, and the
/// streaming decoder decides.
///
/// libdeflate stops after the first member and does not say where it ended, so a stream is
/// taken as one member only when its last eight bytes are that member's trailer (the CRC-32 and
/// size of what came out) and no later byte sequence could start another member (`1f 8b 08`
/// and a flag byte with its reserved bits clear): every gzip member starts so.
fn one_member(input: &[u8], size: usize) -> Option<Vec<u8>> {
    if input.len() < 18 || could_hold_a_second_member(input) {
        return None;
    }
    let mut out = vec![0u8; size];
    let n = libdeflater::Decompressor::new()
        .gzip_decompress(input, &mut out)
        .ok()?;
    let t = &input[input.len() - 8..];
    let crc = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
    let len = u32::from_le_bytes([t[4], t[5], t[6], t[7]]);
    if n != size || len != n as u32 || crc != libdeflater::crc32(&out) {
        return None;
    }
    Some(out)
}

/// Whether a second gzip member could start anywhere after the first byte of `input`.
fn could_hold_a_second_member(input: &[u8]) -> bool {
    memchr::memmem::find_iter(&input[1..], &[0x1f, 0x8b, 0x08])
        .any(|at| input.get(at + 4).is_some_and(|flags| flags & 0xe0 == 0))
}

/// flate2's streaming decoder: several members, and every error in words.
fn gunzip_streaming(input: &[u8], hint: usize, max_output: usize) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(hint.saturating_add(1));
    let limit = u64::try_from(max_output)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let mut reader = flate2::read::MultiGzDecoder::new(input).take(limit);
    if let Err(e) = reader.read_to_end(&mut out) {
        let detail = match e.kind() {
            std::io::ErrorKind::UnexpectedEof => "truncated gzip stream".to_string(),
            _ => format!("corrupt gzip stream: {e}"),
        };
        return Err(DecodeError::new(Stage::Gzip, detail));
    }
    if out.len() > max_output {
        return Err(DecodeError::new(
            Stage::Gzip,
            format!("decompressed size exceeds the limit of {max_output} bytes"),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).expect("write to vec");
        e.finish().expect("finish gzip")
    }

    #[test]
    fn round_trip() {
        let data = b"{\"messageType\":\"DATA_MESSAGE\"}".repeat(100);
        assert_eq!(gunzip(&gz(&data), 1 << 20).expect("gunzip"), data);
    }

    #[test]
    fn concatenated_members() {
        let mut both = gz(b"hello ");
        both.extend(gz(b"world"));
        assert_eq!(gunzip(&both, 100).expect("gunzip"), b"hello world");
    }

    #[test]
    fn identical_members_are_all_kept() {
        // The first member's trailer is also the stream's last eight bytes: only the check for
        // a second member's start keeps the one-call path from stopping after the first.
        let one = gz(&b"the same member ".repeat(40));
        let mut twice = one.clone();
        twice.extend(&one);
        let out = gunzip(&twice, 1 << 20).expect("gunzip");
        assert_eq!(out, b"the same member ".repeat(80));
    }

    #[test]
    fn trailing_bytes_are_refused_as_before() {
        let mut z = gz(b"payload");
        z.extend_from_slice(b"garbage after the member");
        assert!(gunzip(&z, 1 << 20).is_err());
    }

    #[test]
    fn both_paths_agree() {
        // Sizes around the buffer and trailer edges, compressible and not.
        let mut seed = 7u64;
        for n in [0usize, 1, 17, 18, 1000, 65_536, 300_000] {
            let data: Vec<u8> = (0..n)
                .map(|i| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    if i % 3 == 0 {
                        (seed >> 33) as u8
                    } else {
                        b'a' + (i % 7) as u8
                    }
                })
                .collect();
            let z = gz(&data);
            if n > 0 && !could_hold_a_second_member(&z) {
                assert_eq!(one_member(&z, n).as_deref(), Some(&data[..]), "{n} bytes");
            }
            assert_eq!(gunzip(&z, 1 << 20).expect("gunzip"), data, "{n} bytes");
            assert_eq!(
                gunzip_streaming(&z, 0, 1 << 20).expect("streaming"),
                data,
                "{n} bytes"
            );
        }
    }

    #[test]
    fn cap_is_enforced_exactly() {
        let data = vec![b'a'; 1000];
        let z = gz(&data);
        assert_eq!(gunzip(&z, 1000).expect("at the cap").len(), 1000);
        let err = gunzip(&z, 999).expect_err("over the cap");
        assert_eq!(err.stage(), Stage::Gzip);
        assert!(err.detail().contains("exceeds the limit of 999"), "{err}");
    }

    #[test]
    fn truncated_and_corrupt() {
        let z = gz(&b"some payload bytes".repeat(50));
        let err = gunzip(&z[..z.len() / 2], 1 << 20).expect_err("truncated");
        assert_eq!(err.detail(), "truncated gzip stream");
        let mut bad = z.clone();
        for b in &mut bad[10..20] {
            *b ^= 0x55;
        }
        assert_eq!(
            gunzip(&bad, 1 << 20).expect_err("corrupt").stage(),
            Stage::Gzip
        );
        assert!(gunzip(b"plain", 10).is_err());
    }

    #[test]
    fn lying_trailer_does_not_allocate_beyond_bounds() {
        let mut z = gz(b"tiny");
        let n = z.len();
        z[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        // The size check fails (trailer mismatch) but nothing huge is allocated first.
        assert!(gunzip(&z, 64 << 20).is_err());
    }
}
