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
//! | 96 | `size_of::<T>()` | the data, at `align_of::<T>()` |

use core::fmt;
use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use core::ptr::NonNull;
use core::time::Duration;

use crate::foundation::atomics::{init_atomic, spin_loop, AtomicU32, Ordering, UnsafeCell};
use crate::foundation::layout::InitError;
use crate::foundation::layout::{AttachError, Fingerprint, Header, Kind};
use crate::foundation::plain::Plain;
use crate::foundation::region::Region;
use crate::sync::fixed;
use crate::wait::{update, Deadline, Declined, Races, Wait, WaitOutcome, MAX_LOST_RACES};

/// Bit 31 of the lock word: a waiter may be asleep.
const WAITERS: u32 = 1 << 31;
/// The owner's id in the lock word (bit 30 is reserved).
pub const MAX_OWNER_ID: u32 = (1 << 30) - 1;

/// Values of the health word.
mod health {
    pub(super) const CONSISTENT: u32 = 0;
    pub(super) const OWNER_DIED: u32 = 1;
    pub(super) const NOT_RECOVERABLE: u32 = 2;
}

/// Polls of the lock word before a contended `lock` goes to sleep.
const SPINS: u32 = if cfg!(loom) { 1 } else { 64 };

/// Who holds a lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Owner {
    /// The owning process (0: unknown).
    pub pid: u32,
    /// The owning thread: nonzero, at most [`MAX_OWNER_ID`], unique among
    /// the threads that use the mutex at a time.
    pub tid: u32,
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
pub struct Immortal(pub u32);

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
    /// [`Liveness::me`] gave an id of 0 or above [`MAX_OWNER_ID`].
    BadOwnerId {
        /// The id given.
        id: u32,
    },
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
            Self::BadOwnerId { id } => write!(f, "BadOwnerId {{ id: {id} }}"),
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
            Self::BadOwnerId { id } => {
                write!(f, "owner id {id} is not in 1..={MAX_OWNER_ID}")
            }
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

const fn data_offset<T>() -> usize {
    let align = align_of::<UnsafeCell<T>>();
    (size_of::<Control>() + align - 1) & !(align - 1)
}

const fn region_align<T>() -> usize {
    let (c, t) = (align_of::<Control>(), align_of::<UnsafeCell<T>>());
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
    /// recording `type_id` for attachers to check.
    pub fn init(region: Region<'a>, type_id: u64, value: T) -> Result<Self, InitError> {
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
            fixed::publish(base, Kind::Mutex, Fingerprint::of::<T>(type_id), 1, total);
        }
        Ok(Self::from_parts(base, data))
    }

    /// Attaches to a mutex some process initialised in `region`, checking
    /// its header against `Kind::Mutex` and `Fingerprint::of::<T>(type_id)`.
    pub fn attach(region: Region<'a>, type_id: u64) -> Result<Self, AttachError> {
        let total = Self::bytes_needed();
        let (base, snap) = fixed::attach(
            &region,
            Kind::Mutex,
            Fingerprint::of::<T>(type_id),
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
    /// The owner as recorded now, `None` when unlocked (for inspectors:
    /// by the time it returns it may have changed). Its tid is the
    /// holder's; its pid and stamp may, for a moment after the lock changes
    /// hands, be those of a previous owner with the same tid.
    pub fn owner(&self) -> Option<Owner> {
        let c = self.raw.control();
        let word = c.word.load(Ordering::Acquire);
        (word != 0).then(|| c.owner_record(word & MAX_OWNER_ID))
    }

    /// Whether a previous owner died and the data was never repaired.
    pub fn is_not_recoverable(&self) -> bool {
        self.raw.control().health.load(Ordering::Relaxed) == health::NOT_RECOVERABLE
    }
}

impl Control {
    /// The recorded owner if the record belongs to `holder` (the id in the
    /// word), else what the word alone tells: its tid.
    fn owner_record(&self, holder: u32) -> Owner {
        let tid = self.owner_tid.load(Ordering::Acquire);
        if tid != holder {
            return Owner {
                pid: 0,
                tid: holder,
                stamp: 0,
            };
        }
        let r = Ordering::Relaxed;
        Owner {
            pid: self.owner_pid.load(r),
            tid,
            stamp: self.owner_stamp_lo.load(r) as u64 | (self.owner_stamp_hi.load(r) as u64) << 32,
        }
    }
}

impl<T> Raw<T> {
    fn control(&self) -> &Control {
        // SAFETY: `control` points to a live, initialised Control for as
        // long as the Mutex's memory lives; every field is atomic.
        unsafe { self.control.as_ref() }
    }

    fn try_lock<'g, W: Wait, L: Liveness>(
        self,
        wait: &'g W,
        liveness: &'g L,
    ) -> LockResult<'g, T, W, L> {
        let me = liveness.me();
        let id = checked_id(&me)?;
        match self
            .control()
            .word
            .compare_exchange(0, id, Ordering::Acquire, Ordering::Relaxed)
        {
            Ok(_) => self.acquired(wait, liveness, me, false),
            Err(word) if word & MAX_OWNER_ID == id => Err(LockError::Deadlock),
            Err(_) => Err(LockError::WouldBlock),
        }
    }

    fn lock<'g, W: Wait, L: Liveness>(
        self,
        wait: &'g W,
        liveness: &'g L,
        timeout: Option<Duration>,
    ) -> LockResult<'g, T, W, L> {
        let me = liveness.me();
        let id = checked_id(&me)?;
        let word = &self.control().word;
        if word
            .compare_exchange(0, id, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return self.acquired(wait, liveness, me, false);
        }
        let poll = liveness.poll_interval();
        let mut deadline = Deadline::after(wait, timeout);
        let mut spins = SPINS;
        // Every pass of this loop either counts against `races` (a lost
        // exchange), against `spins`, or checks the deadline before it
        // sleeps: bounded by the timeout and MAX_LOST_RACES.
        let mut races = Races::default();
        let contended = |_| LockError::Contended;
        loop {
            let current = word.load(Ordering::Relaxed);
            if current == 0 {
                // Others may be asleep: take it with WAITERS set, so that our
                // unlock wakes one of them (Drepper's "lock with 2").
                if word
                    .compare_exchange(0, id | WAITERS, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return self.acquired(wait, liveness, me, false);
                }
                races.lose().map_err(contended)?;
                continue;
            }
            if current & MAX_OWNER_ID == id {
                return Err(LockError::Deadlock);
            }
            if spins > 0 {
                spins -= 1;
                spin_loop();
                continue;
            }
            let asleep = current | WAITERS;
            if current != asleep
                && word
                    .compare_exchange(current, asleep, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
            {
                races.lose().map_err(contended)?;
                continue;
            }
            let left = deadline.remaining(wait).map_err(|_| LockError::TimedOut)?;
            let slice = match (left, poll) {
                (Some(l), Some(p)) => Some(l.min(p)),
                (l, p) => l.or(p),
            };
            if wait.wait(word, asleep, slice) == WaitOutcome::TimedOut && poll.is_some() {
                if let Some(guard) = self.take_from_dead(wait, liveness, me, asleep) {
                    return guard;
                }
            }
        }
    }

    /// Takes the lock over if the word still reads `observed` and its
    /// owner is dead.
    fn take_from_dead<'g, W: Wait, L: Liveness>(
        self,
        wait: &'g W,
        liveness: &'g L,
        me: Owner,
        observed: u32,
    ) -> Option<LockResult<'g, T, W, L>> {
        let c = self.control();
        let owner = c.owner_record(observed & MAX_OWNER_ID);
        if c.word.load(Ordering::Relaxed) != observed || liveness.is_alive(&owner) {
            return None;
        }
        // WAITERS stays set: other waiters may sleep on the word.
        c.word
            .compare_exchange(
                observed,
                me.tid | WAITERS,
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .ok()?;
        Some(self.acquired(wait, liveness, me, true))
    }

    /// Records the new owner and reports the mutex's health.
    fn acquired<'g, W: Wait, L: Liveness>(
        self,
        wait: &'g W,
        liveness: &'g L,
        me: Owner,
        took_over: bool,
    ) -> LockResult<'g, T, W, L> {
        let c = self.control();
        let r = Ordering::Relaxed;
        // The same process usually takes the lock again: rewrite the pid
        // and start time only when they differ (loads of a line we own
        // are cheaper than stores that dirty it).
        store_if_changed(&c.owner_pid, me.pid);
        store_if_changed(&c.owner_stamp_lo, me.stamp as u32);
        store_if_changed(&c.owner_stamp_hi, (me.stamp >> 32) as u32);
        c.owner_tid.store(me.tid, Ordering::Release);
        let mut guard = MutexGuard {
            raw: self,
            wait,
            liveness,
            id: me.tid,
            repairing: false,
            _held: PhantomData,
        };
        if took_over {
            c.health.store(health::OWNER_DIED, r);
        }
        match c.health.load(r) {
            health::CONSISTENT => Ok(guard),
            health::OWNER_DIED => {
                guard.repairing = true;
                Err(LockError::OwnerDied(guard))
            }
            // Not recoverable, or a health word no creator writes.
            _ => Err(LockError::NotRecoverable),
        }
    }

    /// Releases the lock held by `id`; wakes a sleeper if one announced
    /// itself. Does nothing if another thread took the lock over (it
    /// judged `id` dead).
    ///
    /// Bounded: honestly the word changes under the exchange at most once
    /// (a waiter sets `WAITERS`). After [`MAX_LOST_RACES`] lost exchanges
    /// (a peer keeps rewriting the word) it leaves the word as the peer
    /// wrote it and wakes one sleeper, which re-checks; unlocking runs in
    /// `Drop`, so there is nobody to return an error to.
    fn unlock(self, wait: &impl Wait, id: u32) {
        let c = self.control();
        // The owner record stays: the next owner rewrites what differs.
        // The first guess, `id` alone, is right unless a waiter is asleep.
        let mine = |now: u32| (now & MAX_OWNER_ID == id).then_some(0);
        match update(&c.word, id, &mut Races::default(), Ordering::Release, mine) {
            Ok(old) if old & WAITERS == 0 => {}
            Ok(_) | Err(Declined::Contended) => wait.wake_one(&c.word),
            Err(Declined::Refused(_)) => {} // taken over: not ours to free
        }
    }
}

/// Stores `value` unless the word already holds it. Only the lock holder
/// writes these words, so the check cannot race with another writer.
#[inline(always)]
fn store_if_changed(word: &AtomicU32, value: u32) {
    if word.load(Ordering::Relaxed) != value {
        word.store(value, Ordering::Relaxed);
    }
}

fn checked_id<G>(me: &Owner) -> Result<u32, LockError<G>> {
    if me.tid == 0 || me.tid > MAX_OWNER_ID {
        return Err(LockError::BadOwnerId { id: me.tid });
    }
    Ok(me.tid)
}

/// The lock, held; unlocks when dropped. Gives copy access to the data.
pub struct MutexGuard<'g, T, W: Wait, L: Liveness> {
    raw: Raw<T>,
    wait: &'g W,
    liveness: &'g L,
    id: u32,
    /// Taken from a dead owner and not yet marked consistent.
    repairing: bool,
    _held: PhantomData<&'g T>,
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

#[cfg(all(test, not(loom)))]
mod tests;
