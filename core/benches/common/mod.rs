//! What the benches share: aligned memory standing in for a mapping,
//! pinning a thread to a CPU, and the SPSC contenders with the loops that
//! drive them ([`queues`]). Included with `mod common;`.

#![allow(dead_code)] // each bench uses its own subset

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use interlink_core::Region;

pub mod interleave;
pub mod queues;

#[repr(C, align(4096))]
#[derive(Clone, Copy)]
struct Page([u8; 4096]);

/// Page-aligned, zeroed memory (so aligned for every ring): a ring's
/// region, or a user's buffers at an offset into it.
pub struct Memory(Vec<Page>);

impl Memory {
    /// At least `len` bytes.
    pub fn new(len: usize) -> Self {
        Memory(vec![Page([0; 4096]); len.div_ceil(4096).max(1)])
    }

    /// All of it, as bytes.
    pub fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: the vector's pages are contiguous initialised bytes,
        // borrowed uniquely through `&mut self`.
        unsafe {
            std::slice::from_raw_parts_mut(self.0.as_mut_ptr().cast::<u8>(), self.0.len() * 4096)
        }
    }

    /// All of it, as a region for a ring.
    pub fn region(&mut self) -> Region<'_> {
        Region::new(self.bytes())
    }
}

/// Has criterion time `iters` runs of `run`, each of which builds its own
/// fresh state and returns only the time of the part worth measuring.
pub fn each_run(b: &mut criterion::Bencher<'_>, mut run: impl FnMut() -> Duration) {
    b.iter_custom(|iters| (0..iters).map(|_| run()).sum());
}

/// Pins the calling thread to `cpu` (best effort).
pub fn pin(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is empty; CPU_SET bounds-checks.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Runs `produce` on this thread pinned to CPU 0 and `consume` on a thread
/// pinned to CPU 1, and returns the wall time from the moment both are
/// pinned and running to the end of both. (Timing from the spawn instead
/// would add the thread's start and migration: up to a scheduler tick,
/// 4 ms here, which once swamped every measurement.)
pub fn two_threads(produce: impl FnOnce(), consume: impl FnOnce() + Send) -> Duration {
    let ready = AtomicBool::new(false);
    std::thread::scope(|s| {
        let consumer = s.spawn(|| {
            pin(1);
            ready.store(true, Ordering::Release);
            consume()
        });
        pin(0);
        while !ready.load(Ordering::Acquire) {
            std::hint::spin_loop();
        }
        let start = Instant::now();
        produce();
        consumer.join().unwrap();
        start.elapsed()
    })
}
