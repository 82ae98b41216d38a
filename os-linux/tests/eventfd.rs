//! eventfd counters shared with a forked child.

use std::time::Duration;

use interlink_linux::eventfd::{EventFd, Mode, MAX};
use interlink_linux::process::{fork, Exit};

/// Counter mode: the child's additions arrive, summed; semaphore mode
/// hands them out one at a time.
#[test]
fn counter_and_semaphore_modes_across_fork() {
    let counter = EventFd::new(0, Mode::Counter).unwrap();
    let child = fork(|| {
        for n in [1, 2, 3] {
            if counter.write(n).is_err() {
                return 2;
            }
        }
        0
    })
    .unwrap();
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
    assert_eq!(counter.read().unwrap(), 6); // whole count, reset
    assert_eq!(counter.try_read().unwrap(), None);

    let sem = EventFd::new(3, Mode::Semaphore).unwrap();
    for _ in 0..3 {
        assert_eq!(sem.read().unwrap(), 1);
    }
    assert_eq!(sem.try_read().unwrap(), None);
}

/// Two eventfds make a ping-pong; a blocked reader in the child wakes on
/// each write from the parent.
#[test]
fn ping_pong_between_processes() {
    let ping = EventFd::new(0, Mode::Counter).unwrap();
    let pong = EventFd::new(0, Mode::Counter).unwrap();
    let child = fork(|| {
        for i in 1..=200u64 {
            match ping.read() {
                Ok(v) if v == i => {}
                _ => return 2,
            }
            if pong.write(i).is_err() {
                return 3;
            }
        }
        0
    })
    .unwrap();
    for i in 1..=200u64 {
        ping.write(i).unwrap();
        assert_eq!(pong.read().unwrap(), i);
    }
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
}

/// A write past the maximum is refused (too large) or not done (full);
/// a full counter makes a blocking writer wait for a reader.
#[test]
fn overflow_is_an_error_or_a_wait() {
    let e = EventFd::new(0, Mode::Counter).unwrap();
    assert!(e.write(u64::MAX).unwrap_err().is(libc::EINVAL));
    assert!(e.try_write(MAX).unwrap());
    assert!(!e.try_write(1).unwrap());
    let child = fork(|| {
        std::thread::sleep(Duration::from_millis(20));
        match e.read() {
            Ok(MAX) => 0,
            _ => 2,
        }
    })
    .unwrap();
    e.write(1).unwrap(); // waits until the child drains the counter
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
    assert_eq!(e.read().unwrap(), 1);
}
