//! Blocking send/recv on the MPMC ring between real processes: several
//! producers and consumers parked on the ring's shared futex words most of
//! the time, every item delivered exactly once.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{cpu_time_us, ExactlyOnce, Words};
use interlink_core::mpmc::MpmcRing;
use interlink_core::{Blocking, RecvError, RingConfig, SendError};
use interlink_linux::process::{fork, Exit};
use interlink_linux::shm::Mapping;

const PRODUCERS: u64 = 3;
const CONSUMERS: usize = 2;
const PER_PRODUCER: u64 = 3_000;
/// Items a producer sends back to back before it pauses: several rings'
/// worth, so producers park on full, then consumers on empty.
const BURST: u64 = 60;
const PAUSE: Duration = Duration::from_millis(2);
const CAPACITY: u32 = 8;
/// What the parent sends each consumer once every producer is done.
const STOP: u64 = u64::MAX;
const TIMEOUT: Option<Duration> = Some(Duration::from_secs(20));

// Bookkeeping words: per consumer its futex counts (waits, wakes) and CPU
// time, then the producers' counts.
const fn consumer_word(c: usize) -> usize {
    3 * c
}
const PRODUCER_COUNTS: usize = consumer_word(CONSUMERS);
/// Items received by all consumers.
const RECEIVED: usize = PRODUCER_COUNTS + 2;
/// Consumer `c`'s futex waits when it took its last item.
const fn last_parks(c: usize) -> usize {
    RECEIVED + 1 + c
}

/// Waits (polling, at most `TIMEOUT`) until `count` exceeds `before`;
/// whether it did.
fn until_above(count: impl Fn() -> u32, before: u32) -> bool {
    let end = Instant::now() + TIMEOUT.unwrap();
    while count() <= before {
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

/// Retries a blocking operation that reports a (transient) stall: a
/// descheduled claimant can hold a position for longer than the patience
/// on a loaded machine; nobody dies in this test.
fn retry<R, E: Stalled>(mut op: impl FnMut() -> Result<R, E>) -> Result<R, E> {
    loop {
        match op() {
            Err(e) if e.stalled() => continue,
            other => return other,
        }
    }
}

/// An error that may say "stalled".
trait Stalled {
    fn stalled(&self) -> bool;
}

impl Stalled for SendError {
    fn stalled(&self) -> bool {
        matches!(self, Self::Stalled { .. })
    }
}

impl Stalled for RecvError {
    fn stalled(&self) -> bool {
        matches!(self, Self::Stalled { .. })
    }
}

/// Three forked producers send bursts of tagged items and pause; two
/// forked consumers take them with blocking `recv`, each marking every item
/// in a shared bitmap (a bit already set: a duplicate) and checking each
/// producer's items arrive in order, and pausing now and then. The parent
/// then finds every bit set.
///
/// Both park paths are made certain rather than left to the schedule (on
/// a busy machine a waiter may yield instead of parking, so park counts
/// and CPU time are printed, never asserted): the consumers start taking
/// items only once a producer has parked on the full ring, and the parent
/// sends the final stop items only once every consumer, out of items, has
/// parked. Parked sides must then be woken: a lost wake-up would run into
/// the 20 s timeout.
#[test]
fn producers_and_consumers_park_and_deliver_exactly_once() {
    let map = Mapping::anonymous(MpmcRing::<u64>::bytes_needed(CAPACITY).unwrap()).unwrap();
    let ring = MpmcRing::<u64>::init(map.region(), RingConfig::new(CAPACITY)).unwrap();
    let words = Words::new(last_parks(CONSUMERS));
    let bitmap = ExactlyOnce::bitmap(PRODUCERS, PER_PRODUCER);
    let started = Instant::now();

    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|c| {
            let (words, bitmap) = (&words, &bitmap);
            fork(move || {
                let b = Blocking::new(words.counted(consumer_word(c)));
                let mut check = ExactlyOnce::new(bitmap, PRODUCERS, PER_PRODUCER);
                // Nothing taken yet: the producers fill the ring and park.
                if !until_above(|| words.counted(PRODUCER_COUNTS).counts().0, 0) {
                    return 6;
                }
                for received in 1.. {
                    // Now and then a slow consumer: producers park on full.
                    if received % 400 == 0 {
                        std::thread::sleep(PAUSE);
                    }
                    let v = match retry(|| ring.recv(&b, TIMEOUT)) {
                        Ok(STOP) => break,
                        Ok(v) => v,
                        Err(_) => return 2,
                    };
                    if let Err(code) = check.mark(v) {
                        return code;
                    }
                    // For the parent: parks so far, then one more taken.
                    let parks = words.counted(consumer_word(c)).counts().0;
                    words.get(last_parks(c)).store(parks, Ordering::Relaxed);
                    words.get(RECEIVED).fetch_add(1, Ordering::Release);
                }
                words
                    .get(consumer_word(c) + 2)
                    .store(cpu_time_us(), Ordering::Relaxed);
                0
            })
            .unwrap()
        })
        .collect();

    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let words = &words;
            fork(move || {
                let b = Blocking::new(words.counted(PRODUCER_COUNTS));
                for i in 0..PER_PRODUCER {
                    if retry(|| ring.send(p << 32 | i, &b, TIMEOUT)).is_err() {
                        return 2;
                    }
                    if i % BURST == BURST - 1 {
                        std::thread::sleep(PAUSE);
                    }
                }
                0
            })
            .unwrap()
        })
        .collect();

    for p in producers {
        assert_eq!(p.wait().unwrap(), Exit::Code(0), "a producer failed");
    }
    // Every item taken, then every consumer parked since its last one.
    let total = PRODUCERS * PER_PRODUCER;
    assert!(
        until_above(
            || words.get(RECEIVED).load(Ordering::Acquire),
            total as u32 - 1
        ),
        "the consumers did not take every item"
    );
    for c in 0..CONSUMERS {
        let parks = words.get(last_parks(c)).load(Ordering::Relaxed);
        assert!(
            until_above(|| words.counted(consumer_word(c)).counts().0, parks),
            "consumer {c} never parked on an empty ring"
        );
    }
    let b = Blocking::new(interlink_linux::Futex);
    for _ in 0..CONSUMERS {
        retry(|| ring.send(STOP, &b, TIMEOUT)).unwrap();
    }
    for c in consumers {
        assert_eq!(
            c.wait().unwrap(),
            Exit::Code(0),
            "a consumer failed (2: receive error or timeout, 3-5: see ExactlyOnce::mark, \
             6: no producer parked on the full ring)"
        );
    }
    let wall = started.elapsed();

    let missing = ExactlyOnce::missing(&bitmap, PRODUCERS, PER_PRODUCER);
    assert_eq!(missing, 0, "items never received");
    assert!(ring.is_empty());
    let (pwaits, pwakes) = words.counted(PRODUCER_COUNTS).counts();
    eprintln!("{total} items in {wall:?}; producers: {pwaits} futex waits, {pwakes} wakes");
    for c in 0..CONSUMERS {
        let (waits, wakes) = words.counted(consumer_word(c)).counts();
        let cpu = Duration::from_micros(
            words
                .get(consumer_word(c) + 2)
                .load(Ordering::Relaxed)
                .into(),
        );
        eprintln!("consumer {c}: {waits} futex waits, {wakes} wakes, {cpu:?} CPU");
    }
}
