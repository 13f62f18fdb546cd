//! The integration tests of `cwlogs-pipeline`, one module per former test file, in one test
//! binary (one link instead of one per file).

mod common;

mod bulk_fixtures;
mod bulk_idempotency;
mod cis_pack;
mod dashboards;
mod fuzz_regressions;
mod sources;
