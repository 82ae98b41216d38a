//! `interlink_spsc`: one end (sender or receiver) of a named SPSC channel
//! of fixed-size elements.

use std::ffi::{c_char, c_int};
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::time::Duration;

use interlink_core::RingConfig;
use interlink_linux::channel::{ChannelOptions, Receiver, Sender, SpscChannel};

use crate::elem::{self, sizes};
use crate::error::{channel_fail, fail, recv_code, send_code, INVALID_ARGUMENT, OK};
use crate::{guarded, guarded_void, is_sender, non_null, options, put, timeout, Void};

/// The operations of one end, whatever its element size.
trait End {
    fn try_send(&mut self, src: *const u8) -> c_int;
    fn send(&mut self, src: *const u8, timeout: Option<Duration>) -> c_int;
    fn try_recv(&mut self, dst: *mut u8) -> c_int;
    fn recv(&mut self, dst: *mut u8, timeout: Option<Duration>) -> c_int;
}

enum Role<'c, const N: usize> {
    Tx(Sender<'c, [u8; N]>),
    Rx(Receiver<'c, [u8; N]>),
}

/// An end and the channel it borrows (freed after it).
struct Imp<const N: usize> {
    role: ManuallyDrop<Role<'static, N>>,
    channel: NonNull<SpscChannel<[u8; N]>>,
}

impl<const N: usize> Drop for Imp<N> {
    fn drop(&mut self) {
        // SAFETY: `role` is dropped once, here, before the channel it
        // borrows.
        unsafe { ManuallyDrop::drop(&mut self.role) };
        // SAFETY: `channel` came from `Box::into_raw` in `make` and
        // nothing borrows it any more.
        drop(unsafe { Box::from_raw(self.channel.as_ptr()) });
    }
}

/// Reads an element from C memory.
///
/// # Safety
/// `src` points to `N` readable bytes.
unsafe fn load<const N: usize>(src: *const u8) -> [u8; N] {
    // SAFETY: `[u8; N]` has alignment 1 and the caller gives N bytes.
    unsafe { src.cast::<[u8; N]>().read() }
}

/// Writes an element to C memory.
///
/// # Safety
/// `dst` points to `N` writable bytes.
unsafe fn store<const N: usize>(dst: *mut u8, value: [u8; N]) {
    // SAFETY: `[u8; N]` has alignment 1 and the caller gives N bytes.
    unsafe { dst.cast::<[u8; N]>().write(value) }
}

impl<const N: usize> End for Imp<N> {
    fn try_send(&mut self, src: *const u8) -> c_int {
        let Role::Tx(tx) = &mut *self.role else {
            return INVALID_ARGUMENT;
        };
        // SAFETY: the C caller passes an element of the handle's size.
        let v = unsafe { load::<N>(src) };
        tx.try_send(v).map_or_else(send_code, |()| OK)
    }

    fn send(&mut self, src: *const u8, timeout: Option<Duration>) -> c_int {
        let Role::Tx(tx) = &mut *self.role else {
            return INVALID_ARGUMENT;
        };
        // SAFETY: as in `try_send`.
        let v = unsafe { load::<N>(src) };
        let r = match timeout {
            Some(t) => tx.send_timeout(v, t),
            None => tx.send(v),
        };
        r.map_or_else(send_code, |()| OK)
    }

    fn try_recv(&mut self, dst: *mut u8) -> c_int {
        let Role::Rx(rx) = &mut *self.role else {
            return INVALID_ARGUMENT;
        };
        match rx.try_recv() {
            // SAFETY: the C caller passes room for an element.
            Ok(v) => unsafe { store::<N>(dst, v) },
            Err(e) => return recv_code(e),
        }
        OK
    }

    fn recv(&mut self, dst: *mut u8, timeout: Option<Duration>) -> c_int {
        let Role::Rx(rx) = &mut *self.role else {
            return INVALID_ARGUMENT;
        };
        let r = match timeout {
            Some(t) => rx.recv_timeout(t),
            None => rx.recv(),
        };
        match r {
            // SAFETY: the C caller passes room for an element.
            Ok(v) => unsafe { store::<N>(dst, v) },
            Err(e) => return recv_code(e),
        }
        OK
    }
}

/// Creates (`capacity` given) or opens the channel and claims a role.
fn make<const N: usize>(
    name: &str,
    capacity: Option<u32>,
    sender: bool,
    opts: &ChannelOptions,
) -> Result<Box<dyn End>, c_int> {
    let channel = match capacity {
        Some(c) => SpscChannel::<[u8; N]>::create(name, RingConfig::new(c), opts),
        None => SpscChannel::<[u8; N]>::open(name, opts),
    }
    .map_err(channel_fail)?;
    let channel = NonNull::from(Box::leak(Box::new(channel)));
    // SAFETY: the channel lives on the heap until `Imp::drop` frees it,
    // after the role that borrows it; it is never moved or mutated.
    let borrowed: &'static SpscChannel<[u8; N]> = unsafe { channel.as_ref() };
    let role = if sender {
        borrowed.sender().map(Role::Tx)
    } else {
        borrowed.receiver().map(Role::Rx)
    };
    match role {
        Ok(role) => Ok(Box::new(Imp {
            role: ManuallyDrop::new(role),
            channel,
        })),
        Err(e) => {
            // SAFETY: from `Box::leak` above; nothing borrows it.
            drop(unsafe { Box::from_raw(channel.as_ptr()) });
            Err(channel_fail(e))
        }
    }
}

type Make = fn(&str, Option<u32>, bool, &ChannelOptions) -> Result<Box<dyn End>, c_int>;

macro_rules! table {
    ($($n:literal)*) => {
        const TABLE: &[(usize, Make)] = &[$(($n, make::<$n>)),*];
    };
}
sizes!(table);

/// An open end of a named SPSC channel (opaque to C).
#[allow(non_camel_case_types)]
pub struct interlink_spsc {
    end: Box<dyn End>,
}

/// Shared body of create and open.
///
/// # Safety
/// As [`interlink_spsc_create`].
unsafe fn create_or_open(
    name: *const c_char,
    capacity: Option<u32>,
    elem_size: usize,
    elem_align: usize,
    role: c_int,
    open_timeout_ns: i64,
    out: *mut *mut interlink_spsc,
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
        let sender = match is_sender(role) {
            Ok(s) => s,
            Err(code) => return code,
        };
        if let Err(code) = elem::check(elem_size, elem_align) {
            return code;
        }
        let Some(make) = elem::lookup(TABLE, elem_size) else {
            return fail(INVALID_ARGUMENT, "element size not supported");
        };
        match make(name, capacity, sender, &options(open_timeout_ns)) {
            Ok(end) => {
                // SAFETY: `out` is non-null and writable (caller).
                unsafe { put(out, Box::new(interlink_spsc { end })) };
                OK
            }
            Err(code) => code,
        }
    })
}

/// Creates the SPSC channel `name` and returns one end of it.
///
/// # Safety
/// `name` is null or NUL-terminated; `out` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn interlink_spsc_create(
    name: *const c_char,
    capacity: u32,
    elem_size: usize,
    elem_align: usize,
    role: c_int,
    out: *mut *mut interlink_spsc,
) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { create_or_open(name, Some(capacity), elem_size, elem_align, role, 0, out) }
}

/// Opens the SPSC channel `name` and returns one end of it.
///
/// # Safety
/// `name` is null or NUL-terminated; `out` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn interlink_spsc_open(
    name: *const c_char,
    elem_size: usize,
    elem_align: usize,
    role: c_int,
    open_timeout_ns: i64,
    out: *mut *mut interlink_spsc,
) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe {
        create_or_open(
            name,
            None,
            elem_size,
            elem_align,
            role,
            open_timeout_ns,
            out,
        )
    }
}

/// Runs `f` on the handle (`INVALID_ARGUMENT` for null).
///
/// # Safety
/// `ch` is null or a live handle used by no other thread now.
unsafe fn with(ch: *mut interlink_spsc, f: impl FnOnce(&mut dyn End) -> c_int) -> c_int {
    guarded(|| {
        // SAFETY: the caller passes a live handle, used by this thread only.
        match unsafe { ch.as_mut() } {
            Some(ch) => f(&mut *ch.end),
            None => INVALID_ARGUMENT,
        }
    })
}

/// Sends one element if there is room now.
///
/// # Safety
/// `ch` is null or a live handle; `elem` is null or points to an element.
#[no_mangle]
pub unsafe extern "C" fn interlink_spsc_try_send(
    ch: *mut interlink_spsc,
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
/// As [`interlink_spsc_try_send`].
#[no_mangle]
pub unsafe extern "C" fn interlink_spsc_send(
    ch: *mut interlink_spsc,
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
pub unsafe extern "C" fn interlink_spsc_try_recv(
    ch: *mut interlink_spsc,
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
/// As [`interlink_spsc_try_recv`].
#[no_mangle]
pub unsafe extern "C" fn interlink_spsc_recv(
    ch: *mut interlink_spsc,
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

/// Releases the end and unmaps the channel (the creator's close unlinks
/// the name). Null: nothing.
///
/// # Safety
/// `ch` is null or a live handle, not used again.
#[no_mangle]
pub unsafe extern "C" fn interlink_spsc_close(ch: *mut interlink_spsc) {
    // SAFETY: forwarded from the caller.
    guarded_void(|| unsafe { crate::free(ch) });
}
