//! The C API's send and receive calls allocate nothing: a counting global
//! allocator watches this thread while it calls try_send, send, try_recv
//! and recv (without waiting and with a timeout that finds data) on every
//! channel kind, and the mutex's lock, data and unlock.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::CString;
use std::ptr;

use interlink_c::*;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(p, layout) }
    }
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(p, layout, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

fn name(what: &str) -> CString {
    CString::new(format!("/il-capi-noalloc-{what}-{}", std::process::id())).unwrap()
}

const OK: i32 = error::OK;
const SECOND: i64 = 1_000_000_000;

#[test]
fn sending_and_receiving_allocate_nothing() {
    let (s, b, m, x) = (name("s"), name("b"), name("m"), name("x"));
    let mut tx = ptr::null_mut();
    let mut rx = ptr::null_mut();
    let mut btx = ptr::null_mut();
    let mut brx = ptr::null_mut();
    let mut mp = ptr::null_mut();
    let mut mx = ptr::null_mut();
    let at_start = allocations();
    // SAFETY: valid names and out-pointers; each handle is closed once at
    // the end and used by this thread only.
    unsafe {
        assert_eq!(
            interlink_spsc_create(s.as_ptr(), 64, 24, 8, ROLE_SENDER, &mut tx),
            OK
        );
        assert_eq!(
            interlink_spsc_open(s.as_ptr(), 24, 8, ROLE_RECEIVER, 0, &mut rx),
            OK
        );
        assert_eq!(
            interlink_bytes_create(b.as_ptr(), 4096, ROLE_SENDER, &mut btx),
            OK
        );
        assert_eq!(
            interlink_bytes_open(b.as_ptr(), ROLE_RECEIVER, 0, &mut brx),
            OK
        );
        assert_eq!(interlink_mpmc_create(m.as_ptr(), 64, 8, 8, &mut mp), OK);
        assert_eq!(interlink_mutex_create(x.as_ptr(), 8, 8, &mut mx), OK);

        // The counter counts: creating allocates the handles.
        assert!(allocations() > at_start);
        let elem = [7u8; 24];
        let mut out = [0u8; 24];
        let payload = [3u8; 100];
        let mut buf = [0u8; 256];
        let (mut tag, mut len) = (0u32, 0usize);
        // Warm up (first uses may initialise thread-locals).
        assert_eq!(interlink_spsc_try_send(tx, elem.as_ptr().cast()), OK);
        assert_eq!(interlink_spsc_try_recv(rx, out.as_mut_ptr().cast()), OK);
        assert_eq!(interlink_mutex_lock(mx, SECOND), OK);
        assert_eq!(interlink_mutex_unlock(mx), OK);

        let before = allocations();
        for _ in 0..100 {
            assert_eq!(interlink_spsc_try_send(tx, elem.as_ptr().cast()), OK);
            assert_eq!(interlink_spsc_send(tx, elem.as_ptr().cast(), SECOND), OK);
            assert_eq!(interlink_spsc_try_recv(rx, out.as_mut_ptr().cast()), OK);
            assert_eq!(interlink_spsc_recv(rx, out.as_mut_ptr().cast(), SECOND), OK);
            assert_eq!(
                interlink_spsc_try_recv(rx, out.as_mut_ptr().cast()),
                error::EMPTY
            );

            assert_eq!(
                interlink_bytes_try_send(btx, 1, payload.as_ptr().cast(), 100),
                OK
            );
            assert_eq!(
                interlink_bytes_send(btx, 2, payload.as_ptr().cast(), 50, SECOND),
                OK
            );
            let r = interlink_bytes_try_recv(brx, &mut tag, buf.as_mut_ptr().cast(), 256, &mut len);
            assert_eq!((r, tag, len), (OK, 1, 100));
            let r = interlink_bytes_recv(
                brx,
                &mut tag,
                buf.as_mut_ptr().cast(),
                256,
                &mut len,
                SECOND,
            );
            assert_eq!((r, tag, len), (OK, 2, 50));

            let v = 42u64;
            let mut w = 0u64;
            assert_eq!(interlink_mpmc_try_send(mp, (&v as *const u64).cast()), OK);
            assert_eq!(
                interlink_mpmc_send(mp, (&v as *const u64).cast(), SECOND),
                OK
            );
            assert_eq!(interlink_mpmc_try_recv(mp, (&mut w as *mut u64).cast()), OK);
            assert_eq!(
                interlink_mpmc_recv(mp, (&mut w as *mut u64).cast(), SECOND),
                OK
            );

            assert_eq!(interlink_mutex_lock(mx, SECOND), OK);
            assert!(!interlink_mutex_data(mx).is_null());
            assert_eq!(interlink_mutex_unlock(mx), OK);
            assert_eq!(interlink_mutex_try_lock(mx), OK);
            assert_eq!(interlink_mutex_unlock(mx), OK);
        }
        assert_eq!(
            allocations() - before,
            0,
            "allocations on the send/receive path"
        );
        assert_eq!(out, elem);

        interlink_spsc_close(rx);
        interlink_spsc_close(tx);
        interlink_bytes_close(brx);
        interlink_bytes_close(btx);
        interlink_mpmc_close(mp);
        interlink_mutex_close(mx);
    }
}
