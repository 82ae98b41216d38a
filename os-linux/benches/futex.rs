//! Futex-word synchronisation: the uncontended mutex against
//! `std::sync::Mutex` and a process-shared `pthread_mutex_t` in a shared
//! mapping; and the cross-process wake-up of a *sleeping* consumer
//! (ping-pong round trips between two processes, each side parked in the
//! kernel until woken) through interlink's blocking SPSC rings on the
//! shared futex, against a pair of pipes and a pair of eventfds in the
//! same run.
//!
//! The wake-ups are measured in three placements, because where the
//! scheduler runs the woken process decides most of the cost:
//! - `unpinned`: the scheduler's choice. A pipe's wake-up is a *sync*
//!   wake-up (the writer is about to sleep), which lets the scheduler run
//!   the reader on the writer's CPU; a futex wake has no such hint.
//! - `two_cpus`: parent on CPU 0, child on CPU 1: every wake-up crosses
//!   CPUs (an inter-processor interrupt; on a VM, a halted vCPU woken).
//! - `one_cpu`: both on CPU 0: every wake-up is a context switch.
//!
//! ```text
//! cargo bench -p interlink-linux --bench futex
//! # quick check:
//! cargo bench -p interlink-linux --bench futex -- --warm-up-time 1 --measurement-time 1 --sample-size 10
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use interlink_core::blocking::Blocking;
use interlink_core::mutex::Mutex;
use interlink_core::spsc::SpscRing;
use interlink_core::RingConfig;
use interlink_linux::futex::{Futex, Robust};
use interlink_linux::process::{self, fork, Child};
use interlink_linux::shm::Mapping;

fn uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("mutex_uncontended_lock_unlock");

    let map = Mapping::anonymous(Mutex::<u64>::bytes_needed()).unwrap();
    let m = Mutex::init(map.region(), 0u64).unwrap();
    let (wait, me) = (Futex, Robust::new());
    g.bench_function("interlink", |b| {
        b.iter(|| black_box(m.lock(&wait, &me, None).unwrap().get()))
    });

    let std_mutex = std::sync::Mutex::new(0u64);
    g.bench_function("std", |b| b.iter(|| black_box(*std_mutex.lock().unwrap())));

    let shared = Mapping::anonymous(4096).unwrap();
    let pm = shared.as_ptr().cast::<libc::pthread_mutex_t>();
    // SAFETY: the mapping is page-aligned and large enough for a
    // pthread_mutex_t; it is initialised here once, before any use.
    unsafe {
        let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
        libc::pthread_mutexattr_init(&mut attr);
        libc::pthread_mutexattr_setpshared(&mut attr, libc::PTHREAD_PROCESS_SHARED);
        assert_eq!(libc::pthread_mutex_init(pm, &attr), 0);
        libc::pthread_mutexattr_destroy(&mut attr);
    }
    let value = shared.as_ptr().wrapping_add(2048).cast::<u64>();
    g.bench_function("pthread_process_shared", |b| {
        b.iter(|| {
            // SAFETY: an initialised mutex in a live mapping; the value is
            // read only while it is held.
            unsafe {
                libc::pthread_mutex_lock(pm);
                let v = black_box(value.read());
                libc::pthread_mutex_unlock(pm);
                v
            }
        })
    });
    g.finish();
}

/// Where the two processes of a wake-up benchmark run.
#[derive(Clone, Copy)]
enum Placement {
    Unpinned,
    TwoCpus,
    OneCpu,
}

impl Placement {
    const ALL: [Placement; 3] = [Placement::Unpinned, Placement::TwoCpus, Placement::OneCpu];

    fn name(self) -> &'static str {
        match self {
            Placement::Unpinned => "unpinned",
            Placement::TwoCpus => "two_cpus",
            Placement::OneCpu => "one_cpu",
        }
    }

    /// The CPUs of the parent and the child, if pinned.
    fn cpus(self) -> Option<(usize, usize)> {
        match self {
            Placement::Unpinned => None,
            Placement::TwoCpus => Some((0, 1)),
            Placement::OneCpu => Some((0, 0)),
        }
    }

    /// Pins the calling process's side (`child`: the forked peer's).
    fn pin(self, child: bool) {
        if let Some((parent_cpu, child_cpu)) = self.cpus() {
            let cpu = if child { child_cpu } else { parent_cpu };
            process::pin_to_cpu(cpu).unwrap();
        }
    }
}

/// Lets the calling thread run on every CPU again.
fn unpin() {
    // SAFETY: a cpu_set_t with every bit set allows all CPUs; the kernel
    // keeps only those that exist.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for cpu in 0..libc::CPU_SETSIZE as usize {
            libc::CPU_SET(cpu, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// A peer process that answers every ping with a pong until told to stop.
struct Peer {
    child: Option<Child>,
    ping: Box<dyn FnMut(u64)>,
    pong: Box<dyn FnMut() -> u64>,
}

impl Peer {
    /// Times `iters` round trips.
    fn round_trips(&mut self, iters: u64) -> Duration {
        let start = Instant::now();
        for i in 0..iters {
            (self.ping)(i);
            black_box((self.pong)());
        }
        start.elapsed()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        (self.ping)(u64::MAX);
        if let Some(child) = self.child.take() {
            let _ = child.wait();
        }
    }
}

const STOP: u64 = u64::MAX;

/// Two 1-slot blocking rings on the shared futex. Both sides park at once
/// (no spinning), so every message wakes a sleeper.
fn futex_peer(map: &'static Mapping, placement: Placement) -> Peer {
    let len = SpscRing::<u64>::bytes_needed(1).unwrap();
    let mut region = map.region();
    let there = SpscRing::<u64>::init(region.take(len, 128).unwrap(), RingConfig::new(1)).unwrap();
    let back = SpscRing::<u64>::init(region.take(len, 128).unwrap(), RingConfig::new(1)).unwrap();
    let child = fork(move || {
        placement.pin(true);
        let b = Blocking::parking(Futex);
        let mut rx = there.consumer(process::holder()).unwrap();
        let mut tx = back.producer(process::holder()).unwrap();
        loop {
            let v = rx.recv(&b, None).unwrap();
            if v == STOP {
                return 0;
            }
            tx.send(v, &b, None).unwrap();
        }
    })
    .unwrap();
    let b = Blocking::parking(Futex);
    let mut tx = there.producer(process::holder()).unwrap();
    let mut rx = back.consumer(process::holder()).unwrap();
    Peer {
        child: Some(child),
        ping: Box::new(move |v| tx.send(v, &b, None).unwrap()),
        pong: Box::new(move || rx.recv(&b, None).unwrap()),
    }
}

fn write_u64(fd: i32, v: u64) {
    // SAFETY: writes 8 bytes from a live local.
    let n = unsafe { libc::write(fd, (&v as *const u64).cast(), 8) };
    assert_eq!(n, 8);
}

fn read_u64(fd: i32) -> u64 {
    let mut v = 0u64;
    // SAFETY: reads at most 8 bytes into a live local.
    let n = unsafe { libc::read(fd, (&mut v as *mut u64).cast(), 8) };
    assert_eq!(n, 8);
    v
}

/// A peer over a `(read_end, write_end)` pair per direction: two pipes,
/// or two eventfds (`eventfd`: the same fd at both ends).
fn fd_peer(there: (i32, i32), back: (i32, i32), eventfd: bool, placement: Placement) -> Peer {
    let child = fork(move || {
        placement.pin(true);
        loop {
            let v = read_u64(there.0);
            if v == STOP || (eventfd && v > 1) {
                return 0;
            }
            write_u64(back.1, 1);
        }
    })
    .unwrap();
    Peer {
        child: Some(child),
        // An eventfd adds up what is written: 1 is a ping, 2 means stop.
        ping: Box::new(move |v| {
            let message = match (eventfd, v) {
                (false, v) => v,
                (true, STOP) => 2,
                (true, _) => 1,
            };
            write_u64(there.1, message)
        }),
        pong: Box::new(move || read_u64(back.0)),
    }
}

fn pipe_pair() -> (i32, i32) {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid out-array of two ints.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    (fds[0], fds[1])
}

fn eventfd() -> (i32, i32) {
    // SAFETY: no pointers involved.
    let fd = unsafe { libc::eventfd(0, 0) };
    assert!(fd >= 0);
    (fd, fd)
}

fn wakeup(c: &mut Criterion) {
    for placement in Placement::ALL {
        let mut g = c.benchmark_group(format!(
            "wakeup_round_trip_between_processes/{}",
            placement.name()
        ));
        placement.pin(false);
        let map: &'static Mapping = Box::leak(Box::new(Mapping::anonymous(4096).unwrap()));
        let mut peer = futex_peer(map, placement);
        g.bench_function("interlink_futex", |b| {
            b.iter_custom(|n| peer.round_trips(n))
        });
        drop(peer);
        let mut peer = fd_peer(pipe_pair(), pipe_pair(), false, placement);
        g.bench_function("pipe", |b| b.iter_custom(|n| peer.round_trips(n)));
        drop(peer);
        let mut peer = fd_peer(eventfd(), eventfd(), true, placement);
        g.bench_function("eventfd", |b| b.iter_custom(|n| peer.round_trips(n)));
        drop(peer);
        g.finish();
        unpin();
    }
}

criterion_group!(benches, uncontended, wakeup);
criterion_main!(benches);
