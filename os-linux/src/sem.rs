//! POSIX semaphores: named ones ([`NamedSemaphore`], `sem_open`) that
//! unrelated processes find by name, and unnamed process-shared ones
//! ([`ProcessSemaphore`], `sem_init(pshared = 1)`) placed in a shared
//! mapping. Both dereference to [`Semaphore`], which holds the operations.

use std::ffi::CString;
use std::marker::PhantomData;
use std::ops::Deref;
use std::ptr::NonNull;
use std::time::Duration;

use interlink_core::Region;

use crate::error::{check, check_retry, OsError};
use crate::posix::{object_name, realtime_deadline};

/// The largest value a semaphore may hold (`SEM_VALUE_MAX` on Linux).
pub const VALUE_MAX: u32 = i32::MAX as u32;

/// The operations every POSIX semaphore has. Reached through
/// [`NamedSemaphore`] or [`ProcessSemaphore`], which own the object.
#[derive(Debug)]
pub struct Semaphore {
    sem: NonNull<libc::sem_t>,
}

// SAFETY: sem_t operations are thread-safe; the owners below keep the
// object alive while a `&Semaphore` exists.
unsafe impl Send for Semaphore {}
// SAFETY: as above.
unsafe impl Sync for Semaphore {}

impl Semaphore {
    /// Decrements the value, waiting while it is zero (`sem_wait`; a
    /// signal handler's `EINTR` is retried).
    pub fn wait(&self) -> Result<(), OsError> {
        check_retry("sem_wait", || {
            // SAFETY: sem points at a live, initialised semaphore (see owners).
            unsafe { libc::sem_wait(self.sem.as_ptr()) }
        })
        .map(drop)
    }

    /// Decrements the value if it is above zero; `Ok(false)` if it is zero.
    pub fn try_wait(&self) -> Result<bool, OsError> {
        let r = check_retry("sem_trywait", || {
            // SAFETY: as in `wait`.
            unsafe { libc::sem_trywait(self.sem.as_ptr()) }
        });
        match r {
            Ok(_) => Ok(true),
            Err(e) if e.is(libc::EAGAIN) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Like [`Semaphore::wait`], but gives up after `timeout`: `Ok(false)`.
    /// The deadline is on `CLOCK_REALTIME` (what `sem_timedwait` takes), so
    /// a wall-clock step shortens or stretches it.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<bool, OsError> {
        let deadline = realtime_deadline(timeout);
        let r = check_retry("sem_timedwait", || {
            // SAFETY: as in `wait`; deadline is a valid timespec.
            unsafe { libc::sem_timedwait(self.sem.as_ptr(), &deadline) }
        });
        match r {
            Ok(_) => Ok(true),
            Err(e) if e.is(libc::ETIMEDOUT) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Increments the value, waking one waiter; at [`VALUE_MAX`] it is
    /// `EOVERFLOW`.
    pub fn post(&self) -> Result<(), OsError> {
        // SAFETY: as in `wait`.
        check(unsafe { libc::sem_post(self.sem.as_ptr()) }, "sem_post").map(drop)
    }

    /// The current value (already stale when returned, if others use it).
    pub fn value(&self) -> Result<u32, OsError> {
        let mut v = 0;
        // SAFETY: as in `wait`; v is a valid out-pointer.
        let r = unsafe { libc::sem_getvalue(self.sem.as_ptr(), &mut v) };
        check(r, "sem_getvalue")?;
        Ok(v.max(0) as u32)
    }
}

fn check_initial(op: &'static str, value: u32) -> Result<libc::c_uint, OsError> {
    if value > VALUE_MAX {
        return Err(OsError::new(op, libc::EINVAL)
            .on(format_args!("initial value {value} (over SEM_VALUE_MAX)")));
    }
    Ok(value)
}

/// A named semaphore (`sem_open`), closed on drop. One made by
/// [`NamedSemaphore::create`] also removes its name on drop, unless
/// [`NamedSemaphore::keep`] is called; ones opened by name never do.
#[derive(Debug)]
pub struct NamedSemaphore {
    sem: Semaphore,
    name: CString,
    unlink_on_drop: bool,
}

impl NamedSemaphore {
    fn open_with(name: &str, flags: libc::c_int, mode: u32, value: u32) -> Result<Self, OsError> {
        let c = object_name("sem_open", name)?;
        let value = check_initial("sem_open", value)?;
        // SAFETY: c is a NUL-terminated name; mode and value are the
        // variadic arguments sem_open reads when O_CREAT is set.
        let ptr = unsafe { libc::sem_open(c.as_ptr(), flags, mode as libc::mode_t, value) };
        if ptr == libc::SEM_FAILED {
            return Err(OsError::last("sem_open").on(name));
        }
        Ok(Self {
            sem: Semaphore {
                sem: NonNull::new(ptr)
                    .ok_or_else(|| OsError::new("sem_open", libc::EINVAL).on(name))?,
            },
            name: c,
            unlink_on_drop: false,
        })
    }

    /// Creates a new semaphore named `name` (`/something`) with permission
    /// bits `mode` and an initial `value`; `EEXIST` if the name is taken.
    /// The name is removed when this value is dropped.
    pub fn create(name: &str, mode: u32, value: u32) -> Result<Self, OsError> {
        let mut sem = Self::open_with(name, libc::O_CREAT | libc::O_EXCL, mode, value)?;
        sem.unlink_on_drop = true;
        Ok(sem)
    }

    /// Opens the existing semaphore `name`; `ENOENT` if there is none.
    pub fn open(name: &str) -> Result<Self, OsError> {
        Self::open_with(name, 0, 0, 0)
    }

    /// Opens `name`, creating it with `mode` and `value` if it does not
    /// exist. Never removes the name on drop: who created it is unknown.
    pub fn open_or_create(name: &str, mode: u32, value: u32) -> Result<Self, OsError> {
        Self::open_with(name, libc::O_CREAT, mode, value)
    }

    /// The semaphore's name.
    pub fn name(&self) -> &str {
        self.name.to_str().unwrap_or_default()
    }

    /// Leaves the name in place when this value is dropped.
    pub fn keep(mut self) -> Self {
        self.unlink_on_drop = false;
        self
    }

    /// Removes the name `name`; processes that have it open keep using it.
    pub fn unlink(name: &str) -> Result<(), OsError> {
        let c = object_name("sem_unlink", name)?;
        // SAFETY: c is a NUL-terminated name.
        check(unsafe { libc::sem_unlink(c.as_ptr()) }, "sem_unlink")
            .map(drop)
            .map_err(|e| e.on(name))
    }
}

impl Deref for NamedSemaphore {
    type Target = Semaphore;
    fn deref(&self) -> &Semaphore {
        &self.sem
    }
}

impl Drop for NamedSemaphore {
    fn drop(&mut self) {
        // SAFETY: the pointer came from sem_open and is closed exactly once.
        unsafe { libc::sem_close(self.sem.sem.as_ptr()) };
        if self.unlink_on_drop {
            // SAFETY: name is NUL-terminated.
            unsafe { libc::sem_unlink(self.name.as_ptr()) };
        }
    }
}

/// An unnamed, process-shared semaphore (`sem_init` with `pshared = 1`)
/// living inside caller memory — a `MAP_SHARED` mapping, so that every
/// process mapping it uses the same semaphore. The one made by
/// [`ProcessSemaphore::init`] destroys it on drop; attached ones do not.
#[derive(Debug)]
pub struct ProcessSemaphore<'m> {
    sem: Semaphore,
    owner: bool,
    _memory: PhantomData<&'m mut libc::sem_t>,
}

impl<'m> ProcessSemaphore<'m> {
    /// Bytes a semaphore takes in a mapping (`sizeof(sem_t)`).
    pub const BYTES: usize = size_of::<libc::sem_t>();
    /// The alignment it needs.
    pub const ALIGN: usize = align_of::<libc::sem_t>();

    fn place(op: &'static str, region: &Region<'m>) -> Result<NonNull<libc::sem_t>, OsError> {
        region
            .check(Self::BYTES, Self::ALIGN)
            .map(NonNull::cast)
            .map_err(|e| OsError::new(op, libc::EINVAL).on(e))
    }

    /// Initialises a semaphore with `value` at the start of `region` (at
    /// least [`Self::BYTES`] bytes, aligned to [`Self::ALIGN`]); too small
    /// or misaligned is `EINVAL`. Share the region with other processes
    /// (over `fork`, or by mapping the same object) before they use it.
    pub fn init(region: Region<'m>, value: u32) -> Result<Self, OsError> {
        let ptr = Self::place("sem_init", &region)?;
        let value = check_initial("sem_init", value)?;
        // SAFETY: ptr is aligned and in bounds for a sem_t, in memory that
        // lives for 'm; nothing else uses these bytes until init returns.
        let r = unsafe { libc::sem_init(ptr.as_ptr(), 1, value) };
        check(r, "sem_init")?;
        Ok(Self {
            sem: Semaphore { sem: ptr },
            owner: true,
            _memory: PhantomData,
        })
    }

    /// Uses the semaphore another process initialised at the start of
    /// `region`. Never destroys it.
    ///
    /// # Safety
    ///
    /// A semaphore must have been placed there by [`ProcessSemaphore::init`]
    /// (or `sem_init` with `pshared = 1`) and must not be destroyed while
    /// this value lives: glibc trusts a `sem_t`'s contents.
    pub unsafe fn attach(region: Region<'m>) -> Result<Self, OsError> {
        let ptr = Self::place("sem_attach", &region)?;
        Ok(Self {
            sem: Semaphore { sem: ptr },
            owner: false,
            _memory: PhantomData,
        })
    }
}

impl Deref for ProcessSemaphore<'_> {
    type Target = Semaphore;
    fn deref(&self) -> &Semaphore {
        &self.sem
    }
}

impl Drop for ProcessSemaphore<'_> {
    fn drop(&mut self) {
        if self.owner {
            // SAFETY: we initialised it; destroying with no waiters left is
            // the owner's contract, and a sem_t needs no other cleanup.
            unsafe { libc::sem_destroy(self.sem.sem.as_ptr()) };
        }
    }
}
