//! The blocking fast path: streaming `u64`s one at a time through the SPSC
//! ring's blocking `send`/`recv` against its `try_*` calls, in interleaved
//! rounds, with a third contender that adds to each `try_*` the `SeqCst`
//! fence the notification paid before it went fence-free — the cost this
//! bench exists to show gone.
//!
//! ```text
//! cargo bench -p interlink-core --bench blocking
//! ```

use std::hint::black_box;
use std::sync::atomic::{fence, AtomicU32, Ordering};
use std::time::Duration;

mod common;

use common::interleave::{compare, quick};
use common::queues::{self, Idle, Rx, Spinning, Tx};
use common::Memory;
use interlink_core::spsc::{Consumer, Producer, SpscRing};
use interlink_core::Holder;
use interlink_core::RingConfig;

/// Elements per round.
const ITEMS: u64 = 1 << 20;
const CAPACITY: u32 = 4096;

/// An end whose every successful `try_*` is followed by a `SeqCst` fence
/// and one load of an event word: the notification as it was.
struct Fenced<E> {
    end: E,
    word: AtomicU32,
}

impl<E> Fenced<E> {
    fn new(end: E) -> Self {
        Self {
            end,
            word: AtomicU32::new(0),
        }
    }

    #[inline(always)]
    fn notify(&self) {
        fence(Ordering::SeqCst);
        black_box(self.word.load(Ordering::Relaxed));
    }
}

impl Tx for Fenced<Producer<'_, u64>> {
    #[inline(always)]
    fn send(&mut self, v: u64) -> bool {
        let sent = self.end.try_send(v).is_ok();
        if sent {
            self.notify();
        }
        sent
    }
}

impl Rx for Fenced<Consumer<'_, u64>> {
    #[inline(always)]
    fn recv(&mut self) -> Option<u64> {
        let got = self.end.try_recv().ok();
        if got.is_some() {
            self.notify();
        }
        got
    }
}

/// Runs `f` with both ends of a fresh ring.
fn with_ends<R>(f: impl FnOnce(Producer<'_, u64>, Consumer<'_, u64>) -> R) -> R {
    let mut mem = Memory::new(SpscRing::<u64>::bytes_needed(CAPACITY).unwrap());
    let ring = SpscRing::<u64>::init(mem.region(), RingConfig::new(CAPACITY)).unwrap();
    let tx = ring.producer(Holder::fixed::<1>()).unwrap();
    let rx = ring.consumer(Holder::fixed::<2>()).unwrap();
    f(tx, rx)
}

/// [`ITEMS`] one at a time, each side slipping after a failed attempt.
fn stream(tx: impl Tx, rx: impl Rx) -> Duration {
    queues::stream(ITEMS, tx, rx, Idle::Slip)
}

fn main() {
    let rounds = if quick() { 1 } else { 30 };
    compare(
        "SPSC streaming, ns per element",
        &[
            ("try_send/try_recv (slip)", || {
                with_ends(|tx, rx| stream(tx, rx))
            }),
            ("send/recv (spinning strategy)", || {
                with_ends(|tx, rx| stream(Spinning(tx), Spinning(rx)))
            }),
            ("try_* + SeqCst fence per call (slip)", || {
                with_ends(|tx, rx| stream(Fenced::new(tx), Fenced::new(rx)))
            }),
        ],
        rounds,
        ITEMS,
        &[(1, 0), (2, 0), (1, 2)],
    );
}
