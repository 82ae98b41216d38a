//! SPSC ring: throughput and ping-pong latency between two threads on two
//! cores, against rtrb, crossbeam-queue's `ArrayQueue` and heapless's spsc
//! queue in the same run, and against the floor (a bare cache line passed
//! back and forth).
//!
//! ```text
//! cargo bench -p interlink-core --bench spsc
//! ```

use std::time::Duration;

mod common;

use common::queues::{self, Idle, Spinning};
use common::Memory;
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use interlink_core::ring::ChunkError;
use interlink_core::spsc::{Consumer, Producer, SpscRing};
use interlink_core::Holder;
use interlink_core::RingConfig;

const CAPACITY: u32 = 4096;
const ITEMS: u64 = 1 << 20;
const CHUNK: usize = 64;

/// [`common::two_threads`], each side told how many items to move.
fn two_threads(
    items: u64,
    produce: impl FnOnce(u64) + Send,
    consume: impl FnOnce(u64) + Send,
) -> Duration {
    common::two_threads(move || produce(items), move || consume(items))
}

/// Memory for an interlink ring of `capacity` `u64`s.
fn ring_memory(capacity: u32) -> Memory {
    Memory::new(SpscRing::<u64>::bytes_needed(capacity).unwrap())
}

/// A fresh ring of `capacity` in `mem`, with both ends claimed.
fn interlink_ends(mem: &mut Memory, capacity: u32) -> (Producer<'_, u64>, Consumer<'_, u64>) {
    let ring = SpscRing::<u64>::init(mem.region(), RingConfig::new(capacity)).unwrap();
    (
        ring.producer(Holder::fixed::<1>()).unwrap(),
        ring.consumer(Holder::fixed::<2>()).unwrap(),
    )
}

/// A throughput group moving [`ITEMS`] per iteration, sized for this VM.
fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(ITEMS));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(4));
    g
}

/// One `u64` at a time, every queue driven by the same loop
/// ([`queues::stream`]); once with each [`Idle`] policy. Busy-polling an
/// empty ring steals the line the producer writes its index to on every
/// poll, which can lock the two sides into moving a cache line per
/// element (see the README).
fn single(c: &mut Criterion) {
    for idle in [Idle::Slip, Idle::BusyPoll] {
        let mut g = group(c, &format!("spsc_throughput_u64/single/{}", idle.name()));

        g.bench_function("interlink", |b| {
            common::each_run(b, || {
                let mut mem = ring_memory(CAPACITY);
                let (tx, rx) = interlink_ends(&mut mem, CAPACITY);
                queues::stream(ITEMS, tx, rx, idle)
            })
        });

        if let Idle::Slip = idle {
            // Blocking calls wait by themselves: the idle policy never runs.
            g.bench_function("interlink_send_recv", |b| {
                common::each_run(b, || {
                    let mut mem = ring_memory(CAPACITY);
                    let (tx, rx) = interlink_ends(&mut mem, CAPACITY);
                    queues::stream(ITEMS, Spinning(tx), Spinning(rx), idle)
                })
            });
        }

        g.bench_function("rtrb", |b| {
            common::each_run(b, || {
                let (tx, rx) = rtrb::RingBuffer::<u64>::new(CAPACITY as usize);
                queues::stream(ITEMS, tx, rx, idle)
            })
        });

        g.bench_function("crossbeam_array_queue", |b| {
            common::each_run(b, || {
                let q = crossbeam_queue::ArrayQueue::<u64>::new(CAPACITY as usize);
                queues::stream(ITEMS, &q, &q, idle)
            })
        });

        g.bench_function("heapless_spsc", |b| {
            common::each_run(b, || {
                let mut q: Box<heapless::spsc::Queue<u64, { CAPACITY as usize }>> =
                    Box::new(heapless::spsc::Queue::new());
                let (tx, rx) = q.split();
                queues::stream(ITEMS, tx, rx, idle)
            })
        });
        g.finish();
    }
}

/// Moves [`ITEMS`] in batches of up to [`CHUNK`]: `write(first, max)`
/// fills up to `max` slots in place with `first..` and publishes them,
/// `read(max)` sums up to `max` elements in place and frees them; each
/// returns how many it moved (0: none available, so idle per `idle`).
fn batches(
    idle: Idle,
    mut write: impl FnMut(u64, usize) -> usize + Send,
    mut read: impl FnMut(usize) -> usize + Send,
) -> Duration {
    two_threads(
        ITEMS,
        move |n| {
            let mut sent = 0;
            while sent < n {
                match write(sent, (n - sent).min(CHUNK as u64) as usize) {
                    0 => idle.wait(),
                    k => sent += k as u64,
                }
            }
        },
        move |n| {
            let mut got = 0;
            while got < n {
                match read((n - got).min(CHUNK as u64) as usize) {
                    0 => idle.wait(),
                    k => got += k as u64,
                }
            }
        },
    )
}

/// Fills `slices` with `first, first + 1, ...`.
fn fill(slices: (&mut [u64], &mut [u64]), first: u64) {
    for (slot, v) in slices.0.iter_mut().chain(slices.1.iter_mut()).zip(first..) {
        *slot = v;
    }
}

/// Batches of up to [`CHUNK`] through each ring's zero-copy chunk API:
/// the producer writes every element in place, the consumer reads every
/// element in place (sums them), with the [`Idle::Slip`] loop.
fn batched(c: &mut Criterion) {
    let mut g = group(c, "spsc_throughput_u64/chunk_64");

    g.bench_function("interlink", |b| {
        common::each_run(b, || {
            let mut mem = ring_memory(CAPACITY);
            let (mut tx, mut rx) = interlink_ends(&mut mem, CAPACITY);
            batches(
                Idle::Slip,
                move |first, max| {
                    let n = match tx.reserve(max as u32) {
                        Ok(mut chunk) => {
                            fill(chunk.as_mut_slices(), first);
                            chunk.commit_all();
                            return max;
                        }
                        Err(ChunkError::TooFew { available }) => available,
                        Err(ChunkError::Corrupt) => unreachable!(),
                    };
                    if n > 0 {
                        let mut chunk = tx.reserve(n).unwrap();
                        fill(chunk.as_mut_slices(), first);
                        chunk.commit_all();
                    }
                    n as usize
                },
                move |max| {
                    let sum = |chunk: &interlink_core::spsc::ReadChunk<'_, '_, u64>| {
                        let (a, b) = chunk.as_slices();
                        std::hint::black_box(a.iter().chain(b).sum::<u64>());
                    };
                    let n = match rx.peek(max as u32) {
                        Ok(chunk) => {
                            sum(&chunk);
                            chunk.release_all();
                            return max;
                        }
                        Err(ChunkError::TooFew { available }) => available,
                        Err(ChunkError::Corrupt) => unreachable!(),
                    };
                    if n > 0 {
                        let chunk = rx.peek(n).unwrap();
                        sum(&chunk);
                        chunk.release_all();
                    }
                    n as usize
                },
            )
        })
    });

    g.bench_function("rtrb", |b| {
        common::each_run(b, || {
            let (mut tx, mut rx) = rtrb::RingBuffer::<u64>::new(CAPACITY as usize);
            batches(
                Idle::Slip,
                move |first, max| {
                    let n = max.min(tx.slots());
                    if n == 0 {
                        return 0;
                    }
                    let chunk = tx.write_chunk_uninit(n).unwrap();
                    chunk.fill_from_iter(first..);
                    n
                },
                move |max| {
                    let n = max.min(rx.slots());
                    if n == 0 {
                        return 0;
                    }
                    let chunk = rx.read_chunk(n).unwrap();
                    let (a, b) = chunk.as_slices();
                    std::hint::black_box(a.iter().chain(b).sum::<u64>());
                    chunk.commit_all();
                    n
                },
            )
        })
    });
    g.finish();
}

/// Round trips per exchange.
const ROUNDS: u64 = 10_000;

/// Capacity of each ping-pong ring.
const PING_CAPACITY: u32 = 64;

/// Round trips of one `u64` ([`queues::ping_pong`]): A sends, B echoes, A
/// waits for the echo, both polling at once after a miss. Criterion
/// reports the time per [`ROUNDS`] round trips.
fn ping_pong(c: &mut Criterion) {
    let mut g = c.benchmark_group("spsc_round_trip");
    g.throughput(Throughput::Elements(ROUNDS));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(4));

    g.bench_function("floor/cache_line", |b| {
        common::each_run(b, || queues::one_line(ROUNDS))
    });

    g.bench_function("floor/two_lines", |b| {
        common::each_run(b, || queues::two_lines(ROUNDS))
    });

    g.bench_function("interlink", |b| {
        common::each_run(b, || {
            let (mut m1, mut m2) = (ring_memory(PING_CAPACITY), ring_memory(PING_CAPACITY));
            let ping = interlink_ends(&mut m1, PING_CAPACITY);
            let pong = interlink_ends(&mut m2, PING_CAPACITY);
            queues::ping_pong(ROUNDS, ping, pong)
        })
    });

    g.bench_function("rtrb", |b| {
        common::each_run(b, || {
            let ping = rtrb::RingBuffer::<u64>::new(PING_CAPACITY as usize);
            let pong = rtrb::RingBuffer::<u64>::new(PING_CAPACITY as usize);
            queues::ping_pong(ROUNDS, ping, pong)
        })
    });
    g.finish();
}

criterion_group!(benches, single, batched, ping_pong);
criterion_main!(benches);
