//! Copying payloads between caller buffers and the ring without taking
//! glibc's slow `memcpy` path.
//!
//! On some x86 machines (these included, at times) glibc's `memcpy` of 2 KiB
//! or more uses `rep movsb`, which runs at 2–3 GB/s instead of 45–75 GB/s
//! when `(dst − src) mod 4096` is small (4K aliasing between the loads and
//! the stores). Payloads sit in the ring at 8-byte alignment while caller
//! buffers sit anywhere, so a ring that copies must expect every distance.
//! When the distance is in the slow window, [`copy`] splits the copy into
//! chunks below the `rep movsb` threshold, which take glibc's vector loop.

/// Copies shorter than this never take the `rep movsb` path.
const REP_MOVSB_MIN: usize = 2048;

/// Chunk size for copies in the slow window: under [`REP_MOVSB_MIN`].
const CHUNK: usize = 1024;

/// `(dst − src) mod 4096` below this (and above 0) is the slow window;
/// measured slow for 1–31, widened to a cache line for margin.
const SLOW_WINDOW: usize = 64;

/// Whether a copy of `len` bytes from `src` to `dst` would risk the slow
/// path, and is therefore chunked.
#[inline(always)]
pub(crate) fn is_chunked(src: *const u8, dst: *const u8, len: usize) -> bool {
    let distance = (dst as usize).wrapping_sub(src as usize) & 4095;
    len >= REP_MOVSB_MIN && distance != 0 && distance < SLOW_WINDOW
}

/// Copies `len` bytes from `src` to `dst`, like `copy_nonoverlapping`.
///
/// # Safety
///
/// As for [`core::ptr::copy_nonoverlapping`]: `src` valid for `len` reads,
/// `dst` for `len` writes, the two not overlapping.
#[inline(always)]
pub(crate) unsafe fn copy(src: *const u8, dst: *mut u8, len: usize) {
    if !is_chunked(src, dst, len) {
        // SAFETY: forwarded from the caller.
        unsafe { core::ptr::copy_nonoverlapping(src, dst, len) };
        return;
    }
    let mut done = 0;
    while done < len {
        let n = CHUNK.min(len - done);
        // SAFETY: done + n <= len, so both runs stay inside the caller's.
        unsafe { core::ptr::copy_nonoverlapping(src.add(done), dst.add(done), n) };
        done += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_copies_are_exact_at_every_distance() {
        let len = if cfg!(miri) { 2100 } else { 5000 };
        let src: Vec<u8> = (0..len + 64).map(|i| (i * 7 + 3) as u8).collect();
        let mut dst = vec![0u8; len + 64];
        for (s, d) in [(0, 0), (0, 1), (3, 0), (1, 33), (5, 5), (0, 63)] {
            dst.fill(0);
            // SAFETY: both runs are inside their vectors, which are distinct.
            unsafe { copy(src.as_ptr().add(s), dst.as_mut_ptr().add(d), len) };
            assert_eq!(&dst[d..d + len], &src[s..s + len]);
            assert!(dst[..d].iter().all(|&b| b == 0));
            assert!(dst[d + len..].iter().all(|&b| b == 0));
        }
        assert!(is_chunked(0x1000 as *const u8, 0x2001 as *const u8, 4096));
        assert!(!is_chunked(0x1000 as *const u8, 0x2040 as *const u8, 4096));
        assert!(!is_chunked(0x1000 as *const u8, 0x2001 as *const u8, 2047));
        assert!(!is_chunked(0x1001 as *const u8, 0x2001 as *const u8, 4096));
    }
}
