//! The fan-out ring's reading end: one entry of the subscriber table.

use super::*;

/// A subscriber: an entry of the table; it leaves when dropped.
pub struct Subscriber<'a, T: Plain> {
    pub(super) ring: FanoutRing<'a, T>,
    pub(super) index: usize,
    pub(super) cursor: u32,
    pub(super) tail_cache: u32,
    pub(super) holder: u32,
}

impl<T: Plain> fmt::Debug for Subscriber<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriber")
            .field("index", &self.index)
            .field("holder", &self.holder)
            .field("cursor", &self.cursor)
            .finish()
    }
}

impl<T: Plain> Drop for Subscriber<'_, T> {
    fn drop(&mut self) {
        let _ = self.ring.control().subscribers[self.index]
            .holder
            .compare_exchange(self.holder, 0, Ordering::Release, Ordering::Relaxed);
    }
}

impl<'a, T: Plain> Subscriber<'a, T> {
    /// Its entry in the table.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The ring this subscriber reads.
    pub fn ring(&self) -> FanoutRing<'a, T> {
        self.ring
    }

    /// Whether its entry still records its holder: `false` once an
    /// evictor removed it (it was judged dead). It then no longer holds
    /// the writer back, and what it receives may have been overwritten.
    pub fn is_member(&self) -> bool {
        self.ring.control().subscribers[self.index]
            .holder
            .load(Ordering::Relaxed)
            == self.holder
    }

    /// Receives the next element without waiting. Fails with
    /// [`RecvError::Empty`], or [`RecvError::Corrupt`] if the tail says
    /// more than a lap is unread.
    pub fn try_recv(&mut self) -> Result<T, RecvError> {
        if self.tail_cache == self.cursor {
            let tail = self.ring.control().tail.index.load(Ordering::Acquire);
            span(tail, self.cursor, self.ring.capacity)?;
            self.tail_cache = tail;
            if tail == self.cursor {
                return Err(RecvError::Empty);
            }
        }
        // SAFETY: the element is published (tail loaded with Acquire) and
        // the writer does not overwrite it before our cursor passes it.
        let value = unsafe { self.ring.read_slot(self.cursor) };
        self.release_slots(1);
        Ok(value)
    }

    /// Moves the cursor past `n` received elements, freeing their slots
    /// for the writer as far as this subscriber is concerned.
    pub(super) fn release_slots(&mut self, n: u32) {
        if n == 0 {
            return;
        }
        self.cursor = self.cursor.wrapping_add(n);
        self.ring.control().subscribers[self.index]
            .cursor
            .store(self.cursor, Ordering::Release);
    }

    /// Elements ready now, reloading the tail when the cached one shows
    /// fewer than `want`.
    pub(super) fn ready(&mut self, want: u32) -> Result<u32, Corrupt> {
        let mut ready = self.tail_cache.wrapping_sub(self.cursor);
        if ready < want {
            let tail = self.ring.control().tail.index.load(Ordering::Acquire);
            ready = span(tail, self.cursor, self.ring.capacity)?;
            self.tail_cache = tail;
        }
        Ok(ready)
    }

    /// Receives the next element, waiting for at most `timeout`; wakes
    /// the writer if it is parked.
    pub fn recv<W: Wait>(
        &mut self,
        blocking: &Blocking<W>,
        timeout: Option<Duration>,
    ) -> Result<T, RecvError> {
        let ring = self.ring;
        let v = blocking.run(&ring.control().tail.wake, timeout, || {
            or_wait(self.try_recv())
        })?;
        blocking.notify(&ring.control().not_full);
        Ok(v)
    }

    /// Wakes the writer if it is parked in [`FanoutWriter::send`].
    pub fn wake_writer(&self, wait: &impl Wait) -> bool {
        crate::wait::event_word::notify(&self.ring.control().not_full, wait)
    }
}
