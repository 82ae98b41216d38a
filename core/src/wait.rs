//! How a thread waits for a 32-bit word in shared memory to change.
//!
//! Rings never block by themselves; blocking is a [`Wait`] strategy around
//! them. The core ships [`Spin`], which needs nothing from an OS; the Linux
//! shim supplies a futex that wakes waiters in *other processes* too.

use core::time::Duration;

use crate::sync::{spin_loop, AtomicU32, Ordering};

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
}
