//! Shared-memory names: [`ShmName`] (checked before any syscall), where
//! they live, removing one, and [`TempName`] for tests and tools.

use std::ffi::CString;
use std::fmt;

use crate::error::{check, ShmError};

/// The longest name component the kernel accepts (`NAME_MAX`); a shm name
/// is a slash and at most this many bytes.
pub const NAME_MAX: usize = 255;

/// Where Linux keeps POSIX shared-memory objects.
pub const SHM_DIR: &str = "/dev/shm";

/// A valid POSIX shared-memory name: a leading slash, then 1 to
/// [`NAME_MAX`] bytes with no slash and no NUL (and not `.` or `..`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ShmName(CString);

impl ShmName {
    /// Checks `name` without any syscall.
    pub fn new(name: &str) -> Result<Self, ShmError> {
        let bad = |problem| ShmError::Name {
            name: name.to_owned(),
            problem,
        };
        let Some(rest) = name.strip_prefix('/') else {
            return Err(bad("must start with '/'"));
        };
        if rest.is_empty() {
            return Err(bad("is empty after the '/'"));
        }
        if rest.len() > NAME_MAX {
            return Err(bad("is longer than NAME_MAX (255) bytes after the '/'"));
        }
        if rest.contains('/') {
            return Err(bad("may contain no '/' after the first"));
        }
        if rest == "." || rest == ".." {
            return Err(bad("may not be '.' or '..'"));
        }
        CString::new(name)
            .map(Self)
            .map_err(|_| bad("contains a NUL byte"))
    }

    /// The name, with its leading slash.
    pub fn as_str(&self) -> &str {
        // The bytes came from a &str.
        self.0.to_str().unwrap_or_default()
    }

    /// The file that holds the object: `/dev/shm/NAME`.
    pub fn path(&self) -> std::path::PathBuf {
        std::path::Path::new(SHM_DIR).join(&self.as_str()[1..])
    }

    pub(super) fn c_str(&self) -> &std::ffi::CStr {
        &self.0
    }
}

impl fmt::Display for ShmName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Removes the shm object `name` (`shm_unlink`).
pub fn unlink(name: &str) -> Result<(), ShmError> {
    let name = ShmName::new(name)?;
    // SAFETY: a valid C string.
    check(
        unsafe { libc::shm_unlink(name.c_str().as_ptr()) },
        "shm_unlink",
    )
    .map(drop)
    .map_err(|e| e.on(&name).into())
}

/// A fresh, unique shm name (`/PREFIX-PID-N`) whose object, if any, is
/// unlinked when the guard drops, also while a panic unwinds: tests and
/// tools use it so that nothing is left under `/dev/shm`.
#[derive(Debug)]
pub struct TempName(ShmName);

impl TempName {
    /// A name no other live process uses: `prefix`, this pid, a counter.
    /// `prefix` must be a valid name component (no slash).
    pub fn new(prefix: &str) -> Result<Self, ShmError> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        ShmName::new(&format!("/{prefix}-{}-{n}", std::process::id())).map(Self)
    }

    /// The name, with its leading slash.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The validated name.
    pub fn name(&self) -> &ShmName {
        &self.0
    }
}

impl Drop for TempName {
    fn drop(&mut self) {
        let _ = unlink(self.0.as_str());
    }
}

impl std::ops::Deref for TempName {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

/// The (device, inode) of whatever `name` denotes now, by `lstat` of its
/// path: no open, so a FIFO or a device at the name cannot block us;
/// `None` if nothing is there (or it cannot be looked at).
pub(crate) fn name_identity(name: &ShmName) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(name.path())
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_before_any_syscall() {
        for (bad, problem) in [
            ("noslash", "must start"),
            ("/", "empty"),
            ("/a/b", "no '/'"),
            ("/..", "'.'"),
            ("/a\0b", "NUL"),
        ] {
            let e = ShmName::new(bad).unwrap_err();
            assert!(e.to_string().contains(problem), "{bad:?}: {e}");
        }
        let long = format!("/{}", "x".repeat(NAME_MAX + 1));
        assert!(matches!(ShmName::new(&long), Err(ShmError::Name { .. })));
        let longest = format!("/{}", "x".repeat(NAME_MAX));
        assert_eq!(ShmName::new(&longest).unwrap().as_str(), longest);
        assert_eq!(
            ShmName::new("/ok").unwrap().path(),
            std::path::Path::new("/dev/shm/ok")
        );
    }
}
