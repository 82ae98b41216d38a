//! Blocking around non-blocking operations: spin, then yield, then park on
//! an event word until the peer notifies it.
//!
//! Every ring's `try_*` operation either succeeds or says "not now"
//! (full / empty). [`Blocking::run`] turns such an attempt into a blocking
//! one with a timeout, and [`Blocking::notify`] is what the other side
//! calls after each success so that a parked peer wakes up. The event word
//! follows [`crate::event`]'s protocol, so the side that succeeds pays one
//! fence and one load — no read-modify-write, no syscall — unless its peer
//! is actually asleep.
//!
//! A new structure gets blocking operations by giving each waiting side an
//! event word in its shared layout and wrapping its `try_*` operations:
//!
//! ```text
//! fn send(&mut self, v: T, b: &Blocking<W>, timeout) -> Result<(), BlockError> {
//!     b.run(not_full_word, timeout, || match self.try_push(v) { Ok(()) => Ok(Some(())), Full => Ok(None), Corrupt => Err(..) })?;
//!     b.notify(not_empty_word);
//!     Ok(())
//! }
//! ```

use core::fmt;
use core::time::Duration;

use crate::event;
use crate::ring::Corrupt;
use crate::sync::{spin_loop, AtomicU32};
use crate::wait::{Deadline, Expired, Wait};

/// A wait strategy: poll `spins` times with a CPU pause, then `yields`
/// times giving the CPU away, then park on the event word (a futex wait
/// with the [`Wait`]) until notified or the timeout passes.
#[derive(Clone, Copy, Debug)]
pub struct Blocking<W> {
    /// How to park, wake and tell the time.
    pub wait: W,
    /// Polls with a pause hint before yielding.
    pub spins: u32,
    /// Polls with [`Wait::yield_now`] before parking.
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

    /// Calls `attempt` until it returns `Ok(Some(r))` (then returns `r`) or
    /// an error (returned as is), waiting between calls; gives up with
    /// `E::from(Expired)` when `timeout` has passed. `word` is the event
    /// word this side parks on: whoever makes `attempt` succeed must
    /// [`Blocking::notify`] it afterwards.
    ///
    /// When an attempt made after announcing the sleeper succeeds, the
    /// word's `WAITING` bit stays set (other sleepers may share the word),
    /// so the peer's next notification makes one unneeded wake syscall.
    pub fn run<R, E: From<Expired>>(
        &self,
        word: &AtomicU32,
        timeout: Option<Duration>,
        mut attempt: impl FnMut() -> Result<Option<R>, E>,
    ) -> Result<R, E> {
        let mut deadline = Deadline::after(&self.wait, timeout);
        let mut round = 0u32;
        loop {
            if let Some(r) = attempt()? {
                return Ok(r);
            }
            if round < self.spins {
                spin_loop();
            } else if round - self.spins < self.yields {
                self.wait.yield_now();
            } else {
                let left = deadline.remaining(&self.wait)?;
                let key = event::prepare(word);
                if let Some(r) = attempt()? {
                    return Ok(r);
                }
                self.wait.wait(word, key, left);
                continue;
            }
            round += 1;
        }
    }

    /// Wakes the sleepers parked on `word` by [`Blocking::run`], if any;
    /// returns whether it had to (made a syscall). Call it after the
    /// operation that they wait for has taken effect.
    #[inline]
    pub fn notify(&self, word: &AtomicU32) -> bool {
        event::notify(word, &self.wait)
    }
}

/// Why a blocking ring operation did nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockError {
    /// The timeout passed first.
    TimedOut,
    /// See [`Corrupt`].
    Corrupt,
}

impl From<Expired> for BlockError {
    fn from(_: Expired) -> Self {
        Self::TimedOut
    }
}

impl From<Corrupt> for BlockError {
    fn from(_: Corrupt) -> Self {
        Self::Corrupt
    }
}

impl fmt::Display for BlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TimedOut => f.write_str("timed out"),
            Self::Corrupt => Corrupt.fmt(f),
        }
    }
}

impl fmt::Display for Expired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out")
    }
}
