//! `cwlogs test-pattern` (placeholder until the filter engine lands).

use std::process::ExitCode;

/// Arguments of `cwlogs test-pattern`.
#[derive(clap::Args)]
pub struct TestPatternArgs {
    /// The filter pattern.
    pattern: Option<String>,
}

/// Runs `cwlogs test-pattern`.
pub fn run(_args: TestPatternArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
