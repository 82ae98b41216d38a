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
    let c = AlignedBuf::new(crate::condvar::Condvar::BYTES);
    crate::condvar::Condvar::init(c.region()).unwrap();
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
