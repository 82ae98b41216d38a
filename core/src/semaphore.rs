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

use crate::fixed::Words;
use crate::layout::{AttachError, Kind};
use crate::region::Region;
use crate::ring::InitError;
use crate::sync::{fence, AtomicU32, Ordering};
use crate::wait::{Deadline, Expired, Wait};

/// Word indices in [`Words`].
const COUNT: usize = 0;
const SLEEPERS: usize = 1;

/// `post` would raise the count above the semaphore's maximum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overflow {
    /// The maximum.
    pub max: u32,
}

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "semaphore already at its maximum count {}", self.max)
    }
}

impl core::error::Error for Overflow {}

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

    /// The count now (units available).
    pub fn count(&self) -> u32 {
        self.word(COUNT).load(Ordering::Relaxed)
    }

    /// The maximum count.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// Takes a unit if one is available, without waiting.
    pub fn try_acquire(&self) -> bool {
        let count = self.word(COUNT);
        let mut current = count.load(Ordering::Relaxed);
        while current > 0 {
            // Acquire: what the poster did before posting is visible.
            match count.compare_exchange_weak(
                current,
                current - 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => current = now,
            }
        }
        false
    }

    /// Takes a unit, sleeping while none is available, for at most
    /// `timeout` (`None`: no limit).
    pub fn acquire(&self, wait: &impl Wait, timeout: Option<Duration>) -> Result<(), Expired> {
        let mut deadline = Deadline::after(wait, timeout);
        let (count, sleepers) = (self.word(COUNT), self.word(SLEEPERS));
        loop {
            if self.try_acquire() {
                return Ok(());
            }
            let left = deadline.remaining(wait)?;
            sleepers.fetch_add(1, Ordering::Relaxed);
            fence(Ordering::SeqCst);
            wait.wait(count, 0, left);
            sleepers.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Adds a unit and wakes one sleeper, if any; fails (changing nothing)
    /// when the count is at its maximum.
    pub fn post(&self, wait: &impl Wait) -> Result<(), Overflow> {
        let (count, sleepers) = (self.word(COUNT), self.word(SLEEPERS));
        let mut current = count.load(Ordering::Relaxed);
        loop {
            if current >= self.max {
                return Err(Overflow { max: self.max });
            }
            match count.compare_exchange_weak(
                current,
                current + 1,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => current = now,
            }
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
