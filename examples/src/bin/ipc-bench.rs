//! Every IPC mechanism doing the same job between two processes, measured
//! side by side on this machine: ping-pong round trips (p50, p99) and
//! one-way streaming (messages/s, bytes/s) at several message sizes, plus
//! the floor (a bare cache line, memcpy).
//!
//! ```text
//! cargo run --release -p interlink-examples --bin ipc-bench -- [options]
//!   --long               more samples (the default is a quick run, < 1 min)
//!   --only a,b           only mechanisms whose name contains a or b
//!   --sizes 64,4096      streaming message sizes in bytes
//!   --round-trips N      round trips per mechanism (default 20000)
//!   --format F           table (default), markdown or csv
//!   --svg FILE           also write a chart
//! ```

use std::io::Write as _;
use std::time::{Duration, Instant};

use interlink_examples::bench::report::{size_label, Format, Report, Row, Throughput};
use interlink_examples::bench::{mechanisms, run, stats};

struct Options {
    long: bool,
    round_trips: Option<usize>,
    only: Vec<String>,
    sizes: Vec<usize>,
    format: Format,
    svg: Option<String>,
}

fn parse() -> Result<Options, String> {
    let mut o = Options {
        long: false,
        round_trips: None,
        only: Vec::new(),
        sizes: vec![64, 4096, 65536],
        format: Format::Table,
        svg: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--long" => o.long = true,
            "--quick" => o.long = false,
            "--round-trips" => {
                let v = value()?;
                o.round_trips = Some(v.parse().map_err(|e| format!("--round-trips {v:?}: {e}"))?);
            }
            "--only" => o.only = value()?.split(',').map(str::to_lowercase).collect(),
            "--sizes" => {
                o.sizes = value()?
                    .split(',')
                    .map(|s| s.parse().map_err(|e| format!("--sizes {s:?}: {e}")))
                    .collect::<Result<_, _>>()?;
                if o.sizes.iter().any(|&s| s == 0 || s > 1 << 16) {
                    return Err("--sizes: each size must be 1 ..= 65536 bytes".into());
                }
            }
            "--format" => {
                o.format = match value()?.as_str() {
                    "table" => Format::Table,
                    "markdown" | "md" => Format::Markdown,
                    "csv" => Format::Csv,
                    other => return Err(format!("--format {other:?}: table, markdown or csv")),
                }
            }
            "--svg" => o.svg = Some(value()?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    Ok(o)
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

fn main() {
    let o = match parse() {
        Ok(o) => o,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("ipc-bench: {msg}");
            }
            eprintln!("usage: ipc-bench [--long] [--round-trips N] [--only a,b] [--sizes 64,4096,65536] [--format table|markdown|csv] [--svg FILE]");
            std::process::exit(if msg.is_empty() { 0 } else { 2 });
        }
    };
    let (trips, stream_bytes) = if o.long {
        (200_000, 256 << 20)
    } else {
        (20_000, 32 << 20)
    };
    let trips = o.round_trips.unwrap_or(trips).max(1);
    let ping_size = 64;
    let selected: Vec<_> = mechanisms::all()
        .into_iter()
        .filter(|m| o.only.is_empty() || o.only.iter().any(|w| m.name().contains(w.as_str())))
        .collect();

    let mut report = Report {
        ping_size,
        sizes: o.sizes.clone(),
        rows: Vec::new(),
    };
    let started = Instant::now();
    let progress = |what: &str| {
        eprint!(
            "\r\x1b[2K[{:>5.1} s] {what}",
            started.elapsed().as_secs_f64()
        );
        let _ = std::io::stderr().flush();
    };
    let mut failures = Vec::new();
    for (i, mech) in selected.iter().enumerate() {
        let name = mech.name();
        let step = format!("{}/{} {name}", i + 1, selected.len());
        progress(&format!("{step}: round trips"));
        let size = ping_size.min(mech.max_message());
        let round_trip = match run::round_trips(mech.as_ref(), size, trips) {
            Ok(mut samples) => Some(stats::latency(&mut samples)),
            Err(e) => {
                failures.push(format!("{name} round trips: {e}"));
                None
            }
        };
        let mut streams = Vec::new();
        for &size in &o.sizes {
            // eventfd and the floor carry no payload: streaming is not theirs.
            if size > mech.max_message() || mech.max_message() <= 8 {
                streams.push(None);
                continue;
            }
            progress(&format!("{step}: stream {}", size_label(size)));
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
    if o.only.is_empty() || o.only.iter().any(|w| "floor: memcpy".contains(w.as_str())) {
        progress("memcpy");
        report.rows.push(Row {
            mechanism: "floor: memcpy",
            round_trip: None,
            streams: o
                .sizes
                .iter()
                .map(|&s| Some(memcpy_floor(s, stream_bytes)))
                .collect(),
        });
    }
    eprint!("\r\x1b[2K");
    print!("{}", report.render(o.format));
    eprintln!(
        "{} mechanisms in {:.1} s; round trips of {} B ({} samples); one process per side{}",
        report.rows.len(),
        started.elapsed().as_secs_f64(),
        ping_size,
        trips,
        if run::online_cpus() > 1 {
            ", pinned to CPUs 0 and 1"
        } else {
            ""
        }
    );
    if let Some(path) = &o.svg {
        if let Err(e) = std::fs::write(path, interlink_examples::bench::svg::render(&report)) {
            eprintln!("ipc-bench: writing {path}: {e}");
            std::process::exit(1);
        }
        eprintln!("chart written to {path}");
    }
    for f in &failures {
        eprintln!("ipc-bench: failed: {f}");
    }
    if !failures.is_empty() {
        std::process::exit(1);
    }
}

fn rate(count: usize, size: usize, elapsed: Duration) -> Throughput {
    let secs = elapsed.as_secs_f64();
    Throughput {
        msgs_per_s: count as f64 / secs,
        bytes_per_s: (count * size) as f64 / secs,
    }
}
