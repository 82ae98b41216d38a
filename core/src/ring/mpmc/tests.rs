use std::collections::VecDeque;

use super::*;
use crate::foundation::region::RegionError;
use crate::test_util::{AlignedBuf, Rng};

fn ring_buf<T: Plain>(capacity: u32) -> AlignedBuf {
    AlignedBuf::new(MpmcRing::<T>::bytes_needed(capacity).unwrap())
}

/// Moves an empty ring's indices to `start`, as if `start` elements had
/// passed through it, so tests can cross the 32-bit wrap.
fn rewind_to<T: Plain>(ring: &MpmcRing<'_, T>, start: u32) {
    let c = ring.control();
    c.tail.index.store(start, Ordering::Relaxed);
    c.head.index.store(start, Ordering::Relaxed);
    for i in 0..ring.capacity {
        let pos = start.wrapping_add(i);
        ring.slot(pos).seq.store(pos, Ordering::Relaxed);
    }
}

#[test]
fn bytes_needed_and_capacity_rules() {
    assert_eq!(MpmcRing::<u64>::bytes_needed(16), Ok(384 + 16 * 16));
    assert_eq!(MpmcRing::<u32>::bytes_needed(2), Ok(384 + 2 * 8));
    assert_eq!(MpmcRing::<u8>::bytes_needed(4), Ok(384 + 4 * 8));
    for bad in [0, 3, 12, (1 << 31) + 1, u32::MAX] {
        assert_eq!(
            MpmcRing::<u64>::bytes_needed(bad),
            Err(InitError::Capacity { capacity: bad })
        );
    }
    assert_eq!(
        MpmcRing::<u64>::bytes_needed(1),
        Err(InitError::CapacityBelow {
            capacity: 1,
            min: 2
        })
    );
    #[repr(C, align(512))]
    #[derive(Clone, Copy)]
    struct Wide([u8; 512]);
    // SAFETY: a byte array: no padding, any bits valid.
    unsafe impl Plain for Wide {
        const TYPE_ID: u64 = crate::plain::type_id_of_name("test::Wide");
    }
    // The slot: seq, padding to 512, the value: 1024 bytes, at 512.
    assert_eq!(MpmcRing::<Wide>::bytes_needed(2), Ok(512 + 2 * 1024));
    assert_eq!(MpmcRing::<Wide>::region_align(), 512);
}

#[test]
fn init_rejects_small_or_misaligned_regions() {
    let buf = ring_buf::<u64>(16);
    // SAFETY: a prefix of the buffer.
    let small = unsafe { Region::from_raw(buf.ptr(), 384 + 16 * 16 - 1) }.unwrap();
    assert!(matches!(
        MpmcRing::<u64>::init(small, RingConfig::new(16)),
        Err(InitError::Region(RegionError::TooSmall { .. }))
    ));
    let big = AlignedBuf::new(4096);
    // SAFETY: inside the buffer.
    let off = unsafe { Region::from_raw(big.ptr().add(64), 4000) }.unwrap();
    assert!(matches!(
        MpmcRing::<u64>::init(off, RingConfig::new(16)),
        Err(InitError::Region(RegionError::Misaligned {
            required: 128,
            ..
        }))
    ));
    assert_eq!(
        MpmcRing::<u64>::init(buf.region(), RingConfig::new(1)).unwrap_err(),
        InitError::CapacityBelow {
            capacity: 1,
            min: 2
        }
    );
}

#[test]
fn push_pop_fifo_and_full_empty() {
    let buf = ring_buf::<u64>(4);
    let ring = MpmcRing::<u64>::init(buf.region(), RingConfig::new(4)).unwrap();
    let other = ring; // any copy pushes and pops
    assert_eq!(ring.try_recv(), Err(RecvError::Empty));
    for i in 0..4 {
        ring.try_send(i).unwrap();
    }
    assert_eq!(other.try_send(9), Err(SendError::Full));
    assert!(ring.is_full());
    assert_eq!(other.try_recv(), Ok(0));
    ring.try_send(4).unwrap();
    for i in 1..5 {
        assert_eq!(ring.try_recv(), Ok(i));
    }
    assert!(ring.is_empty());
    assert_eq!(ring.try_recv(), Err(RecvError::Empty));
    assert_eq!(ring.try_send_slice(&[]), Ok(0));
    assert_eq!(ring.try_recv_slice(&mut []), Ok(0));
    assert_eq!(ring.try_send_slice(&[1, 2, 3, 4, 5, 6]), Ok(4));
    assert_eq!(ring.try_send_slice(&[7]), Ok(0));
    let mut out = [0; 3];
    assert_eq!(ring.try_recv_slice(&mut out), Ok(3));
    assert_eq!(out, [1, 2, 3]);
    assert_eq!(ring.try_recv_slice(&mut out), Ok(1));
    assert_eq!(ring.try_recv_slice(&mut out), Ok(0));
}

#[test]
fn attach_validates_every_field() {
    let buf = ring_buf::<u64>(16);
    assert_eq!(
        MpmcRing::<u64>::attach(buf.region()).unwrap_err(),
        AttachError::NotReady { state: 0 }
    );
    let ring =
        MpmcRing::<u64>::init(buf.region(), RingConfig::new(16).with_creator_pid(77)).unwrap();
    let other = MpmcRing::<u64>::attach(buf.region()).unwrap();
    assert_eq!(other.capacity(), 16);
    assert_eq!(ring.header().creator_pid, 77);
    ring.try_send(3).unwrap();
    assert_eq!(other.try_recv(), Ok(3));
    // Same size and alignment, another type: refused unless opted out.
    assert!(matches!(
        MpmcRing::<f64>::attach(buf.region()),
        Err(AttachError::Element { .. })
    ));
    let as_f64 = MpmcRing::<f64>::attach_with(buf.region(), ElementCheck::LayoutOnly).unwrap();
    assert_eq!(as_f64.capacity(), 16);
    assert!(matches!(
        MpmcRing::<u32>::attach(buf.region()),
        Err(AttachError::Element { .. })
    ));
    assert!(matches!(
        crate::ring::spsc::SpscRing::<u64>::attach(buf.region()),
        Err(AttachError::Kind {
            expected: Kind::Spsc,
            found: 2
        })
    ));
    // SAFETY: a prefix of the buffer.
    let short = unsafe { Region::from_raw(buf.ptr(), 400) }.unwrap();
    assert!(matches!(
        MpmcRing::<u64>::attach(short),
        Err(AttachError::Region(RegionError::TooSmall { .. }))
    ));
    let poke = |offset: usize, value: u32| {
        // SAFETY: inside the buffer, aligned to 4.
        unsafe { buf.ptr().add(offset).cast::<u32>().write(value) }
    };
    for bad in [1, 12, 0] {
        poke(32, bad); // a capacity no creator writes
        assert_eq!(
            MpmcRing::<u64>::attach(buf.region()).unwrap_err(),
            AttachError::Corrupt {
                field: "capacity",
                value: bad as u64
            }
        );
    }
    poke(32, 32); // valid, but disagrees with total_len
    assert!(matches!(
        MpmcRing::<u64>::attach(buf.region()),
        Err(AttachError::Corrupt {
            field: "total_len",
            ..
        })
    ));
    poke(32, 16);
    poke(8, 1); // kind: spsc
    assert!(matches!(
        MpmcRing::<u64>::attach(buf.region()),
        Err(AttachError::Kind {
            expected: Kind::Mpmc,
            found: 1
        })
    ));
    poke(8, 2);
    assert!(MpmcRing::<u64>::attach(buf.region()).is_ok());
}

/// Random operations, through two copies of the ring, checked against a
/// `VecDeque`.
#[test]
fn random_operations_match_a_model() {
    let steps = if cfg!(miri) { 2_000 } else { 200_000 };
    for capacity in [2u32, 4, 8, 64] {
        let buf = ring_buf::<u64>(capacity);
        let a = MpmcRing::<u64>::init(buf.region(), RingConfig::new(capacity)).unwrap();
        let b = MpmcRing::<u64>::attach(buf.region()).unwrap();
        let mut model = VecDeque::new();
        let mut rng = Rng::new(capacity as u64);
        let mut next = 0u64;
        for _ in 0..steps {
            let ring = if rng.below(2) == 0 { a } else { b };
            let room = capacity as usize - model.len();
            match rng.below(4) {
                0 => match ring.try_send(next) {
                    Ok(()) => {
                        model.push_back(next);
                        next += 1;
                    }
                    Err(e) => {
                        assert_eq!(e, SendError::Full);
                        assert_eq!(room, 0);
                    }
                },
                1 => match ring.try_recv() {
                    Ok(v) => assert_eq!(Some(v), model.pop_front()),
                    Err(e) => {
                        assert_eq!(e, RecvError::Empty);
                        assert!(model.is_empty());
                    }
                },
                2 => {
                    let n = rng.below(capacity as u64 + 3) as usize;
                    let items: Vec<u64> = (next..next + n as u64).collect();
                    match ring.try_send_slice(&items) {
                        Ok(pushed) => {
                            assert_eq!(pushed, n.min(room));
                            model.extend(&items[..pushed]);
                            next += pushed as u64;
                        }
                        Err(e) => {
                            assert_eq!(e, SendError::Full);
                            assert_eq!(room, 0);
                        }
                    }
                }
                _ => {
                    let mut out = vec![0; rng.below(capacity as u64 + 3) as usize];
                    match ring.try_recv_slice(&mut out) {
                        Ok(n) => {
                            assert_eq!(n, out.len().min(model.len()));
                            for v in &out[..n] {
                                assert_eq!(Some(*v), model.pop_front());
                            }
                        }
                        Err(e) => {
                            assert_eq!(e, RecvError::Empty);
                            assert!(model.is_empty());
                        }
                    }
                }
            }
            assert_eq!(a.len() as usize, model.len());
        }
    }
}

#[test]
fn positions_wrap_around_u32() {
    let buf = ring_buf::<u32>(4);
    let ring = MpmcRing::<u32>::init(buf.region(), RingConfig::new(4)).unwrap();
    rewind_to(&ring, u32::MAX - 5);
    let mut expected = 0;
    for i in 0..40u32 {
        ring.try_send(i).unwrap();
        if i % 3 == 0 {
            ring.try_send_slice(&[1000 + i, 2000 + i]).unwrap();
        }
        let mut out = [0u32; 3];
        let n = ring.try_recv_slice(&mut out).unwrap();
        for v in &out[..n] {
            if *v < 1000 {
                assert_eq!(*v, expected);
                expected += 1;
            }
        }
    }
    while let Ok(v) = ring.try_recv() {
        if v < 1000 {
            assert_eq!(v, expected);
            expected += 1;
        }
    }
    assert_eq!(expected, 40);
}

/// A producer that dies between claiming and publishing stalls consumers at
/// its position only; skipping it lets everything behind it through.
#[test]
fn dead_producer_stalls_its_position_until_skipped() {
    let buf = ring_buf::<u64>(4);
    let ring = MpmcRing::<u64>::init(buf.region(), RingConfig::new(4)).unwrap();
    ring.try_send(10).unwrap();
    let dead = ring.abandon_send().unwrap();
    assert_eq!(dead, 1);
    ring.try_send(12).unwrap();
    ring.try_send(13).unwrap();
    assert_eq!(ring.try_send(14), Err(SendError::Full));
    assert_eq!(ring.try_recv(), Ok(10));
    assert_eq!(ring.try_recv(), Err(RecvError::Stalled { position: 1 }));
    assert_eq!(
        ring.try_recv_slice(&mut [0; 4]),
        Err(RecvError::Stalled { position: 1 })
    );
    assert_eq!(
        ring.try_recv_spinning(0),
        Err(RecvError::Stalled { position: 1 })
    );
    // Producers are not stalled by it: the slot freed by the pop is theirs.
    ring.try_send(14).unwrap();
    assert_eq!(ring.try_send(15), Err(SendError::Full));
    // Only the stalled position can be skipped.
    for wrong in [0, 2, 3, 5, u32::MAX] {
        assert_eq!(
            ring.skip_stalled(wrong),
            Err(NotStalled { position: wrong })
        );
    }
    assert_eq!(ring.skip_stalled(1), Ok(None));
    assert_eq!(ring.skip_stalled(1), Err(NotStalled { position: 1 }));
    let mut out = [0; 4];
    assert_eq!(ring.try_recv_slice(&mut out), Ok(3));
    assert_eq!(out[..3], [12, 13, 14]);
    // The skipped slot serves the next lap as usual.
    for i in 0..4 {
        ring.try_send(20 + i).unwrap();
    }
    for i in 0..4 {
        assert_eq!(ring.try_recv(), Ok(20 + i));
    }
    assert_eq!(ring.try_recv(), Err(RecvError::Empty));
    let head = ring.control().head.index.load(Ordering::Relaxed);
    assert_eq!(ring.skip_stalled(head), Err(NotStalled { position: head }));
}

/// A consumer that dies between claiming and releasing stalls producers a
/// lap later, at its slot only; skipping frees the slot.
#[test]
fn dead_consumer_stalls_its_slot_until_skipped() {
    let buf = ring_buf::<u64>(4);
    let ring = MpmcRing::<u64>::init(buf.region(), RingConfig::new(4)).unwrap();
    ring.try_send_slice(&[0, 1, 2, 3]).unwrap();
    assert_eq!(ring.try_recv(), Ok(0));
    let dead = ring.abandon_recv().unwrap();
    assert_eq!(dead, 1);
    assert_eq!(ring.try_recv(), Ok(2));
    assert_eq!(ring.try_recv(), Ok(3));
    assert_eq!(ring.try_recv(), Err(RecvError::Empty));
    ring.try_send(4).unwrap(); // slot 0, released
    assert_eq!(ring.try_send(5), Err(SendError::Stalled { position: 1 }));
    assert_eq!(
        ring.try_send_slice(&[5, 6]),
        Err(SendError::Stalled { position: 1 })
    );
    assert_eq!(ring.skip_stalled(0), Err(NotStalled { position: 0 }));
    assert_eq!(ring.skip_stalled(5), Err(NotStalled { position: 5 }));
    assert_eq!(ring.skip_stalled(1), Ok(None));
    assert_eq!(ring.skip_stalled(1), Err(NotStalled { position: 1 }));
    assert_eq!(ring.try_send_slice(&[5, 6, 7, 8]), Ok(3));
    let mut out = [0; 8];
    assert_eq!(ring.try_recv_slice(&mut out), Ok(4));
    assert_eq!(out[..4], [4, 5, 6, 7]);
}

/// A stalled producer that does publish, late, is not lost by a skip that
/// finds its element; and a slot at any other state is left alone.
#[test]
fn skip_returns_an_element_published_in_time() {
    let buf = ring_buf::<u64>(4);
    let ring = MpmcRing::<u64>::init(buf.region(), RingConfig::new(4)).unwrap();
    let pos = ring.abandon_send().unwrap();
    assert_eq!(ring.try_recv(), Err(RecvError::Stalled { position: pos }));
    // It comes back to life and publishes: nothing is stalled any more.
    ring.write_and_publish(pos, 77);
    assert_eq!(ring.skip_stalled(pos), Err(NotStalled { position: pos }));
    assert_eq!(ring.try_recv(), Ok(77));
}

/// Garbage in every shared word: operations end (with errors or junk
/// values) and never touch memory outside the ring.
#[test]
fn garbage_sequences_and_indices_end_every_operation() {
    let buf = ring_buf::<u64>(8);
    let ring = MpmcRing::<u64>::init(buf.region(), RingConfig::new(8)).unwrap();
    let c = ring.control();
    // A slot that claims to be ahead of an index that has not moved.
    ring.slot(0).seq.store(5, Ordering::Relaxed);
    assert_eq!(ring.try_send(1), Err(SendError::Corrupt));
    ring.slot(0).seq.store(2, Ordering::Relaxed);
    assert_eq!(ring.try_recv(), Err(RecvError::Corrupt));
    // A tail further ahead than the capacity allows.
    ring.slot(0).seq.store(0, Ordering::Relaxed);
    c.tail.index.store(100, Ordering::Relaxed);
    assert_eq!(ring.try_recv(), Err(RecvError::Corrupt));
    assert_eq!(ring.len(), 8, "a corrupt ring reads as full");
    let mut rng = Rng::new(99);
    let rounds = if cfg!(miri) { 200 } else { 20_000 };
    for _ in 0..rounds {
        let word = |rng: &mut Rng| match rng.below(4) {
            0 => u32::MAX - rng.below(3) as u32,
            1 => 0x8000_0000 + rng.below(3) as u32,
            _ => rng.next() as u32 % 24,
        };
        match rng.below(4) {
            0 => c.tail.index.store(word(&mut rng), Ordering::Relaxed),
            1 => c.head.index.store(word(&mut rng), Ordering::Relaxed),
            _ => ring
                .slot(rng.next() as u32)
                .seq
                .store(word(&mut rng), Ordering::Relaxed),
        }
        let _ = ring.try_send(1);
        let _ = ring.try_recv();
        let _ = ring.try_send_slice(&[1; 20]);
        let _ = ring.try_recv_slice(&mut [0; 20]);
        let _ = ring.skip_stalled(word(&mut rng));
        let _ = ring.len();
    }
}

/// Two producers and two consumers on threads: every element arrives
/// exactly once, and each consumer sees each producer's elements in order.
#[test]
fn threads_deliver_each_element_exactly_once() {
    let per_producer: u64 = if cfg!(miri) { 300 } else { 200_000 };
    let buf = ring_buf::<u64>(16);
    let ring = MpmcRing::<u64>::init(buf.region(), RingConfig::new(16)).unwrap();
    let received = std::sync::atomic::AtomicU64::new(0);
    let total = 2 * per_producer;
    let seen: Vec<Vec<u64>> = std::thread::scope(|s| {
        for p in 0..2u64 {
            s.spawn(move || {
                let mut i = 0;
                while i < per_producer {
                    let tag = p << 32;
                    let pushed = if i % 5 == 0 {
                        let end = (i + 3).min(per_producer);
                        let batch: Vec<u64> = (i..end).map(|v| tag | v).collect();
                        ring.try_send_slice(&batch).unwrap_or(0) as u64
                    } else {
                        u64::from(ring.try_send(tag | i).is_ok())
                    };
                    if pushed == 0 {
                        std::thread::yield_now();
                    }
                    i += pushed;
                }
            });
        }
        let consumers: Vec<_> = (0..2)
            .map(|k| {
                let received = &received;
                s.spawn(move || {
                    let mut got = Vec::new();
                    let mut out = [0u64; 4];
                    while received.load(std::sync::atomic::Ordering::Relaxed) < total {
                        let n = if k == 0 {
                            ring.try_recv_slice(&mut out).unwrap_or(0)
                        } else {
                            ring.try_recv().map(|v| out[0] = v).map_or(0, |_| 1)
                        };
                        if n == 0 {
                            std::thread::yield_now();
                        }
                        got.extend_from_slice(&out[..n]);
                        received.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
                    }
                    got
                })
            })
            .collect();
        consumers.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all = Vec::new();
    for got in &seen {
        let mut last = [None::<u64>; 2];
        for v in got {
            let (p, i) = ((v >> 32) as usize, v & 0xffff_ffff);
            assert!(last[p] < Some(i), "producer {p}'s order broken");
            last[p] = Some(i);
        }
        all.extend_from_slice(got);
    }
    all.sort_unstable();
    let expected: Vec<u64> = (0..2u64)
        .flat_map(|p| (0..per_producer).map(move |i| p << 32 | i))
        .collect();
    assert_eq!(all, expected);
    assert!(ring.is_empty());
}

mod blocking {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::test_util::TestWait;

    #[test]
    fn send_and_recv_time_out_and_wait_through_a_stall() {
        let buf = ring_buf::<u64>(2);
        let ring = MpmcRing::<u64>::init(buf.region(), RingConfig::new(2)).unwrap();
        let b = Blocking::new(TestWait::default());
        let t = Some(Duration::from_millis(2));
        assert_eq!(ring.recv(&b, t), Err(RecvError::TimedOut));
        ring.send(1, &b, None).unwrap();
        ring.send(2, &b, None).unwrap();
        assert_eq!(ring.send(3, &b, t), Err(SendError::TimedOut));
        assert_eq!(ring.recv(&b, None), Ok(1));
        // A producer claimed position 2 and never published it: a blocking
        // pop waits for it; a timeout shorter than the stall patience ends
        // as a timeout, not as a stall.
        assert_eq!(ring.abandon_send(), Ok(2));
        assert_eq!(ring.recv(&b, None), Ok(2));
        assert_eq!(ring.try_recv(), Err(RecvError::Stalled { position: 2 }));
        assert_eq!(ring.recv(&b, t), Err(RecvError::TimedOut));
        // Nobody parked since: waking costs no wake call.
        let calls = b.wait.calls();
        assert!(!ring.wake_producers(&b.wait));
        assert_eq!(b.wait.calls(), calls);
    }

    /// Two producers and two consumers on a 4-slot ring with few spins:
    /// everyone parks now and then, and nothing is lost or duplicated.
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

    #[test]
    fn threads_block_both_ways_and_lose_nothing() {
        let per: u64 = if cfg!(miri) { 30 } else { 5_000 };
        let buf = ring_buf::<u64>(4);
        let ring = MpmcRing::<u64>::init(buf.region(), RingConfig::new(4)).unwrap();
        let b = Blocking {
            wait: TestWait::default(),
            spins: 2,
            yields: 1,
        };
        // A lost wake-up fails the test (timed out) instead of hanging it.
        let patience = Some(Duration::from_secs(10));
        // Parking made certain first (in the stream below how often a side
        // parks depends on the schedule): a consumer parks on the empty
        // ring and a send wakes it; a producer parks on the full ring and
        // a receive wakes it.
        std::thread::scope(|s| {
            s.spawn(|| assert_eq!(ring.recv(&b, patience), Ok(7)));
            until_parked(&b.wait, 0);
            ring.send(7, &b, None).unwrap();
        });
        for i in 0..4 {
            ring.try_send(i).unwrap();
        }
        let parked = b.wait.waits.load(std::sync::atomic::Ordering::Relaxed);
        std::thread::scope(|s| {
            s.spawn(|| ring.send(4, &b, patience).unwrap());
            until_parked(&b.wait, parked);
            assert_eq!(ring.recv(&b, None), Ok(0));
        });
        for i in 1..5 {
            assert_eq!(ring.try_recv(), Ok(i));
        }
        let got = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for p in 0..2u64 {
                let (ring, b) = (&ring, &b);
                s.spawn(move || {
                    for i in 0..per {
                        ring.send(p << 32 | i, b, patience).unwrap();
                    }
                });
            }
            for _ in 0..2 {
                let (ring, b, got) = (&ring, &b, &got);
                s.spawn(move || {
                    let mut mine = Vec::new();
                    for _ in 0..per {
                        mine.push(ring.recv(b, patience).unwrap());
                    }
                    // Each producer's values reach one consumer in order.
                    for p in 0..2u64 {
                        let from_p: Vec<_> = mine.iter().filter(|v| **v >> 32 == p).collect();
                        assert!(from_p.windows(2).all(|w| w[0] < w[1]));
                    }
                    got.lock().unwrap().extend(mine);
                });
            }
        });
        let mut got = got.into_inner().unwrap();
        got.sort_unstable();
        let expected: Vec<u64> = (0..2u64)
            .flat_map(|p| (0..per).map(move |i| p << 32 | i))
            .collect();
        assert_eq!(got, expected);
    }

    /// A dead producer's position ends a blocking `recv` with `Stalled`
    /// instead of sleeping for ever, after [`STALL_PATIENCE`] (a shorter
    /// timeout ends it with `TimedOut`). Likewise a dead consumer's slot
    /// for a blocking `send`.
    #[test]
    fn a_dead_claimant_ends_blocking_calls_with_stalled() {
        let buf = ring_buf::<u64>(2);
        let ring = MpmcRing::<u64>::init(buf.region(), RingConfig::new(2)).unwrap();
        let b = Blocking::new(TestWait::default());
        let dead = ring.abandon_send().unwrap();
        ring.try_send(7).unwrap();
        let stalled = Err(RecvError::Stalled { position: dead });
        let short = Some(Duration::from_millis(5));
        assert_eq!(ring.recv(&b, short), Err(RecvError::TimedOut));
        let start = Instant::now();
        assert_eq!(ring.recv(&b, None), stalled);
        assert!(start.elapsed() >= STALL_PATIENCE);
        assert_eq!(ring.skip_stalled(dead), Ok(None));
        assert_eq!(ring.recv(&b, None), Ok(7));
        // A consumer dies holding position 2's slot; producers come round
        // to it a lap later (position 4) and stall there.
        ring.send(8, &b, None).unwrap();
        let dead = ring.abandon_recv().unwrap();
        ring.send(9, &b, None).unwrap();
        assert_eq!(ring.recv(&b, None), Ok(9));
        let stalled = Err(SendError::Stalled { position: dead });
        assert_eq!(ring.send(10, &b, short), Err(SendError::TimedOut));
        let start = Instant::now();
        assert_eq!(ring.send(10, &b, Some(Duration::from_secs(30))), stalled);
        assert!(start.elapsed() >= STALL_PATIENCE);
        assert_eq!(ring.skip_stalled(dead), Ok(None));
        ring.send(10, &b, None).unwrap();
        ring.send(11, &b, None).unwrap();
        assert_eq!(ring.recv(&b, None), Ok(10));
        assert_eq!(ring.recv(&b, None), Ok(11));
        assert_eq!(
            RecvError::Stalled { position: 3 }.to_string(),
            "ring stalled: the sender of position 3 has not published it"
        );
    }

    /// A producer that is merely slow between claim and publish is waited
    /// for, parked, and wakes the consumer when it publishes.
    #[test]
    fn a_slow_claimant_is_waited_for() {
        let buf = ring_buf::<u64>(2);
        let ring = MpmcRing::<u64>::init(buf.region(), RingConfig::new(2)).unwrap();
        let b = Blocking::parking(TestWait::default());
        let (pos, _) = ring.claim(Side::Push, 1, 0).unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(20));
                ring.write_and_publish(pos, 5);
                b.notify(&ring.control().tail.wake);
            });
            assert_eq!(ring.recv(&b, Some(Duration::from_secs(10))), Ok(5));
        });
        assert!(b.wait.waits.load(std::sync::atomic::Ordering::Relaxed) > 0);
    }

    /// Issue 13, hole 8: a stall is reported only once the patience has
    /// really passed. A caller that waits in slices shorter than the
    /// patience (as the Linux channel once did, 10 ms at a time) gets
    /// `TimedOut` from each slice, never `Stalled` for a claimant that was
    /// only descheduled; one long timeout reports the stall no sooner than
    /// [`STALL_PATIENCE`] (a lower bound, which any schedule satisfies).
    #[test]
    fn a_stall_is_reported_only_after_the_patience() {
        let buf = ring_buf::<u64>(4);
        let ring = MpmcRing::<u64>::init(buf.region(), RingConfig::new(4)).unwrap();
        let b = Blocking::new(TestWait::default());
        // A live claimant that has not published yet (it is "descheduled").
        let (pos, _) = ring.claim(Side::Push, 1, 0).unwrap();
        let start = Instant::now();
        for _ in 0..3 {
            let slice = Some(Duration::from_millis(10));
            assert_eq!(ring.recv(&b, slice), Err(RecvError::TimedOut));
        }
        let r = ring.recv(&b, Some(Duration::from_secs(5)));
        assert_eq!(r, Err(RecvError::Stalled { position: pos }));
        assert!(start.elapsed() >= STALL_PATIENCE);
        // The claimant finishes after all: its element arrives.
        ring.write_and_publish(pos, 6);
        assert_eq!(ring.recv(&b, Some(Duration::from_secs(5))), Ok(6));
    }
}

mod users {
    use super::*;

    const ALIVE: fn(u32) -> bool = |_| true;

    fn words(ring: &MpmcRing<'_, u64>) -> [u32; USER_WORDS] {
        ring.users().words
    }

    #[test]
    fn join_takes_free_words_and_leave_frees_only_its_own() {
        let buf = ring_buf::<u64>(4);
        let ring = MpmcRing::<u64>::init(buf.region(), RingConfig::new(4)).unwrap();
        let other = MpmcRing::<u64>::attach(buf.region()).unwrap();
        assert_eq!(
            ring.users(),
            Users {
                words: [0; USER_WORDS],
                overflow: false
            }
        );
        // Free words are taken without asking whether anyone lives.
        let never = |_| -> bool { panic!("no occupied word before a free one") };
        assert_eq!(ring.join(Holder::fixed::<10>(), never), UserSlot::Word(0));
        assert_eq!(other.join(Holder::fixed::<11>(), ALIVE), UserSlot::Word(1));
        // The same holder joining twice holds two words.
        assert_eq!(ring.join(Holder::fixed::<10>(), ALIVE), UserSlot::Word(2));
        assert_eq!(other.users().holders().collect::<Vec<_>>(), [10, 11, 10]);
        // Leave frees a word only for its holder.
        assert!(!ring.leave(UserSlot::Word(1), Holder::fixed::<12>()));
        assert!(other.leave(UserSlot::Word(1), Holder::fixed::<11>()));
        assert!(!other.leave(UserSlot::Word(1), Holder::fixed::<11>())); // twice: nothing left
        assert_eq!(words(&ring)[..3], [10, 0, 10]);
        // A freed word is the first taken again.
        assert_eq!(ring.join(Holder::fixed::<13>(), ALIVE), UserSlot::Word(1));
        // Indices out of the table are refused, not used.
        assert!(!ring.leave(UserSlot::Word(USER_WORDS), Holder::fixed::<10>()));
        assert!(!ring.leave(UserSlot::Word(usize::MAX), Holder::fixed::<10>()));
    }

    #[test]
    fn a_dead_users_word_is_taken_over_and_the_old_holder_cannot_free_it() {
        let buf = ring_buf::<u64>(4);
        let ring = MpmcRing::<u64>::init(buf.region(), RingConfig::new(4)).unwrap();
        assert_eq!(ring.join(Holder::fixed::<20>(), ALIVE), UserSlot::Word(0));
        assert_eq!(ring.join(Holder::fixed::<21>(), ALIVE), UserSlot::Word(1));
        // 21 is judged dead: its word goes to the next joiner, ahead of the
        // free words after it.
        let asked = core::cell::Cell::new(Vec::new());
        let slot = ring.join(Holder::fixed::<22>(), |h| {
            let mut a = asked.take();
            a.push(h);
            asked.set(a);
            h != 21
        });
        assert_eq!(slot, UserSlot::Word(1));
        assert_eq!(asked.take(), [20, 21]);
        // The replaced holder, alive after all, frees nothing.
        assert!(!ring.leave(UserSlot::Word(1), Holder::fixed::<21>()));
        assert_eq!(words(&ring)[..3], [20, 22, 0]);
        assert!(ring.leave(UserSlot::Word(1), Holder::fixed::<22>()));
    }

    #[test]
    fn a_full_table_overflows_stickily_and_the_joiner_still_works() {
        let buf = ring_buf::<u64>(4);
        let ring = MpmcRing::<u64>::init(buf.region(), RingConfig::new(4)).unwrap();
        for i in 0..USER_WORDS {
            assert_eq!(
                ring.join(Holder::new(100 + i as u32).unwrap(), ALIVE),
                UserSlot::Word(i)
            );
        }
        assert_eq!(ring.join(Holder::fixed::<999>(), ALIVE), UserSlot::Overflow);
        assert!(ring.users().overflow);
        assert!(!ring.leave(UserSlot::Overflow, Holder::fixed::<999>()));
        ring.try_send(5).unwrap();
        assert_eq!(ring.try_recv(), Ok(5));
        // A freed word is taken again, and the flag stays: the table no
        // longer knows every user.
        assert!(ring.leave(UserSlot::Word(7), Holder::fixed::<107>()));
        assert_eq!(ring.join(Holder::fixed::<998>(), ALIVE), UserSlot::Word(7));
        assert!(ring.users().overflow);
        // Only a new ring clears it.
        let ring = MpmcRing::<u64>::init(buf.region(), RingConfig::new(4)).unwrap();
        assert_eq!(
            ring.users(),
            Users {
                words: [0; USER_WORDS],
                overflow: false
            }
        );
    }

    #[test]
    fn threads_joining_at_once_never_share_a_word() {
        let buf = ring_buf::<u64>(4);
        let ring = MpmcRing::<u64>::init(buf.region(), RingConfig::new(4)).unwrap();
        let rounds = if cfg!(miri) { 5 } else { 200 };
        std::thread::scope(|s| {
            for holder in 1..=4u32 {
                s.spawn(move || {
                    for _ in 0..rounds {
                        let h = Holder::new(holder).unwrap();
                        let UserSlot::Word(i) = ring.join(h, ALIVE) else {
                            panic!("4 users overflowed a table of {USER_WORDS}");
                        };
                        // Nobody else writes a word this holder holds.
                        assert_eq!(ring.users().words[i], holder);
                        assert!(ring.leave(UserSlot::Word(i), h));
                    }
                });
            }
        });
        assert_eq!(words(&ring), [0; USER_WORDS]);
    }

    #[test]
    fn the_table_sits_at_its_documented_offsets_and_garbage_is_only_ids() {
        let buf = ring_buf::<u64>(4);
        let ring = MpmcRing::<u64>::init(buf.region(), RingConfig::new(4)).unwrap();
        let word = |offset: usize| {
            // SAFETY: inside the buffer, aligned to 4.
            unsafe { buf.ptr().add(offset).cast::<u32>().read() }
        };
        let poke = |offset: usize, value: u32| {
            // SAFETY: inside the buffer, aligned to 4.
            unsafe { buf.ptr().add(offset).cast::<u32>().write(value) }
        };
        ring.join(Holder::fixed::<7>(), ALIVE);
        ring.join(Holder::fixed::<8>(), ALIVE);
        assert_eq!((word(64), word(68)), (7, 8));
        // A hostile peer fills the table with junk, overflow included.
        for i in 0..USER_WORDS {
            poke(64 + 4 * i, u32::MAX - i as u32);
        }
        poke(124, 0xdead_beef);
        let users = ring.users();
        assert!(users.overflow);
        assert_eq!(users.words[0], u32::MAX);
        // Junk ids are judged like any other: here, dead.
        assert_eq!(
            ring.join(Holder::fixed::<9>(), |h| h < 1000),
            UserSlot::Word(0)
        );
        assert_eq!(word(64), 9);
        // The ring itself is untouched by the table.
        ring.try_send(1).unwrap();
        assert_eq!(ring.try_recv(), Ok(1));
    }
}

#[test]
fn status_reads_any_element_type_and_its_users() {
    fn check<T: Plain>(value: T) {
        let buf = ring_buf::<T>(8);
        let ring =
            MpmcRing::<T>::init(buf.region(), RingConfig::new(8).with_creator_pid(41)).unwrap();
        ring.join(Holder::fixed::<42>(), |_| true);
        ring.try_send_slice(&[value; 3]).unwrap();
        ring.try_recv().unwrap();
        let s = status(&buf.region()).unwrap();
        assert_eq!(s.header.element, Fingerprint::of::<T>());
        assert_eq!(
            (s.header.creator_pid, s.fill(), s.head, s.tail),
            (41, Some(2), 1, 3)
        );
        assert_eq!(s.users.holders().collect::<Vec<_>>(), [42]);
        assert!(!s.users.overflow);
    }
    check(1u8);
    check(2u32);
    check(3u64);
    check(4u128);
    check([5u8; 60]);
    check([6u16; 3]);
}

#[test]
fn status_rejects_what_no_creator_writes() {
    let buf = ring_buf::<u64>(16);
    MpmcRing::<u64>::init(buf.region(), RingConfig::new(16)).unwrap();
    let poke = |offset: usize, value: u32| {
        // SAFETY: inside the buffer, aligned to 4.
        unsafe { buf.ptr().add(offset).cast::<u32>().write(value) }
    };
    // (offset, bad value, good value, the complaint)
    let cases: [(usize, u32, u32, &str); 5] = [
        (32, 1, 16, "capacity"), // below the MPMC minimum of 2
        (32, 12, 16, "capacity"),
        (32, 32, 16, "total_len"),
        (20, 3, 8, "elem_align"),
        (16, 12, 8, "elem_size"),
    ];
    for (offset, bad, good, field) in cases {
        poke(offset, bad);
        match status(&buf.region()) {
            Err(AttachError::Corrupt { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
        poke(offset, good);
        assert!(status(&buf.region()).is_ok());
    }
    // Another kind, and a region shorter than the ring.
    poke(8, Kind::Spsc as u32);
    assert!(matches!(
        status(&buf.region()),
        Err(AttachError::Kind { .. })
    ));
    poke(8, Kind::Mpmc as u32);
    // SAFETY: a prefix of the buffer.
    let short = unsafe { Region::from_raw(buf.ptr(), 384) }.unwrap();
    assert!(matches!(status(&short), Err(AttachError::Region(_))));
}

/// Hole 1's class, audited for the MPMC ring: every value a peer can write
/// — the header at attach and in `status`, the indices and sequences before
/// a claim or a take-over (`skip_stalled`), the users table before a join —
/// is checked or masked before it addresses memory or sizes a loop, and
/// the ring caches nothing but the capacity checked at attach. Extreme
/// values (0, `u32::MAX`, capacity ± 1, 2³¹, the current index ± k) give
/// typed errors or bounded results; Miri checks that no access leaves the
/// ring.
#[test]
fn extreme_values_in_every_word_give_typed_errors() {
    const CAP: u32 = 8;
    let buf = ring_buf::<u64>(CAP);
    let ring = MpmcRing::<u64>::init(buf.region(), RingConfig::new(CAP)).unwrap();
    let poke = |offset: usize, value: u32| {
        // SAFETY: inside the buffer, aligned to 4.
        unsafe { buf.ptr().add(offset).cast::<u32>().write(value) }
    };
    let extremes = |around: u32| {
        [
            0,
            1,
            u32::MAX,
            u32::MAX - 1,
            CAP - 1,
            CAP,
            CAP + 1,
            1 << 31,
            (1 << 31) + 1,
            around.wrapping_sub(CAP + 1),
            around.wrapping_sub(1),
            around.wrapping_add(1),
            around.wrapping_add(CAP),
            around.wrapping_add(CAP + 1),
        ]
    };
    // At attach and in status: a capacity no creator writes for this length.
    for bad in extremes(CAP) {
        if bad == CAP {
            continue;
        }
        poke(32, bad);
        assert!(matches!(
            MpmcRing::<u64>::attach(buf.region()),
            Err(AttachError::Corrupt {
                field: "capacity" | "total_len",
                ..
            })
        ));
        assert!(matches!(
            status(&buf.region()),
            Err(AttachError::Corrupt {
                field: "capacity" | "total_len",
                ..
            })
        ));
    }
    poke(32, CAP);
    let other = MpmcRing::<u64>::attach(buf.region()).unwrap();
    // Before claims and take-overs: extreme indices and sequences.
    let mut rng = Rng::new(13);
    for &tail in &extremes(5) {
        for &head in &extremes(tail) {
            poke(128, tail);
            poke(256, head);
            let slot = 384 + 16 * rng.below(CAP as u64) as usize;
            poke(slot, extremes(tail)[rng.below(14) as usize]);
            for r in [&ring, &other] {
                assert!(r.len() <= CAP);
                if let Ok(n) = r.try_send_slice(&[1; 20]) {
                    assert!(n <= CAP as usize);
                }
                if let Ok(n) = r.try_recv_slice(&mut [0; 20]) {
                    assert!(n <= CAP as usize);
                }
                let _ = r.try_send(2);
                let _ = r.try_recv();
                let _ = r.skip_stalled(tail);
                let _ = r.skip_stalled(head.wrapping_sub(1));
                let s = status(&buf.region()).unwrap();
                assert!(s.fill().is_none_or(|n| n <= CAP));
            }
        }
    }
    // Before a join: every users word and the overflow word at extremes.
    for (i, v) in extremes(0).into_iter().cycle().take(USER_WORDS).enumerate() {
        poke(64 + 4 * i, v);
    }
    poke(124, u32::MAX);
    let users = ring.users();
    assert!(users.overflow);
    match ring.join(Holder::fixed::<42>(), |h| h == 1) {
        UserSlot::Word(i) => assert!(i < USER_WORDS),
        other => panic!("{other:?}"),
    }
    assert!(!ring.leave(UserSlot::Word(USER_WORDS + 3), Holder::fixed::<42>()));
    assert!(!ring.leave(UserSlot::Word(usize::MAX), Holder::fixed::<42>()));
    assert!(status(&buf.region()).unwrap().users.overflow);
}

/// The pollers' hints follow the slot at each index: published (or free)
/// says ready; an unfinished claim, an empty or full ring, or garbage says
/// not ready, and never addresses memory outside the ring.
#[test]
fn ready_hints_follow_the_slot_at_each_index() {
    let buf = ring_buf::<u64>(4);
    let ring = MpmcRing::<u64>::init(buf.region(), RingConfig::new(4)).unwrap();
    assert!(!ring.recv_ready());
    assert!(ring.send_ready());
    ring.try_send(1).unwrap();
    assert!(ring.recv_ready());
    // A producer's claim, unpublished, at the head: not ready to pop.
    assert_eq!(ring.try_recv(), Ok(1));
    let dead = ring.abandon_send().unwrap();
    assert!(!ring.recv_ready());
    assert!(ring.send_ready());
    ring.try_send(2).unwrap();
    ring.try_send(3).unwrap();
    ring.try_send(4).unwrap();
    // Full: the slot at the tail holds position 1's unconsumed element.
    assert!(!ring.send_ready());
    assert!(!ring.recv_ready());
    assert_eq!(ring.skip_stalled(dead), Ok(None));
    assert!(ring.recv_ready());
    assert!(ring.send_ready());
    // A consumer's claim, unreleased, at the slot the tail comes round to.
    let taken = ring.abandon_recv().unwrap();
    assert_eq!(taken, 2);
    assert_eq!(ring.try_recv(), Ok(3));
    assert_eq!(ring.try_send(5), Ok(()));
    assert!(!ring.send_ready());
    // Garbage in every word: no panic, no access outside the ring.
    let c = ring.control();
    for junk in [0, 1, 3, u32::MAX, 1 << 31] {
        c.head.index.store(junk, Ordering::Relaxed);
        c.tail.index.store(junk.wrapping_add(7), Ordering::Relaxed);
        for i in 0..4 {
            ring.slot(i).seq.store(junk ^ i, Ordering::Relaxed);
        }
        let _ = (ring.recv_ready(), ring.send_ready());
    }
}

/// An element claimed but not yet written makes the ring readable (its
/// producer may have died there, and the wait must end so that the
/// consumer learns of it), and the receive then reports `Stalled`: a
/// wait-set user treats that as "not yet" while the producer lives (a
/// producer preempted or faulting between its claim and its publish is
/// one), as `recv` does with its patience.
#[test]
fn an_unfinished_claim_is_readable_and_receiving_it_reports_stalled() {
    use crate::wait::wait_set::Source;
    let buf = ring_buf::<u64>(4);
    let ring = MpmcRing::<u64>::init(buf.region(), RingConfig::new(4)).unwrap();
    assert!(!ring.readable().is_ready());
    let claimed = ring.abandon_send().unwrap();
    assert!(ring.readable().is_ready());
    assert!(!ring.recv_ready(), "the hint waits for the publication");
    assert_eq!(
        ring.try_recv(),
        Err(RecvError::Stalled { position: claimed })
    );
    assert_eq!(ring.skip_stalled(claimed), Ok(None));
    assert!(!ring.readable().is_ready());
}
