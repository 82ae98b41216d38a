//! Every mechanism the benchmark compares, each as a [`Mechanism`].

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use interlink_core::blocking::Blocking;
use interlink_core::bytes::{self, ByteRing};
use interlink_core::many_to_one::{self, ManyToOneRing};
use interlink_core::mpmc::{self, MpmcRing};
use interlink_core::pool::{self, Handle, Pool, PoolConfig, Recipient};
use interlink_core::spsc::{Consumer, Producer, SpscRing};
use interlink_core::{Holder, Plain, Region, RingConfig};
use interlink_linux::futex::Futex;
use interlink_linux::shm::Mapping;
use interlink_linux::socket::SeqPacket;
use interlink_linux::sysv;
use interlink_linux::{eventfd, mq, pipe};

use super::link::{Link, Mechanism, Pair};

/// All mechanisms, in the order the report lists them.
pub fn all() -> Vec<Box<dyn Mechanism>> {
    vec![
        Box::new(Floor),
        Box::new(SpscSpin),
        Box::new(SpscParked),
        Box::new(Mpmc { parked: false }),
        Box::new(Mpmc { parked: true }),
        Box::new(Bytes { parked: false }),
        Box::new(Bytes { parked: true }),
        Box::new(ManyToOne),
        Box::new(PoolHandOver),
        Box::new(SpscSysvSegment),
        Box::new(Pipe),
        Box::new(Fifo),
        Box::new(UnixStreamSocket),
        Box::new(UnixSeqpacket),
        Box::new(TcpLoopback),
        Box::new(MessageQueue),
        Box::new(SysvQueue),
        Box::new(EventFd),
    ]
}

/// A unique name for kernel objects of this run.
fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

// ---------------------------------------------------------------- streams

/// A link over any byte stream: messages are `size` bytes, read exactly.
struct StreamLink<R, W> {
    rx: R,
    tx: W,
}

impl<R: Read, W: Write> Link for StreamLink<R, W> {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.tx.write_all(msg)
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.rx.read_exact(buf)
    }
}

/// Two one-way channels opened by `open` — down (parent → child) and up
/// (child → parent) — wired into a pair whose ends each read one and write
/// the other.
fn crossed<R, W>(
    mut open: impl FnMut(&str) -> io::Result<(R, W)>,
    link: impl Fn(R, W) -> Box<dyn Link>,
) -> io::Result<Pair> {
    let (down_rx, down_tx) = open("down")?;
    let (up_rx, up_tx) = open("up")?;
    Ok(Pair {
        parent: link(up_rx, down_tx),
        child: link(down_rx, up_tx),
    })
}

/// A byte-stream link over any reader and writer.
fn stream_link<R: Read + 'static, W: Write + 'static>(rx: R, tx: W) -> Box<dyn Link> {
    Box::new(StreamLink { rx, tx })
}

/// Both ends of a two-way byte stream (a socket pair), each as a reader
/// and a writer.
fn stream_pair<R, W>(parent: (R, W), child: (R, W)) -> Pair
where
    R: Read + 'static,
    W: Write + 'static,
{
    Pair {
        parent: stream_link(parent.0, parent.1),
        child: stream_link(child.0, child.1),
    }
}

/// Two anonymous pipes, one per direction.
pub struct Pipe;

impl Mechanism for Pipe {
    fn name(&self) -> &'static str {
        "pipe"
    }
    fn pair(&self, _size: usize) -> io::Result<Pair> {
        crossed(|_| Ok(pipe::pipe(pipe::IoMode::Blocking)?), stream_link)
    }
}

/// Two named pipes (FIFOs) in the temporary directory, removed once open.
pub struct Fifo;

impl Mechanism for Fifo {
    fn name(&self) -> &'static str {
        "fifo"
    }
    fn pair(&self, _size: usize) -> io::Result<Pair> {
        let open = |direction: &str| -> io::Result<(pipe::Reader, pipe::Writer)> {
            let name = unique(&format!("interlink-bench-{direction}"));
            let fifo = pipe::Fifo::create(std::env::temp_dir().join(name), 0o600)?;
            // Open the read end without waiting for a writer, then the write
            // end (which now finds a reader), then make reads blocking.
            let rx = fifo.reader(pipe::IoMode::NonBlocking)?;
            let tx = fifo.writer(pipe::IoMode::Blocking)?;
            pipe::set_blocking(rx.as_fd(), pipe::IoMode::Blocking)?;
            Ok((rx, tx)) // dropping `fifo` removes the path; the ends stay open
        };
        crossed(open, stream_link)
    }
}

/// A connected pair of Unix stream sockets.
pub struct UnixStreamSocket;

impl Mechanism for UnixStreamSocket {
    fn name(&self) -> &'static str {
        "unix stream"
    }
    fn pair(&self, _size: usize) -> io::Result<Pair> {
        let (a, b) = UnixStream::pair()?;
        Ok(stream_pair((a.try_clone()?, a), (b.try_clone()?, b)))
    }
}

/// TCP over loopback, Nagle off.
pub struct TcpLoopback;

impl Mechanism for TcpLoopback {
    fn name(&self) -> &'static str {
        "tcp loopback"
    }
    fn pair(&self, _size: usize) -> io::Result<Pair> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        let a = std::net::TcpStream::connect(listener.local_addr()?)?;
        let (b, _) = listener.accept()?;
        a.set_nodelay(true)?;
        b.set_nodelay(true)?;
        Ok(stream_pair((a.try_clone()?, a), (b.try_clone()?, b)))
    }
}

// ------------------------------------------------------- message sockets

/// A Unix seqpacket socket pair: reliable, ordered, message boundaries kept.
pub struct UnixSeqpacket;

struct PacketLink(SeqPacket);

impl Link for PacketLink {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.0.send(msg)?;
        Ok(())
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<()> {
        if self.0.recv(buf)? != buf.len() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "short message",
            ));
        }
        Ok(())
    }
}

impl Mechanism for UnixSeqpacket {
    fn name(&self) -> &'static str {
        "unix seqpacket"
    }
    fn pair(&self, _size: usize) -> io::Result<Pair> {
        let (a, b) = SeqPacket::pair()?;
        Ok(Pair {
            parent: Box::new(PacketLink(a)),
            child: Box::new(PacketLink(b)),
        })
    }
}

// ------------------------------------------------------------- mq, eventfd

/// POSIX message queues, one per direction. The parent's handles remove
/// the names when dropped, after the child has inherited the descriptors.
pub struct MessageQueue;

struct MqLink {
    rx: mq::MessageQueue,
    tx: mq::MessageQueue,
}

impl Link for MqLink {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.tx.send(msg, 0).map_err(io::Error::other)
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.rx.recv(buf).map_err(io::Error::other)?;
        Ok(())
    }
}

impl Mechanism for MessageQueue {
    fn name(&self) -> &'static str {
        "posix mq"
    }
    fn max_message(&self) -> usize {
        // The machine's limit (/proc/sys/fs/mqueue/msgsize_max), 8192 by default.
        mq::MqLimit::MsgsizeMax
            .current()
            .map_or(8192, |n| n as usize)
    }
    fn pair(&self, size: usize) -> io::Result<Pair> {
        let attrs = mq::QueueAttrs {
            max_messages: 10,
            message_size: size,
        };
        let open = || -> io::Result<(mq::MessageQueue, mq::MessageQueue)> {
            let name = format!("/{}", unique("interlink-bench"));
            let rx = mq::MessageQueue::create(&name, attrs, 0o600, mq::Access::Read)
                .map_err(io::Error::other)?;
            let tx = mq::MessageQueue::open(&name, mq::Access::Write).map_err(io::Error::other)?;
            Ok((rx, tx))
        };
        crossed(|_| open(), |rx, tx| Box::new(MqLink { rx, tx }))
    }
}

/// eventfd counters, one per direction: a notification without payload.
pub struct EventFd;

struct EventLink {
    rx: Arc<eventfd::EventFd>,
    tx: Arc<eventfd::EventFd>,
}

impl Link for EventLink {
    fn send(&mut self, _msg: &[u8]) -> io::Result<()> {
        Ok(self.tx.write(1)?)
    }
    fn recv(&mut self, _buf: &mut [u8]) -> io::Result<()> {
        self.rx.read()?;
        Ok(())
    }
}

impl Mechanism for EventFd {
    fn name(&self) -> &'static str {
        "eventfd"
    }
    fn max_message(&self) -> usize {
        8
    }
    fn pair(&self, _size: usize) -> io::Result<Pair> {
        // Semaphore mode: each read takes one notification, as a message would.
        let make = || eventfd::EventFd::new(0, eventfd::Mode::Semaphore).map(Arc::new);
        let (down, up) = (make()?, make()?);
        Ok(Pair {
            parent: Box::new(EventLink {
                rx: up.clone(),
                tx: down.clone(),
            }),
            child: Box::new(EventLink { rx: down, tx: up }),
        })
    }
}

// ------------------------------------------------------- shared memory

/// Busy-waits politely: pause hints first, then yields the CPU, so that a
/// spinning link still makes progress when both processes share one CPU.
struct Backoff(u32);

impl Backoff {
    fn new() -> Self {
        Self(0)
    }
    fn snooze(&mut self) {
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

struct FloorLink {
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
struct Words<const W: usize>([u64; W]);
// SAFETY: an array of u64: no padding, every bit pattern valid.
unsafe impl<const W: usize> Plain for Words<W> {
    const TYPE_ID: u64 = <[u64; W] as Plain>::TYPE_ID;
}

struct SpscLink<const W: usize> {
    tx: Producer<'static, Words<W>>,
    rx: Consumer<'static, Words<W>>,
    /// `Some`: block through the core's send/recv, parking on the shared
    /// futex; `None`: spin on chunks.
    parked: Option<Blocking<Futex>>,
    /// Keeps both rings' memory mapped; dropped after the handles.
    _memory: RingMemory,
}

impl<const W: usize> Link for SpscLink<W> {
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

fn as_bytes(words: &[u64]) -> &[u8] {
    // SAFETY: u64s are initialised bytes; u8 has alignment 1.
    unsafe { std::slice::from_raw_parts(words.as_ptr().cast(), std::mem::size_of_val(words)) }
}

fn as_bytes_mut(words: &mut [u64]) -> &mut [u8] {
    // SAFETY: as in as_bytes; every byte pattern is a valid u64.
    unsafe {
        std::slice::from_raw_parts_mut(words.as_mut_ptr().cast(), std::mem::size_of_val(words))
    }
}

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// Where a ring's memory comes from.
enum Memory {
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
struct RingMemory(Arc<[Memory]>);

impl RingMemory {
    /// Two anonymous shared mappings of `bytes` each: one ring per direction.
    fn new(bytes: usize) -> io::Result<Self> {
        Self::mappings(&[bytes, bytes])
    }

    /// One anonymous shared mapping per entry of `sizes`.
    fn mappings(sizes: &[usize]) -> io::Result<Self> {
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

    /// Memory `i` as a region for a ring handle that a link keeps.
    fn region(&self, i: usize) -> io::Result<Region<'static>> {
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
fn slots_for<const W: usize>() -> u32 {
    ((1usize << 20) / (W * 8)).clamp(2, 1 << 14) as u32
}

fn spsc_pair<const W: usize>(parked: bool, backing: Backing) -> io::Result<Pair> {
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
            _memory: memory.clone(),
        }),
        child: Box::new(SpscLink::<W> {
            tx: up.producer(child_id).map_err(other)?,
            rx: down.consumer(child_id).map_err(other)?,
            parked,
            _memory: memory,
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
enum Backing {
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
fn spsc_sized(size: usize, parked: bool, backing: Backing) -> io::Result<Pair> {
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

struct MpmcLink<const W: usize> {
    tx: MpmcRing<'static, Words<W>>,
    rx: MpmcRing<'static, Words<W>>,
    parked: Option<Blocking<Futex>>,
    _memory: RingMemory,
}

impl<const W: usize> Link for MpmcLink<W> {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        let mut words = Words([0u64; W]);
        as_bytes_mut(&mut words.0)[..msg.len()].copy_from_slice(msg);
        if let Some(blocking) = &self.parked {
            return self.tx.send(words, blocking, None).map_err(other);
        }
        let mut backoff = Backoff::new();
        loop {
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

fn mpmc_pair<const W: usize>(parked: bool) -> io::Result<Pair> {
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
            _memory: memory.clone(),
        }),
        child: Box::new(MpmcLink::<W> {
            tx: up,
            rx: down,
            parked,
            _memory: memory,
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

struct BytesLink {
    tx: bytes::Producer<'static>,
    rx: bytes::Consumer<'static>,
    parked: Option<Blocking<Futex>>,
    _memory: RingMemory,
}

impl Link for BytesLink {
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

fn expect_len(len: usize, expected: usize) -> io::Result<()> {
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
                _memory: memory.clone(),
            }),
            child: Box::new(BytesLink {
                tx: up.producer(child_id).map_err(other)?,
                rx: down.consumer(child_id).map_err(other)?,
                parked,
                _memory: memory,
            }),
        })
    }
}

// ------------------------------------------------- many-to-one, block pool

/// Two many-to-one byte rings (1 MiB each), one per direction, each with
/// one producer here: the cost of the multi-producer record protocol for
/// variable-length records, spinning.
pub struct ManyToOne;

struct ManyToOneLink {
    tx: many_to_one::Producer<'static>,
    rx: many_to_one::Consumer<'static>,
    _memory: RingMemory,
}

impl Link for ManyToOneLink {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        let mut backoff = Backoff::new();
        loop {
            match self.tx.try_send(0, msg) {
                Ok(()) => return Ok(()),
                Err(many_to_one::SendError::Full) => backoff.snooze(),
                Err(e) => return Err(other(format!("{e:?}"))),
            }
        }
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<()> {
        let mut backoff = Backoff::new();
        loop {
            match self.rx.try_recv(buf) {
                Ok((_, len)) => return expect_len(len, buf.len()),
                // Stalled: the producer claimed the record and is
                // descheduled mid-copy; with a live peer that is transient.
                Err(many_to_one::RecvError::Empty | many_to_one::RecvError::Stalled { .. }) => {
                    backoff.snooze()
                }
                Err(e) => return Err(other(format!("{e:?}"))),
            }
        }
    }
}

impl Mechanism for ManyToOne {
    fn name(&self) -> &'static str {
        "many-to-one ring (spin)"
    }
    fn max_message(&self) -> usize {
        1 << 16
    }
    fn pair(&self, _size: usize) -> io::Result<Pair> {
        const CAPACITY: u32 = 1 << 20;
        let memory = RingMemory::new(ManyToOneRing::bytes_needed(CAPACITY).map_err(other)?)?;
        let ring =
            |i| ManyToOneRing::init(memory.region(i)?, RingConfig::new(CAPACITY)).map_err(other);
        let (down, up) = (ring(0)?, ring(1)?);
        // Role ids for the two ends (the child is forked later).
        let (parent_id, child_id) = (Holder::fixed::<1>(), Holder::fixed::<2>());
        Ok(Pair {
            parent: Box::new(ManyToOneLink {
                tx: down.producer(parent_id),
                rx: up.consumer(parent_id).map_err(other)?,
                _memory: memory.clone(),
            }),
            child: Box::new(ManyToOneLink {
                tx: up.producer(child_id),
                rx: down.consumer(child_id).map_err(other)?,
                _memory: memory,
            }),
        })
    }
}

/// Bytes in a block of the pool row: a message this large is handed over,
/// never copied.
const POOL_BLOCK: u32 = 1 << 20;
/// Blocks in the pool row's pool.
const POOL_BLOCKS: u32 = 4;

/// A shared block pool of 1 MiB blocks: a message is a block lent, handed
/// off to the peer, its 12-byte handle sent over an SPSC ring, accepted
/// and released. The payload is not touched: this is the cost of handing
/// over a block of any size. Round trips only.
pub struct PoolHandOver;

struct PoolLink {
    pool: Pool<'static>,
    /// This end's holder id and its peer's.
    me: Holder,
    peer: Holder,
    tx: Producer<'static, Handle>,
    rx: Consumer<'static, Handle>,
    _memory: RingMemory,
}

impl Link for PoolLink {
    fn send(&mut self, _msg: &[u8]) -> io::Result<()> {
        let mut backoff = Backoff::new();
        let loan = loop {
            match self.pool.try_loan(self.me) {
                Ok(loan) => break loan,
                // The peer has not released its blocks yet: transient.
                Err(pool::LoanError::Exhausted(_)) => backoff.snooze(),
                Err(e) => return Err(other(e)),
            }
        };
        let handle = loan
            .hand_off(POOL_BLOCK, Recipient::Holder(self.peer))
            .map_err(other)?;
        let mut backoff = Backoff::new();
        loop {
            match self.tx.try_send(handle) {
                Ok(()) => return Ok(()),
                Err(interlink_core::SendError::Full) => backoff.snooze(),
                Err(e) => return Err(other(format!("{e:?}"))),
            }
        }
    }
    fn recv(&mut self, _buf: &mut [u8]) -> io::Result<()> {
        let mut backoff = Backoff::new();
        let handle = loop {
            match self.rx.try_recv() {
                Ok(handle) => break handle,
                Err(interlink_core::RecvError::Empty) => backoff.snooze(),
                Err(e) => return Err(other(format!("{e:?}"))),
            }
        };
        let sample = self.pool.accept(&handle, self.me).map_err(other)?;
        // Dropping the sample releases the block.
        expect_len(sample.len(), POOL_BLOCK as usize)
    }
}

impl Mechanism for PoolHandOver {
    fn name(&self) -> &'static str {
        "block pool 1 MiB hand-over (spin)"
    }
    fn round_trip_only(&self) -> bool {
        true
    }
    fn pair(&self, _size: usize) -> io::Result<Pair> {
        const SLOTS: u32 = 16;
        let ring_bytes = SpscRing::<Handle>::bytes_needed(SLOTS).map_err(other)?;
        let pool_bytes = Pool::bytes_needed(POOL_BLOCKS, POOL_BLOCK).map_err(other)?;
        let memory = RingMemory::mappings(&[ring_bytes, ring_bytes, pool_bytes])?;
        let ring =
            |i| SpscRing::<Handle>::init(memory.region(i)?, RingConfig::new(SLOTS)).map_err(other);
        let (down, up) = (ring(0)?, ring(1)?);
        let pool = Pool::init(memory.region(2)?, PoolConfig::new(POOL_BLOCKS, POOL_BLOCK))
            .map_err(other)?;
        let (parent_id, child_id) = (Holder::fixed::<1>(), Holder::fixed::<2>());
        Ok(Pair {
            parent: Box::new(PoolLink {
                pool,
                me: parent_id,
                peer: child_id,
                tx: down.producer(parent_id).map_err(other)?,
                rx: up.consumer(parent_id).map_err(other)?,
                _memory: memory.clone(),
            }),
            child: Box::new(PoolLink {
                pool,
                me: child_id,
                peer: parent_id,
                tx: up.producer(child_id).map_err(other)?,
                rx: down.consumer(child_id).map_err(other)?,
                _memory: memory,
            }),
        })
    }
}

// ------------------------------------------------------------ sysv queue

/// One System V message queue carrying both directions: type 1 down
/// (parent → child), type 2 up. Blocking in the kernel. Round trips only.
pub struct SysvQueue;

struct SysvQueueLink {
    queue: Arc<sysv::Queue>,
    /// The message types this end sends and receives.
    out: i64,
    inc: i64,
}

impl Link for SysvQueueLink {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.queue.send(self.out, msg).map_err(other)
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<()> {
        let got = self
            .queue
            .recv(sysv::Select::Type(self.inc), buf)
            .map_err(other)?;
        expect_len(got.len, buf.len())
    }
}

impl Mechanism for SysvQueue {
    fn name(&self) -> &'static str {
        "sysv queue"
    }
    fn max_message(&self) -> usize {
        // The machine's limit (/proc/sys/kernel/msgmax), 8192 by default.
        sysv::SysvLimit::MsgMax
            .current()
            .map_or(8192, |n| n as usize)
    }
    fn round_trip_only(&self) -> bool {
        true
    }
    fn pair(&self, _size: usize) -> io::Result<Pair> {
        // The parent's handle removes the queue when dropped, after the
        // child has forked and exited.
        let queue = Arc::new(
            sysv::Queue::create(sysv::Key::PRIVATE, &sysv::QueueOptions::new()).map_err(other)?,
        );
        Ok(Pair {
            parent: Box::new(SysvQueueLink {
                queue: queue.clone(),
                out: 1,
                inc: 2,
            }),
            child: Box::new(SysvQueueLink {
                queue,
                out: 2,
                inc: 1,
            }),
        })
    }
}
