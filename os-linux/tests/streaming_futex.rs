//! `StreamingFutex` between processes: the notifier's fence is gone, the
//! sleeper's `membarrier` must make up for it. A lost wake-up would leave a
//! side asleep until its timeout, which fails the test.

use std::time::Duration;

use interlink_core::blocking::Blocking;
use interlink_core::spsc::{Consumer, SpscRing};
use interlink_core::RingConfig;
use interlink_linux::futex::StreamingFutex;
use interlink_linux::process::{self, fork, Exit};
use interlink_linux::shm::Mapping;

/// Long enough never to expire unless a wake-up was lost.
const PATIENCE: Option<Duration> = Some(Duration::from_secs(10));

/// Receives `expected` in order with blocking `recv`; the child's exit
/// code: 0, 3 (a wrong element) or 4 (an error: a timeout means a lost
/// wake-up).
fn receive_in_order(
    rx: &mut Consumer<'_, u64>,
    b: &Blocking<StreamingFutex>,
    expected: std::ops::Range<u64>,
) -> i32 {
    for i in expected {
        match rx.recv(b, PATIENCE) {
            Ok(v) if v == i => {}
            Ok(_) => return 3,
            Err(_) => return 4,
        }
    }
    0
}

/// Two rings of `capacity` in one shared mapping: there and back.
fn two_rings(map: &Mapping, capacity: u32) -> (SpscRing<'_, u64>, SpscRing<'_, u64>) {
    let len = SpscRing::<u64>::bytes_needed(capacity).unwrap();
    let mut region = map.region();
    let config = RingConfig::new(capacity);
    let there = SpscRing::init(region.take(len, 128).unwrap(), config).unwrap();
    let back = SpscRing::init(region.take(len, 128).unwrap(), config).unwrap();
    (there, back)
}

/// Every message finds its receiver parked (both sides park at once), so
/// every one needs a wake-up that crosses processes. The test can fail:
/// with the sleeper's `membarrier` removed (a plain fence left), it lost
/// a wake-up in 2 of 3 runs of 200 000 round trips here.
#[test]
fn parked_ping_pong_loses_no_wake_up() {
    const ROUNDS: u64 = 100_000;
    let map = Mapping::anonymous(4096).unwrap();
    let (there, back) = two_rings(&map, 1);
    let child = fork(|| {
        let b = Blocking::parking(StreamingFutex);
        let mut rx = there.consumer(process::current_pid()).unwrap();
        let mut tx = back.producer(process::current_pid()).unwrap();
        for i in 0..ROUNDS {
            match receive_in_order(&mut rx, &b, i..i + 1) {
                0 if tx.send(i, &b, PATIENCE).is_ok() => {}
                0 => return 5,
                code => return code,
            }
        }
        0
    })
    .unwrap();
    let b = Blocking::parking(StreamingFutex);
    let mut tx = there.producer(process::current_pid()).unwrap();
    let mut rx = back.consumer(process::current_pid()).unwrap();
    for i in 0..ROUNDS {
        tx.send(i, &b, PATIENCE).unwrap();
        assert_eq!(rx.recv(&b, PATIENCE).unwrap(), i);
    }
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
}

/// A stream through a small ring with the default strategy (spin, yield,
/// park): both sides keep catching up with each other and parking, and
/// every element arrives once, in order.
#[test]
fn blocking_stream_arrives_whole() {
    const COUNT: u64 = if cfg!(debug_assertions) {
        100_000
    } else {
        1_000_000
    };
    let map = Mapping::anonymous(2 * SpscRing::<u64>::bytes_needed(64).unwrap() + 256).unwrap();
    let (ring, _) = two_rings(&map, 64);
    let child = fork(|| {
        let b = Blocking::new(StreamingFutex);
        let mut rx = ring.consumer(process::current_pid()).unwrap();
        receive_in_order(&mut rx, &b, 0..COUNT)
    })
    .unwrap();
    let b = Blocking::new(StreamingFutex);
    let mut tx = ring.producer(process::current_pid()).unwrap();
    for i in 0..COUNT {
        tx.send(i, &b, PATIENCE).unwrap();
    }
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
}
