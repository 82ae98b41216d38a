//! The MPMC ring's own error ([`NotStalled`]), and the claim loop's
//! reasons for claiming nothing (the ring's sends and receives fail with
//! the rings' common [`SendError`] and [`RecvError`]).

use core::fmt;

use crate::ring::{RecvError, SendError};

/// [`MpmcRing::skip_stalled`](super::MpmcRing::skip_stalled) found nothing stalled at `position`: the
/// claimant finished, someone else skipped it, or the position is not where
/// the ring waits. Nothing was changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotStalled {
    /// The position asked about.
    pub position: u32,
}

impl fmt::Display for NotStalled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "position {} is not stalled", self.position)
    }
}

impl core::error::Error for NotStalled {}

/// Which index an operation claims on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    Push,
    Pop,
}

/// Why no position could be claimed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Blocked {
    /// Full (push) or empty (pop).
    Idle,
    /// A peer's claim did not finish within the limit.
    Stalled(u32),
    /// See [`Corrupt`].
    Corrupt,
}

impl From<Blocked> for SendError {
    fn from(b: Blocked) -> Self {
        match b {
            Blocked::Idle => Self::Full,
            Blocked::Stalled(position) => Self::Stalled { position },
            Blocked::Corrupt => Self::Corrupt,
        }
    }
}

impl From<Blocked> for RecvError {
    fn from(b: Blocked) -> Self {
        match b {
            Blocked::Idle => Self::Empty,
            Blocked::Stalled(position) => Self::Stalled { position },
            Blocked::Corrupt => Self::Corrupt,
        }
    }
}
