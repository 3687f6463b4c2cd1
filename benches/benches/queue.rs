//! The kernel's [`EventQueue`] against `std::collections::BinaryHeap` in a
//! PHOLD-like hold pattern: with `n` items queued, each operation pops the
//! earliest and pushes one at its time + 0.1 ms + Exp(1 ms), so the queue keeps
//! `n` items and its time keeps advancing, as in a simulation.
//!
//! The heap orders `(Reverse((time, seq)), payload)`, the same (time, insertion
//! sequence) rule as the kernel. Both carry a `u32` payload (the destination
//! LP, as in `phold_ref.cpp`); delays are drawn before timing, so only the
//! queue is measured.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sim_core::dist::exponential_f64;
use sim_core::{EventQueue, Instant, RngStreams};

/// Hold operations per timed iteration.
const HOLDS: u64 = 1_000;

/// A queue the hold pattern can drive.
trait Hold {
    /// Queues `payload` at `time` nanoseconds.
    fn push(&mut self, time: u64, payload: u32);
    /// Removes the earliest item: its time and payload.
    fn pop(&mut self) -> (u64, u32);
}

impl Hold for EventQueue<u32> {
    fn push(&mut self, time: u64, payload: u32) {
        EventQueue::push(self, Instant::from_nanos(time), payload);
    }
    fn pop(&mut self) -> (u64, u32) {
        let (t, p) = EventQueue::pop(self).expect("the hold keeps the queue full");
        (t.as_nanos(), p)
    }
}

/// A plain binary heap with the kernel's ordering rule.
#[derive(Default)]
struct Heap {
    heap: BinaryHeap<(Reverse<(u64, u64)>, u32)>,
    seq: u64,
}

impl Hold for Heap {
    fn push(&mut self, time: u64, payload: u32) {
        self.heap.push((Reverse((time, self.seq)), payload));
        self.seq += 1;
    }
    fn pop(&mut self) -> (u64, u32) {
        let (Reverse((t, _)), p) = self.heap.pop().expect("the hold keeps the queue full");
        (t, p)
    }
}

/// PHOLD delays in nanoseconds (0.1 ms + Exp(1 ms)), enough to cycle through.
fn delays() -> Vec<u64> {
    let mut rng = RngStreams::new(42).stream(sim_core::Domain::Workload, 0, 0);
    (0..1 << 16)
        .map(|_| 100_000 + exponential_f64(&mut rng, 1e6) as u64)
        .collect()
}

/// `n` items at their first delays, the hold pattern's starting point.
fn filled<Q: Hold>(mut q: Q, n: usize, delays: &[u64]) -> Q {
    for (i, &d) in delays.iter().cycle().take(n).enumerate() {
        q.push(d, i as u32);
    }
    q
}

/// Runs [`HOLDS`] hold operations, taking delays from `delays` at `*at`.
fn hold<Q: Hold>(q: &mut Q, delays: &[u64], at: &mut usize) {
    for _ in 0..HOLDS {
        let (t, p) = q.pop();
        *at = (*at + 1) % delays.len();
        q.push(t + delays[*at], black_box(p));
    }
}

fn queue(c: &mut Criterion) {
    let delays = delays();
    let mut group = c.benchmark_group("queue_hold");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    group.throughput(Throughput::Elements(HOLDS));
    for n in [1_000usize, 100_000] {
        group.bench_with_input(BenchmarkId::new("EventQueue", n), &n, |b, &n| {
            let (mut q, mut at) = (filled(EventQueue::new(), n, &delays), n);
            b.iter(|| hold(&mut q, &delays, &mut at));
        });
        group.bench_with_input(BenchmarkId::new("BinaryHeap", n), &n, |b, &n| {
            let (mut q, mut at) = (filled(Heap::default(), n, &delays), n);
            b.iter(|| hold(&mut q, &delays, &mut at));
        });
    }
    group.finish();
}

criterion_group!(benches, queue);
criterion_main!(benches);
