//! The reading end: a cursor in the reader's own handle, copies validated
//! after the fact against the tail intent, and resynchronisation after a
//! lap. Nothing here stores to shared memory except the waiting `recv` of
//! a writable handle, which announces itself on the event word.

use core::time::Duration;

use super::*;
use crate::foundation::atomics::{fence, spin_loop};
use crate::ring::or_wait;
use crate::wait::blocking::{Blocking, FOREVER};
use crate::wait::{Deadline, Wait};

/// Where a new reader starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// At the oldest record still in the buffer (history for late
    /// joiners).
    Oldest,
    /// At the newest record written so far (it is the first received).
    Newest,
    /// After the newest record: only records written from now on.
    Next,
}

/// How many records may be skipped (padding, a short tail) or how many
/// times a reader may resynchronise within one receive.
const MAX_STEPS: u32 = 8;

/// How many times a resynchronisation reads `head` (then `latest`) before
/// it gives up for this call (fewer under loom, to bound the models).
#[cfg(not(loom))]
const SYNC_TRIES: u32 = 8;
#[cfg(loom)]
const SYNC_TRIES: u32 = 4;

/// How long a reader on a read-only mapping sleeps between polls when it
/// has to wait: it cannot announce itself on the event word, so only a
/// wake-up meant for a writable reader or this slice ends its sleep.
pub const READ_ONLY_POLL: Duration = Duration::from_millis(1);

/// A reading end: its position and the number of the record it expects
/// next live here, not in shared memory. Make any number of them.
pub struct Reader<'a> {
    ring: BroadcastRing<'a>,
    /// Where the next record starts (wrapping).
    pos: u32,
    /// The writer's tail as last loaded: records before it are published,
    /// so the tail is loaded again only once `pos` reaches it.
    tail_cache: u32,
    /// The number the record at `pos` must carry.
    seq: u64,
    /// `pos` and `seq` are not valid: the next receive resynchronises
    /// (from `start` if `joined` is false).
    lost: bool,
    /// Whether `seq` was ever known (the first sync counts no loss).
    joined: bool,
    start: Start,
    received: u64,
    missed: u64,
}

// SAFETY: the reader's state is its own; it only loads shared memory.
unsafe impl Send for Reader<'_> {}

impl fmt::Debug for Reader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("pos", &self.pos)
            .field("seq", &self.seq)
            .field("received", &self.received)
            .field("missed", &self.missed)
            .finish()
    }
}

/// Why one step of a receive ended.
enum Step {
    /// Look again at the (new) position.
    Again,
    /// The cursor was overtaken: resynchronise.
    Lapped,
}

impl<'a> Reader<'a> {
    pub(super) fn new(ring: BroadcastRing<'a>, start: Start) -> Self {
        let mut r = Self {
            ring,
            pos: 0,
            tail_cache: 0,
            seq: 0,
            lost: true,
            joined: false,
            start,
            received: 0,
            missed: 0,
        };
        // Join now if the ring lets us; otherwise the first receive does.
        let _ = r.resync();
        r
    }

    /// The ring this reader reads.
    pub fn ring(&self) -> BroadcastRing<'a> {
        self.ring
    }

    /// Records received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Records reported missed so far (the sum of every
    /// [`RecvError::Lapped`]'s `missed`, saturating at `u64::MAX`: a peer
    /// that renumbers records can make the sum exceed it).
    pub fn missed(&self) -> u64 {
        self.missed
    }

    /// The number of the record this reader expects next (`None` before
    /// it has joined: the ring was busy or corrupt at every try so far).
    pub fn next_seq(&self) -> Option<u64> {
        self.joined.then_some(self.seq)
    }

    /// Whether the record at `pos` may have been overwritten while it was
    /// read: an `Acquire` fence (pairing with the writer's `Release` fence
    /// after its intent store), then the intent.
    #[inline(always)]
    fn overwritten(&self, pos: u32) -> bool {
        fence(Ordering::Acquire);
        let intent = self.ring.control().pos.intent.load(Ordering::Relaxed);
        intent.wrapping_sub(pos) > self.ring.capacity
    }

    /// Finds an intact record to continue from: the oldest (`head`) for a
    /// lapped reader or [`Start::Oldest`], the newest (`latest`) otherwise
    /// or when the record at `head` is overwritten before it can be read.
    /// Returns how many records were lost (0 on joining).
    fn resync(&mut self) -> Result<u64, RecvError> {
        let cap = self.ring.capacity;
        let p = &self.ring.control().pos;
        let from = if self.joined {
            Start::Oldest
        } else {
            self.start
        };
        let mut corrupt = false;
        for attempt in 0..SYNC_TRIES {
            let tail = p.tail.load(Ordering::Acquire);
            let oldest = from == Start::Oldest && attempt < SYNC_TRIES / 2;
            let mut at = if oldest {
                p.head.load(Ordering::Relaxed)
            } else {
                p.latest.load(Ordering::Relaxed)
            };
            if !(at as usize).is_multiple_of(RECORD_ALIGN) {
                corrupt = true;
                continue;
            }
            // A head on a tail too short for a record: the record after it.
            let to_end = cap - (at & (cap - 1));
            if to_end < PREFIX_LEN as u32 {
                at = at.wrapping_add(to_end);
            }
            let avail = tail.wrapping_sub(at);
            if avail < PREFIX_LEN as u32 || avail > cap {
                // Read while the writer moved them (or corrupt).
                corrupt = false;
                spin_loop();
                continue;
            }
            let Some(bytes) = self.ring.read_prefix(at) else {
                corrupt = true;
                continue;
            };
            if self.overwritten(at) {
                corrupt = false;
                continue;
            }
            let Some((seq, header, size)) = decode_prefix(&bytes) else {
                corrupt = true;
                continue;
            };
            let to_end = cap - (at & (cap - 1));
            if size > avail || size > to_end || (self.joined && seq < self.seq) {
                corrupt = true;
                continue;
            }
            let missed = if self.joined { seq - self.seq } else { 0 };
            self.tail_cache = tail;
            self.pos = at;
            self.seq = seq;
            if !self.joined && self.start == Start::Next {
                self.pos = at.wrapping_add(size);
                if !header.is_pad() {
                    self.seq = seq.wrapping_add(1);
                }
            }
            self.joined = true;
            self.lost = false;
            self.missed = self.missed.saturating_add(missed);
            return Ok(missed);
        }
        Err(if corrupt {
            RecvError::Corrupt
        } else {
            RecvError::Empty
        })
    }

    /// Receives the next record into `buf` without waiting: its tag and
    /// length. Fails with
    /// - [`RecvError::Empty`]: nothing new (or, rarely, a lapped reader
    ///   found no intact record to resume from this time);
    /// - [`RecvError::Lapped`]: the writer overwrote `missed` records this
    ///   reader had not read; it now stands at the oldest intact record,
    ///   which the next call returns;
    /// - [`RecvError::BufferTooSmall`]: the record is longer than `buf`;
    ///   the reader stays at it (it may be overwritten meanwhile);
    /// - [`RecvError::Corrupt`]: the shared words or the record's header
    ///   are not something an honest writer leaves.
    ///
    /// On an error the bytes of `buf` are unspecified. Writes nothing
    /// shared.
    pub fn try_recv(&mut self, buf: &mut [u8]) -> Result<(u32, usize), RecvError> {
        for _ in 0..MAX_STEPS {
            if self.lost {
                let missed = self.resync()?;
                if missed > 0 {
                    return Err(RecvError::Lapped { missed });
                }
            }
            match self.step(buf)? {
                Ok(got) => return Ok(got),
                Err(Step::Again) => {}
                Err(Step::Lapped) => self.lost = true,
            }
        }
        Err(RecvError::Corrupt)
    }

    /// One look at the current position.
    ///
    /// Everything read here is validated by one look at the tail intent
    /// after the copy (the writer stores it, then a `Release` fence, before
    /// any byte it overwrites): a torn prefix can only misplace reads
    /// inside the buffer (every length is range-checked), and whatever it
    /// led to is caught by that check. A decision taken on the prefix
    /// alone (an error, padding, a jump in numbers) is validated the same
    /// way before it counts.
    #[allow(clippy::type_complexity)]
    fn step(&mut self, buf: &mut [u8]) -> Result<Result<(u32, usize), Step>, RecvError> {
        let cap = self.ring.capacity;
        let mut avail = self.tail_cache.wrapping_sub(self.pos);
        if avail == 0 || avail > cap {
            // Acquire: the records before this tail are published.
            self.tail_cache = self.ring.control().pos.tail.load(Ordering::Acquire);
            avail = self.tail_cache.wrapping_sub(self.pos);
            if avail == 0 {
                return Err(RecvError::Empty);
            }
            if avail > cap {
                return Ok(Err(Step::Lapped));
            }
        }
        let at = self.pos & (cap - 1);
        let to_end = cap - at;
        if to_end < PREFIX_LEN as u32 {
            // A tail too short for a record: the writer skipped it.
            if avail < to_end {
                return Err(RecvError::Corrupt);
            }
            self.pos = self.pos.wrapping_add(to_end);
            return Ok(Err(Step::Again));
        }
        if avail < PREFIX_LEN as u32 {
            return Err(RecvError::Corrupt);
        }
        let bytes = self.ring.read_prefix(self.pos).ok_or(RecvError::Corrupt)?;
        // A verdict on the prefix alone stands only if the prefix was
        // intact: otherwise the writer lapped this reader.
        let checked = |verdict: RecvError| -> Result<Result<(u32, usize), Step>, RecvError> {
            if self.overwritten(self.pos) {
                Ok(Err(Step::Lapped))
            } else {
                Err(verdict)
            }
        };
        let Some((seq, header, size)) = decode_prefix(&bytes) else {
            return checked(RecvError::Corrupt);
        };
        if size > to_end || size > avail || seq < self.seq {
            return checked(RecvError::Corrupt);
        }
        if seq != self.seq {
            if self.overwritten(self.pos) {
                return Ok(Err(Step::Lapped));
            }
            // An intact record further on than expected: numbers were lost
            // (a writer died mid-record, or the cursor is whole laps of
            // 2³² bytes behind). Continue from it.
            let missed = seq - self.seq;
            self.seq = seq;
            self.missed = self.missed.saturating_add(missed);
            return Err(RecvError::Lapped { missed });
        }
        if header.is_pad() {
            if self.overwritten(self.pos) {
                return Ok(Err(Step::Lapped));
            }
            self.pos = self.pos.wrapping_add(size);
            return Ok(Err(Step::Again));
        }
        let len = header.len as usize;
        let Some(dst) = buf.get_mut(..len) else {
            return checked(RecvError::BufferTooSmall { needed: len });
        };
        // SAFETY: the payload lies inside the record, which lies inside the
        // buffer (size <= to_end); at + 24 is 8-aligned.
        unsafe { self.ring.read(at + PREFIX_LEN as u32, dst) };
        if self.overwritten(self.pos) {
            return Ok(Err(Step::Lapped));
        }
        self.pos = self.pos.wrapping_add(size);
        self.seq = self.seq.wrapping_add(1);
        self.received += 1;
        Ok(Ok((header.tag, len)))
    }

    /// Receives the next record like [`Reader::try_recv`], waiting while
    /// there is none for at most `timeout` (`None`: no limit): spin, yield,
    /// then park on the event word until the writer's [`Writer::send`]
    /// (or [`Writer::wake_readers`]) wakes it. Fails with
    /// [`RecvError::TimedOut`] or as [`Reader::try_recv`] (except `Empty`).
    ///
    /// Parking announces the reader on the event word (the one shared
    /// word a reader may write). A reader of a
    /// [read-only](BroadcastRing::attach_read_only) handle never does:
    /// after its spins and yields it sleeps on the word for at most
    /// [`READ_ONLY_POLL`] at a time, so it notices a record within that
    /// slice even when no writable reader is parked.
    pub fn recv<W: Wait>(
        &mut self,
        buf: &mut [u8],
        blocking: &Blocking<W>,
        timeout: Option<Duration>,
    ) -> Result<(u32, usize), RecvError> {
        let ring = self.ring;
        if !ring.read_only {
            return blocking.run(ring.wake_word(), timeout, || or_wait(self.try_recv(buf)));
        }
        poll_read_only(blocking, ring.wake_word(), timeout, || {
            or_wait(self.try_recv(buf))
        })
    }
}

/// [`Blocking::run`] for a reader that may not write the event word (a
/// read-only mapping): spins and yields as `blocking` says, then sleeps on
/// `word` at most [`READ_ONLY_POLL`] at a time without announcing itself
/// (woken early only by a notification meant for an announced reader).
pub(crate) fn poll_read_only<R, W: Wait>(
    blocking: &Blocking<W>,
    word: &AtomicU32,
    timeout: Option<Duration>,
    mut attempt: impl FnMut() -> Result<Option<R>, RecvError>,
) -> Result<R, RecvError> {
    if let Some(got) = attempt()? {
        return Ok(got);
    }
    let mut deadline = Deadline::after(&blocking.wait, timeout);
    let mut round = 0u32;
    loop {
        if round < blocking.spins || blocking.spins == FOREVER {
            spin_loop();
            if round % 1024 == 1023 {
                deadline.remaining(&blocking.wait)?;
            }
        } else if round - blocking.spins < blocking.yields || blocking.yields == FOREVER {
            blocking.wait.yield_now();
            deadline.remaining(&blocking.wait)?;
        } else {
            let left = deadline.remaining(&blocking.wait)?;
            let slice = left.map_or(READ_ONLY_POLL, |l| l.min(READ_ONLY_POLL));
            let key = word.load(Ordering::Acquire);
            if let Some(got) = attempt()? {
                return Ok(got);
            }
            blocking.wait.wait(word, key, Some(slice));
        }
        round = round.saturating_add(1);
        if let Some(got) = attempt()? {
            return Ok(got);
        }
    }
}
