//! Named fan-out channels: a [`FanoutRing`] of `T` in a named object —
//! one writer process, up to [`MAX_SUBSCRIBERS`] subscriber processes,
//! **lossless**: every subscriber receives every element written after it
//! joined, exactly once and in order, and the writer waits for the
//! slowest. Create and open, the element-type check, stale objects and
//! the writer's role work as for [`SpscChannel`](super::SpscChannel); the
//! capacity counts elements.
//!
//! ```no_run
//! use interlink_core::RingConfig;
//! use interlink_linux::channel::{ChannelOptions, FanoutChannel};
//!
//! // The sensor process.
//! let feed = FanoutChannel::<f64>::create("/readings", RingConfig::new(1024), &ChannelOptions::new())?;
//! let mut tx = feed.writer()?;
//! tx.send(21.5)?; // waits while the slowest subscriber is a lap behind
//!
//! // Each subscriber process (planner, logger, monitor...).
//! let feed = FanoutChannel::<f64>::open("/readings", &ChannelOptions::new())?;
//! let mut rx = feed.subscribe()?; // receives what is written from now on
//! let reading = rx.recv()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Rules
//!
//! - **Subscribers** join with [`FanoutChannel::subscribe`] (an entry of
//!   the ring's table recording [`process::holder`], taking over an entry
//!   whose holder is dead) and leave when the [`FanoutReceiver`] drops.
//! - **A dead subscriber is evicted**: a writer blocked by it judges the
//!   table's holders between slices of its wait (every
//!   [`ChannelOptions::peer_check`](super::ChannelOptions::peer_check),
//!   10 ms by default) by the object's presence locks, then pids (see
//!   [`crate::liveness`]), and removes the dead, so a killed subscriber
//!   holds the writer back for about one slice. [`FanoutSender::try_send`]
//!   never judges (no syscall); call [`FanoutSender::evict_dead`] when it
//!   keeps failing.
//! - **A slow live subscriber** holds the writer back; a send that times
//!   out because of it fails with [`SendError::SlowSubscriber`] naming its
//!   holder and table index.
//! - **Waiting** is on the shared futex, with the no-syscall-while-awake
//!   rule: a send costs one load (no fence) to see whether a
//!   subscriber sleeps, a receive the same to see whether the writer
//!   does. A subscriber whose writer died receives what was written, then
//!   [`RecvError::PeerDied`]; a new writer takes the dead one's role over
//!   and resumes at the shared tail.

use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::time::Duration;

use interlink_core::fanout::{FanoutRing, FanoutWriter, Subscriber, MAX_SUBSCRIBERS};
use interlink_core::layout::Kind;
use interlink_core::{
    AttachError, ElementCheck, InitError, Plain, RecvError, Region, RingConfig, SendError,
};

use super::{patience_setters, Channel, ChannelError, Patience, Shape};
use crate::futex::Futex;
use crate::process;

/// Marker: a channel holding a [`FanoutRing`] of `T`.
#[derive(Debug)]
pub struct Fanout<T>(PhantomData<T>);

impl<T: Plain> Shape for Fanout<T> {
    const KIND: Kind = Kind::Fanout;

    fn bytes_needed(capacity: u32) -> Result<usize, InitError> {
        FanoutRing::<T>::bytes_needed(capacity)
    }

    fn init(region: Region<'_>, config: RingConfig) -> Result<(), InitError> {
        FanoutRing::<T>::init(region, config).map(drop)
    }

    fn attach(region: Region<'_>, check: ElementCheck) -> Result<u32, AttachError> {
        FanoutRing::<T>::attach_with(region, check).map(|r| r.capacity())
    }
}

/// A named fan-out channel of `T`.
pub type FanoutChannel<T> = Channel<Fanout<T>>;

impl<T: Plain> Channel<Fanout<T>> {
    fn ring(&self) -> Result<FanoutRing<'_, T>, ChannelError> {
        self.attached(FanoutRing::attach_with)
    }

    /// Claims the writer role for this process, taking it over if its
    /// holder is dead (the new writer resumes at the shared tail).
    pub fn writer(&self) -> Result<FanoutSender<'_, T>, ChannelError> {
        let w = self
            .ring()?
            .take_over_writer(process::holder(), |pid| self.holder_alive(pid))?;
        Ok(FanoutSender {
            w,
            patience: self.patience,
        })
    }

    /// Joins as a subscriber for this process: it receives every element
    /// written from now on. Takes a free entry of the table, or one whose
    /// holder is dead; fails with a role error when all
    /// [`MAX_SUBSCRIBERS`] hold live subscribers.
    pub fn subscribe(&self) -> Result<FanoutReceiver<'_, T>, ChannelError> {
        let s = self
            .ring()?
            .subscribe(process::holder(), |pid| self.holder_alive(pid))?;
        Ok(FanoutReceiver {
            s: ManuallyDrop::new(s),
            patience: self.patience,
        })
    }

    /// The holder of every entry of the subscriber table (0: free).
    pub fn subscriber_holders(&self) -> [u32; MAX_SUBSCRIBERS] {
        self.ring()
            .map_or([0; MAX_SUBSCRIBERS], |r| r.subscriber_holders())
    }
}

patience_setters!([T: Plain] FanoutSender<'_, T>, [T: Plain] FanoutReceiver<'_, T>);

/// The writing end of a [`FanoutChannel`], holding the writer role.
#[derive(Debug)]
pub struct FanoutSender<'c, T: Plain> {
    w: FanoutWriter<'c, T>,
    patience: Patience,
}

impl<'c, T: Plain> FanoutSender<'c, T> {
    /// Writes `value` if every subscriber has room, without waiting or
    /// judging anyone (no syscall); wakes parked subscribers. Fails with
    /// [`SendError::Full`] while the slowest is a lap behind.
    #[inline]
    pub fn try_send(&mut self, value: T) -> Result<(), SendError> {
        self.w.try_send(value)?;
        self.w.wake_subscribers(&Futex);
        Ok(())
    }

    /// Writes `value`, waiting as long as the slowest live subscriber is
    /// a lap behind; dead subscribers are evicted meanwhile.
    pub fn send(&mut self, value: T) -> Result<(), SendError> {
        self.send_inner(value, &mut None)
    }

    /// Writes `value`, waiting at most `timeout`; a live subscriber still
    /// a lap behind then is named: [`SendError::SlowSubscriber`].
    pub fn send_timeout(&mut self, value: T, timeout: Duration) -> Result<(), SendError> {
        self.send_inner(value, &mut Some(timeout))
    }

    fn send_inner(&mut self, value: T, left: &mut Option<Duration>) -> Result<(), SendError> {
        let blocking = self.patience.blocking;
        let every = self.patience.peer_check;
        loop {
            let slice = left.map_or(every, |l| l.min(every));
            let err = match self.w.send(value, &blocking, Some(slice)) {
                Err(e @ (SendError::TimedOut | SendError::SlowSubscriber { .. })) => e,
                done => return done,
            };
            // Between slices: the dead no longer hold the writer back.
            let evicted = self.evict_dead();
            if let Some(l) = left {
                // The slice timed out, so at least its length has passed.
                *l = l.saturating_sub(slice);
                if l.is_zero() {
                    if evicted == 0 {
                        return Err(err);
                    }
                    return self.w.send(value, &blocking, Some(Duration::ZERO));
                }
            }
        }
    }

    /// Writes as many of `items` as every subscriber has room for, in
    /// order, with one publication, without waiting; returns how many (0
    /// when full). Wakes parked subscribers.
    pub fn try_send_slice(&mut self, items: &[T]) -> Result<usize, SendError> {
        let n = self.w.try_send_slice(items)?;
        if n > 0 {
            self.w.wake_subscribers(&Futex);
        }
        Ok(n)
    }

    /// Writes all of `items` in order, in batches, waiting for room as
    /// needed (at most `timeout` in all; `None`: as long as it takes) and
    /// evicting dead subscribers meanwhile. On error, the first `n` were
    /// written where `n` is in the `Err`.
    pub fn send_slice(
        &mut self,
        mut items: &[T],
        timeout: Option<Duration>,
    ) -> Result<(), (usize, SendError)> {
        let total = items.len();
        let mut left = timeout;
        while let Some((&first, rest)) = items.split_first() {
            let sent = |items: &[T]| total - items.len();
            let n = self.w.try_send_slice(items).map_err(|e| (sent(items), e))?;
            if n > 0 {
                self.w.wake_subscribers(&Futex);
                items = &items[n..];
            } else {
                // Full: wait for room by sending one.
                self.send_inner(first, &mut left)
                    .map_err(|e| (sent(items), e))?;
                items = rest;
            }
        }
        Ok(())
    }

    /// Removes every subscriber whose holder is dead (judged by the
    /// object's presence locks, then its pid); returns how many. Costs
    /// syscalls: [`FanoutSender::send`] does it only while it waits.
    pub fn evict_dead(&mut self) -> u32 {
        let patience = self.patience;
        self.w.evict(|holder| patience.peer_alive(holder))
    }

    /// The subscriber furthest behind: its holder and how many elements it
    /// has not received (`None` without subscribers).
    pub fn slowest(&self) -> Option<(u32, u32)> {
        self.w.slowest()
    }

    /// The underlying core writer, for chunks ([`FanoutWriter::reserve`]).
    /// What it publishes does not wake parked subscribers by itself: call
    /// [`FanoutWriter::wake_subscribers`] with [`Futex`] afterwards.
    pub fn writer(&mut self) -> &mut FanoutWriter<'c, T> {
        &mut self.w
    }
}

/// A subscriber of a [`FanoutChannel`]: an entry of its table, left when
/// this drops (waking the writer, which may have been waiting for it).
#[derive(Debug)]
pub struct FanoutReceiver<'c, T: Plain> {
    s: ManuallyDrop<Subscriber<'c, T>>,
    patience: Patience,
}

impl<T: Plain> Drop for FanoutReceiver<'_, T> {
    fn drop(&mut self) {
        let ring = self.s.ring();
        // SAFETY: `s` is dropped here once and never used again.
        unsafe { ManuallyDrop::drop(&mut self.s) };
        ring.wake_writer(&Futex);
    }
}

impl<'c, T: Plain> FanoutReceiver<'c, T> {
    /// Receives the next element without waiting; wakes a parked writer.
    #[inline]
    pub fn try_recv(&mut self) -> Result<T, RecvError> {
        let v = self.s.try_recv()?;
        self.s.wake_writer(&Futex);
        Ok(v)
    }

    /// Receives the next element, waiting as long as the writer lives (a
    /// dead writer's elements are delivered first, then `PeerDied`; with
    /// no writer at all it waits).
    pub fn recv(&mut self) -> Result<T, RecvError> {
        self.recv_inner(&mut None)
    }

    /// Receives the next element, waiting at most `timeout`.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<T, RecvError> {
        self.recv_inner(&mut Some(timeout))
    }

    fn recv_inner(&mut self, left: &mut Option<Duration>) -> Result<T, RecvError> {
        let ring = self.s.ring();
        let s = &mut self.s;
        self.patience
            .wait(left, || ring.writer_holder(), |b, t| s.recv(b, t))
    }

    /// Receives up to `out.len()` elements into `out`, in order, with one
    /// cursor store, without waiting; returns how many (0 when none is
    /// ready). Wakes a parked writer.
    pub fn try_recv_slice(&mut self, out: &mut [T]) -> Result<usize, RecvError> {
        let n = self.s.try_recv_slice(out)?;
        if n > 0 {
            self.s.wake_writer(&Futex);
        }
        Ok(n)
    }

    /// Receives into `out`, waiting until at least one element is there
    /// (at most `timeout`; `None`: as long as the writer lives); returns
    /// how many.
    pub fn recv_slice(
        &mut self,
        out: &mut [T],
        timeout: Option<Duration>,
    ) -> Result<usize, RecvError> {
        if out.is_empty() {
            return Ok(0);
        }
        let n = self.try_recv_slice(out)?;
        if n > 0 {
            return Ok(n);
        }
        let mut left = timeout;
        out[0] = self.recv_inner(&mut left)?;
        let more = self.try_recv_slice(&mut out[1..])?;
        Ok(1 + more)
    }

    /// Its entry in the subscriber table.
    pub fn index(&self) -> usize {
        self.s.index()
    }

    /// Whether its entry still records it (`false` once a writer judged
    /// it dead and evicted it).
    pub fn is_member(&self) -> bool {
        self.s.is_member()
    }

    /// The underlying core subscriber, for chunks ([`Subscriber::peek`]).
    /// What it releases does not wake a parked writer by itself: call
    /// [`Subscriber::wake_writer`] with [`Futex`] afterwards.
    pub fn subscriber(&mut self) -> &mut Subscriber<'c, T> {
        &mut self.s
    }
}
