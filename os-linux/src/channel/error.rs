//! Why a channel could not be created or opened: [`ChannelError`], and
//! what an opener was still waiting for: [`Pending`].

use std::fmt;
use std::time::Duration;

use interlink_core::{AttachError, InitError, RoleError};

use crate::memfd::Seals;
use crate::shm::ShmError;

/// What an opener was still waiting for when its timeout passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pending {
    /// No object has the name.
    Missing,
    /// The object exists but has no bytes yet (created, not sized).
    Empty,
    /// The header is not published (its state word).
    NotReady {
        /// The raw state word.
        state: u32,
    },
}

impl fmt::Display for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("no object has this name"),
            Self::Empty => f.write_str("the object exists but is empty (not sized yet)"),
            Self::NotReady { state } => {
                write!(f, "the structure is not published (state {state})")
            }
        }
    }
}

/// Why a channel could not be created or opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChannelError {
    /// A name, size, or syscall problem.
    Shm(ShmError),
    /// The configuration cannot make a ring (capacity).
    Init(InitError),
    /// The object exists but is not a channel this call can use: another
    /// kind, layout version or element type, or a corrupt header.
    Attach {
        /// The object's name.
        name: String,
        /// What was wrong.
        error: AttachError,
    },
    /// The object is shorter than a header yet not empty: truncated, or
    /// not interlink's.
    Truncated {
        /// The object's name.
        name: String,
        /// Its size in bytes.
        size: usize,
    },
    /// Creating: the name is taken by an object that is not stale.
    Exists {
        /// The object's name.
        name: String,
        /// Why it was not replaced (as the inspector classifies it).
        why: String,
    },
    /// Opening: the timeout passed while the object was not ready.
    Timeout {
        /// The object's name.
        name: String,
        /// How long the opener waited.
        waited: Duration,
        /// What it was still waiting for.
        pending: Pending,
    },
    /// A role could not be claimed: another live process holds it.
    Role(RoleError),
    /// Opening: the object's size is not the one its structure takes:
    /// another process resized it (grew or shrank it). Refused before
    /// anything was mapped.
    WrongSize {
        /// The object's name.
        name: String,
        /// Its size in bytes (by `fstat`).
        size: u64,
        /// The size its validated header says the structure takes.
        needed: u64,
    },
    /// A descriptor handed to
    /// [`Channel::from_sealed_fd`](super::Channel::from_sealed_fd) is not
    /// sealed as a sealed channel must be: it lacks `F_SEAL_SHRINK |
    /// F_SEAL_GROW` (a peer could truncate it under the mapping), or
    /// carries a write seal (it cannot be mapped writable), or is not a
    /// sealable memfd.
    Seals {
        /// What the descriptor is (`/memfd:LABEL`).
        name: String,
        /// The seals found (`F_GET_SEALS`; empty if it cannot have any).
        found: Seals,
        /// What is wrong.
        problem: &'static str,
    },
}

impl From<ShmError> for ChannelError {
    fn from(e: ShmError) -> Self {
        Self::Shm(e)
    }
}

impl From<InitError> for ChannelError {
    fn from(e: InitError) -> Self {
        Self::Init(e)
    }
}

impl From<RoleError> for ChannelError {
    fn from(e: RoleError) -> Self {
        Self::Role(e)
    }
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Shm(e) => e.fmt(f),
            Self::Init(e) => write!(f, "cannot make the ring: {e}"),
            Self::Attach { name, error } => write!(f, "{name}: {error}"),
            Self::Truncated { name, size } => write!(
                f,
                "{name}: {size} bytes, shorter than a header (truncated, or not an interlink object)"
            ),
            Self::Exists { name, why } => write!(f, "{name} exists and is in use: {why}"),
            Self::Timeout {
                name,
                waited,
                pending,
            } => write!(f, "{name}: not ready after {waited:?}: {pending}"),
            Self::Role(e) => e.fmt(f),
            Self::WrongSize { name, size, needed } => write!(
                f,
                "{name}: {size} bytes, but its structure takes exactly {needed}: \
                 resized by another process? (refused before mapping)"
            ),
            Self::Seals {
                name,
                found,
                problem,
            } => write!(
                f,
                "{name}: seals {:#x}: {problem} (a sealed channel needs \
                 F_SEAL_SHRINK | F_SEAL_GROW and no write seal)",
                found.0
            ),
        }
    }
}

impl std::error::Error for ChannelError {}
