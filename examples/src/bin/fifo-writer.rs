//! Writes lines into a FIFO (named pipe) for `fifo-reader`, an unrelated
//! program that finds it by path. Start the two in either order.
//!
//! ```text
//! cargo run -p interlink-examples --bin fifo-reader -- /tmp/demo.fifo &
//! cargo run -p interlink-examples --bin fifo-writer -- /tmp/demo.fifo [LINES] [--pause-ms MS]
//! ```
//!
//! Whoever comes first creates the FIFO (`mkfifo`), and removes it when done;
//! the other finds it there (`EEXIST`) and just opens it. Opening blocks
//! until the other end is opened too — a writer never writes into a FIFO
//! nobody reads — so the creator cannot remove it before the peer is in.
//! A watchdog ends the program (exit 3) if no reader comes within `--wait`
//! seconds (10); once the reader is there, the stream takes as long as it
//! takes. The last line says how many lines came before it, so that the
//! reader can tell a complete stream from one cut short (see
//! `interlink_examples::fifo_demo`). A reader that goes away early makes
//! the next write fail (`EPIPE`): the writer then exits 1.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use interlink_examples::cli::{self, parse_seconds};
use interlink_examples::fifo_demo;
use interlink_examples::watchdog::Watchdog;
use interlink_linux::pipe::{self, IoMode};

const PROGRAM: &str = "fifo-writer";

/// Writes numbered lines into a FIFO for fifo-reader, then an end line.
#[derive(Parser)]
#[command(name = PROGRAM)]
struct Args {
    /// The FIFO's path; created if it does not exist (and then removed at
    /// the end).
    path: String,
    /// How many lines to write.
    #[arg(default_value_t = 5)]
    lines: u64,
    /// Pause between lines, in milliseconds (0 to 60000).
    #[arg(long, value_name = "MS", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pause_ms: u64,
    /// Give up (exit 3) if no reader opens the FIFO within this many
    /// seconds. Covers the wait for the reader only, not the stream.
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_seconds)]
    wait: Duration,
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::run(PROGRAM, || write(&args))
}

fn write(args: &Args) -> cli::Result {
    let path = args.path.as_str();
    // Create it, or use the one the reader already made.
    let created = fifo_demo::create_or_find(path)?;
    // If no reader comes, the blocking open below would wait forever.
    let (cleanup, made) = (path.to_owned(), created.is_some());
    let watchdog = Watchdog::arm(args.wait, PROGRAM, "reader", move || {
        if made {
            let _ = pipe::unlink(&cleanup);
        }
    });
    cli::waiting(
        PROGRAM,
        &format!("a reader to open {path}"),
        Some(args.wait),
    );

    // Blocks until a reader has the FIFO open.
    let mut out = pipe::open_fifo_writer(path, IoMode::Blocking)?;
    watchdog.disarm();
    let pid = std::process::id();
    for i in 1..=args.lines {
        // One write per line, under PIPE_BUF: never split or interleaved.
        writeln!(out, "line {i} from writer {pid}")
            .map_err(|e| format!("writing line {i} to {path}: {e}"))?;
        if args.pause_ms > 0 {
            std::thread::sleep(Duration::from_millis(args.pause_ms));
        }
    }
    writeln!(out, "{}", fifo_demo::end_line(args.lines))
        .map_err(|e| format!("writing the end line to {path}: {e}"))?;
    // Dropping the write end gives the reader end-of-file; dropping
    // `created` (if we made the FIFO) removes its path.
    drop(out);
    println!("writer: sent {} lines", args.lines);
    Ok(())
}
