//! Named channels between unrelated processes: the peer is this test binary
//! re-executed (`current_exe`) with a marker in its environment, so it
//! shares nothing with the test but the name.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use interlink_core::{RecvError, RingConfig, SendError};
use interlink_linux::channel::{
    ByteChannel, ChannelError, ChannelOptions, MpmcChannel, Pending, SpscChannel, Waiting,
};
use interlink_linux::clock::monotonic_ns;
use interlink_linux::inspect::{self, State};
use interlink_linux::shm::TempName;

const PEER: &str = "INTERLINK_CHANNEL_PEER";
const NAME: &str = "INTERLINK_CHANNEL_NAME";
const COUNT: &str = "INTERLINK_CHANNEL_COUNT";

/// 1 million messages (fewer under Miri, which cannot run these anyway).
const MILLION: u64 = 1_000_000;

/// A spawned peer, killed and reaped on drop so no test leaves one behind.
struct Peer(std::process::Child);

impl Peer {
    /// Re-runs `test` in a new process as `role` on channel `name`.
    fn spawn(test: &str, role: &str, name: &str, count: u64) -> Self {
        let child = Command::new(std::env::current_exe().unwrap())
            .args([test, "--exact", "--nocapture", "--test-threads=1"])
            .env(PEER, role)
            .env(NAME, name)
            .env(COUNT, count.to_string())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        Self(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    fn wait(&mut self) -> Option<i32> {
        self.0.wait().unwrap().code()
    }

    fn running(&mut self) -> bool {
        self.0.try_wait().unwrap().is_none()
    }

    fn kill(&mut self) {
        // SAFETY: kill has no memory-safety preconditions; the pid is our
        // unreaped child, so it cannot have been reused.
        assert_eq!(unsafe { libc::kill(self.0.id() as i32, libc::SIGKILL) }, 0);
        self.0.wait().unwrap();
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// In a peer process: the role to play, the channel name and the count.
fn peer_role() -> Option<(String, String, u64)> {
    let role = std::env::var(PEER).ok()?;
    let name = std::env::var(NAME).ok()?;
    let count = std::env::var(COUNT).ok()?.parse().ok()?;
    Some((role, name, count))
}

/// Runs the peer role (if this process is a peer) and exits with its code.
fn run_peer_if_asked() {
    let Some((role, name, count)) = peer_role() else {
        return;
    };
    let code = match peer(&role, &name, count) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("peer {role}: {e}");
            1
        }
    };
    std::process::exit(code);
}

fn peer(role: &str, name: &str, count: u64) -> Result<(), Box<dyn std::error::Error>> {
    let opts = ChannelOptions::new().open_timeout(Duration::from_secs(20));
    match role {
        // Creates the channel and streams 0..count through it, spinning
        // when the ring is full (the receiver parks: the modes mix).
        "create-and-send" => {
            let opts = opts.waiting(Waiting::Spin);
            let ch = SpscChannel::<u64>::create(name, RingConfig::new(4096), &opts)?;
            let mut tx = ch.sender()?;
            send_sequence(&mut tx, 0, count)?;
            // Stay until the receiver has drained, so the name outlives it.
            while !ch.is_empty() {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        // Opens the channel (waiting for it) and checks 0..count arrive.
        "open-and-receive" => {
            let ch = SpscChannel::<u64>::open(name, &opts)?;
            let mut rx = ch.receiver()?;
            for expected in 0..count {
                let got = rx.recv_timeout(Duration::from_secs(20))?;
                if got != expected {
                    return Err(format!("expected {expected}, got {got}").into());
                }
            }
        }
        // Opens the channel and sends forever (until killed).
        "open-and-send-forever" => {
            let ch = SpscChannel::<u64>::open(name, &opts)?;
            let mut tx = ch.sender()?;
            send_sequence(&mut tx, 0, u64::MAX)?;
        }
        // Creates, claims the producer, sends `count`, then waits to be killed.
        "create-send-and-hang" => {
            let ch = SpscChannel::<u64>::create(name, RingConfig::new(64), &opts)?;
            let mut tx = ch.sender()?;
            send_sequence(&mut tx, 0, count)?;
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        // Opens the channel and sends `count` send times (CLOCK_MONOTONIC,
        // shared by every process), one every 6 ms, through each path that
        // must wake a parked receiver in turn; then waits to be killed.
        "open-trickle-and-hang" => {
            let ch = SpscChannel::<u64>::open(name, &opts)?;
            let mut tx = ch.sender()?;
            for i in 0..count {
                // Each message only into an empty ring (the receiver took
                // the last): only this send's wake-up can deliver it.
                std::thread::sleep(Duration::from_millis(6));
                while !ch.is_empty() {
                    std::thread::sleep(Duration::from_millis(1));
                }
                let now = monotonic_ns();
                match i % 3 {
                    0 => tx.try_send(now)?,
                    1 => tx.send(now)?,
                    _ => tx.send_slice(&[now], None).map_err(|(_, e)| e)?,
                }
            }
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        // Opens a byte channel and sends `count` messages of varied
        // lengths (see `message`), spinning when full; then waits to be
        // killed.
        "open-bytes-and-send" => {
            let ch = ByteChannel::open(name, &opts.waiting(Waiting::Spin))?;
            let mut tx = ch.sender()?;
            for seq in 0..count as u32 {
                tx.send_timeout(seq, &message(seq), Duration::from_secs(20))?;
            }
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        // Opens an MPMC channel and sends `count` values tagged with this
        // process's pid (pid << 32 | i), parking when full.
        "open-mpmc-and-send" => {
            let ch = MpmcChannel::<u64>::open(name, &opts.waiting(Waiting::Park))?;
            let tx = ch.handle()?;
            let me = u64::from(std::process::id()) << 32;
            for i in 0..count {
                tx.send_timeout(me | i, Duration::from_secs(20))?;
            }
        }
        other => return Err(format!("unknown role {other}").into()),
    }
    Ok(())
}

fn send_sequence(
    tx: &mut interlink_linux::channel::Sender<'_, u64>,
    from: u64,
    to: u64,
) -> Result<(), SendError> {
    let mut batch = [0u64; 64];
    let mut next = from;
    while next < to {
        let n = (to - next).min(64) as usize;
        for (i, slot) in batch[..n].iter_mut().enumerate() {
            *slot = next + i as u64;
        }
        tx.send_slice(&batch[..n], Some(Duration::from_secs(20)))
            .map_err(|(_, e)| e)?;
        next += n as u64;
    }
    Ok(())
}

#[test]
fn a_million_messages_between_unrelated_processes() {
    run_peer_if_asked();
    let name = TempName::new("il-chan").unwrap();
    let mut creator = Peer::spawn(
        "a_million_messages_between_unrelated_processes",
        "create-and-send",
        &name,
        MILLION,
    );
    let opts = ChannelOptions::new().open_timeout(Duration::from_secs(20));
    let ch = SpscChannel::<u64>::open(&name, &opts).unwrap();
    assert!(!ch.is_creator());
    assert!(!ch.unlinks_on_drop());
    assert_eq!(ch.capacity(), 4096);
    let mut rx = ch.receiver().unwrap();
    let mut buf = [0u64; 256];
    let mut expected = 0u64;
    let start = Instant::now();
    while expected < MILLION {
        let n = rx
            .recv_slice(&mut buf, Some(Duration::from_secs(20)))
            .unwrap();
        for &v in &buf[..n] {
            assert_eq!(v, expected, "lost, duplicated or reordered");
            expected += 1;
        }
    }
    eprintln!("1M u64 across processes in {:?}", start.elapsed());
    assert_eq!(creator.wait(), Some(0));
    // The creator unlinked the name when it exited.
    assert!(inspect::probe(&name).unwrap_err().is(libc::ENOENT));
    // Our mapping still works.
    assert_eq!(rx.try_recv(), Err(RecvError::Empty));
}

#[test]
fn an_opener_started_before_the_creator_waits_then_succeeds() {
    run_peer_if_asked();
    let name = TempName::new("il-chan").unwrap();
    let mut opener = Peer::spawn(
        "an_opener_started_before_the_creator_waits_then_succeeds",
        "open-and-receive",
        &name,
        10_000,
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(opener.running(), "the opener gave up instead of waiting");
    let ch =
        SpscChannel::<u64>::create(&name, RingConfig::new(256), &ChannelOptions::new()).unwrap();
    assert!(ch.is_creator() && ch.unlinks_on_drop());
    let mut tx = ch.sender().unwrap();
    for i in 0..10_000 {
        tx.send_timeout(i, Duration::from_secs(20)).unwrap();
    }
    assert_eq!(opener.wait(), Some(0));
    drop(tx);
    drop(ch);
    assert!(inspect::probe(&name).unwrap_err().is(libc::ENOENT));

    // With nobody creating, the wait ends at the timeout and says why.
    let opts = ChannelOptions::new().open_timeout(Duration::from_millis(50));
    match SpscChannel::<u64>::open(&name, &opts) {
        Err(ChannelError::Timeout {
            pending: Pending::Missing,
            waited,
            ..
        }) => assert!(waited >= Duration::from_millis(50)),
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[test]
fn a_producer_killed_mid_stream_is_reported_and_replaced() {
    run_peer_if_asked();
    let name = TempName::new("il-chan").unwrap();
    let ch =
        SpscChannel::<u64>::create(&name, RingConfig::new(1024), &ChannelOptions::new()).unwrap();
    let mut rx = ch.receiver().unwrap();
    let mut producer = Peer::spawn(
        "a_producer_killed_mid_stream_is_reported_and_replaced",
        "open-and-send-forever",
        &name,
        0,
    );
    let pid = producer.pid();
    let mut expected = 0u64;
    while expected < 10_000 {
        assert_eq!(rx.recv_timeout(Duration::from_secs(20)), Ok(expected));
        expected += 1;
    }
    producer.kill();
    // What it published before dying is delivered, in order; then the
    // receiver is told the producer died, instead of waiting forever.
    let err = loop {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(v) => {
                assert_eq!(v, expected);
                expected += 1;
            }
            Err(e) => break e,
        }
    };
    assert_eq!(err, RecvError::PeerDied { holder: pid });
    // A new producer takes the dead one's role and continues the sequence.
    let mut tx = ch.sender().unwrap();
    tx.send(expected).unwrap();
    assert_eq!(rx.recv(), Ok(expected));
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(20)),
        Err(RecvError::TimedOut)
    );
}

#[test]
fn a_creator_killed_leaves_an_object_that_gc_and_create_handle() {
    run_peer_if_asked();
    let name = TempName::new("il-chan").unwrap();
    let mut creator = Peer::spawn(
        "a_creator_killed_leaves_an_object_that_gc_and_create_handle",
        "create-send-and-hang",
        &name,
        10,
    );
    let opts = ChannelOptions::new().open_timeout(Duration::from_secs(20));
    let ch = SpscChannel::<u64>::open(&name, &opts).unwrap();
    let mut rx = ch.receiver().unwrap();
    for i in 0..10 {
        assert_eq!(rx.recv_timeout(Duration::from_secs(20)), Ok(i));
    }
    let creator_pid = creator.pid();
    creator.kill();
    assert_eq!(
        rx.recv(),
        Err(RecvError::PeerDied {
            holder: creator_pid
        })
    );

    // The object stays: its creator never ran its Drop.
    let object = inspect::probe(&name).unwrap();
    let State::Valid(summary) = &object.state else {
        panic!("{:?}", object.state)
    };
    assert_eq!(summary.creator.pid, creator_pid);
    assert!(!summary.creator.alive);
    // We still hold the consumer role: not stale, gc keeps it, create refuses.
    assert!(!object.is_stale());
    let only_ours = |n: &str| n == name.as_str();
    assert!(inspect::gc(only_ours).unwrap().is_empty());
    let again = SpscChannel::<u64>::create(&name, RingConfig::new(64), &ChannelOptions::new());
    assert!(
        matches!(again, Err(ChannelError::Exists { .. })),
        "{again:?}"
    );

    // Once we let go, creator and holders are all dead: stale.
    drop(rx);
    assert!(inspect::probe(&name).unwrap().is_stale());
    // create replaces a stale object (default) ...
    let fresh =
        SpscChannel::<u64>::create(&name, RingConfig::new(64), &ChannelOptions::new()).unwrap();
    assert!(fresh.is_creator());
    drop(fresh);
    assert!(inspect::probe(&name).unwrap_err().is(libc::ENOENT));
    // ... and the creator's mapping of the old one still works.
    assert_eq!(ch.len(), 0);

    // gc removes a stale object.
    let mut kept =
        SpscChannel::<u64>::create(&name, RingConfig::new(64), &ChannelOptions::new()).unwrap();
    kept.keep_name();
    // Rewrite the recorded creator to a pid that is dead (our dead peer's).
    // SAFETY: offset 36 (creator_pid) is inside the header of a live mapping.
    unsafe {
        (*kept
            .mapping()
            .as_ptr()
            .add(36)
            .cast::<std::sync::atomic::AtomicU32>())
        .store(creator_pid, std::sync::atomic::Ordering::Relaxed)
    };
    drop(kept);
    let collected = inspect::gc(only_ours).unwrap();
    assert_eq!(collected.len(), 1);
    assert_eq!(collected[0].0.name, name.as_str());
    assert!(collected[0].1.is_ok());
    assert!(inspect::probe(&name).unwrap_err().is(libc::ENOENT));
}

/// CPU time and voluntary context switches of the calling thread.
fn thread_usage() -> (Duration, i64) {
    // SAFETY: an all-zero rusage is valid; getrusage fills it.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid out-pointer.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut u) }, 0);
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    // A C long: 32 bits on i686, where this widens.
    #[allow(clippy::useless_conversion)]
    let switches = i64::from(u.ru_nvcsw);
    (tv(u.ru_utime) + tv(u.ru_stime), switches)
}

#[test]
fn a_parked_receiver_sleeps_is_woken_by_every_send_path_and_sees_its_peer_die() {
    run_peer_if_asked();
    const COUNT: u64 = 46;
    let name = TempName::new("il-chan").unwrap();
    // A liveness slice longer than the receive timeout, and a peer that
    // sends each message only once the ring is empty: a wake-up that a
    // send path forgot is never made up for by a later send, only by the
    // end of the 20 s wait, so a message later than 10 s is a lost
    // wake-up. (Typical latency is printed, not asserted: on a busy
    // machine it is the scheduler's.)
    let opts = ChannelOptions::new()
        .waiting(Waiting::Park)
        .peer_check(Duration::from_secs(60));
    let ch = SpscChannel::<u64>::create(&name, RingConfig::new(64), &opts).unwrap();
    let mut rx = ch.receiver().unwrap();
    let peer = Peer::spawn(
        "a_parked_receiver_sleeps_is_woken_by_every_send_path_and_sees_its_peer_die",
        "open-trickle-and-hang",
        &name,
        COUNT,
    );
    let pid = peer.pid();
    // The first message also waits for the peer to start.
    let first = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    let (cpu_before, switches_before) = thread_usage();
    let start = Instant::now();
    let mut last = first;
    // Per send path (message i went through path i % 3).
    let mut latencies = [vec![], vec![], vec![]];
    for i in 1..COUNT {
        let path = ["try_send", "send", "send_all"][i as usize % 3];
        let sent = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("message {i} ({path}): {e}"));
        let latency = Duration::from_nanos(monotonic_ns() - sent);
        // A forgotten wake-up is made up only by the 20 s slice's end.
        assert!(
            latency < Duration::from_secs(10),
            "message {i} ({path}) arrived {latency:?} after it was sent: \
             the send did not wake the parked receiver"
        );
        latencies[i as usize % 3].push(latency);
        assert!(sent > last, "out of order");
        last = sent;
    }
    let wall = start.elapsed();
    let (cpu_after, switches_after) = thread_usage();
    let cpu = cpu_after - cpu_before;
    let medians = latencies.map(|mut l| {
        l.sort();
        l[l.len() / 2]
    });
    eprintln!(
        "{} messages in {wall:?}: receiver CPU {cpu:?}, {} voluntary switches, \
         median latency by path (try_send, send, send_all) {medians:?}",
        COUNT - 1,
        switches_after - switches_before,
    );
    // How much CPU the parked receiver used is printed above, not
    // asserted: it is the scheduler's to decide, not a property of the
    // code (what the code guarantees — no lost wake-up — is asserted per
    // message).

    // Parked with nothing coming, the receiver learns within about one
    // liveness slice that the producer was killed.
    rx.set_peer_check(Duration::from_millis(10));
    let killer = std::thread::spawn(move || {
        let mut peer = peer;
        std::thread::sleep(Duration::from_millis(100));
        peer.kill();
        Instant::now()
    });
    let (cpu_before, _) = thread_usage();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(20)),
        Err(RecvError::PeerDied { holder: pid })
    );
    let noticed = Instant::now();
    let killed = killer.join().unwrap();
    let (cpu_after, _) = thread_usage();
    assert!(
        noticed.saturating_duration_since(killed) < Duration::from_secs(5),
        "noticed {:?} after the kill",
        noticed - killed
    );
    // Parked, it used next to no CPU meanwhile: shown, not asserted (the
    // scheduler's to decide).
    eprintln!("receiver CPU while parked: {:?}", cpu_after - cpu_before);
}

#[test]
fn a_parked_sender_is_woken_by_every_receive_path() {
    run_peer_if_asked();
    let name = TempName::new("il-chan").unwrap();
    // A missed wake-up would cost the sender its whole 20 s timeout (the
    // liveness slice is longer); a woken one returns at once, and 10 s
    // leaves a busy machine room.
    let opts = ChannelOptions::new()
        .waiting(Waiting::Park)
        .peer_check(Duration::from_secs(60));
    let ch = SpscChannel::<u64>::create(&name, RingConfig::new(4), &opts).unwrap();
    let (mut tx, mut rx) = (ch.sender().unwrap(), ch.receiver().unwrap());
    tx.send_slice(&[0, 1, 2, 3], None).unwrap();
    for (next, path) in (4..).zip(["try_recv", "recv", "recv_into"]) {
        let (woken, freed) = std::thread::scope(|s| {
            let sender = s.spawn(|| {
                tx.send_timeout(next, Duration::from_secs(20)).unwrap();
                Instant::now()
            });
            // Let the sender find the ring full and park.
            std::thread::sleep(Duration::from_millis(30));
            let freed = Instant::now();
            let got = match path {
                "try_recv" => rx.try_recv().unwrap(),
                "recv" => rx.recv().unwrap(),
                _ => {
                    let mut one = [0];
                    assert_eq!(rx.recv_slice(&mut one, None), Ok(1));
                    one[0]
                }
            };
            assert_eq!(got, next - 4);
            (sender.join().unwrap(), freed)
        });
        let delay = woken.saturating_duration_since(freed);
        assert!(
            delay < Duration::from_secs(10),
            "{path}: the sender woke {delay:?} later"
        );
    }
}

#[test]
fn blocking_calls_time_out_in_every_waiting_mode() {
    run_peer_if_asked();
    for waiting in [Waiting::Spin, Waiting::SpinThenPark, Waiting::Park] {
        let name = TempName::new("il-chan").unwrap();
        // Slices shorter than the timeouts: the budget spans several.
        let opts = ChannelOptions::new()
            .waiting(waiting)
            .peer_check(Duration::from_millis(7));
        let ch = SpscChannel::<u64>::create(&name, RingConfig::new(4), &opts).unwrap();
        let (mut tx, mut rx) = (ch.sender().unwrap(), ch.receiver().unwrap());
        let timed = |r: &mut dyn FnMut() -> bool, t: Duration| {
            let start = Instant::now();
            assert!(r(), "{waiting:?}: did not time out");
            let took = start.elapsed();
            assert!(
                took >= t && took < t + Duration::from_secs(10),
                "{waiting:?}: {took:?} for {t:?}"
            );
        };
        let t = Duration::from_millis(30);
        let recv_timed_out = RecvError::TimedOut;
        let send_timed_out = SendError::TimedOut;
        timed(&mut || rx.recv_timeout(t) == Err(recv_timed_out), t);
        timed(
            &mut || rx.recv_slice(&mut [0; 4], Some(t)) == Err(recv_timed_out),
            t,
        );
        timed(
            &mut || rx.recv_timeout(Duration::ZERO) == Err(recv_timed_out),
            Duration::ZERO,
        );
        assert_eq!(tx.send_slice(&[1, 2, 3], Some(t)), Ok(()));
        timed(
            &mut || tx.send_slice(&[4, 5, 6], Some(t)) == Err((1, send_timed_out)),
            t,
        );
        timed(&mut || tx.send_timeout(7, t) == Err(send_timed_out), t);
        assert_eq!(tx.try_send(7), Err(interlink_core::SendError::Full));
        let mut out = [0; 8];
        assert_eq!(rx.recv_slice(&mut out, Some(t)), Ok(4));
        assert_eq!(out[..4], [1, 2, 3, 4]);
        assert_eq!(tx.send_timeout(8, t), Ok(()));
        assert_eq!(rx.recv_timeout(t), Ok(8));
    }
}

/// Byte message `seq`: 0 to 1000 bytes derived from `seq`, so that records
/// of all sizes meet the end of the ring and padding.
fn message(seq: u32) -> Vec<u8> {
    let len = ((seq + 1).wrapping_mul(2_654_435_761) >> 22) as usize;
    (0..len)
        .map(|i| (seq as usize * 31 + i * 7) as u8)
        .collect()
}

#[test]
fn byte_messages_between_unrelated_processes() {
    run_peer_if_asked();
    const COUNT: u64 = 20_000;
    let name = TempName::new("il-chan").unwrap();
    let opts = ChannelOptions::new().waiting(Waiting::SpinThenPark);
    let ch = ByteChannel::create(&name, RingConfig::new(4096), &opts).unwrap();
    assert_eq!(ch.max_payload(), 4096 - 16);
    // Another kind of channel under this name is refused, saying why.
    match SpscChannel::<u64>::open(&name, &opts) {
        Err(ChannelError::Attach { error, .. }) => assert!(
            matches!(error, interlink_core::AttachError::Kind { .. }),
            "{error:?}"
        ),
        other => panic!("{other:?}"),
    }
    let mut rx = ch.receiver().unwrap();
    let mut peer = Peer::spawn(
        "byte_messages_between_unrelated_processes",
        "open-bytes-and-send",
        &name,
        COUNT,
    );
    let mut buf = vec![0u8; 4096];
    assert_eq!(
        rx.recv_timeout(&mut buf[..0], Duration::from_secs(20)),
        Err(RecvError::BufferTooSmall {
            needed: message(0).len()
        })
    );
    for seq in 0..COUNT as u32 {
        let (tag, len) = rx.recv_timeout(&mut buf, Duration::from_secs(20)).unwrap();
        assert_eq!(tag, seq);
        assert_eq!(buf[..len], message(seq)[..], "message {seq}");
    }
    assert_eq!(
        rx.recv_timeout(&mut buf, Duration::from_millis(20)),
        Err(RecvError::TimedOut)
    );
    let pid = peer.pid();
    peer.kill();
    assert_eq!(
        rx.recv_timeout(&mut buf, Duration::from_secs(5)),
        Err(RecvError::PeerDied { holder: pid })
    );
    // The inspector reads the byte ring's roles: ours keeps it from being
    // stale although the sender is dead.
    let object = inspect::probe(&name).unwrap();
    let State::Valid(summary) = &object.state else {
        panic!("{:?}", object.state)
    };
    assert_eq!(summary.kind, interlink_core::Kind::Bytes);
    assert_eq!(summary.fill, Some(0));
    let holders: Vec<_> = summary
        .roles
        .iter()
        .map(|r| (r.role, r.holder.pid, r.holder.alive))
        .collect();
    assert_eq!(
        holders,
        [
            ("producer", pid, false),
            ("consumer", std::process::id(), true)
        ]
    );
    assert!(!object.is_stale());
}

#[test]
fn mpmc_values_from_two_processes_to_two_threads() {
    run_peer_if_asked();
    const PER: u64 = 30_000;
    let name = TempName::new("il-chan").unwrap();
    let opts = ChannelOptions::new();
    let ch = MpmcChannel::<u64>::create(&name, RingConfig::new(64), &opts).unwrap();
    let test = "mpmc_values_from_two_processes_to_two_threads";
    let mut peers = [
        Peer::spawn(test, "open-mpmc-and-send", &name, PER),
        Peer::spawn(test, "open-mpmc-and-send", &name, PER),
    ];
    let pids = peers.each_ref().map(|p| u64::from(p.pid()));
    let received = std::sync::atomic::AtomicU64::new(0);
    let start = Instant::now();
    let got = std::thread::scope(|s| {
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let rx = ch.handle().unwrap();
                let received = &received;
                s.spawn(move || {
                    use std::sync::atomic::Ordering::Relaxed;
                    let mut mine = Vec::new();
                    while received.load(Relaxed) < 2 * PER && start.elapsed().as_secs() < 30 {
                        match rx.recv_timeout(Duration::from_millis(50)) {
                            Ok(v) => {
                                mine.push(v);
                                received.fetch_add(1, Relaxed);
                            }
                            Err(e) => assert_eq!(e, RecvError::TimedOut),
                        }
                    }
                    mine
                })
            })
            .collect();
        consumers
            .into_iter()
            .map(|c| c.join().unwrap())
            .collect::<Vec<_>>()
    });
    for peer in &mut peers {
        assert_eq!(peer.wait(), Some(0));
    }
    // Each consumer saw each producer's values in order; together, all of
    // them exactly once.
    let mut all = Vec::new();
    for mine in got {
        for pid in pids {
            let from: Vec<_> = mine.iter().filter(|v| *v >> 32 == pid).collect();
            assert!(from.windows(2).all(|w| w[0] < w[1]), "reordered");
        }
        all.extend(mine);
    }
    all.sort_unstable();
    let mut expected: Vec<u64> = pids
        .iter()
        .flat_map(|pid| (0..PER).map(move |i| pid << 32 | i))
        .collect();
    expected.sort_unstable();
    assert!(all == expected, "lost or duplicated values");
    assert_eq!(
        ch.handle().unwrap().try_recv(),
        Err(interlink_core::mpmc::RecvError::Empty)
    );
}
