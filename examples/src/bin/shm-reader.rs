//! Reads the messages `shm-writer` leaves in a POSIX shared-memory object,
//! taking turns with it through two named semaphores (see `shm-writer` for
//! the protocol). Start the two in either order.
//!
//! ```text
//! cargo run -p interlink-examples --bin shm-reader -- /demo &
//! cargo run -p interlink-examples --bin shm-writer -- /demo [COUNT]
//! ```
//!
//! The reader only opens names; the writer creates and removes them. The
//! record's bytes come from another process, so its length is checked
//! before it is used to slice anything. While it waits for a record it
//! checks every 100 ms that the writer recorded in the object still runs:
//! a writer that dies mid-stream is an error at once, not a silent end.

use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::Parser;
use interlink_examples::cli;
use interlink_examples::shm_demo::{semaphore_names, Record, Shared, WAIT};
use interlink_linux::sem::NamedSemaphore;
use interlink_linux::shm::{MapOptions, Shm};

const PROGRAM: &str = "shm-reader";

/// How often a wait for the next record checks that the writer lives.
const TICK: Duration = Duration::from_millis(100);

/// Reads shm-writer's messages from a shared-memory object.
#[derive(Parser)]
#[command(name = PROGRAM)]
struct Args {
    /// The object's name (`/NAME`), as given to shm-writer.
    name: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::run(PROGRAM, || read(&args.name))
}

fn read(name: &str) -> cli::Result {
    // The writer may not have started yet: retry until *full*, which it
    // creates last, exists.
    let (empty_name, full_name) = semaphore_names(name);
    let start = Instant::now();
    let mut said = false;
    let full = loop {
        match NamedSemaphore::open(&full_name) {
            Ok(sem) => break sem,
            Err(e) if e.is(libc::ENOENT) && start.elapsed() < WAIT => {
                if !said {
                    cli::waiting(PROGRAM, &format!("shm-writer to create {name}"), Some(WAIT));
                    said = true;
                }
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(e) if e.is(libc::ENOENT) => {
                return Err(format!(
                    "no writer created {name} within {}: {e}",
                    cli::seconds(WAIT)
                )
                .into())
            }
            Err(e) => return Err(e.into()),
        }
    };
    let empty = NamedSemaphore::open(&empty_name)?;
    let shm = Shm::open(name)?;
    let size = shm.size()?;
    if size != size_of::<Shared>() {
        return Err(format!(
            "{name} is not a shm-writer object ({size} bytes, expected {})",
            size_of::<Shared>()
        )
        .into());
    }
    let map = shm.map(&MapOptions::new())?;
    let shared = map.as_ptr().cast::<Shared>();
    // SAFETY: the mapping is page-aligned and holds a `Shared` (size
    // checked); the pid word is only accessed atomically.
    let writer_pid = unsafe { &(*shared).writer_pid };
    // SAFETY: in bounds and aligned (above); only read through the raw
    // pointer, by value.
    let record = unsafe { std::ptr::addr_of!((*shared).record) };

    let mut received = 0;
    loop {
        wait_for_record(&full, writer_pid.load(Ordering::Acquire), name)?;
        // SAFETY: `record` is in bounds and aligned (above); between
        // `full.wait` and `empty.post` the writer does not touch it. Copied
        // out by value: every bit pattern is a Record.
        let Record { seq, len, text } = unsafe { record.read() };
        empty.post()?;
        if seq == 0 {
            break;
        }
        // Untrusted length: clamp it before slicing.
        let text = &text[..(len as usize).min(text.len())];
        println!("reader: #{seq}: {}", String::from_utf8_lossy(text));
        received += 1;
    }
    println!("reader: end after {received} messages");
    Ok(())
}

/// Waits on *full* for up to [`WAIT`], checking every [`TICK`] that the
/// writer `pid` (0: not recorded yet) is still alive.
fn wait_for_record(full: &NamedSemaphore, pid: u32, name: &str) -> cli::Result {
    let start = Instant::now();
    while start.elapsed() < WAIT {
        if full.wait_timeout(TICK)? {
            return Ok(());
        }
        if pid != 0 && !interlink_linux::liveness::is_alive(pid) {
            // It may have posted just before it died.
            if full.try_wait()? {
                return Ok(());
            }
            return Err(format!(
                "the writer of {name} (pid {pid}) died before the end of the stream"
            )
            .into());
        }
    }
    Err(format!(
        "no record from the writer of {name} within {}",
        cli::seconds(WAIT)
    )
    .into())
}
