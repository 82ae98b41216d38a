//! SPSC ring against rtrb and the cache-line floors, in interleaved rounds.
//!
//! Criterion measures one function for a few seconds, then the next. On a
//! machine whose cost of moving a cache line between cores changes every
//! few seconds (the VM the README's numbers come from switches between
//! about 50 ns and 450 ns per round trip of a bare line), two functions
//! measured one after the other can land in different states, and their
//! ratio says more about the machine than about the code. This bench runs
//! one short round of every contender in turn, many times over, and
//! reports quartiles of each one's time and of the ratios taken *within*
//! a round, when all ran in the same state.
//!
//! Each contender's loop is its own monomorphic function, with the queue's
//! ends in its locals: the shape a user's loop has.
//!
//! ```text
//! cargo bench -p interlink-core --bench spsc_interleaved
//! ```

use std::hint::{black_box, spin_loop};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

mod common;

use common::{two_threads, Memory};
use interlink_core::spsc::{Consumer, Producer, SpscRing};
use interlink_core::RingConfig;

/// A queue's sending end.
trait Tx: Send {
    /// Sends `v`; false if the queue is full.
    fn send(&mut self, v: u64) -> bool;
}

/// A queue's receiving end.
trait Rx: Send {
    /// The next element, or `None` if the queue is empty.
    fn recv(&mut self) -> Option<u64>;
}

impl Tx for Producer<'_, u64> {
    #[inline(always)]
    fn send(&mut self, v: u64) -> bool {
        self.try_push(v).is_ok()
    }
}

impl Rx for Consumer<'_, u64> {
    #[inline(always)]
    fn recv(&mut self) -> Option<u64> {
        self.try_pop().ok()
    }
}

impl Tx for rtrb::Producer<u64> {
    #[inline(always)]
    fn send(&mut self, v: u64) -> bool {
        self.push(v).is_ok()
    }
}

impl Rx for rtrb::Consumer<u64> {
    #[inline(always)]
    fn recv(&mut self) -> Option<u64> {
        self.pop().ok()
    }
}

/// Elements per streaming round.
const ITEMS: u64 = 1 << 20;
/// Capacity of the streaming rings.
const CAPACITY: u32 = 4096;
/// Round trips per ping-pong round.
const ROUNDS: u64 = 10_000;
/// Capacity of the ping-pong rings.
const PING_CAPACITY: u32 = 64;

/// Pause hints after a failed attempt: 1 polls again at once, 16 (about
/// 370 ns here) lets the other side get a few lines ahead (see `spsc.rs`).
const BUSY_POLL: u32 = 1;
const SLIP: u32 = 16;

fn idle(hints: u32) {
    for _ in 0..hints {
        spin_loop();
    }
}

/// Streams [`ITEMS`] from `tx` to `rx`, each side idling `hints` pause
/// hints after a failed attempt.
#[inline(never)]
fn stream(mut tx: impl Tx, mut rx: impl Rx, hints: u32) -> Duration {
    two_threads(
        move || {
            for i in 0..ITEMS {
                while !tx.send(i) {
                    idle(hints);
                }
            }
        },
        move || {
            for _ in 0..ITEMS {
                loop {
                    if let Some(v) = rx.recv() {
                        black_box(v);
                        break;
                    }
                    idle(hints);
                }
            }
        },
    )
}

/// [`ROUNDS`] round trips: this thread sends on `ping` and waits for the
/// echo on `pong`; the other echoes.
#[inline(never)]
fn ping_pong(
    mut ping_tx: impl Tx,
    mut ping_rx: impl Rx,
    mut pong_tx: impl Tx,
    mut pong_rx: impl Rx,
) -> Duration {
    two_threads(
        move || {
            for i in 0..ROUNDS {
                assert!(ping_tx.send(i));
                loop {
                    if let Some(v) = pong_rx.recv() {
                        black_box(v);
                        break;
                    }
                    spin_loop();
                }
            }
        },
        move || {
            for _ in 0..ROUNDS {
                let v = loop {
                    if let Some(v) = ping_rx.recv() {
                        break v;
                    }
                    spin_loop();
                };
                assert!(pong_tx.send(v));
            }
        },
    )
}

/// A cache line of its own.
#[repr(align(128))]
struct Line(AtomicU64);

/// Waits until `line` holds `v`.
fn wait_for(line: &AtomicU64, v: u64) {
    while line.load(Ordering::Acquire) != v {
        spin_loop();
    }
}

/// The floor: [`ROUNDS`] round trips of one line (this thread writes odd
/// values, the other even ones).
#[inline(never)]
fn one_line() -> Duration {
    let ball = Line(AtomicU64::new(0));
    let ball = &ball.0;
    two_threads(
        move || {
            for i in 0..ROUNDS {
                ball.store(2 * i + 1, Ordering::Release);
                wait_for(ball, 2 * i + 2);
            }
        },
        move || {
            for i in 0..ROUNDS {
                wait_for(ball, 2 * i + 1);
                ball.store(2 * i + 2, Ordering::Release);
            }
        },
    )
}

/// What any pair of queues needs at least: one line each way.
#[inline(never)]
fn two_lines() -> Duration {
    let (x, y) = (Line(AtomicU64::new(0)), Line(AtomicU64::new(0)));
    let (x, y) = (&x.0, &y.0);
    two_threads(
        move || {
            for i in 1..=ROUNDS {
                x.store(i, Ordering::Release);
                wait_for(y, i);
            }
        },
        move || {
            for i in 1..=ROUNDS {
                wait_for(x, i);
                y.store(i, Ordering::Release);
            }
        },
    )
}

/// Runs `f` with a fresh interlink ring of `capacity` and both its ends.
fn with_interlink<R>(
    capacity: u32,
    f: impl FnOnce(Producer<'_, u64>, Consumer<'_, u64>) -> R,
) -> R {
    let mut mem = Memory::new(SpscRing::<u64>::bytes_needed(capacity).unwrap());
    let ring = SpscRing::<u64>::init(mem.region(), RingConfig::new(capacity)).unwrap();
    f(ring.producer(1).unwrap(), ring.consumer(2).unwrap())
}

fn interlink_stream(hints: u32) -> Duration {
    with_interlink(CAPACITY, |tx, rx| stream(tx, rx, hints))
}

fn rtrb_stream(hints: u32) -> Duration {
    let (tx, rx) = rtrb::RingBuffer::new(CAPACITY as usize);
    stream(tx, rx, hints)
}

fn interlink_ping_pong() -> Duration {
    with_interlink(PING_CAPACITY, |ping_tx, ping_rx| {
        with_interlink(PING_CAPACITY, |pong_tx, pong_rx| {
            ping_pong(ping_tx, ping_rx, pong_tx, pong_rx)
        })
    })
}

fn rtrb_ping_pong() -> Duration {
    let (ping_tx, ping_rx) = rtrb::RingBuffer::new(PING_CAPACITY as usize);
    let (pong_tx, pong_rx) = rtrb::RingBuffer::new(PING_CAPACITY as usize);
    ping_pong(ping_tx, ping_rx, pong_tx, pong_rx)
}

/// One contender: its name and one timed round.
type Contender = (&'static str, fn() -> Duration);

/// Runs `rounds` rounds of every contender in turn and prints, in `unit`
/// per `per` operations, the quartiles of each one's times, then of each
/// `(a, b)` ratio of their times within a round.
fn compare(
    title: &str,
    contenders: &[Contender],
    rounds: usize,
    per: u64,
    ratios: &[(usize, usize)],
) {
    let mut times = vec![Vec::with_capacity(rounds); contenders.len()];
    for _ in 0..rounds {
        for (k, (_, run)) in contenders.iter().enumerate() {
            times[k].push(run().as_secs_f64() * 1e9 / per as f64);
        }
    }
    println!("{title} ({rounds} interleaved rounds; quartiles 25 % / 50 % / 75 %)");
    for (k, (name, _)) in contenders.iter().enumerate() {
        let [a, b, c] = quartiles(times[k].clone());
        println!("  {name:<24} {a:>9.2} {b:>9.2} {c:>9.2}  ns");
    }
    println!("  time ratios within a round (below 1: the first is faster)");
    for &(a, b) in ratios {
        let r = times[a].iter().zip(&times[b]).map(|(x, y)| x / y).collect();
        let [q1, q2, q3] = quartiles(r);
        let name = format!("{} / {}", contenders[a].0, contenders[b].0);
        println!("  {name:<40} {q1:>6.3} {q2:>6.3} {q3:>6.3}");
    }
}

fn quartiles(mut v: Vec<f64>) -> [f64; 3] {
    v.sort_by(f64::total_cmp);
    [v[v.len() / 4], v[v.len() / 2], v[3 * v.len() / 4]]
}

fn main() {
    // `cargo test --benches` runs every bench once with `--bench` absent:
    // a single short round each then, as a smoke test.
    let quick = !std::env::args().any(|a| a == "--bench");
    let (stream_rounds, ping_rounds) = if quick { (1, 1) } else { (30, 100) };
    compare(
        "throughput, ns per element",
        &[
            ("interlink/slip", || interlink_stream(SLIP)),
            ("rtrb/slip", || rtrb_stream(SLIP)),
            ("interlink/busy_poll", || interlink_stream(BUSY_POLL)),
            ("rtrb/busy_poll", || rtrb_stream(BUSY_POLL)),
        ],
        stream_rounds,
        ITEMS,
        &[(0, 1), (2, 3)],
    );
    compare(
        "ping-pong, ns per round trip",
        &[
            ("floor/one_line", one_line),
            ("floor/two_lines", two_lines),
            ("interlink", interlink_ping_pong),
            ("rtrb", rtrb_ping_pong),
        ],
        ping_rounds,
        ROUNDS,
        &[(2, 3), (2, 0), (2, 1), (1, 0)],
    );
}
