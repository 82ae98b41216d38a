use std::collections::VecDeque;

use super::*;
use crate::foundation::holder::Holder;
use crate::test_util::{AlignedBuf, Rng, TestWait};

fn ring_buf(capacity: u32) -> AlignedBuf {
    AlignedBuf::new(ManyToOneRing::bytes_needed(capacity).unwrap())
}

/// The payload of message `seq`: `len` bytes derived from both.
fn payload(seq: u32, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (seq as usize * 31 + i * 7) as u8)
        .collect()
}

/// The shared word at byte `offset` of the ring's memory.
fn word_at(buf: &AlignedBuf, offset: usize) -> &AtomicU32 {
    // SAFETY: callers pass a 4-aligned offset inside the buffer; every bit
    // pattern is a valid AtomicU32 and all access is atomic.
    unsafe { &*buf.ptr().add(offset).cast::<AtomicU32>() }
}

const TAIL: usize = 128;
const HEAD: usize = 256;

/// Receives one message, failing the test on anything else.
fn recv(rx: &mut Consumer<'_>) -> (u32, Vec<u8>) {
    let mut out = vec![0u8; 4096];
    let (tag, len) = rx.try_recv(&mut out).unwrap();
    out.truncate(len);
    (tag, out)
}

#[test]
fn sizes_and_capacity_rules() {
    assert_eq!(ManyToOneRing::bytes_needed(64), Ok(384 + 64));
    assert_eq!(
        ManyToOneRing::bytes_needed(32),
        Err(InitError::CapacityBelow {
            capacity: 32,
            min: MIN_CAPACITY
        })
    );
    for bad in [0, 96, (1 << 31) + 1] {
        assert_eq!(
            ManyToOneRing::bytes_needed(bad),
            Err(InitError::Capacity { capacity: bad })
        );
    }
    assert_eq!(record_size(0), Some(32));
    assert_eq!(record_size(1), Some(40));
    assert_eq!(record_size(8), Some(40));
    assert_eq!(record_size(u32::MAX - 39), Some(u32::MAX - 7));
    assert_eq!(record_size(u32::MAX - 38), None);
    let buf = ring_buf(64);
    let ring = ManyToOneRing::init(buf.region(), RingConfig::new(64)).unwrap();
    assert_eq!((ring.capacity(), ring.max_payload()), (64, 32));
}

#[test]
fn send_recv_in_order_full_too_large_and_padding() {
    let buf = ring_buf(128);
    let ring = ManyToOneRing::init(buf.region(), RingConfig::new(128)).unwrap();
    let mut a = ring.producer(Holder::fixed::<1>());
    let mut b = ring.producer(Holder::fixed::<2>());
    let mut rx = ring.consumer(Holder::fixed::<9>()).unwrap();
    let mut out = [0u8; 128];
    assert_eq!(rx.try_recv(&mut out), Err(RecvError::Empty));
    assert_eq!(
        a.try_send(1, &[0; 97]),
        Err(SendError::TooLarge { len: 97, max: 96 })
    );
    a.try_send(1, b"hello").unwrap(); // 40 bytes
    b.try_send(2, &payload(2, 20)).unwrap(); // 56 bytes: 32 left to the end
                                             // 40 bytes do not fit before the end: the 32 there become padding
                                             // (published, so the consumer frees them), and the front is not free.
    assert_eq!(a.try_send(3, &[0; 1]), Err(SendError::Full));
    assert_eq!(ring.used(), Some(128));
    assert_eq!(
        rx.try_recv(&mut [0u8; 4]),
        Err(RecvError::BufferTooSmall { needed: 5 })
    );
    assert_eq!(recv(&mut rx), (1, b"hello".to_vec()));
    a.try_send(3, &[1]).unwrap(); // at the front
    assert_eq!(recv(&mut rx), (2, payload(2, 20)));
    assert_eq!(recv(&mut rx), (3, vec![1]), "the padding is skipped");
    // Tail at 40, head at 40: an 88-byte record fits exactly to the end.
    b.try_send(4, &payload(4, 56)).unwrap();
    assert_eq!(recv(&mut rx), (4, payload(4, 56)));
    b.try_send(5, &[]).unwrap();
    assert_eq!(recv(&mut rx), (5, vec![]));
    assert_eq!(rx.try_recv(&mut out), Err(RecvError::Empty));
    assert_eq!(ring.skipped(), 0);
}

#[test]
fn a_tail_shorter_than_a_stamp_is_skipped() {
    let buf = ring_buf(64);
    let ring = ManyToOneRing::init(buf.region(), RingConfig::new(64)).unwrap();
    let mut tx = ring.producer(Holder::fixed::<1>());
    let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
    tx.try_send(1, &[7; 24]).unwrap(); // 56 bytes: 8 left before the end
    assert_eq!(recv(&mut rx), (1, vec![7; 24]));
    tx.try_send(2, &[8; 3]).unwrap();
    assert_eq!(recv(&mut rx), (2, vec![8; 3]));
    assert_eq!(ring.used(), Some(0));
}

#[test]
fn reserve_commit_cancel_peek_drain() {
    let buf = ring_buf(256);
    let ring = ManyToOneRing::init(buf.region(), RingConfig::new(256)).unwrap();
    let mut tx = ring.producer(Holder::fixed::<1>());
    let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
    let mut r = tx.reserve(16).unwrap();
    r.as_mut_slice().copy_from_slice(&[5; 16]);
    r.write(3, b"abc");
    r.commit(7, 10); // shorter than reserved
    drop(tx.reserve(8).unwrap()); // cancelled
    let mut r = tx.reserve(5).unwrap();
    r.write(0, b"12345");
    r.commit(8, 5);
    let rec = rx.peek().unwrap();
    assert_eq!((rec.tag(), rec.len()), (7, 10));
    assert_eq!(rec.as_slice(), b"\x05\x05\x05abc\x05\x05\x05\x05");
    assert_eq!(&rec.view().frame()[..4], &10u32.to_le_bytes());
    rec.release();
    let mut seen = Vec::new();
    let n = rx
        .drain(10, |r| {
            let mut b = vec![0; r.len()];
            assert_eq!(r.read(0, &mut b), r.len());
            assert_eq!(r.read(99, &mut b), 0);
            seen.push((r.tag(), b));
        })
        .unwrap();
    assert_eq!(n, 1, "the cancelled record is no message");
    assert_eq!(seen, vec![(8, b"12345".to_vec())]);
    assert_eq!((ring.used(), ring.skipped()), (Some(0), 0));
}

/// Random sends from three producers, receives and reservations against a
/// model queue, across many laps.
#[test]
fn random_ops_match_a_model() {
    let buf = ring_buf(256);
    let ring = ManyToOneRing::init(buf.region(), RingConfig::new(256)).unwrap();
    let mut txs: Vec<_> = (1..=3)
        .map(|h| ring.producer(Holder::new(h).unwrap()))
        .collect();
    let mut rx = ring.consumer(Holder::fixed::<9>()).unwrap();
    let mut model = VecDeque::new();
    let mut rng = Rng::new(7);
    let mut seq = 0u32;
    for _ in 0..if cfg!(miri) { 300 } else { 20_000 } {
        if rng.below(2) == 0 {
            let len = rng.below(100) as usize;
            let tx = &mut txs[rng.below(3) as usize];
            match tx.try_send(seq, &payload(seq, len)) {
                Ok(()) => {
                    model.push_back((seq, payload(seq, len)));
                    seq += 1;
                }
                Err(SendError::Full) => {}
                Err(e) => panic!("{e}"),
            }
        } else {
            match rx.try_recv(&mut [0u8; 256]) {
                Err(RecvError::Empty) => assert!(model.is_empty()),
                Ok(_) => {
                    model.pop_front().unwrap();
                }
                Err(e) => panic!("{e}"),
            }
        }
        // Look at the head without taking it: the model's front.
        if let Some((s, p)) = model.front() {
            let rec = rx.peek().unwrap();
            assert_eq!((rec.tag(), rec.as_slice()), (*s, &p[..]));
        }
    }
}

#[test]
fn attach_validates_the_header() {
    let buf = ring_buf(128);
    ManyToOneRing::init(buf.region(), RingConfig::new(128)).unwrap();
    let ring = ManyToOneRing::attach(buf.region()).unwrap();
    assert_eq!(ring.capacity(), 128);
    assert!(matches!(
        crate::bytes::ByteRing::attach(buf.region()),
        Err(AttachError::Kind { .. })
    ));
    let st = status(&buf.region()).unwrap();
    assert_eq!((st.consumer, st.fill(), st.skipped), (0, Some(0), 0));
}

#[test]
fn one_consumer_at_a_time_taken_back_from_the_dead() {
    let buf = ring_buf(64);
    let ring = ManyToOneRing::init(buf.region(), RingConfig::new(64)).unwrap();
    let rx = ring.consumer(Holder::fixed::<3>()).unwrap();
    assert_eq!(
        ring.consumer(Holder::fixed::<4>()).unwrap_err(),
        RoleError::Taken { holder: 3 }
    );
    core::mem::forget(rx); // dies holding the role
    assert!(ring
        .take_over_consumer(Holder::fixed::<4>(), |_| true)
        .is_err());
    let rx = ring
        .take_over_consumer(Holder::fixed::<4>(), |h| h != 3)
        .unwrap();
    assert_eq!(ring.consumer_holder(), 4);
    drop(rx);
    assert_eq!(ring.consumer_holder(), 0);
}

/// A producer that dies after its stamp: the consumer sees its holder,
/// skips it (counted), and every message after it arrives.
#[test]
fn a_stamped_dead_claim_is_skipped_and_counted() {
    let buf = ring_buf(256);
    let ring = ManyToOneRing::init(buf.region(), RingConfig::new(256)).unwrap();
    let mut dead = ring.producer(Holder::fixed::<66>());
    let mut live = ring.producer(Holder::fixed::<1>());
    let mut rx = ring.consumer(Holder::fixed::<9>()).unwrap();
    live.try_send(0, b"before").unwrap();
    let pos = dead.abandon_claim(10).unwrap();
    live.try_send(1, b"after").unwrap();
    assert_eq!(recv(&mut rx), (0, b"before".to_vec()));
    assert_eq!(
        rx.try_recv(&mut [0; 64]),
        Err(RecvError::Stalled { position: pos })
    );
    let stall = rx.stall().unwrap().unwrap();
    assert_eq!(
        stall,
        Stall {
            position: pos,
            claimant: Some(66)
        }
    );
    assert_eq!(
        rx.skip_stalled(pos + 8),
        Err(SkipError::NotStalled { position: pos + 8 })
    );
    assert_eq!(rx.skip_stalled(pos), Ok(record_size(10).unwrap()));
    assert_eq!(ring.skipped(), 1);
    assert_eq!(recv(&mut rx), (1, b"after".to_vec()));
    assert_eq!(rx.stall(), Ok(None));
}

/// A claimant that commits before the skip's compare-exchange wins: its
/// message is delivered, nothing is skipped.
#[test]
fn a_commit_beats_a_late_skip() {
    let buf = ring_buf(128);
    let ring = ManyToOneRing::init(buf.region(), RingConfig::new(128)).unwrap();
    let mut tx = ring.producer(Holder::fixed::<5>());
    let mut rx = ring.consumer(Holder::fixed::<9>()).unwrap();
    let mut r = tx.reserve(3).unwrap();
    let pos = r.position();
    assert_eq!(rx.stall().unwrap().unwrap().claimant, Some(5));
    r.write(0, b"xyz");
    r.commit(4, 3);
    assert_eq!(
        rx.skip_stalled(pos),
        Err(SkipError::NotStalled { position: pos })
    );
    assert_eq!(recv(&mut rx), (4, b"xyz".to_vec()));
    assert_eq!(ring.skipped(), 0);
}

/// A producer that dies between its compare-exchange and its stamp: no
/// holder to judge, no size; the consumer skips to the next stamp once
/// there is one, and loses no other message.
#[test]
fn an_unstamped_claim_is_skipped_to_the_next_stamp() {
    let buf = ring_buf(256);
    let ring = ManyToOneRing::init(buf.region(), RingConfig::new(256)).unwrap();
    let mut dead = ring.producer(Holder::fixed::<66>());
    let mut live = ring.producer(Holder::fixed::<1>());
    let mut rx = ring.consumer(Holder::fixed::<9>()).unwrap();
    // Stale bytes where the claim lies, as a lap earlier would leave.
    live.try_send(0, &[0xAB; 100]).unwrap();
    recv(&mut rx);
    let pos = dead.abandon_unstamped(20).unwrap();
    let stall = rx.stall().unwrap().unwrap();
    assert_eq!(
        stall,
        Stall {
            position: pos,
            claimant: None
        }
    );
    assert_eq!(
        rx.skip_stalled(pos),
        Err(SkipError::NoBoundary { position: pos })
    );
    live.try_send(1, b"next").unwrap();
    live.try_send(2, b"again").unwrap();
    assert_eq!(rx.skip_stalled(pos), Ok(record_size(20).unwrap()));
    assert_eq!(ring.skipped(), 1);
    assert_eq!(recv(&mut rx), (1, b"next".to_vec()));
    assert_eq!(recv(&mut rx), (2, b"again".to_vec()));
}

/// Positions near the end of the 32-bit range: claims, padding and skips
/// wrap the counters as they wrap the buffer; the largest payload fits in
/// an empty ring at the front.
#[test]
fn extreme_positions_and_sizes() {
    let buf = ring_buf(MIN_CAPACITY);
    let ring = ManyToOneRing::init(buf.region(), RingConfig::new(MIN_CAPACITY)).unwrap();
    let start = 0u32.wrapping_sub(72); // 8-aligned, 72 bytes before the wrap
    word_at(&buf, TAIL).store(start, Ordering::Relaxed);
    word_at(&buf, HEAD).store(start, Ordering::Relaxed);
    let mut tx = ring.producer(Holder::fixed::<{ Holder::MAX }>());
    let mut rx = ring.consumer(Holder::fixed::<{ Holder::MAX }>()).unwrap();
    let mut out = [0u8; 64];
    // Receives one message if there is one (padding alone reads as empty).
    let mut take = |rx: &mut Consumer<'_>| match rx.try_recv(&mut out) {
        Ok((tag, n)) => assert_eq!(out[..n], payload(tag, n)[..]),
        Err(RecvError::Empty) => {}
        Err(e) => panic!("{e}"),
    };
    for round in 0..40u32 {
        let len = (round as usize * 5) % 33;
        loop {
            match tx.try_send(round, &payload(round, len)) {
                Ok(()) => break,
                Err(SendError::Full) => take(&mut rx),
                Err(e) => panic!("{e}"),
            }
        }
        if round % 7 == 3 {
            let pos = loop {
                match tx.abandon_claim(0) {
                    Ok(pos) => break pos,
                    Err(SendError::Full) => take(&mut rx),
                    Err(e) => panic!("{e}"),
                }
            };
            while rx.stall().unwrap().is_none() {
                take(&mut rx);
            }
            assert_eq!(rx.skip_stalled(pos), Ok(32));
        }
    }
    while ring.used() != Some(0) {
        take(&mut rx);
    }
    assert!(ring.used() == Some(0) && ring.skipped() >= 5);
    // The largest payload: an empty ring with the tail at the front.
    let at = word_at(&buf, TAIL).load(Ordering::Relaxed);
    let to_front = 64 - (at & 63);
    if to_front != 64 {
        tx.try_send(0, &vec![0; (to_front as usize).saturating_sub(32)])
            .unwrap();
        rx.try_recv(&mut [0; 64]).unwrap();
    }
    tx.try_send(1, &[9; 32]).unwrap();
    assert_eq!(rx.try_recv(&mut [0; 32]), Ok((1, 32)));
}

/// Hostile indices and stamps: typed errors, never an access outside the
/// region (the buffer is exactly the ring's length, so Miri would see one).
#[test]
fn hostile_indices_and_stamps_are_corrupt_never_out_of_bounds() {
    let buf = ring_buf(128);
    let ring = ManyToOneRing::init(buf.region(), RingConfig::new(128)).unwrap();
    let mut tx = ring.producer(Holder::fixed::<1>());
    let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
    let mut out = [0u8; 128];
    // A tail more than a capacity ahead.
    word_at(&buf, TAIL).store(1000, Ordering::Relaxed);
    assert_eq!(rx.try_recv(&mut out), Err(RecvError::Corrupt));
    // A tail not a multiple of 8.
    word_at(&buf, TAIL).store(3, Ordering::Relaxed);
    assert_eq!(tx.try_send(0, b"x"), Err(SendError::Corrupt));
    // A head out of range: producers retry, then call it corrupt.
    word_at(&buf, TAIL).store(0, Ordering::Relaxed);
    word_at(&buf, HEAD).store(4000, Ordering::Relaxed);
    if !cfg!(miri) {
        // A new producer's head is checked at its first claim.
        let mut fresh = ring.producer(Holder::fixed::<3>());
        assert_eq!(fresh.try_send(0, b"x"), Err(SendError::Corrupt));
    }
    word_at(&buf, HEAD).store(0, Ordering::Relaxed);
    drop(rx);
    let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
    // A valid stamp with an impossible size, then a bad frame header.
    tx.try_send(1, b"ok").unwrap();
    let data = 384;
    let size_word = word_at(&buf, data + 4);
    let holder = word_at(&buf, data + 8).load(Ordering::Relaxed);
    for size in [8u32, 4096, 200] {
        size_word.store(size | stamp::COMMITTED, Ordering::Relaxed);
        word_at(&buf, data + 12).store(stamp_check(0, size, holder), Ordering::Relaxed);
        assert_eq!(rx.try_recv(&mut out), Err(RecvError::Corrupt), "{size}");
    }
    size_word.store(40 | stamp::COMMITTED, Ordering::Relaxed);
    word_at(&buf, data + 12).store(stamp_check(0, 40, holder), Ordering::Relaxed);
    word_at(&buf, data + 16).store(77, Ordering::Relaxed); // frame len
    assert_eq!(rx.try_recv(&mut out), Err(RecvError::Corrupt));
    // An unknown state.
    size_word.store(40 | 7, Ordering::Relaxed);
    assert_eq!(rx.try_recv(&mut out), Err(RecvError::Corrupt));
    // A junk check: not a stamp, so an unstamped claim.
    word_at(&buf, data + 12).store(0, Ordering::Relaxed);
    assert_eq!(rx.stall().unwrap().unwrap().claimant, None);
}

/// Random scribbles over the whole ring: every call ends with some result.
#[test]
fn random_scribbles_never_break_bounds() {
    let buf = ring_buf(128);
    let ring = ManyToOneRing::init(buf.region(), RingConfig::new(128)).unwrap();
    let mut tx = ring.producer(Holder::fixed::<1>());
    let mut rng = Rng::new(3);
    let total = ManyToOneRing::bytes_needed(128).unwrap();
    for _ in 0..if cfg!(miri) { 200 } else { 20_000 } {
        let offset = (rng.below(total as u64 / 4) * 4) as usize;
        let offset = if rng.below(2) == 0 {
            [TAIL, HEAD, 384, 388, 392, 396, 400][rng.below(7) as usize]
        } else {
            offset
        };
        // The header stays valid (attach is tested elsewhere). Under Miri
        // the indices stay too: a head out of range costs a producer its
        // whole retry budget, minutes there (tested natively above).
        if offset < 64 || (cfg!(miri) && (TAIL..384).contains(&offset)) {
            continue;
        }
        word_at(&buf, offset).store(rng.next() as u32 & 0xffff, Ordering::Relaxed);
        let _ = tx.try_send(1, &[1; 9]);
        if let Ok(mut rx) = ring.consumer(Holder::fixed::<2>()) {
            let _ = rx.try_recv(&mut [0; 128]);
            if let Ok(Some(s)) = rx.stall() {
                let _ = rx.skip_stalled(s.position);
            }
            let _ = rx.drain(4, |r| {
                let _ = r.read(0, &mut [0; 8]);
            });
        }
        word_at(&buf, 64).store(0, Ordering::Relaxed); // free the role
    }
}

#[test]
fn producer_threads_deliver_exactly_once_in_order() {
    const PRODUCERS: u32 = 3;
    let per: u32 = if cfg!(miri) { 30 } else { 20_000 };
    let buf = ring_buf(512);
    let ring = ManyToOneRing::init(buf.region(), RingConfig::new(512)).unwrap();
    let mut rx = ring.consumer(Holder::fixed::<99>()).unwrap();
    std::thread::scope(|s| {
        for p in 0..PRODUCERS {
            s.spawn(move || {
                let mut tx = ring.producer(Holder::new(p + 1).unwrap());
                for i in 0..per {
                    let len = (i % 50) as usize;
                    while tx.try_send(p, &payload(i, len)).is_err() {
                        std::thread::yield_now();
                    }
                }
            });
        }
        let mut next = [0u32; PRODUCERS as usize];
        let mut out = [0u8; 64];
        while next.iter().any(|&n| n < per) {
            match rx.try_recv(&mut out) {
                Ok((p, n)) => {
                    let i = next[p as usize];
                    assert_eq!(out[..n], payload(i, (i % 50) as usize)[..]);
                    next[p as usize] += 1;
                }
                Err(RecvError::Empty | RecvError::Stalled { .. }) => std::thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
        }
    });
    assert_eq!(rx.try_recv(&mut [0; 8]), Err(RecvError::Empty));
}

#[test]
fn blocking_send_and_recv_between_threads() {
    let count: u32 = if cfg!(miri) { 20 } else { 5_000 };
    let buf = ring_buf(128);
    let ring = ManyToOneRing::init(buf.region(), RingConfig::new(128)).unwrap();
    let blocking = Blocking::new(TestWait::default());
    let mut rx = ring.consumer(Holder::fixed::<9>()).unwrap();
    std::thread::scope(|s| {
        for p in 0..2u32 {
            let blocking = &blocking;
            s.spawn(move || {
                let mut tx = ring.producer(Holder::new(p + 1).unwrap());
                for i in 0..count {
                    tx.send(p, &payload(i, (i % 40) as usize), blocking, None)
                        .unwrap();
                }
            });
        }
        let mut next = [0u32; 2];
        let mut out = [0u8; 64];
        for _ in 0..2 * count {
            let (p, n) = rx.recv(&mut out, &blocking, None).unwrap();
            let i = next[p as usize];
            assert_eq!(out[..n], payload(i, (i % 40) as usize)[..]);
            next[p as usize] += 1;
        }
    });
    assert_eq!(
        rx.recv(&mut [0; 8], &blocking, Some(Duration::from_millis(5))),
        Err(RecvError::TimedOut)
    );
}

/// `recv` waits on an unfinished claim for the patience, then skips it.
#[test]
#[cfg_attr(miri, ignore)] // a second of real time
fn recv_skips_a_claim_unfinished_for_the_patience() {
    let buf = ring_buf(128);
    let ring = ManyToOneRing::init(buf.region(), RingConfig::new(128)).unwrap();
    let blocking = Blocking::new(TestWait::default());
    let mut tx = ring.producer(Holder::fixed::<1>());
    let mut rx = ring.consumer(Holder::fixed::<9>()).unwrap();
    tx.abandon_claim(4).unwrap();
    tx.try_send(3, b"late").unwrap();
    // Shorter than the patience: a plain timeout, nothing skipped.
    assert_eq!(
        rx.recv(&mut [0; 8], &blocking, Some(Duration::from_millis(20))),
        Err(RecvError::TimedOut)
    );
    assert_eq!(ring.skipped(), 0);
    let start = std::time::Instant::now();
    let mut out = [0; 8];
    assert_eq!(
        rx.recv(&mut out, &blocking, Some(Duration::from_secs(10))),
        Ok((3, 4))
    );
    assert!(start.elapsed() >= CLAIM_PATIENCE);
    assert_eq!((&out[..4], ring.skipped()), (&b"late"[..], 1));
}

/// The example in docs/many-to-one.md, byte for byte (little-endian).
#[test]
fn the_docs_example_bytes() {
    let buf = ring_buf(64);
    let ring = ManyToOneRing::init(buf.region(), RingConfig::new(64)).unwrap();
    ring.producer(Holder::fixed::<7>())
        .try_send(9, b"hi")
        .unwrap();
    // SAFETY: nothing else runs; the ring's 32 first record bytes.
    let bytes = unsafe { core::slice::from_raw_parts(buf.ptr().add(384), 34) };
    let expected: [u8; 34] = [
        0x00, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x50, 0x13, 0x48,
        0x95, 0x02, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x28, 0x6c,
        0xd1, 0xef, b'h', b'i',
    ];
    if cfg!(target_endian = "little") {
        assert_eq!(bytes, &expected);
    }
    assert_eq!(stamp_check(0, 40, 7), 0x9548_1350);
    assert_eq!(ring.used(), Some(40));
}

/// `abandon_unstamped` (the test hook for a producer killed before its
/// stamp) checks the indices as a claim does: a head out of range is
/// `Corrupt`, not an arithmetic overflow (found by the `many_to_one` fuzz
/// target).
#[test]
fn an_unstamped_abandon_checks_the_indices() {
    let buf = ring_buf(128);
    let ring = ManyToOneRing::init(buf.region(), RingConfig::new(128)).unwrap();
    let mut tx = ring.producer(Holder::fixed::<1>());
    word_at(&buf, HEAD).store(4000, Ordering::Relaxed);
    assert_eq!(tx.abandon_unstamped(8), Err(SendError::Corrupt));
    word_at(&buf, HEAD).store(0, Ordering::Relaxed);
    word_at(&buf, TAIL).store(3, Ordering::Relaxed);
    assert_eq!(tx.abandon_unstamped(8), Err(SendError::Corrupt));
}
