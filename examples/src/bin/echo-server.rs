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
//! never). The server knows nothing of messages: a stream socket carries
//! bytes, not messages, and the client's framing survives the round trip
//! because the bytes do. The Unix listener is the shim's `socket::Listener`,
//! which removes its socket file when dropped; std provides the rest.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use interlink_linux::socket::Listener;

/// A client that sends nothing for this long is dropped.
const IDLE: Duration = Duration::from_secs(10);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: echo-server (--tcp ADDR | --unix PATH) [--clients N]";
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (flag, addr) = match args.as_slice() {
        [flag, addr, ..] => (flag.as_str(), addr.as_str()),
        _ => return Err(usage.into()),
    };
    let clients = match &args[2..] {
        [] => u64::MAX,
        [opt, n] if opt == "--clients" => n.parse()?,
        _ => return Err(usage.into()),
    };

    match flag {
        "--tcp" => {
            let listener = TcpListener::bind(addr)?;
            println!("listening on tcp {}", listener.local_addr()?);
            for n in 1..=clients {
                let (stream, peer) = listener.accept()?;
                stream.set_read_timeout(Some(IDLE))?;
                let bytes = echo(stream)?;
                println!("client {n} ({peer}): echoed {bytes} bytes");
            }
        }
        "--unix" => {
            let listener = Listener::bind(addr)?;
            println!("listening on unix {addr}");
            for n in 1..=clients {
                let (stream, _) = listener.accept()?;
                stream.set_read_timeout(Some(IDLE))?;
                let bytes = echo(stream)?;
                println!("client {n}: echoed {bytes} bytes");
            }
            // `listener` drops here and removes the socket file.
        }
        _ => return Err(usage.into()),
    }
    Ok(())
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
