//! What the suites of the `cwlogs` command share (the rest is in `cwlogs-testkit`).

use std::process::{Command, Output};

/// The built `cwlogs` binary run with `args`, to its end.
pub fn cwlogs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cwlogs"))
        .args(args)
        .output()
        .expect("run cwlogs")
}
