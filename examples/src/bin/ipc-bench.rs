//! Every IPC mechanism doing the same job between two processes, measured
//! side by side on this machine: ping-pong round trips (p50, p99, p99.9,
//! max, mean one-way, CPU time per message) and one-way streaming
//! (messages/s, bytes/s) at several message sizes, plus the floors (a bare
//! cache line, memcpy). This is the project's main program: one command
//! that shows what each mechanism costs here.
//!
//! The mechanisms run interleaved in short rounds, so that every row sees
//! the same machine states; `p50 × floor` is the median over rounds of a
//! row's p50 divided by the cache-line floor's p50 in the same round.
//!
//! ```text
//! cargo run --release -p interlink-examples --bin ipc-bench -- [options]
//!   --long               more samples (the default is a quick run, < 1 min)
//!   --only a,b           only mechanisms whose name contains a or b (an unknown
//!                        word is an error listing the names); the floor always runs
//!   --sizes 64,4096      streaming message sizes in bytes
//!   --round-trips N      round trips per mechanism (default 20000)
//!   --rounds N           interleaved rounds (default 10)
//!   --no-pin             let the scheduler place the two processes (default: CPUs 0 and 1)
//!   --format F           table (default), markdown or csv
//!   --svg FILE           also write a chart (an unwritable FILE fails before the run)
//! ```

use std::fs::File;
use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use interlink_examples::bench::report::Format;
use interlink_examples::bench::rounds::{self, Plan, MEMCPY};
use interlink_examples::bench::run::{self, Cpus};
use interlink_examples::bench::{mechanisms, Mechanism};

/// Every IPC mechanism doing the same job between two processes, measured
/// side by side: round-trip latency (p50, p99) and one-way streaming rate.
#[derive(Parser)]
#[command(name = "ipc-bench")]
struct Args {
    /// More samples: 200000 round trips and 256 MiB per stream (the
    /// default is a quick run, under a minute).
    #[arg(long, conflicts_with = "quick")]
    long: bool,
    /// The quick run (the default).
    #[arg(long)]
    quick: bool,
    /// Only mechanisms whose name contains one of these words
    /// (comma-separated, e.g. `spsc,pipe`); an unknown word is an error
    /// that lists the names.
    #[arg(long, value_name = "WORDS", value_delimiter = ',')]
    only: Vec<String>,
    /// Streaming message sizes in bytes, comma-separated (each 1 to 65536).
    #[arg(long, value_name = "BYTES", value_delimiter = ',',
          default_value = "64,4096,65536", value_parser = clap::value_parser!(u32).range(1..=65536))]
    sizes: Vec<u32>,
    /// Round trips per mechanism (default 20000; 200000 with --long).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    round_trips: Option<u32>,
    /// Rounds the measurements are interleaved in: each round measures
    /// every mechanism once, against the floor of the same round.
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    rounds: u32,
    /// Pin the two processes to CPUs 0 and 1 (the default).
    #[arg(long, overrides_with = "no_pin")]
    pin: bool,
    /// Let the scheduler place the two processes.
    #[arg(long, overrides_with = "pin")]
    no_pin: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Also write an SVG chart to this file (checked before the run).
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
}

/// Every name `--only` can select, in run order.
fn all_names() -> Vec<&'static str> {
    mechanisms::all()
        .iter()
        .map(|m| m.name())
        .chain([MEMCPY])
        .collect()
}

/// Whether the `--only` words select `name` (no words: everything).
fn selected(only: &[String], name: &str) -> bool {
    only.is_empty() || only.iter().any(|w| name.contains(w.as_str()))
}

/// The `--only` words, lowercased; an error listing the valid names if a
/// word selects nothing.
fn check_only(only: &[String]) -> Result<Vec<String>, String> {
    let names = all_names();
    let words: Vec<String> = only.iter().map(|w| w.trim().to_lowercase()).collect();
    let unknown: Vec<&str> = words
        .iter()
        .filter(|w| w.is_empty() || !names.iter().any(|n| n.contains(w.as_str())))
        .map(String::as_str)
        .collect();
    if unknown.is_empty() {
        return Ok(words);
    }
    Err(format!(
        "--only: {} matches no mechanism; a word selects every name containing it. The \
         names are:\n  {}",
        unknown
            .iter()
            .map(|w| format!("{w:?}"))
            .collect::<Vec<_>>()
            .join(", "),
        names.join("\n  ")
    ))
}

/// Progress on stderr: rewritten in place on a terminal; otherwise one
/// plain line per round, without escape codes.
struct Progress {
    started: Instant,
    terminal: bool,
    last_round: usize,
}

impl rounds::Progress for Progress {
    fn step(&mut self, round: usize, rounds: usize, name: &str, what: &str) {
        let secs = self.started.elapsed().as_secs_f64();
        if self.terminal {
            eprint!("\r\x1b[2K[{secs:>5.1} s] round {round}/{rounds} {name}: {what}");
            let _ = std::io::stderr().flush();
        } else if round != self.last_round {
            eprintln!("[{secs:>5.1} s] round {round}/{rounds}");
        }
        self.last_round = round;
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let only = match check_only(&args.only) {
        Ok(only) => only,
        Err(message) => {
            eprintln!("ipc-bench: {message}");
            return ExitCode::from(2);
        }
    };
    // Open the chart's file now: an unwritable path fails before the run.
    let svg = match &args.svg {
        Some(path) => match File::create(path) {
            Ok(file) => Some((path, file)),
            Err(e) => {
                eprintln!(
                    "ipc-bench: cannot write the chart to {}: {e}",
                    path.display()
                );
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let (trips, stream_bytes) = if args.long {
        (200_000, 256 << 20)
    } else {
        (20_000, 32 << 20)
    };
    let cpus = if args.no_pin { None } else { Cpus::first_two() };
    let plan = Plan {
        ping_size: 64,
        trips: args.round_trips.map_or(trips, |n| n as usize),
        sizes: args.sizes.iter().map(|&s| s as usize).collect(),
        stream_bytes,
        rounds: args.rounds as usize,
        cpus,
        memcpy: selected(&only, MEMCPY),
    };
    // The cache-line floor runs in every round: the reference of each row.
    let floor = mechanisms::Floor.name();
    let chosen: Vec<Box<dyn Mechanism>> = mechanisms::all()
        .into_iter()
        .filter(|m| m.name() == floor || selected(&only, m.name()))
        .collect();
    let floor_index = chosen.iter().position(|m| m.name() == floor);

    let mut progress = Progress {
        started: Instant::now(),
        terminal: std::io::stderr().is_terminal(),
        last_round: 0,
    };
    let (report, failures) = rounds::run(&plan, &chosen, floor_index, &mut progress);
    if progress.terminal {
        eprint!("\r\x1b[2K");
    }
    print!("{}", report.render(args.format));
    eprintln!(
        "{} rows in {:.1} s: {} rounds; {} round trips of {} B per mechanism; {}",
        report.rows.len(),
        progress.started.elapsed().as_secs_f64(),
        plan.rounds,
        plan.trips,
        plan.ping_size,
        match cpus {
            Some(c) => format!(
                "one process per side, pinned to CPUs {} and {} (of {})",
                c.parent,
                c.child,
                run::online_cpus()
            ),
            None => format!(
                "one process per side, not pinned ({} CPUs)",
                run::online_cpus()
            ),
        }
    );
    if let Some((path, mut file)) = svg {
        let chart = interlink_examples::bench::svg::render(&report);
        if let Err(e) = file.write_all(chart.as_bytes()) {
            eprintln!("ipc-bench: writing {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        eprintln!("chart written to {}", path.display());
    }
    for f in &failures {
        eprintln!("ipc-bench: failed: {f}");
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
