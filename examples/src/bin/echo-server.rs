//! An echo server over TCP loopback or a Unix stream socket: every byte a
//! client sends comes back unchanged. Pair it with `echo-client`.
//!
//! ```text
//! cargo run -p interlink-examples --bin echo-server -- --tcp 127.0.0.1:7878 [--clients N]
//! cargo run -p interlink-examples --bin echo-server -- --unix /tmp/echo.sock [--clients N]
//! ```
//!
//! It prints `listening on ...` (with the real port when given port 0),
//! serves clients one after another, and exits after `N` of them (default:
//! never; a connection that sends nothing is not counted). The server knows nothing of messages: a stream socket carries
//! bytes, not messages, and the client's framing survives the round trip
//! because the bytes do. The Unix listener is the shim's `socket::Listener`,
//! which removes its socket file when dropped; std provides the rest.
//!
//! A server killed with SIGKILL or Ctrl-C runs no `Drop`, so its socket
//! file stays behind and a plain `bind` would fail with `EADDRINUSE`. On
//! that error the server tries to connect to the file: refused means
//! nobody listens there (a stale file), which it removes before binding
//! again; accepted means a server is running, and the error says so. A
//! file that is not a socket is never removed.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args as ClapArgs, Parser};
use interlink_examples::cli;
use interlink_linux::socket::Listener;

const PROGRAM: &str = "echo-server";

/// A client that sends nothing for this long is dropped.
const IDLE: Duration = Duration::from_secs(10);

/// Echoes every byte each client sends, over TCP or a Unix stream socket.
#[derive(Parser)]
#[command(name = PROGRAM)]
struct Args {
    #[command(flatten)]
    on: Transport,
    /// Exit after serving this many clients (default: serve forever).
    /// Connections that send nothing are not counted.
    #[arg(long, value_name = "N", value_parser = cli::positive)]
    clients: Option<u64>,
}

/// Where to listen: exactly one of the two.
#[derive(ClapArgs)]
#[group(required = true, multiple = false)]
struct Transport {
    /// Listen on a TCP address (port 0: any free port, printed).
    #[arg(long, value_name = "ADDR")]
    tcp: Option<String>,
    /// Listen on a Unix stream socket at this path (a stale socket file
    /// left by a killed server is replaced).
    #[arg(long, value_name = "PATH")]
    unix: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::run(PROGRAM, || serve(&args))
}

fn serve(args: &Args) -> cli::Result {
    let clients = args.clients.unwrap_or(u64::MAX);
    if let Some(addr) = &args.on.tcp {
        let listener = TcpListener::bind(addr).map_err(|e| format!("bind tcp {addr}: {e}"))?;
        println!("listening on tcp {}", listener.local_addr()?);
        let mut n = 0;
        while n < clients {
            let (stream, peer) = listener.accept()?;
            stream.set_read_timeout(Some(IDLE))?;
            let bytes = echo(stream).map_err(|e| format!("client {} ({peer}): {e}", n + 1))?;
            if counts(bytes) {
                n += 1;
                println!("client {n} ({peer}): echoed {bytes} bytes");
            }
        }
    } else if let Some(path) = &args.on.unix {
        let listener = bind_unix(path)?;
        println!("listening on unix {path}");
        let mut n = 0;
        while n < clients {
            let (stream, _) = listener.accept()?;
            stream.set_read_timeout(Some(IDLE))?;
            let bytes = echo(stream).map_err(|e| format!("client {}: {e}", n + 1))?;
            if counts(bytes) {
                n += 1;
                println!("client {n}: echoed {bytes} bytes");
            }
        }
        // `listener` drops here and removes the socket file.
    }
    Ok(())
}

/// Whether a connection that carried `bytes` counts as a client. One that
/// sent nothing does not: it is what another server's liveness probe (see
/// [`bind_unix`]) looks like, and it must not use up `--clients`.
fn counts(bytes: u64) -> bool {
    if bytes == 0 {
        eprintln!("{PROGRAM}: a connection that sent nothing (not counted as a client)");
    }
    bytes > 0
}

/// Binds at `path`, replacing a stale socket file (one nobody listens on).
fn bind_unix(path: &str) -> cli::Result<Listener> {
    let e = match Listener::bind(path) {
        Ok(listener) => return Ok(listener),
        Err(e) if e.is(libc::EADDRINUSE) => e,
        Err(e) => return Err(e.into()),
    };
    let meta = std::fs::symlink_metadata(path).map_err(|e| format!("{path}: {e}"))?;
    if !meta.file_type().is_socket() {
        return Err(format!(
            "{path} exists and is not a socket: {e}; choose another path, or remove it if \
             nothing needs it"
        )
        .into());
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(format!(
            "another server is listening on {path} ({e}); stop it or choose another path"
        )
        .into()),
        Err(c) if c.raw_os_error() == Some(libc::ECONNREFUSED) => {
            // Nobody listens: the file was left by a server that died.
            std::fs::remove_file(path).map_err(|e| format!("removing stale {path}: {e}"))?;
            eprintln!("{PROGRAM}: replaced the stale socket file {path} (nobody listened on it)");
            Ok(Listener::bind(path)?)
        }
        Err(c) => Err(format!(
            "{e}; could not tell whether a server still listens there (connect: {c}); remove \
             {path} if none does"
        )
        .into()),
    }
}

/// Writes back whatever arrives until the client shuts its side down
/// (`read` returns 0); returns the byte count.
fn echo(mut stream: impl Read + Write) -> std::io::Result<u64> {
    let mut buf = [0u8; 4096];
    let mut total = 0;
    loop {
        // A read returns whatever has arrived: part of a client's write,
        // or several writes run together.
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        stream.write_all(&buf[..n])?;
        total += n as u64;
    }
}
