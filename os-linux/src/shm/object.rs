//! An open POSIX shared-memory object ([`Shm`]) and how to create one
//! ([`ShmOptions`]): `shm_open`, sizing with a free-space check, mapping.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::{unlink, FileKind, ShmError, ShmName};
use crate::error::{check, OsError};
use crate::mapping::{fd_len, fd_stat, MapOptions, Mapping, ReadOnlyMapping, UnlinkOnDrop};

/// How to create a shm object. The default is exclusive, mode `0600`, and
/// reserving the space up front.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShmOptions {
    /// Fail with `EEXIST` if the name exists (`O_EXCL`). When false, an
    /// existing object is opened and resized to the length asked for.
    pub exclusive: bool,
    /// Permission bits (before the umask).
    pub mode: u32,
    /// Allocate the pages now (`posix_fallocate`), so that a full
    /// `/dev/shm` is an error here rather than a `SIGBUS` on first touch.
    pub reserve: bool,
}

impl Default for ShmOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl ShmOptions {
    /// Exclusive, mode `0600`, reserved.
    pub const fn new() -> Self {
        Self {
            exclusive: true,
            mode: 0o600,
            reserve: true,
        }
    }

    /// The same options with `exclusive`.
    pub const fn exclusive(mut self, yes: bool) -> Self {
        self.exclusive = yes;
        self
    }

    /// The same options with `mode`.
    pub const fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    /// The same options with `reserve`.
    pub const fn reserve(mut self, yes: bool) -> Self {
        self.reserve = yes;
        self
    }
}

/// An open POSIX shared-memory object: the descriptor and its name. The
/// descriptor closes on drop; the object lives on until unlinked (see
/// [`Shm::unlink`], [`Mapping::unlink_on_drop_of`]).
#[derive(Debug)]
pub struct Shm {
    pub(super) fd: OwnedFd,
    pub(super) name: ShmName,
    /// The length this handle sized the object to, if it did: mapping it
    /// then checks that nobody resized it since.
    pub(super) sized: Option<usize>,
}

impl Shm {
    /// Creates `name` with `len` bytes, exclusively, mode `0600`, reserved.
    pub fn create(name: &str, len: usize) -> Result<Self, ShmError> {
        Self::create_with(name, len, &ShmOptions::new())
    }

    /// Creates `name` with `len` bytes and `options`. If sizing fails, an
    /// object this call created is unlinked again.
    pub fn create_with(name: &str, len: usize, options: &ShmOptions) -> Result<Self, ShmError> {
        let name = ShmName::new(name)?;
        check_len(len)?;
        let mut flags = libc::O_RDWR | libc::O_CREAT | libc::O_CLOEXEC;
        if options.exclusive {
            flags |= libc::O_EXCL;
        }
        let mut shm = Self::open_raw(name, flags, options.mode)?;
        let sized = shm.set_size(len, options.reserve);
        if sized.is_err() && options.exclusive {
            let _ = shm.unlink();
        }
        shm.sized = Some(len);
        sized.map(|()| shm)
    }

    /// Opens an existing object for reading and writing.
    pub fn open(name: &str) -> Result<Self, ShmError> {
        Self::open_raw(ShmName::new(name)?, libc::O_RDWR | libc::O_CLOEXEC, 0)
    }

    /// Opens an existing object for reading only.
    pub fn open_read_only(name: &str) -> Result<Self, ShmError> {
        Self::open_raw(ShmName::new(name)?, libc::O_RDONLY | libc::O_CLOEXEC, 0)
    }

    /// Every open of a name goes through here: non-blocking (a FIFO at
    /// the name cannot hang the open), not following a symlink, and
    /// refusing anything but a regular file ([`ShmError::NotRegular`]).
    pub(super) fn open_raw(name: ShmName, flags: i32, mode: u32) -> Result<Self, ShmError> {
        let flags = flags | libc::O_NONBLOCK | libc::O_NOFOLLOW;
        // SAFETY: the name is a valid C string; shm_open has no other
        // preconditions.
        let fd = unsafe { libc::shm_open(name.c_str().as_ptr(), flags, mode as libc::mode_t) };
        let fd = match check(fd, "shm_open") {
            Ok(fd) => fd,
            // The open's errno for a non-regular file varies (ELOOP for a
            // symlink, EINVAL for a directory opened for writing, ENXIO
            // for a socket, EACCES for a device on a nodev mount): say
            // what is there when it is not a regular file.
            Err(e) => {
                return Err(match not_regular_at(&name) {
                    Some(found) => found,
                    None => e.on(&name).into(),
                })
            }
        };
        // SAFETY: shm_open returned a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let st = fd_stat(fd.as_fd())?;
        if let Some(found) = FileKind::of_mode(st.st_mode) {
            return Err(ShmError::NotRegular {
                path: name.path().display().to_string(),
                found,
            });
        }
        Ok(Self {
            fd,
            name,
            sized: None,
        })
    }

    /// Sets the length to `len` (`ftruncate`), after checking the free
    /// space, and reserves the pages if asked.
    pub(super) fn set_size(&self, len: usize, reserve: bool) -> Result<(), ShmError> {
        let current = self.size()?;
        let grow = (len as u64).saturating_sub(current as u64);
        let available = free_space(self.fd.as_fd())?;
        if grow > available {
            return Err(ShmError::NoSpace {
                name: self.name.to_string(),
                needed: len as u64,
                available,
            });
        }
        // check_len: len fits off_t.
        let flen = len as libc::off_t;
        // SAFETY: ftruncate on a descriptor we own.
        let r = unsafe { libc::ftruncate(self.fd.as_raw_fd(), flen) };
        check(r, "ftruncate").map_err(|e| e.on(format_args!("{} to {len} bytes", self.name)))?;
        if reserve {
            // SAFETY: as above. posix_fallocate returns the errno itself.
            let r = unsafe { libc::posix_fallocate(self.fd.as_raw_fd(), 0, flen) };
            if r != 0 {
                return Err(OsError::new("posix_fallocate", r)
                    .on(format_args!("{} ({len} bytes)", self.name))
                    .into());
            }
        }
        Ok(())
    }

    /// The object's current length in bytes (0 right after another
    /// process's `shm_open` and before its `ftruncate`).
    pub fn size(&self) -> Result<usize, ShmError> {
        fd_len(self.fd.as_fd())
    }

    /// Maps the whole object, writable. An empty object is
    /// [`ShmError::Size`], and so is one this handle created whose size
    /// changed since (checked with `fstat` before mapping).
    pub fn map(&self, options: &MapOptions) -> Result<Mapping, ShmError> {
        let len = self.nonempty_len()?;
        Mapping::from_fd(self.fd.as_fd(), len, options).map_err(|e| self.name_error(e))
    }

    /// Maps the whole object read-only (works on a descriptor from
    /// [`Shm::open_read_only`]).
    pub fn map_read_only(&self) -> Result<ReadOnlyMapping, ShmError> {
        let len = self.nonempty_len()?;
        ReadOnlyMapping::from_fd(self.fd.as_fd(), len).map_err(|e| self.name_error(e))
    }

    /// The length to map: the current one, which must not be 0 and, for
    /// an object this handle sized, must still be the length it was sized
    /// to (a peer that grew it would make the mapping allocate and
    /// prefault whatever it chose; checked before mapping).
    fn nonempty_len(&self) -> Result<usize, ShmError> {
        match self.size()? {
            0 => Err(ShmError::Size {
                len: 0,
                problem: "the object is empty (its creator has not sized it yet?)",
            }),
            len if self.sized.is_some_and(|sized| sized != len) => Err(ShmError::Size {
                len: len as u64,
                problem: "not the size it was created with: resized by another process",
            }),
            len => Ok(len),
        }
    }

    /// Replaces an mmap error's `fd N` subject with the object's name.
    fn name_error(&self, e: ShmError) -> ShmError {
        match e {
            ShmError::Os(os) => ShmError::Os(OsError {
                subject: Some(self.name.to_string()),
                ..os
            }),
            other => other,
        }
    }

    /// The object's name.
    pub fn name(&self) -> &ShmName {
        &self.name
    }

    /// The object's (device, inode): two descriptors with the same identity
    /// refer to the same object, even if the name was reused.
    pub fn identity(&self) -> Result<(u64, u64), ShmError> {
        let st = fd_stat(self.fd.as_fd())?;
        Ok((st.st_dev, st.st_ino))
    }

    /// Removes the name (`shm_unlink`). Processes that have the object open
    /// or mapped keep it until they close and unmap it.
    pub fn unlink(&self) -> Result<(), ShmError> {
        unlink(self.name.as_str())
    }
}

impl AsFd for Shm {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Mapping {
    /// Makes this mapping unlink `shm`'s name when dropped, unless another
    /// object has taken the name by then.
    pub fn unlink_on_drop_of(&mut self, shm: &Shm) -> Result<(), ShmError> {
        let (dev, ino) = shm.identity()?;
        self.set_unlink(UnlinkOnDrop {
            name: shm.name.clone(),
            dev,
            ino,
        });
        Ok(())
    }
}

/// [`ShmError::NotRegular`] if something other than a regular file is at
/// `name` now (`lstat`, not following a symlink); `None` otherwise.
fn not_regular_at(name: &ShmName) -> Option<ShmError> {
    let path = name.path();
    let c_path = CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: an all-zero stat64 is a valid out-buffer.
    let mut st: libc::stat64 = unsafe { std::mem::zeroed() };
    // SAFETY: a valid C string and a valid out-pointer.
    if unsafe { libc::lstat64(c_path.as_ptr(), &mut st) } != 0 {
        return None;
    }
    FileKind::of_mode(st.st_mode).map(|found| ShmError::NotRegular {
        path: path.display().to_string(),
        found,
    })
}

impl Shm {
    /// Opens an existing object to judge it or, `writable`, to claim (a
    /// claim is a write lock) and remove it: non-blocking, and only if it
    /// is a regular file (`Ok(None)` otherwise: a FIFO, a directory, a
    /// device).
    pub(crate) fn open_regular(name: &ShmName, writable: bool) -> Result<Option<Self>, ShmError> {
        let access = if writable {
            libc::O_RDWR
        } else {
            libc::O_RDONLY
        };
        let flags = access | libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        // `open_raw` refuses whatever is not a regular file.
        match Self::open_raw(name.clone(), flags, 0) {
            Ok(shm) => Ok(Some(shm)),
            Err(ShmError::NotRegular { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The object's status (`fstat`).
    pub(crate) fn stat(&self) -> Result<libc::stat64, ShmError> {
        Ok(fd_stat(self.fd.as_fd())?)
    }
}

/// Rejects sizes no mapping can have, before any syscall.
pub(crate) fn check_len(len: usize) -> Result<(), ShmError> {
    if len == 0 {
        return Err(ShmError::Size {
            len: 0,
            problem: "a mapping needs at least one byte",
        });
    }
    if len > isize::MAX as usize || libc::off_t::try_from(len).is_err() {
        return Err(ShmError::Size {
            len: len as u64,
            problem: "larger than a mapping can be",
        });
    }
    Ok(())
}

/// Free bytes on the filesystem holding `fd` (`fstatvfs`).
fn free_space(fd: BorrowedFd<'_>) -> Result<u64, ShmError> {
    // SAFETY: an all-zero statvfs is a valid out-buffer.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: fd is open; st is a valid out-pointer.
    let r = unsafe { libc::fstatvfs(fd.as_raw_fd(), &mut st) };
    check(r, "fstatvfs")?;
    Ok((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_checked_before_any_syscall() {
        assert!(matches!(check_len(0), Err(ShmError::Size { len: 0, .. })));
        assert!(matches!(check_len(usize::MAX), Err(ShmError::Size { .. })));
        assert_eq!(check_len(4096), Ok(()));
    }
}
