//! `interlink_bytes`: one end (sender or receiver) of a named byte
//! channel (variable-length messages, each with a 32-bit tag).

use std::ffi::{c_char, c_int};
use std::mem::ManuallyDrop;
use std::ptr::NonNull;

use interlink_core::{RecvError, RingConfig};
use interlink_linux::channel::{ByteChannel, ByteReceiver, ByteSender};

use crate::error::{channel_fail, fail, recv_code, send_code, INVALID_ARGUMENT, OK};
use crate::{guarded, guarded_void, is_sender, options, put, timeout, Void};

enum Role<'c> {
    Tx(ByteSender<'c>),
    Rx(ByteReceiver<'c>),
}

/// An open end of a named byte channel (opaque to C).
#[allow(non_camel_case_types)]
pub struct interlink_bytes {
    role: ManuallyDrop<Role<'static>>,
    channel: NonNull<ByteChannel>,
}

impl Drop for interlink_bytes {
    fn drop(&mut self) {
        // SAFETY: `role` is dropped once, here, before the channel it
        // borrows.
        unsafe { ManuallyDrop::drop(&mut self.role) };
        // SAFETY: `channel` came from `Box::leak` in `create_or_open` and
        // nothing borrows it any more.
        drop(unsafe { Box::from_raw(self.channel.as_ptr()) });
    }
}

/// Shared body of create and open.
///
/// # Safety
/// As [`interlink_bytes_create`].
unsafe fn create_or_open(
    name: *const c_char,
    capacity: Option<u32>,
    role: c_int,
    open_timeout_ns: i64,
    out: *mut *mut interlink_bytes,
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
        let opts = options(open_timeout_ns);
        let channel = match capacity {
            Some(c) => ByteChannel::create(name, RingConfig::new(c), &opts),
            None => ByteChannel::open(name, &opts),
        };
        let channel = match channel {
            Ok(c) => NonNull::from(Box::leak(Box::new(c))),
            Err(e) => return channel_fail(e),
        };
        // SAFETY: the channel lives on the heap until the handle's drop
        // frees it, after the role that borrows it.
        let borrowed: &'static ByteChannel = unsafe { channel.as_ref() };
        let role = if sender {
            borrowed.sender().map(Role::Tx)
        } else {
            borrowed.receiver().map(Role::Rx)
        };
        match role {
            Ok(role) => {
                let handle = Box::new(interlink_bytes {
                    role: ManuallyDrop::new(role),
                    channel,
                });
                // SAFETY: `out` is non-null and writable (caller).
                unsafe { put(out, handle) };
                OK
            }
            Err(e) => {
                // SAFETY: from `Box::leak` above; nothing borrows it.
                drop(unsafe { Box::from_raw(channel.as_ptr()) });
                channel_fail(e)
            }
        }
    })
}

/// Creates the byte channel `name` (`capacity` bytes) and returns one end.
///
/// # Safety
/// `name` is null or NUL-terminated; `out` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn interlink_bytes_create(
    name: *const c_char,
    capacity: u32,
    role: c_int,
    out: *mut *mut interlink_bytes,
) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { create_or_open(name, Some(capacity), role, 0, out) }
}

/// Opens the byte channel `name` and returns one end.
///
/// # Safety
/// `name` is null or NUL-terminated; `out` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn interlink_bytes_open(
    name: *const c_char,
    role: c_int,
    open_timeout_ns: i64,
    out: *mut *mut interlink_bytes,
) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { create_or_open(name, None, role, open_timeout_ns, out) }
}

/// The largest payload a message may have.
///
/// # Safety
/// `ch` is null (0 is returned) or a live handle.
#[no_mangle]
pub unsafe extern "C" fn interlink_bytes_max_payload(ch: *const interlink_bytes) -> u32 {
    catch(|| {
        // SAFETY: the caller passes a live handle or null.
        match unsafe { ch.as_ref() } {
            // SAFETY: the channel lives as long as the handle.
            Some(h) => unsafe { h.channel.as_ref() }.max_payload(),
            None => 0,
        }
    })
}

/// [`guarded`] for a `u32` result (0 after a panic).
fn catch(f: impl FnOnce() -> u32) -> u32 {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(0)
}

/// The payload slice behind a C pointer and length.
///
/// # Safety
/// `data` is null only with `len == 0`, else points to `len` bytes.
unsafe fn payload<'a>(data: *const Void, len: usize) -> Result<&'a [u8], c_int> {
    if len == 0 {
        return Ok(&[]);
    }
    if data.is_null() {
        return Err(INVALID_ARGUMENT);
    }
    // SAFETY: the caller gives `len` readable bytes at `data`.
    Ok(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) })
}

/// Sends (or tries to, `wait` = `None`) one message.
///
/// # Safety
/// As [`interlink_bytes_send`].
unsafe fn send(
    ch: *mut interlink_bytes,
    tag: u32,
    data: *const Void,
    len: usize,
    wait: Option<i64>,
) -> c_int {
    guarded(|| {
        // SAFETY: the caller passes a live handle used by this thread only.
        let Some(h) = (unsafe { ch.as_mut() }) else {
            return INVALID_ARGUMENT;
        };
        let Role::Tx(tx) = &mut *h.role else {
            return INVALID_ARGUMENT;
        };
        // SAFETY: forwarded from the caller.
        let payload = match unsafe { payload(data, len) } {
            Ok(p) => p,
            Err(code) => return code,
        };
        let r = match wait.map(timeout) {
            None => tx.try_send(tag, payload),
            Some(None) => tx.send(tag, payload),
            Some(Some(t)) => tx.send_timeout(tag, payload, t),
        };
        r.map_or_else(send_code, |()| OK)
    })
}

/// Receives (or tries to, `wait` = `None`) one message.
///
/// # Safety
/// As [`interlink_bytes_recv`].
unsafe fn recv(
    ch: *mut interlink_bytes,
    tag: *mut u32,
    buf: *mut Void,
    cap: usize,
    len: *mut usize,
    wait: Option<i64>,
) -> c_int {
    guarded(|| {
        // SAFETY: the caller passes a live handle used by this thread only.
        let Some(h) = (unsafe { ch.as_mut() }) else {
            return INVALID_ARGUMENT;
        };
        let Role::Rx(rx) = &mut *h.role else {
            return INVALID_ARGUMENT;
        };
        if len.is_null() || (buf.is_null() && cap != 0) {
            return INVALID_ARGUMENT;
        }
        let out: &mut [u8] = if cap == 0 {
            &mut []
        } else {
            // SAFETY: the caller gives `cap` writable bytes at `buf`.
            unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), cap) }
        };
        let r = match wait.map(timeout) {
            None => rx.try_recv(out),
            Some(None) => rx.recv(out),
            Some(Some(t)) => rx.recv_timeout(out, t),
        };
        match r {
            Ok((t, n)) => {
                // SAFETY: `len` is non-null and writable; `tag` is null
                // or writable (caller).
                unsafe {
                    len.write(n);
                    if !tag.is_null() {
                        tag.write(t);
                    }
                }
                OK
            }
            Err(e) => {
                if let RecvError::BufferTooSmall { needed } = e {
                    // SAFETY: `len` is non-null and writable (caller).
                    unsafe { len.write(needed) };
                }
                recv_code(e)
            }
        }
    })
}

/// Sends one message if there is room now.
///
/// # Safety
/// `ch` is null or a live handle; `data` points to `len` bytes (may be
/// null when `len` is 0).
#[no_mangle]
pub unsafe extern "C" fn interlink_bytes_try_send(
    ch: *mut interlink_bytes,
    tag: u32,
    data: *const Void,
    len: usize,
) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { send(ch, tag, data, len, None) }
}

/// Sends one message, waiting for room up to `timeout_ns` (negative: no limit).
///
/// # Safety
/// As [`interlink_bytes_try_send`].
#[no_mangle]
pub unsafe extern "C" fn interlink_bytes_send(
    ch: *mut interlink_bytes,
    tag: u32,
    data: *const Void,
    len: usize,
    timeout_ns: i64,
) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { send(ch, tag, data, len, Some(timeout_ns)) }
}

/// Receives one message if one is ready.
///
/// # Safety
/// `ch` is null or a live handle; `buf` has `cap` writable bytes; `len`
/// is writable; `tag` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn interlink_bytes_try_recv(
    ch: *mut interlink_bytes,
    tag: *mut u32,
    buf: *mut Void,
    cap: usize,
    len: *mut usize,
) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { recv(ch, tag, buf, cap, len, None) }
}

/// Receives one message, waiting up to `timeout_ns` (negative: no limit).
///
/// # Safety
/// As [`interlink_bytes_try_recv`].
#[no_mangle]
pub unsafe extern "C" fn interlink_bytes_recv(
    ch: *mut interlink_bytes,
    tag: *mut u32,
    buf: *mut Void,
    cap: usize,
    len: *mut usize,
    timeout_ns: i64,
) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { recv(ch, tag, buf, cap, len, Some(timeout_ns)) }
}

/// Releases the end and unmaps the channel (the creator's close unlinks
/// the name). Null: nothing.
///
/// # Safety
/// `ch` is null or a live handle, not used again.
#[no_mangle]
pub unsafe extern "C" fn interlink_bytes_close(ch: *mut interlink_bytes) {
    // SAFETY: forwarded from the caller.
    guarded_void(|| unsafe { crate::free(ch) });
}
