//! The blocking fast path under stress, between two processes: 10⁸
//! messages through an SPSC ring with blocking `send` and `recv`, whose
//! notifications are one load without a fence (the event-word protocol's
//! grace re-check makes up for it on the sleeping side). Each side sleeps
//! now and then, so the other parks — on an empty ring, on a full one, and
//! in the middle of a stream, where a notification can race a sleeper's
//! announcement. A wake-up lost for good runs into the 30 s timeout of the
//! blocking call; every message must arrive, once, in order.
//!
//! `INTERLINK_STRESS_MESSAGES` sets another count (the CI runs the full
//! 10⁸; a debug build moves them in well under a minute on two cores).

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{cpu_time_us, Words};
use interlink_core::spsc::SpscRing;
use interlink_core::sync::AtomicU32;
use interlink_core::{Blocking, RingConfig, Wait, WaitOutcome};
use interlink_linux::process::{fork, Exit};
use interlink_linux::shm::Mapping;
use interlink_linux::Futex;

const MESSAGES: u64 = 100_000_000;
const CAPACITY: u32 = 1024;
/// Each side sleeps after about one message in this many (a pseudo-random
/// schedule, different for the two sides).
const PAUSE_ONE_IN: u64 = 1 << 15;
const PAUSE: Duration = Duration::from_micros(200);
const TIMEOUT: Option<Duration> = Some(Duration::from_secs(30));

/// The shared futex, counting in shared words: sleeps, sleeps that ran
/// out (grace re-checks that found nothing), and wakes.
struct Counting<'w> {
    sleeps: &'w AtomicU32,
    timed_out: &'w AtomicU32,
    wakes: &'w AtomicU32,
}

impl<'w> Counting<'w> {
    fn at(words: &'w Words, i: usize) -> Self {
        Self {
            sleeps: words.get(i),
            timed_out: words.get(i + 1),
            wakes: words.get(i + 2),
        }
    }

    fn counts(&self) -> [u32; 3] {
        [self.sleeps, self.timed_out, self.wakes].map(|w| w.load(Ordering::Relaxed))
    }
}

impl Wait for Counting<'_> {
    fn wait(&self, word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> WaitOutcome {
        self.sleeps.fetch_add(1, Ordering::Relaxed);
        let outcome = Futex.wait(word, expected, timeout);
        if outcome == WaitOutcome::TimedOut {
            self.timed_out.fetch_add(1, Ordering::Relaxed);
        }
        outcome
    }
    fn wake_one(&self, word: &AtomicU32) {
        self.wakes.fetch_add(1, Ordering::Relaxed);
        Futex.wake_one(word)
    }
    fn wake_all(&self, word: &AtomicU32) {
        self.wakes.fetch_add(1, Ordering::Relaxed);
        Futex.wake_all(word)
    }
    fn now_ns(&self) -> Option<u64> {
        Futex.now_ns()
    }
    fn yield_now(&self) {
        Futex.yield_now()
    }
}

/// Parks after a few polls, so that a side announces itself within
/// nanoseconds of finding the ring empty (or full) — while its peer is
/// mid-stream, where a notification can race the announcement.
fn eager<W: Wait>(wait: W) -> Blocking<W> {
    Blocking {
        wait,
        spins: 16,
        yields: 0,
    }
}

/// A step of xorshift64: the pause schedule.
fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

fn messages() -> u64 {
    std::env::var("INTERLINK_STRESS_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(MESSAGES)
}

/// Words 0..3: the consumer's counts; 3..6: the producer's; 6: the
/// consumer's CPU time in ms.
#[test]
fn a_hundred_million_blocking_messages_with_sleeping_peers_lose_no_wake_up() {
    let total = messages();
    let map = Mapping::anonymous(SpscRing::<u64>::bytes_needed(CAPACITY).unwrap()).unwrap();
    map.populate().unwrap();
    let ring = SpscRing::<u64>::init(map.region(), RingConfig::new(CAPACITY)).unwrap();
    let words = Words::new(8);
    let started = Instant::now();

    let consumer = {
        let (ring, words) = (&ring, &words);
        fork(move || {
            let Ok(mut rx) = ring.consumer(interlink_linux::process::holder()) else {
                return 2;
            };
            let b = eager(Counting::at(words, 0));
            let mut schedule = 0x9e37_79b9_7f4a_7c15;
            for expected in 0..total {
                match rx.recv(&b, TIMEOUT) {
                    Ok(v) if v == expected => {}
                    Ok(_) => return 3,  // lost, duplicated or reordered
                    Err(_) => return 4, // timed out: a wake-up lost for good
                }
                if next(&mut schedule).is_multiple_of(PAUSE_ONE_IN) {
                    std::thread::sleep(PAUSE); // the producer fills up and parks
                }
            }
            words.get(6).store(cpu_time_us() / 1000, Ordering::Relaxed);
            0
        })
        .unwrap()
    };

    let mut tx = ring.producer(interlink_linux::process::holder()).unwrap();
    let b = eager(Counting::at(&words, 3));
    let mut schedule = 0x2545_f491_4f6c_dd1d;
    for v in 0..total {
        tx.send(v, &b, TIMEOUT)
            .unwrap_or_else(|e| panic!("send {v}: {e} (a wake-up lost for good?)"));
        if next(&mut schedule).is_multiple_of(PAUSE_ONE_IN) {
            std::thread::sleep(PAUSE); // the consumer empties the ring and parks
        }
    }
    assert_eq!(
        consumer.wait().unwrap(),
        Exit::Code(0),
        "the consumer failed (3: a message lost, duplicated or reordered; \
         4: a receive timed out — a wake-up lost for good)"
    );
    let [c_sleeps, c_graced, c_wakes] = Counting::at(&words, 0).counts();
    let [p_sleeps, p_graced, p_wakes] = Counting::at(&words, 3).counts();
    eprintln!(
        "{total} messages in {:?}; consumer: {c_sleeps} sleeps ({c_graced} ran out), \
         {c_wakes} wakes, {} ms CPU; producer: {p_sleeps} sleeps ({p_graced} ran out), \
         {p_wakes} wakes",
        started.elapsed(),
        words.get(6).load(Ordering::Relaxed),
    );
}
