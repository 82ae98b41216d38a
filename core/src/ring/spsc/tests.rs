use std::collections::VecDeque;

use super::*;
use crate::foundation::layout::{Header, HeaderSnapshot, MAGIC};
use crate::foundation::region::RegionError;
use crate::test_util::{AlignedBuf, Rng};

fn ring_buf<T: Plain>(capacity: u32) -> AlignedBuf {
    AlignedBuf::new(SpscRing::<T>::bytes_needed(capacity).unwrap())
}

fn control_of<'r, T>(ring: &'r SpscRing<'_, T>) -> &'r Control {
    ring.control()
}

#[test]
fn bytes_needed_and_capacity_rules() {
    assert_eq!(SpscRing::<u64>::bytes_needed(16), Ok(384 + 16 * 8));
    assert_eq!(SpscRing::<u8>::bytes_needed(1), Ok(385));
    for bad in [0, 3, 12, (1 << 31) + 1, u32::MAX] {
        assert_eq!(
            SpscRing::<u64>::bytes_needed(bad),
            Err(InitError::Capacity { capacity: bad })
        );
    }
    #[repr(C, align(512))]
    #[derive(Clone, Copy)]
    struct Wide([u8; 512]);
    // SAFETY: a byte array: no padding, any bits valid.
    unsafe impl Plain for Wide {
        const TYPE_ID: u64 = crate::plain::type_id_of_name("test::Wide");
    }
    assert_eq!(SpscRing::<Wide>::bytes_needed(2), Ok(512 + 1024));
    assert_eq!(SpscRing::<Wide>::region_align(), 512);
}

#[test]
fn init_rejects_small_or_misaligned_regions() {
    let buf = ring_buf::<u64>(16);
    let small = {
        // SAFETY: a prefix of the buffer.
        unsafe { Region::from_raw(buf.ptr(), 384 + 16 * 8 - 1) }.unwrap()
    };
    assert!(matches!(
        SpscRing::<u64>::init(small, RingConfig::new(16)),
        Err(InitError::Region(RegionError::TooSmall { .. }))
    ));
    let big = AlignedBuf::new(4096);
    // SAFETY: inside the buffer.
    let off = unsafe { Region::from_raw(big.ptr().add(64), 4000) }.unwrap();
    assert!(matches!(
        SpscRing::<u64>::init(off, RingConfig::new(16)),
        Err(InitError::Region(RegionError::Misaligned {
            required: 128,
            ..
        }))
    ));
    assert_eq!(
        SpscRing::<u64>::init(buf.region(), RingConfig::new(6)).unwrap_err(),
        InitError::Capacity { capacity: 6 }
    );
}

#[test]
fn push_pop_fifo_and_full_empty() {
    let buf = ring_buf::<u64>(4);
    let ring = SpscRing::<u64>::init(buf.region(), RingConfig::new(4)).unwrap();
    let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
    let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
    assert_eq!(rx.try_recv(), Err(RecvError::Empty));
    for i in 0..4 {
        tx.try_send(i).unwrap();
    }
    assert_eq!(tx.try_send(9), Err(SendError::Full));
    assert!(tx.is_full());
    assert_eq!(ring.len(), 4);
    assert_eq!(rx.try_recv(), Ok(0));
    tx.try_send(4).unwrap();
    for i in 1..5 {
        assert_eq!(rx.try_recv(), Ok(i));
    }
    assert!(rx.is_empty());
    assert!(ring.is_empty());
    assert_eq!(rx.try_recv(), Err(RecvError::Empty));
}

#[test]
fn roles_are_exclusive_and_released_on_drop() {
    let buf = ring_buf::<u32>(8);
    let ring = SpscRing::<u32>::init(buf.region(), RingConfig::new(8)).unwrap();
    let tx = ring.producer(Holder::fixed::<100>()).unwrap();
    assert_eq!(
        ring.producer(Holder::fixed::<101>()).unwrap_err(),
        RoleError::Taken { holder: 100 }
    );
    assert_eq!(ring.producer_holder(), 100);
    drop(tx);
    assert_eq!(ring.producer_holder(), 0);
    let _rx = ring.consumer(Holder::fixed::<200>()).unwrap();
    assert_eq!(
        ring.consumer(Holder::fixed::<201>()).unwrap_err(),
        RoleError::Taken { holder: 200 }
    );
    // A live holder keeps its role; a dead one loses it.
    assert_eq!(
        ring.take_over_consumer(Holder::fixed::<201>(), |_| true)
            .unwrap_err(),
        RoleError::Taken { holder: 200 }
    );
}

#[test]
fn take_over_resumes_at_shared_indices() {
    let buf = ring_buf::<u32>(8);
    let ring = SpscRing::<u32>::init(buf.region(), RingConfig::new(8)).unwrap();
    let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
    let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
    tx.try_send(10).unwrap();
    tx.try_send(11).unwrap();
    assert_eq!(rx.try_recv(), Ok(10));
    // Both "die" without releasing their roles.
    core::mem::forget(tx);
    core::mem::forget(rx);
    assert_eq!(
        ring.producer(Holder::fixed::<3>()).unwrap_err(),
        RoleError::Taken { holder: 1 }
    );
    let mut tx = ring
        .take_over_producer(Holder::fixed::<3>(), |pid| pid != 1)
        .unwrap();
    let mut rx = ring
        .take_over_consumer(Holder::fixed::<4>(), |pid| pid != 2)
        .unwrap();
    tx.try_send(12).unwrap();
    assert_eq!(rx.try_recv(), Ok(11));
    assert_eq!(rx.try_recv(), Ok(12));
    assert_eq!(rx.try_recv(), Err(RecvError::Empty));
}

#[test]
fn attach_validates_every_field() {
    let buf = ring_buf::<u64>(16);
    // Fresh zeroed memory: not ready yet.
    assert_eq!(
        SpscRing::<u64>::attach(buf.region()).unwrap_err(),
        AttachError::NotReady { state: 0 }
    );
    let ring =
        SpscRing::<u64>::init(buf.region(), RingConfig::new(16).with_creator_pid(77)).unwrap();
    let other = SpscRing::<u64>::attach(buf.region()).unwrap();
    assert_eq!(other.capacity(), 16);
    assert_eq!(ring.header().creator_pid, 77);
    // Same size and alignment, another type: refused unless opted out.
    assert!(matches!(
        SpscRing::<f64>::attach(buf.region()),
        Err(AttachError::Element { .. })
    ));
    assert!(matches!(
        SpscRing::<[u8; 8]>::attach(buf.region()),
        Err(AttachError::Element { .. })
    ));
    let as_f64 = SpscRing::<f64>::attach_with(buf.region(), ElementCheck::LayoutOnly).unwrap();
    assert_eq!(as_f64.capacity(), 16);
    assert!(matches!(
        SpscRing::<u32>::attach(buf.region()),
        Err(AttachError::Element { .. })
    ));
    // SAFETY: a prefix of the buffer.
    let short = unsafe { Region::from_raw(buf.ptr(), 400) }.unwrap();
    assert!(matches!(
        SpscRing::<u64>::attach(short),
        Err(AttachError::Region(RegionError::TooSmall { .. }))
    ));

    // Corrupt the header word by word (offsets per the layout table).
    let poke = |offset: usize, value: u32| {
        // SAFETY: inside the buffer, aligned to 4.
        unsafe { buf.ptr().add(offset).cast::<u32>().write(value) }
    };
    poke(32, 12); // capacity not a power of two
    assert!(matches!(
        SpscRing::<u64>::attach(buf.region()),
        Err(AttachError::Corrupt {
            field: "capacity",
            value: 12
        })
    ));
    poke(32, 32); // a valid capacity that disagrees with total_len
    assert!(matches!(
        SpscRing::<u64>::attach(buf.region()),
        Err(AttachError::Corrupt {
            field: "total_len",
            ..
        })
    ));
    poke(32, 16);
    poke(8, 2); // kind: mpmc
    assert!(matches!(
        SpscRing::<u64>::attach(buf.region()),
        Err(AttachError::Kind {
            expected: Kind::Spsc,
            found: 2
        })
    ));
    poke(8, 1);
    poke(4, 999);
    assert!(matches!(
        SpscRing::<u64>::attach(buf.region()),
        Err(AttachError::Version { found: 999, .. })
    ));
    poke(0, 0x1234);
    assert_eq!(
        SpscRing::<u64>::attach(buf.region()).unwrap_err(),
        AttachError::BadMagic { found: 0x1234 }
    );
    let snap: HeaderSnapshot = Header::read(&buf.region()).unwrap();
    assert_ne!(snap.magic, MAGIC);
}

#[test]
fn garbage_indices_are_corrupt_not_out_of_bounds() {
    let buf = ring_buf::<u64>(8);
    let ring = SpscRing::<u64>::init(buf.region(), RingConfig::new(8)).unwrap();
    let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
    let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
    let c = control_of(&ring);
    // The "producer" claims 9 elements in an 8-slot ring.
    c.tail.index.store(9, Ordering::Release);
    assert_eq!(rx.try_recv(), Err(RecvError::Corrupt));
    assert_eq!(rx.try_recv_slice(&mut [0; 4]), Err(RecvError::Corrupt));
    assert_eq!(rx.peek(1).err(), Some(ChunkError::Corrupt));
    assert_eq!(ring.len(), 8, "a corrupt ring reads as full to observers");
    // Every tail value that is in range yields values (junk, but in bounds).
    for ahead in [1u32, 8, 3] {
        c.tail
            .index
            .store(rx.head.wrapping_add(ahead), Ordering::Release);
        let mut out = [0u64; 8];
        assert_eq!(rx.try_recv_slice(&mut out).unwrap(), ahead as usize);
    }
    // The "consumer" claims to be ahead of the producer.
    // The producer re-reads head only when its cached copy says "full", so
    // it notices within one ring's worth of pushes.
    c.head
        .index
        .store(tx.tail.wrapping_add(1000), Ordering::Release);
    let mut pushes = 0;
    let err = loop {
        match tx.try_send(1) {
            Ok(()) => pushes += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(err, SendError::Corrupt);
    assert!(pushes <= 8);
    assert_eq!(tx.try_send_slice(&[1, 2]), Err(SendError::Corrupt));
    assert_eq!(tx.reserve(1).err(), Some(ChunkError::Corrupt));
    // Extreme values, for both sides.
    for garbage in [u32::MAX, 0x8000_0000, 0xdead_beef] {
        c.head.index.store(garbage, Ordering::Release);
        c.tail
            .index
            .store(garbage.wrapping_mul(3), Ordering::Release);
        let _ = tx.try_send(7);
        let _ = rx.try_recv();
        let _ = tx.try_send_slice(&[1; 20]);
        let _ = rx.try_recv_slice(&mut [0; 20]);
    }
}

#[test]
fn indices_wrap_around_u32() {
    let buf = ring_buf::<u32>(4);
    let ring = SpscRing::<u32>::init(buf.region(), RingConfig::new(4)).unwrap();
    let start = u32::MAX - 5;
    control_of(&ring).tail.index.store(start, Ordering::Relaxed);
    control_of(&ring).head.index.store(start, Ordering::Relaxed);
    let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
    let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
    let mut next_out = 0;
    for i in 0..40u32 {
        tx.try_send(i).unwrap();
        if i % 3 == 0 {
            tx.try_send_slice(&[1000 + i]).unwrap();
        }
        let mut out = [0u32; 3];
        let n = rx.try_recv_slice(&mut out).unwrap();
        for v in &out[..n] {
            if *v < 1000 {
                assert_eq!(*v, next_out);
                next_out += 1;
            }
        }
    }
}

#[test]
fn chunks_write_and_read_in_place_across_the_wrap() {
    let buf = ring_buf::<u16>(8);
    let ring = SpscRing::<u16>::init(buf.region(), RingConfig::new(8)).unwrap();
    let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
    let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
    tx.try_send_slice(&[0; 6]).unwrap();
    assert_eq!(rx.try_recv_slice(&mut [0; 6]), Ok(6));
    // 6 slots used and freed: a chunk of 5 wraps after 2.
    let mut chunk = tx.reserve(5).unwrap();
    let (a, b) = chunk.as_mut_slices();
    assert_eq!((a.len(), b.len()), (2, 3));
    a.copy_from_slice(&[1, 2]);
    b.copy_from_slice(&[3, 4, 5]);
    chunk.set(4, 50);
    chunk.commit(4); // the fifth slot stays unpublished
    assert_eq!(
        tx.reserve(5).err(),
        Some(ChunkError::TooFew { available: 4 })
    );
    assert_eq!(rx.peek(5).err(), Some(ChunkError::TooFew { available: 4 }));
    let chunk = rx.peek(4).unwrap();
    assert_eq!(chunk.as_slices(), (&[1, 2][..], &[3, 4][..]));
    assert_eq!(chunk.get(3), 4);
    chunk.release(1);
    let chunk = rx.peek(3).unwrap();
    assert_eq!(chunk.get(0), 2);
    #[allow(dropping_references, clippy::drop_non_drop)]
    drop(chunk); // releases nothing
    assert_eq!(rx.try_recv(), Ok(2));
    let chunk = rx.peek(2).unwrap();
    chunk.release_all();
    assert_eq!(rx.try_recv(), Err(RecvError::Empty));
    tx.reserve(0).unwrap().commit_all();
}

/// Random operations on both ends, checked against a `VecDeque`.
#[test]
fn random_operations_match_a_model() {
    let steps = if cfg!(miri) { 2_000 } else { 200_000 };
    for capacity in [1u32, 2, 8, 64] {
        let buf = ring_buf::<u64>(capacity);
        let ring = SpscRing::<u64>::init(buf.region(), RingConfig::new(capacity)).unwrap();
        let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
        let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
        let mut model = VecDeque::new();
        let mut rng = Rng::new(capacity as u64);
        let mut next = 0u64;
        for _ in 0..steps {
            let room = capacity as usize - model.len();
            match rng.below(6) {
                0 => match tx.try_send(next) {
                    Ok(()) => {
                        model.push_back(next);
                        next += 1;
                    }
                    Err(e) => {
                        assert_eq!(e, SendError::Full);
                        assert_eq!(room, 0);
                    }
                },
                1 => assert_eq!(rx.try_recv().ok(), model.pop_front()),
                2 => {
                    let n = rng.below(capacity as u64 + 3) as usize;
                    let items: Vec<u64> = (next..next + n as u64).collect();
                    let pushed = tx.try_send_slice(&items).unwrap();
                    assert_eq!(pushed, n.min(room));
                    model.extend(&items[..pushed]);
                    next += pushed as u64;
                }
                3 => {
                    let mut out = vec![0; rng.below(capacity as u64 + 3) as usize];
                    let n = rx.try_recv_slice(&mut out).unwrap();
                    assert_eq!(n, out.len().min(model.len()));
                    for v in &out[..n] {
                        assert_eq!(Some(*v), model.pop_front());
                    }
                }
                4 => {
                    let n = rng.below(capacity as u64 + 1) as u32;
                    match tx.reserve(n) {
                        Ok(mut chunk) => {
                            for i in 0..n {
                                chunk.set(i, next + i as u64);
                            }
                            let keep = rng.below(n as u64 + 1) as u32;
                            chunk.commit(keep);
                            model.extend(next..next + keep as u64);
                            next += keep as u64;
                        }
                        Err(e) => {
                            assert_eq!(
                                e,
                                ChunkError::TooFew {
                                    available: room as u32
                                }
                            );
                            assert!(n as usize > room);
                        }
                    }
                }
                _ => {
                    let n = rng.below(capacity as u64 + 1) as u32;
                    match rx.peek(n) {
                        Ok(chunk) => {
                            let (a, b) = chunk.as_slices();
                            let seen: Vec<u64> = a.iter().chain(b).copied().collect();
                            let expected: Vec<u64> =
                                model.iter().take(n as usize).copied().collect();
                            assert_eq!(seen, expected);
                            let keep = rng.below(n as u64 + 1) as u32;
                            chunk.release(keep);
                            model.drain(..keep as usize);
                        }
                        Err(e) => {
                            assert_eq!(
                                e,
                                ChunkError::TooFew {
                                    available: model.len() as u32
                                }
                            );
                        }
                    }
                }
            }
            assert_eq!(ring.len() as usize, model.len());
        }
    }
}

/// Two threads stream a sequence; the consumer sees it whole and in order.
#[test]
fn threads_stream_in_order() {
    let count: u64 = if cfg!(miri) {
        2_000
    } else if cfg!(debug_assertions) {
        300_000
    } else {
        2_000_000
    };
    let buf = ring_buf::<u64>(64);
    let ring = SpscRing::<u64>::init(buf.region(), RingConfig::new(64)).unwrap();
    let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
    let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
    std::thread::scope(|s| {
        s.spawn(move || {
            let mut i = 0;
            while i < count {
                if i % 7 == 0 {
                    let batch: Vec<u64> = (i..(i + 5).min(count)).collect();
                    i += tx.try_send_slice(&batch).unwrap() as u64;
                } else if tx.try_send(i).is_ok() {
                    i += 1;
                } else {
                    std::thread::yield_now();
                }
            }
        });
        let mut expected = 0;
        let mut out = [0u64; 16];
        while expected < count {
            let n = rx.try_recv_slice(&mut out).unwrap();
            if n == 0 {
                std::thread::yield_now();
            }
            for v in &out[..n] {
                assert_eq!(*v, expected);
                expected += 1;
            }
        }
    });
}

#[test]
fn status_reads_any_element_type_and_rejects_inconsistent_headers() {
    #[repr(C, align(16))]
    #[derive(Clone, Copy)]
    struct Pair([u64; 2]);
    // SAFETY: two u64s: no padding, any bits valid.
    unsafe impl Plain for Pair {
        const TYPE_ID: u64 = crate::plain::type_id_of_name("test::Pair");
    }
    let buf = ring_buf::<Pair>(8);
    let ring =
        SpscRing::<Pair>::init(buf.region(), RingConfig::new(8).with_creator_pid(9)).unwrap();
    let mut tx = ring.producer(Holder::fixed::<3>()).unwrap();
    tx.try_send(Pair([1, 2])).unwrap();
    tx.try_send(Pair([3, 4])).unwrap();
    let s = status(&buf.region()).unwrap();
    assert_eq!((s.producer, s.consumer, s.fill()), (3, 0, Some(2)));
    assert_eq!(s.header.creator_pid, 9);
    assert_eq!(s.header.element, Fingerprint::of::<Pair>());

    // A prefix of the ring is too small.
    // SAFETY: a prefix of the buffer.
    let short = unsafe { Region::from_raw(buf.ptr(), 384 + 8) }.unwrap();
    assert!(matches!(status(&short), Err(AttachError::Region(_))));
    let poke = |offset: usize, value: u32| {
        // SAFETY: inside the buffer, aligned to 4.
        unsafe { buf.ptr().add(offset).cast::<u32>().write(value) }
    };
    // A capacity that disagrees with the total length is corrupt.
    poke(32, 16);
    assert!(matches!(
        status(&buf.region()),
        Err(AttachError::Corrupt {
            field: "total_len",
            ..
        })
    ));
    poke(32, 7);
    assert!(matches!(
        status(&buf.region()),
        Err(AttachError::Corrupt {
            field: "capacity",
            ..
        })
    ));
    poke(32, 8);
    poke(20, 3); // element alignment
    assert!(matches!(
        status(&buf.region()),
        Err(AttachError::Corrupt {
            field: "elem_align",
            ..
        })
    ));
}

mod blocking {
    use std::time::Duration;

    use super::*;
    use crate::ring::{RecvError, SendError};
    use crate::test_util::TestWait;
    use crate::wait::blocking::Blocking;

    #[test]
    fn send_and_recv_time_out_and_cost_nothing_when_nobody_sleeps() {
        let buf = ring_buf::<u64>(2);
        let ring = SpscRing::<u64>::init(buf.region(), RingConfig::new(2)).unwrap();
        let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
        let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
        let b = Blocking::new(TestWait::default());
        let t = Some(Duration::from_millis(2));
        assert_eq!(rx.recv(&b, t), Err(RecvError::TimedOut));
        assert_eq!(rx.recv(&b, Some(Duration::ZERO)), Err(RecvError::TimedOut));
        // The consumer left WAITING set: the next send pays one wake.
        tx.send(1, &b, None).unwrap();
        let after_first = b.wait.calls();
        for i in 2..100 {
            tx.send(i, &b, None).unwrap();
            assert_eq!(rx.recv(&b, None), Ok(i - 1));
        }
        assert_eq!(b.wait.calls(), after_first, "the fast path made wait calls");
        tx.send(100, &b, None).unwrap();
        assert_eq!(tx.send(101, &b, t), Err(SendError::TimedOut));
        assert_eq!(rx.recv(&b, None), Ok(99));
        assert_eq!(rx.recv(&b, None), Ok(100));
    }

    #[test]
    fn batches_wake_a_parked_peer_only_when_asked_and_needed() {
        let buf = ring_buf::<u64>(4);
        let ring = SpscRing::<u64>::init(buf.region(), RingConfig::new(4)).unwrap();
        let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
        let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
        let b = Blocking::parking(TestWait::default());
        // Long enough that Miri's clock does not pass it before parking.
        let t = Some(Duration::from_millis(50));
        // Nobody sleeps: no wake.
        assert_eq!(tx.try_send_slice(&[1, 2, 3, 4]), Ok(4));
        assert!(!tx.wake_consumer(&b.wait));
        // The producer announced itself on the full ring and timed out.
        assert_eq!(tx.send(5, &b, t), Err(SendError::TimedOut));
        let mut out = [0; 4];
        assert_eq!(rx.try_recv_slice(&mut out), Ok(4));
        assert!(rx.wake_producer(&b.wait));
        assert!(!rx.wake_producer(&b.wait), "the first wake cleared WAITING");
        // Same on the other side.
        assert_eq!(rx.recv(&b, t), Err(RecvError::TimedOut));
        assert_eq!(tx.try_send(6), Ok(()));
        assert!(tx.wake_consumer(&b.wait));
        assert_eq!(rx.try_recv(), Ok(6));
    }

    #[test]
    fn corrupt_indices_fail_instead_of_blocking() {
        let buf = ring_buf::<u64>(4);
        let ring = SpscRing::<u64>::init(buf.region(), RingConfig::new(4)).unwrap();
        let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
        let b = Blocking::new(TestWait::default());
        control_of(&ring).tail.index.store(1000, Ordering::Release);
        assert_eq!(rx.recv(&b, None), Err(RecvError::Corrupt));
        assert_eq!(RecvError::Corrupt.to_string(), Corrupt.to_string());
    }

    /// Waits until `wait` has counted more than `before` futex waits: the
    /// side blocked on the ring has parked. Bounded, so a side that never
    /// parks fails the test instead of hanging it.
    fn until_parked(wait: &TestWait, before: usize) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while wait.waits.load(std::sync::atomic::Ordering::Relaxed) <= before {
            assert!(
                std::time::Instant::now() < deadline,
                "the blocked side never parked"
            );
            std::thread::yield_now();
        }
    }

    /// Both sides block: a 4-slot ring, a slow consumer and a slow producer
    /// in turn. That each side parks and is woken is made certain first
    /// (how often they park in the stream depends on the schedule).
    #[test]
    fn threads_block_both_ways_and_lose_nothing() {
        let count = if cfg!(miri) { 40 } else { 20_000 };
        let buf = ring_buf::<u64>(4);
        let ring = SpscRing::<u64>::init(buf.region(), RingConfig::new(4)).unwrap();
        let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
        let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
        let b = Blocking {
            wait: TestWait::default(),
            spins: 4,
            yields: 1,
        };
        let patience = Some(Duration::from_secs(10));
        // The consumer parks on the empty ring; the first send wakes it.
        std::thread::scope(|s| {
            s.spawn(|| assert_eq!(rx.recv(&b, patience), Ok(7)));
            until_parked(&b.wait, 0);
            tx.send(7, &b, None).unwrap();
        });
        // The producer parks on the full ring; a receive wakes it.
        for i in 0..4 {
            tx.try_send(i).unwrap();
        }
        let parked = b.wait.waits.load(std::sync::atomic::Ordering::Relaxed);
        std::thread::scope(|s| {
            s.spawn(|| tx.send(4, &b, patience).unwrap());
            until_parked(&b.wait, parked);
            assert_eq!(rx.recv(&b, None), Ok(0));
        });
        for i in 1..5 {
            assert_eq!(rx.try_recv(), Ok(i));
        }
        std::thread::scope(|s| {
            let b = &b;
            s.spawn(move || {
                for i in 0..count {
                    tx.send(i, b, None).unwrap();
                    if i % 512 == 0 {
                        std::thread::sleep(Duration::from_micros(200));
                    }
                }
            });
            for expected in 0..count {
                assert_eq!(rx.recv(b, None), Ok(expected));
                if expected % 700 == 0 {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        });
    }
}

/// Values a hostile peer writes into an index word (issue 13): extremes,
/// the capacity and its neighbours, 2³¹, and `other` (the index of the
/// other side) ± k.
fn hostile_values(other: u32, capacity: u32) -> Vec<u32> {
    let mut v = vec![
        0,
        1,
        u32::MAX,
        capacity - 1,
        capacity,
        capacity + 1,
        1 << 31,
        (1 << 31) + 1,
        0x4000_0000,
        0xdead_beef,
    ];
    for k in [1, 2, capacity - 1, capacity, capacity + 1, 50] {
        v.push(other.wrapping_add(k));
        v.push(other.wrapping_sub(k));
    }
    v
}

/// The index word at `offset` (128: tail, 256: head), as a peer sees it.
fn index_word(buf: &AlignedBuf, offset: usize) -> &crate::foundation::atomics::AtomicU32 {
    assert!(offset == 128 || offset == 256);
    // SAFETY: a live, aligned AtomicU32 inside the buffer (layout table).
    unsafe {
        &*buf
            .ptr()
            .add(offset)
            .cast::<crate::foundation::atomics::AtomicU32>()
    }
}

/// Runs every producer operation; whatever the indices say, nothing may
/// report or hand out more than the capacity (Miri checks the bounds).
fn exercise_producer(tx: &mut Producer<'_, u64>, capacity: u32) {
    let _ = tx.try_send(1);
    if let Ok(n) = tx.try_send_slice(&[7; 50]) {
        assert!(n <= capacity as usize, "try_send_slice reported {n}");
    }
    for want in [40, 3, 1] {
        if let Ok(mut chunk) = tx.reserve(want) {
            assert!(chunk.len() <= capacity);
            let (a, b) = chunk.as_mut_slices();
            assert!(a.len() + b.len() <= capacity as usize);
            a.fill(3);
            b.fill(4);
            chunk.set(chunk.len() - 1, 5);
            chunk.commit_all();
        }
    }
    if let Ok(n) = tx.slots() {
        assert!(n <= capacity);
    }
    assert!(tx.len() <= capacity);
}

/// Runs every consumer operation, with the same promise.
fn exercise_consumer(rx: &mut Consumer<'_, u64>, capacity: u32) {
    let _ = rx.try_recv();
    let mut out = [0u64; 50];
    if let Ok(n) = rx.try_recv_slice(&mut out) {
        assert!(n <= capacity as usize, "try_recv_slice reported {n}");
    }
    for want in [40, 3, 1] {
        if let Ok(chunk) = rx.peek(want) {
            assert!(chunk.len() <= capacity);
            let (a, b) = chunk.as_slices();
            assert!(a.len() + b.len() <= capacity as usize);
            std::hint::black_box((a.iter().sum::<u64>(), b.iter().sum::<u64>()));
            std::hint::black_box(chunk.get(chunk.len() - 1));
            chunk.release_all();
        }
    }
    if let Ok(n) = rx.slots() {
        assert!(n <= capacity);
    }
    assert!(rx.len() <= capacity);
}

/// Hole 1 of issue 13: a peer writes an index word before a role is
/// claimed (or taken over). The claim loads both indices and checks them
/// like every later load: out of range, the claim fails with
/// `RoleError::Corrupt` and leaves the role free. (Before the fix the
/// producer cached the head unchecked and `try_send_slice` of 50 into 8 slots
/// returned `Ok(50)`, writing past the region.)
#[test]
fn hostile_index_before_a_claim_is_refused_at_the_claim() {
    const CAP: u32 = 8;
    for (offset, other) in [(256usize, 0u32), (128, 0)] {
        for value in hostile_values(other, CAP) {
            let buf = ring_buf::<u64>(CAP);
            let ring = SpscRing::<u64>::init(buf.region(), RingConfig::new(CAP)).unwrap();
            index_word(&buf, offset).store(value, Ordering::Release);
            let tail = index_word(&buf, 128).load(Ordering::Relaxed);
            let head = index_word(&buf, 256).load(Ordering::Relaxed);
            let sane = tail.wrapping_sub(head) <= CAP;
            let what = format!("offset {offset} = {value:#x}");
            match ring.producer(Holder::fixed::<1>()) {
                Ok(mut tx) => {
                    assert!(sane, "{what}: producer claimed over corrupt indices");
                    exercise_producer(&mut tx, CAP);
                }
                Err(e) => {
                    assert!(!sane, "{what}: {e}");
                    assert_eq!(e, RoleError::Corrupt, "{what}");
                    assert_eq!(ring.producer_holder(), 0, "{what}: role left taken");
                }
            }
            // Fresh values again (the producer may have moved the tail).
            index_word(&buf, 128).store(tail, Ordering::Release);
            index_word(&buf, 256).store(head, Ordering::Release);
            match ring.consumer(Holder::fixed::<2>()) {
                Ok(mut rx) => {
                    assert!(sane, "{what}: consumer claimed over corrupt indices");
                    exercise_consumer(&mut rx, CAP);
                }
                Err(e) => {
                    assert!(!sane, "{what}: {e}");
                    assert_eq!(e, RoleError::Corrupt, "{what}");
                    assert_eq!(ring.consumer_holder(), 0, "{what}: role left taken");
                }
            }
            // Take-over of dead holders: the same check.
            index_word(&buf, 128).store(0, Ordering::Release);
            index_word(&buf, 256).store(0, Ordering::Release);
            core::mem::forget(ring.producer(Holder::fixed::<5>()).unwrap());
            core::mem::forget(ring.consumer(Holder::fixed::<6>()).unwrap());
            index_word(&buf, 128).store(tail, Ordering::Release);
            index_word(&buf, 256).store(head, Ordering::Release);
            let tx = ring.take_over_producer(Holder::fixed::<7>(), |_| false);
            let rx = ring.take_over_consumer(Holder::fixed::<8>(), |_| false);
            if sane {
                exercise_producer(&mut tx.unwrap(), CAP);
                exercise_consumer(&mut rx.unwrap(), CAP);
            } else {
                assert_eq!(tx.unwrap_err(), RoleError::Corrupt, "{what}");
                assert_eq!(rx.unwrap_err(), RoleError::Corrupt, "{what}");
                assert_eq!((ring.producer_holder(), ring.consumer_holder()), (0, 0));
            }
            // Observers: the length is clamped, the status says corrupt.
            assert!(ring.len() <= CAP);
            let s = status(&buf.region()).unwrap();
            assert_eq!(s.fill().is_some(), sane, "{what}");
        }
    }
}

/// The exact case of the issue: head = 0x4000_0000 before the producer
/// claims; `try_send_slice` of 50 and `reserve(40)` into 8 slots.
#[test]
fn head_written_before_the_producer_claims_cannot_overflow() {
    let buf = ring_buf::<u64>(8);
    let ring = SpscRing::<u64>::init(buf.region(), RingConfig::new(8)).unwrap();
    index_word(&buf, 256).store(0x4000_0000, Ordering::Release);
    let claimed = ring.producer(Holder::fixed::<1>());
    if let Ok(mut tx) = claimed {
        // Before the fix: Ok(50), and the slots after the 8th are outside.
        assert_eq!(tx.try_send_slice(&[1; 50]), Err(SendError::Corrupt));
        assert_eq!(tx.reserve(40).err(), Some(ChunkError::Corrupt));
        panic!("the claim should have failed");
    }
    assert_eq!(claimed.unwrap_err(), RoleError::Corrupt);
    // Sane again: the role can be claimed and used.
    index_word(&buf, 256).store(0, Ordering::Release);
    let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
    assert_eq!(tx.try_send_slice(&[1; 50]), Ok(8));
}

/// Hostile values written between operations of live handles, on both
/// index words: every operation fails or stays in bounds, and once the
/// peer's index is sane again the handles work.
#[test]
fn hostile_indices_between_operations_stay_in_bounds() {
    const CAP: u32 = 8;
    let buf = ring_buf::<u64>(CAP);
    let ring = SpscRing::<u64>::init(buf.region(), RingConfig::new(CAP)).unwrap();
    let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
    let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
    tx.try_send_slice(&[1, 2, 3]).unwrap();
    for round in 0..3u32 {
        for offset in [128usize, 256] {
            let other = index_word(&buf, 384 - offset).load(Ordering::Relaxed);
            for value in hostile_values(other, CAP) {
                index_word(&buf, offset).store(value, Ordering::Release);
                if round % 2 == 0 {
                    exercise_producer(&mut tx, CAP);
                    exercise_consumer(&mut rx, CAP);
                } else {
                    exercise_consumer(&mut rx, CAP);
                    exercise_producer(&mut tx, CAP);
                }
                assert!(ring.len() <= CAP);
                let _ = status(&buf.region()).unwrap().fill();
            }
            // Repair: both words back to the handles' own indices.
            index_word(&buf, 128).store(tx.tail, Ordering::Release);
            index_word(&buf, 256).store(rx.head, Ordering::Release);
            if tx.tail.wrapping_sub(rx.head) <= CAP {
                let n = rx.try_recv_slice(&mut [0; 8]).unwrap();
                assert!(n <= CAP as usize);
                tx.try_send(9).unwrap();
            }
        }
    }
}

/// Hole 10 of issue 13: a hostile peer writes the slots while this side
/// copies in and out of them. The copying calls use atomic accesses, so
/// this is no data race (Miri checks; before the fix, plain reads and
/// writes of the slots made it report one). The peer's writes are modelled
/// as atomic stores, as another process's writes appear to this one.
#[test]
fn copying_calls_are_sound_while_a_peer_writes_the_slots() {
    use std::sync::atomic::{AtomicBool, AtomicU64};
    const CAP: u32 = 8;
    let buf = ring_buf::<u64>(CAP);
    let ring = SpscRing::<u64>::init(buf.region(), RingConfig::new(CAP)).unwrap();
    let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
    let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
    // SAFETY: the slots, aligned, inside the buffer, alive for the test.
    let slots: &[AtomicU64] =
        unsafe { std::slice::from_raw_parts(buf.ptr().add(384).cast(), CAP as usize) };
    let stop = AtomicBool::new(false);
    let rounds = if cfg!(miri) { 60 } else { 20_000 };
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut rng = Rng::new(5);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let i = rng.below(CAP as u64) as usize;
                slots[i].store(rng.next(), std::sync::atomic::Ordering::Relaxed);
            }
        });
        for round in 0..rounds {
            tx.try_send(round).unwrap();
            let _ = tx.try_send_slice(&[round; 3]);
            if let Ok(mut chunk) = tx.reserve(1) {
                chunk.set(0, round);
                chunk.commit_all();
            }
            let _ = rx.try_recv().unwrap();
            let _ = rx.try_recv_slice(&mut [0; 2]).unwrap();
            if let Ok(chunk) = rx.peek(1) {
                std::hint::black_box(chunk.get(0));
                chunk.release_all();
            }
            let _ = rx.try_recv_slice(&mut [0; 8]).unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
}

crate::plain_struct! {
    /// A user struct, as an application defines it.
    #[derive(Debug, PartialEq)]
    struct Quote {
        instrument: u32,
        side: u32,
        price: i64,
    }
}

crate::plain_struct! {
    /// The same layout under another name.
    #[derive(Debug, PartialEq)]
    struct Fill {
        instrument: u32,
        side: u32,
        price: i64,
    }
}

crate::plain_struct! {
    /// The same name and layout, another field name.
    struct Renamed { instrument: u32, sides: u32, price: i64 }
}

#[test]
fn plain_struct_round_trips_and_names_its_type() {
    assert_ne!(Quote::TYPE_ID, Fill::TYPE_ID);
    assert_ne!(Quote::TYPE_ID, Renamed::TYPE_ID);
    assert_ne!(Quote::TYPE_ID, <[u64; 2]>::TYPE_ID);
    let buf = ring_buf::<Quote>(8);
    let ring = SpscRing::<Quote>::init(buf.region(), RingConfig::new(8)).unwrap();
    let other = SpscRing::<Quote>::attach(buf.region()).unwrap();
    let q = Quote {
        instrument: 7,
        side: 1,
        price: -42,
    };
    ring.producer(Holder::fixed::<1>())
        .unwrap()
        .try_send(q)
        .unwrap();
    assert_eq!(
        other.consumer(Holder::fixed::<2>()).unwrap().try_recv(),
        Ok(q)
    );
    // Same size and alignment, another struct: refused.
    let err = SpscRing::<Fill>::attach(buf.region()).unwrap_err();
    assert_eq!(
        err,
        AttachError::Element {
            expected: Fingerprint::of::<Fill>(),
            found: Fingerprint::of::<Quote>(),
        }
    );
    assert!(matches!(
        SpscRing::<Renamed>::attach(buf.region()),
        Err(AttachError::Element { .. })
    ));
    assert!(SpscRing::<Fill>::attach_with(buf.region(), ElementCheck::LayoutOnly).is_ok());
}

/// The refresh policy of the single-element paths (issue 19, as rtrb does
/// it): `try_send` reads the shared head only when its cached head says
/// full, and `try_recv` the shared tail only when its cached tail says
/// empty. What such a read returns is range-checked before anything uses
/// it: out of range, the call fails with `Corrupt`, writes or reads no
/// slot, moves no index, and keeps the cached value (checked when it was
/// loaded), so the handle works again once the peer's index is sane.
#[test]
fn try_paths_read_the_peer_index_only_at_the_cached_limit_and_check_it() {
    const CAP: u32 = 4;
    let buf = ring_buf::<u64>(CAP);
    let ring = SpscRing::<u64>::init(buf.region(), RingConfig::new(CAP)).unwrap();
    let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
    let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
    let (tail_word, head_word) = (index_word(&buf, 128), index_word(&buf, 256));

    // Producer: room by the cached head, so a garbage head is not read.
    head_word.store(0x8000_0000, Ordering::Release);
    for i in 0..CAP as u64 {
        tx.try_send(i).unwrap();
    }
    // Full by the cache: now the head is read, and refused.
    assert_eq!(tx.try_send(9), Err(SendError::Corrupt));
    assert_eq!(tail_word.load(Ordering::Relaxed), CAP, "tail moved");
    assert_eq!(tx.head_cache, 0, "an unchecked head was cached");
    // A head one past the tail is out of range too (wraps to u32::MAX).
    head_word.store(CAP + 1, Ordering::Release);
    assert_eq!(tx.try_send(9), Err(SendError::Corrupt));
    // Sane again: honest full, then room after a pop.
    head_word.store(0, Ordering::Release);
    assert_eq!(tx.try_send(9), Err(SendError::Full));

    // Consumer: elements by the cached tail (loaded at the first refresh).
    assert_eq!(rx.try_recv(), Ok(0));
    tail_word.store(0x8000_0000, Ordering::Release);
    for i in 1..CAP as u64 {
        assert_eq!(rx.try_recv(), Ok(i), "a cached element was not delivered");
    }
    // Empty by the cache: now the tail is read, and refused.
    assert_eq!(rx.try_recv(), Err(RecvError::Corrupt));
    assert_eq!(head_word.load(Ordering::Relaxed), CAP, "head moved");
    assert_eq!(rx.tail_cache, CAP, "an unchecked tail was cached");
    tail_word.store(CAP.wrapping_sub(1), Ordering::Release);
    assert_eq!(rx.try_recv(), Err(RecvError::Corrupt));
    // Sane again: the producer's real tail.
    tail_word.store(tx.tail, Ordering::Release);
    assert_eq!(rx.try_recv(), Err(RecvError::Empty));
    tx.try_send(10).unwrap();
    assert_eq!(rx.try_recv(), Ok(10));
}
