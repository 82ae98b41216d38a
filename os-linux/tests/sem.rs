//! POSIX semaphores between real processes.

mod common;

use std::fs::OpenOptions;
use std::io::Write;
use std::time::{Duration, Instant};

use common::{unique_name, TempDir};
use interlink_linux::process::{fork, Exit};
use interlink_linux::sem::{NamedSemaphore, ProcessSemaphore, VALUE_MAX};
use interlink_linux::shm::Mapping;

const LINES: usize = 200;

/// Appends `LINES` lines to `path`, each written in three pieces with a
/// yield between them, holding `sem` (if any) around each line.
fn append_lines(path: &std::path::Path, tag: char, sem: Option<&NamedSemaphore>) -> i32 {
    for i in 0..LINES {
        if let Some(s) = sem {
            if s.wait().is_err() {
                return 2;
            }
        }
        let Ok(mut f) = OpenOptions::new().append(true).open(path) else {
            return 3;
        };
        for piece in [
            format!("{tag}{i:03} "),
            "middle ".to_string(),
            format!("{tag}end\n"),
        ] {
            if f.write_all(piece.as_bytes()).is_err() {
                return 4;
            }
            std::thread::yield_now();
        }
        if let Some(s) = sem {
            if s.post().is_err() {
                return 5;
            }
        }
    }
    0
}

/// Two processes that each open the semaphore by name append lines to one
/// file in pieces; with the semaphore held around each line, no line is
/// interleaved with another.
#[test]
fn named_semaphore_serialises_two_appending_processes() {
    let dir = TempDir::new("sem-append");
    let path = dir.join("log");
    std::fs::write(&path, b"").unwrap();
    let name = unique_name("sem");
    let _owner = NamedSemaphore::create(&name, 0o600, 1).unwrap();
    let children: Vec<_> = ['a', 'b']
        .into_iter()
        .map(|tag| {
            let (name, path) = (&name, &path);
            fork(move || match NamedSemaphore::open(name) {
                Ok(sem) => append_lines(path, tag, Some(&sem)),
                Err(_) => 6,
            })
            .unwrap()
        })
        .collect();
    for child in children {
        assert_eq!(child.wait().unwrap(), Exit::Code(0));
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2 * LINES);
    let mut next = [0usize; 2];
    for line in lines {
        let tag = line.chars().next().unwrap();
        let k = usize::from(tag == 'b');
        assert_eq!(
            line,
            format!("{tag}{:03} middle {tag}end", next[k]),
            "interleaved"
        );
        next[k] += 1;
    }
}

/// The semaphore operations, the name's lifetime, and bad input.
#[test]
fn named_semaphore_operations_and_errors() {
    let name = unique_name("sem-ops");
    let sem = NamedSemaphore::create(&name, 0o600, 2).unwrap();
    assert_eq!(sem.name(), name);
    assert_eq!(sem.value().unwrap(), 2);
    assert!(sem.try_wait().unwrap());
    assert!(sem.try_wait().unwrap());
    assert!(!sem.try_wait().unwrap());
    let start = Instant::now();
    assert!(!sem.wait_timeout(Duration::from_millis(30)).unwrap());
    assert!(start.elapsed() >= Duration::from_millis(25));
    sem.post().unwrap();
    assert!(sem.wait_timeout(Duration::from_secs(5)).unwrap());

    // A second handle through the name shares the count.
    let other = NamedSemaphore::open(&name).unwrap();
    other.post().unwrap();
    assert_eq!(sem.value().unwrap(), 1);
    assert!(NamedSemaphore::create(&name, 0o600, 0)
        .unwrap_err()
        .is(libc::EEXIST));
    let same = NamedSemaphore::open_or_create(&name, 0o600, 0).unwrap();
    assert_eq!(same.value().unwrap(), 1);
    drop((other, same));

    // The creator removes the name on drop; openers never do.
    drop(sem);
    assert!(NamedSemaphore::open(&name).unwrap_err().is(libc::ENOENT));
    assert!(NamedSemaphore::unlink(&name).unwrap_err().is(libc::ENOENT));
    let kept = NamedSemaphore::create(&name, 0o600, 0).unwrap().keep();
    drop(kept);
    NamedSemaphore::unlink(&name).unwrap();

    for bad in ["no-slash", "/", "/a/b", ""] {
        assert!(
            NamedSemaphore::open(bad).unwrap_err().is(libc::EINVAL),
            "{bad:?}"
        );
    }
    let too_big = NamedSemaphore::create(&name, 0o600, VALUE_MAX + 1).unwrap_err();
    assert!(too_big.is(libc::EINVAL), "{too_big}");
    assert!(NamedSemaphore::open(&name).unwrap_err().is(libc::ENOENT));
}

/// An unnamed semaphore in a shared mapping wakes a waiter in another
/// process; two of them make a ping-pong.
#[test]
fn process_shared_semaphore_in_a_mapping() {
    let map = Mapping::anonymous(4096).unwrap();
    let mut region = map.region();
    let ping = ProcessSemaphore::init(
        region
            .take(ProcessSemaphore::BYTES, ProcessSemaphore::ALIGN)
            .unwrap(),
        0,
    )
    .unwrap();
    let pong = ProcessSemaphore::init(
        region
            .take(ProcessSemaphore::BYTES, ProcessSemaphore::ALIGN)
            .unwrap(),
        0,
    )
    .unwrap();
    let child = fork(|| {
        for _ in 0..100 {
            match ping.wait_timeout(Duration::from_secs(10)) {
                Ok(true) => {}
                _ => return 2,
            }
            if pong.post().is_err() {
                return 3;
            }
        }
        0
    })
    .unwrap();
    for _ in 0..100 {
        ping.post().unwrap();
        assert!(pong.wait_timeout(Duration::from_secs(10)).unwrap());
    }
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
    assert_eq!((ping.value().unwrap(), pong.value().unwrap()), (0, 0));

    // Too small or misaligned memory is refused before sem_init runs.
    let small = Mapping::anonymous(4096).unwrap();
    let mut r = small.region();
    let _front = r.take(4096 - 8, 1).unwrap(); // leaves 8 bytes, too few
    assert!(ProcessSemaphore::init(r, 0).unwrap_err().is(libc::EINVAL));
    let mut r = small.region();
    let _one = r.take(1, 1).unwrap();
    assert!(ProcessSemaphore::init(r, 0).unwrap_err().is(libc::EINVAL));
    let big = ProcessSemaphore::init(small.region(), VALUE_MAX + 1).unwrap_err();
    assert!(big.is(libc::EINVAL));
}
