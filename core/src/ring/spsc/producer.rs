//! The producing end: pushes, batches and write chunks, and waiting for
//! room.

use super::*;

/// The producing end. Exactly one exists per ring at a time; it releases the
/// role when dropped.
pub struct Producer<'a, T> {
    ring: SpscRing<'a, T>,
    /// Elements ever pushed (wrapping); the shared tail mirrors it.
    pub(super) tail: u32,
    /// The last head read from shared memory.
    pub(super) head_cache: u32,
    holder: u32,
}

// SAFETY: the producer's state is its own; the shared state is atomic and
// the slots it writes are not read until it publishes them.
unsafe impl<T: Plain> Send for Producer<'_, T> {}

impl<T> core::fmt::Debug for Producer<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Producer")
            .field("holder", &self.holder)
            .field("tail", &self.tail)
            .finish()
    }
}

impl<'a, T: Plain> Producer<'a, T> {
    /// The producer for `holder`, who has just won the role word. Its
    /// indices are loaded (with `Acquire`: a producer that takes over must
    /// see the slots its predecessor published and the consumer's
    /// progress) and checked; if they are out of range, the role is freed
    /// and the claim fails.
    pub(super) fn new(ring: SpscRing<'a, T>, holder: u32) -> Result<Self, RoleError> {
        let Ok((tail, head_cache)) = ring.control().claim_producer(ring.capacity) else {
            role::release(&ring.control().meta.producer, holder);
            return Err(RoleError::Corrupt);
        };
        Ok(Self {
            ring,
            tail,
            head_cache,
            holder,
        })
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

    /// Free slots by the cached head; refreshes it when fewer than `want`.
    ///
    /// The cached head passed [`span`] against the tail when it was loaded
    /// (at the claim or a refresh), and the tail has since moved by at most
    /// the free slots that load showed, so `tail − head_cache <= capacity`
    /// still holds and the subtraction cannot wrap.
    #[inline(always)]
    fn free(&mut self, want: u32) -> Result<u32, Corrupt> {
        debug_assert!(self.tail.wrapping_sub(self.head_cache) <= self.ring.capacity);
        let free = self.ring.capacity - self.tail.wrapping_sub(self.head_cache);
        if free >= want {
            Ok(free)
        } else {
            self.refresh()
        }
    }

    #[inline(always)]
    fn publish(&mut self, count: u32) {
        self.tail = self.tail.wrapping_add(count);
        self.ring
            .control()
            .tail
            .index
            .store(self.tail, Ordering::Release);
    }

    /// Appends `value`, or fails with [`SendError::Full`] without blocking.
    #[inline(always)]
    pub fn try_send(&mut self, value: T) -> Result<(), SendError> {
        // Full by the cached head (`tail − head_cache` never exceeds the
        // capacity, see [`Producer::free`]): only then re-read the shared
        // head, which is checked on that load.
        if self.tail.wrapping_sub(self.head_cache) == self.ring.capacity && self.refresh()? == 0 {
            return Err(SendError::Full);
        }
        // SAFETY: the slot at `tail` is free (the consumer has released it,
        // as the Acquire load of head showed) and only this producer writes.
        unsafe { self.ring.write_slot(self.tail, value) };
        self.publish(1);
        Ok(())
    }

    /// Appends `value`, waiting while the ring is full (spin, yield, then
    /// park until the consumer frees a slot) for at most `timeout`
    /// (`None`: no limit). Wakes the consumer if it is parked. Fails with
    /// [`SendError::TimedOut`] or [`SendError::Corrupt`].
    pub fn send<W: Wait>(
        &mut self,
        value: T,
        blocking: &Blocking<W>,
        timeout: Option<core::time::Duration>,
    ) -> Result<(), SendError> {
        let ring = self.ring;
        let control = ring.control();
        blocking.run(&control.head.wake, timeout, || {
            or_wait(self.try_send(value))
        })?;
        blocking.notify(&control.tail.wake);
        Ok(())
    }

    /// Wakes the consumer if it is parked in [`Consumer::recv`]; returns
    /// whether it was (a wake syscall was made). [`Producer::send`] does
    /// this itself; call it after publishing with [`Producer::try_send`],
    /// [`Producer::try_send_slice`] or a [`WriteChunk`] when the consumer may
    /// block. Costs one load (no fence) when nobody sleeps.
    #[inline]
    pub fn wake_consumer(&self, wait: &impl Wait) -> bool {
        crate::wait::event_word::notify(&self.ring.control().tail.wake, wait)
    }

    /// Appends as many of `items` as fit, in order, with one publication;
    /// returns how many (0 when full), without waiting. Fails only with
    /// [`SendError::Corrupt`].
    pub fn try_send_slice(&mut self, items: &[T]) -> Result<usize, SendError> {
        let want = u32::try_from(items.len()).unwrap_or(u32::MAX);
        let n = self.free(want)?.min(want);
        let (first, second) = self.ring.split(self.tail, n);
        #[cfg(not(loom))]
        // SAFETY: the `n` slots from `tail` are free and ours to write (a hostile consumer's
        // accesses meet atomic stores), both runs lie inside the slot array (split stops at its
        // end), and `items` is caller memory, which cannot overlap them.
        unsafe {
            shared_copy::copy_to_shared(
                items.as_ptr(),
                self.ring.slot_ptr(self.tail),
                first as usize,
            );
            shared_copy::copy_to_shared(
                items.as_ptr().add(first as usize),
                self.ring.slot_ptr(0),
                second as usize,
            );
        }
        #[cfg(loom)]
        for (i, item) in items[..n as usize].iter().enumerate() {
            let _ = (first, second);
            // SAFETY: as above, one slot at a time.
            unsafe {
                self.ring
                    .write_slot(self.tail.wrapping_add(i as u32), *item)
            };
        }
        self.publish(n);
        Ok(n as usize)
    }

    /// Free slots now (re-reads the consumer's head).
    pub fn slots(&mut self) -> Result<u32, Corrupt> {
        self.refresh()
    }

    /// Borrows exactly `n` free slots to fill in place; publish them with
    /// [`WriteChunk::commit`]. Fails with [`ChunkError::TooFew`] (saying how
    /// many are free) rather than handing out fewer.
    pub fn reserve(&mut self, n: u32) -> Result<WriteChunk<'_, 'a, T>, ChunkError> {
        let free = self.free(n)?;
        if free < n {
            return Err(ChunkError::TooFew { available: free });
        }
        Ok(WriteChunk {
            producer: self,
            len: n,
        })
    }

    /// Elements in the ring (producer's view: exact about its own pushes,
    /// possibly stale about pops). The consumer's head is loaded and
    /// checked against this producer's tail; out of range, the ring reads
    /// as full (the next push fails with `Corrupt`).
    pub fn len(&self) -> u32 {
        let capacity = self.ring.capacity;
        self.ring
            .control()
            .load_head(self.tail, capacity)
            .map_or(capacity, |(_, free)| capacity - free)
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

    /// The ring this producer writes.
    pub fn ring(&self) -> SpscRing<'a, T> {
        self.ring
    }
}

impl<T> Drop for Producer<'_, T> {
    fn drop(&mut self) {
        role::release(&self.ring.control().meta.producer, self.holder);
    }
}

/// Free slots borrowed from a [`Producer`]. Nothing is visible to the
/// consumer until [`WriteChunk::commit`]; dropping the chunk publishes
/// nothing.
pub struct WriteChunk<'p, 'a, T> {
    producer: &'p mut Producer<'a, T>,
    len: u32,
}

impl<T: Plain> WriteChunk<'_, '_, T> {
    /// Slots in the chunk.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Whether the chunk has no slots.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes slot `i` of the chunk, with atomic stores (sound even if a
    /// hostile consumer accesses the slot).
    ///
    /// # Panics
    ///
    /// If `i >= self.len()`, like slice indexing.
    pub fn set(&mut self, i: u32, value: T) {
        assert!(
            i < self.len,
            "chunk index {i} out of range ({} slots)",
            self.len
        );
        let index = self.producer.tail.wrapping_add(i);
        // SAFETY: the slot is free and owned by this producer until commit.
        unsafe { self.producer.ring.write_slot(index, value) };
    }

    /// The chunk as two slices (the second non-empty only when the chunk
    /// wraps past the end of the buffer). Their contents are whatever the
    /// slots held before: overwrite what you commit.
    ///
    /// A view into shared memory: sound only while the consumer cooperates
    /// (it does not read or write unpublished slots). A hostile consumer
    /// that writes them while the slice is held causes a data race; with an
    /// untrusted peer use [`WriteChunk::set`] or [`Producer::try_send_slice`]
    /// (see the module docs, "Copies and views").
    #[cfg(not(loom))]
    pub fn as_mut_slices(&mut self) -> (&mut [T], &mut [T]) {
        let ring = self.producer.ring;
        let (first, second) = ring.split(self.producer.tail, self.len);
        // SAFETY: both runs are free slots inside the buffer, owned by this
        // producer until commit, disjoint, and initialised (every bit
        // pattern is a valid `T: Plain`); `&mut self` keeps them unique.
        unsafe {
            (
                core::slice::from_raw_parts_mut(ring.slot_ptr(self.producer.tail), first as usize),
                core::slice::from_raw_parts_mut(ring.slot_ptr(0), second as usize),
            )
        }
    }

    /// Publishes the first `n` slots of the chunk (at most its length) to
    /// the consumer.
    pub fn commit(self, n: u32) {
        let n = n.min(self.len);
        self.producer.publish(n);
    }

    /// Publishes the whole chunk.
    pub fn commit_all(self) {
        let n = self.len;
        self.producer.publish(n);
    }
}

/// A producer is ready when a slot is free (or the consumer's index is out
/// of range, which [`Producer::try_send`] then reports).
impl<T: Plain> crate::wait::wait_set::Source for Producer<'_, T> {
    fn event_word(&self) -> &crate::foundation::atomics::AtomicU32 {
        &self.ring.control().head.wake
    }

    fn is_ready(&self) -> bool {
        let capacity = self.ring.capacity;
        self.ring
            .control()
            .load_head(self.tail, capacity)
            .map_or(true, |(_, free)| free > 0)
    }
}
