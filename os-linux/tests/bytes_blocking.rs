//! Blocking send/recv on the byte ring between two real processes, the
//! consumer parked on the ring's shared futex word most of the time.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{cpu_time_us, fill, Rng, Words};
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
/// ring's largest) with `send_blocking` and pauses between bursts; a forked
/// child takes them with `recv_blocking` and checks every byte. The child
/// pauses too now and then, so the parent parks on a full ring. The
/// child's futex waits and CPU time show it slept through the pauses.
#[test]
fn blocking_messages_between_processes_with_the_consumer_parked() {
    let map = Mapping::anonymous(ByteRing::bytes_needed(CAPACITY).unwrap()).unwrap();
    let ring = ByteRing::init(map.region(), RingConfig::new(CAPACITY)).unwrap();
    let max = ring.max_payload() as usize;
    // Words: consumer waits, wakes, CPU time; producer waits, wakes.
    let words = Words::new(5);
    let started = Instant::now();
    let child = fork(|| {
        let Ok(mut rx) = ring.consumer(process::current_pid()) else {
            return 2;
        };
        let b = Blocking::new(words.counted(0));
        let (mut lengths, mut buf, mut expected) = (Rng(7), vec![0u8; max], vec![0u8; max]);
        for seq in 0..COUNT {
            let Ok((tag, len)) = rx.recv_blocking(&mut buf, &b, TIMEOUT) else {
                return 3;
            };
            let want = length(&mut lengths, max);
            fill(seq, &mut expected[..want]);
            if (tag, &buf[..len]) != (seq, &expected[..want]) {
                return 4;
            }
            if seq % 700 == 0 {
                std::thread::sleep(PAUSE);
            }
        }
        words.get(2).store(cpu_time_us(), Ordering::Relaxed);
        0
    })
    .unwrap();

    let mut tx = ring.producer(process::current_pid()).unwrap();
    let b = Blocking::new(words.counted(3));
    let (mut lengths, mut scratch) = (Rng(7), vec![0u8; max]);
    for seq in 0..COUNT {
        let len = length(&mut lengths, max);
        fill(seq, &mut scratch[..len]);
        tx.send_blocking(seq, &scratch[..len], &b, TIMEOUT).unwrap();
        if seq % BURST == BURST - 1 {
            std::thread::sleep(PAUSE);
        }
    }
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
    let wall = started.elapsed();
    let (waits, wakes) = words.counted(0).counts();
    let (pwaits, pwakes) = words.counted(3).counts();
    let cpu = Duration::from_micros(words.get(2).load(Ordering::Relaxed).into());
    eprintln!(
        "{COUNT} messages in {wall:?}; consumer: {waits} futex waits, {wakes} wakes, {cpu:?} CPU; \
         producer: {pwaits} waits, {pwakes} wakes"
    );
    assert!(
        waits >= COUNT / BURST / 4,
        "the consumer parked only {waits} times"
    );
    assert!(
        cpu < wall / 2,
        "the consumer used {cpu:?} of CPU in {wall:?}"
    );
    assert!(pwaits > 0, "the producer never parked on a full ring");
}
