//! Request–response between processes by name: a [`Server`] receives
//! requests from any number of [`Client`]s on one
//! [`ManyToOneChannel`](super::ManyToOneChannel), and answers each client
//! on a [`ByteChannel`](super::ByteChannel) of its own, which the client
//! creates when it connects.
//!
//! ```no_run
//! use std::time::Duration;
//! use interlink_linux::channel::{ChannelOptions, Client, Server};
//!
//! // The engine's process.
//! let server = Server::create("/engine", 1 << 16, &ChannelOptions::new())?;
//! let mut serving = server.serve()?;
//! let mut buf = [0u8; 256];
//! loop {
//!     let request = serving.recv(&mut buf)?;
//!     serving.respond(&request, 2, b"filled")?;
//! }
//!
//! // A client's process.
//! let mut client = Client::connect("/engine", 1 << 14, &ChannelOptions::new())?;
//! let mut answer = [0u8; 64];
//! let (tag, len) = client.call(1, b"buy 100", &mut answer, Duration::from_secs(1))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Wire format
//!
//! A request is a message on the server's many-to-one channel: the
//! caller's tag, and a payload of a 16-byte prefix — the correlation id
//! (`u64`), the client's pid and its connection number (`u32` each), all
//! little-endian — and the body. A response is a message on the client's
//! byte channel `NAME.resp.PID.N`: the server's tag, and the correlation id
//! (`u64`, little-endian) followed by the body.
//!
//! # Failures
//!
//! - A client waiting for a response checks, between
//!   [`peer_check`](super::ChannelOptions::peer_check) slices, that the
//!   server (the request channel's receiver) lives: a dead server is
//!   [`RecvError::PeerDied`]. Connect again to reach a restarted server.
//! - A response to a dead client fails with [`SendError::PeerDied`] (its
//!   death is noticed at the first response to it, after a failed send,
//!   or within one [`peer_check`](super::ChannelOptions::peer_check) of
//!   the last check: liveness costs a system call, so a busy server does
//!   not ask it per response); the server then forgets the client and
//!   removes its response channel's name. [`Serving::forget_dead_clients`]
//!   sweeps the others.
//! - Several requests may be in flight per client: [`Client::request`]
//!   returns the correlation id, [`Client::response`] waits for that one
//!   and keeps others that arrive first.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use interlink_core::{RecvError, RingConfig, SendError};

use super::{remove, ByteChannel, ChannelError, ChannelOptions, ManyToOneChannel};
use super::{ManyToOneReceiver, Waiting};
use crate::process;

/// Bytes before a request's body.
pub const REQUEST_PREFIX: usize = 16;
/// Bytes before a response's body.
pub const RESPONSE_PREFIX: usize = 8;

/// Who sent a request: the client's pid and its connection number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientId {
    /// The client process.
    pub pid: u32,
    /// Its connection number in that process.
    pub n: u32,
}

/// A request received by [`Serving::recv`]; its body is in the caller's
/// buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// Who sent it.
    pub client: ClientId,
    /// The client's id for this call: the response carries it back.
    pub correlation: u64,
    /// The caller's tag.
    pub tag: u32,
    /// Body bytes (in the buffer given to `recv`).
    pub len: usize,
}

/// Why a call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallError {
    /// Sending the request failed.
    Send(SendError),
    /// Receiving the response failed (`PeerDied`: the server is dead).
    Recv(RecvError),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Send(e) => write!(f, "request: {e}"),
            Self::Recv(e) => write!(f, "response: {e}"),
        }
    }
}

impl std::error::Error for CallError {}

/// The name of client `id`'s response channel for the server `name`.
fn response_name(name: &str, id: ClientId) -> String {
    format!("{name}.resp.{}.{}", id.pid, id.n)
}

/// A request–response server: the request channel, created by name.
#[derive(Debug)]
pub struct Server {
    requests: ManyToOneChannel,
    name: String,
    options: ChannelOptions,
}

impl Server {
    /// Creates the server's request channel `name` with `capacity` bytes
    /// (replacing a stale one, as [`Channel::create`](super::Channel::create)
    /// does: so a restarted server takes its name over).
    pub fn create(
        name: &str,
        capacity: u32,
        options: &ChannelOptions,
    ) -> Result<Self, ChannelError> {
        Ok(Self {
            requests: ManyToOneChannel::create(name, RingConfig::new(capacity), options)?,
            name: name.to_owned(),
            options: *options,
        })
    }

    /// Starts serving: claims the request channel's receiving role.
    pub fn serve(&self) -> Result<Serving<'_>, ChannelError> {
        Ok(Serving {
            rx: self.requests.receiver()?,
            server: self,
            clients: HashMap::new(),
            scratch: Vec::new(),
            reply_timeout: Duration::from_secs(1),
        })
    }

    /// The request channel.
    pub fn requests(&self) -> &ManyToOneChannel {
        &self.requests
    }
}

/// A serving server: receives requests, answers them.
#[derive(Debug)]
pub struct Serving<'s> {
    rx: ManyToOneReceiver<'s>,
    server: &'s Server,
    /// Response channels of the clients heard from, with when each
    /// client's liveness was last checked.
    clients: HashMap<ClientId, (ByteChannel, Option<Instant>)>,
    scratch: Vec<u8>,
    reply_timeout: Duration,
}

impl Serving<'_> {
    /// Receives the next request, its body into `buf`, waiting as long as
    /// it takes. A malformed request (shorter than its prefix, or longer
    /// than `buf` allows) is dropped with [`RecvError::Corrupt`] /
    /// [`RecvError::BufferTooSmall`].
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<Request, RecvError> {
        self.recv_within(buf, None)
    }

    /// [`Serving::recv`], waiting at most `timeout`.
    pub fn recv_timeout(
        &mut self,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<Request, RecvError> {
        self.recv_within(buf, Some(timeout))
    }

    fn recv_within(
        &mut self,
        buf: &mut [u8],
        timeout: Option<Duration>,
    ) -> Result<Request, RecvError> {
        let want = buf.len() + REQUEST_PREFIX;
        if self.scratch.len() < want {
            self.scratch.resize(want, 0);
        }
        let got = match timeout {
            Some(t) => self.rx.recv_timeout(&mut self.scratch[..want], t),
            None => self.rx.recv(&mut self.scratch[..want]),
        };
        let (tag, len) = got.map_err(|e| match e {
            RecvError::BufferTooSmall { needed } => RecvError::BufferTooSmall {
                needed: needed.saturating_sub(REQUEST_PREFIX),
            },
            e => e,
        })?;
        let Some(body) = len.checked_sub(REQUEST_PREFIX) else {
            return Err(RecvError::Corrupt);
        };
        let word =
            |at: usize| u32::from_le_bytes(self.scratch[at..at + 4].try_into().unwrap_or([0; 4]));
        let correlation = u64::from(word(0)) | u64::from(word(4)) << 32;
        let client = ClientId {
            pid: word(8),
            n: word(12),
        };
        buf[..body].copy_from_slice(&self.scratch[REQUEST_PREFIX..len]);
        Ok(Request {
            client,
            correlation,
            tag,
            len: body,
        })
    }

    /// Answers `request` with `body` tagged `tag`, on its client's response
    /// channel (opened at the client's first request). Waits at most the
    /// reply timeout (1 s; [`Serving::set_reply_timeout`]) for room. A dead
    /// client is forgotten and its channel's name removed
    /// ([`SendError::PeerDied`]): checked at the first response, after a
    /// failed send, and otherwise at most once per peer check.
    pub fn respond(&mut self, request: &Request, tag: u32, body: &[u8]) -> Result<(), SendError> {
        let id = request.client;
        if !self.clients.contains_key(&id) {
            let name = response_name(&self.server.name, id);
            let options = self.server.options.open_timeout(self.reply_timeout);
            match ByteChannel::open(&name, &options) {
                Ok(ch) => {
                    self.clients.insert(id, (ch, None));
                }
                Err(_) if !crate::liveness::is_alive(id.pid) => {
                    return Err(SendError::PeerDied { holder: id.pid })
                }
                Err(_) => return Err(SendError::TimedOut),
            }
        }
        let peer_check = self.server.options.peer_check;
        let Some((ch, checked)) = self.clients.get_mut(&id) else {
            return Err(SendError::TimedOut);
        };
        self.scratch.clear();
        self.scratch
            .extend_from_slice(&request.correlation.to_le_bytes());
        self.scratch.extend_from_slice(body);
        let sent = match ch.sender() {
            Ok(mut tx) => tx.send_timeout(tag, &self.scratch, self.reply_timeout),
            Err(_) => Err(SendError::TimedOut),
        };
        // Liveness costs a system call: asked after a failed send, and at
        // most once per peer check otherwise (a dead client with room left
        // in its channel is noticed within that bound).
        let due = sent.is_err() || checked.is_none_or(|t| t.elapsed() >= peer_check);
        let dead = matches!(sent, Err(SendError::PeerDied { .. }))
            || (due && {
                *checked = Some(Instant::now());
                !ch.holder_alive(id.pid)
            });
        if dead {
            self.forget(id);
            return Err(SendError::PeerDied { holder: id.pid });
        }
        sent
    }

    /// Forgets every client whose process is dead and removes its response
    /// channel's name; returns how many.
    pub fn forget_dead_clients(&mut self) -> usize {
        let dead: Vec<ClientId> = self
            .clients
            .iter()
            .filter(|(id, (ch, _))| !ch.holder_alive(id.pid))
            .map(|(id, _)| *id)
            .collect();
        for &id in &dead {
            self.forget(id);
        }
        dead.len()
    }

    fn forget(&mut self, id: ClientId) {
        if self.clients.remove(&id).is_some() {
            let _ = remove(&response_name(&self.server.name, id));
        }
    }

    /// Clients this server has a response channel for.
    pub fn clients(&self) -> usize {
        self.clients.len()
    }

    /// How long a response waits for room in its client's channel.
    pub fn set_reply_timeout(&mut self, timeout: Duration) {
        self.reply_timeout = timeout;
    }

    /// How the receiver waits for requests.
    pub fn set_waiting(&mut self, waiting: Waiting) {
        self.rx.set_waiting(waiting);
    }
}

/// A client: the server's request channel, opened by name, and its own
/// response channel, created when it connects.
#[derive(Debug)]
pub struct Client {
    requests: ManyToOneChannel,
    responses: ByteChannel,
    id: ClientId,
    next: u64,
    /// Responses that arrived while another was awaited.
    parked: Vec<(u64, u32, Vec<u8>)>,
    scratch: Vec<u8>,
    /// Where a response frame lands: kept, so that a call allocates only
    /// when its buffer is larger than any before.
    frame: Vec<u8>,
    peer_check: Duration,
}

impl Client {
    /// Connects to the server `name`: creates this client's response
    /// channel (`capacity` bytes) and opens the server's request channel.
    pub fn connect(
        name: &str,
        capacity: u32,
        options: &ChannelOptions,
    ) -> Result<Self, ChannelError> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let id = ClientId {
            pid: process::current_pid(),
            n: NEXT.fetch_add(1, Ordering::Relaxed),
        };
        let responses =
            ByteChannel::create(&response_name(name, id), RingConfig::new(capacity), options)?;
        let requests = ManyToOneChannel::open(name, options)?;
        Ok(Self {
            requests,
            responses,
            id,
            next: 1,
            parked: Vec::new(),
            scratch: Vec::new(),
            frame: Vec::new(),
            peer_check: options.peer_check,
        })
    }

    /// This client's id, as the server sees it.
    pub fn id(&self) -> ClientId {
        self.id
    }

    /// Sends a request tagged `tag`, waiting for room while the server
    /// lives; returns its correlation id.
    pub fn request(&mut self, tag: u32, body: &[u8]) -> Result<u64, SendError> {
        let correlation = self.next;
        self.next += 1;
        self.scratch.clear();
        self.scratch.extend_from_slice(&correlation.to_le_bytes());
        self.scratch.extend_from_slice(&self.id.pid.to_le_bytes());
        self.scratch.extend_from_slice(&self.id.n.to_le_bytes());
        self.scratch.extend_from_slice(body);
        let mut tx = self.requests.sender().map_err(|_| SendError::Corrupt)?;
        tx.send(tag, &self.scratch)?;
        Ok(correlation)
    }

    /// Waits at most `timeout` for the response to `correlation`; copies
    /// its body into `buf`, returns its tag and length. Responses to other
    /// requests that arrive first are kept for their own `response` call.
    /// A dead server is [`RecvError::PeerDied`].
    pub fn response(
        &mut self,
        correlation: u64,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<(u32, usize), RecvError> {
        if let Some(i) = self.parked.iter().position(|p| p.0 == correlation) {
            let (_, tag, body) = self.parked.swap_remove(i);
            let dst = buf
                .get_mut(..body.len())
                .ok_or(RecvError::BufferTooSmall { needed: body.len() })?;
            dst.copy_from_slice(&body);
            return Ok((tag, body.len()));
        }
        let deadline = Instant::now() + timeout;
        let mut rx = self.responses.receiver().map_err(|_| RecvError::Corrupt)?;
        self.frame.resize(buf.len() + RESPONSE_PREFIX, 0);
        let frame = &mut self.frame;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(RecvError::TimedOut);
            }
            match rx.recv_timeout(frame, left.min(self.peer_check)) {
                Ok((tag, len)) => {
                    let Some(body) = len.checked_sub(RESPONSE_PREFIX) else {
                        continue; // malformed: dropped
                    };
                    let got = u64::from_le_bytes(frame[..8].try_into().unwrap_or([0; 8]));
                    let bytes = &frame[RESPONSE_PREFIX..len];
                    if got == correlation {
                        buf[..body].copy_from_slice(bytes);
                        return Ok((tag, body));
                    }
                    self.parked.push((got, tag, bytes.to_vec()));
                }
                Err(RecvError::TimedOut) => {
                    let server = self.requests.ring().map_or(0, |r| r.consumer_holder());
                    if server != 0 && !self.requests.holder_alive(server) {
                        return Err(RecvError::PeerDied { holder: server });
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends a request and waits at most `timeout` for its response.
    pub fn call(
        &mut self,
        tag: u32,
        body: &[u8],
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<(u32, usize), CallError> {
        let correlation = self.request(tag, body).map_err(CallError::Send)?;
        self.response(correlation, buf, timeout)
            .map_err(CallError::Recv)
    }
}
