//! Loom models of the SPSC ring: every interleaving (bounded) of a producer
//! and a consumer, for the single, batch and chunk APIs and for the
//! init/attach handshake.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p interlink-core --release --test loom_spsc`
#![cfg(loom)]

use interlink_core::spsc::SpscRing;
use interlink_core::Holder;
use interlink_core::{RecvError, RingConfig};
use loom::thread;

mod common;

use common::{model, Memory};

/// Memory for an SPSC ring of `capacity` u64s.
fn ring_memory(capacity: u32) -> Memory {
    Memory::new(
        SpscRing::<u64>::bytes_needed(capacity).unwrap(),
        SpscRing::<u64>::region_align(),
    )
}

#[test]
fn push_pop_in_order_across_the_wrap() {
    model(|| {
        let mem = ring_memory(2);
        let ring = SpscRing::<u64>::init(mem.region(), RingConfig::new(2)).unwrap();
        let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
        let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
        let producer = thread::spawn(move || {
            for i in 0..3 {
                while tx.try_send(i).is_err() {
                    thread::yield_now();
                }
            }
        });
        for expected in 0..3 {
            loop {
                match rx.try_recv() {
                    Ok(v) => {
                        assert_eq!(v, expected);
                        break;
                    }
                    Err(RecvError::Empty) => thread::yield_now(),
                    Err(e) => panic!("{e}"),
                }
            }
        }
        producer.join().unwrap();
        assert_eq!(rx.try_recv(), Err(RecvError::Empty));
    });
}

#[test]
fn batches_in_order() {
    model(|| {
        let mem = ring_memory(2);
        let ring = SpscRing::<u64>::init(mem.region(), RingConfig::new(2)).unwrap();
        let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
        let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
        let producer = thread::spawn(move || {
            let items = [10, 11, 12];
            let mut sent = 0;
            while sent < items.len() {
                sent += tx.try_send_slice(&items[sent..]).unwrap();
                thread::yield_now();
            }
        });
        let mut got = Vec::new();
        let mut out = [0u64; 2];
        while got.len() < 3 {
            let n = rx.try_recv_slice(&mut out).unwrap();
            got.extend_from_slice(&out[..n]);
            thread::yield_now();
        }
        assert_eq!(got, [10, 11, 12]);
        producer.join().unwrap();
    });
}

#[test]
fn chunks_commit_and_release() {
    model(|| {
        let mem = ring_memory(2);
        let ring = SpscRing::<u64>::init(mem.region(), RingConfig::new(2)).unwrap();
        let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
        let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
        let producer = thread::spawn(move || {
            for round in 0..2u64 {
                loop {
                    if let Ok(mut chunk) = tx.reserve(2) {
                        chunk.set(0, round * 2);
                        chunk.set(1, round * 2 + 1);
                        chunk.commit_all();
                        break;
                    }
                    thread::yield_now();
                }
            }
        });
        let mut next = 0;
        while next < 4 {
            match rx.peek(1) {
                Ok(chunk) => {
                    assert_eq!(chunk.get(0), next);
                    chunk.release_all();
                    next += 1;
                }
                Err(_) => thread::yield_now(),
            }
        }
        producer.join().unwrap();
    });
}

/// An attacher racing the creator either sees `NotReady` or a fully
/// initialised ring: the capacity, the element type and the zeroed indices.
#[test]
fn init_attach_handshake() {
    model(|| {
        let mem = std::sync::Arc::new(ring_memory(4));
        let config = RingConfig::new(4).with_creator_pid(1);
        let ring = SpscRing::<u64>::init_begin(mem.region(), config).unwrap();
        let attacher = {
            let mem = mem.clone();
            thread::spawn(move || loop {
                match SpscRing::<u64>::attach(mem.region()) {
                    Ok(ring) => {
                        assert_eq!(ring.capacity(), 4);
                        assert_eq!(ring.len(), 0);
                        let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
                        assert_eq!(rx.try_recv(), Err(RecvError::Empty));
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
