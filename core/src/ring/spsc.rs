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
//! | 384 | `capacity × size_of::<T>()` | slots (at `align_of::<T>()`, at least 384) | producer |
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
//! The **copying** calls — [`Producer::try_push`], [`Producer::send`],
//! [`Producer::push_slice`], [`WriteChunk::set`], [`Consumer::try_pop`],
//! [`Consumer::recv`], [`Consumer::pop_into`], [`ReadChunk::get`] — touch
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
use crate::foundation::layout::{AttachError, Fingerprint, HeaderFields, Kind};
use crate::foundation::plain::Plain;
use crate::foundation::region::Region;
use crate::ring::role;
use crate::ring::shared_copy;
use crate::ring::BlockError;
pub use crate::ring::Status;
use crate::ring::{
    ring_bytes, span, ChunkError, Control, Corrupt, InitError, PopError, PushError, RingConfig,
    RoleError,
};
use crate::wait::blocking::Blocking;
use crate::wait::Wait;

type Slot<T> = UnsafeCell<T>;

/// Where the slots start, for element type `T`.
const fn slots_offset<T>() -> usize {
    crate::ring::slots_offset(size_of::<Control>(), align_of::<Slot<T>>())
}

/// The alignment the region must have.
const fn region_align<T>() -> usize {
    crate::ring::region_align(align_of::<Control>(), align_of::<Slot<T>>())
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
            element: Fingerprint::of::<T>(config.type_id),
            capacity: self.capacity,
            creator_pid: config.creator_pid,
            total_len: Self::bytes_needed(self.capacity).unwrap_or(0) as u64,
        };
        // SAFETY: begin_init ran on this memory.
        unsafe { Control::publish(self.control.as_ptr(), &fields) };
    }

    /// Attaches to a ring that some process initialised in `region`.
    ///
    /// Checks the header against `Kind::Spsc` and `Fingerprint::of::<T>(type_id)`,
    /// the capacity, and that the region holds the whole ring. Returns
    /// [`AttachError::NotReady`] while the creator is still initialising: retry
    /// until a deadline of your choosing.
    pub fn attach(region: Region<'a>, type_id: u64) -> Result<Self, AttachError> {
        let (control, capacity) = Control::attach(
            &region,
            region_align::<T>(),
            Kind::Spsc,
            Fingerprint::of::<T>(type_id),
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

    /// Claims the producer role for `holder` (a pid, or any nonzero id).
    ///
    /// The new producer starts from the shared indices, checked like every
    /// later load: if they are out of range the role is freed again and
    /// the claim fails with [`RoleError::Corrupt`].
    pub fn producer(&self, holder: u32) -> Result<Producer<'a, T>, RoleError> {
        role::claim(&self.control().meta.producer, holder)?;
        Producer::new(*self, holder)
    }

    /// Claims the consumer role for `holder` (a pid, or any nonzero id).
    /// Fails with [`RoleError::Corrupt`] (leaving the role free) if the
    /// shared indices are out of range.
    pub fn consumer(&self, holder: u32) -> Result<Consumer<'a, T>, RoleError> {
        role::claim(&self.control().meta.consumer, holder)?;
        Consumer::new(*self, holder)
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
        holder: u32,
        is_alive: impl FnOnce(u32) -> bool,
    ) -> Result<Producer<'a, T>, RoleError> {
        role::take_over(&self.control().meta.producer, holder, is_alive)?;
        Producer::new(*self, holder)
    }

    /// Claims the consumer role, taking it from its holder if `is_alive`
    /// returns false for that holder's id. The new consumer resumes at the
    /// shared head: an element the dead consumer read but did not release
    /// is delivered again. Out-of-range shared indices fail with
    /// [`RoleError::Corrupt`], as for [`SpscRing::consumer`].
    pub fn take_over_consumer(
        &self,
        holder: u32,
        is_alive: impl FnOnce(u32) -> bool,
    ) -> Result<Consumer<'a, T>, RoleError> {
        role::take_over(&self.control().meta.consumer, holder, is_alive)?;
        Consumer::new(*self, holder)
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

/// The producing end. Exactly one exists per ring at a time; it releases the
/// role when dropped.
pub struct Producer<'a, T> {
    ring: SpscRing<'a, T>,
    /// Elements ever pushed (wrapping); the shared tail mirrors it.
    tail: u32,
    /// The last head read from shared memory.
    head_cache: u32,
    holder: u32,
}

// SAFETY: the producer's state is its own; the shared state is atomic and
// the slots it writes are not read until it publishes them.
unsafe impl<T: Plain> Send for Producer<'_, T> {}

impl<T> core::fmt::Debug for Producer<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Producer")
            .field("holder", &self.holder)
            .field("tail", &self.tail)
            .finish()
    }
}

impl<'a, T: Plain> Producer<'a, T> {
    /// The producer for `holder`, who has just won the role word. Its
    /// indices are loaded (with `Acquire`: a producer that takes over must
    /// see the slots its predecessor published and the consumer's
    /// progress) and checked; if they are out of range, the role is freed
    /// and the claim fails.
    fn new(ring: SpscRing<'a, T>, holder: u32) -> Result<Self, RoleError> {
        let Ok((tail, head_cache)) = ring.control().claim_producer(ring.capacity) else {
            role::release(&ring.control().meta.producer, holder);
            return Err(RoleError::Corrupt);
        };
        Ok(Self {
            ring,
            tail,
            head_cache,
            holder,
        })
    }

    /// Re-reads the consumer's head; `Corrupt` if it is out of range.
    #[inline]
    fn refresh(&mut self) -> Result<u32, Corrupt> {
        let (head, free) = self
            .ring
            .control()
            .load_head(self.tail, self.ring.capacity)?;
        self.head_cache = head;
        Ok(free)
    }

    /// Free slots by the cached head; refreshes it when fewer than `want`.
    ///
    /// The cached head passed [`span`] against the tail when it was loaded
    /// (at the claim or a refresh), and the tail has since moved by at most
    /// the free slots that load showed, so `tail − head_cache <= capacity`
    /// still holds and the subtraction cannot wrap.
    #[inline(always)]
    fn free(&mut self, want: u32) -> Result<u32, Corrupt> {
        debug_assert!(self.tail.wrapping_sub(self.head_cache) <= self.ring.capacity);
        let free = self.ring.capacity - self.tail.wrapping_sub(self.head_cache);
        if free >= want {
            Ok(free)
        } else {
            self.refresh()
        }
    }

    #[inline(always)]
    fn publish(&mut self, count: u32) {
        self.tail = self.tail.wrapping_add(count);
        self.ring
            .control()
            .tail
            .index
            .store(self.tail, Ordering::Release);
    }

    /// Appends `value`, or fails with [`PushError::Full`] without blocking.
    #[inline(always)]
    pub fn try_push(&mut self, value: T) -> Result<(), PushError> {
        if self.free(1)? == 0 {
            return Err(PushError::Full);
        }
        // SAFETY: the slot at `tail` is free (the consumer has released it,
        // as the Acquire load of head showed) and only this producer writes.
        unsafe { self.ring.write_slot(self.tail, value) };
        self.publish(1);
        Ok(())
    }

    /// Appends `value`, waiting while the ring is full (spin, yield, then
    /// park until the consumer frees a slot) for at most `timeout`
    /// (`None`: no limit). Wakes the consumer if it is parked.
    pub fn send<W: Wait>(
        &mut self,
        value: T,
        blocking: &Blocking<W>,
        timeout: Option<core::time::Duration>,
    ) -> Result<(), BlockError> {
        let ring = self.ring;
        let control = ring.control();
        blocking.run(&control.head.wake, timeout, || match self.try_push(value) {
            Ok(()) => Ok(Some(())),
            Err(PushError::Full) => Ok(None),
            Err(PushError::Corrupt) => Err(BlockError::Corrupt),
        })?;
        blocking.notify(&control.tail.wake);
        Ok(())
    }

    /// Wakes the consumer if it is parked in [`Consumer::recv`]; returns
    /// whether it was (a wake syscall was made). [`Producer::send`] does
    /// this itself; call it after publishing with [`Producer::try_push`],
    /// [`Producer::push_slice`] or a [`WriteChunk`] when the consumer may
    /// block. Costs one `SeqCst` fence and one load when nobody sleeps.
    #[inline]
    pub fn wake_consumer(&self, wait: &impl Wait) -> bool {
        crate::wait::event_word::notify(&self.ring.control().tail.wake, wait)
    }

    /// Appends as many of `items` as fit, in order, with one publication;
    /// returns how many (0 when full).
    pub fn push_slice(&mut self, items: &[T]) -> Result<usize, Corrupt> {
        let want = u32::try_from(items.len()).unwrap_or(u32::MAX);
        let n = self.free(want)?.min(want);
        let (first, second) = self.ring.split(self.tail, n);
        #[cfg(not(loom))]
        // SAFETY: the `n` slots from `tail` are free and ours to write (a
        // hostile consumer's accesses meet atomic stores), both runs lie
        // inside the slot array (split stops at its end), and `items` is
        // caller memory, which cannot overlap them.
        unsafe {
            shared_copy::copy_to_shared(
                items.as_ptr(),
                self.ring.slot_ptr(self.tail),
                first as usize,
            );
            shared_copy::copy_to_shared(
                items.as_ptr().add(first as usize),
                self.ring.slot_ptr(0),
                second as usize,
            );
        }
        #[cfg(loom)]
        for (i, item) in items[..n as usize].iter().enumerate() {
            let _ = (first, second);
            // SAFETY: as above, one slot at a time.
            unsafe {
                self.ring
                    .write_slot(self.tail.wrapping_add(i as u32), *item)
            };
        }
        self.publish(n);
        Ok(n as usize)
    }

    /// Free slots now (re-reads the consumer's head).
    pub fn slots(&mut self) -> Result<u32, Corrupt> {
        self.refresh()
    }

    /// Borrows exactly `n` free slots to fill in place; publish them with
    /// [`WriteChunk::commit`]. Fails with [`ChunkError::TooFew`] (saying how
    /// many are free) rather than handing out fewer.
    pub fn write_chunk(&mut self, n: u32) -> Result<WriteChunk<'_, 'a, T>, ChunkError> {
        let free = self.free(n)?;
        if free < n {
            return Err(ChunkError::TooFew { available: free });
        }
        Ok(WriteChunk {
            producer: self,
            len: n,
        })
    }

    /// Elements in the ring (producer's view: exact about its own pushes,
    /// possibly stale about pops). The consumer's head is loaded and
    /// checked against this producer's tail; out of range, the ring reads
    /// as full (the next push fails with `Corrupt`).
    pub fn len(&self) -> u32 {
        let capacity = self.ring.capacity;
        self.ring
            .control()
            .load_head(self.tail, capacity)
            .map_or(capacity, |(_, free)| capacity - free)
    }

    /// Whether the ring looks empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the ring looks full.
    pub fn is_full(&self) -> bool {
        self.len() == self.ring.capacity
    }

    /// Number of slots.
    pub fn capacity(&self) -> u32 {
        self.ring.capacity
    }

    /// The ring this producer writes.
    pub fn ring(&self) -> SpscRing<'a, T> {
        self.ring
    }
}

impl<T> Drop for Producer<'_, T> {
    fn drop(&mut self) {
        role::release(&self.ring.control().meta.producer, self.holder);
    }
}

/// Free slots borrowed from a [`Producer`]. Nothing is visible to the
/// consumer until [`WriteChunk::commit`]; dropping the chunk publishes
/// nothing.
pub struct WriteChunk<'p, 'a, T> {
    producer: &'p mut Producer<'a, T>,
    len: u32,
}

impl<T: Plain> WriteChunk<'_, '_, T> {
    /// Slots in the chunk.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Whether the chunk has no slots.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes slot `i` of the chunk, with atomic stores (sound even if a
    /// hostile consumer accesses the slot).
    ///
    /// # Panics
    ///
    /// If `i >= self.len()`, like slice indexing.
    pub fn set(&mut self, i: u32, value: T) {
        assert!(
            i < self.len,
            "chunk index {i} out of range ({} slots)",
            self.len
        );
        let index = self.producer.tail.wrapping_add(i);
        // SAFETY: the slot is free and owned by this producer until commit.
        unsafe { self.producer.ring.write_slot(index, value) };
    }

    /// The chunk as two slices (the second non-empty only when the chunk
    /// wraps past the end of the buffer). Their contents are whatever the
    /// slots held before: overwrite what you commit.
    ///
    /// A view into shared memory: sound only while the consumer cooperates
    /// (it does not read or write unpublished slots). A hostile consumer
    /// that writes them while the slice is held causes a data race; with an
    /// untrusted peer use [`WriteChunk::set`] or [`Producer::push_slice`]
    /// (see the module docs, "Copies and views").
    #[cfg(not(loom))]
    pub fn as_mut_slices(&mut self) -> (&mut [T], &mut [T]) {
        let ring = self.producer.ring;
        let (first, second) = ring.split(self.producer.tail, self.len);
        // SAFETY: both runs are free slots inside the buffer, owned by this
        // producer until commit, disjoint, and initialised (every bit
        // pattern is a valid `T: Plain`); `&mut self` keeps them unique.
        unsafe {
            (
                core::slice::from_raw_parts_mut(ring.slot_ptr(self.producer.tail), first as usize),
                core::slice::from_raw_parts_mut(ring.slot_ptr(0), second as usize),
            )
        }
    }

    /// Publishes the first `n` slots of the chunk (at most its length) to
    /// the consumer.
    pub fn commit(self, n: u32) {
        let n = n.min(self.len);
        self.producer.publish(n);
    }

    /// Publishes the whole chunk.
    pub fn commit_all(self) {
        let n = self.len;
        self.producer.publish(n);
    }
}

/// The consuming end. Exactly one exists per ring at a time; it releases the
/// role when dropped.
pub struct Consumer<'a, T> {
    ring: SpscRing<'a, T>,
    /// Elements ever popped (wrapping); the shared head mirrors it.
    head: u32,
    /// The last tail read from shared memory.
    tail_cache: u32,
    holder: u32,
}

// SAFETY: the consumer's state is its own; it reads only slots the producer
// has published with Release and it has observed with Acquire.
unsafe impl<T: Plain> Send for Consumer<'_, T> {}

impl<T> core::fmt::Debug for Consumer<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Consumer")
            .field("holder", &self.holder)
            .field("head", &self.head)
            .finish()
    }
}

impl<'a, T: Plain> Consumer<'a, T> {
    /// The consumer for `holder`, who has just won the role word; its
    /// indices are loaded and checked as for [`Producer`]'s.
    fn new(ring: SpscRing<'a, T>, holder: u32) -> Result<Self, RoleError> {
        let Ok((head, tail_cache)) = ring.control().claim_consumer(ring.capacity) else {
            role::release(&ring.control().meta.consumer, holder);
            return Err(RoleError::Corrupt);
        };
        Ok(Self {
            ring,
            head,
            tail_cache,
            holder,
        })
    }

    /// Re-reads the producer's tail; `Corrupt` if it is out of range.
    #[inline]
    fn refresh(&mut self) -> Result<u32, Corrupt> {
        let (tail, ready) = self
            .ring
            .control()
            .load_tail(self.head, self.ring.capacity)?;
        self.tail_cache = tail;
        Ok(ready)
    }

    /// Ready elements by the cached tail; refreshes it when fewer than
    /// `want`. The cached tail passed [`span`] when loaded, and the head
    /// has since moved by at most the ready count that load showed, so the
    /// cached count is at most the capacity.
    #[inline(always)]
    fn ready(&mut self, want: u32) -> Result<u32, Corrupt> {
        let ready = self.tail_cache.wrapping_sub(self.head);
        if ready >= want {
            Ok(ready)
        } else {
            self.refresh()
        }
    }

    #[inline(always)]
    fn release_slots(&mut self, count: u32) {
        self.head = self.head.wrapping_add(count);
        self.ring
            .control()
            .head
            .index
            .store(self.head, Ordering::Release);
    }

    /// Removes the oldest element, or fails with [`PopError::Empty`] without
    /// blocking.
    #[inline(always)]
    pub fn try_pop(&mut self) -> Result<T, PopError> {
        if self.ready(1)? == 0 {
            return Err(PopError::Empty);
        }
        // SAFETY: the slot at `head` was published (Release store of tail,
        // observed by our Acquire load) and the producer will not reuse it
        // until we release it.
        let value = unsafe { self.ring.read_slot(self.head) };
        self.release_slots(1);
        Ok(value)
    }

    /// Removes the oldest element, waiting while the ring is empty (spin,
    /// yield, then park until the producer publishes) for at most
    /// `timeout` (`None`: no limit). Wakes the producer if it is parked.
    pub fn recv<W: Wait>(
        &mut self,
        blocking: &Blocking<W>,
        timeout: Option<core::time::Duration>,
    ) -> Result<T, BlockError> {
        let ring = self.ring;
        let control = ring.control();
        let value = blocking.run(&control.tail.wake, timeout, || match self.try_pop() {
            Ok(v) => Ok(Some(v)),
            Err(PopError::Empty) => Ok(None),
            Err(PopError::Corrupt) => Err(BlockError::Corrupt),
        })?;
        blocking.notify(&control.head.wake);
        Ok(value)
    }

    /// Wakes the producer if it is parked in [`Producer::send`]; returns
    /// whether it was (a wake syscall was made). [`Consumer::recv`] does
    /// this itself; call it after releasing with [`Consumer::try_pop`],
    /// [`Consumer::pop_into`] or a [`ReadChunk`] when the producer may
    /// block. Costs one `SeqCst` fence and one load when nobody sleeps.
    #[inline]
    pub fn wake_producer(&self, wait: &impl Wait) -> bool {
        crate::wait::event_word::notify(&self.ring.control().head.wake, wait)
    }

    /// Copies up to `out.len()` elements into `out`, in order, with one
    /// release; returns how many (0 when empty).
    pub fn pop_into(&mut self, out: &mut [T]) -> Result<usize, Corrupt> {
        let want = u32::try_from(out.len()).unwrap_or(u32::MAX);
        let n = self.ready(want)?.min(want);
        let (first, second) = self.ring.split(self.head, n);
        #[cfg(not(loom))]
        // SAFETY: the `n` slots from `head` are published and ours until
        // released (a hostile producer's writes meet atomic loads); both
        // runs lie inside the buffer; `out` is a unique borrow of caller
        // memory, so it cannot overlap them.
        unsafe {
            shared_copy::copy_from_shared(
                self.ring.slot_ptr(self.head),
                out.as_mut_ptr(),
                first as usize,
            );
            shared_copy::copy_from_shared(
                self.ring.slot_ptr(0),
                out.as_mut_ptr().add(first as usize),
                second as usize,
            );
        }
        #[cfg(loom)]
        for (i, o) in out[..n as usize].iter_mut().enumerate() {
            let _ = (first, second);
            // SAFETY: as above, one slot at a time.
            *o = unsafe { self.ring.read_slot(self.head.wrapping_add(i as u32)) };
        }
        self.release_slots(n);
        Ok(n as usize)
    }

    /// Elements ready now (re-reads the producer's tail).
    pub fn slots(&mut self) -> Result<u32, Corrupt> {
        self.refresh()
    }

    /// Borrows exactly `n` ready elements to read in place; free them with
    /// [`ReadChunk::release`]. Fails with [`ChunkError::TooFew`] (saying how
    /// many are ready) rather than handing out fewer.
    pub fn read_chunk(&mut self, n: u32) -> Result<ReadChunk<'_, 'a, T>, ChunkError> {
        let ready = self.ready(n)?;
        if ready < n {
            return Err(ChunkError::TooFew { available: ready });
        }
        Ok(ReadChunk {
            consumer: self,
            len: n,
        })
    }

    /// Elements in the ring (consumer's view: exact about its own pops,
    /// possibly stale about pushes). The producer's tail is loaded and
    /// checked against this consumer's head; out of range, the ring reads
    /// as full (the next pop fails with `Corrupt`).
    pub fn len(&self) -> u32 {
        let capacity = self.ring.capacity;
        self.ring
            .control()
            .load_tail(self.head, capacity)
            .map_or(capacity, |(_, ready)| ready)
    }

    /// Whether the ring looks empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the ring looks full.
    pub fn is_full(&self) -> bool {
        self.len() == self.ring.capacity
    }

    /// Number of slots.
    pub fn capacity(&self) -> u32 {
        self.ring.capacity
    }

    /// The ring this consumer reads.
    pub fn ring(&self) -> SpscRing<'a, T> {
        self.ring
    }
}

impl<T> Drop for Consumer<'_, T> {
    fn drop(&mut self) {
        role::release(&self.ring.control().meta.consumer, self.holder);
    }
}

/// Ready elements borrowed from a [`Consumer`]. They stay in the ring until
/// [`ReadChunk::release`]; dropping the chunk releases nothing.
pub struct ReadChunk<'c, 'a, T> {
    consumer: &'c mut Consumer<'a, T>,
    len: u32,
}

impl<T: Plain> ReadChunk<'_, '_, T> {
    /// Elements in the chunk.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Whether the chunk is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies element `i` of the chunk, with atomic loads (sound even if a
    /// hostile producer writes the slot: the value is then junk).
    ///
    /// # Panics
    ///
    /// If `i >= self.len()`, like slice indexing.
    pub fn get(&self, i: u32) -> T {
        assert!(
            i < self.len,
            "chunk index {i} out of range ({} elements)",
            self.len
        );
        let index = self.consumer.head.wrapping_add(i);
        // SAFETY: the slot is published and not released yet.
        unsafe { self.consumer.ring.read_slot(index) }
    }

    /// The chunk as two slices (the second non-empty only when the chunk
    /// wraps past the end of the buffer).
    ///
    /// A view into shared memory: sound only while the producer cooperates
    /// (it does not write published, unreleased slots). A hostile producer
    /// that writes them while the slice is held causes a data race —
    /// undefined behaviour, not just junk values; with an untrusted peer
    /// use [`ReadChunk::get`] or [`Consumer::pop_into`] (see the module
    /// docs, "Copies and views").
    #[cfg(not(loom))]
    pub fn as_slices(&self) -> (&[T], &[T]) {
        let ring = self.consumer.ring;
        let (first, second) = ring.split(self.consumer.head, self.len);
        // SAFETY: both runs are published, unreleased slots inside the
        // buffer; the producer does not write them until release.
        unsafe {
            (
                core::slice::from_raw_parts(ring.slot_ptr(self.consumer.head), first as usize),
                core::slice::from_raw_parts(ring.slot_ptr(0), second as usize),
            )
        }
    }

    /// Frees the first `n` elements of the chunk (at most its length) for
    /// the producer.
    pub fn release(self, n: u32) {
        let n = n.min(self.len);
        self.consumer.release_slots(n);
    }

    /// Frees the whole chunk.
    pub fn release_all(self) {
        let n = self.len;
        self.consumer.release_slots(n);
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
