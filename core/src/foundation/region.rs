//! A checked view of caller memory, and carving it into parts.

use core::fmt;
use core::marker::PhantomData;
use core::ptr::NonNull;

/// Why a [`Region`] cannot hold what was asked of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionError {
    /// `from_raw` was given a null pointer.
    Null,
    /// The region has `actual` bytes; the structure needs `needed`.
    TooSmall {
        /// Bytes the structure needs.
        needed: usize,
        /// Bytes the region has (after alignment, when carving).
        actual: usize,
    },
    /// The region starts at `address`, which is not a multiple of `required`.
    Misaligned {
        /// The alignment the structure needs, in bytes.
        required: usize,
        /// The region's start address.
        address: usize,
    },
    /// The size asked for does not fit the address space (or the layout's
    /// 64-bit length field).
    Overflow,
}

impl fmt::Display for RegionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Null => f.write_str("region pointer is null"),
            Self::TooSmall { needed, actual } => {
                write!(f, "region too small: {actual} bytes, {needed} needed")
            }
            Self::Misaligned { required, address } => write!(
                f,
                "region at {address:#x} is not aligned to {required} bytes"
            ),
            Self::Overflow => f.write_str("requested size overflows"),
        }
    }
}

/// Caller memory that interlink may place a structure in: a start pointer
/// and a length, valid for reads and writes for the lifetime `'a`.
///
/// A `Region` does not own its memory and may alias memory that other
/// processes map too; that is the point. It only promises that the bytes
/// exist. Structures placed in it check length and alignment through
/// [`Region::check`] before touching anything.
#[derive(Debug)]
pub struct Region<'a> {
    ptr: NonNull<u8>,
    len: usize,
    _memory: PhantomData<&'a mut [u8]>,
}

// SAFETY: a Region is a pointer and a length; the structures built on it
// synchronise all access to the bytes with atomics.
unsafe impl Send for Region<'_> {}
// SAFETY: as above; `&Region` exposes no access to the bytes by itself.
unsafe impl Sync for Region<'_> {}

impl<'a> Region<'a> {
    /// Borrows a byte slice as a region (tests, embedded buffers).
    pub fn new(bytes: &'a mut [u8]) -> Self {
        let len = bytes.len();
        Self {
            ptr: NonNull::from(bytes).cast(),
            len,
            _memory: PhantomData,
        }
    }

    /// Wraps raw memory, such as a shared mapping.
    ///
    /// # Safety
    ///
    /// `ptr..ptr + len` must be valid for reads and writes for all of `'a`,
    /// and nothing in this process may hold a Rust reference (`&`/`&mut`)
    /// to those bytes meanwhile. Other processes may map and write them.
    pub unsafe fn from_raw(ptr: *mut u8, len: usize) -> Result<Self, RegionError> {
        let ptr = NonNull::new(ptr).ok_or(RegionError::Null)?;
        Ok(Self {
            ptr,
            len,
            _memory: PhantomData,
        })
    }

    /// The region's length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the region has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The region's first byte.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Checks that the region holds `needed` bytes at an address aligned to
    /// `align` (a power of two), and returns its start.
    pub fn check(&self, needed: usize, align: usize) -> Result<NonNull<u8>, RegionError> {
        debug_assert!(align.is_power_of_two());
        let address = self.ptr.as_ptr() as usize;
        if address & (align - 1) != 0 {
            return Err(RegionError::Misaligned {
                required: align,
                address,
            });
        }
        if self.len < needed {
            return Err(RegionError::TooSmall {
                needed,
                actual: self.len,
            });
        }
        Ok(self.ptr)
    }

    /// Splits off the front `len` bytes, starting at the next multiple of
    /// `align`, as a region of their own; `self` keeps what follows. Use it
    /// to place several structures in one mapping.
    pub fn take(&mut self, len: usize, align: usize) -> Result<Region<'a>, RegionError> {
        debug_assert!(align.is_power_of_two());
        let address = self.ptr.as_ptr() as usize;
        let skip = address.wrapping_neg() & (align - 1);
        let needed = skip.checked_add(len).ok_or(RegionError::Overflow)?;
        if needed > self.len {
            return Err(RegionError::TooSmall {
                needed,
                actual: self.len,
            });
        }
        // SAFETY: skip <= needed <= self.len, so both pointers stay inside (or
        // one past the end of) the region; neither is null.
        let (front, rest) = unsafe {
            (
                NonNull::new_unchecked(self.ptr.as_ptr().add(skip)),
                NonNull::new_unchecked(self.ptr.as_ptr().add(needed)),
            )
        };
        self.ptr = rest;
        self.len -= needed;
        Ok(Region {
            ptr: front,
            len,
            _memory: PhantomData,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[repr(C, align(64))]
    struct Block([u8; 256]);

    #[test]
    fn check_reports_size_and_alignment() {
        let mut block = Block([0; 256]);
        let region = Region::new(&mut block.0);
        assert!(region.check(256, 64).is_ok());
        assert_eq!(
            region.check(257, 64),
            Err(RegionError::TooSmall {
                needed: 257,
                actual: 256
            })
        );
        let mut block = Block([0; 256]);
        let region = Region::new(&mut block.0[1..]);
        assert!(matches!(
            region.check(8, 8),
            Err(RegionError::Misaligned { required: 8, .. })
        ));
        assert!(region.check(8, 1).is_ok());
    }

    #[test]
    fn take_aligns_and_splits() {
        let mut block = Block([0; 256]);
        let mut region = Region::new(&mut block.0[3..]);
        let part = region.take(16, 32).unwrap();
        assert_eq!(part.as_ptr() as usize % 32, 0);
        assert_eq!(part.len(), 16);
        assert_eq!(region.as_ptr() as usize, part.as_ptr() as usize + 16);
        assert_eq!(region.len(), 253 - (32 - 3) - 16);
        assert!(matches!(
            region.take(1000, 1),
            Err(RegionError::TooSmall { .. })
        ));
        assert_eq!(
            region.take(usize::MAX, 64).unwrap_err(),
            RegionError::Overflow
        );
    }

    #[test]
    fn null_is_an_error() {
        // SAFETY: a null pointer is rejected before any use.
        let r = unsafe { Region::from_raw(core::ptr::null_mut(), 8) };
        assert_eq!(r.unwrap_err(), RegionError::Null);
    }
}
