//! Timing a mechanism between two processes: ping-pong round trips and
//! one-way streaming, each side pinned to its own CPU when asked, with the
//! CPU time both processes spent.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use interlink_linux::process::{self, fork, Exit};
use interlink_linux::shm::Mapping;

use super::link::{Mechanism, Pair};

/// A measurement that takes longer than this kills the process (SIGALRM)
/// rather than hanging: a benchmark must end, even if a peer dies.
const WATCHDOG_SECONDS: u32 = 60;

/// Arms (or, with 0, disarms) the calling process's watchdog.
fn watchdog(seconds: u32) {
    // SAFETY: alarm only schedules SIGALRM for this process.
    unsafe { libc::alarm(seconds) };
}

/// CPUs online. Not `available_parallelism`, which shrinks to 1 once
/// this process has pinned itself to one CPU.
pub fn online_cpus() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    n.max(1) as usize
}

/// The CPUs the two processes are pinned to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cpus {
    /// The measuring (parent) process's CPU.
    pub parent: usize,
    /// The forked peer's CPU.
    pub child: usize,
}

impl Cpus {
    /// CPUs 0 and 1, or `None` (no pinning) on a one-CPU machine.
    pub fn first_two() -> Option<Self> {
        (online_cpus() > 1).then_some(Self {
            parent: 0,
            child: 1,
        })
    }
}

/// CPU time this process has used (user + system).
fn process_cpu_time() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec to fill; the clock id is a constant.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Where the child leaves the CPU time of its side: a word in a shared
/// anonymous mapping made before `fork`.
struct ChildCpu(Mapping);

impl ChildCpu {
    fn new() -> io::Result<Self> {
        Ok(Self(Mapping::anonymous(8).map_err(io::Error::other)?))
    }

    fn word(&self) -> &AtomicU64 {
        // SAFETY: the mapping is page-aligned, at least 8 bytes, lives as
        // long as `self`, and is only accessed atomically.
        unsafe { &*(self.0.as_ptr() as *const AtomicU64) }
    }
}

/// What one measurement returns, with the CPU time both processes spent
/// on their sides of it.
struct Measured<R> {
    result: R,
    cpu: Duration,
}

/// Runs `child_side` in a forked child and `parent_side` here, each pinned
/// to its CPU of `cpus` if given; fails if the child does not exit cleanly.
fn across_processes<R>(
    pair: Pair,
    cpus: Option<Cpus>,
    child_side: impl FnOnce(&mut dyn super::Link) -> io::Result<()>,
    parent_side: impl FnOnce(&mut dyn super::Link) -> io::Result<R>,
) -> io::Result<Measured<R>> {
    let Pair { mut parent, child } = pair;
    let child_cpu = ChildCpu::new()?;
    let child_proc = fork(|| {
        watchdog(WATCHDOG_SECONDS);
        if let Some(cpus) = cpus {
            let _ = process::pin_to_cpu(cpus.child);
        }
        let mut child = child;
        let start = process_cpu_time();
        let result = child.populate().and_then(|()| child_side(child.as_mut()));
        let spent = process_cpu_time().saturating_sub(start);
        child_cpu
            .word()
            .store(spent.as_nanos() as u64, Ordering::Relaxed);
        match result {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("ipc-bench: child side failed: {e}");
                1
            }
        }
    })?;
    // The parent's copy of the child's end was dropped with the closure.
    if let Some(cpus) = cpus {
        let _ = process::pin_to_cpu(cpus.parent);
    }
    watchdog(WATCHDOG_SECONDS);
    let parent_start = process_cpu_time();
    let result = parent
        .populate()
        .and_then(|()| parent_side(parent.as_mut()));
    let parent_cpu = process_cpu_time().saturating_sub(parent_start);
    drop(parent);
    // A failed parent side leaves the child waiting for messages that will
    // never come: dropping the child kills and reaps it.
    let result = result?;
    let exit = child_proc.wait()?;
    watchdog(0);
    // The child stored it before exiting; its exit ordered the store.
    let child_cpu = Duration::from_nanos(child_cpu.word().load(Ordering::Relaxed));
    match exit {
        Exit::Code(0) => Ok(Measured {
            result,
            cpu: parent_cpu + child_cpu,
        }),
        other => Err(io::Error::other(format!(
            "benchmark child failed: {other:?}"
        ))),
    }
}

/// Round trips timed one by one.
#[derive(Clone, Debug)]
pub struct Trips {
    /// Each measured round trip (warm-up trips excluded).
    pub samples: Vec<Duration>,
    /// CPU time both processes spent on their sides (set-up excluded,
    /// warm-up included): spinning costs about twice the wall time,
    /// parking far less.
    pub cpu: Duration,
    /// Messages those trips carried (two a trip, warm-up included).
    pub messages: u32,
}

/// `count` round trips of a `size`-byte message (after `count / 10`
/// warm-up trips), each timed on its own.
pub fn round_trips(
    mech: &dyn Mechanism,
    size: usize,
    count: usize,
    cpus: Option<Cpus>,
) -> io::Result<Trips> {
    let warm_up = count / 10;
    let total = warm_up + count;
    let measured = across_processes(
        mech.pair(size)?,
        cpus,
        move |link| {
            let mut buf = vec![0u8; size];
            for _ in 0..total {
                link.recv(&mut buf)?;
                link.send(&buf)?;
            }
            Ok(())
        },
        move |link| {
            let mut buf = vec![0u8; size];
            let mut samples = Vec::with_capacity(count);
            for i in 0..total {
                buf[0] = i as u8;
                let start = Instant::now();
                link.send(&buf)?;
                link.recv(&mut buf)?;
                if i >= warm_up {
                    samples.push(start.elapsed());
                }
            }
            Ok(samples)
        },
    )?;
    Ok(Trips {
        samples: measured.result,
        cpu: measured.cpu,
        messages: 2 * total as u32,
    })
}

/// Streams `count` messages of `size` bytes one way; the receiver answers
/// the last with one message. Returns the wall time from the first send to
/// that answer. The receiver first sends one message to say it is running
/// (pinned, mapped, faulted in), so the time holds no process start-up.
pub fn stream(
    mech: &dyn Mechanism,
    size: usize,
    count: usize,
    cpus: Option<Cpus>,
) -> io::Result<Duration> {
    let measured = across_processes(
        mech.pair(size)?,
        cpus,
        move |link| {
            let mut buf = vec![0u8; size];
            link.send(&buf)?;
            for _ in 0..count {
                link.recv(&mut buf)?;
            }
            link.send(&buf)
        },
        move |link| {
            let mut buf = vec![0xa5u8; size];
            link.recv(&mut buf)?;
            let start = Instant::now();
            for _ in 0..count {
                link.send(&buf)?;
            }
            link.recv(&mut buf)?;
            Ok(start.elapsed())
        },
    )?;
    Ok(measured.result)
}
