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
//! # Who uses it
//!
//! Without roles, the ring records its users instead: every [`Channel`]
//! (created or opened) joins the ring's users table with this process's
//! pid ([`MpmcRing::join`]) and leaves it when dropped
//! ([`Channel::user_slot`] says where). A process that crashes leaves its
//! pid behind; the next joiner takes a dead user's word over, and the
//! inspector reads it as dead. So an MPMC object is stale (removed by
//! `interlink-inspect gc`, or replaced by a [`Channel::create`] of the same
//! name) only when its creator and every recorded user are dead: the
//! creator may exit while others go on using the channel.
//!
//! The table has [`USER_WORDS`](interlink_core::mpmc::USER_WORDS) words.
//! A process that finds them all held by live users still gets its
//! channel, unrecorded, and sets the table's sticky overflow flag; from
//! then on the object never counts as stale (the inspector cannot know
//! who is left), so remove it by name (`interlink-inspect rm`, or
//! [`remove`](super::remove)) once you know it is unused. Pids are reused:
//! a dead user's pid that now names an unrelated live process keeps the
//! object "in use", the safe direction.

use std::time::Duration;

use interlink_core::layout::Kind;
use interlink_core::mpmc::{MpmcRing, PopError, PushError, UserSlot};
use interlink_core::{AttachError, BlockError, InitError, Plain, Region, RingConfig};

use super::{patience_setters, Channel, ChannelError, Patience, Shape};
use crate::futex::Futex;
use crate::process;

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

    /// Joins the ring's users table ([`MpmcRing::join`]), taking over the
    /// word of a user that died without leaving. `None` only if the ring
    /// no longer validates (rewritten since it was attached).
    fn join(region: Region<'_>, type_id: u64, pid: u32) -> Option<UserSlot> {
        let ring = MpmcRing::<T>::attach(region, type_id).ok()?;
        ring.join(pid, process::is_alive).ok()
    }

    /// Leaves the users table ([`MpmcRing::leave`]).
    fn leave(region: Region<'_>, type_id: u64, slot: UserSlot, pid: u32) {
        if let Ok(ring) = MpmcRing::<T>::attach(region, type_id) {
            ring.leave(slot, pid);
        }
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
