//! The consumer: finding the next record (range-checked), copying or
//! viewing it, waiting for one, and stepping over a claim whose producer
//! stopped.

use super::record::{Record, RecordRef};
use super::*;
use crate::foundation::atomics::spin_loop;

/// Where the next message is: found and checked by [`Consumer::locate`].
#[derive(Clone, Copy, Debug)]
pub(super) struct Located {
    /// Stream position of the record (its stamp).
    pub(super) at: u32,
    pub(super) tag: u32,
    pub(super) len: u32,
    pub(super) size: u32,
}

/// A record the consumer waits on: claimed by a producer and not (yet)
/// committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stall {
    /// The record's stream position (the consumer's head).
    pub position: u32,
    /// The claimant's holder id from the record's stamp, to judge its
    /// liveness by; `None` while the claim is not stamped (its claimant is
    /// between its compare-exchange and its stamp, or died there).
    pub claimant: Option<u32>,
}

/// Why [`Consumer::skip_stalled`] skipped nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipError {
    /// The consumer does not wait on an unfinished record at `position`:
    /// it was committed (or cancelled) meanwhile, or the head is elsewhere.
    NotStalled {
        /// The position asked about.
        position: u32,
    },
    /// The claim at the head has no stamp and no later claim is stamped
    /// yet, so there is no known end to skip to; try again later (any
    /// later claim makes one).
    NoBoundary {
        /// The unstamped claim's position.
        position: u32,
    },
    /// See [`Corrupt`].
    Corrupt,
}

impl fmt::Display for SkipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotStalled { position } => {
                write!(f, "no unfinished record at position {position}")
            }
            Self::NoBoundary { position } => write!(
                f,
                "the unstamped claim at position {position} has no later record to skip to yet"
            ),
            Self::Corrupt => Corrupt.fmt(f),
        }
    }
}

impl core::error::Error for SkipError {}

/// Why no record was located.
enum Blocked {
    Empty,
    Stalled(Stall),
    Corrupt,
}

impl From<Corrupt> for Blocked {
    fn from(_: Corrupt) -> Self {
        Self::Corrupt
    }
}

impl From<Blocked> for RecvError {
    fn from(b: Blocked) -> Self {
        match b {
            Blocked::Empty => Self::Empty,
            Blocked::Stalled(s) => Self::Stalled {
                position: s.position,
            },
            Blocked::Corrupt => Self::Corrupt,
        }
    }
}

/// Polls of a stalled record in `try_recv` (one under loom, whose
/// spin hint is a yield).
const SPIN_LIMIT: u32 = if cfg!(loom) { 1 } else { DEFAULT_SPIN_LIMIT };

/// Spins between the two scans for the end of an unstamped claim.
const SCAN_PAUSE: u32 = if cfg!(loom) { 1 } else { 1 << 12 };

/// The consuming end. Exactly one exists per ring at a time; it releases
/// the role when dropped.
pub struct Consumer<'a> {
    ring: ManyToOneRing<'a>,
    /// Bytes ever released (wrapping); the shared head mirrors it.
    head: u32,
    /// The last tail read from shared memory (checked when read).
    tail_cache: u32,
    holder: u32,
}

// SAFETY: the consumer's state is its own; it reads records only after the
// Acquire loads that synchronise with their producers' Release stores.
unsafe impl Send for Consumer<'_> {}

impl fmt::Debug for Consumer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("holder", &self.holder)
            .field("head", &self.head)
            .finish()
    }
}

impl<'a> Consumer<'a> {
    /// The consumer for `holder`, who has just won the role word: its head
    /// (loaded with `Acquire`) must be record-aligned and in range of the
    /// tail, else the role is freed and the claim fails.
    pub(super) fn new(ring: ManyToOneRing<'a>, holder: u32) -> Result<Self, RoleError> {
        let c = ring.control();
        let head = c.head.index.load(Ordering::Acquire);
        let tail = c.tail.index.load(Ordering::Acquire);
        if (head as usize).is_multiple_of(RECORD_ALIGN) && span(tail, head, ring.capacity).is_ok() {
            return Ok(Self {
                ring,
                head,
                tail_cache: tail,
                holder,
            });
        }
        role::release(&c.meta.consumer, holder);
        Err(RoleError::Corrupt)
    }

    /// The ring this consumer reads.
    pub fn ring(&self) -> ManyToOneRing<'a> {
        self.ring
    }

    /// Bytes claimed and not released, by the cached tail; re-reads the
    /// tail when the cache says none. `Corrupt` if out of range.
    #[inline(always)]
    fn ready(&mut self) -> Result<u32, Corrupt> {
        let ready = self.tail_cache.wrapping_sub(self.head);
        if ready != 0 && ready <= self.ring.capacity {
            return Ok(ready);
        }
        self.ready_now()
    }

    /// As [`Consumer::ready`], re-reading the tail in any case.
    fn ready_now(&mut self) -> Result<u32, Corrupt> {
        let tail = self.ring.control().tail.index.load(Ordering::Acquire);
        let ready = span(tail, self.head, self.ring.capacity)?;
        self.tail_cache = tail;
        Ok(ready)
    }

    #[inline(always)]
    fn store_head(&self) {
        self.ring
            .control()
            .head
            .index
            .store(self.head, Ordering::Release);
    }

    /// Moves past `size` bytes at once (padding, a cancelled record, a
    /// skipped one): producers may wait for that room.
    pub(super) fn step(&mut self, size: u32) {
        self.head = self.head.wrapping_add(size);
        self.store_head();
    }

    /// Finds and checks the next message, releasing the padding and
    /// cancelled records before it. Each iteration either returns or
    /// releases at least 8 bytes, so a whole capacity bounds it.
    fn locate(&mut self) -> Result<Located, Blocked> {
        let capacity = self.ring.capacity;
        for _ in 0..capacity / RECORD_ALIGN as u32 + 2 {
            let ready = self.ready()?;
            if ready == 0 {
                return Err(Blocked::Empty);
            }
            let head = self.head;
            if !(head as usize).is_multiple_of(RECORD_ALIGN) {
                return Err(Blocked::Corrupt);
            }
            let to_end = capacity - (head & (capacity - 1));
            if to_end < STAMP_LEN as u32 {
                // A rest too short for a stamp: claimed past, so skipped.
                if ready < to_end {
                    return Err(Blocked::Corrupt);
                }
                self.step(to_end);
                continue;
            }
            let Some((word, holder)) = self.ring.read_stamp(head) else {
                return Err(Blocked::Stalled(Stall {
                    position: head,
                    claimant: None,
                }));
            };
            let size = word & !stamp::MASK;
            if size < STAMP_LEN as u32 || size > to_end || size > ready {
                return Err(Blocked::Corrupt);
            }
            match word & stamp::MASK {
                stamp::COMMITTED => {
                    if size < RECORD_OVERHEAD as u32 {
                        return Err(Blocked::Corrupt);
                    }
                    let mut bytes = [0u8; HEADER_LEN];
                    self.ring
                        .read_bytes(head.wrapping_add(STAMP_LEN as u32), &mut bytes);
                    let frame = FrameHeader::decode(&bytes).map_err(|_| Blocked::Corrupt)?;
                    if frame.is_pad() || record_size(frame.len).is_none_or(|s| s > size) {
                        return Err(Blocked::Corrupt);
                    }
                    return Ok(Located {
                        at: head,
                        tag: frame.tag,
                        len: frame.len,
                        size,
                    });
                }
                stamp::CLAIMED => {
                    return Err(Blocked::Stalled(Stall {
                        position: head,
                        claimant: Some(holder),
                    }))
                }
                stamp::PADDING if size == to_end => self.step(size),
                // Cancelled by its producer, or skipped by a consumer that
                // died before moving the head.
                stamp::CANCELLED | stamp::SKIPPED => self.step(size),
                _ => return Err(Blocked::Corrupt),
            }
        }
        Err(Blocked::Empty)
    }

    /// `locate`, polling a stalled record up to `spins` times.
    fn locate_spinning(&mut self, spins: u32) -> Result<Located, Blocked> {
        let mut left = spins;
        loop {
            match self.locate() {
                Err(Blocked::Stalled(_)) if left > 0 => {
                    left -= 1;
                    spin_loop();
                }
                other => return other,
            }
        }
    }

    /// Copies the located message's payload into `buf` and releases it.
    fn take(&mut self, at: Located, dst: &mut [u8]) -> (u32, usize) {
        self.ring
            .read_bytes(at.at.wrapping_add(RECORD_OVERHEAD as u32), dst);
        self.step(at.size);
        (at.tag, dst.len())
    }

    /// `try_recv` with `spins` polls of a stalled record, keeping the
    /// stall's details.
    fn recv_once(&mut self, buf: &mut [u8], spins: u32) -> Result<(u32, usize), RecvError> {
        let at = self.locate_spinning(spins)?;
        let needed = at.len as usize;
        match buf.get_mut(..needed) {
            Some(dst) => Ok(self.take(at, dst)),
            None => Err(RecvError::BufferTooSmall { needed }),
        }
    }

    /// Copies the next message's payload into `buf` and frees it, without
    /// waiting; returns its tag and length. Fails with
    /// [`RecvError::Empty`], with [`RecvError::BufferTooSmall`] (the
    /// message stays), with [`RecvError::Stalled`] when the next record is
    /// claimed and still unfinished after [`DEFAULT_SPIN_LIMIT`] polls (see
    /// [`Consumer::stall`]), and with [`RecvError::Corrupt`].
    #[inline]
    pub fn try_recv(&mut self, buf: &mut [u8]) -> Result<(u32, usize), RecvError> {
        self.recv_once(buf, SPIN_LIMIT)
    }

    /// Receives the next message into `buf` like [`Consumer::try_recv`],
    /// waiting while there is none (spin, yield, then park until a producer
    /// sends) for at most `timeout` (`None`: no limit); wakes parked
    /// producers. A record claimed and not committed is waited for; once
    /// one position has stayed so for [`CLAIM_PATIENCE`] within this call,
    /// it is skipped ([`Consumer::skip_stalled`], counted) and the wait
    /// goes on. Fails with [`RecvError::TimedOut`],
    /// [`RecvError::BufferTooSmall`] or [`RecvError::Corrupt`].
    pub fn recv<W: Wait>(
        &mut self,
        buf: &mut [u8],
        blocking: &Blocking<W>,
        timeout: Option<Duration>,
    ) -> Result<(u32, usize), RecvError> {
        /// How one run ended, short of success.
        enum Ended {
            Expired,
            Changed(Option<u32>),
            Failed(RecvError),
        }
        impl From<Expired> for Ended {
            fn from(_: Expired) -> Self {
                Self::Expired
            }
        }
        let ring = self.ring;
        let c = ring.control();
        let mut deadline = Deadline::after(&blocking.wait, timeout);
        let mut limit = timeout;
        // The stalled position this run waits on; `None`: waiting while idle.
        let mut stalled: Option<u32> = None;
        // Whether this run's limit is the claim patience.
        let mut patience_bound = false;
        loop {
            let ended = blocking.run(&c.tail.wake, limit, || {
                let head = self.head;
                let got = match self.recv_once(buf, 0) {
                    Ok(r) => return Ok(Some(r)),
                    Err(RecvError::Empty) if stalled.is_none() => Ok(None),
                    Err(RecvError::Stalled { position }) if stalled == Some(position) => Ok(None),
                    Err(RecvError::Empty) => Err(Ended::Changed(None)),
                    Err(RecvError::Stalled { position }) => Err(Ended::Changed(Some(position))),
                    Err(e) => Err(Ended::Failed(e)),
                };
                // Padding or cancelled records released on the way: room
                // for the producers.
                if self.head != head {
                    blocking.notify(&c.head.wake);
                }
                got
            });
            match ended {
                Ok(r) => {
                    blocking.notify(&c.head.wake);
                    return Ok(r);
                }
                Err(Ended::Failed(e)) => return Err(e),
                Err(Ended::Changed(s)) => stalled = s,
                Err(Ended::Expired) => match stalled {
                    Some(position) if patience_bound => match self.skip_stalled(position) {
                        Ok(_) => {
                            blocking.notify(&c.head.wake);
                            stalled = None;
                        }
                        // Committed meanwhile, or no end to skip to yet:
                        // look again.
                        Err(SkipError::NotStalled { .. }) => stalled = None,
                        Err(SkipError::NoBoundary { .. }) => {}
                        Err(SkipError::Corrupt) => return Err(RecvError::Corrupt),
                    },
                    _ => return Err(RecvError::TimedOut),
                },
            }
            let left = deadline.remaining(&blocking.wait)?;
            (limit, patience_bound) = match (stalled, left) {
                // Loom has no clock: a stall is waited for like an idle
                // ring, so the models check the claimant's notification.
                (Some(_), _) if cfg!(loom) => (left, false),
                // Less time left than the patience: a plain timeout.
                (Some(_), Some(l)) if l < CLAIM_PATIENCE => (left, false),
                (Some(_), _) => (Some(CLAIM_PATIENCE), true),
                (None, _) => (left, false),
            };
        }
    }

    /// Wakes the producers parked in [`Producer::send`], if any; returns
    /// whether there were (a wake syscall was made). Call it after
    /// [`Consumer::try_recv`], [`Record::release`], [`Consumer::drain`] or
    /// [`Consumer::skip_stalled`] when producers may block.
    #[inline]
    pub fn wake_producers(&self, wait: &impl Wait) -> bool {
        crate::wait::event_word::notify(&self.ring.control().head.wake, wait)
    }

    /// Borrows the next message in place; free it with [`Record::release`].
    /// Fails as [`Consumer::try_recv`] does (but for `BufferTooSmall`).
    #[inline]
    pub fn peek(&mut self) -> Result<Record<'_, 'a>, RecvError> {
        let at = self.locate_spinning(SPIN_LIMIT)?;
        Ok(Record::new(self, at))
    }

    /// Hands up to `max` ready messages to `f`, in order, in place, then
    /// frees them all with one store; returns how many. Stops at an
    /// unfinished record; on a corrupt one it frees those already handed
    /// over and fails.
    pub fn drain(
        &mut self,
        max: usize,
        mut f: impl FnMut(RecordRef<'_>),
    ) -> Result<usize, Corrupt> {
        let mut count = 0;
        let mut result = Ok(());
        while count < max {
            match self.locate() {
                Ok(at) => {
                    f(self.view(at));
                    self.head = self.head.wrapping_add(at.size);
                    count += 1;
                }
                Err(Blocked::Corrupt) => {
                    result = Err(Corrupt);
                    break;
                }
                Err(_) => break,
            }
        }
        if count > 0 {
            self.store_head();
        }
        result.map(|()| count)
    }

    fn view(&self, at: Located) -> RecordRef<'_> {
        RecordRef::new(self.ring, at)
    }

    /// What the consumer waits on, if it waits on an unfinished record:
    /// its position and (once stamped) its claimant, for a liveness check
    /// before [`Consumer::skip_stalled`]. `None` when a message is ready or
    /// the ring is empty. Releases padding and cancelled records on the
    /// way.
    pub fn stall(&mut self) -> Result<Option<Stall>, RecvError> {
        match self.locate() {
            Ok(_) | Err(Blocked::Empty) => Ok(None),
            Err(Blocked::Stalled(s)) => Ok(Some(s)),
            Err(Blocked::Corrupt) => Err(RecvError::Corrupt),
        }
    }

    /// Steps over the unfinished record at `position` (what
    /// [`Consumer::stall`] or [`RecvError::Stalled`] named) and counts it
    /// in the ring's skipped word; returns the bytes skipped.
    ///
    /// - A stamped claim is skipped with a compare-exchange of its state
    ///   from claimed to skipped: a claimant that commits in the same
    ///   instant wins, and the message is delivered instead
    ///   ([`SkipError::NotStalled`]).
    /// - An unstamped claim is skipped up to the next valid stamp, found by
    ///   scanning the claimed bytes (twice, a pause apart, so that a live
    ///   claimant caught between its claim and its stamp is not swallowed);
    ///   without one, [`SkipError::NoBoundary`].
    ///
    /// Only skip a claimant known to be dead, or stalled far longer than a
    /// live one could be (see the module docs).
    pub fn skip_stalled(&mut self, position: u32) -> Result<u32, SkipError> {
        let stall = match self.locate() {
            Err(Blocked::Stalled(s)) if s.position == position => s,
            Err(Blocked::Corrupt) => return Err(SkipError::Corrupt),
            _ => return Err(SkipError::NotStalled { position }),
        };
        let ring = self.ring;
        let size = match stall.claimant {
            Some(_) => {
                let not_stalled = SkipError::NotStalled { position };
                let (word, _) = ring.read_stamp(position).ok_or(not_stalled)?;
                if word & stamp::MASK != stamp::CLAIMED {
                    return Err(not_stalled);
                }
                let size = word & !stamp::MASK;
                ring.word(position.wrapping_add(4))
                    .compare_exchange(
                        word,
                        size | stamp::SKIPPED,
                        Ordering::AcqRel,
                        Ordering::Relaxed,
                    )
                    .map_err(|_| not_stalled)?;
                size
            }
            None => {
                let first = self
                    .scan(u32::MAX)?
                    .ok_or(SkipError::NoBoundary { position })?;
                for _ in 0..SCAN_PAUSE {
                    spin_loop();
                }
                // A claim between the two that got its stamp meanwhile is
                // a live claimant's: stop there instead.
                let end = self.scan(first.wrapping_sub(position))?.unwrap_or(first);
                end.wrapping_sub(position)
            }
        };
        self.step(size);
        let skipped = &ring.control().meta.skipped;
        skipped.store(
            skipped.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
        Ok(size)
    }

    /// The first position after the head, at most `within` bytes on and
    /// before the tail, that holds a valid stamp of a record lying within
    /// the claimed bytes. Bounded by the bytes claimed.
    fn scan(&mut self, within: u32) -> Result<Option<u32>, Corrupt> {
        let ready = self.ready_now()?;
        let capacity = self.ring.capacity;
        let mut offset = RECORD_ALIGN as u32;
        while offset < ready && offset <= within {
            let q = self.head.wrapping_add(offset);
            if capacity - (q & (capacity - 1)) >= STAMP_LEN as u32 {
                if let Some((word, _)) = self.ring.read_stamp(q) {
                    let size = word & !stamp::MASK;
                    if size >= STAMP_LEN as u32 && size <= ready - offset {
                        return Ok(Some(q));
                    }
                }
            }
            offset += RECORD_ALIGN as u32;
        }
        Ok(None)
    }

    /// Bytes claimed and not yet released, now (re-reads the tail).
    pub fn ready_bytes(&mut self) -> Result<u32, Corrupt> {
        self.ready_now()
    }
}

impl Drop for Consumer<'_> {
    fn drop(&mut self) {
        role::release(&self.ring.control().meta.consumer, self.holder);
    }
}
