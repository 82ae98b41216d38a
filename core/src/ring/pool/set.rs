//! Size classes: several [`Pool`]s of different block sizes served
//! together by one [`PoolSet`], which lends a loan of `n` bytes from the
//! smallest class whose blocks hold `n` bytes.
//!
//! ```
//! use interlink_core::pool::{Pool, PoolConfig, PoolSet, Recipient};
//! use interlink_core::{Holder, Region};
//!
//! # #[repr(C, align(4096))] struct Mem([u8; 1 << 16]);
//! # let (mut a, mut b) = (Mem([0; 1 << 16]), Mem([0; 1 << 16]));
//! let small = Pool::init(Region::new(&mut a.0), PoolConfig::new(8, 256))?;
//! let large = Pool::init(Region::new(&mut b.0), PoolConfig::new(4, 8192))?;
//! // Any order: the set sorts its classes by block size.
//! let set = PoolSet::new([large, small])?;
//! let mut loan = set.try_loan(1000, Holder::fixed::<7>())?; // 8192-byte class
//! assert_eq!((loan.class(), loan.capacity()), (1, 8192));
//! loan.as_mut_slice()[..4].copy_from_slice(b"1000");
//! let handle = loan.hand_off(1000, Recipient::Anyone)?; // the class rides in the index
//! let sample = set.accept(&handle, Holder::fixed::<9>())?;
//! assert_eq!(&sample.as_slice()[..4], b"1000");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Handles
//!
//! A set's [`Handle`] is a class pool's handle with the class number in
//! the top 8 bits of `index` ([`CLASS_SHIFT`]; a pool has at most
//! [`MAX_BLOCKS`] = 2²⁴ blocks, so the two never overlap). Every handle
//! that arrives is checked: the class below the set's class count
//! ([`HandleError::NoClass`]), then, by that class's pool, the block
//! index, the length and the generation as for any pool handle. A set's
//! handle given to a bare pool of class > 0 is `OutOfRange` there.
//!
//! # Classes mean the same on both sides
//!
//! The set sorts its pools by block size and refuses two of one size
//! ([`SetError::SameSize`]), so two processes that build a set of the
//! same pools, in any order, number the classes alike. Class numbers are
//! not recorded in shared memory: a peer building its set of other pools
//! gets handles refused (wrong index range, length or generation) or, at
//! worst, reads another pool's block it was shared — never memory outside
//! a block.
//!
//! # Choosing a class
//!
//! [`PoolSet::try_loan`] tries the smallest class whose block size is at
//! least `n`, then each larger class in turn (every one of them fits), and
//! fails with the smallest fitting class's [`LoanError::Exhausted`] when
//! all are exhausted, or [`LoanError::TooLarge`] when no class fits `n`.
//! Ownership, reclaim and exhaustion are each class pool's, unchanged.

use core::fmt;
use core::time::Duration;

use super::*;
use crate::wait::blocking::Blocking;
use crate::wait::Wait;

/// The class number's position in a set handle's `index`.
pub const CLASS_SHIFT: u32 = 24;
/// The most classes a set may have.
pub const MAX_CLASSES: usize = 1 << (32 - CLASS_SHIFT);
const BLOCK_BITS: u32 = (1 << CLASS_SHIFT) - 1;

const _: () = assert!(MAX_BLOCKS as u64 == 1 << CLASS_SHIFT);

/// Why pools cannot make a set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SetError {
    /// A set has 1 to [`MAX_CLASSES`] classes.
    Classes {
        /// Classes given.
        count: usize,
    },
    /// Two pools have the same block size: which one a loan comes from
    /// would depend on the order they were given in.
    SameSize {
        /// The block size.
        block_size: u32,
    },
}

impl fmt::Display for SetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Classes { count } => {
                write!(f, "a pool set has 1 to {MAX_CLASSES} classes, not {count}")
            }
            Self::SameSize { block_size } => {
                write!(f, "two pools of the set have {block_size}-byte blocks")
            }
        }
    }
}

impl core::error::Error for SetError {}

/// Several pools of different block sizes behind one handle space; see
/// the module docs. Cheap to copy; it owns nothing.
#[derive(Clone, Copy, Debug)]
pub struct PoolSet<'a, const N: usize> {
    classes: [Pool<'a>; N],
}

/// The set handle of class `class`'s pool handle.
pub fn tag(class: usize, handle: Handle) -> Handle {
    Handle {
        index: ((class as u32) << CLASS_SHIFT) | (handle.index & BLOCK_BITS),
        ..handle
    }
}

/// The class and class-pool handle a set handle names (unchecked: the
/// class may be past a set's classes).
pub fn untag(handle: &Handle) -> (usize, Handle) {
    (
        (handle.index >> CLASS_SHIFT) as usize,
        Handle {
            index: handle.index & BLOCK_BITS,
            ..*handle
        },
    )
}

impl<'a, const N: usize> PoolSet<'a, N> {
    /// A set of `pools`, sorted by block size (class 0 the smallest).
    pub fn new(mut pools: [Pool<'a>; N]) -> Result<Self, SetError> {
        if N == 0 || N > MAX_CLASSES {
            return Err(SetError::Classes { count: N });
        }
        pools.sort_unstable_by_key(Pool::block_size);
        for w in pools.windows(2) {
            if w[0].block_size() == w[1].block_size() {
                return Err(SetError::SameSize {
                    block_size: w[0].block_size(),
                });
            }
        }
        Ok(Self { classes: pools })
    }

    /// The class pools, smallest blocks first.
    pub fn classes(&self) -> &[Pool<'a>; N] {
        &self.classes
    }

    /// The smallest class whose blocks hold `len` bytes.
    pub fn class_for(&self, len: u32) -> Option<usize> {
        self.classes.iter().position(|p| p.block_size() >= len)
    }

    /// The pool of `handle`'s class and the class-pool handle, or
    /// [`HandleError::NoClass`].
    pub fn resolve(&self, handle: &Handle) -> Result<(usize, Pool<'a>, Handle), HandleError> {
        let (class, inner) = untag(handle);
        match self.classes.get(class) {
            Some(pool) => Ok((class, *pool, inner)),
            None => Err(HandleError::NoClass {
                class: class as u32,
                classes: N as u32,
            }),
        }
    }

    /// Lends a block of at least `len` bytes to `holder`, without waiting
    /// (see the module docs, "Choosing a class").
    pub fn try_loan(&self, len: u32, holder: Holder) -> Result<SetLoan<'a>, LoanError> {
        let first = self.class_for(len).ok_or(LoanError::TooLarge {
            len,
            largest: self.classes[N - 1].block_size(),
        })?;
        let mut error = None;
        for class in first..N {
            match self.classes[class].try_loan(holder) {
                Ok(loan) => return Ok(SetLoan { loan, class }),
                Err(e) => {
                    error.get_or_insert(e);
                }
            }
        }
        // `first < N`, so the loop ran and recorded an error.
        Err(error.unwrap_or(LoanError::TooLarge { len, largest: 0 }))
    }

    /// Lends a block of at least `len` bytes to `holder`, waiting while
    /// every fitting class is exhausted for at most `timeout` (`None`: no
    /// limit) on the *smallest* fitting class's freed event word (see
    /// [`Pool::loan`]; a block freed in a larger class meanwhile is found
    /// by the next call, not this wait).
    pub fn loan<W: Wait>(
        &self,
        len: u32,
        holder: Holder,
        blocking: &Blocking<W>,
        timeout: Option<Duration>,
    ) -> Result<SetLoan<'a>, LoanError> {
        match self.try_loan(len, holder) {
            Err(LoanError::Exhausted(_)) => {}
            other => return other,
        }
        let class = self.class_for(len).unwrap_or(N - 1);
        self.classes[class]
            .loan(holder, blocking, timeout)
            .map(|loan| SetLoan { loan, class })
    }

    /// Accepts a set handle (class, then index, length, generation
    /// checked) for `holder`; see [`Pool::accept`].
    pub fn accept(&self, handle: &Handle, holder: Holder) -> Result<SetSample<'a>, HandleError> {
        let (class, pool, inner) = self.resolve(handle)?;
        pool.accept(&inner, holder)
            .map(|sample| SetSample { sample, class })
    }

    /// Adds a reference for `to` to the block of a set handle that `by`
    /// holds; see [`Pool::share`].
    pub fn share(&self, handle: &Handle, by: Holder, to: Recipient) -> Result<(), HandleError> {
        let (_, pool, inner) = self.resolve(handle)?;
        pool.share(&inner, by, to)
    }

    /// Releases a reference `holder` holds to a set handle's block; see
    /// [`Pool::release`].
    pub fn release(&self, handle: &Handle, holder: Holder) -> Result<(), HandleError> {
        let (_, pool, inner) = self.resolve(handle)?;
        pool.release(&inner, holder)
    }

    /// [`Pool::reclaim`] on every class, summed.
    pub fn reclaim(&self, mut is_alive: impl FnMut(u32) -> bool) -> Reclaimed {
        let mut all = Reclaimed::default();
        for pool in &self.classes {
            let got = pool.reclaim(&mut is_alive);
            all.references += got.references;
            all.blocks += got.blocks;
        }
        all
    }
}

/// A block lent from a set's class (a [`Loan`] whose handles carry the
/// class). Dropping it releases the lender's hold.
#[derive(Debug)]
pub struct SetLoan<'a> {
    loan: Loan<'a>,
    class: usize,
}

impl<'a> SetLoan<'a> {
    /// The class it was lent from (0 = the smallest blocks).
    pub fn class(&self) -> usize {
        self.class
    }

    /// Bytes the block holds (its class's block size).
    pub fn capacity(&self) -> u32 {
        self.loan.capacity()
    }

    /// The whole block, to write in place; see [`Loan::as_mut_slice`].
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        self.loan.as_mut_slice()
    }

    /// Copies `bytes` in at `offset`; see [`Loan::write_at`].
    pub fn write_at(&mut self, offset: usize, bytes: &[u8]) -> bool {
        self.loan.write_at(offset, bytes)
    }

    /// Records `len` as the payload length; the set handle to send. See
    /// [`Loan::publish`].
    pub fn publish(&mut self, len: u32) -> Result<Handle, HandleError> {
        self.loan.publish(len).map(|h| tag(self.class, h))
    }

    /// Adds a reference for `to`; the set handle to send. See
    /// [`Loan::share`].
    pub fn share(&self, to: Recipient) -> Result<Handle, HandleError> {
        self.loan.share(to).map(|h| tag(self.class, h))
    }

    /// Publishes `len`, shares with `to` and drops the loan; see
    /// [`Loan::hand_off`].
    pub fn hand_off(self, len: u32, to: Recipient) -> Result<Handle, HandleError> {
        let class = self.class;
        self.loan.hand_off(len, to).map(|h| tag(class, h))
    }

    /// The set handle of this loan (with the published length, 0 before).
    pub fn handle(&self) -> Handle {
        tag(self.class, self.loan.handle())
    }
}

/// A block a reader holds through a set (a [`Sample`] whose handles carry
/// the class). Dropping it releases the reference.
#[derive(Debug)]
pub struct SetSample<'a> {
    sample: Sample<'a>,
    class: usize,
}

impl<'a> SetSample<'a> {
    /// The class of its block.
    pub fn class(&self) -> usize {
        self.class
    }

    /// The payload, in place; see [`Sample::as_slice`].
    pub fn as_slice(&self) -> &[u8] {
        self.sample.as_slice()
    }

    /// Copies out from `offset`; see [`Sample::read_at`].
    pub fn read_at(&self, offset: usize, out: &mut [u8]) -> usize {
        self.sample.read_at(offset, out)
    }

    /// Payload bytes.
    pub fn len(&self) -> usize {
        self.sample.len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.sample.is_empty()
    }

    /// The set handle.
    pub fn handle(&self) -> Handle {
        tag(self.class, self.sample.handle())
    }

    /// Adds a reference for `to` (forwarding); the set handle to send.
    pub fn share(&self, to: Recipient) -> Result<Handle, HandleError> {
        self.sample.share(to).map(|h| tag(self.class, h))
    }

    /// Keeps the reference past this guard; release it with
    /// [`PoolSet::release`] and the set handle returned.
    pub fn keep(self) -> Handle {
        let class = self.class;
        tag(class, self.sample.keep())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::test_util::AlignedBuf;

    fn buf(blocks: u32, block_size: u32) -> AlignedBuf {
        AlignedBuf::new(Pool::bytes_needed(blocks, block_size).unwrap())
    }

    const A: Holder = Holder::fixed::<7>();
    const B: Holder = Holder::fixed::<9>();

    #[test]
    fn a_loan_comes_from_the_smallest_class_that_fits_then_larger_ones() {
        let (m0, m1, m2) = (buf(2, 64), buf(1, 1024), buf(1, 8192));
        let p64 = Pool::init(m0.region(), PoolConfig::new(2, 64)).unwrap();
        let p1k = Pool::init(m1.region(), PoolConfig::new(1, 1024)).unwrap();
        let p8k = Pool::init(m2.region(), PoolConfig::new(1, 8192)).unwrap();
        let set = PoolSet::new([p8k, p64, p1k]).unwrap();
        assert_eq!(
            set.classes().map(|p| p.block_size()),
            [64, 1024, 8192],
            "sorted by block size"
        );
        assert_eq!(set.class_for(0), Some(0));
        assert_eq!(set.class_for(64), Some(0));
        assert_eq!(set.class_for(65), Some(1));
        assert_eq!(set.class_for(8193), None);
        let a = set.try_loan(10, A).unwrap();
        let b = set.try_loan(64, A).unwrap();
        assert_eq!((a.class(), b.class()), (0, 0));
        // Class 0 is exhausted: a small loan goes to the next class up.
        let c = set.try_loan(1, A).unwrap();
        assert_eq!(c.class(), 1);
        let d = set.try_loan(1, A).unwrap();
        assert_eq!((d.class(), d.capacity()), (2, 8192));
        // All exhausted: the smallest fitting class's error.
        match set.try_loan(1, A) {
            Err(LoanError::Exhausted(e)) => assert_eq!(e.held, 2),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            set.try_loan(9000, A),
            Err(LoanError::TooLarge {
                len: 9000,
                largest: 8192
            })
        ));
        drop((a, b, c, d));
        assert!(set.classes().iter().all(|p| p.census().free == p.blocks()));
    }

    #[test]
    fn set_handles_carry_the_class_and_are_checked() {
        let (m0, m1) = (buf(1, 128), buf(1, 4096));
        let small = Pool::init(m0.region(), PoolConfig::new(1, 128)).unwrap();
        let large = Pool::init(m1.region(), PoolConfig::new(1, 4096)).unwrap();
        let set = PoolSet::new([small, large]).unwrap();
        let mut loan = set.try_loan(3000, A).unwrap();
        loan.as_mut_slice()[..5].copy_from_slice(b"large");
        let h = loan.hand_off(5, Recipient::Holder(B)).unwrap();
        assert_eq!(h.index >> CLASS_SHIFT, 1);
        // A class past the set is refused before any pool is touched.
        let forged = Handle {
            index: 2 << CLASS_SHIFT,
            ..h
        };
        assert_eq!(
            set.accept(&forged, B).unwrap_err(),
            HandleError::NoClass {
                class: 2,
                classes: 2
            }
        );
        // The right block index in the wrong class: that pool's checks.
        let wrong_class = tag(0, untag(&h).1);
        assert!(set.accept(&wrong_class, B).is_err());
        let sample = set.accept(&h, B).unwrap();
        assert_eq!((sample.class(), sample.as_slice()), (1, &b"large"[..]));
        assert_eq!(sample.handle(), h);
        // Forwarding keeps the class.
        let fwd = sample.share(Recipient::Holder(A)).unwrap();
        assert_eq!(fwd, h);
        let kept = sample.keep();
        assert_eq!(set.accept(&fwd, A).unwrap().as_slice(), b"large");
        set.release(&kept, B).unwrap();
        assert_eq!(
            set.release(&kept, B),
            Err(HandleError::NotHeld { holder: B })
        );
        assert_eq!(set.classes()[1].census().free, 1);
    }

    #[test]
    fn a_set_refuses_no_classes_and_two_of_one_size() {
        let (m0, m1) = (buf(1, 256), buf(2, 256));
        let a = Pool::init(m0.region(), PoolConfig::new(1, 256)).unwrap();
        let b = Pool::init(m1.region(), PoolConfig::new(2, 256)).unwrap();
        assert_eq!(
            PoolSet::new([a, b]).unwrap_err(),
            SetError::SameSize { block_size: 256 }
        );
        assert_eq!(
            PoolSet::<0>::new([]).unwrap_err(),
            SetError::Classes { count: 0 }
        );
    }

    #[test]
    fn reclaim_covers_every_class() {
        let (m0, m1) = (buf(1, 64), buf(1, 512));
        let a = Pool::init(m0.region(), PoolConfig::new(1, 64)).unwrap();
        let b = Pool::init(m1.region(), PoolConfig::new(1, 512)).unwrap();
        let set = PoolSet::new([a, b]).unwrap();
        let x = set.try_loan(64, A).unwrap();
        let y = set.try_loan(64, A).unwrap();
        core::mem::forget(x);
        core::mem::forget(y);
        let got = set.reclaim(|h| h != A.get());
        assert_eq!((got.references, got.blocks), (2, 2));
    }
}
