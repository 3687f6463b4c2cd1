//! Same scenario and seed → same trace hash, alone or with other runs in
//! parallel; another seed → another hash.

mod common;

use common::run_shipped;
use rayon::prelude::*;

const SCENARIOS: [&str; 4] = [
    "quickstart",
    "flood-line",
    "ping-lossy-link",
    "ble-festival",
];

#[test]
fn same_seed_same_hash_also_in_parallel() {
    let alone: Vec<String> = SCENARIOS
        .iter()
        .map(|s| run_shipped(s, None).trace_hash.to_string())
        .collect();
    // Several copies of every scenario at once on rayon's pool.
    let jobs: Vec<&str> = SCENARIOS
        .iter()
        .cycle()
        .take(SCENARIOS.len() * 3)
        .copied()
        .collect();
    let parallel: Vec<String> = jobs
        .par_iter()
        .map(|s| run_shipped(s, None).trace_hash.to_string())
        .collect();
    for (i, h) in parallel.iter().enumerate() {
        assert_eq!(
            h,
            &alone[i % SCENARIOS.len()],
            "{} differs when run in parallel",
            jobs[i]
        );
    }
}

/// flood-line has no randomness at all (constant latency, one origin, no
/// loss), so its seed cannot matter; the others draw latency, loss and
/// senders from the seed.
#[test]
fn another_seed_another_hash() {
    for s in ["quickstart", "ping-lossy-link", "ble-festival"] {
        let a = run_shipped(s, Some(1)).trace_hash;
        let b = run_shipped(s, Some(2)).trace_hash;
        assert_ne!(a, b, "{s}: seeds 1 and 2 gave the same hash");
    }
}

/// The hash of a shipped scenario is pinned, so a change in behaviour, or a
/// platform that computes anything differently (float formatting, libm,
/// hashing, iteration order), shows up here. Update the constant only for an
/// intended change of behaviour, and say so in the commit.
#[test]
fn pinned_hashes() {
    assert_eq!(
        run_shipped("flood-line", None).trace_hash.to_string(),
        "297133b5482256cc"
    );
    assert_eq!(
        run_shipped("quickstart", None).trace_hash.to_string(),
        "0bf3dcd48dc525ca"
    );
    // Positions, path loss and batteries are floating point: this pins
    // their arithmetic too.
    assert_eq!(
        run_shipped("ble-festival", None).trace_hash.to_string(),
        "1000a63bf7bd5514"
    );
}

/// A scenario whose network has a lookahead runs its nodes in windows, on
/// as many threads as asked; the trace and every delivery are the same on
/// any number of them. gossip-100k, cut to 3,000 nodes and 6 seconds.
#[test]
fn windows_give_the_same_run_on_any_number_of_threads() {
    let text = std::fs::read_to_string(common::shipped("gossip-100k"))
        .unwrap()
        .replace("count: 100000", "count: 3000")
        .replace("duration: \"65s\"", "duration: \"6s\"")
        .replace("stop: \"63s\"", "stop: \"6s\"");
    let path = std::path::Path::new("gossip-3k.ron");
    let scenario = scenarios::load::parse(path, &text).unwrap();
    let runs: Vec<_> = [1, 2, 3, 8]
        .into_iter()
        .map(|threads| {
            let at = scenarios::error::Locator::new(path, &text);
            let mut sim = scenarios::build::build(&scenario, scenario.seed, &at).unwrap();
            assert!(
                sim.run_in_windows(threads),
                "the internet model has a lookahead"
            );
            scenarios::run::finish(&scenario, scenario.seed, sim)
        })
        .collect();
    assert!(
        runs[0].summary.delivery_ratio > 0.99,
        "{:?}",
        runs[0].summary
    );
    for (run, threads) in runs.iter().zip([1, 2, 3, 8]).skip(1) {
        assert_eq!(run.trace_hash, runs[0].trace_hash, "{threads} threads");
        assert_eq!(run.events, runs[0].events, "{threads} threads");
        assert_eq!(
            run.metrics.deliveries, runs[0].metrics.deliveries,
            "{threads} threads"
        );
    }
}
