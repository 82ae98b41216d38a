//! Owned shared mappings and the options latency users ask for: prefault,
//! `mlock`, huge pages. Where the bytes come from (a POSIX shm object, a
//! memfd, a file, nothing at all) is the business of `shm.rs`, `memfd.rs`
//! and the caller; this file only maps, unmaps and, when asked, unlinks.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use interlink_core::layout::{Header, HeaderSnapshot};
use interlink_core::{Region, RegionError};

use crate::error::{check, OsError};
use crate::shm::{ShmError, ShmName};

/// The size of an explicit (hugetlb) huge page on x86-64 and aarch64 with
/// 4 KiB base pages; explicit huge-page mappings are rounded up to it.
pub const HUGE_PAGE: usize = 2 << 20;

/// Whether and how to back a mapping with huge pages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HugePages {
    /// Base pages only.
    #[default]
    Off,
    /// Ask for transparent huge pages (`madvise(MADV_HUGEPAGE)`): a hint the
    /// kernel may ignore (for shared memory it honours it only when
    /// `/sys/kernel/mm/transparent_hugepage/shmem_enabled` allows).
    Transparent,
    /// Reserved huge pages (`MAP_HUGETLB`), anonymous mappings only; fails
    /// with [`ShmError::HugePages`] when none are reserved.
    Explicit,
    /// [`HugePages::Explicit`] when it can be had, else
    /// [`HugePages::Transparent`]; [`Mapping::huge_pages`] says which.
    ExplicitOrTransparent,
}

/// How to map: the options a latency-critical program wants on its hot
/// memory. The default prefaults and does nothing else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapOptions {
    /// Fault every page in at map time (`MAP_POPULATE`), so the hot path
    /// takes no page fault.
    pub prefault: bool,
    /// Lock the pages in RAM (`mlock`); past the `RLIMIT_MEMLOCK` limit this
    /// fails with [`ShmError::Memlock`], naming the limit.
    pub lock: bool,
    /// Huge pages; see [`HugePages`].
    pub huge_pages: HugePages,
}

impl Default for MapOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl MapOptions {
    /// Prefault, no `mlock`, no huge pages.
    pub const fn new() -> Self {
        Self {
            prefault: true,
            lock: false,
            huge_pages: HugePages::Off,
        }
    }

    /// The same options with prefaulting set to `yes`.
    pub const fn prefault(mut self, yes: bool) -> Self {
        self.prefault = yes;
        self
    }

    /// The same options with `mlock` set to `yes`.
    pub const fn lock(mut self, yes: bool) -> Self {
        self.lock = yes;
        self
    }

    /// The same options with `huge_pages`.
    pub const fn huge_pages(mut self, huge_pages: HugePages) -> Self {
        self.huge_pages = huge_pages;
        self
    }
}

/// The pages of one `mmap`, unmapped on drop. Shared by [`Mapping`] and
/// [`ReadOnlyMapping`].
#[derive(Debug)]
struct Pages {
    ptr: std::ptr::NonNull<u8>,
    len: usize,
}

impl Pages {
    /// `mmap(NULL, len, prot, flags, fd, 0)`, with an error naming `what`.
    fn map(
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

impl Drop for Pages {
    fn drop(&mut self) {
        // SAFETY: ptr/len describe a mapping this value owns; nothing
        // borrows it any more (regions borrow the owning mapping).
        let r = unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
        let _ = check(r, "munmap");
    }
}

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
            if crate::shm::identity(&u.name).ok() == Some((u.dev, u.ino)) {
                let _ = crate::shm::unlink(u.name.as_str());
            }
        }
        // `pages` unmaps itself.
    }
}

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

const PROT_RW: i32 = libc::PROT_READ | libc::PROT_WRITE;

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

/// The soft `RLIMIT_MEMLOCK`, in bytes (`u64::MAX` when unlimited or
/// unreadable).
pub fn memlock_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a valid out-pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) } != 0
        || lim.rlim_cur == libc::RLIM_INFINITY
    {
        return u64::MAX;
    }
    lim.rlim_cur
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
