//! The rings' errors: of one operation ([`PushError`], [`PopError`],
//! [`ChunkError`], [`BlockError`]), of a corrupt peer ([`Corrupt`]), and
//! the union of setting a ring up ([`RingError`]). Creating and attaching
//! have their own errors in the foundation ([`InitError`],
//! [`AttachError`]); claiming a role has [`RoleError`].

use core::fmt;

use crate::foundation::layout::{AttachError, InitError};
use crate::ring::role::RoleError;
use crate::wait::Expired;

/// A shared index written by the peer is out of range: the peer is buggy,
/// hostile, or the memory was overwritten. The operation did nothing; the
/// ring stays unusable until the peer's index is sane again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Corrupt;

impl fmt::Display for Corrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ring corrupt: the peer's index is out of range")
    }
}

/// Why a push did nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushError {
    /// No free slot: the consumer has not caught up.
    Full,
    /// See [`Corrupt`].
    Corrupt,
}

/// Why a pop returned nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PopError {
    /// No element is ready.
    Empty,
    /// See [`Corrupt`].
    Corrupt,
}

/// Why a chunk could not be had.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkError {
    /// Fewer than the requested slots (or elements) are available now.
    TooFew {
        /// How many are available.
        available: u32,
    },
    /// See [`Corrupt`].
    Corrupt,
}

impl From<Corrupt> for PushError {
    fn from(_: Corrupt) -> Self {
        Self::Corrupt
    }
}

impl From<Corrupt> for PopError {
    fn from(_: Corrupt) -> Self {
        Self::Corrupt
    }
}

impl From<Corrupt> for ChunkError {
    fn from(_: Corrupt) -> Self {
        Self::Corrupt
    }
}

impl fmt::Display for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full => f.write_str("ring full"),
            Self::Corrupt => Corrupt.fmt(f),
        }
    }
}

impl fmt::Display for PopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("ring empty"),
            Self::Corrupt => Corrupt.fmt(f),
        }
    }
}

impl fmt::Display for ChunkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooFew { available } => write!(f, "only {available} available"),
            Self::Corrupt => Corrupt.fmt(f),
        }
    }
}

/// Any error of creating, attaching or claiming; convenient for `?`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingError {
    /// See [`InitError`].
    Init(InitError),
    /// See [`AttachError`].
    Attach(AttachError),
    /// See [`RoleError`].
    Role(RoleError),
}

impl From<InitError> for RingError {
    fn from(e: InitError) -> Self {
        Self::Init(e)
    }
}

impl From<AttachError> for RingError {
    fn from(e: AttachError) -> Self {
        Self::Attach(e)
    }
}

impl From<RoleError> for RingError {
    fn from(e: RoleError) -> Self {
        Self::Role(e)
    }
}

impl fmt::Display for RingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Init(e) => e.fmt(f),
            Self::Attach(e) => e.fmt(f),
            Self::Role(e) => e.fmt(f),
        }
    }
}

/// Why a blocking ring operation did nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockError {
    /// The timeout passed first.
    TimedOut,
    /// The MPMC ring only: the next position stayed claimed by another
    /// participant that did not finish with it for a whole
    /// [`crate::mpmc::STALL_PATIENCE`] (see
    /// [`crate::mpmc::PopError::Stalled`]); waiting longer would not help
    /// if that participant died.
    Stalled {
        /// The stalled position.
        position: u32,
    },
    /// See [`Corrupt`].
    Corrupt,
    /// The peer's role is held by `holder` (a pid, for processes), which
    /// has died. The core's own operations never return this, as the core
    /// cannot tell whether a holder is alive: it is reserved for the layers
    /// that can and that check the peer's liveness between timed waits
    /// (the Linux shim's named channels return it), so that one error type
    /// covers every blocking ring operation.
    PeerDied {
        /// The dead holder's id.
        holder: u32,
    },
    /// See [`SendError::TooLarge`](crate::bytes::SendError::TooLarge): the
    /// message can never fit, so waiting is pointless.
    TooLarge {
        /// Payload bytes asked for.
        len: usize,
        /// The ring's largest payload.
        max: u32,
    },
    /// See [`RecvError::BufferTooSmall`](crate::bytes::RecvError::BufferTooSmall):
    /// the next message stays in the ring.
    BufferTooSmall {
        /// The message's payload length.
        needed: usize,
    },
}

impl From<Expired> for BlockError {
    fn from(_: Expired) -> Self {
        Self::TimedOut
    }
}

impl From<Corrupt> for BlockError {
    fn from(_: Corrupt) -> Self {
        Self::Corrupt
    }
}

impl fmt::Display for BlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TimedOut => f.write_str("timed out"),
            Self::Stalled { position } => write!(
                f,
                "ring stalled: position {position} was claimed and not finished"
            ),
            Self::Corrupt => Corrupt.fmt(f),
            Self::PeerDied { holder } => write!(f, "the peer (holder {holder}) died"),
            Self::TooLarge { len, max } => write!(
                f,
                "message of {len} bytes exceeds the ring's largest, {max}"
            ),
            Self::BufferTooSmall { needed } => {
                write!(f, "buffer too small: the message has {needed} bytes")
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn errors_say_what_happened() {
        assert_eq!(BlockError::TimedOut.to_string(), "timed out");
        assert_eq!(
            BlockError::PeerDied { holder: 42 }.to_string(),
            "the peer (holder 42) died"
        );
    }
}
