//! Why a shared-memory or mapping step failed: [`ShmError`], and what was
//! found at a name that is not a regular file: [`FileKind`].

use std::fmt;

use super::OsError;

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
    /// [`HugePages::ExplicitOrTransparent`](crate::mapping::HugePages::ExplicitOrTransparent)
    /// to fall back instead.
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
