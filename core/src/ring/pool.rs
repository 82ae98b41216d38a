//! A pool of fixed-size blocks in caller memory, lent out by index: write
//! a large message once, in shared memory, and hand over a 12-byte
//! [`Handle`] through any ring (SPSC, MPMC, byte ring) instead of the
//! bytes.
//!
//! ```
//! use interlink_core::pool::{Pool, PoolConfig, Recipient};
//! use interlink_core::{Holder, Region};
//!
//! # #[repr(C, align(4096))] struct Mem([u8; 16384]);
//! # let mut mem = Mem([0; 16384]);
//! let pool = Pool::init(Region::new(&mut mem.0), PoolConfig::new(4, 1024))?;
//! // The sender (holder id 7, a pid for processes) writes in place...
//! let mut loan = pool.try_loan(Holder::fixed::<7>())?;
//! loan.as_mut_slice()[..5].copy_from_slice(b"frame");
//! let handle = loan.hand_off(5, Recipient::Anyone)?; // 12 bytes, `Plain`
//! // ... sends `handle` over any ring; the receiver (id 9) reads in place.
//! let sample = pool.accept(&handle, Holder::fixed::<9>())?;
//! assert_eq!(sample.as_slice(), b"frame");
//! drop(sample); // released: the block is free again
//! assert_eq!(pool.census().free, 4);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Ownership
//!
//! Every block has a *record* of [`HOLDER_WORDS`] holder words, and the
//! record is the whole truth about the block: a block is free exactly when
//! every word is 0. There is no separate free list to fall out of step with
//! the records, so a process that dies at any instruction leaves every
//! block it touched either free or recorded as held by its id, which
//! [`Pool::reclaim`] (given a liveness judgement) gives back. A word holds:
//!
//! | word value | meaning |
//! |---|---|
//! | 0 | free |
//! | `h` | held by holder `h` (a lender's loan, or an accepted sample) |
//! | `h \| ADDRESSED` ([`ADDRESSED`]) | a reference on its way to recipient `h`, who takes it with [`Pool::accept`] |
//! | `h \| IN_FLIGHT` ([`IN_FLIGHT`]) | a reference sent by `h` to whoever accepts it first |
//!
//! Holder ids are nonzero and below [`ADDRESSED`] (2³⁰; a Linux pid is at
//! most 2²²).
//!
//! - **Loan** ([`Pool::try_loan`]): find a record whose words are all 0,
//!   claim word 0 with a compare-exchange `0 → holder`, check again that
//!   the other words are 0 (else give word 0 back: readers still hold the
//!   block), then advance the record's generation. The scan starts at a
//!   shared cursor just past the last block lent, so a pool used as a
//!   stream of messages finds a free block at its first or second look.
//! - **Share** ([`Loan::share`], [`Pool::share`], [`Sample::share`]): a
//!   holder adds a reference for a recipient in a free word (`to |
//!   ADDRESSED`, or `by | IN_FLIGHT` for "whoever accepts it"), then sends
//!   the handle. Fan-out to `n` readers is `n` shares: the block's
//!   reference count is the number of nonzero words.
//! - **Accept** ([`Pool::accept`]): the receiver checks the handle (index
//!   in range, length within the block and equal to the recorded one,
//!   generation current) and turns one reference on its way to it into its
//!   own (compare-exchange `h | ADDRESSED → h`, or `s | IN_FLIGHT → h`),
//!   then checks the generation again. A second accept of the same
//!   reference finds nothing to take ([`HandleError::NotShared`]).
//! - **Release** (dropping a [`Loan`] or [`Sample`], or [`Pool::release`]):
//!   compare-exchange the holder's word `h → 0` (`Release`). The last
//!   release leaves the record all 0: the block is free.
//! - **Reclaim** ([`Pool::reclaim`]): every word whose holder (the
//!   recipient for `ADDRESSED`, the sender for `IN_FLIGHT`) the caller's
//!   `is_alive` judges dead is compare-exchanged to 0. So a dead lender's
//!   loan, a dead subscriber's accepted samples *and* the references still
//!   queued for it, come back; references a dead sender left in flight
//!   come back too (their handles then read as stale).
//!
//! # Generations and hostile handles
//!
//! A [`Handle`] is `{ index, generation, len }`. Each loan advances the
//! block's generation (skipping 0), so a handle from an earlier life of
//! the block is [`HandleError::Stale`]; an index past the pool is
//! [`HandleError::OutOfRange`]; a length above the block size or other than
//! the recorded one is refused; a holder that holds nothing is
//! [`HandleError::NotHeld`]. A handle never addresses memory before it
//! passed these checks, and the memory it addresses is always inside its
//! block. Generations are 32 bits: a handle kept across exactly 2³² loans
//! of its block, and then accepted while a reference to the new life is
//! addressed to its holder, would read the new contents (contents, never
//! bounds).
//!
//! # Exhaustion
//!
//! [`Pool::try_loan`] fails at once with [`LoanError::Exhausted`] when no
//! block is free; [`Pool::loan`] waits with a [`Blocking`](crate::Blocking) strategy for at
//! most its timeout on the pool's *freed* event word, then fails with
//! [`LoanError::TimedOut`]. Both carry an [`Exhaustion`]: how many blocks
//! are held, the holder that holds the most (and how many) and how many
//! references are in flight, so "who is sitting on my pool" is in the
//! error. Releases do not wake loaners by themselves (the core has no
//! [`Wait`](crate::Wait)): after releasing, call [`Pool::wake_loaners`] (the Linux
//! crate's named pool does it for you).
//!
//! # Size classes
//!
//! [`PoolSet`] serves several pools of different block sizes together:
//! a loan of `n` bytes comes from the smallest class that fits, and the
//! class rides in the top 8 bits of the handle's index, checked before
//! the class pool's own checks (see [`set`]).
//!
//! # Layout
//!
//! | offset | bytes | contents | written by |
//! |---|---|---|---|
//! | 0 | 64 | [`Header`]: kind `Pool` (8), element size = block size, element align 64, capacity = blocks | creator |
//! | 64 | 60 | users table: 15 words (as the MPMC ring's) | joiners, leavers |
//! | 124 | 4 | users overflow (sticky) | joiners |
//! | 128 | 4 | cursor: where the next loan starts looking (any value: taken modulo the block count) | loaners |
//! | 132 | 4 | freed event word: blocked loaners park on it | loaners (announce), releasers (notify) |
//! | 256 | 64 × blocks | records, one 64-byte line each: generation (+0), length (+4), reserved (+8, +12), [`HOLDER_WORDS`] holder words (+16) | see above |
//! | D | stride × blocks | blocks: block `i` at `D + i × stride` | holders |
//!
//! `D` is `256 + 64 × blocks` rounded up to 4096 (so blocks of a multiple
//! of the page size start on a page of a page-aligned mapping) and
//! `stride` the block size rounded up to 64 ([`BLOCK_ALIGN`]). The region
//! must be aligned to 128. Every word is a 32-bit atomic; see
//! `docs/pool.md` for who writes each and what a reader checks.

use core::fmt;
use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use core::ptr::NonNull;

use crate::foundation::atomics::{init_atomic, AtomicU32, Ordering};
use crate::foundation::holder::Holder;
use crate::foundation::layout::{
    AttachError, Fingerprint, Header, HeaderFields, HeaderSnapshot, InitError, Kind,
};
use crate::foundation::region::{Region, RegionError};
use crate::ring::mpmc::USER_WORDS;
use crate::ring::CacheLine;

mod access;
mod error;
mod loan;
pub mod set;
mod share;
mod users;

pub use access::{Loan, Recipient, Sample};
pub use error::{Exhaustion, HandleError, LoanError};
pub use set::{PoolSet, SetError, SetLoan, SetSample};
pub use share::{Census, Reclaimed};

/// Holder words in each block's record: one for the lender, the rest for
/// references (so a block is shared with at most `HOLDER_WORDS − 1`
/// readers at once). Fewer under loom, to keep the models small.
#[cfg(not(loom))]
pub const HOLDER_WORDS: usize = 12;
/// Holder words in each block's record (fewer under loom).
#[cfg(loom)]
pub const HOLDER_WORDS: usize = 3;

/// Bit 30 of a holder word: a reference addressed to the holder in bits
/// 0–29, not yet accepted.
pub const ADDRESSED: u32 = 1 << 30;
/// Bit 31 of a holder word: a reference sent by the holder in bits 0–29 to
/// whoever accepts it first.
pub const IN_FLIGHT: u32 = 1 << 31;
/// The holder-id bits of a holder word.
pub const HOLDER_MASK: u32 = ADDRESSED - 1;

/// Every block starts at a multiple of this many bytes (from a region
/// aligned to 128).
pub const BLOCK_ALIGN: usize = 64;
/// The most blocks a pool may have.
pub const MAX_BLOCKS: u32 = 1 << 24;
/// The largest block size, in bytes.
pub const MAX_BLOCK_SIZE: u32 = 1 << 30;
/// Where the blocks start is rounded up to a multiple of this.
const DATA_ALIGN: usize = 4096;

/// What a handle to a block is: 12 bytes, [`Plain`](crate::Plain), so it
/// crosses any ring. Everything in it is checked before use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct Handle {
    /// The block's index in the pool.
    pub index: u32,
    /// The block's generation when it was lent (see the module docs).
    pub generation: u32,
    /// Payload bytes, at most the block size.
    pub len: u32,
}

// SAFETY: repr(C), three u32 fields, no padding, no pointer.
unsafe impl crate::foundation::plain::Plain for Handle {
    const TYPE_ID: u64 = crate::foundation::plain::type_id_of_name("interlink::pool::Handle/v1");
}

/// How to create a pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolConfig {
    /// Number of blocks, 1 to [`MAX_BLOCKS`].
    pub blocks: u32,
    /// Bytes per block, 1 to [`MAX_BLOCK_SIZE`].
    pub block_size: u32,
    /// The caller's id for what the blocks hold, checked on attach.
    pub type_id: u64,
    /// The creating process's id (0 where there are no processes).
    pub creator_pid: u32,
}

impl PoolConfig {
    /// `blocks` blocks of `block_size` bytes, type id 0, no creator pid.
    pub const fn new(blocks: u32, block_size: u32) -> Self {
        Self {
            blocks,
            block_size,
            type_id: 0,
            creator_pid: 0,
        }
    }

    /// The same configuration with `type_id` recorded.
    pub const fn with_type_id(mut self, type_id: u64) -> Self {
        self.type_id = type_id;
        self
    }

    /// The same configuration with `creator_pid` recorded.
    pub const fn with_creator_pid(mut self, creator_pid: u32) -> Self {
        self.creator_pid = creator_pid;
        self
    }
}

/// The header and the users table.
#[repr(C)]
struct Meta {
    header: Header,
    users: [AtomicU32; USER_WORDS],
    overflow: AtomicU32,
}

/// The words loaners share.
#[repr(C)]
struct LoanLine {
    /// Where the next loan starts looking (taken modulo the block count).
    cursor: AtomicU32,
    /// The freed event word: blocked loaners park on it.
    freed: AtomicU32,
}

/// The fixed part of the pool; records and blocks follow.
#[repr(C)]
struct Control {
    meta: CacheLine<Meta>,
    loans: CacheLine<LoanLine>,
}

/// One block's record: a 64-byte line.
#[repr(C, align(64))]
struct Record {
    /// The block's generation: advanced by each loan.
    generation: AtomicU32,
    /// Payload bytes of the current life (written by the lender).
    len: AtomicU32,
    reserved: [AtomicU32; 2],
    /// Who holds the block (see the module docs).
    holders: [AtomicU32; HOLDER_WORDS],
}

#[cfg(not(loom))]
const _: () = {
    use core::mem::offset_of;
    use static_assertions::const_assert_eq;
    const_assert_eq!(size_of::<Control>(), 256);
    const_assert_eq!(align_of::<Control>(), 128);
    const_assert_eq!(offset_of!(Meta, header), 0);
    const_assert_eq!(offset_of!(Meta, users), 64);
    const_assert_eq!(offset_of!(Meta, overflow), 124);
    const_assert_eq!(offset_of!(Control, loans), 128);
    const_assert_eq!(offset_of!(LoanLine, cursor), 0);
    const_assert_eq!(offset_of!(LoanLine, freed), 4);
    const_assert_eq!(size_of::<Record>(), 64);
    const_assert_eq!(offset_of!(Record, generation), 0);
    const_assert_eq!(offset_of!(Record, len), 4);
    const_assert_eq!(offset_of!(Record, holders), 16);
    const_assert_eq!(size_of::<Handle>(), 12);
};

/// A pool's geometry, derived from its block count and block size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Geometry {
    blocks: u32,
    block_size: u32,
    stride: usize,
    data: usize,
    total: usize,
}

impl Geometry {
    /// The geometry of `blocks` blocks of `block_size` bytes, or why there
    /// can be none.
    const fn of(blocks: u32, block_size: u32) -> Result<Self, InitError> {
        if blocks == 0 || blocks > MAX_BLOCKS {
            return Err(InitError::Capacity { capacity: blocks });
        }
        if block_size == 0 || block_size > MAX_BLOCK_SIZE {
            return Err(InitError::Capacity {
                capacity: block_size,
            });
        }
        let stride = (block_size as usize + BLOCK_ALIGN - 1) & !(BLOCK_ALIGN - 1);
        // blocks ≤ 2²⁴ and 64-byte records: at most 2³⁰ + 256 bytes.
        let records_end = size_of::<Control>() + blocks as usize * size_of::<Record>();
        let data = (records_end + DATA_ALIGN - 1) & !(DATA_ALIGN - 1);
        let Some(all) = (blocks as usize).checked_mul(stride) else {
            return Err(InitError::Region(RegionError::Overflow));
        };
        let Some(total) = data.checked_add(all) else {
            return Err(InitError::Region(RegionError::Overflow));
        };
        Ok(Self {
            blocks,
            block_size,
            stride,
            data,
            total,
        })
    }
}

/// A pool of blocks in caller memory. Cheap to copy; it owns nothing.
/// Every copy, in every process, may lend, share, accept and release.
pub struct Pool<'a> {
    control: NonNull<Control>,
    geometry: Geometry,
    _memory: PhantomData<&'a Control>,
}

impl Clone for Pool<'_> {
    fn clone(&self) -> Self {
        *self
    }
}

impl Copy for Pool<'_> {}

impl fmt::Debug for Pool<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("blocks", &self.geometry.blocks)
            .field("block_size", &self.geometry.block_size)
            .finish()
    }
}

// SAFETY: all shared state is reached through atomics; a block's bytes are
// written only by the holder of its lender word while no other word holds
// it, and read by holders (see the module docs).
unsafe impl Send for Pool<'_> {}
// SAFETY: as above; every operation takes `&self`.
unsafe impl Sync for Pool<'_> {}

impl<'a> Pool<'a> {
    /// Bytes a pool of `blocks` blocks of `block_size` bytes needs,
    /// header included.
    pub const fn bytes_needed(blocks: u32, block_size: u32) -> Result<usize, InitError> {
        match Geometry::of(blocks, block_size) {
            Ok(g) => Ok(g.total),
            Err(e) => Err(e),
        }
    }

    /// The alignment a region for a pool must have (128).
    pub const fn region_align() -> usize {
        align_of::<Control>()
    }

    /// The element fingerprint a pool of `block_size` bytes records.
    pub const fn fingerprint(block_size: u32, type_id: u64) -> Fingerprint {
        Fingerprint {
            size: block_size,
            align: BLOCK_ALIGN as u32,
            type_id,
        }
    }

    /// Creates a pool, every block free, in `region`.
    ///
    /// The creator owns the memory until this returns: nobody may attach
    /// before (attachers see `NotReady` and retry), and re-initialising a
    /// pool that others use is a protocol error.
    pub fn init(region: Region<'a>, config: PoolConfig) -> Result<Self, InitError> {
        let geometry = Geometry::of(config.blocks, config.block_size)?;
        let base = region.check(geometry.total, Self::region_align())?;
        let control = base.cast::<Control>();
        let c = control.as_ptr();
        // SAFETY: the region holds `total` aligned bytes, a Control and the
        // records included; the creator owns them until publication.
        unsafe {
            use core::ptr::addr_of_mut;
            Header::begin(addr_of_mut!((*c).meta.0.header));
            for i in 0..USER_WORDS {
                init_atomic(addr_of_mut!((*c).meta.0.users[i]), 0);
            }
            init_atomic(addr_of_mut!((*c).meta.0.overflow), 0);
            init_atomic(addr_of_mut!((*c).loans.0.cursor), 0);
            init_atomic(addr_of_mut!((*c).loans.0.freed), 0);
        }
        let pool = Self {
            control,
            geometry,
            _memory: PhantomData,
        };
        for i in 0..config.blocks {
            let r = pool.record_ptr(i);
            // SAFETY: record `i` lies inside the region (i < blocks); the
            // creator owns it until publication.
            unsafe {
                use core::ptr::addr_of_mut;
                init_atomic(addr_of_mut!((*r).generation), 0);
                init_atomic(addr_of_mut!((*r).len), 0);
                for w in 0..2 {
                    init_atomic(addr_of_mut!((*r).reserved[w]), 0);
                }
                for w in 0..HOLDER_WORDS {
                    init_atomic(addr_of_mut!((*r).holders[w]), 0);
                }
            }
        }
        let fields = HeaderFields {
            kind: Kind::Pool,
            element: Self::fingerprint(config.block_size, config.type_id),
            capacity: config.blocks,
            creator_pid: config.creator_pid,
            total_len: geometry.total as u64,
        };
        // SAFETY: Header::begin ran on this header above.
        unsafe { Header::publish(core::ptr::addr_of_mut!((*c).meta.0.header), &fields) };
        Ok(pool)
    }

    /// Attaches to a pool of `block_size`-byte blocks that some process
    /// initialised in `region`: checks the header (kind, fingerprint with
    /// `type_id`), the block count and recorded length, and that the
    /// region holds the whole pool. [`AttachError::NotReady`] while the
    /// creator is still at work: retry until a deadline.
    pub fn attach(region: Region<'a>, block_size: u32, type_id: u64) -> Result<Self, AttachError> {
        let base = region.check(size_of::<Control>(), Self::region_align())?;
        let control = base.cast::<Control>();
        // SAFETY: the region holds an aligned Control; all access is atomic.
        let snap = unsafe { control.as_ref() }.meta.header.snapshot();
        snap.validate(Kind::Pool, Self::fingerprint(block_size, type_id))?;
        let geometry =
            Geometry::of(snap.capacity, block_size).map_err(|_| AttachError::Corrupt {
                field: "capacity",
                value: snap.capacity as u64,
            })?;
        if snap.total_len != geometry.total as u64 {
            return Err(AttachError::Corrupt {
                field: "total_len",
                value: snap.total_len,
            });
        }
        region.check(geometry.total, Self::region_align())?;
        Ok(Self {
            control,
            geometry,
            _memory: PhantomData,
        })
    }

    /// The block count and block size recorded in the pool at the start of
    /// `region`, for an opener that does not know them: the header is
    /// validated as far as it can be without them (magic, state, version,
    /// kind, a plausible block size and count, and a length that agrees).
    pub fn probe(region: &Region<'_>) -> Result<(u32, u32), AttachError> {
        let base = region.check(size_of::<Control>(), Self::region_align())?;
        // SAFETY: the region holds an aligned Control; all access is atomic.
        let snap = unsafe { base.cast::<Control>().as_ref() }
            .meta
            .header
            .snapshot();
        snap.validate(Kind::Pool, snap.element)?;
        let size = snap.element.size;
        if snap.element.align != BLOCK_ALIGN as u32 {
            return Err(AttachError::Corrupt {
                field: "elem_align",
                value: snap.element.align as u64,
            });
        }
        match Geometry::of(snap.capacity, size) {
            Ok(g) if g.total as u64 == snap.total_len => Ok((snap.capacity, size)),
            Ok(_) => Err(AttachError::Corrupt {
                field: "total_len",
                value: snap.total_len,
            }),
            Err(_) => Err(AttachError::Corrupt {
                field: "capacity",
                value: snap.capacity as u64,
            }),
        }
    }
}

impl<'a> Pool<'a> {
    /// The header as it is now (for inspectors).
    pub fn header(&self) -> HeaderSnapshot {
        self.control().meta.header.snapshot()
    }

    /// Number of blocks.
    pub fn blocks(&self) -> u32 {
        self.geometry.blocks
    }

    /// Bytes per block.
    pub fn block_size(&self) -> u32 {
        self.geometry.block_size
    }

    fn control(&self) -> &Control {
        // SAFETY: `control` points to a live, initialised Control for 'a;
        // every field is atomic, so a shared reference is sound.
        unsafe { self.control.as_ref() }
    }

    /// Record `index`'s address; `index` must be below the block count.
    fn record_ptr(&self, index: u32) -> *mut Record {
        debug_assert!(index < self.geometry.blocks);
        // SAFETY: the region holds `total` bytes, and record `index` (below
        // the block count) ends before the blocks start.
        unsafe {
            self.control
                .as_ptr()
                .cast::<u8>()
                .add(size_of::<Control>() + index as usize * size_of::<Record>())
                .cast::<Record>()
        }
    }

    /// The record of block `index`, or `OutOfRange`: every index that
    /// comes from a handle (or any shared word) passes here first.
    fn record(&self, index: u32) -> Result<&Record, HandleError> {
        if index >= self.geometry.blocks {
            return Err(HandleError::OutOfRange {
                index,
                blocks: self.geometry.blocks,
            });
        }
        // SAFETY: in range (checked above), initialised, all atomics.
        Ok(unsafe { &*self.record_ptr(index) })
    }

    /// The first byte of block `index`; `index` must be below the block
    /// count (checked by [`Pool::record`] before).
    fn block_ptr(&self, index: u32) -> *mut u8 {
        debug_assert!(index < self.geometry.blocks);
        // SAFETY: block `index` lies inside the region's `total` bytes.
        unsafe {
            self.control
                .as_ptr()
                .cast::<u8>()
                .add(self.geometry.data + index as usize * self.geometry.stride)
        }
    }
}

/// What `Ordering` a successful claim of a holder word uses.
const CLAIM: Ordering = Ordering::AcqRel;

#[cfg(all(test, not(loom)))]
mod tests;
