//! The pool's errors: of a loan ([`LoanError`], with the [`Exhaustion`]
//! that says who holds the blocks) and of a handle ([`HandleError`]).

use core::fmt;

use crate::foundation::holder::Holder;

/// Who holds a pool's blocks, counted when a loan found none free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exhaustion {
    /// Blocks found held (every block, unless some were freed during the
    /// count).
    pub held: u32,
    /// The holder id seen in the most holder words (0 if none), flag bits
    /// removed: for a reference in flight, its sender; for one addressed,
    /// its recipient.
    pub top_holder: u32,
    /// Holder words naming `top_holder`.
    pub top_count: u32,
    /// Holder words holding a reference sent to whoever accepts it first,
    /// not yet accepted.
    pub in_flight: u32,
}

impl fmt::Display for Exhaustion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} blocks held", self.held)?;
        if self.top_holder != 0 {
            write!(
                f,
                "; holder {} holds {} references",
                self.top_holder, self.top_count
            )?;
        }
        if self.in_flight != 0 {
            write!(f, "; {} references in flight", self.in_flight)?;
        }
        Ok(())
    }
}

/// Why a loan returned no block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoanError {
    /// No block is free now ([`Pool::try_loan`](super::Pool::try_loan)).
    Exhausted(Exhaustion),
    /// No block became free within the timeout
    /// ([`Pool::loan`](super::Pool::loan)).
    TimedOut(Exhaustion),
    /// No size class of a [`PoolSet`](super::PoolSet) has blocks of `len`
    /// bytes.
    TooLarge {
        /// Bytes asked for.
        len: u32,
        /// The largest class's block size.
        largest: u32,
    },
}

impl fmt::Display for LoanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exhausted(e) => write!(f, "pool exhausted: {e}"),
            Self::TimedOut(e) => write!(f, "no block freed in time: {e}"),
            Self::TooLarge { len, largest } => write!(
                f,
                "no size class holds {len} bytes (the largest blocks hold {largest})"
            ),
        }
    }
}

/// Why a handle was refused (or a share, accept or release did nothing).
/// A refused handle addressed no memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandleError {
    /// The index is past the pool: a forged or corrupt handle.
    OutOfRange {
        /// The handle's index.
        index: u32,
        /// The pool's block count.
        blocks: u32,
    },
    /// The length is above the block size, or other than the length its
    /// lender recorded: a forged or corrupt handle.
    BadLength {
        /// The handle's length.
        len: u32,
        /// The length recorded for the block's current life (or the block
        /// size, when the handle's is above it).
        expected: u32,
    },
    /// The block was released and lent again since the handle was made
    /// (or the handle was forged): its generation is not the block's.
    Stale {
        /// The handle's generation.
        handle: u32,
        /// The block's.
        current: u32,
    },
    /// Nothing was shared for this holder with this handle: no reference
    /// addressed to it and none in flight (already accepted — the same
    /// handle accepted twice — or never shared, or taken back by a
    /// reclaim).
    NotShared,
    /// The holder holds no reference to this block (released twice, or
    /// never held, or taken back by a reclaim).
    NotHeld {
        /// The holder id.
        holder: Holder,
    },
    /// Every holder word of the block is taken: it cannot be shared with
    /// one more reader now.
    TooManyHolders,
    /// A [`PoolSet`](super::PoolSet) handle's class (the top 8 bits of its
    /// index) is past the set's classes: a forged or corrupt handle, or
    /// one from another set.
    NoClass {
        /// The handle's class.
        class: u32,
        /// The set's class count.
        classes: u32,
    },
    /// A loan was shared before its length was published
    /// ([`Loan::publish`](super::Loan::publish)), or the length is above
    /// the block size.
    NotPublished,
}

impl fmt::Display for HandleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfRange { index, blocks } => {
                write!(f, "block index {index} out of range (pool of {blocks})")
            }
            Self::BadLength { len, expected } => {
                write!(f, "handle length {len}, expected {expected}")
            }
            Self::Stale { handle, current } => write!(
                f,
                "stale handle: generation {handle}, the block is at {current}"
            ),
            Self::NotShared => f.write_str("no reference was shared for this holder"),
            Self::NotHeld { holder } => {
                write!(f, "holder {holder} holds no reference to the block")
            }
            Self::TooManyHolders => f.write_str("every holder word of the block is taken"),
            Self::NotPublished => f.write_str("the loan's length was not published"),
            Self::NoClass { class, classes } => {
                write!(f, "size class {class} out of range (a set of {classes})")
            }
        }
    }
}

impl core::error::Error for LoanError {}
impl core::error::Error for HandleError {}
