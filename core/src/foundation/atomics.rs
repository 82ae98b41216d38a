//! The one place that chooses between `core`'s atomics and `loom`'s.
//!
//! Every structure that lives in shared memory names its atomics and cells
//! through this module, so that `RUSTFLAGS="--cfg loom"` swaps all of them at
//! once for loom's model-checked versions. Under loom an atomic is an object
//! with hidden state rather than four bytes, so layouts built from these
//! types are only byte-exact (and only asserted) without `cfg(loom)`.

#[cfg(loom)]
pub(crate) use loom::hint::spin_loop;
#[cfg(loom)]
#[allow(unused_imports)]
pub(crate) use loom::sync::atomic::fence;
#[cfg(loom)]
pub use loom::sync::atomic::{AtomicU32, Ordering};

#[cfg(not(loom))]
pub(crate) use core::hint::spin_loop;
#[cfg(not(loom))]
#[allow(unused_imports)]
pub(crate) use core::sync::atomic::fence;
#[cfg(not(loom))]
pub use core::sync::atomic::{AtomicU32, Ordering};

/// An `UnsafeCell` with loom's closure-based access API, usable in both
/// builds. Under loom every access is tracked, so a data race between a
/// producer's write and a consumer's read of the same slot fails the model.
#[repr(transparent)]
pub(crate) struct UnsafeCell<T>(
    #[cfg(loom)] loom::cell::UnsafeCell<T>,
    #[cfg(not(loom))] core::cell::UnsafeCell<T>,
);

impl<T> UnsafeCell<T> {
    /// Wraps `value`.
    #[cfg(not(loom))]
    #[allow(dead_code)] // constructed in place only under loom
    pub(crate) const fn new(value: T) -> Self {
        Self(core::cell::UnsafeCell::new(value))
    }

    /// Wraps `value`.
    #[cfg(loom)]
    pub(crate) fn new(value: T) -> Self {
        Self(loom::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a pointer to the contents for reading.
    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        #[cfg(loom)]
        return self.0.with(f);
        #[cfg(not(loom))]
        return f(self.0.get());
    }

    /// Runs `f` with a pointer to the contents for writing.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        #[cfg(loom)]
        return self.0.with_mut(f);
        #[cfg(not(loom))]
        return f(self.0.get());
    }
}

// The shared layouts rely on lock-free, address-free 32-bit atomics
// (DESIGN rule 5). Fail the build on a target that lacks them.
#[cfg(not(target_has_atomic = "32"))]
compile_error!("interlink-core needs lock-free 32-bit atomics");

/// Gives the atomic at `p` its first value.
///
/// Outside loom every bit pattern is already a valid `AtomicU32`, so this is
/// a relaxed store (an attacher racing with the creator reads old or new
/// bytes, never a torn or undefined value). Under loom an atomic exists only
/// once constructed, so this constructs it in place.
///
/// # Safety
///
/// `p` must be valid for writes and aligned. Under loom, no other thread may
/// access `*p` before this returns.
#[inline]
pub(crate) unsafe fn init_atomic(p: *mut AtomicU32, value: u32) {
    #[cfg(loom)]
    // SAFETY: forwarded from the caller.
    unsafe {
        p.write(AtomicU32::new(value))
    };
    #[cfg(not(loom))]
    // SAFETY: forwarded from the caller; any bytes form a valid AtomicU32.
    unsafe {
        (*p).store(value, Ordering::Relaxed)
    };
}
