//! A daemon-style consumer: drains a named ring, re-reads its config file on
//! SIGHUP and shuts down cleanly on SIGTERM (or SIGINT), reading signals
//! from a `signalfd` instead of running handlers.
//!
//! ```text
//! echo "label = first" > /tmp/daemon.conf
//! cargo run -p interlink-examples --bin ring-daemon -- serve /demo-ring /tmp/daemon.conf &
//! cargo run -p interlink-examples --bin ring-daemon -- feed /demo-ring 100000
//! echo "label = second" > /tmp/daemon.conf; kill -HUP %1    # prints "reloaded"
//! kill -TERM %1                                             # drains, prints totals, exits 0
//! ```
//!
//! `serve` creates the channel (an SPSC ring of `u64` in the POSIX shm
//! object `/NAME`) and sums what arrives; `feed` opens it by name and sends
//! `1..=COUNT`, streaming them in batches of 4096 (memory stays constant
//! whatever COUNT is). Why a `signalfd`: a handler runs in the middle of whatever
//! the loop was doing, and may do almost nothing safely; a blocked signal
//! instead waits in the kernel until the loop reads it, at a point of the
//! loop's choosing. The loop cannot sleep on the ring's futex and the
//! descriptor at once, so it favours the data: it parks on the ring for at
//! most 100 ms at a time and reads the descriptor in between — a send
//! wakes it at once, a signal is handled within 100 ms.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use interlink_core::{RecvError, RingConfig};
use interlink_examples::cli;
use interlink_linux::channel::{ChannelError, ChannelOptions, SpscChannel};
use interlink_linux::signal::{SignalFd, SignalInfo, SignalSet};

/// The longest the loop sleeps on the ring before it looks for signals.
const TICK: Duration = Duration::from_millis(100);

const PROGRAM: &str = "ring-daemon";

/// A daemon draining a named ring (serve), and a feeder for it (feed).
#[derive(Parser)]
#[command(name = PROGRAM)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the ring /NAME and sum what arrives; SIGHUP re-reads CONFIG,
    /// SIGTERM or SIGINT drains the ring, prints the totals and exits 0.
    Serve {
        /// The ring's shm name (`/NAME`).
        name: String,
        /// A config file; its first line is printed, and re-read on SIGHUP.
        config: String,
    },
    /// Open the ring /NAME (waiting up to 5 s for the daemon to create
    /// it) and send 1..=COUNT into it.
    Feed {
        /// The ring's shm name (`/NAME`).
        name: String,
        /// How many values to send (at least 1).
        #[arg(value_parser = cli::positive)]
        count: u64,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::run(PROGRAM, || match &args.command {
        Command::Serve { name, config } => serve(name, config),
        Command::Feed { name, count } => feed(name, *count),
    })
}

fn serve(name: &str, config_path: &str) -> cli::Result {
    // Block the signals first, before any thread exists: threads inherit
    // the mask, and a thread that did not block them would let their
    // default action (for all three: the process dies) run. From now on
    // they wait in the kernel for the fd.
    let signals = SignalSet::of(&[libc::SIGTERM, libc::SIGINT, libc::SIGHUP])?;
    signals.block()?;
    let signal_fd = SignalFd::new(&signals)?;

    let mut config = read_config(config_path)?;
    println!("config: {config}");
    // The creator's handle removes the name when it drops.
    let channel = SpscChannel::<u64>::create(name, RingConfig::new(4096), &ChannelOptions::new())?;
    let mut rx = channel.receiver()?;
    println!("ready: draining {name} (pid {})", std::process::id());

    let (mut items, mut sum) = (0u64, 0u64);
    let mut batch = [0u64; 256];
    // Set once SIGTERM/SIGINT has come: then take what is left and stop.
    let mut stopping = None;
    loop {
        // Idle, this parks on the ring's futex word: no CPU, and the
        // feeder's next send wakes it at once. Stopping, it only looks.
        let wait = if stopping.is_some() {
            Duration::ZERO
        } else {
            TICK
        };
        match rx.recv_slice(&mut batch, Some(wait)) {
            Ok(n) => {
                items += n as u64;
                sum = batch[..n].iter().fold(sum, |s, &v| s.wrapping_add(v));
            }
            // Nothing more, or the feeder has exited (feeders come and go).
            Err(RecvError::TimedOut | RecvError::PeerDied { .. }) => {
                if let Some(signal) = stopping {
                    let SignalInfo { signal, pid, .. } = signal;
                    println!("stopped by signal {signal} from pid {pid}: {items} items, sum {sum}");
                    return Ok(()); // the channel drops: its name is removed
                }
            }
            Err(e) => return Err(e.into()),
        }
        if stopping.is_some() {
            continue;
        }
        // One `read`: a signal waiting in the kernel, or none.
        match signal_fd.try_read()? {
            None => {}
            Some(info) if info.signal == libc::SIGHUP => {
                // Keep the old config if the new one cannot be read.
                match read_config(config_path) {
                    Ok(new) => config = new,
                    Err(e) => eprintln!("reload failed, keeping the old config: {e}"),
                }
                println!("reloaded: {config}");
            }
            Some(info) => stopping = Some(info),
        }
    }
}

/// The config file's first line, trimmed.
fn read_config(path: &str) -> cli::Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    Ok(text.lines().next().unwrap_or("").trim().to_owned())
}

/// Values sent per batch: the feeder streams `1..=COUNT` through this
/// buffer instead of building all of them first (2×10⁸ values would be
/// 1.6 GB).
const BATCH: u64 = 4096;

/// The longest a batch may wait for room before the feeder gives up.
const PATIENCE: Duration = Duration::from_secs(10);

fn feed(name: &str, count: u64) -> cli::Result {
    let options = ChannelOptions::new();
    // Look once; if the daemon has not published the ring yet, say what we
    // wait for, then wait (up to `open_timeout`).
    let channel = match SpscChannel::<u64>::open(name, &options.open_timeout(Duration::ZERO)) {
        Ok(channel) => channel,
        Err(ChannelError::Timeout { .. }) => {
            cli::waiting(
                PROGRAM,
                &format!("`ring-daemon serve {name}` to create {name}"),
                Some(options.open_timeout),
            );
            SpscChannel::<u64>::open(name, &options)?
        }
        Err(e) => return Err(e.into()),
    };
    // Takes the producer role over from an earlier feeder that has exited.
    let mut tx = channel.sender()?;
    let mut batch = [0u64; BATCH as usize];
    let mut next = 1u64;
    while next <= count {
        let n = (count - next + 1).min(BATCH) as usize;
        for (i, slot) in batch[..n].iter_mut().enumerate() {
            *slot = next + i as u64;
        }
        tx.send_slice(&batch[..n], Some(PATIENCE))
            .map_err(|(sent, e)| {
                format!(
                    "sent {} of {count} values to {name}, then: {e}",
                    next - 1 + sent as u64
                )
            })?;
        next += n as u64;
    }
    println!("fed {count} items");
    Ok(())
}
