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
/// The output buffer is sized from the gzip trailer (bounded by `max_output` and by the deflate
/// expansion limit), so a well-formed payload is decompressed without re-allocation.
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
