//! A table of latest-value cells: seqlocks in caller memory. One writer
//! stores values of a `T: Plain` into numbered cells and never waits; any
//! number of readers load them, each load retried a bounded number of
//! times, and get the value with its version, or a typed error — **never a
//! torn value**. Versions count the writes to a cell, so a reader can ask
//! "changed since version N?" and wait for a change.
//!
//! It lives in the ring layer, not with the futex-word sync types, because
//! it is built from the rings' parts: the role claim of its writer, the
//! hostile-safe copies of elements (`shared_copy`) and the verb scheme's
//! errors ([`SendError`], [`RecvError`]) — all of layer 3, which layer 2
//! may not use.
//!
//! # Layout (version [`crate::LAYOUT_VERSION`])
//!
//! | offset | bytes | contents | written by |
//! |---|---|---|---|
//! | 0 | 64 | [`Header`] (kind `Latest`, capacity = cells, element `T`) | creator |
//! | 64 | 4 | writer holder id (0 = free) | claimers |
//! | 128 | 4 | event word: readers waiting for a change park on it | readers (announce), writer (notify) |
//! | C | cells × S | the cells | writer |
//!
//! A cell is aligned to `A = max(64, align_of::<T>())`, and `C` is 256
//! rounded up to `A`. In each cell:
//!
//! | offset | bytes | contents |
//! |---|---|---|
//! | 0 | 4 | sequence word: odd while a write is in progress |
//! | 4 | 4 | reserved (zero) |
//! | 8 | 8 | version: writes so far (two words, low first) |
//! | V | `size_of::<T>()` | the value |
//!
//! `V` is 16 rounded up to `align_of::<T>()`; the cell's size `S` is
//! `V + size_of::<T>()` rounded up to `A`.
//!
//! # Protocol
//!
//! - **Write:** load the sequence word `s`; store `s | 1` (odd), then a
//!   `Release` fence; store the value and the version + 1 (relaxed atomic
//!   stores); store `(s | 1) + 1` (even) with `Release`.
//! - **Read:** load the sequence word (`Acquire`); if odd, retry; load the
//!   version and the value (relaxed atomic loads), an `Acquire` fence, load
//!   the sequence word again: the same value → the copy is consistent.
//!   After [`READ_TRIES`] tries the read fails with
//!   [`RecvError::Stalled`] (a writer keeps the cell busy, or died in the
//!   middle of a write: a new writer's next write to that cell ends it).
//! - A version of 0 means never written: [`RecvError::Empty`].

use core::fmt;
use core::marker::PhantomData;
use core::mem::{align_of, size_of, MaybeUninit};
use core::ptr::NonNull;
use core::time::Duration;

use crate::foundation::atomics::{fence, init_atomic, spin_loop, AtomicU32, Ordering};
use crate::foundation::holder::Holder;
use crate::foundation::layout::{
    AttachError, ElementCheck, Fingerprint, Header, HeaderFields, HeaderSnapshot, Kind,
};
use crate::foundation::plain::Plain;
use crate::foundation::region::{Region, RegionError};
use crate::ring::{or_wait, role, CacheLine, InitError, RingConfig, RoleError};
use crate::wait::blocking::Blocking;
use crate::wait::Wait;

pub use crate::ring::{RecvError, SendError};
#[cfg(not(loom))]
pub use status::{status, Status};
pub use writer::LatestWriter;

#[cfg(not(loom))]
mod status;
mod writer;

/// The most cells a table may have.
pub const MAX_CELLS: u32 = 1 << 16;

/// How many times a read retries a cell that is being written before it
/// fails with [`RecvError::Stalled`] (fewer under loom, to bound the
/// models).
#[cfg(not(loom))]
pub const READ_TRIES: u32 = 128;
/// See above.
#[cfg(loom)]
pub const READ_TRIES: u32 = 3;

/// Header and the writer's role word, on a line of their own.
#[repr(C)]
struct Meta {
    header: Header,
    writer: AtomicU32,
}

/// The control block: the header line and the event word's line.
#[repr(C, align(128))]
struct Control {
    meta: CacheLine<Meta>,
    wake: CacheLine<AtomicU32>,
}

/// Where the writer's role word is.
const WRITER_OFFSET: usize = core::mem::offset_of!(Meta, writer);
/// Where the event word is.
const WAKE_OFFSET: usize = core::mem::offset_of!(Control, wake);
/// The control block's size (header line, event line).
const CONTROL: usize = size_of::<Control>();
/// Where a cell's value starts, outside loom, before `T`'s alignment.
#[cfg(not(loom))]
const VALUE_MIN: usize = 16;

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

const fn round_up(n: usize, align: usize) -> usize {
    (n + align - 1) & !(align - 1)
}

/// A table of latest-value cells in caller memory: the handle readers use
/// and the writer is claimed from. Cheap to copy; it owns nothing.
pub struct LatestTable<'a, T: Plain> {
    base: NonNull<u8>,
    cells: u32,
    read_only: bool,
    _memory: PhantomData<(&'a AtomicU32, T)>,
}

impl<T: Plain> Clone for LatestTable<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Plain> Copy for LatestTable<'_, T> {}

impl<T: Plain> fmt::Debug for LatestTable<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LatestTable")
            .field("cells", &self.cells)
            .field("writer", &self.writer_holder())
            .field("read_only", &self.read_only)
            .finish()
    }
}

// SAFETY: all shared state is reached through atomics (the values with
// relaxed atomic copies), never through references; T is Plain (Send).
unsafe impl<T: Plain> Send for LatestTable<'_, T> {}
// SAFETY: as above; `&LatestTable` only loads and claims the role.
unsafe impl<T: Plain> Sync for LatestTable<'_, T> {}

/// A cell's four control words: sequence, reserved, version low, high.
const SEQ: usize = 0;
const VER_LO: usize = 2;
const VER_HI: usize = 3;

impl<'a, T: Plain> LatestTable<'a, T> {
    /// The alignment of a cell, and of the cells' start.
    const CELL_ALIGN: usize = max(64, align_of::<T>());

    /// Where a value starts in its cell.
    #[cfg(not(loom))]
    const VALUE: usize = round_up(VALUE_MIN, align_of::<T>());
    /// Under loom: after the four control atomics, as 4-byte units.
    #[cfg(loom)]
    const VALUE: usize = 4 * size_of::<AtomicU32>();

    /// Bytes of the value area (under loom: one atomic per 4 bytes).
    #[cfg(not(loom))]
    const VALUE_BYTES: usize = size_of::<T>();
    #[cfg(loom)]
    const VALUE_BYTES: usize = size_of::<T>().div_ceil(4) * size_of::<AtomicU32>();

    /// A cell's size.
    const STRIDE: usize = round_up(Self::VALUE + Self::VALUE_BYTES, Self::CELL_ALIGN);

    /// Where the cells start.
    const CELLS: usize = round_up(CONTROL, Self::CELL_ALIGN);

    /// Bytes a table of `cells` cells needs, header included.
    pub const fn bytes_needed(cells: u32) -> Result<usize, InitError> {
        if cells == 0 || cells > MAX_CELLS {
            return Err(InitError::Capacity { capacity: cells });
        }
        match (cells as usize).checked_mul(Self::STRIDE) {
            Some(n) => match n.checked_add(Self::CELLS) {
                Some(total) => Ok(total),
                None => Err(InitError::Region(RegionError::Overflow)),
            },
            None => Err(InitError::Region(RegionError::Overflow)),
        }
    }

    /// The alignment a region for the table must have.
    pub const fn region_align() -> usize {
        max(128, Self::CELL_ALIGN)
    }

    /// Creates a table of `config.capacity` cells (1 to [`MAX_CELLS`]),
    /// every one never written, with no writer.
    pub fn init(region: Region<'a>, config: RingConfig) -> Result<Self, InitError> {
        let total = Self::bytes_needed(config.capacity)?;
        let base = region.check(total, Self::region_align())?;
        let table = Self {
            base,
            cells: config.capacity,
            read_only: false,
            _memory: PhantomData,
        };
        // SAFETY: the region holds the whole table (checked); the creator
        // owns it until the header is published; every pointer below is
        // inside it and 4-aligned.
        unsafe {
            let header = base.as_ptr().cast::<Header>();
            Header::begin(header);
            init_atomic(base.as_ptr().add(WRITER_OFFSET).cast(), 0);
            init_atomic(base.as_ptr().add(WAKE_OFFSET).cast(), 0);
            for cell in 0..config.capacity {
                let c = table.cell_ptr(cell);
                for w in 0..4 {
                    init_atomic(c.add(w * size_of::<AtomicU32>()).cast(), 0);
                }
                #[cfg(loom)]
                for w in 0..size_of::<T>().div_ceil(4) {
                    init_atomic(c.add(Self::VALUE + w * size_of::<AtomicU32>()).cast(), 0);
                }
            }
            Header::publish(
                header,
                &HeaderFields {
                    kind: Kind::Latest,
                    element: Fingerprint::of::<T>(),
                    capacity: config.capacity,
                    creator_pid: config.creator_pid,
                    total_len: total as u64,
                },
            );
        }
        Ok(table)
    }

    /// Attaches to a table some process initialised in `region`: checks
    /// the header against `Kind::Latest` and `T`, the number of cells and
    /// that the region holds them all.
    pub fn attach(region: Region<'a>) -> Result<Self, AttachError> {
        Self::attach_with(region, ElementCheck::Exact)
    }

    /// [`LatestTable::attach`], comparing the element type as `check` says.
    pub fn attach_with(region: Region<'a>, check: ElementCheck) -> Result<Self, AttachError> {
        Self::attach_at(region.as_ptr(), region.len(), check, false)
    }

    /// [`LatestTable::attach`] for memory this process may only read (a
    /// `PROT_READ` mapping): no writer can be claimed through the handle,
    /// and its waiting reads poll instead of announcing themselves.
    ///
    /// # Safety
    ///
    /// `ptr..ptr + len` must be valid for reads for all of `'a`, and
    /// nothing in this process may hold a Rust reference to those bytes
    /// meanwhile. Others may write them.
    pub unsafe fn attach_read_only(
        ptr: *const u8,
        len: usize,
        check: ElementCheck,
    ) -> Result<Self, AttachError> {
        Self::attach_at(ptr.cast_mut(), len, check, true)
    }

    fn attach_at(
        ptr: *mut u8,
        len: usize,
        check: ElementCheck,
        read_only: bool,
    ) -> Result<Self, AttachError> {
        // SAFETY: used for its checks and for atomic access through the
        // handle (stores only when not read-only).
        let region = unsafe { Region::from_raw(ptr, len) }?;
        let base = region.check(size_of::<Header>(), Self::region_align())?;
        // SAFETY: the region holds an aligned header; the snapshot loads.
        let snap = unsafe { base.cast::<Header>().as_ref() }.snapshot();
        let cells = crate::ring::check_ring_header(
            &snap,
            Kind::Latest,
            (Fingerprint::of::<T>(), check),
            Self::bytes_needed,
            &region,
            Self::region_align(),
        )?;
        Ok(Self {
            base,
            cells,
            read_only,
            _memory: PhantomData,
        })
    }

    /// Claims the writer role for `holder` (a pid, or any nonzero id).
    /// Fails with [`RoleError::Taken`] on a read-only handle.
    pub fn writer(&self, holder: Holder) -> Result<LatestWriter<'a, T>, RoleError> {
        if self.read_only {
            return Err(RoleError::Taken { holder: 0 });
        }
        role::claim(self.word(WRITER_OFFSET), holder)?;
        Ok(LatestWriter {
            table: *self,
            holder: holder.get(),
        })
    }

    /// Claims the writer role, taking it from its holder if `is_alive`
    /// returns false for it. A cell the dead writer left mid-write (odd
    /// sequence word) reads as [`RecvError::Stalled`] until the new writer
    /// writes it.
    pub fn take_over_writer(
        &self,
        holder: Holder,
        is_alive: impl FnOnce(u32) -> bool,
    ) -> Result<LatestWriter<'a, T>, RoleError> {
        if self.read_only {
            return Err(RoleError::Taken { holder: 0 });
        }
        role::take_over(self.word(WRITER_OFFSET), holder, is_alive)?;
        Ok(LatestWriter {
            table: *self,
            holder: holder.get(),
        })
    }
}

impl<T: Plain> LatestTable<'_, T> {
    /// The number of cells.
    pub fn cells(&self) -> u32 {
        self.cells
    }

    /// The writer's holder id, 0 if none.
    pub fn writer_holder(&self) -> u32 {
        self.word(WRITER_OFFSET).load(Ordering::Relaxed)
    }

    /// Whether this handle was attached read-only.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The header as it is now (for inspectors).
    pub fn header(&self) -> HeaderSnapshot {
        // SAFETY: the base holds an aligned header (checked at init/attach).
        unsafe { self.base.cast::<Header>().as_ref() }.snapshot()
    }

    /// The control word at `offset` of the table.
    fn word(&self, offset: usize) -> &AtomicU32 {
        // SAFETY: offsets of control words inside the checked table,
        // 4-aligned; every access is atomic.
        unsafe { &*self.base.as_ptr().add(offset).cast::<AtomicU32>() }
    }

    /// The start of cell `index` (< cells, by every caller's check).
    fn cell_ptr(&self, index: u32) -> *mut u8 {
        debug_assert!(index < self.cells);
        // SAFETY: index < cells, and the table holds `cells` cells.
        unsafe {
            self.base
                .as_ptr()
                .add(Self::CELLS + index as usize * Self::STRIDE)
        }
    }

    /// Control word `w` (0..4) of cell `index` (< cells).
    fn cell_word(&self, index: u32, w: usize) -> &AtomicU32 {
        // SAFETY: inside the cell, 4-aligned (cells are 64-aligned).
        unsafe {
            &*self
                .cell_ptr(index)
                .add(w * size_of::<AtomicU32>())
                .cast::<AtomicU32>()
        }
    }

    /// Stores `value` into cell `index` (< cells) with relaxed atomic
    /// stores.
    fn store_value(&self, index: u32, value: &T) {
        let src = (value as *const T).cast::<u8>();
        // The value area lies inside the cell and is aligned for the
        // buffer unit (cells are 64-aligned, the value at 16 or at T's
        // alignment), and is only accessed with these units.
        #[cfg(not(loom))]
        // SAFETY: see above; `src` is a private `T`, readable for its size.
        unsafe {
            crate::ring::shared_copy::write_words(
                src,
                self.cell_ptr(index).add(Self::VALUE),
                size_of::<T>(),
            )
        };
        #[cfg(loom)]
        for w in 0..size_of::<T>().div_ceil(4) {
            let mut bytes = [0u8; 4];
            let n = (size_of::<T>() - w * 4).min(4);
            // SAFETY: bytes w·4..w·4 + n of the private value.
            unsafe { src.add(w * 4).copy_to_nonoverlapping(bytes.as_mut_ptr(), n) };
            // SAFETY: atomic w of the value area, inside the cell.
            let cell = unsafe {
                &*self
                    .cell_ptr(index)
                    .add(Self::VALUE + w * size_of::<AtomicU32>())
                    .cast::<AtomicU32>()
            };
            cell.store(u32::from_le_bytes(bytes), Ordering::Relaxed);
        }
    }

    /// Loads cell `index`'s value (< cells) with relaxed atomic loads: may
    /// be torn; the caller validates it with the sequence word.
    fn load_value(&self, index: u32) -> T {
        let mut out = MaybeUninit::<T>::uninit();
        let dst = out.as_mut_ptr().cast::<u8>();
        #[cfg(not(loom))]
        // SAFETY: as in `store_value`, for reads into a private `T`.
        unsafe {
            crate::ring::shared_copy::read_words(
                self.cell_ptr(index).add(Self::VALUE),
                dst,
                size_of::<T>(),
            )
        };
        #[cfg(loom)]
        for w in 0..size_of::<T>().div_ceil(4) {
            // SAFETY: atomic w of the value area, inside the cell.
            let cell = unsafe {
                &*self
                    .cell_ptr(index)
                    .add(Self::VALUE + w * size_of::<AtomicU32>())
                    .cast::<AtomicU32>()
            };
            let bytes = cell.load(Ordering::Relaxed).to_le_bytes();
            let n = (size_of::<T>() - w * 4).min(4);
            // SAFETY: bytes w·4..w·4 + n of the private value.
            unsafe { bytes.as_ptr().copy_to_nonoverlapping(dst.add(w * 4), n) };
        }
        // SAFETY: every byte of `out` was written above, and T is Plain:
        // every bit pattern is a valid T.
        unsafe { out.assume_init() }
    }

    /// Reads cell `index` without waiting: its value and version. Fails
    /// with [`RecvError::Empty`] if it was never written, and with
    /// [`RecvError::Stalled`] (`position` = the index) if a write was in
    /// progress at each of [`READ_TRIES`] tries (a busy or dead writer).
    /// An index beyond the table is [`RecvError::BufferTooSmall`]
    /// (`needed`: the cells it would take). Writes nothing shared.
    pub fn try_recv(&self, index: u32) -> Result<(T, u64), RecvError> {
        if index >= self.cells {
            return Err(RecvError::BufferTooSmall {
                needed: index as usize + 1,
            });
        }
        let seq = self.cell_word(index, SEQ);
        for _ in 0..READ_TRIES {
            let s1 = seq.load(Ordering::Acquire);
            if s1 & 1 == 0 {
                let lo = self.cell_word(index, VER_LO).load(Ordering::Relaxed);
                let hi = self.cell_word(index, VER_HI).load(Ordering::Relaxed);
                let value = self.load_value(index);
                fence(Ordering::Acquire);
                if seq.load(Ordering::Relaxed) == s1 {
                    let version = lo as u64 | (hi as u64) << 32;
                    if version == 0 {
                        return Err(RecvError::Empty);
                    }
                    return Ok((value, version));
                }
            }
            spin_loop();
        }
        Err(RecvError::Stalled { position: index })
    }

    /// Cell `index`'s version: how many times it was written (0: never),
    /// read consistently as [`LatestTable::try_recv`] does (with its
    /// errors, except that a never-written cell is `Ok(0)`).
    pub fn version(&self, index: u32) -> Result<u64, RecvError> {
        match self.try_recv(index) {
            Ok((_, v)) => Ok(v),
            Err(RecvError::Empty) => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Whether cell `index` was written since version `since`.
    pub fn changed_since(&self, index: u32, since: u64) -> Result<bool, RecvError> {
        Ok(self.version(index)? > since)
    }

    /// Reads cell `index` once its version is above `since`, waiting for
    /// at most `timeout` (`None`: no limit): spin, yield, then park on the
    /// event word until the writer's [`LatestWriter::send`] wakes it (a
    /// read-only handle polls every
    /// [`READ_ONLY_POLL`](crate::broadcast::READ_ONLY_POLL) instead of
    /// announcing itself). Fails with [`RecvError::TimedOut`], or as
    /// [`LatestTable::try_recv`] (except `Empty`).
    pub fn recv<W: Wait>(
        &self,
        index: u32,
        since: u64,
        blocking: &Blocking<W>,
        timeout: Option<Duration>,
    ) -> Result<(T, u64), RecvError> {
        let attempt = || {
            or_wait(match self.try_recv(index) {
                Ok((_, v)) if v <= since => Err(RecvError::Empty),
                other => other,
            })
        };
        let word = self.word(WAKE_OFFSET);
        if self.read_only {
            crate::ring::broadcast::poll_read_only(blocking, word, timeout, attempt)
        } else {
            blocking.run(word, timeout, attempt)
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
