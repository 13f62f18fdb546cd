//! Idempotency of `_bulk` indexing, as a property: whatever mix of per-item failures the
//! cluster gives (throttling for a while, refusals for good, mapping conflicts, documents
//! already there from an earlier delivery) and however often the trigger delivers again
//! what is still pending, every document ends indexed exactly once (in its index or in
//! quarantine) or refused (dead-lettered), never twice.

use cwlogs_pipeline::index::{BulkOptions, Fate, index_items};
use cwlogs_pipeline::sink::{Fault, MemoryIndex};
use cwlogs_pipeline::{Backoff, Config};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::time::Duration;

/// Runs a future whose awaits complete at once (`MemoryIndex` never waits).
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// What the cluster does to one document.
#[derive(Debug, Clone, Copy)]
enum Plan {
    /// Takes it.
    Fine,
    /// Throttles it `n` times (429 or 503), then takes it.
    Throttled(usize, u16),
    /// Refuses it for good (403 `cluster_block_exception`).
    Refused,
    /// A mapping conflict in its own index, every time (as a real conflict is): the
    /// quarantine copy is taken. (A conflict that goes away between deliveries, say after a
    /// template fix, would leave a quarantined copy and an indexed one: see RELIABILITY.md.)
    Mapping,
    /// Already indexed by an earlier delivery (409 on `create`).
    Existing,
}

fn plan() -> impl Strategy<Value = Plan> {
    prop_oneof![
        3 => Just(Plan::Fine),
        3 => (1usize..6, prop_oneof![Just(429u16), Just(503u16)])
            .prop_map(|(n, s)| Plan::Throttled(n, s)),
        1 => Just(Plan::Refused),
        1 => Just(Plan::Mapping),
        2 => Just(Plan::Existing),
    ]
}

fn item(index: &str, id: &str) -> Vec<u8> {
    format!(
        "{{\"create\":{{\"_index\":\"{index}\",\"_id\":\"{id}\"}}}}\n{{\"message\":\"m-{id}\"}}\n"
    )
    .into_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn every_document_is_indexed_once_or_refused(
        plans in proptest::collection::vec(plan(), 1..24),
        attempts in 1u32..4,
        max_items in 1usize..8,
        redeliver_all in any::<bool>(),
    ) {
        let config = Config::builtin(&|k| (k == "AWS_REGION").then(|| "eu-west-1".to_string()));
        let index_config = config.index.clone().expect("index on");
        let cluster = MemoryIndex::new();
        let ids: Vec<String> = (0..plans.len()).map(|i| format!("doc-{i:04}")).collect();
        let items: Vec<Vec<u8>> = ids.iter().map(|id| item("cwl-test", id)).collect();
        for (i, p) in plans.iter().enumerate() {
            let needle = format!("\"{}\"", ids[i]);
            match *p {
                Plan::Fine => {}
                Plan::Throttled(n, status) => cluster.fault(Fault::Item {
                    needle, n, status, kind: "es_rejected_execution_exception".into(),
                }),
                Plan::Refused => cluster.fault(Fault::Item {
                    needle, n: usize::MAX, status: 403, kind: "cluster_block_exception".into(),
                }),
                Plan::Mapping => cluster.fault(Fault::Item {
                    needle: format!("\"_index\":\"cwl-test\",\"_id\":\"{}\"", ids[i]),
                    n: usize::MAX, status: 400, kind: "mapper_parsing_exception".into(),
                }),
                Plan::Existing => {
                    let one = [items[i].as_slice()];
                    block_on(index_items(&cluster, &one, &index_config, &BulkOptions::default(), None));
                }
            }
        }
        // Small requests, few attempts: throttling outlasts an invocation and the trigger
        // delivers again (only what is pending, or everything, as a Kinesis re-read does).
        let options = BulkOptions {
            max_bytes: items[0].len() * max_items,
            compress: false,
            backoff: Backoff { base: Duration::ZERO, cap: Duration::ZERO, max_attempts: attempts },
        };
        let mut settled: BTreeMap<usize, Fate> = BTreeMap::new();
        let mut rounds = 0;
        loop {
            let todo: Vec<usize> = if redeliver_all && rounds > 0 {
                (0..items.len()).collect()
            } else {
                (0..items.len()).filter(|i| !settled.contains_key(i)).collect()
            };
            let batch: Vec<&[u8]> = todo.iter().map(|&i| items[i].as_slice()).collect();
            let report = block_on(index_items(&cluster, &batch, &index_config, &options, None));
            prop_assert_eq!(report.fates.len(), batch.len());
            for (&i, fate) in todo.iter().zip(&report.fates) {
                if !matches!(fate, Fate::Pending(_)) {
                    settled.entry(i).or_insert_with(|| fate.clone());
                }
            }
            rounds += 1;
            if settled.len() == items.len() || rounds > 20 {
                break;
            }
        }
        prop_assert_eq!(settled.len(), items.len(), "everything settles after redeliveries");

        // Never twice: each id is stored at most once, across the index and quarantine.
        let docs = cluster.docs();
        let mut copies: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, id) in docs.keys() {
            *copies.entry(id.as_str()).or_default() += 1;
        }
        for (id, n) in &copies {
            prop_assert_eq!(*n, 1, "{} stored {} times", id, n);
        }
        // Exactly once, or refused: stored iff not refused.
        for (i, id) in ids.iter().enumerate() {
            let stored = copies.contains_key(id.as_str());
            let refused = matches!(settled[&i], Fate::Rejected(_));
            prop_assert!(stored != refused, "{}: {:?} ({:?}), stored {}", id, settled[&i], plans[i], stored);
            if let Plan::Refused = plans[i] {
                prop_assert!(refused);
            }
        }
    }
}
