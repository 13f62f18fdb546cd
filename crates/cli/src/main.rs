//! The `cwlogs` command: run the cwlogs pipeline on a laptop.
//!
//! - `cwlogs replay [--config FILE] [--out DIR] INPUT...` runs decode, archive, index and the
//!   `[[rule]]`s (metrics and alerts) over captured payloads, writing local sinks that mirror
//!   the real ones, and `report.html`, the run on one page (module `report`).
//! - `cwlogs test-pattern PATTERN [MESSAGE...]` tests a CloudWatch filter pattern;
//!   `--jsonl` is the machine interface.
//! - `cwlogs rules list` / `cwlogs rules show NAME` print the rule packs and their rules (with
//!   `--config FILE`, the rules that configuration runs, packs expanded).
//! - `cwlogs patterns INPUT...` prints the log patterns (message templates) of captured inputs
//!   per log group; `--jsonl` is the machine interface (module `patterns`).
//! - `cwlogs check-config FILE` validates a configuration file.
//! - `cwlogs import metric-filters FILE` / `cwlogs import subscription-filters FILE` turn the
//!   JSON of `aws logs describe-metric-filters` / `describe-subscription-filters` into `[[rule]]`s
//!   and routes (module `import`).

mod import;
mod patterns;
mod replay;
mod report;
mod rules;
mod sinks;
mod test_pattern;

use anyhow::Context;
use clap::{Parser, Subcommand};
use cwlogs_pipeline::{Config, config::MAX_CONFIG_BYTES};
use std::path::{Path, PathBuf};
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
    /// Run the pipeline over captured inputs, writing archive/, index/, dead-letter/, report.html
    /// and, with `[[rule]]`s in the configuration, metrics.ndjson and alerts.ndjson.
    Replay(replay::ReplayArgs),
    /// Test a filter pattern against messages, like `aws logs test-metric-filter`.
    TestPattern(test_pattern::TestPatternArgs),
    /// The rule packs compiled into cwlogs, and the rules a configuration runs.
    Rules(rules::RulesArgs),
    /// Turn existing CloudWatch metric filters or subscription filters (the JSON the AWS CLI
    /// prints) into a cwlogs configuration.
    Import(import::ImportArgs),
    /// The log patterns of captured inputs, per log group (`--jsonl`: the machine interface).
    Patterns(patterns::PatternsArgs),
    /// Validate a configuration file; errors carry line numbers.
    CheckConfig {
        /// The configuration file (TOML).
        file: PathBuf,
    },
}

/// Reads and validates a configuration file. The outer error is I/O; the inner one is the
/// report of every problem found, one `FILE:LINE:COL: message` line each.
pub(crate) fn load_config(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Result<Config, String>> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if meta.len() > MAX_CONFIG_BYTES as u64 {
        anyhow::bail!(
            "{}: {} bytes; a configuration file may have at most {MAX_CONFIG_BYTES}",
            path.display(),
            meta.len()
        );
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Config::from_toml(&text, env).map_err(|errors| {
        errors
            .iter()
            .map(|e| match e.position {
                Some((line, col)) => format!("{}:{line}:{col}: {}\n", path.display(), e.message),
                None => format!("{}: {}\n", path.display(), e.message),
            })
            .collect()
    }))
}

fn check_config(file: &Path) -> anyhow::Result<ExitCode> {
    match load_config(file, &|k| std::env::var(k).ok())? {
        Ok(c) => {
            println!("{}: ok ({} rules)", file.display(), c.rules.len());
            Ok(ExitCode::SUCCESS)
        }
        Err(report) => {
            eprint!("{report}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Replay(args) => replay::run(args),
        Command::TestPattern(args) => test_pattern::run(args),
        Command::Rules(args) => rules::run(args),
        Command::Import(args) => import::run(args),
        Command::CheckConfig { file } => check_config(&file),
        Command::Patterns(args) => patterns::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("cwlogs: {err:#}");
            ExitCode::FAILURE
        }
    }
}
