//! OFD and flock locks excluding each other between processes.

mod common;

use std::fs::{File, OpenOptions};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use common::{Gate, TempDir};
use interlink_linux::lock::{ByteRange, Flock, LockKind, OfdLock};
use interlink_linux::process::{fork, Exit};

fn open(path: &std::path::Path) -> File {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap()
}

/// A child holds an exclusive OFD lock; the parent cannot take it, sees
/// the conflict, can lock a disjoint range, and its blocking lock returns
/// only once the child lets go.
#[test]
fn ofd_locks_exclude_each_other_across_processes() {
    let dir = TempDir::new("ofd");
    let path = dir.join("locked");
    std::fs::write(&path, [0u8; 64]).unwrap();
    let (mut locked, mut release) = (Gate::new(), Gate::new());
    let child = fork(|| {
        let file = open(&path);
        let first = ByteRange { start: 0, len: 32 };
        let Ok(_guard) = OfdLock::lock(file.as_fd(), LockKind::Exclusive, first) else {
            return 2;
        };
        locked.open();
        if !release.wait() {
            return 3;
        }
        std::thread::sleep(Duration::from_millis(50));
        0 // the guard drops here: unlocked
    })
    .unwrap();
    assert!(locked.wait());
    let file = open(&path);
    let fd = file.as_fd();
    let first = ByteRange { start: 0, len: 32 };
    let second = ByteRange { start: 32, len: 32 };
    assert!(OfdLock::try_lock(fd, LockKind::Exclusive, first)
        .unwrap()
        .is_none());
    assert!(OfdLock::try_lock(fd, LockKind::Shared, ByteRange::WHOLE)
        .unwrap()
        .is_none());
    assert_eq!(
        OfdLock::conflict(fd, LockKind::Shared, first).unwrap(),
        Some(LockKind::Exclusive)
    );
    assert_eq!(
        OfdLock::conflict(fd, LockKind::Exclusive, second).unwrap(),
        None
    );
    let other = OfdLock::try_lock(fd, LockKind::Exclusive, second).unwrap();
    assert!(other.is_some());
    drop(other);

    let start = Instant::now();
    release.open();
    let _mine = OfdLock::lock(fd, LockKind::Exclusive, ByteRange::WHOLE).unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(40),
        "lock did not wait"
    );
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
}

/// OFD locks belong to the open file description: two opens conflict
/// even in one process; shared locks coexist; a dropped guard unlocks.
#[test]
fn ofd_locks_belong_to_the_open_file_description() {
    let dir = TempDir::new("ofd-same");
    let path = dir.join("f");
    std::fs::write(&path, b"x").unwrap();
    let (a, b) = (open(&path), open(&path));
    let shared_a = OfdLock::lock(a.as_fd(), LockKind::Shared, ByteRange::WHOLE).unwrap();
    let shared_b = OfdLock::try_lock(b.as_fd(), LockKind::Shared, ByteRange::WHOLE).unwrap();
    assert!(shared_b.is_some());
    drop(shared_b);
    assert!(
        OfdLock::try_lock(b.as_fd(), LockKind::Exclusive, ByteRange::WHOLE)
            .unwrap()
            .is_none()
    );
    drop(shared_a);
    assert!(
        OfdLock::try_lock(b.as_fd(), LockKind::Exclusive, ByteRange::WHOLE)
            .unwrap()
            .is_some()
    );
    // Bad input: a range past off_t, a read-only descriptor for a write lock.
    let huge = ByteRange {
        start: u64::MAX,
        len: 1,
    };
    assert!(OfdLock::try_lock(a.as_fd(), LockKind::Shared, huge)
        .unwrap_err()
        .is(libc::EINVAL));
    let ro = File::open(&path).unwrap();
    assert!(
        OfdLock::try_lock(ro.as_fd(), LockKind::Exclusive, ByteRange::WHOLE)
            .unwrap_err()
            .is(libc::EBADF)
    );
}

/// flock: an exclusive lock held by a child keeps the parent out until the
/// child exits.
#[test]
fn flock_excludes_across_processes() {
    let dir = TempDir::new("flock");
    let path = dir.join("f");
    std::fs::write(&path, b"x").unwrap();
    let (mut locked, mut release) = (Gate::new(), Gate::new());
    let child = fork(|| {
        let file = open(&path);
        let Ok(_guard) = Flock::lock(file.as_fd(), LockKind::Exclusive) else {
            return 2;
        };
        locked.open();
        i32::from(!release.wait())
    })
    .unwrap();
    assert!(locked.wait());
    let file = open(&path);
    assert!(Flock::try_lock(file.as_fd(), LockKind::Shared)
        .unwrap()
        .is_none());
    release.open();
    let _mine = Flock::lock(file.as_fd(), LockKind::Exclusive).unwrap();
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
    // Shared locks coexist.
    drop(_mine);
    let other = open(&path);
    let _s1 = Flock::lock(file.as_fd(), LockKind::Shared).unwrap();
    assert!(Flock::try_lock(other.as_fd(), LockKind::Shared)
        .unwrap()
        .is_some());
}
