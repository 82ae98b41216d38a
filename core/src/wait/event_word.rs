//! The event-word protocol: a 32-bit word that sleepers wait on and
//! notifiers bump, which costs a syscall only when somebody actually
//! sleeps. [`Blocking`](super::blocking::Blocking), the rings' blocking
//! forms and [`Event`](crate::sync::event::Event) all use it.
//!
//! Bit 0 is `WAITING` ("someone may be asleep on this word"); bits 1..32
//! are an epoch that every waking notification advances.
//!
//! A sleeper *announces* itself before its last check of the condition
//! ([`prepare`]: set `WAITING` with a read-modify-write, then a `SeqCst`
//! fence), and then sleeps while the word still equals what the
//! announcement returned. A notifier first makes the condition true, then
//! *loads* the word: if `WAITING` is clear it is done — one load, no fence,
//! no read-modify-write, no syscall; otherwise it advances the epoch,
//! clears `WAITING`, and wakes every sleeper.
//!
//! # No lost wake-up, without a fence on the notifier's side
//!
//! The notifier's load may be performed before its condition store is
//! visible to other cores (the store waits in the core's store buffer —
//! x86 lets a later load pass an earlier store, and so does Arm). Only then
//! can both sides miss each other: the load saw no `WAITING`, and the
//! sleeper's re-check did not see the condition. A fence between the store
//! and the load would forbid that, but costs a drain of the store buffer on
//! *every* notification, the common case. The protocol puts the cost on
//! the rare side instead — the sleeper — with a **grace re-check**:
//!
//! - A notifier whose load comes after a sleeper's announcement (in the
//!   word's modification order) sees `WAITING` and wakes it.
//! - A notifier whose load came before it issued its condition store
//!   earlier still, and a store leaves the store buffer within a bounded
//!   time (nanoseconds to microseconds; an interrupt, a context switch or a
//!   VM exit drains it). So a sleeper that checks the condition once more
//!   [`GRACE`] after announcing itself sees every such store.
//!
//! A sleeper therefore sleeps at most [`GRACE`] after an announcement
//! before re-checking ([`Grace`] keeps the books): if that first sleep ends
//! by its timeout, and the next announcement returns the same value (the
//! word has kept `WAITING` and its epoch since — no notifier skipped it in
//! between), it may sleep without that bound. An idle sleeper so pays one
//! extra timed wake-up per idle period, and a notification that races an
//! announcement arrives at most [`GRACE`] late.
//!
//! This rests on one hardware fact that the C11 model does not state —
//! stores become visible within a bounded time — so under loom and Miri,
//! whose memory models let a store stay invisible for ever, the notifier
//! keeps its fence ([`notify`]), and `core/tests/loom_event_word.rs`
//! checks the fence-free protocol on an explicit model of a store buffer.
//! [`notify_fenced`] keeps the fence everywhere, for the public
//! [`Event`](crate::sync::event::Event), whose sleepers wait by their own
//! rules.
//!
//! A peer that writes the word at will can only cause spurious or missed
//! wake-ups: the word addresses nothing, and the notifier's
//! compare-exchange loop gives up after
//! [`MAX_LOST_RACES`](crate::wait::MAX_LOST_RACES) lost exchanges and
//! wakes every sleeper instead.

use core::time::Duration;

use crate::foundation::atomics::{fence, AtomicU32, Ordering};
use crate::wait::{update, Declined, Races, Wait, WaitOutcome};

/// How long a sleeper may sleep after announcing itself before it
/// re-checks its condition once more: far longer than a store takes to
/// leave a store buffer, short enough that a notification racing the
/// announcement arrives at most this late (module docs).
pub const GRACE: Duration = Duration::from_micros(100);

/// Bit 0 of an event word: a sleeper may be waiting.
pub(crate) const WAITING: u32 = 1;

/// Announces a sleeper on `word`; returns the value to sleep on.
#[inline]
pub(crate) fn prepare(word: &AtomicU32) -> u32 {
    // Acquire: if a notification already advanced the epoch, what it
    // published is visible to the re-check that follows.
    let key = word.fetch_or(WAITING, Ordering::Acquire) | WAITING;
    fence(Ordering::SeqCst);
    key
}

/// Wakes every sleeper on `word` if one has announced itself; returns
/// whether it had to (that is, whether it made a syscall). The fast path
/// is one load, without a fence: every sleeper of `word` must follow the
/// grace re-check ([`Grace`]), as `Blocking` and the wait sets do.
///
/// Bounded: after [`MAX_LOST_RACES`](crate::wait::MAX_LOST_RACES) lost
/// compare-exchanges (a peer keeps rewriting the word) it wakes every
/// sleeper without advancing the epoch and returns `true`. A wake is always allowed (sleepers re-check), so the
/// caller's notification still reaches whoever sleeps now; only the
/// "no lost wake-up" promise for a sleeper still announcing itself is
/// void, as it is anyway once a peer writes the word at will.
#[inline]
pub(crate) fn notify(word: &AtomicU32, wait: &(impl Wait + ?Sized)) -> bool {
    // Models whose memory lets a store stay invisible for ever keep the
    // fence (module docs); the hardware needs only the compiler not to
    // move the load above the caller's condition store.
    #[cfg(any(loom, miri))]
    fence(Ordering::SeqCst);
    #[cfg(not(any(loom, miri)))]
    core::sync::atomic::compiler_fence(Ordering::SeqCst);
    wake_announced(word, wait)
}

/// [`notify`] with a `SeqCst` fence before the load: no lost wake-up for
/// any sleeper that announced itself with [`prepare`], with or without a
/// grace re-check.
#[inline]
pub(crate) fn notify_fenced(word: &AtomicU32, wait: &(impl Wait + ?Sized)) -> bool {
    fence(Ordering::SeqCst);
    wake_announced(word, wait)
}

/// The load, and if it shows `WAITING`, the epoch advance and the wake.
#[inline]
fn wake_announced(word: &AtomicU32, wait: &(impl Wait + ?Sized)) -> bool {
    let first = word.load(Ordering::Relaxed);
    if first & WAITING == 0 {
        return false; // the fast path: one load
    }
    let mut races = Races::default();
    let advance =
        |current: u32| (current & WAITING != 0).then(|| (current & !WAITING).wrapping_add(2));
    match update(word, first, &mut races, Ordering::Release, advance) {
        Err(Declined::Refused(_)) => false,
        Ok(_) | Err(Declined::Contended) => {
            wait.wake_all(word);
            true
        }
    }
}

/// The sleeper's side of the grace re-check: how long each sleep may last.
///
/// Keep one per waiting operation. Before each sleep, after announcing
/// on its words and re-checking, ask [`Grace::bound`] for the sleep's
/// timeout; after it, tell [`Grace::slept`] how it ended.
#[derive(Clone, Debug)]
pub struct Grace {
    /// The announcement values whose grace sleep ran to its end; `None`:
    /// none yet.
    graced: Option<[u32; MAX_GRACED]>,
    /// How many of `graced` count.
    len: usize,
}

/// The most words one [`Grace`] tracks: `futex_waitv`'s limit, that of
/// a wait set (more are still bounded, only never released from the
/// bound).
pub(crate) const MAX_GRACED: usize = 128;

impl Default for Grace {
    fn default() -> Self {
        Self::new()
    }
}

impl Grace {
    /// No grace spent yet: the first sleep is bounded.
    pub const fn new() -> Self {
        Self {
            graced: None,
            len: 0,
        }
    }

    /// The timeout for a sleep on words announced with `keys`, given `left`
    /// of the caller's own timeout: at most [`GRACE`], unless a grace sleep
    /// on exactly these values already ran to its end.
    pub fn bound(&self, keys: &[u32], left: Option<Duration>) -> Option<Duration> {
        if self.covers(keys) {
            return left;
        }
        Some(left.map_or(GRACE, |l| l.min(GRACE)))
    }

    /// Records how a sleep on `keys` with `timeout` (what [`Grace::bound`]
    /// gave) ended.
    pub fn slept(&mut self, keys: &[u32], timeout: Option<Duration>, outcome: WaitOutcome) {
        let full_grace = timeout == Some(GRACE);
        if outcome == WaitOutcome::TimedOut && full_grace && keys.len() <= MAX_GRACED {
            let mut graced = [0u32; MAX_GRACED];
            graced[..keys.len()].copy_from_slice(keys);
            self.graced = Some(graced);
            self.len = keys.len();
        }
    }

    /// Whether a grace sleep on `keys` ran to its end.
    fn covers(&self, keys: &[u32]) -> bool {
        match &self.graced {
            Some(graced) => self.len == keys.len() && graced[..self.len] == *keys,
            None => false,
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::wait::Spin;

    #[test]
    fn grace_bounds_each_new_announcement_once() {
        let mut g = Grace::new();
        let long = Some(Duration::from_secs(5));
        assert_eq!(g.bound(&[3], None), Some(GRACE));
        assert_eq!(g.bound(&[3], long), Some(GRACE));
        assert_eq!(
            g.bound(&[3], Some(Duration::from_micros(7))),
            Some(Duration::from_micros(7))
        );

        // Woken early, or bounded by the caller's timeout: no grace spent.
        g.slept(&[3], Some(GRACE), WaitOutcome::Woken);
        g.slept(&[3], Some(Duration::from_micros(7)), WaitOutcome::TimedOut);
        assert_eq!(g.bound(&[3], None), Some(GRACE));

        // A grace sleep that ran out covers exactly these values.
        g.slept(&[3], Some(GRACE), WaitOutcome::TimedOut);
        assert_eq!(g.bound(&[3], None), None);
        assert_eq!(g.bound(&[3], long), long);
        assert_eq!(g.bound(&[5], None), Some(GRACE));
        assert_eq!(g.bound(&[3, 5], None), Some(GRACE));
        g.slept(&[3, 5], Some(GRACE), WaitOutcome::TimedOut);
        assert_eq!(g.bound(&[3, 5], None), None);
        assert_eq!(g.bound(&[3], None), Some(GRACE));

        // More words than the books hold: always bounded.
        let many = [1u32; MAX_GRACED + 1];
        g.slept(&many, Some(GRACE), WaitOutcome::TimedOut);
        assert_eq!(g.bound(&many, None), Some(GRACE));
    }

    #[test]
    fn notify_wakes_only_an_announced_word_and_advances_its_epoch() {
        let word = AtomicU32::new(0);
        assert!(!notify(&word, &Spin::default()));
        assert!(!notify_fenced(&word, &Spin::default()));
        let key = prepare(&word);
        assert_eq!(key, WAITING);
        assert!(notify(&word, &Spin::default()));
        assert_eq!(
            word.load(Ordering::Relaxed),
            2,
            "epoch advanced, WAITING cleared"
        );
        prepare(&word);
        assert!(notify_fenced(&word, &Spin::default()));
        assert_eq!(word.load(Ordering::Relaxed), 4);
    }
}
