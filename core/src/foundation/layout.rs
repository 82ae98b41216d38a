//! The header that begins every interlink structure in shared memory, and
//! its validation on attach.
//!
//! A creator fills the header and publishes [`state::READY`] with `Release`;
//! an attacher loads the state with `Acquire` and only then reads and checks
//! every other field. All fields are 32-bit atomics, so a peer rewriting the
//! header at any moment is a data race on nothing: the worst it can cause is
//! a typed error.

use core::fmt;

use crate::foundation::atomics::{AtomicU32, Ordering};
use crate::foundation::plain::Plain;
use crate::foundation::region::RegionError;

/// `b"ILNK"` read as a little-endian `u32`: the first word of every
/// interlink structure.
pub const MAGIC: u32 = u32::from_le_bytes(*b"ILNK");

/// The version of every shared layout in this crate. It changes whenever
/// any structure's bytes change meaning, so builds that disagree refuse to
/// attach instead of misreading each other.
///
/// Version 2: the MPMC ring's header line holds its users table (bytes
/// 64..128, unused in version 1).
///
/// Version 3: the element fingerprint's type id is the element type's own
/// [`Plain::TYPE_ID`] (it was a caller's id, 0 by default), its alignment
/// the [shared alignment](shared_align_of) (it was `align_of`, which
/// differs between 32- and 64-bit targets), and an MPMC slot holds the
/// value first, the sequence word after it, aligned to at least 8 (the
/// same bytes on i686 and x86-64).
///
/// Version 4: the event words' protocol changed sides — a notifier loads
/// the word without a fence, and a sleeper re-checks its condition once
/// [`GRACE`](crate::wait::GRACE) after announcing itself
/// ([`Grace`](crate::wait::Grace)). The bytes are those of version 3, but a
/// version-3 sleeper does not re-check, so it could miss a version-4
/// notification.
pub const LAYOUT_VERSION: u32 = 4;

/// Values of the header's init-state word.
pub mod state {
    /// Fresh memory: nobody has started initialising (zero-filled mappings
    /// start here).
    pub const UNINIT: u32 = 0;
    /// A creator is writing the structure.
    pub const INITIALISING: u32 = 1;
    /// Initialised and published; attachers may validate and use it.
    pub const READY: u32 = 2;
}

/// Which structure a header describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Kind {
    /// [`crate::spsc`] ring.
    Spsc = 1,
    /// Multi-producer multi-consumer ring.
    Mpmc = 2,
    /// Framed byte ring.
    Bytes = 3,
    /// Futex-word mutex.
    Mutex = 4,
    /// Counting semaphore.
    Semaphore = 5,
    /// Condition variable.
    Condvar = 6,
    /// Event / event count.
    Event = 7,
    /// Shared block pool ([`crate::pool`]).
    Pool = 8,
    /// Many-to-one byte ring ([`crate::many_to_one`]).
    ManyToOne = 9,
    /// Broadcast ring: one writer, any number of lossy readers.
    Broadcast = 10,
    /// Table of latest-value cells (seqlocks).
    Latest = 11,
    /// Fan-out ring: one writer, lossless subscribers.
    Fanout = 12,
}

impl Kind {
    /// Decodes a kind word read from shared memory.
    pub fn from_u32(word: u32) -> Option<Self> {
        Some(match word {
            1 => Self::Spsc,
            2 => Self::Mpmc,
            3 => Self::Bytes,
            4 => Self::Mutex,
            5 => Self::Semaphore,
            6 => Self::Condvar,
            7 => Self::Event,
            8 => Self::Pool,
            9 => Self::ManyToOne,
            10 => Self::Broadcast,
            11 => Self::Latest,
            12 => Self::Fanout,
            _ => return None,
        })
    }

    /// A short lowercase name (`"spsc"`, `"mpmc"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Spsc => "spsc",
            Self::Mpmc => "mpmc",
            Self::Bytes => "bytes",
            Self::Mutex => "mutex",
            Self::Semaphore => "semaphore",
            Self::Condvar => "condvar",
            Self::Event => "event",
            Self::Pool => "pool",
            Self::ManyToOne => "many-to-one",
            Self::Broadcast => "broadcast",
            Self::Latest => "latest",
            Self::Fanout => "fanout",
        }
    }
}

/// The alignment at which every interlink structure places elements of
/// `T`, and which its header records: the same for 32- and 64-bit
/// processes.
///
/// `align_of::<T>()` is not: `u64`, `i64` and `f64` (and structs holding
/// them) are 8-aligned on x86-64 but 4-aligned on i686. The shared
/// alignment is the largest power of two up to 8 that divides
/// `size_of::<T>()` — 8 for `u64`, `f64` and any 16-byte struct, 4 for
/// `u32` or `[u32; 3]`, 1 for `u8` — or `align_of::<T>()` if that is
/// larger (types with `#[repr(align(N))]`, `u128`). It never exceeds what
/// the element's size allows, so elements placed back to back at a stride
/// of `size_of::<T>()` all keep it. Both widths compute the same value: a
/// [`Plain`] type has no padding, so its size is the sum of its fields'
/// sizes on either.
///
/// ```
/// use interlink_core::layout::shared_align_of;
/// assert_eq!(shared_align_of::<u64>(), 8); // also on i686
/// assert_eq!(shared_align_of::<f64>(), 8);
/// assert_eq!(shared_align_of::<[u32; 3]>(), 4);
/// assert_eq!(shared_align_of::<u8>(), 1);
/// ```
pub const fn shared_align_of<T>() -> usize {
    let size = core::mem::size_of::<T>();
    let by_size = if size == 0 {
        1
    } else {
        let p = 1usize << size.trailing_zeros();
        if p > 8 {
            8
        } else {
            p
        }
    };
    let align = core::mem::align_of::<T>();
    if align > by_size {
        align
    } else {
        by_size
    }
}

/// What an element is: its size, its alignment and its type id
/// ([`Plain::TYPE_ID`]), so that two programs which agree on size but not
/// on meaning still refuse to talk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    /// `size_of` the element, in bytes.
    pub size: u32,
    /// The element's [shared alignment](shared_align_of), in bytes (the
    /// same in 32- and 64-bit processes).
    pub align: u32,
    /// The element type's id ([`Plain::TYPE_ID`]).
    pub type_id: u64,
}

impl Fingerprint {
    /// The fingerprint of `T`: its size, [shared alignment](shared_align_of)
    /// and [`Plain::TYPE_ID`].
    pub const fn of<T: Plain>() -> Self {
        Self {
            size: core::mem::size_of::<T>() as u32,
            align: shared_align_of::<T>() as u32,
            type_id: T::TYPE_ID,
        }
    }

    /// The fingerprint of structures without elements (the semaphore,
    /// the condition variable, the event): size 0, alignment 1, id 0.
    pub const NONE: Self = Self {
        size: 0,
        align: 1,
        type_id: 0,
    };
}

/// How attaching compares the element type it expects with the one a
/// structure's header records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ElementCheck {
    /// Size, alignment and type id must all match (the default): a ring of
    /// `u64` opened as a ring of `f64` is refused.
    #[default]
    Exact,
    /// Only size and alignment must match; the type id is ignored. An
    /// explicit opt-out for a program that knowingly reads another type's
    /// bytes as its own (every bit pattern is a value of a [`Plain`] type,
    /// so this is never undefined behaviour, only possibly wrong values).
    LayoutOnly,
}

impl ElementCheck {
    /// Whether a structure recording `found` may be used as `expected`.
    pub const fn accepts(self, expected: Fingerprint, found: Fingerprint) -> bool {
        let layout = expected.size == found.size && expected.align == found.align;
        match self {
            Self::Exact => layout && expected.type_id == found.type_id,
            Self::LayoutOnly => layout,
        }
    }
}

/// A stable 64-bit id for a type name (FNV-1a); see
/// [`crate::plain::type_id_of_name`], where it lives.
pub use crate::foundation::plain::type_id_of_name;

/// The fixed 64-byte header at offset 0 of every interlink structure.
///
/// Every field is an `AtomicU32` (64-bit values are split into halves) so
/// that the layout is the same for 32- and 64-bit processes and a racing
/// peer can never make a read undefined.
#[repr(C)]
pub struct Header {
    magic: AtomicU32,
    version: AtomicU32,
    kind: AtomicU32,
    state: AtomicU32,
    elem_size: AtomicU32,
    elem_align: AtomicU32,
    type_id_lo: AtomicU32,
    type_id_hi: AtomicU32,
    capacity: AtomicU32,
    creator_pid: AtomicU32,
    total_len_lo: AtomicU32,
    total_len_hi: AtomicU32,
    reserved: [AtomicU32; 4],
}

#[cfg(not(loom))]
const _: () = {
    use static_assertions::const_assert_eq;
    const_assert_eq!(core::mem::size_of::<Header>(), 64);
    const_assert_eq!(core::mem::align_of::<Header>(), 4);
    const_assert_eq!(core::mem::offset_of!(Header, magic), 0);
    const_assert_eq!(core::mem::offset_of!(Header, version), 4);
    const_assert_eq!(core::mem::offset_of!(Header, kind), 8);
    const_assert_eq!(core::mem::offset_of!(Header, state), 12);
    const_assert_eq!(core::mem::offset_of!(Header, elem_size), 16);
    const_assert_eq!(core::mem::offset_of!(Header, elem_align), 20);
    const_assert_eq!(core::mem::offset_of!(Header, type_id_lo), 24);
    const_assert_eq!(core::mem::offset_of!(Header, type_id_hi), 28);
    const_assert_eq!(core::mem::offset_of!(Header, capacity), 32);
    const_assert_eq!(core::mem::offset_of!(Header, creator_pid), 36);
    const_assert_eq!(core::mem::offset_of!(Header, total_len_lo), 40);
    const_assert_eq!(core::mem::offset_of!(Header, total_len_hi), 44);
};

/// What a creator writes into a header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderFields {
    /// The structure.
    pub kind: Kind,
    /// The element type (all zero for structures without elements).
    pub element: Fingerprint,
    /// Number of elements (or bytes, for byte rings; 0 where meaningless).
    pub capacity: u32,
    /// The creating process's id, or 0 where there is none (bare metal).
    pub creator_pid: u32,
    /// Total bytes of the structure, header included.
    pub total_len: u64,
}

/// A copy of every header word, taken without trusting any of them.
/// [`Header::snapshot`] produces it; inspectors print it; attach checks it
/// with [`HeaderSnapshot::validate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderSnapshot {
    /// Should be [`MAGIC`].
    pub magic: u32,
    /// Should be [`LAYOUT_VERSION`].
    pub version: u32,
    /// Raw kind word; see [`Kind::from_u32`].
    pub kind: u32,
    /// Raw init state; see [`state`].
    pub state: u32,
    /// The element fingerprint as recorded.
    pub element: Fingerprint,
    /// Capacity as recorded.
    pub capacity: u32,
    /// Creator's pid as recorded.
    pub creator_pid: u32,
    /// Total length as recorded.
    pub total_len: u64,
}

/// The largest capacity a ring (or any structure with a capacity) accepts: indices are 32-bit and wrap, so a
/// ring may hold at most half their range.
pub const MAX_CAPACITY: u32 = 1 << 31;

/// Why a structure (a ring, a sync type) could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitError {
    /// The capacity is zero, not a power of two, or above [`MAX_CAPACITY`].
    Capacity {
        /// The capacity asked for.
        capacity: u32,
    },
    /// The memory cannot hold the ring.
    Region(RegionError),
    /// The capacity is below the structure's minimum.
    CapacityBelow {
        /// The capacity asked for.
        capacity: u32,
        /// The smallest capacity accepted.
        min: u32,
    },
}

impl From<RegionError> for InitError {
    fn from(e: RegionError) -> Self {
        Self::Region(e)
    }
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Capacity { capacity } => write!(
                f,
                "capacity {capacity} is not a power of two between 1 and {MAX_CAPACITY}"
            ),
            Self::Region(e) => write!(f, "{e}"),
            Self::CapacityBelow { capacity, min } => {
                write!(f, "capacity {capacity} is below the minimum of {min}")
            }
        }
    }
}

/// Why attaching to a structure failed. Each mismatch has its own variant,
/// carrying what was expected and what was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachError {
    /// The memory cannot hold the structure.
    Region(RegionError),
    /// The first word is not [`MAGIC`]: not an interlink structure.
    BadMagic {
        /// The word found.
        found: u32,
    },
    /// Built by a version of interlink with another layout.
    Version {
        /// [`LAYOUT_VERSION`].
        expected: u32,
        /// The version recorded.
        found: u32,
    },
    /// Another kind of structure (or a kind word this build does not know).
    Kind {
        /// The kind asked for.
        expected: Kind,
        /// The raw kind word found.
        found: u32,
    },
    /// The creator has not published the structure yet (state is
    /// `UNINIT` or `INITIALISING`); retry until a deadline.
    NotReady {
        /// The raw state word found.
        state: u32,
    },
    /// The element type differs.
    Element {
        /// The fingerprint asked for.
        expected: Fingerprint,
        /// The fingerprint recorded.
        found: Fingerprint,
    },
    /// The structure is larger than this process can address: a ring of
    /// 4 GiB or more that a 64-bit process made, opened by a 32-bit one.
    /// (The header is sound; only this process cannot map it.)
    TooLarge {
        /// The structure's total length, as its capacity requires.
        len: u64,
    },
    /// A field holds a value no creator writes (bad capacity, a length that
    /// disagrees with the capacity, an unknown state): the memory is
    /// corrupt.
    Corrupt {
        /// Which field.
        field: &'static str,
        /// Its raw value (truncated to 64 bits).
        value: u64,
    },
}

impl From<RegionError> for AttachError {
    fn from(e: RegionError) -> Self {
        Self::Region(e)
    }
}

impl fmt::Display for AttachError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Region(e) => write!(f, "{e}"),
            Self::BadMagic { found } => {
                write!(f, "not an interlink structure (magic {found:#010x})")
            }
            Self::Version { expected, found } => write!(
                f,
                "layout version {found}, this build speaks version {expected}"
            ),
            Self::Kind { expected, found } => match Kind::from_u32(*found) {
                Some(k) => write!(f, "expected a {} structure, found a {}", expected.name(), k.name()),
                None => write!(f, "expected a {} structure, found kind {found}", expected.name()),
            },
            Self::NotReady { state } => write!(f, "structure not initialised yet (state {state})"),
            Self::Element { expected, found } => write!(
                f,
                "element type mismatch: expected size {} align {} id {:#x}, found size {} align {} id {:#x}",
                expected.size, expected.align, expected.type_id, found.size, found.align, found.type_id
            ),
            Self::TooLarge { len } => write!(
                f,
                "the structure is {len} bytes, more than this process can address \
                 (a 32-bit process cannot map 4 GiB or more)"
            ),
            Self::Corrupt { field, value } => write!(f, "corrupt header: {field} = {value:#x}"),
        }
    }
}

impl Header {
    /// Writes `fields` and publishes the structure as ready. Under loom the
    /// header's atomics are created here.
    ///
    /// # Safety
    ///
    /// `this` must point to writable memory for a `Header`, aligned to 4,
    /// that no other party uses as an initialised structure meanwhile (the
    /// creator owns it until it is published).
    #[cfg(test)]
    pub(crate) unsafe fn write_ready(this: *mut Self, fields: &HeaderFields) {
        // SAFETY: forwarded from the caller.
        unsafe {
            Self::begin(this);
            Self::publish(this, fields);
        }
    }

    /// First half of [`Header::write_ready`]: marks the structure
    /// `INITIALISING` (creating every atomic under loom).
    ///
    /// # Safety
    ///
    /// As for [`Header::write_ready`].
    pub(crate) unsafe fn begin(this: *mut Self) {
        // SAFETY: forwarded from the caller; the field pointers stay in `*this`.
        unsafe {
            use core::ptr::addr_of_mut;
            crate::foundation::atomics::init_atomic(
                addr_of_mut!((*this).state),
                state::INITIALISING,
            );
            for word in [
                addr_of_mut!((*this).magic),
                addr_of_mut!((*this).version),
                addr_of_mut!((*this).kind),
                addr_of_mut!((*this).elem_size),
                addr_of_mut!((*this).elem_align),
                addr_of_mut!((*this).type_id_lo),
                addr_of_mut!((*this).type_id_hi),
                addr_of_mut!((*this).capacity),
                addr_of_mut!((*this).creator_pid),
                addr_of_mut!((*this).total_len_lo),
                addr_of_mut!((*this).total_len_hi),
            ] {
                crate::foundation::atomics::init_atomic(word, 0);
            }
            for i in 0..4 {
                crate::foundation::atomics::init_atomic(addr_of_mut!((*this).reserved[i]), 0);
            }
        }
    }

    /// Second half of [`Header::write_ready`]: fills every field, then
    /// stores `READY` with `Release`, which orders every earlier write of
    /// the creator (the structure's own fields included) before it.
    ///
    /// # Safety
    ///
    /// [`Header::begin`] has run on `this`.
    pub(crate) unsafe fn publish(this: *mut Self, fields: &HeaderFields) {
        // SAFETY: begin() made every field a live atomic.
        let h = unsafe { &*this };
        let r = Ordering::Relaxed;
        h.magic.store(MAGIC, r);
        h.version.store(LAYOUT_VERSION, r);
        h.kind.store(fields.kind as u32, r);
        h.elem_size.store(fields.element.size, r);
        h.elem_align.store(fields.element.align, r);
        h.type_id_lo.store(fields.element.type_id as u32, r);
        h.type_id_hi.store((fields.element.type_id >> 32) as u32, r);
        h.capacity.store(fields.capacity, r);
        h.creator_pid.store(fields.creator_pid, r);
        h.total_len_lo.store(fields.total_len as u32, r);
        h.total_len_hi.store((fields.total_len >> 32) as u32, r);
        h.state.store(state::READY, Ordering::Release);
    }

    /// Reads every word: the state first, with `Acquire`, so that when it
    /// says `READY` the other words are the creator's.
    pub fn snapshot(&self) -> HeaderSnapshot {
        let state = self.state.load(Ordering::Acquire);
        let r = Ordering::Relaxed;
        HeaderSnapshot {
            magic: self.magic.load(r),
            version: self.version.load(r),
            kind: self.kind.load(r),
            state,
            element: Fingerprint {
                size: self.elem_size.load(r),
                align: self.elem_align.load(r),
                type_id: self.type_id_lo.load(r) as u64 | (self.type_id_hi.load(r) as u64) << 32,
            },
            capacity: self.capacity.load(r),
            creator_pid: self.creator_pid.load(r),
            total_len: self.total_len_lo.load(r) as u64 | (self.total_len_hi.load(r) as u64) << 32,
        }
    }

    /// Reads a header at the start of `region` without trusting it: checks
    /// only that the region can hold one. Use it to identify unknown
    /// objects (inspectors); rings attach through their own `attach`.
    pub fn read(region: &crate::Region<'_>) -> Result<HeaderSnapshot, RegionError> {
        let ptr = region.check(core::mem::size_of::<Self>(), core::mem::align_of::<Self>())?;
        // SAFETY: the region holds an aligned Header's worth of bytes, every
        // bit pattern is a valid AtomicU32 outside loom, and all access is
        // atomic.
        Ok(unsafe { ptr.cast::<Self>().as_ref() }.snapshot())
    }
}

impl HeaderSnapshot {
    /// Checks the words every kind shares: magic, version, kind, state and
    /// element (exactly: [`ElementCheck::Exact`]). Capacity and length are
    /// the structure's own to check.
    pub fn validate(&self, kind: Kind, element: Fingerprint) -> Result<(), AttachError> {
        self.validate_as(kind, element, ElementCheck::Exact)
    }

    /// [`HeaderSnapshot::validate`], comparing the element as `check` says.
    pub fn validate_as(
        &self,
        kind: Kind,
        element: Fingerprint,
        check: ElementCheck,
    ) -> Result<(), AttachError> {
        // Magic is checked first so that foreign memory reads as "not ours"
        // rather than as a half-initialised interlink structure.
        if self.magic != MAGIC {
            if self.magic == 0 && self.state != state::READY {
                return Err(AttachError::NotReady { state: self.state });
            }
            return Err(AttachError::BadMagic { found: self.magic });
        }
        match self.state {
            state::READY => {}
            state::UNINIT | state::INITIALISING => {
                return Err(AttachError::NotReady { state: self.state })
            }
            other => {
                return Err(AttachError::Corrupt {
                    field: "state",
                    value: other as u64,
                })
            }
        }
        if self.version != LAYOUT_VERSION {
            return Err(AttachError::Version {
                expected: LAYOUT_VERSION,
                found: self.version,
            });
        }
        if self.kind != kind as u32 {
            return Err(AttachError::Kind {
                expected: kind,
                found: self.kind,
            });
        }
        if !check.accepts(element, self.element) {
            return Err(AttachError::Element {
                expected: element,
                found: self.element,
            });
        }
        Ok(())
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
