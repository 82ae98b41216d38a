//! SPSC ring: throughput and ping-pong latency between two threads on two
//! cores, against rtrb, crossbeam-queue's `ArrayQueue` and heapless's spsc
//! queue in the same run, and against the floor (a bare cache line passed
//! back and forth).
//!
//! ```text
//! cargo bench -p interlink-core --bench spsc
//! ```

use std::hint::spin_loop;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

mod common;

use common::Memory;
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use interlink_core::blocking::Blocking;
use interlink_core::ring::ChunkError;
use interlink_core::spsc::{Consumer, Producer, SpscRing};
use interlink_core::{RingConfig, Spin};

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

/// What a side does after finding the ring full (producer) or empty
/// (consumer), before it tries again.
#[derive(Clone, Copy)]
enum Idle {
    /// One `spin_loop` hint (about 23 ns here), then poll again.
    BusyPoll,
    /// [`SLIP`] hints (about 370 ns here) before polling again.
    Slip,
}

/// Pause hints a slipping side waits after a failed poll: long enough for
/// the other side to get a few cache lines ahead.
const SLIP: u32 = 16;

impl Idle {
    fn name(self) -> &'static str {
        match self {
            Idle::BusyPoll => "busy_poll",
            Idle::Slip => "slip",
        }
    }

    fn wait(self) {
        let hints = match self {
            Idle::BusyPoll => 1,
            Idle::Slip => SLIP,
        };
        for _ in 0..hints {
            spin_loop();
        }
    }
}

/// Moves [`ITEMS`] one at a time through `push` (false: full) and `pop`
/// (`None`: empty), each side idling per `idle` after a failed attempt.
fn single_items(
    idle: Idle,
    mut push: impl FnMut(u64) -> bool + Send,
    mut pop: impl FnMut() -> Option<u64> + Send,
) -> Duration {
    two_threads(
        ITEMS,
        move |n| {
            for i in 0..n {
                while !push(i) {
                    idle.wait();
                }
            }
        },
        move |n| {
            for _ in 0..n {
                loop {
                    if let Some(v) = pop() {
                        std::hint::black_box(v);
                        break;
                    }
                    idle.wait();
                }
            }
        },
    )
}

/// Memory for an interlink ring of [`CAPACITY`] `u64`s.
fn ring_memory() -> Memory {
    Memory::new(SpscRing::<u64>::bytes_needed(CAPACITY).unwrap())
}

/// A fresh ring of [`CAPACITY`] in `mem`, with both ends claimed.
fn interlink_ends(mem: &mut Memory) -> (Producer<'_, u64>, Consumer<'_, u64>) {
    let ring = SpscRing::<u64>::init(mem.region(), RingConfig::new(CAPACITY)).unwrap();
    (ring.producer(1).unwrap(), ring.consumer(2).unwrap())
}

/// A throughput group moving [`ITEMS`] per iteration, sized for this VM.
fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(ITEMS));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(4));
    g
}

/// One `u64` at a time, every queue driven by the same loop; once with
/// each [`Idle`] policy. Busy-polling an empty ring steals the line the
/// producer writes its index to on every poll, which can lock the two
/// sides into moving a cache line per element (see the README).
fn single(c: &mut Criterion) {
    for idle in [Idle::Slip, Idle::BusyPoll] {
        let mut g = group(c, &format!("spsc_throughput_u64/single/{}", idle.name()));

        g.bench_function("interlink", |b| {
            common::each_run(b, || {
                let mut mem = ring_memory();
                let (mut tx, mut rx) = interlink_ends(&mut mem);
                single_items(
                    idle,
                    move |v| tx.try_push(v).is_ok(),
                    move || rx.try_pop().ok(),
                )
            })
        });

        if let Idle::Slip = idle {
            // The blocking calls with a spinning strategy: they wait by
            // themselves (so the idle policy does not apply) and pay one
            // SeqCst fence per call to check for a parked peer.
            g.bench_function("interlink_send_recv", |b| {
                common::each_run(b, || {
                    let mut mem = ring_memory();
                    let (mut tx, mut rx) = interlink_ends(&mut mem);
                    let spin = Blocking::spinning(Spin::default());
                    single_items(
                        idle,
                        move |v| tx.send(v, &spin, None).is_ok(),
                        move || rx.recv(&spin, None).ok(),
                    )
                })
            });
        }

        g.bench_function("rtrb", |b| {
            common::each_run(b, || {
                let (mut tx, mut rx) = rtrb::RingBuffer::<u64>::new(CAPACITY as usize);
                single_items(idle, move |v| tx.push(v).is_ok(), move || rx.pop().ok())
            })
        });

        g.bench_function("crossbeam_array_queue", |b| {
            common::each_run(b, || {
                let q = crossbeam_queue::ArrayQueue::<u64>::new(CAPACITY as usize);
                let q = &q;
                single_items(idle, move |v| q.push(v).is_ok(), move || q.pop())
            })
        });

        g.bench_function("heapless_spsc", |b| {
            common::each_run(b, || {
                let mut q: Box<heapless::spsc::Queue<u64, { CAPACITY as usize }>> =
                    Box::new(heapless::spsc::Queue::new());
                let (mut tx, mut rx) = q.split();
                single_items(idle, move |v| tx.enqueue(v).is_ok(), move || rx.dequeue())
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
            let mut mem = ring_memory();
            let (mut tx, mut rx) = interlink_ends(&mut mem);
            batches(
                Idle::Slip,
                move |first, max| {
                    let n = match tx.write_chunk(max as u32) {
                        Ok(mut chunk) => {
                            fill(chunk.as_mut_slices(), first);
                            chunk.commit_all();
                            return max;
                        }
                        Err(ChunkError::TooFew { available }) => available,
                        Err(ChunkError::Corrupt) => unreachable!(),
                    };
                    if n > 0 {
                        let mut chunk = tx.write_chunk(n).unwrap();
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
                    let n = match rx.read_chunk(max as u32) {
                        Ok(chunk) => {
                            sum(&chunk);
                            chunk.release_all();
                            return max;
                        }
                        Err(ChunkError::TooFew { available }) => available,
                        Err(ChunkError::Corrupt) => unreachable!(),
                    };
                    if n > 0 {
                        let chunk = rx.read_chunk(n).unwrap();
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

/// [`ROUNDS`] round trips between this thread (A) and another (B): A
/// sends `i` with `ping_send` and waits for the echo with `pong_recv`; B
/// waits for it with `ping_recv` and echoes it with `pong_send`. Both
/// poll at once after a failed receive.
fn round_trips(
    mut ping_send: impl FnMut(u64) + Send,
    mut pong_recv: impl FnMut() -> Option<u64> + Send,
    mut ping_recv: impl FnMut() -> Option<u64> + Send,
    mut pong_send: impl FnMut(u64) + Send,
) -> Duration {
    fn wait(mut recv: impl FnMut() -> Option<u64>) -> u64 {
        loop {
            if let Some(v) = recv() {
                return v;
            }
            spin_loop();
        }
    }
    two_threads(
        ROUNDS,
        move |n| {
            for i in 0..n {
                ping_send(i);
                std::hint::black_box(wait(&mut pong_recv));
            }
        },
        move |n| {
            for _ in 0..n {
                pong_send(wait(&mut ping_recv));
            }
        },
    )
}

/// Round trips per exchange.
const ROUNDS: u64 = 10_000;

/// A cache line of its own.
#[repr(align(128))]
struct Line(AtomicU64);

/// A receive from `line`: `Some` once it holds `*next`, which then advances
/// by `step`.
fn line_recv(line: &AtomicU64, mut next: u64, step: u64) -> impl FnMut() -> Option<u64> + '_ {
    move || {
        let v = line.load(Ordering::Acquire);
        (v == next).then(|| {
            next += step;
            v
        })
    }
}

/// Round trips of one `u64`: A sends, B echoes, A waits for the echo.
/// Criterion reports the time per [`ROUNDS`] round trips.
fn ping_pong(c: &mut Criterion) {
    let mut g = c.benchmark_group("spsc_round_trip");
    g.throughput(Throughput::Elements(ROUNDS));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(4));

    // The floor: one line passed back and forth (A writes odd values, B
    // even ones).
    g.bench_function("floor/cache_line", |b| {
        common::each_run(b, || {
            let ball = Line(AtomicU64::new(0));
            let ball = &ball.0;
            round_trips(
                move |i| ball.store(2 * i + 1, Ordering::Release),
                line_recv(ball, 2, 2),
                line_recv(ball, 1, 2),
                move |v| ball.store(v + 1, Ordering::Release),
            )
        })
    });

    // What any pair of queues must do at least: one line each way.
    g.bench_function("floor/two_lines", |b| {
        common::each_run(b, || {
            let (x, y) = (Line(AtomicU64::new(0)), Line(AtomicU64::new(0)));
            let (x, y) = (&x.0, &y.0);
            round_trips(
                move |i| x.store(i + 1, Ordering::Release),
                line_recv(y, 1, 1),
                line_recv(x, 1, 1),
                move |v| y.store(v, Ordering::Release),
            )
        })
    });

    g.bench_function("interlink", |b| {
        common::each_run(b, || {
            let bytes = SpscRing::<u64>::bytes_needed(64).unwrap();
            let (mut m1, mut m2) = (Memory::new(bytes), Memory::new(bytes));
            let ping = SpscRing::<u64>::init(m1.region(), RingConfig::new(64)).unwrap();
            let pong = SpscRing::<u64>::init(m2.region(), RingConfig::new(64)).unwrap();
            let (mut ping_tx, mut ping_rx) = (ping.producer(1).unwrap(), ping.consumer(2).unwrap());
            let (mut pong_tx, mut pong_rx) = (pong.producer(2).unwrap(), pong.consumer(1).unwrap());
            round_trips(
                move |v| ping_tx.try_push(v).unwrap(),
                move || pong_rx.try_pop().ok(),
                move || ping_rx.try_pop().ok(),
                move |v| pong_tx.try_push(v).unwrap(),
            )
        })
    });

    g.bench_function("rtrb", |b| {
        common::each_run(b, || {
            let (mut ping_tx, mut ping_rx) = rtrb::RingBuffer::<u64>::new(64);
            let (mut pong_tx, mut pong_rx) = rtrb::RingBuffer::<u64>::new(64);
            round_trips(
                move |v| ping_tx.push(v).unwrap(),
                move || pong_rx.pop().ok(),
                move || ping_rx.pop().ok(),
                move |v| pong_tx.push(v).unwrap(),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, single, batched, ping_pong);
criterion_main!(benches);
