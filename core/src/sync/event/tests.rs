use crate::wait::event_word::WAITING;
use std::time::Duration;

use super::*;
use crate::test_util::{AlignedBuf, TestWait};

#[test]
fn notify_without_sleepers_is_free() {
    let b = AlignedBuf::new(Event::BYTES);
    let e = Event::init(b.region()).unwrap();
    let w = TestWait::default();
    for _ in 0..10 {
        assert!(!e.notify(&w));
    }
    assert_eq!(w.calls(), 0);
    // An announced sleeper makes the next notify wake, once.
    let key = e.prepare();
    assert!(e.notify(&w));
    assert!(!e.notify(&w));
    // The epoch moved, so a wait on the old key returns at once.
    assert_eq!(e.wait(key, &w, None), WaitOutcome::Woken);
    assert!(Event::attach(b.region()).is_ok());
}

#[test]
fn wait_until_times_out_and_wakes() {
    let b = AlignedBuf::new(Event::BYTES);
    let e = Event::init(b.region()).unwrap();
    let w = TestWait::default();
    assert_eq!(
        e.wait_until(&w, Some(Duration::from_millis(5)), || None::<()>),
        Err(crate::wait::Expired)
    );
    let flag = std::sync::atomic::AtomicU32::new(0);
    std::thread::scope(|s| {
        let sleeper = s.spawn(|| {
            e.wait_until(&w, None, || {
                let v = flag.load(std::sync::atomic::Ordering::Acquire);
                (v != 0).then_some(v)
            })
        });
        std::thread::sleep(Duration::from_millis(if cfg!(miri) { 1 } else { 20 }));
        flag.store(7, std::sync::atomic::Ordering::Release);
        e.notify(&w);
        assert_eq!(sleeper.join().unwrap(), Ok(7));
    });
}

/// Issue 13, hole 9: a peer that rewrites the event word for ever (a new
/// epoch with `WAITING` set each time, or `WAITING` toggled) cannot keep
/// `notify` in its compare-exchange loop: every call returns.
#[test]
fn notify_returns_while_a_peer_rewrites_the_word() {
    let b = AlignedBuf::new(Event::BYTES);
    let e = Event::init(b.region()).unwrap();
    let w = TestWait::default();
    let rounds = if cfg!(miri) { 20 } else { 20_000 };
    let patterns: [fn(u32) -> u32; 3] = [|i| i << 1 | WAITING, |i| i & WAITING, |i| !i];
    for pattern in patterns {
        crate::wait::hostile::while_rewritten(e.word(), pattern, || {
            for _ in 0..rounds {
                e.notify(&w);
                let key = e.prepare();
                let _ = e.wait(key, &w, Some(Duration::from_micros(1)));
            }
        });
    }
}

/// Hole 1's class: nothing in the event word addresses memory; any value
/// a peer writes only changes who is woken.
#[test]
fn any_word_value_is_only_an_epoch() {
    let b = AlignedBuf::new(Event::BYTES);
    let e = Event::init(b.region()).unwrap();
    let w = TestWait::default();
    for v in [0, 1, u32::MAX, u32::MAX - 1, 1 << 31, (1 << 31) + 1] {
        e.word()
            .store(v, crate::foundation::atomics::Ordering::Relaxed);
        assert_eq!(e.notify(&w), v & WAITING != 0);
        let key = e.prepare();
        assert_eq!(
            e.wait(key, &w, Some(Duration::from_micros(1))),
            WaitOutcome::TimedOut
        );
    }
}
