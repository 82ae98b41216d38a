//! An event count: a 32-bit word that sleepers wait on and notifiers bump,
//! which costs a syscall only when somebody actually sleeps.
//!
//! The word follows the core's event-word protocol (the waiting layer's,
//! which the rings' blocking forms use on their own words): bit 0 says
//! "someone may be asleep", bits 1..32 are an epoch; a sleeper announces
//! itself before its last check of the condition, a notifier pays one fence
//! and one load unless somebody announced itself, and no wake-up is lost.
//! A peer that writes the word at will can only cause spurious or missed
//! wake-ups: the word addresses nothing, and a notifier's compare-exchange
//! loop gives up after [`MAX_LOST_RACES`](crate::wait::MAX_LOST_RACES)
//! lost exchanges and wakes every sleeper instead.
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

use crate::foundation::atomics::AtomicU32;
use crate::foundation::layout::InitError;
use crate::foundation::layout::{AttachError, Kind};
use crate::foundation::region::Region;
use crate::sync::fixed::Words;
use crate::wait::event_word::{notify_fenced, prepare};
use crate::wait::{Wait, WaitOutcome};

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
        notify_fenced(self.word(), wait)
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
