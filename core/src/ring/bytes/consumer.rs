//! The consumer's end: finding the next record (range-checked), copying
//! or viewing it ([`RecordRef`], [`Record`]), and waiting for one.

use super::*;

/// Where the next record is: found and checked by [`Consumer::locate`].
#[derive(Clone, Copy, Debug)]
struct Located {
    pos: u32,
    tag: u32,
    len: u32,
    size: u32,
}

/// The consuming end. Exactly one exists per ring at a time; it releases the
/// role when dropped.
pub struct Consumer<'a> {
    ring: ByteRing<'a>,
    /// Bytes ever released (wrapping); the shared head lags it by what
    /// is not yet published (see [`Consumer::released`]).
    pub(super) head: u32,
    /// The head as last stored in shared memory: `head − published` bytes
    /// are released here but not yet handed to the producer.
    pub(super) published: u32,
    /// The last tail read from shared memory.
    pub(super) tail_cache: u32,
    holder: u32,
}

// SAFETY: the consumer's state is its own; it reads only bytes the producer
// has published with Release and it has observed with Acquire.
unsafe impl Send for Consumer<'_> {}

impl fmt::Debug for Consumer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("holder", &self.holder)
            .field("head", &self.head)
            .field("published", &self.published)
            .finish()
    }
}

impl<'a> Consumer<'a> {
    /// The consumer for `holder`, who has just won the role word; its
    /// indices are loaded and checked as for [`Producer`]'s (its own, the
    /// head, for record alignment).
    pub(super) fn new(ring: ByteRing<'a>, holder: u32) -> Result<Self, RoleError> {
        match ring.control().claim_consumer(ring.capacity) {
            Ok((head, tail_cache)) if (head as usize).is_multiple_of(RECORD_ALIGN) => Ok(Self {
                ring,
                head,
                published: head,
                tail_cache,
                holder,
            }),
            _ => {
                role::release(&ring.control().meta.consumer, holder);
                Err(RoleError::Corrupt)
            }
        }
    }

    /// Bytes published and not released, by the cached tail; re-reads the
    /// producer's tail when the cache says none. `Corrupt` if out of range.
    /// When the ring is seen empty, publishes the head: the consumer is
    /// about to report `Empty` or wait, and must not keep room from the
    /// producer meanwhile.
    #[inline(always)]
    fn ready(&mut self) -> Result<u32, Corrupt> {
        let ready = self.tail_cache.wrapping_sub(self.head);
        if ready != 0 && ready <= self.ring.capacity {
            return Ok(ready);
        }
        let (tail, ready) = self
            .ring
            .control()
            .load_tail(self.head, self.ring.capacity)?;
        self.tail_cache = tail;
        if ready == 0 {
            self.publish();
        }
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

    /// Hands every released byte to the producer: stores the head
    /// (`Release`: the records' bytes were read before) if it moved.
    #[inline(always)]
    fn publish(&mut self) {
        if self.published != self.head {
            self.store_head();
            self.published = self.head;
        }
    }

    /// Called after the head moved past released bytes: publishes it when
    /// the consumer has caught up with the tail it knows of, or once a
    /// quarter of the capacity is unpublished. Storing the head after every
    /// message would move its cache line to the producer and back for each
    /// one whenever the producer is polling it (a full ring, where the
    /// consumer is never caught up), which cost 64-byte messages a line
    /// transfer each; a caught-up consumer's store stays in its own cache
    /// (the producer, with room, does not read the head). Otherwise the
    /// room reaches the producer when the consumer finds the ring empty
    /// (before it reports `Empty` or waits), a quarter is unpublished,
    /// [`Consumer::wake_producer`] is called, or the consumer is dropped.
    #[inline(always)]
    fn released(&mut self) {
        if self.head == self.tail_cache
            || self.head.wrapping_sub(self.published) >= self.ring.capacity / 4
        {
            self.publish();
        }
    }

    /// Finds and checks the next record, skipping (and releasing) the
    /// padding before it. Reads its header exactly once from shared memory.
    #[inline]
    fn locate(&mut self) -> Result<Located, RecvError> {
        let capacity = self.ring.capacity;
        // An honest producer leaves at most one padding run before a
        // record; a second one in a row is corrupt.
        for attempt in 0..2 {
            let ready = self.ready()?;
            if ready == 0 {
                return Err(RecvError::Empty);
            }
            if !(self.head as usize).is_multiple_of(RECORD_ALIGN) {
                return Err(RecvError::Corrupt);
            }
            let pos = self.head & (capacity - 1);
            let to_end = capacity - pos;
            if to_end >= HEADER_LEN as u32 {
                if ready < HEADER_LEN as u32 {
                    return Err(RecvError::Corrupt);
                }
                let mut bytes = [0u8; HEADER_LEN];
                // SAFETY: pos + 16 <= capacity, and at least 16 bytes from
                // `head` are published (ready >= 16) and not released.
                unsafe { self.ring.read(pos, &mut bytes) };
                let header = FrameHeader::decode(&bytes).map_err(|_| RecvError::Corrupt)?;
                if !header.is_pad() {
                    let size = record_len(header.len).ok_or(RecvError::Corrupt)?;
                    if size > to_end || size > ready {
                        return Err(RecvError::Corrupt);
                    }
                    return Ok(Located {
                        pos,
                        tag: header.tag,
                        len: header.len,
                        size,
                    });
                }
            }
            // Padding (or a tail too short for a header) up to the end.
            if ready < to_end || attempt == 1 {
                return Err(RecvError::Corrupt);
            }
            self.head = self.head.wrapping_add(to_end);
            // Published with the record after it, or at once if the ring
            // is empty now (the next `ready`).
            self.released();
        }
        Err(RecvError::Corrupt)
    }

    fn view(&self, at: Located) -> RecordRef<'_> {
        RecordRef {
            ring: self.ring,
            at,
            _borrow: PhantomData,
        }
    }

    /// Borrows the next message in place; free it with [`Record::release`].
    /// Fails with [`RecvError::Empty`] when there is none, and with
    /// [`RecvError::Corrupt`] (reading and releasing nothing) when its header
    /// does not check out.
    #[inline]
    pub fn peek(&mut self) -> Result<Record<'_, 'a>, RecvError> {
        let at = self.locate()?;
        Ok(Record { consumer: self, at })
    }

    /// Copies the next message's payload into `buf` and frees it, without
    /// waiting; returns its tag and length. A message longer than `buf`
    /// stays in the ring ([`RecvError::BufferTooSmall`] says how long it
    /// is).
    #[inline]
    pub fn try_recv(&mut self, buf: &mut [u8]) -> Result<(u32, usize), RecvError> {
        let at = self.locate()?;
        let len = at.len as usize;
        let Some(dst) = buf.get_mut(..len) else {
            return Err(RecvError::BufferTooSmall { needed: len });
        };
        // SAFETY: the payload is inside the record, which locate checked
        // lies inside the buffer and is published.
        unsafe { self.ring.read(at.pos + HEADER_LEN as u32, dst) };
        self.head = self.head.wrapping_add(at.size);
        self.released();
        Ok((at.tag, len))
    }

    /// Receives the next message into `buf` like [`Consumer::try_recv`],
    /// waiting while there is none (spin, yield, then park until the
    /// producer sends) for at most `timeout` (`None`: no limit). Wakes the
    /// producer if it is parked. A message longer than `buf` stays in the
    /// ring: [`RecvError::BufferTooSmall`] says how long it is. Fails
    /// otherwise with [`RecvError::TimedOut`] or [`RecvError::Corrupt`].
    pub fn recv<W: Wait>(
        &mut self,
        buf: &mut [u8],
        blocking: &Blocking<W>,
        timeout: Option<core::time::Duration>,
    ) -> Result<(u32, usize), RecvError> {
        let ring = self.ring;
        let control = ring.control();
        // The head as the producer was last told of it: the producer waits
        // for room on the not-full word, so every publication is followed
        // by a notification — before this side waits, and at the end.
        let mut notified = self.published;
        let got = blocking.run(&control.tail.wake, timeout, || {
            let got = or_wait(self.try_recv(buf));
            if let Ok(None) = got {
                if self.published != notified {
                    notified = self.published;
                    blocking.notify(&control.head.wake);
                }
            }
            got
        });
        if self.published != notified {
            blocking.notify(&control.head.wake);
        }
        got
    }

    /// Hands every byte released so far to the producer (publishes the
    /// head, which [`Consumer::try_recv`] and [`Record::release`] do only
    /// now and then) and wakes the producer if it is parked in
    /// [`Producer::send`]; returns whether it was (a wake syscall was
    /// made). Call it after [`Consumer::try_recv`], [`Record::release`] or
    /// [`Consumer::drain`] when the producer may block, or before leaving
    /// the ring alone with messages still in it. Costs one store and
    /// one load (no fence) when nobody sleeps.
    #[inline]
    pub fn wake_producer(&self, wait: &impl Wait) -> bool {
        // Through `&self`: `published` stays behind, so the next
        // publication stores the same head again (harmless).
        self.store_head();
        crate::wait::event_word::notify(&self.ring.control().head.wake, wait)
    }

    /// Hands up to `max` ready messages to `f`, in order, in place, then
    /// frees them all with one store; returns how many. On a corrupt
    /// record it frees those already handed over and fails.
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
                Err(RecvError::Empty) => break,
                Err(_) => {
                    result = Err(Corrupt);
                    break;
                }
            }
        }
        if count > 0 {
            self.publish();
        }
        result.map(|()| count)
    }

    /// Bytes published and not yet released, now (re-reads the producer's
    /// tail), padding included.
    pub fn ready_bytes(&mut self) -> Result<u32, Corrupt> {
        self.tail_cache = self.head;
        self.ready()
    }

    /// The ring this consumer reads.
    pub fn ring(&self) -> ByteRing<'a> {
        self.ring
    }
}

impl Drop for Consumer<'_> {
    fn drop(&mut self) {
        // Released messages are not delivered again to the next consumer:
        // publish them before letting go (unless the role was taken from
        // us: the head is the new holder's now).
        if self.ring.consumer_holder() == self.holder {
            self.publish();
        }
        role::release(&self.ring.control().meta.consumer, self.holder);
    }
}

/// A message in the ring, seen in place: valid for the borrow `'r`, during
/// which the producer does not touch its bytes.
#[derive(Clone, Copy)]
pub struct RecordRef<'r> {
    ring: ByteRing<'r>,
    at: Located,
    _borrow: PhantomData<&'r [u8]>,
}

impl fmt::Debug for RecordRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordRef")
            .field("tag", &self.at.tag)
            .field("len", &self.at.len)
            .finish()
    }
}

impl<'r> RecordRef<'r> {
    /// The message's tag.
    pub fn tag(&self) -> u32 {
        self.at.tag
    }

    /// Payload bytes.
    pub fn len(&self) -> usize {
        self.at.len as usize
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.at.len == 0
    }

    /// Copies payload bytes from `offset` into `dst`, as many as both hold;
    /// returns how many. An `offset` at or past the end of the payload
    /// copies nothing and returns 0 (it clamps, like the length). The copy
    /// uses atomic loads: sound even if a hostile producer writes the
    /// bytes meanwhile (they are then junk).
    pub fn read(&self, offset: usize, dst: &mut [u8]) -> usize {
        let n = self.len().saturating_sub(offset).min(dst.len());
        if n == 0 {
            // Also the case of every offset past the payload, which must
            // not reach the address arithmetic below.
            return 0;
        }
        // n > 0, so offset < len <= capacity − 16: the sum fits in u32.
        let at = self.at.pos + (HEADER_LEN + offset) as u32;
        // SAFETY: offset + n <= len, inside the checked, published record.
        unsafe { self.ring.read(at, &mut dst[..n]) };
        n
    }

    /// The payload, in place in the ring (8-byte aligned).
    ///
    /// A view into shared memory: sound only while the producer cooperates
    /// (it does not write a record before its release). A hostile producer
    /// writing these bytes while the slice is held causes a data race —
    /// undefined behaviour, not just junk bytes; with an untrusted peer use
    /// [`RecordRef::read`] or [`Consumer::recv`] (see the module docs,
    /// "Copies and views").
    #[cfg(not(loom))]
    pub fn as_slice(&self) -> &'r [u8] {
        self.bytes(HEADER_LEN as u32, self.at.len)
    }

    /// Header and payload as they lie in the ring: exactly one
    /// [`crate::codec`] stream frame, to write to a pipe or socket as is.
    ///
    /// A view into shared memory, with the guarantee of
    /// [`RecordRef::as_slice`]: sound against a cooperating producer only.
    #[cfg(not(loom))]
    pub fn frame(&self) -> &'r [u8] {
        self.bytes(0, HEADER_LEN as u32 + self.at.len)
    }

    #[cfg(not(loom))]
    fn bytes(&self, offset: u32, len: u32) -> &'r [u8] {
        // SAFETY: offset + len <= size <= capacity − pos (locate checked);
        // the bytes are published and the producer leaves them alone until
        // the consumer releases them, which the borrow 'r outlasts.
        unsafe {
            core::slice::from_raw_parts(self.ring.byte_ptr(self.at.pos + offset), len as usize)
        }
    }
}

/// The next message, borrowed from a [`Consumer`] by [`Consumer::peek`]. It
/// stays in the ring until [`Record::release`]; dropping it releases
/// nothing (the next peek sees it again).
pub struct Record<'c, 'a> {
    consumer: &'c mut Consumer<'a>,
    at: Located,
}

impl fmt::Debug for Record<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.view().fmt(f)
    }
}

impl Record<'_, '_> {
    /// The message in place, for as long as `self` is borrowed.
    pub fn view(&self) -> RecordRef<'_> {
        self.consumer.view(self.at)
    }

    /// The message's tag.
    pub fn tag(&self) -> u32 {
        self.at.tag
    }

    /// Payload bytes.
    pub fn len(&self) -> usize {
        self.at.len as usize
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.at.len == 0
    }

    /// The payload, in place in the ring (8-byte aligned); a view, with the
    /// guarantee of [`RecordRef::as_slice`] (cooperating producer only).
    #[cfg(not(loom))]
    pub fn as_slice(&self) -> &[u8] {
        self.view().as_slice()
    }

    /// Frees the message for the producer.
    #[inline]
    pub fn release(self) {
        let c = self.consumer;
        c.head = c.head.wrapping_add(self.at.size);
        c.released();
    }
}

/// A consumer is ready when a record is there past its own head (or the
/// tail is out of range, which [`Consumer::try_recv`] then reports).
impl crate::wait::wait_set::Source for Consumer<'_> {
    fn event_word(&self) -> &crate::foundation::atomics::AtomicU32 {
        &self.ring.control().tail.wake
    }

    fn is_ready(&self) -> bool {
        // The shared head may lag the consumer's own (not yet published):
        // readiness is judged from the own one.
        let control = self.ring.control();
        control.load_tail(self.head, self.ring.capacity) != Ok((self.head, 0))
    }
}
