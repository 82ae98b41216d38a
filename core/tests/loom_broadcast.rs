//! Loom models of the broadcast ring: a writer lapping a reader in a tiny
//! buffer, under every interleaving (bounded). Under loom the buffer is a
//! row of tracked 8-byte atomics, so a reader copying a record while the
//! writer overwrites it sees the bytes of both; the models check that such
//! a record is never returned (every returned payload matches its tag),
//! that records come in order, and that `received + missed` is exactly the
//! number of records written.
//!
//! Run: `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p interlink-core --release --test loom_broadcast`
#![cfg(loom)]

use interlink_core::broadcast::{BroadcastRing, Reader, Start};
use interlink_core::Holder;
use interlink_core::{RecvError, RingConfig};
use loom::thread;

mod common;

use common::{model_bounded, Memory};

fn memory(capacity: u32) -> Memory {
    Memory::new(
        BroadcastRing::bytes_needed(capacity).unwrap(),
        BroadcastRing::region_align(),
    )
}

/// Payload bytes that all derive from `seq`: a mix of two records fails
/// the comparison.
fn payload(seq: u32, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (seq as usize * 37 + i + 1) as u8)
        .collect()
}

/// Receives until `Empty`, checking every record; returns the number of
/// the last one received.
fn drain(r: &mut Reader<'_>, len: usize, mut last: Option<u32>) -> Option<u32> {
    let mut out = [0u8; 64];
    loop {
        match r.try_recv(&mut out) {
            Ok((tag, n)) => {
                assert_eq!(n, len);
                assert_eq!(&out[..n], &payload(tag, len)[..], "torn record {tag}");
                assert!(last.is_none_or(|l| tag > l), "out of order");
                last = Some(tag);
            }
            Err(RecvError::Lapped { missed }) => assert!(missed > 0),
            Err(RecvError::Empty) => return last,
            Err(e) => panic!("{e}"),
        }
    }
}

/// Capacity 64, records of 48 bytes (24 payload bytes): record 0 does not
/// fit after the 24-byte genesis record, so the writer pads to the end and
/// writes it at the front (positions 0..48); record 1 does not fit in the
/// 16 bytes left (a skipped tail) and overwrites record 0 entirely. A
/// reader racing the writer is lapped in many interleavings, and copies
/// record 0's payload while record 1 overwrites it in some: the model
/// fails if such a copy is ever returned (checked to fail without the
/// reader's re-check after the payload copy).
#[test]
fn a_lapped_reader_never_returns_a_torn_record_and_counts_exactly() {
    model_bounded(2, || {
        const SENT: u32 = 2;
        let mem = memory(64);
        let ring = BroadcastRing::init(mem.region(), RingConfig::new(64)).unwrap();
        let mut w = ring.writer(Holder::fixed::<1>()).unwrap();
        let mut r = ring.reader(Start::Oldest);
        let writer = thread::spawn(move || {
            for seq in 0..SENT {
                w.try_send(seq, &payload(seq, 24)).unwrap();
            }
        });
        let mut last = None;
        let mut out = [0u8; 64];
        // A read racing the writer.
        for _ in 0..1 {
            match r.try_recv(&mut out) {
                Ok((tag, n)) => {
                    assert_eq!(&out[..n], &payload(tag, 24)[..], "torn record {tag}");
                    assert!(last.is_none_or(|l| tag > l));
                    last = Some(tag);
                }
                Err(RecvError::Lapped { missed }) => assert!(missed > 0),
                Err(RecvError::Empty) => thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
        }
        writer.join().unwrap();
        let last = drain(&mut r, 24, last);
        assert_eq!(last, Some(SENT - 1), "the newest record is never lost");
        assert_eq!(r.received() + r.missed(), SENT as u64);
    });
}

/// A late joiner at the newest record, joining while the writer writes:
/// whatever it starts from, it gets intact records in order, and its
/// count from its first record on is exact.
#[test]
fn a_late_joiner_starts_at_an_intact_record() {
    model_bounded(2, || {
        const SENT: u32 = 2;
        let mem = memory(64);
        let ring = BroadcastRing::init(mem.region(), RingConfig::new(64)).unwrap();
        let mut w = ring.writer(Holder::fixed::<1>()).unwrap();
        w.try_send(0, &payload(0, 8)).unwrap();
        let writer = thread::spawn(move || {
            for seq in 1..SENT {
                w.try_send(seq, &payload(seq, 8)).unwrap();
            }
        });
        let mut r = ring.reader(Start::Newest);
        let first = r.next_seq();
        writer.join().unwrap();
        let last = drain(&mut r, 8, None);
        assert_eq!(last, Some(SENT - 1));
        if let Some(first) = first {
            assert_eq!(r.received() + r.missed(), SENT as u64 - first);
        }
    });
}
