//! The C API of interlink (header: `include/interlink.h`, which documents
//! every function; guide: `docs/c-api.md`): the named SPSC, byte and MPMC
//! channels of `interlink-linux` and the robust mutex in a named shared
//! memory object, behind opaque handles and integer error codes.
//!
//! Built as a static library (`libinterlink_c.a`), a shared library
//! (`libinterlink_c.so`) and an rlib (for the Rust tests).
//!
//! Rules every function here follows:
//! - no Rust panic crosses the boundary: each body runs under
//!   [`std::panic::catch_unwind`] and a panic becomes
//!   `INTERLINK_ERR_INTERNAL` (the workspace builds with `panic = "unwind"`;
//!   a build with `panic = "abort"` would abort instead);
//! - null pointers are refused with `INTERLINK_ERR_INVALID_ARGUMENT`
//!   (`close` of null does nothing);
//! - the send and receive paths allocate nothing: a handle holds
//!   everything it needs from create or open (only failing creates and
//!   opens allocate, for `interlink_last_error`).

use std::ffi::{c_char, c_int, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use interlink_linux::channel::ChannelOptions;

mod bytes;
mod elem;
pub mod error;
mod mpmc;
mod mutex;
mod spsc;

pub use bytes::*;
pub use mpmc::*;
pub use mutex::*;
pub use spsc::*;

use error::{fail, INTERNAL, INVALID_ARGUMENT};

/// `interlink_role`: the sending end.
pub const ROLE_SENDER: c_int = 0;
/// `interlink_role`: the receiving end.
pub const ROLE_RECEIVER: c_int = 1;

/// Runs `f`, turning a panic into `INTERLINK_ERR_INTERNAL`.
fn guarded(f: impl FnOnce() -> c_int) -> c_int {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(INTERNAL)
}

/// Runs `f` for its effect only (close): a panic is swallowed.
fn guarded_void(f: impl FnOnce()) {
    let _ = catch_unwind(AssertUnwindSafe(f));
}

/// A C timeout in nanoseconds: negative waits without limit.
fn timeout(ns: i64) -> Option<Duration> {
    u64::try_from(ns).ok().map(Duration::from_nanos)
}

/// Whether `role` is the sender (`Err` when it is neither role).
fn is_sender(role: c_int) -> Result<bool, c_int> {
    match role {
        ROLE_SENDER => Ok(true),
        ROLE_RECEIVER => Ok(false),
        _ => Err(fail(
            INVALID_ARGUMENT,
            format_args!("role {role} is neither sender (0) nor receiver (1)"),
        )),
    }
}

/// The name behind a C string, or `Err` (null or not UTF-8).
///
/// # Safety
/// `name` is null or points to a NUL-terminated string.
unsafe fn name<'a>(name: *const c_char) -> Result<&'a str, c_int> {
    if name.is_null() {
        return Err(fail(INVALID_ARGUMENT, "name is null"));
    }
    // SAFETY: the caller passes a NUL-terminated string (checked non-null).
    let s = unsafe { CStr::from_ptr(name) };
    s.to_str()
        .map_err(|_| fail(INVALID_ARGUMENT, "name is not UTF-8"))
}

/// Options for creating (the defaults) or opening (`open_timeout_ns`,
/// negative: one day) with the C API's element check.
fn options(open_timeout_ns: i64) -> ChannelOptions {
    ChannelOptions::new()
        .open_timeout(timeout(open_timeout_ns).unwrap_or(Duration::from_secs(86_400)))
        .element_check(interlink_core::ElementCheck::LayoutOnly)
}

/// Stores `value` at `out` (checked non-null by the caller).
///
/// # Safety
/// `out` is valid for a write of a pointer.
unsafe fn put<T>(out: *mut *mut T, value: Box<T>) {
    // SAFETY: the caller guarantees `out` is writable.
    unsafe { out.write(Box::into_raw(value)) };
}

/// Frees a handle made by [`put`] (null: nothing).
///
/// # Safety
/// `handle` is null or came from [`put`] and is not used again.
unsafe fn free<T>(handle: *mut T) {
    if !handle.is_null() {
        // SAFETY: the caller passes a pointer from `Box::into_raw`, once.
        drop(unsafe { Box::from_raw(handle) });
    }
}

/// The name of an error code (a static string, never null).
#[no_mangle]
pub extern "C" fn interlink_strerror(code: c_int) -> *const c_char {
    error::describe(code).as_ptr()
}

/// This thread's last create or open error message (never null).
#[no_mangle]
pub extern "C" fn interlink_last_error() -> *const c_char {
    catch_unwind(error::last).unwrap_or(c"".as_ptr())
}

/// Removes the named object (a channel or mutex another process left).
///
/// # Safety
/// `name` is null or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn interlink_unlink(name: *const c_char) -> c_int {
    guarded(|| {
        // SAFETY: forwarded from the caller.
        let name = match unsafe { self::name(name) } {
            Ok(n) => n,
            Err(code) => return code,
        };
        match interlink_linux::channel::remove(name) {
            Ok(()) => error::OK,
            Err(e) => fail(error::shm_code(&e), e),
        }
    })
}

/// The element pointer `p`, or `Err` when it is null.
fn non_null<T>(p: *const T) -> Result<*const T, c_int> {
    if p.is_null() {
        Err(INVALID_ARGUMENT)
    } else {
        Ok(p)
    }
}

/// C's `void`, as the element and buffer pointers of the signatures use it.
type Void = c_void;
