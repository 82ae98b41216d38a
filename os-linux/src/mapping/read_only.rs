//! [`ReadOnlyMapping`]: a shared mapping for looking, not writing.

use std::os::fd::{AsRawFd, BorrowedFd};

use interlink_core::layout::{Header, HeaderSnapshot};
use interlink_core::{Region, RegionError};

use super::pages::Pages;
use crate::error::ShmError;

/// A read-only `MAP_SHARED` mapping, for looking at objects without being
/// able to change them (inspectors, receivers of a sealed memfd). It hands
/// out no [`Region`]: interlink's structures are written by their users,
/// so only header reads are offered here.
#[derive(Debug)]
pub struct ReadOnlyMapping {
    pages: Pages,
}

// SAFETY: read-only plain memory; all reads are atomic or byte copies.
unsafe impl Send for ReadOnlyMapping {}
// SAFETY: as above.
unsafe impl Sync for ReadOnlyMapping {}

impl ReadOnlyMapping {
    /// Maps `len` bytes of `fd` from offset 0, shared and read-only.
    pub fn from_fd(fd: BorrowedFd<'_>, len: usize) -> Result<Self, ShmError> {
        let what = format_args!("fd {} (read-only)", fd.as_raw_fd());
        let pages = Pages::map(len, libc::PROT_READ, libc::MAP_SHARED, Some(fd), &what)?;
        Ok(Self { pages })
    }

    /// The mapping's length in bytes.
    pub fn len(&self) -> usize {
        self.pages.len
    }

    /// Whether the mapping is empty (never).
    pub fn is_empty(&self) -> bool {
        self.pages.len == 0
    }

    /// The first byte.
    pub fn as_ptr(&self) -> *const u8 {
        self.pages.ptr.as_ptr()
    }

    /// Copies out the interlink header at offset 0, without trusting it
    /// (`TooSmall` when the mapping cannot hold one).
    pub fn header(&self) -> Result<HeaderSnapshot, RegionError> {
        Header::read(&self.region_for_reading())
    }

    /// Reads the 4-byte word at `offset` with an atomic load, or `None` if
    /// it is out of range or misaligned.
    pub fn load_u32(&self, offset: usize) -> Option<u32> {
        use std::sync::atomic::{AtomicU32, Ordering};
        if !offset.is_multiple_of(4) || offset.checked_add(4)? > self.pages.len {
            return None;
        }
        // SAFETY: in range and aligned (the mapping is page aligned); any
        // bytes are a valid AtomicU32, and the access is an atomic load.
        let word = unsafe { &*self.pages.ptr.as_ptr().add(offset).cast::<AtomicU32>() };
        Some(word.load(Ordering::Acquire))
    }

    /// A region over the pages for the core's read-only inspection
    /// functions. Never pass it to anything that writes: the pages are
    /// `PROT_READ`.
    pub(crate) fn region_for_reading(&self) -> Region<'_> {
        // SAFETY: valid for reads until drop, which the borrow prevents.
        // The pages are not writable: the crate passes this region only to
        // functions that load (Header::read, spsc::status).
        unsafe { Region::from_raw(self.pages.ptr.as_ptr(), self.pages.len) }
            .expect("mmap never returns null")
    }
}
