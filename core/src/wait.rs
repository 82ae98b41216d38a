//! Layer 1, waiting: how a thread waits for a 32-bit word in shared memory
//! to change, and ([`blocking`]) how a non-blocking operation becomes a
//! blocking one. Built on the foundation only; the sync types and the rings
//! build on it.
//!
//! Rings never block by themselves; blocking is a [`Wait`] strategy around
//! them. The core ships [`Spin`], which needs nothing from an OS,
//! `AtomicWait` (feature `atomic-wait`: the *private* futex, for threads
//! of one process), and under `cfg(loom)` a futex emulation for the models;
//! the Linux shim supplies the *shared* futex, which wakes waiters in other
//! processes too.
//!
//! # Time
//!
//! The core has no clock of its own. A [`Wait`] that can sleep with a
//! timeout also tells the time ([`Wait::now_ns`], monotonic), and the
//! primitives turn a caller's relative timeout into a [`Deadline`] on that
//! clock, so a timeout bounds the whole operation however many times it
//! sleeps and wakes. A `Wait` without a clock ([`Spin`]) makes a timed
//! operation give up after its first wait round instead.

use core::fmt;
use core::time::Duration;

use crate::foundation::atomics::{spin_loop, AtomicU32, Ordering};

pub mod blocking;
pub(crate) mod event_word;
pub use event_word::{Grace, GRACE};
pub mod wait_set;

/// What ended a [`Wait::wait`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitOutcome {
    /// The word no longer held the expected value, or a wake arrived (or
    /// the wait ended spuriously): re-check the condition.
    Woken,
    /// The timeout passed with the word unchanged.
    TimedOut,
}

/// A way to sleep while a word holds a value, and to wake sleepers.
///
/// Contract, as for a futex:
/// - `wait(word, expected, timeout)` returns at once if `*word != expected`;
///   otherwise it may block until a `wake_*` on the same word, the timeout,
///   or a spurious wake-up. Callers always re-check their condition.
/// - `wake_one`/`wake_all` wake sleepers on `word`. They must be called
///   *after* the store that changes the condition.
pub trait Wait {
    /// Blocks while `word` holds `expected`, for at most `timeout` (`None`:
    /// no limit other than the implementation's own).
    fn wait(&self, word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> WaitOutcome;
    /// Wakes at least one thread waiting on `word`, if any.
    fn wake_one(&self, word: &AtomicU32);
    /// Wakes every thread waiting on `word`.
    fn wake_all(&self, word: &AtomicU32);

    /// Monotonic time in nanoseconds since an arbitrary origin, or `None`
    /// when this implementation has no clock. Deadlines of timed
    /// operations are measured on it; the default has none.
    fn now_ns(&self) -> Option<u64> {
        None
    }

    /// Gives the CPU away briefly, between polls that spinning did not
    /// satisfy (`sched_yield` where there is an OS). The default is a CPU
    /// pause hint.
    fn yield_now(&self) {
        spin_loop();
    }

    /// Blocks while every `words[i]` holds `expected[i]`, for at most
    /// `timeout`: one sleep for several words (a [`wait_set`]). The slices
    /// have the same length, at most [`wait_set::MAX_SOURCES`].
    ///
    /// The default sleeps on the first word only, for at most
    /// [`wait_set::SLICE`] when there are more, so that the caller
    /// re-checks every source at least that often: correct for any
    /// `Wait`, with up to one slice of extra latency for a source other
    /// than the first. The Linux shared futex overrides it with
    /// `futex_waitv`, one sleep that any of the words ends.
    fn wait_any(
        &self,
        words: &[&AtomicU32],
        expected: &[u32],
        timeout: Option<Duration>,
    ) -> WaitOutcome {
        wait_set::wait_first_in_slices(self, words, expected, timeout)
    }
}

impl<W: Wait + ?Sized> Wait for &W {
    fn wait(&self, word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> WaitOutcome {
        (**self).wait(word, expected, timeout)
    }
    fn wake_one(&self, word: &AtomicU32) {
        (**self).wake_one(word)
    }
    fn wake_all(&self, word: &AtomicU32) {
        (**self).wake_all(word)
    }
    fn now_ns(&self) -> Option<u64> {
        (**self).now_ns()
    }
    fn yield_now(&self) {
        (**self).yield_now()
    }
    fn wait_any(
        &self,
        words: &[&AtomicU32],
        expected: &[u32],
        timeout: Option<Duration>,
    ) -> WaitOutcome {
        (**self).wait_any(words, expected, timeout)
    }
}

/// The end of a timed operation, on a [`Wait`]'s clock.
///
/// Built once from the caller's relative timeout; each time the operation
/// is about to sleep it asks [`Deadline::remaining`] how long it may. With
/// no clock ([`Wait::now_ns`] is `None`) a finite timeout allows exactly
/// one sleep of that length, after which the deadline reads as passed.
#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    /// `None`: no limit.
    timeout: Option<Duration>,
    /// The clock reading at which the timeout passes, if there is a clock.
    end_ns: Option<u64>,
    /// Clockless: whether the one allowed sleep was handed out.
    spent: bool,
}

impl Deadline {
    /// A deadline `timeout` from now (`None`: never).
    pub fn after(wait: &(impl Wait + ?Sized), timeout: Option<Duration>) -> Self {
        let end_ns = match timeout {
            Some(t) => wait.now_ns().map(|now| {
                let t = u64::try_from(t.as_nanos()).unwrap_or(u64::MAX);
                now.saturating_add(t)
            }),
            None => None,
        };
        Self {
            timeout,
            end_ns,
            spent: false,
        }
    }

    /// How long the caller may still sleep: `Ok(None)` without limit,
    /// `Ok(Some(d))` for at most `d` (nonzero), `Err(Expired)` once the
    /// deadline has passed.
    pub fn remaining(&mut self, wait: &(impl Wait + ?Sized)) -> Result<Option<Duration>, Expired> {
        let Some(timeout) = self.timeout else {
            return Ok(None);
        };
        match (self.end_ns, wait.now_ns()) {
            (Some(end), Some(now)) if now < end => Ok(Some(Duration::from_nanos(end - now))),
            (Some(_), _) => Err(Expired),
            (None, _) if !self.spent && !timeout.is_zero() => {
                self.spent = true;
                Ok(Some(timeout))
            }
            (None, _) => Err(Expired),
        }
    }
}

/// A [`Deadline`] has passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expired;

impl fmt::Display for Expired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out")
    }
}

/// How many compare-exchanges on a shared word one operation may lose
/// (each loss: the word changed between the load and the exchange, or the
/// weak exchange failed spuriously) before it gives up with its module's
/// `Contended` error ([`crate::mutex::LockError::Contended`],
/// [`crate::semaphore::AcquireError::Contended`],
/// [`crate::semaphore::PostError::Contended`]; the MPMC ring reports
/// `Stalled`, and a notification wakes every sleeper instead, see
/// [`crate::event`]).
///
/// Every loss means that someone else changed the word, which among honest
/// participants is progress by another operation: an operation on an
/// honest structure loses a few races at most. The budget bounds the loop
/// against a peer that rewrites the word for ever. Loops that *sleep*
/// between their tries are bounded by the caller's timeout instead (`None`
/// consents to waiting as long as a peer keeps the lock or the count,
/// which a hostile peer can always do).
pub const MAX_LOST_RACES: u32 = 1 << 16;

/// The compare-exchanges one operation has lost so far (see
/// [`MAX_LOST_RACES`]).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Races {
    lost: u32,
}

impl Races {
    /// Records a lost compare-exchange; `Err` once more than
    /// [`MAX_LOST_RACES`] were lost.
    #[inline]
    pub(crate) fn lose(&mut self) -> Result<(), Contended> {
        self.lost += 1;
        if self.lost > MAX_LOST_RACES {
            Err(Contended)
        } else {
            Ok(())
        }
    }
}

/// An operation lost [`MAX_LOST_RACES`] compare-exchanges on one shared
/// word: a peer keeps rewriting it. Internal; each module reports it with
/// its own error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Contended;

/// Why [`update`] changed nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Declined {
    /// `next` returned `None` for this value of the word.
    Refused(u32),
    /// The budget of `races` ran out (see [`MAX_LOST_RACES`]).
    Contended,
}

/// The one compare-exchange loop over a shared word: replaces the word's
/// value `v` with `next(v)` until an exchange succeeds (returns the value
/// replaced), `next` refuses the value it sees, or `races` has lost more
/// than [`MAX_LOST_RACES`] exchanges. `first` is the value expected at
/// first (a fresh load, or a guess that saves one). The successful
/// exchange uses `success`; failed ones load `Relaxed`.
///
/// `next` is called once per try with the value that try saw.
#[inline]
pub(crate) fn update(
    word: &AtomicU32,
    first: u32,
    races: &mut Races,
    success: Ordering,
    mut next: impl FnMut(u32) -> Option<u32>,
) -> Result<u32, Declined> {
    let mut current = first;
    loop {
        let Some(new) = next(current) else {
            return Err(Declined::Refused(current));
        };
        match word.compare_exchange_weak(current, new, success, Ordering::Relaxed) {
            Ok(old) => return Ok(old),
            Err(now) => {
                races.lose().map_err(|_| Declined::Contended)?;
                current = now;
            }
        }
    }
}

/// Busy-waits: polls the word up to `spins` times with a CPU pause hint.
///
/// Needs no OS, costs no syscall, and burns a core while it waits; wakes are
/// no-ops. It has no clock, so it returns `Woken` after `spins` polls even
/// when nothing changed: callers with a deadline check their own clock.
#[derive(Clone, Copy, Debug)]
pub struct Spin {
    /// Polls per call to [`Wait::wait`].
    pub spins: u32,
}

impl Default for Spin {
    fn default() -> Self {
        Self { spins: 1 << 10 }
    }
}

impl Wait for Spin {
    fn wait(&self, word: &AtomicU32, expected: u32, _timeout: Option<Duration>) -> WaitOutcome {
        for _ in 0..self.spins {
            if word.load(Ordering::Acquire) != expected {
                break;
            }
            spin_loop();
        }
        WaitOutcome::Woken
    }

    fn wake_one(&self, _word: &AtomicU32) {}

    fn wake_all(&self, _word: &AtomicU32) {}
}

/// The private futex of the `atomic-wait` crate: wakes threads of *this*
/// process only (on Linux it passes `FUTEX_PRIVATE_FLAG`, so the kernel
/// keys the word by address space and a wake from another process never
/// reaches it — use `interlink_linux::futex::Futex` across processes).
///
/// `atomic-wait` has no timed wait: an untimed wait sleeps in the kernel,
/// a timed one polls the word with sleeps that back off from 1 µs to
/// 1 ms, so it notices a change up to 1 ms late. Needs `std` for the clock
/// and the sleeps (feature `atomic-wait`).
#[cfg(all(feature = "atomic-wait", not(loom)))]
#[derive(Clone, Copy, Debug, Default)]
pub struct AtomicWait;

#[cfg(all(feature = "atomic-wait", not(loom)))]
impl Wait for AtomicWait {
    fn wait(&self, word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> WaitOutcome {
        let Some(timeout) = timeout else {
            atomic_wait::wait(word, expected);
            return WaitOutcome::Woken;
        };
        let start = std::time::Instant::now();
        let mut nap = Duration::from_micros(1);
        loop {
            if word.load(Ordering::Acquire) != expected {
                return WaitOutcome::Woken;
            }
            let Some(left) = timeout
                .checked_sub(start.elapsed())
                .filter(|d| !d.is_zero())
            else {
                return WaitOutcome::TimedOut;
            };
            std::thread::sleep(nap.min(left));
            nap = (nap * 2).min(Duration::from_millis(1));
        }
    }

    fn wake_one(&self, word: &AtomicU32) {
        atomic_wait::wake_one(word);
    }

    fn wake_all(&self, word: &AtomicU32) {
        atomic_wait::wake_all(word);
    }

    fn now_ns(&self) -> Option<u64> {
        static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        let origin = ORIGIN.get_or_init(std::time::Instant::now);
        Some(u64::try_from(origin.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }

    fn yield_now(&self) {
        std::thread::yield_now();
    }
}

/// A futex emulation for loom models: `wait` checks the word and goes to
/// sleep atomically (under one loom mutex, on one loom condvar), exactly
/// as the kernel does under its hash-bucket lock, so a wake that a
/// primitive forgets, or issues too early, leaves a thread asleep for ever
/// and loom reports the deadlock.
///
/// Simplifications, both allowed by the [`Wait`] contract: `wake_one`
/// wakes every sleeper (of any word), and a *timed* wait never sleeps — it
/// returns `TimedOut` if the word still holds `expected` — so models of
/// lost wake-ups use untimed waits. It has no clock.
#[cfg(loom)]
#[derive(Debug, Default)]
pub struct LoomWait {
    lock: loom::sync::Mutex<()>,
    sleepers: loom::sync::Condvar,
}

#[cfg(loom)]
impl LoomWait {
    /// A waiter with nobody asleep.
    pub fn new() -> Self {
        Self::default()
    }
}

#[cfg(loom)]
impl Wait for LoomWait {
    fn wait(&self, word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> WaitOutcome {
        let guard = self.lock.lock().unwrap();
        if word.load(Ordering::Relaxed) != expected {
            return WaitOutcome::Woken;
        }
        if timeout.is_some() {
            return WaitOutcome::TimedOut;
        }
        drop(self.sleepers.wait(guard).unwrap());
        WaitOutcome::Woken
    }

    fn wake_one(&self, word: &AtomicU32) {
        self.wake_all(word);
    }

    fn wake_all(&self, _word: &AtomicU32) {
        let _guard = self.lock.lock().unwrap();
        self.sleepers.notify_all();
    }

    fn yield_now(&self) {
        loom::thread::yield_now();
    }
}

/// For tests: a hostile peer on a thread that rewrites a shared word for
/// ever, and a watchdog that ends the test process if the operation under
/// test never returns (a hang must fail, not wait for the harness).
#[cfg(all(test, not(loom)))]
pub(crate) mod hostile {
    use std::sync::atomic::AtomicBool;
    use std::time::{Duration, Instant};

    use super::{AtomicU32, Ordering};

    /// How long an operation may take before the watchdog fails the test.
    const LIMIT: Duration = Duration::from_secs(120);

    /// Runs `op` on this thread while a peer thread stores `value(i)`
    /// (i = 0, 1, 2, ...) into `word` as fast as it can; returns what `op`
    /// returned. Aborts the process if `op` takes longer than two minutes.
    pub(crate) fn while_rewritten<R>(
        word: &AtomicU32,
        value: impl Fn(u32) -> u32 + Sync,
        op: impl FnOnce() -> R,
    ) -> R {
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut i = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    word.store(value(i), Ordering::Relaxed);
                    i = i.wrapping_add(1);
                }
            });
            let watchdog = s.spawn(|| {
                let start = Instant::now();
                while !stop.load(Ordering::Acquire) {
                    match LIMIT.checked_sub(start.elapsed()) {
                        Some(left) => std::thread::park_timeout(left),
                        None => {
                            eprintln!("an operation under a hostile peer did not return");
                            std::process::abort();
                        }
                    }
                }
            });
            let r = op();
            stop.store(true, Ordering::Release);
            watchdog.thread().unpark();
            r
        })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn spin_returns_when_word_differs_and_after_its_budget() {
        let word = AtomicU32::new(5);
        assert_eq!(Spin { spins: 3 }.wait(&word, 4, None), WaitOutcome::Woken);
        assert_eq!(Spin { spins: 3 }.wait(&word, 5, None), WaitOutcome::Woken);
        Spin::default().wake_one(&word);
        Spin::default().wake_all(&word);
        assert_eq!(word.load(Ordering::Relaxed), 5);
    }

    #[test]
    fn clockless_deadline_allows_one_sleep() {
        let spin = Spin { spins: 1 };
        let mut forever = Deadline::after(&spin, None);
        assert_eq!(forever.remaining(&spin), Ok(None));
        assert_eq!(forever.remaining(&spin), Ok(None));
        let mut once = Deadline::after(&spin, Some(Duration::from_millis(5)));
        assert_eq!(once.remaining(&spin), Ok(Some(Duration::from_millis(5))));
        assert_eq!(once.remaining(&spin), Err(Expired));
        let mut zero = Deadline::after(&spin, Some(Duration::ZERO));
        assert_eq!(zero.remaining(&spin), Err(Expired));
    }

    /// A clock that advances 1 ms per reading.
    struct Ticking(core::cell::Cell<u64>);
    impl Wait for Ticking {
        fn wait(&self, _: &AtomicU32, _: u32, _: Option<Duration>) -> WaitOutcome {
            WaitOutcome::TimedOut
        }
        fn wake_one(&self, _: &AtomicU32) {}
        fn wake_all(&self, _: &AtomicU32) {}
        fn now_ns(&self) -> Option<u64> {
            let t = self.0.get();
            self.0.set(t + 1_000_000);
            Some(t)
        }
    }

    /// A peer that rewrites the word between every load and exchange (here
    /// `next` itself, which runs in exactly that gap) ends the loop after
    /// the budget, with the word left as the peer wrote it.
    #[test]
    fn update_gives_up_after_the_budget() {
        let word = AtomicU32::new(0);
        let mut races = Races::default();
        let mut calls = 0u32;
        let r = update(&word, 0, &mut races, Ordering::Relaxed, |v| {
            calls += 1;
            word.store(v.wrapping_add(7), Ordering::Relaxed); // the peer
            Some(v.wrapping_add(1))
        });
        assert_eq!(r, Err(Declined::Contended));
        assert_eq!(calls, MAX_LOST_RACES + 1);
        // The budget is per operation: it stays spent.
        assert_eq!(races.lose(), Err(Contended));
        // Honest use: a wrong guess costs one race; a refusal ends at once.
        let word = AtomicU32::new(10);
        let mut races = Races::default();
        let r = update(&word, 3, &mut races, Ordering::Relaxed, |v| Some(v + 1));
        assert_eq!(r, Ok(10));
        assert_eq!(word.load(Ordering::Relaxed), 11);
        let r = update(&word, 11, &mut races, Ordering::Relaxed, |_| None);
        assert_eq!(r, Err(Declined::Refused(11)));
    }

    #[test]
    fn clocked_deadline_counts_down() {
        let clock = Ticking(core::cell::Cell::new(u64::MAX - 2_500_000));
        // Saturates instead of wrapping near the end of the clock's range.
        let mut d = Deadline::after(&clock, Some(Duration::from_secs(1)));
        assert!(d.remaining(&clock).is_ok());
        let clock = Ticking(core::cell::Cell::new(0));
        let mut d = Deadline::after(&clock, Some(Duration::from_micros(2500)));
        assert_eq!(d.remaining(&clock), Ok(Some(Duration::from_micros(1500))));
        assert_eq!(d.remaining(&clock), Ok(Some(Duration::from_micros(500))));
        assert_eq!(d.remaining(&clock), Err(Expired));
        // `&W` forwards everything.
        assert_eq!(Wait::now_ns(&&clock), Some(4_000_000));
    }
}
