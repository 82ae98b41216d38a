//! Named broadcast channels: a [`BroadcastRing`] in a named object — one
//! writer, any number of lossy readers, each a process (or a thread) that
//! opens the name. The writer never waits; readers write nothing shared
//! to receive, and one may even map the object read-only
//! ([`BroadcastChannel::open_read_only`]). Create and open, stale
//! objects and the writer's role work as for
//! [`SpscChannel`](super::SpscChannel); the capacity counts bytes.
//!
//! ```no_run
//! use interlink_core::RingConfig;
//! use interlink_core::broadcast::Start;
//! use interlink_linux::channel::{BroadcastChannel, ChannelOptions};
//!
//! // The feed.
//! let feed = BroadcastChannel::create("/prices", RingConfig::new(1 << 16), &ChannelOptions::new())?;
//! let mut tx = feed.writer()?;
//! tx.send(1, b"AAPL 189.5")?;
//!
//! // Each strategy process (any number of them).
//! let feed = BroadcastChannel::open_read_only("/prices", &ChannelOptions::new())?;
//! let mut rx = feed.reader(Start::Oldest)?;
//! let mut buf = [0u8; 256];
//! let (tag, len) = rx.recv(&mut buf)?; // or Err(Lapped { missed })
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use interlink_core::broadcast::{BroadcastRing, Reader, Start, Writer};
use interlink_core::layout::Kind;
use interlink_core::{
    AttachError, ElementCheck, InitError, RecvError, Region, RingConfig, SendError,
};

use super::{patience_setters, Channel, ChannelError, ChannelOptions, Patience, Pending, Shape};
use crate::futex::Futex;
use crate::inspect;
use crate::liveness;
use crate::mapping::{fd_len, PrivateCopy, ReadOnlyMapping};
use crate::process;
use crate::shm::{Shm, ShmName};

/// Marker: a channel holding a [`BroadcastRing`].
#[derive(Debug)]
pub struct Broadcast;

impl Shape for Broadcast {
    const KIND: Kind = Kind::Broadcast;

    fn bytes_needed(capacity: u32) -> Result<usize, InitError> {
        BroadcastRing::bytes_needed(capacity)
    }

    fn init(region: Region<'_>, config: RingConfig) -> Result<(), InitError> {
        BroadcastRing::init(region, config).map(drop)
    }

    fn attach(region: Region<'_>, _check: ElementCheck) -> Result<u32, AttachError> {
        BroadcastRing::attach(region).map(|r| r.capacity())
    }
}

/// A named broadcast channel (mapped read-write).
pub type BroadcastChannel = Channel<Broadcast>;

impl Channel<Broadcast> {
    fn ring(&self) -> Result<BroadcastRing<'_>, ChannelError> {
        self.attached(|region, _check| BroadcastRing::attach(region))
    }

    /// Claims the writer role for this process, taking it over if its
    /// holder is dead (a record it was writing is lost; readers may count
    /// its number as missed).
    pub fn writer(&self) -> Result<BroadcastWriter<'_>, ChannelError> {
        let w = self
            .ring()?
            .take_over_writer(process::holder(), |pid| self.holder_alive(pid))?;
        Ok(BroadcastWriter { w })
    }

    /// A new reader starting at `start`. Readers are not recorded in the
    /// object; make as many as you like.
    pub fn reader(&self, start: Start) -> Result<BroadcastReader<'_>, ChannelError> {
        Ok(BroadcastReader {
            r: self.ring()?.reader(start),
            patience: self.patience,
        })
    }

    /// The largest record payload (capacity − 24 bytes).
    pub fn max_payload(&self) -> u32 {
        self.ring().map_or(0, |r| r.max_payload())
    }

    /// Opens the broadcast object `name` **read-only** (`O_RDONLY`,
    /// `PROT_READ`): a reader that cannot write a byte of it, so it cannot
    /// disturb the writer or the other readers whatever it does. Waits
    /// for the creator and validates the object as [`Channel::open`] does.
    /// Its readers' waiting receive polls (see
    /// [`Reader::recv`](interlink_core::broadcast::Reader::recv)).
    pub fn open_read_only(
        name: &str,
        options: &ChannelOptions,
    ) -> Result<ReadOnlyBroadcast, ChannelError> {
        let shm_name = ShmName::new(name)?;
        let start = Instant::now();
        let mut pause = Duration::from_micros(100);
        loop {
            let pending = match try_open_read_only(&shm_name, options)? {
                Ok(channel) => return Ok(channel),
                Err(pending) => pending,
            };
            let waited = start.elapsed();
            if waited >= options.open_timeout {
                return Err(ChannelError::Timeout {
                    name: name.to_owned(),
                    waited,
                    pending,
                });
            }
            std::thread::sleep(pause.min(options.open_timeout - waited));
            pause = (pause * 2).min(Duration::from_millis(10));
        }
    }
}

/// One read-only open attempt: validate from a `pread` copy, check the
/// size, map exactly the structure read-only, take the presence lock.
fn try_open_read_only(
    name: &ShmName,
    options: &ChannelOptions,
) -> Result<Result<ReadOnlyBroadcast, Pending>, ChannelError> {
    let shm = match Shm::open_read_only(name.as_str()) {
        Ok(shm) => shm,
        Err(e) if e.is(libc::ENOENT) => return Ok(Err(Pending::Missing)),
        Err(e) => return Err(e.into()),
    };
    let fd = shm.as_fd();
    let size = fd_len(fd)?;
    if size == 0 {
        return Ok(Err(Pending::Empty));
    }
    let header = if size < inspect::HEADER_LEN {
        None
    } else {
        inspect::header_of(fd)?
    };
    let Some(header) = header else {
        return Err(ChannelError::Truncated {
            name: name.to_string(),
            size,
        });
    };
    let copy_len = match BroadcastRing::bytes_needed(header.capacity) {
        Ok(needed) => needed.min(size),
        Err(_) => size.min(PrivateCopy::PREFIX),
    };
    let copy = PrivateCopy::read(fd, copy_len)?;
    let capacity = match Broadcast::attach(copy.region(), ElementCheck::Exact) {
        Ok(capacity) => capacity,
        Err(AttachError::NotReady { state }) => return Ok(Err(Pending::NotReady { state })),
        Err(error) => {
            return Err(ChannelError::Attach {
                name: name.to_string(),
                error,
            })
        }
    };
    let needed = BroadcastRing::bytes_needed(capacity)?;
    let now = fd_len(fd)?;
    if size != needed || now != needed {
        return Err(ChannelError::WrongSize {
            name: name.to_string(),
            size: if size != needed { size } else { now } as u64,
            needed: needed as u64,
        });
    }
    let mapping = ReadOnlyMapping::from_fd(fd, needed)?;
    let presence = liveness::Presence::take(fd).ok();
    let patience = Patience::of(options.waiting, options.peer_check, presence.as_ref());
    Ok(Ok(ReadOnlyBroadcast {
        mapping,
        name: name.clone(),
        capacity,
        patience,
        presence,
    }))
}

/// A broadcast channel opened read-only
/// ([`BroadcastChannel::open_read_only`]): readers only.
#[derive(Debug)]
pub struct ReadOnlyBroadcast {
    mapping: ReadOnlyMapping,
    name: ShmName,
    capacity: u32,
    patience: Patience,
    presence: Option<liveness::Presence>,
}

impl ReadOnlyBroadcast {
    fn ring(&self) -> Result<BroadcastRing<'_>, ChannelError> {
        // SAFETY: the mapping is valid for reads while `self` lives (the
        // ring borrows it) and nothing here references its bytes.
        unsafe { BroadcastRing::attach_read_only(self.mapping.as_ptr(), self.mapping.len()) }
            .map_err(|error| ChannelError::Attach {
                name: self.name.to_string(),
                error,
            })
    }

    /// A new reader starting at `start`; it never writes to the object.
    pub fn reader(&self, start: Start) -> Result<BroadcastReader<'_>, ChannelError> {
        Ok(BroadcastReader {
            r: self.ring()?.reader(start),
            patience: self.patience,
        })
    }

    /// The channel's name.
    pub fn name(&self) -> &ShmName {
        &self.name
    }

    /// The ring's capacity in bytes.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Whether the holder recorded as `pid` in the object lives.
    pub fn holder_alive(&self, pid: u32) -> bool {
        match &self.presence {
            Some(p) => p.holder_alive(pid),
            None => liveness::process_alive(pid),
        }
    }
}

/// The writing end of a broadcast channel, holding the writer role. It
/// never waits.
#[derive(Debug)]
pub struct BroadcastWriter<'c> {
    w: Writer<'c>,
}

impl BroadcastWriter<'_> {
    /// Writes `payload` as one record tagged `tag` (overwriting the oldest
    /// records if needed) and wakes parked readers: one load (no fence)
    /// when none is parked. Never waits; fails only with
    /// [`SendError::TooLarge`].
    #[inline]
    pub fn try_send(&mut self, tag: u32, payload: &[u8]) -> Result<(), SendError> {
        self.w.try_send(tag, payload)?;
        self.w.wake_readers(&Futex);
        Ok(())
    }

    /// The same as [`BroadcastWriter::try_send`]: a broadcast writer has
    /// nothing to wait for.
    #[inline]
    pub fn send(&mut self, tag: u32, payload: &[u8]) -> Result<(), SendError> {
        self.try_send(tag, payload)
    }

    /// The number the next record will carry (records written so far).
    pub fn next_seq(&self) -> u64 {
        self.w.next_seq()
    }

    /// The largest payload.
    pub fn max_payload(&self) -> u32 {
        self.w.max_payload()
    }
}

/// A reading end of a broadcast channel: its cursor lives here, not in
/// the object.
#[derive(Debug)]
pub struct BroadcastReader<'c> {
    r: Reader<'c>,
    patience: Patience,
}

impl<'c> BroadcastReader<'c> {
    /// Receives the next record into `buf` without waiting: its tag and
    /// length, or `Empty`, `Lapped { missed }`, `BufferTooSmall`,
    /// `Corrupt` (see
    /// [`Reader::try_recv`](interlink_core::broadcast::Reader::try_recv)).
    #[inline]
    pub fn try_recv(&mut self, buf: &mut [u8]) -> Result<(u32, usize), RecvError> {
        self.r.try_recv(buf)
    }

    /// Receives the next record, waiting while there is none and the
    /// writer lives (a dead writer's records are delivered first, then
    /// `PeerDied`; with no writer at all it waits).
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<(u32, usize), RecvError> {
        self.recv_inner(buf, None)
    }

    /// Receives the next record, waiting at most `timeout`.
    pub fn recv_timeout(
        &mut self,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<(u32, usize), RecvError> {
        self.recv_inner(buf, Some(timeout))
    }

    fn recv_inner(
        &mut self,
        buf: &mut [u8],
        mut left: Option<Duration>,
    ) -> Result<(u32, usize), RecvError> {
        let r = &mut self.r;
        let ring = r.ring();
        self.patience
            .wait(&mut left, || ring.writer_holder(), |b, t| r.recv(buf, b, t))
    }

    /// Records received so far.
    pub fn received(&self) -> u64 {
        self.r.received()
    }

    /// Records reported missed so far.
    pub fn missed(&self) -> u64 {
        self.r.missed()
    }

    /// The underlying core reader.
    pub fn reader(&mut self) -> &mut Reader<'c> {
        &mut self.r
    }
}

patience_setters!([] BroadcastReader<'_>);
