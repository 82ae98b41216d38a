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
//! # Size classes
//!
//! A [`PoolSetHandle`] serves several named pools of different block
//! sizes together (the core's [`PoolSet`]): `try_loan(n)` lends from the
//! smallest class whose blocks hold `n` bytes (then larger ones), and its
//! handles carry the class in the top 8 bits of the index, checked before
//! the class pool's own checks. Each class is an ordinary
//! [`PoolChannel`] with its own name, created and opened as usual; every
//! process builds its set from the same pools (in any order: the set
//! sorts them by block size and refuses two of one size).
//!
//! # Sealed pools
//!
//! [`Channel::create_sealed`] and [`Channel::from_sealed_fd`] work for
//! pools as for rings: the pool lives in a memfd sealed against resizing,
//! handed over a Unix socket (see [`super::sealed`]), the mode to use when
//! the peer is not trusted.
//!
//! # Huge pages
//!
//! [`PoolChannel::create_huge`] and [`PoolChannel::create_sealed_huge`]
//! back the blocks with huge pages on request ([`HugePages`]):
//!
//! - [`HugePages::Transparent`]: `madvise(MADV_HUGEPAGE)` on the blocks
//!   before any is touched, then prefaulted. Always works (the advice is
//!   ignored where the kernel has no transparent huge pages), and is best
//!   effort: for shared memory the kernel honours it only as
//!   `/sys/kernel/mm/transparent_hugepage/shmem_enabled` allows
//!   (`advise`, `within_size`, `always`; not `never`, a common default).
//!   An opener may advise its own mapping too
//!   ([`PoolChannel::advise_huge_pages`]).
//! - [`HugePages::Required`]: the pool lives in a hugetlb memfd
//!   (`memfd_create(MFD_HUGETLB)`), sized in whole huge pages, every page
//!   allocated at creation and sealed. Named objects live in tmpfs, which
//!   cannot hold hugetlb pages, so this is a sealed pool only
//!   ([`PoolChannel::create_huge`] refuses it). When the machine has too
//!   few huge pages reserved (`/proc/sys/vm/nr_hugepages`, see
//!   `HugePages_Free` in `/proc/meminfo`) creation fails with the typed
//!   [`ShmError::HugePages`] and nothing is left behind.
//!
//! [`PoolChannel::huge_page_bytes`] says how much of this process's
//! mapping the kernel actually backs with huge pages (from
//! `/proc/self/smaps`). Blocks stay 64-byte aligned as always; with
//! blocks of a multiple of 2 MiB in a pool of [`HugePages::Required`],
//! the first block starts at 4096 and blocks straddle huge pages — which
//! costs nothing on the huge-page TLB either way.

use std::ops::{Deref, DerefMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

use interlink_core::layout::Kind;
use interlink_core::mpmc::UserSlot;
use interlink_core::pool::{
    Handle, HandleError, Loan, LoanError, Pool, PoolConfig, PoolSet, Recipient, Reclaimed, Sample,
    SetError, SetLoan, SetSample,
};
use interlink_core::{AttachError, ElementCheck, Holder, InitError, Region, RingConfig};

use super::{Channel, ChannelError, ChannelOptions, Patience, Shape, User};
use crate::futex::Futex;
use crate::liveness;
use crate::memfd::{Memfd, Seals};
use crate::process;
use crate::shm::{HugePages as MapHugePages, ShmError};

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

/// Whether a pool's blocks are backed by huge pages (see the module docs,
/// "Huge pages").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HugePages {
    /// Base pages.
    #[default]
    Off,
    /// Transparent huge pages (`madvise(MADV_HUGEPAGE)`): always works,
    /// best effort.
    Transparent,
    /// Explicit huge pages (`MFD_HUGETLB`), sealed pools only:
    /// [`ShmError::HugePages`] when the machine has too few reserved.
    Required,
}

impl<const SIZE: u32> Channel<Blocks<SIZE>> {
    /// [`Channel::create`] with the blocks backed by huge pages as `huge`
    /// says. [`HugePages::Required`] is refused with
    /// [`ShmError::HugePages`] (`EINVAL`): a named object lives in tmpfs,
    /// which cannot hold hugetlb pages; use
    /// [`PoolChannel::create_sealed_huge`].
    pub fn create_huge(
        name: &str,
        config: RingConfig,
        options: &ChannelOptions,
        huge: HugePages,
    ) -> Result<Self, ChannelError> {
        match huge {
            HugePages::Off => Self::create(name, config, options),
            HugePages::Transparent => {
                let channel = Self::create(name, config, &transparent(options))?;
                channel.advise_and_populate(options)?;
                Ok(channel)
            }
            HugePages::Required => Err(ShmError::HugePages {
                len: Self::bytes(config)?,
                errno: libc::EINVAL,
            }
            .into()),
        }
    }

    /// [`Channel::create_sealed`] with the blocks backed by huge pages as
    /// `huge` says; with [`HugePages::Required`], in a hugetlb memfd (see
    /// the module docs). The peer makes its channel with
    /// [`Channel::from_sealed_fd`] as for any sealed pool.
    pub fn create_sealed_huge(
        label: &str,
        config: RingConfig,
        options: &ChannelOptions,
        huge: HugePages,
    ) -> Result<Self, ChannelError> {
        match huge {
            HugePages::Off => Self::create_sealed(label, config, options),
            HugePages::Transparent => {
                let channel = Self::create_sealed(label, config, &transparent(options))?;
                channel.advise_and_populate(options)?;
                Ok(channel)
            }
            HugePages::Required => Self::create_hugetlb(label, config, options),
        }
    }

    /// Advises the kernel to back this process's mapping of the pool with
    /// transparent huge pages (`madvise(MADV_HUGEPAGE)`); whether it took
    /// the advice (`false` where the kernel has no transparent huge
    /// pages). Pages already faulted in stay as they are until the kernel
    /// collapses them.
    pub fn advise_huge_pages(&self) -> bool {
        let region = self.mapping.region();
        // SAFETY: advice on the range of a mapping this channel owns; it
        // changes no contents.
        unsafe { libc::madvise(region.as_ptr().cast(), region.len(), libc::MADV_HUGEPAGE) == 0 }
    }

    /// Bytes of this process's mapping of the pool that the kernel backs
    /// with huge pages now (transparent or hugetlb), from
    /// `/proc/self/smaps`; `None` when that cannot be read.
    pub fn huge_page_bytes(&self) -> Option<u64> {
        smaps_huge_bytes(self.mapping.as_ptr() as usize)
    }

    /// Bytes of a pool of `config`.
    fn bytes(config: RingConfig) -> Result<usize, ChannelError> {
        Ok(Blocks::<SIZE>::bytes_needed(config.capacity)?)
    }

    /// Advises huge pages on a mapping made without prefaulting, then
    /// faults it in (`MADV_POPULATE_WRITE`, which writes nothing) if
    /// `options` asked for prefaulting. The advice is best effort; a
    /// shortage of memory while populating is an error here (the
    /// reservation that would have caught it was skipped to leave the
    /// pages unfaulted), a kernel without `MADV_POPULATE_WRITE` (before
    /// 5.14) leaves the pages to fault on first use.
    fn advise_and_populate(&self, options: &ChannelOptions) -> Result<(), ChannelError> {
        self.advise_huge_pages();
        if !options.map.prefault {
            return Ok(());
        }
        let region = self.mapping.region();
        // SAFETY: as above; populating changes no contents.
        let r = unsafe {
            libc::madvise(
                region.as_ptr().cast(),
                region.len(),
                libc::MADV_POPULATE_WRITE,
            )
        };
        match (r, errno()) {
            (0, _) | (_, libc::EINVAL) => Ok(()),
            (_, e) => Err(ShmError::from(
                crate::OsError::new("madvise(MADV_POPULATE_WRITE)", e).on(format_args!(
                    "pool {} ({} bytes)",
                    self.name,
                    region.len()
                )),
            )
            .into()),
        }
    }

    /// A sealed pool in a hugetlb memfd: sized in whole huge pages,
    /// allocated, sealed, mapped, initialised.
    fn create_hugetlb(
        label: &str,
        config: RingConfig,
        options: &ChannelOptions,
    ) -> Result<Self, ChannelError> {
        let name = super::sealed::memfd_name(label)?;
        let len = Self::bytes(config)?;
        let huge = |errno: i32| ShmError::HugePages { len, errno };
        let c_label = std::ffi::CString::new(label).map_err(|_| ShmError::Name {
            name: label.to_owned(),
            problem: "contains a NUL byte",
        })?;
        let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING | libc::MFD_HUGETLB;
        // SAFETY: a valid C string; memfd_create has no other preconditions.
        let fd = unsafe { libc::memfd_create(c_label.as_ptr(), flags) };
        if fd < 0 {
            return Err(huge(errno()).into());
        }
        // SAFETY: a new descriptor that nothing else owns.
        let memfd = Memfd::from_fd(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) });
        let page = hugetlb_page_size(memfd.as_fd()).ok_or(huge(libc::EINVAL))?;
        let whole = len
            .checked_next_multiple_of(page)
            .ok_or(huge(libc::EOVERFLOW))?;
        memfd.set_size(whole)?;
        // Every huge page now: too few reserved is an error here, never a
        // SIGBUS at first touch.
        // SAFETY: fallocate on our own descriptor; `whole` fits off_t
        // (set_size checked it).
        let r = unsafe { libc::fallocate(memfd.as_fd().as_raw_fd(), 0, 0, whole as libc::off_t) };
        if r != 0 {
            return Err(huge(errno()).into());
        }
        memfd.add_seals(Seals::SIZE | Seals::SEAL)?;
        let map = options.map.huge_pages(MapHugePages::Off);
        let mut mapping = match crate::mapping::Mapping::from_fd(memfd.as_fd(), whole, &map) {
            Ok(m) => m,
            Err(ShmError::Os(e)) if e.errno == libc::ENOMEM => return Err(huge(e.errno).into()),
            Err(e) => return Err(e.into()),
        };
        let config = config.with_creator_pid(process::current_pid());
        let mut region = mapping.region();
        Blocks::<SIZE>::init(region.take(len, 1).map_err(InitError::from)?, config)?;
        let presence = liveness::Presence::take(memfd.as_fd()).ok();
        let user =
            User::join::<Blocks<SIZE>>(mapping.region(), ElementCheck::Exact, presence.as_ref());
        mapping.hold_fd(memfd.into_fd());
        Ok(Self {
            name,
            mapping,
            element_check: ElementCheck::Exact,
            capacity: config.capacity,
            creator: true,
            patience: Patience::of(options.waiting, options.peer_check, presence.as_ref()),
            user,
            presence,
            _shape: std::marker::PhantomData,
        })
    }
}

/// `options` for a mapping to advise before it is faulted in: no
/// prefault, no reservation (both would fault base pages first).
fn transparent(options: &ChannelOptions) -> ChannelOptions {
    let mut o = *options;
    o.map = o.map.prefault(false).huge_pages(MapHugePages::Off);
    o.shm.reserve = false;
    o
}

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// The huge page size of a hugetlbfs file (a `MFD_HUGETLB` memfd), or
/// `None` for any other file.
// `f_type` and the magic's types differ between targets.
#[allow(clippy::unnecessary_cast)]
pub(crate) fn hugetlb_page_size(fd: BorrowedFd<'_>) -> Option<usize> {
    // SAFETY: statfs is plain old data; all zero is a valid value.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid descriptor and out-pointer.
    if unsafe { libc::fstatfs(fd.as_raw_fd(), &mut st) } != 0 {
        return None;
    }
    let magic = st.f_type as i64;
    (magic == libc::HUGETLBFS_MAGIC as i64 && st.f_bsize > 0).then_some(st.f_bsize as usize)
}

/// The bytes of the mapping that starts at `start` backed by huge pages,
/// from `/proc/self/smaps` (PMD-mapped shmem or file pages, and hugetlb).
fn smaps_huge_bytes(start: usize) -> Option<u64> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let head = format!("{start:x}-");
    let mut lines = smaps.lines().skip_while(|l| !l.starts_with(&head));
    lines.next()?;
    let mut kib = 0u64;
    for line in lines {
        let Some((key, rest)) = line.split_once(':') else {
            break;
        };
        if key.contains('-') || key.contains(' ') {
            break; // the next mapping's header
        }
        if matches!(
            key,
            "ShmemPmdMapped" | "FilePmdMapped" | "Shared_Hugetlb" | "Private_Hugetlb"
        ) {
            kib += rest
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .unwrap_or(0);
        }
    }
    Some(kib * 1024)
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

/// Several [`PoolChannel`]s of different block sizes behind one handle
/// space, as this process (see the module docs, "Size classes"). Cheap
/// to copy.
#[derive(Clone, Copy, Debug)]
pub struct PoolSetHandle<'c, const N: usize> {
    set: PoolSet<'c, N>,
    holder: Holder,
    patience: Patience,
}

impl<'c, const N: usize> PoolSetHandle<'c, N> {
    /// A set of `pools` (handles of one process), sorted by block size;
    /// it waits and judges peers as the first pool given does.
    pub fn new(pools: [PoolHandle<'c>; N]) -> Result<Self, SetError> {
        let set = PoolSet::new(pools.map(|p| p.pool))?;
        // PoolSet::new refused N = 0.
        let first = pools.first().ok_or(SetError::Classes { count: N })?;
        Ok(Self {
            set,
            holder: first.holder,
            patience: first.patience,
        })
    }

    /// Lends a block of at least `len` bytes without waiting (the
    /// smallest fitting class first); [`LoanError::TooLarge`] when no
    /// class fits, [`LoanError::Exhausted`] (of the smallest fitting
    /// class) when all fitting classes are.
    pub fn try_loan(&self, len: u32) -> Result<PoolSetLoan<'c>, LoanError> {
        self.set
            .try_loan(len, self.holder)
            .map(|loan| PoolSetLoan::new(loan, &self.set))
    }

    /// Lends a block of at least `len` bytes, waiting while every fitting
    /// class is exhausted for at most `timeout`, in slices of the
    /// channel's `peer_check`; each slice that ends exhausted runs
    /// [`PoolSetHandle::gc`] (see [`PoolHandle::loan_timeout`]).
    pub fn loan_timeout(&self, len: u32, timeout: Duration) -> Result<PoolSetLoan<'c>, LoanError> {
        let start = Instant::now();
        let check = self.patience.peer_check;
        loop {
            let left = timeout.saturating_sub(start.elapsed());
            let slice = left.min(check);
            match self
                .set
                .loan(len, self.holder, &self.patience.blocking, Some(slice))
            {
                Ok(loan) => return Ok(PoolSetLoan::new(loan, &self.set)),
                Err(LoanError::TimedOut(e)) => {
                    if self.gc().blocks > 0 {
                        continue;
                    }
                    if left <= slice {
                        return Err(LoanError::TimedOut(e));
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Accepts a set handle (class, index, length, generation checked).
    pub fn accept(&self, handle: &Handle) -> Result<PoolSetSample<'c>, HandleError> {
        let (_, pool, _) = self.set.resolve(handle)?;
        self.set
            .accept(handle, self.holder)
            .map(|sample| PoolSetSample::new(sample, pool))
    }

    /// Adds a reference for `to` to a set handle's block this process
    /// holds.
    pub fn share(&self, handle: &Handle, to: Recipient) -> Result<(), HandleError> {
        self.set.share(handle, self.holder, to)
    }

    /// Releases a kept reference; wakes blocked loaners of its class.
    pub fn release(&self, handle: &Handle) -> Result<(), HandleError> {
        let (_, pool, _) = self.set.resolve(handle)?;
        let r = self.set.release(handle, self.holder);
        pool.wake_loaners(&Futex);
        r
    }

    /// [`PoolHandle::gc`] on every class.
    pub fn gc(&self) -> Reclaimed {
        let judge = self.patience.judge;
        let got = self.set.reclaim(|pid| match judge {
            Some(j) => j.alive(pid),
            None => liveness::process_alive(pid),
        });
        if got.references > 0 {
            for pool in self.set.classes() {
                pool.wake_loaners(&Futex);
            }
        }
        got
    }

    /// The core set, for its classes' census.
    pub fn set(&self) -> PoolSet<'c, N> {
        self.set
    }
}

/// A block lent from a [`PoolSetHandle`] ([`SetLoan`]); wakes blocked
/// loaners of its class when it drops.
#[derive(Debug)]
pub struct PoolSetLoan<'c> {
    loan: Option<SetLoan<'c>>,
    pool: Pool<'c>,
}

impl<'c> PoolSetLoan<'c> {
    fn new<const N: usize>(loan: SetLoan<'c>, set: &PoolSet<'c, N>) -> Self {
        // The set lent it from one of its classes.
        let pool = set.classes()[loan.class()];
        Self {
            loan: Some(loan),
            pool,
        }
    }

    /// Publishes `len`, shares with `to` and releases the loan: the set
    /// handle to send.
    pub fn hand_off(mut self, len: u32, to: Recipient) -> Result<Handle, HandleError> {
        match self.loan.take() {
            Some(loan) => loan.hand_off(len, to),
            None => Err(HandleError::NotPublished),
        }
    }
}

impl<'c> Deref for PoolSetLoan<'c> {
    type Target = SetLoan<'c>;
    fn deref(&self) -> &SetLoan<'c> {
        self.loan
            .as_ref()
            .expect("present until dropped or handed off")
    }
}

impl<'c> DerefMut for PoolSetLoan<'c> {
    fn deref_mut(&mut self) -> &mut SetLoan<'c> {
        self.loan
            .as_mut()
            .expect("present until dropped or handed off")
    }
}

impl Drop for PoolSetLoan<'_> {
    fn drop(&mut self) {
        drop(self.loan.take());
        self.pool.wake_loaners(&Futex);
    }
}

/// A block this process reads through a [`PoolSetHandle`] ([`SetSample`]);
/// wakes blocked loaners of its class when it drops.
#[derive(Debug)]
pub struct PoolSetSample<'c> {
    sample: Option<SetSample<'c>>,
    pool: Pool<'c>,
}

impl<'c> PoolSetSample<'c> {
    fn new(sample: SetSample<'c>, pool: Pool<'c>) -> Self {
        Self {
            sample: Some(sample),
            pool,
        }
    }

    /// Keeps the reference past this guard; release it with
    /// [`PoolSetHandle::release`].
    pub fn keep(mut self) -> Option<Handle> {
        self.sample.take().map(SetSample::keep)
    }
}

impl<'c> Deref for PoolSetSample<'c> {
    type Target = SetSample<'c>;
    fn deref(&self) -> &SetSample<'c> {
        self.sample.as_ref().expect("present until dropped or kept")
    }
}

impl Drop for PoolSetSample<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.sample.take() {
            drop(s);
            self.pool.wake_loaners(&Futex);
        }
    }
}
