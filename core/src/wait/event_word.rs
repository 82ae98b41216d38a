//! The event-word protocol: a 32-bit word that sleepers wait on and
//! notifiers bump, which costs a syscall only when somebody actually
//! sleeps. [`Blocking`](super::blocking::Blocking), the rings' blocking
//! forms and [`Event`](crate::sync::event::Event) all use it.
//!
//! Bit 0 is `WAITING` ("someone may be asleep on this word"); bits 1..32
//! are an epoch that every waking notification advances.
//!
//! A sleeper *announces* itself before its last check of the condition
//! ([`prepare`]: set `WAITING`, then a `SeqCst` fence), and then
//! sleeps while the word still equals what the announcement returned. A
//! notifier first makes the condition true, then (after a `SeqCst` fence)
//! *loads* the word: if `WAITING` is clear it is done — one load, no
//! read-modify-write, no syscall; otherwise it advances the epoch, clears
//! `WAITING`, and wakes every sleeper.
//!
//! No lost wake-up: the two fences are ordered one way or the other. If the
//! notifier's comes first, the sleeper's last check (after its fence) sees
//! the condition true and does not sleep; if the sleeper's comes first, the
//! notifier's load sees `WAITING` and wakes it — and if the wake lands
//! before the sleeper is asleep, the word no longer equals its key, so the
//! futex wait returns at once.
//!
//! A peer that writes the word at will can only cause spurious or missed
//! wake-ups: the word addresses nothing, and the notifier's
//! compare-exchange loop gives up after
//! [`MAX_LOST_RACES`](crate::wait::MAX_LOST_RACES) lost exchanges and
//! wakes every sleeper instead.

use crate::foundation::atomics::{fence, AtomicU32, Ordering};
use crate::wait::{update, Declined, Races, Wait};

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
/// whether it had to (that is, whether it made a syscall).
///
/// Bounded: after [`MAX_LOST_RACES`](crate::wait::MAX_LOST_RACES) lost
/// compare-exchanges (a peer keeps rewriting the word) it wakes every
/// sleeper without advancing the epoch and returns `true`. A wake is always allowed (sleepers re-check), so the
/// caller's notification still reaches whoever sleeps now; only the
/// "no lost wake-up" promise for a sleeper still announcing itself is
/// void, as it is anyway once a peer writes the word at will.
#[inline]
pub(crate) fn notify(word: &AtomicU32, wait: &(impl Wait + ?Sized)) -> bool {
    fence(Ordering::SeqCst);
    let first = word.load(Ordering::Relaxed);
    if first & WAITING == 0 {
        return false; // the fast path: one fence and one load
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
