//! A broadcast ring: one writer, any number of readers, variable-length
//! records, lossy. The writer never waits for a reader and never reads
//! anything a reader writes; each reader keeps its cursor in its own
//! handle and writes **nothing** shared to receive, so a reader can work on
//! a read-only mapping and cannot disturb the writer or the other readers.
//! A reader that falls more than the buffer behind is told how many
//! records it lost ([`RecvError::Lapped`]) and resumes at the oldest record
//! still intact; a record the writer overwrites while a reader copies it is
//! detected and never returned.
//!
//! # Layout (version [`crate::LAYOUT_VERSION`])
//!
//! | offset | bytes | contents | written by |
//! |---|---|---|---|
//! | 0 | 64 | [`Header`] (kind `Broadcast`, capacity in bytes) | creator |
//! | 64 | 4 | writer holder id (0 = free) | claimers |
//! | 128 | 4 | tail intent: where the record being written ends | writer |
//! | 132 | 4 | tail: where the last published record ends | writer |
//! | 136 | 4 | latest: where the newest data record starts | writer |
//! | 140 | 4 | head: where the oldest intact record starts | writer |
//! | 144 | 8 | next number: the data records written (low word first), read only by a writer taking over | writer |
//! | 256 | 4 | event word: readers park on it | readers (announce), writer (notify) |
//! | 384 | capacity | records | writer |
//!
//! Positions are byte counts that wrap at 2³²; byte `p` of the stream
//! lives at `384 + (p & (capacity − 1))`. The capacity is a power of two
//! from [`MIN_CAPACITY`] to [`crate::ring::MAX_CAPACITY`] bytes.
//!
//! # Records
//!
//! A record is an 8-byte sequence number (little-endian `u64`), a 16-byte
//! [`FrameHeader`] and its payload, padded to a multiple of 8: it takes
//! `(24 + len + 7) & !7` bytes ([`record_size`]), and the frame (header and
//! payload) is exactly one stream frame of [`crate::codec`]. A data record's
//! sequence number counts the data records before it; a **padding** record
//! (flag [`FLAG_PAD`]) carries the number of the next data record. A record
//! never wraps: where the next one does not fit before the end of the
//! buffer, the writer fills the rest with a padding record (or, if fewer
//! than 24 bytes are left, with nothing; both sides skip such a tail). The
//! creator writes one empty padding record with number 0 at position 0
//! (tail 24), so that every position a reader starts from holds a record.
//!
//! # The writer
//!
//! To write a record ending at `new_tail`, the writer
//! 1. moves `head` (privately) past every record the write will overwrite
//!    (those starting more than `capacity` before `new_tail`);
//! 2. stores `new_tail` into the tail intent, then a `Release` fence;
//! 3. stores `head`, writes the padding and the record (relaxed atomic
//!    stores), stores `latest`;
//! 4. stores `new_tail` into the tail (`Release`).
//!
//! # The readers
//!
//! A reader at position `pos` expecting record number `n` loads the tail
//! (`Acquire`); if it is `pos`, nothing is new. Otherwise it copies the
//! record (prefix, then payload) with relaxed atomic loads into private
//! memory, then an `Acquire` fence, then loads the tail intent: if
//! `intent − pos > capacity` the writer may have overwritten the record
//! while it was copied, and what was copied is discarded. (If any byte
//! copied came from a later write, the fences order that write's intent
//! store before the intent load, so the check sees it.) Only a record that
//! passes this check, decodes, lies inside the published bytes and carries
//! number `n` is returned. Otherwise the reader was lapped: it loads `head`
//! (or, if the record there is overwritten too before it can read it,
//! `latest`), reads that record's number `m` the same way, reports
//! `Lapped { missed: m − n }` and continues there.
//!
//! # Untrusted peers
//!
//! Readers trust nothing: every position is masked with `capacity − 1`,
//! every header is decoded (check word, flags) and bounded by the bytes
//! left before the end of the buffer and the bytes published, every loop is
//! bounded. A hostile writer can make readers fail ([`RecvError::Corrupt`])
//! or receive junk payloads; a hostile reader can only rewrite the event
//! word (spurious or missed wake-ups) — or, with a writable mapping,
//! anything, exactly as for every other ring. The writer reads the buffer
//! only to walk its own records when it moves `head`, bounding every step.

use core::fmt;
use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use core::ptr::NonNull;

use crate::foundation::atomics::{init_atomic, AtomicU32, Ordering};
use crate::foundation::frame::{FrameHeader, FLAG_PAD, HEADER_LEN, RECORD_ALIGN};
use crate::foundation::holder::Holder;
use crate::foundation::layout::{
    AttachError, ElementCheck, Fingerprint, Header, HeaderFields, HeaderSnapshot, Kind,
};
use crate::foundation::region::{Region, RegionError};
use crate::ring::{capacity_is_valid, role, CacheLine, InitError, RingConfig, RoleError};

mod reader;
mod status;
mod writer;

pub use crate::ring::{RecvError, SendError};
pub(crate) use reader::poll_read_only;
pub use reader::{Reader, Start, READ_ONLY_POLL};
#[cfg(not(loom))]
pub use status::status;
pub use status::Status;
pub use writer::Writer;

/// The smallest capacity in bytes.
pub const MIN_CAPACITY: u32 = 64;

/// Bytes before a record's frame header: its sequence number.
pub const SEQ_LEN: usize = 8;

/// Bytes before a record's payload: sequence number and frame header.
pub const PREFIX_LEN: usize = SEQ_LEN + HEADER_LEN;

/// Bytes a record with `payload` bytes occupies: prefix and payload
/// rounded up to 8; `None` if that overflows `u32`.
pub const fn record_size(payload: u32) -> Option<u32> {
    match payload.checked_add(PREFIX_LEN as u32 + RECORD_ALIGN as u32 - 1) {
        Some(n) => Some(n & !(RECORD_ALIGN as u32 - 1)),
        None => None,
    }
}

/// Header and the writer's role word, on a line of their own.
#[repr(C)]
struct Meta {
    header: Header,
    writer: AtomicU32,
}

/// The writer's positions, on one line: what every reader polls.
#[repr(C)]
struct Positions {
    intent: AtomicU32,
    tail: AtomicU32,
    latest: AtomicU32,
    head: AtomicU32,
    seq_lo: AtomicU32,
    seq_hi: AtomicU32,
}

/// The control block: three 128-byte lines.
#[repr(C, align(128))]
struct Control {
    meta: CacheLine<Meta>,
    pos: CacheLine<Positions>,
    wake: CacheLine<AtomicU32>,
}

#[cfg(not(loom))]
const _: () = {
    use static_assertions::const_assert_eq;
    const_assert_eq!(size_of::<Control>(), 384);
    const_assert_eq!(align_of::<Control>(), 128);
    const_assert_eq!(core::mem::offset_of!(Control, meta), 0);
    const_assert_eq!(core::mem::offset_of!(Meta, writer), 64);
    const_assert_eq!(core::mem::offset_of!(Control, pos), 128);
    const_assert_eq!(core::mem::offset_of!(Positions, intent), 0);
    const_assert_eq!(core::mem::offset_of!(Positions, tail), 4);
    const_assert_eq!(core::mem::offset_of!(Positions, latest), 8);
    const_assert_eq!(core::mem::offset_of!(Positions, head), 12);
    const_assert_eq!(core::mem::offset_of!(Positions, seq_lo), 16);
    const_assert_eq!(core::mem::offset_of!(Positions, seq_hi), 20);
    const_assert_eq!(core::mem::offset_of!(Control, wake), 256);
    const_assert_eq!(DATA_OFFSET, 384);
    const_assert_eq!(PREFIX_LEN % RECORD_ALIGN, 0);
};

/// Where the records start.
const DATA_OFFSET: usize = size_of::<Control>();

/// One unit of the buffer under loom: a tracked atomic per 8 bytes, so a
/// model sees every racing access (outside loom the buffer is plain bytes
/// accessed only with relaxed atomic copies).
#[cfg(loom)]
const CELL: usize = 8;

/// The tracked atomic of one unit under loom.
#[cfg(loom)]
type CellWord = loom::sync::atomic::AtomicU64;

/// What the header records as the element: bytes, at record alignment.
const ELEMENT: Fingerprint = Fingerprint {
    size: 1,
    align: RECORD_ALIGN as u32,
    type_id: <u8 as crate::foundation::plain::Plain>::TYPE_ID,
};

/// A broadcast ring in caller memory: the handle from which the writer and
/// the readers are made. Cheap to copy; it owns nothing.
pub struct BroadcastRing<'a> {
    control: NonNull<Control>,
    data: NonNull<u8>,
    capacity: u32,
    /// Attached through [`BroadcastRing::attach_read_only`]: nothing
    /// through this handle may write.
    read_only: bool,
    _memory: PhantomData<&'a Control>,
}

impl Clone for BroadcastRing<'_> {
    fn clone(&self) -> Self {
        *self
    }
}

impl Copy for BroadcastRing<'_> {}

impl fmt::Debug for BroadcastRing<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BroadcastRing")
            .field("capacity", &self.capacity)
            .field("writer", &self.writer_holder())
            .field("read_only", &self.read_only)
            .finish()
    }
}

// SAFETY: all shared state is reached through atomics (the buffer with
// relaxed atomic copies), never through references.
unsafe impl Send for BroadcastRing<'_> {}
// SAFETY: as above; `&BroadcastRing` only loads atomics and claims the role.
unsafe impl Sync for BroadcastRing<'_> {}

impl<'a> BroadcastRing<'a> {
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
        #[cfg(not(loom))]
        let data = capacity as usize;
        #[cfg(loom)]
        let data = capacity as usize / CELL * size_of::<CellWord>();
        match data.checked_add(DATA_OFFSET) {
            Some(total) => Ok(total),
            None => Err(InitError::Region(RegionError::Overflow)),
        }
    }

    /// The alignment a region for a broadcast ring must have.
    pub const fn region_align() -> usize {
        align_of::<Control>()
    }

    /// Creates an empty ring in `region` with no writer. `config.capacity`
    /// counts record bytes (a power of two, at least [`MIN_CAPACITY`]).
    ///
    /// The creator owns the memory until this returns: attachers see
    /// `NotReady` until then, and re-initialising a ring that others use is
    /// a protocol error (they will see junk, or lapped records).
    pub fn init(region: Region<'a>, config: RingConfig) -> Result<Self, InitError> {
        let total = Self::bytes_needed(config.capacity)?;
        let base = region.check(total, Self::region_align())?;
        let control = base.cast::<Control>();
        // SAFETY: the region holds writable memory for an aligned Control
        // (checked above); the creator owns it until publication.
        unsafe { Control::begin(control.as_ptr()) };
        // SAFETY: the region holds `total` bytes, so the data starts inside.
        let data = unsafe { base.add(DATA_OFFSET) };
        #[cfg(loom)]
        for i in 0..config.capacity as usize / CELL {
            // SAFETY: cell `i` lies inside the region; under loom an atomic
            // must be constructed before use.
            unsafe {
                data.as_ptr()
                    .cast::<CellWord>()
                    .add(i)
                    .write(CellWord::new(0))
            };
        }
        let ring = Self {
            control,
            data,
            capacity: config.capacity,
            read_only: false,
            _memory: PhantomData,
        };
        // The genesis record: empty padding numbered 0, so that `latest`
        // and `head` (0) name a record from the start.
        // SAFETY: bytes 0..24 are inside the buffer and the creator's.
        unsafe { ring.write(0, &prefix(0, pad_header(0))) };
        let words = &ring.control().pos;
        words.intent.store(PREFIX_LEN as u32, Ordering::Relaxed);
        words.tail.store(PREFIX_LEN as u32, Ordering::Relaxed);
        let fields = HeaderFields {
            kind: Kind::Broadcast,
            element: ELEMENT,
            capacity: config.capacity,
            creator_pid: config.creator_pid,
            total_len: total as u64,
        };
        // SAFETY: begin ran on this memory; publish stores READY with
        // Release, after every write above.
        unsafe {
            Header::publish(
                core::ptr::addr_of_mut!((*control.as_ptr()).meta.0.header),
                &fields,
            )
        };
        Ok(ring)
    }

    /// Attaches to a broadcast ring that some process initialised in
    /// `region`: checks the header against `Kind::Broadcast` and bytes as
    /// the element, the capacity, and that the region holds the whole
    /// ring. Returns [`AttachError::NotReady`] while the creator is still
    /// initialising.
    pub fn attach(region: Region<'a>) -> Result<Self, AttachError> {
        Self::attach_at(region.as_ptr(), region.len(), false)
    }

    /// [`BroadcastRing::attach`] for memory this process may only read
    /// (a `PROT_READ` mapping). Only [readers](BroadcastRing::reader) can
    /// be made from the handle ([`BroadcastRing::writer`] fails with
    /// [`RoleError::Taken`]), and they never write: their waiting receive
    /// polls instead of announcing itself (see [`Reader::recv`]).
    ///
    /// # Safety
    ///
    /// `ptr..ptr + len` must be valid for reads for all of `'a` (a mapping
    /// that stays mapped), and nothing in this process may hold a Rust
    /// reference to those bytes meanwhile. Others may write them.
    pub unsafe fn attach_read_only(ptr: *const u8, len: usize) -> Result<Self, AttachError> {
        Self::attach_at(ptr.cast_mut(), len, true)
    }

    fn attach_at(ptr: *mut u8, len: usize, read_only: bool) -> Result<Self, AttachError> {
        // SAFETY: the region is only used for its checks here and for loads
        // through the handle (stores only when not read-only: the caller of
        // `attach` gave a writable Region).
        let region = unsafe { Region::from_raw(ptr, len) }?;
        let base = region.check(size_of::<Control>(), Self::region_align())?;
        let control = base.cast::<Control>();
        // SAFETY: the region holds an aligned Control; every bit pattern is
        // a valid AtomicU32 outside loom, and the snapshot only loads.
        let snap = unsafe { control.as_ref() }.meta.header.snapshot();
        let capacity = crate::ring::check_ring_header(
            &snap,
            Kind::Broadcast,
            (ELEMENT, ElementCheck::Exact),
            Self::bytes_needed,
            &region,
            Self::region_align(),
        )?;
        // SAFETY: the region holds `total` bytes, so the data is inside it.
        let data = unsafe { base.add(DATA_OFFSET) };
        Ok(Self {
            control,
            data,
            capacity,
            read_only,
            _memory: PhantomData,
        })
    }

    /// Claims the writer role for `holder` (a pid, or any nonzero id). The
    /// writer resumes at the shared positions, which are checked (and the
    /// newest record read for its number): out of range, the role is freed
    /// again and the claim fails with [`RoleError::Corrupt`]. A previous
    /// writer's unfinished record is covered with padding.
    pub fn writer(&self, holder: Holder) -> Result<Writer<'a>, RoleError> {
        if self.read_only {
            return Err(RoleError::Taken { holder: 0 });
        }
        role::claim(&self.control().meta.writer, holder)?;
        Writer::new(*self, holder.get())
    }

    /// Claims the writer role, taking it from its holder if `is_alive`
    /// returns false for that holder's id. A record the dead writer was
    /// writing is lost (its number may be reported missed by readers).
    pub fn take_over_writer(
        &self,
        holder: Holder,
        is_alive: impl FnOnce(u32) -> bool,
    ) -> Result<Writer<'a>, RoleError> {
        if self.read_only {
            return Err(RoleError::Taken { holder: 0 });
        }
        role::take_over(&self.control().meta.writer, holder, is_alive)?;
        Writer::new(*self, holder.get())
    }

    /// A new reader, starting where `start` says. Readers are not
    /// recorded anywhere: make as many as you like, on any handle
    /// (read-only ones included).
    pub fn reader(&self, start: Start) -> Reader<'a> {
        Reader::new(*self, start)
    }
}

impl BroadcastRing<'_> {
    /// Record bytes (a power of two).
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// The largest payload a record may have: `capacity − 24`.
    pub fn max_payload(&self) -> u32 {
        self.capacity - PREFIX_LEN as u32
    }

    /// The writer's holder id, 0 if none.
    pub fn writer_holder(&self) -> u32 {
        self.control().meta.writer.load(Ordering::Relaxed)
    }

    /// Whether this handle was attached read-only.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The header as it is now (for inspectors).
    pub fn header(&self) -> HeaderSnapshot {
        self.control().meta.header.snapshot()
    }

    /// The tail: bytes ever written (wrapping), as loaded now.
    pub fn tail(&self) -> u32 {
        self.control().pos.tail.load(Ordering::Acquire)
    }

    fn control(&self) -> &Control {
        // SAFETY: `control` points to a live, initialised Control for 'a;
        // every field is atomic, so a shared reference is sound.
        unsafe { self.control.as_ref() }
    }

    /// The event word readers park on.
    fn wake_word(&self) -> &AtomicU32 {
        &self.control().wake
    }

    /// Copies `src` into the buffer at byte `pos` (8-aligned), in whole
    /// aligned units with relaxed atomic stores.
    ///
    /// # Safety
    ///
    /// `pos + src.len() <= capacity`, `pos` is a multiple of 8, and the
    /// handle is not read-only. Only the writer (or the creator) calls it.
    unsafe fn write(&self, pos: u32, src: &[u8]) {
        debug_assert!(pos as usize + src.len() <= self.capacity as usize);
        debug_assert!(!self.read_only);
        #[cfg(not(loom))]
        // SAFETY: inside the buffer (caller), which is only ever accessed
        // with atomic units of one width; `src` is caller memory.
        unsafe {
            crate::ring::shared_copy::write_words(
                src.as_ptr(),
                self.data.as_ptr().add(pos as usize),
                src.len(),
            )
        };
        #[cfg(loom)]
        {
            let mut done = 0;
            while done < src.len() {
                let at = pos as usize + done;
                let n = (CELL - at % CELL).min(src.len() - done);
                // SAFETY: at < capacity, so the cell is inside the buffer.
                let cell = unsafe { &*self.data.as_ptr().cast::<CellWord>().add(at / CELL) };
                // A whole cell needs no merge (fewer steps for the model).
                let mut bytes = if n == CELL {
                    [0; CELL]
                } else {
                    cell.load(Ordering::Relaxed).to_le_bytes()
                };
                bytes[at % CELL..at % CELL + n].copy_from_slice(&src[done..done + n]);
                cell.store(u64::from_le_bytes(bytes), Ordering::Relaxed);
                done += n;
            }
        }
    }

    /// Copies bytes from the buffer at `pos` (8-aligned) into `dst`, with
    /// relaxed atomic loads (sound while the writer writes the same bytes:
    /// the result may then be junk, which the callers detect).
    ///
    /// # Safety
    ///
    /// `pos + dst.len() <= capacity` and `pos` is a multiple of 8.
    unsafe fn read(&self, pos: u32, dst: &mut [u8]) {
        debug_assert!(pos as usize + dst.len() <= self.capacity as usize);
        #[cfg(not(loom))]
        // SAFETY: inside the buffer (caller), accessed only with atomic
        // loads of the buffer's one unit width; `dst` is caller memory.
        unsafe {
            crate::ring::shared_copy::read_words(
                self.data.as_ptr().add(pos as usize),
                dst.as_mut_ptr(),
                dst.len(),
            )
        };
        #[cfg(loom)]
        {
            let mut done = 0;
            while done < dst.len() {
                let at = pos as usize + done;
                let n = (CELL - at % CELL).min(dst.len() - done);
                // SAFETY: at < capacity, so the cell is inside the buffer.
                let cell = unsafe { &*self.data.as_ptr().cast::<CellWord>().add(at / CELL) };
                let bytes = cell.load(Ordering::Relaxed).to_le_bytes();
                dst[done..done + n].copy_from_slice(&bytes[at % CELL..at % CELL + n]);
                done += n;
            }
        }
    }

    /// Reads the prefix of the record at position `pos` (masked here):
    /// its number and its header, or `None` if fewer than 24 bytes are left
    /// before the end of the buffer there (a skipped tail). Not validated.
    fn read_prefix(&self, pos: u32) -> Option<[u8; PREFIX_LEN]> {
        let at = pos & (self.capacity - 1);
        if self.capacity - at < PREFIX_LEN as u32 {
            return None;
        }
        let mut bytes = [0u8; PREFIX_LEN];
        // SAFETY: at + 24 <= capacity; positions here are 8-aligned by the
        // callers' checks (every position they use is).
        unsafe { self.read(at, &mut bytes) };
        Some(bytes)
    }
}

impl Control {
    /// Marks the header `INITIALISING` and zeroes every other word (under
    /// loom: constructs every atomic).
    ///
    /// # Safety
    ///
    /// `c` must be valid for writes of a `Control` and aligned, and owned by
    /// the creator until the header is published.
    unsafe fn begin(c: *mut Self) {
        // SAFETY: forwarded from the caller; the field pointers stay in `*c`.
        unsafe {
            use core::ptr::addr_of_mut;
            Header::begin(addr_of_mut!((*c).meta.0.header));
            init_atomic(addr_of_mut!((*c).meta.0.writer), 0);
            init_atomic(addr_of_mut!((*c).pos.0.intent), 0);
            init_atomic(addr_of_mut!((*c).pos.0.tail), 0);
            init_atomic(addr_of_mut!((*c).pos.0.latest), 0);
            init_atomic(addr_of_mut!((*c).pos.0.head), 0);
            init_atomic(addr_of_mut!((*c).pos.0.seq_lo), 0);
            init_atomic(addr_of_mut!((*c).pos.0.seq_hi), 0);
            init_atomic(addr_of_mut!((*c).wake.0), 0);
        }
    }
}

/// A record's 24 prefix bytes: number `seq` and `header`.
fn prefix(seq: u64, header: FrameHeader) -> [u8; PREFIX_LEN] {
    let mut bytes = [0u8; PREFIX_LEN];
    bytes[..SEQ_LEN].copy_from_slice(&seq.to_le_bytes());
    bytes[SEQ_LEN..].copy_from_slice(&header.encode());
    bytes
}

/// A prefix decoded: the number, the header and the record's size, or
/// `None` if the header does not decode or its size overflows.
fn decode_prefix(bytes: &[u8; PREFIX_LEN]) -> Option<(u64, FrameHeader, u32)> {
    let mut seq = [0u8; SEQ_LEN];
    seq.copy_from_slice(&bytes[..SEQ_LEN]);
    let mut head = [0u8; HEADER_LEN];
    head.copy_from_slice(&bytes[SEQ_LEN..]);
    let header = FrameHeader::decode(&head).ok()?;
    Some((u64::from_le_bytes(seq), header, record_size(header.len)?))
}

/// A padding record's header with `len` bytes after the prefix.
const fn pad_header(len: u32) -> FrameHeader {
    FrameHeader {
        len,
        tag: 0,
        flags: FLAG_PAD,
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
