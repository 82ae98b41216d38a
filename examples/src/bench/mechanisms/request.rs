//! Request–response by name (`interlink_linux::channel::{Server, Client}`):
//! the parent is a client, the child the server. A round trip is one call:
//! the request through the server's many-to-one channel, the answer through
//! the client's own byte channel, correlation id and all. Round trips only
//! (a call is the unit; streaming would measure the request channel alone).
//!
//! Each side makes its end in its own process, at its first message (the
//! warm-up trips absorb it): the server creates the request channel, the
//! client connects to it by name, waiting for it as any client does.

#[allow(unused_imports)]
use super::*;

use std::time::Duration;

use interlink_linux::channel::{self, ChannelOptions, Client, Request, Server, Serving, Waiting};

/// Bytes of the request channel and of the client's response channel.
const REQUEST_CAPACITY: u32 = 1 << 18;
/// The largest message a row carries (a request adds 16 bytes of prefix,
/// a response 8, and the many-to-one ring 32 of its own).
const MAX_MESSAGE: usize = 1 << 16;
/// How long one call or one wait for a request may take.
const PATIENCE: Duration = Duration::from_secs(30);

/// A round trip through a named request–response channel, the waiting
/// ends spinning (`Waiting::Spin`) or parking at once (`Waiting::Park`).
pub struct RequestResponse {
    /// Park on the futex instead of spinning.
    pub parked: bool,
}

impl RequestResponse {
    fn options(&self) -> ChannelOptions {
        let waiting = if self.parked {
            Waiting::Park
        } else {
            Waiting::Spin
        };
        ChannelOptions::new()
            .waiting(waiting)
            .open_timeout(PATIENCE)
    }
}

/// The parent's end: a client, connected at the first request.
struct ClientLink {
    name: String,
    options: ChannelOptions,
    client: Option<Client>,
    /// The call in flight.
    pending: Option<u64>,
}

impl Link for ClientLink {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        let client = match &mut self.client {
            Some(c) => c,
            None => self.client.insert(
                Client::connect(&self.name, REQUEST_CAPACITY, &self.options).map_err(other)?,
            ),
        };
        self.pending = Some(client.request(0, msg).map_err(other)?);
        Ok(())
    }

    fn recv(&mut self, buf: &mut [u8]) -> io::Result<()> {
        let (Some(client), Some(correlation)) = (&mut self.client, self.pending.take()) else {
            return Err(other("a response awaited before any request"));
        };
        let (_, len) = client.response(correlation, buf, PATIENCE).map_err(other)?;
        expect_len(len, buf.len())
    }
}

/// The child's end: the server, created at the first receive. The server
/// lives until the process exits (its serving end borrows it); dropping
/// the link removes the request channel's name.
struct ServerLink {
    name: String,
    options: ChannelOptions,
    serving: Option<Serving<'static>>,
    /// The request being answered.
    last: Option<Request>,
}

impl Link for ServerLink {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<()> {
        let serving = match &mut self.serving {
            Some(s) => s,
            None => {
                let server =
                    Server::create(&self.name, REQUEST_CAPACITY, &self.options).map_err(other)?;
                let server: &'static Server = Box::leak(Box::new(server));
                let mut serving = server.serve().map_err(other)?;
                serving.set_waiting(self.options.waiting);
                serving.set_reply_timeout(PATIENCE);
                self.serving.insert(serving)
            }
        };
        let request = serving.recv_timeout(buf, PATIENCE).map_err(other)?;
        expect_len(request.len, buf.len())?;
        self.last = Some(request);
        Ok(())
    }

    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        let (Some(serving), Some(request)) = (&mut self.serving, self.last.take()) else {
            return Err(other("an answer sent before any request"));
        };
        serving.respond(&request, 0, msg).map_err(other)
    }
}

impl Drop for ServerLink {
    fn drop(&mut self) {
        if self.serving.take().is_some() {
            let _ = channel::remove(&self.name);
        }
    }
}

impl Mechanism for RequestResponse {
    fn name(&self) -> &'static str {
        if self.parked {
            "request-response (parked)"
        } else {
            "request-response (spin)"
        }
    }
    fn max_message(&self) -> usize {
        MAX_MESSAGE
    }
    fn round_trip_only(&self) -> bool {
        true
    }
    fn pair(&self, _size: usize) -> io::Result<Pair> {
        let name = unique("/interlink-bench-request");
        let options = self.options();
        Ok(Pair {
            parent: Box::new(ClientLink {
                name: name.clone(),
                options,
                client: None,
                pending: None,
            }),
            child: Box::new(ServerLink {
                name,
                options,
                serving: None,
                last: None,
            }),
        })
    }
}
