//! Loom models of the byte ring: every interleaving (bounded) of a producer
//! and a consumer for reserve/commit against peek/release, across the wrap
//! with a padding record and with a tail too short for one, batch draining,
//! producers serialised through the role word, the consumer's lazy head
//! (published by the quarter and when it has caught up) with both sides
//! parking, and the init/attach handshake. (Blocking send/recv across the end: `loom_sync.rs`.) Under loom the buffer is a row of tracked 8-byte cells, so a
//! consumer reading bytes the producer has not published fails the model.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p interlink-core --release --test loom_bytes`
#![cfg(loom)]

use std::sync::Arc;

use interlink_core::blocking::Blocking;
use interlink_core::bytes::{ByteRing, Producer, RecvError, SendError};
use interlink_core::wait::LoomWait;
use interlink_core::Holder;
use interlink_core::RingConfig;
use loom::thread;

mod common;

use common::{model, Memory};

/// Memory for a byte ring of `capacity` bytes.
fn ring_memory(capacity: u32) -> Memory {
    Memory::new(
        ByteRing::bytes_needed(capacity).unwrap(),
        ByteRing::region_align(),
    )
}

/// A payload of `len` bytes that says which message it belongs to.
fn payload(seq: u32, len: usize) -> Vec<u8> {
    (0..len).map(|i| (seq as usize * 16 + i) as u8).collect()
}

/// Sends through reserve/write/commit, yielding while full.
fn send(tx: &mut Producer<'_>, seq: u32, len: usize) {
    loop {
        match tx.reserve(len) {
            Ok(mut r) => {
                r.write(0, &payload(seq, len));
                r.commit(seq, len);
                return;
            }
            Err(SendError::Full) => thread::yield_now(),
            Err(e) => panic!("{e}"),
        }
    }
}

/// Capacity 64: a 40-byte record, then one of 32 that does not fit in the
/// 24 left, so the producer pads to the end (a padding record) and starts
/// at the front; then one of 24 after it.
#[test]
fn reserve_commit_against_peek_release_across_padding() {
    model(|| {
        let mem = ring_memory(64);
        let ring = ByteRing::init(mem.region(), RingConfig::new(64)).unwrap();
        let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
        let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
        let sizes = [24usize, 16, 8];
        let producer = thread::spawn(move || {
            for (seq, len) in sizes.into_iter().enumerate() {
                send(&mut tx, seq as u32, len);
            }
        });
        for (seq, len) in sizes.into_iter().enumerate() {
            loop {
                match rx.peek() {
                    Ok(rec) => {
                        assert_eq!((rec.tag(), rec.len()), (seq as u32, len));
                        let mut got = vec![0; len];
                        assert_eq!(rec.view().read(0, &mut got), len);
                        assert_eq!(got, payload(seq as u32, len));
                        rec.release();
                        break;
                    }
                    Err(RecvError::Empty) => thread::yield_now(),
                    Err(e) => panic!("{e}"),
                }
            }
        }
        producer.join().unwrap();
        assert_eq!(rx.peek().unwrap_err(), RecvError::Empty);
    });
}

/// Capacity 32: 24-byte records leave 8 bytes at the end, too few for a
/// padding header; both sides skip them by rule. Copying send/recv.
#[test]
fn send_recv_across_a_short_tail() {
    model(|| {
        let mem = ring_memory(32);
        let ring = ByteRing::init(mem.region(), RingConfig::new(32)).unwrap();
        let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
        let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
        let producer = thread::spawn(move || {
            for seq in 0..3 {
                while let Err(e) = tx.try_send(seq, &payload(seq, 8)) {
                    assert_eq!(e, SendError::Full);
                    thread::yield_now();
                }
            }
        });
        let mut out = [0u8; 16];
        for seq in 0..3 {
            loop {
                match rx.try_recv(&mut out) {
                    Ok((tag, len)) => {
                        assert_eq!((tag, &out[..len]), (seq, &payload(seq, 8)[..]));
                        break;
                    }
                    Err(RecvError::Empty) => thread::yield_now(),
                    Err(e) => panic!("{e}"),
                }
            }
        }
        producer.join().unwrap();
    });
}

/// Batch draining releases several records with one store while the
/// producer keeps writing into the space it frees.
#[test]
fn drain_in_batches() {
    model(|| {
        let mem = ring_memory(64);
        let ring = ByteRing::init(mem.region(), RingConfig::new(64)).unwrap();
        let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
        let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
        let producer = thread::spawn(move || {
            for seq in 0..3 {
                send(&mut tx, seq, 4);
            }
        });
        let mut next = 0;
        while next < 3 {
            let n = rx
                .drain(2, |r| {
                    let mut got = [0u8; 4];
                    r.read(0, &mut got);
                    assert_eq!((r.tag(), &got[..]), (next, &payload(next, 4)[..]));
                    next += 1;
                })
                .unwrap();
            if n == 0 {
                thread::yield_now();
            }
        }
        producer.join().unwrap();
    });
}

/// Two producers serialise through the producer role: each claims it,
/// sends one message and drops it. The second must resume at the first's
/// tail (the role's Release/Acquire hands it over), so both arrive whole.
#[test]
fn producers_serialised_by_the_role() {
    model(|| {
        let mem = ring_memory(64);
        let ring = ByteRing::init(mem.region(), RingConfig::new(64)).unwrap();
        let producers: Vec<_> = (1..=2u32)
            .map(|p| {
                thread::spawn(move || loop {
                    if let Ok(mut tx) = ring.producer(Holder::new(p).unwrap()) {
                        tx.try_send(p, &payload(p, 8)).unwrap();
                        return;
                    }
                    thread::yield_now();
                })
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        let mut rx = ring.consumer(Holder::fixed::<9>()).unwrap();
        let mut out = [0u8; 8];
        let (first, len) = rx.try_recv(&mut out).unwrap();
        assert_eq!((len, &out[..]), (8, &payload(first, 8)[..]));
        let (second, len) = rx.try_recv(&mut out).unwrap();
        assert_eq!((len, &out[..]), (8, &payload(second, 8)[..]));
        assert_eq!(first + second, 3);
        assert_eq!(rx.try_recv(&mut out), Err(RecvError::Empty));
    });
}

/// The consumer's lazy head with both sides parked, across the end.
/// Capacity 128 (a quarter: 32 bytes) holds five 24-byte records (8-byte
/// payloads) and a short tail, filled before the threads start. The
/// producer then sends the largest message (112 bytes: a 128-byte record,
/// the whole ring): it skips the short tail, publishes that, and parks
/// until every byte is free. The consumer receives the six, publishing its
/// head only after the second and the fourth record and after skipping
/// the tail (a quarter each time), and notifying the producer then; a
/// missing publication or notification leaves the producer asleep on
/// room already freed, which loom reports as a deadlock.
#[test]
fn lazy_head_reaches_a_parked_producer_across_the_end() {
    model(|| {
        let mem = ring_memory(128);
        let ring = ByteRing::init(mem.region(), RingConfig::new(128)).unwrap();
        let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
        let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
        for seq in 0..5 {
            tx.try_send(seq, &payload(seq, 8)).unwrap();
        }
        assert_eq!(tx.try_send(5, &[]), Err(SendError::Full));
        let wait = Arc::new(LoomWait::new());
        let producer = {
            let wait = wait.clone();
            thread::spawn(move || {
                let b = Blocking::parking(&*wait);
                tx.send(5, &payload(5, 112), &b, None).unwrap();
            })
        };
        let b = Blocking::parking(&*wait);
        let mut out = [0u8; 112];
        for seq in 0..5 {
            assert_eq!(rx.recv(&mut out, &b, None), Ok((seq, 8)));
            assert_eq!(out[..8], payload(seq, 8)[..]);
        }
        assert_eq!(rx.recv(&mut out, &b, None), Ok((5, 112)));
        assert_eq!(out[..], payload(5, 112)[..]);
        producer.join().unwrap();
    });
}

/// The publication when the consumer has caught up. Capacity 256 (a
/// quarter: 64 bytes), filled exactly before the threads start: ten
/// 24-byte records and one 16-byte one. The producer then sends the
/// largest message (240 bytes: the whole ring, at the front, no padding)
/// and parks until all 256 bytes are published. The consumer's quarters
/// publish up to 216; the last 40 bytes reach the producer only because
/// the consumer publishes them (and notifies) when it takes the last
/// message it knows of or finds the ring empty, before it parks — without
/// both, the two sleep for ever.
#[test]
fn lazy_head_is_published_before_the_consumer_parks() {
    model(|| {
        let mem = ring_memory(256);
        let ring = ByteRing::init(mem.region(), RingConfig::new(256)).unwrap();
        let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
        let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
        for seq in 0..10 {
            tx.try_send(seq, &payload(seq, 8)).unwrap();
        }
        tx.try_send(10, &[]).unwrap();
        assert_eq!(tx.try_send(11, &[]), Err(SendError::Full));
        let wait = Arc::new(LoomWait::new());
        let producer = {
            let wait = wait.clone();
            thread::spawn(move || {
                let b = Blocking::parking(&*wait);
                tx.send(11, &payload(11, 240), &b, None).unwrap();
            })
        };
        let b = Blocking::parking(&*wait);
        let mut out = [0u8; 240];
        for seq in 0..10 {
            assert_eq!(rx.recv(&mut out, &b, None), Ok((seq, 8)));
        }
        assert_eq!(rx.recv(&mut out, &b, None), Ok((10, 0)));
        assert_eq!(rx.recv(&mut out, &b, None), Ok((11, 240)));
        assert_eq!(out[..], payload(11, 240)[..]);
        producer.join().unwrap();
    });
}

/// An attacher racing the creator either sees `NotReady` or a fully
/// initialised, empty ring.
#[test]
fn init_attach_handshake() {
    model(|| {
        let mem = std::sync::Arc::new(ring_memory(32));
        let config = RingConfig::new(32).with_creator_pid(1);
        let ring = ByteRing::init_begin(mem.region(), config).unwrap();
        let attacher = {
            let mem = mem.clone();
            thread::spawn(move || loop {
                match ByteRing::attach(mem.region()) {
                    Ok(ring) => {
                        assert_eq!(ring.capacity(), 32);
                        assert!(ring.is_empty());
                        let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
                        assert_eq!(rx.peek().unwrap_err(), RecvError::Empty);
                        return;
                    }
                    Err(interlink_core::AttachError::NotReady { .. }) => thread::yield_now(),
                    Err(e) => panic!("attach saw a half-initialised ring: {e}"),
                }
            })
        };
        ring.init_publish(config);
        attacher.join().unwrap();
    });
}
