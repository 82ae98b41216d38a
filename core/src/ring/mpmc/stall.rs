//! Recovering a position whose claimant stopped (see
//! [Crashed and hostile peers](super#crashed-and-hostile-peers)).

use super::*;

impl<'a, T: Plain> MpmcRing<'a, T> {
    /// Moves the ring past a claim whose owner will never finish it, at the
    /// `position` a `Stalled` error named:
    ///
    /// - a producer claimed `position` and has not published it, and
    ///   consumers wait there: the position is consumed as a hole (its
    ///   element, never written, is lost). Should the producer publish after
    ///   all in the instant before the hole is made, its element is
    ///   returned instead, as a pop would: `Ok(Some(value))`.
    /// - a consumer claimed `position` and has not released its slot: the
    ///   slot is released for the next lap (the element is lost unless the
    ///   consumer got it).
    ///
    /// Returns `Ok(None)` when it skipped, and [`NotStalled`] (changing
    /// nothing) when `position` is in neither state — the claimant finished
    /// or someone else skipped it first, so racing skippers are harmless.
    ///
    /// Only skip a claimant known to be dead, or one stalled far longer than
    /// any live process could be (see the module docs): a live one that is
    /// skipped goes on to write its slot, losing or garbling an element.
    pub fn skip_stalled(&self, position: u32) -> Result<Option<T>, NotStalled> {
        let c = self.control();
        let slot = self.slot(position);
        let not_stalled = Err(NotStalled { position });
        let seq = slot.seq.load(Ordering::Acquire);
        if seq == position {
            // Free for `position`: stalled only if a producer has claimed it.
            let claimed = c.tail.index.load(Ordering::Acquire).wrapping_sub(position);
            if claimed == 0 || claimed > self.capacity {
                return not_stalled;
            }
            // Take the consumers' side of `position`; fails unless they are
            // all waiting there.
            let next = position.wrapping_add(1);
            if c.head
                .index
                .compare_exchange(position, next, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
            {
                return not_stalled;
            }
            // Only the claimant can still change `seq`: from `position` to
            // `position + 1`. Release the slot to the next lap unless it did.
            let lap = position.wrapping_add(self.capacity);
            match slot
                .seq
                .compare_exchange(position, lap, Ordering::Release, Ordering::Acquire)
            {
                Ok(_) => Ok(None),
                Err(now) if now == next => Ok(Some(self.take_and_release(position))),
                Err(_) => {
                    // Garbage: give the slot to the next lap regardless.
                    slot.seq.store(lap, Ordering::Release);
                    Ok(None)
                }
            }
        } else if seq == position.wrapping_add(1) {
            // Published: stalled only if a consumer has claimed it.
            let taken = c.head.index.load(Ordering::Acquire).wrapping_sub(position);
            if taken == 0 || taken > self.capacity {
                return not_stalled;
            }
            // A late release by the claimant stores the same value: harmless.
            slot.seq
                .compare_exchange(
                    seq,
                    position.wrapping_add(self.capacity),
                    Ordering::Release,
                    Ordering::Relaxed,
                )
                .map(|_| None)
                .map_err(|_| NotStalled { position })
        } else {
            not_stalled
        }
    }
}
