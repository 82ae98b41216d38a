//! References: sharing a block, accepting a handle, releasing, and taking
//! back what dead holders held.

use super::*;

/// What [`Pool::reclaim`] took back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reclaimed {
    /// Holder words freed (references and loans of dead holders).
    pub references: u32,
    /// Blocks that were left with no holder by it (free again).
    pub blocks: u32,
}

/// The pool's blocks counted at some moment during [`Pool::census`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Census {
    /// Blocks with no holder.
    pub free: u32,
    /// Holder words in use (loans, references held, addressed and in
    /// flight).
    pub references: u32,
    /// References sent to whoever accepts them first, not yet accepted.
    pub in_flight: u32,
    /// References addressed to a holder, not yet accepted.
    pub addressed: u32,
}

impl<'a> Pool<'a> {
    /// Checks `handle` against the block it names: index in range, length
    /// within the block, generation current. Returns the record.
    fn checked(&self, handle: &Handle) -> Result<&Record, HandleError> {
        let r = self.record(handle.index)?;
        if handle.len > self.geometry.block_size {
            return Err(HandleError::BadLength {
                len: handle.len,
                expected: self.geometry.block_size,
            });
        }
        let current = r.generation.load(Ordering::Acquire);
        if current != handle.generation {
            return Err(HandleError::Stale {
                handle: handle.generation,
                current,
            });
        }
        Ok(r)
    }

    /// Adds a reference to `handle`'s block for `to`, on behalf of `by`,
    /// who must hold the block (a loan or an accepted sample); the
    /// handle's holder (the recipient, or `by` for [`Recipient::Anyone`])
    /// is recorded, so the reference comes back if that holder dies. Call
    /// it before sending the handle.
    pub fn share(&self, handle: &Handle, by: Holder, to: Recipient) -> Result<(), HandleError> {
        self.add_reference(handle, by, to)
    }

    pub(super) fn add_reference(
        &self,
        handle: &Handle,
        by: Holder,
        to: Recipient,
    ) -> Result<(), HandleError> {
        let value = match to {
            Recipient::Holder(h) => h.get() | ADDRESSED,
            Recipient::Anyone => by.get() | IN_FLIGHT,
        };
        let r = self.checked(handle)?;
        if !r
            .holders
            .iter()
            .any(|w| w.load(Ordering::Relaxed) == by.get())
        {
            return Err(HandleError::NotHeld { holder: by });
        }
        for w in &r.holders[1..] {
            // Release: the block's bytes and its length are visible to the
            // accepter that takes this word (Acquire).
            if w.compare_exchange(0, value, Ordering::Release, Ordering::Relaxed)
                .is_ok()
            {
                return Ok(());
            }
        }
        Err(HandleError::TooManyHolders)
    }

    /// Accepts `handle` for `holder`: checks it (index, length against the
    /// block size and the recorded length, generation) and takes a
    /// reference shared for `holder` — one addressed to it, else one in
    /// flight — then checks the generation again. The [`Sample`] reads the
    /// block in place and releases the reference when dropped.
    ///
    /// Bounded: one pass over the block's holder words for each kind of
    /// reference, one compare-exchange a word.
    pub fn accept(&self, handle: &Handle, holder: Holder) -> Result<Sample<'a>, HandleError> {
        let id = holder.get();
        let r = self.checked(handle)?;
        // Acquire: a length stored by a later life (its lender stores it
        // with Release after the new generation) makes the generation
        // loaded again below the new one, so a handle of an earlier life
        // reads as stale, not as a bad length.
        let recorded = r.len.load(Ordering::Acquire);
        if recorded != handle.len {
            let current = r.generation.load(Ordering::Acquire);
            if current != handle.generation {
                return Err(HandleError::Stale {
                    handle: handle.generation,
                    current,
                });
            }
            return Err(HandleError::BadLength {
                len: handle.len,
                expected: recorded,
            });
        }
        let addressed = id | ADDRESSED;
        let mut taken = None;
        for (i, w) in r.holders.iter().enumerate().skip(1) {
            if w.compare_exchange(addressed, id, CLAIM, Ordering::Relaxed)
                .is_ok()
            {
                taken = Some((i, addressed));
                break;
            }
        }
        if taken.is_none() {
            for (i, w) in r.holders.iter().enumerate().skip(1) {
                let v = w.load(Ordering::Relaxed);
                if v & IN_FLIGHT != 0 && w.compare_exchange(v, id, CLAIM, Ordering::Relaxed).is_ok()
                {
                    taken = Some((i, v));
                    break;
                }
            }
        }
        let Some((word, was)) = taken else {
            return Err(HandleError::NotShared);
        };
        // The block may have been freed and lent again between the first
        // check and the claim: then the reference taken belongs to the
        // new life. Give it back as it was and refuse the handle.
        let current = r.generation.load(Ordering::Acquire);
        if current != handle.generation {
            let _ = r.holders[word].compare_exchange(id, was, Ordering::Release, Ordering::Relaxed);
            return Err(HandleError::Stale {
                handle: handle.generation,
                current,
            });
        }
        Ok(Sample::new(*self, *handle, holder, word))
    }

    /// Releases one reference `holder` holds to `handle`'s block (a
    /// [`Sample::keep`]t one, or a loan's); the last release frees the
    /// block. [`HandleError::NotHeld`] when it holds none: released twice,
    /// or taken back by a reclaim. Wake blocked loaners afterwards
    /// ([`Pool::wake_loaners`]).
    pub fn release(&self, handle: &Handle, holder: Holder) -> Result<(), HandleError> {
        let r = self.checked(handle)?;
        // References first, the lender word last.
        let words = r.holders[1..].iter().chain(&r.holders[..1]);
        for w in words {
            if w.compare_exchange(holder.get(), 0, Ordering::Release, Ordering::Relaxed)
                .is_ok()
            {
                return Ok(());
            }
        }
        Err(HandleError::NotHeld { holder })
    }

    /// Takes back every holder word whose holder `is_alive` judges dead:
    /// loans and references a dead holder held, references addressed to
    /// it, and references it sent to whoever would accept them (their
    /// handles then read as [`HandleError::NotShared`] or stale). A word
    /// holding no id at all (only flag bits: written by no honest party)
    /// is taken back too. Each distinct holder is judged once per call
    /// (up to 8 remembered). Wake blocked loaners afterwards
    /// ([`Pool::wake_loaners`]).
    ///
    /// Bounded: one pass over every record's words, one compare-exchange
    /// a word. A holder wrongly judged dead loses its hold (the contents
    /// it reads may change under it, never its bounds): judge with the
    /// liveness rule, which never calls a live process dead.
    pub fn reclaim(&self, mut is_alive: impl FnMut(u32) -> bool) -> Reclaimed {
        const MEMO: usize = 8;
        let mut memo = [(0u32, false); MEMO];
        let mut next = 0usize;
        let mut judge = |id: u32| -> bool {
            if id == 0 {
                return false;
            }
            if let Some(&(_, alive)) = memo.iter().find(|(h, _)| *h == id) {
                return alive;
            }
            let alive = is_alive(id);
            memo[next] = (id, alive);
            next = (next + 1) % MEMO;
            alive
        };
        let mut out = Reclaimed::default();
        for index in 0..self.geometry.blocks {
            let Ok(r) = self.record(index) else { break };
            let mut freed_here = false;
            for w in &r.holders {
                let v = w.load(Ordering::Acquire);
                if v == 0 || judge(v & HOLDER_MASK) {
                    continue;
                }
                if w.compare_exchange(v, 0, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
                {
                    out.references += 1;
                    freed_here = true;
                }
            }
            if freed_here && r.holders.iter().all(|w| w.load(Ordering::Relaxed) == 0) {
                out.blocks += 1;
            }
        }
        out
    }

    /// Counts free blocks and references, at some moment during the call
    /// (a snapshot; bounded: one pass).
    pub fn census(&self) -> Census {
        let mut c = Census::default();
        for index in 0..self.geometry.blocks {
            let Ok(r) = self.record(index) else { break };
            let mut any = false;
            for w in &r.holders {
                let v = w.load(Ordering::Relaxed);
                if v == 0 {
                    continue;
                }
                any = true;
                c.references += 1;
                if v & IN_FLIGHT != 0 {
                    c.in_flight += 1;
                } else if v & ADDRESSED != 0 {
                    c.addressed += 1;
                }
            }
            if !any {
                c.free += 1;
            }
        }
        c
    }

    /// The holder words of block `index` as they are now (raw, untrusted:
    /// for inspectors and tests), or `OutOfRange`.
    pub fn holders(&self, index: u32) -> Result<[u32; HOLDER_WORDS], HandleError> {
        let r = self.record(index)?;
        Ok(core::array::from_fn(|i| {
            r.holders[i].load(Ordering::Relaxed)
        }))
    }

    /// Block `index`'s generation as it is now (raw), or `OutOfRange`.
    pub fn generation(&self, index: u32) -> Result<u32, HandleError> {
        Ok(self.record(index)?.generation.load(Ordering::Acquire))
    }
}
