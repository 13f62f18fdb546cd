//! The alert function: CloudWatch Logs subscription data (direct, Kinesis or a Firehose
//! transformation), and the records of S3 objects named by S3 notifications or Batch
//! Operations tasks (`[sources.s3]`: CloudTrail in S3), through the `[[rule]]`s: metrics as EMF lines on stdout, alerts and window
//! summaries to SNS, their state in DynamoDB (`[alerts] table` / CWLOGS_ALERT_TABLE) or, without
//! a table, in the container's memory; dead letters in the archive bucket. EventBridge
//! scheduled events flush the summaries of ended windows. Wiring only; the handler is
//! `cwlogs_lambda::Alerter`.

use cwlogs_aws::{DynamoStateStore, S3Archive, S3Source, SnsPublisher};
use cwlogs_pipeline::{Config, MemoryStateStore, StateStore};

// One thread: a container handles one invocation at a time (BENCHMARKS.md, "Session 12").
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    cwlogs_lambda::init_tracing();
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let config = cwlogs_lambda::load_config(&env)?;
    cwlogs_lambda::check_alert_config(&config)?;
    let sdk = cwlogs_aws::sdk_config(None).await;
    let sns = SnsPublisher::new(&sdk);
    let archive = config.archive.as_ref();
    let bucket = archive
        .and_then(|a| a.bucket.clone())
        .or_else(|| env("CWLOGS_ARCHIVE_BUCKET"));
    let kms = archive
        .and_then(|a| a.kms_key_id.clone())
        .or_else(|| env("CWLOGS_ARCHIVE_KMS_KEY"));
    let dead_letters = bucket.map(|b| S3Archive::new(&sdk, &b, kms.as_deref()));
    // The objects S3 notifications and Batch Operations tasks name (`[sources.s3]`): their
    // records go through the rules.
    let mut objects = S3Source::new(&sdk);
    if let Some(s3) = &config.sources.s3 {
        objects = objects.with_max_object_bytes(s3.max_object_bytes);
    }
    if dead_letters.is_none() {
        tracing::warn!(
            event = "NoDeadLetterBucket",
            message = "set `[archive] bucket` or CWLOGS_ARCHIVE_BUCKET: without it, undecodable records stay with the trigger and alerts SNS refuses are only logged"
        );
    }
    match config.rules.alerts.table.clone() {
        Some(table) => {
            run(
                config,
                DynamoStateStore::new(&sdk, &table),
                sns,
                dead_letters,
                objects,
            )
            .await
        }
        None => {
            tracing::warn!(
                event = "AlertStatePerContainer",
                message = "no `[alerts] table` or CWLOGS_ALERT_TABLE: alert windows and rate limits are kept per container, so concurrent containers alert separately"
            );
            run(config, MemoryStateStore::new(), sns, dead_letters, objects).await
        }
    }
}

async fn run<S: StateStore>(
    config: Config,
    store: S,
    sns: SnsPublisher,
    dead_letters: Option<S3Archive>,
    objects: S3Source,
) -> Result<(), lambda_runtime::Error> {
    // The timeout taken when an invocation's deadline cannot be Lambda's (a local emulator).
    let timeout = cwlogs_lambda::function_timeout(&|k| std::env::var(k).ok());
    let handler = cwlogs_lambda::Alerter::new(config, store, sns, dead_letters)
        .with_timeout(timeout)
        .with_objects(objects);
    lambda_runtime::run(lambda_runtime::service_fn(|event| handler.handle(event))).await
}
