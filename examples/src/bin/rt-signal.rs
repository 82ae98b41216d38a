//! A real-time signal carrying a value, next to a standard signal that
//! carries none and merges.
//!
//! ```text
//! cargo run -p interlink-examples --bin rt-signal
//! ```
//!
//! A forked child sends its parent `SIGRTMIN+1` five times with
//! `sigqueue`, each carrying an integer, then `SIGUSR1` three times. The
//! parent has both blocked, so they stay pending until it reads them from a
//! `signalfd`. Real-time signals queue: each send is delivered once, in
//! order, with its value. A standard signal is one pending bit: three sends
//! while blocked are delivered once, with the first send's value.

use std::process::ExitCode;

use clap::Parser;
use interlink_examples::cli;
use interlink_linux::process::{self, fork};
use interlink_linux::signal::{self, SignalFd, SignalSet};

const PROGRAM: &str = "rt-signal";

/// Shows a real-time signal queueing with values next to a standard signal
/// that merges (no arguments); exits 1 if delivery differs from that.
#[derive(Parser)]
#[command(name = PROGRAM)]
struct Args {}

fn main() -> ExitCode {
    let Args {} = Args::parse();
    cli::run(PROGRAM, run)
}

fn run() -> cli::Result {
    let rt = signal::rt_signal(1)?;
    // Blocked before the fork (and before anything could send them).
    let set = SignalSet::of(&[rt, libc::SIGUSR1])?;
    set.block()?;
    let signal_fd = SignalFd::new(&set)?;

    let parent = process::current_pid();
    let values = [10, 20, 30, 40, 50];
    let child = fork(|| {
        for value in values {
            if signal::sigqueue(parent, rt, value).is_err() {
                return 2;
            }
        }
        for value in 1..=3 {
            if signal::sigqueue(parent, libc::SIGUSR1, value).is_err() {
                return 3;
            }
        }
        0
    })?;
    let child_pid = child.pid();
    let exit = child.wait()?;
    if !exit.success() {
        return Err(format!("the sending child {}", cli::exit_text(exit)).into());
    }

    // `sigqueue` had queued each signal before it returned, so everything
    // the child sent is pending now: read until nothing is left. (Pending
    // signals come out lowest number first: SIGUSR1 before the RT ones.)
    let mut usr1 = 0;
    let mut rt_values = Vec::new();
    while let Some(info) = signal_fd.try_read()? {
        let from = if info.pid == child_pid {
            "the child"
        } else {
            "someone else"
        };
        if info.signal == rt {
            println!("SIGRTMIN+1 value {} from {from}", info.value);
            rt_values.push(info.value);
        } else {
            usr1 += 1;
            println!("SIGUSR1 value {} from {from}", info.value);
        }
    }
    println!("SIGUSR1: sent 3 times, delivered {usr1} (standard signals merge)");
    if rt_values != values || usr1 != 1 {
        return Err(format!(
            "expected SIGRTMIN+1 values {values:?} and one SIGUSR1; got {rt_values:?} and {usr1}"
        )
        .into());
    }
    Ok(())
}
