//! What the loom models share: caller memory for the structures they place,
//! and the bounded model builder. Included by every `loom_*.rs` with
//! `mod common;` (a directory, so `--test 'loom_*'` does not pick it up).

#![allow(dead_code)] // each model file uses its own subset

use interlink_core::Region;

/// Heap memory with a given size and alignment (at least 128), zeroed,
/// freed when the model ends.
pub struct Memory {
    ptr: *mut u8,
    layout: std::alloc::Layout,
}

impl Memory {
    /// `len` bytes aligned to `align` (and to 128, a mapping's least).
    pub fn new(len: usize, align: usize) -> Self {
        let layout = std::alloc::Layout::from_size_align(len, align.max(128)).unwrap();
        // SAFETY: the layout has a nonzero size.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!ptr.is_null());
        Self { ptr, layout }
    }

    /// A region over all of it.
    pub fn region(&self) -> Region<'static> {
        // SAFETY: the memory outlives every thread of the model (they are
        // joined before `Memory` drops) and is reached only through the
        // structures placed in it.
        unsafe { Region::from_raw(self.ptr, self.layout.size()) }.unwrap()
    }
}

impl Drop for Memory {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) };
    }
}

// SAFETY: the pointer is only used to build regions; see `region`.
unsafe impl Send for Memory {}
// SAFETY: as above.
unsafe impl Sync for Memory {}

/// Explores interleavings with at most `LOOM_MAX_PREEMPTIONS` (default 3)
/// preemptions: every bug found so far in these structures needs fewer,
/// and the full space of spin loops is unbounded.
pub fn model(f: impl Fn() + Sync + Send + 'static) {
    model_bounded(3, f);
}

/// [`model`] with another default preemption bound, for models whose
/// space at 3 takes minutes.
pub fn model_bounded(preemptions: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(preemptions);
    }
    builder.check(f);
}
