//! Waking a parked receiver through the ways of waiting on many sources,
//! in one run: a ping-pong between two threads, the responder parked each
//! time until the ping arrives —
//! - `single_futex`: `Consumer::recv` parked on its ring's futex word (the
//!   floor for everything below);
//! - `wait_any_1`, `wait_any_16`: `Blocking::wait_any` over the ping ring
//!   alone, and over it and 15 idle rings (one `futex_waitv` sleep);
//! - `readiness_epoll`: the ping channel's readiness descriptor in an
//!   `epoll` set (helper thread, eventfd, `epoll_wait`);
//! - `pipe`: a pair of pipes, one byte each way.
//!
//! The pinger always parks on a plain futex for the pong, so rows differ
//! only in how the responder waits.
//!
//! ```text
//! cargo bench -p interlink-linux --bench wait_set
//! # quick check:
//! cargo bench -p interlink-linux --bench wait_set -- --warm-up-time 1 --measurement-time 2 --sample-size 10
//! ```

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use interlink_core::wait::wait_set::Source;
use interlink_core::{Blocking, RingConfig};
use interlink_linux::channel::{ChannelOptions, Receiver, Sender, SpscChannel, Waiting};
use interlink_linux::pipe::{pipe, IoMode};
use interlink_linux::shm::TempName;
use interlink_linux::Futex;

/// A channel whose ends park at once.
fn channel() -> (TempName, SpscChannel<u64>) {
    let name = TempName::new("il-bench-ws").unwrap();
    let options = ChannelOptions::new().waiting(Waiting::Park);
    let ch = SpscChannel::<u64>::create(&name, RingConfig::new(64), &options).unwrap();
    (name, ch)
}

/// How the responder waits for a ping before it takes it.
#[derive(Clone, Copy)]
enum Way {
    SingleFutex,
    WaitAny(usize),
    ReadinessEpoll,
}

/// `iters` round trips: the pinger sends, then parks for the pong; the
/// responder waits `way`, takes the ping and answers.
fn ping_pong(way: Way, iters: u64) -> Duration {
    let (_pn, ping) = channel();
    let (_qn, pong) = channel();
    let idle: Vec<_> = (1..match way {
        Way::WaitAny(n) => n,
        _ => 1,
    })
        .map(|_| channel())
        .collect();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let responder = s.spawn(|| {
            let mut rx: Receiver<'_, u64> = ping.receiver().unwrap();
            let mut tx: Sender<'_, u64> = pong.sender().unwrap();
            let idle_rx: Vec<_> = idle.iter().map(|(_, c)| c.receiver().unwrap()).collect();
            let readiness = ping.readiness(&rx).unwrap();
            let epoll = Epoll::watching(&readiness);
            let blocking = Blocking::parking(Futex);
            loop {
                let v = match way {
                    Way::SingleFutex => rx.recv().unwrap(),
                    Way::WaitAny(_) => loop {
                        if let Ok(v) = rx.try_recv() {
                            break v;
                        }
                        let mut sources: Vec<&dyn Source> = vec![&rx];
                        sources.extend(idle_rx.iter().map(|r| r as &dyn Source));
                        let _ = blocking.wait_any(&sources, None);
                    },
                    Way::ReadinessEpoll => loop {
                        if let Ok(v) = rx.try_recv() {
                            break v;
                        }
                        if !readiness.arm(&rx) {
                            epoll.wait();
                            readiness.clear();
                        }
                    },
                };
                if v == u64::MAX {
                    return;
                }
                tx.send(v).unwrap();
            }
        });
        let mut tx = ping.sender().unwrap();
        let mut rx = pong.receiver().unwrap();
        let start = Instant::now();
        for i in 0..iters {
            tx.send(i).unwrap();
            assert_eq!(rx.recv().unwrap(), i);
        }
        let took = start.elapsed();
        stop.store(true, Ordering::Relaxed);
        tx.send(u64::MAX).unwrap();
        responder.join().unwrap();
        took
    })
}

/// An epoll set watching one descriptor.
struct Epoll(OwnedFd);

impl Epoll {
    fn watching(fd: &impl AsRawFd) -> Self {
        // SAFETY: no pointer arguments.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        assert!(ep >= 0);
        // SAFETY: a fresh descriptor nothing else owns.
        let ep = unsafe { OwnedFd::from_raw_fd(ep) };
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: 0,
        };
        // SAFETY: both descriptors are open; `ev` is valid.
        let r = unsafe {
            libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, fd.as_raw_fd(), &mut ev)
        };
        assert_eq!(r, 0);
        Self(ep)
    }

    fn wait(&self) {
        let mut ev = [libc::epoll_event { events: 0, u64: 0 }; 1];
        // SAFETY: room for the one event asked for.
        unsafe { libc::epoll_wait(self.0.as_raw_fd(), ev.as_mut_ptr(), 1, -1) };
    }
}

/// `iters` round trips over two pipes.
fn pipes(iters: u64) -> Duration {
    let (mut ping_r, mut ping_w) = pipe(IoMode::Blocking).unwrap();
    let (mut pong_r, mut pong_w) = pipe(IoMode::Blocking).unwrap();
    std::thread::scope(|s| {
        s.spawn(move || {
            let mut b = [0u8; 1];
            while ping_r.read_exact(&mut b).is_ok() && b[0] != 0 {
                pong_w.write_all(&b).unwrap();
            }
        });
        let mut b = [1u8; 1];
        let start = Instant::now();
        for _ in 0..iters {
            ping_w.write_all(&[1]).unwrap();
            pong_r.read_exact(&mut b).unwrap();
        }
        let took = start.elapsed();
        ping_w.write_all(&[0]).unwrap();
        took
    })
}

fn wake_ups(c: &mut Criterion) {
    let mut g = c.benchmark_group("parked_round_trip");
    g.bench_function("single_futex", |b| {
        b.iter_custom(|n| ping_pong(Way::SingleFutex, n))
    });
    g.bench_function("wait_any_1", |b| {
        b.iter_custom(|n| ping_pong(Way::WaitAny(1), n))
    });
    g.bench_function("wait_any_16", |b| {
        b.iter_custom(|n| ping_pong(Way::WaitAny(16), n))
    });
    g.bench_function("readiness_epoll", |b| {
        b.iter_custom(|n| ping_pong(Way::ReadinessEpoll, n))
    });
    g.bench_function("pipe", |b| b.iter_custom(pipes));
    g.finish();
}

criterion_group!(benches, wake_ups);
criterion_main!(benches);
