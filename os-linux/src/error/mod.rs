//! The error every syscall wrapper returns: what was attempted, on what,
//! and the errno the kernel gave.

mod shm;

pub use shm::{FileKind, ShmError};

use std::fmt;

/// A failed system call: the operation (`"shm_open"`, `"mmap"`, ...), the
/// object it was applied to when there is one (a name, a path, a size), and
/// the kernel's errno.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OsError {
    /// The call or step that failed.
    pub op: &'static str,
    /// What it was applied to, if anything (`"/my-ring"`, `"4096 bytes"`).
    pub subject: Option<String>,
    /// The errno (`libc::ENOENT`, ...).
    pub errno: i32,
}

impl OsError {
    /// An error for `op` with an explicit errno.
    pub fn new(op: &'static str, errno: i32) -> Self {
        Self {
            op,
            subject: None,
            errno,
        }
    }

    /// An error for `op` with the calling thread's current errno.
    pub fn last(op: &'static str) -> Self {
        Self::new(
            op,
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
        )
    }

    /// The same error, naming what it was applied to.
    pub fn on(mut self, subject: impl fmt::Display) -> Self {
        self.subject = Some(subject.to_string());
        self
    }

    /// Whether the errno is `errno`.
    pub fn is(&self, errno: i32) -> bool {
        self.errno == errno
    }
}

impl fmt::Display for OsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = std::io::Error::from_raw_os_error(self.errno);
        match &self.subject {
            Some(s) => write!(f, "{} {}: {}", self.op, s, text),
            None => write!(f, "{}: {}", self.op, text),
        }
    }
}

impl std::error::Error for OsError {}

impl From<OsError> for std::io::Error {
    fn from(e: OsError) -> Self {
        std::io::Error::new(std::io::Error::from_raw_os_error(e.errno).kind(), e)
    }
}

/// Turns a `-1`-on-error return value into a `Result`, reading errno.
pub(crate) fn check<T: PartialEq + From<i8>>(ret: T, op: &'static str) -> Result<T, OsError> {
    if ret == T::from(-1) {
        Err(OsError::last(op))
    } else {
        Ok(ret)
    }
}

/// Makes a `-1`-on-error call, retrying while it fails with `EINTR`.
pub(crate) fn check_retry<T: PartialEq + From<i8>>(
    op: &'static str,
    mut call: impl FnMut() -> T,
) -> Result<T, OsError> {
    loop {
        match check(call(), op) {
            Err(e) if e.is(libc::EINTR) => continue,
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_op_subject_and_errno() {
        let e = OsError::new("shm_open", libc::ENOENT).on("/missing");
        assert_eq!(
            e.to_string(),
            "shm_open /missing: No such file or directory (os error 2)"
        );
        assert!(e.is(libc::ENOENT));
        let io: std::io::Error = e.into();
        assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    }

    #[test]
    fn check_reads_errno() {
        // SAFETY: close(-1) touches nothing; it fails with EBADF.
        let r = check(unsafe { libc::close(-1) }, "close");
        assert_eq!(r.unwrap_err().errno, libc::EBADF);
        assert_eq!(check(3i32, "x"), Ok(3));
    }
}
