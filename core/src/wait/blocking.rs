//! Blocking around non-blocking operations: spin, then yield, then park on
//! an event word until the peer notifies it.
//!
//! Every ring's `try_*` operation either succeeds or says "not now"
//! (full / empty). [`Blocking::run`] turns such an attempt into a blocking
//! one with a timeout, and [`Blocking::notify`] is what the other side
//! calls after each success so that a parked peer wakes up. The event word
//! follows the event-word protocol (`wait::event_word`, which
//! [`Event`](crate::sync::event::Event) uses too), so the side that
//! succeeds pays one load — no fence, no read-modify-write, no syscall —
//! unless its peer is actually asleep. The sleeper pays for that instead:
//! its first sleep after announcing itself lasts at most
//! [`GRACE`](crate::wait::GRACE), then it re-checks once more.
//!
//! A new structure gets blocking operations by giving each waiting side an
//! event word in its shared layout and wrapping its `try_*` operations:
//!
//! ```text
//! fn send(&mut self, v: T, b: &Blocking<W>, timeout) -> Result<(), SendError> {
//!     b.run(not_full_word, timeout, || match self.try_send(v) { Ok(()) => Ok(Some(())), Full => Ok(None), Corrupt => Err(..) })?;
//!     b.notify(not_empty_word);
//!     Ok(())
//! }
//! ```

use core::time::Duration;

use crate::foundation::atomics::{spin_loop, AtomicU32};
use crate::wait::event_word::{self, Grace};
use crate::wait::{Deadline, Expired, Wait};

/// A phase length for [`Blocking::spins`] or [`Blocking::yields`] that
/// never ends: the strategy never parks, and reads the deadline (the
/// [`Wait`]'s clock) between polls instead — every 1024 spins, every yield.
pub const FOREVER: u32 = u32::MAX;

/// The most event words [`Blocking::run_any`] parks on (`futex_waitv`'s
/// limit; a wait set's [`MAX_SOURCES`](crate::wait::wait_set::MAX_SOURCES)).
pub const MAX_WORDS: usize = 128;

// Every word of a parked wait fits the grace books.
const _: () = assert!(MAX_WORDS <= event_word::MAX_GRACED);

/// Spins between two deadline checks in an endless spin phase.
const SPIN_CHECK: u32 = 1 << 10;

/// A wait strategy: poll `spins` times with a CPU pause, then `yields`
/// times giving the CPU away, then park on the event word (a futex wait
/// with the [`Wait`]) until notified or the timeout passes.
#[derive(Clone, Copy, Debug)]
pub struct Blocking<W> {
    /// How to park, wake and tell the time.
    pub wait: W,
    /// Polls with a pause hint before yielding ([`FOREVER`]: never stop).
    pub spins: u32,
    /// Polls with [`Wait::yield_now`] before parking ([`FOREVER`]: never
    /// park).
    pub yields: u32,
}

impl<W: Wait> Blocking<W> {
    /// The default strategy: 128 spins (a few microseconds: the peer is
    /// likely mid-operation on another core), 8 yields, then park.
    pub const fn new(wait: W) -> Self {
        Self {
            wait,
            spins: 128,
            yields: 8,
        }
    }

    /// Parks at once, without spinning or yielding.
    pub const fn parking(wait: W) -> Self {
        Self {
            wait,
            spins: 0,
            yields: 0,
        }
    }

    /// Never parks: 1024 spins, then yields the CPU between polls for ever
    /// ([`FOREVER`]), reading the clock between yields for the timeout.
    /// This side never announces itself, so its peer's notifications stay
    /// one load without a fence; the price is a core kept busy while waiting
    /// (yielding lets other runnable threads have it). Without a clock
    /// (`now_ns` is `None`) a timed wait gives up at its second check.
    pub const fn spinning(wait: W) -> Self {
        Self {
            wait,
            spins: 1 << 10,
            yields: FOREVER,
        }
    }

    /// Calls `attempt` until it returns `Ok(Some(r))` (then returns `r`) or
    /// an error (returned as is), waiting between calls; gives up with
    /// `E::from(Expired)` when `timeout` has passed. `word` is the event
    /// word this side parks on: whoever makes `attempt` succeed must
    /// [`Blocking::notify`] it afterwards.
    ///
    /// The first attempt is made before the clock is read, so an operation
    /// that need not wait costs nothing more than the attempt. A strategy
    /// with an endless phase ([`FOREVER`]) never parks; it checks the
    /// deadline between polls instead.
    ///
    /// When an attempt made after announcing the sleeper succeeds, the
    /// word's `WAITING` bit stays set (other sleepers may share the word),
    /// so the peer's next notification makes one unneeded wake syscall.
    #[inline]
    pub fn run<R, E: From<Expired>>(
        &self,
        word: &AtomicU32,
        timeout: Option<Duration>,
        attempt: impl FnMut() -> Result<Option<R>, E>,
    ) -> Result<R, E> {
        self.run_any(&[word], timeout, attempt)
    }

    /// [`Blocking::run`] parking on several event words at once (one
    /// [`Wait::wait_any`] sleep that a notification of any of them ends):
    /// the waiting behind a [`wait_set`](crate::wait::wait_set). At most
    /// [`MAX_WORDS`] words; more are not parked on (their sources are
    /// still polled, at every wake-up).
    pub fn run_any<R, E: From<Expired>>(
        &self,
        words: &[&AtomicU32],
        timeout: Option<Duration>,
        mut attempt: impl FnMut() -> Result<Option<R>, E>,
    ) -> Result<R, E> {
        // Before the clock is read: an operation that need not wait costs
        // no clock reading.
        if let Some(r) = attempt()? {
            return Ok(r);
        }
        let words = &words[..words.len().min(MAX_WORDS)];
        let mut keys = [0u32; MAX_WORDS];
        let mut deadline = Deadline::after(&self.wait, timeout);
        let mut grace = Grace::new();
        let mut round = 0u32;
        loop {
            if round < self.spins || self.spins == FOREVER {
                spin_loop();
                if self.spins == FOREVER && round % SPIN_CHECK == SPIN_CHECK - 1 {
                    deadline.remaining(&self.wait)?;
                }
                round = round.saturating_add(1);
            } else if round - self.spins < self.yields || self.yields == FOREVER {
                self.wait.yield_now();
                if self.yields == FOREVER {
                    deadline.remaining(&self.wait)?;
                }
                round = round.saturating_add(1);
            } else {
                let left = deadline.remaining(&self.wait)?;
                for (key, word) in keys.iter_mut().zip(words) {
                    *key = event_word::prepare(word);
                }
                if let Some(r) = attempt()? {
                    return Ok(r);
                }
                let keys = &keys[..words.len()];
                let sleep = grace.bound(keys, left);
                let outcome = self.wait.wait_any(words, keys, sleep);
                grace.slept(keys, sleep, outcome);
            }
            if let Some(r) = attempt()? {
                return Ok(r);
            }
        }
    }

    /// Wakes the sleepers parked on `word` by [`Blocking::run`], if any;
    /// returns whether it had to (made a syscall). Call it after the
    /// operation that they wait for has taken effect.
    #[inline]
    pub fn notify(&self, word: &AtomicU32) -> bool {
        event_word::notify(word, &self.wait)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use core::cell::Cell;

    use super::*;
    use crate::ring::RecvError;
    use crate::test_util::TestWait;
    use crate::wait::{Spin, WaitOutcome};

    /// Counts clock readings, parks and yields; the clock advances 1 µs per
    /// reading.
    #[derive(Default)]
    struct Counting {
        clock: Cell<u64>,
        parks: Cell<u32>,
        yields: Cell<u32>,
    }

    impl Wait for Counting {
        fn wait(&self, _: &AtomicU32, _: u32, _: Option<Duration>) -> WaitOutcome {
            self.parks.set(self.parks.get() + 1);
            WaitOutcome::TimedOut
        }
        fn wake_one(&self, _: &AtomicU32) {}
        fn wake_all(&self, _: &AtomicU32) {}
        fn now_ns(&self) -> Option<u64> {
            let t = self.clock.get();
            self.clock.set(t + 1000);
            Some(t)
        }
        fn yield_now(&self) {
            self.yields.set(self.yields.get() + 1);
        }
    }

    #[test]
    fn an_attempt_that_succeeds_at_once_reads_no_clock() {
        let b = Blocking::new(Counting::default());
        let word = AtomicU32::new(0);
        let r: Result<u32, RecvError> = b.run(&word, Some(Duration::from_secs(1)), || Ok(Some(7)));
        assert_eq!(r, Ok(7));
        assert_eq!(b.wait.clock.get(), 0);
    }

    #[test]
    fn spinning_never_parks_and_honours_the_timeout() {
        let b = Blocking::spinning(Counting::default());
        let word = AtomicU32::new(0);
        let mut attempts = 0u32;
        let r: Result<(), RecvError> = b.run(&word, Some(Duration::from_micros(50)), || {
            attempts += 1;
            Ok(None)
        });
        assert_eq!(r, Err(RecvError::TimedOut));
        assert_eq!(b.wait.parks.get(), 0);
        assert_eq!(
            word.load(crate::foundation::atomics::Ordering::Relaxed),
            0,
            "announced itself"
        );
        // One reading to start, then one per yield until 50 µs have passed.
        assert_eq!(b.wait.yields.get(), 50);
        assert_eq!(attempts, 1 + (1 << 10) + 49);

        // An endless spin phase checks every 1024 spins.
        let b = Blocking {
            spins: FOREVER,
            ..Blocking::spinning(Counting::default())
        };
        let r: Result<(), RecvError> = b.run(&word, Some(Duration::from_micros(3)), || Ok(None));
        assert_eq!(r, Err(RecvError::TimedOut));
        assert_eq!((b.wait.parks.get(), b.wait.yields.get()), (0, 0));
        assert_eq!(b.wait.clock.get(), 4000);

        // Without a clock, a timed wait gives up at its second check.
        let r: Result<(), RecvError> =
            Blocking::spinning(Spin { spins: 1 })
                .run(&word, Some(Duration::from_secs(60)), || Ok(None));
        assert_eq!(r, Err(RecvError::TimedOut));
    }

    #[test]
    fn spinning_sees_a_late_success() {
        let b = Blocking::spinning(TestWait::default());
        let word = AtomicU32::new(0);
        let mut left = 5000u32;
        let r: Result<u32, RecvError> = b.run(&word, None, || {
            left -= 1;
            Ok((left == 0).then_some(1))
        });
        assert_eq!(r, Ok(1));
        assert_eq!(b.wait.calls(), 0);
    }

    /// Records the timeout of every sleep; each sleep runs out.
    #[derive(Default)]
    struct Timeouts(std::cell::RefCell<std::vec::Vec<Option<Duration>>>);

    impl Wait for Timeouts {
        fn wait(&self, _: &AtomicU32, _: u32, timeout: Option<Duration>) -> WaitOutcome {
            self.0.borrow_mut().push(timeout);
            WaitOutcome::TimedOut
        }
        fn wake_one(&self, _: &AtomicU32) {}
        fn wake_all(&self, _: &AtomicU32) {}
    }

    #[test]
    fn the_first_sleep_on_an_announcement_is_a_grace_sleep() {
        use crate::wait::GRACE;
        let b = Blocking::parking(Timeouts::default());
        let word = AtomicU32::new(0);
        let mut attempts = 0;
        let r: Result<u32, RecvError> = b.run(&word, None, || {
            attempts += 1;
            Ok((attempts == 6).then_some(9))
        });
        assert_eq!(r, Ok(9));
        // Attempts: one before waiting, then two around each sleep. A grace sleep; then, the word unchanged (no notifier skipped
        // it), a sleep without a bound.
        assert_eq!(*b.wait.0.borrow(), [Some(GRACE), None]);

        // A notification in between (the epoch moved): a new grace.
        let b = Blocking::parking(Timeouts::default());
        let mut attempts = 0;
        let r: Result<u32, RecvError> = b.run(&word, None, || {
            attempts += 1;
            if attempts == 3 {
                crate::wait::event_word::notify(&word, &Spin::default());
            }
            Ok((attempts == 6).then_some(9))
        });
        assert_eq!(r, Ok(9));
        assert_eq!(*b.wait.0.borrow(), [Some(GRACE), Some(GRACE)]);

        // A shorter timeout bounds the sleep instead, and is no grace.
        let b = Blocking::parking(Timeouts::default());
        let short = Duration::from_micros(10);
        let r: Result<(), RecvError> = b.run(&AtomicU32::new(0), Some(short), || Ok(None));
        assert_eq!(r, Err(RecvError::TimedOut));
        assert_eq!(b.wait.0.borrow()[0], Some(short));
    }
}
