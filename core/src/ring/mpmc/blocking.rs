//! The MPMC ring's blocking operations (see [Blocking](super#blocking)):
//! the claim loop inside a [`Blocking`] strategy, with patience for a
//! stalled position.

use super::*;

impl<'a, T: Plain> MpmcRing<'a, T> {
    /// Appends `value`, waiting while the ring is full (spin, yield, then
    /// park until a consumer frees a slot) for at most `timeout` (`None`: no
    /// limit); wakes parked consumers. Fails with [`SendError::Stalled`]
    /// when the next slot stays claimed by an unfinished consumer for
    /// [`STALL_PATIENCE`] (see [Blocking](super#blocking)), with
    /// [`SendError::TimedOut`] when the timeout ends first (stall or not),
    /// and with [`SendError::Corrupt`].
    pub fn send<W: Wait>(
        &self,
        value: T,
        blocking: &Blocking<W>,
        timeout: Option<Duration>,
    ) -> Result<(), SendError> {
        let c = self.control();
        self.block::<W, (), SendError>(&c.head.wake, blocking, timeout, || {
            // No spin inside the claim: `block` spins, and a stall must
            // reach it to be waited for with the right bound.
            let (pos, _) = self.claim(Side::Push, 1, 0)?;
            self.write_and_publish(pos, value);
            Ok(())
        })?;
        blocking.notify(&c.tail.wake);
        Ok(())
    }

    /// Removes the oldest element, waiting while the ring is empty (spin,
    /// yield, then park until a producer publishes) for at most `timeout`
    /// (`None`: no limit); wakes parked producers. Fails with
    /// [`RecvError::Stalled`] when the next position stays claimed by an
    /// unfinished producer for [`STALL_PATIENCE`] (see
    /// [Blocking](super#blocking)), with [`RecvError::TimedOut`] when the
    /// timeout ends first (stall or not), and with [`RecvError::Corrupt`].
    pub fn recv<W: Wait>(
        &self,
        blocking: &Blocking<W>,
        timeout: Option<Duration>,
    ) -> Result<T, RecvError> {
        let c = self.control();
        let value = self.block::<W, T, RecvError>(&c.tail.wake, blocking, timeout, || {
            let (pos, _) = self.claim(Side::Pop, 1, 0)?;
            Ok(self.take_and_release(pos))
        })?;
        blocking.notify(&c.head.wake);
        Ok(value)
    }

    /// Runs `attempt` with `blocking` until it succeeds, parking on `word`
    /// while it finds the ring idle (full or empty), and for at most
    /// [`STALL_PATIENCE`] at a time while it finds one position stalled:
    /// `Stalled` only when a run waited out that whole patience, `TimedOut`
    /// when the caller's deadline ends a run first.
    ///
    /// Each change between idle and stalled (or from one stalled position
    /// to another) starts a new [`Blocking::run`] with the bound that suits
    /// it; every such change is progress by some other participant. Under
    /// loom a stall is waited for without the patience bound (see below).
    fn block<W: Wait, R, E>(
        &self,
        word: &AtomicU32,
        blocking: &Blocking<W>,
        timeout: Option<Duration>,
        mut attempt: impl FnMut() -> Result<R, Blocked>,
    ) -> Result<R, E>
    where
        E: From<Blocked> + From<Expired>,
    {
        /// How one run ended, short of success.
        enum Ended {
            Expired,
            Changed(Blocked),
        }
        impl From<Expired> for Ended {
            fn from(_: Expired) -> Self {
                Self::Expired
            }
        }
        let mut deadline = Deadline::after(&blocking.wait, timeout);
        let mut limit = timeout;
        // The stalled position this run waits on; `None`: waiting while idle.
        let mut stalled: Option<u32> = None;
        // Whether this run's limit is the stall patience (rather than the
        // caller's deadline): only a run that waited out the whole
        // patience on one position may report it `Stalled`.
        let mut patience_bound = false;
        loop {
            let ended = blocking.run(word, limit, || match attempt() {
                Ok(r) => Ok(Some(r)),
                Err(Blocked::Idle) if stalled.is_none() => Ok(None),
                Err(Blocked::Stalled(p)) if stalled == Some(p) => Ok(None),
                Err(other) => Err(Ended::Changed(other)),
            });
            stalled = match ended {
                Ok(r) => return Ok(r),
                Err(Ended::Expired) => {
                    return Err(match stalled {
                        // The same position, unfinished, for the patience.
                        Some(position) if patience_bound => Blocked::Stalled(position).into(),
                        // The caller's timeout ran out first.
                        _ => Expired.into(),
                    });
                }
                Err(Ended::Changed(Blocked::Corrupt)) => return Err(Blocked::Corrupt.into()),
                Err(Ended::Changed(Blocked::Idle)) => None,
                Err(Ended::Changed(Blocked::Stalled(p))) => Some(p),
            };
            let left = deadline.remaining(&blocking.wait)?;
            (limit, patience_bound) = match (stalled, left) {
                // Loom has no clock, and its timed waits never sleep: there
                // a stall is waited for like an idle ring, so the models
                // check that the claimant's notification wakes the waiter.
                (Some(_), _) if cfg!(loom) => (left, false),
                // Less time left than the patience: the stall cannot be
                // judged within this call; its end is a plain timeout.
                (Some(_), Some(l)) if l < STALL_PATIENCE => (left, false),
                (Some(_), _) => (Some(STALL_PATIENCE), true),
                (None, _) => (left, false),
            };
        }
    }
}

impl<T> MpmcRing<'_, T> {
    /// Wakes the consumers parked in [`MpmcRing::recv`], if any; returns
    /// whether there were (a wake syscall was made). [`MpmcRing::send`]
    /// does this itself; call it after [`MpmcRing::try_send`] or
    /// [`MpmcRing::try_send_slice`] when consumers may block. Costs one
    /// load (no fence) when nobody sleeps.
    #[inline]
    pub fn wake_consumers(&self, wait: &impl Wait) -> bool {
        crate::wait::event_word::notify(&self.control().tail.wake, wait)
    }

    /// Wakes the producers parked in [`MpmcRing::send`], if any; returns
    /// whether there were (a wake syscall was made). [`MpmcRing::recv`]
    /// does this itself; call it after [`MpmcRing::try_recv`] or
    /// [`MpmcRing::try_recv_slice`] when producers may block.
    #[inline]
    pub fn wake_producers(&self, wait: &impl Wait) -> bool {
        crate::wait::event_word::notify(&self.control().head.wake, wait)
    }
}

/// The MPMC ring as a [`Source`](crate::wait::wait_set::Source) of
/// receives: ready while an element is claimed beyond the head (a hint:
/// other consumers may take it first, and a claimant may still be
/// writing it). See [`MpmcRing::readable`].
///
/// A claimed element is ready before it is written so that a wait ends
/// even when its producer died between claim and publish. A
/// [`MpmcRing::try_recv`] made then reports [`RecvError::Stalled`]; while
/// the producer lives (it was preempted, or faulted a page in) that means
/// "not yet": [`MpmcRing::recv`] waits it out, for at most
/// [`STALL_PATIENCE`](super::STALL_PATIENCE).
#[derive(Clone, Copy, Debug)]
pub struct Readable<'a, T>(MpmcRing<'a, T>);

/// The MPMC ring as a [`Source`](crate::wait::wait_set::Source) of sends:
/// ready while a slot looks free. See [`MpmcRing::writable`].
#[derive(Clone, Copy, Debug)]
pub struct Writable<'a, T>(MpmcRing<'a, T>);

impl<'a, T> MpmcRing<'a, T> {
    /// This ring as a wait-set source that is ready when there may be
    /// something to receive.
    pub fn readable(&self) -> Readable<'a, T> {
        Readable(*self)
    }

    /// This ring as a wait-set source that is ready when there may be room
    /// to send.
    pub fn writable(&self) -> Writable<'a, T> {
        Writable(*self)
    }
}

impl<T> crate::wait::wait_set::Source for Readable<'_, T> {
    fn event_word(&self) -> &AtomicU32 {
        &self.0.control().tail.wake
    }

    fn is_ready(&self) -> bool {
        !self.0.is_empty()
    }
}

impl<T> crate::wait::wait_set::Source for Writable<'_, T> {
    fn event_word(&self) -> &AtomicU32 {
        &self.0.control().head.wake
    }

    fn is_ready(&self) -> bool {
        !self.0.is_full()
    }
}
