//! Liveness: whether the process or thread that a shared structure records
//! as a holder — of an SPSC or byte ring's role, of an MPMC ring's users
//! word, of an object's creator record, of a robust mutex — still lives.
//!
//! This module is the one place that decides (DESIGN rule 8). Every path
//! asks it: a channel's role take-over ([`crate::channel::Channel::sender`]
//! and [`receiver`](crate::channel::Channel::receiver)), a blocked send or
//! receive's peer check, the MPMC users table, the inspector's staleness
//! judgement (and so `gc` and `create`'s replacement of a stale name),
//! [`crate::process::is_alive`] and [`crate::futex::Robust`]. There are
//! two layers: presence locks for holders recorded in a named object, and
//! the process rule below them (and alone everywhere else).
//!
//! # The process rule
//!
//! [`process_alive`] and [`thread_alive`] read the task's state with one
//! parser of `/proc/ID/stat`. A task is **dead** when that file is gone
//! (reaped, or never existed) or says it has exited: state `Z` (a zombie,
//! killed or exited but not yet reaped by its parent) or `X`. For a
//! *process* (a pid, the thread-group leader), a leader in state `Z` whose
//! group still counts other threads is a process whose main thread ended
//! while the others run: it is alive until they end too. Only when the file
//! cannot be read for another reason than the task being gone — `/proc`
//! not mounted, or mounted with `hidepid` and the task another user's —
//! does `kill(ID, 0)` decide (there a zombie reads as alive until reaped).
//!
//! # Named objects: presence locks
//!
//! A process that creates or opens a named object through a
//! [`Channel`](crate::channel::Channel) takes its [`Presence`] there: a
//! shared OFD lock on byte [`PRESENCE_BASE`]` + pid` of the object's file
//! (far beyond its end), through a file description opened afresh for it.
//! The kernel drops the lock when that description closes — when the
//! channel drops, or when the process dies, whatever its pid and its pid
//! namespace. A holder recorded in the object as `pid` is then judged:
//!
//! 1. its presence byte is locked (`F_OFD_GETLK`) → **alive**;
//! 2. else the process rule says `pid` is dead → **dead**;
//! 3. else `pid` names a live process that has no presence there: a holder
//!    recorded without one (by code that takes none, or with `/proc`
//!    unavailable, or a forked child using a channel it inherited) maps
//!    the object, a newcomer that was given a dead holder's pid does not,
//!    so it is **alive** iff that process maps the object
//!    (`/proc/PID/maps`; unreadable, as for another user's process →
//!    alive).
//!
//! # Bound
//!
//! A holder is dead for every path as soon as it has exited, zombie or
//! reaped, with no grace period: its presence lock goes and its memory is
//! unmapped while it exits (before it becomes a zombie), and `/proc` says
//! `Z` from then on. A take-over, a users-table join, a probe (and `gc`) or
//! a robust-mutex waiter that looks after that moment sees it dead; a
//! blocked send or receive notices within one
//! [`peer_check`](crate::channel::ChannelOptions::peer_check) slice.
//!
//! # Limits
//!
//! - **Pid reuse.** In a named object, a dead holder whose pid a newcomer
//!   was given is dead (the newcomer holds no presence there and does not
//!   map the object) — unless the newcomer uses that very object too, or
//!   its maps cannot be read (another user's process, or one that is not
//!   dumpable, as a container's init often is): then the old records read
//!   as alive while it lives. Outside named objects (a
//!   structure in an anonymous mapping; the robust mutex, which records a
//!   tid), the process rule alone decides: the dead holder reads as alive
//!   while the newcomer lives. Both are the safe direction: a live holder
//!   is never judged dead.
//! - **Pid namespaces.** In a named object, a holder in another pid
//!   namespace (a container sharing `/dev/shm`) is judged by its presence
//!   lock: alive while it lives, dead once it dies, whatever its recorded
//!   number names here. Two users of one object whose pids are the same
//!   number in different namespaces cannot be told apart (each one's
//!   presence keeps records of that number alive). Outside named objects a
//!   pid from another namespace means nothing here: the process rule then
//!   may find it dead while it lives — share anonymous structures and
//!   robust mutexes only within one pid namespace, with `/proc` mounted
//!   for it.
//! - **Fork.** A child forked while a channel lives does not keep the
//!   parent's presence (a fork handler drops its copy; see [`Presence`]),
//!   except beyond [`FORK_SAFE_PRESENCES`] presences at once or for a child
//!   made without `fork`'s handlers (a raw `clone`): that child keeps the
//!   parent's records alive while it lives. A child that takes a role
//!   through an inherited channel is judged by rule 3: it maps the object.
//! - Without `/proc` no presence can be taken (the object is reopened
//!   through `/proc/self/fd`): holders are judged by `kill(pid, 0)`.

use std::cell::Cell;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Once;

use crate::error::OsError;
use crate::lock::{ByteRange, LockKind, OfdLock};

/// What `/proc/ID/stat` says about a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TaskStat {
    /// The state letter (field 3): `R`, `S`, `D`, `Z`, `X`, ...
    pub state: u8,
    /// Threads in the task's thread group (field 20).
    pub threads: u64,
    /// When the task started, in clock ticks after boot (field 22).
    pub start: u64,
}

impl TaskStat {
    /// Whether this task (thread) has exited: a zombie or dead.
    fn exited(&self) -> bool {
        matches!(self.state, b'Z' | b'X')
    }
}

/// Parses the text of `/proc/ID/stat`: `None` if it is not what Linux
/// writes there.
pub(crate) fn parse_stat(text: &[u8]) -> Option<TaskStat> {
    // The command name (field 2) is in parentheses and may hold anything,
    // parentheses and spaces included: fields are counted from the last ')'.
    let rest = &text[text.iter().rposition(|&b| b == b')')? + 1..];
    let mut fields = rest
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty());
    let number = |f: &[u8]| std::str::from_utf8(f).ok()?.parse::<u64>().ok();
    let state = match fields.next()? {
        [letter] if letter.is_ascii_alphabetic() => *letter,
        _ => return None,
    };
    // After the state (field 3), field 20 is 17 fields on, field 22 two
    // more.
    let threads = number(fields.nth(16)?)?;
    let start = number(fields.nth(1)?)?;
    Some(TaskStat {
        state,
        threads,
        start,
    })
}

/// Reads `/proc/ID/stat` (a pid or a tid); `None` when it cannot be read
/// (no such task, `/proc` not mounted or hiding it) or does not parse.
/// Allocates nothing, so it is safe in a child forked from a
/// multi-threaded parent.
pub(crate) fn read_stat(id: u32) -> Option<TaskStat> {
    // "/proc/" + at most 10 digits + "/stat".
    let mut path = [0u8; 32];
    let len = {
        use std::io::Write;
        let mut cursor = std::io::Cursor::new(&mut path[..]);
        write!(cursor, "/proc/{id}/stat").ok()?;
        cursor.position() as usize
    };
    let path = std::str::from_utf8(&path[..len]).ok()?;
    let mut file = std::fs::File::open(path).ok()?;
    // 52 fields of at most 20 digits, and a 16-byte name: 2 KiB holds it.
    let mut buf = [0u8; 2048];
    let mut filled = 0;
    loop {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => {
                filled += n;
                if filled == buf.len() {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // ESRCH: the task was reaped between open and read.
            Err(_) => return None,
        }
    }
    parse_stat(&buf[..filled])
}

/// `kill(id, 0)`: whether a task with this id exists (also a zombie, and
/// also another user's: `EPERM`).
fn exists_by_signal(id: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks for existence and permission.
    let r = unsafe { libc::kill(id, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The id as a positive `pid_t`, or `None` (0 and ids beyond `i32::MAX`
/// name no task).
fn task_id(id: u32) -> Option<libc::pid_t> {
    libc::pid_t::try_from(id).ok().filter(|&id| id > 0)
}

/// Whether the process `pid` lives (see the [module docs](self) for the
/// rule, its bound and its limits): false for 0, for a pid no process has,
/// and for a zombie.
pub fn process_alive(pid: u32) -> bool {
    let Some(id) = task_id(pid) else {
        return false;
    };
    match read_stat(pid) {
        // A zombie leader with other threads counted: its main thread
        // ended (`pthread_exit`), the process goes on.
        Some(stat) => !stat.exited() || stat.threads > 1,
        // Missing from /proc: reaped (then `kill` agrees), or hidden by
        // `hidepid`, or /proc is not mounted, or a new process took the
        // pid between the two looks: `kill` decides, never a wrong "dead".
        None => exists_by_signal(id),
    }
}

/// Whether the thread `tid` lives (see the [module docs](self)): false for
/// 0, for a tid no thread has, and for a thread that has exited (a zombie
/// leader counts as exited even while other threads of its process run).
pub fn thread_alive(tid: u32) -> bool {
    let Some(id) = task_id(tid) else {
        return false;
    };
    match read_stat(tid) {
        Some(stat) => !stat.exited(),
        None => exists_by_signal(id),
    }
}

/// When the process `pid` started (clock ticks after boot), if `/proc`
/// says: with the pid, it identifies one process across pid reuse.
pub fn start_time(pid: u32) -> Option<u64> {
    task_id(pid)?;
    read_stat(pid).map(|s| s.start)
}

// ---------------------------------------------------------------------
// Presence locks: liveness that survives pid reuse and pid namespaces.
// ---------------------------------------------------------------------

/// Where the presence byte of the holder recorded as `pid` lies in a named
/// object's file: `PRESENCE_BASE + pid`, far beyond the end of any object
/// (a lock beyond the end of a file is allowed, takes no space and does
/// not change the file), and just past the creators' claim byte
/// ([`crate::shm::CLAIM_BYTE`]), so the two kinds of lock never overlap.
pub const PRESENCE_BASE: u64 = crate::shm::CLAIM_BYTE + 1;

/// The presence byte of holder `pid`.
pub fn presence_range(pid: u32) -> ByteRange {
    ByteRange {
        start: PRESENCE_BASE + u64::from(pid),
        len: 1,
    }
}

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
/// process rule and the maps (see the [module docs](self)).
#[derive(Debug)]
pub struct Presence {
    file: OwnedFd,
    judge: Judge,
    pid: u32,
}

impl Presence {
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
    /// the [module docs](self): lock, process rule, maps).
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
    static HANDLER: Once = Once::new();
    // SAFETY: registers a child handler that only makes async-signal-safe
    // calls (open, dup3, close) and atomic operations.
    HANDLER.call_once(|| unsafe {
        libc::pthread_atfork(None, None, Some(drop_presences_in_child));
    });
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

/// Judges the holders recorded in one named object: by their presence
/// locks first, then by the process rule. Copy, holding the raw
/// descriptor it asks through: whoever makes one keeps that descriptor
/// open while the judge is used (a closed or reused one only makes
/// answers wrong, never unsafe).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Judge {
    fd: RawFd,
    dev: u64,
    ino: u64,
    /// The judging process maps the object only to look at it (a probe):
    /// its own mappings then say nothing about its own records.
    onlooker: bool,
}

impl Judge {
    /// The judge of the object behind `file` (a regular file: a POSIX shm
    /// object or a memfd).
    pub(crate) fn of(file: BorrowedFd<'_>) -> Result<Self, OsError> {
        let st = crate::mapping::fd_stat(file)?;
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Err(OsError::new("fstat", libc::EINVAL).on("not a regular file"));
        }
        Ok(Self {
            fd: file.as_raw_fd(),
            dev: st.st_dev,
            ino: st.st_ino,
            onlooker: false,
        })
    }

    /// The judge for a process that maps the object only to look at it
    /// (the inspector): its own pid is alive in the object only by a
    /// presence lock (a channel of its own), not by its mappings.
    pub(crate) fn onlooker(file: BorrowedFd<'_>) -> Result<Self, OsError> {
        Self::of(file).map(|j| Self {
            onlooker: true,
            ..j
        })
    }

    /// Whether the holder recorded as `pid` in this object lives:
    ///
    /// 1. its presence byte is locked by some other description → alive
    ///    (whatever `pid` names here: a holder in another pid namespace,
    ///    or one whose pid a reaped process freed and another took);
    /// 2. else [`process_alive`]`(pid)` false → dead;
    /// 3. else the process `pid` names is alive but holds no presence: a
    ///    holder recorded without one (older code, `/proc` unavailable
    ///    when it took the role, or a forked child using an inherited
    ///    channel) is alive if that process maps this object
    ///    (`/proc/PID/maps`); a process that does not map it is a
    ///    newcomer with a reused pid, and the holder is dead. Unreadable
    ///    maps (another user's process) → alive. An
    ///    [onlooker](Judge::onlooker)'s own pid skips this step.
    pub(crate) fn alive(&self, pid: u32) -> bool {
        if task_id(pid).is_none() {
            return false;
        }
        if self.locked(pid) {
            return true;
        }
        if self.onlooker && pid == crate::process::current_pid() {
            return false;
        }
        process_alive(pid) && maps_object(pid, self.dev, self.ino).unwrap_or(true)
    }

    /// Whether another description holds a lock on `pid`'s presence byte.
    fn locked(&self, pid: u32) -> bool {
        // SAFETY: the judge's maker keeps `fd` open while it is used (a
        // closed one makes fcntl fail with EBADF, which reads as "no
        // lock"; nothing is read through it).
        let fd = unsafe { BorrowedFd::borrow_raw(self.fd) };
        matches!(
            OfdLock::conflict(fd, LockKind::Exclusive, presence_range(pid)),
            Ok(Some(_))
        )
    }
}

/// Whether the process `pid` maps the file `(dev, ino)`, from
/// `/proc/PID/maps`; `None` if that cannot be read. Reads in fixed chunks:
/// allocates nothing.
fn maps_object(pid: u32, dev: u64, ino: u64) -> Option<bool> {
    let mut path = [0u8; 32];
    let len = {
        use std::io::Write;
        let mut cursor = std::io::Cursor::new(&mut path[..]);
        write!(cursor, "/proc/{pid}/maps").ok()?;
        cursor.position() as usize
    };
    let mut file = std::fs::File::open(std::str::from_utf8(&path[..len]).ok()?).ok()?;
    let (major, minor) = (libc::major(dev) as u64, libc::minor(dev) as u64);
    let matches = |line: &[u8]| {
        // "start-end perms offset MAJ:MIN inode path": fields 4 and 5.
        let mut fields = line
            .split(|b| b.is_ascii_whitespace())
            .filter(|f| !f.is_empty());
        let (Some(d), Some(i)) = (fields.nth(3), fields.next()) else {
            return false;
        };
        let number =
            |f: &[u8], radix| u64::from_str_radix(std::str::from_utf8(f).ok()?, radix).ok();
        let mut dm = d.splitn(2, |&b| b == b':');
        let (Some(ma), Some(mi)) = (dm.next(), dm.next()) else {
            return false;
        };
        number(ma, 16) == Some(major) && number(mi, 16) == Some(minor) && number(i, 10) == Some(ino)
    };
    let mut buf = [0u8; 4096];
    let mut held = 0; // bytes of an unfinished line at the front of buf
    let mut skipping = false; // in the tail of a line longer than buf
    loop {
        let n = match file.read(&mut buf[held..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        };
        if n == 0 {
            return Some(!skipping && held > 0 && matches(&buf[..held]));
        }
        let end = held + n;
        let mut start = 0;
        while let Some(nl) = buf[start..end].iter().position(|&b| b == b'\n') {
            if !skipping && matches(&buf[start..start + nl]) {
                return Some(true);
            }
            skipping = false;
            start += nl + 1;
        }
        if start == 0 && end == buf.len() {
            // One line fills the buffer: its fields come first, judge by
            // them and skip the rest of it (a long path).
            if !skipping && matches(&buf[..end]) {
                return Some(true);
            }
            skipping = true;
            held = 0;
        } else {
            buf.copy_within(start..end, 0);
            held = end - start;
        }
    }
}

thread_local! {
    /// The object whose holders are being judged on this thread, if any.
    static JUDGING: Cell<Option<Judge>> = const { Cell::new(None) };
}

/// Runs `f` with `judge` as the object whose holders
/// [`crate::process::is_alive`] judges on this thread (restored after,
/// also on panic): how a [`Channel`](crate::channel::Channel) joining an
/// MPMC users table and the inspector judging an object's pids use the
/// object's presence locks through the one `is_alive` the core calls.
pub(crate) fn judging<R>(judge: Option<Judge>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Judge>);
    impl Drop for Restore {
        fn drop(&mut self) {
            JUDGING.with(|j| j.set(self.0));
        }
    }
    let _restore = Restore(JUDGING.with(|j| j.replace(judge)));
    f()
}

/// Whether the holder recorded as `pid` lives: judged by the object's
/// presence locks ([`Judge::alive`]) inside [`judging`], else by
/// [`process_alive`].
pub(crate) fn holder_alive(pid: u32) -> bool {
    match JUDGING.with(|j| j.get()) {
        Some(judge) => judge.alive(pid),
        None => process_alive(pid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::{current_pid, fork};

    fn stat_line(comm: &str, state: char, threads: u64, start: u64) -> Vec<u8> {
        // Fields 4..=19 are 16 numbers, then 20 (threads), 21, 22 (start).
        let mut s = format!("1234 ({comm}) {state}");
        for i in 4..=19 {
            s += &format!(" {i}");
        }
        s += &format!(" {threads} 0 {start} 99 100\n");
        s.into_bytes()
    }

    #[test]
    fn parses_what_linux_writes() {
        assert_eq!(
            parse_stat(&stat_line("cat", 'S', 1, 777)),
            Some(TaskStat {
                state: b'S',
                threads: 1,
                start: 777
            })
        );
        // A hostile command name: parentheses, spaces, a fake state.
        let odd = stat_line(") Z 1 2 3 (x) R", 'Z', 3, 5);
        assert_eq!(
            parse_stat(&odd),
            Some(TaskStat {
                state: b'Z',
                threads: 3,
                start: 5
            })
        );
        assert_eq!(parse_stat(b""), None);
        assert_eq!(parse_stat(b"1 (x) R 1 2"), None);
        assert_eq!(
            parse_stat(b"1 (x) 7 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19"),
            None
        );
        let mut junk = stat_line("x", 'R', 1, 1);
        junk.truncate(junk.len() - 12);
        assert_eq!(parse_stat(&junk), None);
    }

    #[test]
    fn reads_itself() {
        let me = read_stat(current_pid()).unwrap();
        assert!(!me.exited());
        assert!(me.threads >= 1);
        assert_eq!(start_time(current_pid()), Some(me.start));
        assert!(process_alive(current_pid()));
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() } as u32;
        assert!(thread_alive(tid));
        // The fallback finds threads that are not a group's leader too.
        assert!(exists_by_signal(tid as libc::pid_t));
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let other = std::thread::spawn(move || {
            // SAFETY: gettid has no preconditions.
            tid_tx.send(unsafe { libc::gettid() }).unwrap();
            rx.recv().ok()
        });
        let other_tid = tid_rx.recv().unwrap();
        assert!(exists_by_signal(other_tid));
        assert!(thread_alive(other_tid as u32));
        drop(tx);
        other.join().unwrap();
        assert!(!process_alive(0) && !thread_alive(0));
        assert!(!process_alive(u32::MAX) && !thread_alive(u32::MAX));
        assert_eq!(start_time(0), None);
    }

    /// Waits until `pid` (our child) has exited, leaving it a zombie
    /// (`WNOWAIT`: not reaped).
    fn until_zombie(pid: u32) {
        loop {
            // SAFETY: a zeroed siginfo_t is a valid out-buffer for waitid.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            // SAFETY: waits for our own child; `info` is a valid
            // out-pointer.
            let r = unsafe {
                libc::waitid(
                    libc::P_PID,
                    pid as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOWAIT,
                )
            };
            if r == 0 {
                return;
            }
            assert_eq!(
                std::io::Error::last_os_error().raw_os_error(),
                Some(libc::EINTR)
            );
        }
    }

    #[test]
    fn maps_tell_which_files_a_process_maps() {
        let name = crate::shm::TempName::new("il-maps").unwrap();
        let shm = crate::shm::Shm::create(&name, 4096).unwrap();
        let st = crate::mapping::fd_stat(shm.as_fd()).unwrap();
        let me = current_pid();
        assert_eq!(maps_object(me, st.st_dev, st.st_ino), Some(false));
        let map = shm.map(&crate::shm::MapOptions::new()).unwrap();
        assert_eq!(maps_object(me, st.st_dev, st.st_ino), Some(true));
        assert_eq!(maps_object(me, st.st_dev, st.st_ino + 1), Some(false));
        assert_eq!(maps_object(NO_PID, st.st_dev, st.st_ino), None);
        // Our presence is ours: judged through its own description, this
        // process is found alive by the maps fallback; a pid that names
        // nothing is dead, a live process that maps nothing of ours too.
        let presence = Presence::take(shm.as_fd()).unwrap();
        assert_eq!(presence.pid(), me);
        assert!(presence.holder_alive(me));
        assert!(!presence.holder_alive(NO_PID));
        assert!(!presence.holder_alive(0));
        let other = Presence::take(shm.as_fd()).unwrap();
        assert!(other.judge().locked(me), "another description's lock");
        assert!(!presence.judge().locked(NO_PID));
        drop(map);
        drop(other);
        // Neither mapped nor locked elsewhere: not a holder any more.
        assert!(!presence.holder_alive(me));
    }

    /// Beyond the largest `pid_max`.
    const NO_PID: u32 = 5_000_000;

    #[test]
    fn a_zombie_is_dead_and_a_reaped_process_too() {
        let child = fork(|| loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        })
        .unwrap();
        let pid = child.pid();
        assert!(process_alive(pid) && thread_alive(pid));
        child.signal(libc::SIGKILL).unwrap();
        until_zombie(pid);
        assert_eq!(read_stat(pid).map(|s| s.state), Some(b'Z'));
        // `kill(pid, 0)` still finds it: the old check's mistake.
        assert!(exists_by_signal(pid as libc::pid_t));
        assert!(!process_alive(pid), "a zombie is dead");
        assert!(!thread_alive(pid));
        child.wait().unwrap();
        assert!(!process_alive(pid) && !thread_alive(pid));
    }

    #[test]
    fn a_killed_multi_threaded_process_is_dead_as_a_zombie() {
        let child = fork(|| {
            for _ in 0..3 {
                std::thread::spawn(|| loop {
                    std::thread::sleep(std::time::Duration::from_secs(1));
                });
            }
            loop {
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        })
        .unwrap();
        let pid = child.pid();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while read_stat(pid).map(|s| s.threads) != Some(4) {
            assert!(std::time::Instant::now() < deadline, "{:?}", read_stat(pid));
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert!(process_alive(pid));
        child.signal(libc::SIGKILL).unwrap();
        until_zombie(pid);
        let stat = read_stat(pid).unwrap();
        assert_eq!(stat.state, b'Z');
        assert!(!process_alive(pid), "{stat:?}");
        child.wait().unwrap();
    }

    #[test]
    fn a_process_whose_main_thread_ended_lives() {
        let mut ready = [0 as libc::c_int; 2];
        // SAFETY: pipe writes two fds into the array.
        assert_eq!(unsafe { libc::pipe(ready.as_mut_ptr()) }, 0);
        let writer = ready[1];
        let child = fork(move || {
            std::thread::spawn(move || {
                // SAFETY: writes one byte from a live buffer to our pipe.
                unsafe { libc::write(writer, b"!".as_ptr().cast(), 1) };
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(1));
                }
            });
            // SAFETY: SYS_exit ends only the calling (main) thread, without
            // unwinding; the other thread keeps the process alive.
            unsafe { libc::syscall(libc::SYS_exit, 0) };
            unreachable!()
        })
        .unwrap();
        let pid = child.pid();
        let mut b = 0u8;
        // SAFETY: reads one byte into a live buffer from our pipe.
        let n = unsafe { libc::read(ready[0], (&mut b as *mut u8).cast(), 1) };
        assert_eq!(n, 1);
        // The main thread's exit is asynchronous: wait for its zombie.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while read_stat(pid).map(|s| s.state) != Some(b'Z') {
            assert!(std::time::Instant::now() < deadline, "{:?}", read_stat(pid));
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert!(process_alive(pid), "its other thread runs");
        assert!(!thread_alive(pid), "its main thread ended");
        // SAFETY: closing the two pipe fds this test opened.
        unsafe {
            libc::close(ready[0]);
            libc::close(ready[1]);
        }
        drop(child); // kills and reaps
    }
}
