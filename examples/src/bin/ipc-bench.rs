//! Every IPC mechanism doing the same job between two processes, measured
//! side by side on this machine: ping-pong round trips (p50, p99) and
//! one-way streaming (messages/s, bytes/s) at several message sizes, plus
//! the floor (a bare cache line, memcpy). This is the project's main
//! program: one command that shows what each mechanism costs here.
//!
//! ```text
//! cargo run --release -p interlink-examples --bin ipc-bench -- [options]
//!   --long               more samples (the default is a quick run, < 1 min)
//!   --only a,b           only mechanisms whose name contains a or b (an unknown
//!                        word is an error listing the names)
//!   --sizes 64,4096      streaming message sizes in bytes
//!   --round-trips N      round trips per mechanism (default 20000)
//!   --format F           table (default), markdown or csv
//!   --svg FILE           also write a chart (an unwritable FILE fails before the run)
//! ```

use std::fs::File;
use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use interlink_examples::bench::report::{size_label, Format, Report, Row, Throughput};
use interlink_examples::bench::{mechanisms, run, stats};

/// The memcpy floor's name: measured here, not one of `mechanisms::all()`.
const MEMCPY: &str = "floor: memcpy";

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
/// plain line per mechanism, without escape codes.
struct Progress {
    started: Instant,
    terminal: bool,
    total: usize,
}

impl Progress {
    /// Mechanism `i` (from 1) of `total` begins.
    fn mechanism(&self, i: usize, name: &str) {
        if !self.terminal {
            eprintln!("[{:>5.1} s] {i}/{} {name}", self.secs(), self.total);
        }
    }

    /// A step of mechanism `i`: shown on a terminal only.
    fn step(&self, i: usize, name: &str, what: &str) {
        if self.terminal {
            eprint!(
                "\r\x1b[2K[{:>5.1} s] {i}/{} {name}: {what}",
                self.secs(),
                self.total
            );
            let _ = std::io::stderr().flush();
        }
    }

    /// Clears the progress line.
    fn done(&self) {
        if self.terminal {
            eprint!("\r\x1b[2K");
        }
    }

    fn secs(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

/// memcpy bandwidth in one process: the floor for moving `size` bytes.
fn memcpy_floor(size: usize, total: usize) -> Throughput {
    let src = vec![0x5au8; size];
    let mut dst = vec![0u8; size];
    let count = (total / size).max(1000);
    let start = Instant::now();
    for _ in 0..count {
        dst.copy_from_slice(std::hint::black_box(&src));
        std::hint::black_box(&mut dst);
    }
    let secs = start.elapsed().as_secs_f64();
    Throughput {
        msgs_per_s: count as f64 / secs,
        bytes_per_s: (count * size) as f64 / secs,
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
    let sizes: Vec<usize> = args.sizes.iter().map(|&s| s as usize).collect();
    let (trips, stream_bytes) = if args.long {
        (200_000, 256 << 20)
    } else {
        (20_000, 32 << 20)
    };
    let trips = args.round_trips.map_or(trips, |n| n as usize);
    let ping_size = 64;
    let chosen: Vec<_> = mechanisms::all()
        .into_iter()
        .filter(|m| selected(&only, m.name()))
        .collect();
    let memcpy = selected(&only, MEMCPY);

    let mut report = Report {
        ping_size,
        sizes: sizes.clone(),
        rows: Vec::new(),
    };
    // One count for the progress and the footer: every row measured.
    let total = chosen.len() + usize::from(memcpy);
    let progress = Progress {
        started: Instant::now(),
        terminal: std::io::stderr().is_terminal(),
        total,
    };
    let mut failures = Vec::new();
    for (i, mech) in chosen.iter().enumerate() {
        let (i, name) = (i + 1, mech.name());
        progress.mechanism(i, name);
        progress.step(i, name, "round trips");
        let size = ping_size.min(mech.max_message());
        let round_trip = match run::round_trips(mech.as_ref(), size, trips) {
            Ok(mut samples) => Some(stats::latency(&mut samples)),
            Err(e) => {
                failures.push(format!("{name} round trips: {e}"));
                None
            }
        };
        let mut streams = Vec::new();
        for &size in &sizes {
            // eventfd and the floor carry no payload: streaming is not
            // theirs; nor is it for round-trip-only rows.
            if size > mech.max_message() || mech.max_message() <= 8 || mech.round_trip_only() {
                streams.push(None);
                continue;
            }
            progress.step(i, name, &format!("stream {}", size_label(size)));
            let count = (stream_bytes / size).clamp(2_000, 500_000);
            streams.push(match run::stream(mech.as_ref(), size, count) {
                Ok(elapsed) => Some(rate(count, size, elapsed)),
                Err(e) => {
                    failures.push(format!("{name} stream {size} B: {e}"));
                    None
                }
            });
        }
        report.rows.push(Row {
            mechanism: name,
            round_trip,
            streams,
        });
    }
    if memcpy {
        progress.mechanism(total, MEMCPY);
        progress.step(total, MEMCPY, "copying");
        report.rows.push(Row {
            mechanism: MEMCPY,
            round_trip: None,
            streams: sizes
                .iter()
                .map(|&s| Some(memcpy_floor(s, stream_bytes)))
                .collect(),
        });
    }
    progress.done();
    print!("{}", report.render(args.format));
    eprintln!(
        "{} mechanisms in {:.1} s; round trips of {} B ({} samples); one process per side{}",
        report.rows.len(),
        progress.secs(),
        ping_size,
        trips,
        if run::online_cpus() > 1 {
            ", pinned to CPUs 0 and 1"
        } else {
            ""
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

fn rate(count: usize, size: usize, elapsed: Duration) -> Throughput {
    let secs = elapsed.as_secs_f64();
    Throughput {
        msgs_per_s: count as f64 / secs,
        bytes_per_s: (count * size) as f64 / secs,
    }
}
