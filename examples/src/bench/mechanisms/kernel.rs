//! The kernel's mechanisms: pipes, FIFOs, sockets, message queues,
//! eventfd, a System V queue.

#[allow(unused_imports)]
use super::*;

// ---------------------------------------------------------------- streams

/// A link over any byte stream: messages are `size` bytes, read exactly.
pub(super) struct StreamLink<R, W> {
    rx: R,
    tx: W,
}

impl<R: Read, W: Write> Link for StreamLink<R, W> {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.tx.write_all(msg)
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.rx.read_exact(buf)
    }
}

/// Two one-way channels opened by `open` — down (parent → child) and up
/// (child → parent) — wired into a pair whose ends each read one and write
/// the other.
pub(super) fn crossed<R, W>(
    mut open: impl FnMut(&str) -> io::Result<(R, W)>,
    link: impl Fn(R, W) -> Box<dyn Link>,
) -> io::Result<Pair> {
    let (down_rx, down_tx) = open("down")?;
    let (up_rx, up_tx) = open("up")?;
    Ok(Pair {
        parent: link(up_rx, down_tx),
        child: link(down_rx, up_tx),
    })
}

/// A byte-stream link over any reader and writer.
pub(super) fn stream_link<R: Read + 'static, W: Write + 'static>(rx: R, tx: W) -> Box<dyn Link> {
    Box::new(StreamLink { rx, tx })
}

/// Both ends of a two-way byte stream (a socket pair), each as a reader
/// and a writer.
pub(super) fn stream_pair<R, W>(parent: (R, W), child: (R, W)) -> Pair
where
    R: Read + 'static,
    W: Write + 'static,
{
    Pair {
        parent: stream_link(parent.0, parent.1),
        child: stream_link(child.0, child.1),
    }
}

/// Two anonymous pipes, one per direction.
pub struct Pipe;

impl Mechanism for Pipe {
    fn name(&self) -> &'static str {
        "pipe"
    }
    fn pair(&self, _size: usize) -> io::Result<Pair> {
        crossed(|_| Ok(pipe::pipe(pipe::IoMode::Blocking)?), stream_link)
    }
}

/// Two named pipes (FIFOs) in the temporary directory, removed once open.
pub struct Fifo;

impl Mechanism for Fifo {
    fn name(&self) -> &'static str {
        "fifo"
    }
    fn pair(&self, _size: usize) -> io::Result<Pair> {
        let open = |direction: &str| -> io::Result<(pipe::Reader, pipe::Writer)> {
            let name = unique(&format!("interlink-bench-{direction}"));
            let fifo = pipe::Fifo::create(std::env::temp_dir().join(name), 0o600)?;
            // Open the read end without waiting for a writer, then the write
            // end (which now finds a reader), then make reads blocking.
            let rx = fifo.reader(pipe::IoMode::NonBlocking)?;
            let tx = fifo.writer(pipe::IoMode::Blocking)?;
            pipe::set_blocking(rx.as_fd(), pipe::IoMode::Blocking)?;
            Ok((rx, tx)) // dropping `fifo` removes the path; the ends stay open
        };
        crossed(open, stream_link)
    }
}

/// A connected pair of Unix stream sockets.
pub struct UnixStreamSocket;

impl Mechanism for UnixStreamSocket {
    fn name(&self) -> &'static str {
        "unix stream"
    }
    fn pair(&self, _size: usize) -> io::Result<Pair> {
        let (a, b) = UnixStream::pair()?;
        Ok(stream_pair((a.try_clone()?, a), (b.try_clone()?, b)))
    }
}

/// TCP over loopback, Nagle off.
pub struct TcpLoopback;

impl Mechanism for TcpLoopback {
    fn name(&self) -> &'static str {
        "tcp loopback"
    }
    fn pair(&self, _size: usize) -> io::Result<Pair> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        let a = std::net::TcpStream::connect(listener.local_addr()?)?;
        let (b, _) = listener.accept()?;
        a.set_nodelay(true)?;
        b.set_nodelay(true)?;
        Ok(stream_pair((a.try_clone()?, a), (b.try_clone()?, b)))
    }
}

// ------------------------------------------------------- message sockets

/// A Unix seqpacket socket pair: reliable, ordered, message boundaries kept.
pub struct UnixSeqpacket;

pub(super) struct PacketLink(SeqPacket);

impl Link for PacketLink {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.0.send(msg)?;
        Ok(())
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<()> {
        if self.0.recv(buf)? != buf.len() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "short message",
            ));
        }
        Ok(())
    }
}

impl Mechanism for UnixSeqpacket {
    fn name(&self) -> &'static str {
        "unix seqpacket"
    }
    fn pair(&self, _size: usize) -> io::Result<Pair> {
        let (a, b) = SeqPacket::pair()?;
        Ok(Pair {
            parent: Box::new(PacketLink(a)),
            child: Box::new(PacketLink(b)),
        })
    }
}

// ------------------------------------------------------------- mq, eventfd

/// POSIX message queues, one per direction. The parent's handles remove
/// the names when dropped, after the child has inherited the descriptors.
pub struct MessageQueue;

pub(super) struct MqLink {
    rx: mq::MessageQueue,
    tx: mq::MessageQueue,
}

impl Link for MqLink {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.tx.send(msg, 0).map_err(io::Error::other)
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.rx.recv(buf).map_err(io::Error::other)?;
        Ok(())
    }
}

impl Mechanism for MessageQueue {
    fn name(&self) -> &'static str {
        "posix mq"
    }
    fn max_message(&self) -> usize {
        // The machine's limit (/proc/sys/fs/mqueue/msgsize_max), 8192 by default.
        mq::MqLimit::MsgsizeMax
            .current()
            .map_or(8192, |n| n as usize)
    }
    fn pair(&self, size: usize) -> io::Result<Pair> {
        let attrs = mq::QueueAttrs {
            max_messages: 10,
            message_size: size,
        };
        let open = || -> io::Result<(mq::MessageQueue, mq::MessageQueue)> {
            let name = format!("/{}", unique("interlink-bench"));
            let rx = mq::MessageQueue::create(&name, attrs, 0o600, mq::Access::Read)
                .map_err(io::Error::other)?;
            let tx = mq::MessageQueue::open(&name, mq::Access::Write).map_err(io::Error::other)?;
            Ok((rx, tx))
        };
        crossed(|_| open(), |rx, tx| Box::new(MqLink { rx, tx }))
    }
}

/// eventfd counters, one per direction: a notification without payload.
pub struct EventFd;

pub(super) struct EventLink {
    rx: Arc<eventfd::EventFd>,
    tx: Arc<eventfd::EventFd>,
}

impl Link for EventLink {
    fn send(&mut self, _msg: &[u8]) -> io::Result<()> {
        Ok(self.tx.write(1)?)
    }
    fn recv(&mut self, _buf: &mut [u8]) -> io::Result<()> {
        self.rx.read()?;
        Ok(())
    }
}

impl Mechanism for EventFd {
    fn name(&self) -> &'static str {
        "eventfd"
    }
    fn max_message(&self) -> usize {
        8
    }
    fn pair(&self, _size: usize) -> io::Result<Pair> {
        // Semaphore mode: each read takes one notification, as a message would.
        let make = || eventfd::EventFd::new(0, eventfd::Mode::Semaphore).map(Arc::new);
        let (down, up) = (make()?, make()?);
        Ok(Pair {
            parent: Box::new(EventLink {
                rx: up.clone(),
                tx: down.clone(),
            }),
            child: Box::new(EventLink { rx: down, tx: up }),
        })
    }
}

// ------------------------------------------------------------ sysv queue

/// One System V message queue carrying both directions: type 1 down
/// (parent → child), type 2 up. Blocking in the kernel. Round trips only.
pub struct SysvQueue;

pub(super) struct SysvQueueLink {
    queue: Arc<sysv::Queue>,
    /// The message types this end sends and receives.
    out: i64,
    inc: i64,
}

impl Link for SysvQueueLink {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.queue.send(self.out, msg).map_err(other)
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<()> {
        let got = self
            .queue
            .recv(sysv::Select::Type(self.inc), buf)
            .map_err(other)?;
        expect_len(got.len, buf.len())
    }
}

impl Mechanism for SysvQueue {
    fn name(&self) -> &'static str {
        "sysv queue"
    }
    fn max_message(&self) -> usize {
        // The machine's limit (/proc/sys/kernel/msgmax), 8192 by default.
        sysv::SysvLimit::MsgMax
            .current()
            .map_or(8192, |n| n as usize)
    }
    fn round_trip_only(&self) -> bool {
        true
    }
    fn pair(&self, _size: usize) -> io::Result<Pair> {
        // The parent's handle removes the queue when dropped, after the
        // child has forked and exited.
        let queue = Arc::new(
            sysv::Queue::create(sysv::Key::PRIVATE, &sysv::QueueOptions::new()).map_err(other)?,
        );
        Ok(Pair {
            parent: Box::new(SysvQueueLink {
                queue: queue.clone(),
                out: 1,
                inc: 2,
            }),
            child: Box::new(SysvQueueLink {
                queue,
                out: 2,
                inc: 1,
            }),
        })
    }
}
