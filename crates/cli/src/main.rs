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
mod objects;
mod pattern_report;
mod patterns;
mod replay;
mod report;
mod rules;
mod sinks;
mod test_pattern;
mod test_redact;

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
    /// Redact messages as `[redact]` would (the configuration's, or the default detectors)
    /// and say which detectors fired.
    TestRedact(test_redact::TestRedactArgs),
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

/// The exit status of usage errors: arguments clap refuses, a path named on the command line
/// that does not exist or cannot be read, a configuration that is not valid, an invalid
/// pattern, an unknown name. README.md, "Exit status", has the table for every command.
pub(crate) const EXIT_USAGE: u8 = 2;

/// An error in how the command was called (exit status [`EXIT_USAGE`]): what to fix is in
/// the message, printed as `cwlogs: MESSAGE` (nothing more when it is empty: the details were
/// printed already).
#[derive(Debug)]
pub(crate) struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Reads the configuration a command was given (`--config FILE`, `check-config FILE`): a file
/// that cannot be read or is not valid is a [`UsageError`], after every problem is printed to
/// stderr as `FILE:LINE:COL: message`.
pub(crate) fn config_arg(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Config> {
    match load_config(path, env) {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(report)) => {
            eprint!("{report}");
            Err(UsageError(String::new()).into())
        }
        Err(e) => Err(UsageError(format!("{e:#}")).into()),
    }
}

fn check_config(file: &Path) -> anyhow::Result<ExitCode> {
    let c = config_arg(file, &|k| std::env::var(k).ok())?;
    // What the file turns on: a section it leaves out has its defaults.
    println!(
        "{}: ok: archive {}, index {}, {} rules",
        file.display(),
        c.archive_state.describe("archive"),
        c.index_state.describe("index"),
        c.rules.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Replay(args) => replay::run(args),
        Command::TestPattern(args) => test_pattern::run(args),
        Command::TestRedact(args) => test_redact::run(args),
        Command::Rules(args) => rules::run(args),
        Command::Import(args) => import::run(args),
        Command::CheckConfig { file } => check_config(&file),
        Command::Patterns(args) => patterns::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => match err.downcast_ref::<UsageError>() {
            Some(UsageError(m)) => {
                if !m.is_empty() {
                    eprintln!("cwlogs: {m}");
                }
                ExitCode::from(EXIT_USAGE)
            }
            None => {
                eprintln!("cwlogs: {err:#}");
                ExitCode::FAILURE
            }
        },
    }
}
