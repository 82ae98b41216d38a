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
