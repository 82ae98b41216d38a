//! The pages of one `mmap`: what every mapping type owns.

use std::os::fd::{AsRawFd, BorrowedFd};

use crate::error::{check, OsError};

/// Readable and writable.
pub(super) const PROT_RW: i32 = libc::PROT_READ | libc::PROT_WRITE;

/// The pages of one `mmap`, unmapped on drop. Owned by a
/// [`Mapping`](super::Mapping), a [`ReadOnlyMapping`](super::ReadOnlyMapping)
/// or a [`PrivateCopy`](super::PrivateCopy).
#[derive(Debug)]
pub(super) struct Pages {
    pub(super) ptr: std::ptr::NonNull<u8>,
    pub(super) len: usize,
}

impl Pages {
    /// `mmap(NULL, len, prot, flags, fd, 0)`, with an error naming `what`.
    pub(super) fn map(
        len: usize,
        prot: i32,
        flags: i32,
        fd: Option<BorrowedFd<'_>>,
        what: &dyn std::fmt::Display,
    ) -> Result<Self, OsError> {
        if len == 0 {
            return Err(OsError::new("mmap", libc::EINVAL).on(format_args!("{what}: 0 bytes")));
        }
        let raw_fd = fd.map_or(-1, |fd| fd.as_raw_fd());
        // SAFETY: a new mapping at an address of the kernel's choosing; no
        // existing memory is touched. `raw_fd` is borrowed for the call.
        let ptr = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, raw_fd, 0) };
        if ptr == libc::MAP_FAILED {
            return Err(OsError::last("mmap").on(format_args!("{what}: {len} bytes")));
        }
        let ptr = std::ptr::NonNull::new(ptr.cast())
            .ok_or_else(|| OsError::new("mmap", libc::EINVAL).on(what))?;
        Ok(Self { ptr, len })
    }
}

/// Faults `len` bytes from `ptr` into this process's page tables, writable,
/// without changing a byte (`madvise(MADV_POPULATE_WRITE)`, Linux 5.14).
///
/// # Safety
///
/// `ptr..ptr + len` must be a live, writable mapping of this process for
/// the duration of the call.
pub(crate) unsafe fn populate_writable(ptr: *mut u8, len: usize) -> Result<(), OsError> {
    // SAFETY: the caller guarantees the range is a live writable mapping;
    // populating faults pages in and writes nothing.
    let r = unsafe { libc::madvise(ptr.cast(), len, libc::MADV_POPULATE_WRITE) };
    check(r, "madvise(MADV_POPULATE_WRITE)").map(drop)
}

impl Drop for Pages {
    fn drop(&mut self) {
        // SAFETY: ptr/len describe a mapping this value owns; nothing
        // borrows it any more (regions borrow the owning mapping).
        let r = unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
        let _ = check(r, "munmap");
    }
}
