//! The integration tests of the `cwlogs` command (through the built binary), one module per
//! former test file, in one test binary (one link instead of one per file). The suites against
//! moto, osmem-server or Chromium are behind the `integration` feature.

mod common;

mod accounting;
mod alert_replay;
mod exit_status;
mod import;
mod index_replay;
mod patterns_replay;
mod redact_replay;
mod replay;
mod report;
mod rules;
mod s3_replay;
mod s3_sources;
mod test_pattern;
mod test_redact;
