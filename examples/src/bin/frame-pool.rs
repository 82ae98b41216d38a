//! A camera publishing 4 MiB frames to two consumer processes without a
//! copy: each frame is written once into a block of a named pool, and only
//! its 12-byte handle crosses to each consumer, over an SPSC channel of
//! its own. Each consumer reads the frame in place and drops it; the block
//! goes back to the pool when both have.
//!
//! ```text
//! cargo run --release -p interlink-examples --bin frame-pool -- [FRAMES]   # default 500
//! ```
//!
//! The camera shares each frame with the consumers by pid
//! (`Recipient::Holder`), so the pool knows who holds what: were a
//! consumer to die holding frames, the camera's next waiting loan would
//! take them back (`PoolHandle::gc`), and an exhausted pool's error names
//! the consumer that sits on it.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use interlink_core::pool::{Handle, Recipient};
use interlink_core::RingConfig;
use interlink_examples::cli;
use interlink_linux::channel::pool::PoolChannel;
use interlink_linux::channel::{ChannelOptions, SpscChannel};
use interlink_linux::process::{self, fork};

const PROGRAM: &str = "frame-pool";
/// Bytes in a frame (and a block).
const FRAME: u32 = 4 << 20;
/// Blocks in the pool: frames the consumers may lag behind by.
const BLOCKS: u32 = 8;
const WAIT: Duration = Duration::from_secs(10);

/// Publishes frames to two consumer processes through a block pool.
#[derive(Parser)]
#[command(name = PROGRAM)]
struct Args {
    /// Frames to publish.
    #[arg(default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..))]
    frames: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::run(PROGRAM, || camera(args.frames))
}

fn camera(frames: u64) -> cli::Result {
    let base = format!("/interlink-frame-pool-{}", process::current_pid());
    let options = ChannelOptions::new();
    let pool = PoolChannel::<FRAME>::create(&base, RingConfig::new(BLOCKS), &options)?;
    let names = [format!("{base}-a"), format!("{base}-b")];
    let channels = names
        .iter()
        .map(|n| SpscChannel::<Handle>::create(n, RingConfig::new(16), &options))
        .collect::<Result<Vec<_>, _>>()?;
    let mut senders = channels
        .iter()
        .map(|c| c.sender())
        .collect::<Result<Vec<_>, _>>()?;
    let consumers = names
        .iter()
        .map(|n| {
            let (pool, name) = (base.clone(), n.clone());
            fork(move || match consume(&pool, &name, frames) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("{PROGRAM}: consumer: {}", cli::describe(e.as_ref()));
                    1
                }
            })
        })
        .collect::<Result<Vec<_>, _>>()?;

    let p = pool.pool()?;
    let start = Instant::now();
    for n in 0..frames {
        let mut loan = p.loan_timeout(WAIT)?;
        draw(loan.as_mut_slice(), n);
        loan.publish(FRAME)?;
        for (consumer, tx) in consumers.iter().zip(&mut senders) {
            let handle = loan.share(Recipient::Holder(consumer.holder()))?;
            tx.send_timeout(handle, WAIT)?;
        }
    }
    let elapsed = start.elapsed();
    let mut failed = false;
    for c in consumers {
        let exit = c.wait()?;
        failed |= !exit.success();
    }
    let gib = frames as f64 * FRAME as f64 / f64::from(1 << 30);
    println!(
        "camera: {frames} frames of {} MiB to 2 consumers in {elapsed:?}: {:.0} frames/s, {:.1} GiB/s of frames, {:?} a frame",
        FRAME >> 20,
        frames as f64 / elapsed.as_secs_f64(),
        gib / elapsed.as_secs_f64(),
        elapsed / frames.max(1) as u32,
    );
    if failed {
        return Err("a consumer failed".into());
    }
    Ok(())
}

/// Opens the pool and this consumer's channel, and checks every frame in
/// place: its number in the first and last 8 bytes and a sparse pattern.
fn consume(pool: &str, channel: &str, frames: u64) -> cli::Result {
    let options = ChannelOptions::new();
    let pool = PoolChannel::<FRAME>::open(pool, &options)?;
    let handles = SpscChannel::<Handle>::open(channel, &options)?;
    let (p, mut rx) = (pool.pool()?, handles.receiver()?);
    for n in 0..frames {
        let handle = rx.recv_timeout(WAIT)?;
        let frame = p.accept(&handle)?;
        if !drawn(frame.as_slice(), n) {
            return Err(format!("frame {n} is not what the camera drew").into());
        }
    }
    println!(
        "consumer {}: {frames} frames checked",
        process::current_pid()
    );
    Ok(())
}

/// Stamps frame `n`: its number at both ends, and a byte every 4 KiB.
fn draw(frame: &mut [u8], n: u64) {
    let len = frame.len();
    frame[..8].copy_from_slice(&n.to_le_bytes());
    frame[len - 8..].copy_from_slice(&n.to_le_bytes());
    for (i, page) in frame.chunks_mut(4096).enumerate().skip(1) {
        page[0] = (n as u8).wrapping_add(i as u8);
    }
}

/// Whether `frame` is frame `n` as [`draw`] made it.
fn drawn(frame: &[u8], n: u64) -> bool {
    let len = frame.len();
    len >= 16
        && frame[..8] == n.to_le_bytes()
        && frame[len - 8..] == n.to_le_bytes()
        && frame
            .chunks(4096)
            .enumerate()
            .skip(1)
            .all(|(i, page)| page[0] == (n as u8).wrapping_add(i as u8))
}
