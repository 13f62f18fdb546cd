//! The accounting invariants every handler summary must keep (used by the `accounting`
//! and `faults` suites): the events in add up to the outcomes, in the summary and in each
//! log group's self-metric counts.

use cwlogs_lambda::{AlertSummary, GroupTallies, IndexSummary, InvocationSummary};

/// The per log group counts (the self-metrics) add up within each group, and to the
/// summary's own totals: `(events, delivered, filtered, dead-lettered, pending)`.
pub fn check_groups(what: &str, groups: &GroupTallies, sink: &str, totals: [u64; 5]) {
    let mut sum = [0u64; 5];
    for (s, group, c) in groups.iter() {
        assert_eq!(s, sink, "{what}: counts of another sink");
        assert_eq!(
            c.events,
            c.delivered + c.filtered + c.dead_lettered + c.pending,
            "{what}: {group}: events in != delivered + filtered + dead-lettered + pending: {c:?}"
        );
        assert_eq!(
            c.oldest_delivered_ms.is_some(),
            c.delivered > 0,
            "{what}: {group}: a delivery lag without deliveries, or none with: {c:?}"
        );
        for (acc, n) in sum.iter_mut().zip([
            c.events,
            c.delivered,
            c.filtered,
            c.dead_lettered,
            c.pending,
        ]) {
            *acc += n;
        }
    }
    assert_eq!(sum, totals, "{what}: per group counts != the summary's");
}

pub fn check_archive(what: &str, s: &InvocationSummary) {
    assert_eq!(
        s.events,
        s.archived_events + s.filtered_events + s.dead_lettered_events + s.pending_events,
        "{what}: events in != archived + filtered + dead-lettered + pending: {s:?}"
    );
    let totals = [
        s.events,
        s.archived_events,
        s.filtered_events,
        s.dead_lettered_events,
        s.pending_events,
    ];
    check_groups(what, &s.groups, "archive", totals.map(|n| n as u64));
}

pub fn check_index(what: &str, s: &IndexSummary) {
    assert_eq!(
        s.events,
        s.indexed_events
            + s.existing_events
            + s.quarantined_events
            + s.filtered_events
            + s.refused_events
            + s.pending_events,
        "{what}: events in != indexed + existing + quarantined + filtered + refused + pending: {s:?}"
    );
    let totals = [
        s.events,
        s.indexed_events + s.existing_events + s.quarantined_events,
        s.filtered_events,
        s.refused_events,
        s.pending_events,
    ];
    check_groups(what, &s.groups, "index", totals.map(|n| n as u64));
}

pub fn check_alert(what: &str, s: &AlertSummary) {
    assert_eq!(
        s.events as u64,
        s.rules.events + s.rules.own_log_group_events,
        "{what}: events in != evaluated + own log group: {s:?}"
    );
    assert!(
        s.pending_events as u64 <= s.rules.events,
        "{what}: more events handed back than evaluated: {s:?}"
    );
    let totals = [
        s.events as u64,
        s.rules.events - s.pending_events as u64,
        s.rules.own_log_group_events,
        0,
        s.pending_events as u64,
    ];
    check_groups(what, &s.groups, "rules", totals);
}
