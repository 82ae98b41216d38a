//! A producer: claiming room with one compare-exchange on the tail,
//! stamping the claim, writing in place, publishing with one store.

use super::*;
use crate::foundation::frame::FrameHeader;

/// Why a claim attempt did not claim.
enum Missed {
    /// Lost the compare-exchange to another producer, or claimed padding:
    /// try again.
    Race { position: u32 },
    /// Loaded a tail older than the head (the head passed it meanwhile),
    /// or the head is out of range: try again; if it stays so, corrupt.
    Stale { position: u32 },
    /// A final answer.
    Fail(SendError),
}

/// A producing end. Any number may exist at once, in any number of threads
/// and processes; each stamps its claims with its holder id.
pub struct Producer<'a> {
    ring: ManyToOneRing<'a>,
    /// The last head read from shared memory (checked when read).
    head_cache: u32,
    holder: u32,
}

// SAFETY: the producer's state is its own; the shared state is atomic.
unsafe impl Send for Producer<'_> {}

impl fmt::Debug for Producer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("holder", &self.holder)
            .finish()
    }
}

impl<'a> Producer<'a> {
    pub(super) fn new(ring: ManyToOneRing<'a>, holder: u32) -> Self {
        Self {
            ring,
            head_cache: ring.control().head.index.load(Ordering::Acquire),
            holder,
        }
    }

    /// The id this producer stamps its claims with.
    pub fn holder(&self) -> u32 {
        self.holder
    }

    /// The ring this producer writes.
    pub fn ring(&self) -> ManyToOneRing<'a> {
        self.ring
    }

    /// One attempt to claim `size` bytes (or, if they would straddle the end
    /// of the buffer, the rest of it as padding, reported as a race so the
    /// caller tries again at the front). Returns the claimed position.
    #[inline]
    fn claim_once(&mut self, size: u32) -> Result<u32, Missed> {
        let ring = self.ring;
        let capacity = ring.capacity;
        let c = ring.control();
        let tail = c.tail.index.load(Ordering::Acquire);
        if !(tail as usize).is_multiple_of(RECORD_ALIGN) {
            return Err(Missed::Fail(SendError::Corrupt));
        }
        let to_end = capacity - (tail & (capacity - 1));
        // Straddling the end: claim the rest as padding (it needs only its
        // own room).
        let (want, padding) = if size <= to_end {
            (size, false)
        } else {
            (to_end, true)
        };
        let mut used = tail.wrapping_sub(self.head_cache);
        if used > capacity || capacity - used < want {
            // Head after tail: `tail` was loaded before the head moved
            // past it; a corrupt head stays out of range and ends the
            // retries with `Corrupt`.
            let head = c.head.index.load(Ordering::Acquire);
            used = tail.wrapping_sub(head);
            if used > capacity {
                return Err(Missed::Stale { position: tail });
            }
            self.head_cache = head;
            if capacity - used < want {
                return Err(Missed::Fail(SendError::Full));
            }
        }
        let next = tail.wrapping_add(want);
        if c.tail
            .index
            .compare_exchange(tail, next, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return Err(Missed::Race { position: tail });
        }
        if padding {
            if to_end >= STAMP_LEN as u32 {
                ring.stamp(tail, to_end, stamp::PADDING, self.holder);
            }
            // Padding published: the front is next.
            return Err(Missed::Race { position: tail });
        }
        ring.stamp(tail, size, stamp::CLAIMED, self.holder);
        Ok(tail)
    }

    /// Claims `size` bytes, retrying lost races (bounded).
    fn claim(&mut self, size: u32) -> Result<u32, SendError> {
        let mut position = 0;
        let mut corrupt = false;
        for _ in 0..=crate::wait::MAX_LOST_RACES {
            match self.claim_once(size) {
                Ok(at) => return Ok(at),
                Err(Missed::Fail(e)) => return Err(e),
                Err(Missed::Race { position: p }) => {
                    corrupt = false;
                    position = p;
                }
                Err(Missed::Stale { position: p }) => {
                    corrupt = true;
                    position = p;
                }
            }
        }
        // Every try lost a race, or the head stayed out of range.
        Err(if corrupt {
            SendError::Corrupt
        } else {
            SendError::Stalled { position }
        })
    }

    /// Reserves room for a message of `len` payload bytes, claimed and
    /// stamped now, to be written in place and published with
    /// [`Reservation::commit`] (dropping it cancels: the consumer skips an
    /// empty record). Fails with [`SendError::TooLarge`] above
    /// [`ManyToOneRing::max_payload`], [`SendError::Full`] when there is no
    /// room now, [`SendError::Stalled`] after losing
    /// [`MAX_LOST_RACES`](crate::wait::MAX_LOST_RACES) races in a row, and
    /// [`SendError::Corrupt`].
    #[inline]
    pub fn reserve(&mut self, len: usize) -> Result<Reservation<'_, 'a>, SendError> {
        let max = self.ring.max_payload();
        if len > max as usize {
            return Err(SendError::TooLarge { len, max });
        }
        // len <= max < 2^31: no overflow.
        let size = record_size(len as u32).unwrap_or(u32::MAX);
        let at = self.claim(size)?;
        Ok(Reservation {
            producer: self,
            at,
            size,
            len: len as u32,
            done: false,
        })
    }

    /// Sends `payload` as one message tagged `tag` without waiting: all of
    /// it, or nothing (with the reasons of [`Producer::reserve`]).
    #[inline]
    pub fn try_send(&mut self, tag: u32, payload: &[u8]) -> Result<(), SendError> {
        let mut r = self.reserve(payload.len())?;
        r.write(0, payload);
        r.commit(tag, payload.len());
        Ok(())
    }

    /// Sends `payload` tagged `tag`, waiting while there is no room (spin,
    /// yield, then park until the consumer frees some) for at most
    /// `timeout` (`None`: no limit); wakes the consumer if it is parked. A
    /// payload above [`ManyToOneRing::max_payload`] fails at once with
    /// [`SendError::TooLarge`]; otherwise fails with
    /// [`SendError::TimedOut`], [`SendError::Stalled`] or
    /// [`SendError::Corrupt`].
    pub fn send<W: Wait>(
        &mut self,
        tag: u32,
        payload: &[u8],
        blocking: &Blocking<W>,
        timeout: Option<Duration>,
    ) -> Result<(), SendError> {
        let ring = self.ring;
        let c = ring.control();
        blocking.run(&c.head.wake, timeout, || {
            let tail = c.tail.index.load(Ordering::Relaxed);
            match self.try_send(tag, payload) {
                Ok(()) => Ok(Some(())),
                Err(SendError::Full) => {
                    // Padding may have been published on the way: the
                    // consumer must wake to free it.
                    if c.tail.index.load(Ordering::Relaxed) != tail {
                        blocking.notify(&c.tail.wake);
                    }
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        })?;
        blocking.notify(&c.tail.wake);
        Ok(())
    }

    /// Wakes the consumer if it is parked in [`Consumer::recv`]; returns
    /// whether it was (a wake syscall was made). Call it after
    /// [`Producer::try_send`] or [`Reservation::commit`] when the consumer
    /// may block. Costs one load (no fence) when nobody sleeps.
    #[inline]
    pub fn wake_consumer(&self, wait: &impl Wait) -> bool {
        crate::wait::event_word::notify(&self.ring.control().tail.wake, wait)
    }

    /// Claims and stamps a record of `len` payload bytes and never commits
    /// it, as a producer killed between its claim and its commit would;
    /// returns its position. For tests of the skip path.
    #[doc(hidden)]
    pub fn abandon_claim(&mut self, len: usize) -> Result<u32, SendError> {
        let r = self.reserve(len)?;
        let at = r.at;
        core::mem::forget(r);
        Ok(at)
    }

    /// Claims room for a record of `len` payload bytes and writes no stamp
    /// at all, as a producer killed in the instructions between its
    /// compare-exchange and its stamp would; returns its position. For
    /// tests of the unstamped skip path.
    #[doc(hidden)]
    pub fn abandon_unstamped(&mut self, len: usize) -> Result<u32, SendError> {
        let size = record_size(len as u32).ok_or(SendError::Corrupt)?;
        for _ in 0..4 {
            let c = self.ring.control();
            let tail = c.tail.index.load(Ordering::Acquire);
            if !(tail as usize).is_multiple_of(RECORD_ALIGN) {
                return Err(SendError::Corrupt);
            }
            let to_end = self.ring.capacity - (tail & (self.ring.capacity - 1));
            if size > to_end {
                // Pad honestly first, as a claim would.
                match self.claim_once(size) {
                    Err(Missed::Race { .. } | Missed::Stale { .. }) => continue,
                    Err(Missed::Fail(e)) => return Err(e),
                    Ok(_) => return Err(SendError::Corrupt),
                }
            }
            let head = c.head.index.load(Ordering::Acquire);
            // Checked as a claim checks them: a peer's head is no bound.
            let Ok(used) = span(tail, head, self.ring.capacity) else {
                return Err(SendError::Corrupt);
            };
            if self.ring.capacity - used < size {
                return Err(SendError::Full);
            }
            if c.tail
                .index
                .compare_exchange(
                    tail,
                    tail.wrapping_add(size),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
            {
                return Ok(tail);
            }
        }
        Err(SendError::Stalled { position: 0 })
    }
}

/// Room for one message, claimed and stamped, borrowed from a
/// [`Producer`]. Nothing is delivered until [`Reservation::commit`];
/// dropping the reservation cancels it (the consumer skips an empty
/// record, not counted as skipped).
pub struct Reservation<'p, 'a> {
    producer: &'p mut Producer<'a>,
    /// Stream position of the record (its stamp).
    at: u32,
    /// Record bytes claimed.
    size: u32,
    /// Payload bytes reserved.
    len: u32,
    done: bool,
}

impl fmt::Debug for Reservation<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reservation")
            .field("at", &self.at)
            .field("len", &self.len)
            .finish()
    }
}

impl Reservation<'_, '_> {
    /// Payload bytes reserved.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether the reservation has no payload bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The record's stream position (what [`Stall::position`] would name).
    pub fn position(&self) -> u32 {
        self.at
    }

    /// The payload bytes, in place in the ring (8-byte aligned), holding
    /// whatever the buffer held: overwrite what you commit.
    ///
    /// A view into shared memory: sound only while every peer cooperates
    /// (see the module docs, "Copies and views"); with untrusted peers use
    /// [`Reservation::write`].
    #[cfg(not(loom))]
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        let ring = self.producer.ring;
        // SAFETY: the payload lies inside the claimed record, which lies
        // inside the buffer (records never wrap); the bytes are this
        // producer's until commit, and `&mut self` keeps the slice unique.
        unsafe {
            core::slice::from_raw_parts_mut(
                ring.byte_ptr(self.at.wrapping_add(RECORD_OVERHEAD as u32)),
                self.len as usize,
            )
        }
    }

    /// Copies `bytes` into the payload at `offset`, with atomic stores.
    ///
    /// # Panics
    ///
    /// If `offset + bytes.len()` exceeds [`Reservation::len`], like slice
    /// indexing.
    pub fn write(&mut self, offset: usize, bytes: &[u8]) {
        assert!(
            offset
                .checked_add(bytes.len())
                .is_some_and(|end| end <= self.len as usize),
            "write of {} bytes at {offset} outside a {}-byte reservation",
            bytes.len(),
            self.len
        );
        let at = self.at.wrapping_add((RECORD_OVERHEAD + offset) as u32);
        self.producer.ring.write_bytes(at, bytes);
    }

    /// Publishes the first `len` payload bytes (at most those reserved) as
    /// one message tagged `tag`: the frame header, then one `Release` store
    /// of the stamp's state.
    #[inline]
    pub fn commit(mut self, tag: u32, len: usize) {
        let len = len.min(self.len as usize) as u32;
        let ring = self.producer.ring;
        ring.write_bytes(
            self.at.wrapping_add(STAMP_LEN as u32),
            &FrameHeader::new(tag, len).encode(),
        );
        ring.word(self.at.wrapping_add(4))
            .store(self.size | stamp::COMMITTED, Ordering::Release);
        self.done = true;
    }
}

impl Drop for Reservation<'_, '_> {
    fn drop(&mut self) {
        if !self.done {
            self.producer
                .ring
                .word(self.at.wrapping_add(4))
                .store(self.size | stamp::CANCELLED, Ordering::Release);
        }
    }
}
