//! Properties: parse -> print -> parse round-trips, evaluation never panics, and a

#![allow(clippy::unwrap_used)]
//! `PatternSet` agrees with its patterns evaluated one by one.

use cwlogs_filter::{Message, MetricValue, Pattern, PatternSet, parse};
use proptest::prelude::*;

fn term() -> impl Strategy<Value = String> {
    let body = prop_oneof![
        "[A-Za-z0-9_][A-Za-z0-9_.:/@#=-]{0,6}",
        "\"[a-zA-Z :.,{}\\[\\]%*?-]{0,6}\"",
        "%[a-z0-9.*+?|^$,\\[\\]{}-]{0,6}%",
        "%\\\\[dDwWsS]\\\\x2[0-9]%",
    ];
    ("[-?]?", body).prop_map(|(p, b)| format!("{p}{b}"))
}

fn terms() -> impl Strategy<Value = String> {
    prop::collection::vec(term(), 1..5).prop_map(|ts| ts.join(" "))
}

fn selector() -> impl Strategy<Value = String> {
    let seg = prop_oneof![
        "\\.[a-z][a-z0-9_-]{0,4}",
        "\\[[0-9]{1,2}\\]",
        Just("[*]".to_string()),
        Just(".*".to_string()),
        "\\.\\['[a-z.]{1,4}'\\]",
    ];
    prop::collection::vec(seg, 1..4).prop_map(|s| format!("${}", s.concat()))
}

fn json_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[+-]?[0-9]{1,3}(\\.[0-9]{1,2})?([eE][+-]?[0-9])?",
        "\"[a-zA-Z0-9 *.?-]{0,6}\"",
        "[a-zA-Z*][a-zA-Z0-9.*_-]{0,5}",
        "%[a-z0-9.*|^$]{0,5}%",
    ]
}

fn json_test() -> impl Strategy<Value = String> {
    prop_oneof![
        (selector(), "(=|!=)", json_value()).prop_map(|(s, o, v)| format!("{s} {o} {v}")),
        (selector(), "(<|<=|>|>=)", "-?[0-9]{1,3}").prop_map(|(s, o, v)| format!("{s}{o}{v}")),
        (selector(), "(IS NULL|IS TRUE|IS FALSE|NOT EXISTS)").prop_map(|(s, t)| format!("{s} {t}")),
    ]
}

fn json_expr() -> impl Strategy<Value = String> {
    json_test().prop_recursive(4, 16, 3, |inner| {
        prop_oneof![
            (inner.clone(), "(&&|\\|\\|)", inner.clone())
                .prop_map(|(a, o, b)| format!("{a} {o} {b}")),
            inner.prop_map(|e| format!("({e})")),
        ]
    })
}

fn delimited() -> impl Strategy<Value = String> {
    let cond =
        ("[a-z]{1,3}", "(=|!=|<|>=)", json_value()).prop_map(|(n, o, v)| format!("{n}{o}{v}"));
    let field = prop_oneof![
        "[a-z]{1,3}",
        Just("...".to_string()),
        Just(String::new()),
        prop::collection::vec(cond, 1..3).prop_map(|c| c.join(" && ")),
    ];
    prop::collection::vec(field, 0..5).prop_map(|f| format!("[{}]", f.join(", ")))
}

fn any_pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        terms(),
        json_expr().prop_map(|e| format!("{{ {e} }}")),
        delimited(),
        "\\PC{0,40}",
        "[ \\t]{0,3}",
    ]
}

fn message() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,60}",
        "[a-z0-9 \\t\\[\\]\"]{0,40}",
        r#"\{("[a-z.]{1,3}": ?(-?[0-9]{1,3}(\.[0-9])?|"[a-z0-9 *]{0,4}"|true|false|null|\[[0-9, null"a]{0,8}\]|\{"[a-z]": ?[0-9]\}), ?){0,4}"z": 0\}"#,
    ]
}

/// A round trip: a pattern that parses prints to one that parses to the same tree, and printing
/// is a fixed point.
fn check_roundtrip(src: &str) -> Result<(), TestCaseError> {
    if let Ok(ast) = parse(src) {
        let compact = format!("{ast:#}");
        prop_assert!(
            compact.chars().count() <= src.chars().count(),
            "{:?} -> {:?}",
            src,
            compact
        );
        prop_assert_eq!(
            parse(&compact).ok(),
            Some(ast.clone()),
            "{:?} -> {:?}",
            src,
            compact
        );
        let printed = ast.to_string();
        if printed.chars().count() > cwlogs_filter::MAX_PATTERN_CHARS {
            return Ok(());
        }
        let again = parse(&printed);
        prop_assert!(
            again.is_ok(),
            "{src:?} printed as {printed:?} does not parse: {again:?}"
        );
        prop_assert_eq!(
            again.as_ref().ok(),
            Some(&ast),
            "{:?} printed as {:?}",
            src,
            printed
        );
        prop_assert_eq!(again.map(|a| a.to_string()).ok(), Some(printed));
        // A pattern that parses also compiles, unless a regex fails to compile.
        if let Err(e) = Pattern::new(src) {
            prop_assert!(
                e.aws_message() == "Failed to compile regular expression.",
                "{e}"
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_print_parse_roundtrips(src in any_pattern()) {
        check_roundtrip(&src)?;
    }

    #[test]
    fn evaluation_never_panics(src in any_pattern(), msgs in prop::collection::vec(message(), 1..4)) {
        if let Ok(p) = Pattern::new(&src) {
            let values = ["$.a", "$.a[0]", "$a", "$2", "1"].map(|v| MetricValue::parse(v).ok());
            for m in &msgs {
                let msg = Message::new(m);
                let hit = p.is_match(&msg);
                prop_assert_eq!(p.extract(&msg).is_some(), hit);
                for v in values.iter().flatten() {
                    let _ = p.metric_value(&msg, v);
                    let _ = p.field_text(&msg, v);
                }
            }
        }
    }

    #[test]
    fn set_agrees_with_single_patterns(
        pats in prop::collection::vec(
            prop::collection::vec("[-?]?(a|b|ab|ba|aab|\"a b\"|%a+b%){1}", 1..4).prop_map(|t| t.join(" ")),
            1..12,
        ),
        msgs in prop::collection::vec("[ab ]{0,12}", 1..8),
    ) {
        let patterns: Vec<Pattern> = pats.iter().filter_map(|p| Pattern::new(p).ok()).collect();
        let set = PatternSet::new(patterns.clone());
        let mut hits = Vec::new();
        for m in &msgs {
            let msg = Message::new(m);
            set.matches(&msg, &mut hits);
            let want: Vec<usize> = (0..patterns.len()).filter(|&i| patterns[i].is_match(&msg)).collect();
            prop_assert_eq!(&hits, &want, "message {:?}", m);
        }
    }
}

/// Term patterns that match none of the messages of these tests, enough for a set holding
/// them to search each pattern's required texts on its own rather than in one shared scan
/// (more than 32 distinct texts).
fn padding() -> impl Iterator<Item = Pattern> {
    (0..40).map(|i| Pattern::new(&format!("zzq{i}")).expect("a term"))
}

/// A JSON test over a small alphabet, so that the values of the messages below hit it.
fn small_json_test() -> impl Strategy<Value = String> {
    let sel = prop_oneof![Just("$.x"), Just("$.y"), Just("$.o.x"), Just("$.l[*]")];
    let val = prop_oneof![
        Just("\"aab\""),
        Just("\"aabb\""),
        Just("aab*"),
        Just("*abb"),
        Just("*aab*"),
        Just("*"),
        Just("\"éé\""),
        Just("1"),
        Just("\"1.0\""),
        Just("\"aab/b\""),
        Just("%a+b%"),
    ];
    prop_oneof![
        (sel.clone(), prop_oneof![Just("="), Just("!=")], val)
            .prop_map(|(s, o, v)| format!("{s} {o} {v}")),
        (
            sel,
            prop_oneof![
                Just("IS TRUE"),
                Just("IS FALSE"),
                Just("IS NULL"),
                Just("NOT EXISTS")
            ]
        )
            .prop_map(|(s, t)| format!("{s} {t}")),
    ]
}

/// A JSON value as a message spells it: plain, or escaped in every way JSON allows.
fn spelled_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(r#""aab""#),
        Just(r#""aabb""#),
        Just(r#""\u0061ab""#),
        Just(r#""a\u0061bb""#),
        Just(r#""aab\/b""#),
        Just(r#""aab/b""#),
        Just(r#""\"aab""#),
        Just(r#""b\naabb""#),
        Just(r#""éé""#),
        Just(r#""\u00e9é""#),
        Just("1"),
        Just("1.0"),
        Just(r#""1.0""#),
        Just("true"),
        Just("false"),
        Just("null"),
        Just(r#"{"x": "aab"}"#),
    ]
    .prop_map(str::to_string)
}

proptest! {
    /// JSON patterns in a set are ruled out by their required texts before any parse; the set
    /// must still agree with each pattern evaluated alone, whatever escapes the message uses.
    #[test]
    fn set_agrees_with_single_json_patterns(
        exprs in prop::collection::vec(
            prop::collection::vec(small_json_test(), 1..4).prop_flat_map(|tests| {
                let n = tests.len();
                (Just(tests), prop::collection::vec(prop_oneof![Just(" && "), Just(" || ")], n))
            }),
            1..8,
        ),
        msgs in prop::collection::vec(
            prop::collection::vec(
                (prop_oneof![Just("x"), Just("y"), Just("o"), Just("l")], spelled_value()),
                0..4,
            ),
            1..6,
        ),
        terms in prop::collection::vec(prop_oneof![Just("aab"), Just("u00"), Just("abb")], 0..2),
        chosen in prop::collection::vec(any::<bool>(), 10),
    ) {
        let mut sources: Vec<String> = exprs
            .iter()
            .map(|(tests, ops)| {
                let mut e = tests[0].clone();
                for (t, op) in tests[1..].iter().zip(ops) {
                    e.push_str(op);
                    e.push_str(t);
                }
                format!("{{ {e} }}")
            })
            .collect();
        sources.extend(terms.iter().map(|t| t.to_string()));
        let patterns: Vec<Pattern> = sources.iter().filter_map(|p| Pattern::new(p).ok()).collect();
        let set = PatternSet::new(patterns.clone());
        // The same patterns with more texts than one shared scan takes: each pattern's texts
        // are then searched on their own.
        let padded = PatternSet::new(patterns.iter().cloned().chain(padding()));
        let mut hits = Vec::new();
        for members in &msgs {
            let body: Vec<String> = members
                .iter()
                .map(|(k, v)| {
                    if *k == "l" {
                        format!("\"l\": [{v}]")
                    } else {
                        format!("\"{k}\": {v}")
                    }
                })
                .collect();
            let m = format!("{{{}}}", body.join(", "));
            let msg = Message::new(&m);
            set.matches(&msg, &mut hits);
            let want: Vec<usize> =
                (0..patterns.len()).filter(|&i| patterns[i].is_match(&msg)).collect();
            prop_assert_eq!(&hits, &want, "message {} patterns {:?}", m, sources);
            // The set's own message builds only the JSON its patterns read: same answers.
            set.matches(&set.message(&m), &mut hits);
            prop_assert_eq!(&hits, &want, "kept message {} patterns {:?}", m, sources);
            padded.matches(&padded.message(&m), &mut hits);
            prop_assert_eq!(&hits, &want, "padded set, message {} patterns {:?}", m, sources);
            // Some of the patterns, chosen once for many messages (as for a batch's log group).
            let among = set.among(&|i| chosen[i]);
            among.matches(&set.message(&m), &mut hits);
            let want: Vec<usize> = want.into_iter().filter(|&i| chosen[i]).collect();
            prop_assert_eq!(&hits, &want, "message {} patterns {:?} chosen {:?}", m, sources, chosen);
        }
    }
}

proptest! {
    /// Space-delimited patterns in a set are ruled out by the texts their `=` conditions
    /// need; the set must agree with each pattern evaluated alone.
    #[test]
    fn set_agrees_with_single_delimited_patterns(
        slots in prop::collection::vec(
            prop::collection::vec(
                prop_oneof![
                    Just("a"),
                    Just("..."),
                    Just("s = REJECT"),
                    Just("s = ACC*"),
                    Just("s != REJECT"),
                    Just("s = \"GET /x\""),
                    Just("s = *EPT || s = 4*"),
                    Just("s = REJECT && b > 10"),
                    Just("n = 5*"),
                ],
                1..5,
            ),
            1..6,
        ),
        lines in prop::collection::vec(
            prop::collection::vec(
                prop_oneof![
                    Just("REJECT"),
                    Just("ACCEPT"),
                    Just("\"GET /x\""),
                    Just("[REJECT]"),
                    Just("404"),
                    Just("11"),
                    Just("500"),
                ],
                0..6,
            ),
            1..6,
        ),
    ) {
        let sources: Vec<String> = slots.iter().map(|s| format!("[{}]", s.join(", "))).collect();
        let patterns: Vec<Pattern> = sources.iter().filter_map(|p| Pattern::new(p).ok()).collect();
        let set = PatternSet::new(patterns.clone());
        let padded = PatternSet::new(patterns.iter().cloned().chain(padding()));
        let mut hits = Vec::new();
        for fields in &lines {
            let m = fields.join(" ");
            let msg = Message::new(&m);
            set.matches(&msg, &mut hits);
            let want: Vec<usize> =
                (0..patterns.len()).filter(|&i| patterns[i].is_match(&msg)).collect();
            prop_assert_eq!(&hits, &want, "message {:?} patterns {:?}", m, sources);
            padded.matches(&Message::new(&m), &mut hits);
            prop_assert_eq!(&hits, &want, "padded set, message {:?} patterns {:?}", m, sources);
        }
    }
}

/// Fuzz find (roundtrip): the readable form of a pattern near the length limit can exceed it;
/// the compact form never does.
#[test]
fn fuzz_readable_form_may_exceed_the_limit_compact_form_does_not() {
    let src = format!("{{$.a=1{}}}", "||$.b=2".repeat(145));
    assert!(src.chars().count() <= 1024);
    let ast = parse(&src).unwrap();
    assert!(ast.to_string().chars().count() > 1024);
    assert_eq!(parse(&format!("{ast:#}")).unwrap(), ast);
    check_roundtrip(&src).unwrap();
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = format!("{{ {}$.a = 1{} }}", "(".repeat(500), ")".repeat(500));
    let e = Pattern::new(&deep).unwrap_err();
    assert!(e.aws_message().contains("nested deeper than 64"), "{e}");
    let ok = format!("{{ {}$.a = 1{} }}", "(".repeat(64), ")".repeat(64));
    assert!(Pattern::new(&ok).is_ok());
}

#[test]
fn huge_and_deep_messages_do_not_match_and_do_not_panic() {
    let p = Pattern::new("{ $.a NOT EXISTS }").unwrap();
    let deep = format!("{{\"b\":{}1{}}}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(!p.is_match(&Message::new(&deep)));
    let big = format!("{{\"b\":\"{}\"}}", "x".repeat(2 << 20));
    assert!(p.is_match(&Message::new(&big)));
}

/// The generators must mostly produce valid patterns, or the round-trip property tests little.
#[test]
fn generators_produce_mostly_valid_patterns() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let families: [(&str, BoxedStrategy<String>); 3] = [
        ("terms", terms().boxed()),
        (
            "json",
            json_expr().prop_map(|e| format!("{{ {e} }}")).boxed(),
        ),
        ("delimited", delimited().boxed()),
    ];
    for (name, strategy) in families {
        let mut ok = 0;
        for _ in 0..500 {
            let src = strategy.new_tree(&mut runner).unwrap().current();
            ok += usize::from(parse(&src).is_ok());
        }
        assert!(ok > 200, "{name}: only {ok}/500 generated patterns parse");
        println!("{name}: {ok}/500 generated patterns parse");
    }
}
