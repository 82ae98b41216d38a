//! The fan-out ring's writing end: gating on the slowest subscriber,
//! waiting, naming the one holding it back, evicting the dead.

use super::*;

/// The writing end; it releases the role when dropped.
pub struct FanoutWriter<'a, T: Plain> {
    pub(super) ring: FanoutRing<'a, T>,
    pub(super) tail: u32,
    /// The first position it may not write until it rescans.
    pub(super) limit: u32,
    pub(super) holder: u32,
}

impl<T: Plain> fmt::Debug for FanoutWriter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FanoutWriter")
            .field("holder", &self.holder)
            .field("tail", &self.tail)
            .finish()
    }
}

impl<T: Plain> Drop for FanoutWriter<'_, T> {
    fn drop(&mut self) {
        role::release(&self.ring.control().meta.writer, self.holder);
    }
}

impl<'a, T: Plain> FanoutWriter<'a, T> {
    /// Rescans the table: the bound set by the slowest subscriber.
    fn rescan(&mut self) {
        fence(Ordering::SeqCst);
        let cap = self.ring.capacity;
        let mut limit = self.tail.wrapping_add(cap);
        for entry in &self.ring.control().subscribers {
            if entry.holder.load(Ordering::Acquire) == 0 {
                continue;
            }
            let cursor = entry.cursor.load(Ordering::Acquire);
            // Only cursors in tail − capacity ..= tail gate; others are a
            // joiner's not yet set (or junk).
            if span(self.tail, cursor, cap).is_ok() {
                let bound = cursor.wrapping_add(cap);
                if bound.wrapping_sub(self.tail) < limit.wrapping_sub(self.tail) {
                    limit = bound;
                }
            }
        }
        self.limit = limit;
    }

    /// Writes `value` if every subscriber has room; never waits. Fails
    /// with [`SendError::Full`] when the slowest has not read the element
    /// a lap back ([`FanoutWriter::slowest`] says which).
    pub fn try_send(&mut self, value: T) -> Result<(), SendError> {
        if self.tail == self.limit {
            self.rescan();
            if self.tail == self.limit {
                return Err(SendError::Full);
            }
        }
        // SAFETY: no subscriber reads this slot: every one is past the
        // element a lap back (the gating bound); a hostile one's accesses
        // meet relaxed atomic copies.
        unsafe { self.ring.write_slot(self.tail, value) };
        self.publish(1);
        Ok(())
    }

    /// Publishes the next `n` written slots to the subscribers.
    pub(super) fn publish(&mut self, n: u32) {
        if n == 0 {
            return;
        }
        self.tail = self.tail.wrapping_add(n);
        self.ring
            .control()
            .tail
            .index
            .store(self.tail, Ordering::Release);
    }

    /// Slots it may write now, at most `want` unless more are known
    /// free; rescans the table when the cached bound allows fewer.
    pub(super) fn free(&mut self, want: u32) -> u32 {
        let mut room = self.limit.wrapping_sub(self.tail);
        if room < want {
            self.rescan();
            room = self.limit.wrapping_sub(self.tail);
        }
        room
    }

    /// Writes `value`, waiting while the slowest subscriber is a lap
    /// behind (spin, yield, park until a subscriber reads) for at most
    /// `timeout`; wakes parked subscribers. When the timeout passes with
    /// a subscriber still a lap behind, fails with
    /// [`SendError::SlowSubscriber`] naming it (its holder and table
    /// index: remove it, or wait longer); with [`SendError::TimedOut`]
    /// if none is holding the writer back any more by then.
    pub fn send<W: Wait>(
        &mut self,
        value: T,
        blocking: &Blocking<W>,
        timeout: Option<Duration>,
    ) -> Result<(), SendError> {
        let ring = self.ring;
        match blocking.run(&ring.control().not_full, timeout, || {
            or_wait(self.try_send(value))
        }) {
            Ok(()) => {}
            Err(SendError::TimedOut) => return Err(self.timed_out()),
            Err(e) => return Err(e),
        }
        blocking.notify(&ring.control().tail.wake);
        Ok(())
    }

    /// The error of a send that timed out: the subscriber gating the
    /// writer now, or plain `TimedOut` if none does.
    fn timed_out(&mut self) -> SendError {
        match self.gating() {
            Some((holder, index)) => SendError::SlowSubscriber { holder, index },
            None => SendError::TimedOut,
        }
    }

    /// The subscriber a whole lap behind, which keeps the writer from
    /// writing now (after a rescan of the table): its holder id and its
    /// index in the table; `None` when the writer has room.
    pub fn gating(&mut self) -> Option<(u32, u32)> {
        if self.free(1) > 0 {
            return None;
        }
        self.slowest_entry()
            .filter(|&(_, _, lag)| lag >= self.ring.capacity)
            .map(|(index, holder, _)| (holder, index as u32))
    }

    /// The ring this writer writes.
    pub fn ring(&self) -> FanoutRing<'a, T> {
        self.ring
    }

    /// Wakes subscribers parked in [`Subscriber::recv`].
    pub fn wake_subscribers(&self, wait: &impl Wait) -> bool {
        crate::wait::event_word::notify(&self.ring.control().tail.wake, wait)
    }

    /// The subscriber holding the writer back now: its holder id and how
    /// many elements it has not read, or `None` without subscribers.
    pub fn slowest(&self) -> Option<(u32, u32)> {
        self.slowest_entry().map(|(_, holder, lag)| (holder, lag))
    }

    /// The slowest subscriber's table index, holder and lag.
    fn slowest_entry(&self) -> Option<(usize, u32, u32)> {
        let cap = self.ring.capacity;
        let mut worst = None::<(usize, u32, u32)>;
        for (i, entry) in self.ring.control().subscribers.iter().enumerate() {
            let holder = entry.holder.load(Ordering::Acquire);
            if holder == 0 {
                continue;
            }
            if let Ok(lag) = span(self.tail, entry.cursor.load(Ordering::Acquire), cap) {
                if worst.is_none_or(|(_, _, w)| lag > w) {
                    worst = Some((i, holder, lag));
                }
            }
        }
        worst
    }

    /// Removes every subscriber whose holder `is_alive` says is dead, so
    /// that it no longer holds the writer back; returns how many.
    pub fn evict(&mut self, mut is_alive: impl FnMut(u32) -> bool) -> u32 {
        let mut n = 0;
        for entry in &self.ring.control().subscribers {
            let holder = entry.holder.load(Ordering::Acquire);
            if holder != 0
                && !is_alive(holder)
                && entry
                    .holder
                    .compare_exchange(holder, 0, Ordering::Release, Ordering::Relaxed)
                    .is_ok()
            {
                n += 1;
            }
        }
        if n > 0 {
            self.rescan();
        }
        n
    }
}
