//! Streams sequence numbers from a parent process to a forked child through
//! an SPSC ring in an anonymous shared mapping, and reports the rate.
//!
//! ```text
//! cargo run --release -p interlink-examples --bin spsc_stream -- [COUNT]
//! ```
//!
//! The child checks every number: none lost, duplicated or reordered.

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use interlink_examples::cli;

use interlink_core::spsc::SpscRing;
use interlink_core::RingConfig;
use interlink_linux::process::{self, fork, Exit};
use interlink_linux::shm::Mapping;

const CAPACITY: u32 = 4096;
const BATCH: usize = 64;

const PROGRAM: &str = "spsc_stream";

/// Streams 0..COUNT from a parent to a forked child through an SPSC ring in
/// shared memory; the child checks every value; the rate is printed.
#[derive(Parser)]
#[command(name = PROGRAM)]
struct Args {
    /// How many u64 values to stream (at least 1).
    #[arg(default_value_t = 10_000_000, value_parser = cli::positive)]
    count: u64,
}

/// The child's exit statuses and what they mean.
const CHILD_FAILURES: [(i32, &str); 3] = [
    (2, "could not attach as the consumer"),
    (
        3,
        "a value arrived out of order (lost, duplicated or reordered)",
    ),
    (4, "the ring refused a pop"),
];

fn main() -> ExitCode {
    let args = Args::parse();
    cli::run(PROGRAM, || stream(args.count))
}

fn stream(count: u64) -> cli::Result {
    let map = Mapping::anonymous(SpscRing::<u64>::bytes_needed(CAPACITY)?)?;
    let config = RingConfig::new(CAPACITY).with_creator_pid(process::current_pid());
    let ring = SpscRing::<u64>::init(map.region(), config)?;

    // The child consumes on CPU 1, the parent produces on CPU 0 (when the
    // machine has them; pinning is best effort).
    let mut child = fork(|| {
        let _ = process::pin_to_cpu(1);
        let Ok(mut rx) = ring.consumer(process::holder()) else {
            return 2;
        };
        let mut buf = [0u64; BATCH];
        let mut expected = 0;
        while expected < count {
            match rx.try_recv_slice(&mut buf) {
                Ok(n) => {
                    for &v in &buf[..n] {
                        if v != expected {
                            return 3;
                        }
                        expected += 1;
                    }
                    if n == 0 {
                        std::hint::spin_loop();
                    }
                }
                Err(_) => return 4,
            }
        }
        0
    })?;
    let _ = process::pin_to_cpu(0);
    let mut tx = ring.producer(process::holder())?;

    let start = Instant::now();
    let mut batch = [0u64; BATCH];
    let mut next = 0u64;
    let mut idle = 0u32;
    while next < count {
        let n = (count - next).min(BATCH as u64) as usize;
        for (i, slot) in batch[..n].iter_mut().enumerate() {
            *slot = next + i as u64;
        }
        let pushed = tx.try_send_slice(&batch[..n])?;
        next += pushed as u64;
        if pushed == 0 {
            idle += 1;
            if idle.is_multiple_of(1 << 20) && child.try_wait()?.is_some() {
                return Err("the consumer process ended early".into());
            }
            std::hint::spin_loop();
        }
    }
    let exit = child.wait()?;
    let elapsed = start.elapsed();
    match exit {
        Exit::Code(0) => {}
        Exit::Code(code) => {
            let why = CHILD_FAILURES
                .iter()
                .find(|(c, _)| *c == code)
                .map_or("", |(_, why)| why);
            return Err(format!("the consumer {}: {why}", cli::exit_text(exit)).into());
        }
        other => return Err(format!("the consumer {}", cli::exit_text(other)).into()),
    }
    let rate = count as f64 / elapsed.as_secs_f64();
    println!(
        "{count} u64 values, parent -> child, in {:.3} s: {:.1} M/s ({:.2} GB/s), all in order",
        elapsed.as_secs_f64(),
        rate / 1e6,
        rate * 8.0 / 1e9
    );
    Ok(())
}
