//! Cross-process round trips and streaming through a named channel, against
//! a pipe and a Unix stream socket, in the same run.
//!
//! ```text
//! cargo bench -p interlink-linux --bench channel
//! # quick check:
//! cargo bench -p interlink-linux --bench channel -- --warm-up-time 1 --measurement-time 1 --sample-size 10
//! ```
//!
//! The parent (criterion) creates the channels by name; a forked child opens
//! them by name and echoes (ping-pong) or drains and acknowledges
//! (streaming). Pipes and sockets carry the same `u64`s through `read` and
//! `write`. The channel runs in two waiting modes: `spin` (both ends spin,
//! then yield, never sleeping in the kernel) and, for round trips, `park`
//! (both ends park on the shared futex at once: every message is a
//! futex wake-up, the figure to hold against the pipe's), for streaming
//! `spin_then_park` (the default: spin briefly, then park).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use interlink_core::RingConfig;
use interlink_linux::channel::{ChannelOptions, Receiver, Sender, SpscChannel, Waiting};
use interlink_linux::process::{self, fork};
use interlink_linux::shm::TempName;

/// Messages per streaming iteration.
const STREAM: usize = 1 << 16;
/// Elements per write in streaming (4 KiB).
const BATCH: usize = 512;
/// Ring capacity for streaming channels.
const CAPACITY: u32 = 1 << 12;

/// Two directions of `u64` traffic between two processes.
trait Wire {
    /// Sends every value in `values`.
    fn send(&mut self, values: &[u64]);
    /// Fills `out` completely.
    fn recv(&mut self, out: &mut [u64]);
}

/// A pair of file descriptors: one to write, one to read.
struct Fds {
    tx: File,
    rx: File,
}

fn bytes(values: &[u64]) -> &[u8] {
    // SAFETY: u64 has no padding; any u8 view of it is valid.
    unsafe { std::slice::from_raw_parts(values.as_ptr().cast(), std::mem::size_of_val(values)) }
}

fn bytes_mut(values: &mut [u64]) -> &mut [u8] {
    // SAFETY: as above; every byte pattern is a valid u64.
    unsafe {
        std::slice::from_raw_parts_mut(values.as_mut_ptr().cast(), std::mem::size_of_val(values))
    }
}

impl Wire for Fds {
    fn send(&mut self, values: &[u64]) {
        self.tx.write_all(bytes(values)).expect("write");
    }

    fn recv(&mut self, out: &mut [u64]) {
        self.rx.read_exact(bytes_mut(out)).expect("read");
    }
}

/// A named channel in each direction.
struct Channels<'c> {
    tx: Sender<'c, u64>,
    rx: Receiver<'c, u64>,
}

impl Wire for Channels<'_> {
    fn send(&mut self, values: &[u64]) {
        self.tx.send_slice(values, None).expect("send");
    }

    fn recv(&mut self, mut out: &mut [u64]) {
        while !out.is_empty() {
            let n = self.rx.recv_slice(out, None).expect("recv");
            out = &mut out[n..];
        }
    }
}

/// The child's side: echo each value until 0 (ping-pong), or read a count
/// N, drain N values and acknowledge, until N is 0 (streaming).
fn serve(wire: &mut impl Wire, streaming: bool) -> i32 {
    let mut buf = vec![0u64; BATCH];
    loop {
        let mut head = [0u64];
        wire.recv(&mut head);
        if head[0] == 0 {
            return 0;
        }
        if streaming {
            let mut left = head[0] as usize;
            while left > 0 {
                let n = left.min(BATCH);
                wire.recv(&mut buf[..n]);
                left -= n;
            }
        }
        wire.send(&head);
    }
}

/// Measures one wire: a 1-value round trip, or `STREAM` values one way
/// and an acknowledgement back.
fn measure(group: &mut Group<'_>, label: &str, wire: &mut dyn Wire, streaming: bool) {
    if streaming {
        let data: Vec<u64> = (0..BATCH as u64).collect();
        group.bench_function(label, |b| {
            b.iter(|| {
                wire.send(&[STREAM as u64]);
                for _ in 0..STREAM / BATCH {
                    wire.send(&data);
                }
                let mut ack = [0];
                wire.recv(&mut ack);
            })
        });
    } else {
        group.bench_function(label, |b| {
            b.iter(|| {
                wire.send(&[1]);
                let mut back = [0];
                wire.recv(&mut back);
                back[0]
            })
        });
    }
}

type Group<'c> = criterion::BenchmarkGroup<'c, criterion::measurement::WallTime>;

/// Runs `serve` in a forked child on CPU 1 and `measure` here, then stops
/// the child.
fn against_child(
    group: &mut Group<'_>,
    label: &str,
    mine: &mut dyn Wire,
    child_side: impl FnOnce() -> i32,
    streaming: bool,
) {
    let child = fork(|| {
        let _ = process::pin_to_cpu(1);
        child_side()
    })
    .unwrap();
    measure(group, label, mine, streaming);
    mine.send(&[0]);
    assert!(child.wait().unwrap().success(), "{label}: the child failed");
}

/// The named channel: created here, opened by name in the child; both ends
/// wait the `waiting` way.
fn channel(group: &mut Group<'_>, streaming: bool, waiting: Waiting) {
    let down_name = TempName::new("il-bench").unwrap();
    let up_name = TempName::new("il-bench").unwrap();
    let opts = ChannelOptions::new().waiting(waiting);
    let capacity = if streaming { CAPACITY } else { 64 };
    let down = SpscChannel::<u64>::create(&down_name, RingConfig::new(capacity), &opts).unwrap();
    let up = SpscChannel::<u64>::create(&up_name, RingConfig::new(capacity), &opts).unwrap();
    let mut mine = Channels {
        tx: down.sender().unwrap(),
        rx: up.receiver().unwrap(),
    };
    let child_side = || {
        let timeout = opts.open_timeout(Duration::from_secs(10));
        let (Ok(down), Ok(up)) = (
            SpscChannel::<u64>::open(&down_name, &timeout),
            SpscChannel::<u64>::open(&up_name, &timeout),
        ) else {
            return 2;
        };
        let (Ok(rx), Ok(tx)) = (down.receiver(), up.sender()) else {
            return 3;
        };
        let mut wire = Channels { tx, rx };
        // Bound, not returned directly: the handles must drop before the
        // channels they borrow.
        #[allow(clippy::let_and_return)]
        let code = serve(&mut wire, streaming);
        code
    };
    let label = match waiting {
        Waiting::Spin => "named_channel_spin",
        Waiting::SpinThenPark => "named_channel_spin_then_park",
        Waiting::Park => "named_channel_park",
    };
    against_child(group, label, &mut mine, child_side, streaming);
}

/// A pipe each way.
fn pipes(group: &mut Group<'_>, streaming: bool) {
    let (down_rx, down_tx) = pipe();
    let (up_rx, up_tx) = pipe();
    let mut mine = Fds {
        tx: down_tx,
        rx: up_rx,
    };
    let mut theirs = Fds {
        tx: up_tx,
        rx: down_rx,
    };
    against_child(
        group,
        "pipe",
        &mut mine,
        || serve(&mut theirs, streaming),
        streaming,
    );
}

/// One Unix stream socket pair.
fn sockets(group: &mut Group<'_>, streaming: bool) {
    let (a, b) = UnixStream::pair().unwrap();
    let fds = |s: UnixStream| Fds {
        tx: File::from(OwnedFd::from(s.try_clone().unwrap())),
        rx: File::from(OwnedFd::from(s)),
    };
    let mut mine = fds(a);
    let mut theirs = fds(b);
    against_child(
        group,
        "unix_stream",
        &mut mine,
        || serve(&mut theirs, streaming),
        streaming,
    );
}

fn pipe() -> (File, File) {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid out-array of two ints.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: pipe2 returned two new descriptors that nothing else owns.
    unsafe {
        (
            File::from(OwnedFd::from_raw_fd(fds[0])),
            File::from(OwnedFd::from_raw_fd(fds[1])),
        )
    }
}

fn round_trip(c: &mut Criterion) {
    let _ = process::pin_to_cpu(0);
    let mut group = c.benchmark_group("round_trip");
    channel(&mut group, false, Waiting::Spin);
    channel(&mut group, false, Waiting::Park);
    pipes(&mut group, false);
    sockets(&mut group, false);
    group.finish();
}

fn streaming(c: &mut Criterion) {
    let _ = process::pin_to_cpu(0);
    let mut group = c.benchmark_group("stream_u64");
    group.throughput(Throughput::Elements(STREAM as u64));
    channel(&mut group, true, Waiting::Spin);
    channel(&mut group, true, Waiting::SpinThenPark);
    pipes(&mut group, true);
    sockets(&mut group, true);
    group.finish();
}

criterion_group!(benches, round_trip, streaming);
criterion_main!(benches);
