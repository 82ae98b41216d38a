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
//! it. A watchdog ends the program if no writer comes within 10 s.

use std::io::{BufRead, BufReader};
use std::time::Duration;

use interlink_examples::watchdog;
use interlink_linux::pipe::{self, Blocking, Fifo};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: fifo-reader PATH")?;

    let created = match Fifo::create(&path, 0o600) {
        Ok(fifo) => Some(fifo),
        Err(e) if e.is(libc::EEXIST) => None,
        Err(e) => return Err(e.into()),
    };
    // If no writer comes, the blocking open below would wait forever.
    let (cleanup, made) = (path.clone(), created.is_some());
    watchdog::exit_after(Duration::from_secs(10), "fifo-reader", move || {
        if made {
            let _ = pipe::unlink(&cleanup);
        }
    });

    // Blocks until a writer has the FIFO open.
    let input = pipe::open_fifo_reader(&path, Blocking::Yes)?;
    let mut count = 0;
    for line in BufReader::new(input).lines() {
        println!("reader: {}", line?);
        count += 1;
    }
    println!("reader: end of file after {count} lines");
    drop(created); // removes the path if we made it
    Ok(())
}
