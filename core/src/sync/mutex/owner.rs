//! Who holds the lock, and whether that holder is still alive (see
//! [Robustness](super#robustness)).

use super::*;

/// Who holds a lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Owner {
    /// The owning process (0: unknown).
    pub pid: u32,
    /// The owning thread (Linux: its tid), unique among the threads that
    /// use the mutex at a time.
    pub tid: Holder,
    /// Distinguishes this process from an earlier one that had the same
    /// pid (Linux: its start time); 0 if unknown.
    pub stamp: u64,
}

/// The caller's judgement of who it is and whether an owner is alive; the
/// core cannot ask an OS. `interlink_linux::futex::Robust` asks Linux.
pub trait Liveness {
    /// The calling thread's identity. It is read on every lock, so it must
    /// be cheap (no syscall): cache it.
    fn me(&self) -> Owner;
    /// Whether `owner` still lives. A wrong `false` hands a live owner's
    /// lock to another thread; a wrong `true` only delays recovery.
    ///
    /// `owner.tid` is the holder's for certain; `owner.pid` and
    /// `owner.stamp` may still describe an earlier holder that had the same
    /// tid (the record is rewritten just after the lock word is taken).
    /// Answer `true` whenever a thread with `owner.tid` lives.
    fn is_alive(&self, owner: &Owner) -> bool;
    /// How often a sleeping waiter checks the owner; `None`: never (owners
    /// never die, or the caller accepts waiting for ever).
    fn poll_interval(&self) -> Option<Duration> {
        None
    }
}

/// A [`Liveness`] for owners that never die: threads of one program, bare
/// metal, models. `me()` is `Owner { pid: 0, tid: self.0, stamp: 0 }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Immortal(pub Holder);

impl Liveness for Immortal {
    fn me(&self) -> Owner {
        Owner {
            pid: 0,
            tid: self.0,
            stamp: 0,
        }
    }

    fn is_alive(&self, _owner: &Owner) -> bool {
        true
    }
}
