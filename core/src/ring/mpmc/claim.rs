//! The claim loop (see [Protocol](super#protocol)) and the
//! operations that never wait, built on it.

use super::*;
use crate::ring::shared_copy;

impl<'a, T: Plain> MpmcRing<'a, T> {
    /// Appends `value`, or fails without blocking: [`SendError::Full`], or
    /// [`SendError::Stalled`] after [`DEFAULT_SPIN_LIMIT`] polls of a slot a
    /// consumer is still reading.
    #[inline]
    pub fn try_send(&self, value: T) -> Result<(), SendError> {
        self.try_send_spinning(value, DEFAULT_SPIN_LIMIT)
    }

    /// [`MpmcRing::try_send`] with a chosen number of polls before it reports
    /// `Stalled` (0: report at once).
    #[inline]
    pub fn try_send_spinning(&self, value: T, spin_limit: u32) -> Result<(), SendError> {
        let (pos, _) = self.claim(Side::Push, 1, spin_limit)?;
        self.write_and_publish(pos, value);
        Ok(())
    }

    /// Appends the longest prefix of `items` that finds free slots, claiming
    /// them with one compare-exchange, without waiting; returns how many
    /// (0 when the ring is full). Fails with [`SendError::Stalled`] or
    /// [`SendError::Corrupt`] as [`MpmcRing::try_send`] does.
    pub fn try_send_slice(&self, items: &[T]) -> Result<usize, SendError> {
        if items.is_empty() {
            return Ok(0);
        }
        let want = u32::try_from(items.len()).unwrap_or(u32::MAX);
        let (pos, n) = match self.claim(Side::Push, want, DEFAULT_SPIN_LIMIT) {
            Ok(claimed) => claimed,
            Err(Blocked::Idle) => return Ok(0),
            Err(other) => return Err(other.into()),
        };
        for (i, item) in items[..n as usize].iter().enumerate() {
            self.write_and_publish(pos.wrapping_add(i as u32), *item);
        }
        Ok(n as usize)
    }

    /// Removes the oldest element, or fails without blocking:
    /// [`RecvError::Empty`], or [`RecvError::Stalled`] after
    /// [`DEFAULT_SPIN_LIMIT`] polls of a position whose producer has not
    /// published it.
    #[inline]
    pub fn try_recv(&self) -> Result<T, RecvError> {
        self.try_recv_spinning(DEFAULT_SPIN_LIMIT)
    }

    /// [`MpmcRing::try_recv`] with a chosen number of polls before it reports
    /// `Stalled` (0: report at once).
    #[inline]
    pub fn try_recv_spinning(&self, spin_limit: u32) -> Result<T, RecvError> {
        let (pos, _) = self.claim(Side::Pop, 1, spin_limit)?;
        Ok(self.take_and_release(pos))
    }

    /// Removes up to `out.len()` of the oldest elements into `out`, in order,
    /// claiming the published run from the head with one compare-exchange,
    /// without waiting; returns how many (0 when the ring is empty). Fails
    /// with [`RecvError::Stalled`] or [`RecvError::Corrupt`] as
    /// [`MpmcRing::try_recv`] does.
    pub fn try_recv_slice(&self, out: &mut [T]) -> Result<usize, RecvError> {
        if out.is_empty() {
            return Ok(0);
        }
        let want = u32::try_from(out.len()).unwrap_or(u32::MAX);
        let (pos, n) = match self.claim(Side::Pop, want, DEFAULT_SPIN_LIMIT) {
            Ok(claimed) => claimed,
            Err(Blocked::Idle) => return Ok(0),
            Err(other) => return Err(other.into()),
        };
        for (i, o) in out[..n as usize].iter_mut().enumerate() {
            *o = self.take_and_release(pos.wrapping_add(i as u32));
        }
        Ok(n as usize)
    }

    /// Claims the next position to push and abandons it, as a producer
    /// killed between claim and publish would: for tests of stall recovery.
    #[doc(hidden)]
    pub fn abandon_send(&self) -> Result<u32, SendError> {
        Ok(self.claim(Side::Push, 1, 0)?.0)
    }

    /// Claims the next position to pop and abandons it, as a consumer killed
    /// between claim and release would: for tests of stall recovery.
    #[doc(hidden)]
    pub fn abandon_recv(&self) -> Result<u32, RecvError> {
        Ok(self.claim(Side::Pop, 1, 0)?.0)
    }

    /// Claims up to `max` consecutive positions that are ready for `side`
    /// (free slots to push, published ones to pop), returning the first and
    /// how many (at least 1).
    ///
    /// Every loop here is bounded: polling a peer's unfinished claim by
    /// `spin_limit`, retries after others moved the index by
    /// [`MAX_LOST_RACES`], the run of ready slots by the capacity.
    #[inline]
    pub(super) fn claim(
        &self,
        side: Side,
        max: u32,
        spin_limit: u32,
    ) -> Result<(u32, u32), Blocked> {
        let c = self.control();
        let cap = self.capacity;
        // `lag`: a slot is ready for position `p` when its seq is `p + lag`.
        let (mine, theirs, lag) = match side {
            Side::Push => (&c.tail.index, &c.head.index, 0),
            Side::Pop => (&c.head.index, &c.tail.index, 1),
        };
        let max = max.min(cap);
        let mut pos = mine.load(Ordering::Acquire);
        let mut spins = 0;
        let mut races = 0;
        loop {
            // Acquire: a ready slot's previous owner finished with it (wrote
            // the value, or read it) before its Release store of `seq`.
            let seq = self.slot(pos).seq.load(Ordering::Acquire);
            let diff = seq.wrapping_sub(pos.wrapping_add(lag)) as i32;
            if diff == 0 {
                let mut n = 1;
                while n < max
                    && self.slot(pos.wrapping_add(n)).seq.load(Ordering::Acquire)
                        == pos.wrapping_add(n + lag)
                {
                    n += 1;
                }
                // The checked slots stay ready until someone claims their
                // positions, which needs this index to move past them first.
                // Slots change hands through `seq` alone; AcqRel here (and
                // Acquire on every index load) only makes the indices tell a
                // consistent story to the range checks below: whoever reads
                // an index also sees every index move that led to it.
                match mine.compare_exchange(
                    pos,
                    pos.wrapping_add(n),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return Ok((pos, n)),
                    Err(now) => pos = now,
                }
            } else {
                let now = mine.load(Ordering::Acquire);
                if now != pos {
                    pos = now; // our index was stale: someone claimed `pos`
                } else if diff > 0 {
                    // The slot has moved past `pos`, which only a claim of
                    // `pos` could do; that claim would have moved the index
                    // (it happened before the seq we acquired).
                    return Err(Blocked::Corrupt);
                } else {
                    // The slot is still a lap behind `pos`.
                    let other = theirs.load(Ordering::Acquire);
                    let (idle, busy, stalled_at) = match side {
                        // `used` elements are claimed for pushing or popping.
                        Side::Push => {
                            let used = pos.wrapping_sub(other);
                            (used == cap, used < cap, pos.wrapping_sub(cap))
                        }
                        // `ahead` positions are claimed by producers.
                        Side::Pop => {
                            let ahead = other.wrapping_sub(pos);
                            (ahead == 0, ahead <= cap, pos)
                        }
                    };
                    if idle {
                        return Err(Blocked::Idle);
                    }
                    if busy {
                        // A peer claimed the slot and is not done with it:
                        // wait for its sequence word to change, polling
                        // that word alone. Re-reading the indices on every
                        // poll would take the other side's index line from
                        // it each time, slowing the very claimant (and its
                        // next compare-exchange) this loop waits for.
                        let slot = self.slot(pos);
                        loop {
                            if spins >= spin_limit {
                                return Err(Blocked::Stalled(stalled_at));
                            }
                            spins += 1;
                            spin_loop();
                            if slot.seq.load(Ordering::Acquire) != seq {
                                break;
                            }
                        }
                        continue;
                    }
                    // The other index is out of range for `pos`: fine only if
                    // `pos` went stale meanwhile.
                    let again = mine.load(Ordering::Acquire);
                    if again == pos {
                        return Err(Blocked::Corrupt);
                    }
                    pos = again;
                }
            }
            // Someone else moved the index: progress, so the spin starts over.
            spins = 0;
            races += 1;
            if races > MAX_LOST_RACES {
                return Err(Blocked::Stalled(pos));
            }
        }
    }

    /// Writes the value of claimed position `pos` and publishes it.
    #[inline(always)]
    pub(super) fn write_and_publish(&self, pos: u32, value: T) {
        let slot = self.slot(pos);
        let value_cell = &slot.value;
        // SAFETY: claim() gave us `pos`, whose slot was free (its previous consumer released it
        // before the seq we acquired); no one else touches the value until the Release below.
        value_cell.with_mut(|p| unsafe { shared_copy::store(p, value) });
        slot.seq.store(pos.wrapping_add(1), Ordering::Release);
    }

    /// Reads the value of claimed position `pos` and frees its slot for the
    /// next lap.
    #[inline(always)]
    pub(super) fn take_and_release(&self, pos: u32) -> T {
        let slot = self.slot(pos);
        // SAFETY: claim() gave us `pos`, whose slot was published (its
        // producer wrote the value before the seq we acquired); no producer
        // writes it until our Release store below.
        let value = slot.value.with(|p| unsafe { shared_copy::load(p) });
        slot.seq
            .store(pos.wrapping_add(self.capacity), Ordering::Release);
        value
    }
}

impl<T> MpmcRing<'_, T> {
    /// Whether the element at the head looks published: a hint for a
    /// consumer that polls while it waits (`while !ring.recv_ready() {
    /// spin }`, then [`MpmcRing::try_recv`]).
    ///
    /// It reads the head and that slot's sequence word, never the tail.
    /// [`MpmcRing::try_recv`] on an empty ring must read the tail (to tell
    /// `Empty` from a producer's unfinished claim), and a consumer that
    /// polls it takes the tail's cache line from the producers on every
    /// poll, so that each push's compare-exchange of the tail waits for
    /// the line to come back. This poll shares only the slot's line, which
    /// the element has to travel through anyway.
    ///
    /// `true` does not promise that a pop succeeds (another consumer may
    /// take the element first), and `false` does not tell `Empty` from a
    /// stalled producer: call [`MpmcRing::try_recv`] now and then (or
    /// before parking) to learn of a stall.
    #[inline]
    pub fn recv_ready(&self) -> bool {
        let pos = self.control().head.index.load(Ordering::Relaxed);
        self.slot(pos).seq.load(Ordering::Relaxed) == pos.wrapping_add(1)
    }

    /// Whether the slot at the tail looks free: the producers' hint, as
    /// [`MpmcRing::recv_ready`] is the consumers' (it reads the tail and
    /// that slot's sequence word, never the head).
    #[inline]
    pub fn send_ready(&self) -> bool {
        let pos = self.control().tail.index.load(Ordering::Relaxed);
        self.slot(pos).seq.load(Ordering::Relaxed) == pos
    }
}
