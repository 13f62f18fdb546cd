//! What the suites of `cwlogs-pipeline` share (the rest is in `cwlogs-testkit`).

/// The values a pattern compares `$.field` with for equality (`$.eventName = X`).
pub fn compared_values(pattern: &str, field: &str) -> Vec<String> {
    let needle = format!("$.{field} = ");
    pattern
        .match_indices(&needle)
        .map(|(at, _)| {
            pattern[at + needle.len()..]
                .trim_start_matches('"')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '.')
                .collect()
        })
        .collect()
}
