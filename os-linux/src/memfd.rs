//! Anonymous files (`memfd_create`) with seals: shared memory without a
//! name, passed to another process as a descriptor (inherited over `fork`,
//! sent over a Unix socket, or opened through `/proc/PID/fd/N`).
//!
//! Seals make promises the kernel enforces, so a receiver need not trust the
//! sender: [`Seals::SHRINK`] | [`Seals::GROW`] fix the size (no `SIGBUS` from
//! a peer truncating the file under a mapping); [`Seals::FUTURE_WRITE`]
//! lets the sender keep writing through the mappings it already has while
//! every later mapping, the receivers', can only be read-only;
//! [`Seals::WRITE`] freezes the contents (it needs no writable mapping to
//! exist: `EBUSY` otherwise).

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use crate::error::{check, OsError};
use crate::mapping::{fd_len, MapOptions, Mapping, ReadOnlyMapping};
use crate::shm::{check_len, ShmError};

/// A set of `F_SEAL_*` flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Seals(pub u32);

impl Seals {
    /// No further seals may be added (`F_SEAL_SEAL`).
    pub const SEAL: Self = Self(libc::F_SEAL_SEAL as u32);
    /// The file may not shrink (`F_SEAL_SHRINK`).
    pub const SHRINK: Self = Self(libc::F_SEAL_SHRINK as u32);
    /// The file may not grow (`F_SEAL_GROW`).
    pub const GROW: Self = Self(libc::F_SEAL_GROW as u32);
    /// The contents may not change (`F_SEAL_WRITE`).
    pub const WRITE: Self = Self(libc::F_SEAL_WRITE as u32);
    /// No new writable mapping or `write` (`F_SEAL_FUTURE_WRITE`, Linux
    /// 5.1); existing writable mappings keep working.
    pub const FUTURE_WRITE: Self = Self(libc::F_SEAL_FUTURE_WRITE as u32);
    /// The size is fixed: [`Seals::SHRINK`] | [`Seals::GROW`].
    pub const SIZE: Self = Self(Self::SHRINK.0 | Self::GROW.0);

    /// Whether every seal in `other` is in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for Seals {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

/// An anonymous memory file, closed on drop (the memory goes when the last
/// descriptor and mapping do).
#[derive(Debug)]
pub struct Memfd {
    fd: OwnedFd,
}

impl Memfd {
    /// Creates a sealable memfd of `len` bytes. `label` shows up in
    /// `/proc/PID/fd` and `/proc/PID/maps` as `memfd:LABEL`; it needs no
    /// slash and is at most 249 bytes.
    pub fn create(label: &str, len: usize) -> Result<Self, ShmError> {
        check_len(len)?;
        if label.len() > 249 {
            return Err(ShmError::Name {
                name: label.to_owned(),
                problem: "a memfd label is at most 249 bytes",
            });
        }
        let c_label = CString::new(label).map_err(|_| ShmError::Name {
            name: label.to_owned(),
            problem: "contains a NUL byte",
        })?;
        // SAFETY: a valid C string; memfd_create has no other preconditions.
        let fd = unsafe {
            libc::memfd_create(
                c_label.as_ptr(),
                libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
            )
        };
        let fd = check(fd, "memfd_create").map_err(|e| e.on(label))?;
        // SAFETY: a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: ftruncate on our own descriptor; check_len: len fits off_t.
        let r = unsafe { libc::ftruncate(fd.as_raw_fd(), len as libc::off_t) };
        check(r, "ftruncate").map_err(|e| e.on(format_args!("memfd {label} to {len} bytes")))?;
        Ok(Self { fd })
    }

    /// Wraps a memfd received from elsewhere (for example over a socket).
    pub fn from_fd(fd: OwnedFd) -> Self {
        Self { fd }
    }

    /// Gives up ownership of the descriptor.
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    /// The current length in bytes.
    pub fn size(&self) -> Result<usize, ShmError> {
        fd_len(self.fd.as_fd())
    }

    /// Adds `seals` (`F_ADD_SEALS`). `EPERM` if [`Seals::SEAL`] is set;
    /// `EBUSY` for [`Seals::WRITE`] while a writable shared mapping exists.
    pub fn add_seals(&self, seals: Seals) -> Result<(), ShmError> {
        // SAFETY: fcntl on our own descriptor with an integer argument.
        let r = unsafe { libc::fcntl(self.fd.as_raw_fd(), libc::F_ADD_SEALS, seals.0 as i32) };
        check(r, "fcntl(F_ADD_SEALS)")
            .map(drop)
            .map_err(|e| e.on(format_args!("seals {:#x}", seals.0)).into())
    }

    /// The seals set now (`F_GET_SEALS`).
    pub fn seals(&self) -> Result<Seals, ShmError> {
        // SAFETY: fcntl on our own descriptor, no argument.
        let r = unsafe { libc::fcntl(self.fd.as_raw_fd(), libc::F_GET_SEALS) };
        Ok(Seals(check(r, "fcntl(F_GET_SEALS)")? as u32))
    }

    /// Maps the whole file, writable (fails with `EPERM` once
    /// [`Seals::WRITE`] or [`Seals::FUTURE_WRITE`] is set).
    pub fn map(&self, options: &MapOptions) -> Result<Mapping, ShmError> {
        Mapping::from_fd(self.fd.as_fd(), self.size()?, options)
    }

    /// Maps the whole file read-only.
    pub fn map_read_only(&self) -> Result<ReadOnlyMapping, ShmError> {
        ReadOnlyMapping::from_fd(self.fd.as_fd(), self.size()?)
    }

    /// Allocates every page now (`posix_fallocate`), so that a shortage of
    /// memory is an error here rather than at first touch.
    pub fn reserve(&self) -> Result<(), ShmError> {
        let len = self.size()?;
        // SAFETY: posix_fallocate on our own descriptor; it returns the
        // errno itself. fd_len: len fits off_t.
        let r = unsafe { libc::posix_fallocate(self.fd.as_raw_fd(), 0, len as libc::off_t) };
        if r != 0 {
            return Err(OsError::new("posix_fallocate", r)
                .on(format_args!("memfd ({len} bytes)"))
                .into());
        }
        Ok(())
    }

    /// Changes the length (`ftruncate`); `EPERM` once the size is sealed.
    pub fn set_size(&self, len: usize) -> Result<(), ShmError> {
        check_len(len)?;
        // SAFETY: ftruncate on our own descriptor; len fits off_t.
        let r = unsafe { libc::ftruncate(self.fd.as_raw_fd(), len as libc::off_t) };
        check(r, "ftruncate")
            .map(drop)
            .map_err(|e: OsError| e.on(format_args!("memfd to {len} bytes")).into())
    }
}

impl AsFd for Memfd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
