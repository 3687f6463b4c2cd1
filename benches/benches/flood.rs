//! A whole flood scenario, as `p2psim run` executes it: the shipped
//! `flood-line.ron` and `quickstart.ron` (a 200-node lossy radio mesh) built
//! from their RON text and run to the end. Parsing and building are not timed.

use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use scenarios::build::build;
use scenarios::error::Locator;
use scenarios::load::parse;
use scenarios::run::finish;

fn flood(c: &mut Criterion) {
    let mut group = c.benchmark_group("flood_scenario");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5));
    for name in ["flood-line", "quickstart"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../scenarios/{name}.ron"));
        let text = std::fs::read_to_string(&path).expect("shipped scenario");
        let scenario = parse(&path, &text).expect("valid scenario");
        group.bench_with_input(BenchmarkId::from_parameter(name), &scenario, |b, s| {
            b.iter_batched(
                || build(s, s.seed, &Locator::new(&path, &text)).expect("builds"),
                |sim| finish(s, s.seed, sim),
                BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, flood);
criterion_main!(benches);
