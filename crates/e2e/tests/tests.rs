//! The end-to-end suites, one module each (one test binary). `accounting` needs no service;
//! the others are behind the `integration` feature (moto and osmem-server, started by
//! `scripts/test.sh`).

mod common;

mod accounting;
mod alert_services;
mod faults;
mod opensearch;
mod pattern_alerts;
mod runtime_api;
mod s3_faults;
