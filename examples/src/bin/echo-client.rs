//! Sends messages to `echo-server` over TCP loopback or a Unix stream
//! socket and checks that each comes back whole.
//!
//! ```text
//! cargo run -p interlink-examples --bin echo-client -- --tcp 127.0.0.1:7878 hello world
//! cargo run -p interlink-examples --bin echo-client -- --unix /tmp/echo.sock hello world
//! ```
//!
//! A stream socket delivers bytes, not messages: the kernel may split one
//! write across several reads or merge several writes into one. So each
//! message goes out as a frame (interlink's `codec::encode`: a 16-byte
//! checked header, then the payload), and the replies are cut back into
//! messages by a `codec::Decoder`, which accepts the bytes in pieces of
//! any size. Any reply that differs from what was sent is an error (exit 1).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args as ClapArgs, Parser};
use interlink_core::codec::{self, Decoder};
use interlink_examples::cli;

const PROGRAM: &str = "echo-client";

/// The longest message: the decoder's buffer.
const MAX_MESSAGE: usize = 4096;

/// Sends each MESSAGE to echo-server and checks that it comes back whole.
#[derive(Parser)]
#[command(name = PROGRAM)]
struct Args {
    #[command(flatten)]
    to: Transport,
    /// The messages, each sent as one frame (at most 4096 bytes each).
    #[arg(required = true, value_parser = message)]
    messages: Vec<String>,
}

/// Where the server is: exactly one of the two.
#[derive(ClapArgs)]
#[group(required = true, multiple = false)]
struct Transport {
    /// Connect to a TCP address.
    #[arg(long, value_name = "ADDR")]
    tcp: Option<String>,
    /// Connect to a Unix stream socket at this path.
    #[arg(long, value_name = "PATH")]
    unix: Option<String>,
}

fn message(text: &str) -> Result<String, String> {
    if text.len() > MAX_MESSAGE {
        return Err(format!(
            "{} bytes is longer than the {MAX_MESSAGE} bytes a message may have",
            text.len()
        ));
    }
    Ok(text.to_owned())
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::run(PROGRAM, || {
        let timeout = Some(Duration::from_secs(10));
        if let Some(addr) = &args.to.tcp {
            let stream =
                TcpStream::connect(addr).map_err(|e| format!("connect to tcp {addr}: {e}"))?;
            stream.set_read_timeout(timeout)?;
            talk(stream, &args.messages)
        } else if let Some(path) = &args.to.unix {
            let stream =
                UnixStream::connect(path).map_err(|e| format!("connect to unix {path}: {e}"))?;
            stream.set_read_timeout(timeout)?;
            talk(stream, &args.messages)
        } else {
            Err("give --tcp ADDR or --unix PATH".into())
        }
    })
}

/// Sends each message as a frame tagged with its number and waits for its
/// echo before sending the next.
fn talk(mut stream: impl Read + Write, messages: &[String]) -> cli::Result {
    let mut decoder = Decoder::<MAX_MESSAGE>::new();
    let mut wire = [0u8; MAX_MESSAGE + 16];
    let mut buf = [0u8; MAX_MESSAGE];
    for (i, message) in messages.iter().enumerate() {
        let tag = i as u32 + 1;
        let n = codec::encode(tag, message.as_bytes(), &mut wire)?;
        stream.write_all(&wire[..n])?;
        // Read until the decoder has reassembled one whole frame.
        let echoed = loop {
            let got = stream
                .read(&mut buf)
                .map_err(|e| format!("waiting for the echo of #{tag}: {e}"))?;
            if got == 0 {
                return Err("the server closed the connection".into());
            }
            let mut input = &buf[..got];
            // One frame is in flight at a time, so nothing can follow it
            // in `input`; a pipelining client would keep decoding.
            if let Some(frame) = decoder.decode(&mut input)? {
                break (
                    frame.tag,
                    String::from_utf8_lossy(frame.payload).into_owned(),
                );
            }
        };
        if echoed != (tag, message.clone()) {
            return Err(format!("sent #{tag} {message:?}, got back {echoed:?}").into());
        }
        println!("echo #{}: {}", echoed.0, echoed.1);
    }
    Ok(())
}
