//! A many-to-one ring of variable-length messages in caller memory: any
//! number of producers (threads or processes, no roles to claim) and one
//! consumer (a claimed role). Each message is a whole record, written and
//! read in place, and never wraps — Aeron's `ManyToOneRingBuffer`, with a
//! claim stamp that lets the consumer step over a producer that died.
//!
//! # Layout (version [`crate::LAYOUT_VERSION`])
//!
//! | offset | bytes | contents | written by | a reader checks |
//! |---|---|---|---|---|
//! | 0 | 64 | [`Header`] (kind `ManyToOne`, capacity in bytes) | creator | as every header |
//! | 64 | 4 | consumer holder id (0 = free) | claimers (role protocol) | nothing: an id |
//! | 68 | 4 | records skipped (wrapping count) | consumer | nothing: a count |
//! | 128 | 4 | tail: bytes ever claimed (wrapping, multiple of 8) | producers (compare-exchange) | `tail − head ≤ capacity`, alignment |
//! | 132 | 4 | not-empty event word: the consumer parks on it | consumer (announce), producers (notify) | nothing (a futex word) |
//! | 256 | 4 | head: bytes ever released (wrapping, multiple of 8) | consumer | `tail − head ≤ capacity` |
//! | 260 | 4 | not-full event word: producers park on it | producers (announce), consumer (notify) | nothing |
//! | 384 | capacity | records | producers | see below |
//!
//! The region must be aligned to 128 bytes. The capacity is a power of two
//! from [`MIN_CAPACITY`] to [`crate::ring::MAX_CAPACITY`] bytes. The record
//! bytes are read and written only as aligned 32-bit atomic words (except
//! through the views, see "Copies and views").
//!
//! # Records
//!
//! A record starts at a multiple of 8 and is a 16-byte **claim stamp**,
//! then a 16-byte [`FrameHeader`], then the payload, padded to a multiple of
//! 8 ([`record_size`]): `(32 + len + 7) & !7` bytes. The stamp is four
//! native-endian 32-bit words:
//!
//! | offset | word | written |
//! |---|---|---|
//! | +0 | `mark`: the record's stream position (the tail it was claimed at) | last at the claim (`Release`) |
//! | +4 | `size | state`: record bytes (a multiple of 8) and, in bits 0–2, the state: 1 claimed, 2 committed, 3 padding, 4 cancelled, 5 skipped | at the claim (relaxed, before `mark`); at commit (`Release`) |
//! | +8 | `holder`: the claimant's id (a pid for named channels) | at the claim |
//! | +12 | `check`: [`stamp_check`]`(mark, size, holder)` | at the claim |
//!
//! A stamp is *valid for position p* when `mark = p` and its check word
//! matches: stale bytes of an earlier lap (or junk) are not a stamp, with
//! probability 1 − 2⁻⁶⁴ for random bytes.
//!
//! # Protocol
//!
//! - **Claim** (producer): load the tail `t`; if the record does not fit
//!   between `t` and the end of the buffer, claim the rest as padding first
//!   (a claim of its own; a rest shorter than 16 bytes holds no stamp and
//!   both sides skip it). With room by the head (loaded with `Acquire`,
//!   checked), take `[t, t + size)` with **one compare-exchange** of the
//!   tail from `t` to `t + size` — one read-modify-write when producers do
//!   not collide; a lost race reloads and tries again, at most
//!   [`MAX_LOST_RACES`](crate::wait::MAX_LOST_RACES) times. (A plain
//!   atomic add cannot refuse a claim for want of room or avoid straddling
//!   the end; Aeron's ring claims with a compare-exchange too.) Then write
//!   the stamp: `size | CLAIMED`, holder, check, and `mark = t` with
//!   `Release`.
//! - **Write** in place, then **publish** with one `Release` store of
//!   `size | COMMITTED` into the stamp's state word. A reservation dropped
//!   without commit stores `size | CANCELLED`: a record without a message.
//! - **Consume**: at `head`, with `ready = tail − head` (checked ≤
//!   capacity): a rest shorter than 16 bytes before the end is skipped; else
//!   load `mark` (`Acquire`). Not a valid stamp: the record is claimed but
//!   not yet stamped. Otherwise load the state (`Acquire`): committed →
//!   decode the frame header (its check, its length against the size) and
//!   deliver; padding or cancelled → release it and look again; claimed →
//!   the claimant is writing. Releasing stores `head + size` (`Release`).
//!
//! # A producer that dies mid-record
//!
//! A producer killed between its claim and its commit leaves the consumer
//! waiting at its record; every other producer keeps claiming after it.
//! [`Consumer::stall`] tells what the consumer waits on — the position and,
//! once the stamp is written, the claimant's holder id — and
//! [`Consumer::skip_stalled`] steps over it, counting it in the shared
//! skipped word:
//!
//! - **stamped** (the common case: the claimant died writing its payload):
//!   a compare-exchange of the state from `size | CLAIMED` to
//!   `size | SKIPPED` (so a claimant that commits in the same instant is
//!   delivered instead), then the head moves past `size`.
//! - **claimed but never stamped** (it died in the few instructions between
//!   its compare-exchange and its stamp): the record's size is unknown, so
//!   the consumer scans forward, 8 bytes at a time up to the tail, for the
//!   next valid stamp, scans again after a pause to catch a live claimant
//!   that was itself between its claim and its stamp, and moves the head
//!   to the first stamp found. Until a later claim is stamped there is
//!   nothing to skip to ([`SkipError::NoBoundary`]).
//!
//! Skip only a claimant known to be dead ([`Stall::claimant`] judged by the
//! caller's liveness check) or one stalled for longer than any live process
//! could be between two instructions: [`Consumer::recv`] skips by itself
//! after [`CLAIM_PATIENCE`] (1 s) on one position; the Linux named channel
//! also skips as soon as the stamped claimant is judged dead. A *live*
//! claimant that is skipped goes on to write bytes the ring has given to
//! others: contents are garbled (a later record junk), never bounds.
//!
//! # Blocking
//!
//! [`Producer::send`] and [`Consumer::recv`] wait with a [`Blocking`]
//! strategy on the two event words, as the byte ring's do: producers park
//! on the not-full word (a notification wakes them all), the consumer on
//! the not-empty word; each side notifies after a successful blocking call,
//! at a cost of one load (no fence) when nobody sleeps. After
//! non-blocking or zero-copy calls, call [`Producer::wake_consumer`] /
//! [`Consumer::wake_producers`].
//!
//! # Untrusted peers
//!
//! Every index is checked (`tail − head ≤ capacity`, multiples of 8) on
//! every load; every buffer offset is masked with `capacity − 1` in one
//! place (`ManyToOneRing::word`); a stamp is read once and its size
//! checked against the bytes ready and the bytes before the end; a frame
//! header is decoded and its length checked against the stamp's size. Every
//! loop is bounded: claims by `MAX_LOST_RACES`, padding by two passes, the
//! unstamped-claim scan by the bytes ready. A hostile peer can make calls
//! fail with `Corrupt` or deliver junk bytes, never make a handle touch
//! memory outside the region.
//!
//! ## Copies and views
//!
//! The copying calls ([`Producer::try_send`], [`Reservation::write`],
//! [`Consumer::try_recv`], [`RecordRef::read`]) move bytes as relaxed
//! atomic 32-bit words, sound against any peer. The views
//! ([`Reservation::as_mut_slice`], [`RecordRef::as_slice`],
//! [`RecordRef::frame`]) are references into the ring, sound only against
//! cooperating peers (as the byte ring's); the consumer's unstamped-claim
//! scan reads words that live producers may be writing, so producers that
//! write through views should not share a ring with producers that die
//! between claim and stamp — a case that needs a kill within a few
//! instructions.
//!
//! # Wrapping
//!
//! Positions are 32 bits and wrap; a producer suspended between loading the
//! tail and its compare-exchange while exactly a multiple of 2³² bytes are
//! claimed could claim a range it did not check: contents, never bounds.

use core::fmt;
use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use core::ptr::NonNull;
use core::time::Duration;

use crate::foundation::atomics::{init_atomic, AtomicU32, Ordering};
use crate::foundation::frame::{FrameHeader, HEADER_LEN, RECORD_ALIGN};
use crate::foundation::holder::Holder;
use crate::foundation::layout::{
    AttachError, ElementCheck, Fingerprint, Header, HeaderFields, HeaderSnapshot, Kind,
};
use crate::foundation::region::{Region, RegionError};
#[cfg(not(loom))]
use crate::ring::shared_copy;
use crate::ring::{
    capacity_is_valid, check_ring_header, role, span, CacheLine, Corrupt, IndexLine, InitError,
    RingConfig, RoleError,
};
use crate::wait::blocking::Blocking;
use crate::wait::{Deadline, Expired, Wait};

mod consumer;
mod producer;
mod record;
mod status;

pub use crate::ring::{RecvError, SendError};
pub use consumer::{Consumer, SkipError, Stall};
pub use producer::{Producer, Reservation};
pub use record::{Record, RecordRef};
#[cfg(not(loom))]
pub use status::status;
pub use status::Status;

/// The smallest capacity in bytes: room for two empty records.
pub const MIN_CAPACITY: u32 = 64;

/// Bytes of a record's claim stamp.
pub const STAMP_LEN: usize = 16;

/// Bytes before a record's payload: the stamp and the frame header.
pub const RECORD_OVERHEAD: usize = STAMP_LEN + HEADER_LEN;

/// How long [`Consumer::recv`] waits on one record that a producer claimed
/// and has not committed before it skips it (see the module docs). A live
/// producer commits within microseconds unless it is descheduled.
pub const CLAIM_PATIENCE: Duration = Duration::from_secs(1);

/// How many times [`Consumer::try_recv`] re-checks a claimed record before
/// it reports [`RecvError::Stalled`].
pub const DEFAULT_SPIN_LIMIT: u32 = 128;

/// Stamp states (bits 0–2 of the stamp's second word).
pub(crate) mod stamp {
    /// Claimed, being written.
    pub const CLAIMED: u32 = 1;
    /// Published: a message.
    pub const COMMITTED: u32 = 2;
    /// Padding to the end of the buffer.
    pub const PADDING: u32 = 3;
    /// Claimed and given back without a message.
    pub const CANCELLED: u32 = 4;
    /// Skipped by the consumer (its claimant judged dead or too slow).
    pub const SKIPPED: u32 = 5;
    /// The state bits.
    pub const MASK: u32 = 7;
}

/// Mixed into every stamp check, so that zero bytes are not a stamp.
const STAMP_SEED: u32 = u32::from_le_bytes(*b"ILM1");

/// The check word of a claim stamp: a 64-bit multiply-fold of its mark,
/// size and holder (the frame header's mix, with another seed).
pub const fn stamp_check(mark: u32, size: u32, holder: u32) -> u32 {
    let words = mark as u64 | (size as u64) << 32;
    let h = (words ^ (holder as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .wrapping_mul(0xd6e8_feb8_6659_fd93);
    let h = h ^ (h >> 29);
    (h >> 32) as u32 ^ h as u32 ^ STAMP_SEED
}

/// Bytes a record with `payload` bytes takes: stamp, frame header and
/// payload, rounded up to 8; `None` if that overflows `u32`.
pub const fn record_size(payload: u32) -> Option<u32> {
    match payload.checked_add(RECORD_OVERHEAD as u32 + RECORD_ALIGN as u32 - 1) {
        Some(n) => Some(n & !(RECORD_ALIGN as u32 - 1)),
        None => None,
    }
}

/// Header, consumer role and skipped count: read-mostly, on a line of
/// their own.
#[repr(C)]
struct Meta {
    header: Header,
    /// Consumer holder id (0 = free).
    consumer: AtomicU32,
    /// Records the consumer skipped (wrapping).
    skipped: AtomicU32,
}

/// The control block; the records follow it.
#[repr(C)]
struct Control {
    meta: CacheLine<Meta>,
    /// Claimed by producers (compare-exchange); the consumer parks on the
    /// event word beside it.
    tail: CacheLine<IndexLine>,
    /// Written by the consumer; producers park on the event word beside it.
    head: CacheLine<IndexLine>,
}

#[cfg(not(loom))]
const _: () = {
    use core::mem::offset_of;
    use static_assertions::const_assert_eq;
    const_assert_eq!(size_of::<Control>(), 384);
    const_assert_eq!(align_of::<Control>(), 128);
    const_assert_eq!(offset_of!(Control, meta), 0);
    const_assert_eq!(offset_of!(Meta, header), 0);
    const_assert_eq!(offset_of!(Meta, consumer), 64);
    const_assert_eq!(offset_of!(Meta, skipped), 68);
    const_assert_eq!(offset_of!(Control, tail), 128);
    const_assert_eq!(offset_of!(Control, head), 256);
    const_assert_eq!(DATA_OFFSET, 384);
    const_assert_eq!(RECORD_OVERHEAD, 32);
};

/// Where the records start.
const DATA_OFFSET: usize = size_of::<Control>();

/// Bytes in a buffer word.
const WORD: u32 = 4;

/// What the header records as the element: bytes (`u8`'s type id), at
/// record alignment, as the byte ring.
const ELEMENT: Fingerprint = Fingerprint {
    size: 1,
    align: RECORD_ALIGN as u32,
    type_id: <u8 as crate::foundation::plain::Plain>::TYPE_ID,
};

/// A many-to-one ring in caller memory: the handle from which producers
/// and the consumer are made. Cheap to copy; it owns nothing.
pub struct ManyToOneRing<'a> {
    control: NonNull<Control>,
    words: NonNull<AtomicU32>,
    capacity: u32,
    _memory: PhantomData<&'a Control>,
}

impl Clone for ManyToOneRing<'_> {
    fn clone(&self) -> Self {
        *self
    }
}

impl Copy for ManyToOneRing<'_> {}

impl fmt::Debug for ManyToOneRing<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManyToOneRing")
            .field("capacity", &self.capacity)
            .field("consumer", &self.consumer_holder())
            .field("skipped", &self.skipped())
            .finish()
    }
}

// SAFETY: all shared state, the record bytes included, is reached through
// atomics (the views are documented as sound only against cooperating
// peers).
unsafe impl Send for ManyToOneRing<'_> {}
// SAFETY: as above; `&ManyToOneRing` only reads atomics and claims.
unsafe impl Sync for ManyToOneRing<'_> {}

impl<'a> ManyToOneRing<'a> {
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
        // Outside loom a word is its 4 bytes; under loom it is bigger.
        let words = capacity as usize / WORD as usize;
        match (words * size_of::<AtomicU32>()).checked_add(DATA_OFFSET) {
            Some(total) => Ok(total),
            None => Err(InitError::Region(RegionError::Overflow)),
        }
    }

    /// The alignment a region for this ring must have.
    pub const fn region_align() -> usize {
        align_of::<Control>()
    }

    /// Creates an empty ring in `region`, with no consumer.
    /// `config.capacity` counts record bytes (a power of two, at least
    /// [`MIN_CAPACITY`]).
    ///
    /// The creator owns the memory until this returns: nobody may attach
    /// before (attachers see `NotReady` and retry), and re-initialising a
    /// ring that others use is a protocol error (they will see junk).
    pub fn init(region: Region<'a>, config: RingConfig) -> Result<Self, InitError> {
        let total = Self::bytes_needed(config.capacity)?;
        let base = region.check(total, Self::region_align())?;
        let control = base.cast::<Control>();
        let c = control.as_ptr();
        // SAFETY: the region holds writable, aligned memory for a Control
        // (checked above); the creator owns it until publication.
        unsafe {
            use core::ptr::addr_of_mut;
            Header::begin(addr_of_mut!((*c).meta.0.header));
            init_atomic(addr_of_mut!((*c).meta.0.consumer), 0);
            init_atomic(addr_of_mut!((*c).meta.0.skipped), 0);
            init_atomic(addr_of_mut!((*c).tail.0.index), 0);
            init_atomic(addr_of_mut!((*c).tail.0.wake), 0);
            init_atomic(addr_of_mut!((*c).head.0.index), 0);
            init_atomic(addr_of_mut!((*c).head.0.wake), 0);
        }
        // SAFETY: the region holds `total` bytes, so the words start inside.
        let words = unsafe { base.add(DATA_OFFSET) }.cast::<AtomicU32>();
        // Under loom every word must be constructed; outside it, stale
        // bytes are fine (no stamp is valid for a position not claimed).
        #[cfg(loom)]
        for i in 0..(config.capacity / WORD) as usize {
            // SAFETY: word `i` lies inside the region; the creator owns it.
            unsafe { init_atomic(words.as_ptr().add(i), 0) };
        }
        let fields = HeaderFields {
            kind: Kind::ManyToOne,
            element: ELEMENT,
            capacity: config.capacity,
            creator_pid: config.creator_pid,
            total_len: total as u64,
        };
        // SAFETY: Header::begin ran on this memory above.
        unsafe { Header::publish(core::ptr::addr_of_mut!((*c).meta.0.header), &fields) };
        Ok(Self {
            control,
            words,
            capacity: config.capacity,
            _memory: PhantomData,
        })
    }

    /// Attaches to a ring that some process initialised in `region`.
    ///
    /// Checks the header against `Kind::ManyToOne` and bytes as the
    /// element, the capacity, and that the region holds the whole ring.
    /// Returns [`AttachError::NotReady`] while the creator is still
    /// initialising: retry until a deadline of your choosing.
    pub fn attach(region: Region<'a>) -> Result<Self, AttachError> {
        let base = region.check(size_of::<Control>(), Self::region_align())?;
        let control = base.cast::<Control>();
        // SAFETY: the region holds an aligned Control; all access is atomic.
        let snap = unsafe { control.as_ref() }.meta.header.snapshot();
        let capacity = check_ring_header(
            &snap,
            Kind::ManyToOne,
            (ELEMENT, ElementCheck::Exact),
            Self::bytes_needed,
            &region,
            Self::region_align(),
        )?;
        // SAFETY: the region holds the whole ring, so the words are inside.
        let words = unsafe { base.add(DATA_OFFSET) }.cast::<AtomicU32>();
        Ok(Self {
            control,
            words,
            capacity,
            _memory: PhantomData,
        })
    }

    /// A producer stamping its claims with `holder` (a pid, or any id a
    /// liveness check can judge). There is no role: any number of
    /// producers may exist at once, so this never fails.
    pub fn producer(&self, holder: Holder) -> Producer<'a> {
        Producer::new(*self, holder.get())
    }

    /// Claims the consumer role for `holder` (a pid, or any nonzero id).
    /// Fails with [`RoleError::Corrupt`] (leaving the role free) if the
    /// shared indices are out of range or the head is not record-aligned.
    pub fn consumer(&self, holder: Holder) -> Result<Consumer<'a>, RoleError> {
        role::claim(&self.control().meta.consumer, holder)?;
        Consumer::new(*self, holder.get())
    }

    /// Claims the consumer role, taking it from its holder if `is_alive`
    /// returns false for that holder's id. The new consumer resumes at the
    /// shared head: a record the dead consumer peeked but did not release
    /// is delivered again.
    pub fn take_over_consumer(
        &self,
        holder: Holder,
        is_alive: impl FnOnce(u32) -> bool,
    ) -> Result<Consumer<'a>, RoleError> {
        role::take_over(&self.control().meta.consumer, holder, is_alive)?;
        Consumer::new(*self, holder.get())
    }
}

impl ManyToOneRing<'_> {
    /// The header as it is now (for inspectors).
    pub fn header(&self) -> HeaderSnapshot {
        self.control().meta.header.snapshot()
    }

    /// Capacity in bytes.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// The largest payload a message can have: `capacity − 32` (and one that
    /// large waits until the ring is empty and the tail at the front).
    pub fn max_payload(&self) -> u32 {
        self.capacity - RECORD_OVERHEAD as u32
    }

    /// The consumer's holder id (0: none).
    pub fn consumer_holder(&self) -> u32 {
        self.control().meta.consumer.load(Ordering::Acquire)
    }

    /// Records the consumer has skipped so far (wrapping): claims whose
    /// producers died or stalled (see the module docs).
    pub fn skipped(&self) -> u32 {
        self.control().meta.skipped.load(Ordering::Relaxed)
    }

    /// Bytes claimed and not yet released, padding included, at some
    /// moment during the call; `None` if the indices are out of range.
    pub fn used(&self) -> Option<u32> {
        let c = self.control();
        // Head first: the tail read after it is at least as new.
        let head = c.head.index.load(Ordering::Acquire);
        let tail = c.tail.index.load(Ordering::Acquire);
        span(tail, head, self.capacity).ok()
    }

    fn control(&self) -> &Control {
        // SAFETY: `control` points to a live, initialised Control for 'a;
        // every field is atomic, so a shared reference is sound.
        unsafe { self.control.as_ref() }
    }

    /// The buffer word holding byte `pos` of the stream (any position: it
    /// is masked here, the one place a buffer offset is made, and rounded
    /// down to its word).
    #[inline(always)]
    fn word(&self, pos: u32) -> &AtomicU32 {
        let i = ((pos & (self.capacity - 1)) / WORD) as usize;
        // SAFETY: i < capacity / 4, and the region holds that many words
        // after the control block; every access is atomic.
        unsafe { &*self.words.as_ptr().add(i) }
    }

    /// Writes a claim stamp at stream position `at` for a record of `size`
    /// bytes in `state`, held by `holder`: the other words first, `mark`
    /// last with `Release`, so a consumer that sees the mark sees them.
    #[inline]
    fn stamp(&self, at: u32, size: u32, state: u32, holder: u32) {
        self.word(at.wrapping_add(4))
            .store(size | state, Ordering::Relaxed);
        self.word(at.wrapping_add(8))
            .store(holder, Ordering::Relaxed);
        self.word(at.wrapping_add(12))
            .store(stamp_check(at, size, holder), Ordering::Relaxed);
        self.word(at).store(at, Ordering::Release);
    }

    /// The stamp at stream position `at`, if one is valid for it: `(size |
    /// state word, holder)`. The mark is loaded with `Acquire` (the other
    /// words of the stamp are then visible), the state word with `Acquire`
    /// (a commit's bytes are then visible).
    #[inline]
    fn read_stamp(&self, at: u32) -> Option<(u32, u32)> {
        if self.word(at).load(Ordering::Acquire) != at {
            return None;
        }
        let state = self.word(at.wrapping_add(4)).load(Ordering::Acquire);
        let holder = self.word(at.wrapping_add(8)).load(Ordering::Relaxed);
        let check = self.word(at.wrapping_add(12)).load(Ordering::Relaxed);
        (check == stamp_check(at, state & !stamp::MASK, holder)).then_some((state, holder))
    }

    /// Copies `src` into the buffer from stream position `at` (which, with
    /// the copy, stays inside one record: callers check), in whole 32-bit
    /// words; partial words keep their other bytes.
    fn write_bytes(&self, at: u32, src: &[u8]) {
        // The record (callers check) lies inside the buffer without
        // wrapping; its words are the claimant's (the caller's) by the
        // protocol; the buffer is only ever accessed in aligned 32-bit words.
        #[cfg(not(loom))]
        // SAFETY: as said; `src` is caller memory, not the ring.
        unsafe {
            shared_copy::write_u32_words(src.as_ptr(), self.byte_ptr(at), src.len())
        };
        #[cfg(loom)]
        {
            let mut done = 0usize;
            while done < src.len() {
                let pos = at.wrapping_add(done as u32);
                let off = (pos % WORD) as usize;
                let n = (WORD as usize - off).min(src.len() - done);
                let word = self.word(pos);
                let mut b = word.load(Ordering::Relaxed).to_ne_bytes();
                b[off..off + n].copy_from_slice(&src[done..done + n]);
                word.store(u32::from_ne_bytes(b), Ordering::Relaxed);
                done += n;
            }
        }
    }

    /// Copies bytes of the buffer from stream position `at` into `dst`, in
    /// whole 32-bit words.
    fn read_bytes(&self, at: u32, dst: &mut [u8]) {
        #[cfg(not(loom))]
        // SAFETY: inside one published record (callers check), inside the
        // buffer without wrapping; `dst` is a unique borrow of caller
        // memory; a hostile producer's writes meet atomic loads.
        unsafe {
            shared_copy::read_u32_words(self.byte_ptr(at), dst.as_mut_ptr(), dst.len())
        };
        #[cfg(loom)]
        {
            let mut done = 0usize;
            while done < dst.len() {
                let pos = at.wrapping_add(done as u32);
                let off = (pos % WORD) as usize;
                let n = (WORD as usize - off).min(dst.len() - done);
                let b = self.word(pos).load(Ordering::Relaxed).to_ne_bytes();
                dst[done..done + n].copy_from_slice(&b[off..off + n]);
                done += n;
            }
        }
    }

    /// The buffer's byte at stream position `at`, for the views (the
    /// callers keep `at + len` inside one record).
    #[cfg(not(loom))]
    fn byte_ptr(&self, at: u32) -> *mut u8 {
        let off = (at & (self.capacity - 1)) as usize;
        // SAFETY: off < capacity, and the region holds `capacity` bytes of
        // words after the control block.
        unsafe { self.words.as_ptr().cast::<u8>().add(off) }
    }
}

/// The producer and consumer's shared view of a `Corrupt` result.
impl From<Corrupt> for SkipError {
    fn from(_: Corrupt) -> Self {
        Self::Corrupt
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
