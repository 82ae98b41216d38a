//! Shared memory: memory that several processes see as the same bytes.
//!
//! This file holds POSIX shared-memory objects by name ([`Shm`]:
//! `shm_open`, `ftruncate`, `shm_unlink`), name validation ([`ShmName`])
//! and the error every mapping step returns ([`ShmError`]). Mappings
//! themselves are in [`crate::mapping`] (re-exported here), sealed
//! anonymous files in [`crate::memfd`].
//!
//! ```no_run
//! use interlink_linux::shm::{MapOptions, Shm};
//!
//! // Exclusive create, mode 0600, sized and reserved on /dev/shm.
//! let shm = Shm::create("/demo", 1 << 20)?;
//! let mut map = shm.map(&MapOptions::new())?;
//! map.unlink_on_drop_of(&shm)?; // the name goes when the mapping does
//! # Ok::<(), interlink_linux::shm::ShmError>(())
//! ```
//!
//! # Hostile names
//!
//! Whatever sits at a name may be a FIFO, a directory, a symlink, a
//! socket or a device, or an object that changes size while it is looked
//! at. Every open of a name here is non-blocking and does not follow a
//! symlink, and anything but a regular file is refused at once with
//! [`ShmError::NotRegular`] naming the path and what was found there.
//!
//! # Truncation
//!
//! Any process of the same user that can open an object can resize it
//! (`ftruncate`). Shrinking it under a mapping makes every access to a
//! page past the new end raise `SIGBUS` in every process that has it
//! mapped; that is the kernel's contract for shared files and no check
//! made before mapping can prevent it afterwards. What this crate does:
//! probing ([`crate::inspect::probe`], hence `ls`, `gc` and `create`'s
//! stale check) maps nothing and reads with `pread`; opening a channel
//! validates the header from a `pread` copy and the size with `fstat`
//! before it maps exactly the structure's length, and touches nothing
//! mapped before returning (except an MPMC channel's users table, which
//! it writes). Everything after that touches the mapping: creating (which
//! initialises the object it just sized), claiming a role, sending,
//! receiving, releasing a role on drop. A peer that truncates a named
//! object kills with `SIGBUS` every process that then touches a page past
//! the new end, whatever the crate checks. To rule that out, use a sealed memfd
//! ([`crate::memfd`], [`crate::channel::Channel::create_sealed`]), whose
//! size no process can change.

use std::ffi::CString;
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use crate::error::{check, OsError};
use crate::mapping::{fd_len, fd_stat, UnlinkOnDrop};

pub use crate::mapping::{memlock_limit, HugePages, MapOptions, Mapping, ReadOnlyMapping};

/// The longest name component the kernel accepts (`NAME_MAX`); a shm name
/// is a slash and at most this many bytes.
pub const NAME_MAX: usize = 255;

/// Where Linux keeps POSIX shared-memory objects.
pub const SHM_DIR: &str = "/dev/shm";

/// Why a shared-memory or mapping step failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShmError {
    /// The name is not a valid POSIX shm name; checked before any syscall.
    Name {
        /// The name given.
        name: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The size cannot be mapped (zero, or beyond what the address space or
    /// `off_t` can express); checked before any syscall.
    Size {
        /// The size asked for, in bytes.
        len: u64,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The filesystem holding the object has less free space than the
    /// object needs; refusing now beats a `SIGBUS` on first touch.
    NoSpace {
        /// The object's name or path.
        name: String,
        /// Bytes needed.
        needed: u64,
        /// Bytes free.
        available: u64,
    },
    /// `mlock` failed: `len` bytes exceed the memlock limit (or the kernel
    /// refused for another reason, see `errno`).
    Memlock {
        /// Bytes to lock.
        len: usize,
        /// The soft `RLIMIT_MEMLOCK` in bytes (`u64::MAX`: unlimited).
        limit: u64,
        /// The errno from `mlock`.
        errno: i32,
    },
    /// Explicit huge pages (`MAP_HUGETLB`) could not be had: none are
    /// reserved (`ENOMEM`) or the mapping is file-backed (`EINVAL`). Use
    /// [`HugePages::ExplicitOrTransparent`] to fall back instead.
    HugePages {
        /// Bytes asked for.
        len: usize,
        /// The errno.
        errno: i32,
    },
    /// Something other than a regular file sits at the name (a FIFO, a
    /// directory, a symlink, a socket, a device): refused at once, before
    /// anything could block on it or follow it. Every path that opens a
    /// name opens it non-blocking and without following a symlink, and
    /// checks the file type with `fstat` before using it.
    NotRegular {
        /// The path at the name (`/dev/shm/NAME`).
        path: String,
        /// What was found there.
        found: FileKind,
    },
    /// A system call failed; see [`OsError`] for what and on what.
    Os(OsError),
}

/// The type of a file that is not a regular file (`st_mode & S_IFMT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A named pipe (`S_IFIFO`).
    Fifo,
    /// A directory (`S_IFDIR`).
    Directory,
    /// A symbolic link (`S_IFLNK`).
    Symlink,
    /// A Unix socket (`S_IFSOCK`).
    Socket,
    /// A character device (`S_IFCHR`).
    CharDevice,
    /// A block device (`S_IFBLK`).
    BlockDevice,
    /// Any other `S_IFMT` value (the raw bits).
    Other(u32),
}

impl FileKind {
    /// The kind for a `st_mode`, or `None` for a regular file.
    pub fn of_mode(mode: u32) -> Option<Self> {
        Some(match mode & libc::S_IFMT {
            libc::S_IFREG => return None,
            libc::S_IFIFO => Self::Fifo,
            libc::S_IFDIR => Self::Directory,
            libc::S_IFLNK => Self::Symlink,
            libc::S_IFSOCK => Self::Socket,
            libc::S_IFCHR => Self::CharDevice,
            libc::S_IFBLK => Self::BlockDevice,
            other => Self::Other(other),
        })
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fifo => f.write_str("a FIFO"),
            Self::Directory => f.write_str("a directory"),
            Self::Symlink => f.write_str("a symbolic link"),
            Self::Socket => f.write_str("a socket"),
            Self::CharDevice => f.write_str("a character device"),
            Self::BlockDevice => f.write_str("a block device"),
            Self::Other(bits) => write!(f, "a file of type {bits:#o}"),
        }
    }
}

impl ShmError {
    /// The errno behind the error, if one syscall caused it.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Self::Os(e) => Some(e.errno),
            Self::Memlock { errno, .. } | Self::HugePages { errno, .. } => Some(*errno),
            _ => None,
        }
    }

    /// Whether the error is the errno `errno` (`ENOENT`, `EEXIST`, ...).
    pub fn is(&self, errno: i32) -> bool {
        self.errno() == Some(errno)
    }
}

impl From<OsError> for ShmError {
    fn from(e: OsError) -> Self {
        Self::Os(e)
    }
}

impl fmt::Display for ShmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name { name, problem } => write!(f, "invalid shm name {name:?}: {problem}"),
            Self::Size { len, problem } => write!(f, "invalid size {len} bytes: {problem}"),
            Self::NoSpace {
                name,
                needed,
                available,
            } => write!(
                f,
                "{name}: needs {needed} bytes, the filesystem has {available} free"
            ),
            Self::Memlock { len, limit, errno } => {
                let text = std::io::Error::from_raw_os_error(*errno);
                if *limit == u64::MAX {
                    write!(f, "mlock {len} bytes: {text}")
                } else {
                    write!(
                        f,
                        "mlock {len} bytes: {text} (RLIMIT_MEMLOCK is {limit} bytes)"
                    )
                }
            }
            Self::HugePages { len, errno } => write!(
                f,
                "explicit huge pages for {len} bytes: {} (are any reserved in \
                 /proc/sys/vm/nr_hugepages? HugePages::ExplicitOrTransparent falls back)",
                std::io::Error::from_raw_os_error(*errno)
            ),
            Self::NotRegular { path, found } => write!(
                f,
                "{path} is {found}, not a regular file: refused (shared-memory objects are regular files)"
            ),
            Self::Os(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ShmError {}

impl From<ShmError> for std::io::Error {
    fn from(e: ShmError) -> Self {
        let kind = match e.errno() {
            Some(errno) => std::io::Error::from_raw_os_error(errno).kind(),
            None => std::io::ErrorKind::InvalidInput,
        };
        std::io::Error::new(kind, e)
    }
}

/// A valid POSIX shared-memory name: a leading slash, then 1 to
/// [`NAME_MAX`] bytes with no slash and no NUL (and not `.` or `..`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ShmName(CString);

impl ShmName {
    /// Checks `name` without any syscall.
    pub fn new(name: &str) -> Result<Self, ShmError> {
        let bad = |problem| ShmError::Name {
            name: name.to_owned(),
            problem,
        };
        let Some(rest) = name.strip_prefix('/') else {
            return Err(bad("must start with '/'"));
        };
        if rest.is_empty() {
            return Err(bad("is empty after the '/'"));
        }
        if rest.len() > NAME_MAX {
            return Err(bad("is longer than NAME_MAX (255) bytes after the '/'"));
        }
        if rest.contains('/') {
            return Err(bad("may contain no '/' after the first"));
        }
        if rest == "." || rest == ".." {
            return Err(bad("may not be '.' or '..'"));
        }
        CString::new(name)
            .map(Self)
            .map_err(|_| bad("contains a NUL byte"))
    }

    /// The name, with its leading slash.
    pub fn as_str(&self) -> &str {
        // The bytes came from a &str.
        self.0.to_str().unwrap_or_default()
    }

    /// The file that holds the object: `/dev/shm/NAME`.
    pub fn path(&self) -> std::path::PathBuf {
        std::path::Path::new(SHM_DIR).join(&self.as_str()[1..])
    }

    fn c_str(&self) -> &std::ffi::CStr {
        &self.0
    }
}

impl fmt::Display for ShmName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
    fd: OwnedFd,
    name: ShmName,
    /// The length this handle sized the object to, if it did: mapping it
    /// then checks that nobody resized it since.
    sized: Option<usize>,
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
    fn open_raw(name: ShmName, flags: i32, mode: u32) -> Result<Self, ShmError> {
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
    fn set_size(&self, len: usize, reserve: bool) -> Result<(), ShmError> {
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

/// Removes the shm object `name` (`shm_unlink`).
pub fn unlink(name: &str) -> Result<(), ShmError> {
    let name = ShmName::new(name)?;
    // SAFETY: a valid C string.
    check(
        unsafe { libc::shm_unlink(name.c_str().as_ptr()) },
        "shm_unlink",
    )
    .map(drop)
    .map_err(|e| e.on(&name).into())
}

/// A fresh, unique shm name (`/PREFIX-PID-N`) whose object, if any, is
/// unlinked when the guard drops, also while a panic unwinds: tests and
/// tools use it so that nothing is left under `/dev/shm`.
#[derive(Debug)]
pub struct TempName(ShmName);

impl TempName {
    /// A name no other live process uses: `prefix`, this pid, a counter.
    /// `prefix` must be a valid name component (no slash).
    pub fn new(prefix: &str) -> Result<Self, ShmError> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        ShmName::new(&format!("/{prefix}-{}-{n}", std::process::id())).map(Self)
    }

    /// The name, with its leading slash.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The validated name.
    pub fn name(&self) -> &ShmName {
        &self.0
    }
}

impl Drop for TempName {
    fn drop(&mut self) {
        let _ = unlink(self.0.as_str());
    }
}

impl std::ops::Deref for TempName {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

/// [`ShmError::NotRegular`] if something other than a regular file is at
/// `name` now (`lstat`, not following a symlink); `None` otherwise.
fn not_regular_at(name: &ShmName) -> Option<ShmError> {
    let path = name.path();
    let c_path = CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: an all-zero stat is a valid out-buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a valid C string and a valid out-pointer.
    if unsafe { libc::lstat(c_path.as_ptr(), &mut st) } != 0 {
        return None;
    }
    FileKind::of_mode(st.st_mode).map(|found| ShmError::NotRegular {
        path: path.display().to_string(),
        found,
    })
}

/// The (device, inode) the name refers to now.
pub(crate) fn identity(name: &ShmName) -> Result<(u64, u64), ShmError> {
    Shm::open_raw(name.clone(), libc::O_RDONLY | libc::O_CLOEXEC, 0)?.identity()
}

/// What the name of an object still being built by a creator contains:
/// `/STEM.interlink-new.PID.N` (see [`crate::channel`], "Create and
/// open"). Channel names may not contain it.
pub const BUILDING_MARKER: &str = ".interlink-new.";

/// The byte of an object that interlink's creators, replacers and `gc`
/// lock exclusively (an OFD lock, `F_OFD_SETLK`) while they build, judge
/// or remove it: far past any object's end, so it overlaps no lock a
/// holder takes on its own bytes. The kernel drops the lock when its
/// holder dies, whatever its pid.
pub const CLAIM_BYTE: u64 = 1 << 62;

/// The range [`CLAIM_BYTE`] stands for.
const CLAIM: crate::lock::ByteRange = crate::lock::ByteRange {
    start: CLAIM_BYTE,
    len: 1,
};

/// Whether `name` is the private name of an object a creator is building,
/// and if so the pid of the process building it.
pub fn building_pid(name: &str) -> Option<u32> {
    let at = name.rfind(BUILDING_MARKER)?;
    let (pid, n) = name[at + BUILDING_MARKER.len()..].split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(pid) || !digits(n) {
        return None;
    }
    pid.parse().ok()
}

/// `/STEM.interlink-new.PID.N` for `target`: its name, cut (at a character
/// boundary) so that the whole fits [`NAME_MAX`].
fn building_name(target: &ShmName, pid: u32, n: u32) -> Result<ShmName, ShmError> {
    let suffix = format!("{BUILDING_MARKER}{pid}.{n}");
    let mut stem = &target.as_str()[1..];
    let room = NAME_MAX - suffix.len();
    if stem.len() > room {
        let mut cut = room;
        while !stem.is_char_boundary(cut) {
            cut -= 1;
        }
        stem = &stem[..cut];
    }
    ShmName::new(&format!("/{stem}{suffix}"))
}

/// The (device, inode) of whatever `name` denotes now, by `lstat` of its
/// path: no open, so a FIFO or a device at the name cannot block us;
/// `None` if nothing is there (or it cannot be looked at).
pub(crate) fn name_identity(name: &ShmName) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(name.path())
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// Takes the claim lock ([`CLAIM_BYTE`]) on `fd` if nobody holds it;
/// `Ok(None)` if another open file description does.
pub(crate) fn try_claim(fd: BorrowedFd<'_>) -> Result<Option<crate::lock::OfdLock<'_>>, OsError> {
    crate::lock::OfdLock::try_lock(fd, crate::lock::LockKind::Exclusive, CLAIM)
}

/// Releases the claim lock this open file description holds on `fd`
/// (`F_UNLCK`; nothing if it holds none). Needed where the guard was
/// forgotten: a mapping keeps the open file description, and with it the
/// lock, alive after the descriptor closes.
pub(crate) fn release_claim(fd: BorrowedFd<'_>) {
    if let Ok(Some(lock)) = try_claim(fd) {
        drop(lock);
    }
}

/// Whether another open file description holds the claim lock on `fd`.
pub(crate) fn is_claimed(fd: BorrowedFd<'_>) -> Result<bool, OsError> {
    crate::lock::OfdLock::conflict(fd, crate::lock::LockKind::Exclusive, CLAIM).map(|c| c.is_some())
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
    pub(crate) fn stat(&self) -> Result<libc::stat, ShmError> {
        Ok(fd_stat(self.fd.as_fd())?)
    }
}

/// An object being created under a private name in the same directory
/// (`/STEM.interlink-new.PID.N`), claimed ([`CLAIM_BYTE`]) by its creator
/// from the moment it exists, until [`Building::publish`] moves it to its
/// real name with `renameat2(RENAME_NOREPLACE)` — atomically, and only if
/// no object has that name. A creator that dies at any instruction leaves
/// either nothing at the real name or a whole, published object; what it
/// was building stays under the private name, recognisable by
/// [`building_pid`] and unclaimed once its creator is dead, for `gc` (and
/// the next `create`) to remove. Dropped unpublished, it unlinks its
/// private name.
#[derive(Debug)]
pub(crate) struct Building {
    shm: Shm,
    target: ShmName,
    private: PrivateName,
}

/// Unlinks a [`Building`]'s private name on drop, unless published (or
/// the name no longer denotes the object).
#[derive(Debug)]
struct PrivateName {
    name: ShmName,
    identity: (u64, u64),
    armed: bool,
}

impl Drop for PrivateName {
    fn drop(&mut self) {
        if self.armed && name_identity(&self.name) == Some(self.identity) {
            let _ = unlink(self.name.as_str());
        }
    }
}

impl Building {
    /// Creates the private object for `target` with `len` bytes (mode and
    /// reservation from `options`; always exclusive), claimed.
    pub(crate) fn create(
        target: &ShmName,
        len: usize,
        options: &ShmOptions,
    ) -> Result<Self, ShmError> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        const TRIES: u32 = 16;
        check_len(len)?;
        let pid = crate::process::current_pid();
        let flags = libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC;
        let mut tries = 0;
        let building = loop {
            tries += 1;
            let name = building_name(target, pid, NEXT.fetch_add(1, Ordering::Relaxed))?;
            let shm = match Shm::open_raw(name.clone(), flags, options.mode) {
                // A name left by a process with our pid (before us, or in
                // another pid namespace): take the next.
                Err(e) if e.is(libc::EEXIST) && tries < TRIES => continue,
                other => other?,
            };
            let identity = shm.identity()?;
            let building = Self {
                shm,
                target: target.clone(),
                private: PrivateName {
                    name,
                    identity,
                    armed: true,
                },
            };
            // Claimed until the creator releases it (`release_claim`) or
            // dies: the guard is forgotten. (Closing the descriptor would
            // not release it while the object is mapped: the mapping keeps
            // the open file description alive.)
            let claimed = try_claim(building.shm.fd.as_fd())?;
            let got = claimed.is_some();
            std::mem::forget(claimed);
            // A gc that judged it abandoned in the instant before we claimed
            // it (our pid looked dead from its pid namespace) may have
            // unlinked it: then start over.
            if got && name_identity(&building.private.name) == Some(identity) {
                break building;
            }
            if tries >= TRIES {
                return Err(OsError::new("claim", libc::EBUSY)
                    .on(&building.private.name)
                    .into());
            }
        };
        building.shm.set_size(len, options.reserve)?;
        Ok(building)
    }

    /// The object being built (under its private name until published).
    pub(crate) fn shm(&self) -> &Shm {
        &self.shm
    }

    /// Moves the object to its real name, atomically, if no object has
    /// that name (an error with `EEXIST` if one has: the object stays
    /// private, to try again). Once published, [`Building::into_shm`]
    /// gives it under its real name, still claimed: call
    /// [`release_claim`] when done with it.
    pub(crate) fn publish(&mut self) -> Result<(), ShmError> {
        if self.private.armed {
            self.rename()?;
            self.private.armed = false;
            self.shm.name = self.target.clone();
        }
        Ok(())
    }

    /// The object: under its real name once published; unpublished, its
    /// private name is unlinked now.
    pub(crate) fn into_shm(self) -> Shm {
        self.shm
    }

    fn rename(&self) -> Result<(), ShmError> {
        let c = |n: &ShmName| {
            CString::new(n.path().into_os_string().into_encoded_bytes())
                .map_err(|_| OsError::new("renameat2", libc::EINVAL).on(n))
        };
        let (from, to) = (c(&self.private.name)?, c(&self.target)?);
        // SAFETY: two valid C strings; renameat2 has no other preconditions.
        let r = unsafe {
            libc::syscall(
                libc::SYS_renameat2,
                libc::AT_FDCWD,
                from.as_ptr(),
                libc::AT_FDCWD,
                to.as_ptr(),
                libc::RENAME_NOREPLACE,
            )
        };
        let renamed = match check(r, "renameat2(RENAME_NOREPLACE)") {
            Ok(_) => Ok(()),
            // A filesystem or kernel without RENAME_NOREPLACE: link(2)
            // never replaces either; then drop the private name.
            Err(e) if e.is(libc::EINVAL) || e.is(libc::ENOSYS) => {
                // SAFETY: as above.
                check(unsafe { libc::link(from.as_ptr(), to.as_ptr()) }, "link").map(|_| {
                    let _ = unlink(self.private.name.as_str());
                })
            }
            Err(e) => Err(e),
        };
        renamed.map(drop).map_err(|e| {
            e.on(format_args!("{} to {}", self.private.name, self.target))
                .into()
        })
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
pub(crate) fn free_space(fd: BorrowedFd<'_>) -> Result<u64, ShmError> {
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
    fn names_are_checked_before_any_syscall() {
        for (bad, problem) in [
            ("noslash", "must start"),
            ("/", "empty"),
            ("/a/b", "no '/'"),
            ("/..", "'.'"),
            ("/a\0b", "NUL"),
        ] {
            let e = ShmName::new(bad).unwrap_err();
            assert!(e.to_string().contains(problem), "{bad:?}: {e}");
        }
        let long = format!("/{}", "x".repeat(NAME_MAX + 1));
        assert!(matches!(ShmName::new(&long), Err(ShmError::Name { .. })));
        let longest = format!("/{}", "x".repeat(NAME_MAX));
        assert_eq!(ShmName::new(&longest).unwrap().as_str(), longest);
        assert_eq!(
            ShmName::new("/ok").unwrap().path(),
            std::path::Path::new("/dev/shm/ok")
        );
    }

    #[test]
    fn sizes_are_checked_before_any_syscall() {
        assert!(matches!(check_len(0), Err(ShmError::Size { len: 0, .. })));
        assert!(matches!(check_len(usize::MAX), Err(ShmError::Size { .. })));
        assert_eq!(check_len(4096), Ok(()));
    }
}
