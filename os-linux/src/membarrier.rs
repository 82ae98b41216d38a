//! Linux's `membarrier(2)`, global and expedited: a memory barrier run on
//! every CPU that is executing a thread of a *registered* process, so one
//! side of a handshake can pay for both.
//!
//! [`StreamingFutex`](crate::futex::StreamingFutex) uses it to take the
//! `SeqCst` fence off every blocking ring operation: a notifier registers
//! its process once ([`register`]) and then needs only a compiler fence; a
//! sleeper calls [`barrier`] between announcing itself and re-checking.
//! Either the barrier reached the notifier's CPU after the notifier's load
//! (then that load sees the announcement) or before it (then the
//! notifier's earlier store was flushed by it, and the re-check sees it).
//!
//! Registration belongs to an address space: a `fork` child is not
//! registered, so a `pthread_atfork` handler forgets the state in the child,
//! which registers again on first use.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Once;

const CMD_QUERY: libc::c_int = 0;
const CMD_GLOBAL_EXPEDITED: libc::c_int = 1 << 1;
const CMD_REGISTER_GLOBAL_EXPEDITED: libc::c_int = 1 << 2;

/// This process's standing, in `STATE`.
const UNKNOWN: u8 = 0;
const REGISTERED: u8 = 1;
const UNAVAILABLE: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);

fn membarrier(cmd: libc::c_int) -> libc::c_long {
    // SAFETY: membarrier takes no pointers; an unknown or refused command
    // returns -1 with errno set.
    unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0u32, 0 as libc::c_int) }
}

extern "C" fn forget_in_child() {
    STATE.store(UNKNOWN, Ordering::Relaxed);
}

/// Whether this process is registered already (no syscall).
#[inline]
pub fn is_registered() -> bool {
    STATE.load(Ordering::Acquire) == REGISTERED
}

/// Whether this process is registered for global expedited barriers,
/// registering it on the first call (and the first after a `fork`). False
/// when the kernel lacks the command or a seccomp filter refuses it; then
/// callers must use full fences on both sides.
#[inline]
pub fn register() -> bool {
    match STATE.load(Ordering::Acquire) {
        REGISTERED => true,
        UNAVAILABLE => false,
        _ => register_slow(),
    }
}

#[cold]
#[inline(never)]
fn register_slow() -> bool {
    static ATFORK: Once = Once::new();
    // The handler only stores to an atomic.
    crate::process::at_fork_child(&ATFORK, forget_in_child);
    let supported = membarrier(CMD_QUERY);
    let ok = supported >= 0
        && supported & CMD_GLOBAL_EXPEDITED as libc::c_long != 0
        && membarrier(CMD_REGISTER_GLOBAL_EXPEDITED) == 0;
    STATE.store(if ok { REGISTERED } else { UNAVAILABLE }, Ordering::Release);
    ok
}

/// Runs a full memory barrier on every CPU that is running a thread of a
/// registered process (and this one); returns false if the kernel refused
/// (then only this thread's own `SeqCst` fence, which the caller must
/// still issue, orders anything).
pub fn barrier() -> bool {
    membarrier(CMD_GLOBAL_EXPEDITED) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_once_and_barriers_succeed() {
        // This kernel (6.x, no seccomp filter) supports it; the CI runs here.
        assert!(register());
        assert_eq!(STATE.load(Ordering::Relaxed), REGISTERED);
        assert!(register());
        assert!(barrier());
    }
}
