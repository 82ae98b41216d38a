//! The integer error codes of the C API (`enum interlink_error` in
//! `include/interlink.h`), their names, and the conversions from the Rust
//! errors.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CString};
use std::fmt::Display;

use interlink_core::mutex::LockError;
use interlink_core::{RecvError, RoleError, SendError};
use interlink_linux::channel::ChannelError;
use interlink_linux::shm::ShmError;

/// Success.
pub const OK: c_int = 0;
/// The mutex is now held by the caller, but its previous owner died
/// holding it (the data may be half-updated): repair it, then call
/// `interlink_mutex_consistent`.
pub const OWNER_DIED: c_int = 1;
/// A null pointer, a name that is not a valid object name, an element
/// size or alignment the C API does not support, a capacity that cannot
/// make a ring, or an operation the handle's role does not allow.
pub const INVALID_ARGUMENT: c_int = -1;
/// `try_send`: no room now.
pub const FULL: c_int = -2;
/// `try_recv`: nothing to receive now.
pub const EMPTY: c_int = -3;
/// The timeout passed (a blocking send, receive or lock, or an open
/// whose object did not appear in time).
pub const TIMED_OUT: c_int = -4;
/// Byte channel: the message can never fit in the ring.
pub const TOO_LARGE: c_int = -5;
/// Byte channel: the caller's buffer is shorter than the next message
/// (which stays in the ring; its length is stored in `*len`).
pub const BUFFER_TOO_SMALL: c_int = -6;
/// MPMC channel: a peer claimed a slot and has not finished with it.
pub const STALLED: c_int = -7;
/// The peer holding the other role died (a receiver first drains what
/// was sent).
pub const PEER_DIED: c_int = -8;
/// The shared memory holds values no honest peer writes.
pub const CORRUPT: c_int = -9;
/// Creating: the name is taken by an object in use.
pub const EXISTS: c_int = -10;
/// Opening: the object is not a structure this call can use (another
/// kind, element size or alignment, layout version, or size).
pub const INCOMPATIBLE: c_int = -11;
/// The role (sender or receiver) is held by another live process.
pub const ROLE_TAKEN: c_int = -12;
/// A system call failed (see `interlink_last_error`).
pub const OS: c_int = -13;
/// Mutex: a previous owner died and the data was never marked consistent.
pub const NOT_RECOVERABLE: c_int = -14;
/// `interlink_mutex_try_lock`: someone else holds the lock.
pub const WOULD_BLOCK: c_int = -15;
/// Mutex: the calling thread (or this handle) already holds the lock.
pub const DEADLOCK: c_int = -16;
/// Mutex: a peer kept rewriting the lock word; the lock was not taken.
pub const CONTENDED: c_int = -17;
/// Mutex: unlock or consistent on a handle that does not hold the lock.
pub const NOT_LOCKED: c_int = -18;
/// An internal error (a Rust panic caught at the boundary, or an error
/// this version does not name): a bug in interlink.
pub const INTERNAL: c_int = -19;

/// Every code with its name in the header, for `interlink_strerror` and
/// the test that compares the header with this table.
pub const CODES: &[(&str, c_int)] = &[
    ("INTERLINK_OK", OK),
    ("INTERLINK_OWNER_DIED", OWNER_DIED),
    ("INTERLINK_ERR_INVALID_ARGUMENT", INVALID_ARGUMENT),
    ("INTERLINK_ERR_FULL", FULL),
    ("INTERLINK_ERR_EMPTY", EMPTY),
    ("INTERLINK_ERR_TIMED_OUT", TIMED_OUT),
    ("INTERLINK_ERR_TOO_LARGE", TOO_LARGE),
    ("INTERLINK_ERR_BUFFER_TOO_SMALL", BUFFER_TOO_SMALL),
    ("INTERLINK_ERR_STALLED", STALLED),
    ("INTERLINK_ERR_PEER_DIED", PEER_DIED),
    ("INTERLINK_ERR_CORRUPT", CORRUPT),
    ("INTERLINK_ERR_EXISTS", EXISTS),
    ("INTERLINK_ERR_INCOMPATIBLE", INCOMPATIBLE),
    ("INTERLINK_ERR_ROLE_TAKEN", ROLE_TAKEN),
    ("INTERLINK_ERR_OS", OS),
    ("INTERLINK_ERR_NOT_RECOVERABLE", NOT_RECOVERABLE),
    ("INTERLINK_ERR_WOULD_BLOCK", WOULD_BLOCK),
    ("INTERLINK_ERR_DEADLOCK", DEADLOCK),
    ("INTERLINK_ERR_CONTENDED", CONTENDED),
    ("INTERLINK_ERR_NOT_LOCKED", NOT_LOCKED),
    ("INTERLINK_ERR_INTERNAL", INTERNAL),
];

/// The static description of `code`.
pub(crate) fn describe(code: c_int) -> &'static std::ffi::CStr {
    match code {
        OK => c"success",
        OWNER_DIED => c"lock taken, but its previous owner died holding it: repair the data, then mark it consistent",
        INVALID_ARGUMENT => c"invalid argument (null pointer, bad name, unsupported element size or alignment, bad capacity, or wrong role)",
        FULL => c"no room in the channel now",
        EMPTY => c"nothing to receive now",
        TIMED_OUT => c"the timeout passed",
        TOO_LARGE => c"message larger than the byte channel's largest payload",
        BUFFER_TOO_SMALL => c"buffer shorter than the next message",
        STALLED => c"a peer claimed a slot and has not finished with it",
        PEER_DIED => c"the peer holding the other role died",
        CORRUPT => c"the shared memory is corrupt",
        EXISTS => c"an object in use already has this name",
        INCOMPATIBLE => c"the object is not a structure of this kind, element layout or version",
        ROLE_TAKEN => c"another live process holds this role",
        OS => c"a system call failed",
        NOT_RECOVERABLE => c"mutex not recoverable: a dead owner's data was never marked consistent",
        WOULD_BLOCK => c"the lock is held by someone else",
        DEADLOCK => c"this thread or handle already holds the lock",
        CONTENDED => c"the lock word kept changing under this call (a misbehaving peer)",
        NOT_LOCKED => c"this handle does not hold the lock",
        INTERNAL => c"internal error in interlink (a bug)",
        _ => c"unknown interlink error code",
    }
}

thread_local! {
    /// The message of this thread's last failed create or open.
    static LAST: RefCell<CString> = RefCell::new(CString::default());
}

/// Records `message` as this thread's last error and returns `code`.
/// Called on the failure paths of create and open only (it allocates).
pub(crate) fn fail(code: c_int, message: impl Display) -> c_int {
    let text = message.to_string().replace('\0', " ");
    let text = CString::new(text).unwrap_or_default();
    LAST.with(|last| *last.borrow_mut() = text);
    code
}

/// A pointer to this thread's last error message (valid until the next
/// failing create or open on this thread).
pub(crate) fn last() -> *const c_char {
    LAST.with(|last| last.borrow().as_ptr())
}

/// The code of a send error.
pub(crate) fn send_code(e: SendError) -> c_int {
    match e {
        SendError::Full => FULL,
        SendError::TimedOut => TIMED_OUT,
        SendError::TooLarge { .. } => TOO_LARGE,
        SendError::Stalled { .. } => STALLED,
        SendError::PeerDied { .. } => PEER_DIED,
        SendError::Corrupt => CORRUPT,
        _ => INTERNAL,
    }
}

/// The code of a receive error.
pub(crate) fn recv_code(e: RecvError) -> c_int {
    match e {
        RecvError::Empty => EMPTY,
        RecvError::TimedOut => TIMED_OUT,
        RecvError::BufferTooSmall { .. } => BUFFER_TOO_SMALL,
        RecvError::Stalled { .. } => STALLED,
        RecvError::PeerDied { .. } => PEER_DIED,
        RecvError::Corrupt => CORRUPT,
        _ => INTERNAL,
    }
}

/// The code of a shared-memory error.
pub(crate) fn shm_code(e: &ShmError) -> c_int {
    match e {
        ShmError::Name { .. } => INVALID_ARGUMENT,
        e if e.is(libc::EEXIST) => EXISTS,
        _ => OS,
    }
}

/// The code of a channel error, recording its message.
pub(crate) fn channel_fail(e: ChannelError) -> c_int {
    let code = match &e {
        ChannelError::Shm(s) => shm_code(s),
        ChannelError::Init(_) => INVALID_ARGUMENT,
        ChannelError::Attach { .. }
        | ChannelError::Truncated { .. }
        | ChannelError::WrongSize { .. } => INCOMPATIBLE,
        ChannelError::Exists { .. } => EXISTS,
        ChannelError::Timeout { .. } => TIMED_OUT,
        ChannelError::Role(RoleError::Taken { .. }) => ROLE_TAKEN,
        ChannelError::Role(_) => CORRUPT,
        ChannelError::Seals { .. } => OS,
    };
    fail(code, e)
}

/// The code of a lock error (the guard of `OwnerDied` is handled by the
/// caller).
pub(crate) fn lock_code<G>(e: &LockError<G>) -> c_int {
    match e {
        LockError::OwnerDied(_) => OWNER_DIED,
        LockError::NotRecoverable => NOT_RECOVERABLE,
        LockError::TimedOut => TIMED_OUT,
        LockError::WouldBlock => WOULD_BLOCK,
        LockError::Deadlock => DEADLOCK,
        LockError::Contended => CONTENDED,
    }
}
