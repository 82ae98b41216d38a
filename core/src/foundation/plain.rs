//! Types that may be copied through memory another process can write, and
//! the type ids that tell them apart.

/// A type for which every bit pattern of `size_of::<Self>()` bytes is a
/// valid value, and which holds no pointer, reference or handle; with a
/// 64-bit id, [`Plain::TYPE_ID`], that names what its bytes mean.
///
/// Elements of interlink's rings are copied byte for byte into and out of a
/// shared mapping that a buggy or hostile peer may scribble on. Reading such
/// bytes as a `bool`, `char`, enum, reference or `NonZero*` could produce an
/// invalid value, which is undefined behaviour; reading them as a `Plain`
/// type yields, at worst, a junk value. Pointers are excluded because an
/// address means nothing in another address space.
///
/// # The type id
///
/// A structure's header records its element's size, alignment and
/// `TYPE_ID` (its *fingerprint*, [`crate::layout::Fingerprint`]), and
/// attaching checks all three: a ring of `u64` opened as a ring of `f64`
/// (same size, same alignment) is refused with
/// [`AttachError::Element`](crate::layout::AttachError::Element). The
/// built-in types have distinct ids ([`type_id_of_name`] of their name:
/// `"u64"`, `"f64"`, …); an array's id is derived from its element's id
/// and its length. For your own structs, use [`plain_struct!`](crate::plain_struct),
/// which derives the id from the struct's name, its fields' names and
/// types and its layout — or implement the trait by hand with a name of
/// your choosing, versioned, so that changing what the bytes mean changes
/// the id:
///
/// ```
/// use interlink_core::plain::{type_id_of_name, Plain};
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
/// unsafe impl Plain for Quote {
///     // Bump the version whenever a field changes meaning or place.
///     const TYPE_ID: u64 = type_id_of_name("my-app::Quote/v1");
/// }
/// ```
///
/// Both programs must agree on the id: derive it from the same name (or
/// the same `plain_struct!` definition) on both sides. A program that
/// really wants only the size and alignment checked (reading another
/// program's records as bytes, say) opts out explicitly with
/// [`ElementCheck::LayoutOnly`](crate::layout::ElementCheck::LayoutOnly).
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
/// (`TYPE_ID` is not a safety matter: a wrong id makes attaching refuse
/// or accept the wrong type, never undefined behaviour.)
pub unsafe trait Plain: Copy + Send + Sync + 'static {
    /// The id recorded in a structure's header and checked on attach: the
    /// same in every program that means the same thing by these bytes,
    /// different for types that mean different things.
    const TYPE_ID: u64;
}

/// A stable 64-bit id for a type name (FNV-1a), for [`Plain::TYPE_ID`].
///
/// The hash: 64-bit FNV-1a over the name's UTF-8 bytes (offset basis
/// `0xcbf29ce484222325`, prime `0x100000001b3`).
///
/// ```
/// use interlink_core::plain::type_id_of_name;
/// const QUOTE: u64 = type_id_of_name("my-app::Quote/v1");
/// assert_ne!(QUOTE, type_id_of_name("my-app::Quote/v2"));
/// ```
pub const fn type_id_of_name(name: &str) -> u64 {
    type_id_extend(0xcbf2_9ce4_8422_2325, name.as_bytes())
}

/// Continues the FNV-1a hash `id` over `bytes`: how [`plain_struct!`](crate::plain_struct)
/// and arrays derive an id from their parts
/// (`type_id_extend(type_id_of_name(a), b) == type_id_of_name(a ++ b)`).
pub const fn type_id_extend(id: u64, bytes: &[u8]) -> u64 {
    let mut hash = id;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

/// [`type_id_extend`] over a 64-bit word's little-endian bytes.
pub const fn type_id_extend_word(id: u64, word: u64) -> u64 {
    type_id_extend(id, &word.to_le_bytes())
}

macro_rules! plain {
    ($($t:ident),* $(,)?) => {
        $(
            // SAFETY: integers and floats: every bit pattern is a value, no
            // padding, no pointers.
            unsafe impl Plain for $t {
                const TYPE_ID: u64 = type_id_of_name(stringify!($t));
            }
        )*
    };
}

plain!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128, f32, f64);

// SAFETY: an array of `Plain` has no padding between elements (size is a
// multiple of alignment) and every bit pattern of each element is valid.
unsafe impl<T: Plain, const N: usize> Plain for [T; N] {
    /// Derived from the element's id and the length: `[u8; 8]`, `[u8; 4]`
    /// and `u64` all differ.
    const TYPE_ID: u64 = type_id_extend_word(
        type_id_extend_word(type_id_of_name("[T; N]"), T::TYPE_ID),
        N as u64,
    );
}

// `usize`/`isize` are deliberately absent: their width differs between 32-
// and 64-bit processes that may share one mapping.

/// Defines a `#[repr(C)]` struct of [`Plain`] fields and implements
/// [`Plain`] for it, with a [`Plain::TYPE_ID`] derived from the struct's
/// name, each field's name, type id and offset, and the struct's size.
///
/// The macro adds `#[repr(C)]` and `#[derive(Clone, Copy)]` (do not write
/// them yourself; other attributes and doc comments pass through), and
/// refuses to compile a struct with padding bytes or a field that is not
/// `Plain`: no `unsafe` on your side.
///
/// ```
/// interlink_core::plain_struct! {
///     /// One quote.
///     #[derive(Debug, PartialEq)]
///     pub struct Quote {
///         pub instrument: u32,
///         pub side: u32,
///         pub price: i64,
///     }
/// }
///
/// interlink_core::plain_struct! {
///     struct Fill { instrument: u32, side: u32, price: i64 }
/// }
///
/// use interlink_core::Plain;
/// // Same layout, another name: another type.
/// assert_ne!(Quote::TYPE_ID, Fill::TYPE_ID);
/// ```
///
/// Two programs that define the struct the same way (name, fields in
/// order, their types) get the same id, whatever module or crate it lives
/// in. The alignment is not part of the id (it may differ between 32- and
/// 64-bit targets; the header records the shared one). Renaming a field,
/// changing its type or order, or renaming the struct changes the id: to
/// keep an id stable across such changes, or to version it explicitly,
/// implement [`Plain`] by hand with [`type_id_of_name`] (see the trait's
/// docs). Generic structs are not supported.
///
/// ```compile_fail
/// interlink_core::plain_struct! {
///     struct Padded { a: u8, b: u32 } // 3 padding bytes after `a`
/// }
/// ```
#[macro_export]
macro_rules! plain_struct {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $fvis:vis $field:ident : $fty:ty
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy)]
        $vis struct $name {
            $(
                $(#[$fmeta])*
                $fvis $field: $fty,
            )*
        }

        const _: () = ::core::assert!(
            ::core::mem::size_of::<$name>()
                == 0 $(+ ::core::mem::size_of::<$fty>())*,
            concat!(
                "plain_struct!: ",
                stringify!($name),
                " has padding bytes; reorder its fields or add explicit padding fields"
            ),
        );

        // SAFETY: repr(C); every field is `Plain` (each names its
        // `Plain::TYPE_ID` below, which does not compile otherwise); the
        // fields' sizes add up to the struct's, so there is no padding.
        unsafe impl $crate::plain::Plain for $name {
            const TYPE_ID: u64 = {
                let id = $crate::plain::type_id_of_name(concat!("struct ", stringify!($name)));
                let id = $crate::plain::type_id_extend_word(
                    id,
                    ::core::mem::size_of::<$name>() as u64,
                );
                $(
                    let id = $crate::plain::type_id_extend_word(
                        id,
                        stringify!($field).len() as u64,
                    );
                    let id = $crate::plain::type_id_extend(id, stringify!($field).as_bytes());
                    let id = $crate::plain::type_id_extend_word(
                        id,
                        <$fty as $crate::plain::Plain>::TYPE_ID,
                    );
                    let id = $crate::plain::type_id_extend_word(
                        id,
                        ::core::mem::offset_of!($name, $field) as u64,
                    );
                )*
                id
            };
        }
    };
}
