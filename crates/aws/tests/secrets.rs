//! The index's credentials from AWS Secrets Manager: `SecretAuth` against moto's Secrets
//! Manager (behind the `integration` feature: basic and API-key secrets, each way a secret can
//! be wrong, and a rotation picked up on a 401 from a scripted cluster), and against scripted
//! Secrets Manager answers for what moto does not do (it checks no IAM and no KMS key).

use crate::common;

use base64::Engine;
use cwlogs_aws::{OpenSearchIndex, SecretAuth, SecretError};
use cwlogs_pipeline::IndexAuth;
use cwlogs_testkit::stub::{Answer, Step, Stub};
use std::sync::Arc;

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// A cluster that takes `password` only (401 for anything else), answering `_count`.
fn cluster_taking(password: &'static str) -> Stub {
    let want = basic("ingest", password);
    Stub::start_then(
        vec![],
        Step::reply(move |r| {
            if r.header("authorization") == Some(want.as_str()) {
                Answer::json(200, &serde_json::json!({"count": 3}))
            } else {
                Answer::json(
                    401,
                    &serde_json::json!({"error": {"type": "security_exception", "reason": "unable to authenticate user [ingest]"}, "status": 401}),
                )
            }
        }),
    )
}

#[cfg(feature = "integration")]
mod moto {
    use super::*;
    use cwlogs_testkit::moto::unique;

    async fn secret(sdk: &aws_config::SdkConfig, value: Option<&str>, binary: bool) -> String {
        let client = aws_sdk_secretsmanager::Client::new(sdk);
        let mut create = client.create_secret().name(unique("cwlogs-index"));
        if let Some(v) = value {
            create = if binary {
                create.secret_binary(aws_smithy_types::Blob::new(v.as_bytes()))
            } else {
                create.secret_string(v)
            };
        }
        let out = create.send().await.expect("CreateSecret in moto");
        out.arn().expect("an ARN").to_string()
    }

    #[tokio::test]
    async fn basic_and_api_key_secrets_are_read() {
        let sdk = common::sdk().await;
        let arn = secret(
            &sdk,
            Some(r#"{"username": "ingest", "password": "pw-1", "engine": "elasticsearch"}"#),
            false,
        )
        .await;
        let auth = SecretAuth::new(&sdk, &arn, IndexAuth::Basic)
            .read()
            .await
            .expect("basic credentials");
        assert!(
            matches!(&auth, cwlogs_aws::Auth::Basic { username, password } if username == "ingest" && password == "pw-1")
        );
        let arn = secret(&sdk, Some(r#"{"api_key": "a2V5LWlkOmtleQ=="}"#), false).await;
        let auth = SecretAuth::new(&sdk, &arn, IndexAuth::ApiKey)
            .read()
            .await
            .expect("API key");
        assert!(matches!(&auth, cwlogs_aws::Auth::ApiKey(k) if k == "a2V5LWlkOmtleQ=="));
    }

    #[tokio::test]
    async fn each_wrong_secret_says_which_and_what_to_fix() {
        let sdk = common::sdk().await;
        let region_account = "arn:aws:secretsmanager:us-east-1:123456789012:secret:";
        let missing = format!("{region_account}{}", unique("nowhere"));
        let e = SecretAuth::new(&sdk, &missing, IndexAuth::Basic)
            .read()
            .await
            .expect_err("missing");
        assert!(matches!(e, SecretError::Missing { .. }), "{e}");
        assert!(e.to_string().contains("does not exist"), "{e}");
        assert!(e.to_string().contains("CWLOGS_INDEX_SECRET"), "{e}");

        let arn = secret(&sdk, Some("password=pw-secret-value"), false).await;
        let e = SecretAuth::new(&sdk, &arn, IndexAuth::Basic)
            .read()
            .await
            .expect_err("not JSON");
        assert!(matches!(e, SecretError::NotJson { .. }), "{e}");
        assert!(!e.to_string().contains("pw-secret-value"), "{e}");

        let arn = secret(
            &sdk,
            Some(r#"{"user": "ingest", "pass": "pw-secret-value"}"#),
            false,
        )
        .await;
        let e = SecretAuth::new(&sdk, &arn, IndexAuth::Basic)
            .read()
            .await
            .expect_err("wrong shape");
        assert!(matches!(e, SecretError::WrongShape { .. }), "{e}");
        assert!(
            e.to_string()
                .contains("has no `username` (its keys: pass, user)"),
            "{e}"
        );
        assert!(!e.to_string().contains("pw-secret-value"), "{e}");

        let arn = secret(&sdk, Some("pw-secret-value"), true).await;
        let e = SecretAuth::new(&sdk, &arn, IndexAuth::Basic)
            .read()
            .await
            .expect_err("binary");
        assert!(matches!(e, SecretError::NoText { .. }), "{e}");

        // What the cold start of the index function says: the error of `index_client`.
        let config = cwlogs_pipeline::Config::from_toml(
            &format!("[index]\nendpoint = \"http://127.0.0.1:9\"\nauth = \"basic\"\nsecret = \"{missing}\"\n"),
            &|_| None,
        )
        .expect("config");
        let e = cwlogs_aws::index_client(
            config.index.as_ref().expect("index"),
            &sdk,
            "us-east-1",
            &|_| None,
        )
        .await
        .expect_err("cold start");
        assert!(e.to_string().contains("does not exist"), "{e}");
    }

    /// The secret rotated after the cold start: the cluster's 401 reads it again, and the
    /// request goes once more with the new password.
    #[tokio::test]
    async fn a_rotated_secret_is_read_again_on_401() {
        let sdk = common::sdk().await;
        let arn = secret(
            &sdk,
            Some(r#"{"username": "ingest", "password": "pw-old"}"#),
            false,
        )
        .await;
        let cluster = cluster_taking("pw-new");
        let index = OpenSearchIndex::with_auth_source(
            &cluster.url,
            Arc::new(SecretAuth::new(&sdk, &arn, IndexAuth::Basic)),
        )
        .await
        .expect("client");
        aws_sdk_secretsmanager::Client::new(&sdk)
            .put_secret_value()
            .secret_id(&arn)
            .secret_string(r#"{"username": "ingest", "password": "pw-new"}"#)
            .send()
            .await
            .expect("PutSecretValue");
        assert_eq!(index.count("logs").await.expect("counted"), 3);
        let seen: Vec<Option<String>> = cluster
            .seen()
            .iter()
            .map(|r| r.header("authorization").map(str::to_string))
            .collect();
        assert_eq!(
            seen,
            [
                Some(basic("ingest", "pw-old")),
                Some(basic("ingest", "pw-new"))
            ]
        );
        // Later requests use the new credentials at once.
        assert_eq!(index.count("logs").await.expect("counted"), 3);
        assert_eq!(cluster.requests(), 3);
    }
}

/// A secret that still holds the refused credentials: read once, not sent again.
#[tokio::test]
async fn unchanged_credentials_are_not_sent_twice() {
    let secrets = Stub::start_then(
        vec![],
        Step::Answer(Answer::json(
            200,
            &serde_json::json!({"ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:es-AbC", "Name": "es",
                "SecretString": "{\"username\": \"ingest\", \"password\": \"pw-old\"}", "VersionId": "v1"}),
        )),
    );
    let sdk = common::stub_sdk(&secrets);
    let cluster = cluster_taking("pw-new");
    let source = SecretAuth::new(
        &sdk,
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:es-AbC",
        IndexAuth::Basic,
    );
    let index = OpenSearchIndex::with_auth_source(&cluster.url, Arc::new(source))
        .await
        .expect("client");
    let e = index.count("logs").await.expect_err("refused");
    assert!(e.message.contains("401"), "{e:?}");
    assert_eq!(
        cluster.requests(),
        1,
        "the same credentials are not sent again"
    );
    assert_eq!(
        secrets.requests(),
        2,
        "read at the start, and once on the 401"
    );
    // Within REFRESH_INTERVAL, another 401 does not read the secret again.
    let _ = index.count("logs").await;
    assert_eq!(secrets.requests(), 2);
}

/// What moto cannot show: IAM and KMS refusals, each with what to fix.
#[tokio::test]
async fn refusals_say_what_the_role_needs() {
    for (kind, says) in [
        (
            "AccessDeniedException",
            "secretsmanager:GetSecretValue on this secret",
        ),
        ("DecryptionFailure", "kms:Decrypt on the secret's KMS key"),
    ] {
        let secrets = Stub::start_then(
            vec![],
            Step::Answer(
                Answer::json(
                    400,
                    &serde_json::json!({"__type": kind, "message": "not allowed"}),
                )
                .header("x-amzn-errortype", kind),
            ),
        );
        let sdk = common::stub_sdk(&secrets);
        let e = SecretAuth::new(
            &sdk,
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:es-AbC",
            IndexAuth::ApiKey,
        )
        .read()
        .await
        .expect_err("refused");
        assert!(matches!(e, SecretError::Unreadable { .. }), "{kind}: {e}");
        assert!(e.to_string().contains(says), "{kind}: {e}");
        assert!(e.to_string().contains(kind), "{kind}: {e}");
        assert_eq!(secrets.requests(), 1, "{kind}: not tried again");
    }
}
