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
//! before it is used to slice anything.

use std::time::{Duration, Instant};

use interlink_examples::shm_demo::{semaphore_names, Record, WAIT};
use interlink_linux::sem::NamedSemaphore;
use interlink_linux::shm::{MapOptions, Shm};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let name = std::env::args().nth(1).ok_or("usage: shm-reader /NAME")?;

    // The writer may not have started yet: retry until *full*, which it
    // creates last, exists.
    let (empty_name, full_name) = semaphore_names(&name);
    let start = Instant::now();
    let full = loop {
        match NamedSemaphore::open(&full_name) {
            Ok(sem) => break sem,
            Err(e) if e.is(libc::ENOENT) && start.elapsed() < WAIT => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(e) => return Err(e.into()),
        }
    };
    let empty = NamedSemaphore::open(&empty_name)?;
    let shm = Shm::open(&name)?;
    if shm.size()? < size_of::<Record>() {
        return Err(format!("{name} is too small for a record").into());
    }
    let map = shm.map(&MapOptions::new())?;

    let record = map.as_ptr().cast::<Record>();
    let mut received = 0;
    loop {
        if !full.wait_timeout(WAIT)? {
            return Err(format!("no record from the writer within {WAIT:?}").into());
        }
        // SAFETY: the mapping holds a Record (size checked) and is page-
        // aligned; between `full.wait` and `empty.post` the writer does not
        // touch it. Copied out by value: every bit pattern is a Record.
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
