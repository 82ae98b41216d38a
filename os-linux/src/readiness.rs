//! Readiness as a file descriptor: a channel end's "ready" as an `eventfd`
//! that joins an `epoll` set (or tokio's reactor) beside sockets, pipes,
//! `signalfd` and `timerfd`.
//!
//! A futex cannot be polled, so [`Readiness`] keeps a helper thread that
//! parks on the end's event word *only while the end is armed*:
//!
//! 1. Before it sleeps in `epoll_wait`, the owner calls
//!    [`Readiness::arm`]: it announces itself on the word (the event-word
//!    protocol's `WAITING` bit), re-checks the end — if it is ready now,
//!    `arm` says so and nothing sleeps — and hands the word's value to the
//!    helper (one futex wake of the helper: a syscall, but only on the way
//!    to sleep).
//! 2. The peer's next send (or receive) sees `WAITING` and wakes the word,
//!    as it would wake a parked receiver; the helper wakes and writes the
//!    eventfd, and the owner's `epoll_wait` returns. (The first time the
//!    helper sleeps on an announcement, it also writes the eventfd after
//!    `interlink_core::wait::GRACE` if nothing came: the owner's retry is
//!    the grace re-check of the event-word protocol.)
//! 3. The owner [`clear`](Readiness::clear)s the eventfd and receives.
//!
//! While the owner is awake and not armed, nothing changes for the peer:
//! its notifications stay one load, with no fence and no syscall — the
//! same rule as everywhere in interlink. The helper owns its own read-only
//! mapping of the object, so it never touches memory that the channel may
//! unmap; it ends when the `Readiness` is dropped.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::atomic::Ordering::{AcqRel, Acquire, Release};
use std::sync::Arc;
use std::thread::JoinHandle;

use interlink_core::sync::AtomicU32;
use interlink_core::wait::wait_set::{announce, Source};
use interlink_core::wait::{Grace, WaitOutcome};
use interlink_core::Wait;

use crate::error::OsError;
use crate::eventfd::{EventFd, Mode};
use crate::mapping::ReadOnlyMapping;
use crate::Futex;

/// The helper waits for the owner to arm it.
const IDLE: u32 = 0;
/// The helper parks on the word until it moves off the armed value.
const ARMED: u32 = 1;
/// The helper ends.
const STOP: u32 = 2;

/// What the owner and the helper share (in this process's heap).
#[derive(Debug)]
struct Control {
    /// [`IDLE`], [`ARMED`] or [`STOP`]; also the futex the helper parks on
    /// while idle, and a second word of its armed wait, so that re-arming
    /// or stopping wakes it.
    state: AtomicU32,
    /// The word's value when the owner announced itself.
    key: AtomicU32,
    /// Written by the helper when the word moved; read by the owner.
    ready: EventFd,
}

/// An end's readiness as a pollable file descriptor (see the
/// [module docs](self)). Make one with
/// [`Channel::readiness`](crate::channel::Channel::readiness).
#[derive(Debug)]
pub struct Readiness {
    control: Arc<Control>,
    helper: Option<JoinHandle<()>>,
}

impl Readiness {
    /// Readiness for `source`, whose event word lies at `offset` in the
    /// object behind `object` (`len` bytes are mapped again, read-only, for
    /// the helper).
    pub(crate) fn new(object: BorrowedFd<'_>, len: usize, offset: usize) -> Result<Self, OsError> {
        if !offset.is_multiple_of(4) || offset.checked_add(4).is_none_or(|end| end > len) {
            return Err(OsError::new("readiness", libc::EINVAL)
                .on(format_args!("event word at offset {offset} of {len} bytes")));
        }
        let map = ReadOnlyMapping::from_fd(object, len).map_err(|e| {
            OsError::new("mmap", libc::EINVAL).on(format_args!("readiness helper's mapping: {e}"))
        })?;
        let control = Arc::new(Control {
            state: AtomicU32::new(IDLE),
            key: AtomicU32::new(0),
            ready: EventFd::new(0, Mode::Counter)?,
        });
        let shared = Arc::clone(&control);
        let helper = std::thread::Builder::new()
            .name("interlink-readiness".into())
            .spawn(move || {
                // `offset + 4 <= len`, the offset is 4-aligned and the
                // mapping page-aligned: the word is inside `map`, aligned.
                // SAFETY: as said; `map` outlives the reference here, and
                // only atomic loads (and the kernel's futex) read it.
                let word = unsafe { &*map.as_ptr().add(offset).cast::<AtomicU32>() };
                help(word, &shared);
                drop(map);
            })
            .map_err(|e| OsError::new("spawn", e.raw_os_error().unwrap_or(libc::EAGAIN)))?;
        Ok(Self {
            control,
            helper: Some(helper),
        })
    }

    /// Prepares to sleep on this descriptor until `source` (the end this
    /// readiness was made for) may be ready. Returns `true` when it is
    /// ready already: do not sleep, retry the operation. Otherwise the
    /// descriptor becomes readable when the peer next acts.
    ///
    /// Call it after a `try_*` that found nothing to do, right before
    /// `epoll_wait` (or `AsyncFd::readable`). Passing another end than the
    /// one the readiness was made for arms the wrong word.
    pub fn arm(&self, source: &dyn Source) -> bool {
        let key = announce(source);
        if source.is_ready() {
            return true;
        }
        self.control.key.store(key, Release);
        self.control.state.store(ARMED, Release);
        Futex.wake_all(&self.control.state);
        false
    }

    /// Drains the descriptor after it was reported readable.
    pub fn clear(&self) {
        let _ = self.control.ready.try_read();
    }
}

/// The helper thread: parks while idle; while armed, parks on the shared
/// word and the state together, and signals the eventfd once the word has
/// moved off the armed value.
///
/// The peer's notification is one load without a fence, so the helper
/// follows the grace re-check (`interlink_core::wait::Grace`): its first
/// sleep on a new announcement lasts at most `GRACE`, and if it runs out,
/// the helper reports the end ready once anyway — the owner's retry is
/// the re-check — before it sleeps on that announcement without a bound.
fn help(word: &AtomicU32, control: &Control) {
    let mut grace = Grace::new();
    loop {
        match control.state.load(Acquire) {
            STOP => return,
            ARMED => {
                let key = control.key.load(Acquire);
                let sleep = grace.bound(&[key], None);
                let outcome = Futex.wait_any(&[word, &control.state], &[key, ARMED], sleep);
                grace.slept(&[key], sleep, outcome);
                let graced = outcome == WaitOutcome::TimedOut && sleep.is_some();
                let moved = word.load(Acquire) != key || graced;
                if moved
                    && control
                        .state
                        .compare_exchange(ARMED, IDLE, AcqRel, Acquire)
                        .is_ok()
                {
                    let _ = control.ready.try_write(1);
                }
            }
            _ => {
                Futex.wait(&control.state, IDLE, None);
            }
        }
    }
}

impl AsFd for Readiness {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.control.ready.as_fd()
    }
}

impl AsRawFd for Readiness {
    fn as_raw_fd(&self) -> RawFd {
        self.control.ready.as_raw_fd()
    }
}

impl Drop for Readiness {
    fn drop(&mut self) {
        self.control.state.store(STOP, Release);
        Futex.wake_all(&self.control.state);
        if let Some(helper) = self.helper.take() {
            let _ = helper.join();
        }
    }
}
