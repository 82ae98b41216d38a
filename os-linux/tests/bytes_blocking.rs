//! Blocking send/recv on the byte ring between two real processes, each
//! side made to park on the ring's shared futex word and woken by its
//! peer.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{cpu_time_us, fill, Rng, Words};

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
use interlink_core::bytes::ByteRing;
use interlink_core::{Blocking, RingConfig};
use interlink_linux::process::{self, fork, Exit};
use interlink_linux::shm::Mapping;

const CAPACITY: u32 = 4096;
const COUNT: u32 = 3_000;
/// Messages sent back to back before the producer pauses.
const BURST: u32 = 50;
const PAUSE: Duration = Duration::from_millis(2);
const TIMEOUT: Option<Duration> = Some(Duration::from_secs(20));

/// Length of message `seq`: anything up to the ring's largest now and
/// then (so the producer parks for room and pads the end often), mostly
/// up to 300 bytes.
fn length(rng: &mut Rng, max: usize) -> usize {
    let r = rng.next();
    match r % 16 {
        0 => (r >> 16) as usize % (max + 1),
        _ => (r >> 16) as usize % 301,
    }
}

/// The parent sends bursts of messages of random sizes (0 B to the
/// ring's largest) with `send` and pauses between bursts; a forked
/// child takes them with `recv` and checks every byte.
///
/// Both park paths are made certain rather than left to the schedule (on
/// a busy machine a side may yield instead of parking, so park counts and
/// CPU time are printed, never asserted): the child starts taking messages
/// only once the parent has parked on the full ring, and the parent, half
/// way, waits until the child has parked on the empty ring before it sends
/// on. A parked side must then be woken by its peer: a lost wake-up would
/// run into the 20 s timeout.
#[test]
fn blocking_messages_between_processes_with_the_consumer_parked() {
    let map = Mapping::anonymous(ByteRing::bytes_needed(CAPACITY).unwrap()).unwrap();
    let ring = ByteRing::init(map.region(), RingConfig::new(CAPACITY)).unwrap();
    let max = ring.max_payload() as usize;
    // Words: consumer waits, wakes, CPU time; producer waits, wakes;
    // messages the consumer took, and its waits when it took the last.
    let words = Words::new(7);
    let started = Instant::now();
    let child = fork(|| {
        let Ok(mut rx) = ring.consumer(process::holder()) else {
            return 2;
        };
        let b = Blocking::new(words.counted(0));
        let (mut lengths, mut buf, mut expected) = (Rng(7), vec![0u8; max], vec![0u8; max]);
        // Nothing taken yet: the parent fills the ring and must park.
        if !until_above(|| words.counted(3).counts().0, 0) {
            return 5;
        }
        for seq in 0..COUNT {
            let Ok((tag, len)) = rx.recv(&mut buf, &b, TIMEOUT) else {
                return 3;
            };
            let want = length(&mut lengths, max);
            fill(seq, &mut expected[..want]);
            if (tag, &buf[..len]) != (seq, &expected[..want]) {
                return 4;
            }
            // For the parent: parks so far, then messages taken.
            words
                .get(6)
                .store(words.counted(0).counts().0, Ordering::Relaxed);
            words.get(5).store(seq + 1, Ordering::Release);
            if seq % 700 == 0 {
                std::thread::sleep(PAUSE);
            }
        }
        words.get(2).store(cpu_time_us(), Ordering::Relaxed);
        0
    })
    .unwrap();

    let mut tx = ring.producer(process::holder()).unwrap();
    let b = Blocking::new(words.counted(3));
    let (mut lengths, mut scratch) = (Rng(7), vec![0u8; max]);
    for seq in 0..COUNT {
        if seq == COUNT / 2 {
            // Send on only once the child has taken every message and,
            // out of messages, parked.
            assert!(
                until_above(|| words.get(5).load(Ordering::Acquire), seq - 1),
                "the consumer did not take the first {seq} messages"
            );
            let parked = words.get(6).load(Ordering::Relaxed);
            assert!(
                until_above(|| words.counted(0).counts().0, parked),
                "the consumer never parked on an empty ring"
            );
        }
        let len = length(&mut lengths, max);
        fill(seq, &mut scratch[..len]);
        tx.send(seq, &scratch[..len], &b, TIMEOUT).unwrap();
        if seq % BURST == BURST - 1 {
            std::thread::sleep(PAUSE);
        }
    }
    assert_eq!(
        child.wait().unwrap(),
        Exit::Code(0),
        "the consumer failed (3: receive error or timeout, 4: wrong bytes, \
         5: the producer never parked on a full ring)"
    );
    let wall = started.elapsed();
    let (waits, wakes) = words.counted(0).counts();
    let (pwaits, pwakes) = words.counted(3).counts();
    let cpu = Duration::from_micros(words.get(2).load(Ordering::Relaxed).into());
    eprintln!(
        "{COUNT} messages in {wall:?}; consumer: {waits} futex waits, {wakes} wakes, {cpu:?} CPU; \
         producer: {pwaits} waits, {pwakes} wakes"
    );
}
