//! The byte ring's errors.

use core::fmt;

use crate::ring::{Corrupt, PopError};

/// Why a message could not be sent (or space for it reserved). Nothing was
/// written in any case: a message is sent whole or not at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// The payload is longer than the ring's largest ([`ByteRing::max_payload`](super::ByteRing::max_payload)).
    TooLarge {
        /// Payload bytes asked for.
        len: usize,
        /// The ring's largest payload.
        max: u32,
    },
    /// Not enough free space now: the consumer has not caught up.
    Full,
    /// See [`Corrupt`].
    Corrupt,
}

/// Why no message was received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvError {
    /// No message is ready.
    Empty,
    /// The next message is longer than the buffer given; it stays in the
    /// ring.
    BufferTooSmall {
        /// The message's payload length.
        needed: usize,
    },
    /// See [`Corrupt`].
    Corrupt,
}

impl From<Corrupt> for SendError {
    fn from(_: Corrupt) -> Self {
        Self::Corrupt
    }
}

impl From<PopError> for RecvError {
    fn from(e: PopError) -> Self {
        match e {
            PopError::Empty => Self::Empty,
            PopError::Corrupt => Self::Corrupt,
        }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { len, max } => {
                write!(
                    f,
                    "message of {len} bytes exceeds the ring's largest, {max}"
                )
            }
            Self::Full => f.write_str("ring full"),
            Self::Corrupt => Corrupt.fmt(f),
        }
    }
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("ring empty"),
            Self::BufferTooSmall { needed } => {
                write!(f, "buffer too small: the message has {needed} bytes")
            }
            Self::Corrupt => Corrupt.fmt(f),
        }
    }
}
