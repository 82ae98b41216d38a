//! Layer 3, the rings: [`spsc`] (one producer, one consumer), [`mpmc`]
//! (many of each), [`bytes`] (variable-length records), [`many_to_one`]
//! (many producers, one consumer), [`broadcast`] (one writer, lossy
//! readers), [`fanout`] (one writer, lossless subscribers) and [`latest`]
//! (latest-value cells), and the block [`pool`] whose handles travel on
//! them. Rings never
//! block by themselves; their blocking forms wrap the `try_*` operations
//! in a [`Blocking`](crate::wait::blocking::Blocking) strategy.
//!
//! This module holds what every ring shares: its configuration, its
//! capacity rules, its errors, and the cache-line padding that keeps
//! producer- and consumer-owned words apart. The ring modules are also
//! re-exported at the crate root (`interlink_core::spsc`, …), their paths
//! before the layers had folders.

use core::ops::Deref;
use core::ptr::NonNull;

pub mod broadcast;
pub mod bytes;
mod error;
pub mod fanout;
pub mod latest;
pub mod many_to_one;
pub mod mpmc;
pub mod pool;
mod role;
mod shared_copy;
pub mod spsc;

pub use crate::foundation::layout::{InitError, MAX_CAPACITY};
pub(crate) use error::or_wait;
pub use error::{ChunkError, Corrupt, RecvError, RingError, SendError};
pub use role::RoleError;

use crate::foundation::atomics::{init_atomic, AtomicU32, Ordering};
use crate::foundation::layout::{
    AttachError, ElementCheck, Fingerprint, Header, HeaderFields, HeaderSnapshot, Kind,
};
use crate::foundation::region::{Region, RegionError};

/// How to create a ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingConfig {
    /// Number of elements; a power of two from 1 to [`MAX_CAPACITY`].
    pub capacity: u32,
    /// The creating process's id (0 where there are no processes), recorded
    /// so that inspectors can tell a stale object from a live one.
    pub creator_pid: u32,
}

impl RingConfig {
    /// A configuration for `capacity` elements, no creator pid. (The
    /// element's type id is its [`Plain::TYPE_ID`](crate::Plain::TYPE_ID).)
    pub const fn new(capacity: u32) -> Self {
        Self {
            capacity,
            creator_pid: 0,
        }
    }

    /// The same configuration with `creator_pid` recorded.
    pub const fn with_creator_pid(mut self, creator_pid: u32) -> Self {
        self.creator_pid = creator_pid;
        self
    }
}

/// Whether `capacity` is one a ring accepts.
pub const fn capacity_is_valid(capacity: u32) -> bool {
    capacity.is_power_of_two() && capacity <= MAX_CAPACITY
}

/// Where a ring's slots start: the first multiple of `slot_align` at or
/// after its control block of `control_size` bytes.
pub(crate) const fn slots_offset(control_size: usize, slot_align: usize) -> usize {
    (control_size + slot_align - 1) & !(slot_align - 1)
}

/// The alignment a ring's region needs: the larger of its control block's
/// and its slots'.
pub(crate) const fn region_align(control_align: usize, slot_align: usize) -> usize {
    if control_align > slot_align {
        control_align
    } else {
        slot_align
    }
}

/// Bytes of a ring whose `capacity` slots of `slot_size` bytes start at
/// `slots_offset`, or why there can be no such ring. `min_capacity` is the
/// ring's own lower bound (a power of two).
pub(crate) const fn ring_bytes(
    capacity: u32,
    min_capacity: u32,
    slot_size: usize,
    slots_offset: usize,
) -> Result<usize, InitError> {
    if !capacity_is_valid(capacity) {
        return Err(InitError::Capacity { capacity });
    }
    if capacity < min_capacity {
        return Err(InitError::CapacityBelow {
            capacity,
            min: min_capacity,
        });
    }
    match (capacity as usize).checked_mul(slot_size) {
        // The header records the length as 64 bits; usize fits.
        Some(slots) => match slots.checked_add(slots_offset) {
            Some(total) => Ok(total),
            None => Err(InitError::Region(RegionError::Overflow)),
        },
        None => Err(InitError::Region(RegionError::Overflow)),
    }
}

/// The attach checks every ring shares: the header against `kind` and
/// `element` (compared as `check` says), the capacity against the ring's rules (`bytes_needed`), the
/// recorded length against the capacity, and the region against the length.
/// Returns the capacity.
pub(crate) fn check_ring_header(
    snap: &crate::foundation::layout::HeaderSnapshot,
    kind: crate::foundation::layout::Kind,
    (element, check): (Fingerprint, ElementCheck),
    bytes_needed: impl FnOnce(u32) -> Result<usize, InitError>,
    region: &crate::Region<'_>,
    align: usize,
) -> Result<u32, AttachError> {
    snap.validate_as(kind, element, check)?;
    let capacity = snap.capacity;
    let total = bytes_needed(capacity).map_err(|e| match e {
        // A valid capacity whose ring does not fit this process's address
        // space (a 32-bit process, a ring of 4 GiB or more).
        InitError::Region(RegionError::Overflow) if capacity_is_valid(capacity) => {
            too_large(snap, capacity)
        }
        _ => AttachError::Corrupt {
            field: "capacity",
            value: capacity as u64,
        },
    })?;
    if snap.total_len != total as u64 {
        return Err(AttachError::Corrupt {
            field: "total_len",
            value: snap.total_len,
        });
    }
    region.check(total, align)?;
    Ok(capacity)
}

/// The error for a ring of a valid `capacity` whose length overflows this
/// process's `usize`: `TooLarge` with the recorded length (what the
/// creator, which could address it, computed).
fn too_large(snap: &HeaderSnapshot, capacity: u32) -> AttachError {
    if snap.total_len > usize::MAX as u64 {
        AttachError::TooLarge {
            len: snap.total_len,
        }
    } else {
        // The recorded length fits, so it disagrees with the capacity.
        AttachError::Corrupt {
            field: "capacity",
            value: capacity as u64,
        }
    }
}

/// The checks of [`check_ring_header`] for an inspector that does not know
/// the element type: the header against `kind` (any element), the recorded
/// element size and alignment for plausibility, the capacity against the
/// ring's rules (at least `min_capacity`), the recorded length against what
/// `slot` (element size and alignment to slot size and alignment) and a
/// control block of `control_size` bytes make, and that `region` (aligned
/// to the larger of `control_align` and the slot's) holds all of it.
#[cfg(not(loom))]
pub(crate) fn check_untyped_ring_header(
    snap: &crate::foundation::layout::HeaderSnapshot,
    kind: Kind,
    min_capacity: u32,
    (control_size, control_align): (usize, usize),
    slot: impl FnOnce(usize, usize) -> (usize, usize),
    region: &Region<'_>,
) -> Result<(), AttachError> {
    snap.validate(kind, snap.element)?;
    let corrupt = |field, value: u64| AttachError::Corrupt { field, value };
    let (size, align) = (snap.element.size as usize, snap.element.align as usize);
    if !align.is_power_of_two() || align > 1 << 16 {
        return Err(corrupt("elem_align", align as u64));
    }
    if size % align != 0 {
        return Err(corrupt("elem_size", size as u64));
    }
    if !capacity_is_valid(snap.capacity) || snap.capacity < min_capacity {
        return Err(corrupt("capacity", snap.capacity as u64));
    }
    let (slot_size, slot_align) = slot(size, align);
    // In 64 bits, so that a 32-bit process checks a ring it cannot map too.
    let total = (snap.capacity as u64)
        .checked_mul(slot_size as u64)
        .and_then(|n| n.checked_add(slots_offset(control_size, slot_align) as u64));
    if total != Some(snap.total_len) {
        return Err(corrupt("total_len", snap.total_len));
    }
    if snap.total_len > usize::MAX as u64 {
        return Err(AttachError::TooLarge {
            len: snap.total_len,
        });
    }
    region.check(
        snap.total_len as usize,
        region_align(control_align, slot_align),
    )?;
    Ok(())
}

/// The one range check for a ring's two indices: elements (or bytes)
/// between `head` and `tail`, wrapping, or `Corrupt` if that is more than
/// `capacity`. Every index loaded from shared memory — at a claim, a
/// take-over, a refresh, for a length or a status report — is checked here
/// against the other before it is used or cached.
#[inline(always)]
pub(crate) fn span(tail: u32, head: u32, capacity: u32) -> Result<u32, Corrupt> {
    let n = tail.wrapping_sub(head);
    if n > capacity {
        return Err(Corrupt);
    }
    Ok(n)
}

/// Elements between `head` and `tail` (wrapping), or `None` if that is
/// more than `capacity`: indices read by an inspector, which reports a
/// corrupt count rather than clamping it. The check is [`span`]'s.
pub(crate) fn fill(tail: u32, head: u32, capacity: u32) -> Option<u32> {
    span(tail, head, capacity).ok()
}

/// What an inspector can read from a single-producer ring (an SPSC or a
/// byte ring) without knowing its element type: the header, the role
/// holders and the two indices, as they were at some moment during
/// [`spsc::status`] or [`bytes::status`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// The header, validated (magic, version, kind, state, capacity, length).
    pub header: HeaderSnapshot,
    /// The producer's holder id (0: none).
    pub producer: u32,
    /// The consumer's holder id (0: none).
    pub consumer: u32,
    /// Elements ever pushed (wrapping).
    pub tail: u32,
    /// Elements ever popped (wrapping).
    pub head: u32,
}

impl Status {
    /// Elements in the ring, or `None` if the indices say more than the
    /// capacity (corrupt): the rings' one range check, applied to the
    /// recorded indices. `tail` and `head` themselves are reported as
    /// read, unchecked: use them only through this.
    pub fn fill(&self) -> Option<u32> {
        fill(self.tail, self.head, self.header.capacity)
    }
}

/// Pads and aligns its contents to 128 bytes, so that words written by
/// different cores never share a cache line (x86 prefetches lines in
/// adjacent pairs, which makes 64 too small).
#[derive(Debug)]
#[repr(C, align(128))]
pub struct CacheLine<T>(pub T);

impl<T> Deref for CacheLine<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

#[cfg(not(loom))]
static_assertions::assert_eq_size!(CacheLine<u32>, [u8; 128]);

/// Header and role words: read-mostly, on a line of their own.
#[repr(C)]
pub(crate) struct Meta {
    pub(crate) header: Header,
    /// Producer holder id (0 = free).
    pub(crate) producer: AtomicU32,
    /// Consumer holder id (0 = free).
    pub(crate) consumer: AtomicU32,
}

/// An index and the event word on which the side that *reads* that index
/// parks (the consumer waits for the tail to move, the producer for the
/// head).
#[repr(C)]
pub(crate) struct IndexLine {
    pub(crate) index: AtomicU32,
    pub(crate) wake: AtomicU32,
}

/// The control block that begins every two-index ring (the SPSC ring and
/// the byte ring): header and role words, then the producer's tail and the
/// consumer's head, each on a 128-byte line of its own. Each ring's docs
/// show it in their layout table; its data follows at offset 384.
#[repr(C)]
pub(crate) struct Control {
    pub(crate) meta: CacheLine<Meta>,
    /// The tail index is written by the producer only.
    pub(crate) tail: CacheLine<IndexLine>,
    /// The head index is written by the consumer only.
    pub(crate) head: CacheLine<IndexLine>,
}

#[cfg(not(loom))]
const _: () = {
    use core::mem::{align_of, offset_of, size_of};
    use static_assertions::const_assert_eq;
    const_assert_eq!(size_of::<Control>(), 384);
    const_assert_eq!(align_of::<Control>(), 128);
    const_assert_eq!(offset_of!(Control, meta), 0);
    const_assert_eq!(offset_of!(Meta, producer), 64);
    const_assert_eq!(offset_of!(Meta, consumer), 68);
    const_assert_eq!(offset_of!(Control, tail), 128);
    const_assert_eq!(offset_of!(IndexLine, index), 0);
    const_assert_eq!(offset_of!(IndexLine, wake), 4);
    const_assert_eq!(offset_of!(Control, head), 256);
};

impl Control {
    /// Marks the header `INITIALISING` and zeroes the role words and the
    /// indices (under loom: constructs every atomic).
    ///
    /// # Safety
    ///
    /// `c` must be valid for writes of a `Control` and aligned, and owned by
    /// the creator until [`Control::publish`].
    pub(crate) unsafe fn begin(c: *mut Self) {
        // SAFETY: forwarded from the caller; the field pointers stay in `*c`.
        unsafe {
            use core::ptr::addr_of_mut;
            Header::begin(addr_of_mut!((*c).meta.0.header));
            init_atomic(addr_of_mut!((*c).meta.0.producer), 0);
            init_atomic(addr_of_mut!((*c).meta.0.consumer), 0);
            init_atomic(addr_of_mut!((*c).tail.0.index), 0);
            init_atomic(addr_of_mut!((*c).tail.0.wake), 0);
            init_atomic(addr_of_mut!((*c).head.0.index), 0);
            init_atomic(addr_of_mut!((*c).head.0.wake), 0);
        }
    }

    /// Records `fields` and publishes the ring as ready (`Release`).
    ///
    /// # Safety
    ///
    /// [`Control::begin`] has run on `c`.
    pub(crate) unsafe fn publish(c: *mut Self, fields: &HeaderFields) {
        // SAFETY: forwarded from the caller.
        unsafe { Header::publish(core::ptr::addr_of_mut!((*c).meta.0.header), fields) };
    }

    /// The consumer's head, as the producer at `tail` must see it: loaded
    /// with `Acquire` (the consumer is done with what it released) and
    /// checked by [`span`], since a peer may write anything there. Returns
    /// the head and the free room, or `Corrupt` if the head claims more
    /// than `capacity` in use.
    #[inline(always)]
    pub(crate) fn load_head(&self, tail: u32, capacity: u32) -> Result<(u32, u32), Corrupt> {
        let head = self.head.index.load(Ordering::Acquire);
        let used = span(tail, head, capacity)?;
        Ok((head, capacity - used))
    }

    /// The producer's tail, as the consumer at `head` must see it: loaded
    /// with `Acquire` (what it published is written) and checked by
    /// [`span`]. Returns the tail and how much is ready, or `Corrupt` if
    /// the tail claims more than `capacity` ready.
    #[inline(always)]
    pub(crate) fn load_tail(&self, head: u32, capacity: u32) -> Result<(u32, u32), Corrupt> {
        let tail = self.tail.index.load(Ordering::Acquire);
        let ready = span(tail, head, capacity)?;
        Ok((tail, ready))
    }

    /// The indices a new producer starts from, at a claim or take-over
    /// (after the role word was won with `Acquire`): the shared tail, which
    /// becomes its own, and the head, loaded after it and checked against
    /// it by [`Control::load_head`] exactly as on every refresh. Returns
    /// `(tail, head)`. An honest consumer never makes this fail: its head
    /// never passes the tail, and the tail cannot move while we hold the
    /// role.
    pub(crate) fn claim_producer(&self, capacity: u32) -> Result<(u32, u32), Corrupt> {
        let tail = self.tail.index.load(Ordering::Acquire);
        let (head, _) = self.load_head(tail, capacity)?;
        Ok((tail, head))
    }

    /// The indices a new consumer starts from: the shared head, which
    /// becomes its own, and the tail, loaded after it and checked by
    /// [`Control::load_tail`]. Returns `(head, tail)`. An honest producer
    /// never makes this fail: its tail is never more than `capacity` past
    /// a head it saw, which is at most ours.
    pub(crate) fn claim_consumer(&self, capacity: u32) -> Result<(u32, u32), Corrupt> {
        let head = self.head.index.load(Ordering::Acquire);
        let (tail, _) = self.load_tail(head, capacity)?;
        Ok((head, tail))
    }

    /// The two indices as an observer that owns neither can read them:
    /// `(tail, head)`, taken when a head read before and after the tail
    /// agree, so that a ring in use is not mistaken for a corrupt one (a
    /// head read long before the tail can be a lap behind it). Tries a few
    /// times; a head that moves every time gives the last tail with the
    /// head read just before it, whose check may then fail. The caller
    /// checks the pair with [`span`].
    pub(crate) fn indices(&self) -> (u32, u32) {
        let mut head = self.head.index.load(Ordering::Acquire);
        let mut tail = self.tail.index.load(Ordering::Acquire);
        for _ in 0..8 {
            let again = self.head.index.load(Ordering::Acquire);
            if again == head {
                break;
            }
            head = again;
            tail = self.tail.index.load(Ordering::Acquire);
        }
        (tail, head)
    }

    /// Validates the ring a creator published at the start of `region`:
    /// its header against `kind` and `element`, its capacity through
    /// `bytes_needed`, its recorded length, and that `region` (aligned to
    /// `align`) holds all of it. Returns the start and the capacity.
    pub(crate) fn attach(
        region: &Region<'_>,
        align: usize,
        kind: Kind,
        element: (Fingerprint, ElementCheck),
        bytes_needed: impl FnOnce(u32) -> Result<usize, InitError>,
    ) -> Result<(NonNull<Self>, u32), AttachError> {
        let base = region.check(core::mem::size_of::<Self>(), align)?;
        let control = base.cast::<Self>();
        // SAFETY: the region holds an aligned Control; all access is atomic.
        let snap = unsafe { control.as_ref() }.meta.header.snapshot();
        let capacity = check_ring_header(&snap, kind, element, bytes_needed, region, align)?;
        Ok((control, capacity))
    }
}
