//! Presence locks: a process's shared OFD lock in a named object, which
//! the kernel drops when the process dies, whatever its pid and pid
//! namespace; kept from forked children.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicI32, Ordering};

use super::{presence_range, Judge};
use crate::error::OsError;
use crate::lock::{LockKind, OfdLock};

/// This process's presence in a named object: a shared OFD lock on the
/// object's byte [`presence_range`]`(pid)`, taken through a file
/// description opened afresh for it (`/proc/self/fd/N`), so that it
/// belongs to no other handle. The kernel drops the lock when that
/// description closes: when the `Presence` drops, or when the process
/// dies, whatever its pid and pid namespace. A
/// [`Channel`](crate::channel::Channel) takes one when it creates or opens
/// an object and holds it while it lives; its holders — creator, roles,
/// users word — are recorded with the same pid.
///
/// A child forked (`fork`, which runs `pthread_atfork` handlers) while the
/// `Presence` lives does not keep it: a fork handler points the child's
/// copy of the descriptor at `/` instead, so the parent's presence ends
/// with the parent. (Up to [`FORK_SAFE_PRESENCES`] presences at once are
/// covered; beyond that, a child keeps the parent's presence until it
/// exits: a dead parent then reads as alive meanwhile, the safe
/// direction.) The child's copy of a channel then judges holders by the
/// process rule and the maps (see the [module docs](crate::liveness)).
#[derive(Debug)]
pub struct Presence {
    file: OwnedFd,
    judge: Judge,
    pid: u32,
}

impl Presence {
    /// This presence's own descriptor of the object.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }

    /// Opens the object behind `object` afresh and takes this process's
    /// presence lock in it. Fails when `/proc` cannot reopen it, or the
    /// lock cannot be taken (only if some process holds an exclusive lock
    /// there, which interlink never takes).
    pub fn take(object: BorrowedFd<'_>) -> Result<Self, OsError> {
        let judge = Judge::of(object)?;
        let file = reopen(object)?;
        let again = Judge::of(file.as_fd())?;
        if (again.dev, again.ino) != (judge.dev, judge.ino) {
            return Err(OsError::new("reopen", libc::ESTALE).on("/proc/self/fd"));
        }
        let pid = crate::process::current_pid();
        match OfdLock::try_lock(file.as_fd(), LockKind::Shared, presence_range(pid))? {
            // The lock lasts as long as the description: `file` closes it.
            Some(guard) => std::mem::forget(guard),
            None => {
                return Err(OsError::new("F_OFD_SETLK", libc::EAGAIN)
                    .on(format_args!("presence byte of pid {pid}")))
            }
        }
        forget_in_fork_children(file.as_raw_fd());
        Ok(Self {
            judge: Judge {
                fd: file.as_raw_fd(),
                ..judge
            },
            file,
            pid,
        })
    }

    /// The pid this presence stands for (the process that took it).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether the holder recorded as `pid` in this object lives (see
    /// the [module docs](crate::liveness): lock, process rule, maps).
    pub fn holder_alive(&self, pid: u32) -> bool {
        self.judge.alive(pid)
    }

    /// The judge of this object's holders, asking through this presence's
    /// own description (its own lock does not count as a conflict, so
    /// this process's pid is judged by the fallback: it lives).
    pub(crate) fn judge(&self) -> Judge {
        self.judge
    }
}

impl Drop for Presence {
    fn drop(&mut self) {
        // Before the descriptor closes (and its number can be reused).
        remember_in_fork_children(self.file.as_raw_fd());
    }
}

/// How many presences at once a forked child is kept from inheriting.
pub const FORK_SAFE_PRESENCES: usize = 128;

/// The descriptors of this process's presences (-1: a free slot), for the
/// fork handler.
static PRESENCE_FDS: [AtomicI32; FORK_SAFE_PRESENCES] =
    [const { AtomicI32::new(-1) }; FORK_SAFE_PRESENCES];

/// Registers presence descriptor `fd` for [`drop_presences_in_child`]
/// (installing that handler first); if every slot is taken, a child
/// inherits this one.
fn forget_in_fork_children(fd: RawFd) {
    /// Installs [`drop_presences_in_child`] once per process.
    extern "C" fn install() {
        // SAFETY: registers a child handler that only makes
        // async-signal-safe calls (open, dup3, close) and atomic operations.
        unsafe { libc::pthread_atfork(None, None, Some(drop_presences_in_child)) };
    }
    // glibc's `pthread_once`, not std's `Once`: a child forked by another
    // thread while this one runs `install` inherits a `Once` stuck in
    // "running" and waits on it for ever (seen: a test's forked holder hung
    // in `Presence::take`); `pthread_once` notices the fork (its control
    // word records the fork generation) and runs `install` again in the
    // child.
    static mut HANDLER: libc::pthread_once_t = libc::PTHREAD_ONCE_INIT;
    // SAFETY: HANDLER is only ever touched by pthread_once, through this
    // raw pointer; `install` is a plain extern "C" function.
    unsafe { libc::pthread_once(std::ptr::addr_of_mut!(HANDLER), install) };
    for slot in &PRESENCE_FDS {
        if slot
            .compare_exchange(-1, fd, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            return;
        }
    }
}

/// Unregisters presence descriptor `fd`.
fn remember_in_fork_children(fd: RawFd) {
    for slot in &PRESENCE_FDS {
        if slot
            .compare_exchange(fd, -1, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            return;
        }
    }
}

/// In a forked child: points every inherited presence descriptor at `/`
/// (`dup3` closes the child's reference to the parent's description, whose
/// lock then lives only as long as the parent; the descriptor number stays
/// valid for the `Presence` the child inherited, which closes it on drop).
extern "C" fn drop_presences_in_child() {
    // SAFETY: open with a NUL-terminated path; async-signal-safe.
    let root = unsafe { libc::open(c"/".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if root < 0 {
        return;
    }
    for slot in &PRESENCE_FDS {
        let fd = slot.swap(-1, Ordering::AcqRel);
        if fd >= 0 {
            // SAFETY: dup3 onto a descriptor this process owns (the
            // inherited presence's); it only replaces what it refers to.
            unsafe { libc::dup3(root, fd, libc::O_CLOEXEC) };
        }
    }
    // SAFETY: closing the descriptor opened above.
    unsafe { libc::close(root) };
}

impl AsFd for Presence {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// `open("/proc/self/fd/N")`: a new description of the same file,
/// read-only (a shared lock needs no more).
fn reopen(object: BorrowedFd<'_>) -> Result<OwnedFd, OsError> {
    let path = format!("/proc/self/fd/{}", object.as_raw_fd());
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(&path)
        .map(OwnedFd::from)
        .map_err(|e| OsError::new("open", e.raw_os_error().unwrap_or(0)).on(path))
}
