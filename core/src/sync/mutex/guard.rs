//! The guard: access to the protected value while the lock is held.

use super::*;

/// The lock, held; unlocks when dropped. Gives copy access to the data.
pub struct MutexGuard<'g, T, W: Wait, L: Liveness> {
    pub(super) raw: Raw<T>,
    pub(super) wait: &'g W,
    pub(super) liveness: &'g L,
    pub(super) id: u32,
    /// Taken from a dead owner and not yet marked consistent.
    pub(super) repairing: bool,
    pub(super) _held: PhantomData<&'g T>,
}

impl<T, W: Wait, L: Liveness> fmt::Debug for MutexGuard<'_, T, W, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MutexGuard")
            .field("owner", &self.id)
            .field("repairing", &self.repairing)
            .finish()
    }
}

impl<'g, T: Plain, W: Wait, L: Liveness> MutexGuard<'g, T, W, L> {
    /// A copy of the data.
    pub fn get(&self) -> T {
        // SAFETY: the lock is held, so well-behaved peers do not write the
        // data; `T: Plain`, so even bytes a hostile peer wrote form a valid
        // T, and the read goes through a raw pointer, never a reference.
        self.data().with(|p| unsafe { p.read() })
    }

    /// Replaces the data.
    pub fn set(&mut self, value: T) {
        // SAFETY: as in `get`; we hold the lock.
        self.data().with_mut(|p| unsafe { p.write(value) });
    }

    /// Copies the data out, lets `f` change the copy, and writes it back.
    pub fn update<R>(&mut self, f: impl FnOnce(&mut T) -> R) -> R {
        let mut value = self.get();
        let r = f(&mut value);
        self.set(value);
        r
    }

    /// A raw pointer to the data, valid while the guard lives, for types too
    /// large to copy. Read and write it with `read`/`write` (or volatile
    /// accesses), not by making a reference, unless every process that maps
    /// the mutex is trusted.
    pub fn as_ptr(&self) -> *mut T {
        self.raw.data.as_ptr().cast::<T>()
    }

    /// Declares the data repaired after [`LockError::OwnerDied`], so that
    /// the mutex stays usable. Does nothing otherwise.
    pub fn mark_consistent(&mut self) {
        if self.repairing {
            self.raw
                .control()
                .health
                .store(health::CONSISTENT, Ordering::Relaxed);
            self.repairing = false;
        }
    }

    fn data(&self) -> &UnsafeCell<T> {
        // SAFETY: the data lives as long as the mutex's memory ('g).
        unsafe { self.raw.data.as_ref() }
    }
}

impl<'g, T, W: Wait, L: Liveness> MutexGuard<'g, T, W, L> {
    /// Unlocks, runs `f`, and locks again with no timeout (for
    /// [`crate::condvar::Condvar`]).
    pub(crate) fn unlocked<R>(
        self,
        f: impl FnOnce(&'g W) -> R,
    ) -> (R, Result<Self, LockError<Self>>) {
        let (raw, wait, liveness) = (self.raw, self.wait, self.liveness);
        drop(self);
        let r = f(wait);
        (r, raw.lock(wait, liveness, None))
    }
}

impl<T, W: Wait, L: Liveness> Drop for MutexGuard<'_, T, W, L> {
    fn drop(&mut self) {
        if self.repairing {
            self.raw
                .control()
                .health
                .store(health::NOT_RECOVERABLE, Ordering::Relaxed);
        }
        self.raw.unlock(self.wait, self.id);
    }
}
