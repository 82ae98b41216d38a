//! Processes: forking a child that runs a closure, waiting for it, asking
//! whether a pid is alive, and pinning to a CPU.

use interlink_core::Holder;

use crate::error::{check, OsError};

/// How a child process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this status code.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
}

impl Exit {
    /// Whether it exited with status 0.
    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }
}

/// A forked child. Dropping it without [`Child::wait`] kills and reaps it,
/// so no test leaves a zombie or a stray process behind.
#[derive(Debug)]
pub struct Child {
    pid: libc::pid_t,
    reaped: bool,
}

/// Forks; the child runs `body` and `_exit`s with its return value (a
/// panic in `body` exits with 101). The parent gets a [`Child`].
///
/// After `fork` only the calling thread exists in the child: `body` must not
/// wait on locks other threads of the parent might hold (in practice:
/// avoid allocating in a multi-threaded parent, and print only with care).
pub fn fork(body: impl FnOnce() -> i32) -> Result<Child, OsError> {
    // SAFETY: fork has no memory-safety preconditions; the child runs only
    // `body` and then _exit, never returning into the parent's frames.
    let pid = check(unsafe { libc::fork() }, "fork")?;
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or(101);
        // SAFETY: _exit ends the child without running the parent's atexit
        // handlers or destructors twice.
        unsafe { libc::_exit(code) };
    }
    Ok(Child { pid, reaped: false })
}

impl Child {
    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.pid as u32
    }

    /// The child as a [`Holder`] (its pid): the id it records for what it
    /// holds, e.g. the recipient of a pool reference addressed to it.
    pub fn holder(&self) -> Holder {
        holder_of(self.pid())
    }

    /// Waits for the child to end.
    pub fn wait(mut self) -> Result<Exit, OsError> {
        self.reap()
    }

    /// Reaps the child if it has ended, without blocking.
    pub fn try_wait(&mut self) -> Result<Option<Exit>, OsError> {
        if self.reaped {
            return Err(OsError::new("waitpid", libc::ECHILD).on(self.pid));
        }
        self.waitpid(libc::WNOHANG)
    }

    fn reap(&mut self) -> Result<Exit, OsError> {
        loop {
            if let Some(exit) = self.waitpid(0)? {
                return Ok(exit);
            }
        }
    }

    /// One `waitpid`, retried on `EINTR`; `None` if the child still runs.
    fn waitpid(&mut self, flags: i32) -> Result<Option<Exit>, OsError> {
        let mut status = 0;
        loop {
            // SAFETY: waiting for our own child; status is a valid out-pointer.
            let r = unsafe { libc::waitpid(self.pid, &mut status, flags) };
            if r == 0 {
                return Ok(None);
            }
            if r == self.pid {
                break;
            }
            let e = OsError::last("waitpid");
            if !e.is(libc::EINTR) {
                return Err(e.on(self.pid));
            }
        }
        self.reaped = true;
        Ok(Some(if libc::WIFEXITED(status) {
            Exit::Code(libc::WEXITSTATUS(status))
        } else {
            Exit::Signal(libc::WTERMSIG(status))
        }))
    }

    /// Sends `signal` to the child.
    pub fn signal(&self, signal: i32) -> Result<(), OsError> {
        // SAFETY: kill has no memory-safety preconditions.
        check(unsafe { libc::kill(self.pid, signal) }, "kill")
            .map(drop)
            .map_err(|e| e.on(self.pid))
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = self.signal(libc::SIGKILL);
            let _ = self.reap();
        }
    }
}

/// This process's pid.
pub fn current_pid() -> u32 {
    std::process::id()
}

/// This process as a [`Holder`]: its pid, the id every named channel
/// records for the roles it claims and the users table it joins.
///
/// ```
/// use interlink_core::{spsc::SpscRing, Region, RingConfig};
/// use interlink_linux::process;
///
/// # #[repr(C, align(128))] struct Mem([u8; 1024]);
/// # let mut mem = Mem([0; 1024]);
/// let ring = SpscRing::<u64>::init(Region::new(&mut mem.0), RingConfig::new(8))?;
/// let tx = ring.producer(process::holder())?;
/// # drop(tx);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn holder() -> Holder {
    holder_of(current_pid())
}

/// A Linux pid or tid as a [`Holder`]. The kernel hands out ids in
/// `1..=PID_MAX_LIMIT` (2²²), well inside a holder's range, so this cannot
/// fail for an id the kernel gave.
pub(crate) fn holder_of(id: u32) -> Holder {
    Holder::new(id).expect("Linux pids and tids are in 1..=2^22")
}

/// Pins the calling thread to `cpu`. Fails (with `EINVAL`) when the CPU
/// does not exist or is not allowed.
pub fn pin_to_cpu(cpu: usize) -> Result<(), OsError> {
    // SAFETY: a zeroed cpu_set_t is an empty set; CPU_SET bounds-checks.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        check(
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set),
            "sched_setaffinity",
        )
        .map(drop)
        .map_err(|e| e.on(format_args!("cpu {cpu}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::liveness::is_alive;

    #[test]
    fn fork_reports_exit_codes_and_signals() {
        assert_eq!(fork(|| 7).unwrap().wait().unwrap(), Exit::Code(7));
        assert_eq!(
            fork(|| panic!("boom")).unwrap().wait().unwrap(),
            Exit::Code(101)
        );
        let child = fork(|| loop {
            std::thread::sleep(std::time::Duration::from_millis(10));
        })
        .unwrap();
        let mut child = child;
        let pid = child.pid();
        assert!(is_alive(pid));
        assert_eq!(child.try_wait().unwrap(), None);
        child.signal(libc::SIGKILL).unwrap();
        assert_eq!(child.wait().unwrap(), Exit::Signal(libc::SIGKILL));
        assert!(!is_alive(pid));
        assert!(is_alive(current_pid()));
        assert!(!is_alive(0));
        assert!(!is_alive(u32::MAX));
    }
}
