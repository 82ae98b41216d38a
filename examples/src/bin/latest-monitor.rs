//! A sensor's latest readings, read by a monitor: one process keeps a
//! named table of latest values up to date and never waits; another reads
//! whatever is newest, with versions, and is never handed a torn value.
//!
//! ```text
//! cargo run --release -p interlink-examples --bin latest-monitor -- [--sensors 4] [--updates 20000] [--rate 10000]
//! ```
//!
//! The program creates the latest-value channel `NAME` with one cell per
//! sensor and forks two processes that open it **by name**:
//! - the **sensor** stores `UPDATES` readings into every cell, round after
//!   round, at most `--rate` rounds a second (cell `c`'s `n`-th reading is a deterministic function of `c`
//!   and `n`, with a checksum), checking that each store returns version
//!   `n`;
//! - the **monitor** waits for a cell it has not seen finish to change
//!   (`recv` with the version it last saw), then asks every cell whether it
//!   changed since the version it last saw (`changed_since`) and reads the
//!   ones that did. It checks that every reading it gets is whole (the
//!   checksum), belongs to the version it came with and is newer than the
//!   last one; readings overwritten before it looked are simply never seen.
//!   A read that finds its cell being rewritten at every one of its
//!   bounded tries fails with `Stalled` (a typed error, never a torn
//!   value); the monitor counts it and looks again. It stops once every
//!   cell shows its final reading, and prints per cell
//!
//! ```text
//! monitor: cell 1: version 20000, 20.848 °C, saw 1874 of 20000 versions
//! ```
//!
//! Both exit with status 1 if a check failed; so does the program.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use interlink_core::{plain_struct, RecvError, RingConfig};
use interlink_examples::cli;
use interlink_linux::channel::{ChannelOptions, LatestChannel};
use interlink_linux::process::{fork, Exit};

const PROGRAM: &str = "latest-monitor";

/// No wait lasts longer: a sensor that vanished makes the monitor give up.
const PATIENCE: Duration = Duration::from_secs(30);

plain_struct! {
    /// One reading of one sensor, as stored in its cell.
    #[derive(Debug, PartialEq, Eq)]
    struct Reading {
        /// Which reading of this sensor (1, 2, ...): the version it is
        /// stored with.
        seq: u64,
        /// The sensor (cell) number.
        sensor: u32,
        /// Explicit padding (zero).
        pad: u32,
        /// The value, in thousandths of a degree.
        milli: u64,
        /// A checksum over the fields above.
        check: u64,
    }
}

impl Reading {
    /// Sensor `sensor`'s `seq`-th reading.
    fn nth(sensor: u32, seq: u64) -> Self {
        let wobble = seq.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 55; // 0..512
        let mut r = Reading {
            seq,
            sensor,
            pad: 0,
            milli: 20_000 + 500 * u64::from(sensor) + wobble,
            check: 0,
        };
        r.check = r.checksum();
        r
    }

    fn checksum(&self) -> u64 {
        (self.seq ^ 0x5851_f42d_4c95_7f2d).wrapping_mul(0x2545_f491_4f6c_dd1d)
            ^ (u64::from(self.sensor) << 48 | u64::from(self.pad) << 16)
            ^ self.milli.rotate_left(23)
    }

    /// Whether this is exactly sensor `sensor`'s reading number `version`.
    fn is(&self, sensor: u32, version: u64) -> bool {
        self.check == self.checksum() && *self == Reading::nth(sensor, version)
    }
}

/// A sensor process keeping a named table of latest values up to date and
/// a monitor process reading them with versions.
#[derive(Parser)]
#[command(name = PROGRAM)]
struct Args {
    /// Sensors: cells of the table.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    sensors: u32,
    /// Readings the sensor stores into each cell.
    #[arg(long, default_value_t = 20_000, value_parser = cli::positive)]
    updates: u64,
    /// Rounds (one reading into every cell) per second at most (0: as
    /// fast as the sensor can).
    #[arg(long, default_value_t = 10_000)]
    rate: u64,
    /// The channel's name (default: `/latest-monitor-PID`).
    #[arg(long)]
    name: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::run(PROGRAM, || run(&args))
}

/// Runs `body` in a forked child; its exit status says whether it
/// succeeded and every check held.
fn child(
    role: &'static str,
    body: impl FnOnce() -> cli::Result<bool>,
) -> cli::Result<interlink_linux::process::Child> {
    Ok(fork(move || match body() {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            eprintln!("{PROGRAM}: {role}: {}", cli::describe(e.as_ref()));
            1
        }
    })?)
}

fn run(args: &Args) -> cli::Result {
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("/latest-monitor-{}", std::process::id()));
    let _table = LatestChannel::<Reading>::create(
        &name,
        RingConfig::new(args.sensors),
        &ChannelOptions::new(),
    )?;
    // Anything buffered would be printed again by every child.
    std::io::Write::flush(&mut std::io::stdout())?;
    let (sensors, updates, rate) = (args.sensors, args.updates, args.rate);
    let monitor = child("monitor", || monitor(&name, sensors, updates))?;
    let sensor = child("sensor", || sensor(&name, sensors, updates, rate))?;
    let mut failed = Vec::new();
    for (role, process) in [("sensor", sensor), ("monitor", monitor)] {
        match process.wait()? {
            Exit::Code(0) => {}
            other => failed.push(format!("the {role} {}", cli::exit_text(other))),
        }
    }
    if !failed.is_empty() {
        return Err(failed.join("; ").into());
    }
    Ok(())
}

/// The sensor: opens the table by name and stores `updates` readings into
/// each of its `sensors` cells, round by round, at most `rate` rounds a
/// second (0: no limit).
fn sensor(name: &str, sensors: u32, updates: u64, rate: u64) -> cli::Result<bool> {
    let table = LatestChannel::<Reading>::open(name, &ChannelOptions::new())?;
    let mut tx = table.writer()?;
    let start = Instant::now();
    for seq in 1..=updates {
        if rate > 0 {
            // Round `seq` is due `(seq - 1) / rate` seconds after the start.
            let due = Duration::from_secs_f64((seq - 1) as f64 / rate as f64);
            while start.elapsed() < due {
                std::hint::spin_loop();
            }
        }
        for cell in 0..sensors {
            let version = tx.send(cell, Reading::nth(cell, seq))?;
            if version != seq {
                eprintln!("{PROGRAM}: sensor: cell {cell} is at version {version}, not {seq}");
                return Ok(false);
            }
        }
    }
    println!(
        "sensor: stored {updates} readings into each of {sensors} cells in {:.1} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    Ok(true)
}

/// The monitor: follows every cell until each shows its final reading,
/// checking everything it reads.
fn monitor(name: &str, sensors: u32, updates: u64) -> cli::Result<bool> {
    let table = LatestChannel::<Reading>::open(name, &ChannelOptions::new())?;
    let rx = table.reader()?;
    // Per cell: the version last seen and how many versions were seen.
    let mut seen = vec![0u64; sensors as usize];
    let mut count = vec![0u64; sensors as usize];
    let mut ok = true;
    // Reads that found their cell being written at every try.
    let mut stalled = 0u64;
    let mut check = |cell: u32, reading: &Reading, version: u64, seen: &mut u64| {
        if !reading.is(cell, version) || version <= *seen || version > updates {
            eprintln!(
                "{PROGRAM}: monitor: cell {cell}: bad reading {reading:?} at version {version} after {seen}"
            );
            ok = false;
        }
        *seen = version;
        count[cell as usize] += 1;
    };
    // Wait on the first cell not yet at its final reading, then look at
    // every cell that changed.
    while let Some(wait) = seen.iter().position(|&v| v < updates) {
        match rx.recv_timeout(wait as u32, seen[wait], PATIENCE) {
            Ok((reading, version)) => check(wait as u32, &reading, version, &mut seen[wait]),
            // The sensor rewrote the cell during every one of the bounded
            // tries (it writes without pause): a typed error, never a torn
            // value. Look again.
            Err(RecvError::Stalled { .. }) => stalled += 1,
            Err(e) => return Err(e.into()),
        }
        for cell in 0..sensors {
            let c = cell as usize;
            if !rx.changed_since(cell, seen[c]).unwrap_or(false) {
                continue;
            }
            match rx.try_recv(cell) {
                Ok((reading, version)) => check(cell, &reading, version, &mut seen[c]),
                // Being written at every try: look again next round.
                Err(RecvError::Stalled { .. }) => stalled += 1,
                Err(e) => return Err(e.into()),
            }
        }
    }
    for cell in 0..sensors {
        let c = cell as usize;
        let (last, _) = rx.try_recv(cell).map_err(|e| format!("cell {cell}: {e}"))?;
        println!(
            "monitor: cell {cell}: version {}, {:.3} °C, saw {} of {updates} versions",
            seen[c],
            last.milli as f64 / 1000.0,
            count[c],
        );
    }
    println!("monitor: {stalled} reads found their cell busy at every try and were retried");
    Ok(ok)
}
