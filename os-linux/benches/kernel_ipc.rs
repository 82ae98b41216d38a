//! Round-trip latency between two processes through the kernel's IPC:
//! pipe, FIFO, Unix stream, Unix seqpacket, TCP loopback, POSIX message
//! queue and eventfd, in one run. The parent sends an 8-byte value; a
//! forked child echoes it back.
//!
//! `cargo bench -p interlink-linux --bench kernel_ipc`

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use interlink_linux::eventfd::{EventFd, Mode};
use interlink_linux::mq::{Access, MessageQueue, QueueAttrs};
use interlink_linux::pipe::{self, Fifo, IoMode};
use interlink_linux::process::{self, fork};
use interlink_linux::socket::SeqPacket;

/// The value that tells the echoing child to exit (valid for an eventfd).
const STOP: u64 = 1 << 62;

/// One side of a two-way channel carrying `u64`s.
trait End {
    fn send(&mut self, v: u64);
    fn recv(&mut self) -> u64;
}

/// Byte streams: pipes, FIFOs, Unix and TCP streams.
struct Io<R, W>(R, W);

impl<R: Read, W: Write> End for Io<R, W> {
    fn send(&mut self, v: u64) {
        self.1.write_all(&v.to_ne_bytes()).expect("write");
    }
    fn recv(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.0.read_exact(&mut b).expect("read");
        u64::from_ne_bytes(b)
    }
}

impl End for SeqPacket {
    fn send(&mut self, v: u64) {
        SeqPacket::send(self, &v.to_ne_bytes()).expect("send");
    }
    fn recv(&mut self) -> u64 {
        let mut b = [0u8; 8];
        assert_eq!(SeqPacket::recv(self, &mut b).expect("recv"), 8);
        u64::from_ne_bytes(b)
    }
}

/// Two queues or two eventfds: one per direction.
struct Pair<T>(T, T);

impl End for Pair<MessageQueue> {
    fn send(&mut self, v: u64) {
        self.0.send(&v.to_ne_bytes(), 0).expect("mq_send");
    }
    fn recv(&mut self) -> u64 {
        let mut b = [0u8; 8];
        assert_eq!(self.1.recv(&mut b).expect("mq_receive").0, 8);
        u64::from_ne_bytes(b)
    }
}

impl End for Pair<EventFd> {
    fn send(&mut self, v: u64) {
        self.0.write(v).expect("eventfd write");
    }
    fn recv(&mut self) -> u64 {
        self.1.read().expect("eventfd read")
    }
}

/// Forks a child that builds its end with `child_end` and echoes until
/// [`STOP`], builds the parent's end, and measures round trips.
fn ping_pong<P: End, C: End>(
    c: &mut Criterion,
    name: &str,
    child_end: impl FnOnce() -> C,
    parent_end: impl FnOnce() -> P,
) {
    let child = fork(move || {
        let mut end = child_end();
        loop {
            let v = end.recv();
            if v == STOP {
                return 0;
            }
            end.send(v);
        }
    })
    .expect("fork");
    let mut end = parent_end();
    let mut i = 1u64;
    c.bench_function(name, |b| {
        b.iter(|| {
            end.send(i);
            assert_eq!(black_box(end.recv()), i);
            i += 1;
        })
    });
    end.send(STOP);
    assert!(child.wait().expect("wait").success());
}

fn dup(e: &EventFd) -> EventFd {
    EventFd::from(e.as_fd().try_clone_to_owned().expect("dup"))
}

fn kernel_ipc(c: &mut Criterion) {
    let pid = process::current_pid();

    let (down_r, down_w) = pipe::pipe(IoMode::Blocking).unwrap();
    let (up_r, up_w) = pipe::pipe(IoMode::Blocking).unwrap();
    ping_pong(
        c,
        "round_trip/pipe",
        move || Io(down_r, up_w),
        move || Io(up_r, down_w),
    );

    let dir = std::env::temp_dir();
    let fifo_path = |tag: &str| -> PathBuf { dir.join(format!("interlink-bench-{tag}-{pid}")) };
    let (down, up) = (
        Fifo::create(fifo_path("down"), 0o600).unwrap(),
        Fifo::create(fifo_path("up"), 0o600).unwrap(),
    );
    let (down_path, up_path) = (down.path().to_path_buf(), up.path().to_path_buf());
    // Both sides open `down` first, then `up`, so the blocking opens pair up.
    ping_pong(
        c,
        "round_trip/fifo",
        move || {
            let r = pipe::open_fifo_reader(&down_path, IoMode::Blocking).unwrap();
            Io(
                r,
                pipe::open_fifo_writer(&up_path, IoMode::Blocking).unwrap(),
            )
        },
        || {
            let w = down.writer(IoMode::Blocking).unwrap();
            Io(up.reader(IoMode::Blocking).unwrap(), w)
        },
    );
    drop((down, up));

    let (a, b) = UnixStream::pair().unwrap();
    ping_pong(
        c,
        "round_trip/unix_stream",
        move || Io(b.try_clone().unwrap(), b),
        move || Io(a.try_clone().unwrap(), a),
    );

    let (a, b) = SeqPacket::pair().unwrap();
    ping_pong(c, "round_trip/unix_seqpacket", move || b, move || a);

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    ping_pong(
        c,
        "round_trip/tcp_loopback",
        move || {
            let s = TcpStream::connect(addr).unwrap();
            s.set_nodelay(true).unwrap();
            Io(s.try_clone().unwrap(), s)
        },
        move || {
            let (s, _) = listener.accept().unwrap();
            s.set_nodelay(true).unwrap();
            Io(s.try_clone().unwrap(), s)
        },
    );

    let attrs = QueueAttrs {
        max_messages: 1,
        message_size: 8,
    };
    let (down, up) = (
        format!("/interlink-bench-down-{pid}"),
        format!("/interlink-bench-up-{pid}"),
    );
    let down_q = MessageQueue::create(&down, attrs, 0o600, Access::Write).unwrap();
    let up_q = MessageQueue::create(&up, attrs, 0o600, Access::Read).unwrap();
    let (d, u) = (down.clone(), up.clone());
    ping_pong(
        c,
        "round_trip/posix_mq",
        move || {
            Pair(
                MessageQueue::open(&u, Access::Write).unwrap(),
                MessageQueue::open(&d, Access::Read).unwrap(),
            )
        },
        move || Pair(down_q, up_q),
    );

    let (down, up) = (
        EventFd::new(0, Mode::Counter).unwrap(),
        EventFd::new(0, Mode::Counter).unwrap(),
    );
    let (child_down, child_up) = (dup(&down), dup(&up));
    ping_pong(
        c,
        "round_trip/eventfd",
        move || Pair(child_up, child_down),
        move || Pair(down, up),
    );
}

criterion_group!(benches, kernel_ipc);
criterion_main!(benches);
