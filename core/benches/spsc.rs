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
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use interlink_core::spsc::SpscRing;
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

fn interlink_ring(mem: &mut Memory) -> SpscRing<'_, u64> {
    SpscRing::<u64>::init(mem.region(), RingConfig::new(CAPACITY)).unwrap()
}

fn throughput(c: &mut Criterion) {
    let mut g = c.benchmark_group("spsc_throughput_u64");
    g.throughput(Throughput::Elements(ITEMS));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(4));

    g.bench_function("interlink/single", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let mut mem = Memory::new(SpscRing::<u64>::bytes_needed(CAPACITY).unwrap());
                    let ring = interlink_ring(&mut mem);
                    let (mut tx, mut rx) = (ring.producer(1).unwrap(), ring.consumer(2).unwrap());
                    two_threads(
                        ITEMS,
                        move |n| {
                            for i in 0..n {
                                while tx.try_push(i).is_err() {
                                    spin_loop();
                                }
                            }
                        },
                        move |n| {
                            for _ in 0..n {
                                loop {
                                    if let Ok(v) = rx.try_pop() {
                                        std::hint::black_box(v);
                                        break;
                                    }
                                    spin_loop();
                                }
                            }
                        },
                    )
                })
                .sum()
        })
    });

    g.bench_function(BenchmarkId::new("interlink/chunk", CHUNK), |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let mut mem = Memory::new(SpscRing::<u64>::bytes_needed(CAPACITY).unwrap());
                    let ring = interlink_ring(&mut mem);
                    let (mut tx, mut rx) = (ring.producer(1).unwrap(), ring.consumer(2).unwrap());
                    two_threads(
                        ITEMS,
                        move |n| {
                            let batch: Vec<u64> = (0..CHUNK as u64).collect();
                            let mut sent = 0;
                            while sent < n {
                                let want = (n - sent).min(CHUNK as u64) as usize;
                                sent += tx.push_slice(&batch[..want]).unwrap() as u64;
                            }
                        },
                        move |n| {
                            let mut out = [0u64; CHUNK];
                            let mut got = 0;
                            while got < n {
                                got += rx.pop_into(&mut out).unwrap() as u64;
                                std::hint::black_box(&out);
                            }
                        },
                    )
                })
                .sum()
        })
    });

    g.bench_function("rtrb/single", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let (mut tx, mut rx) = rtrb::RingBuffer::<u64>::new(CAPACITY as usize);
                    two_threads(
                        ITEMS,
                        move |n| {
                            for i in 0..n {
                                while tx.push(i).is_err() {
                                    spin_loop();
                                }
                            }
                        },
                        move |n| {
                            for _ in 0..n {
                                loop {
                                    if let Ok(v) = rx.pop() {
                                        std::hint::black_box(v);
                                        break;
                                    }
                                    spin_loop();
                                }
                            }
                        },
                    )
                })
                .sum()
        })
    });

    g.bench_function(BenchmarkId::new("rtrb/chunk", CHUNK), |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let (mut tx, mut rx) = rtrb::RingBuffer::<u64>::new(CAPACITY as usize);
                    two_threads(
                        ITEMS,
                        move |n| {
                            let mut sent = 0;
                            while sent < n {
                                let want = (n - sent).min(CHUNK as u64) as usize;
                                let want = want.min(tx.slots());
                                if want == 0 {
                                    spin_loop();
                                    continue;
                                }
                                let chunk = tx.write_chunk_uninit(want).unwrap();
                                chunk.fill_from_iter(sent..);
                                sent += want as u64;
                            }
                        },
                        move |n| {
                            let mut got = 0;
                            while got < n {
                                let want = rx.slots().min(CHUNK);
                                if want == 0 {
                                    spin_loop();
                                    continue;
                                }
                                let chunk = rx.read_chunk(want).unwrap();
                                let (a, b) = chunk.as_slices();
                                std::hint::black_box((a, b));
                                chunk.commit_all();
                                got += want as u64;
                            }
                        },
                    )
                })
                .sum()
        })
    });

    g.bench_function("crossbeam_array_queue", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let q = crossbeam_queue::ArrayQueue::<u64>::new(CAPACITY as usize);
                    let q = &q;
                    two_threads(
                        ITEMS,
                        move |n| {
                            for i in 0..n {
                                while q.push(i).is_err() {
                                    spin_loop();
                                }
                            }
                        },
                        move |n| {
                            for _ in 0..n {
                                loop {
                                    if let Some(v) = q.pop() {
                                        std::hint::black_box(v);
                                        break;
                                    }
                                    spin_loop();
                                }
                            }
                        },
                    )
                })
                .sum()
        })
    });

    g.bench_function("heapless_spsc", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let mut q: Box<heapless::spsc::Queue<u64, { CAPACITY as usize }>> =
                        Box::new(heapless::spsc::Queue::new());
                    let (mut tx, mut rx) = q.split();
                    two_threads(
                        ITEMS,
                        move |n| {
                            for i in 0..n {
                                while tx.enqueue(i).is_err() {
                                    spin_loop();
                                }
                            }
                        },
                        move |n| {
                            for _ in 0..n {
                                loop {
                                    if let Some(v) = rx.dequeue() {
                                        std::hint::black_box(v);
                                        break;
                                    }
                                    spin_loop();
                                }
                            }
                        },
                    )
                })
                .sum()
        })
    });
    g.finish();
}

/// Round trips of one `u64`: A sends, B echoes, A waits for the echo.
/// Criterion reports the time per round trip; one-way latency is half.
fn ping_pong(c: &mut Criterion) {
    const ROUNDS: u64 = 10_000;
    let mut g = c.benchmark_group("spsc_round_trip");
    g.throughput(Throughput::Elements(ROUNDS));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(4));

    g.bench_function("floor/cache_line", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    #[repr(align(128))]
                    struct Padded(AtomicU64);
                    let ball = Padded(AtomicU64::new(0));
                    let ball = &ball.0;
                    two_threads(
                        ROUNDS,
                        move |n| {
                            for i in 0..n {
                                ball.store(2 * i + 1, Ordering::Release);
                                while ball.load(Ordering::Acquire) != 2 * i + 2 {
                                    spin_loop();
                                }
                            }
                        },
                        move |n| {
                            for i in 0..n {
                                while ball.load(Ordering::Acquire) != 2 * i + 1 {
                                    spin_loop();
                                }
                                ball.store(2 * i + 2, Ordering::Release);
                            }
                        },
                    )
                })
                .sum()
        })
    });

    g.bench_function("interlink", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let bytes = SpscRing::<u64>::bytes_needed(64).unwrap();
                    let (mut m1, mut m2) = (Memory::new(bytes), Memory::new(bytes));
                    let ping = SpscRing::<u64>::init(m1.region(), RingConfig::new(64)).unwrap();
                    let pong = SpscRing::<u64>::init(m2.region(), RingConfig::new(64)).unwrap();
                    let (mut ping_tx, mut ping_rx) =
                        (ping.producer(1).unwrap(), ping.consumer(2).unwrap());
                    let (mut pong_tx, mut pong_rx) =
                        (pong.producer(2).unwrap(), pong.consumer(1).unwrap());
                    two_threads(
                        ROUNDS,
                        move |n| {
                            for i in 0..n {
                                ping_tx.try_push(i).unwrap();
                                while pong_rx.try_pop().is_err() {
                                    spin_loop();
                                }
                            }
                        },
                        move |n| {
                            for _ in 0..n {
                                let v = loop {
                                    if let Ok(v) = ping_rx.try_pop() {
                                        break v;
                                    }
                                    spin_loop();
                                };
                                pong_tx.try_push(v).unwrap();
                            }
                        },
                    )
                })
                .sum()
        })
    });

    g.bench_function("rtrb", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let (mut ping_tx, mut ping_rx) = rtrb::RingBuffer::<u64>::new(64);
                    let (mut pong_tx, mut pong_rx) = rtrb::RingBuffer::<u64>::new(64);
                    two_threads(
                        ROUNDS,
                        move |n| {
                            for i in 0..n {
                                ping_tx.push(i).unwrap();
                                while pong_rx.pop().is_err() {
                                    spin_loop();
                                }
                            }
                        },
                        move |n| {
                            for _ in 0..n {
                                let v = loop {
                                    if let Ok(v) = ping_rx.pop() {
                                        break v;
                                    }
                                    spin_loop();
                                };
                                pong_tx.push(v).unwrap();
                            }
                        },
                    )
                })
                .sum()
        })
    });
    g.finish();
}

criterion_group!(benches, throughput, ping_pong);
criterion_main!(benches);
