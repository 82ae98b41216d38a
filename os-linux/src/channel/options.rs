//! How to create or open a channel: [`ChannelOptions`].

use std::time::Duration;

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
        }
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
