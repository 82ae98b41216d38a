//! Waiting on many sources at once: [`Blocking::wait_any`] polls every
//! [`Source`] and, when none is ready, parks on all their event words in
//! one sleep ([`Wait::wait_any`]; on Linux one `futex_waitv`), returning
//! the set of sources that are [`Ready`].
//!
//! A source is anything with an event word that its peer notifies after
//! making it ready, and a check that never waits: a ring end that can
//! receive (its peer's send notifies the word) or send (its peer's receive
//! does). The rings' ends and the Linux crate's channel ends are sources.
//!
//! As everywhere in interlink, a source that is ready costs no syscall: the
//! first poll finds it, before any clock is read, and a peer whose other
//! side is awake notifies with one load (no fence). Only a wait that
//! finds nothing ready announces itself on every word (one atomic OR each)
//! and sleeps.
//!
//! ```
//! use interlink_core::wait::wait_set::Source;
//! use interlink_core::{Blocking, Holder, Region, RingConfig, Spin, spsc::SpscRing};
//!
//! # #[repr(C, align(128))] struct Mem([u8; 4096]);
//! # let (mut a, mut b) = (Mem([0; 4096]), Mem([0; 4096]));
//! let one = SpscRing::<u64>::init(Region::new(&mut a.0), RingConfig::new(8))?;
//! let two = SpscRing::<u64>::init(Region::new(&mut b.0), RingConfig::new(8))?;
//! let me = Holder::fixed::<1>();
//! let (mut rx1, mut rx2) = (one.consumer(me)?, two.consumer(me)?);
//! two.producer(Holder::fixed::<2>())?.try_send(7)?;
//!
//! let blocking = Blocking::new(Spin::default());
//! let ready = blocking.wait_any(&[&rx1 as &dyn Source, &rx2], None)?;
//! assert_eq!(ready.iter().collect::<Vec<_>>(), [1]); // the second is ready
//! assert_eq!(rx2.try_recv()?, 7);
//! # let _ = &mut rx1;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;
use core::time::Duration;

use crate::foundation::atomics::AtomicU32;
use crate::wait::blocking::Blocking;
use crate::wait::event_word;
use crate::wait::{Expired, Wait, WaitOutcome};

/// The most sources one wait can park on: `futex_waitv`'s limit.
pub const MAX_SOURCES: usize = crate::wait::blocking::MAX_WORDS;

/// How long the default [`Wait::wait_any`] sleeps on its first word
/// before it lets the caller re-check the others: 1 ms.
pub const SLICE: Duration = Duration::from_millis(1);

/// The default [`Wait::wait_any`], for any `Wait`: one word is a plain
/// [`Wait::wait`]; with more, it sleeps on the first for at most [`SLICE`]
/// and then reports a (spurious) wake-up, so that the caller re-checks
/// every source at least that often.
pub fn wait_first_in_slices(
    wait: &(impl Wait + ?Sized),
    words: &[&AtomicU32],
    expected: &[u32],
    timeout: Option<Duration>,
) -> WaitOutcome {
    match (words.first(), expected.first()) {
        (Some(word), Some(&key)) if words.len() == 1 => wait.wait(word, key, timeout),
        (Some(word), Some(&key)) => {
            let slice = timeout.map_or(SLICE, |t| t.min(SLICE));
            match wait.wait(word, key, Some(slice)) {
                WaitOutcome::TimedOut if Some(slice) == timeout => WaitOutcome::TimedOut,
                // A slice ended: a spurious wake-up, so the caller
                // re-checks all its sources.
                _ => WaitOutcome::Woken,
            }
        }
        _ => WaitOutcome::Woken,
    }
}

/// Something a wait set can wait for.
pub trait Source {
    /// The event word this source's peer notifies after making it ready
    /// (the word the source's own blocking operation parks on).
    fn event_word(&self) -> &AtomicU32;

    /// Whether the operation this source stands for would succeed now (or
    /// fail for a reason other than "not now", which the operation then
    /// reports). Never waits; may read shared memory.
    fn is_ready(&self) -> bool;
}

/// The sources of one wait that were ready, by their index in the slice
/// given to [`Blocking::wait_any`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ready(u128);

impl Ready {
    /// Whether the source at `index` was ready.
    pub fn contains(&self, index: usize) -> bool {
        index < MAX_SOURCES && self.0 & (1 << index) != 0
    }

    /// Whether none was.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// How many were.
    pub fn len(&self) -> usize {
        self.0.count_ones() as usize
    }

    /// The indices of the ready sources, lowest first.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        (0..MAX_SOURCES).filter(|&i| self.contains(i))
    }
}

/// Why a [`Blocking::wait_any`] returned no source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitSetError {
    /// The timeout passed with no source ready.
    TimedOut,
    /// More sources than [`MAX_SOURCES`] (or none) were given.
    BadCount {
        /// How many were given.
        given: usize,
    },
}

impl From<Expired> for WaitSetError {
    fn from(_: Expired) -> Self {
        Self::TimedOut
    }
}

impl fmt::Display for WaitSetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TimedOut => f.write_str("timed out with no source ready"),
            Self::BadCount { given } => write!(
                f,
                "a wait set takes 1 to {MAX_SOURCES} sources, not {given}"
            ),
        }
    }
}

impl core::error::Error for WaitSetError {}

/// Announces a sleeper on `source`'s event word (the event-word
/// protocol's `WAITING` bit, then a `SeqCst` fence) and returns the value
/// to sleep on. After it, re-check [`Source::is_ready`]; sleep (on the word,
/// while it holds the value) only if the source is still not ready, and
/// for no longer than [`Grace::bound`](crate::wait::Grace::bound) says —
/// the peer notifies without a fence, so the first sleep on a new value
/// ends after [`GRACE`](crate::wait::GRACE) for one more re-check. The
/// peer's next notification then wakes the word. For waiting outside
/// [`Blocking::wait_any`] (an `epoll` loop's readiness descriptor).
pub fn announce(source: &dyn Source) -> u32 {
    event_word::prepare(source.event_word())
}

/// The ready sources now, without waiting.
pub fn poll(sources: &[&dyn Source]) -> Ready {
    let mut ready = 0u128;
    for (i, source) in sources.iter().enumerate().take(MAX_SOURCES) {
        if source.is_ready() {
            ready |= 1 << i;
        }
    }
    Ready(ready)
}

impl<W: Wait> Blocking<W> {
    /// Waits until at least one of `sources` is ready (spin, yield, then
    /// park on all their event words in one sleep), for at most `timeout`
    /// (`None`: no limit); returns every source that was ready at that
    /// moment. Sources found ready by the first poll cost no syscall and
    /// no clock reading.
    ///
    /// Readiness is a hint, as for `epoll`: the operation itself (a
    /// `try_recv`, a `try_send`) decides, and another consumer of the same
    /// ring may have taken what made the source ready.
    pub fn wait_any(
        &self,
        sources: &[&dyn Source],
        timeout: Option<Duration>,
    ) -> Result<Ready, WaitSetError> {
        if sources.is_empty() || sources.len() > MAX_SOURCES {
            return Err(WaitSetError::BadCount {
                given: sources.len(),
            });
        }
        let first = sources[0].event_word();
        let mut words = [first; MAX_SOURCES];
        for (word, source) in words.iter_mut().zip(sources) {
            *word = source.event_word();
        }
        self.run_any(&words[..sources.len()], timeout, || {
            let ready = poll(sources);
            Ok::<_, WaitSetError>((!ready.is_empty()).then_some(ready))
        })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::foundation::atomics::Ordering;
    use crate::test_util::TestWait;

    /// A source that is ready when its flag is set.
    struct Flag {
        word: AtomicU32,
        set: AtomicU32,
    }

    impl Flag {
        fn new() -> Self {
            Self {
                word: AtomicU32::new(0),
                set: AtomicU32::new(0),
            }
        }
        fn raise(&self, wait: &impl Wait) {
            self.set.store(1, Ordering::Release);
            event_word::notify(&self.word, wait);
        }
    }

    impl Source for Flag {
        fn event_word(&self) -> &AtomicU32 {
            &self.word
        }
        fn is_ready(&self) -> bool {
            self.set.load(Ordering::Acquire) == 1
        }
    }

    #[test]
    fn ready_sources_are_returned_without_waiting() {
        let (a, b, c) = (Flag::new(), Flag::new(), Flag::new());
        b.set.store(1, Ordering::Relaxed);
        c.set.store(1, Ordering::Relaxed);
        let blocking = Blocking::parking(TestWait::default());
        let ready = blocking.wait_any(&[&a, &b, &c], Some(Duration::ZERO));
        assert_eq!(ready.map(|r| r.iter().collect::<Vec<_>>()), Ok(vec![1, 2]));
        // Nobody announced a sleep: the words are untouched.
        assert_eq!(a.word.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn nothing_ready_times_out_and_counts_are_checked() {
        let a = Flag::new();
        let blocking = Blocking::parking(TestWait::default());
        assert_eq!(
            blocking.wait_any(&[&a], Some(Duration::from_millis(2))),
            Err(WaitSetError::TimedOut)
        );
        assert_eq!(
            blocking.wait_any(&[], None),
            Err(WaitSetError::BadCount { given: 0 })
        );
        let many: [&dyn Source; MAX_SOURCES + 1] = [&a; MAX_SOURCES + 1];
        assert_eq!(
            blocking.wait_any(&many, None),
            Err(WaitSetError::BadCount {
                given: MAX_SOURCES + 1
            })
        );
    }

    /// A thread parked on three sources wakes when the last one is raised
    /// (the default `wait_any` parks on the first word in slices, so the
    /// third is found by a re-check).
    #[test]
    #[cfg_attr(miri, ignore)] // real sleeps
    fn a_parked_waiter_wakes_for_any_source() {
        let flags = [Flag::new(), Flag::new(), Flag::new()];
        let wait = TestWait::default();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| {
                let blocking = Blocking::parking(&wait);
                let sources: [&dyn Source; 3] = [&flags[0], &flags[1], &flags[2]];
                blocking.wait_any(&sources, Some(Duration::from_secs(30)))
            });
            std::thread::sleep(Duration::from_millis(20));
            flags[2].raise(&wait);
            let ready = waiter.join().unwrap().unwrap();
            assert!(ready.contains(2) && !ready.contains(0) && ready.len() == 1);
        });
    }

    #[test]
    fn errors_say_what_happened() {
        assert_eq!(
            WaitSetError::BadCount { given: 200 }.to_string(),
            "a wait set takes 1 to 128 sources, not 200"
        );
    }
}
