//! Streams sequence numbers from a parent process to a forked child through
//! an SPSC ring in an anonymous shared mapping, and reports the rate.
//!
//! ```text
//! cargo run --release -p interlink-examples --bin spsc_stream -- [COUNT]
//! ```
//!
//! The child checks every number: none lost, duplicated or reordered.

use std::time::Instant;

use interlink_core::spsc::SpscRing;
use interlink_core::RingConfig;
use interlink_linux::process::{self, fork, Exit};
use interlink_linux::shm::Mapping;

const CAPACITY: u32 = 4096;
const BATCH: usize = 64;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: u64 = match std::env::args().nth(1) {
        Some(arg) => arg.parse().map_err(|e| format!("COUNT {arg:?}: {e}"))?,
        None => 10_000_000,
    };
    let map = Mapping::anonymous(SpscRing::<u64>::bytes_needed(CAPACITY)?)?;
    let config = RingConfig::new(CAPACITY).with_creator_pid(process::current_pid());
    let ring = SpscRing::<u64>::init(map.region(), config)?;

    // The child consumes on CPU 1, the parent produces on CPU 0 (when the
    // machine has them; pinning is best effort).
    let mut child = fork(|| {
        let _ = process::pin_to_cpu(1);
        let Ok(mut rx) = ring.consumer(process::current_pid()) else {
            return 2;
        };
        let mut buf = [0u64; BATCH];
        let mut expected = 0;
        while expected < count {
            match rx.pop_into(&mut buf) {
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
    let mut tx = ring.producer(process::current_pid())?;

    let start = Instant::now();
    let mut batch = [0u64; BATCH];
    let mut next = 0u64;
    let mut idle = 0u32;
    while next < count {
        let n = (count - next).min(BATCH as u64) as usize;
        for (i, slot) in batch[..n].iter_mut().enumerate() {
            *slot = next + i as u64;
        }
        let pushed = tx.push_slice(&batch[..n])?;
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
        other => return Err(format!("consumer failed: {other:?}").into()),
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
