//! The integration tests of `cwlogs-lambda`: the handlers as plain async functions over
//! in-memory sinks, one module per former test file, in one test binary (one link instead of
//! one per file). The same handlers against the services: `cwlogs-e2e`.

mod alert_handler;
mod alert_objects;
mod handler;
mod hostile;
mod index_handler;
mod redrive;
mod s3_objects;
