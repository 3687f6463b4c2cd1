//! A fixed-size PHOLD run through the whole kernel (event queue, internet
//! network model, node dispatch, metrics and trace hash), set up by the same
//! [`benches::setup`] as the `phold` binary. Set-up is not timed.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};

/// PHOLD events (datagram deliveries) per timed run.
const EVENTS: u64 = 200_000;

fn kernel(c: &mut Criterion) {
    let mut group = c.benchmark_group("phold");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(EVENTS));
    for lps in [1_000u32, 10_000] {
        group.bench_with_input(BenchmarkId::new("lps_x10", lps), &lps, |b, &lps| {
            b.iter_batched(
                || benches::setup(lps, 10),
                |mut sim| {
                    assert_eq!(benches::run(&mut sim, EVENTS), EVENTS);
                    sim
                },
                BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, kernel);
criterion_main!(benches);
