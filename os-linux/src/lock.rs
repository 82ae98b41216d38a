//! Advisory file locks between processes: open-file-description (OFD)
//! byte-range locks (`fcntl` `F_OFD_SETLK`/`F_OFD_SETLKW`) and whole-file
//! `flock` locks.
//!
//! Both belong to the *open file description* — one `open` call — not to
//! the process: two `open`s of a file conflict even within one process,
//! descriptors duplicated or inherited over `fork` share the lock, and it
//! is released when the last of them closes. (Classic POSIX `F_SETLK`
//! locks belong to the process and vanish when *any* of its descriptors
//! for the file closes; these do not.) OFD and `flock` locks do not see
//! each other. Every lock here is released when its guard drops.

use std::os::fd::{AsRawFd, BorrowedFd};

use crate::error::{check_retry, OsError};

/// Shared (read) or exclusive (write) lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockKind {
    /// Many holders at once; excludes exclusive holders.
    Shared,
    /// One holder; excludes all others.
    Exclusive,
}

/// A byte range: `len` bytes from `start`; `len == 0` reaches to the end
/// of the file, however far it grows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    /// The first byte.
    pub start: u64,
    /// How many bytes; 0 for "to the end".
    pub len: u64,
}

impl ByteRange {
    /// The whole file, including bytes appended later.
    pub const WHOLE: ByteRange = ByteRange { start: 0, len: 0 };
}

/// The `fcntl` lock description with 64-bit offsets: `struct flock` in a
/// 64-bit process, `struct flock64` in a 32-bit one (whose `struct flock`
/// cannot reach the presence and claim bytes at 2⁶²).
#[cfg(target_pointer_width = "64")]
type LockDesc = libc::flock;
/// See the 64-bit definition.
#[cfg(target_pointer_width = "32")]
type LockDesc = libc::flock64;

#[cfg(target_pointer_width = "32")]
extern "C" {
    /// glibc's `fcntl` with 64-bit offsets (since 2.28; the `libc` crate
    /// does not declare it): it passes a `struct flock64` to the kernel.
    fn fcntl64(fd: libc::c_int, cmd: libc::c_int, ...) -> libc::c_int;
}

/// `fcntl(fd, cmd, fl)` with the 64-bit lock description.
///
/// # Safety
///
/// `fl` must be valid for the kernel to read and write.
unsafe fn fcntl_lock(fd: libc::c_int, cmd: libc::c_int, fl: *mut LockDesc) -> libc::c_int {
    // SAFETY: forwarded from the caller; each function takes this struct.
    #[cfg(target_pointer_width = "64")]
    unsafe {
        libc::fcntl(fd, cmd, fl)
    }
    // SAFETY: as above.
    #[cfg(target_pointer_width = "32")]
    unsafe {
        fcntl64(fd, cmd, fl)
    }
}

fn flock_struct(kind: libc::c_short, range: ByteRange) -> Result<LockDesc, OsError> {
    let start = i64::try_from(range.start);
    let len = i64::try_from(range.len);
    let (Ok(start), Ok(len)) = (start, len) else {
        return Err(
            OsError::new("fcntl lock", libc::EINVAL).on(format_args!("{range:?} (past off_t)"))
        );
    };
    // SAFETY: flock is plain data; all zeroes is a valid value. l_pid must
    // be 0 for OFD locks.
    let mut fl: LockDesc = unsafe { std::mem::zeroed() };
    fl.l_type = kind;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = start;
    fl.l_len = len;
    Ok(fl)
}

fn lock_type(kind: LockKind) -> libc::c_short {
    match kind {
        LockKind::Shared => libc::F_RDLCK as libc::c_short,
        LockKind::Exclusive => libc::F_WRLCK as libc::c_short,
    }
}

fn ofd_fcntl(
    fd: BorrowedFd<'_>,
    cmd: libc::c_int,
    fl: &mut LockDesc,
    op: &'static str,
) -> Result<(), OsError> {
    check_retry(op, || {
        // SAFETY: fl is a valid flock for the kernel to read (and, for GETLK, fill).
        unsafe { fcntl_lock(fd.as_raw_fd(), cmd, fl as *mut LockDesc) }
    })
    .map(drop)
}

/// A held OFD lock on a byte range; unlocks that range on drop.
#[derive(Debug)]
#[must_use = "the lock is released when the guard drops"]
pub struct OfdLock<'f> {
    fd: BorrowedFd<'f>,
    range: ByteRange,
}

impl<'f> OfdLock<'f> {
    /// Takes `kind` on `range` of the file, waiting while another open file
    /// description holds a conflicting lock (`F_OFD_SETLKW`). A deadlock the
    /// kernel detects is `EDEADLK`.
    pub fn lock(fd: BorrowedFd<'f>, kind: LockKind, range: ByteRange) -> Result<Self, OsError> {
        let mut fl = flock_struct(lock_type(kind), range)?;
        ofd_fcntl(fd, libc::F_OFD_SETLKW, &mut fl, "F_OFD_SETLKW")?;
        Ok(Self { fd, range })
    }

    /// Takes the lock if no conflicting lock is held (`F_OFD_SETLK`);
    /// `Ok(None)` if one is.
    pub fn try_lock(
        fd: BorrowedFd<'f>,
        kind: LockKind,
        range: ByteRange,
    ) -> Result<Option<Self>, OsError> {
        let mut fl = flock_struct(lock_type(kind), range)?;
        match ofd_fcntl(fd, libc::F_OFD_SETLK, &mut fl, "F_OFD_SETLK") {
            Ok(()) => Ok(Some(Self { fd, range })),
            Err(e) if e.is(libc::EAGAIN) || e.is(libc::EACCES) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether `kind` on `range` would conflict with a lock held through
    /// another open file description (`F_OFD_GETLK`), and if so which kind.
    pub fn conflict(
        fd: BorrowedFd<'_>,
        kind: LockKind,
        range: ByteRange,
    ) -> Result<Option<LockKind>, OsError> {
        let mut fl = flock_struct(lock_type(kind), range)?;
        ofd_fcntl(fd, libc::F_OFD_GETLK, &mut fl, "F_OFD_GETLK")?;
        Ok(match fl.l_type as libc::c_int {
            libc::F_RDLCK => Some(LockKind::Shared),
            libc::F_WRLCK => Some(LockKind::Exclusive),
            _ => None,
        })
    }
}

impl Drop for OfdLock<'_> {
    fn drop(&mut self) {
        if let Ok(mut fl) = flock_struct(libc::F_UNLCK as libc::c_short, self.range) {
            let _ = ofd_fcntl(self.fd, libc::F_OFD_SETLK, &mut fl, "F_OFD_SETLK unlock");
        }
    }
}

/// A held `flock` lock on the whole file; unlocks on drop.
#[derive(Debug)]
#[must_use = "the lock is released when the guard drops"]
pub struct Flock<'f> {
    fd: BorrowedFd<'f>,
}

fn flock_op(kind: LockKind) -> libc::c_int {
    match kind {
        LockKind::Shared => libc::LOCK_SH,
        LockKind::Exclusive => libc::LOCK_EX,
    }
}

impl<'f> Flock<'f> {
    /// Takes `kind` on the file, waiting while a conflicting lock is held.
    pub fn lock(fd: BorrowedFd<'f>, kind: LockKind) -> Result<Self, OsError> {
        check_retry("flock", || {
            // SAFETY: flock has no memory-safety preconditions.
            unsafe { libc::flock(fd.as_raw_fd(), flock_op(kind)) }
        })?;
        Ok(Self { fd })
    }

    /// Takes the lock if it is free; `Ok(None)` if a conflicting one is held.
    pub fn try_lock(fd: BorrowedFd<'f>, kind: LockKind) -> Result<Option<Self>, OsError> {
        let r = check_retry("flock", || {
            // SAFETY: flock has no memory-safety preconditions.
            unsafe { libc::flock(fd.as_raw_fd(), flock_op(kind) | libc::LOCK_NB) }
        });
        match r {
            Ok(_) => Ok(Some(Self { fd })),
            Err(e) if e.is(libc::EWOULDBLOCK) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl Drop for Flock<'_> {
    fn drop(&mut self) {
        // SAFETY: flock has no memory-safety preconditions.
        unsafe { libc::flock(self.fd.as_raw_fd(), libc::LOCK_UN) };
    }
}
