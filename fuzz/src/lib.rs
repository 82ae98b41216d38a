//! What the fuzz targets share: a decoder that turns the input into
//! choices, the values a hostile peer writes, a "mapping" exactly as long
//! as the structure (so AddressSanitizer reports the first byte past it),
//! and [`Hostile`], a [`Wait`] that never sleeps and performs queued peer
//! writes whenever a primitive waits, yields, wakes or asks whether a
//! holder lives — that is, *during* blocking calls and take-overs.
//!
//! Input format (every target): a stream of bytes read front to back by
//! [`Input`]; reading past the end yields zeros and ends the op loop. The
//! targets' docs say what each byte chooses; `fuzz/seeds.py` writes the
//! committed seeds in this format.

use std::alloc::Layout;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::time::Duration;

use interlink_core::sync::AtomicU32;
use interlink_core::wait::{Wait, WaitOutcome};
use interlink_core::Region;

/// The input, read as a stream of choices.
pub struct Input<'d> {
    data: &'d [u8],
    pos: usize,
}

impl<'d> Input<'d> {
    /// Reads `data` from the front.
    pub fn new(data: &'d [u8]) -> Self {
        Self { data, pos: 0 }
    }

    /// Whether every byte was read.
    pub fn is_done(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// The next byte (0 past the end).
    pub fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    /// The next two bytes, little-endian.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    /// The next four bytes, little-endian.
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    /// A number below `n` (0 if `n` is 0): one byte for `n <= 256`, two
    /// for larger.
    pub fn below(&mut self, n: usize) -> usize {
        match n {
            0 => 0,
            1..=256 => self.byte() as usize % n,
            _ => self.u16() as usize % n,
        }
    }

    /// The next `n` bytes (fewer at the end).
    pub fn bytes(&mut self, n: usize) -> &'d [u8] {
        let start = self.pos.min(self.data.len());
        let end = self.pos.saturating_add(n).min(self.data.len());
        self.pos = self.pos.saturating_add(n);
        &self.data[start..end]
    }

    /// A value a hostile peer writes, as a spec resolved at write time
    /// against the word's value then (see [`Value`]): one byte picks from
    /// the extremes, the current value ± k, or four raw bytes.
    pub fn value(&mut self, capacity: u32) -> Value {
        let b = self.byte();
        let k = u32::from(b >> 4);
        match b % 16 {
            0 => Value::Fixed(0),
            1 => Value::Fixed(u32::MAX),
            2 => Value::Fixed(capacity),
            3 => Value::Fixed(capacity.wrapping_add(1)),
            4 => Value::Fixed(capacity.wrapping_sub(1)),
            5 => Value::Fixed(1 << 31),
            6 => Value::Fixed(0x4000_0000),
            7 => Value::Rel(k as i64),
            8 => Value::Rel(-(k as i64)),
            9 => Value::Rel(i64::from(capacity) + k as i64),
            10 => Value::Rel(-i64::from(capacity) - k as i64),
            11 => Value::Rel(i64::from(capacity) + 1),
            12 => Value::Rel(-i64::from(capacity) - 1),
            13 => Value::Fixed(k),
            _ => Value::Fixed(self.u32()),
        }
    }
}

/// A value for a peer write.
#[derive(Clone, Copy, Debug)]
pub enum Value {
    /// This value.
    Fixed(u32),
    /// The word's value at write time plus this (wrapping).
    Rel(i64),
}

impl Value {
    /// The value to write over `current`.
    pub fn resolve(self, current: u32) -> u32 {
        match self {
            Self::Fixed(v) => v,
            Self::Rel(d) => current.wrapping_add(d as u32),
        }
    }
}

/// Heap memory standing in for a mapping: aligned to 128 and exactly
/// `len` bytes long, so that AddressSanitizer reports an access one byte
/// past the structure.
pub struct Mapping {
    ptr: *mut u8,
    layout: Layout,
}

impl Mapping {
    /// `len` zeroed bytes (at least 1), aligned to `align` (at least 128).
    pub fn new(len: usize, align: usize) -> Self {
        let layout = Layout::from_size_align(len.max(1), align.max(128)).expect("layout");
        // SAFETY: the layout's size is nonzero.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!ptr.is_null(), "out of memory");
        Self { ptr, layout }
    }

    /// The first byte.
    pub fn base(&self) -> *mut u8 {
        self.ptr
    }

    /// Bytes.
    pub fn len(&self) -> usize {
        self.layout.size()
    }

    /// Always false (at least one byte).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The memory as a region for interlink; the region must not outlive
    /// `self` (the targets drop every handle before the mapping).
    pub fn region<'a>(&self) -> Region<'a> {
        self.region_of(self.len())
    }

    /// The first `len` bytes (at most all) as a region.
    pub fn region_of<'a>(&self, len: usize) -> Region<'a> {
        // SAFETY: ptr..ptr+len is our allocation, valid for reads and
        // writes until drop; no Rust reference to it exists (every access
        // goes through interlink's atomics or raw pointers).
        unsafe { Region::from_raw(self.ptr, len.min(self.len())) }.expect("non-null")
    }

    /// Copies `bytes` to the front (as many as fit).
    pub fn fill(&self, bytes: &[u8]) {
        let n = bytes.len().min(self.len());
        // SAFETY: n <= len; `bytes` is caller memory, not ours.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.ptr, n) };
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) };
    }
}

/// The hostile peer, and a [`Wait`] that never sleeps.
///
/// It writes chosen values into words of the mapping: at once
/// ([`Hostile::write`]), or queued ([`Hostile::queue`]) and performed one
/// at a time whenever a primitive calls back into it — `wait`, `yield_now`,
/// `wake_*`, or [`Hostile::during`] from a liveness callback — so the
/// writes land inside blocking operations and take-overs. Its clock moves
/// 1 µs per reading, and a wait advances it by the wait's timeout (or
/// 1 ms), so every timed operation ends after a bounded number of polls.
pub struct Hostile {
    base: *mut u8,
    len: usize,
    clock: Cell<u64>,
    queued: RefCell<VecDeque<(usize, Value)>>,
    writes: Cell<u32>,
    /// The offsets written, in order (for targets whose model survives
    /// writes to some words: [`Hostile::wrote_in`]).
    written: RefCell<Vec<usize>>,
}

impl Hostile {
    /// A peer of `mapping` that has written nothing yet.
    pub fn new(mapping: &Mapping) -> Self {
        Self {
            base: mapping.base(),
            len: mapping.len(),
            clock: Cell::new(1 << 40),
            queued: RefCell::new(VecDeque::new()),
            writes: Cell::new(0),
            written: RefCell::new(Vec::new()),
        }
    }

    /// Whether the peer has written anything (the model stops checking).
    pub fn wrote(&self) -> bool {
        self.writes.get() != 0
    }

    /// Picks a 4-aligned word offset: mostly one of `named` (the layout's
    /// shared words), sometimes any word of the mapping.
    pub fn pick(&self, input: &mut Input<'_>, named: &[usize]) -> usize {
        let b = input.byte();
        if b % 4 != 3 && !named.is_empty() {
            named[(b / 4) as usize % named.len()]
        } else {
            input.below(self.len / 4) * 4
        }
    }

    /// The word at `offset` now (0 outside the mapping).
    pub fn read(&self, offset: usize) -> u32 {
        if !offset.is_multiple_of(4) || offset + 4 > self.len {
            return 0;
        }
        // SAFETY: inside the mapping and 4-aligned; the words are atomics
        // in interlink's eyes, and a racing peer reads them the same way.
        unsafe {
            (*self.base.add(offset).cast::<AtomicU32>()).load(std::sync::atomic::Ordering::Relaxed)
        }
    }

    /// Writes `value` over the word at `offset` now (ignored outside the
    /// mapping).
    pub fn write(&self, offset: usize, value: Value) {
        if !offset.is_multiple_of(4) || offset + 4 > self.len {
            return;
        }
        let v = value.resolve(self.read(offset));
        // SAFETY: as in `read`.
        unsafe {
            (*self.base.add(offset).cast::<AtomicU32>())
                .store(v, std::sync::atomic::Ordering::Relaxed)
        };
        self.writes.set(self.writes.get() + 1);
        self.written.borrow_mut().push(offset);
    }

    /// Whether the peer has written any word whose offset `hit` accepts.
    pub fn wrote_in(&self, hit: impl Fn(usize) -> bool) -> bool {
        self.written.borrow().iter().any(|&o| hit(o))
    }

    /// How many words the peer has written so far (to tell, later,
    /// whether a write came after some point).
    pub fn write_count(&self) -> u32 {
        self.writes.get()
    }

    /// Queues a write for the next callback.
    pub fn queue(&self, offset: usize, value: Value) {
        self.queued.borrow_mut().push_back((offset, value));
    }

    /// Performs the oldest queued write, if any: call it from callbacks
    /// (liveness checks) to write "during" an operation.
    pub fn during(&self) {
        let next = self.queued.borrow_mut().pop_front();
        if let Some((offset, value)) = next {
            self.write(offset, value);
        }
    }

    /// Reads a peer write from the input: offset among `named` (or any),
    /// value from the dictionary.
    pub fn write_from(&self, input: &mut Input<'_>, named: &[usize], capacity: u32) {
        let offset = self.pick(input, named);
        let value = input.value(capacity);
        self.write(offset, value);
    }

    /// Like [`Hostile::write_from`], queued.
    pub fn queue_from(&self, input: &mut Input<'_>, named: &[usize], capacity: u32) {
        let offset = self.pick(input, named);
        let value = input.value(capacity);
        self.queue(offset, value);
    }

    /// A timeout from one byte: mostly zero, sometimes a few µs of this
    /// waiter's clock (a few polls), rarely none at all (only where the
    /// operation must end anyway: callers decide).
    pub fn timeout(input: &mut Input<'_>) -> Duration {
        match input.byte() % 4 {
            0 | 1 => Duration::ZERO,
            2 => Duration::from_micros(3),
            _ => Duration::from_micros(20),
        }
    }
}

impl Wait for Hostile {
    fn wait(&self, _word: &AtomicU32, _expected: u32, timeout: Option<Duration>) -> WaitOutcome {
        self.during();
        let step = timeout.map_or(1_000_000, |t| t.as_nanos().min(1 << 40) as u64);
        self.clock.set(self.clock.get() + step.max(1));
        WaitOutcome::TimedOut
    }

    fn wake_one(&self, _word: &AtomicU32) {
        self.during();
    }

    fn wake_all(&self, _word: &AtomicU32) {
        self.during();
    }

    fn now_ns(&self) -> Option<u64> {
        let t = self.clock.get() + 1000;
        self.clock.set(t);
        Some(t)
    }

    fn yield_now(&self) {
        self.during();
    }
}

/// A blocking strategy chosen by the input: a few spins (or the
/// never-parking [`Blocking::spinning`] phase lengths, cut short), a few
/// yields or endless yields, then park (which, with [`Hostile`], returns at
/// once).
pub fn blocking<'h>(
    input: &mut Input<'_>,
    hostile: &'h Hostile,
) -> interlink_core::Blocking<&'h Hostile> {
    let b = input.byte();
    if b >> 5 == 7 {
        return interlink_core::Blocking::spinning(hostile);
    }
    let spins = u32::from(b & 7);
    let yields = match (b >> 3) & 3 {
        0 => 0,
        1 => 1,
        2 => 3,
        _ => interlink_core::blocking::FOREVER,
    };
    interlink_core::Blocking {
        wait: hostile,
        spins,
        yields,
    }
}
