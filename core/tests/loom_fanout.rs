//! Loom models of the fan-out ring: the writer never overwrites a slot a
//! subscriber still needs (a slot is a tracked cell: a write racing a
//! read fails the model, and every value is checked), including a
//! subscriber joining while the writer runs and one leaving.
//!
//! Run: `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p interlink-core --release --test loom_fanout`
#![cfg(loom)]

use interlink_core::fanout::FanoutRing;
use interlink_core::{RecvError, RingConfig, SendError};
use loom::thread;

mod common;

use common::{model, Memory};

fn memory(capacity: u32) -> Memory {
    Memory::new(
        FanoutRing::<u32>::bytes_needed(capacity).unwrap(),
        FanoutRing::<u32>::region_align(),
    )
}

/// Capacity 2, three values: the writer laps the buffer and must wait for
/// the subscriber; a second subscriber joins meanwhile and must receive a
/// gap-free run ending at the last value.
#[test]
fn the_writer_never_overwrites_what_a_subscriber_needs() {
    model(|| {
        const SENT: u32 = 3;
        let mem = memory(2);
        let ring = FanoutRing::<u32>::init(mem.region(), RingConfig::new(2)).unwrap();
        let mut w = ring.writer(1).unwrap();
        let mut first = ring.subscribe(2, |_| true).unwrap();
        let writer = thread::spawn(move || {
            for v in 0..SENT {
                loop {
                    match w.try_send(v) {
                        Ok(()) => break,
                        Err(SendError::Full) => thread::yield_now(),
                        Err(e) => panic!("{e}"),
                    }
                }
            }
        });
        let joiner = thread::spawn(move || {
            let mut late = ring.subscribe(3, |_| true).unwrap();
            let mut expect = None::<u32>;
            loop {
                match late.try_recv() {
                    Ok(v) => {
                        if let Some(e) = expect {
                            assert_eq!(v, e, "a gap or a repeat");
                        }
                        expect = Some(v + 1);
                        if v == SENT - 1 {
                            break;
                        }
                    }
                    Err(RecvError::Empty) => {
                        // Joined after the last value: nothing to wait for.
                        if expect.is_none() && ring.writer_holder() == 0 {
                            break;
                        }
                        thread::yield_now()
                    }
                    Err(e) => panic!("{e}"),
                }
            }
        });
        for v in 0..SENT {
            loop {
                match first.try_recv() {
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
        joiner.join().unwrap();
    });
}
