//! The fan-out ring's batch and zero-copy forms, as on the SPSC ring:
//! [`FanoutWriter::try_send_slice`] and [`FanoutWriter::reserve`] →
//! [`WriteChunk::commit`]; [`Subscriber::try_recv_slice`] and
//! [`Subscriber::peek`] → [`ReadChunk::release`]. A subscriber's peeked
//! elements gate the writer until they are released, exactly as unread
//! ones do.

use super::*;
use crate::ring::ChunkError;

impl<'a, T: Plain> FanoutWriter<'a, T> {
    /// Appends as many of `items` as every subscriber has room for, in
    /// order, with one publication; returns how many (0 when the slowest
    /// subscriber is a lap behind), without waiting. Wakes nobody: call
    /// [`FanoutWriter::wake_subscribers`] after it when subscribers may
    /// park. Never fails today (the `Result` is the verb scheme's).
    pub fn try_send_slice(&mut self, items: &[T]) -> Result<usize, SendError> {
        let want = u32::try_from(items.len()).unwrap_or(u32::MAX);
        let n = self.free(want).min(want);
        let (first, second) = self.ring.split(self.tail, n);
        #[cfg(not(loom))]
        // SAFETY: the `n` slots from `tail` are a lap past every cursor (the gating bound): ours
        // to write (a hostile subscriber meets atomic stores); both runs lie inside the slots
        // (split stops at their end); `items` is caller memory, which cannot overlap them.
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

    /// Slots it may write now (rescans the table when the cached bound
    /// shows none).
    pub fn slots(&mut self) -> u32 {
        self.free(1)
    }

    /// Borrows exactly `n` writable slots to fill in place; publish them
    /// with [`WriteChunk::commit`]. Fails with [`ChunkError::TooFew`]
    /// (saying how many are writable) rather than handing out fewer.
    pub fn reserve(&mut self, n: u32) -> Result<WriteChunk<'_, 'a, T>, ChunkError> {
        let free = self.free(n);
        if free < n {
            return Err(ChunkError::TooFew { available: free });
        }
        Ok(WriteChunk {
            writer: self,
            len: n,
        })
    }
}

/// Writable slots borrowed from a [`FanoutWriter`]. No subscriber sees
/// them until [`WriteChunk::commit`]; dropping the chunk publishes
/// nothing.
pub struct WriteChunk<'w, 'a, T: Plain> {
    writer: &'w mut FanoutWriter<'a, T>,
    len: u32,
}

impl<T: Plain> fmt::Debug for WriteChunk<'_, '_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteChunk")
            .field("len", &self.len)
            .finish()
    }
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
    /// hostile subscriber reads the slot).
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
        let position = self.writer.tail.wrapping_add(i);
        // SAFETY: the slot is past every subscriber by a lap (reserve
        // checked the bound) and unpublished until commit.
        unsafe { self.writer.ring.write_slot(position, value) };
    }

    /// The chunk as two slices (the second non-empty only when the chunk
    /// wraps past the end of the buffer). Their contents are whatever the
    /// slots held before: overwrite what you commit.
    ///
    /// A view into shared memory: sound only while the subscribers
    /// cooperate (none reads an unpublished slot; a subscriber evicted
    /// while it lived may still read an old one). With untrusted
    /// subscribers use [`WriteChunk::set`] or
    /// [`FanoutWriter::try_send_slice`].
    #[cfg(not(loom))]
    pub fn as_mut_slices(&mut self) -> (&mut [T], &mut [T]) {
        let ring = self.writer.ring;
        let (first, second) = ring.split(self.writer.tail, self.len);
        // SAFETY: both runs are writable slots inside the buffer, owned by
        // this writer until commit, disjoint, and initialised (every bit
        // pattern is a valid `T: Plain`); `&mut self` keeps them unique.
        unsafe {
            (
                core::slice::from_raw_parts_mut(ring.slot_ptr(self.writer.tail), first as usize),
                core::slice::from_raw_parts_mut(ring.slot_ptr(0), second as usize),
            )
        }
    }

    /// Publishes the first `n` slots of the chunk (at most its length).
    pub fn commit(self, n: u32) {
        let n = n.min(self.len);
        self.writer.publish(n);
    }

    /// Publishes the whole chunk.
    pub fn commit_all(self) {
        let n = self.len;
        self.writer.publish(n);
    }
}

impl<'a, T: Plain> Subscriber<'a, T> {
    /// Copies up to `out.len()` elements into `out`, in order, with one
    /// cursor store; returns how many (0 when none is ready), without
    /// waiting. Wakes nobody: call [`Subscriber::wake_writer`] after it
    /// when the writer may park. Fails only with [`RecvError::Corrupt`].
    pub fn try_recv_slice(&mut self, out: &mut [T]) -> Result<usize, RecvError> {
        let want = u32::try_from(out.len()).unwrap_or(u32::MAX);
        let n = self.ready(want)?.min(want);
        let (first, second) = self.ring.split(self.cursor, n);
        #[cfg(not(loom))]
        // SAFETY: the `n` elements from the cursor are published (tail Acquire-loaded, checked)
        // and not overwritten before the cursor passes them (a hostile writer meets atomic loads);
        // both runs lie inside the buffer; `out` is a unique borrow of caller memory.
        unsafe {
            shared_copy::copy_from_shared(
                self.ring.slot_ptr(self.cursor),
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
            *o = unsafe { self.ring.read_slot(self.cursor.wrapping_add(i as u32)) };
        }
        self.release_slots(n);
        Ok(n as usize)
    }

    /// Elements ready now (reloads the tail).
    pub fn slots(&mut self) -> Result<u32, Corrupt> {
        self.ready(u32::MAX)
    }

    /// Borrows exactly `n` ready elements to read in place; they keep
    /// holding the writer back until [`ReadChunk::release`]. Fails with
    /// [`ChunkError::TooFew`] (saying how many are ready) rather than
    /// handing out fewer.
    pub fn peek(&mut self, n: u32) -> Result<ReadChunk<'_, 'a, T>, ChunkError> {
        let ready = self.ready(n)?;
        if ready < n {
            return Err(ChunkError::TooFew { available: ready });
        }
        Ok(ReadChunk {
            subscriber: self,
            len: n,
        })
    }
}

/// Ready elements borrowed from a [`Subscriber`]. They stay unread (and
/// gate the writer) until [`ReadChunk::release`]; dropping the chunk
/// releases nothing.
pub struct ReadChunk<'s, 'a, T: Plain> {
    subscriber: &'s mut Subscriber<'a, T>,
    len: u32,
}

impl<T: Plain> fmt::Debug for ReadChunk<'_, '_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadChunk").field("len", &self.len).finish()
    }
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
    /// hostile writer overwrites the slot: the value is then junk).
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
        let position = self.subscriber.cursor.wrapping_add(i);
        // SAFETY: the element is published and not released yet.
        unsafe { self.subscriber.ring.read_slot(position) }
    }

    /// The chunk as two slices (the second non-empty only when the chunk
    /// wraps past the end of the buffer).
    ///
    /// A view into shared memory: sound only while the writer cooperates
    /// (it does not overwrite unreleased elements — which it does not
    /// while this subscriber is in the table; an evictor that misjudged
    /// it dead breaks this). With an untrusted writer or evictor use
    /// [`ReadChunk::get`] or [`Subscriber::try_recv_slice`].
    #[cfg(not(loom))]
    pub fn as_slices(&self) -> (&[T], &[T]) {
        let ring = self.subscriber.ring;
        let (first, second) = ring.split(self.subscriber.cursor, self.len);
        // SAFETY: both runs are published, unreleased slots inside the
        // buffer; the writer does not overwrite them until release.
        unsafe {
            (
                core::slice::from_raw_parts(ring.slot_ptr(self.subscriber.cursor), first as usize),
                core::slice::from_raw_parts(ring.slot_ptr(0), second as usize),
            )
        }
    }

    /// Releases the first `n` elements of the chunk (at most its length).
    pub fn release(self, n: u32) {
        let n = n.min(self.len);
        self.subscriber.release_slots(n);
    }

    /// Releases the whole chunk.
    pub fn release_all(self) {
        let n = self.len;
        self.subscriber.release_slots(n);
    }
}
