//! The producer's end: placing records, reservations, and waiting for
//! room.

use super::*;

/// The producing end. Exactly one exists per ring at a time; it releases the
/// role when dropped.
pub struct Producer<'a> {
    ring: ByteRing<'a>,
    /// Bytes ever written (wrapping), padding included; the shared tail
    /// mirrors it after each publication.
    pub(super) tail: u32,
    /// The last head read from shared memory.
    head_cache: u32,
    holder: u32,
}

// SAFETY: the producer's state is its own; the shared state is atomic and
// the bytes it writes are not read until it publishes them.
unsafe impl Send for Producer<'_> {}

impl fmt::Debug for Producer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("holder", &self.holder)
            .field("tail", &self.tail)
            .finish()
    }
}

impl<'a> Producer<'a> {
    /// The producer for `holder`, who has just won the role word. Its
    /// indices are loaded with `Acquire` (a producer that takes over, or
    /// claims the role after another producer, must see its predecessor's
    /// records and the consumer's progress) and checked: the pair by the
    /// rings' range check, the tail (which it will write at) for record
    /// alignment. If either fails, the role is freed and the claim fails.
    pub(super) fn new(ring: ByteRing<'a>, holder: u32) -> Result<Self, RoleError> {
        match ring.control().claim_producer(ring.capacity) {
            Ok((tail, head_cache)) if (tail as usize).is_multiple_of(RECORD_ALIGN) => Ok(Self {
                ring,
                tail,
                head_cache,
                holder,
            }),
            _ => {
                role::release(&ring.control().meta.producer, holder);
                Err(RoleError::Corrupt)
            }
        }
    }

    /// Re-reads the consumer's head; `Corrupt` if it is out of range.
    #[inline]
    fn refresh(&mut self) -> Result<u32, Corrupt> {
        let (head, free) = self
            .ring
            .control()
            .load_head(self.tail, self.ring.capacity)?;
        self.head_cache = head;
        Ok(free)
    }

    /// Free bytes by the cached head; refreshes it when fewer than `want`.
    #[inline(always)]
    fn free(&mut self, want: u32) -> Result<u32, Corrupt> {
        let free = self
            .ring
            .capacity
            .wrapping_sub(self.tail.wrapping_sub(self.head_cache));
        if free >= want && free <= self.ring.capacity {
            Ok(free)
        } else {
            self.refresh()
        }
    }

    #[inline(always)]
    fn publish(&self) {
        self.ring
            .control()
            .tail
            .index
            .store(self.tail, Ordering::Release);
    }

    /// Finds room for a record of `size` bytes, padding to the end of the
    /// buffer first if it would not fit there; returns its offset.
    #[inline]
    fn place(&mut self, size: u32) -> Result<u32, SendError> {
        let capacity = self.ring.capacity;
        let pos = self.tail & (capacity - 1);
        let to_end = capacity - pos;
        if size <= to_end {
            return if self.free(size)? >= size {
                Ok(pos)
            } else {
                Err(SendError::Full)
            };
        }
        // The record would straddle the end: fill the end with padding (as
        // soon as the padding itself fits) and start again at the front.
        let free = self.free(to_end.saturating_add(size))?;
        if free < to_end {
            return Err(SendError::Full);
        }
        if to_end >= HEADER_LEN as u32 {
            let pad = FrameHeader {
                len: to_end - HEADER_LEN as u32,
                tag: 0,
                flags: FLAG_PAD,
            };
            // SAFETY: pos + 16 <= capacity, and these free bytes are ours.
            unsafe { self.ring.write(pos, &pad.encode()) };
        }
        self.tail = self.tail.wrapping_add(to_end);
        if free - to_end < size {
            // Publish the padding so the consumer can free the front.
            self.publish();
            return Err(SendError::Full);
        }
        Ok(0)
    }

    /// Reserves room for a message of `len` payload bytes, to be written in
    /// place and published with [`Reservation::commit`]. Fails with
    /// [`SendError::TooLarge`] above [`ByteRing::max_payload`] and with
    /// [`SendError::Full`] when the room is not free now.
    #[inline]
    pub fn reserve(&mut self, len: usize) -> Result<Reservation<'_, 'a>, SendError> {
        let max = self.ring.max_payload();
        if len > max as usize {
            return Err(SendError::TooLarge { len, max });
        }
        // len <= max < 2^31, so the record length cannot overflow.
        let size = record_len(len as u32).unwrap_or(u32::MAX);
        let pos = self.place(size)?;
        Ok(Reservation {
            producer: self,
            pos,
            len: len as u32,
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

    /// Sends `payload` as one message tagged `tag`, waiting while there is
    /// no room (spin, yield, then park until the consumer frees some) for
    /// at most `timeout` (`None`: no limit). Wakes the consumer if it is
    /// parked. A payload above [`ByteRing::max_payload`] fails at once
    /// with [`SendError::TooLarge`]; otherwise fails with
    /// [`SendError::TimedOut`] or [`SendError::Corrupt`].
    pub fn send<W: Wait>(
        &mut self,
        tag: u32,
        payload: &[u8],
        blocking: &Blocking<W>,
        timeout: Option<core::time::Duration>,
    ) -> Result<(), SendError> {
        let ring = self.ring;
        let control = ring.control();
        blocking.run(&control.head.wake, timeout, || {
            let tail = self.tail;
            let sent = or_wait(self.try_send(tag, payload));
            // Padding published on the way: the consumer must wake to skip
            // it, or the room at the front never frees.
            if let Ok(None) = sent {
                if self.tail != tail {
                    blocking.notify(&control.tail.wake);
                }
            }
            sent
        })?;
        blocking.notify(&control.tail.wake);
        Ok(())
    }

    /// Wakes the consumer if it is parked in [`Consumer::recv`]; returns
    /// whether it was (a wake syscall was made). Call it after
    /// [`Producer::try_send`] or [`Reservation::commit`] when the consumer may
    /// block. Costs one load (no fence) when nobody sleeps.
    #[inline]
    pub fn wake_consumer(&self, wait: &impl Wait) -> bool {
        crate::wait::event_word::notify(&self.ring.control().tail.wake, wait)
    }

    /// Free bytes now (re-reads the consumer's head). A message of `len`
    /// bytes needs `record_len(len)` of them before the end of the buffer.
    pub fn free_bytes(&mut self) -> Result<u32, Corrupt> {
        self.refresh()
    }

    /// The ring this producer writes.
    pub fn ring(&self) -> ByteRing<'a> {
        self.ring
    }
}

impl Drop for Producer<'_> {
    fn drop(&mut self) {
        // Padding written for a reservation that was never committed is
        // still owed to the consumer: publish it before letting go (unless
        // the role was taken from us: the tail is the new holder's now).
        if self.ring.producer_holder() == self.holder {
            self.publish();
        }
        role::release(&self.ring.control().meta.producer, self.holder);
    }
}

/// Room for one message, borrowed from a [`Producer`]. Nothing is visible to
/// the consumer until [`Reservation::commit`]; dropping the reservation
/// sends nothing.
pub struct Reservation<'p, 'a> {
    producer: &'p mut Producer<'a>,
    /// Offset of the record's header in the buffer.
    pos: u32,
    /// Payload bytes reserved.
    len: u32,
}

impl fmt::Debug for Reservation<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reservation")
            .field("pos", &self.pos)
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

    /// The payload bytes, in place in the ring (8-byte aligned). Their
    /// contents are whatever the buffer held: overwrite what you commit.
    ///
    /// A view into shared memory: sound only while the consumer cooperates.
    /// A hostile consumer writing these bytes while the slice is held
    /// causes a data race; with an untrusted peer use
    /// [`Reservation::write`] (see the module docs, "Copies and views").
    #[cfg(not(loom))]
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        let ring = self.producer.ring;
        // SAFETY: pos + 16 + len <= capacity (placed so), the bytes are free
        // and this producer's until commit, initialised (plain bytes), and
        // `&mut self` keeps the slice unique.
        unsafe {
            core::slice::from_raw_parts_mut(
                ring.byte_ptr(self.pos + HEADER_LEN as u32),
                self.len as usize,
            )
        }
    }

    /// Copies `bytes` into the payload at `offset`, with atomic stores
    /// (sound even if a hostile consumer accesses them).
    ///
    /// # Panics
    ///
    /// If `offset + bytes.len()` exceeds [`Reservation::len`], like slice
    /// indexing.
    #[inline]
    pub fn write(&mut self, offset: usize, bytes: &[u8]) {
        assert!(
            offset
                .checked_add(bytes.len())
                .is_some_and(|end| end <= self.len as usize),
            "write of {} bytes at {offset} outside a {}-byte reservation",
            bytes.len(),
            self.len
        );
        let at = self.pos + HEADER_LEN as u32 + offset as u32;
        // SAFETY: inside the reservation (checked), which is inside the
        // buffer and this producer's until commit.
        unsafe { self.producer.ring.write(at, bytes) };
    }

    /// Publishes the first `len` payload bytes (at most those reserved) as
    /// one message tagged `tag`. Unused reserved bytes are given back.
    #[inline]
    pub fn commit(self, tag: u32, len: usize) {
        let len = len.min(self.len as usize) as u32;
        let header = header_bytes(&FrameHeader::new(tag, len));
        // SAFETY: the header's 16 bytes are the reservation's first.
        unsafe { self.producer.ring.write(self.pos, &header) };
        let size = record_len(len).unwrap_or(u32::MAX);
        let p = &mut *self.producer;
        p.tail = p.tail.wrapping_add(size);
        p.publish();
    }
}

/// [`FrameHeader::encode`]'s sixteen bytes, assembled as two 64-bit words
/// (length and tag, flags and check word, little-endian). The buffer copy
/// reads them back 8 bytes at a time: from `encode`'s array, built by
/// 4-byte stores, those loads could not be forwarded from the store buffer
/// and stalled the producer on every message (about a third of its time
/// with 64-byte messages).
#[inline(always)]
pub(super) fn header_bytes(header: &FrameHeader) -> [u8; HEADER_LEN] {
    let words = [
        u64::from(header.len) | u64::from(header.tag) << 32,
        u64::from(header.flags) | u64::from(header.check()) << 32,
    ];
    let mut bytes = [0u8; HEADER_LEN];
    bytes[..8].copy_from_slice(&words[0].to_le_bytes());
    bytes[8..].copy_from_slice(&words[1].to_le_bytes());
    bytes
}

/// A producer is ready when any byte is free (or the indices are out of
/// range, which [`Producer::try_send`] then reports). Whether a message
/// fits is for the send to say: a waiter for room for `len` bytes checks
/// `ring().capacity() - ring().used()` against
/// [`record_len`](crate::frame::record_len)`(len)` itself.
impl crate::wait::wait_set::Source for Producer<'_> {
    fn event_word(&self) -> &crate::foundation::atomics::AtomicU32 {
        &self.ring.control().head.wake
    }

    fn is_ready(&self) -> bool {
        self.ring.used() < self.ring.capacity()
    }
}
