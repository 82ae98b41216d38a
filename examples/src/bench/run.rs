//! Timing a mechanism between two processes: ping-pong round trips and
//! one-way streaming, each side pinned to its own CPU where possible.

use std::io;
use std::time::{Duration, Instant};

use interlink_linux::process::{self, fork, Exit};

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

/// Runs `child_side` in a forked child pinned to CPU 1 and `parent_side`
/// here, pinned to CPU 0; fails if the child does not exit cleanly.
fn across_processes<R>(
    pair: Pair,
    child_side: impl FnOnce(&mut dyn super::Link) -> io::Result<()>,
    parent_side: impl FnOnce(&mut dyn super::Link) -> io::Result<R>,
) -> io::Result<R> {
    let Pair { mut parent, child } = pair;
    let cpus = online_cpus();
    let child_proc = fork(move || {
        watchdog(WATCHDOG_SECONDS);
        if cpus > 1 {
            let _ = process::pin_to_cpu(1);
        }
        let mut child = child;
        match child_side(child.as_mut()) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("ipc-bench: child side failed: {e}");
                1
            }
        }
    })?;
    // The parent's copy of the child's end was dropped with the closure.
    if cpus > 1 {
        let _ = process::pin_to_cpu(0);
    }
    watchdog(WATCHDOG_SECONDS);
    let result = parent_side(parent.as_mut());
    drop(parent);
    // A failed parent side leaves the child waiting for messages that will
    // never come: dropping the child kills and reaps it.
    let result = result?;
    let exit = child_proc.wait()?;
    watchdog(0);
    match exit {
        Exit::Code(0) => Ok(result),
        other => Err(io::Error::other(format!(
            "benchmark child failed: {other:?}"
        ))),
    }
}

/// `count` round trips of a `size`-byte message (after `count / 10`
/// warm-up trips), each timed on its own.
pub fn round_trips(mech: &dyn Mechanism, size: usize, count: usize) -> io::Result<Vec<Duration>> {
    let warm_up = count / 10;
    let total = warm_up + count;
    across_processes(
        mech.pair(size)?,
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
    )
}

/// Streams `count` messages of `size` bytes one way; the receiver answers
/// the last with one message. Returns the wall time from the first send to
/// that answer. The receiver first sends one message to say it is running
/// (pinned, mapped, faulted in), so the time holds no process start-up.
pub fn stream(mech: &dyn Mechanism, size: usize, count: usize) -> io::Result<Duration> {
    across_processes(
        mech.pair(size)?,
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
    )
}
