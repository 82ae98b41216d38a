//! An engine's event loop: one thread waits, in one `epoll_wait`, on three
//! shared-memory channels, a Unix socket for status requests and a
//! `signalfd` for a clean shutdown.
//!
//! ```text
//! cargo run -p interlink-examples --bin engine-loop -- serve /engine /tmp/engine.sock &
//! cargo run -p interlink-examples --bin engine-loop -- feed /engine 0 100000 &
//! cargo run -p interlink-examples --bin engine-loop -- feed /engine 2 100000
//! cargo run -p interlink-examples --bin engine-loop -- status /tmp/engine.sock
//! kill -TERM %1      # drains every channel, prints the totals, exits 0
//! ```
//!
//! `serve` creates the channels `PREFIX-0`, `PREFIX-1` and `PREFIX-2` (SPSC
//! rings of `u64`) and turns each receiver's readiness into a descriptor
//! (`Channel::readiness`). The loop drains whatever is there without a
//! syscall; only when every channel is empty does it *arm* the three
//! descriptors (each arm re-checks its channel, so nothing sent meanwhile
//! is slept through) and sleep in `epoll_wait` with the socket and the
//! `signalfd`. While feeders keep the channels busy, the loop and the
//! feeders make no syscall at all.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use interlink_core::RingConfig;
use interlink_examples::cli;
use interlink_linux::channel::{ChannelOptions, Receiver, SpscChannel};
use interlink_linux::readiness::Readiness;
use interlink_linux::signal::{SignalFd, SignalSet};
use interlink_linux::socket::{SeqPacket, SeqPacketListener};

const PROGRAM: &str = "engine-loop";

/// How many channels the engine drains.
const CHANNELS: usize = 3;

/// epoll tokens beyond the channels' (0..CHANNELS).
const LISTENER: u64 = 100;
const SIGNALS: u64 = 101;
/// Clients are `CLIENT + index`.
const CLIENT: u64 = 1000;

/// An engine loop over three channels, a socket and a signalfd (serve),
/// a feeder (feed) and a status query (status).
#[derive(Parser)]
#[command(name = PROGRAM)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create PREFIX-0..2, answer status requests on SOCKET, and sum what
    /// arrives until SIGTERM or SIGINT (then drain, print, exit 0).
    Serve {
        /// The channels' name prefix (`/NAME`).
        prefix: String,
        /// The Unix socket path for status requests.
        socket: String,
    },
    /// Open channel PREFIX-INDEX and send 1..=COUNT.
    Feed {
        /// The channels' name prefix (`/NAME`).
        prefix: String,
        /// Which channel (0, 1 or 2).
        #[arg(value_parser = clap::value_parser!(u8).range(0..CHANNELS as i64))]
        index: u8,
        /// How many values to send (at least 1).
        #[arg(value_parser = cli::positive)]
        count: u64,
    },
    /// Ask the engine at SOCKET how much it has received.
    Status {
        /// The engine's Unix socket path.
        socket: String,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::run(PROGRAM, || match &args.command {
        Command::Serve { prefix, socket } => serve(prefix, socket),
        Command::Feed {
            prefix,
            index,
            count,
        } => feed(prefix, *index, *count),
        Command::Status { socket } => status(socket),
    })
}

fn channel_name(prefix: &str, index: usize) -> String {
    format!("{prefix}-{index}")
}

/// An epoll set.
struct Epoll(OwnedFd);

impl Epoll {
    fn new() -> cli::Result<Self> {
        // SAFETY: no pointer arguments.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        // SAFETY: a fresh descriptor nothing else owns.
        Ok(Self(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Watches `fd` for input, reported as `token`.
    fn add(&self, fd: BorrowedFd<'_>, token: u64) -> cli::Result {
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: both descriptors are open; `event` is a valid event.
        let r = unsafe {
            libc::epoll_ctl(
                self.0.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                fd.as_raw_fd(),
                &mut event,
            )
        };
        if r != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        Ok(())
    }

    /// Sleeps until something is ready; the tokens of what is.
    fn wait(&self, tokens: &mut Vec<u64>) -> cli::Result {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 16];
        // SAFETY: `events` has room for the 16 events asked for.
        let n = unsafe { libc::epoll_wait(self.0.as_raw_fd(), events.as_mut_ptr(), 16, -1) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            return if e.raw_os_error() == Some(libc::EINTR) {
                Ok(())
            } else {
                Err(e.into())
            };
        }
        tokens.extend(events[..n as usize].iter().map(|e| e.u64));
        Ok(())
    }
}

/// What the engine has received.
#[derive(Default)]
struct Totals {
    items: u64,
    sum: u64,
}

impl Totals {
    /// Takes everything there is from `rx`, without waiting; whether
    /// anything was there.
    fn drain(&mut self, rx: &mut Receiver<'_, u64>) -> cli::Result<bool> {
        let mut batch = [0u64; 256];
        let mut any = false;
        loop {
            let n = rx.try_recv_slice(&mut batch)?;
            if n == 0 {
                return Ok(any);
            }
            any = true;
            self.items += n as u64;
            self.sum = batch[..n].iter().fold(self.sum, |s, &v| s.wrapping_add(v));
        }
    }

    fn text(&self) -> String {
        format!("items {} sum {}", self.items, self.sum)
    }
}

fn serve(prefix: &str, socket_path: &str) -> cli::Result {
    // Before any thread exists (the readiness helpers are threads): they
    // inherit the mask, so the signals wait in the kernel for the fd.
    let signals = SignalSet::of(&[libc::SIGTERM, libc::SIGINT])?;
    signals.block()?;
    let signal_fd = SignalFd::new(&signals)?;

    let options = ChannelOptions::new();
    let channels = (0..CHANNELS)
        .map(|i| {
            SpscChannel::<u64>::create(&channel_name(prefix, i), RingConfig::new(4096), &options)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut receivers = channels
        .iter()
        .map(SpscChannel::receiver)
        .collect::<Result<Vec<_>, _>>()?;
    let readiness = channels
        .iter()
        .zip(&receivers)
        .map(|(ch, rx)| ch.readiness(rx))
        .collect::<Result<Vec<Readiness>, _>>()?;
    let listener = SeqPacketListener::bind_path(socket_path)?;

    let epoll = Epoll::new()?;
    for (i, r) in readiness.iter().enumerate() {
        epoll.add(r.as_fd(), i as u64)?;
    }
    epoll.add(listener.as_fd(), LISTENER)?;
    epoll.add(signal_fd.as_fd(), SIGNALS)?;
    let mut clients: Vec<Option<SeqPacket>> = Vec::new();
    println!(
        "ready: {}-0..{} and {socket_path} (pid {})",
        prefix,
        CHANNELS - 1,
        std::process::id()
    );

    let mut totals = Totals::default();
    let mut tokens = Vec::new();
    loop {
        // Take what is there; only an empty round may sleep.
        let mut progress = false;
        for rx in &mut receivers {
            progress |= totals.drain(rx)?;
        }
        if progress {
            continue;
        }
        // Arm every channel's descriptor; one that turns out ready means
        // another round instead of a sleep.
        let ready_now = readiness
            .iter()
            .zip(&receivers)
            .fold(false, |ready, (r, rx)| r.arm(rx) || ready);
        if ready_now {
            continue;
        }
        tokens.clear();
        epoll.wait(&mut tokens)?;
        for &token in &tokens {
            match token {
                t if t < CHANNELS as u64 => readiness[t as usize].clear(),
                LISTENER => {
                    let client = listener.accept()?;
                    epoll.add(client.as_fd(), CLIENT + clients.len() as u64)?;
                    clients.push(Some(client));
                }
                SIGNALS => {
                    let Some(info) = signal_fd.try_read()? else {
                        continue;
                    };
                    for rx in &mut receivers {
                        totals.drain(rx)?;
                    }
                    println!("stopped by signal {}: {}", info.signal, totals.text());
                    return Ok(()); // the channels drop: their names go
                }
                t => {
                    let index = (t - CLIENT) as usize;
                    let Some(Some(client)) = clients.get(index) else {
                        continue;
                    };
                    let mut request = [0u8; 64];
                    match client.recv(&mut request) {
                        Ok(n) if &request[..n] == b"status" => {
                            let _ = client.send(totals.text().as_bytes());
                        }
                        // Closed (or garbage): forget it; dropping closes it
                        // and takes it out of the epoll set.
                        _ => clients[index] = None,
                    }
                }
            }
        }
    }
}

fn feed(prefix: &str, index: u8, count: u64) -> cli::Result {
    let name = channel_name(prefix, usize::from(index));
    let options = ChannelOptions::new();
    cli::waiting(
        PROGRAM,
        &format!("the engine to create {name}"),
        Some(options.open_timeout),
    );
    let channel = SpscChannel::<u64>::open(&name, &options)?;
    let mut tx = channel.sender()?;
    for v in 1..=count {
        tx.send(v)?;
    }
    println!("sent {count} values to {name}");
    Ok(())
}

fn status(socket_path: &str) -> cli::Result {
    let socket = SeqPacket::connect_path(socket_path)?;
    socket.send(b"status")?;
    let mut reply = [0u8; 128];
    let n = socket.recv(&mut reply)?;
    println!("{}", String::from_utf8_lossy(&reply[..n]));
    Ok(())
}
