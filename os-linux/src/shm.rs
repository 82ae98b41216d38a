//! Shared mappings: memory that several processes see as the same bytes.

use std::ptr::NonNull;

use interlink_core::Region;

use crate::error::{check, OsError};

/// A `MAP_SHARED` mapping, unmapped on drop.
#[derive(Debug)]
pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: a mapping is plain memory; the structures placed in it
// synchronise through atomics.
unsafe impl Send for Mapping {}
// SAFETY: as above; `&Mapping` only hands out raw pointers and regions.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// An anonymous shared mapping of `len` bytes, zero-filled and
    /// prefaulted (`MAP_POPULATE`): inherited across `fork`, so parent and
    /// child share it.
    pub fn anonymous(len: usize) -> Result<Self, OsError> {
        if len == 0 {
            return Err(OsError::new("mmap", libc::EINVAL).on("0 bytes"));
        }
        // SAFETY: a fresh anonymous mapping; no existing memory is touched.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(OsError::last("mmap").on(format_args!("{len} bytes")));
        }
        Ok(Self {
            ptr: NonNull::new(ptr.cast()).ok_or_else(|| OsError::new("mmap", libc::EINVAL))?,
            len,
        })
    }

    /// The mapping's length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping is empty (never: mappings have at least one byte).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first byte.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The mapping as a region for interlink's structures, borrowed for as
    /// long as the mapping lives.
    pub fn region(&self) -> Region<'_> {
        // SAFETY: the mapping is valid for reads and writes until drop, which
        // the borrow prevents; Rust code reaches it only through raw
        // pointers and atomics.
        unsafe { Region::from_raw(self.ptr.as_ptr(), self.len) }.expect("mmap never returns null")
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: ptr/len describe a mapping this value owns; nothing
        // borrows it any more (regions borrow `self`).
        let r = unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
        let _ = check(r, "munmap");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_mapping_is_shared_with_a_forked_child() {
        let map = Mapping::anonymous(4096).unwrap();
        assert_eq!(map.as_ptr() as usize % 4096, 0);
        // SAFETY: fork in a test: the child only writes to the mapping and
        // calls _exit, both async-signal-safe.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            // SAFETY: the mapping is 4096 bytes; the child then exits at once.
            unsafe {
                map.as_ptr().add(100).write_volatile(0xab);
                libc::_exit(0);
            }
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        // SAFETY: inside the mapping; the child has exited.
        assert_eq!(unsafe { map.as_ptr().add(100).read_volatile() }, 0xab);
        assert!(Mapping::anonymous(0).is_err());
    }
}
