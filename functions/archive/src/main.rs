//! The archive function: CloudWatch Logs subscription data (direct, Kinesis or a Firehose
//! transformation) to gzip NDJSON objects in S3. Wiring only; the handler is
//! `cwlogs_lambda::Archiver`.

use cwlogs_lambda::ColdStartError;

// One thread: a container handles one invocation at a time (BENCHMARKS.md, "Session 12").
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    cwlogs_lambda::init_tracing();
    let env = |k: &str| std::env::var(k).ok();
    let config = cwlogs_lambda::load_config(&env)?;
    let archive = config
        .archive
        .as_ref()
        .ok_or_else(|| ColdStartError("the archive function needs `[archive]` enabled".into()))?;
    let bucket = archive.bucket.as_deref().ok_or_else(|| {
        ColdStartError("no bucket: set `[archive] bucket` or CWLOGS_ARCHIVE_BUCKET".into())
    })?;
    let sdk = cwlogs_aws::sdk_config(None).await;
    let s3 = cwlogs_aws::S3Archive::new(&sdk, bucket, archive.kms_key_id.as_deref());
    // The timeout taken when an invocation's deadline cannot be Lambda's (a local emulator).
    let handler = cwlogs_lambda::Archiver::new(config, s3)
        .with_timeout(cwlogs_lambda::function_timeout(&env));
    lambda_runtime::run(lambda_runtime::service_fn(|event| handler.handle(event))).await
}
