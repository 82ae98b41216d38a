//! A robust mutex around a `T: Plain` in caller memory: one 32-bit futex
//! word, usable by threads of any process that maps it, and recoverable
//! when its owner dies while holding it.
//!
//! # The lock word
//!
//! `0` is unlocked. Otherwise bits 0..30 hold the owner's thread id (a
//! Linux tid is unique among live threads of the system) and bit 31,
//! `WAITERS`, says that someone may be asleep on the word. An uncontended
//! lock is one `compare_exchange(0 → tid)` and an uncontended unlock one
//! `compare_exchange(tid → 0)`: no syscall. A waiter sets `WAITERS` before
//! it sleeps; an unlock that finds it wakes one sleeper. This is Drepper's
//! "futexes are tricky" mutex with the owner in the word, like the
//! kernel's robust and PI futexes.
//!
//! # Robustness
//!
//! After taking the word, the owner records who it is — pid, tid and a
//! *stamp* that tells a reused pid from the original (Linux: the process's
//! start time). The record is rewritten only when it changed and is not
//! cleared at unlock, so a thread that takes the lock again stores nothing
//! (uncontended lock + unlock stay two atomics and a few loads). The
//! price: until a new owner has rewritten it, the record names the
//! previous owner, and if that one had the same tid (a tid reused after
//! its thread ended, or another pid namespace) the record's pid and stamp
//! are not the holder's. The tid in the word is always the holder's, so a
//! [`Liveness`] must answer "alive" when a thread with `owner.tid` lives
//! (see [`Liveness::is_alive`]).
//!
//! A waiter wakes up every [`Liveness::poll_interval`] to ask the caller's
//! [`Liveness`] whether the recorded owner still lives. If not, it takes
//! the lock over and is told so with [`LockError::OwnerDied`], which
//! carries the guard: the data may be half-updated. It repairs the data and
//! calls [`MutexGuard::mark_consistent`]; if it unlocks without doing so,
//! the mutex becomes *not recoverable* and every later `lock` fails with
//! [`LockError::NotRecoverable`] — pthread's `EOWNERDEAD` /
//! `ENOTRECOVERABLE` protocol.
//!
//! A dead owner is found only by a waiter that *sleeps* in
//! [`Mutex::lock`]; [`Mutex::try_lock`] never asks (that would cost
//! syscalls on every failed try). If the owner died between taking the
//! word and writing its record, the waiter knows only its tid and asks
//! about that (with pid and stamp 0).
//!
//! # Hostile peers
//!
//! Nothing read from the shared words addresses memory: the data sits at
//! a fixed offset checked at attach, the owner's id is masked to 30 bits,
//! and a health word no owner writes reads as not recoverable. Every
//! compare-exchange loop is bounded: a `lock` that loses
//! [`MAX_LOST_RACES`] exchanges (the word changed between its load and
//! its exchange, which among honest threads means someone else took or
//! released the lock) fails with [`LockError::Contended`]; its sleeps are
//! bounded by its timeout. The unlock in the guard's `Drop` gives up after
//! as many lost exchanges, leaving the word as the peer wrote it and
//! waking one sleeper. A peer that writes a live thread's id into the word
//! holds the lock for as long as it likes: use a timeout against such
//! peers.
//!
//! # Access to the data
//!
//! The guard copies `T` in and out ([`MutexGuard::get`], [`MutexGuard::set`],
//! [`MutexGuard::update`]) or hands out a raw pointer. It never creates a
//! `&mut T` into the mapping: holding the lock makes well-behaved peers
//! keep out, but a buggy or hostile process can still write the bytes, and
//! a Rust reference over memory written behind its back is undefined
//! behaviour (DESIGN rule 4). Copies of a `Plain` value are always sound;
//! at worst they read junk.
//!
//! # Layout (version [`crate::LAYOUT_VERSION`])
//!
//! | offset | bytes | contents |
//! |---|---|---|
//! | 0 | 64 | [`Header`] (kind `Mutex`, element `T`, capacity 1) |
//! | 64 | 4 | lock word: owner tid \| `WAITERS` (bit 31) |
//! | 68 | 4 | health: 0 consistent, 1 owner died (being repaired), 2 not recoverable |
//! | 72 | 4 | recorded owner's tid (the last owner's: kept at unlock) |
//! | 76 | 4 | owner's pid |
//! | 80 | 8 | owner's stamp (two 32-bit words, low first) |
//! | 88 | 8 | reserved (zero) |
//! | 96 | `size_of::<T>()` | the data, at `T`'s [shared alignment](crate::layout::shared_align_of) |

use core::fmt;
use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use core::ptr::NonNull;
use core::time::Duration;

use crate::foundation::atomics::{init_atomic, spin_loop, AtomicU32, Ordering, UnsafeCell};
use crate::foundation::holder::Holder;
use crate::foundation::layout::InitError;
use crate::foundation::layout::{
    shared_align_of, AttachError, ElementCheck, Fingerprint, Header, Kind,
};
use crate::foundation::plain::Plain;
use crate::foundation::region::Region;
use crate::sync::fixed;
use crate::wait::{update, Deadline, Declined, Races, Wait, WaitOutcome, MAX_LOST_RACES};

mod error;
mod guard;
mod lock;
mod owner;

pub use error::{LockError, LockResult};
pub use guard::MutexGuard;
pub use owner::{Immortal, Liveness, Owner};

/// Bit 31 of the lock word: a waiter may be asleep.
const WAITERS: u32 = 1 << 31;
/// The owner's id in the lock word (bit 30 is reserved): every
/// [`Holder`] fits.
pub const MAX_OWNER_ID: u32 = Holder::MAX;

/// Values of the health word.
mod health {
    pub(super) const CONSISTENT: u32 = 0;
    pub(super) const OWNER_DIED: u32 = 1;
    pub(super) const NOT_RECOVERABLE: u32 = 2;
}

/// Polls of the lock word before a contended `lock` goes to sleep.
const SPINS: u32 = if cfg!(loom) { 1 } else { 64 };

#[repr(C)]
struct Control {
    header: Header,
    word: AtomicU32,
    health: AtomicU32,
    owner_tid: AtomicU32,
    owner_pid: AtomicU32,
    owner_stamp_lo: AtomicU32,
    owner_stamp_hi: AtomicU32,
    reserved: [AtomicU32; 2],
}

#[cfg(not(loom))]
const _: () = {
    use core::mem::offset_of;
    use static_assertions::const_assert_eq;
    const_assert_eq!(size_of::<Control>(), 96);
    const_assert_eq!(align_of::<Control>(), 4);
    const_assert_eq!(offset_of!(Control, word), 64);
    const_assert_eq!(offset_of!(Control, health), 68);
    const_assert_eq!(offset_of!(Control, owner_tid), 72);
    const_assert_eq!(offset_of!(Control, owner_pid), 76);
    const_assert_eq!(offset_of!(Control, owner_stamp_lo), 80);
    const_assert_eq!(offset_of!(Control, owner_stamp_hi), 84);
    const_assert_eq!(offset_of!(Control, reserved), 88);
};

/// Where the data starts: after the control words, at `T`'s shared
/// alignment (the same for 32- and 64-bit processes).
const fn data_offset<T>() -> usize {
    let align = shared_align_of::<T>();
    (size_of::<Control>() + align - 1) & !(align - 1)
}

const fn region_align<T>() -> usize {
    let (c, t) = (align_of::<Control>(), shared_align_of::<T>());
    if c > t {
        c
    } else {
        t
    }
}

/// The pointers a mutex and its guards share.
struct Raw<T> {
    control: NonNull<Control>,
    data: NonNull<UnsafeCell<T>>,
}

impl<T> Clone for Raw<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Raw<T> {}

/// A mutex in caller memory guarding a `T` (see the [module docs](self)).
/// Cheap to copy; it owns nothing.
pub struct Mutex<'a, T> {
    raw: Raw<T>,
    _memory: PhantomData<&'a T>,
}

impl<T> Clone for Mutex<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Mutex<'_, T> {}

impl<T> fmt::Debug for Mutex<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mutex")
            .field("owner", &self.owner())
            .finish_non_exhaustive()
    }
}

// SAFETY: the lock word and record are atomics; the data is reached only
// through a guard, which exists only while the lock is held.
unsafe impl<T: Plain> Send for Mutex<'_, T> {}
// SAFETY: as above.
unsafe impl<T: Plain> Sync for Mutex<'_, T> {}

impl<'a, T: Plain> Mutex<'a, T> {
    /// Bytes a mutex around a `T` needs, header included.
    pub const fn bytes_needed() -> usize {
        data_offset::<T>() + size_of::<UnsafeCell<T>>()
    }

    /// The alignment its region needs (4, or `T`'s if larger).
    pub const fn region_align() -> usize {
        region_align::<T>()
    }

    /// Creates an unlocked, consistent mutex holding `value` in `region`,
    /// recording `T`'s [`Fingerprint`] for attachers to check.
    pub fn init(region: Region<'a>, value: T) -> Result<Self, InitError> {
        let total = Self::bytes_needed();
        let base = fixed::begin(&region, total, region_align::<T>())?;
        let c = base.cast::<Control>().as_ptr();
        // SAFETY: the region holds `total` aligned bytes, so the data lies
        // inside it at an offset aligned for T.
        let data = unsafe { base.add(data_offset::<T>()) }.cast::<UnsafeCell<T>>();
        // SAFETY: `c` and `data` point to writable memory the creator owns
        // until publication.
        unsafe {
            use core::ptr::addr_of_mut;
            for word in [
                addr_of_mut!((*c).word),
                addr_of_mut!((*c).health),
                addr_of_mut!((*c).owner_tid),
                addr_of_mut!((*c).owner_pid),
                addr_of_mut!((*c).owner_stamp_lo),
                addr_of_mut!((*c).owner_stamp_hi),
                addr_of_mut!((*c).reserved[0]),
                addr_of_mut!((*c).reserved[1]),
            ] {
                init_atomic(word, 0);
            }
            data.as_ptr().write(UnsafeCell::new(value));
            fixed::publish(base, Kind::Mutex, Fingerprint::of::<T>(), 1, total);
        }
        Ok(Self::from_parts(base, data))
    }

    /// Attaches to a mutex some process initialised in `region`, checking
    /// its header against `Kind::Mutex` and `T`'s [`Fingerprint`] (size,
    /// alignment and [`Plain::TYPE_ID`]: a mutex around another type is
    /// refused with [`AttachError::Element`]).
    pub fn attach(region: Region<'a>) -> Result<Self, AttachError> {
        Self::attach_with(region, ElementCheck::Exact)
    }

    /// [`Mutex::attach`], comparing the element type as `check` says
    /// ([`ElementCheck::LayoutOnly`]: size and alignment only).
    pub fn attach_with(region: Region<'a>, check: ElementCheck) -> Result<Self, AttachError> {
        let total = Self::bytes_needed();
        let (base, snap) = fixed::attach(
            &region,
            Kind::Mutex,
            (Fingerprint::of::<T>(), check),
            total,
            region_align::<T>(),
        )?;
        if snap.capacity != 1 {
            return Err(AttachError::Corrupt {
                field: "capacity",
                value: snap.capacity as u64,
            });
        }
        // SAFETY: the region holds `total` bytes: the data is inside it.
        let data = unsafe { base.add(data_offset::<T>()) }.cast::<UnsafeCell<T>>();
        Ok(Self::from_parts(base, data))
    }

    fn from_parts(base: NonNull<u8>, data: NonNull<UnsafeCell<T>>) -> Self {
        Self {
            raw: Raw {
                control: base.cast(),
                data,
            },
            _memory: PhantomData,
        }
    }

    /// Takes the lock if it is free, without waiting (and without asking
    /// whether a holder is alive).
    pub fn try_lock<'g, W: Wait, L: Liveness>(
        &'g self,
        wait: &'g W,
        liveness: &'g L,
    ) -> LockResult<'g, T, W, L> {
        self.raw.try_lock(wait, liveness)
    }

    /// Takes the lock, waiting for at most `timeout` (`None`: no limit):
    /// spins briefly, then sleeps on the word with `wait`, checking every
    /// [`Liveness::poll_interval`] whether the owner died.
    pub fn lock<'g, W: Wait, L: Liveness>(
        &'g self,
        wait: &'g W,
        liveness: &'g L,
        timeout: Option<Duration>,
    ) -> LockResult<'g, T, W, L> {
        self.raw.lock(wait, liveness, timeout)
    }
}

impl<T> Mutex<'_, T> {
    /// The owner as recorded now, `None` when unlocked (or when the word
    /// names no owner: a peer wrote only flag bits) (for inspectors:
    /// by the time it returns it may have changed). Its tid is the
    /// holder's; its pid and stamp may, for a moment after the lock changes
    /// hands, be those of a previous owner with the same tid.
    pub fn owner(&self) -> Option<Owner> {
        let c = self.raw.control();
        let word = c.word.load(Ordering::Acquire);
        Holder::new(word & MAX_OWNER_ID).map(|holder| c.owner_record(holder))
    }

    /// Whether a previous owner died and the data was never repaired.
    pub fn is_not_recoverable(&self) -> bool {
        self.raw.control().health.load(Ordering::Relaxed) == health::NOT_RECOVERABLE
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
