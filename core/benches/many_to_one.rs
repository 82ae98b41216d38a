//! Many-to-one: 1, 2 and 4 producer threads sending 64-byte and 1 KiB
//! messages to one consumer thread (the bench's main thread), in one
//! process, the many-to-one ring against
//! - a byte ring whose one producer handle is shared behind a
//!   `std::sync::Mutex` (the simple way to let several threads send into
//!   a single-producer ring);
//! - crossbeam-channel's bounded channel of `[u8; LEN]`, blocking `send`
//!   and `recv`;
//! - a Unix datagram socket: the consumer's socket bound to an abstract
//!   address, each producer with a socket of its own sending to it
//!   (blocking `send_to` while the receive queue is full, blocking `recv`):
//!   what processes without shared memory would use.
//!
//! Every contender carries the same count of messages per run, split
//! evenly among the producers; waiting sides spin briefly, then yield, so
//! that more threads than cores still make progress (the reference machine
//! has 2). The time runs from the moment every producer is running to the
//! last message received.
//!
//! ```text
//! cargo bench -p interlink-core --bench many_to_one -- --warm-up-time 1 --measurement-time 3
//! cargo bench -p interlink-core --bench many_to_one -- '1 KiB/.*/4'   # one row group
//! ```
//!
//! Criterion names the rows `many_to_one SIZE/CONTENDER/PRODUCERS`; the
//! numbers go to `docs/many-to-one.md` (see there).

use std::hint::{black_box, spin_loop};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

mod common;

use common::Memory;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use interlink_core::bytes::ByteRing;
use interlink_core::many_to_one::ManyToOneRing;
use interlink_core::{Holder, RecvError, RingConfig, SendError};

/// Messages per measured run, split among the producers.
const MESSAGES: usize = 60_000;
/// Ring capacity in bytes, for both rings: 1 MiB.
const CAPACITY: u32 = 1 << 20;
/// One contender: a run with this many producers, timed.
type Run = fn(usize) -> Duration;

/// Producer counts measured.
const PRODUCERS: [usize; 3] = [1, 2, 4];

/// Spins a little, then yields: more threads than cores must not starve
/// the one that would let a waiter go on.
struct Backoff(u32);

impl Backoff {
    fn new() -> Self {
        Self(0)
    }
    fn snooze(&mut self) {
        if self.0 < 64 {
            self.0 += 1;
            spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

/// Runs `producers` threads, each calling `produce(i, count)` with its
/// index and share of the messages, while this thread runs `consume`;
/// returns the time from the moment all producers are running to the end
/// of both sides.
fn many_threads<P>(producers: usize, produce: P, consume: impl FnOnce()) -> Duration
where
    P: Fn(usize, usize) + Sync,
{
    let ready = AtomicUsize::new(0);
    let go = AtomicBool::new(false);
    std::thread::scope(|s| {
        let share = MESSAGES / producers;
        for i in 0..producers {
            let (ready, go, produce) = (&ready, &go, &produce);
            s.spawn(move || {
                ready.fetch_add(1, Ordering::AcqRel);
                let mut backoff = Backoff::new();
                while !go.load(Ordering::Acquire) {
                    backoff.snooze();
                }
                produce(i, share);
            });
        }
        let mut backoff = Backoff::new();
        while ready.load(Ordering::Acquire) < producers {
            backoff.snooze();
        }
        let start = Instant::now();
        go.store(true, Ordering::Release);
        consume();
        // The scope joins the producers, which are done once everything
        // was received.
        start.elapsed()
    })
}

/// Messages received in a run (every producer's share).
fn total(producers: usize) -> usize {
    MESSAGES / producers * producers
}

/// The many-to-one ring: each producer thread has its own handle.
fn many_to_one_ring<const LEN: usize>(producers: usize) -> Duration {
    let mut mem = Memory::new(ManyToOneRing::bytes_needed(CAPACITY).unwrap());
    let ring = ManyToOneRing::init(mem.region(), RingConfig::new(CAPACITY)).unwrap();
    let mut rx = ring.consumer(Holder::fixed::<1000>()).unwrap();
    let n = total(producers);
    many_threads(
        producers,
        |i, count| {
            let mut tx = ring.producer(Holder::new(i as u32 + 1).unwrap());
            let msg = [i as u8; LEN];
            for _ in 0..count {
                let mut backoff = Backoff::new();
                loop {
                    match tx.try_send(0, &msg) {
                        Ok(()) => break,
                        Err(SendError::Full) => backoff.snooze(),
                        Err(e) => panic!("send: {e:?}"),
                    }
                }
            }
        },
        || {
            let mut buf = [0u8; LEN];
            for _ in 0..n {
                let mut backoff = Backoff::new();
                loop {
                    match rx.try_recv(&mut buf) {
                        Ok((_, len)) => {
                            assert_eq!(len, LEN);
                            break;
                        }
                        // Stalled: a producer thread was descheduled between
                        // claim and commit; it will come back.
                        Err(RecvError::Empty | RecvError::Stalled { .. }) => backoff.snooze(),
                        Err(e) => panic!("recv: {e:?}"),
                    }
                }
            }
            black_box(&buf);
        },
    )
}

/// A byte ring whose single producer handle the producer threads take
/// turns on through a mutex (released while waiting for room).
fn mutex_byte_ring<const LEN: usize>(producers: usize) -> Duration {
    let mut mem = Memory::new(ByteRing::bytes_needed(CAPACITY).unwrap());
    let ring = ByteRing::init(mem.region(), RingConfig::new(CAPACITY)).unwrap();
    let tx = Mutex::new(ring.producer(Holder::fixed::<1>()).unwrap());
    let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
    let n = total(producers);
    many_threads(
        producers,
        |i, count| {
            let msg = [i as u8; LEN];
            for _ in 0..count {
                let mut backoff = Backoff::new();
                loop {
                    let sent = tx.lock().unwrap().try_send(0, &msg);
                    match sent {
                        Ok(()) => break,
                        Err(SendError::Full) => backoff.snooze(),
                        Err(e) => panic!("send: {e:?}"),
                    }
                }
            }
        },
        || {
            let mut buf = [0u8; LEN];
            for _ in 0..n {
                let mut backoff = Backoff::new();
                loop {
                    match rx.try_recv(&mut buf) {
                        Ok((_, len)) => {
                            assert_eq!(len, LEN);
                            break;
                        }
                        Err(RecvError::Empty) => backoff.snooze(),
                        Err(e) => panic!("recv: {e:?}"),
                    }
                }
            }
            black_box(&buf);
        },
    )
}

/// crossbeam-channel, bounded to as many messages as fit the rings' bytes.
fn crossbeam<const LEN: usize>(producers: usize) -> Duration {
    let (tx, rx) = crossbeam_channel::bounded::<[u8; LEN]>(CAPACITY as usize / LEN);
    let n = total(producers);
    many_threads(
        producers,
        |i, count| {
            let tx = tx.clone();
            for _ in 0..count {
                tx.send([i as u8; LEN]).unwrap();
            }
        },
        || {
            for _ in 0..n {
                black_box(rx.recv().unwrap());
            }
        },
    )
}

/// A Unix datagram socket: the consumer's socket bound to an abstract
/// address (unique to this run), each producer thread with a socket of its
/// own sending to that address.
fn unix_datagram<const LEN: usize>(producers: usize) -> Duration {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "interlink-bench-m2o-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).expect("an abstract address");
    let rx = UnixDatagram::bind_addr(&addr).expect("bind the consumer's socket");
    let n = total(producers);
    many_threads(
        producers,
        |i, count| {
            let tx = UnixDatagram::unbound().expect("a producer's socket");
            let msg = [i as u8; LEN];
            for _ in 0..count {
                // Blocks while the consumer's receive queue is full.
                let sent = tx.send_to_addr(&msg, &addr).expect("send");
                assert_eq!(sent, LEN);
            }
        },
        || {
            let mut buf = [0u8; LEN];
            for _ in 0..n {
                let len = rx.recv(&mut buf).expect("recv");
                assert_eq!(len, LEN);
            }
            black_box(&buf);
        },
    )
}

/// One group of rows: every contender with 1, 2 and 4 producers, messages
/// of `LEN` bytes.
fn group<const LEN: usize>(c: &mut Criterion, size: &str) {
    let mut group = c.benchmark_group(format!("many_to_one {size}"));
    group.sample_size(10);
    for producers in PRODUCERS {
        group.throughput(Throughput::Elements(total(producers) as u64));
        let contenders: [(&str, Run); 4] = [
            ("many-to-one ring", many_to_one_ring::<LEN>),
            ("byte ring + Mutex", mutex_byte_ring::<LEN>),
            ("crossbeam-channel", crossbeam::<LEN>),
            ("unix datagram", unix_datagram::<LEN>),
        ];
        for (name, run) in contenders {
            group.bench_with_input(BenchmarkId::new(name, producers), &producers, |b, &p| {
                common::each_run(b, || run(p))
            });
        }
    }
    group.finish();
}

fn bench(c: &mut Criterion) {
    group::<64>(c, "64 B");
    group::<1024>(c, "1 KiB");
}

criterion_group!(benches, bench);
criterion_main!(benches);
