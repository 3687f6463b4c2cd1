//! A scenario never causes a panic: mangled scenario text is either a clean
//! error with a position or a valid scenario that builds.

mod common;

use std::path::Path;

use proptest::prelude::*;
use scenarios::build::build;
use scenarios::error::Locator;
use scenarios::load::parse;

/// Pieces a careless edit might put into a scenario file.
const SNIPPETS: [&str; 14] = [
    "0",
    "-1",
    "\"\"",
    "\"1ms\"",
    "\"0s\"",
    "99999999999999999999",
    "1e308",
    "()",
    "[]",
    ",",
    ")",
    "(",
    "Line",
    "\"peers\"",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Deleting a stretch of a shipped scenario and inserting a plausible
    /// token somewhere never panics: parsing and building give a value or an
    /// error with a file position.
    #[test]
    fn mangled_scenarios_never_panic(
        which in 0usize..3,
        cut in 0.0f64..1.0,
        cut_len in 0usize..12,
        at in 0.0f64..1.0,
        snippet in 0usize..SNIPPETS.len(),
    ) {
        let name = ["quickstart", "flood-line", "ping-lossy-link"][which];
        let text = std::fs::read_to_string(common::shipped(name)).unwrap();
        let mut chars: Vec<char> = text.chars().collect();
        let start = ((chars.len() as f64) * cut) as usize;
        let end = (start + cut_len).min(chars.len());
        chars.drain(start..end);
        let pos = ((chars.len() as f64) * at) as usize;
        for (k, c) in SNIPPETS[snippet].chars().enumerate() {
            chars.insert(pos + k, c);
        }
        let mangled: String = chars.into_iter().collect();
        let path = Path::new("mangled.ron");
        match parse(path, &mangled) {
            Ok(scenario) => {
                let _ = build(&scenario, scenario.seed, &Locator::new(path, &mangled));
            }
            Err(e) => {
                prop_assert!(e.line >= 1 && e.col >= 1);
                prop_assert!(!e.message.is_empty());
            }
        }
    }
}
