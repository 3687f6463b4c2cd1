//! Helpers shared by the scenario tests.

// Each test binary includes this module and uses only some of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use scenarios::load::parse;
use scenarios::run::{run, Outcome};

/// The path of a shipped scenario file.
pub fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("{name}.ron"))
}

/// Parses and runs scenario text with `seed` (the file's own if `None`).
pub fn run_text(text: &str, seed: Option<u64>) -> Outcome {
    let path = Path::new("test.ron");
    let scenario = parse(path, text).unwrap_or_else(|e| panic!("{e}"));
    let seed = seed.unwrap_or(scenario.seed);
    run(&scenario, path, text, seed).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs a shipped scenario with its own seed or another.
pub fn run_shipped(name: &str, seed: Option<u64>) -> Outcome {
    let text = std::fs::read_to_string(shipped(name)).unwrap();
    run_text(&text, seed)
}
