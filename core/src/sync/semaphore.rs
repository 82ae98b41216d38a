//! A counting semaphore in caller memory: one 32-bit count that is also the
//! futex word, and a count of sleepers so that `post` makes a syscall only
//! when someone sleeps.
//!
//! `acquire` takes a unit with a `compare_exchange` when the count is
//! positive. Otherwise it adds itself to the sleepers, issues a `SeqCst`
//! fence and sleeps while the count is 0. `post` adds a unit, issues a
//! `SeqCst` fence and wakes one sleeper only if the sleeper count is
//! nonzero. The fences make the two sides' store-then-load pairs ordered:
//! either the poster sees the sleeper (and wakes it), or the sleeper's
//! futex check sees the new unit (and does not sleep).
//!
//! # Hostile peers
//!
//! The maximum is read once, at attach, and must be nonzero; the count and
//! the sleeper count address nothing, and no arithmetic on them can
//! overflow (a count above the maximum reads as full to `post`). Every
//! compare-exchange loop is bounded: an operation that loses
//! [`MAX_LOST_RACES`] exchanges on the count (it changed between the load
//! and the exchange) fails with [`AcquireError::Contended`] or
//! [`PostError::Contended`], changing nothing; `acquire`'s sleeps are
//! bounded by its timeout. A peer that keeps the count at 0 keeps
//! `acquire` waiting: use a timeout against such peers.
//!
//! # Layout (version [`crate::LAYOUT_VERSION`])
//!
//! | offset | bytes | contents |
//! |---|---|---|
//! | 0 | 64 | [`Header`](crate::layout::Header) (kind `Semaphore`, capacity = the maximum count) |
//! | 64 | 4 | count (the futex word) |
//! | 68 | 4 | sleepers |
//! | 72 | 56 | reserved (zero) |

use core::fmt;
use core::marker::PhantomData;
use core::ptr::NonNull;
use core::time::Duration;

use crate::foundation::atomics::{fence, AtomicU32, Ordering};
use crate::foundation::layout::InitError;
use crate::foundation::layout::{AttachError, Kind};
use crate::foundation::region::Region;
use crate::sync::fixed::Words;
use crate::wait::{update, Deadline, Declined, Expired, Races, Wait, MAX_LOST_RACES};

/// Word indices in [`Words`].
const COUNT: usize = 0;
const SLEEPERS: usize = 1;

/// Why [`Semaphore::try_acquire`] or [`Semaphore::acquire`] took no unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcquireError {
    /// `try_acquire` only: no unit is available.
    Empty,
    /// `acquire` only: the timeout passed first.
    TimedOut,
    /// The count changed under [`MAX_LOST_RACES`] of this call's
    /// compare-exchanges (between the load and the exchange): a peer keeps
    /// rewriting it (an honest semaphore never gets near that). Nothing was
    /// taken.
    Contended,
}

/// Why [`Semaphore::post`] added no unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostError {
    /// The count is already at the semaphore's maximum.
    Overflow {
        /// The maximum.
        max: u32,
    },
    /// As [`AcquireError::Contended`]. Nothing was added.
    Contended,
}

impl From<Expired> for AcquireError {
    fn from(_: Expired) -> Self {
        Self::TimedOut
    }
}

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("no semaphore unit available"),
            Self::TimedOut => f.write_str("timed out waiting for a semaphore unit"),
            Self::Contended => contended(f),
        }
    }
}

impl fmt::Display for PostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Overflow { max } => {
                write!(f, "semaphore already at its maximum count {max}")
            }
            Self::Contended => contended(f),
        }
    }
}

fn contended(f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(
        f,
        "semaphore count rewritten under {MAX_LOST_RACES} compare-exchanges of one call"
    )
}

impl core::error::Error for AcquireError {}
impl core::error::Error for PostError {}

/// A counting semaphore in caller memory (see the [module docs](self)).
/// Cheap to copy; it owns nothing.
#[derive(Clone, Copy, Debug)]
pub struct Semaphore<'a> {
    control: NonNull<Words>,
    max: u32,
    _memory: PhantomData<&'a Words>,
}

// SAFETY: all shared state is atomic.
unsafe impl Send for Semaphore<'_> {}
// SAFETY: as above.
unsafe impl Sync for Semaphore<'_> {}

impl<'a> Semaphore<'a> {
    /// Bytes a semaphore needs, header included.
    pub const BYTES: usize = Words::BYTES;
    /// The alignment its region needs.
    pub const ALIGN: usize = Words::ALIGN;

    /// Creates a semaphore holding `initial` units that `post` may raise to
    /// at most `max` (`initial <= max`, `max >= 1`).
    pub fn init(region: Region<'a>, initial: u32, max: u32) -> Result<Self, InitError> {
        if max == 0 || initial > max {
            return Err(InitError::Capacity { capacity: max });
        }
        let control = Words::init(&region, Kind::Semaphore, max, &[initial])?;
        Ok(Self {
            control,
            max,
            _memory: PhantomData,
        })
    }

    /// Attaches to a semaphore some process initialised in `region`.
    pub fn attach(region: Region<'a>) -> Result<Self, AttachError> {
        let (control, snap) = Words::attach(&region, Kind::Semaphore)?;
        if snap.capacity == 0 {
            return Err(AttachError::Corrupt {
                field: "capacity",
                value: 0,
            });
        }
        Ok(Self {
            control,
            max: snap.capacity,
            _memory: PhantomData,
        })
    }

    fn word(&self, i: usize) -> &AtomicU32 {
        // SAFETY: `control` points to live Words for 'a; all atomic.
        unsafe { &self.control.as_ref().words[i] }
    }

    /// The count now (units available), as the word reads: a peer that
    /// writes the word can make it read anything, even above [`max`](Self::max).
    pub fn count(&self) -> u32 {
        self.word(COUNT).load(Ordering::Relaxed)
    }

    /// The maximum count.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// Takes a unit if one is available, without waiting:
    /// [`AcquireError::Empty`] if none is, [`AcquireError::Contended`] if
    /// the count changed under [`MAX_LOST_RACES`] tries in a row.
    pub fn try_acquire(&self) -> Result<(), AcquireError> {
        self.take(&mut Races::default())
    }

    /// `try_acquire` spending the budget `races` (shared by every try of
    /// one `acquire`).
    fn take(&self, races: &mut Races) -> Result<(), AcquireError> {
        let count = self.word(COUNT);
        let first = count.load(Ordering::Relaxed);
        // Acquire: what the poster did before posting is visible.
        match update(count, first, races, Ordering::Acquire, |c| c.checked_sub(1)) {
            Ok(_) => Ok(()),
            Err(Declined::Refused(_)) => Err(AcquireError::Empty),
            Err(Declined::Contended) => Err(AcquireError::Contended),
        }
    }

    /// Takes a unit, sleeping while none is available, for at most
    /// `timeout` (`None`: no limit): [`AcquireError::TimedOut`], or
    /// [`AcquireError::Contended`] once the tries of this call lost
    /// [`MAX_LOST_RACES`] compare-exchanges in all.
    pub fn acquire(&self, wait: &impl Wait, timeout: Option<Duration>) -> Result<(), AcquireError> {
        let mut deadline = Deadline::after(wait, timeout);
        let (count, sleepers) = (self.word(COUNT), self.word(SLEEPERS));
        let mut races = Races::default();
        loop {
            match self.take(&mut races) {
                Err(AcquireError::Empty) => {}
                done => return done,
            }
            let left = deadline.remaining(wait)?;
            sleepers.fetch_add(1, Ordering::Relaxed);
            fence(Ordering::SeqCst);
            wait.wait(count, 0, left);
            sleepers.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Adds a unit and wakes one sleeper, if any; fails (changing nothing)
    /// with [`PostError::Overflow`] when the count is at its maximum, and
    /// with [`PostError::Contended`] when the count changed under
    /// [`MAX_LOST_RACES`] tries in a row.
    pub fn post(&self, wait: &impl Wait) -> Result<(), PostError> {
        let (count, sleepers) = (self.word(COUNT), self.word(SLEEPERS));
        let max = self.max;
        let first = count.load(Ordering::Relaxed);
        let raise = |c: u32| (c < max).then(|| c + 1);
        match update(
            count,
            first,
            &mut Races::default(),
            Ordering::Release,
            raise,
        ) {
            Ok(_) => {}
            Err(Declined::Refused(_)) => return Err(PostError::Overflow { max }),
            Err(Declined::Contended) => return Err(PostError::Contended),
        }
        fence(Ordering::SeqCst);
        if sleepers.load(Ordering::Relaxed) != 0 {
            wait.wake_one(count);
        }
        Ok(())
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
