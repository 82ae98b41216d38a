//! Lending a block: the scan for a free record, the blocking form, and the
//! count of who holds the blocks when none is free.

use core::time::Duration;

use super::*;
use crate::wait::blocking::Blocking;
use crate::wait::{Expired, Wait};

impl<'a> Pool<'a> {
    /// Lends a free block to `holder` without waiting: the block's lender word holds `holder` until the
    /// [`Loan`] drops. Fails at once with [`LoanError::Exhausted`], saying
    /// who holds the blocks, when none is free.
    ///
    /// Bounded: one pass over the records, one compare-exchange a block at
    /// most; no retry loop a peer could keep going.
    pub fn try_loan(&self, holder: Holder) -> Result<Loan<'a>, LoanError> {
        let n = self.geometry.blocks;
        let loans = &self.control().loans;
        // Any value a peer wrote is brought into range here.
        let start = loans.cursor.load(Ordering::Relaxed) % n;
        for k in 0..n {
            // start < n and k < n ≤ 2²⁴: no overflow.
            let index = if start + k >= n {
                start + k - n
            } else {
                start + k
            };
            if let Some(generation) = self.claim_free(index, holder) {
                let next = if index + 1 == n { 0 } else { index + 1 };
                loans.cursor.store(next, Ordering::Relaxed);
                return Ok(Loan::new(*self, index, generation, holder));
            }
        }
        Err(LoanError::Exhausted(self.exhaustion()))
    }

    /// Lends a free block to `holder`, waiting while none is free (spin,
    /// yield, then park on the pool's freed event word until a release
    /// wakes it: see [`Pool::wake_loaners`]) for at most `timeout`
    /// (`None`: no limit). Fails with [`LoanError::TimedOut`], saying who
    /// holds the blocks, when the timeout ends first.
    pub fn loan<W: Wait>(
        &self,
        holder: Holder,
        blocking: &Blocking<W>,
        timeout: Option<Duration>,
    ) -> Result<Loan<'a>, LoanError> {
        /// How the wait ended, short of a loan.
        enum Ended {
            Expired,
            Failed(LoanError),
        }
        impl From<Expired> for Ended {
            fn from(_: Expired) -> Self {
                Self::Expired
            }
        }
        let freed = &self.control().loans.freed;
        let got = blocking.run(freed, timeout, || match self.try_loan(holder) {
            Ok(loan) => Ok(Some(loan)),
            Err(LoanError::Exhausted(_)) => Ok(None),
            Err(e) => Err(Ended::Failed(e)),
        });
        match got {
            Ok(loan) => Ok(loan),
            Err(Ended::Failed(e)) => Err(e),
            Err(Ended::Expired) => Err(LoanError::TimedOut(self.exhaustion())),
        }
    }

    /// Wakes the loaners parked in [`Pool::loan`], if any; returns whether
    /// there were (a wake syscall was made). Call it after releasing
    /// blocks (dropping a [`Loan`] or [`Sample`], [`Pool::release`],
    /// [`Pool::reclaim`]) when loaners may block. Costs one `SeqCst` fence
    /// and one load when nobody sleeps.
    #[inline]
    pub fn wake_loaners(&self, wait: &impl Wait) -> bool {
        crate::wait::event_word::notify(&self.control().loans.freed, wait)
    }

    /// Claims block `index` (in range) for `holder` if every holder word
    /// is 0; returns the block's new generation.
    fn claim_free(&self, index: u32, holder: Holder) -> Option<u32> {
        let holder = holder.get();
        let r = self.record(index).ok()?;
        if r.holders.iter().any(|w| w.load(Ordering::Relaxed) != 0) {
            return None;
        }
        r.holders[0]
            .compare_exchange(0, holder, CLAIM, Ordering::Relaxed)
            .ok()?;
        // Acquire: a reader's release of its word (Release) happens before
        // this lender writes the block. A word still held means readers
        // hold the block, with its lender gone: give word 0 back.
        if r.holders[1..]
            .iter()
            .any(|w| w.load(Ordering::Acquire) != 0)
        {
            let _ = r.holders[0].compare_exchange(holder, 0, Ordering::Release, Ordering::Relaxed);
            return None;
        }
        // Only the holder of word 0 of an otherwise free block writes the
        // generation; 0 is skipped so that zeroed memory never matches.
        let mut generation = r.generation.load(Ordering::Relaxed).wrapping_add(1);
        if generation == 0 {
            generation = 1;
        }
        r.generation.store(generation, Ordering::Release);
        r.len.store(0, Ordering::Release);
        Some(generation)
    }

    /// Counts who holds the blocks (for the exhaustion errors): two passes
    /// over the records, bounded, with a fixed number of candidates for
    /// the top holder (the Misra–Gries heavy-hitter count, then an exact
    /// recount of the winner).
    pub(super) fn exhaustion(&self) -> Exhaustion {
        const CANDIDATES: usize = 4;
        let mut ids = [0u32; CANDIDATES];
        let mut counts = [0u32; CANDIDATES];
        let mut held = 0u32;
        let mut in_flight = 0u32;
        for index in 0..self.geometry.blocks {
            let Ok(r) = self.record(index) else { break };
            let mut any = false;
            for w in &r.holders {
                let v = w.load(Ordering::Relaxed);
                if v == 0 {
                    continue;
                }
                any = true;
                if v & IN_FLIGHT != 0 {
                    in_flight += 1;
                }
                let id = v & HOLDER_MASK;
                if let Some(i) = (0..CANDIDATES).find(|&i| ids[i] == id && counts[i] > 0) {
                    counts[i] += 1;
                } else if let Some(i) = counts.iter().position(|&c| c == 0) {
                    ids[i] = id;
                    counts[i] = 1;
                } else {
                    for c in &mut counts {
                        *c -= 1;
                    }
                }
            }
            held += any as u32;
        }
        let best = (0..CANDIDATES).max_by_key(|&i| counts[i]).unwrap_or(0);
        let top_holder = if counts[best] == 0 { 0 } else { ids[best] };
        let mut top_count = 0;
        if top_holder != 0 {
            for index in 0..self.geometry.blocks {
                let Ok(r) = self.record(index) else { break };
                top_count += r
                    .holders
                    .iter()
                    .filter(|w| {
                        let v = w.load(Ordering::Relaxed);
                        v != 0 && v & HOLDER_MASK == top_holder
                    })
                    .count() as u32;
            }
        }
        Exhaustion {
            held,
            top_holder,
            top_count,
            in_flight,
        }
    }
}
