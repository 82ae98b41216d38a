//! Loom models of the fan-out ring: the writer never overwrites a slot a
//! subscriber still needs (a slot is a tracked cell: a write racing a
//! read fails the model, and every value is checked), with a subscriber
//! joining while the writer runs, an eviction racing a newcomer for the
//! dead subscriber's entry, the slice forms, and zero-copy chunks (a
//! peeked element gates the writer until released). (Under loom the table
//! has two entries.)
//!
//! Run: `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p interlink-core --release --test loom_fanout`
#![cfg(loom)]

use interlink_core::fanout::{FanoutRing, FanoutWriter};
use interlink_core::Holder;
use interlink_core::{RecvError, RingConfig, SendError};
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Arc;
use loom::thread;

mod common;

use common::{model, Memory};

fn memory(capacity: u32) -> Memory {
    Memory::new(
        FanoutRing::<u32>::bytes_needed(capacity).unwrap(),
        FanoutRing::<u32>::region_align(),
    )
}

fn send(w: &mut FanoutWriter<'_, u32>, v: u32) {
    loop {
        match w.try_send(v) {
            Ok(()) => return,
            Err(SendError::Full) => thread::yield_now(),
            Err(e) => panic!("{e}"),
        }
    }
}

/// Capacity 1, two values: the writer must wait for the subscriber to
/// read the first before it reuses the slot.
#[test]
fn the_writer_waits_for_the_slowest_subscriber() {
    model(|| {
        let mem = memory(1);
        let ring = FanoutRing::<u32>::init(mem.region(), RingConfig::new(1)).unwrap();
        let mut w = ring.writer(Holder::fixed::<1>()).unwrap();
        let mut sub = ring.subscribe(Holder::fixed::<2>(), |_| true).unwrap();
        let writer = thread::spawn(move || {
            send(&mut w, 10);
            send(&mut w, 11);
        });
        for v in [10, 11] {
            loop {
                match sub.try_recv() {
                    Ok(got) => {
                        assert_eq!(got, v);
                        break;
                    }
                    Err(RecvError::Empty) => thread::yield_now(),
                    Err(e) => panic!("{e}"),
                }
            }
        }
        writer.join().unwrap();
    });
}

/// A subscriber joining while the writer writes two values into one
/// slot: whatever it starts from, it receives a gap-free run up to the
/// last value, never a value overwritten under it.
#[test]
fn a_joining_subscriber_misses_nothing_after_its_start() {
    model(|| {
        let mem = memory(1);
        let ring = FanoutRing::<u32>::init(mem.region(), RingConfig::new(1)).unwrap();
        let mut w = ring.writer(Holder::fixed::<1>()).unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let finished = done.clone();
        let writer = thread::spawn(move || {
            send(&mut w, 10);
            send(&mut w, 11);
            finished.store(true, Ordering::Release);
        });
        let mut late = ring.subscribe(Holder::fixed::<3>(), |_| true).unwrap();
        let mut expect = None::<u32>;
        let mut last_look = false;
        loop {
            match late.try_recv() {
                Ok(v) => {
                    if let Some(e) = expect {
                        assert_eq!(v, e, "a gap or a repeat");
                    }
                    assert!(v == 10 || v == 11);
                    expect = Some(v + 1);
                    if v == 11 {
                        break;
                    }
                }
                Err(RecvError::Empty) => {
                    // Empty on a look taken after the writer finished: it
                    // joined after the last value.
                    if last_look {
                        break;
                    }
                    last_look = done.load(Ordering::Acquire);
                    if !last_look {
                        thread::yield_now()
                    }
                }
                Err(e) => panic!("{e}"),
            }
        }
        writer.join().unwrap();
    });
}

/// Zero-copy on both sides, capacity 1: the writer fills a reserved slot
/// in place and commits it; the subscriber reads a peeked element in place
/// and releases it. The writer may not reserve the slot again before the
/// release (a write racing the in-place read fails the model).
#[test]
fn a_peeked_element_is_not_overwritten_before_its_release() {
    model(|| {
        let mem = memory(1);
        let ring = FanoutRing::<u32>::init(mem.region(), RingConfig::new(1)).unwrap();
        let mut w = ring.writer(Holder::fixed::<1>()).unwrap();
        let mut sub = ring.subscribe(Holder::fixed::<2>(), |_| true).unwrap();
        let writer = thread::spawn(move || {
            for v in [10, 11] {
                loop {
                    match w.reserve(1) {
                        Ok(mut chunk) => {
                            chunk.set(0, v);
                            chunk.commit_all();
                            break;
                        }
                        Err(_) => thread::yield_now(),
                    }
                }
            }
        });
        for v in [10, 11] {
            loop {
                match sub.peek(1) {
                    Ok(chunk) => {
                        assert_eq!(chunk.get(0), v);
                        chunk.release_all();
                        break;
                    }
                    Err(_) => thread::yield_now(),
                }
            }
        }
        writer.join().unwrap();
    });
}

/// Batches, capacity 2, three values: the slice forms hand over exactly
/// the elements the gating allows, in order, none overwritten unread.
#[test]
fn slices_never_overwrite_what_a_subscriber_has_not_read() {
    model(|| {
        let mem = memory(2);
        let ring = FanoutRing::<u32>::init(mem.region(), RingConfig::new(2)).unwrap();
        let mut w = ring.writer(Holder::fixed::<1>()).unwrap();
        let mut sub = ring.subscribe(Holder::fixed::<2>(), |_| true).unwrap();
        let writer = thread::spawn(move || {
            let items = [10, 11, 12];
            let mut sent = 0;
            while sent < items.len() {
                match w.try_send_slice(&items[sent..]) {
                    Ok(0) => thread::yield_now(),
                    Ok(n) => sent += n,
                    Err(e) => panic!("{e}"),
                }
            }
        });
        let mut got = Vec::new();
        let mut out = [0u32; 3];
        while got.len() < 3 {
            match sub.try_recv_slice(&mut out) {
                Ok(0) => thread::yield_now(),
                Ok(n) => got.extend_from_slice(&out[..n]),
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(got, [10, 11, 12]);
        writer.join().unwrap();
    });
}

/// The writer evicts a dead subscriber while a newcomer takes over the
/// same entry (or the next one): exactly one of the two compare-exchanges
/// wins, the writer is never stuck behind the dead one, and the newcomer
/// receives a gap-free run up to the last value.
#[test]
fn eviction_races_a_newcomer_taking_the_dead_entry() {
    model(|| {
        let mem = memory(1);
        let ring = FanoutRing::<u32>::init(mem.region(), RingConfig::new(1)).unwrap();
        let mut w = ring.writer(Holder::fixed::<1>()).unwrap();
        let dead = ring.subscribe(Holder::fixed::<9>(), |_| true).unwrap();
        std::mem::forget(dead); // its process died
        let done = Arc::new(AtomicBool::new(false));
        let finished = done.clone();
        let writer = thread::spawn(move || {
            w.evict(|h| h != 9);
            send(&mut w, 10);
            send(&mut w, 11);
            finished.store(true, Ordering::Release);
        });
        let mut late = ring.subscribe(Holder::fixed::<3>(), |h| h != 9).unwrap();
        let mut expect = None::<u32>;
        let mut last_look = false;
        loop {
            match late.try_recv() {
                Ok(v) => {
                    if let Some(e) = expect {
                        assert_eq!(v, e, "a gap or a repeat");
                    }
                    assert!(v == 10 || v == 11);
                    expect = Some(v + 1);
                    if v == 11 {
                        break;
                    }
                }
                Err(RecvError::Empty) => {
                    if last_look {
                        break;
                    }
                    last_look = done.load(Ordering::Acquire);
                    if !last_look {
                        thread::yield_now()
                    }
                }
                Err(e) => panic!("{e}"),
            }
        }
        writer.join().unwrap();
        assert!(late.is_member(), "the eviction never removes the newcomer");
        let holders = ring.subscriber_holders();
        assert!(!holders.contains(&9), "the dead one is gone: {holders:?}");
    });
}
