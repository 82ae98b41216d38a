//! The SPSC channel: [`SpscChannel`], its [`Sender`] and its [`Receiver`].

use std::marker::PhantomData;
use std::time::Duration;

use interlink_core::layout::Kind;
use interlink_core::spsc::{Consumer, Producer, SpscRing};
use interlink_core::sync::AtomicU32;
use interlink_core::wait::wait_set::Source;
use interlink_core::ElementCheck;
use interlink_core::{AttachError, InitError, Plain, RecvError, Region, RingConfig, SendError};

use super::{patience_setters, Channel, ChannelError, Patience, Shape};
use crate::futex::Futex;
use crate::process;

/// Marker: a channel holding an [`SpscRing`] of `T`.
#[derive(Debug)]
pub struct Spsc<T>(PhantomData<T>);

impl<T: Plain> Shape for Spsc<T> {
    const KIND: Kind = Kind::Spsc;

    fn bytes_needed(capacity: u32) -> Result<usize, InitError> {
        SpscRing::<T>::bytes_needed(capacity)
    }

    fn init(region: Region<'_>, config: RingConfig) -> Result<(), InitError> {
        SpscRing::<T>::init(region, config).map(drop)
    }

    fn attach(region: Region<'_>, check: ElementCheck) -> Result<u32, AttachError> {
        SpscRing::<T>::attach_with(region, check).map(|r| r.capacity())
    }
}

/// A named single-producer single-consumer channel of `T`.
pub type SpscChannel<T> = Channel<Spsc<T>>;

impl<T: Plain> Channel<Spsc<T>> {
    fn ring(&self) -> Result<SpscRing<'_, T>, ChannelError> {
        self.attached(SpscRing::attach_with)
    }

    /// Claims the producer role for this process, taking it over if its
    /// holder is dead.
    pub fn sender(&self) -> Result<Sender<'_, T>, ChannelError> {
        let tx = self
            .ring()?
            .take_over_producer(process::holder(), |pid| self.holder_alive(pid))?;
        Ok(Sender {
            tx,
            patience: self.patience,
        })
    }

    /// Claims the consumer role for this process, taking it over if its
    /// holder is dead.
    pub fn receiver(&self) -> Result<Receiver<'_, T>, ChannelError> {
        let rx = self
            .ring()?
            .take_over_consumer(process::holder(), |pid| self.holder_alive(pid))?;
        Ok(Receiver {
            rx,
            patience: self.patience,
        })
    }

    /// Elements in the ring now.
    pub fn len(&self) -> u32 {
        self.ring().map_or(0, |r| r.len())
    }

    /// Whether the ring is empty now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

patience_setters!([T] Sender<'_, T>, [T] Receiver<'_, T>);

/// The sending end of an [`SpscChannel`], holding the producer role.
#[derive(Debug)]
pub struct Sender<'c, T> {
    pub(super) tx: Producer<'c, T>,
    pub(super) patience: Patience,
}

impl<'c, T: Plain> Sender<'c, T> {
    /// Sends `value` if there is room, without blocking; wakes a parked
    /// receiver.
    #[inline]
    pub fn try_send(&mut self, value: T) -> Result<(), SendError> {
        self.tx.try_send(value)?;
        self.tx.wake_consumer(&Futex);
        Ok(())
    }

    /// Sends `value`, waiting for room as long as the receiver lives.
    pub fn send(&mut self, value: T) -> Result<(), SendError> {
        self.send_inner(value, &mut None)
    }

    /// Sends `value`, waiting for room at most `timeout`.
    pub fn send_timeout(&mut self, value: T, timeout: Duration) -> Result<(), SendError> {
        self.send_inner(value, &mut Some(timeout))
    }

    #[inline]
    fn send_inner(&mut self, value: T, left: &mut Option<Duration>) -> Result<(), SendError> {
        let ring = self.tx.ring();
        let tx = &mut self.tx;
        self.patience
            .wait(left, || ring.consumer_holder(), |b, t| tx.send(value, b, t))
    }

    /// Sends as many of `items` as fit now, in order, with one
    /// publication, without waiting; returns how many (0 when full). Wakes
    /// a parked receiver.
    pub fn try_send_slice(&mut self, items: &[T]) -> Result<usize, SendError> {
        let n = self.tx.try_send_slice(items)?;
        if n > 0 {
            self.tx.wake_consumer(&Futex);
        }
        Ok(n)
    }

    /// Sends all of `items` in order, in batches, waiting for room as
    /// needed (at most `timeout` in all; `None`: as long as the receiver
    /// lives). On error, the first `n` were sent where `n` is in the `Err`.
    pub fn send_slice(
        &mut self,
        mut items: &[T],
        timeout: Option<Duration>,
    ) -> Result<(), (usize, SendError)> {
        let total = items.len();
        let mut left = timeout;
        while let Some((&first, rest)) = items.split_first() {
            let sent = |items: &[T]| total - items.len();
            let n = self
                .tx
                .try_send_slice(items)
                .map_err(|e| (sent(items), e))?;
            if n > 0 {
                self.tx.wake_consumer(&Futex);
                items = &items[n..];
            } else {
                // Full: wait for room by sending one, which wakes the
                // receiver if it sleeps.
                self.send_inner(first, &mut left)
                    .map_err(|e| (sent(items), e))?;
                items = rest;
            }
        }
        Ok(())
    }

    /// The underlying producer, for chunks and batches. What it publishes
    /// does not wake a parked receiver by itself: call
    /// [`Producer::wake_consumer`] with [`Futex`] afterwards.
    pub fn producer(&mut self) -> &mut Producer<'c, T> {
        &mut self.tx
    }
}

/// The receiving end of an [`SpscChannel`], holding the consumer role.
#[derive(Debug)]
pub struct Receiver<'c, T> {
    pub(super) rx: Consumer<'c, T>,
    pub(super) patience: Patience,
}

impl<'c, T: Plain> Receiver<'c, T> {
    /// Receives the oldest value if there is one, without blocking; wakes
    /// a parked sender.
    #[inline]
    pub fn try_recv(&mut self) -> Result<T, RecvError> {
        let value = self.rx.try_recv()?;
        self.rx.wake_producer(&Futex);
        Ok(value)
    }

    /// Receives a value, waiting as long as the sender lives. Values sent
    /// before the sender died are delivered first.
    pub fn recv(&mut self) -> Result<T, RecvError> {
        self.recv_inner(&mut None)
    }

    /// Receives a value, waiting at most `timeout`.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<T, RecvError> {
        self.recv_inner(&mut Some(timeout))
    }

    #[inline]
    fn recv_inner(&mut self, left: &mut Option<Duration>) -> Result<T, RecvError> {
        let ring = self.rx.ring();
        let rx = &mut self.rx;
        self.patience
            .wait(left, || ring.producer_holder(), |b, t| rx.recv(b, t))
    }

    /// Receives up to `out.len()` values into `out`, in order, with one
    /// release, without waiting; returns how many (0 when empty). Wakes a
    /// parked sender.
    pub fn try_recv_slice(&mut self, out: &mut [T]) -> Result<usize, RecvError> {
        let n = self.rx.try_recv_slice(out)?;
        if n > 0 {
            self.rx.wake_producer(&Futex);
        }
        Ok(n)
    }

    /// Receives into `out`, waiting until at least one value is there (at
    /// most `timeout`; `None`: as long as the sender lives); returns how
    /// many.
    pub fn recv_slice(
        &mut self,
        out: &mut [T],
        timeout: Option<Duration>,
    ) -> Result<usize, RecvError> {
        if out.is_empty() {
            return Ok(0);
        }
        let n = self.rx.try_recv_slice(out)?;
        if n > 0 {
            self.rx.wake_producer(&Futex);
            return Ok(n);
        }
        // Empty: wait for one value (which wakes a parked sender), then
        // take what else has come.
        let mut left = timeout;
        out[0] = self.recv_inner(&mut left)?;
        let more = self.rx.try_recv_slice(&mut out[1..])?;
        if more > 0 {
            self.rx.wake_producer(&Futex);
        }
        Ok(1 + more)
    }

    /// The underlying consumer, for chunks and batches. What it releases
    /// does not wake a parked sender by itself: call
    /// [`Consumer::wake_producer`] with [`Futex`] afterwards.
    pub fn consumer(&mut self) -> &mut Consumer<'c, T> {
        &mut self.rx
    }
}

/// Ready when a value can be received (see
/// [`wait_set`](interlink_core::wait::wait_set)).
impl<T: Plain> Source for Receiver<'_, T> {
    fn event_word(&self) -> &AtomicU32 {
        self.rx.event_word()
    }

    fn is_ready(&self) -> bool {
        self.rx.is_ready()
    }
}

/// Ready when there is room to send (see
/// [`wait_set`](interlink_core::wait::wait_set)).
impl<T: Plain> Source for Sender<'_, T> {
    fn event_word(&self) -> &AtomicU32 {
        self.tx.event_word()
    }

    fn is_ready(&self) -> bool {
        self.tx.is_ready()
    }
}
