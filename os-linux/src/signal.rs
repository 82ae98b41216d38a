//! Signals without handlers: block a set of signals and read them from a
//! `signalfd` as data; send them with `kill` or, carrying an integer, with
//! `sigqueue`. [`ShutdownSignal`] turns SIGTERM/SIGINT into a flag a loop
//! polls, for a clean shutdown.
//!
//! A blocked signal stays pending until read, and signal masks are per
//! thread: a process-directed signal goes to any thread that does *not*
//! block it. Block the set in the main thread before spawning threads
//! (they inherit the mask), or every thread that does not block it may take
//! the signal's default action instead of leaving it for the `signalfd`.

use std::mem::{size_of, zeroed};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use crate::error::{check, check_retry, OsError};

/// A set of signal numbers (`sigset_t`).
#[derive(Clone, Copy)]
pub struct SignalSet(libc::sigset_t);

impl std::fmt::Debug for SignalSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries((1..=libc::SIGRTMAX()).filter(|&s| self.contains(s)))
            .finish()
    }
}

fn valid(signal: i32) -> Result<(), OsError> {
    if (1..=libc::SIGRTMAX()).contains(&signal) {
        Ok(())
    } else {
        Err(OsError::new("sigaddset", libc::EINVAL).on(format_args!("signal {signal}")))
    }
}

impl SignalSet {
    /// The empty set.
    pub fn empty() -> Self {
        // SAFETY: sigemptyset initialises the zeroed set it is given.
        unsafe {
            let mut set: libc::sigset_t = zeroed();
            libc::sigemptyset(&mut set);
            Self(set)
        }
    }

    /// The set of `signals`; a number outside 1..=SIGRTMAX is `EINVAL`.
    pub fn of(signals: &[i32]) -> Result<Self, OsError> {
        let mut set = Self::empty();
        for &s in signals {
            set.add(s)?;
        }
        Ok(set)
    }

    /// Adds `signal`.
    pub fn add(&mut self, signal: i32) -> Result<(), OsError> {
        valid(signal)?;
        // SAFETY: the set is initialised and the number checked.
        check(unsafe { libc::sigaddset(&mut self.0, signal) }, "sigaddset").map(drop)
    }

    /// Whether `signal` is in the set.
    pub fn contains(&self, signal: i32) -> bool {
        // SAFETY: the set is initialised; sigismember rejects bad numbers.
        valid(signal).is_ok() && unsafe { libc::sigismember(&self.0, signal) } == 1
    }

    fn mask(how: libc::c_int, set: Option<&Self>) -> Result<Self, OsError> {
        let mut old = Self::empty();
        let new = set.map_or(std::ptr::null(), |s| &s.0 as *const _);
        // SAFETY: new is a valid set or null; old is a valid out-pointer.
        let r = unsafe { libc::pthread_sigmask(how, new, &mut old.0) };
        if r != 0 {
            return Err(OsError::new("pthread_sigmask", r));
        }
        Ok(old)
    }

    /// Blocks these signals in the calling thread (they stay pending until
    /// read from a [`SignalFd`] or unblocked); returns the previous mask.
    pub fn block(&self) -> Result<SignalSet, OsError> {
        Self::mask(libc::SIG_BLOCK, Some(self))
    }

    /// Unblocks these signals in the calling thread; returns the previous mask.
    pub fn unblock(&self) -> Result<SignalSet, OsError> {
        Self::mask(libc::SIG_UNBLOCK, Some(self))
    }

    /// The calling thread's current mask.
    pub fn current_mask() -> Result<SignalSet, OsError> {
        Self::mask(libc::SIG_BLOCK, None)
    }
}

/// The real-time signal `SIGRTMIN + n`; past `SIGRTMAX` is `EINVAL`.
/// (glibc reserves the first few kernel RT signals, so the numbers vary.)
pub fn rt_signal(n: u32) -> Result<i32, OsError> {
    let count = (libc::SIGRTMAX() - libc::SIGRTMIN()) as u32;
    if n > count {
        return Err(
            OsError::new("SIGRTMIN", libc::EINVAL).on(format_args!("SIGRTMIN+{n} (past SIGRTMAX)"))
        );
    }
    Ok(libc::SIGRTMIN() + n as i32)
}

fn pid_t(op: &'static str, pid: u32) -> Result<libc::pid_t, OsError> {
    match libc::pid_t::try_from(pid) {
        Ok(p) if p > 0 => Ok(p),
        // 0 and negatives would address process groups or everyone.
        _ => Err(OsError::new(op, libc::EINVAL).on(format_args!("pid {pid}"))),
    }
}

/// Sends `signal` to the process `pid` (`kill`; pid 0, which would mean
/// the process group, is `EINVAL`).
pub fn kill(pid: u32, signal: i32) -> Result<(), OsError> {
    let p = pid_t("kill", pid)?;
    // SAFETY: kill has no memory-safety preconditions.
    check(unsafe { libc::kill(p, signal) }, "kill")
        .map(drop)
        .map_err(|e| e.on(format_args!("pid {pid}, signal {signal}")))
}

/// Sends `signal` with the integer `value` to `pid` (`sigqueue`). Real-time
/// signals ([`rt_signal`]) queue — each send is delivered once, in order —
/// while standard ones merge while pending. The receiver sees `value` in
/// [`SignalInfo::value`].
pub fn sigqueue(pid: u32, signal: i32, value: i32) -> Result<(), OsError> {
    let p = pid_t("sigqueue", pid)?;
    // SAFETY: sigval is a union of an int and a pointer, plain data; the
    // int member sits at its start, so writing there sets `sival_int`.
    let val = unsafe {
        let mut v: libc::sigval = zeroed();
        (&raw mut v).cast::<i32>().write(value);
        v
    };
    // SAFETY: sigqueue has no memory-safety preconditions.
    check(unsafe { libc::sigqueue(p, signal, val) }, "sigqueue")
        .map(drop)
        .map_err(|e| e.on(format_args!("pid {pid}, signal {signal}")))
}

/// One received signal, from a `signalfd`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignalInfo {
    /// The signal number.
    pub signal: i32,
    /// How it was sent (`SI_USER` for `kill`, `SI_QUEUE` for `sigqueue`, ...).
    pub code: i32,
    /// The sender's pid (for signals sent by a process).
    pub pid: u32,
    /// The sender's real uid.
    pub uid: u32,
    /// The integer sent with [`sigqueue`] (0 otherwise).
    pub value: i32,
}

/// A `signalfd`: pending signals of its set, read as [`SignalInfo`]
/// records instead of running handlers. Block the set first
/// ([`SignalSet::block`]), or the signals are delivered the usual way and
/// never reach the descriptor.
#[derive(Debug)]
pub struct SignalFd(OwnedFd);

impl SignalFd {
    /// A descriptor for the signals in `set` (close-on-exec, non-blocking:
    /// waiting is done with `poll` in [`SignalFd::read_timeout`]).
    pub fn new(set: &SignalSet) -> Result<Self, OsError> {
        // SAFETY: set is an initialised sigset_t; -1 asks for a new descriptor.
        let fd = check(
            unsafe { libc::signalfd(-1, &set.0, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) },
            "signalfd",
        )?;
        // SAFETY: a fresh descriptor nothing else owns.
        Ok(Self(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Takes one pending signal of the set, or `None` if there is none.
    pub fn try_read(&self) -> Result<Option<SignalInfo>, OsError> {
        // SAFETY: signalfd_siginfo is plain data; all zeroes is valid.
        let mut info: libc::signalfd_siginfo = unsafe { zeroed() };
        let (fd, out) = (self.0.as_raw_fd(), (&raw mut info).cast());
        let n = check_retry("read signalfd", || {
            // SAFETY: info is valid for writes of its size.
            unsafe { libc::read(fd, out, size_of::<libc::signalfd_siginfo>()) }
        });
        match n {
            Ok(n) if n as usize == size_of::<libc::signalfd_siginfo>() => Ok(Some(SignalInfo {
                signal: info.ssi_signo as i32,
                code: info.ssi_code,
                pid: info.ssi_pid,
                uid: info.ssi_uid,
                value: info.ssi_int,
            })),
            Ok(n) => Err(OsError::new("read signalfd", libc::EIO).on(format_args!("{n} bytes"))),
            Err(e) if e.is(libc::EAGAIN) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Waits up to `timeout` (`None`: without limit) for a signal of the set.
    pub fn read_timeout(&self, timeout: Option<Duration>) -> Result<Option<SignalInfo>, OsError> {
        let start = Instant::now();
        loop {
            if let Some(info) = self.try_read()? {
                return Ok(Some(info));
            }
            let ms = match timeout {
                None => -1,
                Some(t) => match t.checked_sub(start.elapsed()) {
                    None => return Ok(None),
                    // Round up so a sub-millisecond rest still sleeps.
                    Some(rest) => rest.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32,
                },
            };
            let mut pfd = libc::pollfd {
                fd: self.0.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: pfd is one valid pollfd.
            let r = unsafe { libc::poll(&mut pfd, 1, ms) };
            if r == -1 {
                let e = OsError::last("poll");
                if !e.is(libc::EINTR) {
                    return Err(e);
                }
            }
        }
    }
}

impl AsFd for SignalFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// SIGTERM and SIGINT turned into a flag: a clean way to stop a ring
/// consumer (or any loop) when the process is asked to end.
///
/// [`ShutdownSignal::install`] blocks both signals in the calling thread
/// and reads them from a `signalfd`, so no handler runs and nothing is
/// interrupted mid-operation. Call it in `main` before spawning threads, so
/// that every thread inherits the mask. The loop then polls
/// [`ShutdownSignal::is_requested`] — one `read` syscall, so poll when idle
/// or every few thousand items rather than per item:
///
/// ```no_run
/// use interlink_core::{RecvError, RingConfig, spsc::SpscRing};
/// use interlink_linux::{process, shm::Mapping, signal::ShutdownSignal};
///
/// let shutdown = ShutdownSignal::install()?; // before any thread exists
/// let map = Mapping::anonymous(SpscRing::<u64>::bytes_needed(1024)?)?;
/// let ring = SpscRing::<u64>::init(map.region(), RingConfig::new(1024))?;
/// let mut rx = ring.consumer(process::holder())?;
/// let mut sum = 0u64;
/// loop {
///     match rx.try_recv() {
///         Ok(v) => sum += v,
///         Err(RecvError::Empty) if shutdown.is_requested() => break, // drained and asked to stop
///         Err(RecvError::Empty) => std::thread::yield_now(),
///         Err(e) => return Err(e.into()), // corrupt: the peer broke the ring
///     }
/// }
/// println!("stopped by signal {:?} after summing {sum}", shutdown.signal());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// The signals stay blocked after drop: one arriving later stays pending
/// instead of killing the process.
#[derive(Debug)]
pub struct ShutdownSignal {
    fd: SignalFd,
    /// 0 until a signal is seen; then its number (-1 if reading failed).
    seen: AtomicI32,
}

impl ShutdownSignal {
    /// Blocks SIGTERM and SIGINT in the calling thread and starts watching
    /// for them.
    pub fn install() -> Result<Self, OsError> {
        Self::for_signals(&[libc::SIGTERM, libc::SIGINT])
    }

    /// Like [`ShutdownSignal::install`], for another set of signals.
    pub fn for_signals(signals: &[i32]) -> Result<Self, OsError> {
        let set = SignalSet::of(signals)?;
        set.block()?;
        Ok(Self {
            fd: SignalFd::new(&set)?,
            seen: AtomicI32::new(0),
        })
    }

    /// Whether a shutdown signal has arrived; once true, always true. Never
    /// waits. A failed read of the descriptor (which a live `signalfd`
    /// never gives) also counts as a request: better to stop than to spin.
    pub fn is_requested(&self) -> bool {
        self.seen.load(Ordering::Relaxed) != 0 || self.record(self.fd.try_read())
    }

    /// Waits up to `timeout` for a shutdown signal; whether one came.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.is_requested() || self.record(self.fd.read_timeout(Some(timeout)))
    }

    /// Remembers what a read of the descriptor found; whether it was a request.
    fn record(&self, read: Result<Option<SignalInfo>, OsError>) -> bool {
        let seen = match read {
            Ok(None) => return false,
            Ok(Some(info)) => info.signal,
            Err(_) => -1,
        };
        self.seen.store(seen, Ordering::Relaxed);
        true
    }

    /// The signal that requested the shutdown, once one has.
    pub fn signal(&self) -> Option<i32> {
        Some(self.seen.load(Ordering::Relaxed)).filter(|&s| s > 0)
    }
}
