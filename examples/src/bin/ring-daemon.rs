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
//! `1..=COUNT`. Why a `signalfd`: a handler runs in the middle of whatever
//! the loop was doing, and may do almost nothing safely; a blocked signal
//! instead waits in the kernel until the loop reads it, at a point of the
//! loop's choosing. The same descriptor is the idle sleep: when the ring is
//! empty the loop polls it for 10 ms, so a signal wakes it at once.

use std::time::Duration;

use interlink_core::RingConfig;
use interlink_linux::channel::{ChannelOptions, SpscChannel};
use interlink_linux::signal::{SignalFd, SignalSet};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [cmd, name, config] if cmd == "serve" => serve(name, config),
        [cmd, name, count] if cmd == "feed" => feed(name, count.parse()?),
        _ => Err("usage: ring-daemon serve /NAME CONFIG | ring-daemon feed /NAME COUNT".into()),
    }
}

fn serve(name: &str, config_path: &str) -> Result<(), Box<dyn std::error::Error>> {
    // Block the signals first, before any thread exists (threads inherit
    // the mask; an unblocking thread would take the default action, which
    // for all three is to die). From now on they queue up for the fd.
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
    loop {
        let n = rx.consumer().pop_into(&mut batch)?;
        items += n as u64;
        sum = batch[..n].iter().fold(sum, |s, &v| s.wrapping_add(v));
        // Busy: just look for a signal (one read). Idle: sleep on the fd.
        let wait = if n == 0 {
            Duration::from_millis(10)
        } else {
            Duration::ZERO
        };
        let Some(signal) = signal_fd.read_timeout(Some(wait))? else {
            continue;
        };
        if signal.signal == libc::SIGHUP {
            // Keep the old config if the new one cannot be read.
            match read_config(config_path) {
                Ok(new) => config = new,
                Err(e) => eprintln!("reload failed, keeping the old config: {e}"),
            }
            println!("reloaded: {config}");
            continue;
        }
        // SIGTERM or SIGINT: take what is still in the ring, then stop.
        loop {
            let n = rx.consumer().pop_into(&mut batch)?;
            if n == 0 {
                break;
            }
            items += n as u64;
            sum = batch[..n].iter().fold(sum, |s, &v| s.wrapping_add(v));
        }
        println!(
            "stopped by signal {} from pid {}: {items} items, sum {sum}",
            signal.signal, signal.pid
        );
        return Ok(());
    }
}

/// The config file's first line, trimmed.
fn read_config(path: &str) -> Result<String, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    Ok(text.lines().next().unwrap_or("").trim().to_owned())
}

fn feed(name: &str, count: u64) -> Result<(), Box<dyn std::error::Error>> {
    // Waits (up to 5 s) for the daemon to create and publish the channel.
    let channel = SpscChannel::<u64>::open(name, 0, &ChannelOptions::new())?;
    // Takes the producer role over from an earlier feeder that has exited.
    let mut tx = channel.sender()?;
    let values: Vec<u64> = (1..=count).collect();
    tx.send_all(&values, Some(Duration::from_secs(10)))
        .map_err(|(sent, e)| format!("sent {sent} of {count}: {e}"))?;
    println!("fed {count} items");
    Ok(())
}
