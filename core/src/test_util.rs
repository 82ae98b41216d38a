//! Helpers for the core's unit tests (std is linked under `cfg(test)`).

use crate::Region;

#[repr(C, align(128))]
#[derive(Clone, Copy)]
struct Block([u8; 128]);

/// Heap memory aligned to 128 bytes, standing in for a shared mapping. It
/// is reached only through the raw pointer taken at allocation, so several
/// regions over it may exist at once, as several processes may map one
/// object.
pub(crate) struct AlignedBuf {
    ptr: *mut Block,
    blocks: usize,
    len: usize,
}

impl AlignedBuf {
    pub(crate) fn new(len: usize) -> Self {
        let blocks = len.div_ceil(128).max(1);
        let memory: Box<[Block]> = vec![Block([0; 128]); blocks].into_boxed_slice();
        let ptr = Box::into_raw(memory).cast::<Block>();
        Self { ptr, blocks, len }
    }

    /// A region over the whole buffer.
    pub(crate) fn region(&self) -> Region<'_> {
        // SAFETY: the allocation lives as long as `self`, and is only ever
        // reached through raw pointers derived from `ptr`.
        unsafe { Region::from_raw(self.ptr.cast(), self.len) }.unwrap()
    }

    /// The bytes, for corrupting them on purpose.
    pub(crate) fn ptr(&self) -> *mut u8 {
        self.ptr.cast()
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: ptr/blocks came from Box::into_raw of a boxed slice.
        drop(unsafe { Box::from_raw(core::ptr::slice_from_raw_parts_mut(self.ptr, self.blocks)) });
    }
}

/// xorshift64*: a small deterministic generator for randomised tests.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A futex emulation on std's `Mutex` and `Condvar` for multi-threaded unit
/// tests (Miri runs it): `wait` checks the word and sleeps atomically, and
/// every `wait` and `wake_*` call is counted, as the syscalls a real futex
/// would make.
#[derive(Default)]
pub(crate) struct TestWait {
    lock: std::sync::Mutex<()>,
    sleepers: std::sync::Condvar,
    pub(crate) waits: std::sync::atomic::AtomicUsize,
    pub(crate) wakes: std::sync::atomic::AtomicUsize,
    origin: std::sync::OnceLock<std::time::Instant>,
}

impl TestWait {
    /// `wait` plus `wake_*` calls so far.
    pub(crate) fn calls(&self) -> usize {
        use std::sync::atomic::Ordering::Relaxed;
        self.waits.load(Relaxed) + self.wakes.load(Relaxed)
    }
}

impl crate::Wait for TestWait {
    fn wait(
        &self,
        word: &crate::foundation::atomics::AtomicU32,
        expected: u32,
        timeout: Option<std::time::Duration>,
    ) -> crate::WaitOutcome {
        self.waits
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let guard = self.lock.lock().unwrap();
        if word.load(crate::foundation::atomics::Ordering::SeqCst) != expected {
            return crate::WaitOutcome::Woken;
        }
        match timeout {
            None => drop(self.sleepers.wait(guard).unwrap()),
            Some(t) => {
                let (_guard, r) = self.sleepers.wait_timeout(guard, t).unwrap();
                if r.timed_out() {
                    return crate::WaitOutcome::TimedOut;
                }
            }
        }
        crate::WaitOutcome::Woken
    }

    fn wake_one(&self, word: &crate::foundation::atomics::AtomicU32) {
        self.wake_all(word);
    }

    fn wake_all(&self, _word: &crate::foundation::atomics::AtomicU32) {
        self.wakes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let _guard = self.lock.lock().unwrap();
        self.sleepers.notify_all();
    }

    fn now_ns(&self) -> Option<u64> {
        let origin = self.origin.get_or_init(std::time::Instant::now);
        Some(origin.elapsed().as_nanos() as u64)
    }

    fn yield_now(&self) {
        std::thread::yield_now();
    }
}
