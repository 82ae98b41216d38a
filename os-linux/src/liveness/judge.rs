//! Judging the holders recorded in one named object: where each holder's
//! presence byte lies and whether it is locked first,
//! then the process rule, then whether the process maps the object; and
//! the thread's current judge that [`is_alive`] asks.

use std::cell::Cell;
use std::io::Read;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use super::{process_alive, task_id};
use crate::error::OsError;
use crate::lock::{ByteRange, LockKind, OfdLock};

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

/// Judges the holders recorded in one named object: by their presence
/// locks first, then by the process rule. Copy, holding the raw
/// descriptor it asks through: whoever makes one keeps that descriptor
/// open while the judge is used (a closed or reused one only makes
/// answers wrong, never unsafe).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Judge {
    pub(super) fd: RawFd,
    pub(super) dev: u64,
    pub(super) ino: u64,
    /// The judging process maps the object only to look at it (a probe):
    /// its own mappings then say nothing about its own records.
    pub(super) onlooker: bool,
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
/// [`is_alive`] judges on this thread (restored after,
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

/// Whether the holder recorded as `pid` lives: the one liveness check
/// every path uses (see [`crate::liveness`] for the rule, its bound and
/// its limits).
///
/// Called by a [`Channel`](crate::channel::Channel) or the inspector while
/// they judge the holders of a named object (an MPMC users table, a
/// probe), it goes by the object's presence locks first, which survive pid
/// reuse and pid namespaces; everywhere else — a structure in an anonymous
/// mapping, or when you call it yourself — it is
/// [`crate::liveness::process_alive`]: a zombie (killed or exited, not yet
/// reaped) is dead, and a dead process's pid that a new process took reads
/// as alive while that process lives.
pub fn is_alive(pid: u32) -> bool {
    crate::liveness::holder_alive(pid)
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use super::*;
    use crate::liveness::Presence;
    use crate::process::current_pid;

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
}
