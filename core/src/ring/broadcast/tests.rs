use super::*;
use crate::foundation::atomics::AtomicU32;
use crate::foundation::holder::Holder;
use crate::test_util::{AlignedBuf, Rng, TestWait};
use crate::wait::blocking::Blocking;

fn ring_buf(capacity: u32) -> AlignedBuf {
    AlignedBuf::new(BroadcastRing::bytes_needed(capacity).unwrap())
}

/// A payload that says which record it belongs to: every byte derives
/// from `seq`, so a torn record (bytes of two records) is caught.
fn payload(seq: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (seq.wrapping_mul(31) as usize + i * 7) as u8)
        .collect()
}

/// The record length used for number `seq` in the randomised tests.
fn len_of(seq: u64, max: usize) -> usize {
    (seq.wrapping_mul(0x9e37_79b9) >> 7) as usize % (max + 1)
}

fn word(buf: &AlignedBuf, offset: usize) -> &AtomicU32 {
    // SAFETY: offsets of control words inside the buffer, 4-aligned; the
    // buffer lives as long as the borrow; every access is atomic.
    unsafe { &*buf.ptr().add(offset).cast::<AtomicU32>() }
}

const INTENT: usize = 128;
const TAIL: usize = 132;
const LATEST: usize = 136;
const HEAD: usize = 140;
const WRITER: usize = 64;
const WAKE: usize = 256;

#[test]
fn capacity_rules_and_layout() {
    assert_eq!(BroadcastRing::bytes_needed(64), Ok(384 + 64));
    assert!(BroadcastRing::bytes_needed(32).is_err());
    assert!(BroadcastRing::bytes_needed(100).is_err());
    assert_eq!(record_size(0), Some(24));
    assert_eq!(record_size(1), Some(32));
    assert_eq!(record_size(8), Some(32));
    assert_eq!(record_size(u32::MAX), None);
    let buf = ring_buf(64);
    let ring = BroadcastRing::init(buf.region(), RingConfig::new(64)).unwrap();
    assert_eq!(ring.max_payload(), 40);
    assert_eq!(word(&buf, TAIL).load(Ordering::Relaxed), 24);
    assert_eq!(word(&buf, INTENT).load(Ordering::Relaxed), 24);
    assert!(BroadcastRing::attach(buf.region()).is_ok());
    let st = status(&buf.region()).unwrap();
    assert_eq!(
        (st.tail, st.intent, st.head, st.latest, st.writer),
        (24, 24, 0, 0, 0)
    );
}

#[test]
fn send_and_receive_in_order() {
    let buf = ring_buf(256);
    let ring = BroadcastRing::init(buf.region(), RingConfig::new(256)).unwrap();
    let mut w = ring.writer(Holder::fixed::<1>()).unwrap();
    let mut a = ring.reader(Start::Oldest);
    let mut b = ring.reader(Start::Next);
    let mut out = [0u8; 256];
    assert_eq!(a.try_recv(&mut out), Err(RecvError::Empty));
    w.try_send(7, b"hello").unwrap();
    w.try_send(8, b"").unwrap();
    for r in [&mut a, &mut b] {
        assert_eq!(r.try_recv(&mut out), Ok((7, 5)));
        assert_eq!(&out[..5], b"hello");
        assert_eq!(r.try_recv(&mut out), Ok((8, 0)));
        assert_eq!(r.try_recv(&mut out), Err(RecvError::Empty));
        assert_eq!(r.next_seq(), Some(2));
    }
    assert_eq!(
        w.try_send(1, &[0; 233]),
        Err(SendError::TooLarge { len: 233, max: 232 })
    );
    // A buffer too small leaves the record in place.
    w.try_send(9, &[1; 30]).unwrap();
    assert_eq!(
        a.try_recv(&mut out[..10]),
        Err(RecvError::BufferTooSmall { needed: 30 })
    );
    assert_eq!(a.try_recv(&mut out), Ok((9, 30)));
    // Late joiners.
    let mut newest = ring.reader(Start::Newest);
    assert_eq!(newest.try_recv(&mut out), Ok((9, 30)));
    let mut next = ring.reader(Start::Next);
    assert_eq!(next.try_recv(&mut out), Err(RecvError::Empty));
    let mut oldest = ring.reader(Start::Oldest);
    assert_eq!(oldest.try_recv(&mut out), Ok((7, 5)));
}

#[test]
fn a_reader_that_keeps_up_gets_everything_across_the_wrap() {
    for cap in [64u32, 128, 512] {
        let buf = ring_buf(cap);
        let ring = BroadcastRing::init(buf.region(), RingConfig::new(cap)).unwrap();
        let mut w = ring.writer(Holder::fixed::<1>()).unwrap();
        let mut r = ring.reader(Start::Oldest);
        let max = ring.max_payload() as usize / 2;
        let mut out = vec![0u8; cap as usize];
        for seq in 0..500u64 {
            let len = len_of(seq, max);
            w.try_send(seq as u32, &payload(seq, len)).unwrap();
            let (tag, n) = r.try_recv(&mut out).unwrap();
            assert_eq!((tag, n), (seq as u32, len), "cap {cap}");
            assert_eq!(&out[..n], &payload(seq, len)[..]);
        }
        assert_eq!(r.try_recv(&mut out), Err(RecvError::Empty));
        assert_eq!((r.received(), r.missed()), (500, 0));
    }
}

/// Whatever the pattern of writes and reads, a reader gets records in
/// order, intact, and `received + missed` is exactly what was written.
#[test]
fn lapped_readers_count_exactly_what_they_missed() {
    let mut rng = Rng::new(11);
    let (rounds, ops) = if cfg!(miri) { (3, 60) } else { (40, 300) };
    for round in 0..rounds {
        let cap = [64u32, 128, 256][round % 3];
        let buf = ring_buf(cap);
        let ring = BroadcastRing::init(buf.region(), RingConfig::new(cap)).unwrap();
        let mut w = ring.writer(Holder::fixed::<1>()).unwrap();
        let mut readers = [ring.reader(Start::Oldest), ring.reader(Start::Oldest)];
        let max = ring.max_payload() as usize;
        let mut out = vec![0u8; cap as usize];
        let mut sent = 0u64;
        let mut last = [None::<u64>; 2];
        for _ in 0..ops {
            if rng.below(3) > 0 {
                let len = len_of(sent, max);
                w.try_send(sent as u32, &payload(sent, len)).unwrap();
                sent += 1;
            }
            for (i, r) in readers.iter_mut().enumerate() {
                if rng.below(4 + i as u64 * 4) != 0 {
                    continue;
                }
                match r.try_recv(&mut out) {
                    Ok((tag, n)) => {
                        let seq = tag as u64;
                        assert_eq!(n, len_of(seq, max));
                        assert_eq!(&out[..n], &payload(seq, n)[..]);
                        assert!(last[i].is_none_or(|l| seq > l));
                        last[i] = Some(seq);
                    }
                    Err(RecvError::Empty) | Err(RecvError::Lapped { .. }) => {}
                    Err(e) => panic!("{e}"),
                }
            }
        }
        for r in &mut readers {
            loop {
                match r.try_recv(&mut out) {
                    Ok(_) | Err(RecvError::Lapped { .. }) => {}
                    Err(RecvError::Empty) => break,
                    Err(e) => panic!("{e}"),
                }
            }
            assert_eq!(r.received() + r.missed(), sent, "round {round}");
        }
    }
}

#[test]
fn a_lapped_reader_resumes_at_the_oldest_intact_record() {
    let buf = ring_buf(128);
    let ring = BroadcastRing::init(buf.region(), RingConfig::new(128)).unwrap();
    let mut w = ring.writer(Holder::fixed::<1>()).unwrap();
    let mut r = ring.reader(Start::Oldest);
    let mut out = [0u8; 128];
    // Records of 32 bytes (8 payload bytes): 4 fit in 128.
    for seq in 0..10u64 {
        w.try_send(seq as u32, &payload(seq, 8)).unwrap();
    }
    // tail = 24 + 320 = 344; head must be past 344 − 128 = 216.
    let missed = match r.try_recv(&mut out) {
        Err(RecvError::Lapped { missed }) => missed,
        other => panic!("{other:?}"),
    };
    let (tag, _) = r.try_recv(&mut out).unwrap();
    assert_eq!(tag as u64, missed);
    assert!(missed >= 6, "{missed}");
    let mut got = 1;
    while r.try_recv(&mut out).is_ok() {
        got += 1;
    }
    assert_eq!(got + missed, 10);
}

#[test]
fn writer_role_is_exclusive_and_taken_back_from_the_dead() {
    let buf = ring_buf(128);
    let ring = BroadcastRing::init(buf.region(), RingConfig::new(128)).unwrap();
    let w = ring.writer(Holder::fixed::<1>()).unwrap();
    assert_eq!(
        ring.writer(Holder::fixed::<2>()).unwrap_err(),
        RoleError::Taken { holder: 1 }
    );
    assert_eq!(
        ring.take_over_writer(Holder::fixed::<2>(), |_| true)
            .unwrap_err(),
        RoleError::Taken { holder: 1 }
    );
    core::mem::forget(w); // dies holding the role
    let mut w = ring
        .take_over_writer(Holder::fixed::<2>(), |_| false)
        .unwrap();
    let mut r = ring.reader(Start::Next);
    w.try_send(3, b"abc").unwrap();
    let mut out = [0u8; 8];
    assert_eq!(r.try_recv(&mut out), Ok((3, 3)));
    assert_eq!(w.next_seq(), 1);
    drop(w);
    // The number continues from the newest record.
    let w = ring.writer(Holder::fixed::<3>()).unwrap();
    assert_eq!(w.next_seq(), 1);
}

/// A writer killed mid-record leaves the intent ahead of the tail: the
/// next writer covers the hole with padding, and readers lose nothing
/// that was published.
#[test]
fn a_dead_writers_unfinished_record_is_padded_over() {
    let buf = ring_buf(128);
    let ring = BroadcastRing::init(buf.region(), RingConfig::new(128)).unwrap();
    let mut w = ring.writer(Holder::fixed::<1>()).unwrap();
    let mut r = ring.reader(Start::Oldest);
    let mut out = [0u8; 128];
    for seq in 0..3u64 {
        w.try_send(seq as u32, &payload(seq, 10)).unwrap();
    }
    core::mem::forget(w);
    // Died after announcing a 40-byte record at the tail (genesis 24,
    // records of 40 at 24 and 64, padding at 104, a record at 128: 168,
    // position 40 of the buffer), with junk where it was going.
    let tail = word(&buf, TAIL).load(Ordering::Relaxed);
    assert_eq!(tail, 168);
    // (It had stored the intent, then head and latest for the new record.)
    word(&buf, INTENT).store(tail + 40, Ordering::Relaxed);
    word(&buf, LATEST).store(tail, Ordering::Relaxed);
    // Head past what the new record overwrites (208 − 128 = 80): the
    // padding record at 104.
    word(&buf, HEAD).store(104, Ordering::Relaxed);
    // SAFETY: inside the buffer; nobody else uses it meanwhile.
    unsafe { buf.ptr().add(384 + 40).write_bytes(0xAB, 40) };
    let mut w = ring
        .take_over_writer(Holder::fixed::<2>(), |_| false)
        .unwrap();
    assert_eq!(word(&buf, TAIL).load(Ordering::Relaxed), 208);
    assert_eq!(w.next_seq(), 3);
    w.try_send(3, &payload(3, 10)).unwrap();
    let mut got = Vec::new();
    let mut missed = 0;
    loop {
        match r.try_recv(&mut out) {
            Ok((tag, n)) => {
                assert_eq!(&out[..n], &payload(tag as u64, n)[..]);
                got.push(tag);
            }
            Err(RecvError::Lapped { missed: m }) => missed += m,
            Err(RecvError::Empty) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(got.len() as u64 + missed, 4);
    assert_eq!(got.last(), Some(&3));
}

#[test]
fn a_read_only_handle_reads_and_never_writes() {
    let buf = ring_buf(256);
    let ring = BroadcastRing::init(buf.region(), RingConfig::new(256)).unwrap();
    let mut w = ring.writer(Holder::fixed::<1>()).unwrap();
    // SAFETY: the buffer outlives the handle and is reached only through
    // raw pointers.
    let ro = unsafe { BroadcastRing::attach_read_only(buf.ptr(), buf.region().len()) }.unwrap();
    assert!(ro.is_read_only());
    assert_eq!(
        ro.writer(Holder::fixed::<5>()).unwrap_err(),
        RoleError::Taken { holder: 0 }
    );
    let mut r = ro.reader(Start::Next);
    let mut out = [0u8; 64];
    let before: Vec<u8> = (0..buf.region().len())
        // SAFETY: inside the buffer; read while no thread writes.
        .map(|i| unsafe { buf.ptr().add(i).read() })
        .collect();
    let b = Blocking::new(TestWait::default());
    assert_eq!(
        r.recv(&mut out, &b, Some(core::time::Duration::from_millis(3))),
        Err(RecvError::TimedOut)
    );
    let after: Vec<u8> = (0..buf.region().len())
        // SAFETY: as above.
        .map(|i| unsafe { buf.ptr().add(i).read() })
        .collect();
    assert_eq!(before, after, "a read-only reader wrote");
    w.try_send(4, b"data").unwrap();
    assert_eq!(r.recv(&mut out, &b, None), Ok((4, 4)));
}

#[test]
#[cfg_attr(miri, ignore)] // timing-free but long under Miri
fn blocking_readers_are_woken_by_send() {
    let buf = ring_buf(1024);
    let ring = BroadcastRing::init(buf.region(), RingConfig::new(1024)).unwrap();
    let mut w = ring.writer(Holder::fixed::<1>()).unwrap();
    let b = Blocking::parking(TestWait::default());
    std::thread::scope(|s| {
        for start in [Start::Oldest, Start::Oldest] {
            let mut r = ring.reader(start);
            let b = &b;
            s.spawn(move || {
                let mut out = [0u8; 64];
                let mut n = 0u64;
                loop {
                    match r.recv(&mut out, b, None) {
                        Ok((tag, len)) => {
                            assert_eq!(&out[..len], &payload(tag as u64, len)[..]);
                            if tag == 999 {
                                break;
                            }
                        }
                        Err(RecvError::Lapped { .. }) => {}
                        Err(e) => panic!("{e}"),
                    }
                    n += 1;
                }
                assert_eq!(r.received() + r.missed(), 1000);
                let _ = n;
            });
        }
        for seq in 0..1000u64 {
            w.send(seq as u32, &payload(seq, len_of(seq, 40)), &b, None)
                .unwrap();
            if seq % 64 == 0 {
                std::thread::yield_now();
            }
        }
    });
}

/// Threads: a writer racing readers never hands out a torn record, and
/// every reader's count adds up.
#[test]
fn concurrent_readers_never_see_a_torn_record() {
    let cap = 256;
    let buf = ring_buf(cap);
    let ring = BroadcastRing::init(buf.region(), RingConfig::new(cap)).unwrap();
    let mut w = ring.writer(Holder::fixed::<1>()).unwrap();
    let total: u64 = if cfg!(miri) { 200 } else { 200_000 };
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..2 {
            let mut r = ring.reader(Start::Oldest);
            let done = &done;
            s.spawn(move || {
                let mut out = [0u8; 256];
                let mut last = None::<u64>;
                loop {
                    match r.try_recv(&mut out) {
                        Ok((tag, n)) => {
                            let seq = tag as u64;
                            assert_eq!(n, len_of(seq, 100));
                            assert_eq!(&out[..n], &payload(seq, n)[..], "torn record {seq}");
                            assert!(last.is_none_or(|l| seq > l));
                            last = Some(seq);
                        }
                        Err(RecvError::Lapped { .. }) => {}
                        Err(RecvError::Empty) => {
                            if done.load(std::sync::atomic::Ordering::Acquire) {
                                if r.try_recv(&mut out) == Err(RecvError::Empty) {
                                    break;
                                }
                            } else {
                                std::thread::yield_now();
                            }
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
                // Drain what is left after `done`.
                while let Ok(_) | Err(RecvError::Lapped { .. }) = r.try_recv(&mut out) {}
                assert_eq!(r.received() + r.missed(), total);
            });
        }
        for seq in 0..total {
            w.try_send(seq as u32, &payload(seq, len_of(seq, 100)))
                .unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::Release);
    });
}

/// Every shared word set to extreme values, alone and together, with
/// junk in the buffer: readers and a claiming writer return typed errors
/// (or junk records), never panic or step outside the region.
#[test]
fn hostile_words_give_typed_errors_never_out_of_bounds() {
    let cap = 128u32;
    let extremes = [
        0u32,
        1,
        7,
        8,
        24,
        cap - 8,
        cap,
        cap + 8,
        cap * 2,
        0x7fff_fff8,
        0x8000_0000,
        u32::MAX - 7,
        u32::MAX,
    ];
    let offsets = [INTENT, TAIL, LATEST, HEAD, WRITER, WAKE];
    let mut rng = Rng::new(3);
    let rounds = if cfg!(miri) { 40 } else { 600 };
    for round in 0..rounds {
        let buf = ring_buf(cap);
        let ring = BroadcastRing::init(buf.region(), RingConfig::new(cap)).unwrap();
        {
            let mut w = ring.writer(Holder::fixed::<1>()).unwrap();
            for seq in 0..rng.below(12) {
                w.try_send(seq as u32, &payload(seq, len_of(seq, 40)))
                    .unwrap();
            }
        }
        let mut readers = [
            ring.reader(Start::Oldest),
            ring.reader(Start::Newest),
            ring.reader(Start::Next),
        ];
        // Hostile writes: one or several words, maybe junk bytes.
        for _ in 0..1 + rng.below(3) {
            let off = offsets[rng.below(offsets.len() as u64) as usize];
            let v = extremes[rng.below(extremes.len() as u64) as usize];
            word(&buf, off).store(v, Ordering::Relaxed);
        }
        if round % 3 == 0 {
            for _ in 0..4 {
                let at = rng.below(cap as u64) as usize;
                // SAFETY: inside the buffer; no thread races.
                unsafe { buf.ptr().add(384 + at).write(rng.next() as u8) };
            }
        }
        let mut out = [0u8; 128];
        for r in &mut readers {
            for _ in 0..6 {
                if let Ok((_, n)) = r.try_recv(&mut out) {
                    assert!(n <= ring.max_payload() as usize);
                }
            }
        }
        let _ = ring.reader(Start::Oldest).try_recv(&mut out);
        // A writer claiming (or taking over) the hostile ring either
        // refuses (Corrupt / Taken) or writes within bounds.
        if let Ok(mut w) = ring.take_over_writer(Holder::fixed::<9>(), |_| false) {
            for seq in 0..20u64 {
                w.try_send(1, &payload(seq, len_of(seq, 100))).unwrap();
            }
        }
        for r in &mut readers {
            for _ in 0..6 {
                let _ = r.try_recv(&mut out);
            }
        }
        let _ = status(&buf.region());
    }
}

/// The writer's next number lives in shared memory: a peer that sets it
/// near 2⁶⁴ and then back makes a reader skip more than 2⁶⁴ numbers in
/// all. Its missed count saturates instead of overflowing (a panic in
/// builds with overflow checks; found by the `broadcast` fuzz target).
#[test]
fn missed_count_saturates_when_a_peer_renumbers_records() {
    const SEQ_LO: usize = 144;
    const SEQ_HI: usize = 148;
    let buf = ring_buf(64);
    let ring = BroadcastRing::init(buf.region(), RingConfig::new(64)).unwrap();
    let mut r = ring.reader(Start::Oldest);
    let mut out = [0u8; 64];
    let mut lapped = [0u64; 2];
    for (round, (lo, hi)) in [(u32::MAX, u32::MAX), (15, 0)].into_iter().enumerate() {
        word(&buf, SEQ_LO).store(lo, Ordering::Relaxed);
        word(&buf, SEQ_HI).store(hi, Ordering::Relaxed);
        let mut w = ring.writer(Holder::fixed::<1>()).unwrap();
        w.try_send(7, b"x").unwrap();
        drop(w);
        for _ in 0..4 {
            match r.try_recv(&mut out) {
                Err(RecvError::Lapped { missed }) => lapped[round] = missed,
                Err(RecvError::Empty) => break,
                other => assert_eq!(other, Ok((7, 1))),
            }
        }
    }
    assert_eq!(lapped, [u64::MAX, 15]);
    assert_eq!(r.missed(), u64::MAX);
    assert_eq!(r.received(), 2);
}
