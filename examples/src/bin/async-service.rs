//! A tokio service that receives from an interlink channel and a TCP socket
//! at once, with `select!`: values arrive on the channel from a plain
//! (blocking) feeder process; TCP clients ask for the running total.
//!
//! ```text
//! cargo run -p interlink-examples --bin async-service -- serve /prices 100000 &
//! cargo run -p interlink-examples --bin async-service -- feed /prices 100000
//! ```
//!
//! `serve` creates the SPSC channel `/NAME`, prints the TCP port it listens
//! on (`127.0.0.1`, chosen by the kernel), and stops once COUNT values have
//! arrived, printing their sum. A TCP client that sends `total\n` gets the
//! count and sum so far. The channel end is an `AsyncReceiver`: while
//! values keep coming it receives them without a syscall; idle, it sleeps
//! in tokio's reactor beside the socket, not in a thread of its own.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use interlink_core::RingConfig;
use interlink_examples::cli;
use interlink_linux::channel::{AsyncReceiver, ChannelOptions, SpscChannel};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const PROGRAM: &str = "async-service";

/// A tokio service over a channel and a TCP socket (serve), and a blocking
/// feeder for its channel (feed).
#[derive(Parser)]
#[command(name = PROGRAM)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the channel /NAME, listen on a TCP port, and sum COUNT values.
    Serve {
        /// The channel's shm name (`/NAME`).
        name: String,
        /// How many values to receive before stopping (at least 1).
        #[arg(value_parser = cli::positive)]
        count: u64,
    },
    /// Open /NAME and send 1..=COUNT with the plain blocking sender.
    Feed {
        /// The channel's shm name (`/NAME`).
        name: String,
        /// How many values to send (at least 1).
        #[arg(value_parser = cli::positive)]
        count: u64,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::run(PROGRAM, || match &args.command {
        Command::Serve { name, count } => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(serve(name, *count))
        }
        Command::Feed { name, count } => feed(name, *count),
    })
}

async fn serve(name: &str, count: u64) -> cli::Result {
    let channel = SpscChannel::<u64>::create(name, RingConfig::new(4096), &ChannelOptions::new())?;
    let mut rx = AsyncReceiver::new(&channel)?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("ready: {name}, port {}", listener.local_addr()?.port());
    let (mut items, mut sum) = (0u64, 0u64);
    while items < count {
        // Both futures are cancellation-safe: whichever loses the race
        // loses nothing (a value not taken stays in the ring).
        tokio::select! {
            value = rx.recv() => {
                items += 1;
                sum = sum.wrapping_add(value?);
            }
            accepted = listener.accept() => {
                let (client, _) = accepted?;
                answer(client, items, sum).await;
            }
        }
    }
    println!("received {items} values, sum {sum}");
    Ok(())
}

/// Answers one request line of `client` (`total`) with the totals so far.
async fn answer(client: TcpStream, items: u64, sum: u64) {
    let (read, mut write) = client.into_split();
    let mut line = String::new();
    if BufReader::new(read).read_line(&mut line).await.is_ok() && line.trim() == "total" {
        let _ = write
            .write_all(format!("items {items} sum {sum}\n").as_bytes())
            .await;
    }
}

fn feed(name: &str, count: u64) -> cli::Result {
    let options = ChannelOptions::new();
    cli::waiting(
        PROGRAM,
        &format!("the service to create {name}"),
        Some(options.open_timeout),
    );
    let channel = SpscChannel::<u64>::open(name, &options)?;
    let mut tx = channel.sender()?;
    for v in 1..=count {
        tx.send(v)?;
    }
    println!("sent {count} values to {name}");
    Ok(())
}
