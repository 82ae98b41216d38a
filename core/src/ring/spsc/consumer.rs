//! The consuming end: pops, batches and read chunks, and waiting for
//! elements.

use super::*;

/// The consuming end. Exactly one exists per ring at a time; it releases the
/// role when dropped.
pub struct Consumer<'a, T> {
    ring: SpscRing<'a, T>,
    /// Elements ever popped (wrapping); the shared head mirrors it.
    pub(super) head: u32,
    /// The last tail read from shared memory.
    pub(super) tail_cache: u32,
    holder: u32,
}

// SAFETY: the consumer's state is its own; it reads only slots the producer
// has published with Release and it has observed with Acquire.
unsafe impl<T: Plain> Send for Consumer<'_, T> {}

impl<T> core::fmt::Debug for Consumer<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Consumer")
            .field("holder", &self.holder)
            .field("head", &self.head)
            .finish()
    }
}

impl<'a, T: Plain> Consumer<'a, T> {
    /// The consumer for `holder`, who has just won the role word; its
    /// indices are loaded and checked as for [`Producer`]'s.
    pub(super) fn new(ring: SpscRing<'a, T>, holder: u32) -> Result<Self, RoleError> {
        let Ok((head, tail_cache)) = ring.control().claim_consumer(ring.capacity) else {
            role::release(&ring.control().meta.consumer, holder);
            return Err(RoleError::Corrupt);
        };
        Ok(Self {
            ring,
            head,
            tail_cache,
            holder,
        })
    }

    /// Re-reads the producer's tail; `Corrupt` if it is out of range.
    #[inline]
    fn refresh(&mut self) -> Result<u32, Corrupt> {
        let (tail, ready) = self
            .ring
            .control()
            .load_tail(self.head, self.ring.capacity)?;
        self.tail_cache = tail;
        Ok(ready)
    }

    /// Ready elements by the cached tail; refreshes it when fewer than
    /// `want`. The cached tail passed [`span`] when loaded, and the head
    /// has since moved by at most the ready count that load showed, so the
    /// cached count is at most the capacity.
    #[inline(always)]
    fn ready(&mut self, want: u32) -> Result<u32, Corrupt> {
        let ready = self.tail_cache.wrapping_sub(self.head);
        if ready >= want {
            Ok(ready)
        } else {
            self.refresh()
        }
    }

    #[inline(always)]
    fn release_slots(&mut self, count: u32) {
        self.head = self.head.wrapping_add(count);
        self.ring
            .control()
            .head
            .index
            .store(self.head, Ordering::Release);
    }

    /// Removes the oldest element, or fails with [`RecvError::Empty`] without
    /// blocking.
    #[inline(always)]
    pub fn try_recv(&mut self) -> Result<T, RecvError> {
        // Empty by the cached tail: only then re-read the shared tail,
        // which is checked on that load.
        if self.tail_cache == self.head && self.refresh()? == 0 {
            return Err(RecvError::Empty);
        }
        // SAFETY: the slot at `head` was published (Release store of tail,
        // observed by our Acquire load) and the producer will not reuse it
        // until we release it.
        let value = unsafe { self.ring.read_slot(self.head) };
        self.release_slots(1);
        Ok(value)
    }

    /// Removes the oldest element, waiting while the ring is empty (spin,
    /// yield, then park until the producer publishes) for at most
    /// `timeout` (`None`: no limit). Wakes the producer if it is parked.
    /// Fails with [`RecvError::TimedOut`] or [`RecvError::Corrupt`].
    pub fn recv<W: Wait>(
        &mut self,
        blocking: &Blocking<W>,
        timeout: Option<core::time::Duration>,
    ) -> Result<T, RecvError> {
        let ring = self.ring;
        let control = ring.control();
        let value = blocking.run(&control.tail.wake, timeout, || or_wait(self.try_recv()))?;
        blocking.notify(&control.head.wake);
        Ok(value)
    }

    /// Wakes the producer if it is parked in [`Producer::send`]; returns
    /// whether it was (a wake syscall was made). [`Consumer::recv`] does
    /// this itself; call it after releasing with [`Consumer::try_recv`],
    /// [`Consumer::try_recv_slice`] or a [`ReadChunk`] when the producer may
    /// block. Costs one load (no fence) when nobody sleeps.
    #[inline]
    pub fn wake_producer(&self, wait: &impl Wait) -> bool {
        crate::wait::event_word::notify(&self.ring.control().head.wake, wait)
    }

    /// Copies up to `out.len()` elements into `out`, in order, with one
    /// release; returns how many (0 when empty), without waiting. Fails only with
    /// [`RecvError::Corrupt`].
    pub fn try_recv_slice(&mut self, out: &mut [T]) -> Result<usize, RecvError> {
        let want = u32::try_from(out.len()).unwrap_or(u32::MAX);
        let n = self.ready(want)?.min(want);
        let (first, second) = self.ring.split(self.head, n);
        #[cfg(not(loom))]
        // SAFETY: the `n` slots from `head` are published and ours until released (a hostile
        // producer's writes meet atomic loads); both runs lie inside the buffer; `out` is a
        // unique borrow of caller memory, so it cannot overlap them.
        unsafe {
            shared_copy::copy_from_shared(
                self.ring.slot_ptr(self.head),
                out.as_mut_ptr(),
                first as usize,
            );
            shared_copy::copy_from_shared(
                self.ring.slot_ptr(0),
                out.as_mut_ptr().add(first as usize),
                second as usize,
            );
        }
        #[cfg(loom)]
        for (i, o) in out[..n as usize].iter_mut().enumerate() {
            let _ = (first, second);
            // SAFETY: as above, one slot at a time.
            *o = unsafe { self.ring.read_slot(self.head.wrapping_add(i as u32)) };
        }
        self.release_slots(n);
        Ok(n as usize)
    }

    /// Elements ready now (re-reads the producer's tail).
    pub fn slots(&mut self) -> Result<u32, Corrupt> {
        self.refresh()
    }

    /// Borrows exactly `n` ready elements to read in place; free them with
    /// [`ReadChunk::release`]. Fails with [`ChunkError::TooFew`] (saying how
    /// many are ready) rather than handing out fewer.
    pub fn peek(&mut self, n: u32) -> Result<ReadChunk<'_, 'a, T>, ChunkError> {
        let ready = self.ready(n)?;
        if ready < n {
            return Err(ChunkError::TooFew { available: ready });
        }
        Ok(ReadChunk {
            consumer: self,
            len: n,
        })
    }

    /// Elements in the ring (consumer's view: exact about its own pops,
    /// possibly stale about pushes). The producer's tail is loaded and
    /// checked against this consumer's head; out of range, the ring reads
    /// as full (the next pop fails with `Corrupt`).
    pub fn len(&self) -> u32 {
        let capacity = self.ring.capacity;
        self.ring
            .control()
            .load_tail(self.head, capacity)
            .map_or(capacity, |(_, ready)| ready)
    }

    /// Whether the ring looks empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the ring looks full.
    pub fn is_full(&self) -> bool {
        self.len() == self.ring.capacity
    }

    /// Number of slots.
    pub fn capacity(&self) -> u32 {
        self.ring.capacity
    }

    /// The ring this consumer reads.
    pub fn ring(&self) -> SpscRing<'a, T> {
        self.ring
    }
}

impl<T> Drop for Consumer<'_, T> {
    fn drop(&mut self) {
        role::release(&self.ring.control().meta.consumer, self.holder);
    }
}

/// Ready elements borrowed from a [`Consumer`]. They stay in the ring until
/// [`ReadChunk::release`]; dropping the chunk releases nothing.
pub struct ReadChunk<'c, 'a, T> {
    consumer: &'c mut Consumer<'a, T>,
    len: u32,
}

impl<T: Plain> ReadChunk<'_, '_, T> {
    /// Elements in the chunk.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Whether the chunk is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies element `i` of the chunk, with atomic loads (sound even if a
    /// hostile producer writes the slot: the value is then junk).
    ///
    /// # Panics
    ///
    /// If `i >= self.len()`, like slice indexing.
    pub fn get(&self, i: u32) -> T {
        assert!(
            i < self.len,
            "chunk index {i} out of range ({} elements)",
            self.len
        );
        let index = self.consumer.head.wrapping_add(i);
        // SAFETY: the slot is published and not released yet.
        unsafe { self.consumer.ring.read_slot(index) }
    }

    /// The chunk as two slices (the second non-empty only when the chunk
    /// wraps past the end of the buffer).
    ///
    /// A view into shared memory: sound only while the producer cooperates
    /// (it does not write published, unreleased slots). A hostile producer
    /// that writes them while the slice is held causes a data race —
    /// undefined behaviour, not just junk values; with an untrusted peer
    /// use [`ReadChunk::get`] or [`Consumer::try_recv_slice`] (see the module
    /// docs, "Copies and views").
    #[cfg(not(loom))]
    pub fn as_slices(&self) -> (&[T], &[T]) {
        let ring = self.consumer.ring;
        let (first, second) = ring.split(self.consumer.head, self.len);
        // SAFETY: both runs are published, unreleased slots inside the
        // buffer; the producer does not write them until release.
        unsafe {
            (
                core::slice::from_raw_parts(ring.slot_ptr(self.consumer.head), first as usize),
                core::slice::from_raw_parts(ring.slot_ptr(0), second as usize),
            )
        }
    }

    /// Frees the first `n` elements of the chunk (at most its length) for
    /// the producer.
    pub fn release(self, n: u32) {
        let n = n.min(self.len);
        self.consumer.release_slots(n);
    }

    /// Frees the whole chunk.
    pub fn release_all(self) {
        let n = self.len;
        self.consumer.release_slots(n);
    }
}

/// A consumer is ready when an element is there (or the producer's index
/// is out of range, which [`Consumer::try_recv`] then reports).
impl<T: Plain> crate::wait::wait_set::Source for Consumer<'_, T> {
    fn event_word(&self) -> &crate::foundation::atomics::AtomicU32 {
        &self.ring.control().tail.wake
    }

    fn is_ready(&self) -> bool {
        !self.is_empty()
    }
}
