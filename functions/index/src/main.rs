//! The index function: CloudWatch Logs subscription data (direct, Kinesis or a Firehose
//! transformation), and the logs AWS delivers to S3 (S3 notifications directly, through SQS or
//! EventBridge, and S3 Batch Operations jobs), to OpenSearch / Elasticsearch `_bulk` requests,
//! with dead letters in the archive bucket. Wiring only; the handler is `cwlogs_lambda::Indexer`.

use cwlogs_lambda::ColdStartError;
use std::time::Duration;

/// The longest the cold start waits for the index templates to be installed.
const TEMPLATE_TIMEOUT: Duration = Duration::from_secs(5);

// One thread: a container handles one invocation at a time (BENCHMARKS.md, "Session 12").
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    cwlogs_lambda::init_tracing();
    let env = |k: &str| std::env::var(k).ok();
    let config = cwlogs_lambda::load_config(&env)?;
    let index = config
        .index
        .as_ref()
        .ok_or_else(|| ColdStartError("the index function needs `[index]` enabled".into()))?;
    let sdk = cwlogs_aws::sdk_config(None).await;
    // Basic-auth / API-key credentials from `[index] secret` (Secrets Manager) when set: read
    // now, and again on a 401 or 403; a missing, unreadable or malformed secret fails here.
    let cluster = cwlogs_aws::index_client(index, &sdk, &config.region, &env)
        .await
        .map_err(|e| ColdStartError(e.to_string()))?;
    if index.install_template {
        match tokio::time::timeout(TEMPLATE_TIMEOUT, cluster.install_templates(index)).await {
            Ok(Ok(names)) => tracing::info!(event = "TemplatesInstalled", ?names),
            Ok(Err(e)) => tracing::warn!(event = "TemplatesNotInstalled", error = %e),
            Err(_) => tracing::warn!(event = "TemplatesNotInstalled", error = "timed out"),
        }
    }
    let dead_letters = config.archive.as_ref().and_then(|a| {
        let bucket = a.bucket.as_deref()?;
        Some(cwlogs_aws::S3Archive::new(
            &sdk,
            bucket,
            a.kms_key_id.as_deref(),
        ))
    });
    if dead_letters.is_none() {
        tracing::warn!(
            event = "NoDeadLetterBucket",
            message = "set `[archive] bucket` or CWLOGS_ARCHIVE_BUCKET: without it, records the cluster refuses stay with the trigger"
        );
    }
    // The objects S3 notifications and Batch Operations tasks name (`[sources.s3]`), read as a
    // stream; larger than `max_object_bytes`: refused before they are read.
    let mut objects = cwlogs_aws::S3Source::new(&sdk);
    if let Some(s3) = &config.sources.s3 {
        objects = objects.with_max_object_bytes(s3.max_object_bytes);
    }
    let handler = cwlogs_lambda::Indexer::new(config, cluster, dead_letters)
        .ok_or_else(|| ColdStartError("the index function needs `[index]` enabled".into()))?
        .with_objects(objects)
        // The timeout taken when an invocation's deadline cannot be Lambda's (a local emulator).
        .with_timeout(cwlogs_lambda::function_timeout(&env));
    lambda_runtime::run(lambda_runtime::service_fn(|event| handler.handle(event))).await
}
