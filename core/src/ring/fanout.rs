//! A fan-out ring: one writer, up to [`MAX_SUBSCRIBERS`] subscribers,
//! **lossless**: every subscriber receives every element written after it
//! joined, in order, exactly once. The writer may overwrite a slot only
//! when every subscriber in the table is past it (Disruptor-style gating),
//! so the slowest subscriber holds the writer back ([`SendError::Full`];
//! a waiting [`FanoutWriter::send`] that times out names it,
//! [`SendError::SlowSubscriber`]); a dead one is removed with
//! [`FanoutWriter::evict`] (the Linux channels judge liveness and do it),
//! and [`FanoutWriter::slowest`] names the one furthest behind.
//!
//! Batch and zero-copy forms, as on the SPSC ring:
//! [`FanoutWriter::try_send_slice`] / [`Subscriber::try_recv_slice`]
//! (counts, 0 when nothing fits), and [`FanoutWriter::reserve`] →
//! [`WriteChunk::commit`] / [`Subscriber::peek`] → [`ReadChunk::release`]:
//! peeked elements gate the writer until released, as unread ones do.
//!
//! # Layout (version [`crate::LAYOUT_VERSION`])
//!
//! | offset | bytes | contents | written by |
//! |---|---|---|---|
//! | 0 | 64 | header (kind `Fanout`, capacity = slots, element `T`) | creator |
//! | 64 | 4 | writer holder id (0 = free) | claimers |
//! | 128 | 4 | tail: elements ever written (wrapping) | writer |
//! | 132 | 4 | not-empty event word: subscribers park on it | subscribers (announce), writer (notify) |
//! | 256 | 4 | not-full event word: the writer parks on it | writer (announce), subscribers (notify) |
//! | 384 + 128·i | 4 | subscriber `i`'s holder id (0 = free), `i` < 64 | joiners, leavers, evictors |
//! | 388 + 128·i | 4 | subscriber `i`'s cursor: elements it has received | subscriber `i` |
//! | S | capacity × `size_of::<T>()` | slots: element `p` in slot `p & (capacity − 1)` | writer |
//!
//! `S` is 8576 (384 + 64 × 128) rounded up to `align_of::<T>()`.
//!
//! # Protocol
//!
//! - **Write:** with `tail − min(cursor of every subscriber) < capacity`,
//!   write slot `tail`, store `tail + 1` (`Release`). The writer caches
//!   the bound and rescans the table (a `SeqCst` fence, then each holder
//!   and cursor, `Acquire`) only when the cache says full. A cursor outside
//!   `tail − capacity ..= tail` is ignored (a joiner that has not set it
//!   yet, or junk).
//! - **Read:** with `tail ≠ cursor` (and `tail − cursor ≤ capacity`),
//!   read slot `cursor`, store `cursor + 1` (`Release`).
//! - **Join:** claim a free holder word (compare-exchange `0 → holder`,
//!   `Acquire`), a `SeqCst` fence, load the tail `t1`, store it as the
//!   cursor, a `SeqCst` fence, load the tail again `t2` and store it as the
//!   cursor: the subscriber starts at `t2`. A scan that missed the new
//!   subscriber (or saw a stale cursor) allowed the writer at most
//!   `capacity` elements past a tail it had published before `t2` was
//!   loaded, so nothing from `t2` on is overwritten unread.
//! - **Leave / evict:** compare-exchange the holder word back to 0
//!   (`Release`).

use core::fmt;
use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use core::ptr::NonNull;
use core::time::Duration;

use crate::foundation::atomics::{fence, init_atomic, AtomicU32, Ordering, UnsafeCell};
use crate::foundation::holder::Holder;
use crate::foundation::layout::{
    AttachError, ElementCheck, Fingerprint, Header, HeaderFields, Kind,
};
use crate::foundation::plain::Plain;
use crate::foundation::region::Region;
use crate::ring::{
    or_wait, role, shared_copy, span, CacheLine, Corrupt, InitError, RingConfig, RoleError,
};
use crate::wait::blocking::Blocking;
use crate::wait::Wait;

pub use crate::ring::{RecvError, SendError};

/// The size of the subscriber table.
#[cfg(not(loom))]
pub const MAX_SUBSCRIBERS: usize = 64;
/// The size of the subscriber table (two under loom, to bound the models;
/// layouts are not byte-exact there anyway).
#[cfg(loom)]
pub const MAX_SUBSCRIBERS: usize = 2;

#[repr(C)]
struct Meta {
    header: Header,
    writer: AtomicU32,
}

#[repr(C)]
struct Words {
    index: AtomicU32,
    wake: AtomicU32,
}

#[repr(C)]
struct Entry {
    holder: AtomicU32,
    cursor: AtomicU32,
}

#[repr(C, align(128))]
struct Control {
    meta: CacheLine<Meta>,
    tail: CacheLine<Words>,
    not_full: CacheLine<AtomicU32>,
    subscribers: [CacheLine<Entry>; MAX_SUBSCRIBERS],
}

#[cfg(not(loom))]
const _: () = {
    use static_assertions::const_assert_eq;
    const_assert_eq!(core::mem::offset_of!(Meta, writer), 64);
    const_assert_eq!(core::mem::offset_of!(Control, tail), 128);
    const_assert_eq!(core::mem::offset_of!(Control, not_full), 256);
    const_assert_eq!(core::mem::offset_of!(Control, subscribers), 384);
    const_assert_eq!(size_of::<Control>(), 8576);
};

type Slot<T> = UnsafeCell<T>;

/// A fan-out ring in caller memory. Cheap to copy; it owns nothing.
pub struct FanoutRing<'a, T: Plain> {
    control: NonNull<Control>,
    slots: NonNull<Slot<T>>,
    capacity: u32,
    _memory: PhantomData<(&'a Control, T)>,
}

impl<T: Plain> Clone for FanoutRing<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Plain> Copy for FanoutRing<'_, T> {}

impl<T: Plain> fmt::Debug for FanoutRing<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FanoutRing")
            .field("capacity", &self.capacity)
            .finish()
    }
}

// SAFETY: shared state is reached through atomics; slots only through the
// writer (before publishing) and subscribers (after), with the gating
// protocol handing each slot over.
unsafe impl<T: Plain> Send for FanoutRing<'_, T> {}
// SAFETY: as above.
unsafe impl<T: Plain> Sync for FanoutRing<'_, T> {}

impl<'a, T: Plain> FanoutRing<'a, T> {
    const fn slots_offset() -> usize {
        let a = align_of::<Slot<T>>();
        (size_of::<Control>() + a - 1) & !(a - 1)
    }

    /// Bytes a ring of `capacity` slots needs, header included.
    pub const fn bytes_needed(capacity: u32) -> Result<usize, InitError> {
        crate::ring::ring_bytes(capacity, 1, size_of::<Slot<T>>(), Self::slots_offset())
    }

    /// The alignment a region for the ring must have.
    pub const fn region_align() -> usize {
        crate::ring::region_align(align_of::<Control>(), align_of::<Slot<T>>())
    }

    /// Creates an empty ring with no writer and no subscriber.
    pub fn init(region: Region<'a>, config: RingConfig) -> Result<Self, InitError> {
        let total = Self::bytes_needed(config.capacity)?;
        let base = region.check(total, Self::region_align())?;
        let control = base.cast::<Control>();
        // SAFETY: the region holds the whole ring (checked) and the creator
        // owns it until the header is published.
        unsafe {
            use core::ptr::addr_of_mut;
            let c = control.as_ptr();
            Header::begin(addr_of_mut!((*c).meta.0.header));
            init_atomic(addr_of_mut!((*c).meta.0.writer), 0);
            init_atomic(addr_of_mut!((*c).tail.0.index), 0);
            init_atomic(addr_of_mut!((*c).tail.0.wake), 0);
            init_atomic(addr_of_mut!((*c).not_full.0), 0);
            for i in 0..MAX_SUBSCRIBERS {
                init_atomic(addr_of_mut!((*c).subscribers[i].0.holder), 0);
                init_atomic(addr_of_mut!((*c).subscribers[i].0.cursor), 0);
            }
        }
        // SAFETY: inside the region (checked length).
        let slots = unsafe { base.add(Self::slots_offset()) }.cast::<Slot<T>>();
        #[cfg(loom)]
        for i in 0..config.capacity as usize {
            // SAFETY: slot i is inside the region; loom cells need building.
            unsafe {
                slots
                    .as_ptr()
                    .add(i)
                    .write(UnsafeCell::new(core::mem::zeroed()))
            };
        }
        let fields = HeaderFields {
            kind: Kind::Fanout,
            element: Fingerprint::of::<T>(),
            capacity: config.capacity,
            creator_pid: config.creator_pid,
            total_len: total as u64,
        };
        // SAFETY: begun above; publishes READY with Release.
        unsafe {
            Header::publish(
                core::ptr::addr_of_mut!((*control.as_ptr()).meta.0.header),
                &fields,
            )
        };
        Ok(Self {
            control,
            slots,
            capacity: config.capacity,
            _memory: PhantomData,
        })
    }

    /// Attaches to a ring some process initialised in `region`, checking
    /// the element type exactly.
    pub fn attach(region: Region<'a>) -> Result<Self, AttachError> {
        Self::attach_with(region, ElementCheck::Exact)
    }

    /// [`FanoutRing::attach`], comparing the element type as `check` says.
    pub fn attach_with(region: Region<'a>, check: ElementCheck) -> Result<Self, AttachError> {
        let base = region.check(size_of::<Control>(), Self::region_align())?;
        let control = base.cast::<Control>();
        // SAFETY: the region holds an aligned Control; the snapshot loads.
        let snap = unsafe { control.as_ref() }.meta.header.snapshot();
        let capacity = crate::ring::check_ring_header(
            &snap,
            Kind::Fanout,
            (Fingerprint::of::<T>(), check),
            Self::bytes_needed,
            &region,
            Self::region_align(),
        )?;
        // SAFETY: inside the region (checked length).
        let slots = unsafe { base.add(Self::slots_offset()) }.cast::<Slot<T>>();
        Ok(Self {
            control,
            slots,
            capacity,
            _memory: PhantomData,
        })
    }

    /// Claims the writer role for `holder`.
    pub fn writer(&self, holder: Holder) -> Result<FanoutWriter<'a, T>, RoleError> {
        role::claim(&self.control().meta.writer, holder)?;
        Ok(self.new_writer(holder.get()))
    }

    /// Claims the writer role, taking it from a holder `is_alive` says is
    /// dead. The new writer resumes at the shared tail.
    pub fn take_over_writer(
        &self,
        holder: Holder,
        is_alive: impl FnOnce(u32) -> bool,
    ) -> Result<FanoutWriter<'a, T>, RoleError> {
        role::take_over(&self.control().meta.writer, holder, is_alive)?;
        Ok(self.new_writer(holder.get()))
    }

    fn new_writer(&self, holder: u32) -> FanoutWriter<'a, T> {
        let tail = self.control().tail.index.load(Ordering::Acquire);
        FanoutWriter {
            ring: *self,
            tail,
            limit: tail,
            holder,
        }
    }

    /// Joins as a subscriber for `holder` (a pid, or any nonzero id),
    /// taking the first free entry of the table, or one whose holder
    /// `is_alive` says is dead. It receives every element written from now
    /// on. Fails with [`RoleError::Taken`] (the last holder seen) when all
    /// [`MAX_SUBSCRIBERS`] entries hold live subscribers.
    pub fn subscribe(
        &self,
        holder: Holder,
        mut is_alive: impl FnMut(u32) -> bool,
    ) -> Result<Subscriber<'a, T>, RoleError> {
        let holder = holder.get();
        let mut last = 0;
        for (i, entry) in self.control().subscribers.iter().enumerate() {
            let current = entry.holder.load(Ordering::Relaxed);
            if current != 0 && is_alive(current) {
                last = current;
                continue;
            }
            if entry
                .holder
                .compare_exchange(current, holder, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                continue;
            }
            let tail = &self.control().tail.index;
            fence(Ordering::SeqCst);
            entry
                .cursor
                .store(tail.load(Ordering::Acquire), Ordering::Release);
            fence(Ordering::SeqCst);
            let start = tail.load(Ordering::Acquire);
            entry.cursor.store(start, Ordering::Release);
            return Ok(Subscriber {
                ring: *self,
                index: i,
                cursor: start,
                tail_cache: start,
                holder,
            });
        }
        Err(RoleError::Taken { holder: last })
    }
}

impl<T: Plain> FanoutRing<'_, T> {
    /// Slots (a power of two).
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// The writer's holder id, 0 if none.
    pub fn writer_holder(&self) -> u32 {
        self.control().meta.writer.load(Ordering::Relaxed)
    }

    /// Wakes the writer if it is parked in [`FanoutWriter::send`]: what a
    /// subscriber that left should do, since its leaving may be what the
    /// writer waits for ([`Subscriber::wake_writer`] before it leaves).
    pub fn wake_writer(&self, wait: &impl Wait) -> bool {
        crate::wait::event_word::notify(&self.control().not_full, wait)
    }

    /// Each table entry's holder id (0: free), for inspectors.
    pub fn subscriber_holders(&self) -> [u32; MAX_SUBSCRIBERS] {
        core::array::from_fn(|i| self.control().subscribers[i].holder.load(Ordering::Relaxed))
    }

    fn control(&self) -> &Control {
        // SAFETY: points to a live Control for 'a; every field is atomic.
        unsafe { self.control.as_ref() }
    }

    fn slot(&self, position: u32) -> &Slot<T> {
        let i = (position & (self.capacity - 1)) as usize;
        // SAFETY: i < capacity; the region holds `capacity` slots.
        unsafe { &*self.slots.as_ptr().add(i) }
    }

    /// Writes `value` into the slot for `position`.
    ///
    /// # Safety
    ///
    /// The caller is the writer and every subscriber in the table is past
    /// the element a lap back in this slot (the gating bound).
    unsafe fn write_slot(&self, position: u32, value: T) {
        // SAFETY: forwarded from the caller: an honest subscriber does not
        // read the slot; the store is atomic against a hostile one.
        self.slot(position)
            .with_mut(|p| unsafe { shared_copy::store(p, value) })
    }

    /// Copies the element out of the slot for `position`.
    ///
    /// # Safety
    ///
    /// The caller is a subscriber, the element is published (an `Acquire`
    /// load of the tail showed it) and its cursor is not past it yet.
    unsafe fn read_slot(&self, position: u32) -> T {
        // SAFETY: forwarded from the caller: an honest writer does not
        // overwrite the slot; the load is atomic against a hostile one.
        self.slot(position)
            .with(|p| unsafe { shared_copy::load(p) })
    }

    /// Raw pointer to slot `position & mask`, for runs of slots.
    #[cfg(not(loom))]
    fn slot_ptr(&self, position: u32) -> *mut T {
        let i = (position & (self.capacity - 1)) as usize;
        // SAFETY: i < capacity; Slot<T> is a transparent UnsafeCell<T>.
        unsafe { self.slots.as_ptr().add(i).cast::<T>() }
    }

    /// Splits `len` slots from `start` into the run before the end of the
    /// buffer and the run that wraps to its front.
    fn split(&self, start: u32, len: u32) -> (u32, u32) {
        let to_end = self.capacity - (start & (self.capacity - 1));
        let first = len.min(to_end);
        (first, len - first)
    }
}

mod batch;
#[cfg(not(loom))]
mod status;
mod subscriber;
mod writer;

pub use batch::{ReadChunk, WriteChunk};
#[cfg(not(loom))]
pub use status::{status, Status, SubscriberStatus};
pub use subscriber::Subscriber;
pub use writer::FanoutWriter;

#[cfg(all(test, not(loom)))]
mod tests;
