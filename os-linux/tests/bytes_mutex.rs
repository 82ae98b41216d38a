//! Several producer processes sharing one byte ring, serialised by the
//! robust futex mutex placed next to the ring in the same mapping.

mod common;

use std::time::Duration;

use common::{fill, Rng};
use interlink_core::bytes::ByteRing;
use interlink_core::mutex::Mutex;
use interlink_core::{Blocking, Region, RingConfig};
use interlink_linux::process::{self, fork, Exit};
use interlink_linux::shm::Mapping;
use interlink_linux::{Futex, Robust};

const PRODUCERS: u32 = 3;
const PER_PRODUCER: u32 = 2_000;
const CAPACITY: u32 = 4096;
const TIMEOUT: Option<Duration> = Some(Duration::from_secs(20));

/// The mutex (guarding the count of messages sent), then the ring, carved
/// out of one mapping with [`Region::take`].
fn place(map: &Mapping) -> (Region<'_>, Region<'_>) {
    let mut rest = map.region();
    let m = rest
        .take(Mutex::<u64>::bytes_needed(), Mutex::<u64>::region_align())
        .unwrap();
    let r = rest
        .take(
            ByteRing::bytes_needed(CAPACITY).unwrap(),
            ByteRing::region_align(),
        )
        .unwrap();
    (m, r)
}

/// Message `i` of producer `p`: its tag says whose and which, its length
/// comes from a sequence of the producer's own, its bytes from the tag.
fn tag(p: u32, i: u32) -> u32 {
    p << 24 | i
}

/// Three forked producers each send their messages into one byte ring,
/// one message at a time under a shared [`Mutex`]: lock, claim the
/// producer role, `send`, drop the role, unlock. The parent
/// consumes with `recv` and checks every message whole (length
/// and every byte) and each producer's messages in order; the mutex's
/// count matches what arrived.
#[test]
fn producers_serialised_by_a_shared_mutex() {
    let total = Mutex::<u64>::bytes_needed() + 128 + ByteRing::bytes_needed(CAPACITY).unwrap();
    let map = Mapping::anonymous(total).unwrap();
    let (m_region, r_region) = place(&map);
    let mutex = Mutex::init(m_region, 0u64).unwrap();
    let ring = ByteRing::init(r_region, RingConfig::new(CAPACITY)).unwrap();
    let max = ring.max_payload() as usize / 4;

    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            fork(move || {
                let (futex, me) = (Futex, Robust::new());
                let b = Blocking::new(Futex);
                let (mut lengths, mut msg) = (Rng(u64::from(p) + 1), vec![0u8; max]);
                for i in 0..PER_PRODUCER {
                    let len = lengths.next() as usize % (max + 1);
                    fill(tag(p, i), &mut msg[..len]);
                    let Ok(mut sent) = mutex.lock(&futex, &me, TIMEOUT) else {
                        return 2;
                    };
                    // Free whenever the mutex is held: the last holder
                    // dropped its producer before unlocking.
                    let Ok(mut tx) = ring.producer(process::holder()) else {
                        return 3;
                    };
                    if tx.send(tag(p, i), &msg[..len], &b, TIMEOUT).is_err() {
                        return 4;
                    }
                    drop(tx);
                    sent.update(|n| *n += 1);
                }
                0
            })
            .unwrap()
        })
        .collect();

    let mut rx = ring.consumer(process::holder()).unwrap();
    let b = Blocking::new(Futex);
    let mut lengths: Vec<Rng> = (0..PRODUCERS).map(|p| Rng(u64::from(p) + 1)).collect();
    let mut next = [0u32; PRODUCERS as usize];
    let (mut buf, mut expected) = (vec![0u8; max], vec![0u8; max]);
    for _ in 0..PRODUCERS * PER_PRODUCER {
        let (t, len) = rx.recv(&mut buf, &b, TIMEOUT).unwrap();
        let (p, i) = (t >> 24, t & 0xff_ffff);
        assert!(p < PRODUCERS, "tag {t:#x} from no producer");
        assert_eq!(i, next[p as usize], "producer {p}'s messages out of order");
        next[p as usize] += 1;
        let want = lengths[p as usize].next() as usize % (max + 1);
        fill(t, &mut expected[..want]);
        assert_eq!(&buf[..len], &expected[..want], "message {t:#x} torn");
    }
    for p in producers {
        assert_eq!(p.wait().unwrap(), Exit::Code(0), "a producer failed");
    }
    assert!(ring.is_empty());
    let count = mutex.lock(&Futex, &Robust::new(), None).unwrap().get();
    assert_eq!(count, u64::from(PRODUCERS * PER_PRODUCER));
}
