//! What the POSIX IPC families share: object names (`/name`), paths as C
//! strings, absolute `CLOCK_REALTIME` deadlines for the timed calls, and
//! switching a descriptor's `O_NONBLOCK`.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use std::os::fd::{AsRawFd, BorrowedFd};

use crate::error::{check, OsError};
use crate::shm::{ShmError, ShmName};

/// Checks a POSIX IPC object name by the rule shm names follow
/// ([`ShmName`]: one leading `/`, then 1 to 255 bytes without `/` or NUL)
/// and converts it. A bad name is `EINVAL` from `op`, naming the rule it
/// broke, before any syscall is made.
pub(crate) fn object_name(op: &'static str, name: &str) -> Result<CString, OsError> {
    let invalid = |problem: &dyn std::fmt::Display| {
        OsError::new(op, libc::EINVAL).on(format_args!("{name:?} (a name {problem})"))
    };
    match ShmName::new(name) {
        Ok(checked) => CString::new(checked.as_str()).map_err(|_| invalid(&"contains a NUL byte")),
        Err(ShmError::Name { problem, .. }) => Err(invalid(&problem)),
        Err(other) => Err(invalid(&other)),
    }
}

/// A filesystem path as a C string; a path holding a NUL byte is `EINVAL`.
pub(crate) fn c_path(op: &'static str, path: &Path) -> Result<CString, OsError> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| OsError::new(op, libc::EINVAL).on(path.display()))
}

/// `timeout` from now as an absolute `CLOCK_REALTIME` time, which is what
/// `sem_timedwait`, `mq_timedsend` and `mq_timedreceive` expect. Saturates
/// instead of overflowing for huge timeouts.
pub(crate) fn realtime_deadline(timeout: Duration) -> libc::timespec {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let at = now.saturating_add(timeout);
    libc::timespec {
        tv_sec: libc::time_t::try_from(at.as_secs()).unwrap_or(libc::time_t::MAX),
        // Below 10⁹: fits the 32-bit `c_long` of a 32-bit process.
        tv_nsec: at.subsec_nanos() as libc::c_long,
    }
}

/// Turns `O_NONBLOCK` on or off for any descriptor.
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>, nonblocking: bool) -> Result<(), OsError> {
    let raw = fd.as_raw_fd();
    // SAFETY: fcntl on a borrowed, open descriptor.
    let flags = check(unsafe { libc::fcntl(raw, libc::F_GETFL) }, "F_GETFL")?;
    let flags = if nonblocking {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    // SAFETY: as above, with an integer argument.
    check(unsafe { libc::fcntl(raw, libc::F_SETFL, flags) }, "F_SETFL").map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_follow_the_posix_rule() {
        assert!(object_name("sem_open", "/ok-name").is_ok());
        for bad in [
            "",
            "/",
            "no-slash",
            "/a/b",
            "/nul\0",
            &format!("/{}", "x".repeat(256)),
        ] {
            let e = object_name("sem_open", bad).unwrap_err();
            assert!(e.is(libc::EINVAL), "{bad:?}");
        }
        let e = object_name("mq_open", "queue").unwrap_err();
        assert_eq!(
            e.to_string(),
            "mq_open \"queue\" (a name must start with '/'): Invalid argument (os error 22)"
        );
    }

    #[test]
    fn deadlines_lie_in_the_future_and_saturate() {
        let d = realtime_deadline(Duration::from_secs(5));
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs() as libc::time_t;
        assert!(d.tv_sec >= now + 4 && d.tv_sec <= now + 6);
        assert!(d.tv_nsec < 1_000_000_000);
        assert_eq!(realtime_deadline(Duration::MAX).tv_sec, libc::time_t::MAX);
    }
}
