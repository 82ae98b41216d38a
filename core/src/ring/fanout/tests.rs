use super::*;
use crate::foundation::holder::Holder;
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
