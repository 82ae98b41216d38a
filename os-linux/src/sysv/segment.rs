//! System V shared memory segments ([`Segment`]): `shmget`, `shmat`,
//! `shmdt`, `shmctl`.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use interlink_core::Region;

use super::mark::{self, SysvKind};
use super::{Key, SysvError, SysvLimit};
use crate::error::{check, OsError};

/// `SHM_DEST` in a segment's mode: marked for removal, gone at the last
/// detach (not exported by `libc`).
pub const SHM_DEST: u32 = 0o1000;

/// How a segment is attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attach {
    /// Readable and writable (needs read and write permission).
    ReadWrite,
    /// Readable only (`SHM_RDONLY`): a write through it faults, so this
    /// crate hands out no writable [`Region`] for it.
    ReadOnly,
}

/// How to create a segment. The default: exclusive, mode `0600`, removed
/// when the creating [`Segment`] is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentOptions {
    /// Fail with `EEXIST` if the key has a segment (`IPC_EXCL`). When
    /// false, an existing segment is opened instead (and never removed on
    /// drop: it is not this handle's creation). Ignored for
    /// [`Key::PRIVATE`], which always creates.
    pub exclusive: bool,
    /// Permission bits (only the low nine count; no umask applies).
    pub mode: u32,
    /// Mark the segment for removal (`IPC_RMID`) when the creating handle
    /// is dropped. Processes still attached keep it until they detach; a
    /// killed creator never drops, and its segment stays until
    /// [`Segment::remove_id`], `ipcrm` or `interlink-inspect gc`.
    pub remove_on_drop: bool,
}

impl Default for SegmentOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl SegmentOptions {
    /// Exclusive, mode `0600`, removed on drop.
    pub const fn new() -> Self {
        Self {
            exclusive: true,
            mode: 0o600,
            remove_on_drop: true,
        }
    }

    /// The same options with `exclusive`.
    pub const fn exclusive(mut self, yes: bool) -> Self {
        self.exclusive = yes;
        self
    }

    /// The same options with `mode`.
    pub const fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    /// The same options with `remove_on_drop`.
    pub const fn remove_on_drop(mut self, yes: bool) -> Self {
        self.remove_on_drop = yes;
        self
    }
}

/// A segment's state as the kernel keeps it (`shmctl(IPC_STAT)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentStat {
    /// The segment's id.
    pub id: i32,
    /// Its key ([`Key::PRIVATE`] once marked for removal).
    pub key: Key,
    /// Its size in bytes, as created.
    pub size: usize,
    /// How many attachments it has now (`shm_nattch`).
    pub attaches: u64,
    /// The pid that created it (`shm_cpid`).
    pub creator_pid: u32,
    /// The pid of the last `shmat` or `shmdt` (`shm_lpid`).
    pub last_pid: u32,
    /// Permission bits, with [`SHM_DEST`] when marked for removal.
    pub mode: u32,
    /// The owner's uid.
    pub uid: u32,
    /// The creator's uid.
    pub creator_uid: u32,
}

impl SegmentStat {
    /// Whether it is marked for removal (gone at the last detach).
    pub fn removed(&self) -> bool {
        self.mode & SHM_DEST != 0
    }
}

/// An attached System V shared memory segment, detached on drop (`shmdt`)
/// and, when this handle created it and was asked to, marked for removal
/// (`IPC_RMID`).
///
/// Its bytes are a core [`Region`] ([`Segment::region`]), so every
/// interlink ring and sync type lives in a segment exactly as in a POSIX
/// mapping (`shmat` returns page-aligned memory). [`Segment::read`] and
/// [`Segment::write`] copy with relaxed atomic accesses, as the core's
/// copying calls do, so a peer writing the same bytes garbles them and
/// nothing else.
#[derive(Debug)]
pub struct Segment {
    id: i32,
    key: Key,
    ptr: NonNull<u8>,
    len: usize,
    attach: Attach,
    created: bool,
    remove_on_drop: bool,
}

// SAFETY: the segment is plain shared memory; what lives in it
// synchronises through atomics, and the handle's own fields are immutable.
unsafe impl Send for Segment {}
// SAFETY: as above; `&Segment` copies with atomics and hands out regions.
unsafe impl Sync for Segment {}

/// `shmget`, with the errors that are limits named as such.
fn shmget(key: Key, len: usize, flags: i32) -> Result<i32, SysvError> {
    // SAFETY: shmget has no memory-safety preconditions.
    let id = unsafe { libc::shmget(key.raw(), len, flags) };
    if id != -1 {
        return Ok(id);
    }
    let e = OsError::last("shmget").on(format_args!("{key} ({len} bytes)"));
    let creating = flags & libc::IPC_CREAT != 0;
    let limit = |limit: SysvLimit, requested: u64| {
        let max = limit.current()?;
        (requested == 0 || requested > max).then_some(SysvError::Limit {
            limit,
            requested,
            max,
        })
    };
    let named = match e.errno {
        libc::EINVAL if creating => limit(SysvLimit::ShmMax, len as u64),
        libc::ENOSPC => {
            let segments = std::fs::read_to_string("/proc/sysvipc/shm")
                .map_or(0, |t| t.lines().count().saturating_sub(1) as u64);
            let shmmni = SysvLimit::ShmMni.current().unwrap_or(u64::MAX);
            if segments >= shmmni {
                limit(SysvLimit::ShmMni, 0)
            } else {
                limit(SysvLimit::ShmAll, (len as u64).div_ceil(4096))
            }
        }
        _ => None,
    };
    Err(named.unwrap_or(SysvError::Os(e)))
}

/// `shmctl(IPC_STAT)` on `id`.
fn stat_id(id: i32) -> Result<SegmentStat, SysvError> {
    // SAFETY: shmid_ds is plain data; all zeroes is a valid value.
    let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: ds is a valid out-pointer for IPC_STAT.
    let r = unsafe { libc::shmctl(id, libc::IPC_STAT, &mut ds) };
    check(r, "shmctl(IPC_STAT)").map_err(|e| removed_or(e.on(format_args!("id {id}")), id))?;
    Ok(SegmentStat {
        id,
        key: Key::new(ds.shm_perm.__key),
        size: ds.shm_segsz,
        attaches: ds.shm_nattch as u64,
        creator_pid: ds.shm_cpid as u32,
        last_pid: ds.shm_lpid as u32,
        mode: u32::from(ds.shm_perm.mode),
        uid: ds.shm_perm.uid,
        creator_uid: ds.shm_perm.cuid,
    })
}

/// `EIDRM` as [`SysvError::Removed`], anything else as it is.
pub(super) fn removed_or(e: OsError, id: i32) -> SysvError {
    if e.is(libc::EIDRM) {
        SysvError::Removed { id }
    } else {
        SysvError::Os(e)
    }
}

impl Segment {
    /// Creates a segment of `len` bytes under `key` ([`Key::PRIVATE`]: a
    /// new segment only its id finds) and attaches it read-write. It is
    /// zero-filled, and recorded as interlink's (see [`super::MARK_DIR_PREFIX`]'s
    /// docs on how `gc` tells it from others). If attaching fails, a
    /// segment this call created is removed again.
    pub fn create(key: Key, len: usize, options: &SegmentOptions) -> Result<Self, SysvError> {
        if len == 0 {
            return Err(SysvError::Size {
                len,
                problem: "a segment needs at least one byte",
            });
        }
        let flags = libc::IPC_CREAT | libc::IPC_EXCL | (options.mode & 0o777) as i32;
        let (id, created) = match shmget(key, len, flags) {
            Ok(id) => (id, true),
            Err(e) if e.is(libc::EEXIST) && !options.exclusive && !key.is_private() => {
                (shmget(key, 0, 0)?, false)
            }
            Err(e) => return Err(e),
        };
        if created {
            mark::record(SysvKind::Segment, id, key.raw());
        }
        let attached = Self::attach_as(id, key, Attach::ReadWrite, created);
        match attached {
            Ok(mut segment) => {
                segment.remove_on_drop = created && options.remove_on_drop;
                Ok(segment)
            }
            Err(e) => {
                if created {
                    let _ = Self::rmid(id);
                    mark::forget(SysvKind::Segment, id, key.raw());
                }
                Err(e)
            }
        }
    }

    /// Finds the segment under `key` and attaches it (`ENOENT` if there is
    /// none). Its size is the size it was created with.
    pub fn open(key: Key, attach: Attach) -> Result<Self, SysvError> {
        let id = shmget(key, 0, 0)?;
        Self::attach_as(id, key, attach, false)
    }

    /// Attaches the segment `id` (the "hybrid" pattern: a creator sends
    /// the id of a private segment over a socket). `EINVAL` if no segment
    /// has that id, [`SysvError::Removed`] if it was removed meanwhile.
    pub fn attach(id: i32, attach: Attach) -> Result<Self, SysvError> {
        let key = stat_id(id)?.key;
        Self::attach_as(id, key, attach, false)
    }

    fn attach_as(id: i32, key: Key, attach: Attach, created: bool) -> Result<Self, SysvError> {
        let flags = match attach {
            Attach::ReadWrite => 0,
            Attach::ReadOnly => libc::SHM_RDONLY,
        };
        // SAFETY: a null address lets the kernel choose where to attach;
        // nothing in this process refers to that range yet.
        let ptr = unsafe { libc::shmat(id, std::ptr::null(), flags) };
        if ptr as isize == -1 {
            return Err(removed_or(
                OsError::last("shmat").on(format_args!("id {id} ({key})")),
                id,
            ));
        }
        let detach = |e| {
            // SAFETY: ptr is the attachment made above, used by nothing.
            unsafe { libc::shmdt(ptr) };
            e
        };
        let len = stat_id(id).map_err(detach)?.size;
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or_else(|| {
            detach(SysvError::Os(
                OsError::new("shmat", libc::EFAULT).on(format_args!("id {id}")),
            ))
        })?;
        Ok(Self {
            id,
            key,
            ptr,
            len,
            attach,
            created,
            remove_on_drop: false,
        })
    }

    /// The state of segment `id`, attached or not (`shmctl(IPC_STAT)`).
    pub fn stat_id(id: i32) -> Result<SegmentStat, SysvError> {
        stat_id(id)
    }

    /// Marks segment `id` for removal (`shmctl(IPC_RMID)`): its key finds
    /// nothing from now on, and it goes at its last detach.
    pub fn remove_id(id: i32) -> Result<(), SysvError> {
        Self::rmid(id)
    }

    fn rmid(id: i32) -> Result<(), SysvError> {
        // SAFETY: IPC_RMID reads no buffer; a null pointer is allowed.
        let r = unsafe { libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
        check(r, "shmctl(IPC_RMID)").map_err(|e| removed_or(e.on(format_args!("id {id}")), id))?;
        Ok(())
    }

    /// The segment's id: what another process passes to [`Segment::attach`].
    pub fn id(&self) -> i32 {
        self.id
    }

    /// The key it was created or found by.
    pub fn key(&self) -> Key {
        self.key
    }

    /// Its size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it has no bytes (never: segments have at least one).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How this handle is attached.
    pub fn access(&self) -> Attach {
        self.attach
    }

    /// Whether this handle created the segment.
    pub fn is_creator(&self) -> bool {
        self.created
    }

    /// The first byte of the attachment.
    pub fn as_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    /// Faults the whole attachment into this process's page tables now, as
    /// [`Mapping::populate`](crate::mapping::Mapping::populate) does (for a
    /// child after `fork`, or a new attachment, before the hot path);
    /// [`SysvError::ReadOnly`] for a read-only attachment.
    pub fn populate(&self) -> Result<(), SysvError> {
        if self.attach == Attach::ReadOnly {
            return Err(SysvError::ReadOnly { id: self.id });
        }
        // SAFETY: the attachment is live and writable for `len` bytes while
        // `self` is.
        unsafe { crate::mapping::populate_writable(self.ptr.as_ptr(), self.len) }
            .map_err(SysvError::from)
    }

    /// The segment's bytes as a core [`Region`], to place or attach a
    /// ring or sync type in it; [`SysvError::ReadOnly`] for a read-only
    /// attachment.
    pub fn region(&self) -> Result<Region<'_>, SysvError> {
        if self.attach == Attach::ReadOnly {
            return Err(SysvError::ReadOnly { id: self.id });
        }
        // SAFETY: the attachment is readable and writable for `len` bytes
        // until drop, which the borrow prevents; this crate holds no Rust
        // reference to its bytes.
        unsafe { Region::from_raw(self.ptr.as_ptr(), self.len) }.map_err(|_| SysvError::Size {
            len: self.len,
            problem: "attached at a null address",
        })
    }

    fn check_range(&self, offset: usize, len: usize) -> Result<(), SysvError> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(SysvError::OutOfRange {
                id: self.id,
                offset,
                len,
                size: self.len,
            }),
        }
    }

    /// Copies `buf.len()` bytes from `offset` into `buf`, with relaxed
    /// atomic loads (a word at a time where aligned).
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), SysvError> {
        self.check_range(offset, buf.len())?;
        const W: usize = std::mem::size_of::<usize>();
        let mut i = 0;
        while i < buf.len() {
            // SAFETY: offset + i < offset + buf.len() <= len: in the attachment.
            let p = unsafe { self.ptr.as_ptr().add(offset + i) };
            if (p as usize).is_multiple_of(W) && buf.len() - i >= W {
                // SAFETY: aligned, in range (checked above), and any bytes
                // are a valid AtomicUsize; an atomic load, never a write.
                let word = unsafe { &*p.cast::<AtomicUsize>() }.load(Ordering::Relaxed);
                buf[i..i + W].copy_from_slice(&word.to_ne_bytes());
                i += W;
            } else {
                // SAFETY: in range; a byte is always aligned.
                buf[i] = unsafe { &*p.cast::<AtomicU8>() }.load(Ordering::Relaxed);
                i += 1;
            }
        }
        Ok(())
    }

    /// Copies `data` to `offset`, with relaxed atomic stores (a word at a
    /// time where aligned); [`SysvError::ReadOnly`] on a read-only
    /// attachment. Publish what was written some other way (a socket
    /// message, a release store a peer acquires).
    pub fn write(&self, offset: usize, data: &[u8]) -> Result<(), SysvError> {
        if self.attach == Attach::ReadOnly {
            return Err(SysvError::ReadOnly { id: self.id });
        }
        self.check_range(offset, data.len())?;
        const W: usize = std::mem::size_of::<usize>();
        let mut i = 0;
        while i < data.len() {
            // SAFETY: offset + i < offset + data.len() <= len.
            let p = unsafe { self.ptr.as_ptr().add(offset + i) };
            if (p as usize).is_multiple_of(W) && data.len() - i >= W {
                let mut word = [0u8; W];
                word.copy_from_slice(&data[i..i + W]);
                // SAFETY: aligned, in range, writable (read-write attach).
                unsafe { &*p.cast::<AtomicUsize>() }
                    .store(usize::from_ne_bytes(word), Ordering::Relaxed);
                i += W;
            } else {
                // SAFETY: in range and writable; a byte is always aligned.
                unsafe { &*p.cast::<AtomicU8>() }.store(data[i], Ordering::Relaxed);
                i += 1;
            }
        }
        Ok(())
    }

    /// The segment's state now (size, attach count, creator and last pids).
    pub fn stat(&self) -> Result<SegmentStat, SysvError> {
        stat_id(self.id)
    }

    /// Marks the segment for removal now (`IPC_RMID`): this and every
    /// other attachment keep working; the key finds nothing from now on.
    pub fn remove(&self) -> Result<(), SysvError> {
        Self::rmid(self.id)?;
        if self.created {
            mark::forget(SysvKind::Segment, self.id, self.key.raw());
        }
        Ok(())
    }

    /// Whether dropping this handle marks the segment for removal (only a
    /// creating handle can: for others this does nothing).
    pub fn set_remove_on_drop(&mut self, yes: bool) {
        self.remove_on_drop = yes && self.created;
    }

    /// Leaves the segment in place when this handle is dropped.
    pub fn keep(mut self) -> Self {
        self.remove_on_drop = false;
        self
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        // SAFETY: ptr is this handle's attachment, detached exactly once;
        // no region borrowed from it outlives the handle.
        unsafe { libc::shmdt(self.ptr.as_ptr().cast()) };
        if self.remove_on_drop {
            let _ = self.remove();
        }
    }
}
