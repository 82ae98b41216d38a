//! A single-producer single-consumer ring of variable-length messages in
//! caller memory: each message a whole record (a [`crate::frame`] header
//! and its payload), handed out in place on both sides.
//!
//! # Layout (version [`crate::LAYOUT_VERSION`])
//!
//! | offset | bytes | contents | written by |
//! |---|---|---|---|
//! | 0 | 64 | [`Header`](crate::layout::Header) (kind `Bytes`, capacity in bytes) | creator |
//! | 64 | 4 | producer holder id (0 = free) | claimers |
//! | 68 | 4 | consumer holder id (0 = free) | claimers |
//! | 128 | 4 | tail: bytes ever written (wrapping) | producer |
//! | 132 | 4 | not-empty event word: the consumer parks on it | consumer (announce), producer (notify) |
//! | 256 | 4 | head: bytes ever released (wrapping) | consumer |
//! | 260 | 4 | not-full event word: the producer parks on it | producer (announce), consumer (notify) |
//! | 384 | capacity | records | producer |
//!
//! The region must be aligned to 128 bytes. The capacity is a power of two
//! from [`MIN_CAPACITY`] to [`crate::ring::MAX_CAPACITY`] bytes.
//!
//! # Records
//!
//! A record is a 16-byte [`FrameHeader`] and its payload, padded to a
//! multiple of [`RECORD_ALIGN`] bytes, so payloads start 8-byte aligned.
//! A record never wraps: when it does not fit before the end of the buffer,
//! the producer fills the rest with a padding record (or, if fewer than 16
//! bytes are left, with nothing: both sides skip such a tail) and starts
//! again at the front. The largest payload is therefore
//! `capacity − 16` bytes ([`ByteRing::max_payload`]), and one that large
//! waits until the ring is empty; keep messages well under half the
//! capacity for the two sides to overlap.
//!
//! The header and payload bytes of a record are exactly one stream frame of
//! [`crate::codec`]: [`RecordRef::frame`] can go to a socket unchanged.
//!
//! # Speed
//!
//! Each side keeps its own index and a cached copy of the other's, and
//! re-reads the shared one only when the cache says full (producer) or
//! empty (consumer). A message is a header write, the payload copy (or none,
//! with [`Producer::reserve`] and [`Consumer::peek`]) and one `Release`
//! store: no read-modify-write, no syscall. [`Consumer::drain`] releases a
//! whole batch with one store.
//!
//! # Blocking
//!
//! [`Producer::send_blocking`] and [`Consumer::recv_blocking`] wait with a
//! [`Blocking`] strategy on the two event words, as the SPSC ring's
//! `send`/`recv` do; after zero-copy operations ([`Reservation::commit`],
//! [`Record::release`], [`Consumer::drain`]) call
//! [`Producer::wake_consumer`] / [`Consumer::wake_producer`] if the peer
//! may be parked.
//!
//! # Untrusted peers
//!
//! Every header is read once into a local copy and checked: its check word
//! and flags ([`FrameHeader::decode`]), its length against the bytes
//! published and the bytes left before the end of the buffer. A record that
//! fails is [`Corrupt`] and nothing is read or released. The indices pass
//! the rings' one range check on every load — when a role is claimed or
//! taken over (failing with [`RoleError::Corrupt`], and also for an own
//! index that is not a multiple of [`RECORD_ALIGN`]), on every refresh, for
//! [`ByteRing::used`] and [`status`] — and the cached copies only move by
//! what a check allowed. Offsets into the buffer are masked with
//! `capacity − 1`, so a hostile peer can make operations fail or deliver
//! junk *bytes*, but never make a handle touch memory outside the region.
//!
//! ## Copies and views
//!
//! The **copying** calls — [`Producer::send`], [`Reservation::write`],
//! [`Consumer::recv`], [`RecordRef::read`] (and the header each side writes
//! or reads) — move bytes with relaxed atomic loads and stores, a word at a
//! time where aligned, so they are sound even while a hostile peer writes
//! the same bytes: it can garble the message, nothing more. Use them when
//! the peer is not trusted. (They cost vectorisation: long payloads copy at
//! roughly half to two-thirds of `memcpy`'s rate.)
//!
//! The **views** — [`RecordRef::as_slice`], [`RecordRef::frame`],
//! [`Record::as_slice`] and [`Reservation::as_mut_slice`] — are references
//! into the ring. They are sound against a *cooperating* peer, which does
//! not touch a record between its publication and its release. A hostile
//! peer can write those bytes while the reference is held: a data race,
//! undefined behaviour in this process (the compiler may assume that the
//! bytes behind a `&[u8]` do not change, e.g. check a length in them and
//! then read a different one). Their bounds stay safe; against a peer you
//! do not trust, copy instead.
//!
//! # Several producers
//!
//! The producer role word is a try-lock: claiming it is an `Acquire`
//! compare-exchange, dropping the [`Producer`] a `Release` one, and a new
//! producer resumes at the shared tail. Producers (threads or processes)
//! serialise by claiming the role for each message or batch and dropping it
//! after, retrying while [`RoleError::Taken`]; a producer that died holding
//! the role is replaced with [`ByteRing::take_over_producer`], losing only
//! its unpublished record. This costs two uncontended read-modify-writes
//! per claim, and waiting producers spin: to park them, guard the claim with
//! a futex mutex. For producers that need no order between them, one ring
//! per producer is faster still.

use core::fmt;
use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use core::ptr::NonNull;

use crate::foundation::atomics::{Ordering, UnsafeCell};
use crate::foundation::frame::{record_len, FrameHeader, FLAG_PAD, HEADER_LEN, RECORD_ALIGN};
use crate::foundation::layout::{AttachError, Fingerprint, HeaderFields, HeaderSnapshot, Kind};
use crate::foundation::region::{Region, RegionError};
use crate::ring::role;
#[cfg(not(loom))]
use crate::ring::shared_copy;
use crate::ring::BlockError;
use crate::ring::{
    capacity_is_valid, span, Control, Corrupt, InitError, PopError, RingConfig, RoleError,
};
use crate::wait::blocking::Blocking;
use crate::wait::Wait;

/// The smallest capacity in bytes: room for a header and 16 payload bytes.
pub const MIN_CAPACITY: u32 = 32;

#[cfg(not(loom))]
const _: () = {
    use static_assertions::const_assert_eq;
    const_assert_eq!(DATA_OFFSET, 384);
    const_assert_eq!(size_of::<Cell>(), RECORD_ALIGN);
    const_assert_eq!(HEADER_LEN % RECORD_ALIGN, 0);
};

/// Eight bytes of the buffer. Outside loom the cells are just the bytes;
/// under loom each is a tracked cell, so a model catches a consumer reading
/// bytes the producer has not published.
type Cell = UnsafeCell<[u8; RECORD_ALIGN]>;

/// Where the records start.
const DATA_OFFSET: usize = size_of::<Control>();

/// What the header records as the element: bytes, at record alignment.
const fn element(type_id: u64) -> Fingerprint {
    Fingerprint {
        size: 1,
        align: RECORD_ALIGN as u32,
        type_id,
    }
}

/// Why a message could not be sent (or space for it reserved). Nothing was
/// written in any case: a message is sent whole or not at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// The payload is longer than the ring's largest ([`ByteRing::max_payload`]).
    TooLarge {
        /// Payload bytes asked for.
        len: usize,
        /// The ring's largest payload.
        max: u32,
    },
    /// Not enough free space now: the consumer has not caught up.
    Full,
    /// See [`Corrupt`].
    Corrupt,
}

/// Why no message was received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvError {
    /// No message is ready.
    Empty,
    /// The next message is longer than the buffer given; it stays in the
    /// ring.
    BufferTooSmall {
        /// The message's payload length.
        needed: usize,
    },
    /// See [`Corrupt`].
    Corrupt,
}

impl From<Corrupt> for SendError {
    fn from(_: Corrupt) -> Self {
        Self::Corrupt
    }
}

impl From<PopError> for RecvError {
    fn from(e: PopError) -> Self {
        match e {
            PopError::Empty => Self::Empty,
            PopError::Corrupt => Self::Corrupt,
        }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { len, max } => {
                write!(
                    f,
                    "message of {len} bytes exceeds the ring's largest, {max}"
                )
            }
            Self::Full => f.write_str("ring full"),
            Self::Corrupt => Corrupt.fmt(f),
        }
    }
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("ring empty"),
            Self::BufferTooSmall { needed } => {
                write!(f, "buffer too small: the message has {needed} bytes")
            }
            Self::Corrupt => Corrupt.fmt(f),
        }
    }
}

/// A byte ring in caller memory: the handle from which the producer and
/// the consumer are claimed. Cheap to copy; it owns nothing.
pub struct ByteRing<'a> {
    control: NonNull<Control>,
    data: NonNull<Cell>,
    capacity: u32,
    _memory: PhantomData<&'a Control>,
}

impl Clone for ByteRing<'_> {
    fn clone(&self) -> Self {
        *self
    }
}

impl Copy for ByteRing<'_> {}

impl fmt::Debug for ByteRing<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ByteRing")
            .field("capacity", &self.capacity)
            .field("used", &self.used())
            .field("producer", &self.producer_holder())
            .field("consumer", &self.consumer_holder())
            .finish()
    }
}

// SAFETY: all shared state is reached through atomics, and the record bytes
// only through the claimed producer and consumer handles.
unsafe impl Send for ByteRing<'_> {}
// SAFETY: as above; `&ByteRing` only reads atomics and claims roles.
unsafe impl Sync for ByteRing<'_> {}

impl<'a> ByteRing<'a> {
    /// Bytes a ring of `capacity` record bytes needs, header included.
    pub const fn bytes_needed(capacity: u32) -> Result<usize, InitError> {
        if !capacity_is_valid(capacity) {
            return Err(InitError::Capacity { capacity });
        }
        if capacity < MIN_CAPACITY {
            return Err(InitError::CapacityBelow {
                capacity,
                min: MIN_CAPACITY,
            });
        }
        // Outside loom a cell is its 8 bytes; under loom it is bigger.
        let cells = capacity as usize / RECORD_ALIGN;
        match (cells * size_of::<Cell>()).checked_add(DATA_OFFSET) {
            Some(total) => Ok(total),
            None => Err(InitError::Region(RegionError::Overflow)),
        }
    }

    /// The alignment a region for a byte ring must have.
    pub const fn region_align() -> usize {
        align_of::<Control>()
    }

    /// Creates an empty ring in `region`, with no producer or consumer.
    /// `config.capacity` counts record bytes (a power of two, at least
    /// [`MIN_CAPACITY`]).
    ///
    /// The creator owns the memory until this returns: nobody may attach
    /// before (attachers see `NotReady` and retry), and re-initialising a
    /// ring that others use is a protocol error (they will see junk).
    pub fn init(region: Region<'a>, config: RingConfig) -> Result<Self, InitError> {
        let ring = Self::begin_init(region, config)?;
        ring.publish_init(config);
        Ok(ring)
    }

    /// [`ByteRing::init`]'s first half, for loom models of the init/attach
    /// handshake (which attach between the halves); not in the API outside
    /// `cfg(loom)`.
    #[cfg(loom)]
    pub fn init_begin(region: Region<'a>, config: RingConfig) -> Result<Self, InitError> {
        Self::begin_init(region, config)
    }

    /// [`ByteRing::init`]'s second half, for loom models (see
    /// [`ByteRing::init_begin`]); not in the API outside `cfg(loom)`.
    #[cfg(loom)]
    pub fn init_publish(&self, config: RingConfig) {
        self.publish_init(config)
    }

    /// First half of [`ByteRing::init`]: checks the region, marks the
    /// header `INITIALISING` and zeroes the indices and role words (under
    /// loom: constructs every atomic and cell).
    fn begin_init(region: Region<'a>, config: RingConfig) -> Result<Self, InitError> {
        let total = Self::bytes_needed(config.capacity)?;
        let base = region.check(total, Self::region_align())?;
        let control = base.cast::<Control>();
        // SAFETY: the region holds writable memory for an aligned Control
        // (checked above); the creator owns it until publication.
        unsafe { Control::begin(control.as_ptr()) };
        // SAFETY: the region holds `total` bytes, so the data starts inside.
        let data = unsafe { base.add(DATA_OFFSET) }.cast::<Cell>();
        #[cfg(loom)]
        for i in 0..config.capacity as usize / RECORD_ALIGN {
            // SAFETY: cell `i` lies inside the region; under loom a cell
            // must be constructed before use.
            unsafe {
                data.as_ptr()
                    .add(i)
                    .write(UnsafeCell::new([0; RECORD_ALIGN]))
            };
        }
        Ok(Self {
            control,
            data,
            capacity: config.capacity,
            _memory: PhantomData,
        })
    }

    /// Second half of [`ByteRing::init`]: records the configuration and
    /// publishes the ring as ready (`Release`).
    fn publish_init(&self, config: RingConfig) {
        let fields = HeaderFields {
            kind: Kind::Bytes,
            element: element(config.type_id),
            capacity: self.capacity,
            creator_pid: config.creator_pid,
            total_len: Self::bytes_needed(self.capacity).unwrap_or(0) as u64,
        };
        // SAFETY: begin_init ran on this memory.
        unsafe { Control::publish(self.control.as_ptr(), &fields) };
    }

    /// Attaches to a byte ring that some process initialised in `region`.
    ///
    /// Checks the header against `Kind::Bytes` and `type_id`, the capacity,
    /// and that the region holds the whole ring. Returns
    /// [`AttachError::NotReady`] while the creator is still initialising:
    /// retry until a deadline of your choosing.
    pub fn attach(region: Region<'a>, type_id: u64) -> Result<Self, AttachError> {
        let (control, capacity) = Control::attach(
            &region,
            Self::region_align(),
            Kind::Bytes,
            element(type_id),
            Self::bytes_needed,
        )?;
        let base = control.cast::<u8>();
        // SAFETY: the region holds `total` bytes, so the data is inside it.
        let data = unsafe { base.add(DATA_OFFSET) }.cast::<Cell>();
        Ok(Self {
            control,
            data,
            capacity,
            _memory: PhantomData,
        })
    }

    /// Claims the producer role for `holder` (a pid, or any nonzero id).
    ///
    /// The new producer starts from the shared indices, checked like every
    /// later load (and its own, the tail, for record alignment): if they
    /// are out of range the role is freed again and the claim fails with
    /// [`RoleError::Corrupt`].
    pub fn producer(&self, holder: u32) -> Result<Producer<'a>, RoleError> {
        role::claim(&self.control().meta.producer, holder)?;
        Producer::new(*self, holder)
    }

    /// Claims the consumer role for `holder` (a pid, or any nonzero id).
    /// Fails with [`RoleError::Corrupt`] (leaving the role free) if the
    /// shared indices are out of range or the head is not record-aligned.
    pub fn consumer(&self, holder: u32) -> Result<Consumer<'a>, RoleError> {
        role::claim(&self.control().meta.consumer, holder)?;
        Consumer::new(*self, holder)
    }

    /// Claims the producer role, taking it from its holder if `is_alive`
    /// returns false for that holder's id. The new producer resumes at the
    /// shared tail: a record the dead producer reserved but did not commit
    /// is lost; one it committed stays. Out-of-range shared indices fail
    /// with [`RoleError::Corrupt`], as for [`ByteRing::producer`].
    pub fn take_over_producer(
        &self,
        holder: u32,
        is_alive: impl FnOnce(u32) -> bool,
    ) -> Result<Producer<'a>, RoleError> {
        role::take_over(&self.control().meta.producer, holder, is_alive)?;
        Producer::new(*self, holder)
    }

    /// Claims the consumer role, taking it from its holder if `is_alive`
    /// returns false for that holder's id. The new consumer resumes at the
    /// shared head: a record the dead consumer peeked but did not release
    /// is delivered again. Out-of-range shared indices fail with
    /// [`RoleError::Corrupt`], as for [`ByteRing::consumer`].
    pub fn take_over_consumer(
        &self,
        holder: u32,
        is_alive: impl FnOnce(u32) -> bool,
    ) -> Result<Consumer<'a>, RoleError> {
        role::take_over(&self.control().meta.consumer, holder, is_alive)?;
        Consumer::new(*self, holder)
    }
}

impl ByteRing<'_> {
    /// Record bytes (a power of two).
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// The largest payload a message may have: `capacity − 16`. Longer ones
    /// fail with [`SendError::TooLarge`].
    pub fn max_payload(&self) -> u32 {
        self.capacity - HEADER_LEN as u32
    }

    /// The producer's holder id, 0 if none.
    pub fn producer_holder(&self) -> u32 {
        self.control().meta.producer.load(Ordering::Relaxed)
    }

    /// The consumer's holder id, 0 if none.
    pub fn consumer_holder(&self) -> u32 {
        self.control().meta.consumer.load(Ordering::Relaxed)
    }

    /// The header as it is now (for inspectors).
    pub fn header(&self) -> HeaderSnapshot {
        self.control().meta.header.snapshot()
    }

    /// Bytes in use (records, headers and padding) at some moment during
    /// the call. The indices pass the rings' one range check; a pair out of
    /// range (corrupt, or never read consistently while both sides raced)
    /// reads as full, so the result is never above the capacity. [`status`]
    /// tells corrupt apart (its `fill` is `None`).
    pub fn used(&self) -> u32 {
        let (tail, head) = self.control().indices();
        span(tail, head, self.capacity).unwrap_or(self.capacity)
    }

    /// Whether no record is in the ring.
    pub fn is_empty(&self) -> bool {
        self.used() == 0
    }

    fn control(&self) -> &Control {
        // SAFETY: `control` points to a live, initialised Control for 'a;
        // every field is atomic, so a shared reference is sound.
        unsafe { self.control.as_ref() }
    }

    /// Copies `src` into the buffer at byte `pos`, in whole aligned words
    /// (the buffer is only ever accessed so, outside loom): a word covered
    /// in part is read, merged and written back.
    ///
    /// # Safety
    ///
    /// `pos + src.len() <= capacity`, and the 8-byte cells those bytes
    /// touch are the producer's own (not published, or released by the
    /// consumer). Records are 8-aligned and padded to 8, so the cells of a
    /// record's bytes belong to that record.
    #[inline(always)]
    unsafe fn write(&self, pos: u32, src: &[u8]) {
        debug_assert!(pos as usize + src.len() <= self.capacity as usize);
        #[cfg(not(loom))]
        // SAFETY: the cells touched are inside the buffer (8-aligned, a
        // multiple of 8 long) and the producer's (caller); `src` is caller
        // memory borrowed shared, so it cannot overlap the ring; a hostile
        // consumer's accesses meet atomic loads and stores.
        unsafe {
            shared_copy::write_words(src.as_ptr(), self.byte_ptr(pos), src.len())
        };
        #[cfg(loom)]
        self.for_cells(pos, src.len(), |cell, at, range| {
            // SAFETY: as above; `at + range.len() <= 8` within the cell.
            cell.with_mut(|p| unsafe {
                p.cast::<u8>()
                    .add(at)
                    .copy_from_nonoverlapping(src[range.clone()].as_ptr(), range.len())
            })
        });
    }

    /// Copies bytes from the buffer at `pos` into `dst`, reading whole
    /// aligned words.
    ///
    /// # Safety
    ///
    /// `pos + dst.len() <= capacity`, and the 8-byte cells those bytes
    /// touch are published and not yet released (true of every cell of a
    /// checked record).
    #[inline(always)]
    unsafe fn read(&self, pos: u32, dst: &mut [u8]) {
        debug_assert!(pos as usize + dst.len() <= self.capacity as usize);
        #[cfg(not(loom))]
        // SAFETY: the cells touched are inside the buffer and published
        // (caller); `dst` is a unique borrow of caller memory, so it cannot
        // overlap the ring; a hostile producer's writes meet atomic loads.
        unsafe {
            shared_copy::read_words(self.byte_ptr(pos), dst.as_mut_ptr(), dst.len())
        };
        #[cfg(loom)]
        self.for_cells(pos, dst.len(), |cell, at, range| {
            // SAFETY: as above; `at + range.len() <= 8` within the cell.
            cell.with(|p| unsafe {
                p.cast::<u8>()
                    .add(at)
                    .copy_to_nonoverlapping(dst[range.clone()].as_mut_ptr(), range.len())
            })
        });
    }

    /// Calls `f(cell, offset in cell, range of the caller's bytes)` for each
    /// cell that `pos..pos + len` touches.
    #[cfg(loom)]
    fn for_cells(
        &self,
        pos: u32,
        len: usize,
        mut f: impl FnMut(&Cell, usize, core::ops::Range<usize>),
    ) {
        let mut done = 0;
        while done < len {
            let at = pos as usize + done;
            let n = (RECORD_ALIGN - at % RECORD_ALIGN).min(len - done);
            // SAFETY: at < pos + len <= capacity, so the cell is inside.
            let cell = unsafe { &*self.data.as_ptr().add(at / RECORD_ALIGN) };
            f(cell, at % RECORD_ALIGN, done..done + n);
            done += n;
        }
    }

    /// The buffer's byte `pos` (< capacity, by the callers' checks).
    #[cfg(not(loom))]
    #[inline(always)]
    fn byte_ptr(&self, pos: u32) -> *mut u8 {
        debug_assert!(pos <= self.capacity);
        // SAFETY: pos <= capacity, and the region holds `capacity` bytes
        // after the control block; Cell is transparent over its bytes.
        unsafe { self.data.as_ptr().cast::<u8>().add(pos as usize) }
    }
}

/// The producing end. Exactly one exists per ring at a time; it releases the
/// role when dropped.
pub struct Producer<'a> {
    ring: ByteRing<'a>,
    /// Bytes ever written (wrapping), padding included; the shared tail
    /// mirrors it after each publication.
    tail: u32,
    /// The last head read from shared memory.
    head_cache: u32,
    holder: u32,
}

// SAFETY: the producer's state is its own; the shared state is atomic and
// the bytes it writes are not read until it publishes them.
unsafe impl Send for Producer<'_> {}

impl fmt::Debug for Producer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("holder", &self.holder)
            .field("tail", &self.tail)
            .finish()
    }
}

impl<'a> Producer<'a> {
    /// The producer for `holder`, who has just won the role word. Its
    /// indices are loaded with `Acquire` (a producer that takes over, or
    /// claims the role after another producer, must see its predecessor's
    /// records and the consumer's progress) and checked: the pair by the
    /// rings' range check, the tail (which it will write at) for record
    /// alignment. If either fails, the role is freed and the claim fails.
    fn new(ring: ByteRing<'a>, holder: u32) -> Result<Self, RoleError> {
        match ring.control().claim_producer(ring.capacity) {
            Ok((tail, head_cache)) if (tail as usize).is_multiple_of(RECORD_ALIGN) => Ok(Self {
                ring,
                tail,
                head_cache,
                holder,
            }),
            _ => {
                role::release(&ring.control().meta.producer, holder);
                Err(RoleError::Corrupt)
            }
        }
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

    /// Free bytes by the cached head; refreshes it when fewer than `want`.
    #[inline(always)]
    fn free(&mut self, want: u32) -> Result<u32, Corrupt> {
        let free = self
            .ring
            .capacity
            .wrapping_sub(self.tail.wrapping_sub(self.head_cache));
        if free >= want && free <= self.ring.capacity {
            Ok(free)
        } else {
            self.refresh()
        }
    }

    #[inline(always)]
    fn publish(&self) {
        self.ring
            .control()
            .tail
            .index
            .store(self.tail, Ordering::Release);
    }

    /// Finds room for a record of `size` bytes, padding to the end of the
    /// buffer first if it would not fit there; returns its offset.
    #[inline]
    fn place(&mut self, size: u32) -> Result<u32, SendError> {
        let capacity = self.ring.capacity;
        let pos = self.tail & (capacity - 1);
        let to_end = capacity - pos;
        if size <= to_end {
            return if self.free(size)? >= size {
                Ok(pos)
            } else {
                Err(SendError::Full)
            };
        }
        // The record would straddle the end: fill the end with padding (as
        // soon as the padding itself fits) and start again at the front.
        let free = self.free(to_end.saturating_add(size))?;
        if free < to_end {
            return Err(SendError::Full);
        }
        if to_end >= HEADER_LEN as u32 {
            let pad = FrameHeader {
                len: to_end - HEADER_LEN as u32,
                tag: 0,
                flags: FLAG_PAD,
            };
            // SAFETY: pos + 16 <= capacity, and these free bytes are ours.
            unsafe { self.ring.write(pos, &pad.encode()) };
        }
        self.tail = self.tail.wrapping_add(to_end);
        if free - to_end < size {
            // Publish the padding so the consumer can free the front.
            self.publish();
            return Err(SendError::Full);
        }
        Ok(0)
    }

    /// Reserves room for a message of `len` payload bytes, to be written in
    /// place and published with [`Reservation::commit`]. Fails with
    /// [`SendError::TooLarge`] above [`ByteRing::max_payload`] and with
    /// [`SendError::Full`] when the room is not free now.
    #[inline]
    pub fn reserve(&mut self, len: usize) -> Result<Reservation<'_, 'a>, SendError> {
        let max = self.ring.max_payload();
        if len > max as usize {
            return Err(SendError::TooLarge { len, max });
        }
        // len <= max < 2^31, so the record length cannot overflow.
        let size = record_len(len as u32).unwrap_or(u32::MAX);
        let pos = self.place(size)?;
        Ok(Reservation {
            producer: self,
            pos,
            len: len as u32,
        })
    }

    /// Sends `payload` as one message tagged `tag`: all of it, or nothing
    /// (with the reasons of [`Producer::reserve`]).
    #[inline]
    pub fn send(&mut self, tag: u32, payload: &[u8]) -> Result<(), SendError> {
        let mut r = self.reserve(payload.len())?;
        r.write(0, payload);
        r.commit(tag, payload.len());
        Ok(())
    }

    /// Sends `payload` as one message tagged `tag`, waiting while there is
    /// no room (spin, yield, then park until the consumer frees some) for
    /// at most `timeout` (`None`: no limit). Wakes the consumer if it is
    /// parked. A payload above [`ByteRing::max_payload`] fails at once
    /// with [`BlockError::TooLarge`].
    pub fn send_blocking<W: Wait>(
        &mut self,
        tag: u32,
        payload: &[u8],
        blocking: &Blocking<W>,
        timeout: Option<core::time::Duration>,
    ) -> Result<(), BlockError> {
        let ring = self.ring;
        let control = ring.control();
        blocking.run(&control.head.wake, timeout, || {
            let tail = self.tail;
            match self.send(tag, payload) {
                Ok(()) => Ok(Some(())),
                Err(SendError::Full) => {
                    // Padding published on the way: the consumer must wake
                    // to skip it, or the room at the front never frees.
                    if self.tail != tail {
                        blocking.notify(&control.tail.wake);
                    }
                    Ok(None)
                }
                Err(SendError::TooLarge { len, max }) => Err(BlockError::TooLarge { len, max }),
                Err(SendError::Corrupt) => Err(BlockError::Corrupt),
            }
        })?;
        blocking.notify(&control.tail.wake);
        Ok(())
    }

    /// Wakes the consumer if it is parked in [`Consumer::recv_blocking`];
    /// returns whether it was (a wake syscall was made). Call it after
    /// [`Producer::send`] or [`Reservation::commit`] when the consumer may
    /// block. Costs one `SeqCst` fence and one load when nobody sleeps.
    #[inline]
    pub fn wake_consumer(&self, wait: &impl Wait) -> bool {
        crate::wait::event_word::notify(&self.ring.control().tail.wake, wait)
    }

    /// Free bytes now (re-reads the consumer's head). A message of `len`
    /// bytes needs `record_len(len)` of them before the end of the buffer.
    pub fn free_bytes(&mut self) -> Result<u32, Corrupt> {
        self.refresh()
    }

    /// The ring this producer writes.
    pub fn ring(&self) -> ByteRing<'a> {
        self.ring
    }
}

impl Drop for Producer<'_> {
    fn drop(&mut self) {
        // Padding written for a reservation that was never committed is
        // still owed to the consumer: publish it before letting go (unless
        // the role was taken from us: the tail is the new holder's now).
        if self.ring.producer_holder() == self.holder {
            self.publish();
        }
        role::release(&self.ring.control().meta.producer, self.holder);
    }
}

/// Room for one message, borrowed from a [`Producer`]. Nothing is visible to
/// the consumer until [`Reservation::commit`]; dropping the reservation
/// sends nothing.
pub struct Reservation<'p, 'a> {
    producer: &'p mut Producer<'a>,
    /// Offset of the record's header in the buffer.
    pos: u32,
    /// Payload bytes reserved.
    len: u32,
}

impl fmt::Debug for Reservation<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reservation")
            .field("pos", &self.pos)
            .field("len", &self.len)
            .finish()
    }
}

impl Reservation<'_, '_> {
    /// Payload bytes reserved.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether the reservation has no payload bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The payload bytes, in place in the ring (8-byte aligned). Their
    /// contents are whatever the buffer held: overwrite what you commit.
    ///
    /// A view into shared memory: sound only while the consumer cooperates.
    /// A hostile consumer writing these bytes while the slice is held
    /// causes a data race; with an untrusted peer use
    /// [`Reservation::write`] (see the module docs, "Copies and views").
    #[cfg(not(loom))]
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        let ring = self.producer.ring;
        // SAFETY: pos + 16 + len <= capacity (placed so), the bytes are free
        // and this producer's until commit, initialised (plain bytes), and
        // `&mut self` keeps the slice unique.
        unsafe {
            core::slice::from_raw_parts_mut(
                ring.byte_ptr(self.pos + HEADER_LEN as u32),
                self.len as usize,
            )
        }
    }

    /// Copies `bytes` into the payload at `offset`, with atomic stores
    /// (sound even if a hostile consumer accesses them).
    ///
    /// # Panics
    ///
    /// If `offset + bytes.len()` exceeds [`Reservation::len`], like slice
    /// indexing.
    pub fn write(&mut self, offset: usize, bytes: &[u8]) {
        assert!(
            offset
                .checked_add(bytes.len())
                .is_some_and(|end| end <= self.len as usize),
            "write of {} bytes at {offset} outside a {}-byte reservation",
            bytes.len(),
            self.len
        );
        let at = self.pos + HEADER_LEN as u32 + offset as u32;
        // SAFETY: inside the reservation (checked), which is inside the
        // buffer and this producer's until commit.
        unsafe { self.producer.ring.write(at, bytes) };
    }

    /// Publishes the first `len` payload bytes (at most those reserved) as
    /// one message tagged `tag`. Unused reserved bytes are given back.
    #[inline]
    pub fn commit(self, tag: u32, len: usize) {
        let len = len.min(self.len as usize) as u32;
        let header = FrameHeader::new(tag, len);
        // SAFETY: the header's 16 bytes are the reservation's first.
        unsafe { self.producer.ring.write(self.pos, &header.encode()) };
        let size = record_len(len).unwrap_or(u32::MAX);
        let p = &mut *self.producer;
        p.tail = p.tail.wrapping_add(size);
        p.publish();
    }
}

/// Where the next record is: found and checked by [`Consumer::locate`].
#[derive(Clone, Copy, Debug)]
struct Located {
    pos: u32,
    tag: u32,
    len: u32,
    size: u32,
}

/// The consuming end. Exactly one exists per ring at a time; it releases the
/// role when dropped.
pub struct Consumer<'a> {
    ring: ByteRing<'a>,
    /// Bytes ever released (wrapping); the shared head mirrors it.
    head: u32,
    /// The last tail read from shared memory.
    tail_cache: u32,
    holder: u32,
}

// SAFETY: the consumer's state is its own; it reads only bytes the producer
// has published with Release and it has observed with Acquire.
unsafe impl Send for Consumer<'_> {}

impl fmt::Debug for Consumer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("holder", &self.holder)
            .field("head", &self.head)
            .finish()
    }
}

impl<'a> Consumer<'a> {
    /// The consumer for `holder`, who has just won the role word; its
    /// indices are loaded and checked as for [`Producer`]'s (its own, the
    /// head, for record alignment).
    fn new(ring: ByteRing<'a>, holder: u32) -> Result<Self, RoleError> {
        match ring.control().claim_consumer(ring.capacity) {
            Ok((head, tail_cache)) if (head as usize).is_multiple_of(RECORD_ALIGN) => Ok(Self {
                ring,
                head,
                tail_cache,
                holder,
            }),
            _ => {
                role::release(&ring.control().meta.consumer, holder);
                Err(RoleError::Corrupt)
            }
        }
    }

    /// Bytes published and not released, by the cached tail; re-reads the
    /// producer's tail when the cache says none. `Corrupt` if out of range.
    #[inline(always)]
    fn ready(&mut self) -> Result<u32, Corrupt> {
        let ready = self.tail_cache.wrapping_sub(self.head);
        if ready != 0 && ready <= self.ring.capacity {
            return Ok(ready);
        }
        let (tail, ready) = self
            .ring
            .control()
            .load_tail(self.head, self.ring.capacity)?;
        self.tail_cache = tail;
        Ok(ready)
    }

    #[inline(always)]
    fn store_head(&self) {
        self.ring
            .control()
            .head
            .index
            .store(self.head, Ordering::Release);
    }

    /// Finds and checks the next record, skipping (and releasing) the
    /// padding before it. Reads its header exactly once from shared memory.
    #[inline]
    fn locate(&mut self) -> Result<Located, PopError> {
        let capacity = self.ring.capacity;
        // An honest producer leaves at most one padding run before a
        // record; a second one in a row is corrupt.
        for attempt in 0..2 {
            let ready = self.ready()?;
            if ready == 0 {
                return Err(PopError::Empty);
            }
            if !(self.head as usize).is_multiple_of(RECORD_ALIGN) {
                return Err(PopError::Corrupt);
            }
            let pos = self.head & (capacity - 1);
            let to_end = capacity - pos;
            if to_end >= HEADER_LEN as u32 {
                if ready < HEADER_LEN as u32 {
                    return Err(PopError::Corrupt);
                }
                let mut bytes = [0u8; HEADER_LEN];
                // SAFETY: pos + 16 <= capacity, and at least 16 bytes from
                // `head` are published (ready >= 16) and not released.
                unsafe { self.ring.read(pos, &mut bytes) };
                let header = FrameHeader::decode(&bytes).map_err(|_| PopError::Corrupt)?;
                if !header.is_pad() {
                    let size = record_len(header.len).ok_or(PopError::Corrupt)?;
                    if size > to_end || size > ready {
                        return Err(PopError::Corrupt);
                    }
                    return Ok(Located {
                        pos,
                        tag: header.tag,
                        len: header.len,
                        size,
                    });
                }
            }
            // Padding (or a tail too short for a header) up to the end.
            if ready < to_end || attempt == 1 {
                return Err(PopError::Corrupt);
            }
            self.head = self.head.wrapping_add(to_end);
            // Released at once: the producer may be waiting for this room.
            self.store_head();
        }
        Err(PopError::Corrupt)
    }

    fn view(&self, at: Located) -> RecordRef<'_> {
        RecordRef {
            ring: self.ring,
            at,
            _borrow: PhantomData,
        }
    }

    /// Borrows the next message in place; free it with [`Record::release`].
    /// Fails with [`PopError::Empty`] when there is none, and with
    /// [`PopError::Corrupt`] (reading and releasing nothing) when its header
    /// does not check out.
    #[inline]
    pub fn peek(&mut self) -> Result<Record<'_, 'a>, PopError> {
        let at = self.locate()?;
        Ok(Record { consumer: self, at })
    }

    /// Copies the next message's payload into `buf` and frees it; returns
    /// its tag and length. A message longer than `buf` stays in the ring
    /// ([`RecvError::BufferTooSmall`] says how long it is).
    #[inline]
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<(u32, usize), RecvError> {
        let at = self.locate()?;
        let len = at.len as usize;
        let Some(dst) = buf.get_mut(..len) else {
            return Err(RecvError::BufferTooSmall { needed: len });
        };
        // SAFETY: the payload is inside the record, which locate checked
        // lies inside the buffer and is published.
        unsafe { self.ring.read(at.pos + HEADER_LEN as u32, dst) };
        self.head = self.head.wrapping_add(at.size);
        self.store_head();
        Ok((at.tag, len))
    }

    /// Receives the next message into `buf` like [`Consumer::recv`],
    /// waiting while there is none (spin, yield, then park until the
    /// producer sends) for at most `timeout` (`None`: no limit). Wakes the
    /// producer if it is parked. A message longer than `buf` stays in the
    /// ring: [`BlockError::BufferTooSmall`] says how long it is.
    pub fn recv_blocking<W: Wait>(
        &mut self,
        buf: &mut [u8],
        blocking: &Blocking<W>,
        timeout: Option<core::time::Duration>,
    ) -> Result<(u32, usize), BlockError> {
        let ring = self.ring;
        let control = ring.control();
        let got = blocking.run(&control.tail.wake, timeout, || {
            let head = self.head;
            match self.recv(buf) {
                Ok(got) => Ok(Some(got)),
                Err(RecvError::Empty) => {
                    // Padding released on the way: room for the producer.
                    if self.head != head {
                        blocking.notify(&control.head.wake);
                    }
                    Ok(None)
                }
                Err(RecvError::BufferTooSmall { needed }) => {
                    Err(BlockError::BufferTooSmall { needed })
                }
                Err(RecvError::Corrupt) => Err(BlockError::Corrupt),
            }
        })?;
        blocking.notify(&control.head.wake);
        Ok(got)
    }

    /// Wakes the producer if it is parked in [`Producer::send_blocking`];
    /// returns whether it was (a wake syscall was made). Call it after
    /// [`Consumer::recv`], [`Record::release`] or [`Consumer::drain`] when
    /// the producer may block. Costs one `SeqCst` fence and one load when
    /// nobody sleeps.
    #[inline]
    pub fn wake_producer(&self, wait: &impl Wait) -> bool {
        crate::wait::event_word::notify(&self.ring.control().head.wake, wait)
    }

    /// Hands up to `max` ready messages to `f`, in order, in place, then
    /// frees them all with one store; returns how many. On a corrupt
    /// record it frees those already handed over and fails.
    pub fn drain(
        &mut self,
        max: usize,
        mut f: impl FnMut(RecordRef<'_>),
    ) -> Result<usize, Corrupt> {
        let mut count = 0;
        let mut result = Ok(());
        while count < max {
            match self.locate() {
                Ok(at) => {
                    f(self.view(at));
                    self.head = self.head.wrapping_add(at.size);
                    count += 1;
                }
                Err(PopError::Empty) => break,
                Err(PopError::Corrupt) => {
                    result = Err(Corrupt);
                    break;
                }
            }
        }
        if count > 0 {
            self.store_head();
        }
        result.map(|()| count)
    }

    /// Bytes published and not yet released, now (re-reads the producer's
    /// tail), padding included.
    pub fn ready_bytes(&mut self) -> Result<u32, Corrupt> {
        self.tail_cache = self.head;
        self.ready()
    }

    /// The ring this consumer reads.
    pub fn ring(&self) -> ByteRing<'a> {
        self.ring
    }
}

impl Drop for Consumer<'_> {
    fn drop(&mut self) {
        role::release(&self.ring.control().meta.consumer, self.holder);
    }
}

/// A message in the ring, seen in place: valid for the borrow `'r`, during
/// which the producer does not touch its bytes.
#[derive(Clone, Copy)]
pub struct RecordRef<'r> {
    ring: ByteRing<'r>,
    at: Located,
    _borrow: PhantomData<&'r [u8]>,
}

impl fmt::Debug for RecordRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordRef")
            .field("tag", &self.at.tag)
            .field("len", &self.at.len)
            .finish()
    }
}

impl<'r> RecordRef<'r> {
    /// The message's tag.
    pub fn tag(&self) -> u32 {
        self.at.tag
    }

    /// Payload bytes.
    pub fn len(&self) -> usize {
        self.at.len as usize
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.at.len == 0
    }

    /// Copies payload bytes from `offset` into `dst`, as many as both hold;
    /// returns how many. An `offset` at or past the end of the payload
    /// copies nothing and returns 0 (it clamps, like the length). The copy
    /// uses atomic loads: sound even if a hostile producer writes the
    /// bytes meanwhile (they are then junk).
    pub fn read(&self, offset: usize, dst: &mut [u8]) -> usize {
        let n = self.len().saturating_sub(offset).min(dst.len());
        if n == 0 {
            // Also the case of every offset past the payload, which must
            // not reach the address arithmetic below.
            return 0;
        }
        // n > 0, so offset < len <= capacity − 16: the sum fits in u32.
        let at = self.at.pos + (HEADER_LEN + offset) as u32;
        // SAFETY: offset + n <= len, inside the checked, published record.
        unsafe { self.ring.read(at, &mut dst[..n]) };
        n
    }

    /// The payload, in place in the ring (8-byte aligned).
    ///
    /// A view into shared memory: sound only while the producer cooperates
    /// (it does not write a record before its release). A hostile producer
    /// writing these bytes while the slice is held causes a data race —
    /// undefined behaviour, not just junk bytes; with an untrusted peer use
    /// [`RecordRef::read`] or [`Consumer::recv`] (see the module docs,
    /// "Copies and views").
    #[cfg(not(loom))]
    pub fn as_slice(&self) -> &'r [u8] {
        self.bytes(HEADER_LEN as u32, self.at.len)
    }

    /// Header and payload as they lie in the ring: exactly one
    /// [`crate::codec`] stream frame, to write to a pipe or socket as is.
    ///
    /// A view into shared memory, with the guarantee of
    /// [`RecordRef::as_slice`]: sound against a cooperating producer only.
    #[cfg(not(loom))]
    pub fn frame(&self) -> &'r [u8] {
        self.bytes(0, HEADER_LEN as u32 + self.at.len)
    }

    #[cfg(not(loom))]
    fn bytes(&self, offset: u32, len: u32) -> &'r [u8] {
        // SAFETY: offset + len <= size <= capacity − pos (locate checked);
        // the bytes are published and the producer leaves them alone until
        // the consumer releases them, which the borrow 'r outlasts.
        unsafe {
            core::slice::from_raw_parts(self.ring.byte_ptr(self.at.pos + offset), len as usize)
        }
    }
}

/// The next message, borrowed from a [`Consumer`] by [`Consumer::peek`]. It
/// stays in the ring until [`Record::release`]; dropping it releases
/// nothing (the next peek sees it again).
pub struct Record<'c, 'a> {
    consumer: &'c mut Consumer<'a>,
    at: Located,
}

impl fmt::Debug for Record<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.view().fmt(f)
    }
}

impl Record<'_, '_> {
    /// The message in place, for as long as `self` is borrowed.
    pub fn view(&self) -> RecordRef<'_> {
        self.consumer.view(self.at)
    }

    /// The message's tag.
    pub fn tag(&self) -> u32 {
        self.at.tag
    }

    /// Payload bytes.
    pub fn len(&self) -> usize {
        self.at.len as usize
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.at.len == 0
    }

    /// The payload, in place in the ring (8-byte aligned); a view, with the
    /// guarantee of [`RecordRef::as_slice`] (cooperating producer only).
    #[cfg(not(loom))]
    pub fn as_slice(&self) -> &[u8] {
        self.view().as_slice()
    }

    /// Frees the message for the producer.
    #[inline]
    pub fn release(self) {
        let c = self.consumer;
        c.head = c.head.wrapping_add(self.at.size);
        c.store_head();
    }
}

/// What an inspector can read from a byte ring without knowing its type
/// id, with loads only (the region may be a read-only mapping): the header,
/// validated, the role holders and the two indices, in the SPSC ring's
/// [`Status`](crate::spsc::Status) (whose `fill` here counts bytes in use,
/// padding included).
#[cfg(not(loom))]
pub fn status(region: &Region<'_>) -> Result<crate::ring::Status, AttachError> {
    let base = region.check(size_of::<Control>(), ByteRing::region_align())?;
    // SAFETY: the region holds an aligned Control; every bit pattern is a
    // valid AtomicU32 outside loom, and all access below is atomic loads.
    let control = unsafe { base.cast::<Control>().as_ref() };
    let header = control.meta.header.snapshot();
    crate::ring::check_ring_header(
        &header,
        Kind::Bytes,
        element(header.element.type_id),
        ByteRing::bytes_needed,
        region,
        ByteRing::region_align(),
    )?;
    let (tail, head) = control.indices();
    Ok(crate::ring::Status {
        header,
        producer: control.meta.producer.load(Ordering::Acquire),
        consumer: control.meta.consumer.load(Ordering::Acquire),
        tail,
        head,
    })
}

#[cfg(all(test, not(loom)))]
mod tests;
