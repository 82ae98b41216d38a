//! Who holds a role, a users word or a lock: a nonzero 30-bit id.

use core::fmt;
use core::num::NonZeroU32;

/// The id of whoever claims a role (producer, consumer), joins an MPMC
/// ring's users table, or owns a mutex: on Linux a process id (roles,
/// users) or a thread id (mutex owners).
///
/// Nonzero and at most [`Holder::MAX`] by construction: 0 means "free" in
/// every shared word that records a holder, and a mutex's lock word keeps
/// two bits for flags. So claiming with a holder can never fail for its
/// value. Make one with [`Holder::new`] (checked), [`Holder::fixed`] (a
/// constant, checked when compiling), or — on Linux — from the current
/// process (`interlink_linux::process::holder()`).
///
/// Ids read back from shared memory (a role's current holder, a
/// [`Status`](crate::ring::Status)) stay `u32`: a peer may have written
/// anything there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Holder(NonZeroU32);

impl Holder {
    /// The largest id: 2³⁰ − 1 (Linux pids and tids are below 2²²).
    pub const MAX: u32 = (1 << 30) - 1;

    /// `id` as a holder, or `None` if it is 0 or above [`Holder::MAX`].
    pub const fn new(id: u32) -> Option<Self> {
        if id > Self::MAX {
            return None;
        }
        match NonZeroU32::new(id) {
            Some(id) => Some(Self(id)),
            None => None,
        }
    }

    /// The constant `ID` as a holder; an `ID` of 0 or above [`Holder::MAX`]
    /// fails to compile.
    ///
    /// ```
    /// use interlink_core::Holder;
    /// const PRODUCER: Holder = Holder::fixed::<1>();
    /// assert_eq!(PRODUCER.get(), 1);
    /// ```
    ///
    /// ```compile_fail
    /// let _ = interlink_core::Holder::fixed::<0>();
    /// ```
    pub const fn fixed<const ID: u32>() -> Self {
        const {
            assert!(
                ID != 0 && ID <= Holder::MAX,
                "a holder id is in 1..=Holder::MAX"
            );
        }
        match Self::new(ID) {
            Some(holder) => holder,
            // Unreachable: the assertion above held when compiling.
            None => Self(NonZeroU32::MIN),
        }
    }

    /// The id, as recorded in shared memory.
    pub const fn get(self) -> u32 {
        self.0.get()
    }
}

impl From<Holder> for u32 {
    fn from(holder: Holder) -> u32 {
        holder.get()
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
