use super::*;
use crate::foundation::holder::Holder;
use crate::ring::ChunkError;
use crate::test_util::{AlignedBuf, TestWait};

fn ring_buf<T: Plain>(capacity: u32) -> AlignedBuf {
    AlignedBuf::new(FanoutRing::<T>::bytes_needed(capacity).unwrap())
}

fn alive(_: u32) -> bool {
    true
}

#[test]
fn every_subscriber_gets_everything_and_the_slowest_gates() {
    let buf = ring_buf::<u64>(4);
    let ring = FanoutRing::<u64>::init(buf.region(), RingConfig::new(4)).unwrap();
    assert!(FanoutRing::<u64>::attach(buf.region()).is_ok());
    let mut w = ring.writer(Holder::fixed::<1>()).unwrap();
    assert_eq!(
        ring.writer(Holder::fixed::<2>()).unwrap_err(),
        RoleError::Taken { holder: 1 }
    );
    // No subscriber: nothing gates.
    for v in 0..10 {
        w.try_send(v).unwrap();
    }
    let mut a = ring.subscribe(Holder::fixed::<10>(), alive).unwrap();
    let mut b = ring.subscribe(Holder::fixed::<11>(), alive).unwrap();
    assert_eq!(a.try_recv(), Err(RecvError::Empty));
    for v in 10..14 {
        w.try_send(v).unwrap();
    }
    assert_eq!(w.try_send(14), Err(SendError::Full));
    assert_eq!(w.slowest(), Some((10, 4)));
    for v in 10..14 {
        assert_eq!(a.try_recv(), Ok(v));
    }
    // b still holds the writer back.
    assert_eq!(w.try_send(14), Err(SendError::Full));
    assert_eq!(w.slowest(), Some((11, 4)));
    assert_eq!(b.try_recv(), Ok(10));
    w.try_send(14).unwrap();
    assert_eq!(w.try_send(15), Err(SendError::Full));
    // b leaves: only a gates.
    drop(b);
    for v in 15..18 {
        w.try_send(v).unwrap();
    }
    for v in 14..18 {
        assert_eq!(a.try_recv(), Ok(v));
    }
    assert_eq!(a.try_recv(), Err(RecvError::Empty));
}

#[test]
fn a_dead_subscriber_is_evicted_and_its_entry_reused() {
    let buf = ring_buf::<u32>(2);
    let ring = FanoutRing::<u32>::init(buf.region(), RingConfig::new(2)).unwrap();
    let mut w = ring.writer(Holder::fixed::<1>()).unwrap();
    let dead = ring.subscribe(Holder::fixed::<66>(), alive).unwrap();
    core::mem::forget(dead); // its process died
    w.try_send(1).unwrap();
    w.try_send(2).unwrap();
    assert_eq!(w.try_send(3), Err(SendError::Full));
    assert_eq!(w.evict(|h| h != 66), 1);
    w.try_send(3).unwrap();
    let subs: [u32; MAX_SUBSCRIBERS] = ring.subscriber_holders();
    assert!(subs.iter().all(|&h| h == 0));
    // The table fills up with live subscribers, then refuses; a dead
    // holder's entry is taken over by a newcomer.
    let all: Vec<_> = (0..MAX_SUBSCRIBERS as u32)
        .map(|i| {
            ring.subscribe(Holder::new(100 + i).unwrap(), alive)
                .unwrap()
        })
        .collect();
    assert!(matches!(
        ring.subscribe(Holder::fixed::<7>(), alive),
        Err(RoleError::Taken { .. })
    ));
    let s = ring.subscribe(Holder::fixed::<7>(), |h| h != 105).unwrap();
    assert_eq!(s.index(), 5);
    all.into_iter().for_each(core::mem::forget); // they died
}

#[test]
fn hostile_cursors_and_tails_never_break_bounds() {
    let buf = ring_buf::<u64>(8);
    let ring = FanoutRing::<u64>::init(buf.region(), RingConfig::new(8)).unwrap();
    let mut w = ring.writer(Holder::fixed::<1>()).unwrap();
    let mut s = ring.subscribe(Holder::fixed::<2>(), alive).unwrap();
    let word = |off: usize| {
        // SAFETY: a 4-aligned word of the control block; atomics only.
        unsafe { &*buf.ptr().add(off).cast::<AtomicU32>() }
    };
    for v in [0, 1, 7, 8, 9, u32::MAX, 0x8000_0000] {
        word(388).store(v, Ordering::Relaxed); // subscriber 0's cursor
        word(388 + 128).store(v, Ordering::Relaxed);
        word(384 + 128).store(3, Ordering::Relaxed); // a holder, junk cursor
        for i in 0..20 {
            let _ = w.try_send(i);
            let _ = s.try_recv();
            let _ = w.slowest();
        }
        word(128).store(v, Ordering::Relaxed); // the tail
        for _ in 0..20 {
            let _ = s.try_recv();
        }
    }
}

#[test]
#[cfg_attr(miri, ignore)] // long under Miri
fn threads_receive_exactly_once_in_order() {
    let buf = ring_buf::<u64>(64);
    let ring = FanoutRing::<u64>::init(buf.region(), RingConfig::new(64)).unwrap();
    let mut w = ring.writer(Holder::fixed::<1>()).unwrap();
    let n: u64 = 200_000;
    let b = Blocking::new(TestWait::default());
    std::thread::scope(|sc| {
        for i in 0..3 {
            let mut sub = ring.subscribe(Holder::new(10 + i).unwrap(), alive).unwrap();
            let b = &b;
            sc.spawn(move || {
                for v in 0..n {
                    assert_eq!(sub.recv(b, None), Ok(v));
                }
            });
        }
        for v in 0..n {
            w.send(v, &b, None).unwrap();
        }
    });
}

#[test]
fn slices_wrap_and_every_subscriber_gets_each_element_once() {
    let buf = ring_buf::<u32>(8);
    let ring = FanoutRing::<u32>::init(buf.region(), RingConfig::new(8)).unwrap();
    let mut w = ring.writer(Holder::fixed::<1>()).unwrap();
    let mut a = ring.subscribe(Holder::fixed::<10>(), alive).unwrap();
    let mut b = ring.subscribe(Holder::fixed::<11>(), alive).unwrap();
    let mut got_a = Vec::new();
    let mut got_b = Vec::new();
    let mut next = 0u32;
    let mut out = [0u32; 5];
    for round in 0..20 {
        let items: Vec<u32> = (next..next + 6).collect();
        let n = w.try_send_slice(&items).unwrap();
        next += n as u32;
        // a reads everything; b only a little every other round.
        let k = a.try_recv_slice(&mut out).unwrap();
        got_a.extend_from_slice(&out[..k]);
        let k = a.try_recv_slice(&mut out).unwrap();
        got_a.extend_from_slice(&out[..k]);
        if round % 2 == 0 {
            let k = b.try_recv_slice(&mut out[..3]).unwrap();
            got_b.extend_from_slice(&out[..k]);
        }
        // Never more than a lap ahead of the slowest.
        assert!(next - got_b.len() as u32 <= 8);
    }
    loop {
        let k = b.try_recv_slice(&mut out).unwrap();
        if k == 0 {
            break;
        }
        got_b.extend_from_slice(&out[..k]);
    }
    let k = a.try_recv_slice(&mut out).unwrap();
    got_a.extend_from_slice(&out[..k]);
    let want: Vec<u32> = (0..next).collect();
    assert_eq!(got_a, want);
    assert_eq!(got_b, want);
    assert!(next > 8, "the writer wrapped");
    // Full: the slice form sends nothing, and says so with 0.
    let lap: Vec<u32> = (0..9).collect();
    assert_eq!(w.try_send_slice(&lap), Ok(8));
    assert_eq!(w.try_send_slice(&lap), Ok(0));
    assert_eq!(w.slots(), 0);
    assert_eq!(a.try_recv_slice(&mut []), Ok(0));
}

#[test]
fn chunks_commit_and_release_and_peeked_elements_gate_the_writer() {
    let buf = ring_buf::<u64>(4);
    let ring = FanoutRing::<u64>::init(buf.region(), RingConfig::new(4)).unwrap();
    let mut w = ring.writer(Holder::fixed::<1>()).unwrap();
    let mut s = ring.subscribe(Holder::fixed::<2>(), alive).unwrap();
    // Start off the buffer's front so that chunks wrap.
    w.try_send(100).unwrap();
    assert_eq!(s.try_recv(), Ok(100));
    let mut c = w.reserve(3).unwrap();
    assert_eq!(c.len(), 3);
    c.set(0, 1);
    c.set(1, 2);
    c.set(2, 3);
    let _ = c; // abandoned: publishes nothing
    assert_eq!(s.slots(), Ok(0));
    let mut c = w.reserve(4).unwrap();
    {
        let (first, second) = c.as_mut_slices();
        assert_eq!((first.len(), second.len()), (3, 1));
        first.copy_from_slice(&[1, 2, 3]);
        second[0] = 4;
    }
    c.commit(3); // the fourth stays unpublished
    assert_eq!(
        w.reserve(2).unwrap_err(),
        ChunkError::TooFew { available: 1 }
    );
    assert_eq!(s.peek(4).unwrap_err(), ChunkError::TooFew { available: 3 });
    let p = s.peek(3).unwrap();
    assert_eq!((p.get(0), p.get(1), p.get(2)), (1, 2, 3));
    let (first, second) = p.as_slices();
    assert_eq!((first, second), (&[1, 2, 3][..], &[][..]));
    let _ = p; // abandoned: releases nothing, still a lap minus one behind
    let mut c = w.reserve(1).unwrap();
    c.set(0, 4);
    c.commit_all();
    // Peeked but unreleased elements hold the writer back.
    let p = s.peek(4).unwrap();
    assert_eq!(w.try_send(5), Err(SendError::Full));
    assert_eq!(w.slowest(), Some((2, 4)));
    p.release(2);
    assert_eq!(w.slots(), 2);
    w.try_send(5).unwrap();
    w.try_send(6).unwrap();
    let p = s.peek(4).unwrap();
    let (first, second) = p.as_slices();
    assert_eq!(
        first.iter().chain(second).copied().collect::<Vec<_>>(),
        [3, 4, 5, 6]
    );
    p.release_all();
    assert_eq!(s.try_recv(), Err(RecvError::Empty));
    assert_eq!(w.slots(), 4);
}

#[test]
fn a_send_that_times_out_names_the_subscriber_holding_it_back() {
    let buf = ring_buf::<u32>(2);
    let ring = FanoutRing::<u32>::init(buf.region(), RingConfig::new(2)).unwrap();
    let mut w = ring.writer(Holder::fixed::<1>()).unwrap();
    let b = Blocking::new(TestWait::default());
    let mut fast = ring.subscribe(Holder::fixed::<20>(), alive).unwrap();
    let slow = ring.subscribe(Holder::fixed::<21>(), alive).unwrap();
    assert_eq!(w.gating(), None);
    for v in 0..2 {
        w.send(v, &b, Some(Duration::ZERO)).unwrap();
        assert_eq!(fast.try_recv(), Ok(v));
    }
    let err = w.send(2, &b, Some(Duration::from_millis(1))).unwrap_err();
    assert_eq!(
        err,
        SendError::SlowSubscriber {
            holder: 21,
            index: slow.index() as u32
        }
    );
    assert_eq!(w.gating(), Some((21, 1)));
    assert!(err.to_string().contains("subscriber 1 (holder 21)"));
    // Once it leaves, nothing gates: the send goes through.
    drop(slow);
    assert_eq!(w.gating(), None);
    w.send(2, &b, Some(Duration::ZERO)).unwrap();
    assert_eq!(fast.try_recv(), Ok(2));
}

#[test]
fn status_reports_subscribers_and_their_lag() {
    let buf = ring_buf::<u64>(8);
    let ring = FanoutRing::<u64>::init(buf.region(), RingConfig::new(8)).unwrap();
    let mut w = ring.writer(Holder::fixed::<1>()).unwrap();
    let mut a = ring.subscribe(Holder::fixed::<30>(), alive).unwrap();
    let _b = ring.subscribe(Holder::fixed::<31>(), alive).unwrap();
    for v in 0..5 {
        w.try_send(v).unwrap();
    }
    a.try_recv().unwrap();
    let s = status(&buf.region()).unwrap();
    assert_eq!((s.writer, s.tail), (1, 5));
    let occupied: Vec<_> = s.occupied().map(|(i, e)| (i, e.holder, e.lag)).collect();
    assert_eq!(occupied, [(0, 30, Some(4)), (1, 31, Some(5))]);
    assert_eq!(s.max_lag(), 5);
    // A hostile cursor is reported without a lag, never trusted.
    // SAFETY: subscriber 1's cursor word; atomics only.
    unsafe { &*buf.ptr().add(388 + 128).cast::<AtomicU32>() }.store(99, Ordering::Relaxed);
    let s = status(&buf.region()).unwrap();
    assert_eq!(s.subscribers[1].lag, None);
    assert_eq!(s.max_lag(), 4);
}
