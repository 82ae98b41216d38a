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
//! (for elements up to 60 bytes). Batches ([`MpmcRing::try_send_slice`],
//! [`MpmcRing::try_recv_slice`]) claim several consecutive ready positions with one
//! compare-exchange, which is what contention makes expensive.
//!
//! # Polling
//!
//! A claim that finds its slot claimed by a peer and unfinished waits (up
//! to its spin limit) on that slot's sequence word alone: the peer's
//! publish or release changes it. Finding the ring empty (or full) takes
//! one read of the *other* side's index, to tell `Empty` from a claim in
//! progress; a consumer that spins on [`MpmcRing::try_recv`] would take
//! the producers' index line on every poll, and each push's
//! compare-exchange would wait for it. Spinning pollers ask
//! [`MpmcRing::recv_ready`] / [`MpmcRing::send_ready`] instead, which read
//! their own index and the slot's word only, and try once they say yes.
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
//! A slot is the value, then the `u32` sequence word (at `size_of::<T>()`
//! rounded up to 4), the slot aligned to at least 8 and padded to a
//! multiple of its alignment (`u32` → 8 bytes, `u64` → 16): the same bytes
//! in 32- and 64-bit processes. Padding bytes are never read:
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
//! so), the call reports [`RecvError::Stalled`] with the position, so
//! that a dead claimant never keeps a blocking caller asleep for ever. A
//! timeout that ends sooner ends the call with [`RecvError::TimedOut`],
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
//! [`RecvError::Stalled`] with `position: p` once it has spun its limit
//! without progress — and the ring fills behind it. A consumer killed
//! between claiming and releasing leaves its slot at `seq = p + 1`; the
//! ring keeps working until producers come round to that slot a lap later,
//! where a push reports [`SendError::Stalled`] with `position: p`.
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
use crate::foundation::holder::Holder;
use crate::foundation::layout::{
    AttachError, ElementCheck, Fingerprint, Header, HeaderFields, HeaderSnapshot, Kind,
};
use crate::foundation::plain::Plain;
use crate::foundation::region::Region;
use crate::ring::{
    check_ring_header, ring_bytes, CacheLine, IndexLine, InitError, RingConfig, RoleError,
};
use crate::wait::blocking::Blocking;
use crate::wait::{Deadline, Expired, Wait};

mod blocking;
mod claim;
mod error;
mod stall;
mod status;
mod users;

pub use crate::ring::{RecvError, SendError};
pub use blocking::{Readable, Writable};
pub use error::NotStalled;
use error::{Blocked, Side};
#[cfg(not(loom))]
pub use status::status;
pub use status::Status;
pub(crate) use users::UsersTable;
pub use users::{UserSlot, Users};

/// How many times [`MpmcRing::try_send`] and [`MpmcRing::try_recv`] re-check
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
/// report [`RecvError::Stalled`]; a call whose timeout ends sooner reports
/// [`RecvError::TimedOut`] instead. A live claimant finishes within
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

/// Aligns a slot to at least 8 bytes (a zero-sized field of it).
#[repr(C, align(8))]
struct Align8;

/// One slot: the value, then the sequence word, aligned to at least 8.
///
/// Value first, and the slot at least 8-aligned, so that the layout is the
/// same in 32- and 64-bit processes: with the sequence word first, a `u64`
/// would sit at offset 4 in a 12-byte slot on i686 and at 8 in a 16-byte
/// slot on x86-64. Here the value is at 0, the word at `size_of::<T>()`
/// rounded up to 4, and the slot padded to `max(8, align_of::<T>())`,
/// which are the same on both (an `align_of` that differs between them is
/// at most 8).
#[repr(C)]
struct Slot<T> {
    value: UnsafeCell<T>,
    seq: AtomicU32,
    _align: [Align8; 0],
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
    // The same on every target (i686 included): value at 0, then seq.
    const_assert_eq!(offset_of!(Slot<u8>, value), 0);
    const_assert_eq!(offset_of!(Slot<u8>, seq), 4);
    const_assert_eq!(size_of::<Slot<u8>>(), 8);
    const_assert_eq!(offset_of!(Slot<u32>, seq), 4);
    const_assert_eq!(size_of::<Slot<u32>>(), 8);
    const_assert_eq!(offset_of!(Slot<u64>, value), 0);
    const_assert_eq!(offset_of!(Slot<u64>, seq), 8);
    const_assert_eq!(size_of::<Slot<u64>>(), 16);
    const_assert_eq!(align_of::<Slot<u64>>(), 8);
    const_assert_eq!(size_of::<Slot<f64>>(), 16);
    const_assert_eq!(offset_of!(Slot<[u8; 60]>, seq), 60);
    const_assert_eq!(size_of::<Slot<[u8; 60]>>(), 64);
    const_assert_eq!(offset_of!(Slot<[u32; 3]>, seq), 12);
    const_assert_eq!(size_of::<Slot<[u32; 3]>>(), 16);
};

/// Where the slots start, for element type `T`.
const fn slots_offset<T>() -> usize {
    crate::ring::slots_offset(size_of::<Control>(), align_of::<Slot<T>>())
}

/// The alignment the region must have.
const fn region_align<T>() -> usize {
    crate::ring::region_align(align_of::<Control>(), align_of::<Slot<T>>())
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
            element: Fingerprint::of::<T>(),
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
    /// Checks the header against `Kind::Mpmc` and `T`'s [`Fingerprint`]
    /// (size, alignment and [`Plain::TYPE_ID`]: a ring of another element
    /// type is refused with [`AttachError::Element`]), the capacity, and
    /// that the region holds the whole ring. Returns
    /// [`AttachError::NotReady`] while the creator is still initialising:
    /// retry until a deadline of your choosing.
    pub fn attach(region: Region<'a>) -> Result<Self, AttachError> {
        Self::attach_with(region, ElementCheck::Exact)
    }

    /// [`MpmcRing::attach`], comparing the element type as `check` says:
    /// [`ElementCheck::LayoutOnly`] is the explicit opt-out that accepts a
    /// ring of any element type with `T`'s size and alignment.
    pub fn attach_with(region: Region<'a>, check: ElementCheck) -> Result<Self, AttachError> {
        let base = region.check(size_of::<Control>(), region_align::<T>())?;
        let control = base.cast::<Control>();
        // SAFETY: the region holds an aligned Control; all access is atomic.
        let snap = unsafe { control.as_ref() }.meta.header.snapshot();
        let capacity = check_ring_header(
            &snap,
            Kind::Mpmc,
            (Fingerprint::of::<T>(), check),
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

#[cfg(all(test, not(loom)))]
mod tests;
