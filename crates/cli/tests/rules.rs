//! `cwlogs rules` and the packs through `check-config`.

use crate::common::cwlogs;
use std::process::Output;

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn config(name: &str, body: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cwlogs-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write");
    path
}

#[test]
fn list_and_show_the_packs() {
    let o = cwlogs(&["rules", "list"]);
    let (out, _) = text(&o);
    assert!(o.status.success());
    assert!(out.contains("cis-aws-foundations: "), "{out}");
    assert!(out.contains("lambda-ecs-ops: "), "{out}");
    assert_eq!(out.matches("  cis-").count(), 15, "{out}");

    let o = cwlogs(&["rules", "show", "cis-console-signin-without-mfa"]);
    let (out, _) = text(&o);
    assert!(o.status.success());
    assert!(
        out.starts_with("# pack cis-aws-foundations\n[[rule]]\n"),
        "{out}"
    );
    assert!(
        out.contains(r#"$.additionalEventData.MFAUsed != "Yes""#),
        "{out}"
    );

    let o = cwlogs(&["rules", "show", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("no pack has a rule `nope`"));
}

#[test]
fn a_configuration_runs_its_packs_with_overrides() {
    let path = config(
        "packs.toml",
        "packs = [\"cis-aws-foundations\"]\n\n[[rule]]\nname = \"cis-vpc-changes\"\nenabled = false\n\n[[rule]]\nname = \"cis-root-account-usage\"\nlog_groups = [\"org-trail\"]\n",
    );
    let p = path.to_str().expect("utf-8");
    let o = cwlogs(&["rules", "list", "--config", p]);
    let (out, _) = text(&o);
    assert_eq!(out.lines().count(), 14, "{out}");
    assert!(!out.contains("cis-vpc-changes"));
    let o = cwlogs(&["rules", "show", "cis-root-account-usage", "--config", p]);
    let (out, _) = text(&o);
    assert!(out.contains("log groups: org-trail\n"), "{out}");
    assert!(
        out.contains("metric:     CISBenchmark/RootAccountUsage"),
        "{out}"
    );
    let o = cwlogs(&["check-config", p]);
    assert!(o.status.success());
    assert!(
        text(&o).0.ends_with(": ok: archive on (no [archive] section: its defaults), index on (no [index] section: its defaults), 14 rules\n"),
        "{}",
        text(&o).0
    );
}

#[test]
fn check_config_names_the_valid_packs_and_rules() {
    let path = config(
        "bad-packs.toml",
        "packs = [\"cis-aws-foundations\", \"ops\"]\n\n[[rule]]\nname = \"cis-nope\"\nenabled = false\n",
    );
    let o = cwlogs(&["check-config", path.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2));
    let (_, err) = text(&o);
    assert!(
        err.contains("bad-packs.toml:1:33: unknown pack `ops`: the packs are cis-aws-foundations, lambda-ecs-ops"),
        "{err}"
    );
    assert!(
        err.contains("bad-packs.toml:4:8: rule `cis-nope` is disabled, but no enabled pack has a rule of that name: the packs' rules are cis-unauthorized-api-calls, "),
        "{err}"
    );
}
