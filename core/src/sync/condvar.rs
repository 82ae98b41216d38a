//! A condition variable in caller memory that works with
//! [`Mutex`](crate::mutex::Mutex): a sequence counter that is the futex
//! word, and a count of sleepers so that `notify` makes a syscall only when
//! someone sleeps.
//!
//! [`Condvar::wait`] reads the sequence *while holding the mutex*,
//! announces itself (sleepers + 1, `SeqCst` fence), unlocks, and sleeps
//! while the sequence is unchanged. A notifier changes the shared state
//! under the mutex, then bumps the sequence, fences, and wakes only if the
//! sleeper count is nonzero. A notification after the waiter's read moves
//! the sequence, so the futex wait returns at once; the fences make sure
//! that either the notifier sees the sleeper or the sleeper sees the new
//! sequence. Wake-ups may be spurious: wait in a loop on your condition.
//!
//! `notify_all` wakes every sleeper, which then contend for the mutex (no
//! requeueing onto the mutex word).
//!
//! # Layout (version [`crate::LAYOUT_VERSION`])
//!
//! | offset | bytes | contents |
//! |---|---|---|
//! | 0 | 64 | [`Header`](crate::layout::Header) (kind `Condvar`) |
//! | 64 | 4 | sequence (the futex word) |
//! | 68 | 4 | sleepers |
//! | 72 | 56 | reserved (zero) |

use core::marker::PhantomData;
use core::ptr::NonNull;
use core::time::Duration;

use crate::foundation::atomics::{fence, AtomicU32, Ordering};
use crate::foundation::layout::InitError;
use crate::foundation::layout::{AttachError, Kind};
use crate::foundation::region::Region;
use crate::sync::fixed::Words;
use crate::sync::mutex::{Liveness, LockError, MutexGuard};
use crate::wait::{Wait, WaitOutcome};

/// Word indices in [`Words`].
const SEQ: usize = 0;
const SLEEPERS: usize = 1;

/// A condition variable in caller memory (see the [module docs](self)).
/// Cheap to copy; it owns nothing.
#[derive(Clone, Copy, Debug)]
pub struct Condvar<'a> {
    control: NonNull<Words>,
    _memory: PhantomData<&'a Words>,
}

// SAFETY: all shared state is atomic.
unsafe impl Send for Condvar<'_> {}
// SAFETY: as above.
unsafe impl Sync for Condvar<'_> {}

/// What [`Condvar::wait`] returns: the guard, locked again, and whether
/// the wait ended by timeout.
pub type WaitResult<'g, T, W, L> =
    Result<(MutexGuard<'g, T, W, L>, WaitOutcome), LockError<MutexGuard<'g, T, W, L>>>;

impl<'a> Condvar<'a> {
    /// Bytes a condvar needs, header included.
    pub const BYTES: usize = Words::BYTES;
    /// The alignment its region needs.
    pub const ALIGN: usize = Words::ALIGN;

    /// Creates a condvar in `region` with nobody waiting.
    pub fn init(region: Region<'a>) -> Result<Self, InitError> {
        let control = Words::init(&region, Kind::Condvar, 0, &[])?;
        Ok(Self {
            control,
            _memory: PhantomData,
        })
    }

    /// Attaches to a condvar some process initialised in `region`.
    pub fn attach(region: Region<'a>) -> Result<Self, AttachError> {
        let (control, _) = Words::attach(&region, Kind::Condvar)?;
        Ok(Self {
            control,
            _memory: PhantomData,
        })
    }

    fn word(&self, i: usize) -> &AtomicU32 {
        // SAFETY: `control` points to live Words for 'a; all atomic.
        unsafe { &self.control.as_ref().words[i] }
    }

    /// Unlocks `guard`'s mutex, sleeps until notified (or `timeout`, or
    /// spuriously), and locks it again (without a timeout). Relocking
    /// reports the mutex's errors: [`LockError::OwnerDied`] carries the
    /// guard.
    pub fn wait<'g, T, W: Wait, L: Liveness>(
        &self,
        guard: MutexGuard<'g, T, W, L>,
        timeout: Option<Duration>,
    ) -> WaitResult<'g, T, W, L> {
        let (word, sleepers) = (self.word(SEQ), self.word(SLEEPERS));
        let seq = word.load(Ordering::Relaxed);
        sleepers.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let (outcome, relocked) = guard.unlocked(|wait| {
            let outcome = wait.wait(word, seq, timeout);
            sleepers.fetch_sub(1, Ordering::Relaxed);
            outcome
        });
        relocked.map(|g| (g, outcome))
    }

    /// Wakes one waiter, if any (a syscall only if someone sleeps).
    pub fn notify_one(&self, wait: &impl Wait) {
        if self.bump() {
            wait.wake_one(self.word(SEQ));
        }
    }

    /// Wakes every waiter (a syscall only if someone sleeps).
    pub fn notify_all(&self, wait: &impl Wait) {
        if self.bump() {
            wait.wake_all(self.word(SEQ));
        }
    }

    /// Advances the sequence; returns whether anyone may sleep.
    fn bump(&self) -> bool {
        self.word(SEQ).fetch_add(1, Ordering::Release);
        fence(Ordering::SeqCst);
        self.word(SLEEPERS).load(Ordering::Relaxed) != 0
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
