//! Signals read through signalfd, in forked children: signal masks are per
//! thread and the test harness runs tests on threads, so every test that
//! blocks signals does it in a single-threaded child.

mod common;

use std::time::Duration;

use common::Gate;
use interlink_core::{spsc::SpscRing, RecvError, RingConfig};
use interlink_linux::process::{self, fork, Exit};
use interlink_linux::shm::Mapping;
use interlink_linux::signal::{self, ShutdownSignal, SignalFd, SignalSet};

/// Real-time signals sent with `sigqueue` arrive through a signalfd with
/// their values, in order, none merged, naming the sender.
#[test]
fn rt_signal_value_arrives_through_signalfd() {
    let sig = signal::rt_signal(1).unwrap();
    let parent = process::current_pid();
    let mut ready = Gate::new();
    let child = fork(|| {
        let Ok(set) = SignalSet::of(&[sig]) else {
            return 2;
        };
        if set.block().is_err() {
            return 3;
        }
        let Ok(fd) = SignalFd::new(&set) else {
            return 4;
        };
        ready.open();
        for expected in [4242, -7, 0] {
            match fd.read_timeout(Some(Duration::from_secs(10))) {
                Ok(Some(info))
                    if info.signal == sig
                        && info.value == expected
                        && info.pid == parent
                        && info.code == libc::SI_QUEUE => {}
                _ => return 5,
            }
        }
        match fd.try_read() {
            Ok(None) => 0,
            _ => 6,
        }
    })
    .unwrap();
    assert!(ready.wait(), "child died before blocking the signal");
    for value in [4242, -7, 0] {
        signal::sigqueue(child.pid(), sig, value).unwrap();
    }
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
}

/// SIGTERM stops a ring consumer cleanly: it drains what was sent, sees
/// the request through `ShutdownSignal::is_requested`, and exits 0 instead
/// of dying by the signal.
#[test]
fn sigterm_shuts_a_ring_consumer_down_cleanly() {
    const COUNT: u64 = 1000;
    let map = Mapping::anonymous(SpscRing::<u64>::bytes_needed(1024).unwrap()).unwrap();
    let ring = SpscRing::<u64>::init(map.region(), RingConfig::new(1024)).unwrap();
    let mut ready = Gate::new();
    let child = fork(|| {
        let Ok(shutdown) = ShutdownSignal::install() else {
            return 2;
        };
        let Ok(mut rx) = ring.consumer(process::holder()) else {
            return 3;
        };
        ready.open();
        let mut sum = 0;
        loop {
            match rx.try_recv() {
                Ok(v) => sum += v,
                Err(RecvError::Empty) if shutdown.is_requested() => break,
                Err(RecvError::Empty) => std::thread::sleep(Duration::from_micros(100)),
                Err(_) => return 4,
            }
        }
        match (shutdown.signal(), sum == COUNT * (COUNT - 1) / 2) {
            (Some(libc::SIGTERM), true) => 0,
            _ => 5,
        }
    })
    .unwrap();
    assert!(ready.wait());
    let mut tx = ring.producer(process::holder()).unwrap();
    for v in 0..COUNT {
        tx.try_send(v).unwrap();
    }
    signal::kill(child.pid(), libc::SIGTERM).unwrap();
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
}

/// Without the signal blocked, SIGTERM kills as usual: the clean exit
/// above is the shim's doing.
#[test]
fn sigterm_without_shutdown_signal_kills() {
    let child = fork(|| loop {
        std::thread::sleep(Duration::from_millis(10));
    })
    .unwrap();
    signal::kill(child.pid(), libc::SIGTERM).unwrap();
    assert_eq!(child.wait().unwrap(), Exit::Signal(libc::SIGTERM));
}

/// Bad signal numbers and pids are typed errors.
#[test]
fn bad_signals_and_pids() {
    assert!(SignalSet::of(&[0]).unwrap_err().is(libc::EINVAL));
    assert!(SignalSet::of(&[libc::SIGRTMAX() + 1])
        .unwrap_err()
        .is(libc::EINVAL));
    assert!(signal::rt_signal(1000).unwrap_err().is(libc::EINVAL));
    assert!(signal::kill(0, libc::SIGTERM).unwrap_err().is(libc::EINVAL));
    assert!(signal::kill(u32::MAX, libc::SIGTERM)
        .unwrap_err()
        .is(libc::EINVAL));
    assert!(signal::sigqueue(0, libc::SIGUSR1, 1)
        .unwrap_err()
        .is(libc::EINVAL));
    let me = process::current_pid();
    assert!(signal::kill(me, 1000).unwrap_err().is(libc::EINVAL));
    let set = SignalSet::of(&[libc::SIGUSR1, libc::SIGUSR2]).unwrap();
    assert!(set.contains(libc::SIGUSR1) && !set.contains(libc::SIGTERM) && !set.contains(0));
    // A child that is gone: ESRCH (its pid is reaped and not yet reused).
    let child = fork(|| 0).unwrap();
    let pid = child.pid();
    child.wait().unwrap();
    if !interlink_linux::liveness::is_alive(pid) {
        assert!(signal::kill(pid, 0).unwrap_err().is(libc::ESRCH));
    }
}
