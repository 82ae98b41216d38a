//! Why a lock was not taken cleanly.

use super::*;

/// Why a lock was not (cleanly) taken.
pub enum LockError<G> {
    /// The lock is yours, but its previous owner died holding it: the data
    /// may be inconsistent. Repair it, then call
    /// [`MutexGuard::mark_consistent`].
    OwnerDied(G),
    /// A previous owner died and the data was never marked consistent:
    /// the mutex is unusable.
    NotRecoverable,
    /// The timeout passed first.
    TimedOut,
    /// `try_lock` only: another thread holds the lock.
    WouldBlock,
    /// The calling thread already holds it (locking again would wait for
    /// ever).
    Deadlock,
    /// The lock word changed under [`MAX_LOST_RACES`] of this call's
    /// compare-exchanges (between the load and the exchange): a peer keeps
    /// rewriting it (an honest mutex never gets near that). The lock was
    /// not taken.
    Contended,
}

impl<G> LockError<G> {
    /// The guard, if this error carries one ([`LockError::OwnerDied`]).
    pub fn into_guard(self) -> Option<G> {
        match self {
            Self::OwnerDied(g) => Some(g),
            _ => None,
        }
    }
}

impl<G> fmt::Debug for LockError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OwnerDied(_) => f.write_str("OwnerDied(..)"),
            Self::NotRecoverable => f.write_str("NotRecoverable"),
            Self::TimedOut => f.write_str("TimedOut"),
            Self::WouldBlock => f.write_str("WouldBlock"),
            Self::Deadlock => f.write_str("Deadlock"),
            Self::Contended => f.write_str("Contended"),
        }
    }
}

impl<G> fmt::Display for LockError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OwnerDied(_) => f.write_str("the previous owner died holding the lock"),
            Self::NotRecoverable => {
                f.write_str("mutex not recoverable: a dead owner's data was never repaired")
            }
            Self::TimedOut => f.write_str("timed out waiting for the lock"),
            Self::WouldBlock => f.write_str("lock held by another thread"),
            Self::Deadlock => f.write_str("the calling thread already holds the lock"),
            Self::Contended => write!(
                f,
                "lock word rewritten under {MAX_LOST_RACES} compare-exchanges of one call"
            ),
        }
    }
}

impl<G> core::error::Error for LockError<G> {}

/// What locking returns: the guard, or why there is none (or why it comes
/// with a warning: [`LockError::OwnerDied`]).
pub type LockResult<'g, T, W, L> =
    Result<MutexGuard<'g, T, W, L>, LockError<MutexGuard<'g, T, W, L>>>;
