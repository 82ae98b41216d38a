//! Hands messages to `shm-reader` through a POSIX shared-memory object,
//! taking turns with two named semaphores. Start the two in either order.
//!
//! ```text
//! cargo run -p interlink-examples --bin shm-writer -- /demo [COUNT] &
//! cargo run -p interlink-examples --bin shm-reader -- /demo
//! ```
//!
//! The object `/NAME` (under `/dev/shm`) holds the writer's pid and one
//! record. `/NAME-empty` (starts at 1) counts free records and
//! `/NAME-full` (starts at 0) filled ones: the writer waits on *empty*,
//! fills the record, posts *full*; the reader waits on *full*, copies the
//! record out, posts *empty*. Only one side touches the record at a time,
//! and `sem_post`/`sem_wait` order the memory too: what was written before
//! the post is visible after the wait. A record with sequence number 0
//! says "no more". The writer created all three names and removes them
//! when it exits (its guards' `Drop`). The layout and the names are shared
//! with the reader through `interlink_examples::shm_demo`.
//!
//! A writer killed with SIGKILL or Ctrl-C runs no `Drop`: the three names
//! stay behind. The next writer of the same name finds the object, reads
//! the pid recorded in it and, if that process is gone, removes the
//! leftovers and starts afresh; if it still runs, it refuses and says
//! which pid holds the name.

use std::process::ExitCode;
use std::sync::atomic::Ordering;

use clap::Parser;
use interlink_examples::cli;
use interlink_examples::shm_demo::{self, semaphore_names, Owner, Record, Shared, WAIT};
use interlink_linux::sem::NamedSemaphore;
use interlink_linux::shm::{self, MapOptions, Shm};

const PROGRAM: &str = "shm-writer";

/// Hands COUNT messages to shm-reader through a shared-memory object and
/// two named semaphores.
#[derive(Parser)]
#[command(name = PROGRAM)]
struct Args {
    /// The object's name (`/NAME`); the semaphores are `/NAME-empty` and
    /// `/NAME-full`. Left behind by a killed writer, they are replaced.
    name: String,
    /// How many messages to send.
    #[arg(default_value_t = 5)]
    count: u32,
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::run(PROGRAM, || write(&args.name, args.count))
}

fn write(name: &str, count: u32) -> cli::Result {
    let shm = create_or_replace(name)?;
    let mut map = shm.map(&MapOptions::new())?;
    map.unlink_on_drop_of(&shm)?;
    let shared = map.as_ptr().cast::<Shared>();
    // SAFETY: the mapping is page-aligned and holds a `Shared` (the object
    // was created with its size); the pid word is only ever accessed
    // atomically, by writers (a restarted one reads it with `pread`).
    unsafe { &(*shared).writer_pid }.store(std::process::id(), Ordering::Release);

    let (empty_name, full_name) = semaphore_names(name);
    let empty = create_semaphore(&empty_name, 1)?;
    // Created last: once the reader can open it, everything else exists.
    let full = create_semaphore(&full_name, 0)?;
    println!("writer: created {name}");
    cli::waiting(PROGRAM, &format!("a reader of {name}"), Some(WAIT));

    // SAFETY: in bounds of the mapping (see above); a raw pointer, never
    // a reference: the record's bytes are shared with another process.
    let record = unsafe { std::ptr::addr_of_mut!((*shared).record) };
    for seq in (1..=count).chain([0]) {
        if !empty.wait_timeout(WAIT)? {
            return Err(format!(
                "no reader took message #{} within {}: is shm-reader {name} running?",
                seq.max(1),
                cli::seconds(WAIT)
            )
            .into());
        }
        let mut text = [0u8; 248];
        let message = format!("message {seq} of {count} from pid {}", std::process::id());
        text[..message.len()].copy_from_slice(message.as_bytes());
        let len = if seq == 0 { 0 } else { message.len() as u32 };
        // SAFETY: `record` is in bounds and aligned (above); between
        // `empty.wait` and `full.post` the reader does not touch it. A raw
        // write, not a `&mut`: the bytes are shared with another process.
        unsafe { record.write(Record { seq, len, text }) };
        full.post()?;
    }
    // The reader posts *empty* once more after the end record: all read.
    if !empty.wait_timeout(WAIT)? {
        return Err(format!(
            "the reader did not acknowledge the end within {}",
            cli::seconds(WAIT)
        )
        .into());
    }
    println!("writer: the reader took all {count} messages");
    Ok(())
}

/// Creates the object `name` exclusively; if the name is taken by what a
/// killed writer left behind, removes that (object and semaphores) and
/// creates it again. A running writer's object, or something that is not
/// a writer's, is an error that says what to do.
fn create_or_replace(name: &str) -> cli::Result<Shm> {
    let len = size_of::<Shared>();
    match Shm::create(name, len) {
        Ok(shm) => return Ok(shm),
        Err(e) if e.is(libc::EEXIST) => {}
        Err(e) => return Err(e.into()),
    }
    let existing = match Shm::open_read_only(name) {
        Ok(shm) => shm,
        // Removed meanwhile (its writer just finished): take the name.
        Err(e) if e.is(libc::ENOENT) => return Ok(Shm::create(name, len)?),
        Err(e) => return Err(e.into()),
    };
    let owner = shm_demo::owner(&existing).map_err(|e| format!("reading {name}: {e}"))?;
    let (empty_name, full_name) = semaphore_names(name);
    let by_hand = format!(
        "rm /dev/shm{name} /dev/shm/sem.{} /dev/shm/sem.{}",
        &empty_name[1..],
        &full_name[1..]
    );
    let dead = match owner {
        Owner::Gone { pid } => pid,
        Owner::Running { pid } => {
            return Err(format!(
                "{name} is in use by the writer with pid {pid}, which is running: stop it or \
                 choose another name (if pid {pid} is not a shm-writer — pids are reused — \
                 remove the leftovers with `{by_hand}`)"
            )
            .into())
        }
        Owner::Starting => {
            return Err(format!(
                "{name} is being created by another writer right now; try again in a moment"
            )
            .into())
        }
        Owner::Foreign { size } => {
            return Err(format!(
                "{name} exists and is not a shm-writer object ({size} bytes, expected {len}); \
                 choose another name, or remove it with `rm /dev/shm{name}` if nothing needs it"
            )
            .into())
        }
    };
    // Remove the object only if the name still denotes the one judged (a
    // second writer restarting at the same moment may have replaced it).
    let judged = existing.identity()?;
    match Shm::open_read_only(name).and_then(|now| now.identity()) {
        Ok(now) if now == judged => match shm::unlink(name) {
            Ok(()) => {}
            Err(e) if e.is(libc::ENOENT) => {}
            Err(e) => return Err(e.into()),
        },
        Ok(_) => return Err(format!("{name} was replaced by another writer meanwhile").into()),
        Err(e) if e.is(libc::ENOENT) => {}
        Err(e) => return Err(e.into()),
    }
    for sem in [&empty_name, &full_name] {
        match NamedSemaphore::unlink(sem) {
            Ok(()) => {}
            Err(e) if e.is(libc::ENOENT) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let who = if dead == 0 {
        "a writer that died while starting".to_owned()
    } else {
        format!("writer pid {dead}, which is gone")
    };
    eprintln!("{PROGRAM}: replaced {name} and its semaphores, left behind by {who}");
    Shm::create(name, len).map_err(|e| {
        if e.is(libc::EEXIST) {
            format!("{name} was taken by another writer meanwhile").into()
        } else {
            e.into()
        }
    })
}

/// Creates a semaphore for an object this writer has just created. The
/// object's name is ours now, so a semaphore already there was left by a
/// killed writer (a running one would still hold the object's name):
/// replace it.
fn create_semaphore(name: &str, value: u32) -> cli::Result<NamedSemaphore> {
    match NamedSemaphore::create(name, 0o600, value) {
        Err(e) if e.is(libc::EEXIST) => {
            NamedSemaphore::unlink(name)?;
            eprintln!("{PROGRAM}: replaced the semaphore {name}, left behind by a killed writer");
            Ok(NamedSemaphore::create(name, 0o600, value)?)
        }
        other => Ok(other?),
    }
}
