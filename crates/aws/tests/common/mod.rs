//! What the tests of `cwlogs-aws` against moto share (the rest is in `cwlogs-testkit`).
#![allow(dead_code)]

/// The SDK configuration the code under test loads from the environment (as the functions
/// do: `cwlogs_aws::sdk_config`), in us-east-1, checked to point at a local endpoint.
pub async fn sdk() -> aws_config::SdkConfig {
    cwlogs_testkit::moto::local(cwlogs_aws::sdk_config(Some("us-east-1")).await)
}
