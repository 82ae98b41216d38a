//! The many-to-one channel between real processes that open it by name:
//! four sender processes, one receiver; and a sender killed between
//! claiming a record and publishing it.

mod common;

use std::time::Duration;

use common::{fill, unique_name, Rng};
use interlink_core::RingConfig;
use interlink_linux::channel::{ChannelOptions, ManyToOneChannel, RecvError};
use interlink_linux::process::{fork, Child, Exit};

const CAPACITY: u32 = 1 << 16;

/// Messages per sender: a million in optimised builds, fewer in debug
/// builds (every byte costs ten times more there).
const PER_SENDER: u32 = if cfg!(debug_assertions) {
    50_000
} else {
    1_000_000
};

/// How long one receive may wait before the test calls it lost.
const PATIENCE: Duration = Duration::from_secs(30);

/// Length of a sender's next message: up to 300 bytes, now and then up to
/// 4 KiB, at least the 4 bytes of its sequence number.
fn length(rng: &mut Rng) -> usize {
    let r = rng.next();
    4 + match r % 256 {
        0 => (r >> 16) as usize % 4096,
        _ => (r >> 16) as usize % 297,
    }
}

/// Message `seq` of sender `s`: its sequence number, then bytes keyed by
/// both.
fn message(s: u32, seq: u32, len: usize, out: &mut [u8]) {
    out[..4].copy_from_slice(&seq.to_le_bytes());
    fill(s << 24 | seq, &mut out[4..len]);
}

/// A sender process: opens `name`, sends `count` messages tagged `s`;
/// exit code 0, or which step failed.
fn sender(name: &str, s: u32, count: u32) -> i32 {
    let Ok(ch) = ManyToOneChannel::open(name, &ChannelOptions::new()) else {
        return 2;
    };
    let Ok(mut tx) = ch.sender() else {
        return 3;
    };
    let mut lengths = Rng(u64::from(s) + 1);
    let mut buf = vec![0u8; 4100];
    for seq in 0..count {
        let len = length(&mut lengths);
        message(s, seq, len, &mut buf);
        if tx.send(s, &buf[..len]).is_err() {
            return 4;
        }
    }
    0
}

/// Checks each received message against what its sender wrote.
struct Checker {
    next: Vec<u32>,
    lengths: Vec<Rng>,
    expected: Vec<u8>,
}

impl Checker {
    fn new(senders: u32) -> Self {
        Self {
            next: vec![0; senders as usize],
            lengths: (0..senders).map(|s| Rng(u64::from(s) + 1)).collect(),
            expected: vec![0; 4100],
        }
    }

    /// Sender `tag`'s next message must be `bytes`: once, in order, whole.
    fn check(&mut self, tag: u32, bytes: &[u8]) {
        let s = tag as usize;
        assert!(s < self.next.len(), "unknown sender {tag}");
        let seq = self.next[s];
        let len = length(&mut self.lengths[s]);
        message(tag, seq, len, &mut self.expected);
        assert_eq!(
            u32::from_le_bytes(bytes[..4].try_into().unwrap()),
            seq,
            "sender {tag}: out of order, lost or duplicated"
        );
        assert_eq!(bytes, &self.expected[..len], "sender {tag} message {seq}");
        self.next[s] += 1;
    }
}

fn wait_all(children: Vec<Child>) {
    for child in children {
        assert_eq!(child.wait().unwrap(), Exit::Code(0));
    }
}

/// Four sender processes open the channel by name and send messages of
/// random sizes; the receiver (this process) gets every message exactly
/// once, each sender's in order, byte for byte.
#[test]
fn four_senders_one_receiver_every_message_once_in_order() {
    const SENDERS: u32 = 4;
    let name = unique_name("m2o-four");
    let ch =
        ManyToOneChannel::create(&name, RingConfig::new(CAPACITY), &ChannelOptions::new()).unwrap();
    let mut rx = ch.receiver().unwrap();
    let children: Vec<_> = (0..SENDERS)
        .map(|s| fork(|| sender(&name, s, PER_SENDER)).unwrap())
        .collect();
    let mut checker = Checker::new(SENDERS);
    let mut buf = vec![0u8; 4100];
    for _ in 0..SENDERS * PER_SENDER {
        let (tag, len) = rx.recv_timeout(&mut buf, PATIENCE).unwrap();
        checker.check(tag, &buf[..len]);
    }
    wait_all(children);
    assert_eq!(
        rx.try_recv(&mut buf),
        Err(RecvError::Empty),
        "more than was sent"
    );
    assert_eq!(rx.skipped(), 0);
}

/// A sender killed between claiming a record and publishing it (it stamps
/// the claim and dies): the receiver, blocked at that record, finds the
/// claimant dead by its liveness check and skips the record, counted; the
/// three other senders' messages, and the dead one's before it, all
/// arrive. The claim patience is an hour, so only the liveness check can
/// have skipped it.
#[test]
fn a_sender_killed_mid_message_costs_only_that_message() {
    const LIVE: u32 = 3;
    let per = PER_SENDER / 10;
    let before = 100;
    let name = unique_name("m2o-kill");
    let ch =
        ManyToOneChannel::create(&name, RingConfig::new(CAPACITY), &ChannelOptions::new()).unwrap();
    let mut rx = ch.receiver().unwrap();
    rx.set_claim_patience(Duration::from_secs(3600));
    let victim = fork(|| {
        let Ok(ch) = ManyToOneChannel::open(&name, &ChannelOptions::new()) else {
            return 2;
        };
        let Ok(mut tx) = ch.sender() else {
            return 3;
        };
        let mut lengths = Rng(u64::from(LIVE) + 1);
        let mut buf = vec![0u8; 4100];
        for seq in 0..before {
            let len = length(&mut lengths);
            message(LIVE, seq, len, &mut buf);
            if tx.send(LIVE, &buf[..len]).is_err() {
                return 4;
            }
        }
        if tx.producer().abandon_claim(64).is_err() {
            return 5;
        }
        // SAFETY: raising SIGKILL on ourselves; nothing runs after it.
        unsafe { libc::raise(libc::SIGKILL) };
        6
    })
    .unwrap();
    let children: Vec<_> = (0..LIVE)
        .map(|s| fork(|| sender(&name, s, per)).unwrap())
        .collect();
    let mut checker = Checker::new(LIVE + 1);
    let mut buf = vec![0u8; 4100];
    for _ in 0..LIVE * per + before {
        let (tag, len) = rx.recv_timeout(&mut buf, PATIENCE).unwrap();
        checker.check(tag, &buf[..len]);
    }
    assert_eq!(victim.wait().unwrap(), Exit::Signal(libc::SIGKILL));
    wait_all(children);
    // The dead record may still be ahead (if nothing was claimed after
    // it): skipped once judged dead.
    if rx.skipped() == 0 {
        assert_eq!(
            rx.recv_timeout(&mut buf, Duration::from_millis(200)),
            Err(RecvError::TimedOut)
        );
    }
    assert_eq!(rx.skipped(), 1);
    assert_eq!(rx.try_recv(&mut buf), Err(RecvError::Empty));
}
