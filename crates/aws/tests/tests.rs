//! The integration tests of `cwlogs-aws`, one module per former test file, in one test binary
//! (one link instead of one per file). The suites against moto are behind the `integration`
//! feature; the fault suites play scripted answers from `cwlogs_testkit::stub` and need no
//! service.

mod common;

mod dynamodb;
mod opensearch_faults;
mod s3_faults;
mod s3_moto;
mod secrets;
mod sns;
mod sns_faults;
