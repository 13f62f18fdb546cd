//! The end-to-end suites of cwlogs, in `tests/` (one test binary, a module per suite): the
//! real handlers (`cwlogs-lambda`) with the real sinks (`cwlogs-aws`) against the services
//! that `scripts/test.sh` starts (moto, osmem-server), with faults injected by the fault proxy
//! of `cwlogs-testkit`; the index sink against osmem-server; and the accounting invariants of
//! every handler under in-memory faults. This crate has no code of its own: it exists so that
//! the suites that need both `cwlogs-aws` and `cwlogs-lambda` sit above both, and neither is a
//! dev-dependency of the other.
//!
//! Run: `cargo test -p cwlogs-e2e` (the suites that need no service), or with the services
//! running and their variables exported (as `scripts/test.sh` does),
//! `cargo test -p cwlogs-e2e --features integration`.
