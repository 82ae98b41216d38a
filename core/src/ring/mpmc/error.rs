//! The MPMC ring's errors, and the claim loop's own reasons for
//! claiming nothing.

use core::fmt;

use crate::ring::Corrupt;

/// Why a push did nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushError {
    /// Every slot holds an element: consumers have not caught up.
    Full,
    /// The slot for the next push still holds the element of `position`
    /// (a lap earlier): a consumer claimed it and has not released it within
    /// the spin limit. Transient if that consumer is descheduled; permanent
    /// if it died, until [`MpmcRing::skip_stalled`](super::MpmcRing::skip_stalled)`(position)`. Also
    /// reported when the operation lost [`MAX_LOST_RACES`](super::MAX_LOST_RACES) races in a row.
    Stalled {
        /// The stalled element's position.
        position: u32,
    },
    /// See [`Corrupt`].
    Corrupt,
}

/// Why a pop returned nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PopError {
    /// No element has been claimed by a producer beyond the head.
    Empty,
    /// A producer claimed `position`, the next to pop, and has not published
    /// it within the spin limit. Transient if that producer is descheduled;
    /// permanent if it died, until [`MpmcRing::skip_stalled`](super::MpmcRing::skip_stalled)`(position)`.
    /// Also reported when the operation lost [`MAX_LOST_RACES`](super::MAX_LOST_RACES) races in a
    /// row.
    Stalled {
        /// The stalled position.
        position: u32,
    },
    /// See [`Corrupt`].
    Corrupt,
}

/// [`MpmcRing::skip_stalled`](super::MpmcRing::skip_stalled) found nothing stalled at `position`: the
/// claimant finished, someone else skipped it, or the position is not where
/// the ring waits. Nothing was changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotStalled {
    /// The position asked about.
    pub position: u32,
}

impl fmt::Display for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full => f.write_str("ring full"),
            Self::Stalled { position } => write!(
                f,
                "ring stalled: the consumer of position {position} has not released its slot"
            ),
            Self::Corrupt => Corrupt.fmt(f),
        }
    }
}

impl fmt::Display for PopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("ring empty"),
            Self::Stalled { position } => write!(
                f,
                "ring stalled: the producer of position {position} has not published it"
            ),
            Self::Corrupt => Corrupt.fmt(f),
        }
    }
}

impl fmt::Display for NotStalled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "position {} is not stalled", self.position)
    }
}

impl core::error::Error for PushError {}

impl core::error::Error for PopError {}

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

impl From<Blocked> for PushError {
    fn from(b: Blocked) -> Self {
        match b {
            Blocked::Idle => Self::Full,
            Blocked::Stalled(position) => Self::Stalled { position },
            Blocked::Corrupt => Self::Corrupt,
        }
    }
}

impl From<Blocked> for PopError {
    fn from(b: Blocked) -> Self {
        match b {
            Blocked::Idle => Self::Empty,
            Blocked::Stalled(position) => Self::Stalled { position },
            Blocked::Corrupt => Self::Corrupt,
        }
    }
}
