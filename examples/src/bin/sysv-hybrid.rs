//! The System V "hybrid" pattern: a batch in a shared memory segment, its
//! id sent over a Unix socket, the reader's acknowledgement back.
//!
//! ```text
//! cargo run -p interlink-examples --bin sysv-hybrid [-- --size BYTES]
//! ```
//!
//! The writer creates a private segment (`IPC_PRIVATE`: no key finds it),
//! fills it with a 2 MiB batch, listens on a Unix socket and starts itself
//! again as the reader (`--reader SOCKET`). It sends `ID LEN CHECKSUM`;
//! the reader attaches the segment read-only by id, checks the batch and
//! answers `ok CHECKSUM` (or `bad ...`). The writer's handle marks the
//! segment for removal when it drops, so nothing is left behind, even
//! though the reader is still attached at that moment.
//!
//! Exit status: 0 the reader verified the batch; 1 anything failed (the
//! reader exits 1 too if the batch does not check out).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use interlink_examples::cli;
use interlink_linux::sysv::{Attach, Key, Segment, SegmentOptions};

const PROGRAM: &str = "sysv-hybrid";

/// Writes a batch into a System V segment and has a reader process,
/// given only the segment's id over a Unix socket, verify it.
#[derive(Parser)]
#[command(name = PROGRAM)]
struct Args {
    /// The batch size in bytes.
    #[arg(long, default_value = "2097152", value_parser = cli::positive)]
    size: u64,
    /// Run as the reader, connecting to this socket (the writer starts
    /// the reader this way).
    #[arg(long, value_name = "SOCKET")]
    reader: Option<std::path::PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match args.reader {
        Some(socket) => cli::run(PROGRAM, || reader(&socket)),
        None => cli::run(PROGRAM, || writer(args.size)),
    }
}

/// FNV-1a over the bytes: what both sides compare.
fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The batch: a pattern no two nearby offsets share.
fn batch(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8)
        .collect()
}

fn writer(size: u64) -> cli::Result {
    let len = usize::try_from(size)?;
    let data = batch(len);
    let segment = Segment::create(Key::PRIVATE, len, &SegmentOptions::new())?;
    segment.write(0, &data)?;
    let sum = checksum(&data);
    println!(
        "writer: {len} bytes in segment id {} (checksum {sum:#018x})",
        segment.id()
    );

    let socket = std::env::temp_dir().join(format!("sysv-hybrid-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&socket);
    let listener = UnixListener::bind(&socket)?;
    let mut reader = std::process::Command::new(std::env::current_exe()?)
        .arg("--reader")
        .arg(&socket)
        .spawn()?;
    let limit = Duration::from_secs(30);
    cli::waiting(PROGRAM, "the reader to connect", Some(limit));
    listener.set_nonblocking(true)?;
    let started = std::time::Instant::now();
    let stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if started.elapsed() > limit {
                    let _ = reader.kill();
                    let _ = std::fs::remove_file(&socket);
                    return Err("the reader did not connect within 30 s".into());
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e.into()),
        }
    };
    let _ = std::fs::remove_file(&socket);
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(limit))?;
    let mut out = &stream;
    writeln!(out, "{} {len} {sum}", segment.id())?;
    let mut answer = String::new();
    BufReader::new(&stream).read_line(&mut answer)?;
    let status = reader.wait()?;
    let answer = answer.trim();
    if answer != format!("ok {sum}") {
        return Err(format!("the reader answered {answer:?} ({status})").into());
    }
    if !status.success() {
        return Err(format!("the reader acknowledged but ended with {status}").into());
    }
    println!("writer: the reader verified the batch");
    Ok(())
}

fn reader(socket: &std::path::Path) -> cli::Result {
    let stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [id, len, sum] = fields[..] else {
        return Err(format!("expected `ID LEN CHECKSUM`, got {line:?}").into());
    };
    let (id, len, sum): (i32, usize, u64) = (id.parse()?, len.parse()?, sum.parse()?);
    let segment = Segment::attach(id, Attach::ReadOnly)?;
    if segment.len() < len {
        return Err(format!("segment id {id} has {} bytes, not {len}", segment.len()).into());
    }
    let mut copy = vec![0u8; len];
    segment.read(0, &mut copy)?;
    let got = checksum(&copy);
    let mut out = &stream;
    if got != sum || copy != batch(len) {
        writeln!(out, "bad {got}")?;
        return Err(format!("checksum {got:#018x}, the writer's {sum:#018x}").into());
    }
    writeln!(out, "ok {got}")?;
    println!("reader: segment id {id}: {len} bytes verified");
    Ok(())
}
