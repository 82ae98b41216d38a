//! One writer to many readers: 1, 2 and 4 reader threads, every reader
//! getting every message, 8-byte messages (a `u64`), in one process,
//! against
//! - the fan-out ring (lossless: the writer waits for the slowest reader);
//! - the `bus` crate, the lock-free SPMC broadcast channel issue 15 names as
//!   the peer (lossless too: `try_broadcast` fails while the slowest reader
//!   is a lap behind);
//! - the broadcast ring, **lossy** (its writer never waits: a reader that
//!   falls a lap behind skips ahead and counts what it missed). Its rate is
//!   the writer's; the bench prints, after its rows, the share of the
//!   messages the readers actually received;
//! - the broadcast ring, **paced**: the same ring, the bench's writer
//!   holding itself back to half the buffer ahead of the slowest reader,
//!   which publishes its count in a line of its own after every message.
//!   Lossless by construction (checked): the broadcast ring used where
//!   nothing may be lost, as a user without the fan-out ring would.
//!
//! Criterion measures each contender in turn; then every contender runs
//! again in interleaved rounds, and the bench prints quartiles of the time
//! per message and of each one's ratio to `bus` within a round.
//!
//! Every contender carries the same count of messages per run to every
//! reader, with rings of the same number of messages; a side that finds
//! the ring full or empty spins briefly, then yields, so that more threads
//! than cores still make progress (the reference machine has 2). The time
//! runs from the moment every reader is running to the last reader done.
//!
//! ```text
//! cargo bench -p interlink-core --bench broadcast -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::{black_box, spin_loop};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod common;

use common::Memory;
use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use interlink_core::broadcast::{self, BroadcastRing, Start};
use interlink_core::fanout::FanoutRing;
use interlink_core::{Holder, RecvError, RingConfig, SendError};

/// Messages per measured run, each to every reader.
const MESSAGES: u64 = 100_000;
/// Ring capacity in messages, for every contender.
const SLOTS: u32 = 4096;
/// Bytes of one broadcast record carrying a `u64`.
const RECORD: u32 = match broadcast::record_size(8) {
    Some(n) => n,
    None => panic!("record size"),
};
/// The broadcast ring's capacity in bytes: [`SLOTS`] records.
const BROADCAST_BYTES: u32 = SLOTS * RECORD;
/// How far the paced writer may run ahead of the slowest reader: half the
/// ring, so no record a reader still needs is ever overwritten.
const PACE: u64 = SLOTS as u64 / 2;
/// Reader counts measured.
const READERS: [usize; 3] = [1, 2, 4];
/// One contender: a run with this many readers, timed.
type Run = fn(usize) -> Duration;

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

/// A counter on a cache line of its own.
#[repr(align(128))]
struct Line(AtomicU64);

/// Runs one thread per reader (each calling `read` with its reader) while
/// this thread runs `write`; returns the time from the moment every reader
/// is running to the end of all.
fn fan_out<R: Send>(
    readers: Vec<R>,
    read: impl Fn(usize, R) + Sync,
    write: impl FnOnce(),
) -> Duration {
    let count = readers.len();
    let ready = AtomicUsize::new(0);
    let go = AtomicBool::new(false);
    std::thread::scope(|s| {
        let handles: Vec<_> = readers
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let (ready, go, read) = (&ready, &go, &read);
                s.spawn(move || {
                    ready.fetch_add(1, Ordering::AcqRel);
                    let mut backoff = Backoff::new();
                    while !go.load(Ordering::Acquire) {
                        backoff.snooze();
                    }
                    read(i, r);
                })
            })
            .collect();
        let mut backoff = Backoff::new();
        while ready.load(Ordering::Acquire) < count {
            backoff.snooze();
        }
        let start = Instant::now();
        go.store(true, Ordering::Release);
        write();
        for h in handles {
            h.join().unwrap();
        }
        start.elapsed()
    })
}

/// The fan-out ring: one subscriber per reader thread.
fn fanout(readers: usize) -> Duration {
    let mut mem = Memory::new(FanoutRing::<u64>::bytes_needed(SLOTS).unwrap());
    let ring = FanoutRing::<u64>::init(mem.region(), RingConfig::new(SLOTS)).unwrap();
    let mut tx = ring.writer(Holder::fixed::<1000>()).unwrap();
    let subs = (0..readers)
        .map(|i| {
            ring.subscribe(Holder::new(i as u32 + 1).unwrap(), |_| true)
                .unwrap()
        })
        .collect();
    fan_out(
        subs,
        |_, mut rx| {
            for i in 0..MESSAGES {
                let mut backoff = Backoff::new();
                loop {
                    match rx.try_recv() {
                        Ok(v) => {
                            assert_eq!(v, i);
                            break;
                        }
                        Err(RecvError::Empty) => backoff.snooze(),
                        Err(e) => panic!("recv: {e:?}"),
                    }
                }
            }
        },
        || {
            for i in 0..MESSAGES {
                let mut backoff = Backoff::new();
                loop {
                    match tx.try_send(i) {
                        Ok(()) => break,
                        Err(SendError::Full) => backoff.snooze(),
                        Err(e) => panic!("send: {e:?}"),
                    }
                }
            }
        },
    )
}

/// The `bus` crate: one `BusReader` per reader thread.
fn bus(readers: usize) -> Duration {
    let mut tx = bus::Bus::<u64>::new(SLOTS as usize);
    let rxs = (0..readers).map(|_| tx.add_rx()).collect();
    fan_out(
        rxs,
        |_, mut rx| {
            for i in 0..MESSAGES {
                let mut backoff = Backoff::new();
                loop {
                    match rx.try_recv() {
                        Ok(v) => {
                            assert_eq!(v, i);
                            break;
                        }
                        Err(std::sync::mpsc::TryRecvError::Empty) => backoff.snooze(),
                        Err(e) => panic!("recv: {e:?}"),
                    }
                }
            }
        },
        || {
            for i in 0..MESSAGES {
                let mut backoff = Backoff::new();
                let mut v = i;
                while let Err(back) = tx.try_broadcast(v) {
                    v = back;
                    backoff.snooze();
                }
            }
        },
    )
}

/// Records received and missed by the lossy broadcast runs so far, over
/// all readers, and the records they were sent.
static LOSSY: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];

/// The broadcast ring, with `pace`: the writer holds itself to [`PACE`]
/// records ahead of the slowest reader's published count. Without it, the
/// readers count what they receive and miss into [`LOSSY`].
fn broadcast_ring(readers: usize, pace: bool) -> Duration {
    let mut mem = Memory::new(BroadcastRing::bytes_needed(BROADCAST_BYTES).unwrap());
    let ring = BroadcastRing::init(mem.region(), RingConfig::new(BROADCAST_BYTES)).unwrap();
    let mut tx = ring.writer(Holder::fixed::<1000>()).unwrap();
    let rxs = (0..readers).map(|_| ring.reader(Start::Next)).collect();
    let done: Vec<Line> = (0..readers).map(|_| Line(AtomicU64::new(0))).collect();
    let done = &done;
    fan_out(
        rxs,
        |k, mut rx: broadcast::Reader<'_>| {
            let mut buf = [0u8; 8];
            let (mut got, mut missed) = (0u64, 0u64);
            while got + missed < MESSAGES {
                let mut backoff = Backoff::new();
                loop {
                    match rx.try_recv(&mut buf) {
                        Ok((_, 8)) => {
                            got += 1;
                            break;
                        }
                        Ok((_, len)) => panic!("a record of {len} bytes"),
                        Err(RecvError::Lapped { missed: m }) => {
                            missed += m;
                            break;
                        }
                        Err(RecvError::Empty) => backoff.snooze(),
                        Err(e) => panic!("recv: {e:?}"),
                    }
                }
                if pace {
                    done[k].0.store(got + missed, Ordering::Release);
                }
            }
            black_box(buf);
            if pace {
                assert_eq!(missed, 0, "a paced reader was lapped");
            } else {
                LOSSY[0].fetch_add(got, Ordering::Relaxed);
                LOSSY[1].fetch_add(missed, Ordering::Relaxed);
                LOSSY[2].fetch_add(MESSAGES, Ordering::Relaxed);
            }
        },
        || {
            // What the slowest reader had done at the last look.
            let mut slowest = 0;
            for i in 0..MESSAGES {
                if pace && i >= slowest + PACE {
                    let mut backoff = Backoff::new();
                    loop {
                        slowest = done
                            .iter()
                            .map(|d| d.0.load(Ordering::Acquire))
                            .min()
                            .unwrap();
                        if i < slowest + PACE {
                            break;
                        }
                        backoff.snooze();
                    }
                }
                tx.try_send(0, &i.to_le_bytes()).unwrap();
            }
        },
    )
}

fn broadcast_lossy(readers: usize) -> Duration {
    broadcast_ring(readers, false)
}

fn broadcast_paced(readers: usize) -> Duration {
    broadcast_ring(readers, true)
}

/// Every contender, in the order measured.
const CONTENDERS: [(&str, Run); 4] = [
    ("fan-out ring", fanout),
    ("bus", bus),
    ("broadcast ring, paced", broadcast_paced),
    ("broadcast ring, lossy", broadcast_lossy),
];

/// Prints what the lossy runs received since the last call, if any ran.
fn report_lossy(readers: usize) {
    let [got, missed, sent] = LOSSY.each_ref().map(|a| a.swap(0, Ordering::Relaxed));
    if sent > 0 {
        println!(
            "broadcast ring, lossy, {readers} reader(s): received {:.1} % of the messages \
             ({got} received + {missed} missed = {} of {sent} sent, over all readers and runs)",
            100.0 * got as f64 / sent as f64,
            got + missed,
        );
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("one_to_many u64");
    group.sample_size(10);
    for readers in READERS {
        group.throughput(Throughput::Elements(MESSAGES));
        for (name, run) in CONTENDERS {
            group.bench_with_input(BenchmarkId::new(name, readers), &readers, |b, &r| {
                common::each_run(b, || run(r))
            });
        }
        report_lossy(readers);
    }
    group.finish();
}

criterion_group!(benches, bench);

/// After criterion's rows: `rounds` rounds of every contender in turn at
/// each reader count, with the quartiles of each one's time per message
/// and of the ratios to `bus` taken *within* a round (when all ran in the
/// same state of a machine whose cost of moving a cache line drifts; see
/// `spsc_interleaved.rs`).
fn interleaved(rounds: usize) {
    for readers in READERS {
        let mut times = vec![Vec::with_capacity(rounds); CONTENDERS.len()];
        for _ in 0..rounds {
            for (k, (_, run)) in CONTENDERS.iter().enumerate() {
                times[k].push(run(readers).as_secs_f64() * 1e9 / MESSAGES as f64);
            }
        }
        println!(
            "1 writer -> {readers} reader(s), ns per message ({rounds} interleaved rounds; \
             quartiles 25 % / 50 % / 75 %)"
        );
        for (k, (name, _)) in CONTENDERS.iter().enumerate() {
            let [a, b, c] = quartiles(times[k].clone());
            println!("  {name:<28} {a:>9.2} {b:>9.2} {c:>9.2}");
        }
        println!("  time ratios to bus within a round (below 1: faster than bus)");
        let bus = CONTENDERS.iter().position(|(n, _)| *n == "bus").unwrap();
        for (k, (name, _)) in CONTENDERS.iter().enumerate().filter(|&(k, _)| k != bus) {
            let r = times[k]
                .iter()
                .zip(&times[bus])
                .map(|(x, y)| x / y)
                .collect();
            let [q1, q2, q3] = quartiles(r);
            println!(
                "  {:<40} {q1:>6.3} {q2:>6.3} {q3:>6.3}",
                format!("{name} / bus")
            );
        }
        report_lossy(readers);
    }
}

fn quartiles(mut v: Vec<f64>) -> [f64; 3] {
    v.sort_by(f64::total_cmp);
    [v[v.len() / 4], v[v.len() / 2], v[3 * v.len() / 4]]
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // `cargo test --benches` runs every bench without `--bench`: one
    // round then, as a smoke test. `--quick` (criterion's) asks for a few.
    let args: Vec<String> = std::env::args().collect();
    let rounds = if !args.iter().any(|a| a == "--bench") {
        1
    } else if args.iter().any(|a| a == "--quick") {
        5
    } else {
        30
    };
    interleaved(rounds);
}
