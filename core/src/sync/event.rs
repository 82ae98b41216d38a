//! An event count: a 32-bit word that sleepers wait on and notifiers bump,
//! which costs a syscall only when somebody actually sleeps.
//!
//! # The word
//!
//! Bit 0 is `WAITING` ("someone may be asleep on this word"); bits 1..32
//! are an epoch that every waking notification advances.
//!
//! A sleeper *announces* itself before its last check of the condition
//! ([`Event::prepare`]: set `WAITING`, then a `SeqCst` fence), and then
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
//!
//! # Layout of [`Event`] (version [`crate::LAYOUT_VERSION`])
//!
//! | offset | bytes | contents |
//! |---|---|---|
//! | 0 | 64 | [`Header`](crate::layout::Header) (kind `Event`) |
//! | 64 | 4 | the event word |
//! | 68 | 60 | reserved (zero) |

use core::marker::PhantomData;
use core::ptr::NonNull;
use core::time::Duration;

use crate::foundation::atomics::{fence, AtomicU32, Ordering};
use crate::foundation::layout::{AttachError, Kind};
use crate::foundation::region::Region;
use crate::ring::InitError;
use crate::sync::fixed::Words;
use crate::wait::{update, Declined, Races, Wait, WaitOutcome};

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

/// What [`Event::prepare`] returns: the word's value a sleeper waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key(u32);

/// An event count in caller memory (see the [module docs](self)): a
/// broadcast notification that sleepers in any process can wait on.
/// Cheap to copy; it owns nothing.
#[derive(Clone, Copy, Debug)]
pub struct Event<'a> {
    control: NonNull<Words>,
    _memory: PhantomData<&'a Words>,
}

// SAFETY: all shared state is one atomic word and the header.
unsafe impl Send for Event<'_> {}
// SAFETY: as above.
unsafe impl Sync for Event<'_> {}

impl<'a> Event<'a> {
    /// Bytes an event needs, header included.
    pub const BYTES: usize = Words::BYTES;
    /// The alignment its region needs.
    pub const ALIGN: usize = Words::ALIGN;

    /// Creates an event in `region` with nobody waiting.
    pub fn init(region: Region<'a>) -> Result<Self, InitError> {
        let control = Words::init(&region, Kind::Event, 0, &[])?;
        Ok(Self {
            control,
            _memory: PhantomData,
        })
    }

    /// Attaches to an event some process initialised in `region`.
    pub fn attach(region: Region<'a>) -> Result<Self, AttachError> {
        let (control, _) = Words::attach(&region, Kind::Event)?;
        Ok(Self {
            control,
            _memory: PhantomData,
        })
    }

    fn word(&self) -> &AtomicU32 {
        // SAFETY: `control` points to a live Control for 'a; the word is atomic.
        unsafe { &self.control.as_ref().words[0] }
    }

    /// Announces a sleeper. Check your condition *after* this, and sleep
    /// with [`Event::wait`] only if it is still false.
    pub fn prepare(&self) -> Key {
        Key(prepare(self.word()))
    }

    /// Sleeps until a notification after `key` was taken (or the timeout,
    /// or a spurious wake-up: re-check the condition either way).
    pub fn wait(&self, key: Key, wait: &impl Wait, timeout: Option<Duration>) -> WaitOutcome {
        wait.wait(self.word(), key.0, timeout)
    }

    /// Wakes every sleeper, if any announced itself. Call it *after* making
    /// the condition true. Costs one fence and one load when nobody sleeps;
    /// returns whether it woke anyone (made a syscall). Bounded even when a
    /// peer keeps rewriting the word: after
    /// [`MAX_LOST_RACES`](crate::wait::MAX_LOST_RACES) lost
    /// compare-exchanges it wakes every sleeper regardless (returns
    /// `true`); a wake is always allowed, so there is no error to report.
    pub fn notify(&self, wait: &impl Wait) -> bool {
        notify(self.word(), wait)
    }

    /// Sleeps until `check` returns `Some`, or the timeout passes; polls it
    /// after every wake-up and before every sleep. Use
    /// [`Blocking`](crate::blocking::Blocking) to spin before sleeping.
    pub fn wait_until<W: Wait, R>(
        &self,
        wait: &W,
        timeout: Option<Duration>,
        mut check: impl FnMut() -> Option<R>,
    ) -> Result<R, crate::wait::Expired> {
        crate::wait::blocking::Blocking::parking(wait).run(self.word(), timeout, || Ok(check()))
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
