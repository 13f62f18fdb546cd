//! One-shot gzip with libdeflate: every body cwlogs compresses (an archive object, a `_bulk`
//! request) is one buffer in memory, which is what libdeflate is built for. At the same level
//! it compresses faster than a streaming deflate and into smaller output (BENCHMARKS.md,
//! "gzip"). The header has no file name and a zero modification time, so equal input gives
//! equal bytes in every run.

use libdeflater::{CompressionLvl, Compressor};
use std::cell::RefCell;

thread_local! {
    /// The last compressor used on this thread and its level: a compressor holds its match
    /// finder's tables (up to about 1 MB at the higher levels), so it is kept, not rebuilt per
    /// body.
    static COMPRESSOR: RefCell<Option<(i32, Compressor)>> = const { RefCell::new(None) };
}

/// `data` as one gzip member at `level` (0 stores, 1 is fastest, 6 the usual default; above 12
/// is taken as 12, libdeflate's highest).
pub fn gzip(data: &[u8], level: u32) -> Vec<u8> {
    let level = level.min(12) as i32;
    COMPRESSOR.with(|slot| {
        let mut slot = slot.borrow_mut();
        let c = match &mut *slot {
            Some((l, c)) if *l == level => c,
            _ => {
                let lvl = CompressionLvl::new(level).unwrap_or_default();
                &mut slot.insert((level, Compressor::new(lvl))).1
            }
        };
        // Logs compress 5 to 10 times, so the output is first given a quarter of the input's
        // size: a buffer of the full bound (a little more than the input) would be zeroed and
        // faulted in whole for the tenth of it that is written. Input that does not fit (it
        // compresses less than 4 times: random or already compressed bytes) is compressed
        // again into the bound, the most any input can take, so the output always fits.
        let first = data.len() / 4 + 4096;
        let bound = c.gzip_compress_bound(data.len());
        let mut out = vec![0u8; first.min(bound)];
        let n = match c.gzip_compress(data, &mut out) {
            Ok(n) => n,
            Err(_) => {
                out = vec![0u8; bound];
                c.gzip_compress(data, &mut out).unwrap_or(0)
            }
        };
        out.truncate(n);
        out.shrink_to_fit();
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(z: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(z)
            .read_to_end(&mut out)
            .expect("valid gzip");
        out
    }

    #[test]
    fn round_trips_at_every_level() {
        let data =
            b"{\"timestamp\":1700000000000,\"message\":\"GET /index.html 200\"}\n".repeat(500);
        for level in 0..=13 {
            let z = gzip(&data, level);
            assert_eq!(gunzip(&z), data, "level {level}");
            assert_eq!(&z[..2], &[0x1f, 0x8b]);
        }
        assert_eq!(gunzip(&gzip(b"", 6)), b"");
    }

    #[test]
    fn input_that_does_not_compress_four_times_still_fits() {
        // Bytes that do not compress at all (a xorshift stream), and text that compresses
        // about 2 times: both take the second, full-size buffer; the output is a whole gzip
        // member of the input either way.
        let random = cwlogs_testkit::noise::noise(300_000, 1);
        let half: Vec<u8> = random
            .iter()
            .map(|b| b"0123456789abcdef"[usize::from(b & 15)])
            .collect();
        for data in [&random, &half] {
            for level in [1, 6, 12] {
                let z = gzip(data, level);
                assert!(z.len() > data.len() / 4 + 4096, "took the second buffer");
                assert_eq!(&gunzip(&z), data, "level {level}");
            }
        }
        // Small input compressing less than 4 times fits the first buffer's 4 KiB slack.
        assert_eq!(gunzip(&gzip(&random[..1000], 6)), &random[..1000]);
    }

    #[test]
    fn equal_input_gives_equal_bytes() {
        let data = b"same bytes, same gzip ".repeat(100);
        let a = gzip(&data, 6);
        let _ = gzip(&data, 1);
        assert_eq!(gzip(&data, 6), a);
        // No modification time in the header.
        assert_eq!(&a[4..8], &[0, 0, 0, 0]);
    }
}
