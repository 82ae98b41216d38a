//! Reads lines from a FIFO (named pipe) until end-of-file; the writer is
//! `fifo-writer`, an unrelated program. Start the two in either order.
//!
//! ```text
//! cargo run -p interlink-examples --bin fifo-reader -- /tmp/demo.fifo &
//! cargo run -p interlink-examples --bin fifo-writer -- /tmp/demo.fifo [LINES]
//! ```
//!
//! Whoever comes first creates the FIFO and removes it when done (see
//! `fifo-writer`). Opening for reading blocks until a writer opens the
//! other end; after that, `read` returning 0 means every writer has closed
//! it. A watchdog ends the program (exit 3) if no writer comes within
//! `--wait` seconds (10); once the writer is there, the stream takes as
//! long as it takes.
//!
//! End of file alone does not mean the stream is complete: a writer that
//! was killed halfway closes the FIFO too. So the reader exits 0 only if
//! the writer's end line came, naming as many lines as arrived; otherwise
//! it reports the stream cut short and exits 1.

use std::io::{BufRead, BufReader};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use interlink_examples::cli::{self, parse_seconds};
use interlink_examples::fifo_demo;
use interlink_examples::watchdog::Watchdog;
use interlink_linux::pipe::{self, IoMode};

const PROGRAM: &str = "fifo-reader";

/// Reads fifo-writer's lines from a FIFO and checks that the stream is
/// complete.
#[derive(Parser)]
#[command(name = PROGRAM)]
struct Args {
    /// The FIFO's path; created if it does not exist (and then removed at
    /// the end).
    path: String,
    /// Give up (exit 3) if no writer opens the FIFO within this many
    /// seconds. Covers the wait for the writer only, not the stream.
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_seconds)]
    wait: Duration,
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::run(PROGRAM, || read(&args))
}

fn read(args: &Args) -> cli::Result {
    let path = args.path.as_str();
    let created = fifo_demo::create_or_find(path)?;
    // If no writer comes, the blocking open below would wait forever.
    let (cleanup, made) = (path.to_owned(), created.is_some());
    let watchdog = Watchdog::arm(args.wait, PROGRAM, "writer", move || {
        if made {
            let _ = pipe::unlink(&cleanup);
        }
    });
    cli::waiting(
        PROGRAM,
        &format!("a writer to open {path}"),
        Some(args.wait),
    );

    // Blocks until a writer has the FIFO open.
    let input = pipe::open_fifo_reader(path, IoMode::Blocking)?;
    watchdog.disarm();
    let mut count = 0u64;
    let mut announced = None;
    for line in BufReader::new(input).lines() {
        let line = line.map_err(|e| format!("reading {path}: {e}"))?;
        if let Some(end) = fifo_demo::parse_end_line(&line) {
            announced = Some(end.ok_or_else(|| format!("a garbled end line: {line:?}"))?);
            continue;
        }
        if announced.is_some() {
            return Err(format!("a line after the end line: {line:?}").into());
        }
        println!("reader: {line}");
        count += 1;
    }
    drop(created); // removes the path if we made it
    match announced {
        Some(sent) if sent == count => {
            println!("reader: end of file after {count} lines");
            Ok(())
        }
        Some(sent) => {
            Err(format!("the writer says it sent {sent} lines, but {count} arrived").into())
        }
        None => Err(format!(
            "end of file after {count} lines without the writer's end line: \
             the stream was cut short (the writer died or was killed?)"
        )
        .into()),
    }
}
