//! The lock-word protocol (see [The lock word](super#the-lock-word)):
//! taking, waiting, taking over from a dead owner, and unlocking.

use super::*;

impl Control {
    /// The recorded owner if the record belongs to `holder` (the id in the
    /// word), else what the word alone tells: its tid.
    pub(super) fn owner_record(&self, holder: Holder) -> Owner {
        let tid = self.owner_tid.load(Ordering::Acquire);
        if tid != holder.get() {
            return Owner {
                pid: 0,
                tid: holder,
                stamp: 0,
            };
        }
        let r = Ordering::Relaxed;
        Owner {
            pid: self.owner_pid.load(r),
            tid: holder,
            stamp: self.owner_stamp_lo.load(r) as u64 | (self.owner_stamp_hi.load(r) as u64) << 32,
        }
    }
}

impl<T> Raw<T> {
    pub(super) fn control(&self) -> &Control {
        // SAFETY: `control` points to a live, initialised Control for as
        // long as the Mutex's memory lives; every field is atomic.
        unsafe { self.control.as_ref() }
    }

    pub(super) fn try_lock<'g, W: Wait, L: Liveness>(
        self,
        wait: &'g W,
        liveness: &'g L,
    ) -> LockResult<'g, T, W, L> {
        let me = liveness.me();
        let id = me.tid.get();
        match self
            .control()
            .word
            .compare_exchange(0, id, Ordering::Acquire, Ordering::Relaxed)
        {
            Ok(_) => self.acquired(wait, liveness, me, false),
            Err(word) if word & MAX_OWNER_ID == id => Err(LockError::Deadlock),
            Err(_) => Err(LockError::WouldBlock),
        }
    }

    pub(super) fn lock<'g, W: Wait, L: Liveness>(
        self,
        wait: &'g W,
        liveness: &'g L,
        timeout: Option<Duration>,
    ) -> LockResult<'g, T, W, L> {
        let me = liveness.me();
        let id = me.tid.get();
        let word = &self.control().word;
        if word
            .compare_exchange(0, id, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return self.acquired(wait, liveness, me, false);
        }
        let poll = liveness.poll_interval();
        let mut deadline = Deadline::after(wait, timeout);
        let mut spins = SPINS;
        // Every pass of this loop either counts against `races` (a lost
        // exchange), against `spins`, or checks the deadline before it
        // sleeps: bounded by the timeout and MAX_LOST_RACES.
        let mut races = Races::default();
        let contended = |_| LockError::Contended;
        loop {
            let current = word.load(Ordering::Relaxed);
            if current == 0 {
                // Others may be asleep: take it with WAITERS set, so that our
                // unlock wakes one of them (Drepper's "lock with 2").
                if word
                    .compare_exchange(0, id | WAITERS, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return self.acquired(wait, liveness, me, false);
                }
                races.lose().map_err(contended)?;
                continue;
            }
            if current & MAX_OWNER_ID == id {
                return Err(LockError::Deadlock);
            }
            if spins > 0 {
                spins -= 1;
                spin_loop();
                continue;
            }
            let asleep = current | WAITERS;
            if current != asleep
                && word
                    .compare_exchange(current, asleep, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
            {
                races.lose().map_err(contended)?;
                continue;
            }
            let left = deadline.remaining(wait).map_err(|_| LockError::TimedOut)?;
            let slice = match (left, poll) {
                (Some(l), Some(p)) => Some(l.min(p)),
                (l, p) => l.or(p),
            };
            if wait.wait(word, asleep, slice) == WaitOutcome::TimedOut && poll.is_some() {
                if let Some(guard) = self.take_from_dead(wait, liveness, me, asleep) {
                    return guard;
                }
            }
        }
    }

    /// Takes the lock over if the word still reads `observed` and its
    /// owner is dead.
    pub(super) fn take_from_dead<'g, W: Wait, L: Liveness>(
        self,
        wait: &'g W,
        liveness: &'g L,
        me: Owner,
        observed: u32,
    ) -> Option<LockResult<'g, T, W, L>> {
        let c = self.control();
        // A word that names no owner (a peer wrote only flag bits) has
        // nobody alive to wait for.
        let alive = Holder::new(observed & MAX_OWNER_ID)
            .is_some_and(|holder| liveness.is_alive(&c.owner_record(holder)));
        if c.word.load(Ordering::Relaxed) != observed || alive {
            return None;
        }
        // WAITERS stays set: other waiters may sleep on the word.
        c.word
            .compare_exchange(
                observed,
                me.tid.get() | WAITERS,
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .ok()?;
        Some(self.acquired(wait, liveness, me, true))
    }

    /// Records the new owner and reports the mutex's health.
    pub(super) fn acquired<'g, W: Wait, L: Liveness>(
        self,
        wait: &'g W,
        liveness: &'g L,
        me: Owner,
        took_over: bool,
    ) -> LockResult<'g, T, W, L> {
        let c = self.control();
        let r = Ordering::Relaxed;
        // The same process usually takes the lock again: rewrite the pid
        // and start time only when they differ (loads of a line we own
        // are cheaper than stores that dirty it).
        store_if_changed(&c.owner_pid, me.pid);
        store_if_changed(&c.owner_stamp_lo, me.stamp as u32);
        store_if_changed(&c.owner_stamp_hi, (me.stamp >> 32) as u32);
        c.owner_tid.store(me.tid.get(), Ordering::Release);
        let mut guard = MutexGuard {
            raw: self,
            wait,
            liveness,
            id: me.tid.get(),
            repairing: false,
            _held: PhantomData,
        };
        if took_over {
            c.health.store(health::OWNER_DIED, r);
        }
        match c.health.load(r) {
            health::CONSISTENT => Ok(guard),
            health::OWNER_DIED => {
                guard.repairing = true;
                Err(LockError::OwnerDied(guard))
            }
            // Not recoverable, or a health word no creator writes.
            _ => Err(LockError::NotRecoverable),
        }
    }

    /// Releases the lock held by `id`; wakes a sleeper if one announced
    /// itself. Does nothing if another thread took the lock over (it
    /// judged `id` dead).
    ///
    /// Bounded: honestly the word changes under the exchange at most once
    /// (a waiter sets `WAITERS`). After [`MAX_LOST_RACES`] lost exchanges
    /// (a peer keeps rewriting the word) it leaves the word as the peer
    /// wrote it and wakes one sleeper, which re-checks; unlocking runs in
    /// `Drop`, so there is nobody to return an error to.
    pub(super) fn unlock(self, wait: &impl Wait, id: u32) {
        let c = self.control();
        // The owner record stays: the next owner rewrites what differs.
        // The first guess, `id` alone, is right unless a waiter is asleep.
        let mine = |now: u32| (now & MAX_OWNER_ID == id).then_some(0);
        match update(&c.word, id, &mut Races::default(), Ordering::Release, mine) {
            Ok(old) if old & WAITERS == 0 => {}
            Ok(_) | Err(Declined::Contended) => wait.wake_one(&c.word),
            Err(Declined::Refused(_)) => {} // taken over: not ours to free
        }
    }
}

/// Stores `value` unless the word already holds it. Only the lock holder
/// writes these words, so the check cannot race with another writer.
#[inline(always)]
fn store_if_changed(word: &AtomicU32, value: u32) {
    if word.load(Ordering::Relaxed) != value {
        word.store(value, Ordering::Relaxed);
    }
}
