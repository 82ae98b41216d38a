//! MPMC ring: throughput of `u64`s with 1, 2 and 4 producers and as many
//! consumers, against crossbeam-queue's `ArrayQueue` and crossbeam-channel's
//! bounded channel in the same run.
//!
//! On a 2-core machine 2P2C and 4P4C are oversubscribed (4 and 8 spinning
//! threads on 2 cores): waiting threads yield, and the figures measure
//! scheduling as much as the queue. Compare ratios within one run.
//!
//! ```text
//! cargo bench -p interlink-core --bench mpmc
//! ```
//!
//! On a machine whose speed changes every few seconds, rows measured one
//! after another are hard to compare: the filter `interleaved` instead runs
//! interlink and `ArrayQueue` alternately, in rounds, and prints for each
//! configuration the median over the rounds of the time ratio interlink /
//! `ArrayQueue` (below 1: interlink faster):
//!
//! ```text
//! cargo bench -p interlink-core --bench mpmc -- interleaved
//! ```

use std::time::{Duration, Instant};

mod common;

use common::Memory;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use interlink_core::mpmc::MpmcRing;
use interlink_core::RingConfig;

const CAPACITY: u32 = 4096;
const ITEMS: u64 = 1 << 18;

/// Moves `ITEMS` through a queue with `threads` producers and as many
/// consumers (each producer pushes, each consumer pops, an equal share),
/// and returns the wall time from start to the last pop.
fn transfer(
    threads: u64,
    push: impl Fn(u64) -> bool + Sync,
    pop: impl Fn() -> Option<u64> + Sync,
) -> Duration {
    let share = ITEMS / threads;
    let (push, pop) = (&push, &pop);
    // Every thread waits for `go`, so the time covers the transfer, not
    // the spawning of up to eight threads on two cores.
    let go = &std::sync::atomic::AtomicBool::new(false);
    let wait_for_go = move || {
        while !go.load(std::sync::atomic::Ordering::Acquire) {
            std::thread::yield_now();
        }
    };
    std::thread::scope(|s| {
        for p in 0..threads {
            s.spawn(move || {
                wait_for_go();
                for i in p * share..(p + 1) * share {
                    while !push(i) {
                        std::thread::yield_now();
                    }
                }
            });
        }
        let consumers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(move || {
                    wait_for_go();
                    for _ in 0..share {
                        loop {
                            if let Some(v) = pop() {
                                std::hint::black_box(v);
                                break;
                            }
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        let start = Instant::now();
        go.store(true, std::sync::atomic::Ordering::Release);
        for c in consumers {
            c.join().unwrap();
        }
        start.elapsed()
    })
}

/// Moves `ITEMS` through a fresh interlink ring with `threads` producers
/// and consumers.
fn interlink_transfer(threads: u64) -> Duration {
    let mut mem = Memory::new(MpmcRing::<u64>::bytes_needed(CAPACITY).unwrap());
    let ring = MpmcRing::<u64>::init(mem.region(), RingConfig::new(CAPACITY)).unwrap();
    transfer(
        threads,
        |v| ring.try_send(v).is_ok(),
        || ring.try_recv().ok(),
    )
}

/// The same through a fresh `ArrayQueue`.
fn array_queue_transfer(threads: u64) -> Duration {
    let q = crossbeam_queue::ArrayQueue::<u64>::new(CAPACITY as usize);
    transfer(threads, |v| q.push(v).is_ok(), || q.pop())
}

/// Rounds of the interleaved comparison.
const ROUNDS: usize = 21;

/// The interleaved comparison (see the module docs); runs only when the
/// filter names it, and then alone.
fn interleaved(_: &mut Criterion) {
    if !std::env::args().skip(1).any(|a| a.contains("interleaved")) {
        return;
    }
    for threads in [1u64, 2, 4] {
        let mut ratios = Vec::with_capacity(ROUNDS);
        for round in 0..ROUNDS {
            // Alternate which goes first, so neither always follows the other.
            let (ours, theirs) = if round % 2 == 0 {
                let ours = interlink_transfer(threads);
                (ours, array_queue_transfer(threads))
            } else {
                let theirs = array_queue_transfer(threads);
                (interlink_transfer(threads), theirs)
            };
            ratios.push(ours.as_secs_f64() / theirs.as_secs_f64());
        }
        ratios.sort_by(f64::total_cmp);
        println!(
            "interleaved {threads}p{threads}c: interlink / ArrayQueue time, median of {ROUNDS} rounds {:.2} (quartiles {:.2}..{:.2})",
            ratios[ROUNDS / 2],
            ratios[ROUNDS / 4],
            ratios[3 * ROUNDS / 4],
        );
    }
}

fn throughput(c: &mut Criterion) {
    let mut g = c.benchmark_group("mpmc_throughput_u64");
    g.throughput(Throughput::Elements(ITEMS));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(4));

    for threads in [1u64, 2, 4] {
        let config = format!("{threads}p{threads}c");
        g.bench_function(BenchmarkId::new("interlink", &config), |b| {
            common::each_run(b, || interlink_transfer(threads))
        });

        g.bench_function(BenchmarkId::new("crossbeam_array_queue", &config), |b| {
            common::each_run(b, || array_queue_transfer(threads))
        });

        g.bench_function(BenchmarkId::new("crossbeam_channel", &config), |b| {
            common::each_run(b, || {
                let (tx, rx) = crossbeam_channel::bounded::<u64>(CAPACITY as usize);
                transfer(threads, |v| tx.try_send(v).is_ok(), || rx.try_recv().ok())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, throughput, interleaved);
criterion_main!(benches);
