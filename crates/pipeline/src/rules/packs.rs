//! Rule packs: ready-made `[[rule]]`s compiled into the binary, enabled with
//! `packs = ["cis-aws-foundations"]` in the configuration. A `[[rule]]` of the same name as a
//! pack rule overrides the fields it sets (`log_groups`, `pattern`, `metric`, `alert`) or
//! disables the rule (`enabled = false`). A pack can also be given as
//! `{ name = "cis-aws-foundations", log_groups = ["aws-cloudtrail-logs-*"] }` to point all of its
//! rules at some log groups.

use crate::rules::config::{RawPack, RawRule};

/// One pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pack {
    /// The name used in `packs = [...]`.
    pub name: &'static str,
    /// What the pack is for.
    pub description: &'static str,
    /// The pack's `[[rule]]`s, as TOML.
    pub text: &'static str,
}

/// Every pack.
pub const PACKS: &[Pack] = &[
    Pack {
        name: "cis-aws-foundations",
        description: "the CIS AWS Foundations Benchmark monitoring controls, on CloudTrail logs",
        text: include_str!("../../packs/cis-aws-foundations.toml"),
    },
    Pack {
        name: "lambda-ecs-ops",
        description: "Lambda and ECS operations: error lines, timeouts, out-of-memory, failed tasks",
        text: include_str!("../../packs/lambda-ecs-ops.toml"),
    },
];

/// The pack named `name`.
pub fn find(name: &str) -> Option<&'static Pack> {
    PACKS.iter().find(|p| p.name == name)
}

/// The packs' names.
pub fn names() -> Vec<&'static str> {
    PACKS.iter().map(|p| p.name).collect()
}

/// A pack rule as `cwlogs rules show` prints it: its name and its text in the pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackRule {
    /// The rule's name.
    pub name: String,
    /// The rule's pattern.
    pub pattern: String,
    /// The rule's `[[rule]]` table as written in the pack.
    pub text: String,
}

impl Pack {
    /// The pack's rules, parsed (the texts are constants, checked by the tests below).
    pub(crate) fn raw_rules(&self) -> Vec<RawRule> {
        toml::from_str::<RawPack>(self.text)
            .map(|p| p.rule)
            .unwrap_or_default()
    }

    /// The pack's rules with their text, in order.
    pub fn rules(&self) -> Vec<PackRule> {
        let mut tables: Vec<String> = Vec::new();
        for line in self.text.lines() {
            if line.trim() == "[[rule]]" {
                tables.push(String::new());
            }
            if let Some(t) = tables.last_mut() {
                t.push_str(line);
                t.push('\n');
            }
        }
        self.raw_rules()
            .iter()
            .zip(tables)
            .map(|(r, text)| PackRule {
                name: r.name().to_string(),
                pattern: r.pattern().unwrap_or_default().to_string(),
                text: text.trim_end().to_string(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    #[test]
    fn every_pack_is_valid_and_names_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for p in PACKS {
            let rules = p.rules();
            assert!(!rules.is_empty(), "{}", p.name);
            for r in &rules {
                assert!(seen.insert(r.name.clone()), "{} twice", r.name);
                assert!(r.text.contains(&r.name));
            }
            let text = format!("packs = [\"{}\"]\n", p.name);
            let c =
                Config::from_toml(&text, &|_| None).unwrap_or_else(|e| panic!("{}: {e:?}", p.name));
            assert_eq!(c.rules.len(), rules.len(), "{}", p.name);
            assert!(
                c.rules
                    .iter()
                    .all(|r| r.metric.is_some() && r.alert.is_some())
            );
        }
        assert_eq!(
            find("cis-aws-foundations").map(|p| p.rules().len()),
            Some(15)
        );
    }

    #[test]
    fn overrides_and_disabling() {
        let text = r#"packs = [{ name = "cis-aws-foundations", log_groups = ["aws-cloudtrail-logs-*"] }, "lambda-ecs-ops"]

[alerts]
topic = "arn:aws:sns:eu-west-1:123456789012:security"

[[rule]]
name = "cis-root-account-usage"
alert = { topic = "arn:aws:sns:eu-west-1:123456789012:pager", severity = "critical", window = "5m" }

[[rule]]
name = "cis-vpc-changes"
enabled = false

[[rule]]
name = "ops-error-lines"
log_groups = ["/aws/lambda/payments-*"]

[[rule]]
name = "mine"
pattern = "panic"
metric = { namespace = "App", name = "Panics" }
"#;
        let c = Config::from_toml(text, &|_| None).expect("config");
        let names: Vec<&str> = c.rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names.len(), 15 - 1 + 5 + 1);
        assert!(!names.contains(&"cis-vpc-changes"));
        assert_eq!(names.last(), Some(&"mine"));
        let root = c
            .rules
            .iter()
            .find(|r| r.name == "cis-root-account-usage")
            .expect("root");
        let a = root.alert.as_ref().expect("alert");
        assert_eq!(
            a.topic.as_deref(),
            Some("arn:aws:sns:eu-west-1:123456789012:pager")
        );
        assert_eq!(a.window_ms, 300_000);
        assert!(root.metric.is_some(), "inherited");
        assert!(root.takes_group("aws-cloudtrail-logs-1") && !root.takes_group("/aws/lambda/x"));
        let unauthorized = c
            .rules
            .iter()
            .find(|r| r.name == "cis-unauthorized-api-calls")
            .expect("rule");
        assert_eq!(
            unauthorized.alert.as_ref().and_then(|a| a.topic.as_deref()),
            Some("arn:aws:sns:eu-west-1:123456789012:security"),
        );
        let errors = c
            .rules
            .iter()
            .find(|r| r.name == "ops-error-lines")
            .expect("rule");
        assert!(errors.takes_group("/aws/lambda/payments-api") && !errors.takes_group("/ecs/x"));
    }

    #[test]
    fn bad_pack_settings_name_what_is_valid() {
        let errs = Config::from_toml("packs = [\"cis\"]\n", &|_| None).expect_err("unknown pack");
        assert_eq!(errs[0].position, Some((1, 10)));
        assert!(
            errs[0]
                .message
                .contains("unknown pack `cis`: the packs are cis-aws-foundations, lambda-ecs-ops"),
            "{errs:?}"
        );
        let errs = Config::from_toml(
            "packs = [\"lambda-ecs-ops\"]\n[[rule]]\nname = \"ops-nope\"\nenabled = false\n",
            &|_| None,
        )
        .expect_err("unknown rule");
        assert!(errs[0].message.contains("no enabled pack has a rule of that name: the packs' rules are ops-error-lines, ops-lambda-timeout"), "{errs:?}");
        let errs = Config::from_toml(
            "[[rule]]\nname = \"cis-vpc-changes\"\nalert = {}\n",
            &|_| None,
        )
        .expect_err("no pack");
        assert!(
            errs[0].message.contains(
                "has no `pattern`, and no enabled pack has a rule of that name: no pack is enabled"
            ),
            "{errs:?}"
        );
        // An override whose pattern no longer supports the pack's group_by field.
        let errs = Config::from_toml("packs = [\"cis-aws-foundations\"]\n[[rule]]\nname = \"cis-vpc-changes\"\npattern = 'CreateVpc'\n", &|_| None)
            .expect_err("group_by needs a JSON pattern");
        assert!(
            errs.iter().any(|e| e
                .message
                .contains("the pack's `$.userIdentity.arn` does not fit this pattern")),
            "{errs:?}"
        );
    }
}
