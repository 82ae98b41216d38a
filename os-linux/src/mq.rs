//! POSIX message queues (`mq_open`): messages with priorities, delivered
//! highest priority first (oldest first within one priority), kept by the
//! kernel until received or the queue is unlinked.
//!
//! Kernel limits bound every queue: at most `/proc/sys/fs/mqueue/msg_max`
//! messages (10 by default) of at most `/proc/sys/fs/mqueue/msgsize_max`
//! bytes (8192), and `queues_max` queues in all; only `CAP_SYS_RESOURCE`
//! goes beyond them. Asking for more is [`MqError::Limit`], naming the file.
//! The calls work whether or not `/dev/mqueue` is mounted.

use std::ffi::CString;
use std::fmt;
use std::time::Duration;

use crate::error::{check, check_retry, OsError};
use crate::posix::{object_name, realtime_deadline};

/// Priorities run from 0 (lowest) to `PRIORITY_MAX` (Linux's
/// `MQ_PRIO_MAX - 1`).
pub const PRIORITY_MAX: u32 = 32767;

/// A kernel limit on message queues, each a file in `/proc/sys/fs/mqueue/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MqLimit {
    /// Messages per queue (`msg_max`).
    MsgMax,
    /// Bytes per message (`msgsize_max`).
    MsgsizeMax,
    /// Queues in the system (`queues_max`).
    QueuesMax,
}

impl MqLimit {
    /// The file that holds the limit.
    pub fn path(self) -> &'static str {
        match self {
            MqLimit::MsgMax => "/proc/sys/fs/mqueue/msg_max",
            MqLimit::MsgsizeMax => "/proc/sys/fs/mqueue/msgsize_max",
            MqLimit::QueuesMax => "/proc/sys/fs/mqueue/queues_max",
        }
    }

    /// The limit's current value, read from [`MqLimit::path`].
    pub fn current(self) -> Option<u64> {
        std::fs::read_to_string(self.path())
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

/// What can go wrong with a message queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MqError {
    /// A system call failed.
    Os(OsError),
    /// A request exceeds a kernel limit (`requested` against `max`).
    Limit {
        /// Which limit.
        limit: MqLimit,
        /// What was asked for (0 for the number of queues).
        requested: u64,
        /// The limit's value.
        max: u64,
    },
    /// The queue is full and the call was not to wait.
    Full,
    /// The queue is empty and the call was not to wait.
    Empty,
    /// The timeout passed before the queue had room or a message.
    TimedOut,
    /// A message longer than the queue's message size.
    TooLong {
        /// The message's length.
        len: usize,
        /// The queue's message size.
        message_size: usize,
    },
    /// A receive buffer shorter than the queue's message size (the kernel
    /// refuses those even for short messages).
    BufferTooSmall {
        /// The buffer's length.
        len: usize,
        /// The queue's message size.
        message_size: usize,
    },
    /// A priority above [`PRIORITY_MAX`].
    BadPriority(u32),
}

impl fmt::Display for MqError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MqError::Os(e) => e.fmt(f),
            MqError::Limit {
                limit: MqLimit::QueuesMax,
                max,
                ..
            } => {
                write!(
                    f,
                    "mq_open: the system already has {max} queues ({})",
                    MqLimit::QueuesMax.path()
                )
            }
            MqError::Limit {
                limit,
                requested,
                max,
            } => {
                write!(
                    f,
                    "mq_open: {requested} exceeds the kernel limit {max} ({})",
                    limit.path()
                )
            }
            MqError::Full => f.write_str("message queue full"),
            MqError::Empty => f.write_str("message queue empty"),
            MqError::TimedOut => f.write_str("message queue operation timed out"),
            MqError::TooLong { len, message_size } => {
                write!(
                    f,
                    "a {len}-byte message exceeds the queue's message size {message_size}"
                )
            }
            MqError::BufferTooSmall { len, message_size } => {
                write!(
                    f,
                    "a {len}-byte buffer is smaller than the queue's message size {message_size}"
                )
            }
            MqError::BadPriority(p) => write!(f, "priority {p} is above {PRIORITY_MAX}"),
        }
    }
}

impl std::error::Error for MqError {}

impl From<OsError> for MqError {
    fn from(e: OsError) -> Self {
        MqError::Os(e)
    }
}

/// The size of a new queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueAttrs {
    /// How many messages it holds (1 to `msg_max`).
    pub max_messages: usize,
    /// The largest message in bytes (1 to `msgsize_max`).
    pub message_size: usize,
}

/// A queue's attributes and state (`mq_getattr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueState {
    /// How many messages it holds at most.
    pub max_messages: usize,
    /// The largest message in bytes.
    pub message_size: usize,
    /// Messages waiting now.
    pub current_messages: usize,
    /// Whether this descriptor's plain `send`/`recv` fail instead of waiting.
    pub nonblocking: bool,
}

/// Which directions a descriptor may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// `recv` only.
    Read,
    /// `send` only.
    Write,
    /// Both.
    ReadWrite,
}

impl Access {
    fn flags(self) -> libc::c_int {
        match self {
            Access::Read => libc::O_RDONLY,
            Access::Write => libc::O_WRONLY,
            Access::ReadWrite => libc::O_RDWR,
        }
    }
}

/// An open message queue descriptor, closed on drop. A queue made by
/// [`MessageQueue::create`] also removes its name on drop unless
/// [`MessageQueue::keep`] is called.
#[derive(Debug)]
pub struct MessageQueue {
    mqd: libc::mqd_t,
    name: CString,
    message_size: usize,
    unlink_on_drop: bool,
}

/// Turns the `EINVAL`/`ENOSPC` of a creating `mq_open` into the limit it hit.
fn limit_error(e: OsError, attrs: &QueueAttrs) -> MqError {
    let over = |limit: MqLimit, requested: usize| {
        let max = limit.current()?;
        (requested as u64 > max).then_some(MqError::Limit {
            limit,
            requested: requested as u64,
            max,
        })
    };
    let found = match e.errno {
        libc::EINVAL => over(MqLimit::MsgMax, attrs.max_messages)
            .or_else(|| over(MqLimit::MsgsizeMax, attrs.message_size)),
        libc::ENOSPC => MqLimit::QueuesMax.current().map(|max| MqError::Limit {
            limit: MqLimit::QueuesMax,
            requested: 0,
            max,
        }),
        _ => None,
    };
    found.unwrap_or(MqError::Os(e))
}

impl MessageQueue {
    fn open_with(
        name: &str,
        flags: libc::c_int,
        mode: u32,
        attrs: Option<&QueueAttrs>,
        unlink_on_drop: bool,
    ) -> Result<Self, MqError> {
        let c = object_name("mq_open", name)?;
        // SAFETY: mq_attr is plain data; all zeroes is a valid value.
        let mut raw: libc::mq_attr = unsafe { std::mem::zeroed() };
        if let Some(a) = attrs {
            for (what, v) in [
                ("max_messages", a.max_messages),
                ("message_size", a.message_size),
            ] {
                if v == 0 {
                    return Err(OsError::new("mq_open", libc::EINVAL)
                        .on(format_args!("{name} ({what} 0)"))
                        .into());
                }
            }
            raw.mq_maxmsg = a.max_messages.try_into().unwrap_or(libc::c_long::MAX);
            raw.mq_msgsize = a.message_size.try_into().unwrap_or(libc::c_long::MAX);
        }
        let attr_ptr: *const libc::mq_attr = if attrs.is_some() {
            &raw
        } else {
            std::ptr::null()
        };
        // SAFETY: c is a NUL-terminated name; mode and the attribute pointer
        // (valid or null) are the variadic arguments read with O_CREAT.
        let mqd = unsafe {
            libc::mq_open(
                c.as_ptr(),
                flags | libc::O_CLOEXEC,
                mode as libc::mode_t,
                attr_ptr,
            )
        };
        if mqd == -1 {
            let e = OsError::last("mq_open").on(name);
            return Err(match attrs {
                Some(a) if flags & libc::O_CREAT != 0 => limit_error(e, a),
                _ => MqError::Os(e),
            });
        }
        let mut queue = Self {
            mqd,
            name: c,
            message_size: 0,
            unlink_on_drop,
        };
        queue.message_size = queue.state()?.message_size;
        Ok(queue)
    }

    /// Creates a new queue `name` (`/something`) of the given size and
    /// permission bits; `EEXIST` if the name is taken. The name is removed
    /// when this value is dropped.
    pub fn create(
        name: &str,
        attrs: QueueAttrs,
        mode: u32,
        access: Access,
    ) -> Result<Self, MqError> {
        Self::open_with(
            name,
            access.flags() | libc::O_CREAT | libc::O_EXCL,
            mode,
            Some(&attrs),
            true,
        )
    }

    /// Opens the existing queue `name`; `ENOENT` if there is none.
    pub fn open(name: &str, access: Access) -> Result<Self, MqError> {
        Self::open_with(name, access.flags(), 0, None, false)
    }

    /// Opens `name`, creating it with `attrs` and `mode` if it does not
    /// exist (an existing queue keeps its own size). Never removes the name.
    pub fn open_or_create(
        name: &str,
        attrs: QueueAttrs,
        mode: u32,
        access: Access,
    ) -> Result<Self, MqError> {
        Self::open_with(
            name,
            access.flags() | libc::O_CREAT,
            mode,
            Some(&attrs),
            false,
        )
    }

    /// Removes the name `name`; the queue lives on until its last
    /// descriptor closes.
    pub fn unlink(name: &str) -> Result<(), MqError> {
        let c = object_name("mq_unlink", name)?;
        // SAFETY: c is a NUL-terminated name.
        check(unsafe { libc::mq_unlink(c.as_ptr()) }, "mq_unlink").map_err(|e| e.on(name))?;
        Ok(())
    }

    /// Leaves the name in place when this value is dropped.
    pub fn keep(mut self) -> Self {
        self.unlink_on_drop = false;
        self
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        self.name.to_str().unwrap_or_default()
    }

    /// The largest message this queue takes, and the smallest buffer
    /// [`MessageQueue::recv`] accepts.
    pub fn message_size(&self) -> usize {
        self.message_size
    }

    /// The queue's attributes and current message count.
    pub fn state(&self) -> Result<QueueState, MqError> {
        // SAFETY: mq_attr is plain data; all zeroes is a valid value.
        let mut a: libc::mq_attr = unsafe { std::mem::zeroed() };
        // SAFETY: a is a valid out-pointer; mqd is our open descriptor.
        check(unsafe { libc::mq_getattr(self.mqd, &mut a) }, "mq_getattr")
            .map_err(|e| e.on(self.name()))?;
        Ok(QueueState {
            max_messages: a.mq_maxmsg as usize,
            message_size: a.mq_msgsize as usize,
            current_messages: a.mq_curmsgs as usize,
            nonblocking: a.mq_flags & libc::O_NONBLOCK as libc::c_long != 0,
        })
    }

    /// Makes plain [`send`](Self::send) and [`recv`](Self::recv) on this
    /// descriptor fail with [`MqError::Full`]/[`MqError::Empty`] instead
    /// of waiting (or wait again, with `false`).
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<(), MqError> {
        // SAFETY: mq_attr is plain data; only mq_flags is read by mq_setattr.
        let mut a: libc::mq_attr = unsafe { std::mem::zeroed() };
        a.mq_flags = if nonblocking {
            libc::O_NONBLOCK as libc::c_long
        } else {
            0
        };
        // SAFETY: a is valid; the old-attributes pointer may be null.
        let r = unsafe { libc::mq_setattr(self.mqd, &a, std::ptr::null_mut()) };
        check(r, "mq_setattr")?;
        Ok(())
    }

    fn check_send(&self, message: &[u8], priority: u32) -> Result<(), MqError> {
        if priority > PRIORITY_MAX {
            return Err(MqError::BadPriority(priority));
        }
        if message.len() > self.message_size {
            return Err(MqError::TooLong {
                len: message.len(),
                message_size: self.message_size,
            });
        }
        Ok(())
    }

    fn send_until(
        &self,
        message: &[u8],
        priority: u32,
        deadline: Option<libc::timespec>,
        busy: MqError,
    ) -> Result<(), MqError> {
        self.check_send(message, priority)?;
        let r = check_retry("mq_send", || {
            let ptr = message.as_ptr().cast();
            // SAFETY: message is valid for reads of its length; the deadline,
            // when given, is a valid timespec.
            unsafe {
                match &deadline {
                    Some(d) => libc::mq_timedsend(self.mqd, ptr, message.len(), priority, d),
                    None => libc::mq_send(self.mqd, ptr, message.len(), priority),
                }
            }
        });
        match r {
            Ok(_) => Ok(()),
            Err(e) if e.is(libc::EAGAIN) => Err(MqError::Full),
            Err(e) if e.is(libc::ETIMEDOUT) => Err(busy),
            Err(e) => Err(MqError::Os(e.on(self.name()))),
        }
    }

    /// Sends `message` with `priority` (0 to [`PRIORITY_MAX`], higher is
    /// delivered first), waiting for room unless the descriptor is
    /// non-blocking ([`MqError::Full`]).
    pub fn send(&self, message: &[u8], priority: u32) -> Result<(), MqError> {
        self.send_until(message, priority, None, MqError::TimedOut)
    }

    /// Sends without waiting: [`MqError::Full`] if there is no room.
    pub fn try_send(&self, message: &[u8], priority: u32) -> Result<(), MqError> {
        // A deadline already past makes mq_timedsend fail at once if full.
        let past = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        self.send_until(message, priority, Some(past), MqError::Full)
    }

    /// Sends, waiting at most `timeout` for room ([`MqError::TimedOut`]).
    /// The deadline is on `CLOCK_REALTIME`, as `mq_timedsend` requires.
    pub fn send_timeout(
        &self,
        message: &[u8],
        priority: u32,
        timeout: Duration,
    ) -> Result<(), MqError> {
        self.send_until(
            message,
            priority,
            Some(realtime_deadline(timeout)),
            MqError::TimedOut,
        )
    }

    fn recv_until(
        &self,
        buf: &mut [u8],
        deadline: Option<libc::timespec>,
        busy: MqError,
    ) -> Result<(usize, u32), MqError> {
        if buf.len() < self.message_size {
            return Err(MqError::BufferTooSmall {
                len: buf.len(),
                message_size: self.message_size,
            });
        }
        let mut priority = 0;
        let r = check_retry("mq_receive", || {
            let ptr = buf.as_mut_ptr().cast();
            // SAFETY: buf is valid for writes of its length; priority is a
            // valid out-pointer; the deadline, when given, is valid.
            unsafe {
                match &deadline {
                    Some(d) => libc::mq_timedreceive(self.mqd, ptr, buf.len(), &mut priority, d),
                    None => libc::mq_receive(self.mqd, ptr, buf.len(), &mut priority),
                }
            }
        });
        match r {
            Ok(n) => Ok((n as usize, priority)),
            Err(e) if e.is(libc::EAGAIN) => Err(MqError::Empty),
            Err(e) if e.is(libc::ETIMEDOUT) => Err(busy),
            Err(e) => Err(MqError::Os(e.on(self.name()))),
        }
    }

    /// Receives the oldest message of the highest priority into `buf` (at
    /// least [`message_size`](Self::message_size) bytes) and returns its
    /// length and priority; waits unless the descriptor is non-blocking
    /// ([`MqError::Empty`]).
    pub fn recv(&self, buf: &mut [u8]) -> Result<(usize, u32), MqError> {
        self.recv_until(buf, None, MqError::TimedOut)
    }

    /// Receives without waiting: [`MqError::Empty`] if there is none.
    pub fn try_recv(&self, buf: &mut [u8]) -> Result<(usize, u32), MqError> {
        let past = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        self.recv_until(buf, Some(past), MqError::Empty)
    }

    /// Receives, waiting at most `timeout` ([`MqError::TimedOut`]).
    pub fn recv_timeout(&self, buf: &mut [u8], timeout: Duration) -> Result<(usize, u32), MqError> {
        self.recv_until(buf, Some(realtime_deadline(timeout)), MqError::TimedOut)
    }
}

impl Drop for MessageQueue {
    fn drop(&mut self) {
        // SAFETY: mqd is our descriptor, closed exactly once.
        unsafe { libc::mq_close(self.mqd) };
        if self.unlink_on_drop {
            // SAFETY: name is NUL-terminated.
            unsafe { libc::mq_unlink(self.name.as_ptr()) };
        }
    }
}
