//! `eventfd`: a 64-bit counter in the kernel that processes sharing the
//! descriptor (over `fork`, or passed with `SCM_RIGHTS`) add to and drain —
//! the cheapest kernel wake-up there is.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use crate::error::{check, check_retry, OsError};

/// How reads drain the counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A read returns the whole count and resets it to zero.
    Counter,
    /// A read returns 1 and decrements the count (`EFD_SEMAPHORE`).
    Semaphore,
}

/// The largest value the counter holds (`u64::MAX - 1`).
pub const MAX: u64 = u64::MAX - 1;

/// An eventfd, closed on drop. Reads wait while the count is zero and
/// writes while adding would pass [`MAX`]; the `try_` calls never wait.
#[derive(Debug)]
pub struct EventFd(OwnedFd);

impl EventFd {
    /// A new eventfd holding `initial`, close-on-exec.
    pub fn new(initial: u32, mode: Mode) -> Result<Self, OsError> {
        let flags = libc::EFD_CLOEXEC
            | libc::EFD_NONBLOCK
            | match mode {
                Mode::Counter => 0,
                Mode::Semaphore => libc::EFD_SEMAPHORE,
            };
        // SAFETY: eventfd has no pointer arguments.
        let fd = check(unsafe { libc::eventfd(initial, flags) }, "eventfd")?;
        // SAFETY: a fresh descriptor nothing else owns.
        Ok(Self(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    fn raw_read(&self) -> Result<Option<u64>, OsError> {
        let mut v = 0u64;
        let (fd, out) = (self.0.as_raw_fd(), (&raw mut v).cast());
        let r = check_retry("read eventfd", || {
            // SAFETY: v is valid for writes of 8 bytes.
            unsafe { libc::read(fd, out, 8) }
        });
        match r {
            Ok(_) => Ok(Some(v)),
            Err(e) if e.is(libc::EAGAIN) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn raw_write(&self, n: u64) -> Result<bool, OsError> {
        if n > MAX {
            return Err(OsError::new("write eventfd", libc::EINVAL)
                .on(format_args!("{n} (over u64::MAX - 1)")));
        }
        let r = check_retry("write eventfd", || {
            // SAFETY: n is valid for reads of 8 bytes.
            unsafe { libc::write(self.0.as_raw_fd(), (&raw const n).cast(), 8) }
        });
        match r {
            Ok(_) => Ok(true),
            Err(e) if e.is(libc::EAGAIN) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn poll(&self, events: libc::c_short) -> Result<(), OsError> {
        let mut pfd = libc::pollfd {
            fd: self.0.as_raw_fd(),
            events,
            revents: 0,
        };
        check_retry("poll eventfd", || {
            // SAFETY: pfd is one valid pollfd.
            unsafe { libc::poll(&mut pfd, 1, -1) }
        })
        .map(drop)
    }

    /// Takes the count (or 1, in [`Mode::Semaphore`]), waiting while it is 0.
    pub fn read(&self) -> Result<u64, OsError> {
        loop {
            if let Some(v) = self.raw_read()? {
                return Ok(v);
            }
            self.poll(libc::POLLIN)?;
        }
    }

    /// Takes the count (or 1) if it is above zero.
    pub fn try_read(&self) -> Result<Option<u64>, OsError> {
        self.raw_read()
    }

    /// Adds `n` (at most [`MAX`]), waiting while the sum would overflow.
    pub fn write(&self, n: u64) -> Result<(), OsError> {
        while !self.raw_write(n)? {
            self.poll(libc::POLLOUT)?;
        }
        Ok(())
    }

    /// Adds `n` unless the sum would pass [`MAX`]; whether it was added.
    pub fn try_write(&self, n: u64) -> Result<bool, OsError> {
        self.raw_write(n)
    }
}

impl AsFd for EventFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl AsRawFd for EventFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

impl From<EventFd> for OwnedFd {
    fn from(e: EventFd) -> OwnedFd {
        e.0
    }
}

impl From<OwnedFd> for EventFd {
    /// Adopts a descriptor received from elsewhere (e.g. over a socket).
    /// The `try_` calls assume it is non-blocking, as [`EventFd::new`]
    /// makes it; nothing checks that it is an eventfd.
    fn from(fd: OwnedFd) -> EventFd {
        EventFd(fd)
    }
}
