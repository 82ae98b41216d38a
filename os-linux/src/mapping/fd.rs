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

/// `fstat(fd)`.
pub(crate) fn fd_stat(fd: BorrowedFd<'_>) -> Result<libc::stat, OsError> {
    // SAFETY: an all-zero stat is a valid out-buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fd is borrowed and open; st is a valid out-pointer.
    check(unsafe { libc::fstat(fd.as_raw_fd(), &mut st) }, "fstat")
        .map_err(|e| e.on(format_args!("fd {}", fd.as_raw_fd())))?;
    Ok(st)
}
