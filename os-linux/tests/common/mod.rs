//! Helpers shared by the process tests: unique names and directories
//! that are removed even when a test fails, a one-byte gate between
//! processes, 32-bit words in a shared mapping for a test's own
//! bookkeeping, a futex that counts its calls there, CPU time, a keyed
//! byte sequence, and an exactly-once checker. Included with `mod common;`.
#![allow(dead_code)] // each test file uses its own subset

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use interlink_core::{Wait, WaitOutcome};
use interlink_linux::futex::Futex;
use interlink_linux::pipe::{self, IoMode, Reader, Writer};
use interlink_linux::shm::Mapping;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A POSIX object name no other test or run uses: `/interlink-TAG-PID-N`.
pub fn unique_name(tag: &str) -> String {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("/interlink-{tag}-{}-{n}", std::process::id())
}

/// A fresh directory under the system temp dir, removed with its contents
/// on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("interlink-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir(&path).expect("create temp dir");
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A one-byte notification from one process to another over a pipe. The
/// waiting side drops its write end first, so a peer that dies before
/// notifying gives end-of-file instead of a hang.
pub struct Gate {
    reader: Reader,
    writer: Option<Writer>,
}

impl Gate {
    pub fn new() -> Self {
        let (reader, writer) = pipe::pipe(IoMode::Blocking).unwrap();
        Self {
            reader,
            writer: Some(writer),
        }
    }

    /// Notifies the waiting side.
    pub fn open(&self) {
        if let Some(w) = &self.writer {
            let _ = (&*w).write_all(b"!");
        }
    }

    /// Waits for the notification; `false` if every notifier is gone.
    pub fn wait(&mut self) -> bool {
        self.writer = None;
        let mut b = [0u8];
        (&self.reader).read_exact(&mut b).is_ok()
    }
}

/// Zeroed 32-bit words in an anonymous shared mapping: forked children
/// and the parent see the same ones.
pub struct Words(Mapping);

impl Words {
    /// `count` words, all zero.
    pub fn new(count: usize) -> Self {
        Self(Mapping::anonymous(count.max(1) * 4).unwrap())
    }

    /// Word `i`.
    pub fn get(&self, i: usize) -> &AtomicU32 {
        assert!(i * 4 < self.0.len());
        // SAFETY: in bounds (checked), 4-aligned (mappings are
        // page-aligned), zero-initialised, and only ever accessed
        // atomically.
        unsafe { &*self.0.as_ptr().cast::<AtomicU32>().add(i) }
    }

    /// A [`Counted`] futex over words `i` (waits) and `i + 1` (wakes).
    pub fn counted(&self, i: usize) -> Counted<'_> {
        Counted {
            waits: self.get(i),
            wakes: self.get(i + 1),
            timed_out: None,
        }
    }

    /// [`Words::counted`], also counting in word `i + 2` the waits that
    /// ran out.
    pub fn counted_with_timeouts(&self, i: usize) -> Counted<'_> {
        Counted {
            timed_out: Some(self.get(i + 2)),
            ..self.counted(i)
        }
    }
}

/// The shared futex, counting its calls (each one a futex syscall) in
/// shared words, so that every process's count is visible to the parent.
pub struct Counted<'m> {
    /// `wait` calls: times a thread parked (or tried to).
    pub waits: &'m AtomicU32,
    /// `wake_*` calls.
    pub wakes: &'m AtomicU32,
    /// `wait` calls that ran out, if counted.
    pub timed_out: Option<&'m AtomicU32>,
}

impl Counted<'_> {
    /// The two counts now.
    pub fn counts(&self) -> (u32, u32) {
        (
            self.waits.load(Ordering::Relaxed),
            self.wakes.load(Ordering::Relaxed),
        )
    }
}

impl Wait for Counted<'_> {
    fn wait(&self, word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> WaitOutcome {
        self.waits.fetch_add(1, Ordering::Relaxed);
        let outcome = Futex.wait(word, expected, timeout);
        if let (WaitOutcome::TimedOut, Some(count)) = (outcome, self.timed_out) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        outcome
    }
    fn wake_one(&self, word: &AtomicU32) {
        self.wakes.fetch_add(1, Ordering::Relaxed);
        Futex.wake_one(word)
    }
    fn wake_all(&self, word: &AtomicU32) {
        self.wakes.fetch_add(1, Ordering::Relaxed);
        Futex.wake_all(word)
    }
    fn now_ns(&self) -> Option<u64> {
        Futex.now_ns()
    }
    fn yield_now(&self) {
        Futex.yield_now()
    }
}

/// CPU time (user + system) this process has used, in microseconds.
pub fn cpu_time_us() -> u32 {
    // SAFETY: getrusage writes the struct it is given; zeroes are a valid
    // `rusage`.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, &mut usage), 0);
        usage
    };
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    u32::try_from(us(usage.ru_utime) + us(usage.ru_stime)).unwrap_or(u32::MAX)
}

/// xorshift64*: the same sequence in every process.
pub struct Rng(pub u64);

impl Rng {
    /// The next number.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Fills `out` with the content of message `key`: a keyed sequence, so a
/// byte from another message or position does not match.
pub fn fill(key: u32, out: &mut [u8]) {
    let mut rng = Rng(u64::from(key) << 1 | 1);
    for chunk in out.chunks_mut(8) {
        let word = rng.next().to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
}

/// Checks that tagged items (producer `v >> 32`, index `v & 0xffff_ffff`)
/// arrive exactly once across processes, through a bitmap in shared words,
/// and in order per producer within one process.
pub struct ExactlyOnce<'w> {
    bitmap: &'w Words,
    producers: u64,
    per_producer: u64,
    last: Vec<Option<u64>>,
}

impl<'w> ExactlyOnce<'w> {
    /// A bitmap for `producers × per_producer` items.
    pub fn bitmap(producers: u64, per_producer: u64) -> Words {
        Words::new((producers * per_producer).div_ceil(32) as usize)
    }

    /// A checker for one process, over a shared `bitmap`.
    pub fn new(bitmap: &'w Words, producers: u64, per_producer: u64) -> Self {
        Self {
            bitmap,
            producers,
            per_producer,
            last: vec![None; producers as usize],
        }
    }

    /// Marks item `v`; on failure, the exit code that says why: 3 not an
    /// item anyone sent, 4 a producer's order broken, 5 delivered twice.
    pub fn mark(&mut self, v: u64) -> Result<(), i32> {
        let (p, i) = (v >> 32, v & 0xffff_ffff);
        if p >= self.producers || i >= self.per_producer {
            return Err(3);
        }
        if self.last[p as usize] >= Some(i) {
            return Err(4);
        }
        self.last[p as usize] = Some(i);
        let bit = (p * self.per_producer + i) as usize;
        let old = self
            .bitmap
            .get(bit / 32)
            .fetch_or(1 << (bit % 32), Ordering::Relaxed);
        if old & 1 << (bit % 32) != 0 {
            return Err(5);
        }
        Ok(())
    }

    /// Items of `producers × per_producer` that no process marked.
    pub fn missing(bitmap: &Words, producers: u64, per_producer: u64) -> usize {
        (0..(producers * per_producer) as usize)
            .filter(|&bit| bitmap.get(bit / 32).load(Ordering::Relaxed) & 1 << (bit % 32) == 0)
            .count()
    }
}
