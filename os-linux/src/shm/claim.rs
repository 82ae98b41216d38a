//! The claim lock: the byte of an object that its creator, a replacer or
//! `gc` locks while it builds, judges or removes it.

use std::os::fd::BorrowedFd;

use crate::error::OsError;
use crate::lock::{ByteRange, LockKind, OfdLock};

/// The byte of an object that interlink's creators, replacers and `gc`
/// lock exclusively (an OFD lock, `F_OFD_SETLK`) while they build, judge
/// or remove it: far past any object's end, so it overlaps no lock a
/// holder takes on its own bytes. The kernel drops the lock when its
/// holder dies, whatever its pid.
pub const CLAIM_BYTE: u64 = 1 << 62;

/// The range [`CLAIM_BYTE`] stands for.
const CLAIM: ByteRange = ByteRange {
    start: CLAIM_BYTE,
    len: 1,
};

/// Takes the claim lock ([`CLAIM_BYTE`]) on `fd` if nobody holds it;
/// `Ok(None)` if another open file description does.
pub(crate) fn try_claim(fd: BorrowedFd<'_>) -> Result<Option<OfdLock<'_>>, OsError> {
    OfdLock::try_lock(fd, LockKind::Exclusive, CLAIM)
}

/// Releases the claim lock this open file description holds on `fd`
/// (`F_UNLCK`; nothing if it holds none). Needed where the guard was
/// forgotten: a mapping keeps the open file description, and with it the
/// lock, alive after the descriptor closes.
pub(crate) fn release_claim(fd: BorrowedFd<'_>) {
    if let Ok(Some(lock)) = try_claim(fd) {
        drop(lock);
    }
}

/// Whether another open file description holds the claim lock on `fd`.
pub(crate) fn is_claimed(fd: BorrowedFd<'_>) -> Result<bool, OsError> {
    OfdLock::conflict(fd, LockKind::Exclusive, CLAIM).map(|c| c.is_some())
}
