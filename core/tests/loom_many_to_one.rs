//! Loom models of the many-to-one ring: two producers and the consumer in
//! every interleaving (bounded) of claim (compare-exchange on the tail),
//! stamp, write, publish (one `Release` store) and skip. Under loom the
//! buffer is a row of loom atomics read and written with relaxed loads and
//! stores, so a consumer that read a record before its publication was
//! ordered would see stale words and fail the content checks.
//!
//! Run: `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p interlink-core --release --test loom_many_to_one`
#![cfg(loom)]

use interlink_core::many_to_one::{Consumer, ManyToOneRing, Producer, SkipError};
use interlink_core::Holder;
use interlink_core::{RecvError, RingConfig, SendError};
use loom::thread;

mod common;

use common::{model, Memory};

fn ring_memory(capacity: u32) -> Memory {
    Memory::new(
        ManyToOneRing::bytes_needed(capacity).unwrap(),
        ManyToOneRing::region_align(),
    )
}

/// The payload of message `seq` of producer `p`: 4 bytes that say so.
fn payload(p: u32, seq: u32) -> [u8; 4] {
    [p as u8, seq as u8, 0xA5, (p * 16 + seq) as u8]
}

/// Sends, yielding while full.
fn send(tx: &mut Producer<'_>, p: u32, seq: u32) {
    loop {
        match tx.try_send(p, &payload(p, seq)) {
            Ok(()) => return,
            Err(SendError::Full) => thread::yield_now(),
            Err(e) => panic!("{e}"),
        }
    }
}

/// Receives `count` messages, checking contents and per-producer order;
/// a stall is skipped only when its stamp names the `dead` claimant, or,
/// with `unstamped`, when it has no stamp (the claimant known dead).
///
/// Where a real consumer would poll until the producers' stores reach it,
/// this one joins the next of `producers` instead (loom lets a load return
/// a stale value for as long as nothing orders it, so a polling loop could
/// run for ever); once they are all joined it only yields.
fn receive(
    rx: &mut Consumer<'_>,
    count: usize,
    dead: Option<u32>,
    unstamped: bool,
    mut producers: Vec<thread::JoinHandle<()>>,
) -> usize {
    let mut next = [0u32; 3];
    let mut got = 0;
    let mut skipped = 0;
    let wait = |producers: &mut Vec<thread::JoinHandle<()>>| match producers.pop() {
        Some(p) => p.join().unwrap(),
        None => thread::yield_now(),
    };
    while got < count {
        let mut buf = [0u8; 8];
        match rx.try_recv(&mut buf) {
            Ok((p, 4)) => {
                let seq = next[p as usize];
                assert_eq!(buf[..4], payload(p, seq), "producer {p}");
                next[p as usize] += 1;
                got += 1;
            }
            Ok(other) => panic!("length {other:?}"),
            Err(RecvError::Empty) => wait(&mut producers),
            Err(RecvError::Stalled { position }) => match rx.stall().unwrap() {
                // Only the dead claimant's record is ever skipped.
                Some(s)
                    if s.position == position
                        && ((unstamped && s.claimant.is_none())
                            || (dead.is_some() && s.claimant == dead)) =>
                {
                    match rx.skip_stalled(position) {
                        Ok(_) => skipped += 1,
                        Err(SkipError::NoBoundary { .. } | SkipError::NotStalled { .. }) => {
                            wait(&mut producers)
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
                _ => wait(&mut producers),
            },
            Err(e) => panic!("{e}"),
        }
    }
    for p in producers {
        p.join().unwrap();
    }
    skipped
}

/// Two producers (one sending two messages) and the consumer: every
/// message once, each producer's in order.
#[test]
fn two_producers_every_message_once_in_order() {
    model(|| {
        let mem = ring_memory(128);
        let ring = ManyToOneRing::init(mem.region(), RingConfig::new(128)).unwrap();
        let mut rx = ring.consumer(Holder::fixed::<9>()).unwrap();
        let a = thread::spawn(move || {
            let mut tx = ring.producer(Holder::fixed::<1>());
            send(&mut tx, 1, 0);
            send(&mut tx, 1, 1);
        });
        let b = thread::spawn(move || {
            let mut tx = ring.producer(Holder::fixed::<2>());
            send(&mut tx, 2, 0);
        });
        assert_eq!(receive(&mut rx, 3, None, false, vec![a, b]), 0);
        assert_eq!(rx.try_recv(&mut [0; 8]), Err(RecvError::Empty));
        assert_eq!(ring.skipped(), 0);
    });
}

/// Across the end of the buffer: the first claim to find the record not
/// fitting before the end claims the rest as padding, whichever producer
/// it is, and both records land after it. (The ring never fills, so the
/// consumer may wait by joining the producers.)
#[test]
fn two_producers_across_the_padding() {
    model(|| {
        let mem = ring_memory(128);
        let ring = ManyToOneRing::init(mem.region(), RingConfig::new(128)).unwrap();
        let mut rx = ring.consumer(Holder::fixed::<9>()).unwrap();
        // Start 32 bytes before the end: a 40-byte record pads them.
        let mut tx = ring.producer(Holder::fixed::<1>());
        tx.try_send(0, &[0; 64]).unwrap(); // 96 bytes
        assert_eq!(rx.try_recv(&mut [0; 64]), Ok((0, 64)));
        let a = thread::spawn(move || {
            let mut tx = ring.producer(Holder::fixed::<1>());
            send(&mut tx, 1, 0);
        });
        let b = thread::spawn(move || {
            let mut tx = ring.producer(Holder::fixed::<2>());
            send(&mut tx, 2, 0);
        });
        assert_eq!(receive(&mut rx, 2, None, false, vec![a, b]), 0);
        assert_eq!(ring.used(), Some(0));
    });
}

/// A producer that stamps a claim and never commits (killed): the other
/// producer's message arrives, and the dead record is skipped through the
/// skip path only, once.
#[test]
fn a_stamped_abandoned_claim_is_skipped_only_through_the_skip_path() {
    model(|| {
        let mem = ring_memory(128);
        let ring = ManyToOneRing::init(mem.region(), RingConfig::new(128)).unwrap();
        let mut rx = ring.consumer(Holder::fixed::<9>()).unwrap();
        let dead = thread::spawn(move || {
            let mut tx = ring.producer(Holder::fixed::<1>());
            tx.abandon_claim(4).unwrap();
        });
        let live = thread::spawn(move || {
            let mut tx = ring.producer(Holder::fixed::<2>());
            send(&mut tx, 2, 0);
        });
        receive(&mut rx, 1, Some(1), false, vec![dead, live]);
        // The dead record, if still ahead, is skipped now.
        while ring.skipped() == 0 {
            if let Some(s) = rx.stall().unwrap() {
                assert_eq!(s.claimant, Some(1));
                rx.skip_stalled(s.position).unwrap();
            }
        }
        assert_eq!(ring.skipped(), 1);
        assert_eq!(rx.try_recv(&mut [0; 8]), Err(RecvError::Empty));
        assert_eq!(ring.used(), Some(0));
    });
}

/// A producer that dies between its compare-exchange and its stamp: the
/// consumer skips to the live producer's stamp, never over it.
#[test]
fn an_unstamped_abandoned_claim_costs_only_itself() {
    model(|| {
        let mem = ring_memory(128);
        let ring = ManyToOneRing::init(mem.region(), RingConfig::new(128)).unwrap();
        let mut rx = ring.consumer(Holder::fixed::<9>()).unwrap();
        let dead = thread::spawn(move || {
            let mut tx = ring.producer(Holder::fixed::<1>());
            tx.abandon_unstamped(4).unwrap();
        });
        let live = thread::spawn(move || {
            let mut tx = ring.producer(Holder::fixed::<2>());
            send(&mut tx, 2, 0);
        });
        dead.join().unwrap();
        let skipped = receive(&mut rx, 1, Some(1), true, vec![live]);
        // Claimed after the live message: nothing follows it to skip to.
        if skipped == 0 {
            let s = rx.stall().unwrap().unwrap();
            assert_eq!(s.claimant, None);
            assert_eq!(
                rx.skip_stalled(s.position),
                Err(SkipError::NoBoundary {
                    position: s.position
                })
            );
        }
        assert!(ring.skipped() <= 1);
    });
}
