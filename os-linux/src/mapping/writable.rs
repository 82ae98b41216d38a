//! [`Mapping`]: a writable shared mapping, with the options applied, the
//! descriptor it keeps and the name it unlinks on drop.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use interlink_core::Region;

use super::pages::{populate_writable, Pages, PROT_RW};
use super::{fd_len, memlock_limit, HugePages, MapOptions, HUGE_PAGE};
use crate::error::ShmError;
use crate::error::{check, OsError};
use crate::shm_name::ShmName;

/// What to unlink when a [`Mapping`] is dropped: a name, and the identity
/// of the object it named when it was mapped, so that a newer object which
/// took the name meanwhile is left alone.
#[derive(Debug)]
pub(crate) struct UnlinkOnDrop {
    pub(crate) name: ShmName,
    pub(crate) dev: u64,
    pub(crate) ino: u64,
}

/// A writable `MAP_SHARED` mapping, unmapped on drop and, when it came from
/// a named object and the caller asked for it, unlinked too.
#[derive(Debug)]
pub struct Mapping {
    pages: Pages,
    huge_pages: HugePages,
    locked: bool,
    unlink: Option<UnlinkOnDrop>,
    /// A descriptor kept open with the mapping (a sealed memfd's, so that
    /// it can be passed on).
    fd: Option<OwnedFd>,
}

// SAFETY: a mapping is plain memory; the structures placed in it
// synchronise through atomics.
unsafe impl Send for Mapping {}
// SAFETY: as above; `&Mapping` only hands out raw pointers and regions.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// An anonymous shared mapping of `len` bytes, zero-filled and
    /// prefaulted (`MAP_POPULATE`): inherited across `fork`, so parent and
    /// child share it.
    pub fn anonymous(len: usize) -> Result<Self, OsError> {
        let flags = libc::MAP_SHARED | libc::MAP_ANONYMOUS | libc::MAP_POPULATE;
        let pages = Pages::map(len, PROT_RW, flags, None, &"anonymous")?;
        Ok(Self::plain(pages))
    }

    /// An anonymous shared mapping of `len` bytes with `options`. With
    /// [`HugePages::Explicit`] the length is rounded up to [`HUGE_PAGE`].
    pub fn anonymous_with(len: usize, options: &MapOptions) -> Result<Self, ShmError> {
        Self::map(len, None, options, &"anonymous")
    }

    /// Maps `len` bytes of `fd` from offset 0, shared and writable (the fd
    /// must be open for reading and writing): a file, a shm object, a memfd.
    pub fn from_fd(fd: BorrowedFd<'_>, len: usize, options: &MapOptions) -> Result<Self, ShmError> {
        Self::map(
            len,
            Some(fd),
            options,
            &format_args!("fd {}", fd.as_raw_fd()),
        )
    }

    /// Maps the whole of `file` (its current length), shared and writable.
    pub fn file(file: &std::fs::File, options: &MapOptions) -> Result<Self, ShmError> {
        use std::os::fd::AsFd;
        let len = fd_len(file.as_fd())?;
        Self::from_fd(file.as_fd(), len, options)
    }

    fn plain(pages: Pages) -> Self {
        Self {
            pages,
            huge_pages: HugePages::Off,
            locked: false,
            unlink: None,
            fd: None,
        }
    }

    fn map(
        len: usize,
        fd: Option<BorrowedFd<'_>>,
        options: &MapOptions,
        what: &dyn std::fmt::Display,
    ) -> Result<Self, ShmError> {
        let mut flags = libc::MAP_SHARED;
        if fd.is_none() {
            flags |= libc::MAP_ANONYMOUS;
        }
        if options.prefault {
            flags |= libc::MAP_POPULATE;
        }
        let want_explicit = matches!(
            options.huge_pages,
            HugePages::Explicit | HugePages::ExplicitOrTransparent
        );
        let mut huge_pages = options.huge_pages;
        let mut pages = None;
        if want_explicit {
            if fd.is_some() {
                // A tmpfs or regular file cannot be hugetlb-backed.
                if options.huge_pages == HugePages::Explicit {
                    return Err(ShmError::HugePages {
                        len,
                        errno: libc::EINVAL,
                    });
                }
            } else {
                let rounded = len
                    .checked_next_multiple_of(HUGE_PAGE)
                    .ok_or(ShmError::Size {
                        len: len as u64,
                        problem: "overflows when rounded up to a huge page",
                    })?;
                match Pages::map(rounded, PROT_RW, flags | libc::MAP_HUGETLB, None, what) {
                    Ok(p) => {
                        huge_pages = HugePages::Explicit;
                        pages = Some(p);
                    }
                    Err(e) if options.huge_pages == HugePages::Explicit => {
                        return Err(ShmError::HugePages {
                            len,
                            errno: e.errno,
                        })
                    }
                    Err(_) => {}
                }
            }
            if pages.is_none() {
                huge_pages = HugePages::Transparent;
            }
        }
        let pages = match pages {
            Some(p) => p,
            None => Pages::map(len, PROT_RW, flags, fd, what)?,
        };
        if huge_pages == HugePages::Transparent {
            // SAFETY: advice on a range this value owns; it changes no contents.
            let r =
                unsafe { libc::madvise(pages.ptr.as_ptr().cast(), pages.len, libc::MADV_HUGEPAGE) };
            check(r, "madvise(MADV_HUGEPAGE)").map_err(|e| e.on(what))?;
        }
        let mut mapping = Self {
            pages,
            huge_pages,
            locked: false,
            unlink: None,
            fd: None,
        };
        if options.lock {
            mapping.lock()?;
        }
        Ok(mapping)
    }

    /// Locks the pages in RAM (`mlock`). Past `RLIMIT_MEMLOCK` (8 MiB on
    /// many machines) this is [`ShmError::Memlock`], naming the limit.
    pub fn lock(&mut self) -> Result<(), ShmError> {
        // SAFETY: locks a range this value owns; no contents change.
        let r = unsafe { libc::mlock(self.pages.ptr.as_ptr().cast(), self.pages.len) };
        if let Err(e) = check(r, "mlock") {
            return Err(ShmError::Memlock {
                len: self.pages.len,
                limit: memlock_limit(),
                errno: e.errno,
            });
        }
        self.locked = true;
        Ok(())
    }

    /// Which huge pages back the mapping: what was applied, not what was
    /// asked ([`HugePages::Transparent`] is a hint the kernel may ignore).
    pub fn huge_pages(&self) -> HugePages {
        self.huge_pages
    }

    /// Whether the pages are locked in RAM.
    pub fn is_locked(&self) -> bool {
        self.locked
    }

    /// The mapping's length in bytes (rounded up for explicit huge pages).
    pub fn len(&self) -> usize {
        self.pages.len
    }

    /// Whether the mapping is empty (never: mappings have at least one byte).
    pub fn is_empty(&self) -> bool {
        self.pages.len == 0
    }

    /// The first byte.
    pub fn as_ptr(&self) -> *mut u8 {
        self.pages.ptr.as_ptr()
    }

    /// Faults every page of the mapping into *this process's* page tables
    /// now, writable (`madvise(MADV_POPULATE_WRITE)`), without changing a
    /// byte. Call it in a child after `fork`: `fork` does not copy the
    /// page-table entries of a shared mapping, so without it the child
    /// takes a minor fault on its first touch of each page (about 1 µs
    /// each on the reference machine: the first lap through a fresh ring
    /// shows them in its tail latency). Mappings made here with prefault
    /// (the default) need nothing in the process that made them.
    ///
    /// Fails with the kernel's error (`EINVAL` before Linux 5.14, which
    /// has no such advice; the mapping is unchanged).
    pub fn populate(&self) -> Result<(), OsError> {
        // SAFETY: the range is this mapping, alive and writable for the call.
        unsafe { populate_writable(self.pages.ptr.as_ptr(), self.pages.len) }
    }

    /// The mapping as a region for interlink's structures, borrowed for as
    /// long as the mapping lives.
    pub fn region(&self) -> Region<'_> {
        // SAFETY: the mapping is valid for reads and writes until drop, which
        // the borrow prevents; Rust code reaches it only through raw
        // pointers and atomics.
        unsafe { Region::from_raw(self.pages.ptr.as_ptr(), self.pages.len) }
            .expect("mmap never returns null")
    }

    /// The name this mapping will unlink when dropped, if any.
    pub fn unlinks(&self) -> Option<&ShmName> {
        self.unlink.as_ref().map(|u| &u.name)
    }

    /// Stops this mapping from unlinking its object on drop (for example
    /// to leave a channel behind for a later run).
    pub fn keep_name(&mut self) {
        self.unlink = None;
    }

    pub(crate) fn set_unlink(&mut self, unlink: UnlinkOnDrop) {
        self.unlink = Some(unlink);
    }

    /// Keeps `fd` open for as long as the mapping lives.
    pub(crate) fn hold_fd(&mut self, fd: OwnedFd) {
        self.fd = Some(fd);
    }

    /// The descriptor this mapping keeps open, if any (a sealed channel's
    /// memfd, to pass on to another process).
    pub fn held_fd(&self) -> Option<BorrowedFd<'_>> {
        self.fd.as_ref().map(|fd| fd.as_fd())
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if let Some(u) = self.unlink.take() {
            // Only if the name still refers to the object we mapped.
            if crate::shm_name::name_identity(&u.name) == Some((u.dev, u.ino)) {
                let _ = crate::shm_name::unlink(u.name.as_str());
            }
        }
        // `pages` unmaps itself.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_mapping_is_shared_with_a_forked_child() {
        let map = Mapping::anonymous(4096).unwrap();
        assert_eq!(map.as_ptr() as usize % 4096, 0);
        let child = crate::process::fork(|| {
            // SAFETY: the mapping is 4096 bytes.
            unsafe { map.as_ptr().add(100).write_volatile(0xab) };
            0
        })
        .unwrap();
        assert!(child.wait().unwrap().success());
        // SAFETY: inside the mapping; the child has exited.
        assert_eq!(unsafe { map.as_ptr().add(100).read_volatile() }, 0xab);
        assert!(Mapping::anonymous(0).is_err());
    }
}
