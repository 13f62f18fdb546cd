//! What the tests of the cwlogs crates share, written once: a dev-dependency of the crates'
//! integration tests and of the end-to-end suites (`cwlogs-e2e`), never a normal dependency.
//! It depends on no crate of the workspace, so that any of them can use it.
//!
//! - [`services`] (always): where the services started by `scripts/test.sh` are
//!   (`CWLOGS_MOTO_URL` / `AWS_ENDPOINT_URL`, `OPENSEARCH_URL`), and names no other test uses.
//! - [`events`] (always): the shipped samples, gzip and base64, and the trigger events built
//!   from them (direct, Kinesis, Firehose), the access-denied rule the alert tests share.
//! - [`stub`] (always): a scripted HTTP/1.1 server playing the answers local services will not.
//! - [`files`] (always): the files of a folder, e.g. the crashers kept by the fuzz targets or
//!   what `cwlogs replay` wrote.
//! - [`noise`] (always): deterministic bytes that do not compress.
//! - `lambda` (feature `lambda`): `LambdaEvent`s with their `Context`.
//! - `proxy` (feature `proxy`): the fault proxy in front of a real service.
//! - `runtime_api` (feature `runtime-api`): a Lambda Runtime API emulator, for running the
//!   function binaries as Lambda runs them.
//! - `moto` (feature `moto`): the SDK configuration from the environment, and buckets, state
//!   tables, topics and queues in moto, made with the SDKs directly (bypassing the code under
//!   test).
//!
//! The tests that need the services are behind each crate's `integration` feature; this crate
//! has none of its own: its modules only help.

pub mod events;
pub mod files;
pub mod json;
#[cfg(feature = "lambda")]
pub mod lambda;
#[cfg(feature = "moto")]
pub mod moto;
pub mod noise;
#[cfg(feature = "proxy")]
pub mod proxy;
#[cfg(feature = "runtime-api")]
pub mod runtime_api;
pub mod services;
pub mod stub;
