use std::time::Duration;

use super::*;
use crate::test_util::{AlignedBuf, TestWait};

#[test]
fn counts_bounds_and_attach() {
    let b = AlignedBuf::new(Semaphore::BYTES);
    assert_eq!(
        Semaphore::init(b.region(), 3, 2).unwrap_err(),
        InitError::Capacity { capacity: 2 }
    );
    assert!(Semaphore::init(b.region(), 0, 0).is_err());
    let s = Semaphore::init(b.region(), 2, 3).unwrap();
    let other = Semaphore::attach(b.region()).unwrap();
    assert_eq!(other.max(), 3);
    let w = TestWait::default();
    assert_eq!(s.try_acquire(), Ok(()));
    assert_eq!(other.try_acquire(), Ok(()));
    assert_eq!(s.try_acquire(), Err(AcquireError::Empty));
    assert_eq!(s.count(), 0);
    for _ in 0..3 {
        s.post(&w).unwrap();
    }
    assert_eq!(s.post(&w), Err(PostError::Overflow { max: 3 }));
    assert_eq!(s.count(), 3);
    // Nobody slept: no wait or wake calls.
    assert_eq!(w.calls(), 0);
    for _ in 0..3 {
        s.acquire(&w, Some(Duration::ZERO)).unwrap();
    }
    let timed_out = Err(AcquireError::TimedOut);
    assert_eq!(s.acquire(&w, Some(Duration::from_millis(5))), timed_out);
    assert_eq!(s.acquire(&w, Some(Duration::ZERO)), timed_out);
    let c = AlignedBuf::new(crate::sync::condvar::Condvar::BYTES);
    crate::sync::condvar::Condvar::init(c.region()).unwrap();
    assert!(matches!(
        Semaphore::attach(c.region()),
        Err(AttachError::Kind { .. })
    ));
}

#[test]
fn every_post_is_acquired_once() {
    let n = if cfg!(miri) { 30 } else { 5000 };
    let b = AlignedBuf::new(Semaphore::BYTES);
    let s = Semaphore::init(b.region(), 0, 4).unwrap();
    let w = TestWait::default();
    std::thread::scope(|scope| {
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    let mut got = 0;
                    while s.acquire(&w, Some(Duration::from_millis(200))).is_ok() {
                        got += 1;
                    }
                    got
                })
            })
            .collect();
        let mut posted = 0;
        while posted < n {
            if s.post(&w).is_ok() {
                posted += 1;
            } else {
                std::thread::yield_now();
            }
        }
        let total: u32 = consumers.into_iter().map(|c| c.join().unwrap()).sum();
        assert_eq!(total, n);
    });
    assert_eq!(s.count(), 0);
}

/// Issue 13, hole 9: a peer that rewrites the count for ever cannot keep
/// `try_acquire`, `acquire` or `post` in a compare-exchange loop: each
/// returns, with a unit, a plain "no", or `Contended`.
#[test]
fn operations_end_while_a_peer_rewrites_the_count() {
    let b = AlignedBuf::new(Semaphore::BYTES);
    let s = Semaphore::init(b.region(), 1, 4).unwrap();
    let w = TestWait::default();
    let rounds = if cfg!(miri) { 10 } else { 5_000 };
    let patterns: [fn(u32) -> u32; 3] = [|i| i, |i| i % 3, |i| u32::MAX - (i & 1)];
    for pattern in patterns {
        crate::wait::hostile::while_rewritten(s.word(COUNT), pattern, || {
            for _ in 0..rounds {
                assert!(matches!(
                    s.try_acquire(),
                    Ok(()) | Err(AcquireError::Empty | AcquireError::Contended)
                ));
                assert!(matches!(
                    s.post(&w),
                    Ok(()) | Err(PostError::Overflow { max: 4 } | PostError::Contended)
                ));
                assert!(matches!(
                    s.acquire(&w, Some(Duration::from_micros(100))),
                    Ok(()) | Err(AcquireError::TimedOut | AcquireError::Contended)
                ));
            }
        });
    }
    assert_eq!(
        AcquireError::Contended.to_string(),
        "semaphore count rewritten under 65536 compare-exchanges of one call"
    );
}

/// Hole 1's class: the maximum is read once, at attach, and checked (a
/// zero is refused); a count or sleeper word a peer sets out of range
/// gives typed results, never a panic (no arithmetic on it can overflow).
#[test]
fn hostile_words_give_typed_results() {
    let b = AlignedBuf::new(Semaphore::BYTES);
    let s = Semaphore::init(b.region(), 0, 3).unwrap();
    let w = TestWait::default();
    let poke = |offset: usize, value: u32| {
        // SAFETY: inside the buffer, aligned to 4.
        unsafe { b.ptr().add(offset).cast::<u32>().write(value) }
    };
    poke(32, 0); // the maximum
    assert_eq!(
        Semaphore::attach(b.region()).unwrap_err(),
        AttachError::Corrupt {
            field: "capacity",
            value: 0
        }
    );
    poke(32, u32::MAX);
    assert_eq!(Semaphore::attach(b.region()).unwrap().max(), u32::MAX);
    poke(32, 3);
    // A count above the maximum: units can be taken, none added.
    poke(64, u32::MAX);
    assert_eq!(s.post(&w), Err(PostError::Overflow { max: 3 }));
    assert_eq!(s.try_acquire(), Ok(()));
    assert_eq!(s.count(), u32::MAX - 1);
    poke(64, 0);
    // Sleeper counts at the ends of the range wrap, as atomics do.
    for sleepers in [u32::MAX, 0] {
        poke(68, sleepers);
        s.post(&w).unwrap();
        assert_eq!(s.acquire(&w, Some(Duration::from_millis(1))), Ok(()));
        assert_eq!(
            s.acquire(&w, Some(Duration::from_millis(1))),
            Err(AcquireError::TimedOut)
        );
    }
}
