//! Writes lines into a FIFO (named pipe) for `fifo-reader`, an unrelated
//! program that finds it by path. Start the two in either order.
//!
//! ```text
//! cargo run -p interlink-examples --bin fifo-reader -- /tmp/demo.fifo &
//! cargo run -p interlink-examples --bin fifo-writer -- /tmp/demo.fifo [LINES]
//! ```
//!
//! Whoever comes first creates the FIFO (`mkfifo`), and removes it when done;
//! the other finds it there (`EEXIST`) and just opens it. Opening blocks
//! until the other end is opened too — a writer never writes into a FIFO
//! nobody reads — so the creator cannot remove it before the peer is in.
//! A watchdog ends the program if no reader comes within 10 s.

use std::io::Write;
use std::time::Duration;

use interlink_examples::watchdog;
use interlink_linux::pipe::{self, Blocking, Fifo};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: fifo-writer PATH [LINES]")?;
    let lines: u32 = match args.next() {
        Some(arg) => arg.parse().map_err(|e| format!("LINES {arg:?}: {e}"))?,
        None => 5,
    };

    // Create it, or use the one the reader already made.
    let created = match Fifo::create(&path, 0o600) {
        Ok(fifo) => Some(fifo),
        Err(e) if e.is(libc::EEXIST) => None,
        Err(e) => return Err(e.into()),
    };
    // If no reader comes, the blocking open below would wait forever.
    let (cleanup, made) = (path.clone(), created.is_some());
    watchdog::exit_after(Duration::from_secs(10), "fifo-writer", move || {
        if made {
            let _ = pipe::unlink(&cleanup);
        }
    });

    // Blocks until a reader has the FIFO open.
    let mut out = pipe::open_fifo_writer(&path, Blocking::Yes)?;
    for i in 1..=lines {
        // One write per line, under PIPE_BUF: never split or interleaved.
        writeln!(out, "line {i} from writer {}", std::process::id())?;
    }
    // Dropping the write end gives the reader end-of-file; dropping
    // `created` (if we made the FIFO) removes its path.
    drop(out);
    println!("writer: sent {lines} lines");
    Ok(())
}
