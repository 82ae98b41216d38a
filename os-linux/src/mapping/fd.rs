//! What a descriptor says about its file: `fstat`, and its length.

use std::os::fd::{AsRawFd, BorrowedFd};

use crate::error::ShmError;
use crate::error::{check, OsError};

/// The length of the object behind `fd` (`fstat`), as a `usize`.
pub(crate) fn fd_len(fd: BorrowedFd<'_>) -> Result<usize, ShmError> {
    let len = fd_stat(fd)?.st_size as u64;
    usize::try_from(len).map_err(|_| ShmError::Size {
        len,
        problem: "does not fit this process's address space",
    })
}

/// `fstat(fd)`, in its 64-bit form (`fstat64`: 64-bit inode numbers and
/// sizes also in a 32-bit process, where plain `fstat` fails with
/// `EOVERFLOW` on them).
pub(crate) fn fd_stat(fd: BorrowedFd<'_>) -> Result<libc::stat64, OsError> {
    // SAFETY: an all-zero stat64 is a valid out-buffer.
    let mut st: libc::stat64 = unsafe { std::mem::zeroed() };
    // SAFETY: fd is borrowed and open; st is a valid out-pointer.
    check(unsafe { libc::fstat64(fd.as_raw_fd(), &mut st) }, "fstat")
        .map_err(|e| e.on(format_args!("fd {}", fd.as_raw_fd())))?;
    Ok(st)
}
