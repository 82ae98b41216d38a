//! Named multi-producer multi-consumer channels: an [`MpmcRing`] in a
//! named object, with the same create/open, lifecycle and waiting as
//! [`SpscChannel`](super::SpscChannel).
//!
//! The ring has no roles, so there is no peer to watch: a blocked call
//! ends when an element (or room) comes, or at its timeout, never with
//! [`RecvError::PeerDied`], and it waits in one piece (no peer-check
//! slices; [`MpmcHandle::set_peer_check`] changes nothing). A participant
//! killed mid-operation leaves a stalled position that blocked calls wait
//! on for [`STALL_PATIENCE`](interlink_core::mpmc::STALL_PATIENCE) before
//! they report [`RecvError::Stalled`]; see [`MpmcRing::skip_stalled`]
//! for the way out.
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
use interlink_core::mpmc::{MpmcRing, Readable, RecvError, SendError, UserSlot, Writable};
use interlink_core::ElementCheck;
use interlink_core::Holder;
use interlink_core::{AttachError, Blocking, InitError, Plain, Region, RingConfig};

use super::{Channel, ChannelError, Shape, Waiting};
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

    fn attach(region: Region<'_>, check: ElementCheck) -> Result<u32, AttachError> {
        MpmcRing::<T>::attach_with(region, check).map(|r| r.capacity())
    }

    /// Joins the ring's users table ([`MpmcRing::join`]), taking over the
    /// word of a user that died without leaving. `None` only if the ring
    /// no longer validates (rewritten since it was attached).
    fn join(region: Region<'_>, check: ElementCheck, holder: Holder) -> Option<UserSlot> {
        let ring = MpmcRing::<T>::attach_with(region, check).ok()?;
        Some(ring.join(holder, crate::liveness::is_alive))
    }

    /// Leaves the users table ([`MpmcRing::leave`]).
    fn leave(region: Region<'_>, check: ElementCheck, slot: UserSlot, holder: Holder) {
        if let Ok(ring) = MpmcRing::<T>::attach_with(region, check) {
            ring.leave(slot, holder);
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
            ring: self.attached(MpmcRing::attach_with)?,
            blocking: self.patience.blocking,
        })
    }
}

/// Sends and receives on an [`MpmcChannel`].
#[derive(Debug)]
pub struct MpmcHandle<'c, T> {
    ring: MpmcRing<'c, T>,
    /// How this handle waits. There is no peer to check: any number of
    /// processes send and receive, so a handle waits for the ring (and the
    /// stall patience for a claimant that died), not for one peer.
    blocking: Blocking<Futex>,
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
    pub fn try_send(&self, value: T) -> Result<(), SendError> {
        self.ring.try_send(value)?;
        self.ring.wake_consumers(&Futex);
        Ok(())
    }

    /// Sends `value`, waiting for room without a time limit. Fails with
    /// [`SendError::Stalled`] only when the next slot stayed claimed by an
    /// unfinished receiver for
    /// [`STALL_PATIENCE`](interlink_core::mpmc::STALL_PATIENCE) (see
    /// [`MpmcRing::send`]).
    pub fn send(&self, value: T) -> Result<(), SendError> {
        self.ring.send(value, &self.blocking, None)
    }

    /// Sends `value`, waiting for room at most `timeout`; as
    /// [`MpmcHandle::send`], and a timeout shorter than the stall patience
    /// ends with [`SendError::TimedOut`].
    pub fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendError> {
        // One core call for the whole timeout: the stall patience must run
        // across the whole wait (a slice shorter than it would end every
        // wait on a merely descheduled claimant).
        self.ring.send(value, &self.blocking, Some(timeout))
    }

    /// Sends as many of `items` as find free slots now, without waiting;
    /// returns how many (0 when full). Wakes parked receivers.
    pub fn try_send_slice(&self, items: &[T]) -> Result<usize, SendError> {
        let n = self.ring.try_send_slice(items)?;
        if n > 0 {
            self.ring.wake_consumers(&Futex);
        }
        Ok(n)
    }

    /// Receives the oldest value if there is one, without blocking; wakes
    /// parked senders.
    #[inline]
    pub fn try_recv(&self) -> Result<T, RecvError> {
        let value = self.ring.try_recv()?;
        self.ring.wake_producers(&Futex);
        Ok(value)
    }

    /// Receives a value, waiting without a time limit. Fails with
    /// [`RecvError::Stalled`] only when the next position stayed claimed by
    /// an unfinished sender for
    /// [`STALL_PATIENCE`](interlink_core::mpmc::STALL_PATIENCE) (see
    /// [`MpmcRing::recv`]).
    pub fn recv(&self) -> Result<T, RecvError> {
        self.ring.recv(&self.blocking, None)
    }

    /// Receives a value, waiting at most `timeout`; as
    /// [`MpmcHandle::recv`], and a timeout shorter than the stall patience
    /// ends with [`RecvError::TimedOut`].
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvError> {
        // As in `send_timeout`: the whole timeout in one core call.
        self.ring.recv(&self.blocking, Some(timeout))
    }

    /// Receives up to `out.len()` values into `out`, without waiting;
    /// returns how many (0 when empty). Wakes parked senders.
    pub fn try_recv_slice(&self, out: &mut [T]) -> Result<usize, RecvError> {
        let n = self.ring.try_recv_slice(out)?;
        if n > 0 {
            self.ring.wake_producers(&Futex);
        }
        Ok(n)
    }

    /// This handle as a wait-set source that is ready when there may be
    /// something to receive (see [`wait_set`](interlink_core::wait::wait_set)).
    pub fn readable(&self) -> Readable<'c, T> {
        self.ring.readable()
    }

    /// This handle as a wait-set source that is ready when there may be
    /// room to send.
    pub fn writable(&self) -> Writable<'c, T> {
        self.ring.writable()
    }

    /// How this handle waits from now on.
    pub fn set_waiting(&mut self, waiting: Waiting) {
        self.blocking = waiting.blocking();
    }

    /// The underlying ring, for stall recovery and status. What its
    /// non-blocking calls do wakes nobody by itself: see
    /// [`MpmcRing::wake_consumers`].
    pub fn ring(&self) -> MpmcRing<'c, T> {
        self.ring
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use interlink_core::mpmc::STALL_PATIENCE;

    use super::*;
    use crate::channel::ChannelOptions;
    use crate::shm::TempName;

    /// Issue 13, hole 8: a live but descheduled sender (here: a position
    /// claimed and not yet published) must not end a 5 s `recv` with
    /// `Stalled` before the stall patience has passed; the channel once
    /// reported it after its 10 ms peer-check slice. Only a lower bound on
    /// the elapsed time is asserted, which any schedule satisfies.
    #[test]
    fn a_stall_is_reported_only_after_the_patience() {
        let name = TempName::new("il-mpmc-stall").unwrap();
        let ch =
            MpmcChannel::<u64>::create(&name, RingConfig::new(4), &ChannelOptions::new()).unwrap();
        let h = ch.handle().unwrap();
        let pos = h.ring().abandon_send().unwrap();
        let start = Instant::now();
        let r = h.recv_timeout(Duration::from_secs(5));
        let waited = start.elapsed();
        assert!(waited >= STALL_PATIENCE, "{r:?} after only {waited:?}");
        assert_eq!(r, Err(RecvError::Stalled { position: pos }));
        // Shorter than the patience: a plain timeout.
        assert_eq!(
            h.recv_timeout(Duration::from_millis(30)),
            Err(RecvError::TimedOut)
        );
        // Likewise a send facing a receiver that claimed a slot a lap ago.
        h.ring().skip_stalled(pos).unwrap();
        let taken = h.ring().abandon_recv();
        assert!(taken.is_err(), "nothing to pop yet");
        for v in 0..4 {
            h.try_send(v).unwrap();
        }
        let pos = h.ring().abandon_recv().unwrap();
        let start = Instant::now();
        let r = h.send_timeout(9, Duration::from_secs(5));
        let waited = start.elapsed();
        assert!(waited >= STALL_PATIENCE, "{r:?} after only {waited:?}");
        assert_eq!(r, Err(SendError::Stalled { position: pos }));
    }
}
