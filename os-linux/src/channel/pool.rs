//! Named block pools: the core's [`Pool`] in a named object (or a sealed
//! memfd), created and opened like every [`Channel`], with loans that wait
//! and take back the blocks of dead holders.
//!
//! ```
//! use interlink_core::RingConfig;
//! use interlink_core::pool::Recipient;
//! use interlink_linux::channel::pool::PoolChannel;
//! use interlink_linux::channel::{ChannelOptions, MpmcChannel};
//!
//! let name = format!("/interlink-pool-doc-{}", std::process::id());
//! let ring = format!("{name}-handles");
//! let options = ChannelOptions::new();
//! // 8 blocks of 64 KiB (the block size is part of the type: both sides
//! // name it), and a ring for the handles.
//! let pool = PoolChannel::<65536>::create(&name, RingConfig::new(8), &options)?;
//! let handles = MpmcChannel::create(&ring, RingConfig::new(8), &options)?;
//! let (p, tx) = (pool.pool()?, handles.handle()?);
//!
//! let mut loan = p.try_loan()?;
//! loan.as_mut_slice()[..3].copy_from_slice(b"big");
//! tx.send(loan.hand_off(3, Recipient::Anyone)?)?;
//!
//! // Another process would open both by name; here the same one reads.
//! let sample = p.accept(&tx.recv()?)?;
//! assert_eq!(sample.as_slice(), b"big");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Holders and dead processes
//!
//! Every [`PoolHandle`] records this process's pid as the holder of what
//! it loans and accepts, so each block's record says which processes hold
//! it (see [`interlink_core::pool`]). [`PoolHandle::gc`] judges every
//! recorded holder by the project's liveness rule ([`crate::liveness`]:
//! the object's presence locks first, then the process rule) and takes
//! back what the dead held: a loan never handed on, samples accepted and
//! never released, references addressed to a dead subscriber and still
//! queued for it, references a dead sender left in flight. A waiting loan
//! ([`PoolHandle::loan_timeout`]) runs it whenever a slice of
//! [`ChannelOptions::peer_check`](super::ChannelOptions::peer_check)
//! (10 ms) ends with the pool still exhausted, so a subscriber killed while
//! holding samples costs its publisher at most that long.
//!
//! A handle belongs to the process that made it: after a `fork`, make a new
//! one in the child (its pid differs).
//!
//! # Sealed pools
//!
//! [`Channel::create_sealed`] and [`Channel::from_sealed_fd`] work for
//! pools as for rings: the pool lives in a memfd sealed against resizing,
//! handed over a Unix socket (see [`super::sealed`]), the mode to use when
//! the peer is not trusted.

use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use interlink_core::layout::Kind;
use interlink_core::mpmc::UserSlot;
use interlink_core::pool::{
    Handle, HandleError, Loan, LoanError, Pool, PoolConfig, Recipient, Reclaimed, Sample,
};
use interlink_core::{AttachError, ElementCheck, Holder, InitError, Region, RingConfig};

use super::{Channel, ChannelError, Patience, Shape};
use crate::futex::Futex;
use crate::liveness;
use crate::process;

/// Marker: a channel holding a [`Pool`] of blocks of `SIZE` bytes. The
/// configuration's capacity is the number of blocks.
#[derive(Debug)]
pub struct Blocks<const SIZE: u32>;

impl<const SIZE: u32> Shape for Blocks<SIZE> {
    const KIND: Kind = Kind::Pool;

    fn bytes_needed(capacity: u32) -> Result<usize, InitError> {
        Pool::bytes_needed(capacity, SIZE)
    }

    fn init(region: Region<'_>, config: RingConfig) -> Result<(), InitError> {
        let config = PoolConfig::new(config.capacity, SIZE).with_creator_pid(config.creator_pid);
        Pool::init(region, config).map(drop)
    }

    /// The blocks hold bytes: the block size is the element, checked
    /// whatever `check` says (a named pool records type id 0).
    fn attach(region: Region<'_>, _check: ElementCheck) -> Result<u32, AttachError> {
        Pool::attach(region, SIZE, 0).map(|p| p.blocks())
    }

    /// Joins the pool's users table, taking over the word of a user that
    /// died without leaving.
    fn join(region: Region<'_>, _check: ElementCheck, holder: Holder) -> Option<UserSlot> {
        let pool = Pool::attach(region, SIZE, 0).ok()?;
        Some(pool.join(holder, liveness::is_alive))
    }

    /// Leaves the users table.
    fn leave(region: Region<'_>, _check: ElementCheck, slot: UserSlot, holder: Holder) {
        if let Ok(pool) = Pool::attach(region, SIZE, 0) {
            pool.leave(slot, holder);
        }
    }
}

/// A named pool of blocks of `SIZE` bytes.
pub type PoolChannel<const SIZE: u32> = Channel<Blocks<SIZE>>;

impl<const SIZE: u32> Channel<Blocks<SIZE>> {
    /// A handle that loans, accepts and releases blocks as this process
    /// (its pid is the holder id recorded).
    pub fn pool(&self) -> Result<PoolHandle<'_>, ChannelError> {
        Ok(PoolHandle {
            pool: self.attached(|region, _check| Pool::attach(region, SIZE, 0))?,
            holder: process::holder(),
            patience: self.patience,
        })
    }
}

/// Loans, accepts and releases blocks of a [`PoolChannel`] as this
/// process. Cheap to copy.
#[derive(Clone, Copy, Debug)]
pub struct PoolHandle<'c> {
    pool: Pool<'c>,
    holder: Holder,
    patience: Patience,
}

impl<'c> PoolHandle<'c> {
    /// Lends a free block to this process, without waiting; fails at once
    /// with [`LoanError::Exhausted`] (saying who holds the blocks).
    pub fn try_loan(&self) -> Result<PoolLoan<'c>, LoanError> {
        self.pool
            .try_loan(self.holder)
            .map(|l| PoolLoan::new(l, self.pool))
    }

    /// Lends a free block, waiting without a time limit (see
    /// [`PoolHandle::loan_timeout`]).
    pub fn loan(&self) -> Result<PoolLoan<'c>, LoanError> {
        self.loan_within(None)
    }

    /// Lends a free block, waiting while none is free for at most
    /// `timeout`. The wait goes in slices of the
    /// channel's `peer_check`; each slice that ends with the pool still
    /// exhausted runs [`PoolHandle::gc`], so blocks held by dead processes
    /// come back within about a slice. [`LoanError::TimedOut`] says who
    /// holds the blocks.
    pub fn loan_timeout(&self, timeout: Duration) -> Result<PoolLoan<'c>, LoanError> {
        self.loan_within(Some(timeout))
    }

    fn loan_within(&self, timeout: Option<Duration>) -> Result<PoolLoan<'c>, LoanError> {
        let start = Instant::now();
        let check = self.patience.peer_check;
        loop {
            let left = timeout.map(|t| t.saturating_sub(start.elapsed()));
            let slice = left.map_or(check, |l| l.min(check));
            match self
                .pool
                .loan(self.holder, &self.patience.blocking, Some(slice))
            {
                Ok(loan) => return Ok(PoolLoan::new(loan, self.pool)),
                Err(LoanError::TimedOut(e)) => {
                    if self.gc().blocks > 0 {
                        continue;
                    }
                    if left.is_some_and(|l| l <= slice) {
                        return Err(LoanError::TimedOut(e));
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Accepts `handle` (checked: index, length, generation) as this
    /// process, taking a reference shared for it.
    pub fn accept(&self, handle: &Handle) -> Result<PoolSample<'c>, HandleError> {
        self.pool
            .accept(handle, self.holder)
            .map(|s| PoolSample::new(s, self.pool))
    }

    /// Adds a reference to `handle`'s block, which this process holds,
    /// for `to`.
    pub fn share(&self, handle: &Handle, to: Recipient) -> Result<(), HandleError> {
        self.pool.share(handle, self.holder, to)
    }

    /// Releases a reference this process holds (a kept sample); wakes
    /// blocked loaners.
    pub fn release(&self, handle: &Handle) -> Result<(), HandleError> {
        let r = self.pool.release(handle, self.holder);
        self.pool.wake_loaners(&Futex);
        r
    }

    /// Takes back every block reference held by a process that is dead by
    /// the liveness rule (see the module docs); wakes blocked loaners if
    /// any block came back.
    pub fn gc(&self) -> Reclaimed {
        let judge = self.patience.judge;
        let got = self.pool.reclaim(|pid| match judge {
            Some(j) => j.alive(pid),
            None => liveness::process_alive(pid),
        });
        if got.references > 0 {
            self.pool.wake_loaners(&Futex);
        }
        got
    }

    /// The holder id this handle records (this process's pid when it was
    /// made).
    pub fn holder(&self) -> Holder {
        self.holder
    }

    /// The core pool, for its census and raw reads.
    pub fn pool(&self) -> Pool<'c> {
        self.pool
    }
}

/// A block lent to this process ([`Loan`]); wakes blocked loaners when it
/// drops.
#[derive(Debug)]
pub struct PoolLoan<'c> {
    loan: Option<Loan<'c>>,
    pool: Pool<'c>,
}

impl<'c> PoolLoan<'c> {
    fn new(loan: Loan<'c>, pool: Pool<'c>) -> Self {
        Self {
            loan: Some(loan),
            pool,
        }
    }

    /// Publishes `len`, shares with `to` and releases the loan
    /// ([`Loan::hand_off`]): the handle to send.
    pub fn hand_off(mut self, len: u32, to: Recipient) -> Result<Handle, HandleError> {
        match self.loan.take() {
            Some(loan) => loan.hand_off(len, to),
            None => Err(HandleError::NotPublished),
        }
    }
}

impl<'c> Deref for PoolLoan<'c> {
    type Target = Loan<'c>;
    fn deref(&self) -> &Loan<'c> {
        self.loan
            .as_ref()
            .expect("present until dropped or handed off")
    }
}

impl<'c> DerefMut for PoolLoan<'c> {
    fn deref_mut(&mut self) -> &mut Loan<'c> {
        self.loan
            .as_mut()
            .expect("present until dropped or handed off")
    }
}

impl Drop for PoolLoan<'_> {
    fn drop(&mut self) {
        drop(self.loan.take());
        self.pool.wake_loaners(&Futex);
    }
}

/// A block this process reads ([`Sample`]); wakes blocked loaners when it
/// drops.
#[derive(Debug)]
pub struct PoolSample<'c> {
    sample: Option<Sample<'c>>,
    pool: Pool<'c>,
}

impl<'c> PoolSample<'c> {
    fn new(sample: Sample<'c>, pool: Pool<'c>) -> Self {
        Self {
            sample: Some(sample),
            pool,
        }
    }

    /// Keeps the reference past this guard ([`Sample::keep`]); release it
    /// with [`PoolHandle::release`].
    pub fn keep(mut self) -> Option<Handle> {
        self.sample.take().map(Sample::keep)
    }
}

impl<'c> Deref for PoolSample<'c> {
    type Target = Sample<'c>;
    fn deref(&self) -> &Sample<'c> {
        self.sample.as_ref().expect("present until dropped or kept")
    }
}

impl Drop for PoolSample<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.sample.take() {
            drop(s);
            self.pool.wake_loaners(&Futex);
        }
    }
}
