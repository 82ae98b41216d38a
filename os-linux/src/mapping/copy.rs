//! Reading an object without mapping it: [`PrivateCopy`] of its start and
//! [`pread_full`], so a peer that truncates it cannot fault the reader.

use std::os::fd::{AsRawFd, BorrowedFd};

use interlink_core::Region;

use super::pages::{Pages, PROT_RW};
use crate::error::OsError;
use crate::error::ShmError;

/// A private copy of the start of an object, in private anonymous memory
/// as long as the object claims to be: the core's `attach` and `status`
/// functions check a region's length against the structure's, and read
/// only its control block, so they can judge the copy exactly as they
/// would judge a mapping of the object. Nothing of the object is mapped,
/// so a peer that truncates it meanwhile cannot raise `SIGBUS` here; past
/// the copied prefix the pages are zero and never touched
/// (`MAP_NORESERVE`: they cost address space, not memory).
#[derive(Debug)]
pub(crate) struct PrivateCopy {
    pages: Pages,
    copied: usize,
}

impl PrivateCopy {
    /// How many bytes from the start are copied: every structure's control
    /// block (header, roles, users table, indices) fits in it.
    pub(crate) const PREFIX: usize = 4096;

    /// Copies the first `min(len, PREFIX)` bytes of `fd` (`pread`) into
    /// private memory of `len` bytes. [`PrivateCopy::copied`] says how many
    /// bytes the object still had: fewer than asked if it shrank.
    pub(crate) fn read(fd: BorrowedFd<'_>, len: usize) -> Result<Self, ShmError> {
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
        let pages = Pages::map(len, PROT_RW, flags, None, &"a private copy")?;
        let want = len.min(Self::PREFIX);
        // SAFETY: the pages are ours, writable and at least `want` long;
        // nothing else refers to them yet.
        let buf = unsafe { std::slice::from_raw_parts_mut(pages.ptr.as_ptr(), want) };
        let copied = pread_full(fd, buf, 0)?;
        Ok(Self { pages, copied })
    }

    /// Bytes the object held of those asked for.
    pub(crate) fn copied(&self) -> usize {
        self.copied
    }

    /// The copy as a region (private memory: writes stay here).
    pub(crate) fn region(&self) -> Region<'_> {
        // SAFETY: private memory valid for reads and writes until drop,
        // which the borrow prevents.
        unsafe { Region::from_raw(self.pages.ptr.as_ptr(), self.pages.len) }
            .expect("mmap never returns null")
    }
}

/// Reads into `buf` from `offset` with `pread` until it is full or the
/// file ends (retrying `EINTR`); returns the bytes read. Never maps: a
/// file that shrinks meanwhile gives a short count, not a `SIGBUS`.
pub(crate) fn pread_full(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    offset: u64,
) -> Result<usize, OsError> {
    let mut done = 0;
    while done < buf.len() {
        let at = libc::off_t::try_from(offset + done as u64)
            .map_err(|_| OsError::new("pread", libc::EOVERFLOW))?;
        let rest = &mut buf[done..];
        // SAFETY: `rest` is valid for writes of its length; fd is open.
        let n = unsafe { libc::pread(fd.as_raw_fd(), rest.as_mut_ptr().cast(), rest.len(), at) };
        match n {
            0 => break,
            n if n > 0 => done += n as usize,
            _ => {
                let e = OsError::last("pread");
                if !e.is(libc::EINTR) {
                    return Err(e.on(format_args!("fd {}", fd.as_raw_fd())));
                }
            }
        }
    }
    Ok(done)
}
