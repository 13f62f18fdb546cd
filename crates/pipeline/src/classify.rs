//! Result classification: one pure function per sink from what came back to [`Class`], and the
//! message an operator reads when a send fails for good.

use crate::sink::Class;

/// What came back from one S3 request, as far as classification needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct S3Response<'a> {
    /// The HTTP status; `None` when no response arrived (timeout, connection refused or reset,
    /// DNS or TLS failure).
    pub status: Option<u16>,
    /// The S3 error code (`<Code>` in the XML error body), when there was one.
    pub code: Option<&'a str>,
}

/// Error codes that succeed when tried again (throttling, transient server faults, expired
/// credentials that the provider refreshes, a conflicting concurrent operation).
const S3_RETRY_CODES: &[&str] = &[
    "SlowDown",
    "InternalError",
    "ServiceUnavailable",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "Throttling",
    "ThrottlingException",
    "TooManyRequests",
    "RequestLimitExceeded",
    "OperationAborted",
    "ExpiredToken",
    "TokenRefreshRequired",
    "KMS.ThrottlingException",
    "KMS.KMSInternalException",
    "KMS.DependencyTimeoutException",
];

/// Classifies one S3 `PutObject` / `GetObject` / `ListObjectsV2` outcome.
///
/// No response, 408, 429 and 5xx are [`Class::Retry`], and so are the codes S3 uses for
/// throttling and transient faults whatever their status. Everything else that is not 2xx
/// (access denied, no such bucket, a bucket in another region, a bad request, a disabled KMS
/// key) is [`Class::Reject`]: sending the same request again cannot succeed.
pub fn s3(response: S3Response<'_>) -> Class {
    let Some(status) = response.status else {
        return Class::Retry;
    };
    if response.code.is_some_and(|c| S3_RETRY_CODES.contains(&c)) {
        return Class::Retry;
    }
    match status {
        200..=299 => Class::Done,
        408 | 429 | 500..=599 => Class::Retry,
        _ => Class::Reject,
    }
}

/// What an operator should check for an S3 error code: the likely cause in this deployment.
pub fn s3_hint(code: &str) -> Option<&'static str> {
    Some(match code {
        "NoSuchBucket" => {
            "the bucket does not exist: check `[archive] bucket` or CWLOGS_ARCHIVE_BUCKET"
        }
        "AccessDenied" | "AllAccessDisabled" => {
            "the role lacks s3:PutObject on the bucket, or a bucket or KMS key policy denies it"
        }
        "PermanentRedirect"
        | "AuthorizationHeaderMalformed"
        | "IllegalLocationConstraintException" => {
            "the bucket is in another region: set AWS_REGION (or the client's region) to the bucket's"
        }
        "InvalidAccessKeyId" | "SignatureDoesNotMatch" => {
            "the credentials are not valid for this account or endpoint"
        }
        "KMS.DisabledException"
        | "KMS.NotFoundException"
        | "KMS.KMSInvalidStateException"
        | "KMS.AccessDeniedException"
        | "KMSAccessDenied" => {
            "the KMS key is missing, disabled or not usable by the role: check `[archive] kms_key_id`"
        }
        "EntityTooLarge" => "the object is larger than S3 accepts in one PUT",
        "SlowDown" => "S3 is throttling this prefix; retried with backoff",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recorded S3 answers (status, `<Code>`) and the class each must get.
    const FIXTURES: &[(Option<u16>, Option<&str>, Class)] = &[
        (Some(200), None, Class::Done),
        (Some(204), None, Class::Done),
        (None, None, Class::Retry),
        (Some(500), Some("InternalError"), Class::Retry),
        (Some(503), Some("SlowDown"), Class::Retry),
        (Some(503), Some("ServiceUnavailable"), Class::Retry),
        (Some(502), None, Class::Retry),
        (Some(400), Some("RequestTimeout"), Class::Retry),
        (Some(403), Some("RequestTimeTooSkewed"), Class::Retry),
        (Some(400), Some("ExpiredToken"), Class::Retry),
        (Some(409), Some("OperationAborted"), Class::Retry),
        (Some(429), None, Class::Retry),
        (Some(408), None, Class::Retry),
        (Some(400), Some("KMS.ThrottlingException"), Class::Retry),
        (Some(403), Some("AccessDenied"), Class::Reject),
        (Some(404), Some("NoSuchBucket"), Class::Reject),
        (Some(301), Some("PermanentRedirect"), Class::Reject),
        (
            Some(400),
            Some("AuthorizationHeaderMalformed"),
            Class::Reject,
        ),
        (Some(403), Some("InvalidAccessKeyId"), Class::Reject),
        (Some(403), Some("SignatureDoesNotMatch"), Class::Reject),
        (Some(400), Some("KMS.DisabledException"), Class::Reject),
        (Some(400), Some("EntityTooLarge"), Class::Reject),
        (Some(400), Some("InvalidRequest"), Class::Reject),
        (Some(404), None, Class::Reject),
    ];

    #[test]
    fn s3_fixtures() {
        for &(status, code, want) in FIXTURES {
            assert_eq!(s3(S3Response { status, code }), want, "{status:?} {code:?}");
        }
    }

    #[test]
    fn hints_name_the_fix() {
        assert!(s3_hint("NoSuchBucket").is_some_and(|h| h.contains("CWLOGS_ARCHIVE_BUCKET")));
        assert!(s3_hint("PermanentRedirect").is_some_and(|h| h.contains("region")));
        assert_eq!(s3_hint("Nope"), None);
    }
}
