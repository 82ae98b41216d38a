//! The futex between real processes: the shared one wakes a sleeper in
//! another process through a `MAP_SHARED` mapping; the private one (and
//! `atomic-wait`, which uses it) does not.

use std::time::{Duration, Instant};

use interlink_core::sync::{AtomicU32, Ordering};
use interlink_core::wait::AtomicWait;
use interlink_core::{Wait, WaitOutcome};
use interlink_linux::futex::{Futex, PrivateFutex};
use interlink_linux::process::{fork, Child, Exit};
use interlink_linux::shm::Mapping;

/// The first word of a shared mapping.
fn word(map: &Mapping) -> &AtomicU32 {
    // SAFETY: the mapping is page-aligned, at least 4 bytes, lives as long
    // as the borrow, and is only accessed atomically.
    unsafe { &*map.as_ptr().cast::<AtomicU32>() }
}

/// Waits (bounded) until `child` is asleep in the kernel (state `S`).
fn until_asleep(child: &Child) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.pid())).unwrap();
        let state = stat.rsplit(')').next().unwrap().split_whitespace().next();
        if state == Some("S") {
            return;
        }
        assert!(Instant::now() < deadline, "child never went to sleep");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Exit codes of the waiting children.
const WOKEN: i32 = 0;
const TIMED_OUT: i32 = 1;

/// A child that sleeps on the word with `wait` until it changes or
/// `patience` passes, and reports which.
fn sleeper(map: &Mapping, wait: impl Wait, patience: Duration) -> Child {
    fork(|| {
        let w = word(map);
        let deadline = Instant::now() + patience;
        while w.load(Ordering::Acquire) == 0 {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return TIMED_OUT;
            };
            if wait.wait(w, 0, Some(left)) == WaitOutcome::TimedOut {
                return TIMED_OUT;
            }
        }
        WOKEN
    })
    .unwrap()
}

#[test]
fn shared_futex_wakes_a_sleeper_in_another_process() {
    let map = Mapping::anonymous(4096).unwrap();
    // Patience to spare for a busy machine: woken, it returns at once.
    let child = sleeper(&map, Futex, Duration::from_secs(60));
    until_asleep(&child);
    let start = Instant::now();
    word(&map).store(1, Ordering::Release);
    Futex.wake_all(word(&map));
    assert_eq!(child.wait().unwrap(), Exit::Code(WOKEN));
    assert!(start.elapsed() < Duration::from_secs(20));
}

/// The trap DESIGN.md warns about: a private futex is keyed by address
/// space, so the wake never reaches the other process and the sleeper
/// sleeps out its full timeout although the word changed.
#[test]
fn private_futex_does_not_wake_another_process() {
    let map = Mapping::anonymous(4096).unwrap();
    let child = sleeper(&map, PrivateFutex, Duration::from_secs(2));
    until_asleep(&child);
    word(&map).store(1, Ordering::Release);
    PrivateFutex.wake_all(word(&map));
    assert_eq!(child.wait().unwrap(), Exit::Code(TIMED_OUT));
}

/// `atomic-wait` (the core's `AtomicWait`) uses the private futex too: its
/// untimed wait in another process is never woken. The child is killed
/// after it has slept through the wake.
#[test]
fn atomic_wait_does_not_wake_another_process() {
    let map = Mapping::anonymous(4096).unwrap();
    let mut child = fork(|| {
        AtomicWait.wait(word(&map), 0, None);
        WOKEN
    })
    .unwrap();
    until_asleep(&child);
    word(&map).store(1, Ordering::Release);
    AtomicWait.wake_all(word(&map));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        child.try_wait().unwrap(),
        None,
        "a private wake crossed processes"
    );
    child.signal(libc::SIGKILL).unwrap();
    assert_eq!(child.wait().unwrap(), Exit::Signal(libc::SIGKILL));
}

extern "C" fn ignore(_: libc::c_int) {}

/// A signal handler interrupting the sleep (`EINTR`) ends the wait as a
/// spurious wake-up, not an error.
#[test]
fn a_signal_interrupts_the_wait_as_a_spurious_wake() {
    let map = Mapping::anonymous(4096).unwrap();
    let child = fork(|| {
        // SAFETY: installs a handler that does nothing, without SA_RESTART,
        // so the futex wait fails with EINTR.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = ignore as *const () as usize;
            libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut());
        }
        word(&map).store(1, Ordering::Release);
        match Futex.wait(word(&map), 1, Some(Duration::from_secs(60))) {
            WaitOutcome::Woken => WOKEN,
            WaitOutcome::TimedOut => TIMED_OUT,
        }
    })
    .unwrap();
    while word(&map).load(Ordering::Acquire) == 0 {
        std::thread::yield_now();
    }
    until_asleep(&child);
    let start = Instant::now();
    child.signal(libc::SIGUSR1).unwrap();
    assert_eq!(child.wait().unwrap(), Exit::Code(WOKEN));
    assert!(start.elapsed() < Duration::from_secs(20));
}
