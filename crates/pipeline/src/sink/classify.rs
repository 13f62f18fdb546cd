//! Result classification: from what an AWS service answered to a [`Class`], and the message an
//! operator reads when a send fails for good. One [`classify`] and one [`hint`] for every
//! service; what differs between services is data, one table each.

use crate::sink::Class;

/// The AWS services whose answers are classified here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// S3 `PutObject`, `GetObject` and `ListObjectsV2`.
    S3,
    /// SNS `Publish`.
    Sns,
    /// DynamoDB `GetItem` and `PutItem`.
    DynamoDb,
}

impl Service {
    /// The name errors give the service: `S3`, `SNS` or `DynamoDB`.
    pub fn name(self) -> &'static str {
        self.table().name
    }

    fn table(self) -> &'static Table {
        match self {
            Service::S3 => &S3,
            Service::Sns => &SNS,
            Service::DynamoDb => &DYNAMODB,
        }
    }
}

/// What came back from one request to an AWS service, as far as classification needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AwsResponse<'a> {
    /// The HTTP status; `None` when no response arrived (timeout, connection refused or reset,
    /// DNS or TLS failure).
    pub status: Option<u16>,
    /// The error code (`<Code>` in S3's and a query API's XML error, `__type` without its
    /// namespace in a JSON API's), when there was one.
    pub code: Option<&'a str>,
}

/// Classifies one outcome of a request to `service`.
///
/// No response, 408, 429 and 5xx are [`Class::Retry`], and so are the codes the service uses
/// for throttling and transient faults whatever their status (SNS throttles with a 400
/// `Throttling`, DynamoDB with a 400 `ProvisionedThroughputExceededException`). Everything else
/// that is not 2xx is [`Class::Reject`]: sending the same request again cannot succeed.
pub fn classify(service: Service, response: AwsResponse<'_>) -> Class {
    let Some(status) = response.status else {
        return Class::Retry;
    };
    if response
        .code
        .is_some_and(|c| service.table().retry.contains(&c))
    {
        return Class::Retry;
    }
    match status {
        200..=299 => Class::Done,
        408 | 429 | 500..=599 => Class::Retry,
        _ => Class::Reject,
    }
}

/// What an operator should check for `service`'s error `code`: the likely cause in this
/// deployment, when there is one to name.
pub fn hint(service: Service, code: &str) -> Option<&'static str> {
    service
        .table()
        .hints
        .iter()
        .find(|(codes, _)| codes.contains(&code))
        .map(|&(_, hint)| hint)
}

/// What differs from one service to the next.
struct Table {
    /// The name errors give the service.
    name: &'static str,
    /// Error codes that succeed when tried again, whatever their status.
    retry: &'static [&'static str],
    /// Error codes, and what to check when one comes back.
    hints: &'static [(&'static [&'static str], &'static str)],
}

/// S3. Retried: throttling, transient server faults, expired credentials that the provider
/// refreshes, a conflicting concurrent operation. Refused: access denied, no such bucket, a
/// bucket in another region, a bad request, a disabled KMS key.
const S3: Table = Table {
    name: "S3",
    retry: &[
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
    ],
    hints: &[
        (
            &["NoSuchBucket"],
            "the bucket does not exist: check `[archive] bucket` or CWLOGS_ARCHIVE_BUCKET",
        ),
        (
            &["AccessDenied", "AllAccessDisabled"],
            "the role lacks s3:PutObject on the bucket, or a bucket or KMS key policy denies it",
        ),
        (
            &[
                "PermanentRedirect",
                "AuthorizationHeaderMalformed",
                "IllegalLocationConstraintException",
            ],
            "the bucket is in another region: set AWS_REGION (or the client's region) to the bucket's",
        ),
        (
            &["InvalidAccessKeyId", "SignatureDoesNotMatch"],
            "the credentials are not valid for this account or endpoint",
        ),
        (
            &[
                "KMS.DisabledException",
                "KMS.NotFoundException",
                "KMS.KMSInvalidStateException",
                "KMS.AccessDeniedException",
                "KMSAccessDenied",
            ],
            "the KMS key is missing, disabled or not usable by the role: check `[archive] kms_key_id`",
        ),
        (
            &["EntityTooLarge"],
            "the object is larger than S3 accepts in one PUT",
        ),
        (
            &["SlowDown"],
            "S3 is throttling this prefix; retried with backoff",
        ),
    ],
};

/// SNS. Retried: throttling (the account's publish quota, or KMS's behind an encrypted topic),
/// transient server faults, credentials the provider refreshes. Refused: a missing topic
/// (`NotFound`), a role without `sns:Publish` (`AuthorizationError`), an unusable KMS key
/// (`KMSDisabled`, `KMSAccessDenied`, `KMSNotFound`, `KMSInvalidState`, `KMSOptInRequired`), a
/// message SNS refuses (`InvalidParameter`, `ParameterValueInvalid`, `ValidationException`),
/// bad credentials (`InvalidClientTokenId`, `SignatureDoesNotMatch`, `InvalidSecurity`).
const SNS: Table = Table {
    name: "SNS",
    retry: &[
        "Throttled",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "RequestTimeout",
        "KMSThrottling",
        "ExpiredToken",
        "RequestExpired",
    ],
    hints: &[
        (
            &["NotFound"],
            "the topic does not exist in this account and region: check the rule's `alert.topic`, \
             `[alerts] topic` or CWLOGS_ALERT_TOPIC, and AWS_REGION",
        ),
        (
            &["AuthorizationError"],
            "the function's role needs sns:Publish on the topic (and kms:GenerateDataKey/Decrypt \
             when the topic is encrypted), and the topic policy must not deny it",
        ),
        (
            &[
                "KMSDisabled",
                "KMSNotFound",
                "KMSInvalidState",
                "KMSAccessDenied",
                "KMSOptInRequired",
            ],
            "the topic's KMS key is missing, disabled or not usable by the role: check the topic's \
             KmsMasterKeyId and the key policy (kms:GenerateDataKey and kms:Decrypt)",
        ),
        (
            &[
                "InvalidParameter",
                "ParameterValueInvalid",
                "ValidationException",
            ],
            "SNS refused the message as sent: a FIFO topic (`.fifo`) needs a group id and a \
             standard topic must not get one; the subject is at most 100 printable ASCII \
             characters, the message at most 256 KiB with its attributes",
        ),
        (
            &[
                "InvalidClientTokenId",
                "SignatureDoesNotMatch",
                "InvalidSecurity",
            ],
            "the credentials are not valid for this account or endpoint",
        ),
        (
            &["EndpointDisabled", "PlatformApplicationDisabled"],
            "the target is a disabled mobile endpoint, not a topic: alerts need a topic ARN",
        ),
        (
            &[
                "Throttled",
                "Throttling",
                "ThrottlingException",
                "KMSThrottling",
            ],
            "SNS (or KMS behind an encrypted topic) is throttling publishes in this account and \
             region; retried with backoff (raise the quota or lower the rules' `rate`)",
        ),
    ],
};

/// DynamoDB. Retried: throttling, transient server faults, conflicts with a concurrent
/// transaction or replica write (sent with a 400), credentials the provider refreshes.
/// Refused: a missing table (`ResourceNotFoundException`), a role without access
/// (`AccessDeniedException`), an item that does not fit the table (`ValidationException`,
/// `ItemCollectionSizeLimitExceededException`), bad credentials
/// (`UnrecognizedClientException`). `ConditionalCheckFailedException` is refused too (the same
/// write will fail the same way), but a state store reads it first, as "someone else wrote
/// first", and never as an error.
const DYNAMODB: Table = Table {
    name: "DynamoDB",
    retry: &[
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "TransactionConflictException",
        "TransactionInProgressException",
        "ReplicatedWriteConflictException",
        "LimitExceededException",
        "ExpiredTokenException",
    ],
    hints: &[
        (
            &["ResourceNotFoundException"],
            "the table does not exist in this account and region (or is still being created): \
             create it (partition key `pk`, type S; TTL on `expires_at`) and set `[alerts] table` \
             or CWLOGS_ALERT_TABLE to its name",
        ),
        (
            &["AccessDeniedException"],
            "the function's role needs dynamodb:GetItem and dynamodb:PutItem on the table (and \
             kms:Decrypt when it is encrypted with a customer-managed key)",
        ),
        (
            &["ValidationException"],
            "the item does not fit the table: its key must be `pk` (S) alone, with no sort key",
        ),
        (
            &["ItemCollectionSizeLimitExceededException"],
            "a local secondary index's item collection is full: the state table needs no index",
        ),
        (
            &["UnrecognizedClientException", "InvalidSignatureException"],
            "the credentials are not valid for this account or endpoint",
        ),
        (
            &[
                "ProvisionedThroughputExceededException",
                "ThrottlingException",
            ],
            "DynamoDB is throttling the table; retried with backoff (use on-demand capacity)",
        ),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    /// Recorded S3 answers (status, `<Code>`) and the class each must get.
    const S3_FIXTURES: &[(Option<u16>, Option<&str>, Class)] = &[
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
    fn hints_name_the_fix() {
        assert!(
            hint(Service::S3, "NoSuchBucket").is_some_and(|h| h.contains("CWLOGS_ARCHIVE_BUCKET"))
        );
        assert!(hint(Service::S3, "PermanentRedirect").is_some_and(|h| h.contains("region")));
        assert_eq!(hint(Service::S3, "Nope"), None);
    }

    /// SNS answers (status, `<Code>`) from the Publish API reference's error list and the
    /// query protocol's common errors, and the class each must get.
    const SNS_FIXTURES: &[(Option<u16>, Option<&str>, Class)] = &[
        (Some(200), None, Class::Done),
        (None, None, Class::Retry),
        (Some(400), Some("Throttling"), Class::Retry),
        (Some(400), Some("Throttled"), Class::Retry),
        (Some(400), Some("ThrottlingException"), Class::Retry),
        (Some(400), Some("KMSThrottling"), Class::Retry),
        (Some(500), Some("InternalError"), Class::Retry),
        (Some(500), Some("InternalFailure"), Class::Retry),
        (Some(503), Some("ServiceUnavailable"), Class::Retry),
        (Some(502), None, Class::Retry),
        (Some(504), None, Class::Retry),
        (Some(429), None, Class::Retry),
        (Some(408), None, Class::Retry),
        (Some(403), Some("ExpiredToken"), Class::Retry),
        (Some(404), Some("NotFound"), Class::Reject),
        (Some(403), Some("AuthorizationError"), Class::Reject),
        (Some(400), Some("InvalidParameter"), Class::Reject),
        (Some(400), Some("ParameterValueInvalid"), Class::Reject),
        (Some(400), Some("ValidationException"), Class::Reject),
        (Some(400), Some("KMSDisabled"), Class::Reject),
        (Some(400), Some("KMSAccessDenied"), Class::Reject),
        (Some(400), Some("KMSNotFound"), Class::Reject),
        (Some(400), Some("KMSInvalidState"), Class::Reject),
        (Some(403), Some("KMSOptInRequired"), Class::Reject),
        (Some(400), Some("EndpointDisabled"), Class::Reject),
        (Some(403), Some("InvalidSecurity"), Class::Reject),
        (Some(403), Some("InvalidClientTokenId"), Class::Reject),
        (Some(403), Some("SignatureDoesNotMatch"), Class::Reject),
        (Some(400), None, Class::Reject),
    ];

    /// DynamoDB answers (status, `__type` without its namespace) from the GetItem / PutItem
    /// references and the common errors, and the class each must get.
    const DYNAMODB_FIXTURES: &[(Option<u16>, Option<&str>, Class)] = &[
        (Some(200), None, Class::Done),
        (None, None, Class::Retry),
        (
            Some(400),
            Some("ProvisionedThroughputExceededException"),
            Class::Retry,
        ),
        (Some(400), Some("ThrottlingException"), Class::Retry),
        (Some(400), Some("RequestLimitExceeded"), Class::Retry),
        (Some(500), Some("InternalServerError"), Class::Retry),
        (
            Some(400),
            Some("TransactionConflictException"),
            Class::Retry,
        ),
        (
            Some(400),
            Some("ReplicatedWriteConflictException"),
            Class::Retry,
        ),
        (Some(400), Some("ExpiredTokenException"), Class::Retry),
        (Some(503), None, Class::Retry),
        (Some(500), None, Class::Retry),
        (Some(429), None, Class::Retry),
        (Some(400), Some("ResourceNotFoundException"), Class::Reject),
        (Some(400), Some("AccessDeniedException"), Class::Reject),
        (Some(400), Some("ValidationException"), Class::Reject),
        (
            Some(400),
            Some("ItemCollectionSizeLimitExceededException"),
            Class::Reject,
        ),
        (
            Some(400),
            Some("UnrecognizedClientException"),
            Class::Reject,
        ),
        (
            Some(400),
            Some("ConditionalCheckFailedException"),
            Class::Reject,
        ),
        (Some(400), Some("SerializationException"), Class::Reject),
        (Some(413), None, Class::Reject),
    ];

    #[test]
    fn fixtures() {
        for (service, fixtures) in [
            (Service::S3, S3_FIXTURES),
            (Service::Sns, SNS_FIXTURES),
            (Service::DynamoDb, DYNAMODB_FIXTURES),
        ] {
            for &(status, code, want) in fixtures {
                assert_eq!(
                    classify(service, AwsResponse { status, code }),
                    want,
                    "{} {status:?} {code:?}",
                    service.name()
                );
            }
        }
    }

    #[test]
    fn a_code_has_one_hint_at_most() {
        for service in [Service::S3, Service::Sns, Service::DynamoDb] {
            let mut codes: Vec<&str> = service
                .table()
                .hints
                .iter()
                .flat_map(|(codes, _)| codes.iter().copied())
                .collect();
            let all = codes.len();
            codes.sort_unstable();
            codes.dedup();
            assert_eq!(codes.len(), all, "{}", service.name());
        }
    }

    #[test]
    fn sns_and_dynamodb_hints_name_the_fix() {
        assert!(
            hint(Service::Sns, "AuthorizationError")
                .is_some_and(|h| h.contains("sns:Publish") && h.contains("kms:GenerateDataKey"))
        );
        assert!(hint(Service::Sns, "NotFound").is_some_and(|h| h.contains("CWLOGS_ALERT_TOPIC")));
        assert!(hint(Service::Sns, "KMSDisabled").is_some_and(|h| h.contains("KMS")));
        assert_eq!(hint(Service::Sns, "Nope"), None);
        assert!(
            hint(Service::DynamoDb, "ResourceNotFoundException")
                .is_some_and(|h| h.contains("CWLOGS_ALERT_TABLE"))
        );
        assert!(
            hint(Service::DynamoDb, "AccessDeniedException")
                .is_some_and(|h| h.contains("dynamodb:GetItem") && h.contains("dynamodb:PutItem"))
        );
        assert_eq!(hint(Service::DynamoDb, "Nope"), None);
    }
}
