//! One writer, many readers, measured with one reader: interlink's
//! broadcast ring, fan-out ring and latest-value table in anonymous shared
//! mappings, one per direction, both sides spinning. A round trip is two
//! one-way writer → reader hand-overs, comparable with the SPSC ring's row
//! of the same run.

#[allow(unused_imports)]
use super::*;

use std::mem::ManuallyDrop;

use interlink_core::broadcast::{self, BroadcastRing, Start};
use interlink_core::fanout::{self, FanoutRing, FanoutWriter, Subscriber};
use interlink_core::latest::{self, LatestTable, LatestWriter};

use super::rings::{as_bytes, as_bytes_mut, expect_len, other, slots_for, Backoff, RingMemory};

/// A message of `W` words: the element of the fan-out ring and the
/// latest-value table for one message size (`rings::Words` keeps its
/// field to itself).
#[derive(Clone, Copy)]
#[repr(transparent)]
pub(super) struct Msg<const W: usize>([u64; W]);
// SAFETY: an array of u64: no padding, every bit pattern valid.
unsafe impl<const W: usize> Plain for Msg<W> {
    const TYPE_ID: u64 = <[u64; W] as Plain>::TYPE_ID;
}

// ------------------------------------------------------------ broadcast

/// Two broadcast rings (1 MiB each), one reader each, spinning. Round
/// trips only: the writer never waits, so a stream would outrun the
/// reader and lose messages (a lossy ring's throughput is its writer's).
pub struct Broadcast;

pub(super) struct BroadcastLink {
    tx: broadcast::Writer<'static>,
    rx: broadcast::Reader<'static>,
    memory: RingMemory,
}

impl Link for BroadcastLink {
    fn populate(&mut self) -> io::Result<()> {
        self.memory.populate()
    }
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.tx.try_send(0, msg).map_err(other)
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<()> {
        let mut backoff = Backoff::new();
        loop {
            match self.rx.try_recv(buf) {
                Ok((_, len)) => return expect_len(len, buf.len()),
                Err(broadcast::RecvError::Empty) => backoff.snooze(),
                // Lapped included: one message in flight never laps 1 MiB.
                Err(e) => return Err(other(format!("{e:?}"))),
            }
        }
    }
}

impl Mechanism for Broadcast {
    fn name(&self) -> &'static str {
        "broadcast ring (spin)"
    }
    fn max_message(&self) -> usize {
        1 << 16
    }
    fn round_trip_only(&self) -> bool {
        true
    }
    fn pair(&self, _size: usize) -> io::Result<Pair> {
        const CAPACITY: u32 = 1 << 20;
        let memory = RingMemory::new(BroadcastRing::bytes_needed(CAPACITY).map_err(other)?)?;
        let ring =
            |i| BroadcastRing::init(memory.region(i)?, RingConfig::new(CAPACITY)).map_err(other);
        let (down, up) = (ring(0)?, ring(1)?);
        // Role ids for the two writers (the child is forked later).
        let (parent_id, child_id) = (Holder::fixed::<1>(), Holder::fixed::<2>());
        Ok(Pair {
            parent: Box::new(BroadcastLink {
                tx: down.writer(parent_id).map_err(other)?,
                rx: up.reader(Start::Next),
                memory: memory.clone(),
            }),
            child: Box::new(BroadcastLink {
                tx: up.writer(child_id).map_err(other)?,
                rx: down.reader(Start::Next),
                memory,
            }),
        })
    }
}

// -------------------------------------------------------------- fan-out

/// Two fan-out rings of fixed-size messages (about 1 MiB of slots each),
/// one subscriber each, spinning. Lossless, so it streams too.
pub struct Fanout;

pub(super) struct FanoutLink<const W: usize> {
    tx: FanoutWriter<'static, Msg<W>>,
    /// Never dropped: the pair is made before the fork, and the parent
    /// drops its copy of the child's end; a subscriber leaves the table
    /// when dropped, which would stop the writer from waiting for the
    /// child's subscription (it would lap it). The table goes away with
    /// the mappings.
    rx: ManuallyDrop<Subscriber<'static, Msg<W>>>,
    memory: RingMemory,
}

impl<const W: usize> Link for FanoutLink<W> {
    fn populate(&mut self) -> io::Result<()> {
        self.memory.populate()
    }
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        let mut words = Msg([0u64; W]);
        as_bytes_mut(&mut words.0)[..msg.len()].copy_from_slice(msg);
        let mut backoff = Backoff::new();
        loop {
            match self.tx.try_send(words) {
                Ok(()) => return Ok(()),
                Err(fanout::SendError::Full) => backoff.snooze(),
                Err(e) => return Err(other(format!("{e:?}"))),
            }
        }
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<()> {
        let mut backoff = Backoff::new();
        loop {
            match self.rx.try_recv() {
                Ok(words) => {
                    buf.copy_from_slice(&as_bytes(&words.0)[..buf.len()]);
                    return Ok(());
                }
                Err(fanout::RecvError::Empty) => backoff.snooze(),
                Err(e) => return Err(other(format!("{e:?}"))),
            }
        }
    }
}

fn fanout_pair<const W: usize>() -> io::Result<Pair> {
    let capacity = slots_for::<W>();
    let bytes = FanoutRing::<Msg<W>>::bytes_needed(capacity).map_err(other)?;
    let memory = RingMemory::new(bytes)?;
    let ring =
        |i| FanoutRing::<Msg<W>>::init(memory.region(i)?, RingConfig::new(capacity)).map_err(other);
    let (down, up) = (ring(0)?, ring(1)?);
    // Role ids for the two ends (the child is forked later). Both
    // subscribers join here, before anything is written; nobody is ever
    // evicted (`is_alive` answers yes).
    let (parent_id, child_id) = (Holder::fixed::<1>(), Holder::fixed::<2>());
    let alive = |_| true;
    Ok(Pair {
        parent: Box::new(FanoutLink::<W> {
            tx: down.writer(parent_id).map_err(other)?,
            rx: ManuallyDrop::new(up.subscribe(parent_id, alive).map_err(other)?),
            memory: memory.clone(),
        }),
        child: Box::new(FanoutLink::<W> {
            tx: up.writer(child_id).map_err(other)?,
            rx: ManuallyDrop::new(down.subscribe(child_id, alive).map_err(other)?),
            memory,
        }),
    })
}

impl Mechanism for Fanout {
    fn name(&self) -> &'static str {
        "fan-out ring (spin)"
    }
    fn max_message(&self) -> usize {
        1 << 16
    }
    fn pair(&self, size: usize) -> io::Result<Pair> {
        match size {
            0..=64 => fanout_pair::<8>(),
            65..=4096 => fanout_pair::<512>(),
            _ => fanout_pair::<8192>(),
        }
    }
}

// --------------------------------------------------------- latest value

/// Two latest-value tables of one cell each (a seqlock), spinning on the
/// cell's version. Round trips only: a newer value replaces an unread one.
pub struct Latest;

pub(super) struct LatestLink<const W: usize> {
    tx: LatestWriter<'static, Msg<W>>,
    rx: LatestTable<'static, Msg<W>>,
    /// The version of the last value received.
    seen: u64,
    memory: RingMemory,
}

impl<const W: usize> Link for LatestLink<W> {
    fn populate(&mut self) -> io::Result<()> {
        self.memory.populate()
    }
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        let mut words = Msg([0u64; W]);
        as_bytes_mut(&mut words.0)[..msg.len()].copy_from_slice(msg);
        self.tx.try_send(0, words).map(drop).map_err(other)
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<()> {
        let mut backoff = Backoff::new();
        loop {
            match self.rx.try_recv(0) {
                Ok((words, version)) if version > self.seen => {
                    self.seen = version;
                    buf.copy_from_slice(&as_bytes(&words.0)[..buf.len()]);
                    return Ok(());
                }
                // Not written since (or never), or the writer is in the
                // middle of a write at every try.
                Ok(_) | Err(latest::RecvError::Empty | latest::RecvError::Stalled { .. }) => {
                    backoff.snooze()
                }
                Err(e) => return Err(other(format!("{e:?}"))),
            }
        }
    }
}

fn latest_pair<const W: usize>() -> io::Result<Pair> {
    let bytes = LatestTable::<Msg<W>>::bytes_needed(1).map_err(other)?;
    let memory = RingMemory::new(bytes)?;
    let table =
        |i| LatestTable::<Msg<W>>::init(memory.region(i)?, RingConfig::new(1)).map_err(other);
    let (down, up) = (table(0)?, table(1)?);
    let (parent_id, child_id) = (Holder::fixed::<1>(), Holder::fixed::<2>());
    Ok(Pair {
        parent: Box::new(LatestLink::<W> {
            tx: down.writer(parent_id).map_err(other)?,
            rx: up,
            seen: 0,
            memory: memory.clone(),
        }),
        child: Box::new(LatestLink::<W> {
            tx: up.writer(child_id).map_err(other)?,
            rx: down,
            seen: 0,
            memory,
        }),
    })
}

impl Mechanism for Latest {
    fn name(&self) -> &'static str {
        "latest-value table (spin)"
    }
    fn max_message(&self) -> usize {
        4096
    }
    fn round_trip_only(&self) -> bool {
        true
    }
    fn pair(&self, size: usize) -> io::Result<Pair> {
        match size {
            0..=64 => latest_pair::<8>(),
            _ => latest_pair::<512>(),
        }
    }
}
