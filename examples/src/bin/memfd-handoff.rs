//! The hybrid pattern: a large payload in a sealed memfd, its descriptor
//! passed over a Unix socket, the consumer maps it, reads it in place and
//! acknowledges. Only the descriptor and two small messages cross the
//! socket; the payload's bytes are never copied through the kernel.
//!
//! ```text
//! cargo run --release -p interlink-examples --bin memfd-handoff -- [MEBIBYTES]   # 1..=65536, default 64
//! ```
//!
//! The producer fills a memfd through a writable mapping, unmaps it and
//! seals the file (`F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL`):
//! from then on the kernel refuses every change, for everyone. The consumer
//! checks those seals before mapping rather than trusting the producer —
//! with them, no peer can alter the bytes while it reads or truncate the
//! file under its mapping (which would be a `SIGBUS`). It sends back a
//! checksum of what it read, and the producer compares it with its own.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use interlink_examples::cli;
use interlink_linux::memfd::{Memfd, Seals};
use interlink_linux::process::fork;
use interlink_linux::shm::MapOptions;
use interlink_linux::socket;

/// The seals a consumer insists on: contents and size frozen for good.
const FROZEN: Seals = Seals(Seals::WRITE.0 | Seals::SIZE.0 | Seals::SEAL.0);

const PROGRAM: &str = "memfd-handoff";

/// Hands a payload to a forked consumer in a sealed memfd whose descriptor
/// crosses a Unix socket; the consumer checksums it in place.
#[derive(Parser)]
#[command(name = PROGRAM)]
struct Args {
    /// The payload's size in MiB (1 to 65536).
    #[arg(default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=65536))]
    mebibytes: u32,
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::run(PROGRAM, || handoff(args.mebibytes as usize))
}

fn handoff(mib: usize) -> cli::Result {
    let len = mib << 20;
    let (ours, theirs) = UnixStream::pair()?;
    // No wait below lasts forever: a silent peer is an error after 10 s.
    for s in [&ours, &theirs] {
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
    }
    let consumer = fork(|| match consume(&theirs) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{PROGRAM}: consumer: {}", cli::describe(e.as_ref()));
            1
        }
    })?;

    // Fill the payload through a writable mapping, then unmap it: the
    // write seal cannot be added while a writable shared mapping exists.
    let start = Instant::now();
    let memfd = Memfd::create("interlink-payload", len)?;
    let checksum = {
        let map = memfd.map(&MapOptions::new())?;
        // SAFETY: the mapping is `len` writable bytes that nothing else can
        // reach yet (the memfd has not been shared), and it outlives `bytes`.
        let bytes = unsafe { std::slice::from_raw_parts_mut(map.as_ptr(), map.len()) };
        fill(bytes);
        checksum(bytes)
    };
    memfd.add_seals(FROZEN)?;
    println!("producer: {len} bytes in a sealed memfd, checksum {checksum:#018x}");

    // One byte of data must go with the descriptor; send the length.
    socket::send_with_fds(ours.as_fd(), &(len as u64).to_le_bytes(), &[memfd.as_fd()])?;
    // Our descriptor can go: the one in flight keeps the file alive.
    drop(memfd);

    let mut ack = [0u8; 8];
    (&ours)
        .read_exact(&mut ack)
        .map_err(|e| format!("waiting for the consumer's checksum: {e}"))?;
    let acked = u64::from_le_bytes(ack);
    let exit = consumer.wait()?;
    println!(
        "producer: consumer acknowledged checksum {acked:#018x} ({}) in {:?}",
        if acked == checksum {
            "match"
        } else {
            "MISMATCH"
        },
        start.elapsed()
    );
    if acked != checksum || !exit.success() {
        return Err(format!("handoff failed (consumer {})", cli::exit_text(exit)).into());
    }
    Ok(())
}

/// Receives the memfd, checks its seals, maps it read-only, checksums it
/// in place and sends the checksum back.
fn consume(socket: &UnixStream) -> cli::Result {
    let mut header = [0u8; 8];
    let (n, mut fds) = socket::recv_with_fds(socket.as_fd(), &mut header, 1)?;
    let (Some(fd), 8) = (fds.pop(), n) else {
        return Err("expected a length and one descriptor".into());
    };
    let memfd = Memfd::from_fd(fd);
    let seals = memfd.seals()?;
    if !seals.contains(FROZEN) {
        return Err(format!("refusing a memfd without write and size seals ({seals:?})").into());
    }
    let map = memfd.map_read_only()?;
    if map.len() as u64 != u64::from_le_bytes(header) {
        return Err("the memfd's size is not the announced length".into());
    }
    // SAFETY: the mapping is `len` readable bytes that live as long as
    // `map`, and the seals checked above guarantee that no process can
    // write or resize the file: the bytes cannot change under the slice.
    let bytes = unsafe { std::slice::from_raw_parts(map.as_ptr(), map.len()) };
    let sum = checksum(bytes);
    println!(
        "consumer: mapped {} bytes read-only, checksum {sum:#018x}",
        bytes.len()
    );
    std::io::stdout().flush()?;
    (&*socket).write_all(&sum.to_le_bytes())?;
    Ok(())
}

/// Pseudo-random bytes (xorshift64), so that a misplaced page would show.
fn fill(bytes: &mut [u8]) {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for chunk in bytes.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
}

/// FNV-1a over 8-byte words: quick, and order-sensitive.
fn checksum(bytes: &[u8]) -> u64 {
    bytes.chunks(8).fold(0xcbf2_9ce4_8422_2325, |h, chunk| {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        (h ^ u64::from_le_bytes(word)).wrapping_mul(0x0100_0000_01b3)
    })
}
