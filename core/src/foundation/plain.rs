//! Types that may be copied through memory another process can write.

/// A type for which every bit pattern of `size_of::<Self>()` bytes is a
/// valid value, and which holds no pointer, reference or handle.
///
/// Elements of interlink's rings are copied byte for byte into and out of a
/// shared mapping that a buggy or hostile peer may scribble on. Reading such
/// bytes as a `bool`, `char`, enum, reference or `NonZero*` could produce an
/// invalid value, which is undefined behaviour; reading them as a `Plain`
/// type yields, at worst, a junk value. Pointers are excluded because an
/// address means nothing in another address space.
///
/// # Safety
///
/// Implement it only for a type that
/// - is `#[repr(C)]` or `#[repr(transparent)]` (a fixed layout that two
///   builds agree on),
/// - has only `Plain` fields and **no padding bytes** (padding is
///   uninitialised memory, which may not be copied into a value you read
///   back), and
/// - holds no pointer, reference, file descriptor or other handle.
///
/// ```
/// use interlink_core::Plain;
///
/// #[derive(Clone, Copy)]
/// #[repr(C)]
/// struct Quote {
///     instrument: u32,
///     side: u32, // 0 = bid, 1 = ask: an integer, not an enum
///     price: i64,
///     size: u64,
/// }
///
/// // SAFETY: repr(C), no padding (4 + 4 + 8 + 8), only integer fields.
/// unsafe impl Plain for Quote {}
/// ```
pub unsafe trait Plain: Copy + Send + Sync + 'static {}

macro_rules! plain {
    ($($t:ty),* $(,)?) => {
        // SAFETY: integers and floats: every bit pattern is a value, no padding,
        // no pointers.
        $(unsafe impl Plain for $t {})*
    };
}

plain!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128, f32, f64);

// SAFETY: an array of `Plain` has no padding between elements (size is a
// multiple of alignment) and every bit pattern of each element is valid.
unsafe impl<T: Plain, const N: usize> Plain for [T; N] {}

// `usize`/`isize` are deliberately absent: their width differs between 32-
// and 64-bit processes that may share one mapping.
