//! Routing: which events of a batch a destination takes.

use crate::error::{Report, inside_string};
use cwlogs_filter::{Message, Pattern};
use toml::Spanned;

/// A log-group glob: `*` matches any run of characters (including `/`), everything else is
/// literal. `/aws/lambda/*` takes every Lambda function's group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob(String);

impl Glob {
    /// Wraps a glob.
    pub fn new(glob: &str) -> Glob {
        Glob(glob.to_string())
    }

    /// The glob as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        let mut parts = self.0.split('*');
        let first = parts.next().unwrap_or_default();
        let Some(mut rest) = text.strip_prefix(first) else {
            return false;
        };
        let pieces: Vec<&str> = parts.collect();
        let Some((last, middle)) = pieces.split_last() else {
            return rest.is_empty();
        };
        for piece in middle {
            match rest.find(piece) {
                Some(at) => rest = &rest[at + piece.len()..],
                None => return false,
            }
        }
        rest.len() >= last.len() && rest.ends_with(last)
    }
}

/// Which events a destination (archive, index) takes: log groups by glob, then events by
/// CloudWatch filter patterns. An event is taken when its group matches one of `log_groups`
/// (or the list is empty), it matches `include` (when set), and it does not match `exclude`.
#[derive(Debug, Clone, Default)]
pub struct Route {
    /// Log-group globs; empty means every group.
    pub log_groups: Vec<Glob>,
    /// Only events matching this pattern are taken.
    pub include: Option<Pattern>,
    /// Events matching this pattern are left out.
    pub exclude: Option<Pattern>,
}

impl Route {
    /// Compiles a section's routing; pattern errors are reported at the pattern's position with
    /// CloudWatch's own message.
    pub(crate) fn build(
        log_groups: &[String],
        include: Option<Spanned<String>>,
        exclude: Option<Spanned<String>>,
        err: &mut Report<'_>,
    ) -> Route {
        let mut pattern = |p: Option<Spanned<String>>, key: &str| {
            let p = p?;
            match cwlogs_filter::Pattern::new(p.get_ref()) {
                Ok(compiled) => Some(compiled),
                Err(e) => {
                    let at = inside_string(p.span(), p.get_ref(), e.span().start);
                    err(at, format!("`{key}`: {}", e.aws_message()));
                    None
                }
            }
        };
        Route {
            include: pattern(include, "include"),
            exclude: pattern(exclude, "exclude"),
            log_groups: log_groups.iter().map(|g| Glob::new(g)).collect(),
        }
    }

    /// Whether the route takes events of `log_group` at all.
    pub fn takes_group(&self, log_group: &str) -> bool {
        self.log_groups.is_empty() || self.log_groups.iter().any(|g| g.matches(log_group))
    }

    /// Whether the route needs to look at messages (it has patterns).
    pub fn filters_events(&self) -> bool {
        self.include.is_some() || self.exclude.is_some()
    }

    /// Whether the route takes an event (of a group it takes).
    pub fn takes(&self, message: &Message<'_>) -> bool {
        self.include.as_ref().is_none_or(|p| p.is_match(message))
            && !self.exclude.as_ref().is_some_and(|p| p.is_match(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let g = Glob::new("/aws/lambda/*");
        assert!(g.matches("/aws/lambda/x"));
        assert!(g.matches("/aws/lambda/"));
        assert!(!g.matches("/aws/ecs/x"));
        assert!(Glob::new("*").matches(""));
        assert!(Glob::new("a*b*c").matches("a-b-b-c"));
        assert!(!Glob::new("a*b*c").matches("a-c"));
        assert!(!Glob::new("ab*ba").matches("aba"));
        assert!(Glob::new("exact").matches("exact"));
        assert!(!Glob::new("exact").matches("exactly"));
    }

    #[test]
    fn include_and_exclude() {
        let r = Route {
            log_groups: vec![],
            include: Some(Pattern::new("ERROR").expect("pattern")),
            exclude: Some(Pattern::new(r#"{ $.level = "DEBUG" }"#).expect("pattern")),
        };
        assert!(r.takes(&Message::new("ERROR boom")));
        assert!(!r.takes(&Message::new("INFO fine")));
        assert!(!r.takes(&Message::new(r#"{"level":"DEBUG","msg":"ERROR"}"#)));
    }
}
