//! Named multi-producer multi-consumer channels: an [`MpmcRing`] in a
//! named object, with the same create/open, lifecycle and waiting as
//! [`SpscChannel`](super::SpscChannel).
//!
//! The ring has no roles, so there is no peer to watch: a blocked call
//! ends when an element (or room) comes, or at its timeout, never with
//! [`BlockError::PeerDied`]. A participant killed mid-operation leaves a
//! stalled position that blocked calls wait on; see
//! [`MpmcRing::skip_stalled`] for the way out.
//!
//! Without roles the inspector knows only the creator's pid: an MPMC
//! object whose creator has died reads as stale (so `gc`, and a `create`
//! of the same name, remove it) even while others still use it. Keep the
//! creator alive for the channel's lifetime.

use std::time::Duration;

use interlink_core::layout::Kind;
use interlink_core::mpmc::{MpmcRing, PopError, PushError};
use interlink_core::{AttachError, BlockError, InitError, Plain, Region, RingConfig};

use super::{patience_setters, Channel, ChannelError, Patience, Shape};
use crate::futex::Futex;

/// Marker: a channel holding an [`MpmcRing`] of `T`.
#[derive(Debug)]
pub struct Mpmc<T>(std::marker::PhantomData<T>);

impl<T: Plain> Shape for Mpmc<T> {
    const KIND: Kind = Kind::Mpmc;

    fn bytes_needed(capacity: u32) -> Result<usize, InitError> {
        MpmcRing::<T>::bytes_needed(capacity)
    }

    fn init(region: Region<'_>, config: RingConfig) -> Result<(), InitError> {
        MpmcRing::<T>::init(region, config).map(drop)
    }

    fn attach(region: Region<'_>, type_id: u64) -> Result<u32, AttachError> {
        MpmcRing::<T>::attach(region, type_id).map(|r| r.capacity())
    }
}

/// A named multi-producer multi-consumer channel of `T`.
pub type MpmcChannel<T> = Channel<Mpmc<T>>;

impl<T: Plain> Channel<Mpmc<T>> {
    /// A handle that sends and receives; take as many as you like, in any
    /// number of threads (it is `Copy`).
    pub fn handle(&self) -> Result<MpmcHandle<'_, T>, ChannelError> {
        Ok(MpmcHandle {
            ring: self.attached(MpmcRing::attach)?,
            patience: self.patience,
        })
    }
}

/// Sends and receives on an [`MpmcChannel`].
#[derive(Debug)]
pub struct MpmcHandle<'c, T> {
    ring: MpmcRing<'c, T>,
    patience: Patience,
}

impl<T> Clone for MpmcHandle<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for MpmcHandle<'_, T> {}

impl<'c, T: Plain> MpmcHandle<'c, T> {
    /// Sends `value` if there is room, without blocking; wakes parked
    /// receivers.
    #[inline]
    pub fn try_send(&self, value: T) -> Result<(), PushError> {
        self.ring.try_push(value)?;
        self.ring.wake_consumers(&Futex);
        Ok(())
    }

    /// Sends `value`, waiting for room at most `timeout` (`None`: no limit).
    pub fn send(&self, value: T, timeout: Option<Duration>) -> Result<(), BlockError> {
        self.patience
            .wait(&mut { timeout }, || 0, |b, t| self.ring.send(value, b, t))
    }

    /// Receives the oldest value if there is one, without blocking; wakes
    /// parked senders.
    #[inline]
    pub fn try_recv(&self) -> Result<T, PopError> {
        let value = self.ring.try_pop()?;
        self.ring.wake_producers(&Futex);
        Ok(value)
    }

    /// Receives a value, waiting at most `timeout` (`None`: no limit).
    pub fn recv(&self, timeout: Option<Duration>) -> Result<T, BlockError> {
        self.patience
            .wait(&mut { timeout }, || 0, |b, t| self.ring.recv(b, t))
    }

    /// The underlying ring, for batches and stall recovery. What its
    /// non-blocking calls do wakes nobody by itself: see
    /// [`MpmcRing::wake_consumers`].
    pub fn ring(&self) -> MpmcRing<'c, T> {
        self.ring
    }
}

patience_setters!([T] MpmcHandle<'_, T>);
