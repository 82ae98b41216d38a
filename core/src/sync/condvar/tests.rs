use std::time::Duration;

use super::*;
use crate::sync::mutex::{Immortal, Mutex};
use crate::test_util::{AlignedBuf, TestWait};
use crate::Holder;

#[test]
fn attach_and_timeout() {
    let b = AlignedBuf::new(Condvar::BYTES);
    let cv = Condvar::init(b.region()).unwrap();
    Condvar::attach(b.region()).unwrap();
    let mb = AlignedBuf::new(Mutex::<u32>::bytes_needed());
    let m = Mutex::init(mb.region(), 0u32).unwrap();
    let w = TestWait::default();
    let me = Immortal(Holder::fixed::<1>());
    let g = m.lock(&w, &me, None).unwrap();
    let (g, outcome) = cv.wait(g, Some(Duration::from_millis(5))).unwrap();
    assert_eq!(outcome, WaitOutcome::TimedOut);
    drop(g);
    // No sleeper: notifying makes no wake call.
    let before = w.wakes.load(std::sync::atomic::Ordering::Relaxed);
    cv.notify_one(&w);
    cv.notify_all(&w);
    assert_eq!(w.wakes.load(std::sync::atomic::Ordering::Relaxed), before);
}

/// A ping-pong of turns: each thread waits for its turn under the mutex,
/// takes it, and hands it to the other.
#[test]
fn turns_alternate_between_threads() {
    let rounds = if cfg!(miri) { 10 } else { 1000 };
    let mb = AlignedBuf::new(Mutex::<u32>::bytes_needed());
    let m = Mutex::init(mb.region(), 0u32).unwrap();
    let b = AlignedBuf::new(Condvar::BYTES);
    let cv = Condvar::init(b.region()).unwrap();
    let w = TestWait::default();
    std::thread::scope(|s| {
        for me in 0..2u32 {
            let (m, cv, w) = (&m, &cv, &w);
            s.spawn(move || {
                let id = Immortal(Holder::new(me + 1).unwrap());
                for _ in 0..rounds {
                    let mut g = m.lock(w, &id, None).unwrap();
                    while g.get() % 2 != me {
                        g = cv.wait(g, None).unwrap().0;
                    }
                    g.update(|turn| *turn += 1);
                    drop(g);
                    cv.notify_all(w);
                }
            });
        }
    });
    assert_eq!(
        m.lock(&w, &Immortal(Holder::fixed::<9>()), None)
            .unwrap()
            .get(),
        2 * rounds
    );
}

/// Issue 13, holes 1 and 9: the condvar's words are a sequence and a
/// sleeper count, bumped with single atomic adds (no retry loop) and never
/// used to address memory. A peer rewriting the sequence for ever, or
/// junk in either word, only makes waits end early or notifies wake.
#[test]
fn hostile_words_only_wake() {
    let mb = AlignedBuf::new(Mutex::<u32>::bytes_needed());
    let m = Mutex::init(mb.region(), 0u32).unwrap();
    let b = AlignedBuf::new(Condvar::BYTES);
    let cv = Condvar::init(b.region()).unwrap();
    let w = TestWait::default();
    let me = Immortal(Holder::fixed::<1>());
    let rounds = if cfg!(miri) { 5 } else { 1_000 };
    crate::wait::hostile::while_rewritten(
        cv.word(SEQ),
        |i| i,
        || {
            for _ in 0..rounds {
                let g = m.lock(&w, &me, None).unwrap();
                let (g, _) = cv.wait(g, Some(Duration::from_micros(100))).unwrap();
                drop(g);
                cv.notify_all(&w);
            }
        },
    );
    for v in [u32::MAX, 1 << 31, 0] {
        cv.word(SLEEPERS)
            .store(v, crate::foundation::atomics::Ordering::Relaxed);
        cv.word(SEQ)
            .store(v, crate::foundation::atomics::Ordering::Relaxed);
        cv.notify_one(&w);
        let g = m.lock(&w, &me, None).unwrap();
        let (g, outcome) = cv.wait(g, Some(Duration::from_millis(1))).unwrap();
        assert_eq!(outcome, WaitOutcome::TimedOut);
        drop(g);
    }
}
