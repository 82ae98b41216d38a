//! `interlink_mpmc`: a handle on a named MPMC channel of fixed-size
//! elements, for sending and receiving. Unlike the other handles it may
//! be used by several threads at once.

use std::ffi::{c_char, c_int};
use std::ptr::NonNull;
use std::time::Duration;

use interlink_core::RingConfig;
use interlink_linux::channel::{ChannelOptions, MpmcChannel, MpmcHandle};

use crate::elem::{self, sizes};
use crate::error::{channel_fail, fail, recv_code, send_code, INVALID_ARGUMENT, OK};
use crate::{guarded, guarded_void, non_null, options, put, timeout, Void};

/// The operations of a handle, whatever its element size.
trait End: Sync {
    fn try_send(&self, src: *const u8) -> c_int;
    fn send(&self, src: *const u8, timeout: Option<Duration>) -> c_int;
    fn try_recv(&self, dst: *mut u8) -> c_int;
    fn recv(&self, dst: *mut u8, timeout: Option<Duration>) -> c_int;
}

/// A handle and the channel it borrows (freed after it).
struct Imp<const N: usize> {
    handle: MpmcHandle<'static, [u8; N]>,
    channel: NonNull<MpmcChannel<[u8; N]>>,
}

// SAFETY: the handle is `Sync` (its ring is; its blocking strategy is
// plain data) and the channel behind `channel` is only read through the
// handle and freed in `drop`, which has exclusive access.
unsafe impl<const N: usize> Sync for Imp<N> where MpmcHandle<'static, [u8; N]>: Sync {}

impl<const N: usize> Drop for Imp<N> {
    fn drop(&mut self) {
        // SAFETY: `channel` came from `Box::leak` in `make`; the handle
        // (a copyable view that owns nothing) is not used after this.
        drop(unsafe { Box::from_raw(self.channel.as_ptr()) });
    }
}

impl<const N: usize> End for Imp<N>
where
    MpmcHandle<'static, [u8; N]>: Sync,
{
    fn try_send(&self, src: *const u8) -> c_int {
        // SAFETY: the C caller passes an element of the handle's size
        // (`[u8; N]` has alignment 1).
        let v = unsafe { src.cast::<[u8; N]>().read() };
        self.handle.try_send(v).map_or_else(send_code, |()| OK)
    }

    fn send(&self, src: *const u8, timeout: Option<Duration>) -> c_int {
        // SAFETY: as in `try_send`.
        let v = unsafe { src.cast::<[u8; N]>().read() };
        let r = match timeout {
            Some(t) => self.handle.send_timeout(v, t),
            None => self.handle.send(v),
        };
        r.map_or_else(send_code, |()| OK)
    }

    fn try_recv(&self, dst: *mut u8) -> c_int {
        match self.handle.try_recv() {
            // SAFETY: the C caller passes room for an element.
            Ok(v) => unsafe { dst.cast::<[u8; N]>().write(v) },
            Err(e) => return recv_code(e),
        }
        OK
    }

    fn recv(&self, dst: *mut u8, timeout: Option<Duration>) -> c_int {
        let r = match timeout {
            Some(t) => self.handle.recv_timeout(t),
            None => self.handle.recv(),
        };
        match r {
            // SAFETY: the C caller passes room for an element.
            Ok(v) => unsafe { dst.cast::<[u8; N]>().write(v) },
            Err(e) => return recv_code(e),
        }
        OK
    }
}

/// Creates (`capacity` given) or opens the channel and makes a handle.
fn make<const N: usize>(
    name: &str,
    capacity: Option<u32>,
    opts: &ChannelOptions,
) -> Result<Box<dyn End>, c_int> {
    let channel = match capacity {
        Some(c) => MpmcChannel::<[u8; N]>::create(name, RingConfig::new(c), opts),
        None => MpmcChannel::<[u8; N]>::open(name, opts),
    }
    .map_err(channel_fail)?;
    let channel = NonNull::from(Box::leak(Box::new(channel)));
    // SAFETY: the channel lives on the heap until `Imp::drop` frees it;
    // it is never moved or mutated meanwhile.
    let borrowed: &'static MpmcChannel<[u8; N]> = unsafe { channel.as_ref() };
    match borrowed.handle() {
        Ok(handle) => Ok(Box::new(Imp { handle, channel })),
        Err(e) => {
            // SAFETY: from `Box::leak` above; nothing borrows it.
            drop(unsafe { Box::from_raw(channel.as_ptr()) });
            Err(channel_fail(e))
        }
    }
}

type Make = fn(&str, Option<u32>, &ChannelOptions) -> Result<Box<dyn End>, c_int>;

macro_rules! table {
    ($($n:literal)*) => {
        const TABLE: &[(usize, Make)] = &[$(($n, make::<$n>)),*];
    };
}
sizes!(table);

/// An open handle on a named MPMC channel (opaque to C).
#[allow(non_camel_case_types)]
pub struct interlink_mpmc {
    end: Box<dyn End>,
}

/// Shared body of create and open.
///
/// # Safety
/// As [`interlink_mpmc_create`].
unsafe fn create_or_open(
    name: *const c_char,
    capacity: Option<u32>,
    elem_size: usize,
    elem_align: usize,
    open_timeout_ns: i64,
    out: *mut *mut interlink_mpmc,
) -> c_int {
    guarded(|| {
        if out.is_null() {
            return fail(INVALID_ARGUMENT, "out is null");
        }
        // SAFETY: forwarded from the caller.
        let name = match unsafe { crate::name(name) } {
            Ok(n) => n,
            Err(code) => return code,
        };
        if let Err(code) = elem::check(elem_size, elem_align) {
            return code;
        }
        let Some(make) = elem::lookup(TABLE, elem_size) else {
            return fail(INVALID_ARGUMENT, "element size not supported");
        };
        match make(name, capacity, &options(open_timeout_ns)) {
            Ok(end) => {
                // SAFETY: `out` is non-null and writable (caller).
                unsafe { put(out, Box::new(interlink_mpmc { end })) };
                OK
            }
            Err(code) => code,
        }
    })
}

/// Creates the MPMC channel `name` and returns a handle on it.
///
/// # Safety
/// `name` is null or NUL-terminated; `out` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn interlink_mpmc_create(
    name: *const c_char,
    capacity: u32,
    elem_size: usize,
    elem_align: usize,
    out: *mut *mut interlink_mpmc,
) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { create_or_open(name, Some(capacity), elem_size, elem_align, 0, out) }
}

/// Opens the MPMC channel `name` and returns a handle on it.
///
/// # Safety
/// `name` is null or NUL-terminated; `out` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn interlink_mpmc_open(
    name: *const c_char,
    elem_size: usize,
    elem_align: usize,
    open_timeout_ns: i64,
    out: *mut *mut interlink_mpmc,
) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { create_or_open(name, None, elem_size, elem_align, open_timeout_ns, out) }
}

/// Runs `f` on the handle (`INVALID_ARGUMENT` for null).
///
/// # Safety
/// `ch` is null or a live handle.
unsafe fn with(ch: *const interlink_mpmc, f: impl FnOnce(&dyn End) -> c_int) -> c_int {
    guarded(|| {
        // SAFETY: the caller passes a live handle; it is only read.
        match unsafe { ch.as_ref() } {
            Some(ch) => f(&*ch.end),
            None => INVALID_ARGUMENT,
        }
    })
}

/// Sends one element if there is room now.
///
/// # Safety
/// `ch` is null or a live handle; `elem` is null or points to an element.
#[no_mangle]
pub unsafe extern "C" fn interlink_mpmc_try_send(
    ch: *mut interlink_mpmc,
    elem: *const Void,
) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe {
        with(ch, |end| match non_null(elem) {
            Ok(p) => end.try_send(p.cast()),
            Err(code) => code,
        })
    }
}

/// Sends one element, waiting for room up to `timeout_ns` (negative: no limit).
///
/// # Safety
/// As [`interlink_mpmc_try_send`].
#[no_mangle]
pub unsafe extern "C" fn interlink_mpmc_send(
    ch: *mut interlink_mpmc,
    elem: *const Void,
    timeout_ns: i64,
) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe {
        with(ch, |end| match non_null(elem) {
            Ok(p) => end.send(p.cast(), timeout(timeout_ns)),
            Err(code) => code,
        })
    }
}

/// Receives one element if one is ready.
///
/// # Safety
/// `ch` is null or a live handle; `elem` is null or has room for an element.
#[no_mangle]
pub unsafe extern "C" fn interlink_mpmc_try_recv(
    ch: *mut interlink_mpmc,
    elem: *mut Void,
) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe {
        with(ch, |end| match non_null(elem) {
            Ok(p) => end.try_recv(p.cast_mut().cast()),
            Err(code) => code,
        })
    }
}

/// Receives one element, waiting up to `timeout_ns` (negative: no limit).
///
/// # Safety
/// As [`interlink_mpmc_try_recv`].
#[no_mangle]
pub unsafe extern "C" fn interlink_mpmc_recv(
    ch: *mut interlink_mpmc,
    elem: *mut Void,
    timeout_ns: i64,
) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe {
        with(ch, |end| match non_null(elem) {
            Ok(p) => end.recv(p.cast_mut().cast(), timeout(timeout_ns)),
            Err(code) => code,
        })
    }
}

/// Closes the handle (the creator's close unlinks the name). Null: nothing.
///
/// # Safety
/// `ch` is null or a live handle, used by no thread again.
#[no_mangle]
pub unsafe extern "C" fn interlink_mpmc_close(ch: *mut interlink_mpmc) {
    // SAFETY: forwarded from the caller.
    guarded_void(|| unsafe { crate::free(ch) });
}
