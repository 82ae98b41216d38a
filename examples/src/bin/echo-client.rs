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
//! any size.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use interlink_core::codec::{self, Decoder};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: echo-client (--tcp ADDR | --unix PATH) MESSAGE...";
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [flag, addr, messages @ ..] = args.as_slice() else {
        return Err(usage.into());
    };
    let timeout = Some(Duration::from_secs(10));
    match flag.as_str() {
        "--tcp" => {
            let stream = TcpStream::connect(addr.as_str())?;
            stream.set_read_timeout(timeout)?;
            talk(stream, messages)
        }
        "--unix" => {
            let stream = UnixStream::connect(addr)?;
            stream.set_read_timeout(timeout)?;
            talk(stream, messages)
        }
        _ => Err(usage.into()),
    }
}

/// Sends each message as a frame tagged with its number and waits for its
/// echo before sending the next.
fn talk(
    mut stream: impl Read + Write,
    messages: &[String],
) -> Result<(), Box<dyn std::error::Error>> {
    let mut decoder = Decoder::<4096>::new();
    let mut wire = [0u8; 4096 + 16];
    let mut buf = [0u8; 4096];
    for (i, message) in messages.iter().enumerate() {
        let tag = i as u32 + 1;
        let n = codec::encode(tag, message.as_bytes(), &mut wire)?;
        stream.write_all(&wire[..n])?;
        // Read until the decoder has reassembled one whole frame.
        let echoed = loop {
            let got = stream.read(&mut buf)?;
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
