//! The index's credentials from AWS Secrets Manager (feature `secrets`): `[index] secret` (or
//! `CWLOGS_INDEX_SECRET`) names a secret whose string value is JSON, `{"username": "...",
//! "password": "..."}` for `auth = "basic"` or `{"api_key": "..."}` for `auth = "api-key"`.
//!
//! [`SecretAuth`] reads it with `GetSecretValue` (at cold start, and again when the cluster
//! answers 401 or 403: [`crate::OpenSearchIndex::with_auth_source`]). Its errors say which of
//! missing, unreadable, not JSON or of the wrong shape the secret is and what to fix; they name
//! the secret and the keys it has, never a value.

use crate::error::error_chain;
use crate::opensearch::{Auth, AuthSource};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use cwlogs_pipeline::IndexAuth;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// Attempts of one read when Secrets Manager throttles, fails with a 5xx or cannot be reached.
const ATTEMPTS: u32 = 3;

/// Why the index secret could not be turned into credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// No secret of that ARN (or it is scheduled for deletion).
    #[error(
        "index secret `{arn}` does not exist or cannot be used ({code}: {message}): create it (or restore it), or correct `[index] secret` / CWLOGS_INDEX_SECRET"
    )]
    Missing {
        /// The secret's ARN.
        arn: String,
        /// Secrets Manager's error code.
        code: String,
        /// Its message.
        message: String,
    },
    /// Secrets Manager refused to give it (permissions, its KMS key) or could not be reached.
    #[error("index secret `{arn}` cannot be read: {reason} -- {hint}")]
    Unreadable {
        /// The secret's ARN.
        arn: String,
        /// The error code and message, or the connection error.
        reason: String,
        /// What to check.
        hint: &'static str,
    },
    /// The secret has a binary value or none.
    #[error("index secret `{arn}` has no text value (SecretString): store {expected}")]
    NoText {
        /// The secret's ARN.
        arn: String,
        /// The JSON expected.
        expected: &'static str,
    },
    /// The value is not JSON.
    #[error("index secret `{arn}` is not JSON: store {expected}")]
    NotJson {
        /// The secret's ARN.
        arn: String,
        /// The JSON expected.
        expected: &'static str,
    },
    /// JSON, but not the keys `auth` needs.
    #[error("index secret `{arn}` {what}: for `auth = \"{auth}\"` store {expected}")]
    WrongShape {
        /// The secret's ARN.
        arn: String,
        /// The `auth` setting.
        auth: &'static str,
        /// What is wrong, naming keys only.
        what: String,
        /// The JSON expected.
        expected: &'static str,
    },
    /// `auth` is neither basic nor api-key: a secret does not apply.
    #[error("index secret `{arn}`: `auth = \"{auth}\"` takes no secret (use basic or api-key)")]
    NotForAuth {
        /// The secret's ARN.
        arn: String,
        /// The `auth` setting.
        auth: &'static str,
    },
}

/// The JSON a secret must hold for `auth`.
fn expected(auth: IndexAuth) -> &'static str {
    match auth {
        IndexAuth::ApiKey => r#"{"api_key": "..."}"#,
        _ => r#"{"username": "...", "password": "..."}"#,
    }
}

/// Credentials from the secret's text, for `auth` (basic: `username` and `password`; api-key:
/// `api_key`). Errors name keys, never values.
pub fn parse_secret(arn: &str, auth: IndexAuth, text: &str) -> Result<Auth, SecretError> {
    let wanted: &[&str] = match auth {
        IndexAuth::Basic => &["username", "password"],
        IndexAuth::ApiKey => &["api_key"],
        other => {
            return Err(SecretError::NotForAuth {
                arn: arn.to_string(),
                auth: other.as_str(),
            });
        }
    };
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|_| SecretError::NotJson {
            arn: arn.to_string(),
            expected: expected(auth),
        })?;
    let shape = |what: String| SecretError::WrongShape {
        arn: arn.to_string(),
        auth: auth.as_str(),
        what,
        expected: expected(auth),
    };
    let Some(object) = value.as_object() else {
        return Err(shape("is JSON but not an object".into()));
    };
    let mut found = Vec::new();
    for key in wanted {
        match object.get(*key) {
            Some(serde_json::Value::String(s)) if !s.is_empty() => found.push(s.clone()),
            Some(serde_json::Value::String(_)) => {
                return Err(shape(format!("has an empty `{key}`")));
            }
            Some(_) => return Err(shape(format!("has a `{key}` that is not a string"))),
            None => {
                let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
                keys.sort_unstable();
                return Err(shape(format!(
                    "has no `{key}` (its keys: {})",
                    if keys.is_empty() {
                        "none".to_string()
                    } else {
                        keys.join(", ")
                    }
                )));
            }
        }
    }
    let mut found = found.into_iter();
    let mut next = || found.next().unwrap_or_default();
    Ok(match auth {
        IndexAuth::ApiKey => Auth::ApiKey(next()),
        _ => Auth::Basic {
            username: next(),
            password: next(),
        },
    })
}

/// Reads the index credentials from one secret (see the module docs).
#[derive(Clone)]
pub struct SecretAuth {
    client: aws_sdk_secretsmanager::Client,
    arn: String,
    auth: IndexAuth,
}

impl std::fmt::Debug for SecretAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretAuth({}, {})", self.arn, self.auth.as_str())
    }
}

impl SecretAuth {
    /// Reads secret `arn` with the credentials and endpoint of `sdk`, for `auth`.
    pub fn new(sdk: &aws_config::SdkConfig, arn: &str, auth: IndexAuth) -> SecretAuth {
        SecretAuth {
            client: aws_sdk_secretsmanager::Client::new(sdk),
            arn: arn.to_string(),
            auth,
        }
    }

    /// The secret's ARN.
    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// `GetSecretValue`, then [`parse_secret`]. Throttling, 5xx answers and connection
    /// errors are tried again (3 attempts in all); the rest fails at once.
    pub async fn read(&self) -> Result<Auth, SecretError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let sent = self
                .client
                .get_secret_value()
                .secret_id(&self.arn)
                .send()
                .await;
            match sent {
                Ok(out) => {
                    let Some(text) = out.secret_string() else {
                        return Err(SecretError::NoText {
                            arn: self.arn.clone(),
                            expected: expected(self.auth),
                        });
                    };
                    return parse_secret(&self.arn, self.auth, text);
                }
                Err(e) => {
                    let (error, retry) = self.classify(&e);
                    if !retry || attempt >= ATTEMPTS {
                        return Err(error);
                    }
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                }
            }
        }
    }

    /// The error for a failed `GetSecretValue`, and whether trying again may help.
    fn classify(&self, e: &SdkError<GetSecretValueError, HttpResponse>) -> (SecretError, bool) {
        let arn = self.arn.clone();
        let code = e.code().unwrap_or_default().to_string();
        let message = e.message().unwrap_or_default().to_string();
        let status = e.raw_response().map(|r| r.status().as_u16());
        let reason = if code.is_empty() {
            error_chain(e)
        } else {
            format!("{code}: {message}")
        };
        match code.as_str() {
            "ResourceNotFoundException" | "InvalidRequestException" => {
                (SecretError::Missing { arn, code, message }, false)
            }
            "AccessDeniedException" | "AccessDenied" | "UnrecognizedClientException" => (
                SecretError::Unreadable {
                    arn,
                    reason,
                    hint: "allow the function's role secretsmanager:GetSecretValue on this secret (and kms:Decrypt on its KMS key when it has a customer managed one)",
                },
                false,
            ),
            "DecryptionFailure" => (
                SecretError::Unreadable {
                    arn,
                    reason,
                    hint: "allow the function's role kms:Decrypt on the secret's KMS key (the stacks' IndexSecretKmsKeyArn / index.secretKmsKeyArn)",
                },
                false,
            ),
            "ThrottlingException" | "InternalServiceError" | "InternalServiceErrorException" => (
                SecretError::Unreadable {
                    arn,
                    reason,
                    hint: "Secrets Manager is throttling or failing: the cold start is tried again",
                },
                true,
            ),
            _ if status.is_some_and(|s| s >= 500) || status.is_none() => (
                SecretError::Unreadable {
                    arn,
                    reason,
                    hint: "Secrets Manager could not be reached: from a VPC, the function needs a secretsmanager interface endpoint or a NAT gateway",
                },
                true,
            ),
            _ => (
                SecretError::Unreadable {
                    arn,
                    reason,
                    hint: "check the secret and the function's role",
                },
                false,
            ),
        }
    }
}

impl AuthSource for SecretAuth {
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<Auth, String>> + Send + '_>> {
        Box::pin(async move { self.read().await.map_err(|e| e.to_string()) })
    }
}

/// A client for `config`'s cluster whose credentials come from its `secret` when it has one
/// (read now, and again on a 401 or 403), else as [`crate::OpenSearchIndex::from_config`] makes
/// them. The error is the cold start's: what is missing, or what is wrong with the secret.
pub async fn index_client(
    config: &cwlogs_pipeline::IndexConfig,
    sdk: &aws_config::SdkConfig,
    fallback_region: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<crate::OpenSearchIndex, crate::ConfigError> {
    let Some(arn) = config.secret.as_deref() else {
        return crate::OpenSearchIndex::from_config(config, Some(sdk), fallback_region, env);
    };
    let endpoint = config
        .endpoint
        .as_deref()
        .ok_or(crate::ConfigError::NoEndpoint)?;
    let source = std::sync::Arc::new(SecretAuth::new(sdk, arn, config.auth));
    crate::OpenSearchIndex::with_auth_source(endpoint, source).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:es-AbC";

    #[test]
    fn shapes() {
        let a = parse_secret(
            ARN,
            IndexAuth::Basic,
            r#"{"username": "ingest", "password": "s3cr3t!", "engine": "elastic"}"#,
        )
        .expect("basic");
        assert!(
            matches!(&a, Auth::Basic { username, password } if username == "ingest" && password == "s3cr3t!")
        );
        assert_eq!(format!("{a:?}"), "Basic(ingest)");
        let a = parse_secret(
            ARN,
            IndexAuth::ApiKey,
            r#"{"api_key": "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="}"#,
        )
        .expect("api key");
        assert_eq!(format!("{a:?}"), "ApiKey");
    }

    #[test]
    fn errors_say_what_to_fix_and_never_show_a_value() {
        let cases = [
            (
                IndexAuth::Basic,
                "hunter2",
                "is not JSON: store {\"username\": \"...\", \"password\": \"...\"}",
            ),
            (
                IndexAuth::Basic,
                r#"["hunter2"]"#,
                "is JSON but not an object",
            ),
            (
                IndexAuth::Basic,
                r#"{"user": "hunter2", "pass": "hunter2"}"#,
                "has no `username` (its keys: pass, user)",
            ),
            (
                IndexAuth::Basic,
                r#"{"username": "x", "password": ""}"#,
                "has an empty `password`",
            ),
            (
                IndexAuth::ApiKey,
                r#"{"username": "x", "password": "hunter2"}"#,
                "has no `api_key` (its keys: password, username): for `auth = \"api-key\"` store {\"api_key\": \"...\"}",
            ),
            (
                IndexAuth::ApiKey,
                r#"{"api_key": 12}"#,
                "has a `api_key` that is not a string",
            ),
            (
                IndexAuth::SigV4,
                r#"{"api_key": "hunter2"}"#,
                "takes no secret",
            ),
        ];
        for (auth, text, says) in cases {
            let e = parse_secret(ARN, auth, text).expect_err(text).to_string();
            assert!(e.contains(says), "{text}: {e}");
            assert!(e.starts_with(&format!("index secret `{ARN}`")), "{e}");
            assert!(!e.contains("hunter2"), "a value leaked: {e}");
        }
    }
}
