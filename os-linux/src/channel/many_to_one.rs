//! Named many-to-one channels: a [`ManyToOneRing`] in a named object —
//! any number of sender processes (no role: each stamps its claims with its
//! pid), one receiver (the consumer role) — with the same create/open,
//! lifecycle and waiting as [`ByteChannel`](super::ByteChannel). The
//! capacity counts bytes.
//!
//! ```no_run
//! use interlink_core::RingConfig;
//! use interlink_linux::channel::{ChannelOptions, ManyToOneChannel};
//!
//! // The engine creates the channel and receives.
//! let engine = ManyToOneChannel::create("/orders", RingConfig::new(1 << 16), &ChannelOptions::new())?;
//! let mut rx = engine.receiver()?;
//!
//! // Any number of client processes open it by name and send.
//! let client = ManyToOneChannel::open("/orders", &ChannelOptions::new())?;
//! client.sender()?.send(1, b"buy 100 @ 42")?;
//!
//! let mut buf = [0u8; 256];
//! let (tag, len) = rx.recv(&mut buf)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # A sender that dies mid-message
//!
//! A sender killed between claiming its record and publishing it leaves the
//! receiver waiting at that record; the others keep sending behind it. A
//! blocked [`ManyToOneReceiver::recv`] checks, between its
//! [`peer_check`](super::ChannelOptions::peer_check) slices, who holds the
//! record: once the claimant's pid (from the record's stamp) is judged
//! dead by [`crate::liveness`] — its presence lock in the object gone —
//! the record is skipped and counted
//! ([`ManyToOneRing::skipped`]), and the messages behind it arrive. A
//! claim with no stamp yet (a sender killed in the few instructions between
//! its claim and its stamp) and a live sender that never publishes are
//! skipped after the claim patience ([`ManyToOneReceiver::set_claim_patience`],
//! default [`CLAIM_PATIENCE`], 1 s). Non-blocking receivers call
//! [`ManyToOneReceiver::skip_dead`] when `try_recv` reports
//! [`RecvError::Stalled`].
//!
//! A blocked sender waits for room while the receiver lives, and returns
//! [`SendError::PeerDied`] once the receiver's pid is dead.

use std::time::{Duration, Instant};

use interlink_core::layout::Kind;
use interlink_core::many_to_one::{
    Consumer, ManyToOneRing, Producer, SkipError, Stall, CLAIM_PATIENCE,
};
use interlink_core::{
    AttachError, ElementCheck, InitError, RecvError, Region, RingConfig, SendError,
};

use super::{patience_setters, Channel, ChannelError, Patience, Shape};
use crate::futex::Futex;
use crate::liveness;
use crate::process;

/// Marker: a channel holding a [`ManyToOneRing`]: messages of any length up
/// to [`ManyToOneChannel::max_payload`], each with a `u32` tag, from any
/// number of senders to one receiver.
#[derive(Debug)]
pub struct ManyToOne;

impl Shape for ManyToOne {
    const KIND: Kind = Kind::ManyToOne;

    fn bytes_needed(capacity: u32) -> Result<usize, InitError> {
        ManyToOneRing::bytes_needed(capacity)
    }

    fn init(region: Region<'_>, config: RingConfig) -> Result<(), InitError> {
        ManyToOneRing::init(region, config).map(drop)
    }

    fn attach(region: Region<'_>, _check: ElementCheck) -> Result<u32, AttachError> {
        ManyToOneRing::attach(region).map(|r| r.capacity())
    }
}

/// A named many-to-one channel of byte messages.
pub type ManyToOneChannel = Channel<ManyToOne>;

impl Channel<ManyToOne> {
    /// The ring, attached.
    pub fn ring(&self) -> Result<ManyToOneRing<'_>, ChannelError> {
        self.attached(|region, _check| ManyToOneRing::attach(region))
    }

    /// A sender for this process: any number may exist, in any number of
    /// threads and processes; each stamps its claims with this process's
    /// pid.
    pub fn sender(&self) -> Result<ManyToOneSender<'_>, ChannelError> {
        let tx = self.ring()?.producer(process::holder());
        Ok(ManyToOneSender {
            tx,
            patience: self.patience,
        })
    }

    /// Claims the receiving role for this process, taking it over if its
    /// holder is dead.
    pub fn receiver(&self) -> Result<ManyToOneReceiver<'_>, ChannelError> {
        let rx = self
            .ring()?
            .take_over_consumer(process::holder(), |pid| self.holder_alive(pid))?;
        Ok(ManyToOneReceiver {
            rx,
            patience: self.patience,
            claim_patience: CLAIM_PATIENCE,
            stalled: None,
        })
    }

    /// The largest message payload (capacity − 32 bytes).
    pub fn max_payload(&self) -> u32 {
        self.ring().map_or(0, |r| r.max_payload())
    }
}

/// A sending end of a [`ManyToOneChannel`].
#[derive(Debug)]
pub struct ManyToOneSender<'c> {
    tx: Producer<'c>,
    patience: Patience,
}

impl<'c> ManyToOneSender<'c> {
    /// Sends `payload` tagged `tag` if there is room, without blocking;
    /// wakes a parked receiver (also when the attempt published padding
    /// and found no room at the front: the receiver frees it).
    #[inline]
    pub fn try_send(&mut self, tag: u32, payload: &[u8]) -> Result<(), SendError> {
        let sent = self.tx.try_send(tag, payload);
        if matches!(sent, Ok(()) | Err(SendError::Full)) {
            self.tx.wake_consumer(&Futex);
        }
        sent
    }

    /// Sends `payload` tagged `tag`, waiting for room as long as the
    /// receiver lives ([`SendError::PeerDied`] once it is dead).
    pub fn send(&mut self, tag: u32, payload: &[u8]) -> Result<(), SendError> {
        self.send_inner(tag, payload, None)
    }

    /// Sends `payload` tagged `tag`, waiting for room at most `timeout`.
    pub fn send_timeout(
        &mut self,
        tag: u32,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<(), SendError> {
        self.send_inner(tag, payload, Some(timeout))
    }

    fn send_inner(
        &mut self,
        tag: u32,
        payload: &[u8],
        mut left: Option<Duration>,
    ) -> Result<(), SendError> {
        let ring = self.tx.ring();
        let tx = &mut self.tx;
        self.patience.wait(
            &mut left,
            || ring.consumer_holder(),
            |b, t| tx.send(tag, payload, b, t),
        )
    }

    /// The underlying producer, for zero-copy [`Producer::reserve`]. What
    /// it commits does not wake a parked receiver by itself: call
    /// [`Producer::wake_consumer`] with [`Futex`] afterwards.
    pub fn producer(&mut self) -> &mut Producer<'c> {
        &mut self.tx
    }
}

/// The receiving end of a [`ManyToOneChannel`], holding the consumer role.
#[derive(Debug)]
pub struct ManyToOneReceiver<'c> {
    rx: Consumer<'c>,
    patience: Patience,
    /// How long an unfinished record may hold the receiver before it is
    /// skipped whoever its claimant is.
    claim_patience: Duration,
    /// The unfinished record waited on, and since when.
    stalled: Option<(u32, Instant)>,
}

impl<'c> ManyToOneReceiver<'c> {
    /// Receives the next message into `buf` if there is one, without
    /// blocking; returns its tag and length, and wakes parked senders. An
    /// unfinished record at the head is [`RecvError::Stalled`]: see
    /// [`ManyToOneReceiver::skip_dead`].
    #[inline]
    pub fn try_recv(&mut self, buf: &mut [u8]) -> Result<(u32, usize), RecvError> {
        let got = self.rx.try_recv(buf)?;
        self.rx.wake_producers(&Futex);
        Ok(got)
    }

    /// Receives the next message into `buf`, waiting without a time limit;
    /// skips the record of a sender that died mid-message (see the module
    /// docs).
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<(u32, usize), RecvError> {
        self.recv_inner(buf, None)
    }

    /// Receives the next message into `buf`, waiting at most `timeout`.
    pub fn recv_timeout(
        &mut self,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<(u32, usize), RecvError> {
        self.recv_inner(buf, Some(timeout))
    }

    fn recv_inner(
        &mut self,
        buf: &mut [u8],
        mut left: Option<Duration>,
    ) -> Result<(u32, usize), RecvError> {
        loop {
            let slice = left.map_or(self.patience.peer_check, |l| {
                l.min(self.patience.peer_check)
            });
            match self.rx.recv(buf, &self.patience.blocking, Some(slice)) {
                Err(RecvError::TimedOut) => {}
                done => return done,
            }
            self.skip_dead()?;
            // The slice timed out, so at least its length has passed.
            if let Some(l) = &mut left {
                *l = l.saturating_sub(slice);
                if l.is_zero() {
                    return Err(RecvError::TimedOut);
                }
            }
        }
    }

    /// If the receiver waits on an unfinished record whose claimant is
    /// dead (by [`crate::liveness`]), or that has stayed unfinished for the
    /// claim patience since this receiver first saw it, skips it (counted)
    /// and wakes parked senders; returns whether it skipped. Reads `/proc`
    /// or the object's locks: call it when `try_recv` reports
    /// [`RecvError::Stalled`], not in a hot loop.
    pub fn skip_dead(&mut self) -> Result<bool, RecvError> {
        let Some(stall) = self.rx.stall()? else {
            self.stalled = None;
            return Ok(false);
        };
        let since = match self.stalled {
            Some((position, since)) if position == stall.position => since,
            _ => {
                let now = Instant::now();
                self.stalled = Some((stall.position, now));
                now
            }
        };
        let dead = self.claimant_dead(stall);
        if !dead && since.elapsed() < self.claim_patience {
            return Ok(false);
        }
        match self.rx.skip_stalled(stall.position) {
            Ok(_) => {
                self.stalled = None;
                self.rx.wake_producers(&Futex);
                Ok(true)
            }
            Err(SkipError::NotStalled { .. } | SkipError::NoBoundary { .. }) => Ok(false),
            Err(SkipError::Corrupt) => Err(RecvError::Corrupt),
        }
    }

    /// Whether the stamped claimant of `stall` is judged dead (an
    /// unstamped claim has none to judge).
    fn claimant_dead(&self, stall: Stall) -> bool {
        match stall.claimant {
            Some(pid) if pid != 0 => !match self.patience.judge {
                Some(judge) => judge.alive(pid),
                None => liveness::process_alive(pid),
            },
            _ => false,
        }
    }

    /// How long an unfinished record may hold this receiver, whoever its
    /// claimant, before it is skipped (at least 1 ms; default
    /// [`CLAIM_PATIENCE`]). Skipping a live claimant garbles contents,
    /// never bounds (see [`interlink_core::many_to_one`]).
    pub fn set_claim_patience(&mut self, patience: Duration) {
        self.claim_patience = super::at_least_1ms(patience);
    }

    /// Records skipped so far in this ring (by any receiver).
    pub fn skipped(&self) -> u32 {
        self.rx.ring().skipped()
    }

    /// The underlying consumer, for zero-copy [`Consumer::peek`] and
    /// [`Consumer::drain`]. What it releases does not wake parked senders
    /// by itself: call [`Consumer::wake_producers`] with [`Futex`]
    /// afterwards.
    pub fn consumer(&mut self) -> &mut Consumer<'c> {
        &mut self.rx
    }
}

patience_setters!([] ManyToOneSender<'_>, [] ManyToOneReceiver<'_>);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::ChannelOptions;
    use crate::shm::TempName;

    #[test]
    fn send_recv_and_skip_an_abandoned_claim_after_the_patience() {
        let name = TempName::new("il-m2o").unwrap();
        let ch =
            ManyToOneChannel::create(&name, RingConfig::new(4096), &ChannelOptions::new()).unwrap();
        let other = ManyToOneChannel::open(&name, &ChannelOptions::new()).unwrap();
        let mut rx = ch.receiver().unwrap();
        let mut a = ch.sender().unwrap();
        let mut b = other.sender().unwrap();
        a.send(1, b"one").unwrap();
        b.try_send(2, b"two").unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(rx.recv(&mut buf), Ok((1, 3)));
        assert_eq!(
            rx.recv_timeout(&mut buf, Duration::from_secs(1)),
            Ok((2, 3))
        );
        // A live claimant (this process) that never commits: skipped after
        // the patience only.
        a.producer().abandon_claim(5).unwrap();
        b.send(3, b"three").unwrap();
        rx.set_claim_patience(Duration::from_millis(200));
        let start = Instant::now();
        assert_eq!(
            rx.recv_timeout(&mut buf, Duration::from_millis(50)),
            Err(RecvError::TimedOut)
        );
        assert_eq!(rx.skipped(), 0);
        assert_eq!(
            rx.recv_timeout(&mut buf, Duration::from_secs(10)),
            Ok((3, 5))
        );
        // Skipped only once the patience had passed since it was first seen.
        assert!(start.elapsed() >= Duration::from_millis(200));
        assert_eq!(rx.skipped(), 1);
        assert_eq!(
            ManyToOneChannel::open(&name, &ChannelOptions::new())
                .unwrap()
                .receiver()
                .unwrap_err(),
            ChannelError::Role(interlink_core::RoleError::Taken {
                holder: process::current_pid()
            })
        );
    }
}
