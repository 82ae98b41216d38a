//! Hands messages to `shm-reader` through a POSIX shared-memory object,
//! taking turns with two named semaphores. Start the two in either order.
//!
//! ```text
//! cargo run -p interlink-examples --bin shm-writer -- /demo [COUNT] &
//! cargo run -p interlink-examples --bin shm-reader -- /demo
//! ```
//!
//! The object `/NAME` (under `/dev/shm`) holds one record. `/NAME-empty`
//! (starts at 1) counts free records and `/NAME-full` (starts at 0) filled
//! ones: the writer waits on *empty*, fills the record, posts *full*; the
//! reader waits on *full*, copies the record out, posts *empty*. Only one
//! side touches the record at a time, and `sem_post`/`sem_wait` order the
//! memory too: what was written before the post is visible after the wait.
//! A record with sequence number 0 says "no more". The writer created all
//! three names and removes them when it exits (its guards' `Drop`). The
//! record's layout and the names are shared with the reader through
//! `interlink_examples::shm_demo`.

use interlink_examples::shm_demo::{semaphore_names, Record, WAIT};
use interlink_linux::sem::NamedSemaphore;
use interlink_linux::shm::{MapOptions, Shm};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let name = args.next().ok_or("usage: shm-writer /NAME [COUNT]")?;
    let count: u32 = match args.next() {
        Some(arg) => arg.parse().map_err(|e| format!("COUNT {arg:?}: {e}"))?,
        None => 5,
    };

    // Exclusive creates: a name in use is an error, not a shared mess.
    let shm = Shm::create(&name, size_of::<Record>())?;
    let mut map = shm.map(&MapOptions::new())?;
    map.unlink_on_drop_of(&shm)?;
    let (empty_name, full_name) = semaphore_names(&name);
    let empty = NamedSemaphore::create(&empty_name, 0o600, 1)?;
    // Created last: once the reader can open it, everything else exists.
    let full = NamedSemaphore::create(&full_name, 0o600, 0)?;
    println!("writer: created {name}, waiting for a reader");

    let record = map.as_ptr().cast::<Record>();
    for seq in (1..=count).chain([0]) {
        if !empty.wait_timeout(WAIT)? {
            return Err(format!("no free record for #{seq} within {WAIT:?}: no reader?").into());
        }
        let mut text = [0u8; 248];
        let message = format!("message {seq} of {count} from pid {}", std::process::id());
        text[..message.len()].copy_from_slice(message.as_bytes());
        let len = if seq == 0 { 0 } else { message.len() as u32 };
        // SAFETY: the mapping is page-aligned and holds one Record; between
        // `empty.wait` and `full.post` the reader does not touch it. A raw
        // write, not a `&mut`: the bytes are shared with another process.
        unsafe { record.write(Record { seq, len, text }) };
        full.post()?;
    }
    // The reader posts *empty* once more after the end record: all read.
    if !empty.wait_timeout(WAIT)? {
        return Err("the reader did not acknowledge the end".into());
    }
    println!("writer: the reader took all {count} messages");
    Ok(())
}
