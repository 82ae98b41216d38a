//! A single-producer single-consumer ring of `T: Plain` that lives in
//! caller memory, so two processes mapping the same bytes can use it.
//!
//! # Layout (version [`crate::LAYOUT_VERSION`])
//!
//! | offset | bytes | contents | written by |
//! |---|---|---|---|
//! | 0 | 64 | [`Header`](crate::layout::Header) | creator |
//! | 64 | 4 | producer holder id (0 = free) | claimers |
//! | 68 | 4 | consumer holder id (0 = free) | claimers |
//! | 128 | 4 | tail: count of elements ever pushed (wrapping) | producer |
//! | 132 | 4 | not-empty event word: the consumer parks on it | consumer (announce), producer (notify) |
//! | 256 | 4 | head: count of elements ever popped (wrapping) | consumer |
//! | 260 | 4 | not-full event word: the producer parks on it | producer (announce), consumer (notify) |
//! | 384 | `capacity × size_of::<T>()` | slots (at `T`'s [shared alignment](crate::layout::shared_align_of), at least 384) | producer |
//!
//! The region must be aligned to 128 bytes (a mapping always is).
//!
//! # Speed
//!
//! Each side keeps its own index in its handle and a cached copy of the
//! other's; it re-reads the shared one only when the cache says the ring is
//! full (producer) or empty (consumer). A push or pop is then a slot copy
//! and one `Release` store: no read-modify-write, no syscall.
//!
//! # Blocking
//!
//! [`Producer::send`] and [`Consumer::recv`] wait with a
//! [`Blocking`] strategy (spin, yield, park on the futex word) and take a
//! timeout. Each side parks on the event word next to the index its peer
//! writes ([`crate::event`]'s protocol), so after a successful operation
//! the notifying side reads a word on the line it has just written: with
//! the peer awake, a blocking operation costs one `SeqCst` fence and one
//! load more than a `try_*` one, and no syscall.
//!
//! # Untrusted peers
//!
//! A handle reads its *own* index from shared memory once, when its role is
//! claimed (or taken over), and never again; every index it uses to address
//! a slot is masked with `capacity - 1`. Every load of an index — at the
//! claim, on each refresh, for [`SpscRing::len`], the handles' `len` and
//! [`status`] — passes the same check against the other index: if the pair
//! claims more than `capacity` elements in flight, a claim fails with
//! [`RoleError::Corrupt`] (the role stays free), an operation fails with
//! [`Corrupt`] and does nothing, and a length reads as full. The values a
//! handle caches were checked when loaded and only move by what that check
//! allowed. A hostile peer can therefore make the ring report errors or
//! deliver junk *values* (every bit pattern is a valid `T: Plain`), but
//! never make a handle touch memory outside the region.
//!
//! ## Copies and views
//!
//! The **copying** calls — [`Producer::try_send`], [`Producer::send`],
//! [`Producer::try_send_slice`], [`WriteChunk::set`], [`Consumer::try_recv`],
//! [`Consumer::recv`], [`Consumer::try_recv_slice`], [`ReadChunk::get`] — touch
//! the slots only with relaxed atomic loads and stores (of the widest width
//! `T`'s alignment allows: one `mov` for a `u64`), so they are sound even
//! while a hostile peer writes the same slots: it can garble the values,
//! nothing more. Use them when the peer is not trusted.
//!
//! The **views** — [`ReadChunk::as_slices`] and
//! [`WriteChunk::as_mut_slices`] — hand out `&[T]` / `&mut [T]` over the
//! slots themselves. They are sound against a *cooperating* peer, which by
//! the protocol does not touch those slots until they are released or
//! committed. A hostile peer can write them while the reference is held:
//! that is a data race, undefined behaviour in this process (the compiler
//! may assume the bytes behind a `&[T]` do not change, and read them twice
//! with different results). Their bounds stay safe (a view never reaches
//! outside the region), but against a peer you do not trust, copy instead.

use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use core::ptr::NonNull;

use crate::foundation::atomics::{Ordering, UnsafeCell};
use crate::foundation::holder::Holder;
use crate::foundation::layout::{
    shared_align_of, AttachError, ElementCheck, Fingerprint, HeaderFields, Kind,
};
use crate::foundation::plain::Plain;
use crate::foundation::region::Region;
use crate::ring::role;
use crate::ring::shared_copy;
pub use crate::ring::Status;

mod consumer;
mod producer;

use crate::ring::{
    or_wait, ring_bytes, span, ChunkError, Control, Corrupt, InitError, RecvError, RingConfig,
    RoleError, SendError,
};
use crate::wait::blocking::Blocking;
use crate::wait::Wait;
pub use consumer::{Consumer, ReadChunk};
pub use producer::{Producer, WriteChunk};

type Slot<T> = UnsafeCell<T>;

/// Where the slots start, for element type `T`.
const fn slots_offset<T>() -> usize {
    crate::ring::slots_offset(size_of::<Control>(), shared_align_of::<T>())
}

/// The alignment the region must have.
const fn region_align<T>() -> usize {
    crate::ring::region_align(align_of::<Control>(), shared_align_of::<T>())
}

/// A ring in caller memory: the handle from which the producer and the
/// consumer are claimed. Cheap to copy; it owns nothing.
pub struct SpscRing<'a, T> {
    control: NonNull<Control>,
    slots: NonNull<Slot<T>>,
    capacity: u32,
    _memory: PhantomData<(&'a Control, T)>,
}

impl<T> Clone for SpscRing<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for SpscRing<'_, T> {}

impl<T> core::fmt::Debug for SpscRing<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SpscRing")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .field("producer", &self.producer_holder())
            .field("consumer", &self.consumer_holder())
            .finish()
    }
}

// SAFETY: all shared state is reached through atomics, and slot access is
// granted only to the claimed producer and consumer handles.
unsafe impl<T: Plain> Send for SpscRing<'_, T> {}
// SAFETY: as above; `&SpscRing` only reads atomics and claims roles.
unsafe impl<T: Plain> Sync for SpscRing<'_, T> {}

impl<'a, T: Plain> SpscRing<'a, T> {
    /// Bytes a ring of `capacity` elements of `T` needs, header included.
    pub const fn bytes_needed(capacity: u32) -> Result<usize, InitError> {
        ring_bytes(capacity, 1, size_of::<Slot<T>>(), slots_offset::<T>())
    }

    /// The alignment a region for this ring must have (128, or more for an
    /// over-aligned `T`).
    pub const fn region_align() -> usize {
        region_align::<T>()
    }

    /// Creates an empty ring in `region`, with no producer or consumer.
    ///
    /// The creator owns the memory until this returns: nobody may attach
    /// before (attachers see `NotReady` and retry), and re-initialising a
    /// ring that others use is a protocol error (they will see junk).
    pub fn init(region: Region<'a>, config: RingConfig) -> Result<Self, InitError> {
        let ring = Self::begin_init(region, config)?;
        ring.publish_init(config);
        Ok(ring)
    }

    /// [`SpscRing::init`]'s first half, for loom models of the init/attach
    /// handshake (which attach between the halves); not in the API outside
    /// `cfg(loom)`.
    #[cfg(loom)]
    pub fn init_begin(region: Region<'a>, config: RingConfig) -> Result<Self, InitError> {
        Self::begin_init(region, config)
    }

    /// [`SpscRing::init`]'s second half, for loom models (see
    /// [`SpscRing::init_begin`]); not in the API outside `cfg(loom)`.
    #[cfg(loom)]
    pub fn init_publish(&self, config: RingConfig) {
        self.publish_init(config)
    }

    /// First half of [`SpscRing::init`]: checks the region, marks the
    /// header `INITIALISING` and zeroes the indices and role words (under
    /// loom: constructs every atomic and slot).
    fn begin_init(region: Region<'a>, config: RingConfig) -> Result<Self, InitError> {
        let total = Self::bytes_needed(config.capacity)?;
        let base = region.check(total, region_align::<T>())?;
        let control = base.cast::<Control>();
        // SAFETY: the region holds `total` aligned bytes, so the slots start
        // inside it, at an offset aligned for Slot<T>.
        let slots = unsafe { base.add(slots_offset::<T>()) }.cast::<Slot<T>>();
        // SAFETY: the region holds writable memory for an aligned Control
        // (checked above); the creator owns it until publication.
        unsafe { Control::begin(control.as_ptr()) };
        #[cfg(loom)]
        for i in 0..config.capacity as usize {
            // SAFETY: slot `i` lies inside the region; under loom the cell
            // must be constructed before use, and every bit pattern
            // (zeroes included) is a valid `T: Plain`.
            unsafe {
                slots
                    .as_ptr()
                    .add(i)
                    .write(UnsafeCell::new(core::mem::zeroed()))
            };
        }
        Ok(Self {
            control,
            slots,
            capacity: config.capacity,
            _memory: PhantomData,
        })
    }

    /// Second half of [`SpscRing::init`]: records the configuration and
    /// publishes the ring as ready (`Release`).
    fn publish_init(&self, config: RingConfig) {
        let fields = HeaderFields {
            kind: Kind::Spsc,
            element: Fingerprint::of::<T>(),
            capacity: self.capacity,
            creator_pid: config.creator_pid,
            total_len: Self::bytes_needed(self.capacity).unwrap_or(0) as u64,
        };
        // SAFETY: begin_init ran on this memory.
        unsafe { Control::publish(self.control.as_ptr(), &fields) };
    }

    /// Attaches to a ring that some process initialised in `region`.
    ///
    /// Checks the header against `Kind::Spsc` and `T`'s
    /// [`Fingerprint`] (size, alignment and [`Plain::TYPE_ID`]: a ring of
    /// another element type is refused with [`AttachError::Element`]), the
    /// capacity, and that the region holds the whole ring. Returns
    /// [`AttachError::NotReady`] while the creator is still initialising: retry
    /// until a deadline of your choosing.
    pub fn attach(region: Region<'a>) -> Result<Self, AttachError> {
        Self::attach_with(region, ElementCheck::Exact)
    }

    /// [`SpscRing::attach`], comparing the element type as `check` says:
    /// [`ElementCheck::LayoutOnly`] is the explicit opt-out that accepts a
    /// ring of any element type with `T`'s size and alignment.
    pub fn attach_with(region: Region<'a>, check: ElementCheck) -> Result<Self, AttachError> {
        let (control, capacity) = Control::attach(
            &region,
            region_align::<T>(),
            Kind::Spsc,
            (Fingerprint::of::<T>(), check),
            Self::bytes_needed,
        )?;
        let base = control.cast::<u8>();
        // SAFETY: the region holds `total` bytes, so the slots are inside it.
        let slots = unsafe { base.add(slots_offset::<T>()) }.cast::<Slot<T>>();
        Ok(Self {
            control,
            slots,
            capacity,
            _memory: PhantomData,
        })
    }

    /// Claims the producer role for `holder` (on Linux a pid: `interlink_linux::process::holder()`).
    ///
    /// The new producer starts from the shared indices, checked like every
    /// later load: if they are out of range the role is freed again and
    /// the claim fails with [`RoleError::Corrupt`].
    pub fn producer(&self, holder: Holder) -> Result<Producer<'a, T>, RoleError> {
        role::claim(&self.control().meta.producer, holder)?;
        Producer::new(*self, holder.get())
    }

    /// Claims the consumer role for `holder` (on Linux a pid: `interlink_linux::process::holder()`).
    /// Fails with [`RoleError::Corrupt`] (leaving the role free) if the
    /// shared indices are out of range.
    pub fn consumer(&self, holder: Holder) -> Result<Consumer<'a, T>, RoleError> {
        role::claim(&self.control().meta.consumer, holder)?;
        Consumer::new(*self, holder.get())
    }

    /// Claims the producer role, taking it from its holder if `is_alive`
    /// returns false for that holder's id. The new producer resumes at the
    /// shared tail: an element the dead producer wrote but did not publish
    /// is lost; one it published stays.
    ///
    /// `is_alive` must be right: a living producer that is replaced keeps
    /// writing, and two producers corrupt the ring's contents (never its
    /// bounds). Out-of-range shared indices fail with
    /// [`RoleError::Corrupt`], as for [`SpscRing::producer`].
    pub fn take_over_producer(
        &self,
        holder: Holder,
        is_alive: impl FnOnce(u32) -> bool,
    ) -> Result<Producer<'a, T>, RoleError> {
        role::take_over(&self.control().meta.producer, holder, is_alive)?;
        Producer::new(*self, holder.get())
    }

    /// Claims the consumer role, taking it from its holder if `is_alive`
    /// returns false for that holder's id. The new consumer resumes at the
    /// shared head: an element the dead consumer read but did not release
    /// is delivered again. Out-of-range shared indices fail with
    /// [`RoleError::Corrupt`], as for [`SpscRing::consumer`].
    pub fn take_over_consumer(
        &self,
        holder: Holder,
        is_alive: impl FnOnce(u32) -> bool,
    ) -> Result<Consumer<'a, T>, RoleError> {
        role::take_over(&self.control().meta.consumer, holder, is_alive)?;
        Consumer::new(*self, holder.get())
    }
}

impl<T> SpscRing<'_, T> {
    /// The producer's holder id, 0 if none.
    pub fn producer_holder(&self) -> u32 {
        self.control().meta.producer.load(Ordering::Relaxed)
    }

    /// The consumer's holder id, 0 if none.
    pub fn consumer_holder(&self) -> u32 {
        self.control().meta.consumer.load(Ordering::Relaxed)
    }

    /// The header as it is now (for inspectors).
    pub fn header(&self) -> crate::foundation::layout::HeaderSnapshot {
        self.control().meta.header.snapshot()
    }

    /// Number of slots.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Elements in the ring at some moment during the call. The indices
    /// pass the ring's one range check; a pair out of range (corrupt, or
    /// never read consistently while both sides raced) reads as full, so
    /// the result is never above the capacity. [`status`] tells corrupt
    /// apart ([`Status::fill`] is `None`).
    pub fn len(&self) -> u32 {
        let (tail, head) = self.control().indices();
        span(tail, head, self.capacity).unwrap_or(self.capacity)
    }

    /// Whether [`SpscRing::len`] is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether [`SpscRing::len`] is the capacity.
    pub fn is_full(&self) -> bool {
        self.len() == self.capacity
    }

    fn control(&self) -> &Control {
        // SAFETY: `control` points to a live, initialised Control for 'a;
        // every field is atomic, so a shared reference is sound.
        unsafe { self.control.as_ref() }
    }

    /// The slot for wrapping index `index`. The index is masked here, and
    /// only here: no value from shared memory reaches a pointer otherwise.
    #[inline(always)]
    fn slot(&self, index: u32) -> &Slot<T> {
        let i = (index & (self.capacity - 1)) as usize;
        // SAFETY: i < capacity, and the region holds `capacity` slots.
        unsafe { &*self.slots.as_ptr().add(i) }
    }

    /// Writes `value` into the slot for `index`.
    ///
    /// # Safety
    ///
    /// The caller is the producer and the slot is free (released by the
    /// consumer, as an `Acquire` load of the head showed).
    #[inline(always)]
    unsafe fn write_slot(&self, index: u32, value: T)
    where
        T: Plain,
    {
        // SAFETY: forwarded from the caller: an honest consumer does not
        // touch the slot; the store is atomic against a hostile one.
        self.slot(index)
            .with_mut(|p| unsafe { shared_copy::store(p, value) })
    }

    /// Copies the value out of the slot for `index`.
    ///
    /// # Safety
    ///
    /// The caller is the consumer and the slot is published (an `Acquire`
    /// load of the tail showed it) and not yet released.
    #[inline(always)]
    unsafe fn read_slot(&self, index: u32) -> T
    where
        T: Plain,
    {
        // SAFETY: forwarded from the caller: an honest producer does not
        // write the slot; the load is atomic against a hostile one.
        self.slot(index).with(|p| unsafe { shared_copy::load(p) })
    }

    /// Raw pointer to slot `index & mask`, for slices over the slots.
    #[cfg(not(loom))]
    #[inline(always)]
    fn slot_ptr(&self, index: u32) -> *mut T {
        let i = (index & (self.capacity - 1)) as usize;
        // SAFETY: i < capacity; Slot<T> is a transparent UnsafeCell<T>.
        unsafe { self.slots.as_ptr().add(i).cast::<T>() }
    }

    /// Splits `len` slots from wrapping index `start` into the part before
    /// the end of the buffer and the part that wraps to its front.
    #[inline(always)]
    fn split(&self, start: u32, len: u32) -> (u32, u32) {
        let to_end = self.capacity - (start & (self.capacity - 1));
        let first = len.min(to_end);
        (first, len - first)
    }
}

/// Reads the status of the SPSC ring at the start of `region` with loads
/// only (so the region may be a read-only mapping), validating the header
/// without knowing the element type: the recorded element size and
/// alignment must be plausible and agree with the capacity and total
/// length, and the region must hold the whole ring.
#[cfg(not(loom))]
pub fn status(region: &Region<'_>) -> Result<Status, AttachError> {
    let base = region.check(size_of::<Control>(), align_of::<Control>())?;
    // SAFETY: the region holds an aligned Control; every bit pattern is a
    // valid AtomicU32 outside loom, and all access below is atomic loads.
    let control = unsafe { base.cast::<Control>().as_ref() };
    let header = control.meta.header.snapshot();
    crate::ring::check_untyped_ring_header(
        &header,
        Kind::Spsc,
        1,
        (size_of::<Control>(), align_of::<Control>()),
        |size, align| (size, align),
        region,
    )?;
    let (tail, head) = control.indices();
    Ok(Status {
        header,
        producer: control.meta.producer.load(Ordering::Acquire),
        consumer: control.meta.consumer.load(Ordering::Acquire),
        tail,
        head,
    })
}

#[cfg(all(test, not(loom)))]
mod tests;
