//! Fan-out channels between real processes: forked children that open the
//! channel by name and subscribe, as unrelated programs would.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{unique_name, Words};

use interlink_core::{RingConfig, SendError};
use interlink_linux::channel::{ChannelOptions, FanoutChannel};
use interlink_linux::process::{fork, Child, Exit};

/// Exit codes of a subscriber child.
const OUT_OF_ORDER: i32 = 3;
const ERROR: i32 = 4;

/// Long enough never to pass on a busy machine unless something is wrong.
const PATIENCE: Duration = Duration::from_secs(30);

/// What a subscriber child does.
#[derive(Clone, Copy)]
struct Plan {
    /// Elements it expects: `0..count`, each exactly once, in order.
    count: u64,
    /// Receive in batches (`recv_slice`) rather than one by one.
    batches: bool,
    /// SIGKILL itself after receiving this many.
    kill_after: Option<u64>,
    /// Do not receive until word `release` of the shared words is set.
    hold_until_released: bool,
}

/// Shared words: `ready[i]` = 1 + the child's table index once it has
/// subscribed; word [`RELEASE`] lets held subscribers go on.
const RELEASE: usize = 15;

fn spawn_subscriber(name: &str, i: usize, plan: Plan, words: &Words) -> Child {
    let name = name.to_owned();
    fork(move || {
        let ch = match FanoutChannel::<u64>::open(&name, &ChannelOptions::new()) {
            Ok(ch) => ch,
            Err(e) => {
                eprintln!("subscriber {i}: open: {e}");
                return ERROR;
            }
        };
        let mut rx = match ch.subscribe() {
            Ok(rx) => rx,
            Err(e) => {
                eprintln!("subscriber {i}: subscribe: {e}");
                return ERROR;
            }
        };
        words.get(i).store(1 + rx.index() as u32, Ordering::Release);
        if plan.hold_until_released {
            let start = Instant::now();
            while words.get(RELEASE).load(Ordering::Acquire) == 0 {
                if start.elapsed() > PATIENCE {
                    return ERROR;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        let mut next = 0u64;
        let mut buf = [0u64; 37];
        while next < plan.count {
            let got = if plan.batches {
                rx.recv_slice(&mut buf, Some(PATIENCE))
            } else {
                rx.recv_timeout(PATIENCE).map(|v| {
                    buf[0] = v;
                    1
                })
            };
            let n = match got {
                Ok(n) => n,
                Err(e) => {
                    eprintln!("subscriber {i}: at {next}: {e}");
                    return ERROR;
                }
            };
            for &v in &buf[..n] {
                if v != next {
                    eprintln!("subscriber {i}: got {v}, expected {next}");
                    return OUT_OF_ORDER;
                }
                next += 1;
                if plan.kill_after == Some(next) {
                    // SAFETY: raising SIGKILL on ourselves; nothing runs after.
                    unsafe { libc::raise(libc::SIGKILL) };
                }
            }
        }
        0
    })
    .unwrap()
}

/// Waits until children `0..n` have subscribed; returns their indices.
fn wait_subscribed(words: &Words, n: usize) -> Vec<u32> {
    let start = Instant::now();
    loop {
        let idx: Vec<u32> = (0..n)
            .map(|i| words.get(i).load(Ordering::Acquire))
            .collect();
        if idx.iter().all(|&w| w != 0) {
            return idx.into_iter().map(|w| w - 1).collect();
        }
        assert!(start.elapsed() < PATIENCE, "subscribers never joined");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// One writer, eight subscriber processes (half receive one by one, half
/// in batches): every subscriber receives every element exactly once, in
/// order, though the ring holds a small fraction of them.
#[test]
fn one_writer_eight_subscribers_each_receive_everything_in_order() {
    const SENT: u64 = 40_000;
    let name = unique_name("fan8");
    let ch =
        FanoutChannel::<u64>::create(&name, RingConfig::new(256), &ChannelOptions::new()).unwrap();
    let words = Words::new(16);
    let plan = |i: usize| Plan {
        count: SENT,
        batches: i % 2 == 1,
        kill_after: None,
        hold_until_released: false,
    };
    let subs: Vec<_> = (0..8)
        .map(|i| spawn_subscriber(&name, i, plan(i), &words))
        .collect();
    let mut indices = wait_subscribed(&words, 8);
    indices.sort_unstable();
    indices.dedup();
    assert_eq!(indices.len(), 8, "eight distinct entries");
    let mut tx = ch.writer().unwrap();
    // Half one by one, half in batches.
    for v in 0..SENT / 2 {
        tx.send_timeout(v, PATIENCE).unwrap();
    }
    let rest: Vec<u64> = (SENT / 2..SENT).collect();
    for chunk in rest.chunks(100) {
        tx.send_slice(chunk, Some(PATIENCE)).unwrap();
    }
    for (i, s) in subs.into_iter().enumerate() {
        assert_eq!(s.wait().unwrap(), Exit::Code(0), "subscriber {i}");
    }
    // They all left.
    assert!(ch.subscriber_holders().iter().all(|&h| h == 0));
}

/// A subscriber SIGKILLed mid-stream stops holding the writer back once
/// the writer, blocked by it, judges it dead and evicts it; the writer and
/// the other subscribers go on to the end.
#[test]
fn a_subscriber_killed_mid_stream_is_evicted_and_the_rest_go_on() {
    const SENT: u64 = 20_000;
    let name = unique_name("fankill");
    let ch =
        FanoutChannel::<u64>::create(&name, RingConfig::new(64), &ChannelOptions::new()).unwrap();
    let words = Words::new(16);
    let plan = |kill_after| Plan {
        count: SENT,
        batches: false,
        kill_after,
        hold_until_released: false,
    };
    let victim = spawn_subscriber(&name, 0, plan(Some(1_000)), &words);
    let victim_pid = victim.pid();
    let others: Vec<_> = (1..4)
        .map(|i| spawn_subscriber(&name, i, plan(None), &words))
        .collect();
    wait_subscribed(&words, 4);
    let mut tx = ch.writer().unwrap();
    // The victim dies after 1,000 of them; without eviction the writer
    // would be stuck 64 elements later.
    for v in 0..SENT {
        tx.send_timeout(v, PATIENCE).unwrap();
    }
    assert_eq!(victim.wait().unwrap(), Exit::Signal(libc::SIGKILL));
    for (i, s) in others.into_iter().enumerate() {
        assert_eq!(s.wait().unwrap(), Exit::Code(0), "subscriber {}", i + 1);
    }
    assert!(
        !ch.subscriber_holders().contains(&victim_pid),
        "the victim was evicted"
    );
    // A newcomer joins and receives what follows.
    let mut rx = ch.subscribe().unwrap();
    tx.send(SENT).unwrap();
    assert_eq!(rx.recv_timeout(PATIENCE), Ok(SENT));
}

/// A live subscriber that does not read holds the writer back; a send
/// that times out because of it names it (its pid and table index). Once
/// it reads, the writer goes on and it has lost nothing.
#[test]
fn a_slow_subscriber_is_named_when_a_send_times_out() {
    const CAP: u64 = 16;
    let name = unique_name("fanslow");
    let ch =
        FanoutChannel::<u64>::create(&name, RingConfig::new(CAP as u32), &ChannelOptions::new())
            .unwrap();
    let words = Words::new(16);
    let slow = spawn_subscriber(
        &name,
        0,
        Plan {
            count: CAP + 1,
            batches: true,
            kill_after: None,
            hold_until_released: true,
        },
        &words,
    );
    let index = wait_subscribed(&words, 1)[0];
    let mut tx = ch.writer().unwrap();
    for v in 0..CAP {
        tx.try_send(v).unwrap();
    }
    assert_eq!(tx.try_send(CAP), Err(SendError::Full));
    let err = tx.send_timeout(CAP, Duration::from_millis(50)).unwrap_err();
    assert_eq!(
        err,
        SendError::SlowSubscriber {
            holder: slow.pid(),
            index
        }
    );
    assert_eq!(tx.slowest(), Some((slow.pid(), CAP as u32)));
    // It was alive, so it was not evicted.
    assert_eq!(tx.evict_dead(), 0);
    words.get(RELEASE).store(1, Ordering::Release);
    tx.send_timeout(CAP, PATIENCE).unwrap();
    assert_eq!(slow.wait().unwrap(), Exit::Code(0));
}

/// The inspector lists the writer and each subscriber with its lag.
#[test]
fn the_inspector_lists_subscribers_and_their_lag() {
    use interlink_linux::inspect::{probe, State};
    let name = unique_name("faninspect");
    let ch =
        FanoutChannel::<u32>::create(&name, RingConfig::new(8), &ChannelOptions::new()).unwrap();
    let mut tx = ch.writer().unwrap();
    let mut a = ch.subscribe().unwrap();
    let b = ch.subscribe().unwrap();
    for v in 0..5 {
        tx.try_send(v).unwrap();
    }
    a.try_recv().unwrap();
    let object = probe(&name).unwrap();
    let State::Valid(s) = &object.state else {
        panic!("{}", object.state);
    };
    let me = std::process::id();
    assert_eq!(s.roles[0].role, "writer");
    assert_eq!(s.roles[0].holder.pid, me);
    assert_eq!(s.roles.iter().filter(|r| r.role == "subscriber").count(), 2);
    let lags: Vec<_> = s
        .subscribers
        .iter()
        .map(|x| (x.index, x.holder.pid, x.lag))
        .collect();
    assert_eq!(
        lags,
        [
            (a.index() as u32, me, Some(4)),
            (b.index() as u32, me, Some(5))
        ]
    );
    assert_eq!(s.fill, Some(5), "the slowest's lag");
    assert!(s.problems.is_empty(), "{:?}", s.problems);
    assert!(!object.is_stale());
}

/// A subscriber that leaves wakes a writer parked because of it: the
/// send completes long before the writer's own next look (its peer check
/// is set beyond the timeout, so only the wake can end the wait early).
#[test]
fn a_leaving_subscriber_wakes_the_writer_it_held_back() {
    let name = unique_name("fanleave");
    let ch =
        FanoutChannel::<u64>::create(&name, RingConfig::new(4), &ChannelOptions::new()).unwrap();
    let words = Words::new(16);
    let name2 = name.clone();
    let leaver = fork(|| {
        let Ok(ch) = FanoutChannel::<u64>::open(&name2, &ChannelOptions::new()) else {
            return ERROR;
        };
        let Ok(rx) = ch.subscribe() else {
            return ERROR;
        };
        words.get(0).store(1, Ordering::Release);
        // Hold the writer back until it has parked, then leave unread.
        while words.get(RELEASE).load(Ordering::Acquire) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(50));
        drop(rx);
        // Stay alive: the writer may not evict it as dead.
        std::thread::sleep(Duration::from_secs(1));
        0
    })
    .unwrap();
    wait_subscribed(&words, 1);
    let mut tx = ch.writer().unwrap();
    tx.set_waiting(interlink_linux::channel::Waiting::Park);
    tx.set_peer_check(Duration::from_secs(60));
    for v in 0..4 {
        tx.try_send(v).unwrap();
    }
    words.get(RELEASE).store(1, Ordering::Release);
    // Without the wake it would succeed too, but only when its 30 s
    // timeout ends (the last look of a timed-out wait finds room).
    let start = Instant::now();
    assert_eq!(tx.send_timeout(4, Duration::from_secs(30)), Ok(()));
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "woken only by the timeout"
    );
    assert_eq!(leaver.wait().unwrap(), Exit::Code(0));
}
