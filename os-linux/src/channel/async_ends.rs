//! Async channel ends for tokio (feature `tokio`): `recv().await` and
//! `send().await`, built on [`AsyncFd`] over an end's
//! [`Readiness`](crate::readiness::Readiness) descriptor.
//!
//! An async end first tries its operation; only when that finds nothing to
//! do does it arm its readiness and await the reactor. So a stream with
//! both sides awake runs at the ring's speed with no syscall, and an idle
//! end costs a task parked in tokio, not a thread. The peer may be any
//! process using the plain blocking ends, another runtime, or C.
//!
//! **Cancellation-safe:** every operation either completes in one
//! non-blocking step or does nothing, so dropping a `recv()` or `send()`
//! future (in `select!`, on a timeout) loses no message and sends none
//! twice. A peer that dies is reported as `PeerDied` after at most the
//! channel's [`peer_check`](super::ChannelOptions::peer_check) (a receiver
//! first drains what was sent).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use interlink_linux::channel::{AsyncReceiver, ChannelOptions, SpscChannel};
//!
//! let channel = SpscChannel::<u64>::open("/prices", &ChannelOptions::new())?;
//! let mut rx = AsyncReceiver::new(&channel)?; // inside a tokio runtime
//! while let Ok(price) = rx.recv().await {
//!     println!("{price}");
//! }
//! # Ok(()) }
//! ```

use interlink_core::frame::record_len;
use interlink_core::wait::wait_set::Source;
use interlink_core::{Plain, RecvError, SendError};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use super::waiting::Timed;
use super::{ByteChannel, ByteReceiver, ByteSender, ChannelError, Patience, Receiver, Sender};
use super::{Channel, Shape, Spsc};
use crate::error::OsError;
use crate::readiness::Readiness;
use crate::shm::ShmError;

/// `end`'s readiness, registered with the current tokio runtime; outside
/// one, an error (`EPERM`, "no tokio runtime"), never tokio's panic.
fn register<S: Shape>(
    channel: &Channel<S>,
    end: &dyn Source,
) -> Result<AsyncFd<Readiness>, ChannelError> {
    let os = |call, errno| ChannelError::from(ShmError::Os(OsError::new(call, errno)));
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(os("AsyncFd (no tokio runtime)", libc::EPERM));
    }
    let readiness = channel.readiness(end).map_err(ShmError::Os)?;
    // SAFETY: the Readiness owns its eventfd, which stays open and the
    // same for as long as the Readiness lives, and `as_raw_fd` always
    // returns it; the AsyncFd owns the Readiness.
    unsafe { AsyncFd::register_with_interest(readiness, Interest::READABLE) }.map_err(|e| {
        let errno = e.into_parts().1.raw_os_error().unwrap_or(libc::EINVAL);
        os("epoll_ctl", errno)
    })
}

/// Runs `attempt` on `end` until it does something other than "not now",
/// awaiting `ready` in between; checks the peer (`peer(end)`, a holder id,
/// 0 for none) every `patience.peer_check()`.
async fn until_done<E: Source, R, Err: Timed>(
    end: &mut E,
    ready: &AsyncFd<Readiness>,
    patience: &Patience,
    peer: impl Fn(&E) -> u32,
    mut attempt: impl FnMut(&mut E) -> Result<R, Err>,
) -> Result<R, Err> {
    loop {
        match attempt(end) {
            Err(e) if e.not_now() => {}
            done => return done,
        }
        if ready.get_ref().arm(end) {
            continue;
        }
        match tokio::time::timeout(patience.peer_check(), ready.readable()).await {
            Ok(Ok(mut guard)) => {
                guard.get_inner().clear();
                guard.clear_ready();
            }
            // The reactor is gone (the runtime shuts down): keep polling,
            // politely, rather than fail or spin.
            Ok(Err(_)) => tokio::time::sleep(std::time::Duration::from_millis(1)).await,
            Err(_elapsed) => {
                let holder = peer(end);
                if holder != 0 && !patience.peer_alive(holder) {
                    return match attempt(end) {
                        Err(e) if e.not_now() => Err(Err::peer_died(holder)),
                        done => done,
                    };
                }
            }
        }
    }
}

/// The receiving end of an [`SpscChannel`](super::SpscChannel), async.
#[derive(Debug)]
pub struct AsyncReceiver<'c, T> {
    end: Receiver<'c, T>,
    ready: AsyncFd<Readiness>,
}

impl<'c, T: Plain> AsyncReceiver<'c, T> {
    /// Takes `channel`'s receiving role (as [`Channel::receiver`]) and
    /// registers its readiness with the current tokio runtime (so call it
    /// inside one).
    pub fn new(channel: &'c Channel<Spsc<T>>) -> Result<Self, ChannelError> {
        let end = channel.receiver()?;
        let ready = register(channel, &end)?;
        Ok(Self { end, ready })
    }

    /// Receives a value, awaiting one as long as the sender lives. Values
    /// sent before the sender died are delivered first. Cancellation-safe.
    pub async fn recv(&mut self) -> Result<T, RecvError> {
        let patience = self.end.patience;
        until_done(
            &mut self.end,
            &self.ready,
            &patience,
            |end| end.rx.ring().producer_holder(),
            Receiver::try_recv,
        )
        .await
    }

    /// Receives a value if there is one, without waiting.
    pub fn try_recv(&mut self) -> Result<T, RecvError> {
        self.end.try_recv()
    }
}

/// The sending end of an [`SpscChannel`](super::SpscChannel), async.
#[derive(Debug)]
pub struct AsyncSender<'c, T> {
    end: Sender<'c, T>,
    ready: AsyncFd<Readiness>,
}

impl<'c, T: Plain> AsyncSender<'c, T> {
    /// Takes `channel`'s sending role (as [`Channel::sender`]) and
    /// registers its readiness with the current tokio runtime.
    pub fn new(channel: &'c Channel<Spsc<T>>) -> Result<Self, ChannelError> {
        let end = channel.sender()?;
        let ready = register(channel, &end)?;
        Ok(Self { end, ready })
    }

    /// Sends `value`, awaiting room as long as the receiver lives.
    /// Cancellation-safe: dropped before it completes, it sent nothing.
    pub async fn send(&mut self, value: T) -> Result<(), SendError> {
        let patience = self.end.patience;
        until_done(
            &mut self.end,
            &self.ready,
            &patience,
            |end| end.tx.ring().consumer_holder(),
            |end| end.try_send(value),
        )
        .await
    }

    /// Sends `value` if there is room, without waiting.
    pub fn try_send(&mut self, value: T) -> Result<(), SendError> {
        self.end.try_send(value)
    }
}

/// The receiving end of a [`ByteChannel`], async.
#[derive(Debug)]
pub struct AsyncByteReceiver<'c> {
    end: ByteReceiver<'c>,
    ready: AsyncFd<Readiness>,
}

impl<'c> AsyncByteReceiver<'c> {
    /// Takes `channel`'s receiving role and registers its readiness with
    /// the current tokio runtime.
    pub fn new(channel: &'c ByteChannel) -> Result<Self, ChannelError> {
        let end = channel.receiver()?;
        let ready = register(channel, &end)?;
        Ok(Self { end, ready })
    }

    /// Receives the next message into `buf`, awaiting one as long as the
    /// sender lives; returns its tag and length. Cancellation-safe.
    pub async fn recv(&mut self, buf: &mut [u8]) -> Result<(u32, usize), RecvError> {
        let patience = self.end.patience;
        until_done(
            &mut self.end,
            &self.ready,
            &patience,
            |end| end.rx.ring().producer_holder(),
            |end| end.try_recv(buf),
        )
        .await
    }
}

/// The sending end of a [`ByteChannel`], async. Awaiting room needs the
/// receiver to free some: its releases notify the same word as for a
/// blocked sender.
#[derive(Debug)]
pub struct AsyncByteSender<'c> {
    end: ByteSender<'c>,
    ready: AsyncFd<Readiness>,
}

/// A byte sender waiting for room for a record of `needed` bytes: ready
/// when that many are free (the send then decides; at the end of the
/// buffer it may first publish padding and find the room at the front).
struct ByteRoom<'s, 'c> {
    end: &'s mut ByteSender<'c>,
    needed: u32,
}

impl Source for ByteRoom<'_, '_> {
    fn event_word(&self) -> &interlink_core::sync::AtomicU32 {
        self.end.tx.event_word()
    }

    fn is_ready(&self) -> bool {
        let ring = self.end.tx.ring();
        ring.capacity() - ring.used() >= self.needed
    }
}

impl<'c> AsyncByteSender<'c> {
    /// Takes `channel`'s sending role and registers its readiness with the
    /// current tokio runtime.
    pub fn new(channel: &'c ByteChannel) -> Result<Self, ChannelError> {
        let mut end = channel.sender()?;
        let room = ByteRoom {
            end: &mut end,
            needed: 0,
        };
        let ready = register(channel, &room)?;
        Ok(Self { end, ready })
    }

    /// Sends `payload` tagged `tag`, awaiting room as long as the receiver
    /// lives. A payload that can never fit fails at once with
    /// [`SendError::TooLarge`]. Cancellation-safe.
    pub async fn send(&mut self, tag: u32, payload: &[u8]) -> Result<(), SendError> {
        let patience = self.end.patience;
        let ready = &self.ready;
        let needed = u32::try_from(payload.len())
            .ok()
            .and_then(record_len)
            .unwrap_or(u32::MAX);
        let mut room = ByteRoom {
            end: &mut self.end,
            needed,
        };
        until_done(
            &mut room,
            ready,
            &patience,
            |room| room.end.tx.ring().consumer_holder(),
            |room| room.end.try_send(tag, payload),
        )
        .await
    }
}
