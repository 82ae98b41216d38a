//! The rings' errors: of one operation ([`SendError`], [`RecvError`] — one
//! pair for every ring and channel — and [`ChunkError`]), of a corrupt peer
//! ([`Corrupt`]), and
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

/// Why a send did nothing: the one error of every ring's and channel's
/// `try_send` and `send` (see the [verb scheme](crate#one-verb-scheme)).
///
/// Not every ring can meet every case; each operation's documentation
/// says which it returns. `try_send` never returns [`SendError::TimedOut`];
/// the waiting `send` never returns [`SendError::Full`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// No room now (`try_send`): the receivers have not caught up.
    Full,
    /// The timeout passed before there was room (`send`).
    TimedOut,
    /// The byte ring only: the message can never fit, so waiting is
    /// pointless.
    TooLarge {
        /// Payload bytes asked for.
        len: usize,
        /// The ring's largest payload.
        max: u32,
    },
    /// The MPMC ring only: the slot for the next send still holds the
    /// element of `position` (a lap earlier): a receiver claimed it and has
    /// not released it within the patience. Transient if that receiver is
    /// descheduled; permanent if it died, until
    /// [`MpmcRing::skip_stalled`](crate::mpmc::MpmcRing::skip_stalled)`(position)`.
    /// Also reported when the operation lost
    /// [`MAX_LOST_RACES`](crate::mpmc::MAX_LOST_RACES) races in a row.
    Stalled {
        /// The stalled element's position.
        position: u32,
    },
    /// The receiving role is held by `holder` (a pid, for processes),
    /// which has died. The core cannot tell whether a holder lives, so its
    /// own operations never return this; layers that can judge liveness
    /// (the Linux crate's named channels) do, between timed waits, so that
    /// one error covers every send.
    PeerDied {
        /// The dead holder's id.
        holder: u32,
    },
    /// The fan-out ring only: the timeout of a waiting `send` passed while
    /// a live subscriber was still a whole lap behind, holding the writer
    /// back. Names it, so that the caller can remove it from the table or
    /// wait longer (the Linux channel evicts *dead* subscribers itself;
    /// this one was judged alive).
    SlowSubscriber {
        /// The subscriber's holder id (a pid, for processes).
        holder: u32,
        /// Its entry in the subscriber table.
        index: u32,
    },
    /// See [`Corrupt`].
    Corrupt,
}

/// Why a receive returned nothing: the one error of every ring's and
/// channel's `try_recv` and `recv` (see the
/// [verb scheme](crate#one-verb-scheme)).
///
/// Not every ring can meet every case; each operation's documentation
/// says which it returns. `try_recv` never returns [`RecvError::TimedOut`];
/// the waiting `recv` never returns [`RecvError::Empty`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecvError {
    /// Nothing is ready now (`try_recv`).
    Empty,
    /// The timeout passed before anything arrived (`recv`).
    TimedOut,
    /// The byte ring only: the caller's buffer is shorter than the next
    /// message, which stays in the ring.
    BufferTooSmall {
        /// The message's payload length.
        needed: usize,
    },
    /// The MPMC ring only: a sender claimed `position`, the next to
    /// receive, and has not published it within the patience. Transient if
    /// that sender is descheduled; permanent if it died, until
    /// [`MpmcRing::skip_stalled`](crate::mpmc::MpmcRing::skip_stalled)`(position)`.
    /// Also reported when the operation lost
    /// [`MAX_LOST_RACES`](crate::mpmc::MAX_LOST_RACES) races in a row.
    Stalled {
        /// The stalled position.
        position: u32,
    },
    /// The sending role is held by `holder` (a pid, for processes), which
    /// has died and left nothing more to receive. Returned only by layers
    /// that judge liveness, as [`SendError::PeerDied`].
    PeerDied {
        /// The dead holder's id.
        holder: u32,
    },
    /// The broadcast ring only: the writer overwrote records this reader
    /// had not read yet. `missed` counts them exactly; the reader has moved
    /// on to the oldest record still intact, which the next receive returns.
    Lapped {
        /// Records lost since the last one received.
        missed: u64,
    },
    /// See [`Corrupt`].
    Corrupt,
}

/// An attempt's result as [`Blocking::run`](crate::Blocking::run) takes
/// it: the error that means "not now" ([`SendError::Full`],
/// [`RecvError::Empty`]) becomes `Ok(None)`, "wait and try again"; every
/// other error ends the wait.
pub(crate) fn or_wait<R, E: NotNow>(result: Result<R, E>) -> Result<Option<R>, E> {
    match result {
        Ok(r) => Ok(Some(r)),
        Err(e) if e.not_now() => Ok(None),
        Err(e) => Err(e),
    }
}

/// An error that may only mean "not now".
pub(crate) trait NotNow {
    /// Whether waiting may turn this error into success.
    fn not_now(&self) -> bool;
}

impl NotNow for SendError {
    fn not_now(&self) -> bool {
        *self == Self::Full
    }
}

impl NotNow for RecvError {
    fn not_now(&self) -> bool {
        *self == Self::Empty
    }
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

impl From<Corrupt> for SendError {
    fn from(_: Corrupt) -> Self {
        Self::Corrupt
    }
}

impl From<Corrupt> for RecvError {
    fn from(_: Corrupt) -> Self {
        Self::Corrupt
    }
}

impl From<Expired> for SendError {
    fn from(_: Expired) -> Self {
        Self::TimedOut
    }
}

impl From<Expired> for RecvError {
    fn from(_: Expired) -> Self {
        Self::TimedOut
    }
}

impl From<Corrupt> for ChunkError {
    fn from(_: Corrupt) -> Self {
        Self::Corrupt
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full => f.write_str("ring full"),
            Self::TimedOut => f.write_str("timed out waiting for room"),
            Self::TooLarge { len, max } => write!(
                f,
                "message of {len} bytes exceeds the ring's largest, {max}"
            ),
            Self::Stalled { position } => write!(
                f,
                "ring stalled: the receiver of position {position} has not released its slot"
            ),
            Self::PeerDied { holder } => write!(f, "the receiver (holder {holder}) died"),
            Self::SlowSubscriber { holder, index } => write!(
                f,
                "timed out: subscriber {index} (holder {holder}) is a lap behind and holds the writer back"
            ),
            Self::Corrupt => Corrupt.fmt(f),
        }
    }
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("ring empty"),
            Self::TimedOut => f.write_str("timed out waiting for a message"),
            Self::BufferTooSmall { needed } => {
                write!(f, "buffer too small: the message has {needed} bytes")
            }
            Self::Stalled { position } => write!(
                f,
                "ring stalled: the sender of position {position} has not published it"
            ),
            Self::PeerDied { holder } => write!(f, "the sender (holder {holder}) died"),
            Self::Lapped { missed } => write!(
                f,
                "lapped by the writer: {missed} records were overwritten unread"
            ),
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn errors_say_what_happened() {
        assert_eq!(
            RecvError::TimedOut.to_string(),
            "timed out waiting for a message"
        );
        assert_eq!(
            SendError::PeerDied { holder: 42 }.to_string(),
            "the receiver (holder 42) died"
        );
        assert_eq!(
            SendError::SlowSubscriber {
                holder: 7,
                index: 3
            }
            .to_string(),
            "timed out: subscriber 3 (holder 7) is a lap behind and holds the writer back"
        );
    }
}
