use super::*;

fn red(text: &str) -> (String, RedactCounts) {
    let mut all = DETECTORS.to_vec();
    all.retain(|d| !d.starts_with("ip"));
    let r = Redactor::with_detectors(&all);
    let mut c = RedactCounts::default();
    (r.text(text, &mut c), c)
}

fn r(text: &str) -> String {
    red(text).0
}

#[test]
fn access_key_ids() {
    assert_eq!(
        r("key AKIAIOSFODNN7EXAMPLE here"),
        "key [REDACTED:aws-access-key-id] here"
    );
    assert_eq!(r("ASIAY34FZKBOKMUTVV7A"), "[REDACTED:aws-access-key-id]");
    // Look-alikes: too short, inside a longer word, lowercase.
    for s in [
        "AKIAIOSFODNN7EXAMPL",
        "XAKIAIOSFODNN7EXAMPLE",
        "akiaiosfodnn7example",
        "AKIAIOSFODNN7EXAMPLEX",
    ] {
        assert_eq!(r(s), s);
    }
}

#[test]
fn secret_access_keys_only_next_to_their_name() {
    let k = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    assert_eq!(
        r(&format!("aws_secret_access_key={k}")),
        "aws_secret_access_key=[REDACTED:aws-secret-access-key]"
    );
    assert_eq!(
        r(&format!("AWS_SECRET_ACCESS_KEY = {k}")),
        "AWS_SECRET_ACCESS_KEY = [REDACTED:aws-secret-access-key]"
    );
    assert_eq!(
        r(&format!(r#"{{"SecretAccessKey":"{k}"}}"#)),
        r#"{"SecretAccessKey":"[REDACTED:aws-secret-access-key]"}"#
    );
    assert_eq!(
        r(&format!(r#"{{"secretAccessKey": "{k}"}}"#)),
        r#"{"secretAccessKey": "[REDACTED:aws-secret-access-key]"}"#
    );
    // A git SHA or any 40 characters elsewhere stay.
    let sha = "da39a3ee5e6b4b0d3255bfef95601890afd80709";
    assert_eq!(r(&format!("commit {sha}")), format!("commit {sha}"));
    assert_eq!(r(&format!("token={k}")), format!("token={k}"));
}

#[test]
fn emails() {
    assert_eq!(
        r("mail jane.doe+x@example.co.uk now"),
        "mail [REDACTED:email] now"
    );
    assert_eq!(
        r(r#"{"to":"a\u0040b.com"}"#),
        r#"{"to":"[REDACTED:email]"}"#
    );
    for s in ["a@b", "user@localhost", "@example.com", "x@-bad.com"] {
        assert_eq!(r(s), s, "{s}");
    }
}

#[test]
fn credit_cards() {
    for s in [
        "4111111111111111",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "378282246310005",
        "5555555555554444",
        "6011111111111117",
        "3530111333300000",
        "2223003122003222",
        "3782 822463 10005",
        "3056 930902 5904",
        "4222 2222 2222 2",
        "6011-0000-0000-0000-001",
    ] {
        assert_eq!(
            r(&format!("card {s}.")),
            "card [REDACTED:credit-card].",
            "{s}"
        );
    }
    // Luhn failures, no issuer, timestamps, longer runs, inside words.
    for s in [
        "4111111111111112",
        "1764028800000",
        "1234567890123456",
        "41111111111111110000000",
        "9111111111111111",
        // Numbers side by side that are no card as written, though their digits pass
        // Luhn and an issuer's range: VPC flow log fields (bytes, then start time), other
        // groupings, mixed separators.
        "2 210987654321 eni-39f169135794b1d08 63.23.232.128 10.252.214.234 5432 41505 1 160 444327 1717200210 1717200270 ACCEPT OK",
        "3 6 178 406177 1717200210",
        "411 1111 1111 11111",
        "41111 1111 1111 111",
        "4111 1111-1111 1111",
        "4111 11111111 1111",
    ] {
        assert_eq!(r(s), s, "{s}");
    }
    assert_eq!(
        r(r#"{"card":4111111111111111}"#),
        r#"{"card":"[REDACTED:credit-card]"}"#
    );
    assert_eq!(
        r("order 12 4111 1111 1111 1111"),
        "order 12 [REDACTED:credit-card]"
    );
}

#[test]
fn jwts() {
    let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    assert_eq!(
        r(&format!("Authorization: Bearer {jwt}")),
        "Authorization: Bearer [REDACTED:jwt]"
    );
    assert_eq!(r("eyJhbGciOi only"), "eyJhbGciOi only");
}

#[test]
fn private_keys_whole_block() {
    let pem =
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\nabc\n-----END RSA PRIVATE KEY-----";
    assert_eq!(
        r(&format!("key:\n{pem}\nafter")),
        "key:\n[REDACTED:private-key]\nafter"
    );
    // Truncated: to the end.
    assert_eq!(
        r("x -----BEGIN PRIVATE KEY-----\nMIIE"),
        "x [REDACTED:private-key]"
    );
    let cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
    assert_eq!(r(cert), cert);
}

#[test]
fn url_credentials_only_the_password() {
    assert_eq!(
        r("postgres://app:s3cr3t@db.example.com:5432/x"),
        "postgres://app:[REDACTED:url-credentials]@db.example.com:5432/x"
    );
    assert_eq!(r("https://example.com/a@b"), "https://example.com/a@b");
    assert_eq!(r("https://user@example.com/"), "https://user@example.com/");
}

#[test]
fn ip_addresses_only_when_asked() {
    assert_eq!(r("from 10.0.0.1"), "from 10.0.0.1");
    let ip = Redactor::with_detectors(&["ipv4", "ipv6"]);
    let mut c = RedactCounts::default();
    assert_eq!(
        ip.text("from 10.0.0.1 and fe80::1 v1.2.3.4.5", &mut c),
        "from [REDACTED:ipv4] and [REDACTED:ipv6] v1.2.3.4.5"
    );
    assert_eq!(ip.text("at 12:30:45", &mut c), "at 12:30:45");
}

#[test]
fn counts_are_per_distinct_value() {
    let (_, c) = red(r#"{"a":"x@y.com","b":"x@y.com","c":"z@y.com"}"#);
    assert_eq!(c.0.get("email"), Some(&2));
}

#[test]
fn documents_keep_timestamp_and_id() {
    let r = Redactor::defaults();
    let doc = br#"{"@timestamp":"2025-11-25T10:00:00.000Z","message":"{\"e\":\"a\\u0040b.com\",\"n\":\"4111111111111111\"}","event":{"id":"4111111111111111"},"json":{"e":"a\u0040b.com","n":"4111111111111111"}}"#;
    let mut c = RedactCounts::default();
    let out = String::from_utf8(r.document(doc, &mut c).expect("test")).expect("test");
    let v: serde_json::Value = serde_json::from_str(&out).expect("test");
    assert_eq!(v["event"]["id"], "4111111111111111");
    assert_eq!(v["json"]["e"], "[REDACTED:email]");
    assert_eq!(v["json"]["n"], "[REDACTED:credit-card]");
    let m: serde_json::Value =
        serde_json::from_str(v["message"].as_str().expect("test")).expect("test");
    assert_eq!(m["e"], "[REDACTED:email]");
    assert_eq!(c.0.get("email"), Some(&1));
    assert_eq!(c.0.get("credit-card"), Some(&1));
    // Nothing to find: untouched.
    assert!(
        r.document(br#"{"message":"hello 2025-11-25"}"#, &mut c)
            .is_none()
    );
}

#[test]
fn values_found_in_the_message_are_redacted_in_every_field() {
    let r = Redactor::defaults();
    let k = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    let doc = format!(r#"{{"message":"aws_secret_access_key={k}","json":{{"s":"{k}"}}}}"#);
    let out = String::from_utf8(
        r.document(doc.as_bytes(), &mut RedactCounts::default())
            .expect("test"),
    )
    .expect("test");
    assert!(!out.contains(k), "{out}");
}

#[test]
fn config_errors() {
    let bad = |toml: &str| crate::Config::from_toml(toml, &|_| None).expect_err("test");
    let e = bad("[redact]\ndetectors = [\"email\", \"ssn\"]\n");
    assert!(
        e[0].message
            .contains("unknown detector `ssn`: the detectors are aws-access-key-id"),
        "{e:?}"
    );
    assert_eq!(e[0].position, Some((2, 23)));
    let e = bad("[redact]\n[[redact.custom]]\nname = \"x\"\nregex = 'a('\n");
    assert!(e[0].message.contains("does not compile"), "{e:?}");
    assert_eq!(e[0].position, Some((4, 9)));
    let e = bad("[redact]\n[[redact.custom]]\nname = \"x\"\nregex = 'a*'\n");
    assert!(e[0].message.contains("empty string"), "{e:?}");
    let e = bad("[redact]\n[[redact.custom]]\nname = \"x\"\nregex = '\\w{1000}{1000}'\n");
    assert!(
        e[0].message.contains("too big") || e[0].message.contains("does not compile"),
        "{e:?}"
    );
    let e = bad("[redact]\napply_to = [\"s3\"]\n");
    assert!(
        e[0].message.contains("index, archive, alerts, metrics"),
        "{e:?}"
    );
    let c = crate::Config::from_toml(
        "[redact]\n[[redact.custom]]\nname = \"customer-id\"\nregex = 'CUST-[0-9]{8}'\n",
        &|_| None,
    )
    .expect("test");
    let r = c.redact.expect("test");
    assert_eq!(r.detector_names().len(), 8);
    assert!(r.apply_to.index && r.apply_to.alerts && r.apply_to.metrics && !r.apply_to.archive);
    let mut n = RedactCounts::default();
    assert_eq!(
        r.text("who CUST-12345678", &mut n),
        "who [REDACTED:customer-id]"
    );
    // A custom regex that matches in a replacement text leaves it alone: redacting again
    // changes nothing, and the text does not grow from pass to pass.
    let c = crate::Config::from_toml(
        "[redact]\nreplacement = \"<{detector}>\"\n[[redact.custom]]\nname = \"word\"\nregex = '[a-z]+'\n",
        &|_| None,
    )
    .expect("test");
    let r = c.redact.expect("test");
    let once = r.text("a b@c.com", &mut n);
    assert_eq!(once, "<word> <email>");
    assert_eq!(r.text(&once, &mut n), once);
}

#[test]
fn process_batch_redacts_index_documents_and_counts() {
    use cwlogs_decode::{LogBatch, LogEvent, MessageType};
    let config = crate::Config::from_toml(
        "[redact]\n[index]\nindex = \"cwl-{log_group}\"\n[[index.extract]]\npattern = \"[user, card]\"\n",
        &|_| None,
    )
    .expect("test");
    let batch = LogBatch {
        message_type: MessageType::Data,
        owner: "123456789012".into(),
        log_group: "/app".into(),
        log_stream: "s".into(),
        subscription_filters: vec![],
        policy_level: None,
        region: None,
        log_events: vec![
            LogEvent {
                id: "1".into(),
                timestamp: 1_764_028_800_000,
                message: r#"{"user":"jane\u0040example.com","n":1}"#.into(),
            },
            LogEvent {
                id: "2".into(),
                timestamp: 1_764_028_800_000,
                message: "bob@example.org 4111-1111-1111-1111".into(),
            },
            LogEvent {
                id: "3".into(),
                timestamp: 1_764_028_800_000,
                message: "plain".into(),
            },
        ],
    };
    let plain = crate::Config::from_toml(
        "[index]\nindex = \"cwl-{log_group}\"\n[[index.extract]]\npattern = \"[user, card]\"\n",
        &|_| None,
    )
    .expect("test");
    let out = crate::process_batch(&config, "eu-west-1", &batch);
    let before = crate::process_batch(&plain, "eu-west-1", &batch);
    let body = String::from_utf8(out.bulk[0].body.clone()).expect("test");
    assert!(
        !body.contains("example.com") && !body.contains("bob@") && !body.contains("4111"),
        "{body}"
    );
    let lines: Vec<&str> = body.lines().collect();
    let old = String::from_utf8(before.bulk[0].body.clone()).expect("test");
    let old_lines: Vec<&str> = old.lines().collect();
    assert_eq!(lines.len(), old_lines.len());
    // Action lines (ids) and the untouched document stay byte for byte.
    for i in [0, 2, 4, 5] {
        assert_eq!(lines[i], old_lines[i]);
    }
    let doc: serde_json::Value = serde_json::from_str(lines[3]).expect("test");
    assert_eq!(doc["json"]["user"], "[REDACTED:email]");
    assert_eq!(doc["json"]["card"], "[REDACTED:credit-card]");
    assert_eq!(doc["message"], "[REDACTED:email] [REDACTED:credit-card]");
    assert_eq!(doc["@timestamp"], "2025-11-25T00:00:00.000Z");
    assert_eq!(out.redacted.0.get("email"), Some(&2));
    assert_eq!(out.redacted.0.get("credit-card"), Some(&1));
    // The archive keeps events as delivered.
    assert_eq!(out.archive, before.archive);
}

fn all_but_ip() -> Redactor {
    Redactor::defaults()
}

/// Every JSON string value of `v`, and those of JSON held as text in them, decoded.
fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => {
            out.push(s.clone());
            if let Ok(inner) = serde_json::from_str::<serde_json::Value>(s) {
                strings(&inner, out);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// `s` as a JSON string with some characters written as `\uXXXX` (chosen by `mask`).
fn escaped(s: &str, mask: u64) -> String {
    let mut o = String::from("\"");
    for (i, c) in s.chars().enumerate() {
        if mask >> (i % 64) & 1 == 1 || c.is_control() {
            o.push_str(&format!("\\u{:04x}", c as u32));
        } else if c == '"' || c == '\\' {
            o.push('\\');
            o.push(c);
        } else {
            o.push(c);
        }
    }
    o.push('"');
    o
}

const PLANTED: [(&str, &str); 7] = [
    ("AKIAIOSFODNN7EXAMPLE", "aws-access-key-id"),
    ("jane.doe@example.com", "email"),
    ("4111 1111 1111 1111", "credit-card"),
    (
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "jwt",
    ),
    (
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----",
        "private-key",
    ),
    (
        "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "aws-secret-access-key",
    ),
    (
        "postgres://app:hunter2hunter2@db.example.net/x",
        "url-credentials",
    ),
];

/// The part of a planted value that must not survive.
fn secret_part(planted: &str) -> &str {
    match planted {
        p if p.starts_with("aws_secret") => "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        p if p.starts_with("postgres") => "hunter2hunter2",
        p if p.starts_with("-----") => "MIIEvQIBADANBg",
        p => p,
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    #[test]
    fn redaction_is_idempotent(s in "(?s:[ -~\n]{0,80})", which in 0usize..7, at in 0usize..80) {
        let r = all_but_ip();
        let mut s = s;
        let at = at.min(s.len());
        s.insert_str(at, &format!(" {} ", PLANTED[which].0));
        let mut c = RedactCounts::default();
        let once = r.text(&s, &mut c);
        let twice = r.text(&once, &mut c);
        proptest::prop_assert_eq!(once, twice);
    }

    /// With every detector on, in texts made of pieces of what they find, put side by side:
    /// a replacement changes its neighbours' surroundings (`a@b.com::2`: `::2` becomes an
    /// IPv6 address once the email before it is replaced), and a second pass must find
    /// nothing more.
    #[test]
    fn redaction_with_every_detector_is_idempotent(parts in proptest::collection::vec(proptest::sample::select(vec![
        "a@b.com", ".5@C8BA.CA", "x@y.ab", "::2", ":", "::", "fe80::1", "1.2.3.4", ".", "10.0.0.1",
        "AKIAIOSFODNN7EXAMPLE", "4111 1111 1111 1111", "4111111111111111", "-", " ", "x", "9",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig", "https://u:p@h", "[", "]", "\"\"",
        "Z://", ":5!@B43", "@", "[REDACTED:email]", "[REDACTED:url-credentials]", "ED:",
    ]), 0..12)) {
        let r = Redactor::with_detectors(&DETECTORS);
        let text = parts.concat();
        let mut c = RedactCounts::default();
        let once = r.text(&text, &mut c);
        let twice = r.text(&once, &mut c);
        proptest::prop_assert_eq!(&once, &twice, "{:?}", text);
    }

    #[test]
    fn nothing_outside_a_match_changes(pre in "[a-z ]{0,30}", post in "[a-z ]{0,30}", which in 0usize..7) {
        let r = all_but_ip();
        let (planted, det) = PLANTED[which];
        let s = format!("{pre} {planted} {post}");
        let out = r.text(&s, &mut RedactCounts::default());
        let secret = if planted.starts_with("-----") { planted } else { secret_part(planted) };
        let expected = s.replacen(secret, &format!("[REDACTED:{det}]"), 1);
        // The email detector takes the whole address; the others as the secret part says.
        proptest::prop_assert_eq!(out, expected);
    }

    #[test]
    fn no_document_keeps_a_planted_secret(
        which in 0usize..7,
        mask in proptest::prelude::any::<u64>(),
        nest in 0usize..4,
        key in "[a-z]{1,8}",
        pad in "[a-z ]{0,10}",
    ) {
        let (planted, _) = PLANTED[which];
        // Key ids need a word boundary (a look-alike inside a longer word stays).
        let value = format!("{pad} {planted} {pad}");
        // The secret in a JSON string, escaped at random, nested in objects, arrays and JSON
        // held as text.
        let mut json = format!("{{\"{key}\":{}}}", escaped(&value, mask));
        for level in 0..nest {
            json = match level % 3 {
                0 => format!("{{\"n{level}\":{json}}}"),
                1 => format!("{{\"a\":[1,{json}]}}"),
                _ => format!("{{\"t\":{}}}", escaped(&json, mask.rotate_left(level as u32))),
            };
        }
        let config = crate::Config::from_toml("[redact]\n[index]\nindex = \"i\"\nmax_depth = 2\n", &|_| None).expect("config");
        let lambda = format!("2025-11-25T10:00:00.000Z\t8b2b1e3c-0000-4000-8000-000000000000\tINFO\t{json}");
        let batch = one_batch(&[&json, &lambda]);
        let out = crate::process_batch(&config, "eu-west-1", &batch);
        let body = String::from_utf8(out.bulk[0].body.clone()).expect("utf-8");
        let secret = secret_part(planted);
        for line in body.lines().skip(1).step_by(2) {
            let doc: serde_json::Value = serde_json::from_str(line).expect("one JSON document per line");
            let mut all = Vec::new();
            strings(&doc, &mut all);
            for s in all {
                proptest::prop_assert!(!s.contains(secret), "{secret:?} survives in {s:?} of {line}");
            }
        }
        proptest::prop_assert!(out.redacted.total() >= 1);
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// A JSON message redacted before its document is built gives the document that walking
    /// the built document gives (a custom regex that never matches forces that walk).
    #[test]
    fn json_messages_redacted_first_give_the_walked_documents(
        which in proptest::collection::vec(0usize..8, 1..4),
        mask in proptest::prelude::any::<u64>(),
        keys in proptest::collection::vec("[a-z]{1,6}", 4),
        pad in "[a-z0-9 ]{0,10}",
        number in proptest::prelude::any::<bool>(),
        corrupt in 0usize..5,
    ) {
        let mut members = Vec::new();
        for (k, w) in which.iter().enumerate() {
            let key = &keys[k % keys.len()];
            let value = match PLANTED.get(*w) {
                Some((planted, _)) => format!("{pad} {planted} {pad}"),
                None => pad.clone(),
            };
            members.push(format!("\"{key}{k}\":{}", escaped(&value, mask.rotate_left(k as u32))));
        }
        if number {
            members.push("\"card\":4111111111111111,\"n\":12".into());
        }
        members.push(format!("\"inner\":{}", escaped(&format!("{{\"x\":\"{pad} a@b.co\"}}"), mask)));
        let mut json = format!("{{{}}}", members.join(","));
        // Not JSON after all: a bare word, a lost quote, a bad escape, a lost colon (the secrets
        // then unescaped, so that a reader of the text sees them).
        let mask = if corrupt > 0 { 0 } else { mask };
        if corrupt > 0 {
            let mut members = Vec::new();
            for (k, w) in which.iter().enumerate() {
                let value = match PLANTED.get(*w) {
                    Some((planted, _)) => format!("{pad} {planted} {pad}"),
                    None => pad.clone(),
                };
                members.push(format!("\"{}{k}\":{}", keys[k % keys.len()], escaped(&value, mask)));
            }
            json = format!("{{{}}}", members.join(","));
            match corrupt {
                1 => json.insert_str(1, "bob@example.org "),
                2 => {
                    let q = json.rfind('"').expect("a quote");
                    json.remove(q);
                }
                3 => json.insert_str(json.len() - 2, "\\q"),
                _ => json = json.replacen(':', " ", 1),
            }
        }
        let batch = one_batch(&[&json]);
        let index = "[index]\nindex = \"i\"\nmax_depth = 2\n";
        let first = crate::Config::from_toml(&format!("[redact]\n{index}"), &|_| None).expect("config");
        let walked = crate::Config::from_toml(
            &format!("[redact]\n[[redact.custom]]\nname = \"never\"\nregex = 'zqzqzq[0-9]{{40}}'\n{index}"),
            &|_| None,
        ).expect("config");
        let a = crate::process_batch(&first, "eu-west-1", &batch);
        let b = crate::process_batch(&walked, "eu-west-1", &batch);
        let a = String::from_utf8(a.bulk[0].body.clone()).expect("utf-8");
        let b = String::from_utf8(b.bulk[0].body.clone()).expect("utf-8");
        if corrupt == 0 {
            proptest::prop_assert_eq!(a, b, "message {}", json);
        } else {
            // Whichever way it went, what a reader of the document sees holds no secret.
            let doc: serde_json::Value = serde_json::from_str(a.lines().nth(1).expect("a document")).expect("json");
            let mut all = Vec::new();
            strings(&doc, &mut all);
            for w in &which {
                if let Some((planted, _)) = PLANTED.get(*w) {
                    let secret = secret_part(planted);
                    for s in &all {
                        proptest::prop_assert!(!s.contains(secret), "{secret:?} survives in {s:?} of {a}");
                    }
                }
            }
            proptest::prop_assert!(!a.contains("bob@example.org"), "{a}");
        }
    }
}

#[test]
fn megabyte_messages_with_thousands_of_candidates_stay_linear() {
    let r = Redactor::with_detectors(&DETECTORS);
    let unit = "a@b AKIA eyJx. -----BEGIN x:// 4111 1111 1111 111 12.3.4 fe80: secret_access_key= ";
    let time = |n: usize| {
        let s = unit.repeat(n);
        let t = std::time::Instant::now();
        let _ = r.text(&s, &mut RedactCounts::default());
        t.elapsed()
    };
    let small = time(1 << 11);
    let large = time(1 << 14); // ~1.3 MB
    // 8 times the input: well under 8 * 8 times the time (a quadratic pass would be 64x).
    assert!(
        large < small * 24 + std::time::Duration::from_millis(200),
        "{small:?} -> {large:?}"
    );
}

fn one_batch(messages: &[&str]) -> cwlogs_decode::LogBatch<'static> {
    cwlogs_decode::LogBatch {
        message_type: cwlogs_decode::MessageType::Data,
        owner: "123456789012".into(),
        log_group: "/app".into(),
        log_stream: "s".into(),
        subscription_filters: vec![],
        policy_level: None,
        region: None,
        log_events: messages
            .iter()
            .enumerate()
            .map(|(i, m)| cwlogs_decode::LogEvent {
                id: i.to_string().into(),
                timestamp: 1_764_028_800_000,
                message: m.to_string().into(),
            })
            .collect(),
    }
}

const RULES: &str = "[[rule]]\nname = \"denied\"\npattern = '{ $.errorCode = \"AccessDenied\" }'\nalert = { group_by = [\"$.user\"], window = \"5m\" }\n[[rule]]\nname = \"lat\"\npattern = '{ $.ms = * }'\nmetric = { namespace = \"App\", name = \"Latency\", value = \"$.ms\", unit = \"Milliseconds\", dimensions = { User = \"$.user\" } }\n";

#[test]
fn alerts_and_metrics_are_redacted_where_apply_to_says() {
    let msg = r#"{"errorCode":"AccessDenied","user":"jane@example.com","ms":3,"key":"AKIAIOSFODNN7EXAMPLE"}"#;
    let batch = one_batch(&[msg]);
    for (apply, alerts, metrics) in [
        ("", true, true),
        ("apply_to = [\"alerts\"]\n", true, false),
        ("apply_to = [\"index\"]\n", false, false),
    ] {
        let config = crate::Config::from_toml(&format!("[redact]\n{apply}{RULES}"), &|_| None)
            .expect("config");
        let mut run = crate::RuleRun::new(&config.rules);
        run.add_batch("eu-west-1", &batch, 0);
        let occ: Vec<_> = run.occurrences().cloned().collect();
        let event = &occ[0].events[0];
        assert_eq!(!event.message.contains("jane@"), alerts, "{apply}");
        assert_eq!(!event.message.contains("AKIA"), alerts);
        assert_eq!(occ[0].group[0] == "[REDACTED:email]", alerts);
        let emf = run.emf_lines().join("\n");
        assert_eq!(!emf.contains("jane@"), metrics, "{emf}");
        assert_eq!(run.redacted().total() > 0, alerts || metrics);
    }
}

#[test]
fn the_archive_is_redacted_only_when_asked() {
    let batch = one_batch(&["mail jane@example.com", "plain"]);
    let gunzip = |b: &[u8]| {
        use std::io::Read;
        let mut s = String::new();
        flate2::read::MultiGzDecoder::new(b)
            .read_to_string(&mut s)
            .expect("gzip");
        s
    };
    let off = crate::Config::from_toml("[redact]\n", &|_| None).expect("config");
    let out = crate::process_batch(&off, "eu-west-1", &batch);
    assert!(gunzip(&out.archive.expect("archive").body).contains("jane@example.com"));
    let on = crate::Config::from_toml("[redact]\napply_to = [\"index\", \"archive\"]\n", &|_| None)
        .expect("config");
    let out = crate::process_batch(&on, "eu-west-1", &batch);
    let body = gunzip(&out.archive.expect("archive").body);
    assert!(
        !body.contains("jane@") && body.contains("mail [REDACTED:email]"),
        "{body}"
    );
    // Counted like the index's: per detector, never the values.
    assert_eq!(out.archive_redacted.0.get("email"), Some(&1));
    let mut ndjson = Vec::new();
    let mut counts = RedactCounts::default();
    crate::archive_ndjson(&on, "eu-west-1", &batch, &mut ndjson, &mut counts);
    assert!(!String::from_utf8_lossy(&ndjson).contains("jane@"));
    assert_eq!(counts.0.get("email"), Some(&1));
    // Off for the archive: nothing replaced there, nothing counted.
    let out = crate::process_batch(&off, "eu-west-1", &batch);
    assert!(out.archive_redacted.is_empty());
}

/// Batches built side by side (`cwlogs replay --jobs N`, one configuration and one redactor
/// shared by the workers) each get their own counts: each batch's count is the number of
/// distinct values planted in it, whatever the others do at the same time.
#[test]
fn counts_stay_with_their_batch_when_batches_run_in_parallel() {
    let config = std::sync::Arc::new(
        crate::Config::from_toml("[archive]\nenabled = false\n[redact]\n", &|_| None)
            .expect("config"),
    );
    let workers: Vec<_> = (1..=4usize)
        .map(|w| {
            let config = config.clone();
            std::thread::spawn(move || {
                for round in 0..50 {
                    // Worker `w` plants `w` distinct emails per batch.
                    let msgs: Vec<String> = (0..w)
                        .map(|k| format!("user{w}x{round}x{k}@example.com logged in"))
                        .collect();
                    let refs: Vec<&str> = msgs.iter().map(String::as_str).collect();
                    let out = crate::process_batch(&config, "eu-west-1", &one_batch(&refs));
                    assert_eq!(out.redacted.0.get("email"), Some(&(w as u64)), "{out:?}");
                    assert_eq!(out.redacted.total(), w as u64);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]

    /// The walk's own JSON check accepts exactly what `serde_json` accepts.
    #[test]
    fn the_json_check_agrees_with_serde_json(s in r#"[ {}\[\]",:0-9a-z.eE+\\/-]{0,40}"#) {
        let serde = serde_json::from_str::<serde::de::IgnoredAny>(&s).is_ok();
        proptest::prop_assert_eq!(walk::valid_json(s.as_bytes()), serde, "{:?}", s);
    }

    #[test]
    fn the_json_check_takes_every_json_value(v in json_value()) {
        let s = v.to_string();
        proptest::prop_assert!(walk::valid_json(s.as_bytes()), "{}", s);
        let pretty = serde_json::to_string_pretty(&v).expect("json");
        proptest::prop_assert!(walk::valid_json(pretty.as_bytes()), "{}", pretty);
    }

    /// The word-at-a-time digit search finds what a byte loop finds.
    #[test]
    fn digits_are_found_eight_bytes_at_a_time(s in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40), from in 0usize..40) {
        let from = from.min(s.len());
        let naive = s[from..].iter().position(u8::is_ascii_digit).map(|p| p + from);
        proptest::prop_assert_eq!(detect::next_digit(&s, from), naive);
    }

    /// Card numbers are found in the long runs of digits, spaces and dashes as in the whole
    /// text, and those runs as a byte loop finds them.
    #[test]
    fn card_runs_are_found_by_probing(
        s in proptest::collection::vec(proptest::prop_oneof![
            8 => proptest::char::range('0', '9'),
            2 => proptest::prelude::Just(' '),
            1 => proptest::prelude::Just('-'),
            1 => proptest::prelude::Just('x'),
        ], 0..80),
        luhn_ok in proptest::collection::vec("4[0-9]{15}", 0..3),
    ) {
        let mut text: String = s.into_iter().collect();
        for (k, c) in luhn_ok.iter().enumerate() {
            // A card number that passes Luhn somewhere in the text (the last digit fixed up).
            let mut d: Vec<u8> = c.bytes().collect();
            for last in b'0'..=b'9' {
                d[15] = last;
                if detect::luhn(&d) {
                    break;
                }
            }
            let at = (k * 17) % (text.len() + 1);
            text.insert_str(at, std::str::from_utf8(&d).expect("digits"));
        }
        let b = text.as_bytes();
        let naive = naive_card_runs(b);
        let mut probed = Vec::new();
        detect::card_runs_probing(b, &mut |s, e| probed.push((s, e)));
        proptest::prop_assert_eq!(&probed, &naive, "{:?}", text);
        let mut runs = Vec::new();
        detect::card_runs(b, &mut |s, e| runs.push((s, e)));
        proptest::prop_assert_eq!(&runs, &naive_card_candidates(b), "{:?}", text);
        let mut found = Vec::new();
        detect::cards(b, &mut |s, e| found.push((s, e)));
        let mut whole = Vec::new();
        detect::cards_in(b, &mut Vec::new(), &mut Vec::new(), &mut |s, e| whole.push((s, e)));
        proptest::prop_assert_eq!(found, whole, "{:?}", text);
    }

    /// The document's candidates only decide which values are looked at: a document comes out
    /// as when every value is prefiltered on its own (all nine detectors on).
    #[test]
    fn document_candidates_change_nothing(
        parts in proptest::collection::vec(0usize..12, 1..8),
        mask in proptest::prelude::any::<u64>(),
        key in "[a-z]{1,6}",
    ) {
        const BITS: [&str; 12] = [
            "AKIAIOSFODNN7EXAMPLE", "jane.doe@example.com", "4111 1111 1111 1111",
            "10.1.2.3", "fe80::1", "2001:db8:0:0:0:0:0:1", "postgres://a:b@h/x",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig", "plain words", "12:30:45",
            "1.2.3", "SecretAccessKey",
        ];
        // Two cases in three without any `\\u` escape, which turns the candidates off.
        let mask = if mask % 3 == 0 { mask } else { 0 };
        let text: Vec<&str> = parts.iter().map(|&p| BITS[p]).collect();
        let value = text.join(" ");
        let json = format!("{{\"{key}\":{},\"n\":4111111111111111,\"ip\":\"{}\"}}", escaped(&value, mask), BITS[parts[0]]);
        for r in [Redactor::with_detectors(&DETECTORS), Redactor::defaults()] {
            for doc in [json.clone(), format!("{{\"message\":{},\"json\":{json}}}", escaped(&json, mask.rotate_left(7)))] {
                let mut c1 = RedactCounts::default();
                let fast = r.document(doc.as_bytes(), &mut c1);
                let mut st = walk::State::default();
                let mut out = Vec::new();
                let changed = r.json(&doc, 0, true, &mut out, &mut st, None);
                let mut c2 = RedactCounts::default();
                st.count(&r, &mut c2);
                let slow = changed.then_some(out);
                proptest::prop_assert_eq!(
                    fast.as_deref().map(String::from_utf8_lossy),
                    slow.as_deref().map(String::from_utf8_lossy),
                    "{}", doc
                );
                proptest::prop_assert_eq!(c1, c2);
            }
        }
    }
}

fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        (-1e9f64..1e9).prop_map(|n| serde_json::json!(n)),
        "(?s:.{0,12})".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            proptest::collection::btree_map("(?s:.{0,6})", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]

    /// The SIMD literal searcher finds what the automaton finds (leftmost first, not
    /// overlapping), in texts made of the literals' pieces, short and long.
    #[test]
    fn the_literal_searchers_agree(parts in proptest::collection::vec(proptest::sample::select(vec![
        "AKIA", "ASIA", "AIDA", "AROA", "A3T", "A", "SIA", "secret", "Secret", "SECRET", "secre",
        "eyJ", "ey", "-----BEGIN", "-----", "://", ":/", "x", " ", "0123456789", "\u{e9}",
    ]), 0..40)) {
        let text = parts.concat();
        let d = detect::Detectors::new();
        proptest::prop_assert_eq!(d.literals_found(text.as_bytes()), d.literals_by_automaton(text.as_bytes()), "{:?}", text);
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    /// Card runs in texts of several probe batches (32 probes, 416 bytes) and SIMD blocks (64
    /// bytes), with runs of every length across their ends, are the runs a byte loop finds,
    /// by both scans.
    #[test]
    fn card_runs_across_probe_batches(segments in proptest::collection::vec(
        (proptest::prelude::any::<bool>(), 1usize..40, proptest::sample::select(b"0123456789 -".to_vec()), proptest::sample::select(b"xA:.\"".to_vec())),
        0..200,
    )) {
        let mut b = Vec::new();
        for (card, len, c, other) in segments {
            for k in 0..len {
                b.push(if card { if k % 5 == 4 { c } else { b'0' + (k % 10) as u8 } } else { other });
            }
        }
        let naive = naive_card_runs(&b);
        let mut probed = Vec::new();
        detect::card_runs_probing(&b, &mut |s, e| probed.push((s, e)));
        proptest::prop_assert_eq!(&probed, &naive);
        let mut runs = Vec::new();
        detect::card_runs(&b, &mut |s, e| runs.push((s, e)));
        proptest::prop_assert_eq!(&runs, &naive_card_candidates(&b));
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]

    /// The mask check of a run, and the scan's check of shapes, never hide a card number
    /// that the group-by-group reading finds (runs of digits, spaces and dashes up to 80
    /// bytes, with valid numbers planted).
    #[test]
    fn the_run_mask_check_keeps_every_card(
        s in proptest::collection::vec(proptest::prop_oneof![
            8 => proptest::char::range('0', '9'),
            3 => proptest::prelude::Just(' '),
            1 => proptest::prelude::Just('-'),
        ], 0..60),
        planted in proptest::option::of((proptest::sample::select(vec![
            "4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111", "3782 822463 10005",
            "5500 0000 0000 0004", "4222222222222", "6011 0009 9013 9424", "4222 2222 2222 2",
            "3056 930902 5904", "4111 1111 1111 1111 003",
        ]), 0usize..60)),
    ) {
        let mut text: String = s.into_iter().collect();
        if let Some((card, at)) = planted {
            let at = at.min(text.len());
            text.insert_str(at, card);
        }
        let b = text.as_bytes();
        let mut found = Vec::new();
        detect::cards_in(b, &mut Vec::new(), &mut Vec::new(), &mut |s, e| found.push((s, e)));
        if !found.is_empty() {
            proptest::prop_assert!(detect::may_hold_card(b), "{:?} {:?}", text, found);
        }
        // Nor does the scan's check of the shapes (within a text around the run).
        let around = format!("x{text}x");
        let mut scanned = Vec::new();
        detect::cards(around.as_bytes(), &mut |s, e| scanned.push((s - 1, e - 1)));
        proptest::prop_assert_eq!(&scanned, &found, "{:?}", text);
    }
}

/// Runs placed at every offset across two block ends (64 and 128 bytes) are found as a byte
/// loop finds them: the shortest runs that can hold a card (13 bytes, the group of four at
/// the last place it can be), runs that cannot, and runs that reach the text's end.
#[test]
fn card_runs_at_every_offset() {
    let runs = [
        "12 3 4 1234 5678 9012 3",
        "1 2 3 4 5 6 7 8 9 1234-567890-1234",
        "1234 5678 9012 345",
        "3782 822463 1000",
        "1 2 1234 1234 12 1234",
        "4111111111111",
        "4111 1111 1111 1111",
        "443 49152 6 10 840 1717200210 1717200270",
        "123456789012 ",
        "2024-06-01 12",
    ];
    for run in runs {
        for len in [13, 63, 64, 65, 127, 128, 129, 150] {
            for at in 0..len {
                let mut text = vec![b'x'; len];
                let end = (at + run.len()).min(len);
                text[at..end].copy_from_slice(&run.as_bytes()[..end - at]);
                let mut found = Vec::new();
                detect::card_runs(&text, &mut |s, e| found.push((s, e)));
                assert_eq!(
                    found,
                    naive_card_candidates(&text),
                    "{run:?} at {at} of {len}"
                );
            }
        }
    }
}

/// The runs of at least 13 digits, spaces and dashes, found a byte at a time (what
/// `detect::card_runs_probing` must find).
fn naive_card_runs(b: &[u8]) -> Vec<(usize, usize)> {
    let card = |c: u8| c.is_ascii_digit() || c == b' ' || c == b'-';
    let mut runs = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if card(b[i]) {
            let s = i;
            while i < b.len() && card(b[i]) {
                i += 1;
            }
            if i - s >= 13 {
                runs.push((s, i));
            }
        } else {
            i += 1;
        }
    }
    runs
}

/// The runs of [`naive_card_runs`] that can hold a card number, checked a byte at a time
/// (what `detect::card_runs` must find): a group of digits (after no digit) that starts 13
/// digits in a row, or groups of 4-4-4-1 digits at least, or 4-6-4, split by spaces or
/// dashes.
fn naive_card_candidates(b: &[u8]) -> Vec<(usize, usize)> {
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let sep = |i: usize| matches!(b.get(i), Some(b' ' | b'-'));
    // Whether `shape` (`d`: a digit, `s`: a separator) is written at `i`.
    let shape = |i: usize, shape: &str| {
        shape
            .bytes()
            .enumerate()
            .all(|(k, c)| if c == b'd' { digit(i + k) } else { sep(i + k) })
    };
    naive_card_runs(b)
        .into_iter()
        .filter(|&(s, e)| {
            (s..e).any(|i| {
                (i == 0 || !digit(i - 1))
                    && (shape(i, "ddddddddddddd")
                        || shape(i, "ddddsddddsddddsd")
                        || shape(i, "ddddsddddddsdddd"))
            })
        })
        .collect()
}
