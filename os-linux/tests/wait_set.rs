//! One wait for many channels, across processes: a parent parks once on
//! the receiving ends of two SPSC channels, a byte channel and an MPMC
//! channel while four forked children send to them; with `futex_waitv`,
//! and with the sliced fallback a kernel before 5.16 gets.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use interlink_core::mpmc::RecvError;
use interlink_core::sync::AtomicU32;
use interlink_core::wait::wait_set::Source;
use interlink_core::{Blocking, RingConfig, Wait, WaitOutcome};
use interlink_linux::channel::{ByteChannel, ChannelOptions, MpmcChannel, SpscChannel};
use interlink_linux::process::{fork, Exit};
use interlink_linux::shm::TempName;
use interlink_linux::Futex;

const PATIENCE: Duration = Duration::from_secs(60);

/// Creates the four channels, forks one sender per channel (each sleeps a
/// little, then sends one message), and receives all four through
/// `wait_any` alone. Returns how many `wait_any` calls it took (at least
/// one per distinct wake-up; at most one per message plus spurious ones).
fn four_channels_one_wait() -> usize {
    let opts = ChannelOptions::new();
    let names: Vec<TempName> = (0..4)
        .map(|_| TempName::new("il-waitset").unwrap())
        .collect();
    let a = SpscChannel::<u64>::create(&names[0], RingConfig::new(8), &opts).unwrap();
    let b = SpscChannel::<u64>::create(&names[1], RingConfig::new(8), &opts).unwrap();
    let c = ByteChannel::create(&names[2], RingConfig::new(1024), &opts).unwrap();
    let d = MpmcChannel::<u64>::create(&names[3], RingConfig::new(8), &opts).unwrap();
    let (mut rxa, mut rxb, mut rxc) = (
        a.receiver().unwrap(),
        b.receiver().unwrap(),
        c.receiver().unwrap(),
    );
    let hd = d.handle().unwrap();
    let pause = |ms| std::thread::sleep(Duration::from_millis(ms));
    let children = [
        fork(|| {
            pause(40);
            a.sender()
                .map_or(2, |mut tx| i32::from(tx.send(10).is_err()))
        }),
        fork(|| {
            pause(10);
            b.sender()
                .map_or(2, |mut tx| i32::from(tx.send(20).is_err()))
        }),
        fork(|| {
            pause(30);
            c.sender()
                .map_or(2, |mut tx| i32::from(tx.send(30, b"thirty").is_err()))
        }),
        fork(|| {
            pause(20);
            i32::from(hd.send(40).is_err())
        }),
    ]
    .map(Result::unwrap);

    let blocking = Blocking::parking(Futex);
    let mut got = Vec::new();
    let mut waits = 0;
    while got.len() < 4 {
        let ready = {
            let sources: [&dyn Source; 4] = [&rxa, &rxb, &rxc, &hd.readable()];
            blocking.wait_any(&sources, Some(PATIENCE)).unwrap()
        };
        waits += 1;
        assert!(!ready.is_empty());
        for i in ready.iter() {
            match i {
                0 => got.push(rxa.try_recv().unwrap()),
                1 => got.push(rxb.try_recv().unwrap()),
                2 => {
                    let mut buf = [0u8; 16];
                    let (tag, len) = rxc.try_recv(&mut buf).unwrap();
                    assert_eq!(&buf[..len], b"thirty");
                    got.push(u64::from(tag));
                }
                // Ready while an element is claimed, even before its
                // sender wrote it: a sender preempted (or faulting in the
                // page) between its claim and its publish makes `try_recv`
                // report `Stalled`. The blocking `recv` waits that out.
                _ => got.push(match hd.try_recv() {
                    Err(RecvError::Stalled { .. }) => hd.recv_timeout(PATIENCE).unwrap(),
                    other => other.unwrap(),
                }),
            }
        }
    }
    got.sort_unstable();
    assert_eq!(got, [10, 20, 30, 40]);
    for child in children {
        assert_eq!(child.wait().unwrap(), Exit::Code(0));
    }
    waits
}

#[test]
fn one_wait_covers_channels_of_every_kind_with_futex_waitv() {
    let waits = four_channels_one_wait();
    assert!((1..=4 + 100).contains(&waits), "{waits} waits");
}

/// The same in a child process that uses the fallback of kernels without
/// `futex_waitv` (the switch is process-wide, so it stays in the child).
#[test]
fn one_wait_covers_channels_of_every_kind_with_the_sliced_fallback() {
    let child = fork(|| {
        interlink_linux::futex::use_sliced_wait_any();
        four_channels_one_wait();
        0
    })
    .unwrap();
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
}

/// Counts the sleeps a wait makes.
struct Counting {
    sleeps: AtomicUsize,
}

impl Wait for Counting {
    fn wait(&self, word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> WaitOutcome {
        self.sleeps.fetch_add(1, Ordering::Relaxed);
        Futex.wait(word, expected, timeout)
    }
    fn wake_one(&self, word: &AtomicU32) {
        Futex.wake_one(word)
    }
    fn wake_all(&self, word: &AtomicU32) {
        Futex.wake_all(word)
    }
    fn wait_any(
        &self,
        words: &[&AtomicU32],
        expected: &[u32],
        timeout: Option<Duration>,
    ) -> WaitOutcome {
        self.sleeps.fetch_add(1, Ordering::Relaxed);
        Futex.wait_any(words, expected, timeout)
    }
}

/// A source that is ready when the wait begins costs no sleep (and so no
/// syscall), even with a strategy that parks at once; the words of the
/// sources are not even announced on.
#[test]
fn a_ready_source_costs_no_sleep() {
    let opts = ChannelOptions::new();
    let (na, nb) = (
        TempName::new("il-ws").unwrap(),
        TempName::new("il-ws").unwrap(),
    );
    let a = SpscChannel::<u64>::create(&na, RingConfig::new(8), &opts).unwrap();
    let b = SpscChannel::<u64>::create(&nb, RingConfig::new(8), &opts).unwrap();
    let (rxa, mut rxb) = (a.receiver().unwrap(), b.receiver().unwrap());
    let mut txb = b.sender().unwrap();
    let blocking = Blocking::parking(Counting {
        sleeps: AtomicUsize::new(0),
    });
    for i in 0..1000u64 {
        txb.try_send(i).unwrap();
        let ready = blocking.wait_any(&[&rxa, &rxb], None).unwrap();
        assert_eq!(ready.iter().collect::<Vec<_>>(), [1]);
        assert_eq!(rxb.try_recv(), Ok(i));
    }
    assert_eq!(blocking.wait.sleeps.load(Ordering::Relaxed), 0);
    // Nothing ready: the timeout ends the wait, after sleeping.
    assert!(blocking
        .wait_any(&[&rxa, &rxb], Some(Duration::from_millis(5)))
        .is_err());
    assert!(blocking.wait.sleeps.load(Ordering::Relaxed) >= 1);
}

/// The shared futex's `wait_any` really sleeps (a malformed `futex_waitv`
/// would return at once, which the callers would take for a spurious
/// wake-up and spin on): it times out only after the timeout, and a wake
/// of the second word ends it early.
#[test]
fn futex_wait_any_sleeps_until_the_timeout_or_a_wake() {
    let words = [AtomicU32::new(4), AtomicU32::new(6)];
    let refs: [&AtomicU32; 2] = [&words[0], &words[1]];
    let t = Duration::from_millis(50);
    let start = std::time::Instant::now();
    assert_eq!(
        Futex.wait_any(&refs, &[4, 6], Some(t)),
        WaitOutcome::TimedOut
    );
    assert!(start.elapsed() >= t, "returned after {:?}", start.elapsed());
    // A word that does not hold its value ends the wait at once.
    assert_eq!(
        Futex.wait_any(&refs, &[4, 7], Some(PATIENCE)),
        WaitOutcome::Woken
    );
    std::thread::scope(|s| {
        let sleeper = s.spawn(|| Futex.wait_any(&refs, &[4, 6], Some(PATIENCE)));
        std::thread::sleep(Duration::from_millis(20));
        words[1].store(8, Ordering::SeqCst);
        Futex.wake_all(&words[1]);
        assert_eq!(sleeper.join().unwrap(), WaitOutcome::Woken);
    });
}
