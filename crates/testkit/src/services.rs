//! Where the services of the integration tests are, read from the environment that
//! `scripts/test.sh` exports after starting them (moto and osmem-server on 127.0.0.1), and
//! names no other test (or earlier run against the same servers) uses.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The URL of moto: `CWLOGS_MOTO_URL`, else `AWS_ENDPOINT_URL`; panics, saying how to run the
/// tests, when neither is set.
pub fn moto_url() -> String {
    std::env::var("CWLOGS_MOTO_URL")
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
        .expect(
            "CWLOGS_MOTO_URL is not set: run the integration tests through scripts/test.sh, \
             which starts moto and points the SDK at it",
        )
}

/// The cluster of `OPENSEARCH_URL` (osmem-server, or a real cluster); panics, saying how to run
/// the tests, when it is not set.
pub fn opensearch_url() -> String {
    std::env::var("OPENSEARCH_URL").expect(
        "OPENSEARCH_URL is not set: run the integration tests through scripts/test.sh, which \
         starts osmem-server, or point OPENSEARCH_URL at a cluster",
    )
}

/// [`opensearch_url`] when it is a plain `http://` URL without credentials, one a proxy can
/// forward to; else `None`, saying on stderr that the test is skipped (e.g. a real cluster
/// with TLS).
pub fn plain_opensearch_url() -> Option<String> {
    let url = opensearch_url();
    if url.starts_with("http://") && !url.contains('@') {
        Some(url)
    } else {
        eprintln!("skipped: the fault proxy forwards to plain http:// clusters only");
        None
    }
}

/// A name no other test (or earlier run against the same servers) uses:
/// `cwlogs-{tag}-{pid}-{nanos}-{n}`, lower case, at most 63 characters for a tag of up to 20
/// (a bucket name).
pub fn unique(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() % 1_000_000_000_000);
    format!(
        "cwlogs-{tag}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}
