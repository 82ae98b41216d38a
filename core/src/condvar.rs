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
//! | 0 | 64 | [`Header`] (kind `Condvar`) |
//! | 64 | 4 | sequence (the futex word) |
//! | 68 | 4 | sleepers |
//! | 72 | 56 | reserved (zero) |

use core::marker::PhantomData;
use core::ptr::NonNull;
use core::time::Duration;

use crate::fixed;
use crate::layout::{AttachError, Fingerprint, Header, Kind};
use crate::mutex::{Liveness, LockError, MutexGuard};
use crate::region::Region;
use crate::ring::InitError;
use crate::sync::{fence, init_atomic, AtomicU32, Ordering};
use crate::wait::{Wait, WaitOutcome};

#[repr(C)]
struct Control {
    header: Header,
    seq: AtomicU32,
    sleepers: AtomicU32,
    reserved: [AtomicU32; 14],
}

#[cfg(not(loom))]
const _: () = {
    use core::mem::{align_of, offset_of, size_of};
    use static_assertions::const_assert_eq;
    const_assert_eq!(size_of::<Control>(), 128);
    const_assert_eq!(align_of::<Control>(), 4);
    const_assert_eq!(offset_of!(Control, seq), 64);
    const_assert_eq!(offset_of!(Control, sleepers), 68);
};

/// A condition variable in caller memory (see the [module docs](self)).
/// Cheap to copy; it owns nothing.
#[derive(Clone, Copy, Debug)]
pub struct Condvar<'a> {
    control: NonNull<Control>,
    _memory: PhantomData<&'a Control>,
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
    pub const BYTES: usize = core::mem::size_of::<Control>();
    /// The alignment its region needs.
    pub const ALIGN: usize = core::mem::align_of::<Control>();

    /// Creates a condvar in `region` with nobody waiting.
    pub fn init(region: Region<'a>) -> Result<Self, InitError> {
        let base = fixed::begin(&region, Self::BYTES, Self::ALIGN)?;
        let c = base.cast::<Control>().as_ptr();
        // SAFETY: `c` points to a writable Control the creator owns.
        unsafe {
            use core::ptr::addr_of_mut;
            init_atomic(addr_of_mut!((*c).seq), 0);
            init_atomic(addr_of_mut!((*c).sleepers), 0);
            for i in 0..14 {
                init_atomic(addr_of_mut!((*c).reserved[i]), 0);
            }
            fixed::publish(
                base,
                Kind::Condvar,
                Fingerprint::of::<()>(0),
                0,
                Self::BYTES,
            );
        }
        Ok(Self {
            control: base.cast(),
            _memory: PhantomData,
        })
    }

    /// Attaches to a condvar some process initialised in `region`.
    pub fn attach(region: Region<'a>) -> Result<Self, AttachError> {
        let (base, _) = fixed::attach(
            &region,
            Kind::Condvar,
            Fingerprint::of::<()>(0),
            Self::BYTES,
            Self::ALIGN,
        )?;
        Ok(Self {
            control: base.cast(),
            _memory: PhantomData,
        })
    }

    fn control(&self) -> &Control {
        // SAFETY: `control` points to a live Control for 'a; all atomic.
        unsafe { self.control.as_ref() }
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
        let c = self.control();
        let seq = c.seq.load(Ordering::Relaxed);
        c.sleepers.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let (outcome, relocked) = guard.unlocked(|wait| {
            let outcome = wait.wait(&c.seq, seq, timeout);
            c.sleepers.fetch_sub(1, Ordering::Relaxed);
            outcome
        });
        relocked.map(|g| (g, outcome))
    }

    /// Wakes one waiter, if any (a syscall only if someone sleeps).
    pub fn notify_one(&self, wait: &impl Wait) {
        if self.bump() {
            wait.wake_one(&self.control().seq);
        }
    }

    /// Wakes every waiter (a syscall only if someone sleeps).
    pub fn notify_all(&self, wait: &impl Wait) {
        if self.bump() {
            wait.wake_all(&self.control().seq);
        }
    }

    /// Advances the sequence; returns whether anyone may sleep.
    fn bump(&self) -> bool {
        let c = self.control();
        c.seq.fetch_add(1, Ordering::Release);
        fence(Ordering::SeqCst);
        c.sleepers.load(Ordering::Relaxed) != 0
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
