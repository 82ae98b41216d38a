//! Hand-over between two processes, for 64 B, 4 KiB, 64 KiB, 1 MiB and
//! 4 MiB payloads, in one run (issue 20's numbers). The parent hands a
//! payload to a forked child, the child hands one of the same size back:
//! one iteration is a round trip, **two hand-overs**. Both sides spin
//! (with a yield now and then), so the numbers are the mechanisms', not
//! the scheduler's wake-ups.
//!
//! - `handover/pool`: loan a block of the core pool (in a shared
//!   mapping), hand its 12-byte handle off over an SPSC ring of handles,
//!   accept it on the other side, release it. The payload is not
//!   touched: the cost should not depend on the size.
//! - `handover/bytes_copy`: the byte ring (8 MiB per direction) moving
//!   the payload with `try_send` / `try_recv` (copied in, copied out).
//! - `handover/bytes_in_place`: the byte ring with `reserve` / `commit`
//!   and `peek` / `release` (in place; payload not touched).
//! - `handover/memfd`: a new memfd of the payload's size per message,
//!   sealed, its descriptor sent over a Unix socket, the receiver checks
//!   the seals, maps it read-only and unmaps it (payload not touched).
//! - `handover/unix_socket`: the payload written to and read from a Unix
//!   stream socket (copied through the kernel).
//!
//! End to end, 1 MiB and 4 MiB:
//! - `end_to_end/pool`: as `handover/pool`, with the payload written once
//!   by its sender (`fill`) and read once by its receiver (a sum of its
//!   words);
//! - `end_to_end/one_process`: the same writes and reads of the same
//!   bytes in one process, with no hand-over: the memory-bandwidth floor.
//!
//! ```text
//! cargo bench -p interlink-linux --bench pool_handover
//! cargo bench -p interlink-linux --bench pool_handover -- --quick   # a smoke run
//! ```
//!
//! Numbers: see `docs/benchmarks.md`.

use std::hint::{black_box, spin_loop};
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU32, Ordering};

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion};
use interlink_core::bytes::ByteRing;
use interlink_core::pool::{Handle, Pool, PoolConfig, Recipient};
use interlink_core::spsc::SpscRing;
use interlink_core::{Holder, RingConfig};
use interlink_linux::memfd::{Memfd, Seals};
use interlink_linux::process::fork;
use interlink_linux::shm::{Mapping, ReadOnlyMapping};
use interlink_linux::socket::{recv_with_fds, send_with_fds};

const SIZES: [usize; 5] = [64, 4 << 10, 64 << 10, 1 << 20, 4 << 20];
const E2E_SIZES: [usize; 2] = [1 << 20, 4 << 20];
/// Blocks per pool (and slots per handle ring).
const BLOCKS: u32 = 4;
/// Bytes per byte ring: room for one 4 MiB message.
const RING_BYTES: u32 = 8 << 20;
const PARENT: Holder = Holder::fixed::<1>();
const CHILD: Holder = Holder::fixed::<2>();
const FROZEN: Seals = Seals(Seals::WRITE.0 | Seals::SIZE.0 | Seals::SEAL.0);

/// Spins, yielding now and then (two processes on a busy machine).
struct Backoff(u32);

impl Backoff {
    fn new() -> Self {
        Self(0)
    }
    fn snooze(&mut self) {
        self.0 += 1;
        if self.0.is_multiple_of(64) {
            std::thread::yield_now();
        } else {
            spin_loop();
        }
    }
}

/// A word in a shared mapping the parent sets to stop the child.
struct Stop(Mapping);

impl Stop {
    fn new() -> Self {
        Self(Mapping::anonymous(4096).expect("mmap"))
    }
    fn word(&self) -> &AtomicU32 {
        // SAFETY: a page-aligned, zeroed shared mapping of 4096 bytes,
        // accessed only atomically, borrowed with `self`.
        unsafe { &*self.0.as_ptr().cast::<AtomicU32>() }
    }
    fn stopped(&self) -> bool {
        self.word().load(Ordering::Relaxed) != 0
    }
}

/// Writes every byte of `block` once.
fn write_once(block: &mut [u8], v: u8) {
    block.fill(v);
}

/// Reads every byte of `block` once (a sum of its 8-byte words).
fn read_once(block: &[u8]) -> u64 {
    let (head, words, tail) = {
        // SAFETY: any bytes are valid u64s; align_to keeps the bounds.
        unsafe { block.align_to::<u64>() }
    };
    let mut sum = head.iter().chain(tail).map(|&b| b as u64).sum::<u64>();
    for w in words {
        sum = sum.wrapping_add(*w);
    }
    sum
}

/// Forks a child that runs `serve` until it returns false, measures
/// `round` as `id` in `group`, then stops the child: sets the stop word
/// (for children that spin) and runs `on_stop` (for children blocked in a
/// socket: a shutdown, which the child sees as the end of the stream even
/// though it inherited the parent's descriptor too). `serve` and `round`
/// are built before the fork from memory both processes share.
fn ping_pong(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: BenchmarkId,
    stop: &Stop,
    mut serve: impl FnMut() -> bool,
    mut round: impl FnMut(),
    on_stop: impl FnOnce(),
) {
    stop.word().store(0, Ordering::Relaxed);
    let child = fork(move || {
        while serve() {}
        0
    })
    .expect("fork");
    group.bench_function(id, |b| b.iter(&mut round));
    stop.word().store(1, Ordering::Relaxed);
    on_stop();
    drop(round);
    assert!(child.wait().expect("wait").success());
}

/// The pool's hand-over, with the payload untouched or (`touch`) written
/// once and read once on each side.
fn pool(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, size: usize, touch: bool) {
    let pool_map = Mapping::anonymous(Pool::bytes_needed(BLOCKS, size as u32).unwrap()).unwrap();
    let pool = Pool::init(pool_map.region(), PoolConfig::new(BLOCKS, size as u32)).unwrap();
    let ring_len = SpscRing::<Handle>::bytes_needed(BLOCKS).unwrap();
    let (down_map, up_map) = (
        Mapping::anonymous(ring_len).unwrap(),
        Mapping::anonymous(ring_len).unwrap(),
    );
    let down = SpscRing::<Handle>::init(down_map.region(), RingConfig::new(BLOCKS)).unwrap();
    let up = SpscRing::<Handle>::init(up_map.region(), RingConfig::new(BLOCKS)).unwrap();
    let stop = Stop::new();
    let hand =
        |from: Holder, to: Holder, v: u8, tx: &mut interlink_core::spsc::Producer<'_, Handle>| {
            let mut backoff = Backoff::new();
            let mut loan = loop {
                match pool.try_loan(from) {
                    Ok(loan) => break loan,
                    Err(_) => backoff.snooze(),
                }
            };
            if touch {
                write_once(loan.as_mut_slice(), v);
            }
            let h = loan.hand_off(size as u32, Recipient::Holder(to)).unwrap();
            while tx.try_send(h).is_err() {
                backoff.snooze();
            }
        };
    let take = |me: Holder, rx: &mut interlink_core::spsc::Consumer<'_, Handle>, stop: &Stop| {
        let mut backoff = Backoff::new();
        let h = loop {
            match rx.try_recv() {
                Ok(h) => break h,
                Err(_) if stop.stopped() => return false,
                Err(_) => backoff.snooze(),
            }
        };
        let sample = pool.accept(&h, me).unwrap();
        if touch {
            black_box(read_once(sample.as_slice()));
        }
        true
    };
    let (mut ctx, mut crx) = (up.producer(CHILD).unwrap(), down.consumer(CHILD).unwrap());
    let (mut ptx, mut prx) = (down.producer(PARENT).unwrap(), up.consumer(PARENT).unwrap());
    let stop_ref = &stop;
    ping_pong(
        group,
        BenchmarkId::new(name, size),
        &stop,
        move || {
            if !take(CHILD, &mut crx, stop_ref) {
                return false;
            }
            hand(CHILD, PARENT, 2, &mut ctx);
            true
        },
        move || {
            hand(PARENT, CHILD, 1, &mut ptx);
            take(PARENT, &mut prx, stop_ref);
        },
        || {},
    );
}

/// The byte ring, copying (`try_send` / `try_recv`) or in place
/// (`reserve` / `peek`).
fn bytes(group: &mut BenchmarkGroup<'_, WallTime>, size: usize, in_place: bool) {
    let len = ByteRing::bytes_needed(RING_BYTES).unwrap();
    let (down_map, up_map) = (
        Mapping::anonymous(len).unwrap(),
        Mapping::anonymous(len).unwrap(),
    );
    let down = ByteRing::init(down_map.region(), RingConfig::new(RING_BYTES)).unwrap();
    let up = ByteRing::init(up_map.region(), RingConfig::new(RING_BYTES)).unwrap();
    let stop = Stop::new();
    let (mut ctx, mut crx) = (up.producer(CHILD).unwrap(), down.consumer(CHILD).unwrap());
    let (mut ptx, mut prx) = (down.producer(PARENT).unwrap(), up.consumer(PARENT).unwrap());
    let payload = vec![7u8; size];
    let (mut cbuf, mut pbuf) = (vec![0u8; size], vec![0u8; size]);
    let send = move |tx: &mut interlink_core::bytes::Producer<'_>, payload: &[u8]| {
        let mut backoff = Backoff::new();
        loop {
            if in_place {
                if let Ok(r) = tx.reserve(size) {
                    r.commit(0, size);
                    return;
                }
            } else if tx.try_send(0, payload).is_ok() {
                return;
            }
            backoff.snooze();
        }
    };
    let recv = move |rx: &mut interlink_core::bytes::Consumer<'_>, buf: &mut [u8], stop: &Stop| {
        let mut backoff = Backoff::new();
        loop {
            if in_place {
                if let Ok(record) = rx.peek() {
                    assert_eq!(black_box(record.len()), size);
                    record.release();
                    return true;
                }
            } else if let Ok((_, n)) = rx.try_recv(buf) {
                assert_eq!(n, size);
                return true;
            }
            if stop.stopped() {
                return false;
            }
            backoff.snooze();
        }
    };
    let stop_ref = &stop;
    let child_payload = payload.clone();
    let name = if in_place {
        "bytes_in_place"
    } else {
        "bytes_copy"
    };
    ping_pong(
        group,
        BenchmarkId::new(name, size),
        &stop,
        move || {
            if !recv(&mut crx, &mut cbuf, stop_ref) {
                return false;
            }
            send(&mut ctx, &child_payload);
            true
        },
        move || {
            send(&mut ptx, &payload);
            recv(&mut prx, &mut pbuf, stop_ref);
        },
        || {},
    );
}

/// A new sealed memfd per message, its descriptor over a Unix socket.
fn memfd(group: &mut BenchmarkGroup<'_, WallTime>, size: usize) {
    let (a, b) = UnixStream::pair().unwrap();
    let end = a.try_clone().unwrap();
    let stop = Stop::new();
    let send = move |s: &UnixStream| {
        let fd = Memfd::create("handover", size).unwrap();
        fd.add_seals(FROZEN).unwrap();
        send_with_fds(s.as_fd(), b"m", &[fd.as_fd()]).unwrap();
    };
    let recv = move |s: &UnixStream| -> bool {
        let mut byte = [0u8; 1];
        match recv_with_fds(s.as_fd(), &mut byte, 1) {
            Ok((1, mut fds)) if !fds.is_empty() => {
                let fd = Memfd::from_fd(fds.remove(0));
                assert!(fd.seals().unwrap().contains(FROZEN));
                let map = ReadOnlyMapping::from_fd(fd.as_fd(), size).unwrap();
                black_box(map.len());
                true
            }
            _ => false, // the parent closed its end
        }
    };
    ping_pong(
        group,
        BenchmarkId::new("memfd", size),
        &stop,
        move || {
            if !recv(&b) {
                return false;
            }
            send(&b);
            true
        },
        move || {
            send(&a);
            recv(&a);
        },
        move || drop(end.shutdown(std::net::Shutdown::Both)),
    );
}

/// The payload through a Unix stream socket, both ways.
fn unix_socket(group: &mut BenchmarkGroup<'_, WallTime>, size: usize) {
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let end = a.try_clone().unwrap();
    let stop = Stop::new();
    let payload = vec![7u8; size];
    let (mut cbuf, mut pbuf) = (vec![0u8; size], vec![0u8; size]);
    let child_payload = payload.clone();
    ping_pong(
        group,
        BenchmarkId::new("unix_socket", size),
        &stop,
        move || {
            if b.read_exact(&mut cbuf).is_err() {
                return false; // the parent closed its end
            }
            b.write_all(&child_payload).is_ok()
        },
        move || {
            a.write_all(&payload).unwrap();
            a.read_exact(&mut pbuf).unwrap();
        },
        move || drop(end.shutdown(std::net::Shutdown::Both)),
    );
}

fn handover(c: &mut Criterion) {
    let mut group = c.benchmark_group("handover");
    for size in SIZES {
        pool(&mut group, "pool", size, false);
        bytes(&mut group, size, false);
        bytes(&mut group, size, true);
        memfd(&mut group, size);
        unix_socket(&mut group, size);
    }
    group.finish();

    let mut group = c.benchmark_group("end_to_end");
    for size in E2E_SIZES {
        pool(&mut group, "pool", size, true);
        // Two writes and two reads of `size` bytes, as a round trip of
        // `end_to_end/pool` does, in one process.
        let (mut x, mut y) = (vec![0u8; size], vec![0u8; size]);
        group.bench_function(BenchmarkId::new("one_process", size), |b| {
            b.iter(|| {
                write_once(&mut x, 1);
                black_box(read_once(&x));
                write_once(&mut y, 2);
                black_box(read_once(&y));
            })
        });
    }
    group.finish();
}

criterion_group!(benches, handover);
criterion_main!(benches);
