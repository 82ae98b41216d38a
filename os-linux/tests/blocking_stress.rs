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
use interlink_core::{Blocking, RingConfig, Wait};
use interlink_linux::process::{fork, Exit};
use interlink_linux::shm::Mapping;

const MESSAGES: u64 = 100_000_000;
const CAPACITY: u32 = 1024;
/// Each side sleeps after about one message in this many (a pseudo-random
/// schedule, different for the two sides).
const PAUSE_ONE_IN: u64 = 1 << 15;
const PAUSE: Duration = Duration::from_micros(200);
const TIMEOUT: Option<Duration> = Some(Duration::from_secs(30));

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
            let b = eager(words.counted_with_timeouts(0));
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
    let b = eager(words.counted_with_timeouts(3));
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
    let ran_out = |i: usize| words.get(i + 2).load(Ordering::Relaxed);
    let ((c_sleeps, c_wakes), c_graced) = (words.counted(0).counts(), ran_out(0));
    let ((p_sleeps, p_wakes), p_graced) = (words.counted(3).counts(), ran_out(3));
    eprintln!(
        "{total} messages in {:?}; consumer: {c_sleeps} sleeps ({c_graced} ran out), \
         {c_wakes} wakes, {} ms CPU; producer: {p_sleeps} sleeps ({p_graced} ran out), \
         {p_wakes} wakes",
        started.elapsed(),
        words.get(6).load(Ordering::Relaxed),
    );
}

/// What the grace re-check costs an idle sleeper: one timed sleep, then
/// one sleep without a bound — it does not poll every `GRACE` while
/// nothing comes. (At most two sleeps under any schedule: a send that
/// lands earlier only saves sleeps.)
#[test]
fn an_idle_sleeper_sleeps_twice_not_every_grace() {
    let map = Mapping::anonymous(SpscRing::<u64>::bytes_needed(CAPACITY).unwrap()).unwrap();
    let ring = SpscRing::<u64>::init(map.region(), RingConfig::new(CAPACITY)).unwrap();
    let words = Words::new(3);
    let mut tx = ring.producer(interlink_linux::process::holder()).unwrap();
    std::thread::scope(|s| {
        let receiver = s.spawn(|| {
            let mut rx = ring.consumer(interlink_linux::process::holder()).unwrap();
            let b = Blocking::parking(words.counted_with_timeouts(0));
            rx.recv(&b, TIMEOUT)
        });
        // A hundred graces' worth of idleness.
        std::thread::sleep(Duration::from_millis(10));
        tx.send(7, &Blocking::new(interlink_linux::Futex), TIMEOUT)
            .unwrap();
        assert_eq!(receiver.join().unwrap(), Ok(7));
    });
    let (sleeps, _) = words.counted(0).counts();
    let ran_out = words.get(2).load(Ordering::Relaxed);
    assert!(sleeps <= 2, "{sleeps} sleeps in one idle period");
    assert!(ran_out <= 1, "{ran_out} sleeps ran out");
}
