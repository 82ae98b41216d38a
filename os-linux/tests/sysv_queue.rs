//! System V message queues between real processes: every receive mode
//! (`msgtyp` rules), blocking, non-blocking and timed calls, a too-large
//! message and other typed errors, removal while waiting, a creator killed
//! with SIGKILL (gc removes its queue, never another program's), and
//! nothing left behind. Tests run in parallel with others: each tracks
//! only the ids it created.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use interlink_linux::inspect::{sysv_gc, sysv_list};
use interlink_linux::process::{fork, Exit};
use interlink_linux::shm::Mapping;
use interlink_linux::sysv::{
    Key, Queue, QueueOptions, Received, Select, SysvError, SysvKind, SysvLimit, POLL_MAX,
};

/// A key no other test (or test process) uses: the pid and a counter.
fn unique_key() -> Key {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed) & 0xff;
    Key::new(((std::process::id() & 0x3f_ffff) << 8 | n) as i32 | 0x2000_0000)
}

/// None of `ids` is still listed in `/proc/sysvipc/msg` (`ipcs -q`).
fn assert_gone(ids: &[i32]) {
    let text = std::fs::read_to_string("/proc/sysvipc/msg").unwrap();
    for line in text.lines().skip(1) {
        let id: i32 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert!(!ids.contains(&id), "queue id {id} was left behind");
    }
}

/// Lowers a queue's capacity in bytes (`IPC_SET`, allowed to its owner).
fn set_queue_bytes(id: i32, bytes: u64) {
    // SAFETY: msqid_ds is plain data; IPC_STAT fills it, IPC_SET reads it.
    unsafe {
        let mut ds: libc::msqid_ds = std::mem::zeroed();
        assert_eq!(libc::msgctl(id, libc::IPC_STAT, &mut ds), 0);
        ds.msg_qbytes = bytes as _;
        assert_eq!(libc::msgctl(id, libc::IPC_SET, &mut ds), 0);
    }
}

fn text(buf: &[u8], got: Received) -> (i64, String) {
    (
        got.mtype,
        String::from_utf8_lossy(&buf[..got.len]).into_owned(),
    )
}

#[test]
fn a_process_sends_typed_messages_and_every_receive_mode_selects() {
    let key = unique_key();
    let queue = Queue::create(key, &QueueOptions::new()).unwrap();
    let sender = fork(|| {
        let Ok(tx) = Queue::open(key) else { return 2 };
        for (t, m) in [(3, "a"), (1, "b"), (2, "c"), (3, "d"), (1, "e")] {
            if tx.send(t, m.as_bytes()).is_err() {
                return 3;
            }
        }
        0
    })
    .unwrap();
    let sender_pid = sender.pid();
    assert_eq!(sender.wait().unwrap(), Exit::Code(0));
    let stat = queue.stat().unwrap();
    assert_eq!((stat.messages, stat.bytes), (5, 5));
    assert_eq!(stat.last_sender, sender_pid);

    let mut buf = [0u8; 16];
    let mut take = |select| {
        let got = queue.try_recv(select, &mut buf).unwrap();
        text(&buf, got)
    };
    assert_eq!(take(Select::Type(3)), (3, "a".into()), "oldest of type 3");
    assert_eq!(take(Select::UpTo(2)), (1, "b".into()), "lowest type <= 2");
    assert_eq!(
        take(Select::Except(1)),
        (2, "c".into()),
        "oldest not of type 1"
    );
    assert_eq!(take(Select::Any), (3, "d".into()), "oldest");
    assert_eq!(take(Select::Any), (1, "e".into()));
    assert_eq!(queue.try_recv(Select::Any, &mut buf), Err(SysvError::Empty));
    assert_eq!(queue.stat().unwrap().last_receiver, std::process::id());
    let id = queue.id();
    drop(queue);
    assert_gone(&[id]);
}

#[test]
fn recv_timeout_times_out_and_a_late_message_wakes_it() {
    let queue = Queue::create(Key::PRIVATE, &QueueOptions::new()).unwrap();
    let mut buf = [0u8; 16];
    let start = Instant::now();
    let timeout = Duration::from_millis(50);
    assert_eq!(
        queue.recv_timeout(Select::Any, &mut buf, timeout),
        Err(SysvError::TimedOut)
    );
    assert!(start.elapsed() >= timeout);
    assert_eq!(
        queue.recv_timeout(Select::Any, &mut buf, Duration::ZERO),
        Err(SysvError::TimedOut)
    );

    // A message of another type does not end the wait, and stays.
    queue.send(4, b"other").unwrap();
    assert_eq!(
        queue.recv_timeout(Select::Type(9), &mut buf, Duration::from_millis(30)),
        Err(SysvError::TimedOut)
    );
    assert_eq!(queue.stat().unwrap().messages, 1);

    let id = queue.id();
    let late = fork(|| {
        std::thread::sleep(Duration::from_millis(100));
        let Ok(tx) = Queue::from_id(id) else { return 2 };
        i32::from(tx.send(9, b"late").is_err())
    })
    .unwrap();
    let start = Instant::now();
    let got = queue
        .recv_timeout(Select::Type(9), &mut buf, Duration::from_secs(20))
        .unwrap();
    assert_eq!(text(&buf, got), (9, "late".into()));
    assert!(start.elapsed() < Duration::from_secs(20));
    assert_eq!(late.wait().unwrap(), Exit::Code(0));
    let got = queue.recv(Select::Any, &mut buf).unwrap();
    assert_eq!(text(&buf, got), (4, "other".into()));
    drop(queue);
    assert_gone(&[id]);
    // The poll's pause is bounded: a late message is not missed by more.
    assert!(POLL_MAX <= Duration::from_millis(10));
}

#[test]
fn a_blocking_recv_waits_in_the_kernel_for_a_sender_process() {
    let queue = Queue::create(Key::PRIVATE, &QueueOptions::new()).unwrap();
    let id = queue.id();
    let sender = fork(|| {
        std::thread::sleep(Duration::from_millis(50));
        let Ok(tx) = Queue::from_id(id) else { return 2 };
        i32::from(tx.send(1, b"woken").is_err())
    })
    .unwrap();
    let mut buf = [0u8; 8];
    let got = queue.recv(Select::Any, &mut buf).unwrap();
    assert_eq!(text(&buf, got), (1, "woken".into()));
    assert_eq!(sender.wait().unwrap(), Exit::Code(0));
    drop(queue);
    assert_gone(&[id]);
}

#[test]
fn too_large_messages_short_buffers_and_bad_types_are_typed_errors() {
    let queue = Queue::create(Key::PRIVATE, &QueueOptions::new()).unwrap();
    let msgmax = SysvLimit::MsgMax.current().unwrap() as usize;
    let big = vec![7u8; msgmax + 1];
    let e = queue.send(1, &big).unwrap_err();
    assert_eq!(
        e,
        SysvError::Limit {
            limit: SysvLimit::MsgMax,
            requested: msgmax as u64 + 1,
            max: msgmax as u64
        }
    );
    assert!(e.to_string().contains("/proc/sys/kernel/msgmax"), "{e}");
    assert_eq!(queue.try_send(1, &big).unwrap_err(), e);

    // Over the queue's own capacity: the kernel would wait forever.
    set_queue_bytes(queue.id(), 100);
    let e = queue.send(1, &[0u8; 200]).unwrap_err();
    assert_eq!(
        e,
        SysvError::ExceedsQueue {
            id: queue.id(),
            len: 200,
            queue_bytes: 100
        }
    );
    assert!(e.to_string().contains("/proc/sys/kernel/msgmnb"), "{e}");

    queue.send(1, &[1u8; 50]).unwrap();
    let mut short = [0u8; 10];
    assert_eq!(
        queue.try_recv(Select::Any, &mut short),
        Err(SysvError::BufferTooSmall {
            id: queue.id(),
            len: 10
        })
    );
    assert_eq!(
        queue.stat().unwrap().messages,
        1,
        "the message stays queued"
    );
    let mut buf = [0u8; 64];
    assert_eq!(queue.try_recv(Select::Any, &mut buf).unwrap().len, 50);

    assert_eq!(queue.send(0, b"x"), Err(SysvError::BadType(0)));
    assert_eq!(queue.send(-3, b"x"), Err(SysvError::BadType(-3)));
    assert_eq!(
        queue.try_recv(Select::Type(0), &mut buf),
        Err(SysvError::BadType(0))
    );
    let id = queue.id();
    drop(queue);
    assert_gone(&[id]);
}

#[test]
fn a_full_queue_refuses_try_send_times_out_and_takes_a_send_once_drained() {
    let queue = Queue::create(Key::PRIVATE, &QueueOptions::new()).unwrap();
    set_queue_bytes(queue.id(), 1000);
    for _ in 0..10 {
        queue.try_send(1, &[0u8; 100]).unwrap();
    }
    assert_eq!(queue.try_send(1, &[0u8; 100]), Err(SysvError::Full));
    let start = Instant::now();
    assert_eq!(
        queue.send_timeout(1, &[0u8; 100], Duration::from_millis(30)),
        Err(SysvError::TimedOut)
    );
    assert!(start.elapsed() >= Duration::from_millis(30));
    let id = queue.id();
    let drainer = fork(|| {
        std::thread::sleep(Duration::from_millis(100));
        let Ok(rx) = Queue::from_id(id) else { return 2 };
        let mut buf = [0u8; 100];
        i32::from(rx.recv(Select::Any, &mut buf).is_err())
    })
    .unwrap();
    queue
        .send_timeout(2, &[0u8; 100], Duration::from_secs(20))
        .unwrap();
    assert_eq!(drainer.wait().unwrap(), Exit::Code(0));
    assert_eq!(queue.stat().unwrap().messages, 10);
    drop(queue);
    assert_gone(&[id]);
}

#[test]
fn a_waiter_learns_that_its_queue_was_removed() {
    let queue = Queue::create(Key::PRIVATE, &QueueOptions::new()).unwrap();
    let id = queue.id();
    let waiter = fork(|| {
        let Ok(rx) = Queue::from_id(id) else { return 2 };
        let mut buf = [0u8; 8];
        match rx.recv(Select::Any, &mut buf) {
            Err(SysvError::Removed { id: gone }) if gone == id => 0,
            _ => 3,
        }
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(100)); // usually asleep by now
    queue.remove().unwrap();
    assert_eq!(waiter.wait().unwrap(), Exit::Code(0));
    assert_gone(&[id]);
    let e = Queue::from_id(id).unwrap_err();
    assert!(
        e.to_string().contains(&format!("msgctl(IPC_STAT) id {id}")),
        "{e}"
    );
}

#[test]
fn exclusive_create_and_open_errors_name_call_key_and_errno() {
    let key = unique_key();
    let queue = Queue::create(key, &QueueOptions::new().mode(0o640)).unwrap();
    assert_eq!(queue.stat().unwrap().mode & 0o777, 0o640);
    let e = Queue::create(key, &QueueOptions::new()).unwrap_err();
    assert!(e.is(libc::EEXIST), "{e}");
    assert!(e.to_string().starts_with(&format!("msgget {key}: ")), "{e}");
    let shared = Queue::create(key, &QueueOptions::new().exclusive(false)).unwrap();
    assert!(!shared.is_creator() && shared.id() == queue.id());
    drop(shared);
    assert!(
        Queue::stat_id(queue.id()).is_ok(),
        "only the creator removes"
    );
    let missing = Queue::open(unique_key()).unwrap_err();
    assert!(missing.is(libc::ENOENT), "{missing}");

    let kept = Queue::create(unique_key(), &QueueOptions::new())
        .unwrap()
        .keep();
    let kept_id = kept.id();
    drop(kept);
    assert!(Queue::stat_id(kept_id).is_ok());
    Queue::remove_id(kept_id).unwrap();
    let id = queue.id();
    drop(queue);
    assert_gone(&[id, kept_id]);
}

/// Forks a creator that makes a private queue, sends itself a message,
/// reports the id, and waits to be killed; kills it and returns the id.
fn queue_of_a_killed_creator() -> i32 {
    let map = Mapping::anonymous(4096).unwrap();
    // SAFETY: the first 4 bytes of a fresh mapping, reached only atomically.
    let reported = unsafe { &*map.as_ptr().cast::<AtomicU32>() };
    let creator = fork(|| {
        let Ok(q) = Queue::create(Key::PRIVATE, &QueueOptions::new()) else {
            return 2;
        };
        if q.send(1, b"orphan").is_err() {
            return 3;
        }
        reported.store(q.id() as u32 | 0x8000_0000, Ordering::Release);
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
    creator.signal(libc::SIGKILL).unwrap();
    assert_eq!(creator.wait().unwrap(), Exit::Signal(libc::SIGKILL));
    id
}

#[test]
fn gc_removes_a_killed_creators_queue_but_not_one_a_live_process_used() {
    let id = queue_of_a_killed_creator();
    assert_eq!(Queue::stat_id(id).unwrap().messages, 1, "it survives");
    let o = sysv_list()
        .unwrap()
        .into_iter()
        .find(|o| o.id == id && o.kind == SysvKind::Queue)
        .unwrap();
    assert!(o.interlink && !o.creator.alive && o.is_stale(), "{o:?}");
    let collected = sysv_gc(|o| o.id == id && o.kind == SysvKind::Queue).unwrap();
    assert_eq!(collected.len(), 1);
    assert!(collected[0].1.is_ok(), "{:?}", collected[0].1);
    assert_gone(&[id]);

    // This process receives from the next one: its last receiver lives.
    let id = queue_of_a_killed_creator();
    let used = Queue::from_id(id).unwrap();
    let mut buf = [0u8; 16];
    used.try_recv(Select::Any, &mut buf).unwrap();
    let o = sysv_list()
        .unwrap()
        .into_iter()
        .find(|o| o.id == id && o.kind == SysvKind::Queue)
        .unwrap();
    assert!(o.interlink && !o.is_stale(), "{o:?}");
    assert!(sysv_gc(|o| o.id == id && o.kind == SysvKind::Queue)
        .unwrap()
        .is_empty());
    assert!(Queue::stat_id(id).is_ok());
    used.remove().unwrap();
    assert_gone(&[id]);
    // A queue made without interlink is never interlink's.
    // SAFETY: msgget has no memory-safety preconditions.
    let foreign = unsafe { libc::msgget(libc::IPC_PRIVATE, libc::IPC_CREAT | 0o600) };
    assert!(foreign >= 0);
    let o = sysv_list()
        .unwrap()
        .into_iter()
        .find(|o| o.id == foreign && o.kind == SysvKind::Queue)
        .unwrap();
    assert!(!o.interlink && !o.is_stale());
    assert!(sysv_gc(|o| o.id == foreign && o.kind == SysvKind::Queue)
        .unwrap()
        .is_empty());
    Queue::remove_id(foreign).unwrap();
    assert_gone(&[foreign]);
}
