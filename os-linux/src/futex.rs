//! The futex: [`Futex`], the *shared* one that wakes waiters in any process
//! mapping the word, [`PrivateFutex`] for threads of one process, and
//! [`Robust`], Linux's answer to "is the owner of this lock alive?" for
//! interlink's robust [`Mutex`](interlink_core::mutex::Mutex).
//!
//! # Shared versus private
//!
//! The kernel keys a *private* futex (`FUTEX_PRIVATE_FLAG`, which
//! `atomic-wait` and std use) by the address space and the virtual address,
//! so a wake from another process never reaches it, even on the same
//! physical word. A *shared* futex is keyed by the page backing the word
//! (inode and offset, or the shared anonymous object), so it wakes across
//! processes, also when they map the object at different addresses. Across
//! processes use [`Futex`]; `tests/futex.rs` shows both behaviours.

use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use interlink_core::mutex::{Liveness, Owner};
use interlink_core::sync::AtomicU32;
use interlink_core::wait::wait_set::{wait_first_in_slices, MAX_SOURCES};
use interlink_core::{Wait, WaitOutcome};

use crate::clock::monotonic_ns;

/// The shared futex (`FUTEX_WAIT`/`FUTEX_WAKE` without
/// `FUTEX_PRIVATE_FLAG`): wakes waiters in every process that maps the
/// word. Timeouts are relative (`CLOCK_MONOTONIC`); `EINTR` (a signal
/// handler ran) and `EAGAIN` (the word had changed) end the wait as
/// [`WaitOutcome::Woken`], `ETIMEDOUT` as [`WaitOutcome::TimedOut`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Futex;

/// The private futex (`FUTEX_PRIVATE_FLAG`): a little cheaper in the
/// kernel, but it only wakes threads of the calling process. Never use it
/// on a word another process waits on.
#[derive(Clone, Copy, Debug, Default)]
pub struct PrivateFutex;

fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>, op: i32) -> WaitOutcome {
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: d.subsec_nanos() as _,
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` is a live, aligned 32-bit atomic; the kernel only
    // reads it (atomically) and reads `ts_ptr`, which is null or points to
    // a timespec that outlives the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word as *const AtomicU32,
            op,
            expected,
            ts_ptr,
            std::ptr::null::<u32>(),
            0u32,
        )
    };
    if r == 0 {
        return WaitOutcome::Woken;
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::ETIMEDOUT) => WaitOutcome::TimedOut,
        // EAGAIN: the word did not hold `expected`; EINTR: a signal
        // handler ran. Other errors (EFAULT, EINVAL) cannot occur for a
        // valid `&AtomicU32`; the caller re-checks its condition anyway.
        _ => WaitOutcome::Woken,
    }
}

/// Set once `futex_waitv` answered `ENOSYS` (a kernel before 5.16).
static WAITV_UNSUPPORTED: AtomicBool = AtomicBool::new(false);

/// Makes every later multi-word wait of this process use the fallback
/// that a kernel without `futex_waitv` gets (sleeping on the first word in
/// slices): for tests of that path on a kernel that has it.
#[doc(hidden)]
pub fn use_sliced_wait_any() {
    WAITV_UNSUPPORTED.store(true, Relaxed);
}

/// `futex_waitv` (Linux 5.16): one sleep on up to 128 words, ended by a
/// wake of any of them or by any word not holding its value. `private`
/// adds `FUTEX2_PRIVATE` to every waiter. On a kernel without it (`ENOSYS`)
/// it falls back to [`wait_first_in_slices`] for good (checked once).
fn futex_waitv(
    words: &[&AtomicU32],
    expected: &[u32],
    timeout: Option<Duration>,
    private: bool,
    single: impl Fn(&AtomicU32, u32, Option<Duration>) -> WaitOutcome,
) -> WaitOutcome {
    let n = words.len().min(expected.len()).min(MAX_SOURCES);
    if n <= 1 || WAITV_UNSUPPORTED.load(Relaxed) {
        return match (words.first(), expected.first()) {
            (Some(word), Some(&key)) if n == 1 => single(word, key, timeout),
            _ => wait_first_in_slices(&SingleWait(&single), words, expected, timeout),
        };
    }
    /// The kernel's `struct futex_waitv`.
    #[repr(C)]
    struct Waiter {
        val: u64,
        uaddr: u64,
        flags: u32,
        reserved: u32,
    }
    const FUTEX2_SIZE_U32: u32 = 0x02;
    const FUTEX2_PRIVATE: u32 = 128;
    let flags = FUTEX2_SIZE_U32 | if private { FUTEX2_PRIVATE } else { 0 };
    let mut waiters = [const {
        Waiter {
            val: 0,
            uaddr: 0,
            flags: 0,
            reserved: 0,
        }
    }; MAX_SOURCES];
    for ((w, word), &key) in waiters.iter_mut().zip(words).zip(expected).take(n) {
        *w = Waiter {
            val: u64::from(key),
            uaddr: *word as *const AtomicU32 as usize as u64,
            flags,
            reserved: 0,
        };
    }
    /// The kernel's `struct __kernel_timespec`: 64-bit fields on every
    /// target. futex_waitv takes no other (on i686 `libc::timespec` has a
    /// 32-bit `tv_sec` and `tv_nsec`, which the kernel would misread).
    #[repr(C)]
    struct KernelTimespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    // An absolute deadline on CLOCK_MONOTONIC, as futex_waitv wants.
    let deadline = timeout.map(|d| {
        let end = monotonic_ns().saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        KernelTimespec {
            tv_sec: i64::try_from(end / 1_000_000_000).unwrap_or(i64::MAX),
            tv_nsec: (end % 1_000_000_000) as i64,
        }
    });
    let ts_ptr = deadline
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const KernelTimespec);
    // `waiters[..n]` are initialised futex_waitv records whose addresses
    // are live, aligned 32-bit atomics (the kernel only reads them).
    // SAFETY: as said; `ts_ptr` is null or a timespec outliving the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex_waitv,
            waiters.as_ptr(),
            n as libc::c_uint,
            0u32,
            ts_ptr,
            libc::CLOCK_MONOTONIC,
        )
    };
    if r >= 0 {
        return WaitOutcome::Woken;
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::ETIMEDOUT) => WaitOutcome::TimedOut,
        Some(libc::ENOSYS) => {
            WAITV_UNSUPPORTED.store(true, Relaxed);
            wait_first_in_slices(&SingleWait(&single), words, expected, timeout)
        }
        // EAGAIN: a word did not hold its value; EINTR: a signal handler
        // ran. The caller re-checks its sources either way.
        _ => WaitOutcome::Woken,
    }
}

/// A one-word wait function as a [`Wait`], for the sliced fallback (which
/// only calls `wait`).
struct SingleWait<'f, F>(&'f F);

impl<F: Fn(&AtomicU32, u32, Option<Duration>) -> WaitOutcome> Wait for SingleWait<'_, F> {
    fn wait(&self, word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> WaitOutcome {
        (self.0)(word, expected, timeout)
    }
    fn wake_one(&self, _: &AtomicU32) {}
    fn wake_all(&self, _: &AtomicU32) {}
}

fn futex_wake(word: &AtomicU32, count: i32, op: i32) {
    // SAFETY: FUTEX_WAKE only uses the address as a key; it reads nothing.
    unsafe { libc::syscall(libc::SYS_futex, word as *const AtomicU32, op, count) };
}

macro_rules! futex_impl {
    ($t:ty, $wait:expr, $wake:expr, $private:expr) => {
        impl Wait for $t {
            fn wait(
                &self,
                word: &AtomicU32,
                expected: u32,
                timeout: Option<Duration>,
            ) -> WaitOutcome {
                futex_wait(word, expected, timeout, $wait)
            }

            fn wake_one(&self, word: &AtomicU32) {
                futex_wake(word, 1, $wake);
            }

            fn wake_all(&self, word: &AtomicU32) {
                futex_wake(word, i32::MAX, $wake);
            }

            fn now_ns(&self) -> Option<u64> {
                Some(monotonic_ns())
            }

            fn yield_now(&self) {
                std::thread::yield_now();
            }

            /// One `futex_waitv` sleep on every word (Linux 5.16 and
            /// later; before, sleeps on the first word in slices of
            /// [`SLICE`](interlink_core::wait::wait_set::SLICE)).
            fn wait_any(
                &self,
                words: &[&AtomicU32],
                expected: &[u32],
                timeout: Option<Duration>,
            ) -> WaitOutcome {
                futex_waitv(words, expected, timeout, $private, |w, e, t| {
                    futex_wait(w, e, t, $wait)
                })
            }
        }
    };
}

futex_impl!(Futex, libc::FUTEX_WAIT, libc::FUTEX_WAKE, false);
futex_impl!(
    PrivateFutex,
    libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
    libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
    true
);

/// Liveness of lock owners as Linux sees it, for interlink's robust mutex.
///
/// [`Robust::me`] is the calling thread (pid, tid, and the process's start
/// time from `/proc/self/stat` as the stamp), computed once per thread and
/// cached — a `fork` child recomputes its own (a `pthread_atfork` handler
/// clears the cache). [`Robust::is_alive`] says an owner is dead when no
/// thread with its tid exists or that thread is a zombie (a killed
/// process's threads vanish; its main thread is a zombie until reaped):
/// [`crate::liveness::thread_alive`], the process rule (one parser of
/// `/proc/ID/stat`) under every liveness judgement of the crate.
/// Waiters ask every `poll_interval` (10 ms by default).
///
/// Limits: a dead owner's tid reused by a new thread before a waiter looks
/// reads as alive (the lock then waits for that thread; it is never stolen
/// from a live one). Holders and waiters must share a pid namespace.
#[derive(Clone, Copy, Debug)]
pub struct Robust {
    /// How often a waiter re-checks the owner.
    pub poll_interval: Duration,
}

impl Default for Robust {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(10),
        }
    }
}

thread_local! {
    static ME: std::cell::Cell<Option<Owner>> = const { std::cell::Cell::new(None) };
}

extern "C" fn forget_me_in_child() {
    ME.with(|me| me.set(None));
}

/// The calling thread's identity, read from the system once per thread
/// (and again in a forked child) and cached in `ME`.
#[cold]
#[inline(never)]
fn learn_me() -> Owner {
    /// Installs [`forget_me_in_child`] once per process.
    extern "C" fn install() {
        // SAFETY: registers a handler that only resets a thread-local Cell
        // in the child; it allocates nothing and takes no lock.
        unsafe { libc::pthread_atfork(None, None, Some(forget_me_in_child)) };
    }
    // glibc's `pthread_once`, which a fork during `install` cannot leave
    // stuck in the child (std's `Once` can: see liveness's presences).
    static mut ATFORK: libc::pthread_once_t = libc::PTHREAD_ONCE_INIT;
    // SAFETY: ATFORK is only ever touched by pthread_once, through this
    // raw pointer.
    unsafe { libc::pthread_once(std::ptr::addr_of_mut!(ATFORK), install) };
    let pid = std::process::id();
    // SAFETY: gettid has no preconditions.
    let tid = crate::process::holder_of(unsafe { libc::gettid() } as u32);
    let stamp = crate::liveness::start_time(pid).unwrap_or(0);
    let me = Owner { pid, tid, stamp };
    ME.with(|c| c.set(Some(me)));
    me
}

impl Robust {
    /// Robust liveness with the default poll interval.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Liveness for Robust {
    /// The cached identity: one thread-local read, inlined into the lock's
    /// fast path (the first call of a thread finds it in `/proc`).
    #[inline]
    fn me(&self) -> Owner {
        match ME.with(|me| me.get()) {
            Some(me) => me,
            None => learn_me(),
        }
    }

    /// Whether a thread with `owner.tid` lives (a zombie does not).
    ///
    /// The tid alone decides: the lock word names the holder by tid, while
    /// the recorded pid and start time may still be an earlier holder's
    /// that had the same tid (see [`Liveness::is_alive`]). So a holder that
    /// died is found dead as soon as its thread is gone, and a live thread
    /// with that tid is always taken for the holder. The one cost: if a
    /// dead holder's tid is reused by a new thread before a waiter looks,
    /// recovery waits until that thread ends (a wrong "alive", never a
    /// stolen lock). Holders and waiters must share a pid namespace.
    fn is_alive(&self, owner: &Owner) -> bool {
        crate::liveness::thread_alive(owner.tid.get())
    }

    fn poll_interval(&self) -> Option<Duration> {
        Some(self.poll_interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn me_is_cached_per_thread_and_alive() {
        let r = Robust::new();
        let me = r.me();
        assert_eq!(me.pid, std::process::id());
        assert_ne!(me.stamp, 0);
        assert_eq!(r.me(), me);
        assert!(r.is_alive(&me));
        let other = std::thread::spawn(move || Robust::new().me())
            .join()
            .unwrap();
        assert_eq!(other.pid, me.pid);
        assert_ne!(other.tid, me.tid);
        // The thread has exited: its owner record reads as dead.
        assert!(!r.is_alive(&other));
        // A record that names an earlier process with our tid: the live
        // tid decides (it may be the holder that has not rewritten it yet).
        assert!(r.is_alive(&Owner {
            stamp: me.stamp + 1,
            ..me
        }));
        // Only the tid known.
        assert!(r.is_alive(&Owner {
            pid: 0,
            tid: me.tid,
            stamp: 0
        }));
        assert!(!r.is_alive(&Owner {
            pid: 0,
            tid: other.tid,
            stamp: 0
        }));
    }

    #[test]
    fn a_fork_child_sees_itself() {
        let parent = Robust::new().me();
        let child = crate::process::fork(move || {
            let me = Robust::new().me();
            i32::from(me.pid == parent.pid || me.tid == parent.tid)
        })
        .unwrap();
        assert!(child.wait().unwrap().success());
    }

    #[test]
    fn timeouts_and_changed_words() {
        let word = AtomicU32::new(3);
        for w in [&Futex as &dyn Wait, &PrivateFutex] {
            let start = std::time::Instant::now();
            assert_eq!(
                w.wait(&word, 3, Some(Duration::from_millis(20))),
                WaitOutcome::TimedOut
            );
            assert!(start.elapsed() >= Duration::from_millis(20));
            // EAGAIN: the word differs.
            assert_eq!(w.wait(&word, 4, None), WaitOutcome::Woken);
            w.wake_one(&word);
            w.wake_all(&word);
            assert!(w.now_ns().is_some());
        }
    }
}
