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

fn throughput(c: &mut Criterion) {
    let mut g = c.benchmark_group("mpmc_throughput_u64");
    g.throughput(Throughput::Elements(ITEMS));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(4));

    for threads in [1u64, 2, 4] {
        let config = format!("{threads}p{threads}c");
        g.bench_function(BenchmarkId::new("interlink", &config), |b| {
            common::each_run(b, || {
                let mut mem = Memory::new(MpmcRing::<u64>::bytes_needed(CAPACITY).unwrap());
                let ring = MpmcRing::<u64>::init(mem.region(), RingConfig::new(CAPACITY)).unwrap();
                transfer(
                    threads,
                    |v| ring.try_send(v).is_ok(),
                    || ring.try_recv().ok(),
                )
            })
        });

        g.bench_function(BenchmarkId::new("crossbeam_array_queue", &config), |b| {
            common::each_run(b, || {
                let q = crossbeam_queue::ArrayQueue::<u64>::new(CAPACITY as usize);
                transfer(threads, |v| q.push(v).is_ok(), || q.pop())
            })
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

criterion_group!(benches, throughput);
criterion_main!(benches);
