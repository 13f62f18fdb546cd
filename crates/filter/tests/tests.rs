//! The integration tests of `cwlogs-filter`, one module per former test file, in one test
//! binary (one link instead of one per file): the corpus, the property tests and the fuzz
//! regressions.

mod corpus;
mod fuzz_regressions;
mod properties;
