//! The `cwlogs` command.

mod test_pattern;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Process CloudWatch Logs subscription data locally.
#[derive(Parser)]
#[command(name = "cwlogs", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Test a filter pattern against messages, like `aws logs test-metric-filter`.
    TestPattern(test_pattern::TestPatternArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::TestPattern(args) => test_pattern::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("cwlogs: {err:#}");
            ExitCode::from(2)
        }
    }
}
