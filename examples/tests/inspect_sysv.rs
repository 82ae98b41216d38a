//! `interlink-inspect ls` and `gc --sysv` against real System V objects:
//! a segment and a queue whose creator was killed (stale: removed), a live
//! one (kept), and another program's (listed only with --all, never
//! removed). Only the ids this test made are asserted on.

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use interlink_linux::process::{fork, Exit};
use interlink_linux::shm::Mapping;
use interlink_linux::sysv::{Key, Queue, QueueOptions, Segment, SegmentOptions};

/// Runs the inspector; returns (exit code, stdout).
fn inspect(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_interlink-inspect"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The `ls` row of System V object `kind` (`segment`/`queue`) `id`.
fn row<'a>(out: &'a str, kind: &str, id: i32) -> Option<&'a str> {
    out.lines().find(|l| {
        let mut f = l.split_whitespace();
        f.next() == Some(kind) && f.nth(1) == Some(id.to_string().as_str())
    })
}

#[test]
fn ls_shows_system_v_objects_and_gc_removes_only_stale_interlink_ones() {
    // A creator that makes a segment and a queue, reports their ids, and
    // is killed with SIGKILL: nothing of it removes them.
    let map = Mapping::anonymous(4096).unwrap();
    // SAFETY: the first 8 bytes of a fresh mapping, reached only atomically.
    let reported = unsafe { &*map.as_ptr().cast::<AtomicU64>() };
    let creator = fork(|| {
        let Ok(seg) = Segment::create(Key::PRIVATE, 4096, &SegmentOptions::new()) else {
            return 2;
        };
        let Ok(q) = Queue::create(Key::PRIVATE, &QueueOptions::new()) else {
            return 3;
        };
        let ids = (seg.id() as u64) << 32 | q.id() as u32 as u64;
        reported.store(ids | 1 << 63, Ordering::Release);
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    })
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let (seg_id, queue_id) = loop {
        let v = reported.load(Ordering::Acquire);
        if v != 0 {
            break (((v >> 32) & 0x7fff_ffff) as i32, v as u32 as i32);
        }
        assert!(Instant::now() < deadline, "the creator never reported");
        std::thread::sleep(Duration::from_millis(1));
    };
    let creator_pid = creator.pid();
    creator.signal(libc::SIGKILL).unwrap();
    assert_eq!(creator.wait().unwrap(), Exit::Signal(libc::SIGKILL));

    let live = Segment::create(Key::PRIVATE, 8192, &SegmentOptions::new()).unwrap();
    // SAFETY: shmget has no memory-safety preconditions.
    let foreign = unsafe { libc::shmget(libc::IPC_PRIVATE, 4096, libc::IPC_CREAT | 0o600) };
    assert!(foreign >= 0);

    let (code, out) = inspect(&["ls"]);
    assert_eq!(code, 0, "{out}");
    let stale = row(&out, "segment", seg_id).unwrap_or_else(|| panic!("{out}"));
    assert!(stale.contains("interlink, stale"), "{stale}");
    assert!(stale.contains(&format!("{creator_pid} (dead)")), "{stale}");
    assert!(
        stale.contains(" 600 ") && stale.contains(" 4096 "),
        "{stale}"
    );
    let q = row(&out, "queue", queue_id).unwrap_or_else(|| panic!("{out}"));
    assert!(q.contains("interlink, stale"), "{q}");
    let mine = row(&out, "segment", live.id()).unwrap_or_else(|| panic!("{out}"));
    assert!(mine.contains("interlink, live"), "{mine}");
    assert!(
        row(&out, "segment", foreign).is_none(),
        "foreign without --all"
    );
    let (_, all) = inspect(&["ls", "--all"]);
    let theirs = row(&all, "segment", foreign).unwrap_or_else(|| panic!("{all}"));
    assert!(theirs.contains("foreign"), "{theirs}");

    let (code, out) = inspect(&["gc", "--sysv"]);
    assert_eq!(code, 0, "{out}");
    let removed = |what: &str| format!("removed System V {what} (");
    assert!(
        out.contains(&removed(&format!("segment id {seg_id}"))),
        "{out}"
    );
    assert!(
        out.contains(&removed(&format!("queue id {queue_id}"))),
        "{out}"
    );
    assert!(Segment::stat_id(seg_id).is_err() && Queue::stat_id(queue_id).is_err());
    assert!(
        Segment::stat_id(live.id()).is_ok(),
        "a live creator's segment"
    );
    assert!(
        Segment::stat_id(foreign).is_ok(),
        "another program's segment"
    );
    Segment::remove_id(foreign).unwrap();
}
