//! Why a System V call failed: [`SysvError`], and the kernel limits it
//! names: [`SysvLimit`].

use std::fmt;

use crate::error::OsError;

/// A kernel limit on System V objects, each a file in `/proc/sys/kernel/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SysvLimit {
    /// Bytes per message (`msgmax`, 8192 by default).
    MsgMax,
    /// Bytes a new queue holds in all (`msgmnb`, 16384 by default; a
    /// queue's own value can be lowered, or raised by a privileged
    /// process, with `IPC_SET`).
    MsgMnb,
    /// Queues in the system (`msgmni`).
    MsgMni,
    /// Bytes per segment (`shmmax`).
    ShmMax,
    /// Pages of all segments together (`shmall`).
    ShmAll,
    /// Segments in the system (`shmmni`).
    ShmMni,
}

impl SysvLimit {
    /// The file that holds the limit.
    pub fn path(self) -> &'static str {
        match self {
            Self::MsgMax => "/proc/sys/kernel/msgmax",
            Self::MsgMnb => "/proc/sys/kernel/msgmnb",
            Self::MsgMni => "/proc/sys/kernel/msgmni",
            Self::ShmMax => "/proc/sys/kernel/shmmax",
            Self::ShmAll => "/proc/sys/kernel/shmall",
            Self::ShmMni => "/proc/sys/kernel/shmmni",
        }
    }

    /// The limit's current value, read from [`SysvLimit::path`] (`None`
    /// if the file cannot be read or parsed).
    pub fn current(self) -> Option<u64> {
        std::fs::read_to_string(self.path())
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

/// Why a System V call failed. System-call failures name the call, the
/// key or id it was applied to and the errno ([`SysvError::Os`]); the
/// cases a caller handles are variants of their own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SysvError {
    /// A system call failed: the call, `key 0x...` or `id N`, the errno.
    Os(OsError),
    /// A request exceeds a kernel limit (`requested` against `max`, read
    /// from [`SysvLimit::path`] when the kernel refused).
    Limit {
        /// Which limit.
        limit: SysvLimit,
        /// What was asked for (bytes; 0 for a count of objects).
        requested: u64,
        /// The limit's value.
        max: u64,
    },
    /// A message larger than the queue's capacity in bytes (`msg_qbytes`):
    /// the kernel would wait forever for room, so it is refused at once.
    ExceedsQueue {
        /// The queue's id.
        id: i32,
        /// The message's length.
        len: usize,
        /// The queue's capacity in bytes.
        queue_bytes: u64,
    },
    /// The next matching message is longer than the receive buffer
    /// (`E2BIG`); it stays in the queue.
    BufferTooSmall {
        /// The queue's id.
        id: i32,
        /// The buffer's length.
        len: usize,
    },
    /// A message type below 1 (`send`), or a selector with a type below 1.
    BadType(i64),
    /// A segment size of 0 (checked before any call).
    Size {
        /// The size asked for.
        len: usize,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A byte range outside the segment (`read`/`write`).
    OutOfRange {
        /// The segment's id.
        id: i32,
        /// The first byte asked for.
        offset: usize,
        /// How many bytes.
        len: usize,
        /// The segment's size.
        size: usize,
    },
    /// A write through a segment attached read-only (`SHM_RDONLY`).
    ReadOnly {
        /// The segment's id.
        id: i32,
    },
    /// The queue is empty (of matching messages) and the call was not to wait.
    Empty,
    /// The queue is full and the call was not to wait.
    Full,
    /// The timeout passed before a matching message or room came.
    TimedOut,
    /// The object was removed (`IPC_RMID`) while the call waited on it,
    /// or before (`EIDRM`).
    Removed {
        /// The object's id.
        id: i32,
    },
}

impl SysvError {
    /// The errno behind the error, if one call caused it.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Self::Os(e) => Some(e.errno),
            _ => None,
        }
    }

    /// Whether the error is the errno `errno` (`ENOENT`, `EEXIST`, ...).
    pub fn is(&self, errno: i32) -> bool {
        self.errno() == Some(errno)
    }
}

impl fmt::Display for SysvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Os(e) => e.fmt(f),
            Self::Limit {
                limit,
                requested: 0,
                max,
            } => write!(
                f,
                "the system already has the most it allows: {max} ({})",
                limit.path()
            ),
            Self::Limit {
                limit,
                requested,
                max,
            } => {
                let unit = if *limit == SysvLimit::ShmAll {
                    "pages"
                } else {
                    "bytes"
                };
                write!(
                    f,
                    "{requested} {unit} exceed the kernel limit {max} ({})",
                    limit.path()
                )
            }
            Self::ExceedsQueue {
                id,
                len,
                queue_bytes,
            } => write!(
                f,
                "a {len}-byte message can never fit queue id {id}, which holds {queue_bytes} \
                 bytes in all (new queues get {})",
                SysvLimit::MsgMnb.path()
            ),
            Self::BufferTooSmall { id, len } => write!(
                f,
                "msgrcv id {id}: the next matching message is longer than the {len}-byte \
                 buffer (it stays queued; {} bounds every message)",
                SysvLimit::MsgMax.path()
            ),
            Self::BadType(t) => write!(f, "message type {t}: types start at 1"),
            Self::Size { len, problem } => write!(f, "segment size {len} bytes: {problem}"),
            Self::OutOfRange {
                id,
                offset,
                len,
                size,
            } => write!(
                f,
                "segment id {id}: {len} bytes at offset {offset} exceed its {size} bytes"
            ),
            Self::ReadOnly { id } => write!(f, "segment id {id} is attached read-only"),
            Self::Empty => f.write_str("no matching message queued"),
            Self::Full => f.write_str("message queue full"),
            Self::TimedOut => f.write_str("System V operation timed out"),
            Self::Removed { id } => write!(f, "System V object id {id} was removed"),
        }
    }
}

impl std::error::Error for SysvError {}

impl From<OsError> for SysvError {
    fn from(e: OsError) -> Self {
        Self::Os(e)
    }
}

impl From<SysvError> for std::io::Error {
    fn from(e: SysvError) -> Self {
        let kind = match (&e, e.errno()) {
            (_, Some(errno)) => std::io::Error::from_raw_os_error(errno).kind(),
            (SysvError::TimedOut, _) => std::io::ErrorKind::TimedOut,
            (SysvError::Empty | SysvError::Full, _) => std::io::ErrorKind::WouldBlock,
            _ => std::io::ErrorKind::InvalidInput,
        };
        std::io::Error::new(kind, e)
    }
}
