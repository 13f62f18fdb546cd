//! What the suites of the `cwlogs` command share (the rest is in `cwlogs-testkit`).

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

/// The built `cwlogs` binary run with `args`, to its end.
pub fn cwlogs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cwlogs"))
        .args(args)
        .output()
        .expect("run cwlogs")
}

/// Runs the built `cwlogs` binary with `args`, `stdin` written to its standard input.
pub fn cwlogs_with_stdin(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cwlogs"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cwlogs starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin.as_bytes())
        .expect("stdin is writable");
    child.wait_with_output().expect("cwlogs finishes")
}

/// Output bytes as text (lossy).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
