//! The SPSC contenders behind one pair of traits, and the loops that drive
//! them: the same code for every queue, each loop a monomorphic function
//! with the queue's ends in its locals (the shape a user's loop has).

use std::hint::{black_box, spin_loop};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use interlink_core::blocking::Blocking;
use interlink_core::spsc::{Consumer, Producer};
use interlink_core::Spin;

use super::two_threads;

/// A queue's sending end.
pub trait Tx: Send {
    /// Sends `v`; false if the queue is full.
    fn send(&mut self, v: u64) -> bool;
}

/// A queue's receiving end.
pub trait Rx: Send {
    /// The next element, or `None` if the queue is empty.
    fn recv(&mut self) -> Option<u64>;
}

impl Tx for Producer<'_, u64> {
    #[inline(always)]
    fn send(&mut self, v: u64) -> bool {
        self.try_send(v).is_ok()
    }
}

impl Rx for Consumer<'_, u64> {
    #[inline(always)]
    fn recv(&mut self) -> Option<u64> {
        self.try_recv().ok()
    }
}

/// An interlink end driven through the blocking `send`/`recv` with a
/// spinning strategy: they wait by themselves (the caller's idle policy
/// never runs) and pay one load per call (no fence) to check for a
/// parked peer.
pub struct Spinning<E>(pub E);

impl Tx for Spinning<Producer<'_, u64>> {
    #[inline(always)]
    fn send(&mut self, v: u64) -> bool {
        self.0
            .send(v, &Blocking::spinning(Spin::default()), None)
            .is_ok()
    }
}

impl Rx for Spinning<Consumer<'_, u64>> {
    #[inline(always)]
    fn recv(&mut self) -> Option<u64> {
        self.0.recv(&Blocking::spinning(Spin::default()), None).ok()
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

impl Tx for &crossbeam_queue::ArrayQueue<u64> {
    #[inline(always)]
    fn send(&mut self, v: u64) -> bool {
        self.push(v).is_ok()
    }
}

impl Rx for &crossbeam_queue::ArrayQueue<u64> {
    #[inline(always)]
    fn recv(&mut self) -> Option<u64> {
        self.pop()
    }
}

impl Tx for heapless::spsc::Producer<'_, u64> {
    #[inline(always)]
    fn send(&mut self, v: u64) -> bool {
        self.enqueue(v).is_ok()
    }
}

impl Rx for heapless::spsc::Consumer<'_, u64> {
    #[inline(always)]
    fn recv(&mut self) -> Option<u64> {
        self.dequeue()
    }
}

/// What a side does after finding the queue full (producer) or empty
/// (consumer), before it tries again.
#[derive(Clone, Copy, Debug)]
pub enum Idle {
    /// One `spin_loop` hint (about 23 ns here), then poll again.
    BusyPoll,
    /// 16 hints (about 370 ns here): long enough for the other side to
    /// get a few cache lines ahead.
    Slip,
}

impl Idle {
    /// The name a bench row carries.
    pub fn name(self) -> &'static str {
        match self {
            Idle::BusyPoll => "busy_poll",
            Idle::Slip => "slip",
        }
    }

    /// Idles once.
    #[inline(always)]
    pub fn wait(self) {
        let hints = match self {
            Idle::BusyPoll => 1,
            Idle::Slip => 16,
        };
        for _ in 0..hints {
            spin_loop();
        }
    }
}

/// Streams `items` from `tx` (on this thread) to `rx` (on another), one at
/// a time, each side idling per `idle` after a failed attempt; returns the
/// wall time.
#[inline(never)]
pub fn stream(items: u64, mut tx: impl Tx, mut rx: impl Rx, idle: Idle) -> Duration {
    two_threads(
        move || {
            for i in 0..items {
                while !tx.send(i) {
                    idle.wait();
                }
            }
        },
        move || {
            for _ in 0..items {
                loop {
                    if let Some(v) = rx.recv() {
                        black_box(v);
                        break;
                    }
                    idle.wait();
                }
            }
        },
    )
}

/// Waits for the next element of `rx`, polling at once after a miss.
#[inline(always)]
fn next(rx: &mut impl Rx) -> u64 {
    loop {
        if let Some(v) = rx.recv() {
            return v;
        }
        spin_loop();
    }
}

/// `rounds` round trips: this thread sends on `ping` and waits for the
/// echo on `pong`; the other thread echoes. Returns the wall time.
#[inline(never)]
pub fn ping_pong(
    rounds: u64,
    (mut ping_tx, mut ping_rx): (impl Tx, impl Rx),
    (mut pong_tx, mut pong_rx): (impl Tx, impl Rx),
) -> Duration {
    two_threads(
        move || {
            for i in 0..rounds {
                assert!(ping_tx.send(i));
                black_box(next(&mut pong_rx));
            }
        },
        move || {
            for _ in 0..rounds {
                let v = next(&mut ping_rx);
                assert!(pong_tx.send(v));
            }
        },
    )
}

/// A cache line of its own.
#[repr(align(128))]
struct Line(AtomicU64);

/// Waits until `line` holds `v`.
#[inline(always)]
fn wait_for(line: &AtomicU64, v: u64) {
    while line.load(Ordering::Acquire) != v {
        spin_loop();
    }
}

/// The latency floor: `rounds` round trips of one cache line (this thread
/// writes odd values, the other even ones).
#[inline(never)]
pub fn one_line(rounds: u64) -> Duration {
    let ball = Line(AtomicU64::new(0));
    let ball = &ball.0;
    two_threads(
        move || {
            for i in 0..rounds {
                ball.store(2 * i + 1, Ordering::Release);
                wait_for(ball, 2 * i + 2);
            }
        },
        move || {
            for i in 0..rounds {
                wait_for(ball, 2 * i + 1);
                ball.store(2 * i + 2, Ordering::Release);
            }
        },
    )
}

/// What any pair of queues needs at least: `rounds` round trips over one
/// line each way.
#[inline(never)]
pub fn two_lines(rounds: u64) -> Duration {
    let (x, y) = (Line(AtomicU64::new(0)), Line(AtomicU64::new(0)));
    let (x, y) = (&x.0, &y.0);
    two_threads(
        move || {
            for i in 1..=rounds {
                x.store(i, Ordering::Release);
                wait_for(y, i);
            }
        },
        move || {
            for i in 1..=rounds {
                wait_for(x, i);
                y.store(i, Ordering::Release);
            }
        },
    )
}
