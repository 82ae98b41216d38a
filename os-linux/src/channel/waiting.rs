//! How a blocked channel end waits ([`Waiting`]), and how it keeps
//! checking that its peer lives while it does (`Patience`).

use std::time::Duration;

use interlink_core::{Blocking, RecvError, SendError};

use crate::futex::Futex;
use crate::liveness;

/// How a blocked [`Sender`](super::Sender) or
/// [`Receiver`](super::Receiver) waits: one of the core's [`Blocking`]
/// strategies on the shared [`Futex`]. The two ends of a channel may
/// choose differently; a side that never parks costs its peer no syscall.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Waiting {
    /// Never sleep in the kernel ([`Blocking::spinning`]): spin, then
    /// yield the CPU between polls. The lowest latency; keeps a core busy
    /// while waiting.
    Spin,
    /// Spin briefly, yield a few times, then park on the ring's futex word
    /// until the peer's operation wakes it ([`Blocking::new`]). A peer
    /// that answers within microseconds is caught spinning; an idle one
    /// costs no CPU. The default.
    #[default]
    SpinThenPark,
    /// Park at once ([`Blocking::parking`]): the fewest cycles spent
    /// waiting, and every wait pays the kernel's wake-up.
    Park,
}

impl Waiting {
    /// The core strategy this stands for.
    pub const fn blocking(self) -> Blocking<Futex> {
        match self {
            Self::Spin => Blocking::spinning(Futex),
            Self::SpinThenPark => Blocking::new(Futex),
            Self::Park => Blocking::parking(Futex),
        }
    }
}

/// Liveness checks are syscalls: not more often than every millisecond.
pub(crate) const fn at_least_1ms(every: Duration) -> Duration {
    if every.as_millis() < 1 {
        Duration::from_millis(1)
    } else {
        every
    }
}

/// How an end waits, and how often it checks that its peer lives.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Patience {
    pub(super) blocking: Blocking<Futex>,
    pub(super) peer_check: Duration,
    /// Judges the peer by the object's presence locks; valid while the
    /// [`Channel`](super::Channel) (which owns the descriptor) lives, and every end that
    /// holds a `Patience` borrows the channel.
    pub(super) judge: Option<liveness::Judge>,
}

impl Patience {
    /// Waiting with `waiting`, checking every `peer_check` that the peer
    /// lives, by `presence`'s object if there is one.
    pub(super) fn of(
        waiting: Waiting,
        peer_check: Duration,
        presence: Option<&liveness::Presence>,
    ) -> Self {
        Self {
            blocking: waiting.blocking(),
            peer_check,
            judge: presence.map(liveness::Presence::judge),
        }
    }

    /// How often a blocked end checks that its peer lives.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // the async ends
    pub(crate) fn peer_check(&self) -> Duration {
        self.peer_check
    }

    /// Whether the peer recorded as `holder` lives.
    pub(crate) fn peer_alive(&self, holder: u32) -> bool {
        match self.judge {
            Some(judge) => judge.alive(holder),
            None => liveness::process_alive(holder),
        }
    }

    /// Runs `op` (a core blocking operation taking a timeout) in slices of
    /// at most `peer_check`, spending `left`; between slices, checks that
    /// `peer()` (a pid, 0 for none) is alive. When the peer has died, `op`
    /// gets one last try with a zero timeout (a receiver drains what was
    /// sent) before `PeerDied`.
    pub(crate) fn wait<R, E: Timed>(
        &self,
        left: &mut Option<Duration>,
        peer: impl Fn() -> u32,
        mut op: impl FnMut(&Blocking<Futex>, Option<Duration>) -> Result<R, E>,
    ) -> Result<R, E> {
        loop {
            let slice = left.map_or(self.peer_check, |l| l.min(self.peer_check));
            match op(&self.blocking, Some(slice)) {
                Err(e) if e.timed_out() => {}
                done => return done,
            }
            let holder = peer();
            if holder != 0 && !self.peer_alive(holder) {
                return match op(&self.blocking, Some(Duration::ZERO)) {
                    Err(e) if e.timed_out() => Err(E::peer_died(holder)),
                    done => done,
                };
            }
            // The slice timed out, so at least its length has passed.
            if let Some(l) = left {
                *l = l.saturating_sub(slice);
                if l.is_zero() {
                    return Err(E::TIMED_OUT);
                }
            }
        }
    }
}

/// The waiting errors [`Patience::wait`] reads and makes: the core's
/// [`SendError`] and [`RecvError`].
pub(crate) trait Timed: Sized {
    /// The error of a wait that timed out.
    const TIMED_OUT: Self;
    /// Whether this is [`Self::TIMED_OUT`].
    fn timed_out(&self) -> bool;
    /// The peer recorded as `holder` died.
    fn peer_died(holder: u32) -> Self;
    /// Whether this only means "not now" (full, empty): worth waiting.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // the async ends
    fn not_now(&self) -> bool;
}

impl Timed for SendError {
    const TIMED_OUT: Self = Self::TimedOut;
    fn timed_out(&self) -> bool {
        *self == Self::TimedOut
    }
    fn peer_died(holder: u32) -> Self {
        Self::PeerDied { holder }
    }
    fn not_now(&self) -> bool {
        *self == Self::Full
    }
}

impl Timed for RecvError {
    const TIMED_OUT: Self = Self::TimedOut;
    fn timed_out(&self) -> bool {
        *self == Self::TimedOut
    }
    fn peer_died(holder: u32) -> Self {
        Self::PeerDied { holder }
    }
    fn not_now(&self) -> bool {
        *self == Self::Empty
    }
}

/// `set_waiting` and `set_peer_check` for a channel end holding a
/// `patience` field.
macro_rules! patience_setters {
    ($([$($generics:tt)*] $end:ty),*) => {$(
        impl<$($generics)*> $end {
            /// How this end waits from now on.
            pub fn set_waiting(&mut self, waiting: $crate::channel::Waiting) {
                self.patience.blocking = waiting.blocking();
            }

            /// How often this end checks, while blocked, that its peer
            /// lives (see
            /// [`ChannelOptions::peer_check`]($crate::channel::ChannelOptions::peer_check)).
            pub fn set_peer_check(&mut self, every: std::time::Duration) {
                self.patience.peer_check = $crate::channel::at_least_1ms(every);
            }
        }
    )*};
}
pub(crate) use patience_setters;
