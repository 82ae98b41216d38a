use std::collections::VecDeque;

use super::*;
use crate::codec;
use crate::foundation::atomics::AtomicU32;
use crate::test_util::{AlignedBuf, Rng};

fn ring_buf(capacity: u32) -> AlignedBuf {
    AlignedBuf::new(ByteRing::bytes_needed(capacity).unwrap())
}

/// The payload of message `seq`: `len` bytes derived from both.
fn payload(seq: u32, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (seq as usize * 31 + i * 7) as u8)
        .collect()
}

/// Writes `bytes` into the ring's buffer at `pos`, as a hostile peer would.
fn scribble(buf: &AlignedBuf, pos: usize, bytes: &[u8]) {
    // SAFETY: callers keep pos + len inside the buffer; nothing else runs.
    unsafe {
        buf.ptr()
            .add(pos)
            .copy_from_nonoverlapping(bytes.as_ptr(), bytes.len())
    };
}

#[test]
fn bytes_needed_and_capacity_rules() {
    assert_eq!(ByteRing::bytes_needed(64), Ok(384 + 64));
    assert_eq!(
        ByteRing::bytes_needed(16),
        Err(InitError::CapacityBelow {
            capacity: 16,
            min: MIN_CAPACITY
        })
    );
    for bad in [0, 48, (1 << 31) + 1] {
        assert_eq!(
            ByteRing::bytes_needed(bad),
            Err(InitError::Capacity { capacity: bad })
        );
    }
    let buf = ring_buf(64);
    let ring = ByteRing::init(buf.region(), RingConfig::new(64)).unwrap();
    assert_eq!(ring.max_payload(), 48);
    assert_eq!(ring.capacity(), 64);
}

#[test]
fn send_recv_in_order_full_and_too_large() {
    let buf = ring_buf(128);
    let ring = ByteRing::init(buf.region(), RingConfig::new(128)).unwrap();
    let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
    let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
    let mut out = [0u8; 128];
    assert_eq!(rx.try_recv(&mut out), Err(RecvError::Empty));
    assert_eq!(
        tx.try_send(1, &[0; 113]),
        Err(SendError::TooLarge { len: 113, max: 112 })
    );
    // 24 + 32 + 16 + 48 = 120 bytes of records; 8 left.
    tx.try_send(10, b"a").unwrap();
    tx.try_send(11, &[7; 16]).unwrap();
    tx.try_send(12, b"").unwrap();
    tx.try_send(13, &[9; 32]).unwrap();
    assert_eq!(ring.used(), 120);
    assert_eq!(tx.try_send(14, b""), Err(SendError::Full));
    assert_eq!(rx.try_recv(&mut out), Ok((10, 1)));
    assert_eq!(&out[..1], b"a");
    assert_eq!(
        rx.try_recv(&mut out[..15]),
        Err(RecvError::BufferTooSmall { needed: 16 })
    );
    assert_eq!(rx.try_recv(&mut out), Ok((11, 16)));
    assert_eq!(&out[..16], &[7; 16]);
    assert_eq!(rx.try_recv(&mut out), Ok((12, 0)));
    assert_eq!(rx.try_recv(&mut out), Ok((13, 32)));
    assert_eq!(rx.try_recv(&mut out), Err(RecvError::Empty));
    assert!(ring.is_empty());
    // The largest message fits an empty ring (after padding to the front).
    loop {
        match tx.try_send(15, &[5; 112]) {
            Ok(()) => break,
            Err(SendError::Full) => assert_eq!(rx.try_recv(&mut out), Err(RecvError::Empty)),
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(rx.try_recv(&mut out), Ok((15, 112)));
    assert_eq!(&out[..112], &[5; 112]);
}

#[test]
fn reserve_commit_peek_release_in_place() {
    let buf = ring_buf(256);
    let ring = ByteRing::init(buf.region(), RingConfig::new(256)).unwrap();
    let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
    let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
    {
        let mut r = tx.reserve(40).unwrap();
        assert_eq!(r.len(), 40);
        let slice = r.as_mut_slice();
        assert_eq!(slice.as_ptr() as usize % RECORD_ALIGN, 0);
        slice.fill(3);
        r.write(0, b"hi");
        r.commit(77, 5); // only 5 used: the rest goes back
    }
    assert_eq!(ring.used(), 24);
    assert_eq!(tx.reserve(10).unwrap().len(), 10); // dropped: nothing sent
    assert_eq!(ring.used(), 24);
    // Peeked but not released: seen again.
    for _ in 0..2 {
        let rec = rx.peek().unwrap();
        assert_eq!((rec.tag(), rec.len()), (77, 5));
        assert_eq!(rec.as_slice(), b"hi\x03\x03\x03");
        assert_eq!(rec.as_slice().as_ptr() as usize % RECORD_ALIGN, 0);
        // The record is a stream frame, byte for byte.
        let mut wire = [0u8; 32];
        let n = codec::encode(77, b"hi\x03\x03\x03", &mut wire).unwrap();
        assert_eq!(rec.view().frame(), &wire[..n]);
        let mut part = [0u8; 3];
        assert_eq!(rec.view().read(3, &mut part), 2);
        assert_eq!(&part[..2], b"\x03\x03");
    }
    let rec = rx.peek().unwrap();
    assert_eq!(rec.tag(), 77);
    rec.release();
    assert_eq!(rx.peek().unwrap_err(), RecvError::Empty);
    assert!(ring.is_empty());
}

#[test]
fn drain_hands_out_a_batch_and_releases_once() {
    let buf = ring_buf(512);
    let ring = ByteRing::init(buf.region(), RingConfig::new(512)).unwrap();
    let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
    let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
    for i in 0..5 {
        tx.try_send(i, &payload(i, i as usize * 3)).unwrap();
    }
    let mut seen = Vec::new();
    assert_eq!(
        rx.drain(3, |r| seen.push((r.tag(), r.as_slice().to_vec()))),
        Ok(3)
    );
    assert_eq!(
        rx.drain(10, |r| seen.push((r.tag(), r.as_slice().to_vec()))),
        Ok(2)
    );
    assert_eq!(rx.drain(10, |_| panic!("empty")), Ok(0));
    let want: Vec<_> = (0..5).map(|i| (i, payload(i, i as usize * 3))).collect();
    assert_eq!(seen, want);
    assert!(ring.is_empty());
}

#[test]
fn a_tail_shorter_than_a_header_is_skipped() {
    let buf = ring_buf(64);
    let ring = ByteRing::init(buf.region(), RingConfig::new(64)).unwrap();
    let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
    let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
    let mut out = [0u8; 64];
    tx.try_send(1, &[1; 40]).unwrap(); // 56 bytes: 8 left before the end
    assert_eq!(rx.try_recv(&mut out), Ok((1, 40)));
    tx.try_send(2, &[2; 8]).unwrap(); // skips the 8, lands at the front
    assert_eq!(ring.used(), 8 + 24);
    assert_eq!(rx.try_recv(&mut out), Ok((2, 8)));
    assert_eq!(&out[..8], &[2; 8]);
    assert!(ring.is_empty());
}

/// The consumer publishes its head lazily: once a quarter of the capacity
/// is released, when it has taken the last message of the tail it read,
/// when it finds the ring empty, in `wake_producer`, at the end of a drain
/// and when dropped — and the producer gets the room then.
#[test]
fn the_head_is_published_by_the_quarter_and_when_idle() {
    use crate::foundation::atomics::Ordering::Relaxed;
    let buf = ring_buf(256); // a quarter: 64 bytes, four 16-byte records
    let ring = ByteRing::init(buf.region(), RingConfig::new(256)).unwrap();
    let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
    let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
    let head = || index_word(&buf, 256).load(Relaxed);
    let mut out = [0u8; 8];
    for seq in 0..16 {
        tx.try_send(seq, b"").unwrap();
    }
    assert_eq!(tx.try_send(16, b""), Err(SendError::Full));
    for seq in 0..3 {
        assert_eq!(rx.try_recv(&mut out), Ok((seq, 0)));
    }
    // 48 bytes released, none published: the producer still sees it full.
    assert_eq!((head(), rx.head, rx.published), (0, 48, 0));
    assert_eq!(tx.try_send(16, b""), Err(SendError::Full));
    assert_eq!(ring.used(), 256);
    // The fourth makes a quarter.
    assert_eq!(rx.try_recv(&mut out), Ok((3, 0)));
    assert_eq!(head(), 64);
    for seq in 16..20 {
        tx.try_send(seq, b"").unwrap();
    }
    assert_eq!(tx.try_send(20, b""), Err(SendError::Full));
    // Peek and release count the same way.
    for seq in 4..8 {
        let rec = rx.peek().unwrap();
        assert_eq!(rec.tag(), seq);
        assert_eq!(head(), 64);
        rec.release();
    }
    assert_eq!(head(), 128);
    // `wake_producer` publishes whatever is released.
    assert_eq!(rx.try_recv(&mut out), Ok((8, 0)));
    assert_eq!(head(), 128);
    assert!(!rx.wake_producer(&crate::test_util::TestWait::default()));
    assert_eq!(head(), 144);
    // A drain publishes at its end.
    assert_eq!(rx.drain(2, |_| {}), Ok(2));
    assert_eq!(head(), 176);
    // Taking the last message of the tail it read publishes (caught up):
    // 11..16 end at 256, the tail read at the first receive, 16..20 at 320,
    // read when 16 was wanted; a quarter is published in between.
    for seq in 11..15 {
        assert_eq!(rx.try_recv(&mut out), Ok((seq, 0)));
    }
    assert_eq!((head(), rx.head), (240, 240));
    assert_eq!(rx.try_recv(&mut out), Ok((15, 0)));
    assert_eq!(head(), 256);
    for seq in 16..20 {
        assert_eq!(rx.try_recv(&mut out), Ok((seq, 0)));
        assert_eq!(head(), if seq < 19 { 256 } else { 320 });
    }
    assert_eq!(rx.try_recv(&mut out), Err(RecvError::Empty));
    assert!(ring.is_empty());
    // Dropping the consumer publishes: the next one does not see a
    // message again.
    tx.try_send(20, b"").unwrap();
    tx.try_send(21, b"").unwrap();
    assert_eq!(rx.try_recv(&mut out), Ok((20, 0)));
    assert!(crate::wait::wait_set::Source::is_ready(&rx));
    assert_eq!((head(), rx.head), (320, 336));
    drop(rx);
    assert_eq!(head(), 336);
    let mut rx = ring.consumer(Holder::fixed::<3>()).unwrap();
    assert!(crate::wait::wait_set::Source::is_ready(&rx));
    assert_eq!(rx.try_recv(&mut out), Ok((21, 0)));
    assert!(!crate::wait::wait_set::Source::is_ready(&rx));
    assert_eq!(rx.try_recv(&mut out), Err(RecvError::Empty));
}

/// A consumer that dies before publishing: the one that takes over
/// resumes at the published head and gets those messages again (at most
/// a quarter of the capacity), and the dead one's handle, dropped after,
/// does not publish over the new holder's head.
#[test]
fn a_taken_over_consumer_redelivers_what_it_did_not_publish() {
    use crate::foundation::atomics::Ordering::Relaxed;
    let buf = ring_buf(256);
    let ring = ByteRing::init(buf.region(), RingConfig::new(256)).unwrap();
    let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
    let mut old = ring.consumer(Holder::fixed::<2>()).unwrap();
    let mut out = [0u8; 8];
    for seq in 0..3 {
        tx.try_send(seq, &[seq as u8; 8]).unwrap();
    }
    assert_eq!(old.try_recv(&mut out), Ok((0, 8)));
    let mut new = ring
        .take_over_consumer(Holder::fixed::<3>(), |_| false)
        .unwrap();
    assert_eq!(new.try_recv(&mut out), Ok((0, 8)));
    assert_eq!(new.try_recv(&mut out), Ok((1, 8)));
    drop(old);
    assert_eq!(index_word(&buf, 256).load(Relaxed), 0);
    assert_eq!(new.try_recv(&mut out), Ok((2, 8)));
    assert_eq!(new.try_recv(&mut out), Err(RecvError::Empty));
    assert_eq!(index_word(&buf, 256).load(Relaxed), 72);
}

/// The producer's header words are `FrameHeader::encode`'s bytes.
#[test]
fn header_words_are_the_encoding() {
    let mut rng = Rng::new(3);
    for _ in 0..1000 {
        let header = FrameHeader {
            len: rng.below(1 << 32) as u32,
            tag: rng.below(1 << 32) as u32,
            flags: if rng.below(2) == 0 { 0 } else { FLAG_PAD },
        };
        assert_eq!(producer::header_bytes(&header), header.encode());
    }
}

/// Random operations against a `VecDeque` model, with messages of every
/// size up to the largest, across many wraps.
#[test]
fn random_ops_match_a_model() {
    let mut rng = Rng::new(7);
    for capacity in [32u32, 64, 256, 4096] {
        let buf = ring_buf(capacity);
        let ring = ByteRing::init(buf.region(), RingConfig::new(capacity)).unwrap();
        let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
        let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
        let max = ring.max_payload() as u64;
        let mut model: VecDeque<(u32, Vec<u8>)> = VecDeque::new();
        let mut seq = 0u32;
        let mut out = vec![0u8; capacity as usize];
        for _ in 0..if cfg!(miri) { 300 } else { 20_000 } {
            match rng.below(6) {
                0 | 1 => {
                    let len = rng.below(max + 1) as usize;
                    let data = payload(seq, len);
                    match tx.try_send(seq, &data) {
                        Ok(()) => {
                            model.push_back((seq, data));
                            seq += 1;
                        }
                        // Full only with something (at least padding) in it.
                        Err(SendError::Full) => assert!(!ring.is_empty()),
                        Err(e) => panic!("{e}"),
                    }
                }
                2 => {
                    let len = rng.below(max + 1) as usize;
                    if let Ok(mut r) = tx.reserve(len) {
                        let used = rng.below(len as u64 + 1) as usize;
                        let data = payload(seq, used);
                        r.as_mut_slice()[..used].copy_from_slice(&data);
                        r.commit(seq, used);
                        model.push_back((seq, data));
                        seq += 1;
                    }
                }
                3 => match rx.try_recv(&mut out) {
                    Ok((tag, len)) => {
                        assert_eq!(Some((tag, out[..len].to_vec())), model.pop_front())
                    }
                    Err(RecvError::Empty) => assert!(model.is_empty()),
                    Err(e) => panic!("{e}"),
                },
                4 => match rx.peek() {
                    Ok(rec) => {
                        let (tag, data) = model.front().unwrap();
                        assert_eq!((rec.tag(), rec.as_slice()), (*tag, &data[..]));
                        if rng.below(2) == 0 {
                            rec.release();
                            model.pop_front();
                        }
                    }
                    Err(e) => {
                        assert_eq!(e, RecvError::Empty);
                        assert!(model.is_empty());
                    }
                },
                _ => {
                    let n = rx
                        .drain(rng.below(4) as usize, |r| {
                            let (tag, data) = model.pop_front().unwrap();
                            assert_eq!((r.tag(), r.as_slice()), (tag, &data[..]));
                        })
                        .unwrap();
                    assert!(n <= 3);
                }
            }
            assert!(ring.used() <= capacity);
        }
    }
}

#[test]
fn attach_validates_the_header() {
    let buf = ring_buf(256);
    assert_eq!(
        ByteRing::attach(buf.region()).unwrap_err(),
        AttachError::NotReady { state: 0 }
    );
    let ring = ByteRing::init(buf.region(), RingConfig::new(256).with_creator_pid(9)).unwrap();
    let other = ByteRing::attach(buf.region()).unwrap();
    assert_eq!(other.capacity(), 256);
    assert_eq!(ring.header().creator_pid, 9);
    // A byte ring records u8's type id; another id is another element.
    // SAFETY: the type id's low word, inside the buffer, aligned to 4.
    unsafe { buf.ptr().add(24).cast::<u32>().write(0x1234) };
    assert!(matches!(
        ByteRing::attach(buf.region()),
        Err(AttachError::Element { .. })
    ));
    // SAFETY: as above.
    unsafe {
        buf.ptr()
            .add(24)
            .cast::<u32>()
            .write(<u8 as crate::Plain>::TYPE_ID as u32)
    };
    assert!(ByteRing::attach(buf.region()).is_ok());
    // An SPSC ring is not a byte ring.
    let spsc_buf = AlignedBuf::new(crate::ring::spsc::SpscRing::<u64>::bytes_needed(64).unwrap());
    crate::ring::spsc::SpscRing::<u64>::init(spsc_buf.region(), RingConfig::new(64)).unwrap();
    assert!(matches!(
        ByteRing::attach(spsc_buf.region()),
        Err(AttachError::Kind { found: 1, .. })
    ));
    // A region shorter than the recorded ring.
    // SAFETY: a prefix of the buffer.
    let short = unsafe { Region::from_raw(buf.ptr(), 384 + 128) }.unwrap();
    assert!(matches!(
        ByteRing::attach(short),
        Err(AttachError::Region(RegionError::TooSmall { .. }))
    ));
    // Through the attached handle, messages flow both ways.
    let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
    let mut rx = other.consumer(Holder::fixed::<2>()).unwrap();
    tx.try_send(3, b"xyz").unwrap();
    assert_eq!(rx.peek().unwrap().as_slice(), b"xyz");
}

#[test]
fn hostile_headers_and_indices_are_corrupt_never_out_of_bounds() {
    let buf = ring_buf(128);
    let ring = ByteRing::init(buf.region(), RingConfig::new(128)).unwrap();
    let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
    let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
    let mut out = [0u8; 128];

    // A length beyond the published bytes (check word made to match).
    tx.try_send(1, b"abcd").unwrap();
    scribble(&buf, DATA_OFFSET, &FrameHeader::new(1, 100).encode());
    assert_eq!(rx.peek().unwrap_err(), RecvError::Corrupt);
    // A length past the end of the buffer.
    scribble(&buf, DATA_OFFSET, &FrameHeader::new(1, 1000).encode());
    assert_eq!(rx.try_recv(&mut out), Err(RecvError::Corrupt));
    // A header whose check fails.
    scribble(&buf, DATA_OFFSET, &[0xff; 16]);
    assert_eq!(rx.drain(4, |_| panic!("corrupt")), Err(Corrupt));
    // Two padding runs in a row.
    let pad = FrameHeader {
        len: 112,
        tag: 0,
        flags: FLAG_PAD,
    };
    scribble(&buf, DATA_OFFSET, &pad.encode());
    // SAFETY: tail is a live atomic at offset 128; we pose as the producer.
    let tail = unsafe { &*buf.ptr().add(128).cast::<AtomicU32>() };
    tail.store(256, Ordering::Release);
    assert_eq!(rx.peek().unwrap_err(), RecvError::Corrupt);
    // A tail claiming more than the capacity.
    tail.store(1000, Ordering::Release);
    assert_eq!(rx.peek().unwrap_err(), RecvError::Corrupt);
    // A head far from the tail: the producer refuses to write.
    // SAFETY: as above, for head at 256.
    let head = unsafe { &*buf.ptr().add(256).cast::<AtomicU32>() };
    head.store(0x8000_0000, Ordering::Release);
    assert_eq!(tx.try_send(1, &[0; 100]), Err(SendError::Corrupt));
    // A misaligned head: refused when a new consumer claims the role,
    // and by a live consumer's next peek.
    head.store(3, Ordering::Release);
    tail.store(24, Ordering::Release);
    drop(rx);
    assert_eq!(
        ring.consumer(Holder::fixed::<2>()).unwrap_err(),
        RoleError::Corrupt
    );
    assert_eq!(ring.consumer_holder(), 0);
    head.store(0, Ordering::Release);
    let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
    head.store(3, Ordering::Release);
    rx.head = 3;
    assert_eq!(rx.peek().unwrap_err(), RecvError::Corrupt);
}

/// Random scribbles over indices and records between random operations:
/// whatever happens, no panic and no access outside the region (Miri
/// checks the latter).
#[test]
fn random_scribbles_never_break_bounds() {
    let mut rng = Rng::new(99);
    let capacity = 128u32;
    let buf = ring_buf(capacity);
    let ring = ByteRing::init(buf.region(), RingConfig::new(capacity)).unwrap();
    let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
    let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
    let mut out = [0u8; 128];
    for _ in 0..if cfg!(miri) { 500 } else { 50_000 } {
        match rng.below(5) {
            0 => drop(tx.try_send(1, &out[..rng.below(120) as usize])),
            1 => drop(rx.try_recv(&mut out[..rng.below(128) as usize])),
            2 => {
                if let Ok(rec) = rx.peek() {
                    std::hint::black_box(rec.as_slice());
                    rec.release();
                }
            }
            3 => drop(rx.drain(3, |r| {
                std::hint::black_box(r.as_slice());
            })),
            _ => {
                let word = rng.next() as u32;
                let pos = [
                    128,
                    256,
                    DATA_OFFSET + (rng.below(capacity as u64) as usize & !3),
                ][rng.below(3) as usize];
                scribble(&buf, pos, &word.to_le_bytes());
                if rng.below(4) == 0 {
                    // A valid-looking header with any length.
                    let at = DATA_OFFSET + (rng.below(capacity as u64 / 8) as usize * 8);
                    if at + 16 <= DATA_OFFSET + capacity as usize {
                        let h = FrameHeader {
                            len: word % 256,
                            tag: 0,
                            flags: word >> 31,
                        };
                        scribble(&buf, at, &h.encode());
                    }
                }
            }
        }
    }
}

#[test]
fn roles_are_exclusive_and_taken_back_from_the_dead() {
    let buf = ring_buf(128);
    let ring = ByteRing::init(buf.region(), RingConfig::new(128)).unwrap();
    let mut tx = ring.producer(Holder::fixed::<10>()).unwrap();
    assert_eq!(
        ring.producer(Holder::fixed::<11>()).unwrap_err(),
        RoleError::Taken { holder: 10 }
    );
    let rx = ring.consumer(Holder::fixed::<20>()).unwrap();
    assert_eq!(
        ring.consumer(Holder::fixed::<21>()).unwrap_err(),
        RoleError::Taken { holder: 20 }
    );
    tx.try_send(1, b"kept").unwrap();
    // Dies mid-reservation: the uncommitted record is lost, the committed kept.
    let mut r = tx.reserve(8).unwrap();
    r.write(0, b"lost");
    core::mem::forget(tx);
    core::mem::forget(rx);
    let mut tx = ring
        .take_over_producer(Holder::fixed::<12>(), |h| h != 10)
        .unwrap();
    let mut rx = ring
        .take_over_consumer(Holder::fixed::<22>(), |h| h != 20)
        .unwrap();
    tx.try_send(2, b"next").unwrap();
    let mut out = [0u8; 8];
    assert_eq!(rx.try_recv(&mut out), Ok((1, 4)));
    assert_eq!(rx.try_recv(&mut out), Ok((2, 4)));
    assert_eq!(&out[..4], b"next");
}

/// Several producer threads share one ring by claiming the producer role
/// for each message; the consumer sees each producer's messages whole and
/// in order.
#[test]
fn producers_serialise_through_the_role() {
    const PRODUCERS: u32 = 3;
    let per = if cfg!(miri) { 20 } else { 2000 };
    let buf = ring_buf(1024);
    let ring = ByteRing::init(buf.region(), RingConfig::new(1024)).unwrap();
    std::thread::scope(|s| {
        for p in 1..=PRODUCERS {
            s.spawn(move || {
                let mut rng = Rng::new(p as u64);
                for seq in 0..per {
                    let data = payload(seq * PRODUCERS + p, rng.below(100) as usize);
                    loop {
                        // Claim, send, release; retry while another holds it.
                        let Ok(mut tx) = ring.producer(Holder::new(p).unwrap()) else {
                            std::thread::yield_now();
                            continue;
                        };
                        match tx.try_send(p << 24 | seq, &data) {
                            Ok(()) => break,
                            Err(SendError::Full) => {
                                drop(tx);
                                std::thread::yield_now();
                            }
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
            });
        }
        let mut rx = ring.consumer(Holder::fixed::<100>()).unwrap();
        let mut next = [0u32; PRODUCERS as usize + 1];
        let mut out = [0u8; 128];
        let mut received = 0;
        while received < PRODUCERS * per {
            match rx.try_recv(&mut out) {
                Ok((tag, len)) => {
                    let (p, seq) = (tag >> 24, tag & 0xff_ffff);
                    assert_eq!(seq, next[p as usize], "producer {p} out of order");
                    next[p as usize] += 1;
                    assert_eq!(&out[..len], &payload(seq * PRODUCERS + p, len)[..]);
                    received += 1;
                }
                Err(RecvError::Empty) => std::thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
        }
    });
}

#[test]
fn two_threads_stream_in_order() {
    let count: u32 = if cfg!(miri) { 200 } else { 100_000 };
    let buf = ring_buf(4096);
    let ring = ByteRing::init(buf.region(), RingConfig::new(4096)).unwrap();
    let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
    let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
    std::thread::scope(|s| {
        s.spawn(move || {
            let mut rng = Rng::new(5);
            for seq in 0..count {
                let data = payload(seq, rng.below(600) as usize);
                while let Err(e) = tx.try_send(seq, &data) {
                    assert_eq!(e, SendError::Full);
                    std::hint::spin_loop();
                }
            }
        });
        let mut rng = Rng::new(5);
        let mut seq = 0;
        while seq < count {
            let got = rx
                .drain(16, |r| {
                    assert_eq!(r.tag(), seq);
                    assert_eq!(r.as_slice(), &payload(seq, rng.below(600) as usize)[..]);
                    seq += 1;
                })
                .unwrap();
            if got == 0 {
                std::hint::spin_loop();
            }
        }
    });
}

mod blocking {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::test_util::TestWait;

    #[test]
    fn timeouts_and_errors_that_waiting_cannot_cure() {
        let buf = ring_buf(64);
        let ring = ByteRing::init(buf.region(), RingConfig::new(64)).unwrap();
        let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
        let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
        let b = Blocking::new(TestWait::default());
        let t = Some(Duration::from_millis(2));
        let mut out = [0u8; 64];
        assert_eq!(rx.recv(&mut out, &b, t), Err(RecvError::TimedOut));
        assert_eq!(
            tx.send(1, &[0; 49], &b, None),
            Err(SendError::TooLarge { len: 49, max: 48 })
        );
        tx.send(1, &[7; 40], &b, None).unwrap();
        assert_eq!(tx.send(2, &[8; 40], &b, t), Err(SendError::TimedOut));
        assert_eq!(
            rx.recv(&mut out[..8], &b, None),
            Err(RecvError::BufferTooSmall { needed: 40 })
        );
        assert_eq!(rx.recv(&mut out, &b, None), Ok((1, 40)));
        assert_eq!(out[..40], [7; 40]);
        assert!(SendError::TooLarge { len: 49, max: 48 }
            .to_string()
            .contains("49"));
    }

    /// Waits until `wait` has counted more than `before` futex waits: the
    /// side blocked on the ring has parked. Bounded, so a side that never
    /// parks fails the test instead of hanging it.
    fn until_parked(wait: &TestWait, before: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while wait.waits.load(std::sync::atomic::Ordering::Relaxed) <= before {
            assert!(Instant::now() < deadline, "the blocked side never parked");
            std::thread::yield_now();
        }
    }

    /// A small ring, sizes that force padding at the end, and few spins:
    /// both sides park (made certain first; how often in the stream
    /// depends on the schedule), and a padding run must wake the consumer
    /// (the producer waits for it to be skipped) or the two deadlock.
    #[test]
    fn threads_block_both_ways_across_padding() {
        let count: u32 = if cfg!(miri) { 30 } else { 5_000 };
        let buf = ring_buf(128);
        let ring = ByteRing::init(buf.region(), RingConfig::new(128)).unwrap();
        let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
        let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
        let b = Blocking {
            wait: TestWait::default(),
            spins: 2,
            yields: 1,
        };
        // A lost wake-up fails the test (timed out) instead of hanging it.
        let patience = Some(Duration::from_secs(10));
        // The consumer parks on the empty ring; a send wakes it.
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut one = [0u8; 8];
                assert_eq!(rx.recv(&mut one, &b, patience), Ok((7, 3)));
            });
            until_parked(&b.wait, 0);
            tx.send(7, &[1, 2, 3], &b, None).unwrap();
        });
        // The producer parks on the full ring; receives wake it.
        while tx.try_send(8, &[0; 8]).is_ok() {}
        let parked = b.wait.waits.load(std::sync::atomic::Ordering::Relaxed);
        std::thread::scope(|s| {
            s.spawn(|| tx.send(9, &[0; 8], &b, patience).unwrap());
            until_parked(&b.wait, parked);
            let (mut one, deadline) = ([0u8; 8], Instant::now() + Duration::from_secs(20));
            while rx.recv(&mut one, &b, Some(Duration::from_millis(1))) != Ok((9, 8)) {
                assert!(
                    Instant::now() < deadline,
                    "the parked producer was never woken"
                );
            }
        });
        std::thread::scope(|s| {
            let b = &b;
            s.spawn(move || {
                let mut rng = Rng::new(9);
                for seq in 0..count {
                    let data = payload(seq, rng.below(100) as usize);
                    tx.send(seq, &data, b, patience).unwrap();
                    if seq % 256 == 0 {
                        std::thread::sleep(Duration::from_micros(200));
                    }
                }
            });
            let mut rng = Rng::new(9);
            let mut out = [0u8; 112];
            for seq in 0..count {
                let (tag, len) = rx.recv(&mut out, b, patience).unwrap();
                assert_eq!(tag, seq);
                assert_eq!(out[..len], payload(seq, rng.below(100) as usize)[..]);
                if seq % 300 == 0 {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        });
    }
}

#[test]
fn status_reads_roles_and_fill_without_the_type_id() {
    let buf = ring_buf(64);
    let ring = ByteRing::init(buf.region(), RingConfig::new(64)).unwrap();
    let mut tx = ring.producer(Holder::fixed::<11>()).unwrap();
    let _rx = ring.consumer(Holder::fixed::<12>()).unwrap();
    tx.try_send(1, &[5; 10]).unwrap();
    let s = status(&buf.region()).unwrap();
    assert_eq!((s.producer, s.consumer), (11, 12));
    assert_eq!(s.fill(), Some(32));
    assert_eq!(s.header.capacity, 64);
    // Another kind is refused.
    let other = ring_buf(64);
    crate::ring::spsc::SpscRing::<u64>::init(other.region(), RingConfig::new(4)).unwrap();
    assert!(matches!(
        status(&other.region()),
        Err(AttachError::Kind { .. })
    ));
}

/// The index word at `offset` (128: tail, 256: head), as a peer sees it.
fn index_word(buf: &AlignedBuf, offset: usize) -> &AtomicU32 {
    assert!(offset == 128 || offset == 256);
    // SAFETY: a live, aligned AtomicU32 inside the buffer (layout table).
    unsafe { &*buf.ptr().add(offset).cast::<AtomicU32>() }
}

/// Runs every producer operation; nothing may report more than the
/// capacity or reach outside the region (Miri checks the latter).
fn exercise_producer(tx: &mut Producer<'_>, capacity: u32) {
    let _ = tx.try_send(1, &[7; 40]);
    let _ = tx.try_send(2, b"x");
    if let Ok(mut r) = tx.reserve(20) {
        r.as_mut_slice().fill(9);
        r.write(19, &[1]);
        r.commit(3, 20);
    }
    if let Ok(n) = tx.free_bytes() {
        assert!(n <= capacity);
    }
}

/// Runs every consumer operation, with the same promise.
fn exercise_consumer(rx: &mut Consumer<'_>, capacity: u32) {
    let mut out = [0u8; 256];
    if let Ok((_, n)) = rx.try_recv(&mut out) {
        assert!(n <= capacity as usize);
    }
    if let Ok(rec) = rx.peek() {
        let v = rec.view();
        std::hint::black_box((v.as_slice(), v.frame()));
        assert_eq!(v.read(v.len() + 5, &mut out), 0);
        rec.release();
    }
    let _ = rx.drain(3, |r| {
        std::hint::black_box(r.read(0, &mut [0; 8]));
    });
    if let Ok(n) = rx.ready_bytes() {
        assert!(n <= capacity);
    }
}

/// Hole 1 of issue 13, for the byte ring: a peer writes an index word
/// before a role is claimed or taken over. The claim checks the pair as
/// every later load does (and the claimer's own index for alignment): out
/// of range, `RoleError::Corrupt` and the role stays free.
#[test]
fn hostile_index_before_a_claim_is_refused_at_the_claim() {
    const CAP: u32 = 128;
    let mut values = vec![
        0,
        8,
        u32::MAX,
        CAP - 8,
        CAP,
        CAP + 8,
        1 << 31,
        0x4000_0000,
        3,
    ];
    for k in [1u32, 8, CAP - 8, CAP, CAP + 8, 400] {
        values.extend([k, k.wrapping_neg()]);
    }
    for offset in [128usize, 256] {
        for &value in &values {
            let buf = ring_buf(CAP);
            let ring = ByteRing::init(buf.region(), RingConfig::new(CAP)).unwrap();
            index_word(&buf, offset).store(value, Ordering::Release);
            let tail = index_word(&buf, 128).load(Ordering::Relaxed);
            let head = index_word(&buf, 256).load(Ordering::Relaxed);
            let in_range = tail.wrapping_sub(head) <= CAP;
            let what = format!("offset {offset} = {value:#x}");
            let claims = [
                (
                    ring.producer(Holder::fixed::<1>())
                        .map(|mut tx| exercise_producer(&mut tx, CAP)),
                    tail,
                ),
                (
                    ring.consumer(Holder::fixed::<2>())
                        .map(|mut rx| exercise_consumer(&mut rx, CAP)),
                    head,
                ),
            ];
            for (claimed, own) in claims {
                let sane = in_range && own.is_multiple_of(8);
                assert_eq!(claimed.is_ok(), sane, "{what}");
                if !sane {
                    assert_eq!(claimed, Err(RoleError::Corrupt), "{what}");
                }
                index_word(&buf, 128).store(tail, Ordering::Release);
                index_word(&buf, 256).store(head, Ordering::Release);
            }
            assert_eq!((ring.producer_holder(), ring.consumer_holder()), (0, 0));
            // Take-over of dead holders: the same check.
            index_word(&buf, 128).store(0, Ordering::Release);
            index_word(&buf, 256).store(0, Ordering::Release);
            core::mem::forget(ring.producer(Holder::fixed::<5>()).unwrap());
            core::mem::forget(ring.consumer(Holder::fixed::<6>()).unwrap());
            index_word(&buf, 128).store(tail, Ordering::Release);
            index_word(&buf, 256).store(head, Ordering::Release);
            let tx = ring.take_over_producer(Holder::fixed::<7>(), |_| false);
            assert_eq!(tx.is_ok(), in_range && tail.is_multiple_of(8), "{what}");
            drop(tx);
            index_word(&buf, 128).store(tail, Ordering::Release);
            let rx = ring.take_over_consumer(Holder::fixed::<8>(), |_| false);
            assert_eq!(rx.is_ok(), in_range && head.is_multiple_of(8), "{what}");
            drop(rx);
            assert!(ring.used() <= CAP);
            let s = status(&buf.region()).unwrap();
            assert_eq!(s.fill().is_some(), in_range, "{what}");
        }
    }
}

/// Hostile index values between operations of live handles: every
/// operation fails or stays in bounds.
#[test]
fn hostile_indices_between_operations_stay_in_bounds() {
    const CAP: u32 = 128;
    let buf = ring_buf(CAP);
    let ring = ByteRing::init(buf.region(), RingConfig::new(CAP)).unwrap();
    let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
    let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
    for round in 0..4u32 {
        for offset in [128usize, 256] {
            let other = index_word(&buf, 384 - offset).load(Ordering::Relaxed);
            for k in [0u32, 1, 8, 16, CAP - 8, CAP, CAP + 8, 1 << 31, 0x4000_0000] {
                for value in [k, other.wrapping_add(k), other.wrapping_sub(k)] {
                    index_word(&buf, offset).store(value, Ordering::Release);
                    if round % 2 == 0 {
                        exercise_producer(&mut tx, CAP);
                        exercise_consumer(&mut rx, CAP);
                    } else {
                        exercise_consumer(&mut rx, CAP);
                        exercise_producer(&mut tx, CAP);
                    }
                    assert!(ring.used() <= CAP);
                }
            }
            index_word(&buf, 128).store(tx.tail, Ordering::Release);
            index_word(&buf, 256).store(rx.head, Ordering::Release);
        }
    }
}

/// Hole 2 of issue 13: `RecordRef::read` with an offset at or past the
/// payload's end copies nothing and returns 0 (before the fix: a debug
/// assertion, and in release an address computed past the record).
#[test]
fn record_read_past_the_payload_clamps_to_nothing() {
    let buf = ring_buf(64);
    let ring = ByteRing::init(buf.region(), RingConfig::new(64)).unwrap();
    let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
    let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
    tx.try_send(4, b"abcdef").unwrap();
    let rec = rx.peek().unwrap();
    let v = rec.view();
    let mut out = [0u8; 8];
    assert_eq!(v.read(0, &mut out), 6);
    assert_eq!(&out[..6], b"abcdef");
    assert_eq!(v.read(4, &mut out), 2);
    assert_eq!(&out[..2], b"ef");
    for offset in [6, 7, 64, 1000, u32::MAX as usize, usize::MAX] {
        out = [0xaa; 8];
        assert_eq!(v.read(offset, &mut out), 0, "offset {offset}");
        assert_eq!(out, [0xaa; 8]);
    }
    assert_eq!(v.read(2, &mut []), 0);
    rec.release();
}

/// Hole 10 of issue 13, for the byte ring: a hostile peer writes the
/// records' bytes while this side sends and receives them. The copies
/// (headers and payloads, both ways) are atomic, so this is no data race
/// (Miri checks; before the fix it reported one). The peer's writes are
/// modelled as atomic stores, as another process's writes appear to this
/// one, of single bytes: the width at which the ring accesses its buffer
/// under Miri (which reports atomic accesses of two widths that race).
#[test]
fn copying_calls_are_sound_while_a_peer_writes_the_records() {
    use std::sync::atomic::{AtomicBool, AtomicU8};
    const CAP: u32 = 256;
    let buf = ring_buf(CAP);
    let ring = ByteRing::init(buf.region(), RingConfig::new(CAP)).unwrap();
    let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
    let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
    // SAFETY: the records' bytes, inside the buffer, alive for the test.
    let bytes: &[AtomicU8] =
        unsafe { std::slice::from_raw_parts(buf.ptr().add(DATA_OFFSET).cast(), CAP as usize) };
    let stop = AtomicBool::new(false);
    let rounds = if cfg!(miri) { 40 } else { 20_000 };
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut rng = Rng::new(6);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let i = rng.below(CAP as u64) as usize;
                bytes[i].store(rng.next() as u8, std::sync::atomic::Ordering::Relaxed);
            }
        });
        let mut out = [0u8; 64];
        for round in 0..rounds {
            let len = 8 * (round % 6);
            let _ = tx.try_send(round as u32, &[round as u8; 40][..len]);
            if let Ok(mut r) = tx.reserve(16) {
                r.write(0, &[1; 16]);
                r.commit(7, 16);
            }
            let _ = rx.try_recv(&mut out);
            if let Ok(rec) = rx.peek() {
                let v = rec.view();
                std::hint::black_box(v.read(0, &mut out[..v.len().min(64) & !7]));
                rec.release();
            }
            let _ = rx.drain(2, |_| ());
            // Whatever the peer did to the records, start clean again.
            if rx.ready_bytes().is_err() || rx.head != tx.tail {
                index_word(&buf, 128).store(tx.tail, Ordering::Release);
                rx.head = tx.tail;
                rx.tail_cache = tx.tail;
                index_word(&buf, 256).store(tx.tail, Ordering::Release);
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
}
