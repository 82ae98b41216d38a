//! Named channels of variable-length messages: a [`ByteRing`] in a named
//! object, with the same create/open, lifecycle and waiting as
//! [`SpscChannel`](super::SpscChannel). The capacity counts bytes.

use std::time::Duration;

use interlink_core::bytes::{ByteRing, Consumer, Producer, RecvError, SendError};
use interlink_core::layout::Kind;
use interlink_core::sync::AtomicU32;
use interlink_core::wait::wait_set::Source;
use interlink_core::ElementCheck;
use interlink_core::{AttachError, InitError, Region, RingConfig};

use super::{patience_setters, Channel, ChannelError, Patience, Shape};
use crate::futex::Futex;
use crate::process;

/// Marker: a channel holding a [`ByteRing`]: messages of any length up to
/// [`ByteChannel::max_payload`], each with a `u32` tag.
#[derive(Debug)]
pub struct Bytes;

impl Shape for Bytes {
    const KIND: Kind = Kind::Bytes;

    fn bytes_needed(capacity: u32) -> Result<usize, InitError> {
        ByteRing::bytes_needed(capacity)
    }

    fn init(region: Region<'_>, config: RingConfig) -> Result<(), InitError> {
        ByteRing::init(region, config).map(drop)
    }

    fn attach(region: Region<'_>, _check: ElementCheck) -> Result<u32, AttachError> {
        ByteRing::attach(region).map(|r| r.capacity())
    }
}

/// A named single-producer single-consumer channel of byte messages.
pub type ByteChannel = Channel<Bytes>;

impl Channel<Bytes> {
    fn ring(&self) -> Result<ByteRing<'_>, ChannelError> {
        self.attached(|region, _| ByteRing::attach(region))
    }

    /// Claims the producer role for this process, taking it over if its
    /// holder is dead.
    pub fn sender(&self) -> Result<ByteSender<'_>, ChannelError> {
        let tx = self
            .ring()?
            .take_over_producer(process::holder(), |pid| self.holder_alive(pid))?;
        Ok(ByteSender {
            tx,
            patience: self.patience,
        })
    }

    /// Claims the consumer role for this process, taking it over if its
    /// holder is dead.
    pub fn receiver(&self) -> Result<ByteReceiver<'_>, ChannelError> {
        let rx = self
            .ring()?
            .take_over_consumer(process::holder(), |pid| self.holder_alive(pid))?;
        Ok(ByteReceiver {
            rx,
            patience: self.patience,
        })
    }

    /// The largest message payload (capacity − 16 bytes).
    pub fn max_payload(&self) -> u32 {
        self.ring().map_or(0, |r| r.max_payload())
    }
}

/// The sending end of a [`ByteChannel`], holding the producer role.
#[derive(Debug)]
pub struct ByteSender<'c> {
    pub(super) tx: Producer<'c>,
    pub(super) patience: Patience,
}

impl<'c> ByteSender<'c> {
    /// Sends `payload` tagged `tag` if there is room, without blocking;
    /// wakes a parked receiver.
    #[inline]
    pub fn try_send(&mut self, tag: u32, payload: &[u8]) -> Result<(), SendError> {
        self.tx.try_send(tag, payload)?;
        self.tx.wake_consumer(&Futex);
        Ok(())
    }

    /// Sends `payload` tagged `tag`, waiting for room as long as the
    /// receiver lives.
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

/// The receiving end of a [`ByteChannel`], holding the consumer role.
#[derive(Debug)]
pub struct ByteReceiver<'c> {
    pub(super) rx: Consumer<'c>,
    pub(super) patience: Patience,
}

impl<'c> ByteReceiver<'c> {
    /// Receives the next message into `buf` if there is one, without
    /// blocking; returns its tag and length, and wakes a parked sender.
    #[inline]
    pub fn try_recv(&mut self, buf: &mut [u8]) -> Result<(u32, usize), RecvError> {
        let got = self.rx.try_recv(buf)?;
        self.rx.wake_producer(&Futex);
        Ok(got)
    }

    /// Receives the next message into `buf`, waiting as long as the sender
    /// lives; returns its tag and length. Messages sent before the sender
    /// died are delivered first.
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
        let ring = self.rx.ring();
        let rx = &mut self.rx;
        self.patience.wait(
            &mut left,
            || ring.producer_holder(),
            |b, t| rx.recv(buf, b, t),
        )
    }

    /// The underlying consumer, for zero-copy [`Consumer::peek`] and
    /// [`Consumer::drain`]. What it releases does not wake a parked sender
    /// by itself: call [`Consumer::wake_producer`] with [`Futex`]
    /// afterwards.
    pub fn consumer(&mut self) -> &mut Consumer<'c> {
        &mut self.rx
    }
}

patience_setters!([] ByteSender<'_>, [] ByteReceiver<'_>);

/// Ready when a message can be received (see
/// [`wait_set`](interlink_core::wait::wait_set)).
impl Source for ByteReceiver<'_> {
    fn event_word(&self) -> &AtomicU32 {
        self.rx.event_word()
    }

    fn is_ready(&self) -> bool {
        self.rx.is_ready()
    }
}
