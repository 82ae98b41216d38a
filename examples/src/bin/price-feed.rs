//! A market-data feed read by several strategy processes through one named
//! broadcast channel: the feed never waits for a strategy, and a strategy
//! too slow to keep up is told exactly how many ticks it missed.
//!
//! ```text
//! cargo run --release -p interlink-examples --bin price-feed -- [--strategies 3] [--ticks 200000] [--rate 100000]
//! ```
//!
//! The feed creates the broadcast channel `NAME` (64 KiB: about 1600
//! ticks) and forks the strategies. Each strategy opens the channel **by
//! name** — strategy 0 read-only (`PROT_READ`: it cannot write a byte of
//! the object), the others read-write — makes a reader and says it is
//! ready through a pipe; then the feed publishes `TICKS` ticks (at most
//! `--rate` a second, or with `--rate 0` as fast as it can) and one
//! end-of-feed record. Strategy `i` spends `i × WORK` spin hints on each
//! tick, so the later ones fall behind and get lapped: they receive
//! `Lapped { missed }`, resume at the oldest tick still in the buffer, and
//! go on. Each tick carries its number, a symbol, a price and a checksum
//! over them, so a strategy checks that no tick it received was torn and
//! that they arrive in order. At the end each prints
//!
//! ```text
//! strategy 2: received 61234, missed 138766 (of 200000 ticks), last tick 199999, read-write
//! ```
//!
//! and exits with status 1 if `received + missed` is not the number of
//! ticks, or a tick was torn or out of order. The feed prints its totals
//! and exits with status 1 if a strategy failed.

use std::hint::spin_loop;
use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use interlink_core::broadcast::Start;
use interlink_core::{RecvError, RingConfig};
use interlink_examples::cli;
use interlink_linux::channel::{BroadcastChannel, BroadcastReader, ChannelOptions};
use interlink_linux::pipe::{self, IoMode};
use interlink_linux::process::{fork, Exit};

const PROGRAM: &str = "price-feed";

/// The channel's capacity in bytes (a tick's record takes 56).
const CAPACITY: u32 = 1 << 16;
/// Tag of a tick record.
const TICK: u32 = 1;
/// Tag of the end-of-feed record (the last one written).
const END: u32 = 2;
/// No wait lasts longer: a feed that vanished makes a strategy give up.
const PATIENCE: Duration = Duration::from_secs(30);
/// The symbols ticks rotate through.
const SYMBOLS: [&str; 4] = ["AAPL", "MSFT", "NVDA", "TSLA"];

/// A feed publishing ticks through a named broadcast channel to several
/// strategy processes, one of them read-only; prints what each received
/// and missed.
#[derive(Parser)]
#[command(name = PROGRAM)]
struct Args {
    /// Strategy processes (strategy 0 maps the channel read-only).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=16))]
    strategies: u32,
    /// Ticks to publish.
    #[arg(long, default_value_t = 200_000, value_parser = cli::positive)]
    ticks: u64,
    /// Spin hints strategy `i` spends on each tick, times `i`.
    #[arg(long, default_value_t = 200)]
    work: u32,
    /// Ticks per second the feed publishes at most (0: as fast as it can).
    #[arg(long, default_value_t = 100_000)]
    rate: u64,
    /// The channel's name (default: `/price-feed-PID`).
    #[arg(long)]
    name: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::run(PROGRAM, || run(&args))
}

/// One tick as it travels: number, symbol, price in cents, checksum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Tick {
    seq: u64,
    symbol: u32,
    cents: u64,
}

impl Tick {
    /// Bytes of an encoded tick.
    const LEN: usize = 32;

    /// Tick `seq` of the feed: a deterministic walk of prices.
    fn nth(seq: u64) -> Self {
        let symbol = (seq % SYMBOLS.len() as u64) as u32;
        let walk = seq.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 54; // 0..1024
        Tick {
            seq,
            symbol,
            cents: 10_000 + 1_000 * u64::from(symbol) + walk,
        }
    }

    fn checksum(&self) -> u64 {
        (self.seq ^ 0x5851_f42d_4c95_7f2d)
            .wrapping_mul(0x2545_f491_4f6c_dd1d)
            .wrapping_add(u64::from(self.symbol) << 40)
            ^ self.cents.rotate_left(17)
    }

    fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        b[..8].copy_from_slice(&self.seq.to_le_bytes());
        b[8..12].copy_from_slice(&self.symbol.to_le_bytes());
        b[16..24].copy_from_slice(&self.cents.to_le_bytes());
        b[24..].copy_from_slice(&self.checksum().to_le_bytes());
        b
    }

    /// The tick in `b`, or `None` if its checksum does not match (torn).
    fn decode(b: &[u8]) -> Option<Self> {
        let b: &[u8; Self::LEN] = b.try_into().ok()?;
        let word = |r: std::ops::Range<usize>| {
            let mut w = [0u8; 8];
            w[..r.len()].copy_from_slice(&b[r]);
            u64::from_le_bytes(w)
        };
        let tick = Tick {
            seq: word(0..8),
            symbol: word(8..12) as u32,
            cents: word(16..24),
        };
        (tick.checksum() == word(24..32) && tick.symbol < SYMBOLS.len() as u32).then_some(tick)
    }
}

fn run(args: &Args) -> cli::Result {
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("/price-feed-{}", std::process::id()));
    let feed = BroadcastChannel::create(&name, RingConfig::new(CAPACITY), &ChannelOptions::new())?;
    let mut tx = feed.writer()?;
    let (ready_rx, ready_tx) = pipe::pipe(IoMode::Blocking)?;
    // Anything buffered would be printed again by every child.
    std::io::stdout().flush()?;
    let mut children = Vec::new();
    for i in 0..args.strategies {
        let (name, ticks, work) = (name.as_str(), args.ticks, args.work);
        let ready = &ready_tx;
        children.push(fork(move || {
            match strategy(i, name, ticks, work.saturating_mul(i), ready) {
                Ok(true) => 0,
                Ok(false) => 1,
                Err(e) => {
                    eprintln!("{PROGRAM}: strategy {i}: {}", cli::describe(e.as_ref()));
                    1
                }
            }
        })?);
    }
    drop(ready_tx);
    // One byte from each strategy once its reader exists; end of file
    // early if one died first.
    let mut ready = vec![0u8; args.strategies as usize];
    (&ready_rx).read_exact(&mut ready)?;

    let start = Instant::now();
    for seq in 0..args.ticks {
        if args.rate > 0 {
            // Tick `seq` is due `seq / rate` seconds after the start.
            let due = Duration::from_secs_f64(seq as f64 / args.rate as f64);
            while start.elapsed() < due {
                spin_loop();
            }
        }
        tx.send(TICK, &Tick::nth(seq).encode())?;
    }
    tx.send(END, &[])?;
    println!(
        "feed: published {} ticks to {} strategies through {name}",
        args.ticks, args.strategies
    );

    let mut failed = 0;
    for (i, child) in children.into_iter().enumerate() {
        match child.wait()? {
            Exit::Code(0) => {}
            other => {
                eprintln!("{PROGRAM}: strategy {i} {}", cli::exit_text(other));
                failed += 1;
            }
        }
    }
    if failed > 0 {
        return Err(format!("{failed} of {} strategies failed", args.strategies).into());
    }
    Ok(())
}

/// A strategy process: opens the feed by name, says it is ready, reads
/// every tick it can until the end-of-feed record, checking each; prints
/// its counts. `Ok(false)` if a check failed.
fn strategy(i: u32, name: &str, ticks: u64, work: u32, ready: &pipe::Writer) -> cli::Result<bool> {
    let options = ChannelOptions::new();
    if i == 0 {
        let feed = BroadcastChannel::open_read_only(name, &options)?;
        let reader = feed.reader(Start::Next)?;
        read_feed(i, reader, ticks, work, ready, "read-only")
    } else {
        let feed = BroadcastChannel::open(name, &options)?;
        let reader = feed.reader(Start::Next)?;
        read_feed(i, reader, ticks, work, ready, "read-write")
    }
}

fn read_feed(
    i: u32,
    mut rx: BroadcastReader<'_>,
    ticks: u64,
    work: u32,
    mut ready: &pipe::Writer,
    mapping: &str,
) -> cli::Result<bool> {
    ready.write_all(&[1])?;
    let mut buf = [0u8; Tick::LEN];
    let (mut got, mut missed) = (0u64, 0u64);
    let mut last: Option<u64> = None;
    let mut ok = true;
    loop {
        match rx.recv_timeout(&mut buf, PATIENCE) {
            Ok((TICK, len)) => match Tick::decode(&buf[..len]) {
                Some(tick) if tick == Tick::nth(tick.seq) && last.is_none_or(|l| tick.seq > l) => {
                    got += 1;
                    last = Some(tick.seq);
                    for _ in 0..work {
                        spin_loop();
                    }
                }
                other => {
                    eprintln!("{PROGRAM}: strategy {i}: bad tick {other:?} after {last:?}");
                    ok = false;
                }
            },
            Ok((END, _)) => break,
            Ok((tag, _)) => return Err(format!("a record with unknown tag {tag}").into()),
            Err(RecvError::Lapped { missed: m }) => missed += m,
            Err(e) => return Err(e.into()),
        }
    }
    let last = last.map_or("none".to_owned(), |l| l.to_string());
    println!(
        "strategy {i}: received {got}, missed {missed} (of {ticks} ticks), last tick {last}, {mapping}"
    );
    if got + missed != ticks {
        eprintln!("{PROGRAM}: strategy {i}: received + missed is not {ticks}");
        ok = false;
    }
    Ok(ok)
}
