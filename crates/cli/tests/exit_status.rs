//! Exit statuses, the same in every command (README.md, "Exit status"): 0 when the command
//! did its job, 1 when it ran but something failed (output that cannot be written, a
//! destination that refused), 2 for usage errors (arguments, paths named on the command line
//! that cannot be read, configurations that are not valid, invalid patterns, unknown names).

use crate::common::cwlogs;
use cwlogs_testkit::events::samples_dir as samples;
use std::path::Path;

fn arg(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn usage_errors_exit_2_in_every_command() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "[archive]\ngzip_level = 42\n").expect("write");
    let (bad, missing) = (arg(&bad), arg(&tmp.path().join("missing")));
    let out = arg(&tmp.path().join("out"));
    let direct = arg(&samples().join("direct"));
    let cases: Vec<Vec<&str>> = vec![
        vec!["no-such-command"],
        vec!["replay"],
        vec!["replay", "--out", &out, &missing],
        vec!["replay", "--out", &out, "--config", &missing, &direct],
        vec!["replay", "--out", &out, "--config", &bad, &direct],
        vec!["replay", "--out", &out, "--archive-to", "not-s3", &direct],
        vec!["replay", "--out", &out, "--alert-to", "arn:x", &direct],
        vec!["test-pattern", "ERR*", "x"],
        vec!["test-pattern", "{ $.x = 1 }", "--value", "$2", "x"],
        vec!["check-config", &bad],
        vec!["check-config", &missing],
        vec!["rules", "show", "no-such-rule"],
        vec!["rules", "list", "--config", &bad],
        vec!["patterns", &missing],
        vec!["import", "metric-filters", &missing],
    ];
    for args in cases {
        let o = cwlogs(&args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(!stderr.trim().is_empty(), "{args:?}: says why");
    }
    assert!(
        !tmp.path().join("out").exists(),
        "no usage error wrote output"
    );
}

#[test]
fn failures_exit_1_and_success_0() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Output that cannot be written: --out under a regular file.
    let file = tmp.path().join("file");
    std::fs::write(&file, "x").expect("write");
    let direct = arg(&samples().join("direct"));
    let o = cwlogs(&["replay", "--out", &arg(&file.join("out")), &direct]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // No message matching is not an error, as with `aws logs test-metric-filter`.
    let o = cwlogs(&["test-pattern", "ERROR", "all good"]);
    assert_eq!(o.status.code(), Some(0));
    // Undecodable inputs are dead letters: the replay did its job.
    let out = arg(&tmp.path().join("out"));
    let o = cwlogs(&["replay", "--out", &out, &arg(&samples().join("broken"))]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn the_summary_names_its_files_and_where_dead_letters_went() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    let o = cwlogs(&[
        "replay",
        "--out",
        &arg(&out),
        &arg(&samples().join("direct")),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    for file in ["summary.json", "report.html"] {
        assert!(
            stdout.contains(&format!("-> {}\n", out.join(file).display())),
            "{file}: {stdout}"
        );
    }
    // Nothing was dead-lettered, so the summary points at no dead-letter directory.
    assert!(stdout.contains("dead-lettered          0 ("), "{stdout}");
    assert!(!stdout.contains("dead-letter\n"), "{stdout}");
    assert!(!out.join("dead-letter").exists());

    let o = cwlogs(&[
        "replay",
        "--out",
        &arg(&out),
        &arg(&samples().join("broken")),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let dl = out.join("dead-letter");
    assert!(
        stdout.contains(&format!("-> {}\n", dl.display())),
        "{stdout}"
    );
    assert!(dl.is_dir());
}

fn readme() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The words of a shell command line with single-quoted words (all the README uses).
fn shell_words(line: &str) -> Vec<String> {
    let (mut words, mut word, mut quoted, mut any) = (Vec::new(), String::new(), false, false);
    for c in line.chars() {
        match c {
            '\'' => (quoted, any) = (!quoted, true),
            c if c.is_whitespace() && !quoted => {
                if any {
                    words.push(std::mem::take(&mut word));
                }
                any = false;
            }
            c => (word.push(c), any = true).1,
        }
    }
    if any {
        words.push(word);
    }
    words
}

#[test]
fn the_readme_try_it_runs_the_release_build_and_shows_a_regex_term() {
    let text = readme();
    let at = text.find("\nTry it").expect("a Try it paragraph");
    let block = &text[at..];
    let start = block.find("```sh\n").expect("a sh block") + 6;
    let end = start + block[start..].find("```").expect("block end");
    let joined = block[start..end].replace("\\\n", " ");
    let prefix = "cargo run --release -q -p cwlogs -- ";
    let mut ran = 0;
    for line in joined.lines().filter(|l| !l.trim().is_empty()) {
        // The release build the main job made, not a debug build of its own.
        let rest = line
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("not `{prefix}...`: {line}"));
        let words = shell_words(rest);
        let args: Vec<&str> = words.iter().map(String::as_str).collect();
        let o = cwlogs(&args);
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{line}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(stdout.contains("Event 1: "), "{line}: {stdout}");
        ran += 1;
    }
    assert!(ran >= 2, "{joined}");
    assert!(
        joined.contains(" '%"),
        "a %regex% term among the examples: {joined}"
    );
}

#[test]
fn the_readme_has_the_exit_status_table() {
    let text = readme();
    let at = text
        .find("### Exit status")
        .expect("an Exit status section");
    let section = &text[at..at + text[at..].find("\n## ").unwrap_or(text.len() - at)];
    for status in ["| 0 |", "| 1 |", "| 2 |", "| 3 |"] {
        assert!(section.contains(status), "{status} in:\n{section}");
    }
    assert!(section.contains("usage error"), "{section}");
}
