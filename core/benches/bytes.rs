//! Byte ring: messages/s and GB/s for 64 B, 1 KiB and 64 KiB payloads
//! between two threads on two cores, in one run with
//! - the floor: the same bytes copied by one core into a buffer and out by
//!   the other, with nothing but a counter each way (no headers, no ring
//!   logic);
//! - a pipe and a Unix stream socket carrying the same frames, encoded and
//!   decoded with [`interlink_core::codec`];
//! - "odd" variants with the user's buffers at odd offsets, which put some
//!   copies in glibc's slow `rep movsb` window (`(dst − src) mod 4096` in
//!   1..31) on machines that have it: the floor shows whether this one does.
//!
//! ```text
//! cargo bench -p interlink-core --bench bytes
//! cargo bench -p interlink-core --bench bytes -- --warm-up-time 1 --measurement-time 1 --sample-size 10
//! ```

use std::fs::File;
use std::hint::{black_box, spin_loop};
use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

mod common;

use common::{two_threads, Memory};
use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use interlink_core::blocking::Blocking;
use interlink_core::bytes::{ByteRing, Consumer, Producer};
use interlink_core::codec::{encode, Decoder};
use interlink_core::{Holder, Spin};
use interlink_core::{Region, RingConfig};

/// Ring capacity: 1 MiB, room for 15 of the largest messages.
const CAPACITY: u32 = 1 << 20;
/// Bytes moved per measured transfer (so every size takes similar time).
const BYTES_PER_RUN: usize = 16 << 20;
/// Largest payload measured; the codec's buffer.
const MAX: usize = 64 << 10;

/// The user's source and destination buffers for `len`-byte messages: at
/// page offsets 0 and 0, or (odd) 1 and 3.
struct UserBuffers {
    src: Memory,
    dst: Memory,
    src_off: usize,
    dst_off: usize,
}

impl UserBuffers {
    fn new(len: usize, odd: bool) -> Self {
        let mut src = Memory::new(len + 4096);
        let src_off = usize::from(odd);
        for (i, b) in src.bytes()[src_off..src_off + len].iter_mut().enumerate() {
            *b = i as u8;
        }
        Self {
            src,
            dst: Memory::new(len + 4096),
            src_off,
            dst_off: if odd { 3 } else { 0 },
        }
    }
}

fn count(len: usize) -> usize {
    (BYTES_PER_RUN / len.max(64)).max(256)
}

/// How the interlink consumer takes messages.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Take {
    /// `try_recv` into the user's buffer, one message a call.
    Recv,
    /// `drain` 32 at a time, each copied out with `RecordRef::read`.
    Drain,
    /// The blocking `send`/`recv` with a spinning strategy (a `SeqCst`
    /// fence per call to check for a parked peer).
    Blocking,
}

/// What one interlink run measured: its time, and how often the producer
/// found the ring full and the consumer found it empty (failed attempts,
/// each followed by a `spin_loop`; zero for `Take::Blocking`, which waits
/// by itself).
struct RingRun {
    time: Duration,
    fulls: u64,
    empties: u64,
}

/// Both ends of a fresh ring of [`CAPACITY`] in `mem`.
fn ends(mem: &mut Memory) -> (Producer<'_>, Consumer<'_>) {
    let ring = ByteRing::init(Region::new(mem.bytes()), RingConfig::new(CAPACITY)).unwrap();
    (
        ring.producer(Holder::fixed::<1>()).unwrap(),
        ring.consumer(Holder::fixed::<2>()).unwrap(),
    )
}

/// interlink: `send` from the user's buffer, `recv` into the other's.
fn ring_send_recv(len: usize, odd: bool, take: Take) -> RingRun {
    let n = count(len);
    let mut mem = Memory::new(ByteRing::bytes_needed(CAPACITY).unwrap());
    let (mut tx, mut rx) = ends(&mut mem);
    let mut user = UserBuffers::new(len, odd);
    let (src_off, dst_off) = (user.src_off, user.dst_off);
    let src = &user.src.bytes()[src_off..src_off + len];
    let dst = &mut user.dst.bytes()[dst_off..dst_off + len];
    let (fulls, empties) = (AtomicU64::new(0), AtomicU64::new(0));
    let spinning = Blocking::spinning(Spin::default());
    let time = two_threads(
        || {
            let mut full = 0;
            for i in 0..n {
                if take == Take::Blocking {
                    tx.send(i as u32, src, &spinning, None).unwrap();
                    continue;
                }
                while tx.try_send(i as u32, src).is_err() {
                    full += 1;
                    spin_loop();
                }
            }
            fulls.store(full, Ordering::Relaxed);
        },
        || {
            let (mut got, mut empty) = (0, 0);
            while got < n {
                match take {
                    // Batch drain: one release store per 32 messages.
                    Take::Drain => {
                        let k = rx
                            .drain(32, |r| {
                                r.read(0, dst);
                            })
                            .unwrap();
                        if k == 0 {
                            empty += 1;
                            spin_loop();
                        }
                        got += k;
                    }
                    Take::Recv => {
                        if rx.try_recv(dst).is_ok() {
                            got += 1;
                        } else {
                            empty += 1;
                            spin_loop();
                        }
                    }
                    Take::Blocking => {
                        rx.recv(dst, &spinning, None).unwrap();
                        got += 1;
                    }
                }
            }
            empties.store(empty, Ordering::Relaxed);
            black_box(&dst);
        },
    );
    RingRun {
        time,
        fulls: fulls.into_inner(),
        empties: empties.into_inner(),
    }
}

/// The CPU time this thread has used.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The instructions alone: one thread sends a message and receives it
/// (`try_send` then `try_recv`, the lines stay in its cache), timed by
/// its CPU time, which a busy machine's other work does not inflate much.
/// Returns ns per message for both calls together.
fn one_thread_cost(len: usize) -> f64 {
    let n = count(len);
    let mut mem = Memory::new(ByteRing::bytes_needed(CAPACITY).unwrap());
    let (mut tx, mut rx) = ends(&mut mem);
    let mut user = UserBuffers::new(len, false);
    let src = user.src.bytes()[..len].to_vec();
    let dst = &mut user.dst.bytes()[..len];
    let start = thread_cpu();
    for i in 0..n {
        tx.try_send(i as u32, black_box(&src)).unwrap();
        rx.try_recv(black_box(&mut *dst)).unwrap();
    }
    (thread_cpu() - start).as_secs_f64() * 1e9 / n as f64
}

/// The floor: the producer copies each message into the next `len` bytes of
/// a buffer as large as the ring and bumps a counter (Release); the
/// consumer waits for it (Acquire), copies the bytes out and bumps its own.
fn floor(len: usize, odd: bool) -> Duration {
    let n = count(len);
    let slots = (CAPACITY as usize / len).max(1);
    let mut mem = Memory::new(slots * len);
    let shared = mem.bytes().as_mut_ptr() as usize;
    let (written, read) = (AtomicU64::new(0), AtomicU64::new(0));
    let mut user = UserBuffers::new(len, odd);
    let (src_off, dst_off) = (user.src_off, user.dst_off);
    let src = &user.src.bytes()[src_off..src_off + len];
    let dst = &mut user.dst.bytes()[dst_off..dst_off + len];
    let (written, read) = (&written, &read);
    two_threads(
        || {
            for i in 0..n as u64 {
                while i - read.load(Ordering::Acquire) >= slots as u64 {
                    spin_loop();
                }
                let at = (shared + (i as usize % slots) * len) as *mut u8;
                // SAFETY: slot i is free (the consumer is past it) and inside
                // the buffer; src is distinct memory.
                unsafe { at.copy_from_nonoverlapping(src.as_ptr(), len) };
                written.store(i + 1, Ordering::Release);
            }
        },
        || {
            for i in 0..n as u64 {
                while written.load(Ordering::Acquire) <= i {
                    spin_loop();
                }
                let at = (shared + (i as usize % slots) * len) as *const u8;
                // SAFETY: slot i is written and not reused until we bump
                // `read`; dst is distinct memory.
                unsafe { dst.as_mut_ptr().copy_from_nonoverlapping(at, len) };
                read.store(i + 1, Ordering::Release);
            }
            black_box(&dst);
        },
    )
}

/// A stream (pipe or Unix socket): the producer encodes each frame into a
/// buffer and writes it; the consumer reads what comes and decodes frames,
/// copying each payload into the user's buffer.
fn stream(len: usize, mut tx: impl Write + Send, mut rx: impl Read + Send) -> Duration {
    let n = count(len);
    let mut user = UserBuffers::new(len, false);
    let src = &user.src.bytes()[..len];
    let dst = &mut user.dst.bytes()[..len];
    two_threads(
        || {
            let mut frame = vec![0u8; 16 + len];
            for i in 0..n {
                encode(i as u32, src, &mut frame).unwrap();
                tx.write_all(&frame).unwrap();
            }
        },
        || {
            let mut decoder = Box::new(Decoder::<MAX>::new());
            let mut buf = vec![0u8; 256 << 10];
            let mut got = 0;
            while got < n {
                let k = rx.read(&mut buf).unwrap();
                assert!(k > 0, "stream closed early");
                let mut input = &buf[..k];
                while let Some(frame) = decoder.decode(&mut input).unwrap() {
                    dst[..frame.payload.len()].copy_from_slice(frame.payload);
                    got += 1;
                }
            }
            black_box(&dst);
        },
    )
}

fn pipe() -> (File, File) {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid out-array of two ints.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // Ask for a 1 MiB pipe (the machine's pipe-max-size); keep the default
    // if refused.
    // SAFETY: fcntl on a pipe we own.
    unsafe { libc::fcntl(fds[1], libc::F_SETPIPE_SZ, 1 << 20) };
    // SAFETY: both fds are fresh and owned by nobody else.
    unsafe { (File::from_raw_fd(fds[1]), File::from_raw_fd(fds[0])) }
}

fn bench(c: &mut Criterion) {
    for len in [64usize, 1024, 64 << 10] {
        let mut g = c.benchmark_group(format!("bytes_{len}B"));
        g.throughput(Throughput::ElementsAndBytes {
            elements: count(len) as u64,
            bytes: (count(len) * len) as u64,
        });
        g.sample_size(10);
        g.measurement_time(Duration::from_secs(3));
        let mut run = |name: &str, f: &dyn Fn() -> Duration| {
            g.bench_function(BenchmarkId::new(name, len), |b| common::each_run(b, f));
        };
        run("floor", &|| floor(len, false));
        run("floor_odd", &|| floor(len, true));
        run("interlink_send_recv", &|| {
            ring_send_recv(len, false, Take::Recv).time
        });
        run("interlink_send_drain", &|| {
            ring_send_recv(len, false, Take::Drain).time
        });
        run("interlink_odd", &|| {
            ring_send_recv(len, true, Take::Recv).time
        });
        run("pipe", &|| {
            let (tx, rx) = pipe();
            stream(len, tx, rx)
        });
        run("unix_stream", &|| {
            let (tx, rx) = UnixStream::pair().unwrap();
            stream(len, tx, rx)
        });
        g.finish();
    }
}

/// 64-byte messages in interleaved rounds: one run of each contender in
/// turn, many times over, then the quartiles of each one's time per
/// message and of the ratios to the floor taken *within* a round. On a
/// VM whose speed changes every few seconds (and on a machine others
/// share), only such ratios compare; criterion's groups below measure
/// one function after the other.
fn interleaved(rounds: usize) {
    const LEN: usize = 64;
    let per = count(LEN) as f64;
    let names = [
        "floor",
        "send + recv",
        "send + drain",
        "blocking send + recv",
    ];
    let mut ns = vec![Vec::new(); names.len()];
    let mut waits = vec![(0.0, 0.0); names.len()];
    let mut one = Vec::new();
    for _ in 0..rounds {
        one.push(one_thread_cost(LEN));
        ns[0].push(floor(LEN, false).as_secs_f64() * 1e9 / per);
        for (k, take) in [(1, Take::Recv), (2, Take::Drain), (3, Take::Blocking)] {
            let r = ring_send_recv(LEN, false, take);
            ns[k].push(r.time.as_secs_f64() * 1e9 / per);
            waits[k].0 += r.fulls as f64 / per / rounds as f64;
            waits[k].1 += r.empties as f64 / per / rounds as f64;
        }
    }
    println!(
        "bytes_64B interleaved ({rounds} rounds of {} messages; quartiles 25 % / 50 % / 75 %)",
        count(LEN)
    );
    println!(
        "  {:<22} {:>24}  {:>24}  failed tries per message",
        "", "ns per message", "ratio to the floor"
    );
    for (k, name) in names.iter().enumerate() {
        let [a, b, c] = quartiles(ns[k].clone());
        let ratio = ns[k].iter().zip(&ns[0]).map(|(x, f)| x / f).collect();
        let [r1, r2, r3] = quartiles(ratio);
        let tries = if k == 0 || k == 3 {
            String::new()
        } else {
            format!("full {:.2}, empty {:.2}", waits[k].0, waits[k].1)
        };
        println!("  {name:<22} {a:>7.2} {b:>7.2} {c:>7.2}  {r1:>7.2} {r2:>7.2} {r3:>7.2}  {tries}");
    }
    let [a, b, c] = quartiles(one);
    println!(
        "  one thread, try_send + try_recv (thread CPU time): {a:.2} {b:.2} {c:.2} ns per message"
    );
}

fn quartiles(mut v: Vec<f64>) -> [f64; 3] {
    v.sort_by(f64::total_cmp);
    [v[v.len() / 4], v[v.len() / 2], v[3 * v.len() / 4]]
}

criterion_group!(benches, bench);

fn main() {
    // The interleaved comparison runs unless a filter names something
    // else (a filter containing "interleaved" or "bytes_64B" keeps it);
    // `cargo test --benches` (no `--bench`) runs one round as a smoke test.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = !args.iter().any(|a| a == "--bench");
    let filter = args.iter().find(|a| !a.starts_with('-'));
    let wanted = filter.is_none_or(|f| {
        f.contains("interleaved") || "bytes_64B".contains(f.as_str()) || f.starts_with("bytes_64B")
    });
    if wanted {
        interleaved(if quick { 1 } else { 20 });
    }
    if filter.is_none_or(|f| !f.contains("interleaved")) {
        benches();
        Criterion::default().configure_from_args().final_summary();
    }
}
