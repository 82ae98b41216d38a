//! The process rule: what `/proc/ID/stat` (or, failing that, `kill(ID, 0)`)
//! says about a process or a thread.

use std::io::Read;

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
pub(crate) fn task_id(id: u32) -> Option<libc::pid_t> {
    libc::pid_t::try_from(id).ok().filter(|&id| id > 0)
}

/// Whether the process `pid` lives (see the [module docs](crate::liveness) for the
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

/// Whether the thread `tid` lives (see the [module docs](crate::liveness)): false for
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
