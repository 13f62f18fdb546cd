//! What the suites of `cwlogs-aws` share (the rest is in `cwlogs-testkit`): the SDK
//! configurations of the code under test, against moto or a stub.
#![allow(dead_code)]

/// The SDK configuration the code under test loads from the environment (as the functions
/// do: `cwlogs_aws::sdk_config`), in us-east-1, checked to point at a local endpoint.
pub async fn sdk() -> aws_config::SdkConfig {
    cwlogs_testkit::moto::local(cwlogs_aws::sdk_config(Some("us-east-1")).await)
}

/// A configuration for `stub` (explicit endpoint and throwaway credentials, nothing read from
/// the environment), on the functions' client stack.
pub fn stub_sdk(stub: &cwlogs_testkit::stub::Stub) -> aws_config::SdkConfig {
    cwlogs_aws::sdk_config_with(
        &stub.url,
        "us-east-1",
        cwlogs_aws::Credentials::new("AKIDSTUB", "stub-secret", None, None, "stub"),
    )
}
