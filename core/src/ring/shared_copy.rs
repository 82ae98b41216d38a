//! Copies between a process's own memory and shared memory that a peer may
//! write at the same moment: the one mechanism every ring uses to move
//! elements and payload bytes in and out of its slots.
//!
//! A plain read (`ptr::read`, `copy_nonoverlapping`) of bytes that another
//! thread or process writes concurrently is a data race, which is
//! undefined behaviour whatever the bytes are: the compiler may assume the
//! memory does not change under it (re-read it, split or merge the
//! accesses, or reason from a value that was never there). An honest peer
//! never does that — the ring's protocol hands each slot to one side at a
//! time — but a hostile or buggy one can. So the copies here access shared
//! memory only with **relaxed atomic** loads and stores, of the widest
//! lock-free width the alignment allows (8 bytes on 64-bit targets, 4 on
//! 32-bit ones, down to single bytes at unaligned ends). A concurrent peer
//! write then yields, at worst, a torn mix of old and new words — junk
//! *values*, which every `T: Plain` tolerates — never undefined behaviour.
//!
//! Relaxed atomic loads and stores of a machine word compile to the same
//! single `mov` (x86) or `ldr`/`str` (Arm) as plain ones: for one `u64`
//! element the copy is one load and one store. What they cost is
//! vectorisation: a long copy moves a word per instruction instead of a
//! vector register, and cannot use `memcpy`.
//!
//! Each shared location is always accessed at one width, whichever call
//! touches it: an element slot at the unit its type's alignment gives
//! (elements aligned to less than 2 bytes are copied one element at a
//! time, so the split of a slot never depends on the run it is part of),
//! and the byte ring's buffer in whole aligned words ([`read_words`],
//! [`write_words`]; single bytes under Miri, see [`BufUnit`]). Racing
//! atomic accesses of different sizes to one location are not part of
//! Rust's memory model.
//!
//! The memory the caller owns (the `dst` of a copy out, the `src` of a copy
//! in) is accessed plainly. Ordering comes from the rings' index and
//! sequence words (`Acquire`/`Release`), not from these copies.
//!
//! Under `cfg(loom)` the single-value functions are plain accesses, made
//! inside loom's tracked `UnsafeCell` closures by their callers, so that a
//! model still checks who touches a slot when; the bulk copies do not exist
//! there (the rings copy slot by slot under loom).

#[cfg(not(loom))]
use core::mem::{align_of, size_of, MaybeUninit};
#[cfg(not(loom))]
use core::sync::atomic::{AtomicU16, AtomicU32, AtomicU8, Ordering::Relaxed};

use crate::foundation::plain::Plain;

/// The widest lock-free atomic: the unit of long copies.
#[cfg(all(not(loom), target_has_atomic = "64"))]
type Word = core::sync::atomic::AtomicU64;
#[cfg(all(not(loom), not(target_has_atomic = "64")))]
type Word = AtomicU32;

/// Bytes in a [`Word`].
#[cfg(not(loom))]
const WORD: usize = size_of::<Word>();

/// A lock-free atomic integer used as a unit of copying.
#[cfg(not(loom))]
trait Unit {
    /// The integer it holds.
    type Int: Copy;
    /// A relaxed atomic load.
    ///
    /// # Safety
    ///
    /// `p` is valid for reads of `size_of::<Self::Int>()` bytes and aligned
    /// to that size; any concurrent access to them is atomic (or by
    /// another process).
    unsafe fn load(p: *const u8) -> Self::Int;
    /// A relaxed atomic store, with the requirements of [`Unit::load`] for
    /// writes.
    unsafe fn store(p: *mut u8, v: Self::Int);
}

#[cfg(not(loom))]
macro_rules! unit {
    ($($atomic:ty => $int:ty),*) => {$(
        impl Unit for $atomic {
            type Int = $int;
            #[inline(always)]
            unsafe fn load(p: *const u8) -> $int {
                // SAFETY: forwarded from the caller (valid, aligned, every
                // bit pattern a valid integer); atomics may alias shared
                // memory that others write.
                unsafe { <$atomic>::from_ptr(p.cast_mut().cast::<$int>()) }.load(Relaxed)
            }
            #[inline(always)]
            unsafe fn store(p: *mut u8, v: $int) {
                // SAFETY: as for `load`.
                unsafe { <$atomic>::from_ptr(p.cast::<$int>()) }.store(v, Relaxed)
            }
        }
    )*};
}

#[cfg(all(not(loom), target_has_atomic = "64"))]
unit!(core::sync::atomic::AtomicU64 => u64);
#[cfg(not(loom))]
unit!(AtomicU32 => u32, AtomicU16 => u16, AtomicU8 => u8);

/// Copies `bytes` bytes (a multiple of `U`'s size) out of shared `src`
/// (aligned for `U`) into private `dst` (any alignment), a unit at a time.
///
/// # Safety
///
/// As for [`copy_from_shared`], with `src` aligned for `U`.
#[cfg(not(loom))]
#[inline(always)]
unsafe fn units_from<U: Unit>(src: *const u8, dst: *mut u8, bytes: usize) {
    let size = size_of::<U::Int>();
    let mut i = 0;
    // Four units per turn: atomics are not unrolled by the compiler, and
    // the loop's own instructions would otherwise halve the rate.
    while i + 4 * size <= bytes {
        // SAFETY: i + 4·size <= bytes; src + i stays aligned for U; dst is
        // private, written unaligned.
        unsafe {
            let v = [
                U::load(src.add(i)),
                U::load(src.add(i + size)),
                U::load(src.add(i + 2 * size)),
                U::load(src.add(i + 3 * size)),
            ];
            dst.add(i).cast::<[U::Int; 4]>().write_unaligned(v);
        }
        i += 4 * size;
    }
    while i < bytes {
        // SAFETY: i + size <= bytes (a multiple of size); as above.
        unsafe {
            let v = U::load(src.add(i));
            dst.add(i).cast::<U::Int>().write_unaligned(v);
        }
        i += size;
    }
}

/// Copies `bytes` bytes (a multiple of `U`'s size) from private `src` (any
/// alignment) into shared `dst` (aligned for `U`), a unit at a time.
///
/// # Safety
///
/// As for [`copy_to_shared`], with `dst` aligned for `U`.
#[cfg(not(loom))]
#[inline(always)]
unsafe fn units_to<U: Unit>(src: *const u8, dst: *mut u8, bytes: usize) {
    let size = size_of::<U::Int>();
    let mut i = 0;
    while i + 4 * size <= bytes {
        // SAFETY: as in `units_from`, the other way round.
        unsafe {
            let v = src.add(i).cast::<[U::Int; 4]>().read_unaligned();
            U::store(dst.add(i), v[0]);
            U::store(dst.add(i + size), v[1]);
            U::store(dst.add(i + 2 * size), v[2]);
            U::store(dst.add(i + 3 * size), v[3]);
        }
        i += 4 * size;
    }
    while i < bytes {
        // SAFETY: as in `units_from`, the other way round.
        unsafe {
            let v = src.add(i).cast::<U::Int>().read_unaligned();
            U::store(dst.add(i), v);
        }
        i += size;
    }
}

/// Bytes from `p` to the next multiple of `align` (a power of two), at
/// most `len`.
#[cfg(not(loom))]
#[inline(always)]
fn to_aligned(p: *const u8, align: usize, len: usize) -> usize {
    (p.addr().wrapping_neg() & (align - 1)).min(len)
}

/// Copies `len` bytes out of shared memory at `src` (any alignment) into
/// `dst`: single bytes up to the first word boundary of `src`, then whole
/// words, then single bytes.
///
/// # Safety
///
/// `src` valid for `len` reads (a peer may write them concurrently),
/// `dst` valid for `len` writes and private to the caller; the two do not
/// overlap.
#[cfg(not(loom))]
#[inline]
pub(crate) unsafe fn copy_bytes_from_shared(src: *const u8, dst: *mut u8, len: usize) {
    let word = size_of::<Word>();
    let head = to_aligned(src, word, len);
    let body = (len - head) & !(word - 1);
    // SAFETY: three consecutive runs covering 0..len; the middle one starts
    // word-aligned in `src` and is a whole number of words.
    unsafe {
        units_from::<AtomicU8>(src, dst, head);
        units_from::<Word>(src.add(head), dst.add(head), body);
        units_from::<AtomicU8>(
            src.add(head + body),
            dst.add(head + body),
            len - head - body,
        );
    }
}

/// Copies `len` bytes from `src` into shared memory at `dst` (any
/// alignment), as [`copy_bytes_from_shared`] does the other way.
///
/// # Safety
///
/// `src` valid for `len` reads and private to the caller, `dst` valid for
/// `len` writes (a peer may access them concurrently); no overlap.
#[cfg(not(loom))]
#[inline]
pub(crate) unsafe fn copy_bytes_to_shared(src: *const u8, dst: *mut u8, len: usize) {
    let word = size_of::<Word>();
    let head = to_aligned(dst, word, len);
    let body = (len - head) & !(word - 1);
    // SAFETY: as in `copy_bytes_from_shared`, aligned on `dst`.
    unsafe {
        units_to::<AtomicU8>(src, dst, head);
        units_to::<Word>(src.add(head), dst.add(head), body);
        units_to::<AtomicU8>(
            src.add(head + body),
            dst.add(head + body),
            len - head - body,
        );
    }
}

/// Copies `len` bytes out of a shared buffer at `src` (any alignment) into
/// `dst`, reading only whole aligned units `U` ("words"): a word the range
/// covers in part is loaded whole and the wanted bytes taken from it. For
/// a buffer that is always accessed in the same units.
///
/// # Safety
///
/// Every aligned word that `src..src + len` touches is valid for reads and
/// the caller's to read (a peer may write it concurrently); `dst` valid for
/// `len` writes, private, not overlapping.
#[cfg(not(loom))]
#[inline]
unsafe fn read_units<U: Unit>(src: *const u8, dst: *mut u8, len: usize) {
    let unit = size_of::<U::Int>();
    if len == 0 {
        return;
    }
    let start = src.addr() & (unit - 1);
    // SAFETY: the word containing `src` is one the range touches.
    let mut word = unsafe { src.sub(start) };
    let mut done = 0;
    if start != 0 {
        let n = (unit - start).min(len);
        let mut tmp = [0u8; WORD];
        // SAFETY: `word` is aligned and valid (caller); tmp is private and
        // holds a word; start + n <= unit and n <= len.
        unsafe {
            units_from::<U>(word, tmp.as_mut_ptr(), unit);
            tmp.as_ptr().add(start).copy_to_nonoverlapping(dst, n);
            word = word.add(unit);
        }
        done = n;
    }
    let body = (len - done) & !(unit - 1);
    // SAFETY: whole aligned words inside the range; dst + done.. is the
    // caller's.
    unsafe {
        units_from::<U>(word, dst.add(done), body);
        word = word.add(body);
    }
    done += body;
    if done < len {
        let mut tmp = [0u8; WORD];
        // SAFETY: the last word the range touches; len − done < unit.
        unsafe {
            units_from::<U>(word, tmp.as_mut_ptr(), unit);
            tmp.as_ptr()
                .copy_to_nonoverlapping(dst.add(done), len - done);
        }
    }
}

/// Copies `len` bytes from `src` into a shared buffer at `dst` (any
/// alignment), writing only whole aligned units `U` ("words"): a word the
/// range covers in part is loaded, the new bytes merged in, and stored
/// back. For a buffer that is always accessed in the same units.
///
/// # Safety
///
/// Every aligned word that `dst..dst + len` touches is valid for reads and
/// writes and the caller's alone by the protocol (bytes of a partly
/// covered word outside the range are rewritten with the value just read,
/// so an honest peer must not be writing them; a hostile one only garbles
/// them); `src` valid for `len` reads, private, not overlapping.
#[cfg(not(loom))]
#[inline]
unsafe fn write_units<U: Unit>(src: *const u8, dst: *mut u8, len: usize) {
    let unit = size_of::<U::Int>();
    if len == 0 {
        return;
    }
    let start = dst.addr() & (unit - 1);
    // SAFETY: the word containing `dst` is one the range touches.
    let mut word = unsafe { dst.sub(start) };
    let mut done = 0;
    if start != 0 {
        let n = (unit - start).min(len);
        let mut tmp = [0u8; WORD];
        // SAFETY: as in `read_words`, then the merged word written back.
        unsafe {
            units_from::<U>(word, tmp.as_mut_ptr(), unit);
            src.copy_to_nonoverlapping(tmp.as_mut_ptr().add(start), n);
            units_to::<U>(tmp.as_ptr(), word, unit);
            word = word.add(unit);
        }
        done = n;
    }
    let body = (len - done) & !(unit - 1);
    // SAFETY: whole aligned words inside the range.
    unsafe {
        units_to::<U>(src.add(done), word, body);
        word = word.add(body);
    }
    done += body;
    if done < len {
        let mut tmp = [0u8; WORD];
        // SAFETY: the last word the range touches; len − done < unit.
        unsafe {
            units_from::<U>(word, tmp.as_mut_ptr(), unit);
            src.add(done)
                .copy_to_nonoverlapping(tmp.as_mut_ptr(), len - done);
            units_to::<U>(tmp.as_ptr(), word, unit);
        }
    }
}

/// The unit in which the byte ring's buffer is accessed: a [`Word`]. Under
/// Miri, single bytes: its weak-memory emulation cannot yet follow a plain
/// write over part of an atomically written word (a view's writes, or a
/// test's scribbles), and stops with an internal error; with byte units
/// every plain write covers whole units. The word logic itself is checked
/// under Miri by this module's tests, which name the word unit.
#[cfg(all(not(loom), not(miri)))]
type BufUnit = Word;
#[cfg(all(not(loom), miri))]
type BufUnit = AtomicU8;

/// Copies `len` bytes out of the byte ring's buffer at `src` into `dst`, in
/// whole aligned [`BufUnit`]s (see [`read_units`]).
///
/// # Safety
///
/// As for [`read_units`].
#[cfg(not(loom))]
#[inline]
pub(crate) unsafe fn read_words(src: *const u8, dst: *mut u8, len: usize) {
    // SAFETY: forwarded from the caller.
    unsafe { read_units::<BufUnit>(src, dst, len) }
}

/// Copies `len` bytes from `src` into the byte ring's buffer at `dst`, in
/// whole aligned [`BufUnit`]s (see [`write_units`]).
///
/// # Safety
///
/// As for [`write_units`].
#[cfg(not(loom))]
#[inline]
pub(crate) unsafe fn write_words(src: *const u8, dst: *mut u8, len: usize) {
    // SAFETY: forwarded from the caller.
    unsafe { write_units::<BufUnit>(src, dst, len) }
}

/// Copies `len` bytes out of a shared buffer that is always accessed in
/// 32-bit words (the many-to-one ring's, whose stamps are `AtomicU32`s),
/// in whole aligned words (see [`read_units`]).
///
/// # Safety
///
/// As for [`read_units`].
#[cfg(not(loom))]
#[inline]
pub(crate) unsafe fn read_u32_words(src: *const u8, dst: *mut u8, len: usize) {
    // SAFETY: forwarded from the caller.
    unsafe { read_units::<AtomicU32>(src, dst, len) }
}

/// Copies `len` bytes from `src` into a shared buffer that is always
/// accessed in 32-bit words, in whole aligned words (see [`write_units`]).
///
/// # Safety
///
/// As for [`write_units`].
#[cfg(not(loom))]
#[inline]
pub(crate) unsafe fn write_u32_words(src: *const u8, dst: *mut u8, len: usize) {
    // SAFETY: forwarded from the caller.
    unsafe { write_units::<AtomicU32>(src, dst, len) }
}

/// Copies `count` elements out of shared slots at `src` into `dst`. The
/// unit is chosen at compile time from `T`'s alignment (a `T` aligned to 8
/// is copied in 8-byte words), so for one word-sized element this is one
/// load and one store.
///
/// # Safety
///
/// `src` valid for reads of `count` elements and aligned for `T` (a peer
/// may write them concurrently); `dst` valid for `count` writes, aligned,
/// private to the caller; no overlap.
#[cfg(not(loom))]
#[inline(always)]
pub(crate) unsafe fn copy_from_shared<T: Plain>(src: *const T, dst: *mut T, count: usize) {
    let bytes = count * size_of::<T>();
    let (s, d) = (src.cast::<u8>(), dst.cast::<u8>());
    // `T: Plain` has no padding, so its size is a multiple of its
    // alignment, hence of the unit chosen.
    // SAFETY: forwarded from the caller; `src` is aligned for the unit.
    unsafe {
        if align_of::<T>() >= size_of::<Word>() {
            units_from::<Word>(s, d, bytes)
        } else if align_of::<T>() >= 4 {
            units_from::<AtomicU32>(s, d, bytes)
        } else if align_of::<T>() >= 2 {
            units_from::<AtomicU16>(s, d, bytes)
        } else {
            // One element at a time: a slot is then split the same way by
            // every call (by its own address and size), never at a width
            // that depends on where a run of slots started.
            let size = size_of::<T>();
            for i in 0..count {
                copy_bytes_from_shared(s.add(i * size), d.add(i * size), size)
            }
        }
    }
}

/// Copies `count` elements from `src` into shared slots at `dst`, as
/// [`copy_from_shared`] does the other way.
///
/// # Safety
///
/// `src` valid for `count` reads, aligned, private to the caller; `dst`
/// valid for writes of `count` elements and aligned for `T` (a peer may
/// access them concurrently); no overlap.
#[cfg(not(loom))]
#[inline(always)]
pub(crate) unsafe fn copy_to_shared<T: Plain>(src: *const T, dst: *mut T, count: usize) {
    let bytes = count * size_of::<T>();
    let (s, d) = (src.cast::<u8>(), dst.cast::<u8>());
    // SAFETY: as in `copy_from_shared`.
    unsafe {
        if align_of::<T>() >= size_of::<Word>() {
            units_to::<Word>(s, d, bytes)
        } else if align_of::<T>() >= 4 {
            units_to::<AtomicU32>(s, d, bytes)
        } else if align_of::<T>() >= 2 {
            units_to::<AtomicU16>(s, d, bytes)
        } else {
            // One element at a time, as in `copy_from_shared`.
            let size = size_of::<T>();
            for i in 0..count {
                copy_bytes_to_shared(s.add(i * size), d.add(i * size), size)
            }
        }
    }
}

/// Reads one element out of the shared slot at `src`.
///
/// # Safety
///
/// `src` valid for reads and aligned for `T`; a peer may write it
/// concurrently. Under loom: call it inside the slot cell's `with`.
#[inline(always)]
pub(crate) unsafe fn load<T: Plain>(src: *const T) -> T {
    #[cfg(not(loom))]
    {
        let mut out = MaybeUninit::<T>::uninit();
        // SAFETY: forwarded from the caller; `out` is private; every byte
        // of it is written, and any bytes are a valid `T: Plain`.
        unsafe {
            copy_from_shared(src, out.as_mut_ptr(), 1);
            out.assume_init()
        }
    }
    #[cfg(loom)]
    // SAFETY: forwarded from the caller; loom's cell tracks the access.
    unsafe {
        src.read()
    }
}

/// Writes one element into the shared slot at `dst`.
///
/// # Safety
///
/// `dst` valid for writes and aligned for `T`; a peer may access it
/// concurrently. Under loom: call it inside the slot cell's `with_mut`.
#[inline(always)]
pub(crate) unsafe fn store<T: Plain>(dst: *mut T, value: T) {
    #[cfg(not(loom))]
    // SAFETY: forwarded from the caller; `value` is a private local.
    unsafe {
        copy_to_shared(&value, dst, 1)
    };
    #[cfg(loom)]
    // SAFETY: forwarded from the caller; loom's cell tracks the access.
    unsafe {
        dst.write(value)
    };
}

#[cfg(all(test, not(loom)))]
mod tests;
