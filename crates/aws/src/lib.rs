//! cwlogs I/O: the sinks that send what `cwlogs-pipeline` builds to AWS services.
//!
//! - [`S3Archive`] (feature `s3`) implements [`cwlogs_pipeline::Archive`] on `aws-sdk-s3`:
//!   gzip NDJSON objects at deterministic keys with `Content-Type`, `Content-Encoding`,
//!   server-side encryption (SSE-S3, or SSE-KMS with an S3 Bucket Key) and a CRC32C checksum.
//!   [`S3Source`] lists and reads archived objects back for `cwlogs replay s3://…`.
//! - [`SnsPublisher`] (feature `sns`) implements [`cwlogs_pipeline::Publish`] on
//!   `aws-sdk-sns`: one `Publish` per alert, with its subject, its attributes as `String`
//!   message attributes (for subscription filter policies) and, for FIFO topics only,
//!   `MessageGroupId` and the deterministic `MessageDeduplicationId`.
//! - [`DynamoStateStore`] (feature `dynamodb`) implements [`cwlogs_pipeline::StateStore`] on
//!   `aws-sdk-dynamodb`: one item per key in a table with the partition key `pk` (S) alone,
//!   the version in `v` (N) checked by a `ConditionExpression`, the JSON state in `state` (S)
//!   and the table's TTL attribute `expires_at` (N, epoch seconds); an expired item counts as
//!   absent before DynamoDB gets round to deleting it.
//! - [`SecretAuth`] (feature `secrets`) reads the index's basic-auth or API-key credentials
//!   from the AWS Secrets Manager secret of `[index] secret` at cold start
//!   ([`index_client`]), and again when the cluster answers 401 or 403
//!   ([`OpenSearchIndex::with_auth_source`]): a rotated secret is picked up without a restart.
//!   Its errors say whether the secret is missing, unreadable, not JSON or of the wrong shape,
//!   and never show a value.
//! - [`sdk_config`] loads the standard AWS configuration (region, credentials,
//!   `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_S3`) on one HTTPS stack: rustls with ring, shared
//!   with the OpenSearch client. [`sdk_config_with`] takes the endpoint, region and
//!   credentials as arguments instead, for S3-compatible servers and local test stubs.
//!
//! Every send goes through [`retry::with_retry`]: one attempt, then jittered exponential
//! backoff while the pure classifier in [`cwlogs_pipeline::sink::classify`] says the failure is
//! retryable and the deadline leaves room. The SDK's own retries are switched off so that the
//! decision lives in one place.
//!
//! ```no_run
//! # async fn example() -> Result<(), cwlogs_pipeline::SendError> {
//! use cwlogs_pipeline::{Archive, Object};
//! let sdk = cwlogs_aws::sdk_config(None).await;
//! let archive = cwlogs_aws::S3Archive::new(&sdk, "my-log-archive", None);
//! let object = Object {
//!     key: "cwl/x.ndjson.gz",
//!     body: b"",
//!     content_type: "application/x-ndjson",
//!     content_encoding: Some("gzip"),
//! };
//! archive.put(object, None).await?;
//! # Ok(()) }
//! ```
//!
//! # Input safety
//!
//! Objects read back from S3 are capped (the caller's `max_bytes`, checked against the listed
//! size and again while reading), and listings are paged with a cap on the number of keys.
//!
//! # Errors
//!
//! Sends fail with [`cwlogs_pipeline::SendError`], whose class says whether the caller may
//! try again later (keep the input for redelivery) or should dead-letter what it sent. The
//! message names the operation, the target (bucket and key, topic ARN, table and key), the
//! service's error code and what to check: one path for every AWS SDK call, which the
//! per-service tables in [`cwlogs_pipeline::sink::classify`] feed. Making an OpenSearch client
//! fails with `ConfigError` (something missing from `[index]` or the environment) or
//! `ClientError` (an endpoint or API key that cannot be used).

#[cfg(feature = "dynamodb")]
mod dynamodb;
#[cfg(any(
    feature = "s3",
    feature = "sns",
    feature = "dynamodb",
    feature = "opensearch"
))]
mod error;
#[cfg(feature = "opensearch")]
mod opensearch;
pub mod retry;
#[cfg(feature = "s3")]
mod s3;
#[cfg(feature = "secrets")]
mod secrets;
#[cfg(feature = "sns")]
mod sns;

use aws_credential_types::provider::SharedCredentialsProvider;
use std::time::Duration;

/// Static credentials, for [`sdk_config_with`].
pub use aws_credential_types::Credentials;

#[cfg(feature = "dynamodb")]
pub use dynamodb::DynamoStateStore;
#[cfg(feature = "opensearch")]
pub use opensearch::{
    Auth, AuthSource, ClientError, ConfigError, OpenSearchIndex, REFRESH_INTERVAL, region_of,
};
#[cfg(feature = "s3")]
pub use s3::{S3Archive, S3Body, S3Source, S3Url};
#[cfg(feature = "secrets")]
pub use secrets::{SecretAuth, SecretError, index_client, parse_secret};
#[cfg(feature = "sns")]
pub use sns::SnsPublisher;

/// How long to wait for a TCP + TLS connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The longest one request attempt may take when the caller gives no deadline.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);

/// Loads the standard AWS configuration from the environment (region, credentials, endpoint
/// overrides such as `AWS_ENDPOINT_URL_S3`), with `region` taking precedence when given, on a
/// rustls + ring HTTPS client. SDK retries are off: [`retry::with_retry`] decides.
pub async fn sdk_config(region: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http_client())
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .timeout_config(timeouts());
    if let Some(r) = region {
        loader = loader.region(aws_config::Region::new(r.to_string()));
    }
    loader.load().await
}

/// A configuration from explicit values only, for an S3-compatible endpoint or a local test
/// server: nothing is read from the environment or from profile files, so a process can talk
/// to such an endpoint without changing its environment. Same HTTPS client, timeouts and
/// (absent) SDK retries as [`sdk_config`]; clients built on it address buckets by path.
///
/// ```
/// let sdk = cwlogs_aws::sdk_config_with(
///     "http://127.0.0.1:9000",
///     "us-east-1",
///     cwlogs_aws::Credentials::new("AKID", "SECRET", None, None, "example"),
/// );
/// assert_eq!(sdk.endpoint_url(), Some("http://127.0.0.1:9000"));
/// ```
pub fn sdk_config_with(
    endpoint_url: &str,
    region: &str,
    credentials: Credentials,
) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint_url)
        .region(aws_config::Region::new(region.to_string()))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(http_client())
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .timeout_config(timeouts())
        .build()
}

/// The one HTTPS client: rustls with ring (plain `http://` endpoints work too).
fn http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::{Builder, tls};
    Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// A bounded connect and a bounded attempt; the caller's deadline cuts attempts shorter.
fn timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .build()
}
