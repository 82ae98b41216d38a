//! `interlink_mutex`: the robust mutex of `interlink-core` with a data
//! block of a size the C program gives, in a named shared memory object.

use std::ffi::{c_char, c_int};
use std::ptr::NonNull;
use std::time::{Duration, Instant};

use interlink_core::mutex::{LockError, Mutex, MutexGuard};
use interlink_core::{AttachError, ElementCheck};
use interlink_linux::futex::{Futex, Robust};
use interlink_linux::shm::{MapOptions, Mapping, Shm};

use crate::elem::{self, sizes};
use crate::error::{
    fail, lock_code, shm_code, DEADLOCK, INCOMPATIBLE, INVALID_ARGUMENT, NOT_LOCKED, OK,
    OWNER_DIED, TIMED_OUT,
};
use crate::{guarded, guarded_void, put, timeout};

/// How every C handle waits: the shared futex.
static FUTEX: Futex = Futex;
/// How every C handle judges an owner: by its pid, tid and start time,
/// checked every 10 ms while waiting.
static ROBUST: Robust = Robust {
    poll_interval: Duration::from_millis(10),
};

/// The operations of a mutex handle, whatever its data size.
trait Ops {
    /// `timeout`: `None` for try_lock, `Some(None)` for no limit.
    fn lock(&mut self, timeout: Option<Option<Duration>>) -> c_int;
    fn consistent(&mut self) -> c_int;
    fn unlock(&mut self) -> c_int;
    fn data(&self) -> *mut u8;
}

type Guard<const N: usize> = MutexGuard<'static, [u8; N], Futex, Robust>;

/// A mapped mutex, the guard while this handle holds it, and the object
/// (unlinked on drop by its creator). Dropped in field order: the guard
/// (unlocking), then the mutex, then the mapping.
struct Imp<const N: usize> {
    guard: Option<Guard<N>>,
    mutex: NonNull<Mutex<'static, [u8; N]>>,
    _mapping: Mapping,
    shm: Shm,
    creator: bool,
}

impl<const N: usize> Drop for Imp<N> {
    fn drop(&mut self) {
        drop(self.guard.take());
        // SAFETY: `mutex` came from `Box::leak` in `make`; the guard that
        // borrowed it is gone.
        drop(unsafe { Box::from_raw(self.mutex.as_ptr()) });
        if self.creator {
            let _ = self.shm.unlink();
        }
    }
}

impl<const N: usize> Ops for Imp<N> {
    fn lock(&mut self, timeout: Option<Option<Duration>>) -> c_int {
        if self.guard.is_some() {
            return DEADLOCK;
        }
        // SAFETY: the mutex lives on the heap until `drop`, after every
        // guard; the mapping it points into lives as long.
        let mutex: &'static Mutex<'static, [u8; N]> = unsafe { self.mutex.as_ref() };
        let r = match timeout {
            None => mutex.try_lock(&FUTEX, &ROBUST),
            Some(t) => mutex.lock(&FUTEX, &ROBUST, t),
        };
        match r {
            Ok(g) => {
                self.guard = Some(g);
                OK
            }
            Err(LockError::OwnerDied(g)) => {
                self.guard = Some(g);
                OWNER_DIED
            }
            Err(e) => lock_code(&e),
        }
    }

    fn consistent(&mut self) -> c_int {
        match &mut self.guard {
            Some(g) => {
                g.mark_consistent();
                OK
            }
            None => NOT_LOCKED,
        }
    }

    fn unlock(&mut self) -> c_int {
        match self.guard.take() {
            Some(g) => {
                drop(g);
                OK
            }
            None => NOT_LOCKED,
        }
    }

    fn data(&self) -> *mut u8 {
        self.guard
            .as_ref()
            .map_or(std::ptr::null_mut(), |g| g.as_ptr().cast())
    }
}

/// Creates (`create`) or opens the mutex `name` with `N` bytes of data.
fn make<const N: usize>(
    name: &str,
    create: bool,
    open_timeout: Option<Duration>,
) -> Result<Box<dyn Ops>, c_int> {
    let (shm, mapping, mutex) = if create {
        let shm = Shm::create(name, Mutex::<[u8; N]>::bytes_needed())
            .map_err(|e| fail(shm_code(&e), e))?;
        let mapping = match shm.map(&MapOptions::new()) {
            Ok(m) => m,
            Err(e) => {
                let _ = shm.unlink();
                return Err(fail(shm_code(&e), e));
            }
        };
        let mutex = match Mutex::init(mapping.region(), [0u8; N]) {
            Ok(m) => m,
            Err(e) => {
                let _ = shm.unlink();
                return Err(fail(INVALID_ARGUMENT, e));
            }
        };
        let mutex = forever(mutex);
        (shm, mapping, mutex)
    } else {
        open::<N>(name, open_timeout)?
    };
    let mutex = NonNull::from(Box::leak(Box::new(mutex)));
    Ok(Box::new(Imp {
        guard: None,
        mutex,
        _mapping: mapping,
        shm,
        creator: create,
    }))
}

/// The mutex with its lifetime extended: the caller keeps the mapping it
/// points into until after the mutex (and every guard) is gone.
fn forever<const N: usize>(mutex: Mutex<'_, [u8; N]>) -> Mutex<'static, [u8; N]> {
    // SAFETY: only the lifetime changes (the mutex holds raw pointers into
    // the mapping); the handle drops it before the mapping.
    unsafe { std::mem::transmute::<Mutex<'_, [u8; N]>, Mutex<'static, [u8; N]>>(mutex) }
}

/// Opens and attaches, retrying until `open_timeout` (`None`: no limit)
/// while the object is missing, not sized or not initialised.
fn open<const N: usize>(
    name: &str,
    open_timeout: Option<Duration>,
) -> Result<(Shm, Mapping, Mutex<'static, [u8; N]>), c_int> {
    let start = Instant::now();
    loop {
        let pending = match Shm::open(name) {
            Ok(shm) => match shm.map(&MapOptions::new()) {
                Ok(mapping) => {
                    match Mutex::<[u8; N]>::attach_with(mapping.region(), ElementCheck::LayoutOnly)
                    {
                        Ok(mutex) => {
                            let mutex = forever(mutex);
                            return Ok((shm, mapping, mutex));
                        }
                        Err(e @ AttachError::NotReady { .. }) => e.to_string(),
                        Err(e) => return Err(fail(INCOMPATIBLE, format_args!("{name}: {e}"))),
                    }
                }
                // Not sized yet (or resized by someone): wait and retry.
                Err(e) => e.to_string(),
            },
            Err(e) if e.is(libc::ENOENT) => e.to_string(),
            Err(e) => return Err(fail(shm_code(&e), e)),
        };
        if open_timeout.is_some_and(|t| start.elapsed() >= t) {
            return Err(fail(TIMED_OUT, format_args!("{name}: {pending}")));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

type Make = fn(&str, bool, Option<Duration>) -> Result<Box<dyn Ops>, c_int>;

macro_rules! table {
    ($($n:literal)*) => {
        const TABLE: &[(usize, Make)] = &[$(($n, make::<$n>)),*];
    };
}
sizes!(table);

/// An open robust mutex (opaque to C).
#[allow(non_camel_case_types)]
pub struct interlink_mutex {
    ops: Box<dyn Ops>,
}

/// Shared body of create and open.
///
/// # Safety
/// As [`interlink_mutex_create`].
unsafe fn create_or_open(
    name: *const c_char,
    create: bool,
    data_size: usize,
    data_align: usize,
    open_timeout_ns: i64,
    out: *mut *mut interlink_mutex,
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
        if let Err(code) = elem::check(data_size, data_align) {
            return code;
        }
        let Some(make) = elem::lookup(TABLE, data_size) else {
            return fail(INVALID_ARGUMENT, "data size not supported");
        };
        match make(name, create, timeout(open_timeout_ns)) {
            Ok(ops) => {
                // SAFETY: `out` is non-null and writable (caller).
                unsafe { put(out, Box::new(interlink_mutex { ops })) };
                OK
            }
            Err(code) => code,
        }
    })
}

/// Creates the mutex `name` with `data_size` zero bytes of data.
///
/// # Safety
/// `name` is null or NUL-terminated; `out` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn interlink_mutex_create(
    name: *const c_char,
    data_size: usize,
    data_align: usize,
    out: *mut *mut interlink_mutex,
) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { create_or_open(name, true, data_size, data_align, 0, out) }
}

/// Opens the mutex `name`, waiting up to `open_timeout_ns` for it.
///
/// # Safety
/// `name` is null or NUL-terminated; `out` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn interlink_mutex_open(
    name: *const c_char,
    data_size: usize,
    data_align: usize,
    open_timeout_ns: i64,
    out: *mut *mut interlink_mutex,
) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { create_or_open(name, false, data_size, data_align, open_timeout_ns, out) }
}

/// Runs `f` on the handle (`INVALID_ARGUMENT` for null).
///
/// # Safety
/// `m` is null or a live handle used by no other thread now.
unsafe fn with(m: *mut interlink_mutex, f: impl FnOnce(&mut dyn Ops) -> c_int) -> c_int {
    guarded(|| {
        // SAFETY: the caller passes a live handle, used by this thread only.
        match unsafe { m.as_mut() } {
            Some(m) => f(&mut *m.ops),
            None => INVALID_ARGUMENT,
        }
    })
}

/// Takes the lock, waiting up to `timeout_ns` (negative: no limit).
///
/// # Safety
/// `m` is null or a live handle.
#[no_mangle]
pub unsafe extern "C" fn interlink_mutex_lock(m: *mut interlink_mutex, timeout_ns: i64) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { with(m, |ops| ops.lock(Some(timeout(timeout_ns)))) }
}

/// Takes the lock if it is free now.
///
/// # Safety
/// `m` is null or a live handle.
#[no_mangle]
pub unsafe extern "C" fn interlink_mutex_try_lock(m: *mut interlink_mutex) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { with(m, |ops| ops.lock(None)) }
}

/// Declares the data repaired after `INTERLINK_OWNER_DIED`.
///
/// # Safety
/// `m` is null or a live handle.
#[no_mangle]
pub unsafe extern "C" fn interlink_mutex_consistent(m: *mut interlink_mutex) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { with(m, |ops| ops.consistent()) }
}

/// Releases the lock.
///
/// # Safety
/// `m` is null or a live handle.
#[no_mangle]
pub unsafe extern "C" fn interlink_mutex_unlock(m: *mut interlink_mutex) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { with(m, |ops| ops.unlock()) }
}

/// The data, while this handle holds the lock (null otherwise).
///
/// # Safety
/// `m` is null or a live handle.
#[no_mangle]
pub unsafe extern "C" fn interlink_mutex_data(m: *mut interlink_mutex) -> *mut crate::Void {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: the caller passes a live handle or null.
        match unsafe { m.as_ref() } {
            Some(m) => m.ops.data().cast(),
            None => std::ptr::null_mut(),
        }
    }))
    .unwrap_or(std::ptr::null_mut())
}

/// Closes the handle, unlocking if it holds the lock (the creator's close
/// unlinks the name). Null: nothing.
///
/// # Safety
/// `m` is null or a live handle, not used again.
#[no_mangle]
pub unsafe extern "C" fn interlink_mutex_close(m: *mut interlink_mutex) {
    // SAFETY: forwarded from the caller.
    guarded_void(|| unsafe { crate::free(m) });
}
