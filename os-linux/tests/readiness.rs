//! A channel end's readiness as a descriptor in an `epoll` set, with the
//! sender in another process: the receiver sleeps in `epoll_wait` and wakes
//! for the sender's messages; and a stream with the receiver awake makes
//! the sender no syscall beyond one wake per time the receiver armed.

mod common;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::Words;
use interlink_core::{RecvError, RingConfig, SendError};
use interlink_linux::channel::{ChannelOptions, SpscChannel};
use interlink_linux::process::{fork, Exit};
use interlink_linux::readiness::Readiness;
use interlink_linux::shm::TempName;

/// An epoll set watching one descriptor for input.
struct Epoll(OwnedFd);

impl Epoll {
    fn watching(fd: &impl AsRawFd) -> Self {
        // SAFETY: epoll_create1 has no pointer arguments.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        assert!(ep >= 0, "epoll_create1");
        // SAFETY: a fresh descriptor nothing else owns.
        let ep = unsafe { OwnedFd::from_raw_fd(ep) };
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: 7,
        };
        // SAFETY: both descriptors are open; `ev` is a valid event.
        let r = unsafe {
            libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, fd.as_raw_fd(), &mut ev)
        };
        assert_eq!(r, 0, "epoll_ctl");
        Self(ep)
    }

    /// Waits up to `timeout`; how many descriptors are ready.
    fn wait(&self, timeout: Duration) -> usize {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 4];
        loop {
            // SAFETY: `events` has room for the 4 events asked for.
            let n = unsafe {
                libc::epoll_wait(
                    self.0.as_raw_fd(),
                    events.as_mut_ptr(),
                    4,
                    timeout.as_millis() as i32,
                )
            };
            if n >= 0 {
                return n as usize;
            }
            assert_eq!(
                std::io::Error::last_os_error().raw_os_error(),
                Some(libc::EINTR)
            );
        }
    }
}

/// The receiver sleeps in `epoll_wait` on its readiness descriptor; a
/// forked sender sends three values with pauses; every one arrives, and
/// every `epoll_wait` that was not skipped by `arm` ends readable, not by
/// its 60 s timeout.
#[test]
fn a_receiver_sleeping_in_epoll_wakes_for_each_message() {
    let name = TempName::new("il-ready").unwrap();
    let ch = SpscChannel::<u64>::create(&name, RingConfig::new(8), &ChannelOptions::new()).unwrap();
    let mut rx = ch.receiver().unwrap();
    let readiness: Readiness = ch.readiness(&rx).unwrap();
    let epoll = Epoll::watching(&readiness);
    let child = fork(|| {
        let Ok(mut tx) = ch.sender() else { return 2 };
        for v in [11, 22, 33] {
            std::thread::sleep(Duration::from_millis(15));
            if tx.send(v).is_err() {
                return 3;
            }
        }
        0
    })
    .unwrap();
    let mut got = Vec::new();
    while got.len() < 3 {
        match rx.try_recv() {
            Ok(v) => got.push(v),
            Err(RecvError::Empty) => {
                if !readiness.arm(&rx) {
                    assert_eq!(epoll.wait(Duration::from_secs(60)), 1, "timed out");
                    readiness.clear();
                }
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(got, [11, 22, 33]);
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
}

/// A forked sender streams 200 000 values, notifying with a counted futex;
/// the receiver polls a while before it arms and sleeps in `epoll_wait`.
/// The sender can only make a wake syscall after the receiver announced
/// itself, so wakes ≤ arms, whatever the schedule.
#[test]
fn a_stream_with_the_receiver_awake_costs_the_sender_no_syscall() {
    const COUNT: u64 = 200_000;
    let name = TempName::new("il-ready").unwrap();
    let ch =
        SpscChannel::<u64>::create(&name, RingConfig::new(256), &ChannelOptions::new()).unwrap();
    let words = Words::new(2);
    let mut rx = ch.receiver().unwrap();
    let readiness = ch.readiness(&rx).unwrap();
    let epoll = Epoll::watching(&readiness);
    let child = fork(|| {
        let Ok(mut tx) = ch.sender() else { return 2 };
        let counted = words.counted(0);
        let p = tx.producer();
        let mut next = 0;
        while next < COUNT {
            match p.try_send(next) {
                Ok(()) => {
                    next += 1;
                    p.wake_consumer(&counted);
                }
                Err(SendError::Full) => std::hint::spin_loop(),
                Err(_) => return 3,
            }
        }
        0
    })
    .unwrap();
    let (mut expected, mut arms, mut idle) = (0, 0u32, 0u32);
    while expected < COUNT {
        match rx.consumer().try_recv() {
            Ok(v) => {
                assert_eq!(v, expected);
                expected += 1;
                idle = 0;
            }
            Err(RecvError::Empty) if idle < 10_000 => {
                idle += 1;
                std::hint::spin_loop();
            }
            Err(RecvError::Empty) => {
                idle = 0;
                if !readiness.arm(&rx) {
                    arms += 1;
                    assert_eq!(epoll.wait(Duration::from_secs(60)), 1, "timed out");
                    readiness.clear();
                }
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
    let wakes = words.get(1).load(Ordering::Relaxed);
    println!("{COUNT} values, {arms} arms, {wakes} wake syscalls by the sender");
    assert!(wakes <= arms, "{wakes} wakes for {arms} arms");
}

/// An end of another channel cannot lend this channel its readiness.
#[test]
fn readiness_for_a_foreign_end_is_refused() {
    let (a, b) = (
        TempName::new("il-ready").unwrap(),
        TempName::new("il-ready").unwrap(),
    );
    let opts = ChannelOptions::new();
    let one = SpscChannel::<u64>::create(&a, RingConfig::new(8), &opts).unwrap();
    let two = SpscChannel::<u64>::create(&b, RingConfig::new(8), &opts).unwrap();
    let rx = two.receiver().unwrap();
    assert!(one.readiness(&rx).is_err());
}
