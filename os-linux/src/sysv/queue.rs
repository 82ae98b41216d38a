//! System V message queues ([`Queue`]): `msgget`, `msgsnd`, `msgrcv`,
//! `msgctl`.

use std::time::{Duration, Instant};

use super::mark::{self, SysvKind};
use super::segment::removed_or;
use super::{Key, SysvError, SysvLimit};
use crate::error::{check, OsError};

/// The first pause of a timed send or receive between two tries.
pub const POLL_FIRST: Duration = Duration::from_micros(10);
/// The longest pause of a timed send or receive between two tries: a
/// message (or room) that comes while one waits is taken within about
/// this long.
pub const POLL_MAX: Duration = Duration::from_millis(1);

/// Which message a receive takes: the `msgtyp` rules of `msgrcv`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Select {
    /// The oldest message, whatever its type (`msgtyp` 0).
    Any,
    /// The oldest message of exactly this type (`msgtyp` > 0).
    Type(i64),
    /// The oldest message of the lowest type that is at most this
    /// (`msgtyp` < 0): a priority queue where low types go first.
    UpTo(i64),
    /// The oldest message of any other type (`msgtyp` > 0 with
    /// `MSG_EXCEPT`).
    Except(i64),
}

impl Select {
    /// The `msgtyp` and extra flags, or [`SysvError::BadType`].
    fn raw(self) -> Result<(libc::c_long, libc::c_int), SysvError> {
        let t = match self {
            Select::Any => return Ok((0, 0)),
            Select::Type(t) | Select::UpTo(t) | Select::Except(t) => t,
        };
        let raw = libc::c_long::try_from(t)
            .ok()
            .filter(|&t| t >= 1)
            .ok_or(SysvError::BadType(t))?;
        Ok(match self {
            Select::UpTo(_) => (-raw, 0),
            Select::Except(_) => (raw, libc::MSG_EXCEPT),
            _ => (raw, 0),
        })
    }
}

/// How to create a queue. The default: exclusive, mode `0600`, removed
/// when the creating [`Queue`] is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueOptions {
    /// Fail with `EEXIST` if the key has a queue (`IPC_EXCL`). When false,
    /// an existing queue is opened instead (and never removed on drop).
    /// Ignored for [`Key::PRIVATE`], which always creates.
    pub exclusive: bool,
    /// Permission bits (only the low nine count; no umask applies).
    pub mode: u32,
    /// Remove the queue (`IPC_RMID`, which discards its messages and fails
    /// every waiter with [`SysvError::Removed`]) when the creating handle
    /// is dropped.
    pub remove_on_drop: bool,
}

impl Default for QueueOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl QueueOptions {
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

/// A queue's state as the kernel keeps it (`msgctl(IPC_STAT)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueStat {
    /// The queue's id.
    pub id: i32,
    /// Its key.
    pub key: Key,
    /// Messages queued now.
    pub messages: u64,
    /// Bytes queued now (message texts only).
    pub bytes: u64,
    /// The most bytes it holds (`msg_qbytes`; `msgmnb` when created).
    pub max_bytes: u64,
    /// The pid of the last `msgsnd` (0: none yet).
    pub last_sender: u32,
    /// The pid of the last `msgrcv` (0: none yet).
    pub last_receiver: u32,
    /// Permission bits.
    pub mode: u32,
    /// The owner's uid.
    pub uid: u32,
    /// The creator's uid.
    pub creator_uid: u32,
}

/// A message received: its type and how many bytes of the buffer it filled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    /// The message's type (at least 1).
    pub mtype: i64,
    /// Its length in bytes.
    pub len: usize,
}

/// A System V message queue. Messages carry a type (a positive number)
/// that receivers select on ([`Select`]); they stay in the kernel until
/// received or the queue is removed.
///
/// `msgrcv` and `msgsnd` have no timeout. The `_timeout` calls try with
/// `IPC_NOWAIT` and, while the queue has no matching message (or no
/// room), sleep between tries: [`POLL_FIRST`] at first, doubling up to
/// [`POLL_MAX`], until the deadline (on the monotonic clock). They install
/// no signal handler and arm no timer (a `SIGALRM` or timer signal would
/// interrupt every other blocking call in the process too); the price is a
/// latency of up to [`POLL_MAX`] and about a thousand wake-ups a second
/// while a long wait lasts. The plain calls block in the kernel.
///
/// The queue is removed on drop when this handle created it and was asked
/// to ([`QueueOptions::remove_on_drop`]).
#[derive(Debug)]
pub struct Queue {
    id: i32,
    key: Key,
    created: bool,
    remove_on_drop: bool,
}

/// `msqid_ds` of `id`.
fn stat_id(id: i32) -> Result<QueueStat, SysvError> {
    // SAFETY: msqid_ds is plain data; all zeroes is a valid value.
    let mut ds: libc::msqid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: ds is a valid out-pointer for IPC_STAT.
    let r = unsafe { libc::msgctl(id, libc::IPC_STAT, &mut ds) };
    check(r, "msgctl(IPC_STAT)").map_err(|e| removed_or(e.on(format_args!("id {id}")), id))?;
    Ok(QueueStat {
        id,
        key: Key::new(ds.msg_perm.__key),
        messages: ds.msg_qnum as u64,
        bytes: ds.__msg_cbytes as u64,
        max_bytes: ds.msg_qbytes as u64,
        last_sender: ds.msg_lspid as u32,
        last_receiver: ds.msg_lrpid as u32,
        mode: u32::from(ds.msg_perm.mode),
        uid: ds.msg_perm.uid,
        creator_uid: ds.msg_perm.cuid,
    })
}

fn msgget(key: Key, flags: i32) -> Result<i32, SysvError> {
    // SAFETY: msgget has no memory-safety preconditions.
    let id = unsafe { libc::msgget(key.raw(), flags) };
    if id != -1 {
        return Ok(id);
    }
    let e = OsError::last("msgget").on(key);
    if e.is(libc::ENOSPC) {
        if let Some(max) = SysvLimit::MsgMni.current() {
            return Err(SysvError::Limit {
                limit: SysvLimit::MsgMni,
                requested: 0,
                max,
            });
        }
    }
    Err(SysvError::Os(e))
}

/// [`SysvError::Limit`] if `len` bytes exceed `msgmax` now.
fn msgmax_error(len: usize) -> Option<SysvError> {
    let max = SysvLimit::MsgMax.current()?;
    (len as u64 > max).then_some(SysvError::Limit {
        limit: SysvLimit::MsgMax,
        requested: len as u64,
        max,
    })
}

/// Tries `attempt` until it is not `Empty`/`Full` or `timeout` passes,
/// sleeping between tries with a doubling pause capped at [`POLL_MAX`].
fn poll<T>(
    timeout: Duration,
    mut attempt: impl FnMut() -> Result<T, SysvError>,
) -> Result<T, SysvError> {
    let start = Instant::now();
    let mut nap = POLL_FIRST;
    loop {
        match attempt() {
            Err(SysvError::Empty | SysvError::Full) => {}
            other => return other,
        }
        let waited = start.elapsed();
        if waited >= timeout {
            return Err(SysvError::TimedOut);
        }
        std::thread::sleep(nap.min(timeout - waited));
        nap = (nap * 2).min(POLL_MAX);
    }
}

impl Queue {
    /// Creates a queue under `key` ([`Key::PRIVATE`]: a new queue only its
    /// id finds), recorded as interlink's (see [`super::MARK_DIR_PREFIX`]).
    /// [`SysvError::Limit`] naming `msgmni` if the system has as many
    /// queues as it allows.
    pub fn create(key: Key, options: &QueueOptions) -> Result<Self, SysvError> {
        let flags = libc::IPC_CREAT | libc::IPC_EXCL | (options.mode & 0o777) as i32;
        let (id, created) = match msgget(key, flags) {
            Ok(id) => (id, true),
            Err(e) if e.is(libc::EEXIST) && !options.exclusive && !key.is_private() => {
                (msgget(key, 0)?, false)
            }
            Err(e) => return Err(e),
        };
        if created {
            mark::record(SysvKind::Queue, id, key.raw());
        }
        let queue = Self::with(id, key, created, created && options.remove_on_drop);
        queue.stat()?;
        Ok(queue)
    }

    /// Finds the queue under `key` (`ENOENT` if there is none).
    pub fn open(key: Key) -> Result<Self, SysvError> {
        let id = msgget(key, 0)?;
        let queue = Self::with(id, key, false, false);
        queue.stat()?;
        Ok(queue)
    }

    /// Uses the queue `id` (checked with `IPC_STAT`: `EINVAL` if no queue
    /// has that id).
    pub fn from_id(id: i32) -> Result<Self, SysvError> {
        let key = stat_id(id)?.key;
        let queue = Self::with(id, key, false, false);
        queue.stat()?;
        Ok(queue)
    }

    fn with(id: i32, key: Key, created: bool, remove_on_drop: bool) -> Self {
        Self {
            id,
            key,
            created,
            remove_on_drop,
        }
    }

    /// The queue's id.
    pub fn id(&self) -> i32 {
        self.id
    }

    /// The key it was created or found by.
    pub fn key(&self) -> Key {
        self.key
    }

    /// Whether this handle created the queue.
    pub fn is_creator(&self) -> bool {
        self.created
    }

    /// The queue's state now.
    pub fn stat(&self) -> Result<QueueStat, SysvError> {
        stat_id(self.id)
    }

    /// The state of queue `id`.
    pub fn stat_id(id: i32) -> Result<QueueStat, SysvError> {
        stat_id(id)
    }

    /// Removes queue `id` now (`IPC_RMID`): its messages are discarded
    /// and every waiter fails with [`SysvError::Removed`].
    pub fn remove_id(id: i32) -> Result<(), SysvError> {
        // SAFETY: IPC_RMID reads no buffer; a null pointer is allowed.
        let r = unsafe { libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
        check(r, "msgctl(IPC_RMID)").map_err(|e| removed_or(e.on(format_args!("id {id}")), id))?;
        Ok(())
    }

    /// Removes this queue now (see [`Queue::remove_id`]).
    pub fn remove(&self) -> Result<(), SysvError> {
        Self::remove_id(self.id)?;
        if self.created {
            mark::forget(SysvKind::Queue, self.id, self.key.raw());
        }
        Ok(())
    }

    /// Whether dropping this handle removes the queue (only a creating
    /// handle can: for others this does nothing).
    pub fn set_remove_on_drop(&mut self, yes: bool) {
        self.remove_on_drop = yes && self.created;
    }

    /// Leaves the queue in place when this handle is dropped.
    pub fn keep(mut self) -> Self {
        self.remove_on_drop = false;
        self
    }

    /// A type below 1 is [`SysvError::BadType`].
    fn check_type(mtype: i64) -> Result<libc::c_long, SysvError> {
        libc::c_long::try_from(mtype)
            .ok()
            .filter(|&t| t >= 1)
            .ok_or(SysvError::BadType(mtype))
    }

    /// [`SysvError::ExceedsQueue`] if `len` bytes can never fit the queue
    /// (the kernel would wait forever for room); looked at only when the
    /// queue is full.
    fn check_fits(&self, len: usize) -> Result<(), SysvError> {
        let queue_bytes = self.stat()?.max_bytes;
        if len as u64 > queue_bytes {
            return Err(SysvError::ExceedsQueue {
                id: self.id,
                len,
                queue_bytes,
            });
        }
        Ok(())
    }

    fn send_raw(&self, words: &[libc::c_long], len: usize, wait: bool) -> Result<(), SysvError> {
        let flags = if wait { 0 } else { libc::IPC_NOWAIT };
        loop {
            // SAFETY: words holds the type then at least `len` bytes of text.
            let r = unsafe { libc::msgsnd(self.id, words.as_ptr().cast(), len, flags) };
            if r == 0 {
                return Ok(());
            }
            let e = OsError::last("msgsnd");
            match e.errno {
                libc::EINTR => continue,
                libc::EAGAIN => return Err(SysvError::Full),
                // msgmax may have been lowered since the check.
                libc::EINVAL => {
                    if let Some(limit) = msgmax_error(len) {
                        return Err(limit);
                    }
                }
                _ => {}
            }
            let subject = format_args!("id {} ({len} bytes)", self.id);
            return Err(removed_or(e.on(subject), self.id));
        }
    }

    /// The type then the text, as `struct msgbuf` lays them out.
    fn message(mtype: libc::c_long, data: &[u8]) -> Vec<libc::c_long> {
        const W: usize = std::mem::size_of::<libc::c_long>();
        let mut words = vec![0 as libc::c_long; 1 + data.len().div_ceil(W)];
        words[0] = mtype;
        for (word, chunk) in words[1..].iter_mut().zip(data.chunks(W)) {
            let mut bytes = [0u8; W];
            bytes[..chunk.len()].copy_from_slice(chunk);
            *word = libc::c_long::from_ne_bytes(bytes);
        }
        words
    }

    fn send_with(
        &self,
        mtype: i64,
        data: &[u8],
        timeout: Option<Duration>,
    ) -> Result<(), SysvError> {
        let words = Self::message(Self::check_type(mtype)?, data);
        let len = data.len();
        // Without waiting first: a full queue is when a message that can
        // never fit is told from one that waits for room.
        match self.send_raw(&words, len, false) {
            Err(SysvError::Full) => self.check_fits(len)?,
            other => return other,
        }
        match timeout {
            None => self.send_raw(&words, len, true),
            Some(t) if t.is_zero() => Err(SysvError::Full),
            Some(t) => poll(t, || self.send_raw(&words, len, false)),
        }
    }

    /// Sends `data` as a message of type `mtype` (at least 1), waiting in
    /// the kernel while the queue is full. A message over `msgmax` is
    /// [`SysvError::Limit`], one over the queue's capacity (that would
    /// wait forever) [`SysvError::ExceedsQueue`]; nothing is sent then. A
    /// capacity lowered (`IPC_SET`) while a send already waits in the
    /// kernel is the kernel's to handle: it waits on.
    pub fn send(&self, mtype: i64, data: &[u8]) -> Result<(), SysvError> {
        self.send_with(mtype, data, None)
    }

    /// Sends without waiting: [`SysvError::Full`] if there is no room.
    pub fn try_send(&self, mtype: i64, data: &[u8]) -> Result<(), SysvError> {
        self.send_with(mtype, data, Some(Duration::ZERO))
    }

    /// Sends, waiting at most about `timeout` for room
    /// ([`SysvError::TimedOut`]; see the type's docs for how it waits).
    pub fn send_timeout(
        &self,
        mtype: i64,
        data: &[u8],
        timeout: Duration,
    ) -> Result<(), SysvError> {
        if timeout.is_zero() {
            return match self.try_send(mtype, data) {
                Err(SysvError::Full) => Err(SysvError::TimedOut),
                other => other,
            };
        }
        self.send_with(mtype, data, Some(timeout))
    }

    fn recv_raw(
        &self,
        select: Select,
        buf: &mut [u8],
        scratch: &mut [libc::c_long],
        wait: bool,
    ) -> Result<Received, SysvError> {
        let (msgtyp, extra) = select.raw()?;
        let flags = extra | if wait { 0 } else { libc::IPC_NOWAIT };
        loop {
            // SAFETY: scratch holds a type word and at least buf.len() bytes.
            let n = unsafe {
                libc::msgrcv(
                    self.id,
                    scratch.as_mut_ptr().cast(),
                    buf.len(),
                    msgtyp,
                    flags,
                )
            };
            if n >= 0 {
                let len = (n as usize).min(buf.len());
                // SAFETY: the kernel wrote `n` <= buf.len() bytes of text
                // after the type word; scratch is that long.
                let text = unsafe {
                    std::slice::from_raw_parts(scratch.as_ptr().add(1).cast::<u8>(), len)
                };
                buf[..len].copy_from_slice(text);
                // c_long is i32 on 32-bit targets.
                #[allow(clippy::useless_conversion)]
                let mtype = i64::from(scratch[0]);
                return Ok(Received { mtype, len });
            }
            let e = OsError::last("msgrcv");
            match e.errno {
                libc::EINTR => continue,
                libc::ENOMSG => return Err(SysvError::Empty),
                libc::E2BIG => {
                    return Err(SysvError::BufferTooSmall {
                        id: self.id,
                        len: buf.len(),
                    })
                }
                _ => return Err(removed_or(e.on(format_args!("id {}", self.id)), self.id)),
            }
        }
    }

    fn recv_with(
        &self,
        select: Select,
        buf: &mut [u8],
        timeout: Option<Duration>,
    ) -> Result<Received, SysvError> {
        select.raw()?;
        const W: usize = std::mem::size_of::<libc::c_long>();
        let mut scratch = vec![0 as libc::c_long; 1 + buf.len().div_ceil(W)];
        match timeout {
            None => self.recv_raw(select, buf, &mut scratch, true),
            Some(t) if t.is_zero() => self.recv_raw(select, buf, &mut scratch, false),
            Some(t) => poll(t, || self.recv_raw(select, buf, &mut scratch, false)),
        }
    }

    /// Receives the message `select` picks into `buf`, waiting in the
    /// kernel until one comes. A longer message is
    /// [`SysvError::BufferTooSmall`] and stays queued (a buffer of
    /// `msgmax` bytes, [`SysvLimit::MsgMax`], takes any message).
    pub fn recv(&self, select: Select, buf: &mut [u8]) -> Result<Received, SysvError> {
        self.recv_with(select, buf, None)
    }

    /// Receives without waiting: [`SysvError::Empty`] if no message matches.
    pub fn try_recv(&self, select: Select, buf: &mut [u8]) -> Result<Received, SysvError> {
        self.recv_with(select, buf, Some(Duration::ZERO))
    }

    /// Receives, waiting at most about `timeout` for a matching message
    /// ([`SysvError::TimedOut`]; see the type's docs for how it waits).
    pub fn recv_timeout(
        &self,
        select: Select,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<Received, SysvError> {
        if timeout.is_zero() {
            return match self.try_recv(select, buf) {
                Err(SysvError::Empty) => Err(SysvError::TimedOut),
                other => other,
            };
        }
        self.recv_with(select, buf, Some(timeout))
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        if self.remove_on_drop {
            let _ = self.remove();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_follow_the_msgtyp_rules() {
        assert_eq!(Select::Any.raw(), Ok((0, 0)));
        assert_eq!(Select::Type(3).raw(), Ok((3, 0)));
        assert_eq!(Select::UpTo(3).raw(), Ok((-3, 0)));
        assert_eq!(Select::Except(3).raw(), Ok((3, libc::MSG_EXCEPT)));
        for bad in [Select::Type(0), Select::UpTo(-1), Select::Except(0)] {
            assert!(matches!(bad.raw(), Err(SysvError::BadType(_))), "{bad:?}");
        }
    }

    #[test]
    fn messages_are_laid_out_as_msgbuf() {
        let words = Queue::message(7, b"abcdefghij");
        // The type, then 10 bytes in longs: 2 of 8 bytes, or 3 of 4 (i686).
        assert_eq!(
            words.len(),
            1 + 10usize.div_ceil(std::mem::size_of::<libc::c_long>())
        );
        assert_eq!(words[0], 7);
        // SAFETY: words holds 16 bytes after the type word.
        let text = unsafe { std::slice::from_raw_parts(words[1..].as_ptr().cast::<u8>(), 10) };
        assert_eq!(text, b"abcdefghij");
    }
}
