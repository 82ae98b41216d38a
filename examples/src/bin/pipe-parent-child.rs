//! A parent sends lines to its forked child through an anonymous pipe; the
//! child reads until end-of-file, which comes when the last writer closes.
//!
//! ```text
//! cargo run -p interlink-examples --bin pipe-parent-child -- [LINES]
//! ```
//!
//! The lesson is in who holds which end. `fork` copies the descriptor table,
//! so right after it *both* processes hold both ends. A reader sees EOF only
//! when every copy of the write end is closed — including its own — so each
//! side drops the end it does not use at once.

use std::io::{BufRead, BufReader, Write};
use std::process::ExitCode;

use clap::Parser;
use interlink_examples::cli;

use interlink_linux::pipe::{self, IoMode};
use interlink_linux::process::fork;

const PROGRAM: &str = "pipe-parent-child";

/// A parent sends LINES lines to its forked child through an anonymous
/// pipe; the child reads until end of file and checks the count.
#[derive(Parser)]
#[command(name = PROGRAM)]
struct Args {
    /// How many lines to send.
    #[arg(default_value_t = 5)]
    lines: u32,
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::run(PROGRAM, || run(args.lines))
}

fn run(lines: u32) -> cli::Result {
    let (reader, writer) = pipe::pipe(IoMode::Blocking)?;
    // In `Option`s so that each process can drop its own copy: after the
    // fork, `take()` in the child empties the child's memory only.
    let (mut reader, mut writer) = (Some(reader), Some(writer));

    let child = fork(|| {
        // The child's copy of the write end: without this drop, its own
        // descriptor keeps the pipe open for writing and EOF never comes.
        drop(writer.take());
        let Some(reader) = reader.take() else {
            return 2;
        };
        let mut received = 0;
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { return 1 };
            println!("child: got {line:?}");
            received += 1;
        }
        // `lines()` ended: read returned 0, the write end is closed everywhere.
        println!("child: end of file after {received} lines");
        // The child leaves with `_exit`, which flushes nothing: flush now.
        if std::io::stdout().flush().is_err() {
            return 1;
        }
        // End of file also comes if the parent dies halfway: count.
        if received != lines {
            eprintln!("{PROGRAM}: child: expected {lines} lines, got {received}");
            return 3;
        }
        0
    })?;
    // The parent's copy of the read end is not needed.
    drop(reader.take());

    let mut writer = writer.take().ok_or("no writer")?;
    for i in 1..=lines {
        // Each line is one write of at most PIPE_BUF (4096) bytes, so it
        // reaches the pipe whole even if other writers shared it.
        writeln!(writer, "message {i} from the parent")?;
    }
    // Closing the last write end is what tells the child "no more".
    drop(writer);

    let exit = child.wait()?;
    println!("parent: child exited with {exit:?}");
    if !exit.success() {
        return Err(format!("the child {}", cli::exit_text(exit)).into());
    }
    Ok(())
}
