//! Reading an arbitrary S3 object never panics: `ObjectStream` on any bytes (as they are, and
//! gzipped), under keys of every layout, ends in documents, a skip, "not a log" or a classified
//! error, and every document is one valid JSON line. The load balancer and WAF line parsers and
//! the notification parser take any text too.
#![no_main]

use cwlogs_pipeline::Config;
use cwlogs_pipeline::shape::Parsed;
use cwlogs_pipeline::sources::{ObjectStream, S3Indexing, elb, notification, waf};
use libfuzzer_sys::fuzz_target;
use std::io::Write as _;

const KEYS: [&str; 6] = [
    "AWSLogs/123456789012/CloudTrail/eu-west-1/2025/11/25/x.json.gz",
    "AWSLogs/123456789012/vpcflowlogs/eu-west-1/2025/11/25/x.log.gz",
    "AWSLogs/123456789012/elasticloadbalancing/eu-west-1/2025/11/25/x.log.gz",
    "AWSLogs/123456789012/WAFLogs/eu-west-1/acl/2025/11/25/10/05/x.log.gz",
    "AWSLogs/123456789012/CloudTrail-Digest/eu-west-1/2025/11/25/x.json.gz",
    "some/other/key",
];

fuzz_target!(|data: &[u8]| {
    let config = Config::from_toml(
        "[index]\nmax_bulk_bytes = 65536\n[sources.s3]\nmax_decompressed_bytes = 4194304\n",
        &|_| None,
    )
    .expect("valid");
    let s3 = S3Indexing::new(
        config.index.as_ref().expect("index"),
        config.sources.s3.as_ref().expect("s3"),
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = gz.write_all(data);
    let gzipped = gz.finish().unwrap_or_default();
    for key in KEYS {
        for body in [data, &gzipped[..]] {
            let Ok(mut stream) = ObjectStream::open(&s3, "bucket", key, "us-east-1", body) else {
                continue;
            };
            while let Ok(Some(chunk)) = stream.next_chunk() {
                for c in &chunk.bulk {
                    for item in c.items() {
                        for line in item.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                            serde_json::from_slice::<serde_json::Value>(line)
                                .expect("every line is JSON");
                        }
                    }
                }
            }
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let mut parsed = Parsed::default();
        for kind in [elb::ElbKind::Alb, elb::ElbKind::Classic, elb::ElbKind::Nlb] {
            let _ = elb::detect(text);
            elb::parse(kind, text, &mut parsed);
        }
        waf::parse(text, &mut parsed);
    }
    let _ = notification::parse(data);
});
