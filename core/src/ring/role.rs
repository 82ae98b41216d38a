//! Claiming a role (producer, consumer) in shared memory with a holder id,
//! and taking back a role whose holder died.
//!
//! A role word holds 0 when free, else the holder's id (a [`Holder`]: a
//! pid on Linux).
//! The core cannot tell whether a process is alive; the caller passes that
//! judgement in (`interlink-linux` asks the kernel).

use core::fmt;

use crate::foundation::atomics::{AtomicU32, Ordering};
use crate::foundation::holder::Holder;

/// Why a role (producer or consumer) could not be claimed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleError {
    /// The role is held by `holder`, which is alive (or was not checked).
    Taken {
        /// The current holder's id.
        holder: u32,
    },
    /// The role was free (or taken from a dead holder), but the ring's
    /// indices, as loaded right after claiming it, are out of range: the
    /// peer (or whoever wrote the memory) is buggy or hostile. No handle
    /// was made and the role word was freed again; claiming succeeds once
    /// the indices are sane (e.g. after the ring is re-initialised).
    Corrupt,
}

impl fmt::Display for RoleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Taken { holder } => write!(f, "role already held by {holder}"),
            Self::Corrupt => f.write_str(
                "ring corrupt: its indices are out of range, so the role was not claimed",
            ),
        }
    }
}

/// Claims a free role word for `holder`.
pub(crate) fn claim(word: &AtomicU32, holder: Holder) -> Result<(), RoleError> {
    let holder = holder.get();
    // Acquire: a new holder must see everything the previous holder did
    // before it released the role (its index stores included).
    match word.compare_exchange(0, holder, Ordering::Acquire, Ordering::Relaxed) {
        Ok(_) => Ok(()),
        Err(current) => Err(RoleError::Taken { holder: current }),
    }
}

/// Claims the role for `holder`, taking it from its current holder if
/// `is_alive` says that holder is dead.
pub(crate) fn take_over(
    word: &AtomicU32,
    holder: Holder,
    is_alive: impl FnOnce(u32) -> bool,
) -> Result<(), RoleError> {
    let holder = holder.get();
    let current = word.load(Ordering::Relaxed);
    if current != 0 && is_alive(current) {
        return Err(RoleError::Taken { holder: current });
    }
    match word.compare_exchange(current, holder, Ordering::Acquire, Ordering::Relaxed) {
        Ok(_) => Ok(()),
        Err(now) => Err(RoleError::Taken { holder: now }),
    }
}

/// Frees the role if `holder` still holds it (a holder that was wrongly
/// declared dead and replaced must not free its successor's role); returns
/// whether it did.
pub(crate) fn release(word: &AtomicU32, holder: u32) -> bool {
    word.compare_exchange(holder, 0, Ordering::Release, Ordering::Relaxed)
        .is_ok()
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn claim_take_over_release() {
        let h = |id| Holder::new(id).unwrap();
        let word = AtomicU32::new(0);
        claim(&word, h(10)).unwrap();
        assert_eq!(claim(&word, h(11)), Err(RoleError::Taken { holder: 10 }));
        assert_eq!(
            take_over(&word, h(11), |h| h == 10),
            Err(RoleError::Taken { holder: 10 })
        );
        take_over(&word, h(11), |_| false).unwrap();
        release(&word, 10); // the replaced holder cannot free the role
        assert_eq!(word.load(Ordering::Relaxed), 11);
        release(&word, 11);
        assert_eq!(word.load(Ordering::Relaxed), 0);
        take_over(&word, h(12), |_| {
            panic!("a free role needs no liveness check")
        })
        .unwrap();
    }
}
