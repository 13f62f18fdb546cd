//! The key layout AWS services deliver their logs under:
//! `[prefix/]AWSLogs/<account>/<service>/<region>/YYYY/MM/DD/...` (CloudTrail, VPC flow logs,
//! Elastic Load Balancing), with an organization id before the account for organization
//! trails (`AWSLogs/o-abc123/<account>/CloudTrail/...`), a web ACL name before the date for
//! WAF (`AWSLogs/<account>/WAFLogs/<region>/<web-acl>/YYYY/MM/DD/HH/mm/...`), and the
//! Hive-compatible form VPC flow logs may use
//! (`AWSLogs/aws-account-id=<account>/aws-service=vpcflowlogs/aws-region=<region>/year=YYYY/month=MM/day=DD/...`).

/// What a key says about the object under it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyLayout {
    /// The account the logs belong to.
    pub account: Option<String>,
    /// The service segment, lowercased (`cloudtrail`, `cloudtrail-digest`, `vpcflowlogs`,
    /// `elasticloadbalancing`, `waflogs`, ...).
    pub service: Option<String>,
    /// The region segment.
    pub region: Option<String>,
    /// Midnight (UTC) of the date in the key, in milliseconds since the epoch.
    pub date_ms: Option<i64>,
}

impl KeyLayout {
    /// Reads the layout of `key`; every field is `None` for a key outside `AWSLogs/`.
    pub fn of(key: &str) -> KeyLayout {
        let Some(at) = find_awslogs(key) else {
            return KeyLayout::default();
        };
        let parts: Vec<&str> = key[at + "AWSLogs/".len()..].split('/').collect();
        if parts
            .first()
            .is_some_and(|p| p.starts_with("aws-account-id="))
        {
            return hive(&parts);
        }
        // An organization trail puts the organization id first.
        let parts = match parts.first() {
            Some(p) if p.starts_with("o-") && parts.len() > 1 => &parts[1..],
            _ => &parts[..],
        };
        let mut out = KeyLayout::default();
        if let Some(a) = parts.first().filter(|a| is_account(a)) {
            out.account = Some((*a).to_string());
        }
        let Some(service) = parts.get(1).filter(|s| !s.is_empty() && s.len() <= 64) else {
            return out;
        };
        out.service = Some(service.to_ascii_lowercase());
        out.region = parts
            .get(2)
            .filter(|r| is_region(r))
            .map(|r| (*r).to_string());
        // The date: the first three all-digit segments after the region that read as one.
        // WAF puts the web ACL's name before it.
        let rest = parts.get(3..).unwrap_or_default();
        for i in 0..rest.len().min(3) {
            if let Some(ms) = date(rest.get(i..i + 3).unwrap_or_default()) {
                out.date_ms = Some(ms);
                break;
            }
        }
        out
    }

    /// Whether the key is a CloudTrail digest file (`CloudTrail-Digest/`), which holds hashes
    /// of log files, not events.
    pub fn is_digest(&self) -> bool {
        self.service.as_deref() == Some("cloudtrail-digest")
    }
}

/// The offset of the `AWSLogs/` segment in `key`: at the start or after a `/`.
fn find_awslogs(key: &str) -> Option<usize> {
    if key.starts_with("AWSLogs/") {
        return Some(0);
    }
    key.find("/AWSLogs/").map(|i| i + 1)
}

fn hive(parts: &[&str]) -> KeyLayout {
    let value = |name: &str| {
        parts
            .iter()
            .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
            .filter(|v| !v.is_empty())
    };
    let mut out = KeyLayout {
        account: value("aws-account-id")
            .filter(|a| is_account(a))
            .map(String::from),
        service: value("aws-service").map(str::to_ascii_lowercase),
        region: value("aws-region")
            .filter(|r| is_region(r))
            .map(String::from),
        date_ms: None,
    };
    if let (Some(y), Some(m), Some(d)) = (value("year"), value("month"), value("day")) {
        out.date_ms = date(&[y, m, d]);
    }
    out
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_region(s: &str) -> bool {
    (4..=32).contains(&s.len())
        && s.contains('-')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Midnight of `[YYYY, MM, DD]`, when they are digits of a real-looking date.
fn date(parts: &[&str]) -> Option<i64> {
    let [y, m, d] = parts else { return None };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(y, 4) && digits(m, 2) && digits(d, 2)) {
        return None;
    }
    crate::util::time::UtcTime::parse_rfc3339(&format!("{y}-{m}-{d}T00:00:00.000Z"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 1_764_028_800_000; // 2025-11-25

    #[test]
    fn aws_layouts() {
        let l = KeyLayout::of(
            "logs/AWSLogs/123456789012/CloudTrail/eu-west-1/2025/11/25/123456789012_CloudTrail_eu-west-1_20251125T0000Z_abc.json.gz",
        );
        assert_eq!(l.account.as_deref(), Some("123456789012"));
        assert_eq!(l.service.as_deref(), Some("cloudtrail"));
        assert_eq!(l.region.as_deref(), Some("eu-west-1"));
        assert_eq!(l.date_ms, Some(DAY));
        assert!(!l.is_digest());

        let org = KeyLayout::of(
            "AWSLogs/o-aa111bb222/123456789012/CloudTrail-Digest/us-east-1/2025/11/25/x.json.gz",
        );
        assert_eq!(org.account.as_deref(), Some("123456789012"));
        assert!(org.is_digest());

        let waf = KeyLayout::of(
            "AWSLogs/123456789012/WAFLogs/us-east-1/my-acl/2025/11/25/10/05/123456789012_waflogs_us-east-1_my-acl_20251125T1005Z_x.log.gz",
        );
        assert_eq!(waf.service.as_deref(), Some("waflogs"));
        assert_eq!(waf.date_ms, Some(DAY));

        let hive = KeyLayout::of(
            "p/AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=eu-west-1/year=2025/month=11/day=25/x.log.gz",
        );
        assert_eq!(hive.service.as_deref(), Some("vpcflowlogs"));
        assert_eq!(hive.region.as_deref(), Some("eu-west-1"));
        assert_eq!(hive.date_ms, Some(DAY));
    }

    #[test]
    fn other_keys() {
        assert_eq!(
            KeyLayout::of("cwl/account=1/x.ndjson.gz"),
            KeyLayout::default()
        );
        assert_eq!(KeyLayout::of("myAWSLogs/1/x"), KeyLayout::default());
        let odd = KeyLayout::of("AWSLogs/notanaccount");
        assert_eq!((odd.account, odd.service), (None, None));
        let bad_date = KeyLayout::of("AWSLogs/123456789012/vpcflowlogs/eu-west-1/2025/13/99/x");
        assert_eq!(bad_date.date_ms, None);
    }
}
