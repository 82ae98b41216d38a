//! How to create or open a channel: [`ChannelOptions`].

use std::time::Duration;

use interlink_core::ElementCheck;

use super::{at_least_1ms, Waiting};
use crate::shm::{MapOptions, ShmOptions};

/// How to create or open a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelOptions {
    /// How long [`Channel::open`](super::Channel::open) waits for the object to appear and be
    /// published (default 5 s).
    pub open_timeout: Duration,
    /// How to map (default: prefaulted).
    pub map: MapOptions,
    /// How to create the object (default: exclusive, 0600, reserved).
    /// Exclusive creation builds under a private name and publishes
    /// atomically (see the module docs); non-exclusive initialises
    /// whatever object has the name in place, with none of those
    /// guarantees.
    pub shm: ShmOptions,
    /// Whether the creator unlinks the name when its [`Channel`](super::Channel) drops
    /// (default true).
    pub unlink_on_drop: bool,
    /// Whether [`Channel::create`](super::Channel::create) replaces a stale object of the same name
    /// (creator and every holder dead), or an abandoned one without a
    /// header (see the module docs; default true).
    pub replace_stale: bool,
    /// How blocked sends and receives wait (default
    /// [`Waiting::SpinThenPark`]).
    pub waiting: Waiting,
    /// How often a blocked send or receive checks that its peer lives
    /// (default 10 ms): a parked end sleeps at most this long at a time.
    pub peer_check: Duration,
    /// How [`Channel::open`](super::Channel::open) and
    /// [`Channel::from_sealed_fd`](super::Channel::from_sealed_fd) compare
    /// the element type recorded in the object with the channel's
    /// (default [`ElementCheck::Exact`]: size, alignment and
    /// [`Plain::TYPE_ID`](interlink_core::Plain::TYPE_ID), so a `u64`
    /// channel opened as `f64` is refused). [`ElementCheck::LayoutOnly`]
    /// is the explicit opt-out that compares size and alignment only.
    /// Creating ignores it: a creator records its own element type.
    pub element_check: ElementCheck,
}

impl Default for ChannelOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl ChannelOptions {
    /// The defaults listed on each field.
    pub const fn new() -> Self {
        Self {
            open_timeout: Duration::from_secs(5),
            map: MapOptions::new(),
            shm: ShmOptions::new(),
            unlink_on_drop: true,
            replace_stale: true,
            waiting: Waiting::SpinThenPark,
            peer_check: Duration::from_millis(10),
            element_check: ElementCheck::Exact,
        }
    }

    /// The same options with `element_check` (see the field).
    pub const fn element_check(mut self, check: ElementCheck) -> Self {
        self.element_check = check;
        self
    }

    /// The same options with `open_timeout`.
    pub const fn open_timeout(mut self, timeout: Duration) -> Self {
        self.open_timeout = timeout;
        self
    }

    /// The same options with `map`.
    pub const fn map(mut self, map: MapOptions) -> Self {
        self.map = map;
        self
    }

    /// The same options with `unlink_on_drop`.
    pub const fn unlink_on_drop(mut self, yes: bool) -> Self {
        self.unlink_on_drop = yes;
        self
    }

    /// The same options with `replace_stale`.
    pub const fn replace_stale(mut self, yes: bool) -> Self {
        self.replace_stale = yes;
        self
    }

    /// The same options with `waiting`.
    pub const fn waiting(mut self, waiting: Waiting) -> Self {
        self.waiting = waiting;
        self
    }

    /// The same options with `peer_check` (at least 1 ms).
    pub const fn peer_check(mut self, every: Duration) -> Self {
        self.peer_check = at_least_1ms(every);
        self
    }
}
