//! System V shared memory segments between real processes: by key, by id,
//! read-only, the SPSC ring and the robust mutex living in a segment, a
//! creator killed with SIGKILL (the segment survives; gc removes it), and
//! nothing left behind. Tests run in parallel with others: each tracks
//! only the ids it created.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use interlink_core::mutex::{LockError, Mutex};
use interlink_core::spsc::SpscRing;
use interlink_core::RingConfig;
use interlink_linux::futex::{Futex, Robust};
use interlink_linux::inspect::{sysv_gc, sysv_list};
use interlink_linux::process::{fork, Exit};
use interlink_linux::shm::Mapping;
use interlink_linux::sysv::{
    Attach, Key, Segment, SegmentOptions, SysvError, SysvKind, MARK_DIR_PREFIX, SHM_DEST,
};

/// A key no other test (or test process) uses: the pid and a counter.
fn unique_key() -> Key {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed) & 0xff;
    Key::new(((std::process::id() & 0x3f_ffff) << 8 | n) as i32 | 0x4000_0000)
}

/// The segments `/proc/sysvipc/shm` lists now: (id, perms).
fn shm_ids() -> Vec<(i32, u32)> {
    let text = std::fs::read_to_string("/proc/sysvipc/shm").unwrap();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split_whitespace().skip(1);
            let id = f.next()?.parse().ok()?;
            Some((id, u32::from_str_radix(f.next()?, 8).ok()?))
        })
        .collect()
}

/// None of `ids` is left behind (what `ipcs -m` shows): each is gone, or
/// marked for removal (`SHM_DEST`) and so gone at its last detach. Every
/// child forked while a segment is attached inherits the attachment, and
/// tests fork in parallel: another test's child may hold ours for a while.
fn assert_gone(ids: &[i32]) {
    for (id, perms) in shm_ids() {
        assert!(
            !ids.contains(&id) || perms & SHM_DEST != 0,
            "segment id {id} was left behind"
        );
    }
}

fn mark_path(id: i32) -> String {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    format!("{MARK_DIR_PREFIX}{uid}/shm-{id}")
}

#[test]
fn a_process_opens_a_keyed_segment_and_stat_counts_it() {
    let key = unique_key();
    let seg = Segment::create(key, 8192, &SegmentOptions::new()).unwrap();
    assert!(seg.is_creator() && seg.len() == 8192);
    assert!(std::path::Path::new(&mark_path(seg.id())).exists());
    let parent = std::process::id();
    let child = fork(|| {
        let Ok(mine) = Segment::open(key, Attach::ReadWrite) else {
            return 2;
        };
        if mine.len() != 8192 || mine.is_creator() || mine.id() != seg.id() {
            return 3;
        }
        let Ok(stat) = mine.stat() else { return 4 };
        // The parent's, the one inherited over fork, this one (and any
        // that children of parallel tests inherited).
        if stat.attaches < 3 || stat.creator_pid != parent {
            return 5;
        }
        if mine.write(100, b"from the child").is_err() {
            return 6;
        }
        0
    })
    .unwrap();
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
    let mut buf = [0u8; 14];
    seg.read(100, &mut buf).unwrap();
    assert_eq!(&buf, b"from the child");
    let stat = seg.stat().unwrap();
    assert!(stat.attaches >= 1 && stat.size == 8192, "{stat:?}");
    assert_ne!(stat.last_pid, 0);
    assert_eq!(stat.key, key);
    assert!(!stat.removed());
    let id = seg.id();
    drop(seg);
    assert_gone(&[id]);
    assert!(!std::path::Path::new(&mark_path(id)).exists());
}

#[test]
fn a_private_segment_is_attached_by_id_read_only() {
    let seg = Segment::create(Key::PRIVATE, 4096, &SegmentOptions::new()).unwrap();
    seg.write(0, b"read me").unwrap();
    let id = seg.id();
    let child = fork(|| {
        let Ok(ro) = Segment::attach(id, Attach::ReadOnly) else {
            return 2;
        };
        let mut buf = [0u8; 7];
        if ro.read(0, &mut buf).is_err() || &buf != b"read me" {
            return 3;
        }
        if !matches!(ro.region(), Err(SysvError::ReadOnly { .. })) {
            return 4;
        }
        if !matches!(ro.write(0, b"x"), Err(SysvError::ReadOnly { .. })) {
            return 5;
        }
        if !matches!(ro.read(4090, &mut buf), Err(SysvError::OutOfRange { .. })) {
            return 6;
        }
        0
    })
    .unwrap();
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
    drop(seg);
    assert_gone(&[id]);
    // Linux still attaches a removed segment while another process (a
    // parallel test's child) holds it; once it is gone, the error names it.
    if let Err(e) = Segment::attach(id, Attach::ReadWrite) {
        assert!(e.to_string().contains(&format!("id {id}")), "{e}");
    }
}

#[test]
fn the_spsc_ring_lives_in_a_segment_across_processes() {
    const N: u64 = 20_000;
    let bytes = SpscRing::<u64>::bytes_needed(256).unwrap();
    let seg = Segment::create(Key::PRIVATE, bytes, &SegmentOptions::new()).unwrap();
    let ring = SpscRing::<u64>::init(seg.region().unwrap(), RingConfig::new(256)).unwrap();
    let id = seg.id();
    let producer = fork(|| {
        // An unrelated process would attach by id; the child does too.
        let Ok(theirs) = Segment::attach(id, Attach::ReadWrite) else {
            return 2;
        };
        let Ok(region) = theirs.region() else {
            return 3;
        };
        let Ok(ring) = SpscRing::<u64>::attach(region) else {
            return 4;
        };
        let Ok(mut tx) = ring.producer(interlink_linux::process::holder()) else {
            return 5;
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        for i in 0..N {
            while tx.try_send(i).is_err() {
                if Instant::now() > deadline {
                    return 6;
                }
                std::thread::yield_now();
            }
        }
        0
    })
    .unwrap();
    let mut rx = ring.consumer(interlink_linux::process::holder()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut next = 0;
    while next < N {
        match rx.try_recv() {
            Ok(v) => {
                assert_eq!(v, next);
                next += 1;
            }
            Err(_) => {
                assert!(Instant::now() < deadline, "stalled at {next}");
                std::thread::yield_now();
            }
        }
    }
    assert_eq!(producer.wait().unwrap(), Exit::Code(0));
    drop(rx);
    drop(seg);
    assert_gone(&[id]);
}

#[test]
fn the_robust_mutex_in_a_segment_reports_a_holder_killed_inside() {
    let seg = Segment::create(Key::PRIVATE, 4096, &SegmentOptions::new()).unwrap();
    let mut region = seg.region().unwrap();
    let m_region = region
        .take(Mutex::<u64>::bytes_needed(), Mutex::<u64>::region_align())
        .unwrap();
    let flag = region.take(4, 4).unwrap();
    let m = Mutex::init(m_region, 0u64).unwrap();
    // SAFETY: 4 aligned bytes of the segment, reached only atomically.
    let in_section = unsafe { &*flag.as_ptr().cast::<AtomicU32>() };
    let id = seg.id();
    let holder = fork(|| {
        let Ok(theirs) = Segment::attach(id, Attach::ReadWrite) else {
            return 2;
        };
        let Ok(mut region) = theirs.region() else {
            return 3;
        };
        let Ok(r) = region.take(Mutex::<u64>::bytes_needed(), Mutex::<u64>::region_align()) else {
            return 4;
        };
        let Ok(m) = Mutex::<u64>::attach(r) else {
            return 5;
        };
        let (wait, me) = (Futex, Robust::new());
        let Ok(mut g) = m.lock(&wait, &me, None) else {
            return 6;
        };
        g.set(7); // half-way through an update
        in_section.store(1, Ordering::Release);
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    })
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while in_section.load(Ordering::Acquire) == 0 {
        assert!(Instant::now() < deadline, "the holder never locked");
        std::thread::sleep(Duration::from_millis(1));
    }
    holder.signal(libc::SIGKILL).unwrap();
    assert_eq!(holder.wait().unwrap(), Exit::Signal(libc::SIGKILL));
    match m.lock(&Futex, &Robust::new(), Some(Duration::from_secs(10))) {
        Err(LockError::OwnerDied(mut g)) => {
            assert_eq!(g.get(), 7);
            g.set(0);
            g.mark_consistent();
        }
        Err(e) => panic!("expected OwnerDied, got {e}"),
        Ok(_) => panic!("expected OwnerDied, got the lock"),
    }
    assert_eq!(m.lock(&Futex, &Robust::new(), None).unwrap().get(), 0);
    drop(seg);
    assert_gone(&[id]);
}

#[test]
fn a_creator_killed_with_sigkill_leaves_its_segment_and_gc_removes_it() {
    // The child reports its segment's id here.
    let map = Mapping::anonymous(4096).unwrap();
    // SAFETY: the first 4 bytes of a fresh mapping, reached only atomically.
    let reported = unsafe { &*map.as_ptr().cast::<AtomicU32>() };
    let creator = fork(|| {
        let Ok(seg) = Segment::create(Key::PRIVATE, 65536, &SegmentOptions::new()) else {
            return 2;
        };
        reported.store(seg.id() as u32 | 0x8000_0000, Ordering::Release);
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    })
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let id = loop {
        let v = reported.load(Ordering::Acquire);
        if v != 0 {
            break (v & 0x7fff_ffff) as i32;
        }
        assert!(Instant::now() < deadline, "the creator never reported");
        std::thread::sleep(Duration::from_millis(1));
    };
    // While the creator lives, its segment is interlink's and not stale.
    let listed = sysv_list().unwrap();
    let live = listed
        .iter()
        .find(|o| o.id == id && o.kind == SysvKind::Segment);
    let live = live.expect("listed");
    assert!(live.interlink && live.creator.alive && !live.is_stale());
    assert_eq!(live.creator.pid, creator.pid());
    assert!(sysv_gc(|o| o.id == id && o.kind == SysvKind::Segment)
        .unwrap()
        .is_empty());

    creator.signal(libc::SIGKILL).unwrap();
    assert_eq!(creator.wait().unwrap(), Exit::Signal(libc::SIGKILL));
    // The segment survives its creator: nothing ran its drop.
    let stat = Segment::stat_id(id).unwrap();
    assert_eq!((stat.attaches, stat.size), (0, 65536));
    let dead = sysv_list()
        .unwrap()
        .into_iter()
        .find(|o| o.id == id && o.kind == SysvKind::Segment)
        .unwrap();
    assert!(
        dead.interlink && !dead.creator.alive && dead.is_stale(),
        "{dead:?}"
    );

    let collected = sysv_gc(|o| o.id == id && o.kind == SysvKind::Segment).unwrap();
    assert_eq!(collected.len(), 1);
    assert!(collected[0].1.is_ok(), "{:?}", collected[0].1);
    assert!(Segment::stat_id(id).is_err());
    assert!(!std::path::Path::new(&mark_path(id)).exists());
    assert_gone(&[id]);
}

#[test]
fn gc_never_removes_a_segment_interlink_did_not_create() {
    // Another program's segment: made with shmget directly by a process
    // that then exits (creator dead, nobody attached).
    let child = fork(|| {
        // SAFETY: shmget has no memory-safety preconditions.
        let id = unsafe { libc::shmget(libc::IPC_PRIVATE, 4096, libc::IPC_CREAT | 0o600) };
        if id < 0 {
            return 255;
        }
        // The id does not fit an exit code: hand it over in the name of
        // a mark-less object found below by creator pid instead.
        0
    })
    .unwrap();
    let pid = child.pid();
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
    let foreign: Vec<_> = sysv_list()
        .unwrap()
        .into_iter()
        .filter(|o| o.kind == SysvKind::Segment && o.creator.pid == pid)
        .collect();
    assert_eq!(foreign.len(), 1, "{foreign:?}");
    let id = foreign[0].id;
    assert!(!foreign[0].interlink && !foreign[0].is_stale());
    assert!(sysv_gc(|o| o.id == id && o.kind == SysvKind::Segment)
        .unwrap()
        .is_empty());
    assert!(
        Segment::stat_id(id).is_ok(),
        "gc removed another program's segment"
    );
    Segment::remove_id(id).unwrap();
    assert_gone(&[id]);
}

#[test]
fn exclusive_create_refuses_a_taken_key_and_errors_name_call_key_and_errno() {
    let key = unique_key();
    let seg = Segment::create(key, 4096, &SegmentOptions::new().mode(0o640)).unwrap();
    assert_eq!(seg.stat().unwrap().mode & 0o777, 0o640);
    let taken = Segment::create(key, 4096, &SegmentOptions::new()).unwrap_err();
    assert!(taken.is(libc::EEXIST), "{taken}");
    let text = taken.to_string();
    assert!(text.starts_with(&format!("shmget {key} ")), "{text}");
    assert!(text.contains("File exists"), "{text}");

    // Not exclusive: the existing segment is opened, and not removed on drop.
    let shared = Segment::create(key, 4096, &SegmentOptions::new().exclusive(false)).unwrap();
    assert!(!shared.is_creator());
    assert_eq!(shared.id(), seg.id());
    drop(shared);
    assert!(Segment::stat_id(seg.id()).is_ok());

    let missing = Segment::open(unique_key(), Attach::ReadWrite).unwrap_err();
    assert!(missing.is(libc::ENOENT), "{missing}");
    assert!(missing.to_string().contains("shmget key 0x"), "{missing}");
    assert!(matches!(
        Segment::create(Key::PRIVATE, 0, &SegmentOptions::new()),
        Err(SysvError::Size { len: 0, .. })
    ));
    let id = seg.id();
    drop(seg);
    assert_gone(&[id]);
}

#[test]
fn a_removed_segment_stays_usable_until_the_last_detach() {
    let key = unique_key();
    let seg = Segment::create(key, 4096, &SegmentOptions::new().remove_on_drop(false)).unwrap();
    let other = Segment::open(key, Attach::ReadWrite).unwrap();
    seg.remove().unwrap();
    let stat = other.stat().unwrap();
    assert!(stat.removed() && stat.key.is_private(), "{stat:?}");
    assert!(Segment::open(key, Attach::ReadWrite)
        .unwrap_err()
        .is(libc::ENOENT));
    other.write(0, b"still here").unwrap();
    let mut buf = [0u8; 10];
    seg.read(0, &mut buf).unwrap();
    assert_eq!(&buf, b"still here");
    let id = seg.id();
    drop(seg);
    assert!(Segment::stat_id(id).is_ok(), "one attachment remains");
    drop(other);
    assert_gone(&[id]);
}

#[test]
fn an_ftok_key_finds_the_same_segment_in_another_process() {
    let path = std::env::temp_dir().join(format!("interlink-sysv-ftok-{}", std::process::id()));
    std::fs::write(&path, b"").unwrap();
    let key = Key::from_path(&path, b'S').unwrap();
    let seg = Segment::create(key, 4096, &SegmentOptions::new()).unwrap();
    let child = fork(|| {
        let Ok(key) = Key::from_path(&path, b'S') else {
            return 2;
        };
        match Segment::open(key, Attach::ReadWrite) {
            Ok(s) if s.write(0, b"ftok").is_ok() => 0,
            _ => 3,
        }
    })
    .unwrap();
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
    let mut buf = [0u8; 4];
    seg.read(0, &mut buf).unwrap();
    assert_eq!(&buf, b"ftok");
    let id = seg.id();
    drop(seg);
    std::fs::remove_file(&path).unwrap();
    assert_gone(&[id]);
}
