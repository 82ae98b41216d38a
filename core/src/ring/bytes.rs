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
//! store of the tail: no read-modify-write, no syscall.
//!
//! The consumer publishes its head lazily: [`Consumer::try_recv`],
//! [`Consumer::recv`] and [`Record::release`] store it when the consumer
//! has taken the last message of the tail it last read, once a quarter of
//! the capacity is released and not yet published, and whenever the
//! consumer finds the ring empty (before it reports [`RecvError::Empty`]
//! or waits); [`Consumer::drain`] at the end of each batch,
//! [`Consumer::wake_producer`] and dropping the consumer always. Storing
//! it after every message moved its cache line to a producer polling a
//! full ring and back, once per message. So a producer waiting for room
//! gets it once the consumer has freed a quarter of the ring or caught
//! up: a consumer that stops receiving while messages it has seen are
//! still in the ring (up to a quarter of the capacity released but
//! unpublished) should call [`Consumer::wake_producer`] if the producer
//! may be waiting. The head an inspector reads ([`ByteRing::used`],
//! [`status`]) lags the same way.
//!
//! # Blocking
//!
//! [`Producer::send`] and [`Consumer::recv`] wait with a
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
use crate::foundation::holder::Holder;
use crate::foundation::layout::{
    AttachError, ElementCheck, Fingerprint, HeaderFields, HeaderSnapshot, Kind,
};
use crate::foundation::region::{Region, RegionError};
use crate::ring::role;
#[cfg(not(loom))]
use crate::ring::shared_copy;
use crate::ring::{
    capacity_is_valid, or_wait, span, Control, Corrupt, InitError, RingConfig, RoleError,
};
use crate::wait::blocking::Blocking;
use crate::wait::Wait;

mod consumer;
mod producer;

pub use crate::ring::{RecvError, SendError};
pub use consumer::{Consumer, Record, RecordRef};
pub use producer::{Producer, Reservation};

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

/// What the header records as the element: bytes (`u8`'s type id), at
/// record alignment.
const ELEMENT: Fingerprint = Fingerprint {
    size: 1,
    align: RECORD_ALIGN as u32,
    type_id: <u8 as crate::foundation::plain::Plain>::TYPE_ID,
};

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
            element: ELEMENT,
            capacity: self.capacity,
            creator_pid: config.creator_pid,
            total_len: Self::bytes_needed(self.capacity).unwrap_or(0) as u64,
        };
        // SAFETY: begin_init ran on this memory.
        unsafe { Control::publish(self.control.as_ptr(), &fields) };
    }

    /// Attaches to a byte ring that some process initialised in `region`.
    ///
    /// Checks the header against `Kind::Bytes` and the byte element, the capacity,
    /// and that the region holds the whole ring. Returns
    /// [`AttachError::NotReady`] while the creator is still initialising:
    /// retry until a deadline of your choosing.
    pub fn attach(region: Region<'a>) -> Result<Self, AttachError> {
        let (control, capacity) = Control::attach(
            &region,
            Self::region_align(),
            Kind::Bytes,
            (ELEMENT, ElementCheck::Exact),
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

    /// Claims the producer role for `holder` (on Linux a pid: `interlink_linux::process::holder()`).
    ///
    /// The new producer starts from the shared indices, checked like every
    /// later load (and its own, the tail, for record alignment): if they
    /// are out of range the role is freed again and the claim fails with
    /// [`RoleError::Corrupt`].
    pub fn producer(&self, holder: Holder) -> Result<Producer<'a>, RoleError> {
        role::claim(&self.control().meta.producer, holder)?;
        Producer::new(*self, holder.get())
    }

    /// Claims the consumer role for `holder` (on Linux a pid: `interlink_linux::process::holder()`).
    /// Fails with [`RoleError::Corrupt`] (leaving the role free) if the
    /// shared indices are out of range or the head is not record-aligned.
    pub fn consumer(&self, holder: Holder) -> Result<Consumer<'a>, RoleError> {
        role::claim(&self.control().meta.consumer, holder)?;
        Consumer::new(*self, holder.get())
    }

    /// Claims the producer role, taking it from its holder if `is_alive`
    /// returns false for that holder's id. The new producer resumes at the
    /// shared tail: a record the dead producer reserved but did not commit
    /// is lost; one it committed stays. Out-of-range shared indices fail
    /// with [`RoleError::Corrupt`], as for [`ByteRing::producer`].
    pub fn take_over_producer(
        &self,
        holder: Holder,
        is_alive: impl FnOnce(u32) -> bool,
    ) -> Result<Producer<'a>, RoleError> {
        role::take_over(&self.control().meta.producer, holder, is_alive)?;
        Producer::new(*self, holder.get())
    }

    /// Claims the consumer role, taking it from its holder if `is_alive`
    /// returns false for that holder's id. The new consumer resumes at the
    /// shared head: a record the dead consumer peeked but did not release
    /// is delivered again, and so are those it received after it last
    /// published its head (at most a quarter of the capacity; see
    /// "Speed"). Out-of-range shared indices fail with
    /// [`RoleError::Corrupt`], as for [`ByteRing::consumer`].
    pub fn take_over_consumer(
        &self,
        holder: Holder,
        is_alive: impl FnOnce(u32) -> bool,
    ) -> Result<Consumer<'a>, RoleError> {
        role::take_over(&self.control().meta.consumer, holder, is_alive)?;
        Consumer::new(*self, holder.get())
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
        // SAFETY: the cells touched are inside the buffer (8-aligned, a multiple of 8 long) and
        // the producer's (caller); `src` is caller memory borrowed shared, so it cannot overlap
        // the ring; a hostile consumer's accesses meet atomic loads and stores.
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
        (ELEMENT, ElementCheck::LayoutOnly),
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
