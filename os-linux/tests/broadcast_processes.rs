//! Broadcast and latest-value channels between real processes: forked
//! children that open the channel by name, as unrelated programs would.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{unique_name, Words};

use interlink_core::broadcast::Start;
use interlink_core::{RecvError, RingConfig};
use interlink_linux::channel::{BroadcastChannel, ChannelOptions, LatestChannel};
use interlink_linux::process::{fork, Exit};

/// The payload of record `seq`: its length and every byte derive from
/// `seq`, so a torn record (bytes of two) fails the check.
fn payload(seq: u64, out: &mut [u8]) -> usize {
    let len = 8 + (seq.wrapping_mul(0x9e37_79b9) >> 9) as usize % 57;
    for (i, b) in out[..len].iter_mut().enumerate() {
        *b = (seq.wrapping_mul(131) as usize + i * 7) as u8;
    }
    len
}

/// Exit codes of a reader child.
const TORN: i32 = 3;
const OUT_OF_ORDER: i32 = 4;
const COUNT: i32 = 5;
const ERROR: i32 = 6;
const NOT_READ_ONLY: i32 = 7;

/// A receive: the next record's tag and length.
type Next<'a> = &'a mut dyn FnMut(&mut [u8]) -> Result<(u32, usize), RecvError>;

/// Reads until the record `last`, checking every record; returns the exit
/// code. `slow`: sleep now and then, to be lapped.
fn read_all(next: Next<'_>, counts: &mut dyn FnMut() -> (u64, u64), last: u64, slow: bool) -> i32 {
    let mut buf = [0u8; 128];
    let mut want = [0u8; 128];
    let mut prev = None::<u64>;
    let mut n = 0u64;
    loop {
        match next(&mut buf) {
            Ok((tag, len)) => {
                let seq = tag as u64;
                let wlen = payload(seq, &mut want);
                if len != wlen || buf[..len] != want[..len] {
                    return TORN;
                }
                if prev.is_some_and(|p| seq <= p) {
                    return OUT_OF_ORDER;
                }
                prev = Some(seq);
                if seq == last {
                    break;
                }
            }
            Err(RecvError::Lapped { .. }) => {}
            Err(_) => return ERROR,
        }
        n += 1;
        if slow && n.is_multiple_of(64) {
            std::thread::sleep(Duration::from_micros(300));
        }
    }
    let (received, missed) = counts();
    if received + missed != last + 1 {
        eprintln!("received {received} + missed {missed} != {}", last + 1);
        return COUNT;
    }
    0
}

/// Whether this process maps `name` read-only and shared (`r--s`) (it may
/// also have the parent's writable mapping, inherited through `fork`).
fn mapped_read_only(name: &str) -> bool {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    maps.lines()
        .filter(|l| l.contains(&name[1..]))
        .any(|l| l.split_whitespace().nth(1) == Some("r--s"))
}

/// Spawns a reader child for `name`: read-write or read-only open, fast
/// or slow; `ready` word `i` is set once it has joined. `kill_after`: it
/// SIGKILLs itself after that many records.
fn spawn_reader(
    name: &str,
    i: usize,
    read_only: bool,
    slow: bool,
    ready: &Words,
    last: u64,
    kill_after: Option<u64>,
) -> interlink_linux::process::Child {
    let name = name.to_owned();
    fork(move || {
        let options = ChannelOptions::new();
        let timeout = Duration::from_secs(20);
        let killer = |n: u64| {
            if kill_after.is_some_and(|k| n >= k) {
                // SAFETY: raising SIGKILL on ourselves; nothing runs after.
                unsafe { libc::raise(libc::SIGKILL) };
            }
        };
        if read_only {
            let ch = match BroadcastChannel::open_read_only(&name, &options) {
                Ok(ch) => ch,
                Err(e) => {
                    eprintln!("read-only open: {e}");
                    return ERROR;
                }
            };
            if !mapped_read_only(&name) {
                return NOT_READ_ONLY;
            }
            let Ok(mut r) = ch.reader(Start::Oldest) else {
                return ERROR;
            };
            ready.get(i).store(1, Ordering::Release);
            let mut n = 0;
            let r = std::cell::RefCell::new(&mut r);
            read_all(
                &mut |buf| {
                    n += 1;
                    killer(n);
                    r.borrow_mut().recv_timeout(buf, timeout)
                },
                &mut || (r.borrow().received(), r.borrow().missed()),
                last,
                slow,
            )
        } else {
            let ch = match BroadcastChannel::open(&name, &options) {
                Ok(ch) => ch,
                Err(e) => {
                    eprintln!("open: {e}");
                    return ERROR;
                }
            };
            let Ok(mut r) = ch.reader(Start::Oldest) else {
                return ERROR;
            };
            ready.get(i).store(1, Ordering::Release);
            let mut n = 0;
            let r = std::cell::RefCell::new(&mut r);
            read_all(
                &mut |buf| {
                    n += 1;
                    killer(n);
                    r.borrow_mut().recv_timeout(buf, timeout)
                },
                &mut || (r.borrow().received(), r.borrow().missed()),
                last,
                slow,
            )
        }
    })
    .unwrap()
}

fn wait_ready(ready: &Words, n: usize) {
    let start = Instant::now();
    while (0..n).any(|i| ready.get(i).load(Ordering::Acquire) == 0) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "readers never joined"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// One writer, eight reader processes (four map the object read-write,
/// four read-only; half of each are slow and get lapped): every reader
/// gets intact records in order, and `received + missed` equals the
/// records sent.
#[test]
fn one_writer_eight_readers_count_every_record() {
    const SENT: u64 = 200_000;
    let name = unique_name("bc8");
    let ch =
        BroadcastChannel::create(&name, RingConfig::new(1 << 14), &ChannelOptions::new()).unwrap();
    let ready = Words::new(8);
    let readers: Vec<_> = (0..8)
        .map(|i| spawn_reader(&name, i, i >= 4, i % 2 == 1, &ready, SENT - 1, None))
        .collect();
    wait_ready(&ready, 8);
    let mut w = ch.writer().unwrap();
    let mut buf = [0u8; 128];
    for seq in 0..SENT {
        let len = payload(seq, &mut buf);
        w.send(seq as u32, &buf[..len]).unwrap();
    }
    for (i, r) in readers.into_iter().enumerate() {
        assert_eq!(r.wait().unwrap(), Exit::Code(0), "reader {i}");
    }
}

/// A reader SIGKILLed mid-stream changes nothing for the writer (which
/// never waits for readers) or for the other readers.
#[test]
fn a_reader_killed_mid_stream_leaves_the_others_running() {
    const SENT: u64 = 100_000;
    let name = unique_name("bckill");
    let ch =
        BroadcastChannel::create(&name, RingConfig::new(1 << 12), &ChannelOptions::new()).unwrap();
    let ready = Words::new(3);
    let victim = spawn_reader(&name, 0, false, false, &ready, SENT - 1, Some(1000));
    let others: Vec<_> = (1..3)
        .map(|i| spawn_reader(&name, i, i == 2, false, &ready, SENT - 1, None))
        .collect();
    wait_ready(&ready, 3);
    let mut w = ch.writer().unwrap();
    let mut buf = [0u8; 128];
    for seq in 0..SENT {
        let len = payload(seq, &mut buf);
        w.send(seq as u32, &buf[..len]).unwrap();
    }
    assert_eq!(victim.wait().unwrap(), Exit::Signal(libc::SIGKILL));
    for (i, r) in others.into_iter().enumerate() {
        assert_eq!(r.wait().unwrap(), Exit::Code(0), "reader {}", i + 1);
    }
    // The writer is unaffected: it still writes and a new reader reads.
    let mut r = ch.reader(Start::Next).unwrap();
    w.send(7, b"after").unwrap();
    assert_eq!(r.try_recv(&mut buf), Ok((7, 5)));
}

/// A writer process that dies: a blocked reader gets what was sent, then
/// `PeerDied`.
#[test]
fn a_dead_writer_is_noticed_by_a_blocked_reader() {
    let name = unique_name("bcdead");
    let ch =
        BroadcastChannel::create(&name, RingConfig::new(1 << 12), &ChannelOptions::new()).unwrap();
    let mut r = ch.reader(Start::Next).unwrap();
    let name2 = name.clone();
    let writer = fork(move || {
        let Ok(ch) = BroadcastChannel::open(&name2, &ChannelOptions::new()) else {
            return ERROR;
        };
        let Ok(mut w) = ch.writer() else {
            return ERROR;
        };
        if w.send(1, b"last words").is_err() {
            return ERROR;
        }
        // SAFETY: raising SIGKILL on ourselves; nothing runs after.
        unsafe { libc::raise(libc::SIGKILL) };
        0
    })
    .unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(
        r.recv_timeout(&mut buf, Duration::from_secs(20)),
        Ok((1, 10))
    );
    assert_eq!(writer.wait().unwrap(), Exit::Signal(libc::SIGKILL));
    assert!(matches!(
        r.recv_timeout(&mut buf, Duration::from_secs(20)),
        Err(RecvError::PeerDied { .. })
    ));
    // A new writer takes the dead one's role over and continues.
    let mut w = ch.writer().unwrap();
    assert_eq!(w.next_seq(), 1);
    w.send(2, b"again").unwrap();
    assert_eq!(r.try_recv(&mut buf), Ok((2, 5)));
}

/// Latest values of eight words, all equal in every write, read by eight
/// processes while one writes: never torn, versions never go back, and
/// every reader sees the final value — also after a ninth reader is
/// SIGKILLed mid-stream (readers write nothing shared: nobody waits for
/// it).
#[test]
fn latest_values_read_by_several_processes_are_never_torn() {
    const WRITES: u64 = 100_000;
    const CELLS: u32 = 4;
    const READERS: usize = 8;
    let name = unique_name("latest");
    let ch =
        LatestChannel::<[u64; 8]>::create(&name, RingConfig::new(CELLS), &ChannelOptions::new())
            .unwrap();
    let ready = Words::new(READERS + 1);
    let value = |cell: u32, version: u64| [version * 16 + cell as u64; 8];
    // The victim: reads until it is killed.
    let victim = {
        let (name, ready) = (name.clone(), &ready);
        fork(move || {
            let Ok(ch) = LatestChannel::<[u64; 8]>::open(&name, &ChannelOptions::new()) else {
                return ERROR;
            };
            let Ok(r) = ch.reader() else {
                return ERROR;
            };
            ready.get(READERS).store(1, Ordering::Release);
            loop {
                for cell in 0..CELLS {
                    let _ = std::hint::black_box(r.try_recv(cell));
                }
            }
        })
        .unwrap()
    };
    let readers: Vec<_> = (0..READERS)
        .map(|i| {
            let name = name.clone();
            let ready = &ready;
            fork(move || {
                let Ok(ch) = LatestChannel::<[u64; 8]>::open(&name, &ChannelOptions::new()) else {
                    return ERROR;
                };
                let Ok(r) = ch.reader() else {
                    return ERROR;
                };
                ready.get(i).store(1, Ordering::Release);
                let mut last = [0u64; CELLS as usize];
                let start = Instant::now();
                while last.iter().any(|&v| v < WRITES) {
                    if start.elapsed() > Duration::from_secs(60) {
                        return COUNT;
                    }
                    for cell in 0..CELLS {
                        let since = last[cell as usize];
                        let got = if cell == 0 && i == 0 {
                            r.recv_timeout(cell, since, Duration::from_secs(20))
                        } else {
                            r.try_recv(cell)
                        };
                        match got {
                            Ok((v, ver)) => {
                                if v != value(cell, ver) {
                                    return TORN;
                                }
                                if ver < since {
                                    return OUT_OF_ORDER;
                                }
                                last[cell as usize] = ver;
                            }
                            Err(RecvError::Empty | RecvError::Stalled { .. }) => {}
                            Err(_) => return ERROR,
                        }
                    }
                }
                0
            })
            .unwrap()
        })
        .collect();
    wait_ready(&ready, READERS + 1);
    let mut w = ch.writer().unwrap();
    for version in 1..=WRITES {
        if version == WRITES / 2 {
            victim.signal(libc::SIGKILL).unwrap();
        }
        for cell in 0..CELLS {
            assert_eq!(w.send(cell, value(cell, version)), Ok(version));
        }
    }
    assert_eq!(victim.wait().unwrap(), Exit::Signal(libc::SIGKILL));
    for (i, r) in readers.into_iter().enumerate() {
        assert_eq!(r.wait().unwrap(), Exit::Code(0), "reader {i}");
    }
}

/// The inspector reads both kinds without their element types: the writer
/// is their one role (readers are not recorded), alive while it lives.
#[test]
fn the_inspector_sees_the_writer() {
    use interlink_linux::inspect::{probe, State};
    let name = unique_name("bcinspect");
    let ch =
        BroadcastChannel::create(&name, RingConfig::new(1 << 12), &ChannelOptions::new()).unwrap();
    let lname = unique_name("latestinspect");
    let lch = LatestChannel::<[u32; 5]>::create(&lname, RingConfig::new(3), &ChannelOptions::new())
        .unwrap();
    let _w = ch.writer().unwrap();
    let _lw = lch.writer().unwrap();
    for n in [&name, &lname] {
        let object = probe(n).unwrap();
        let State::Valid(summary) = &object.state else {
            panic!("{n}: {}", object.state);
        };
        assert_eq!(summary.roles.len(), 1, "{n}");
        assert_eq!(summary.roles[0].role, "writer");
        assert_eq!(summary.roles[0].holder.pid, std::process::id());
        assert!(summary.roles[0].holder.alive);
        assert!(summary.problems.is_empty(), "{:?}", summary.problems);
        assert!(!object.is_stale());
    }
}
