//! Elements whose size the C program gives at run time: the channels and
//! the mutex are instantiated for `[u8; N]` for every `N` in [`sizes!`],
//! and a table maps a size to its instantiation.
//!
//! A `[u8; N]` slot has the same place in the ring as any element of `N`
//! bytes and alignment at most 8: the [shared alignment] depends only on
//! the size for those (the largest power of two up to 8 that divides
//! it). Its type id is `[u8; N]`'s, so the C API opens with
//! [`ElementCheck::LayoutOnly`](interlink_core::ElementCheck::LayoutOnly)
//! and a Rust peer that opens a structure a C program created must too.
//!
//! [shared alignment]: interlink_core::layout::shared_align_of

use std::ffi::c_int;

use crate::error::{fail, INVALID_ARGUMENT};

/// Calls `$m!` with every supported element size: 1 to 64 bytes, then
/// multiples of 8 up to 256, then multiples of 64 up to 1024.
macro_rules! sizes {
    ($m:ident) => {
        $m! {
            1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30
            31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58
            59 60 61 62 63 64 72 80 88 96 104 112 120 128 136 144 152 160 168 176 184 192 200
            208 216 224 232 240 248 256 320 384 448 512 576 640 704 768 832 896 960 1024
        }
    };
}
pub(crate) use sizes;

/// Whether the C API supports elements of `size` bytes.
fn size_supported(size: usize) -> bool {
    size > 0
        && (size <= 64
            || (size <= 256 && size.is_multiple_of(8))
            || (size <= 1024 && size.is_multiple_of(64)))
}

/// Checks an element's size and alignment as the C program gives them:
/// the size must be supported, the alignment a power of two up to 8 that
/// divides the size (any C type's does).
pub(crate) fn check(size: usize, align: usize) -> Result<(), c_int> {
    if !size_supported(size) {
        return Err(fail(
            INVALID_ARGUMENT,
            format_args!(
                "element size {size} not supported (1..=64, multiples of 8 up to 256, multiples of 64 up to 1024)"
            ),
        ));
    }
    if !align.is_power_of_two() || align > 8 || !size.is_multiple_of(align) {
        return Err(fail(
            INVALID_ARGUMENT,
            format_args!(
                "element alignment {align} not supported for size {size} (a power of two up to 8 dividing the size)"
            ),
        ));
    }
    Ok(())
}

/// Finds `size`'s entry in a table built by [`sizes!`] (sorted by size).
pub(crate) fn lookup<F: Copy>(table: &[(usize, F)], size: usize) -> Option<F> {
    table
        .binary_search_by_key(&size, |&(n, _)| n)
        .ok()
        .map(|i| table[i].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! list {
        ($($n:literal)*) => { &[$($n),*] };
    }

    #[test]
    fn the_table_and_the_check_agree() {
        let listed: &[usize] = sizes!(list);
        assert!(listed.windows(2).all(|w| w[0] < w[1]), "sorted");
        let supported: Vec<usize> = (0..2000).filter(|&n| size_supported(n)).collect();
        assert_eq!(listed, &supported[..]);
    }
}
