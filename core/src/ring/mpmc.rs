//! A bounded multi-producer multi-consumer ring of `T: Plain` that lives in
//! caller memory: any number of threads, in any number of processes mapping
//! the same bytes, may push and pop.
//!
//! # Protocol
//!
//! Dmitry Vyukov's bounded MPMC queue. Positions are wrapping 32-bit counts;
//! position `p` lives in slot `p mod C` (`C`, the capacity, a power of two
//! of at least 2), and every slot carries a sequence word next to its value:
//!
//! | slot's `seq` | meaning |
//! |---|---|
//! | `p` | free, for the producer of position `p` |
//! | `p + 1` | holds the element of position `p`, for its consumer |
//! | `p + C` | free again, for the producer of position `p + C` (next lap) |
//!
//! A producer loads `tail = p`, checks (`Acquire`) that the slot's `seq` is
//! `p`, claims `p` with a compare-exchange of `tail` from `p` to `p + 1`,
//! writes the value and stores `seq = p + 1` (`Release`). A consumer mirrors
//! it on `head`: it waits for `seq = p + 1`, claims `p` on `head`, reads, and
//! stores `seq = p + C`. The sequence word alone hands a slot from one side
//! to the other (the indices are loaded with `Acquire` and advanced with
//! `AcqRel` only so that their range checks are sound; on x86 that is free),
//! and a consumer reads the `seq` and the value from the same cache line
//! (for elements up to 60 bytes). Batches ([`MpmcRing::push_slice`],
//! [`MpmcRing::pop_into`]) claim several consecutive ready positions with one
//! compare-exchange, which is what contention makes expensive.
//!
//! # Layout (version [`crate::LAYOUT_VERSION`])
//!
//! | offset | bytes | contents | written by |
//! |---|---|---|---|
//! | 0 | 64 | [`Header`] | creator |
//! | 64 | 4 × [`USER_WORDS`] (60) | users table: one holder id a word (0 = free) | joiners, leavers ([`MpmcRing::join`], [`MpmcRing::leave`]) |
//! | 124 | 4 | users overflow: nonzero once a join found every word held by a live user (sticky) | joiners |
//! | 128 | 4 | tail: the next position a push claims (wrapping) | producers |
//! | 132 | 4 | not-empty event word: consumers park on it | consumers (announce), producers (notify) |
//! | 256 | 4 | head: the next position a pop claims (wrapping) | consumers |
//! | 260 | 4 | not-full event word: producers park on it | producers (announce), consumers (notify) |
//! | 384 | `capacity × slot` | slots (at the slot's alignment, at least 384) | both |
//!
//! A slot is `#[repr(C)] { seq: u32, value: T }`: the value at offset
//! `max(4, align_of::<T>())`, the slot padded to a multiple of that
//! alignment (`u32` → 8 bytes, `u64` → 16). Padding bytes are never read:
//! a value is copied in and out through its own field only, and `T: Plain`
//! has no padding of its own. The region must be aligned to 128 bytes (a
//! mapping always is).
//!
//! # Blocking
//!
//! [`MpmcRing::send`] and [`MpmcRing::recv`] wait with a [`Blocking`]
//! strategy on the two event words, which any number of sleepers share (a
//! notification wakes them all; they re-check). A position that another
//! participant claimed and has not finished (`Stalled`) counts as "not
//! now": the call waits for that participant to finish (it notifies when
//! it does). Once one position has stayed unfinished for a whole
//! [`STALL_PATIENCE`] (measured from the moment the call first found it
//! so), the call reports [`BlockError::Stalled`] with the position, so
//! that a dead claimant never keeps a blocking caller asleep for ever. A
//! timeout that ends sooner ends the call with [`BlockError::TimedOut`],
//! stall or not: `Stalled` from a blocking call always means "no progress
//! there for `STALL_PATIENCE`", never a claimant that was merely
//! descheduled for a few milliseconds. (A caller that waits in short
//! slices learns of a stall from `try_*`, which reports it after its spin
//! limit, or by passing a timeout of at least `STALL_PATIENCE`.) After
//! pushes or pops made with the
//! non-blocking calls, wake sleepers with [`MpmcRing::wake_consumers`] /
//! [`MpmcRing::wake_producers`].
//!
//! Why every sleeper is woken: a notification clears the word's `WAITING`
//! bit, so a sleeper that a single wake left asleep would not be woken by
//! the next notification, which sees the bit clear. Woken consumers race
//! for the element; the losers announce themselves again and park.
//!
//! # Handles
//!
//! There are no roles to claim: an [`MpmcRing`] (cheap to copy, `Send +
//! Sync`) pushes and pops. Nothing in the ring belongs to one participant
//! except, briefly, the slot it has claimed; a participant that dies leaves
//! only that slot behind (see below), so there is nothing for a holder id
//! to reclaim, and recording claimants would cost a shared store per
//! operation.
//!
//! # Users
//!
//! What the ring does record, off the fast path, is *who uses it*, so that
//! an inspector can tell a ring in use from one every user has left (the
//! header's creator pid alone cannot: the creator may exit while others go
//! on). The users table is [`USER_WORDS`] words on the header's line, each
//! holding a holder id (a pid on Linux) or 0, and a sticky overflow word.
//! It is advisory: pushes and pops never look at it, and a participant that
//! never joins works as well as one that does.
//!
//! - [`MpmcRing::join`] records a holder in the first word that is free or
//!   whose holder the caller's `is_alive` judges dead (so a crashed user's
//!   word is taken over by the next joiner), with a compare-exchange, so
//!   two joiners never get the same word. When every word holds a live
//!   user, it sets the overflow word and returns [`UserSlot::Overflow`]:
//!   the caller still uses the ring, unrecorded, and the table no longer
//!   tells the whole story (an inspector must then treat the ring as in
//!   use for good).
//! - [`MpmcRing::leave`] frees the word only if it still holds the holder,
//!   so a user wrongly judged dead and replaced never frees its
//!   successor's word.
//! - [`MpmcRing::users`] (and [`status`], for an inspector that does not
//!   know `T`) reads the table.
//!
//! A user that joins twice (two channels in one process) holds two words.
//! Ids are judged by the caller, and pids are reused: a word whose dead
//! holder's pid now names an unrelated live process reads as a live user,
//! which keeps the ring "in use" (the safe direction). A dead holder's pid
//! reused by a process that joins in the instant between another joiner's
//! liveness check and its compare-exchange may lose its word to that
//! joiner; that needs a pid recycled within microseconds.
//!
//! # Crashed and hostile peers
//!
//! A producer killed between claiming a position and publishing it leaves
//! that slot at `seq = p`. Nothing else is affected: other producers keep
//! claiming later positions and consumers keep the elements already
//! published before `p`, but consumers stall *at* `p` — a pop reports
//! [`PopError::Stalled`] with `position: p` once it has spun its limit
//! without progress — and the ring fills behind it. A consumer killed
//! between claiming and releasing leaves its slot at `seq = p + 1`; the
//! ring keeps working until producers come round to that slot a lap later,
//! where a push reports [`PushError::Stalled`] with `position: p`.
//!
//! The way out is [`MpmcRing::skip_stalled`]`(p)`: it consumes a stalled
//! producer's position as a hole (the element is lost) or frees a stalled
//! consumer's slot, and the ring moves on. Call it only when the claimant
//! is known to be dead (a supervisor reaped it) or after a timeout no live
//! process could exceed between two instructions (a descheduled process can
//! take tens of milliseconds; allow seconds). Skipping a *live* claimant
//! corrupts contents — an element lost or a junk value delivered — but never
//! bounds: the skipped claimant finishes by writing its slot, as it would
//! have anyway.
//!
//! Everything read from shared memory is untrusted: every position is masked
//! with `capacity - 1` before it addresses a slot, and every loop is bounded
//! (a spin limit for waiting on a claimant, [`MAX_LOST_RACES`] for retries
//! after other participants move an index). A sequence word that claims a
//! slot is further along than an index that has not moved makes the
//! operation fail with `Corrupt`; other garbage reads as `Full`, `Empty`,
//! `Stalled` or junk values, never as an out-of-bounds access.
//!
//! # Wrapping (the ABA bound)
//!
//! Positions and sequence words are 32 bits and wrap. A push or pop loads an
//! index, checks the slot, then compare-exchanges the index; should a
//! participant be suspended between the check and the compare-exchange for
//! exactly a multiple of 2³² other operations (about 43 s of back-to-back
//! operations at 100 M/s, ending on the very same count), its
//! compare-exchange would succeed on a slot it did not check, and it would
//! overwrite or re-read one element. Contents only, never bounds; the same
//! bound as any ring with 32-bit indices, chosen because a futex word and a
//! 32-bit target have nothing wider.

use core::fmt;
use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use core::ptr::NonNull;
use core::time::Duration;

use crate::foundation::atomics::{init_atomic, spin_loop, AtomicU32, Ordering, UnsafeCell};
use crate::foundation::layout::{
    AttachError, Fingerprint, Header, HeaderFields, HeaderSnapshot, Kind,
};
use crate::foundation::plain::Plain;
use crate::foundation::region::Region;
use crate::ring::BlockError;
use crate::ring::{
    check_ring_header, ring_bytes, CacheLine, Corrupt, IndexLine, InitError, RingConfig, RoleError,
};
use crate::wait::blocking::Blocking;
use crate::wait::{Deadline, Expired, Wait};

/// How many times [`MpmcRing::try_push`] and [`MpmcRing::try_pop`] re-check
/// a slot that another participant has claimed but not finished before they
/// report `Stalled`. An honest claimant finishes within a few polls unless it
/// is descheduled.
pub const DEFAULT_SPIN_LIMIT: u32 = 128;

/// How many times one operation retries after other participants moved the
/// index under it (a lost compare-exchange, a stale index) before it gives
/// up with `Stalled`. Each retry means someone else made progress, so an
/// honest ring never gets near it; it bounds the loop against a peer that
/// rewrites the indices forever. The crate's one retry budget,
/// [`crate::wait::MAX_LOST_RACES`].
pub const MAX_LOST_RACES: u32 = crate::wait::MAX_LOST_RACES;

/// How long [`MpmcRing::send`] and [`MpmcRing::recv`] wait on one position
/// that another participant claimed and has not finished before they
/// report [`BlockError::Stalled`]; a call whose timeout ends sooner reports
/// [`BlockError::TimedOut`] instead. A live claimant finishes within
/// microseconds unless it is descheduled; a dead one never does.
pub const STALL_PATIENCE: Duration = Duration::from_secs(1);

/// How many users the users table records (see [Users](self#users)): the
/// words that fit beside the 64-byte header on its 128-byte line, less one
/// for the overflow flag.
pub const USER_WORDS: usize = 15;

/// The header and the users table: read-mostly, written on join and leave.
#[repr(C)]
struct Meta {
    header: Header,
    /// Holder ids of the users (0 = free).
    users: [AtomicU32; USER_WORDS],
    /// Nonzero once a join found no word to take: the table is incomplete.
    overflow: AtomicU32,
}

/// The fixed part of the ring; slots follow it.
#[repr(C)]
struct Control {
    meta: CacheLine<Meta>,
    /// The tail, and the event word consumers park on.
    tail: CacheLine<IndexLine>,
    /// The head, and the event word producers park on.
    head: CacheLine<IndexLine>,
}

/// One slot: the sequence word, then the value.
#[repr(C)]
struct Slot<T> {
    seq: AtomicU32,
    value: UnsafeCell<T>,
}

#[cfg(not(loom))]
const _: () = {
    use core::mem::offset_of;
    use static_assertions::const_assert_eq;
    const_assert_eq!(size_of::<Control>(), 384);
    const_assert_eq!(align_of::<Control>(), 128);
    const_assert_eq!(offset_of!(Control, meta), 0);
    const_assert_eq!(offset_of!(Meta, header), 0);
    const_assert_eq!(offset_of!(Meta, users), 64);
    const_assert_eq!(offset_of!(Meta, overflow), 124);
    const_assert_eq!(size_of::<Meta>(), 128);
    const_assert_eq!(offset_of!(Control, tail), 128);
    const_assert_eq!(offset_of!(Control, head), 256);
    const_assert_eq!(offset_of!(Slot<u8>, seq), 0);
    const_assert_eq!(offset_of!(Slot<u8>, value), 4);
    const_assert_eq!(size_of::<Slot<u8>>(), 8);
    const_assert_eq!(size_of::<Slot<u32>>(), 8);
    const_assert_eq!(offset_of!(Slot<u64>, value), 8);
    const_assert_eq!(size_of::<Slot<u64>>(), 16);
    const_assert_eq!(size_of::<Slot<[u8; 60]>>(), 64);
};

/// Where the slots start, for element type `T`.
const fn slots_offset<T>() -> usize {
    crate::ring::slots_offset(size_of::<Control>(), align_of::<Slot<T>>())
}

/// The alignment the region must have.
const fn region_align<T>() -> usize {
    crate::ring::region_align(align_of::<Control>(), align_of::<Slot<T>>())
}

/// Why a push did nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushError {
    /// Every slot holds an element: consumers have not caught up.
    Full,
    /// The slot for the next push still holds the element of `position`
    /// (a lap earlier): a consumer claimed it and has not released it within
    /// the spin limit. Transient if that consumer is descheduled; permanent
    /// if it died, until [`MpmcRing::skip_stalled`]`(position)`. Also
    /// reported when the operation lost [`MAX_LOST_RACES`] races in a row.
    Stalled {
        /// The stalled element's position.
        position: u32,
    },
    /// See [`Corrupt`].
    Corrupt,
}

/// Why a pop returned nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PopError {
    /// No element has been claimed by a producer beyond the head.
    Empty,
    /// A producer claimed `position`, the next to pop, and has not published
    /// it within the spin limit. Transient if that producer is descheduled;
    /// permanent if it died, until [`MpmcRing::skip_stalled`]`(position)`.
    /// Also reported when the operation lost [`MAX_LOST_RACES`] races in a
    /// row.
    Stalled {
        /// The stalled position.
        position: u32,
    },
    /// See [`Corrupt`].
    Corrupt,
}

/// [`MpmcRing::skip_stalled`] found nothing stalled at `position`: the
/// claimant finished, someone else skipped it, or the position is not where
/// the ring waits. Nothing was changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotStalled {
    /// The position asked about.
    pub position: u32,
}

impl fmt::Display for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full => f.write_str("ring full"),
            Self::Stalled { position } => write!(
                f,
                "ring stalled: the consumer of position {position} has not released its slot"
            ),
            Self::Corrupt => Corrupt.fmt(f),
        }
    }
}

impl fmt::Display for PopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("ring empty"),
            Self::Stalled { position } => write!(
                f,
                "ring stalled: the producer of position {position} has not published it"
            ),
            Self::Corrupt => Corrupt.fmt(f),
        }
    }
}

impl fmt::Display for NotStalled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "position {} is not stalled", self.position)
    }
}

impl core::error::Error for PushError {}
impl core::error::Error for PopError {}
impl core::error::Error for NotStalled {}

/// Which index an operation claims on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Push,
    Pop,
}

/// Why no position could be claimed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Blocked {
    /// Full (push) or empty (pop).
    Idle,
    /// A peer's claim did not finish within the limit.
    Stalled(u32),
    /// See [`Corrupt`].
    Corrupt,
}

impl From<Blocked> for PushError {
    fn from(b: Blocked) -> Self {
        match b {
            Blocked::Idle => Self::Full,
            Blocked::Stalled(position) => Self::Stalled { position },
            Blocked::Corrupt => Self::Corrupt,
        }
    }
}

impl From<Blocked> for PopError {
    fn from(b: Blocked) -> Self {
        match b {
            Blocked::Idle => Self::Empty,
            Blocked::Stalled(position) => Self::Stalled { position },
            Blocked::Corrupt => Self::Corrupt,
        }
    }
}

/// A multi-producer multi-consumer ring in caller memory. Cheap to copy; it
/// owns nothing. Every copy, in every process, may push and pop.
pub struct MpmcRing<'a, T> {
    control: NonNull<Control>,
    slots: NonNull<Slot<T>>,
    capacity: u32,
    _memory: PhantomData<(&'a Control, T)>,
}

impl<T> Clone for MpmcRing<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for MpmcRing<'_, T> {}

impl<T> fmt::Debug for MpmcRing<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MpmcRing")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

// SAFETY: all shared state is reached through atomics, and a slot's value is
// accessed only by the participant whose claim the slot's sequence word
// admits (see the protocol in the module docs).
unsafe impl<T: Plain> Send for MpmcRing<'_, T> {}
// SAFETY: as above; every operation takes `&self` and claims what it touches.
unsafe impl<T: Plain> Sync for MpmcRing<'_, T> {}

impl<'a, T: Plain> MpmcRing<'a, T> {
    /// Bytes a ring of `capacity` elements of `T` needs, header included.
    /// The capacity must be a power of two from 2 to
    /// [`crate::ring::MAX_CAPACITY`] (one slot cannot tell "full" from "free
    /// for the next lap").
    pub const fn bytes_needed(capacity: u32) -> Result<usize, InitError> {
        ring_bytes(capacity, 2, size_of::<Slot<T>>(), slots_offset::<T>())
    }

    /// The alignment a region for this ring must have (128, or more for an
    /// over-aligned `T`).
    pub const fn region_align() -> usize {
        region_align::<T>()
    }

    /// Creates an empty ring in `region`.
    ///
    /// The creator owns the memory until this returns: nobody may attach
    /// before (attachers see `NotReady` and retry), and re-initialising a
    /// ring that others use is a protocol error (they will see junk).
    pub fn init(region: Region<'a>, config: RingConfig) -> Result<Self, InitError> {
        let ring = Self::begin_init(region, config)?;
        ring.publish_init(config);
        Ok(ring)
    }

    /// [`MpmcRing::init`]'s first half, for loom models of the init/attach
    /// handshake (which attach between the halves); not in the API outside
    /// `cfg(loom)`.
    #[cfg(loom)]
    pub fn init_begin(region: Region<'a>, config: RingConfig) -> Result<Self, InitError> {
        Self::begin_init(region, config)
    }

    /// [`MpmcRing::init`]'s second half, for loom models (see
    /// [`MpmcRing::init_begin`]); not in the API outside `cfg(loom)`.
    #[cfg(loom)]
    pub fn init_publish(&self, config: RingConfig) {
        self.publish_init(config)
    }

    /// First half of [`MpmcRing::init`]: checks the region, marks the
    /// header `INITIALISING`, zeroes the users table and the indices and
    /// gives slot `i` the
    /// sequence `i` (under loom: constructs every atomic and cell).
    fn begin_init(region: Region<'a>, config: RingConfig) -> Result<Self, InitError> {
        let total = Self::bytes_needed(config.capacity)?;
        let base = region.check(total, region_align::<T>())?;
        let control = base.cast::<Control>();
        // SAFETY: the region holds `total` aligned bytes, so the slots start
        // inside it, at an offset aligned for Slot<T>.
        let slots = unsafe { base.add(slots_offset::<T>()) }.cast::<Slot<T>>();
        let c = control.as_ptr();
        // SAFETY: `c` points to writable memory for a Control (checked
        // above); the creator owns it until publication.
        unsafe {
            use core::ptr::addr_of_mut;
            Header::begin(addr_of_mut!((*c).meta.0.header));
            for i in 0..USER_WORDS {
                init_atomic(addr_of_mut!((*c).meta.0.users[i]), 0);
            }
            init_atomic(addr_of_mut!((*c).meta.0.overflow), 0);
            init_atomic(addr_of_mut!((*c).tail.0.index), 0);
            init_atomic(addr_of_mut!((*c).tail.0.wake), 0);
            init_atomic(addr_of_mut!((*c).head.0.index), 0);
            init_atomic(addr_of_mut!((*c).head.0.wake), 0);
        }
        for i in 0..config.capacity {
            // SAFETY: slot `i` lies inside the region (i < capacity), and the
            // creator owns it until publication.
            unsafe {
                let slot = slots.as_ptr().add(i as usize);
                init_atomic(core::ptr::addr_of_mut!((*slot).seq), i);
                // Under loom the cell must be constructed before use; every
                // bit pattern (zeroes included) is a valid `T: Plain`.
                #[cfg(loom)]
                core::ptr::addr_of_mut!((*slot).value).write(UnsafeCell::new(core::mem::zeroed()));
            }
        }
        Ok(Self {
            control,
            slots,
            capacity: config.capacity,
            _memory: PhantomData,
        })
    }

    /// Second half of [`MpmcRing::init`]: records the configuration and
    /// publishes the ring as ready (`Release`).
    fn publish_init(&self, config: RingConfig) {
        let fields = HeaderFields {
            kind: Kind::Mpmc,
            element: Fingerprint::of::<T>(config.type_id),
            capacity: self.capacity,
            creator_pid: config.creator_pid,
            total_len: Self::bytes_needed(self.capacity).unwrap_or(0) as u64,
        };
        // SAFETY: begin_init ran on this memory.
        unsafe {
            Header::publish(
                core::ptr::addr_of_mut!((*self.control.as_ptr()).meta.0.header),
                &fields,
            )
        };
    }

    /// Attaches to a ring that some process initialised in `region`.
    ///
    /// Checks the header against `Kind::Mpmc` and
    /// `Fingerprint::of::<T>(type_id)`, the capacity, and that the region
    /// holds the whole ring. Returns [`AttachError::NotReady`] while the
    /// creator is still initialising: retry until a deadline of your choosing.
    pub fn attach(region: Region<'a>, type_id: u64) -> Result<Self, AttachError> {
        let base = region.check(size_of::<Control>(), region_align::<T>())?;
        let control = base.cast::<Control>();
        // SAFETY: the region holds an aligned Control; all access is atomic.
        let snap = unsafe { control.as_ref() }.meta.header.snapshot();
        let capacity = check_ring_header(
            &snap,
            Kind::Mpmc,
            Fingerprint::of::<T>(type_id),
            Self::bytes_needed,
            &region,
            region_align::<T>(),
        )?;
        // SAFETY: the region holds `total` bytes, so the slots are inside it.
        let slots = unsafe { base.add(slots_offset::<T>()) }.cast::<Slot<T>>();
        Ok(Self {
            control,
            slots,
            capacity,
            _memory: PhantomData,
        })
    }

    /// Appends `value`, or fails without blocking: [`PushError::Full`], or
    /// [`PushError::Stalled`] after [`DEFAULT_SPIN_LIMIT`] polls of a slot a
    /// consumer is still reading.
    #[inline]
    pub fn try_push(&self, value: T) -> Result<(), PushError> {
        self.push_with_spin_limit(value, DEFAULT_SPIN_LIMIT)
    }

    /// [`MpmcRing::try_push`] with a chosen number of polls before it reports
    /// `Stalled` (0: report at once).
    #[inline]
    pub fn push_with_spin_limit(&self, value: T, spin_limit: u32) -> Result<(), PushError> {
        let (pos, _) = self.claim(Side::Push, 1, spin_limit)?;
        self.write_and_publish(pos, value);
        Ok(())
    }

    /// Appends the longest prefix of `items` that finds free slots, claiming
    /// them with one compare-exchange; returns how many (at least 1 unless
    /// `items` is empty). Fails as [`MpmcRing::try_push`] does when not even
    /// one fits.
    pub fn push_slice(&self, items: &[T]) -> Result<usize, PushError> {
        if items.is_empty() {
            return Ok(0);
        }
        let want = u32::try_from(items.len()).unwrap_or(u32::MAX);
        let (pos, n) = self.claim(Side::Push, want, DEFAULT_SPIN_LIMIT)?;
        for (i, item) in items[..n as usize].iter().enumerate() {
            self.write_and_publish(pos.wrapping_add(i as u32), *item);
        }
        Ok(n as usize)
    }

    /// Removes the oldest element, or fails without blocking:
    /// [`PopError::Empty`], or [`PopError::Stalled`] after
    /// [`DEFAULT_SPIN_LIMIT`] polls of a position whose producer has not
    /// published it.
    #[inline]
    pub fn try_pop(&self) -> Result<T, PopError> {
        self.pop_with_spin_limit(DEFAULT_SPIN_LIMIT)
    }

    /// [`MpmcRing::try_pop`] with a chosen number of polls before it reports
    /// `Stalled` (0: report at once).
    #[inline]
    pub fn pop_with_spin_limit(&self, spin_limit: u32) -> Result<T, PopError> {
        let (pos, _) = self.claim(Side::Pop, 1, spin_limit)?;
        Ok(self.take_and_release(pos))
    }

    /// Removes up to `out.len()` of the oldest elements into `out`, in order,
    /// claiming the published run from the head with one compare-exchange;
    /// returns how many (at least 1 unless `out` is empty). Fails as
    /// [`MpmcRing::try_pop`] does when not even one is ready.
    pub fn pop_into(&self, out: &mut [T]) -> Result<usize, PopError> {
        if out.is_empty() {
            return Ok(0);
        }
        let want = u32::try_from(out.len()).unwrap_or(u32::MAX);
        let (pos, n) = self.claim(Side::Pop, want, DEFAULT_SPIN_LIMIT)?;
        for (i, o) in out[..n as usize].iter_mut().enumerate() {
            *o = self.take_and_release(pos.wrapping_add(i as u32));
        }
        Ok(n as usize)
    }

    /// Appends `value`, waiting while the ring is full (spin, yield, then
    /// park until a consumer frees a slot) for at most `timeout` (`None`: no
    /// limit); wakes parked consumers. Fails with [`BlockError::Stalled`]
    /// when the next slot stays claimed by an unfinished consumer for
    /// [`STALL_PATIENCE`] (see [Blocking](self#blocking)), with
    /// [`BlockError::TimedOut`] when the timeout ends first (stall or not),
    /// and with [`BlockError::Corrupt`].
    pub fn send<W: Wait>(
        &self,
        value: T,
        blocking: &Blocking<W>,
        timeout: Option<Duration>,
    ) -> Result<(), BlockError> {
        let c = self.control();
        self.block(&c.head.wake, blocking, timeout, || {
            // No spin inside the claim: `block` spins, and a stall must
            // reach it to be waited for with the right bound.
            let (pos, _) = self.claim(Side::Push, 1, 0)?;
            self.write_and_publish(pos, value);
            Ok(())
        })?;
        blocking.notify(&c.tail.wake);
        Ok(())
    }

    /// Removes the oldest element, waiting while the ring is empty (spin,
    /// yield, then park until a producer publishes) for at most `timeout`
    /// (`None`: no limit); wakes parked producers. Fails with
    /// [`BlockError::Stalled`] when the next position stays claimed by an
    /// unfinished producer for [`STALL_PATIENCE`] (see
    /// [Blocking](self#blocking)), with [`BlockError::TimedOut`] when the
    /// timeout ends first (stall or not), and with [`BlockError::Corrupt`].
    pub fn recv<W: Wait>(
        &self,
        blocking: &Blocking<W>,
        timeout: Option<Duration>,
    ) -> Result<T, BlockError> {
        let c = self.control();
        let value = self.block(&c.tail.wake, blocking, timeout, || {
            let (pos, _) = self.claim(Side::Pop, 1, 0)?;
            Ok(self.take_and_release(pos))
        })?;
        blocking.notify(&c.head.wake);
        Ok(value)
    }

    /// Runs `attempt` with `blocking` until it succeeds, parking on `word`
    /// while it finds the ring idle (full or empty), and for at most
    /// [`STALL_PATIENCE`] at a time while it finds one position stalled:
    /// `Stalled` only when a run waited out that whole patience, `TimedOut`
    /// when the caller's deadline ends a run first.
    ///
    /// Each change between idle and stalled (or from one stalled position
    /// to another) starts a new [`Blocking::run`] with the bound that suits
    /// it; every such change is progress by some other participant. Under
    /// loom a stall is waited for without the patience bound (see below).
    fn block<W: Wait, R>(
        &self,
        word: &AtomicU32,
        blocking: &Blocking<W>,
        timeout: Option<Duration>,
        mut attempt: impl FnMut() -> Result<R, Blocked>,
    ) -> Result<R, BlockError> {
        /// How one run ended, short of success.
        enum Ended {
            Expired,
            Changed(Blocked),
        }
        impl From<Expired> for Ended {
            fn from(_: Expired) -> Self {
                Self::Expired
            }
        }
        let mut deadline = Deadline::after(&blocking.wait, timeout);
        let mut limit = timeout;
        // The stalled position this run waits on; `None`: waiting while idle.
        let mut stalled: Option<u32> = None;
        // Whether this run's limit is the stall patience (rather than the
        // caller's deadline): only a run that waited out the whole
        // patience on one position may report it `Stalled`.
        let mut patience_bound = false;
        loop {
            let ended = blocking.run(word, limit, || match attempt() {
                Ok(r) => Ok(Some(r)),
                Err(Blocked::Idle) if stalled.is_none() => Ok(None),
                Err(Blocked::Stalled(p)) if stalled == Some(p) => Ok(None),
                Err(other) => Err(Ended::Changed(other)),
            });
            stalled = match ended {
                Ok(r) => return Ok(r),
                Err(Ended::Expired) => {
                    return Err(match stalled {
                        // The same position, unfinished, for the patience.
                        Some(position) if patience_bound => BlockError::Stalled { position },
                        // The caller's timeout ran out first.
                        _ => BlockError::TimedOut,
                    });
                }
                Err(Ended::Changed(Blocked::Corrupt)) => return Err(BlockError::Corrupt),
                Err(Ended::Changed(Blocked::Idle)) => None,
                Err(Ended::Changed(Blocked::Stalled(p))) => Some(p),
            };
            let left = deadline.remaining(&blocking.wait)?;
            (limit, patience_bound) = match (stalled, left) {
                // Loom has no clock, and its timed waits never sleep: there
                // a stall is waited for like an idle ring, so the models
                // check that the claimant's notification wakes the waiter.
                (Some(_), _) if cfg!(loom) => (left, false),
                // Less time left than the patience: the stall cannot be
                // judged within this call; its end is a plain timeout.
                (Some(_), Some(l)) if l < STALL_PATIENCE => (left, false),
                (Some(_), _) => (Some(STALL_PATIENCE), true),
                (None, _) => (left, false),
            };
        }
    }

    /// Moves the ring past a claim whose owner will never finish it, at the
    /// `position` a `Stalled` error named:
    ///
    /// - a producer claimed `position` and has not published it, and
    ///   consumers wait there: the position is consumed as a hole (its
    ///   element, never written, is lost). Should the producer publish after
    ///   all in the instant before the hole is made, its element is
    ///   returned instead, as a pop would: `Ok(Some(value))`.
    /// - a consumer claimed `position` and has not released its slot: the
    ///   slot is released for the next lap (the element is lost unless the
    ///   consumer got it).
    ///
    /// Returns `Ok(None)` when it skipped, and [`NotStalled`] (changing
    /// nothing) when `position` is in neither state — the claimant finished
    /// or someone else skipped it first, so racing skippers are harmless.
    ///
    /// Only skip a claimant known to be dead, or one stalled far longer than
    /// any live process could be (see the module docs): a live one that is
    /// skipped goes on to write its slot, losing or garbling an element.
    pub fn skip_stalled(&self, position: u32) -> Result<Option<T>, NotStalled> {
        let c = self.control();
        let slot = self.slot(position);
        let not_stalled = Err(NotStalled { position });
        let seq = slot.seq.load(Ordering::Acquire);
        if seq == position {
            // Free for `position`: stalled only if a producer has claimed it.
            let claimed = c.tail.index.load(Ordering::Acquire).wrapping_sub(position);
            if claimed == 0 || claimed > self.capacity {
                return not_stalled;
            }
            // Take the consumers' side of `position`; fails unless they are
            // all waiting there.
            let next = position.wrapping_add(1);
            if c.head
                .index
                .compare_exchange(position, next, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
            {
                return not_stalled;
            }
            // Only the claimant can still change `seq`: from `position` to
            // `position + 1`. Release the slot to the next lap unless it did.
            let lap = position.wrapping_add(self.capacity);
            match slot
                .seq
                .compare_exchange(position, lap, Ordering::Release, Ordering::Acquire)
            {
                Ok(_) => Ok(None),
                Err(now) if now == next => Ok(Some(self.take_and_release(position))),
                Err(_) => {
                    // Garbage: give the slot to the next lap regardless.
                    slot.seq.store(lap, Ordering::Release);
                    Ok(None)
                }
            }
        } else if seq == position.wrapping_add(1) {
            // Published: stalled only if a consumer has claimed it.
            let taken = c.head.index.load(Ordering::Acquire).wrapping_sub(position);
            if taken == 0 || taken > self.capacity {
                return not_stalled;
            }
            // A late release by the claimant stores the same value: harmless.
            slot.seq
                .compare_exchange(
                    seq,
                    position.wrapping_add(self.capacity),
                    Ordering::Release,
                    Ordering::Relaxed,
                )
                .map(|_| None)
                .map_err(|_| NotStalled { position })
        } else {
            not_stalled
        }
    }

    /// Claims the next position to push and abandons it, as a producer
    /// killed between claim and publish would: for tests of stall recovery.
    #[doc(hidden)]
    pub fn abandon_push(&self) -> Result<u32, PushError> {
        Ok(self.claim(Side::Push, 1, 0)?.0)
    }

    /// Claims the next position to pop and abandons it, as a consumer killed
    /// between claim and release would: for tests of stall recovery.
    #[doc(hidden)]
    pub fn abandon_pop(&self) -> Result<u32, PopError> {
        Ok(self.claim(Side::Pop, 1, 0)?.0)
    }

    /// Claims up to `max` consecutive positions that are ready for `side`
    /// (free slots to push, published ones to pop), returning the first and
    /// how many (at least 1).
    ///
    /// Every loop here is bounded: polling a peer's unfinished claim by
    /// `spin_limit`, retries after others moved the index by
    /// [`MAX_LOST_RACES`], the run of ready slots by the capacity.
    #[inline]
    fn claim(&self, side: Side, max: u32, spin_limit: u32) -> Result<(u32, u32), Blocked> {
        let c = self.control();
        let cap = self.capacity;
        // `lag`: a slot is ready for position `p` when its seq is `p + lag`.
        let (mine, theirs, lag) = match side {
            Side::Push => (&c.tail.index, &c.head.index, 0),
            Side::Pop => (&c.head.index, &c.tail.index, 1),
        };
        let max = max.min(cap);
        let mut pos = mine.load(Ordering::Acquire);
        let mut spins = 0;
        let mut races = 0;
        loop {
            // Acquire: a ready slot's previous owner finished with it (wrote
            // the value, or read it) before its Release store of `seq`.
            let seq = self.slot(pos).seq.load(Ordering::Acquire);
            let diff = seq.wrapping_sub(pos.wrapping_add(lag)) as i32;
            if diff == 0 {
                let mut n = 1;
                while n < max
                    && self.slot(pos.wrapping_add(n)).seq.load(Ordering::Acquire)
                        == pos.wrapping_add(n + lag)
                {
                    n += 1;
                }
                // The checked slots stay ready until someone claims their
                // positions, which needs this index to move past them first.
                // Slots change hands through `seq` alone; AcqRel here (and
                // Acquire on every index load) only makes the indices tell a
                // consistent story to the range checks below: whoever reads
                // an index also sees every index move that led to it.
                match mine.compare_exchange(
                    pos,
                    pos.wrapping_add(n),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return Ok((pos, n)),
                    Err(now) => pos = now,
                }
            } else {
                let now = mine.load(Ordering::Acquire);
                if now != pos {
                    pos = now; // our index was stale: someone claimed `pos`
                } else if diff > 0 {
                    // The slot has moved past `pos`, which only a claim of
                    // `pos` could do; that claim would have moved the index
                    // (it happened before the seq we acquired).
                    return Err(Blocked::Corrupt);
                } else {
                    // The slot is still a lap behind `pos`.
                    let other = theirs.load(Ordering::Acquire);
                    let (idle, busy, stalled_at) = match side {
                        // `used` elements are claimed for pushing or popping.
                        Side::Push => {
                            let used = pos.wrapping_sub(other);
                            (used == cap, used < cap, pos.wrapping_sub(cap))
                        }
                        // `ahead` positions are claimed by producers.
                        Side::Pop => {
                            let ahead = other.wrapping_sub(pos);
                            (ahead == 0, ahead <= cap, pos)
                        }
                    };
                    if idle {
                        return Err(Blocked::Idle);
                    }
                    if busy {
                        // A peer claimed the slot and is not done with it.
                        if spins >= spin_limit {
                            return Err(Blocked::Stalled(stalled_at));
                        }
                        spins += 1;
                        spin_loop();
                        continue;
                    }
                    // The other index is out of range for `pos`: fine only if
                    // `pos` went stale meanwhile.
                    let again = mine.load(Ordering::Acquire);
                    if again == pos {
                        return Err(Blocked::Corrupt);
                    }
                    pos = again;
                }
            }
            // Someone else moved the index: progress, so the spin starts over.
            spins = 0;
            races += 1;
            if races > MAX_LOST_RACES {
                return Err(Blocked::Stalled(pos));
            }
        }
    }

    /// Writes the value of claimed position `pos` and publishes it.
    #[inline(always)]
    fn write_and_publish(&self, pos: u32, value: T) {
        let slot = self.slot(pos);
        // SAFETY: claim() gave us `pos`, whose slot was free (its previous
        // consumer released it before the seq we acquired); no one else
        // touches the value until our Release store below.
        slot.value
            .with_mut(|p| unsafe { crate::ring::shared_copy::store(p, value) });
        slot.seq.store(pos.wrapping_add(1), Ordering::Release);
    }

    /// Reads the value of claimed position `pos` and frees its slot for the
    /// next lap.
    #[inline(always)]
    fn take_and_release(&self, pos: u32) -> T {
        let slot = self.slot(pos);
        // SAFETY: claim() gave us `pos`, whose slot was published (its
        // producer wrote the value before the seq we acquired); no producer
        // writes it until our Release store below.
        let value = slot
            .value
            .with(|p| unsafe { crate::ring::shared_copy::load(p) });
        slot.seq
            .store(pos.wrapping_add(self.capacity), Ordering::Release);
        value
    }
}

impl<T> MpmcRing<'_, T> {
    /// The header as it is now (for inspectors).
    pub fn header(&self) -> HeaderSnapshot {
        self.control().meta.header.snapshot()
    }

    /// Number of slots.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Records `holder` (a nonzero id, a pid on Linux) as a user of the
    /// ring, in the first word of the users table that is free or whose
    /// holder `is_alive` says is dead (see [Users](self#users)); returns
    /// where, for [`MpmcRing::leave`].
    ///
    /// When every word holds a live user (`is_alive` is asked once for each
    /// word found occupied), it sets the sticky overflow flag and returns
    /// [`UserSlot::Overflow`]: the caller may use the ring all the same,
    /// but the table cannot record it, so inspectors treat the ring as in
    /// use from then on. Fails only for holder 0 ([`RoleError::ZeroHolder`]).
    /// Bounded: one pass over the [`USER_WORDS`] words.
    pub fn join(&self, holder: u32, is_alive: impl Fn(u32) -> bool) -> Result<UserSlot, RoleError> {
        if holder == 0 {
            return Err(RoleError::ZeroHolder);
        }
        let meta = &self.control().meta;
        for (index, word) in meta.users.iter().enumerate() {
            // Free or dead: claimed with a compare-exchange, so a racing
            // joiner that got the word first makes this one move on. A
            // word freed under the exchange (its holder left) gets one
            // more try.
            let taken = match crate::ring::role::take_over(word, holder, &is_alive) {
                Err(RoleError::Taken { holder: 0 }) => crate::ring::role::claim(word, holder),
                other => other,
            };
            if taken.is_ok() {
                return Ok(UserSlot::Word(index));
            }
        }
        meta.overflow.store(1, Ordering::Release);
        Ok(UserSlot::Overflow)
    }

    /// Frees the users word `slot` if it still holds `holder`; returns
    /// whether it did. A holder replaced meanwhile (judged dead by a
    /// joiner) frees nothing, and [`UserSlot::Overflow`] (or a word index
    /// out of range) has nothing to free: the overflow flag stays set.
    pub fn leave(&self, slot: UserSlot, holder: u32) -> bool {
        match slot {
            UserSlot::Word(index) => self
                .control()
                .meta
                .users
                .get(index)
                .is_some_and(|word| holder != 0 && crate::ring::role::release(word, holder)),
            UserSlot::Overflow => false,
        }
    }

    /// The users table as it is now (see [Users](self#users)).
    pub fn users(&self) -> Users {
        Users::read(&self.control().meta)
    }

    /// Positions claimed by producers and not yet by consumers, at some
    /// moment during the call: it counts elements still being written and
    /// omits those being read. A snapshot, stale as soon as it returns;
    /// clamped to the capacity (a corrupt index reads as full).
    pub fn len(&self) -> u32 {
        let c = self.control();
        // Head first: the tail read after it is at least as new, so an
        // honest ring never reads as holding a negative count.
        let head = c.head.index.load(Ordering::Acquire);
        let tail = c.tail.index.load(Ordering::Acquire);
        tail.wrapping_sub(head).min(self.capacity)
    }

    /// Wakes the consumers parked in [`MpmcRing::recv`], if any; returns
    /// whether there were (a wake syscall was made). [`MpmcRing::send`]
    /// does this itself; call it after [`MpmcRing::try_push`] or
    /// [`MpmcRing::push_slice`] when consumers may block. Costs one
    /// `SeqCst` fence and one load when nobody sleeps.
    #[inline]
    pub fn wake_consumers(&self, wait: &impl Wait) -> bool {
        crate::wait::event_word::notify(&self.control().tail.wake, wait)
    }

    /// Wakes the producers parked in [`MpmcRing::send`], if any; returns
    /// whether there were (a wake syscall was made). [`MpmcRing::recv`]
    /// does this itself; call it after [`MpmcRing::try_pop`] or
    /// [`MpmcRing::pop_into`] when producers may block.
    #[inline]
    pub fn wake_producers(&self, wait: &impl Wait) -> bool {
        crate::wait::event_word::notify(&self.control().head.wake, wait)
    }

    /// Whether [`MpmcRing::len`] is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether [`MpmcRing::len`] is the capacity.
    pub fn is_full(&self) -> bool {
        self.len() == self.capacity
    }

    fn control(&self) -> &Control {
        // SAFETY: `control` points to a live, initialised Control for 'a;
        // every field is atomic, so a shared reference is sound.
        unsafe { self.control.as_ref() }
    }

    /// The slot of wrapping position `pos`. The position is masked here, and
    /// only here: no value from shared memory reaches a pointer otherwise.
    #[inline(always)]
    fn slot(&self, pos: u32) -> &Slot<T> {
        let i = (pos & (self.capacity - 1)) as usize;
        // SAFETY: i < capacity, and the region holds `capacity` slots; the
        // seq is atomic and the value is reached only through its cell.
        unsafe { &*self.slots.as_ptr().add(i) }
    }
}

/// Where [`MpmcRing::join`] recorded a user; give it back to
/// [`MpmcRing::leave`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserSlot {
    /// Recorded in word `index` of the users table (below [`USER_WORDS`]).
    Word(usize),
    /// Every word held a live user: recorded only by the sticky overflow
    /// flag, with nothing to free on leaving.
    Overflow,
}

/// The users table of an MPMC ring, copied out at some moment (see
/// [Users](self#users)). The ids are whatever the words held: untrusted,
/// possibly garbage; judging them is the reader's business.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Users {
    /// Each word's holder id, in table order (0: free).
    pub words: [u32; USER_WORDS],
    /// Whether a join ever found every word held by a live user (the
    /// overflow word is nonzero): users beyond the table may exist.
    pub overflow: bool,
}

impl Users {
    /// Loads every word (`Acquire`).
    fn read(meta: &Meta) -> Self {
        Self {
            words: core::array::from_fn(|i| meta.users[i].load(Ordering::Acquire)),
            overflow: meta.overflow.load(Ordering::Acquire) != 0,
        }
    }

    /// The recorded holders (nonzero words), in table order.
    pub fn holders(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().copied().filter(|&h| h != 0)
    }
}

/// What an inspector can read from an MPMC ring without knowing its
/// element type: the header, the users table and the two indices, as they
/// were at some moment during [`status`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// The header, validated (magic, version, kind, state, capacity, length).
    pub header: HeaderSnapshot,
    /// The users table.
    pub users: Users,
    /// Positions ever claimed by producers (wrapping).
    pub tail: u32,
    /// Positions ever claimed by consumers (wrapping).
    pub head: u32,
}

impl Status {
    /// Positions claimed by producers and not yet by consumers, or `None`
    /// if the indices say more than the capacity (corrupt).
    pub fn fill(&self) -> Option<u32> {
        crate::ring::fill(self.tail, self.head, self.header.capacity)
    }
}

/// Reads the status of the MPMC ring at the start of `region` with loads
/// only (so the region may be a read-only mapping), validating the header
/// without knowing the element type: the recorded element size and
/// alignment must be plausible and agree with the capacity (at least 2)
/// and the total length, and the region must hold the whole ring.
#[cfg(not(loom))]
pub fn status(region: &Region<'_>) -> Result<Status, AttachError> {
    let base = region.check(size_of::<Control>(), align_of::<Control>())?;
    // SAFETY: the region holds an aligned Control; every bit pattern is a
    // valid AtomicU32 outside loom, and all access below is atomic loads.
    let control = unsafe { base.cast::<Control>().as_ref() };
    let header = control.meta.header.snapshot();
    crate::ring::check_untyped_ring_header(
        &header,
        Kind::Mpmc,
        2,
        (size_of::<Control>(), align_of::<Control>()),
        untyped_slot,
        region,
    )?;
    Ok(Status {
        header,
        users: Users::read(&control.meta),
        tail: control.tail.index.load(Ordering::Acquire),
        head: control.head.index.load(Ordering::Acquire),
    })
}

/// The size and alignment of `Slot<T>` for a `T` of `size` and `align` (a
/// power of two, `size` a multiple of it): `repr(C)` puts the value after
/// the `u32` sequence word at `max(4, align)` and pads the slot to that.
#[cfg(not(loom))]
const fn untyped_slot(size: usize, align: usize) -> (usize, usize) {
    let slot_align = if align > 4 { align } else { 4 };
    // `size` is at most u32::MAX: no overflow on a 64-bit usize, and on a
    // 32-bit one a total that does not fit fails the length check anyway.
    let end = slot_align.saturating_add(size);
    (
        end.saturating_add(slot_align - 1) & !(slot_align - 1),
        slot_align,
    )
}

#[cfg(not(loom))]
const _: () = {
    use static_assertions::const_assert_eq;
    const_assert_eq!(untyped_slot(1, 1).0, size_of::<Slot<u8>>());
    const_assert_eq!(untyped_slot(4, 4).0, size_of::<Slot<u32>>());
    const_assert_eq!(untyped_slot(8, 8).0, size_of::<Slot<u64>>());
    const_assert_eq!(untyped_slot(60, 1).0, size_of::<Slot<[u8; 60]>>());
    // u128 is 16-aligned on x86-64 and 8-aligned on 32-bit Arm.
    const U128: (usize, usize) = untyped_slot(size_of::<u128>(), align_of::<u128>());
    const_assert_eq!(U128.0, size_of::<Slot<u128>>());
    const_assert_eq!(U128.1, align_of::<Slot<u128>>());
};

#[cfg(all(test, not(loom)))]
mod tests;
