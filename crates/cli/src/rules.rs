//! `cwlogs rules`: the rule packs compiled into cwlogs, and the rules a configuration runs.

use crate::UsageError;
use clap::{Args, Subcommand};
use cwlogs_pipeline::rules::packs::{PACKS, PackRule};
use cwlogs_pipeline::{Config, GroupKey, Rule};
use std::path::PathBuf;
use std::process::ExitCode;

/// `cwlogs rules ...`.
#[derive(Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    command: RulesCommand,
}

#[derive(Subcommand)]
enum RulesCommand {
    /// The packs and their rules; with --config, the rules that configuration runs.
    List {
        /// A configuration file: list its rules (packs expanded, overrides applied).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// One rule: a pack rule's definition, or with --config the rule as that configuration
    /// runs it.
    Show {
        /// The rule's name (`cis-root-account-usage`).
        name: String,
        /// A configuration file to take the rule from.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// Writes `text` to stdout; a closed pipe (`cwlogs rules list | head`) is not an error.
fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// Runs `cwlogs rules`.
pub fn run(args: RulesArgs) -> anyhow::Result<ExitCode> {
    let mut out = String::new();
    let code = listing(args, &mut out)?;
    emit(&out)?;
    Ok(code)
}

fn listing(args: RulesArgs, out: &mut String) -> anyhow::Result<ExitCode> {
    use std::fmt::Write;
    match args.command {
        RulesCommand::List { config: None } => {
            for pack in PACKS {
                writeln!(out, "{}: {}", pack.name, pack.description)?;
                for r in pack.rules() {
                    writeln!(out, "  {:<40} {}", r.name, r.pattern)?;
                }
                writeln!(out)?;
            }
            writeln!(
                out,
                "Enable with `packs = [\"NAME\"]` in the configuration; `cwlogs rules show RULE` prints one."
            )?;
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::List { config: Some(path) } => {
            let config = load(&path)?;
            for r in &config.rules {
                writeln!(out, "{:<40} {}", r.name, describe(r))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Show { name, config: None } => {
            let found: Option<(&str, PackRule)> = PACKS.iter().find_map(|p| {
                p.rules()
                    .into_iter()
                    .find(|r| r.name == name)
                    .map(|r| (p.name, r))
            });
            match found {
                Some((pack, rule)) => {
                    writeln!(out, "# pack {pack}\n{}", rule.text)?;
                    Ok(ExitCode::SUCCESS)
                }
                None => Err(UsageError(format!(
                    "no pack has a rule `{name}`; `cwlogs rules list` shows them (or give --config FILE for a configuration's own rules)"
                ))
                .into()),
            }
        }
        RulesCommand::Show {
            name,
            config: Some(path),
        } => {
            let config = load(&path)?;
            let Some(r) = config.rules.iter().find(|r| r.name == name) else {
                let names: Vec<&str> = config.rules.iter().map(|r| r.name.as_str()).collect();
                return Err(UsageError(format!(
                    "{} has no rule `{name}`; its rules are {}",
                    path.display(),
                    names.join(", ")
                ))
                .into());
            };
            out.push_str(&details(r));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Loads a configuration given with `--config` (see [`crate::config_arg`]).
fn load(path: &std::path::Path) -> anyhow::Result<Config> {
    crate::config_arg(path, &|k| std::env::var(k).ok())
}

/// One line: what the rule does.
fn describe(r: &Rule) -> String {
    let mut parts = Vec::new();
    if let Some(m) = &r.metric {
        parts.push(format!("metric {}/{}", m.namespace, m.name));
    }
    if let Some(a) = &r.alert {
        parts.push(format!("alert ({})", a.severity.as_str()));
    }
    parts.push(r.pattern.source().to_string());
    parts.join("  ")
}

/// The rule as the configuration runs it.
fn details(r: &Rule) -> String {
    let mut out = format!(
        "name:       {}\npattern:    {}\n",
        r.name,
        r.pattern.source()
    );
    let groups: Vec<String> = r
        .log_groups
        .iter()
        .map(|g| g.as_str().to_string())
        .collect();
    out.push_str(&format!(
        "log groups: {}\n",
        if groups.is_empty() {
            "all".to_string()
        } else {
            groups.join(", ")
        }
    ));
    if let Some(m) = &r.metric {
        out.push_str(&format!(
            "metric:     {}/{} value {}{}{}\n",
            m.namespace,
            m.name,
            m.value.source(),
            m.default
                .map(|d| format!(" default {d}"))
                .unwrap_or_default(),
            m.unit
                .as_deref()
                .map(|u| format!(" unit {u}"))
                .unwrap_or_default(),
        ));
        for (name, v) in &m.dimensions {
            out.push_str(&format!("  dimension {name} = {}\n", v.source()));
        }
    }
    if let Some(a) = &r.alert {
        let group: Vec<&str> = a.group_by.iter().map(GroupKey::source).collect();
        out.push_str(&format!(
            "alert:      topic {}\n  group_by [{}], window {} s, max_per_window {}, severity {}, rate {} per {} s\n",
            a.topic.as_deref().unwrap_or("(none: set topic, [alerts] topic or CWLOGS_ALERT_TOPIC)"),
            group.join(", "),
            a.window_ms / 1000,
            a.max_per_window,
            a.severity.as_str(),
            a.rate.burst,
            a.rate.interval_ms / 1000,
        ));
    }
    out
}
