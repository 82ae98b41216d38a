//! Shared memory: the cache-line floor and interlink's SPSC, MPMC and
//! byte rings, in anonymous mappings or System V segments.

#[allow(unused_imports)]
use super::*;

// ------------------------------------------------------- shared memory

/// Busy-waits politely: pause hints first, then yields the CPU, so that a
/// spinning link still makes progress when both processes share one CPU.
pub(super) struct Backoff(u32);

impl Backoff {
    pub(super) fn new() -> Self {
        Self(0)
    }
    pub(super) fn snooze(&mut self) {
        if self.0 < 1 << 12 {
            self.0 += 1;
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

/// The floor: one counter per direction on its own cache line in a shared
/// mapping. A message is a counter bump; no payload moves.
pub struct Floor;

pub(super) struct FloorLink {
    map: Arc<Mapping>,
    /// Byte offsets of the outgoing and incoming counters.
    out: usize,
    inc: usize,
    sent: u64,
    seen: u64,
}

impl FloorLink {
    fn counter(&self, offset: usize) -> &AtomicU64 {
        // SAFETY: offset is 0 or 128 in a mapping of 256 bytes, 8-aligned;
        // the mapping lives as long as `self` and is only accessed atomically.
        unsafe { &*self.map.as_ptr().add(offset).cast::<AtomicU64>() }
    }
}

impl Link for FloorLink {
    fn populate(&mut self) -> io::Result<()> {
        self.map.populate().map_err(other)
    }
    fn send(&mut self, _msg: &[u8]) -> io::Result<()> {
        self.sent += 1;
        self.counter(self.out).store(self.sent, Ordering::Release);
        Ok(())
    }
    fn recv(&mut self, _buf: &mut [u8]) -> io::Result<()> {
        let mut backoff = Backoff::new();
        while self.counter(self.inc).load(Ordering::Acquire) == self.seen {
            backoff.snooze();
        }
        self.seen += 1;
        Ok(())
    }
}

impl Mechanism for Floor {
    fn name(&self) -> &'static str {
        "floor: cache line"
    }
    fn max_message(&self) -> usize {
        8
    }
    fn pair(&self, _size: usize) -> io::Result<Pair> {
        let map = Arc::new(Mapping::anonymous(256)?);
        let link = |out, inc| FloorLink {
            map: map.clone(),
            out,
            inc,
            sent: 0,
            seen: 0,
        };
        Ok(Pair {
            parent: Box::new(link(0, 128)),
            child: Box::new(link(128, 0)),
        })
    }
}

/// Two SPSC rings of fixed-size messages in a shared mapping, spinning.
pub struct SpscSpin;

/// A message of `W` words: the ring's element for one message size.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub(super) struct Words<const W: usize>([u64; W]);
// SAFETY: an array of u64: no padding, every bit pattern valid.
unsafe impl<const W: usize> Plain for Words<W> {
    const TYPE_ID: u64 = <[u64; W] as Plain>::TYPE_ID;
}

pub(super) struct SpscLink<const W: usize> {
    tx: Producer<'static, Words<W>>,
    rx: Consumer<'static, Words<W>>,
    /// `Some`: block through the core's send/recv, parking on the shared
    /// futex; `None`: spin on chunks.
    parked: Option<Blocking<Futex>>,
    /// Keeps both rings' memory mapped; dropped after the handles.
    memory: RingMemory,
}

impl<const W: usize> Link for SpscLink<W> {
    fn populate(&mut self) -> io::Result<()> {
        self.memory.populate()
    }
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        if let Some(blocking) = &self.parked {
            let mut words = Words([0u64; W]);
            as_bytes_mut(&mut words.0)[..msg.len()].copy_from_slice(msg);
            return self.tx.send(words, blocking, None).map_err(other);
        }
        let mut backoff = Backoff::new();
        loop {
            match self.tx.reserve(1) {
                Ok(mut chunk) => {
                    let (slot, _) = chunk.as_mut_slices();
                    // SAFETY: a [u64; W] is W * 8 initialised bytes.
                    let bytes = unsafe {
                        std::slice::from_raw_parts_mut(slot.as_mut_ptr().cast::<u8>(), W * 8)
                    };
                    bytes[..msg.len()].copy_from_slice(msg);
                    chunk.commit_all();
                    return Ok(());
                }
                Err(interlink_core::ChunkError::TooFew { .. }) => backoff.snooze(),
                Err(e) => return Err(other(e)),
            }
        }
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<()> {
        if let Some(blocking) = &self.parked {
            let words = self.rx.recv(blocking, None).map_err(other)?;
            buf.copy_from_slice(&as_bytes(&words.0)[..buf.len()]);
            return Ok(());
        }
        let mut backoff = Backoff::new();
        loop {
            match self.rx.peek(1) {
                Ok(chunk) => {
                    let (slot, _) = chunk.as_slices();
                    // SAFETY: a [u64; W] is W * 8 initialised bytes.
                    let bytes =
                        unsafe { std::slice::from_raw_parts(slot.as_ptr().cast::<u8>(), W * 8) };
                    buf.copy_from_slice(&bytes[..buf.len()]);
                    chunk.release_all();
                    return Ok(());
                }
                Err(interlink_core::ChunkError::TooFew { .. }) => backoff.snooze(),
                Err(e) => return Err(other(e)),
            }
        }
    }
}

pub(super) fn as_bytes(words: &[u64]) -> &[u8] {
    // SAFETY: u64s are initialised bytes; u8 has alignment 1.
    unsafe { std::slice::from_raw_parts(words.as_ptr().cast(), std::mem::size_of_val(words)) }
}

pub(super) fn as_bytes_mut(words: &mut [u64]) -> &mut [u8] {
    // SAFETY: as in as_bytes; every byte pattern is a valid u64.
    unsafe {
        std::slice::from_raw_parts_mut(words.as_mut_ptr().cast(), std::mem::size_of_val(words))
    }
}

pub(super) fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// Where a ring's memory comes from.
pub(super) enum Memory {
    /// An anonymous shared mapping (inherited across `fork`).
    Mapping(Mapping),
    /// A private System V segment, attached read-write (the attachment is
    /// inherited across `fork`).
    Segment(sysv::Segment),
}

impl Memory {
    /// The start (writable) and length of the memory.
    fn raw(&self) -> (*mut u8, usize) {
        match self {
            Memory::Mapping(m) => (m.as_ptr(), m.len()),
            // A segment made by `Segment::create` is attached read-write.
            Memory::Segment(s) => (s.as_ptr().cast_mut(), s.len()),
        }
    }
}

/// Shared memory areas (one per ring), kept mapped for as long as any
/// link holds a clone.
#[derive(Clone)]
pub(super) struct RingMemory(Arc<[Memory]>);

impl RingMemory {
    /// Two anonymous shared mappings of `bytes` each: one ring per direction.
    pub(super) fn new(bytes: usize) -> io::Result<Self> {
        Self::mappings(&[bytes, bytes])
    }

    /// One anonymous shared mapping per entry of `sizes`.
    pub(super) fn mappings(sizes: &[usize]) -> io::Result<Self> {
        let maps = sizes
            .iter()
            .map(|&n| Ok(Memory::Mapping(Mapping::anonymous(n)?)))
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Self(maps.into()))
    }

    /// Two private System V segments of `bytes` each, removed once both
    /// processes have detached.
    fn sysv(bytes: usize) -> io::Result<Self> {
        let make = || {
            sysv::Segment::create(sysv::Key::PRIVATE, bytes, &sysv::SegmentOptions::new())
                .map(Memory::Segment)
                .map_err(other)
        };
        Ok(Self(Arc::new([make()?, make()?])))
    }

    /// Faults every area into this process's page tables (see
    /// [`Link::populate`]).
    pub(super) fn populate(&self) -> io::Result<()> {
        for memory in self.0.iter() {
            match memory {
                Memory::Mapping(m) => m.populate().map_err(other)?,
                Memory::Segment(s) => s.populate().map_err(other)?,
            }
        }
        Ok(())
    }

    /// Memory `i` as a region for a ring handle that a link keeps.
    pub(super) fn region(&self, i: usize) -> io::Result<Region<'static>> {
        let memory = self
            .0
            .get(i)
            .ok_or_else(|| other(format!("no shared memory {i}")))?;
        let (ptr, len) = memory.raw();
        // SAFETY: the memory is readable and writable for `len` bytes and
        // outlives the ring handles: every link holds a clone of it,
        // declared after its handles so that it is dropped last.
        unsafe { Region::from_raw(ptr, len) }.map_err(other)
    }
}

/// Ring slots per direction for `W`-word messages: about 1 MiB of slots.
pub(super) fn slots_for<const W: usize>() -> u32 {
    ((1usize << 20) / (W * 8)).clamp(2, 1 << 14) as u32
}

pub(super) fn spsc_pair<const W: usize>(parked: bool, backing: Backing) -> io::Result<Pair> {
    let parked = parked.then(|| Blocking::parking(Futex));
    let capacity = slots_for::<W>();
    let bytes = SpscRing::<Words<W>>::bytes_needed(capacity).map_err(other)?;
    let memory = match backing {
        Backing::Anonymous => RingMemory::new(bytes)?,
        Backing::Sysv => RingMemory::sysv(bytes)?,
    };
    let ring =
        |i| SpscRing::<Words<W>>::init(memory.region(i)?, RingConfig::new(capacity)).map_err(other);
    let (down, up) = (ring(0)?, ring(1)?);
    // Role ids for the two ends (the child is forked later).
    let (parent_id, child_id) = (Holder::fixed::<1>(), Holder::fixed::<2>());
    Ok(Pair {
        parent: Box::new(SpscLink::<W> {
            tx: down.producer(parent_id).map_err(other)?,
            rx: up.consumer(parent_id).map_err(other)?,
            parked,
            memory: memory.clone(),
        }),
        child: Box::new(SpscLink::<W> {
            tx: up.producer(child_id).map_err(other)?,
            rx: down.consumer(child_id).map_err(other)?,
            parked,
            memory,
        }),
    })
}

impl Mechanism for SpscSpin {
    fn name(&self) -> &'static str {
        "spsc ring (spin)"
    }
    fn max_message(&self) -> usize {
        1 << 16
    }
    fn pair(&self, size: usize) -> io::Result<Pair> {
        spsc_sized(size, false, Backing::Anonymous)
    }
}

/// Where the SPSC rings live.
#[derive(Clone, Copy)]
pub(super) enum Backing {
    /// Anonymous shared mappings.
    Anonymous,
    /// Private System V segments.
    Sysv,
}

/// The spinning SPSC rings placed in System V segments instead of
/// anonymous mappings: the same ring, other memory. Round trips only.
pub struct SpscSysvSegment;

impl Mechanism for SpscSysvSegment {
    fn name(&self) -> &'static str {
        "spsc ring in a sysv segment (spin)"
    }
    fn round_trip_only(&self) -> bool {
        true
    }
    fn pair(&self, size: usize) -> io::Result<Pair> {
        spsc_sized(size, false, Backing::Sysv)
    }
}

/// The same rings, blocking through the core's `send`/`recv` with no
/// spinning at all: a side that finds nothing to do parks on the shared
/// futex at once and is woken by its peer. The worst case of the default
/// spin → yield → park strategy, and the mode for consumers that must not
/// burn a core.
pub struct SpscParked;

impl Mechanism for SpscParked {
    fn name(&self) -> &'static str {
        "spsc ring (futex)"
    }
    fn max_message(&self) -> usize {
        1 << 16
    }
    fn pair(&self, size: usize) -> io::Result<Pair> {
        spsc_sized(size, true, Backing::Anonymous)
    }
}

/// A ring pair whose element fits `size` bytes: 64 B, 4 KiB or 64 KiB.
pub(super) fn spsc_sized(size: usize, parked: bool, backing: Backing) -> io::Result<Pair> {
    match size {
        0..=64 => spsc_pair::<8>(parked, backing),
        65..=4096 => spsc_pair::<512>(parked, backing),
        _ => spsc_pair::<8192>(parked, backing),
    }
}

/// Two MPMC rings of fixed-size messages (used here by one producer and
/// one consumer each: the cost of the multi-producer protocol), spinning
/// or parked on the futex.
pub struct Mpmc {
    /// Park on the shared futex instead of spinning.
    pub parked: bool,
}

pub(super) struct MpmcLink<const W: usize> {
    tx: MpmcRing<'static, Words<W>>,
    rx: MpmcRing<'static, Words<W>>,
    parked: Option<Blocking<Futex>>,
    memory: RingMemory,
}

impl<const W: usize> Link for MpmcLink<W> {
    fn populate(&mut self) -> io::Result<()> {
        self.memory.populate()
    }
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        let mut words = Words([0u64; W]);
        as_bytes_mut(&mut words.0)[..msg.len()].copy_from_slice(msg);
        if let Some(blocking) = &self.parked {
            return self.tx.send(words, blocking, None).map_err(other);
        }
        let mut backoff = Backoff::new();
        loop {
            // Poll the slot alone until it looks free: `try_send` on a full
            // ring reads the consumers' index (to tell `Full` from a
            // consumer's unfinished claim), and polling it would take that
            // line from the consumer on every poll.
            if !self.tx.send_ready() {
                backoff.snooze();
                continue;
            }
            match self.tx.try_send(words) {
                Ok(()) => return Ok(()),
                // Stalled: the consumer claimed the slot and is descheduled
                // mid-copy; with a live peer that is transient.
                Err(mpmc::SendError::Full | mpmc::SendError::Stalled { .. }) => backoff.snooze(),
                Err(e) => return Err(other(format!("{e:?}"))),
            }
        }
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<()> {
        if let Some(blocking) = &self.parked {
            let words = self.rx.recv(blocking, None).map_err(other)?;
            buf.copy_from_slice(&as_bytes(&words.0)[..buf.len()]);
            return Ok(());
        }
        let mut backoff = Backoff::new();
        loop {
            // Poll the slot alone until it looks published: `try_recv` on an
            // empty ring reads the producers' index (to tell `Empty` from a
            // producer's unfinished claim), and polling it would take that
            // line from the producer on every poll, slowing each push's
            // compare-exchange of it.
            if !self.rx.recv_ready() {
                backoff.snooze();
                continue;
            }
            match self.rx.try_recv() {
                Ok(words) => {
                    buf.copy_from_slice(&as_bytes(&words.0)[..buf.len()]);
                    return Ok(());
                }
                Err(mpmc::RecvError::Empty | mpmc::RecvError::Stalled { .. }) => backoff.snooze(),
                Err(e) => return Err(other(format!("{e:?}"))),
            }
        }
    }
}

pub(super) fn mpmc_pair<const W: usize>(parked: bool) -> io::Result<Pair> {
    let parked = parked.then(|| Blocking::parking(Futex));
    let capacity = slots_for::<W>();
    let memory = RingMemory::new(MpmcRing::<Words<W>>::bytes_needed(capacity).map_err(other)?)?;
    let ring =
        |i| MpmcRing::<Words<W>>::init(memory.region(i)?, RingConfig::new(capacity)).map_err(other);
    let (down, up) = (ring(0)?, ring(1)?);
    Ok(Pair {
        parent: Box::new(MpmcLink::<W> {
            tx: down,
            rx: up,
            parked,
            memory: memory.clone(),
        }),
        child: Box::new(MpmcLink::<W> {
            tx: up,
            rx: down,
            parked,
            memory,
        }),
    })
}

impl Mechanism for Mpmc {
    fn name(&self) -> &'static str {
        if self.parked {
            "mpmc ring (futex)"
        } else {
            "mpmc ring (spin)"
        }
    }
    fn max_message(&self) -> usize {
        1 << 16
    }
    fn pair(&self, size: usize) -> io::Result<Pair> {
        match size {
            0..=64 => mpmc_pair::<8>(self.parked),
            65..=4096 => mpmc_pair::<512>(self.parked),
            _ => mpmc_pair::<8192>(self.parked),
        }
    }
}

/// Two framed byte rings (1 MiB each): variable-length records, copied in
/// and out with `send`/`recv`, spinning or parked on the futex.
pub struct Bytes {
    /// Park on the shared futex instead of spinning.
    pub parked: bool,
}

pub(super) struct BytesLink {
    tx: bytes::Producer<'static>,
    rx: bytes::Consumer<'static>,
    parked: Option<Blocking<Futex>>,
    memory: RingMemory,
}

impl Link for BytesLink {
    fn populate(&mut self) -> io::Result<()> {
        self.memory.populate()
    }
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        if let Some(blocking) = &self.parked {
            return self.tx.send(0, msg, blocking, None).map_err(other);
        }
        let mut backoff = Backoff::new();
        loop {
            match self.tx.try_send(0, msg) {
                Ok(()) => return Ok(()),
                Err(bytes::SendError::Full) => backoff.snooze(),
                Err(e) => return Err(other(format!("{e:?}"))),
            }
        }
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<()> {
        if let Some(blocking) = &self.parked {
            let (_, len) = self.rx.recv(buf, blocking, None).map_err(other)?;
            return expect_len(len, buf.len());
        }
        let mut backoff = Backoff::new();
        loop {
            match self.rx.try_recv(buf) {
                Ok((_, len)) if len == buf.len() => return Ok(()),
                Ok((_, len)) => {
                    return Err(other(format!(
                        "message of {len} bytes, expected {}",
                        buf.len()
                    )))
                }
                Err(bytes::RecvError::Empty) => backoff.snooze(),
                Err(e) => return Err(other(format!("{e:?}"))),
            }
        }
    }
}

pub(super) fn expect_len(len: usize, expected: usize) -> io::Result<()> {
    if len == expected {
        Ok(())
    } else {
        Err(other(format!(
            "message of {len} bytes, expected {expected}"
        )))
    }
}

impl Mechanism for Bytes {
    fn name(&self) -> &'static str {
        if self.parked {
            "byte ring (futex)"
        } else {
            "byte ring (spin)"
        }
    }
    fn max_message(&self) -> usize {
        1 << 16
    }
    fn pair(&self, _size: usize) -> io::Result<Pair> {
        const CAPACITY: u32 = 1 << 20;
        let parked = self.parked.then(|| Blocking::parking(Futex));
        let memory = RingMemory::new(ByteRing::bytes_needed(CAPACITY).map_err(other)?)?;
        let ring = |i| ByteRing::init(memory.region(i)?, RingConfig::new(CAPACITY)).map_err(other);
        let (down, up) = (ring(0)?, ring(1)?);
        // Role ids for the two ends (the child is forked later).
        let (parent_id, child_id) = (Holder::fixed::<1>(), Holder::fixed::<2>());
        Ok(Pair {
            parent: Box::new(BytesLink {
                tx: down.producer(parent_id).map_err(other)?,
                rx: up.consumer(parent_id).map_err(other)?,
                parked,
                memory: memory.clone(),
            }),
            child: Box::new(BytesLink {
                tx: up.producer(child_id).map_err(other)?,
                rx: down.consumer(child_id).map_err(other)?,
                parked,
                memory,
            }),
        })
    }
}
