//! Loom model of the latest-value table (a seqlock per cell): a reader
//! racing the writer gets a value whose two words agree and match its
//! version, or a typed error (`Empty`, `Stalled`) — never a torn value.
//!
//! Run: `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p interlink-core --release --test loom_latest`
#![cfg(loom)]

use interlink_core::latest::LatestTable;
use interlink_core::Holder;
use interlink_core::{RecvError, RingConfig};
use loom::thread;

mod common;

use common::{model, Memory};

/// Both 32-bit halves hold `n`: a value mixing two writes shows.
fn value(n: u64) -> u64 {
    n << 32 | n
}

#[test]
fn a_reader_never_sees_a_torn_value() {
    model(|| {
        let mem = Memory::new(
            LatestTable::<u64>::bytes_needed(1).unwrap(),
            LatestTable::<u64>::region_align(),
        );
        let table = LatestTable::<u64>::init(mem.region(), RingConfig::new(1)).unwrap();
        let mut w = table.writer(Holder::fixed::<1>()).unwrap();
        let writer = thread::spawn(move || {
            for n in 1..=2u64 {
                assert_eq!(w.try_send(0, value(n)), Ok(n));
            }
        });
        let mut last = 0;
        for _ in 0..2 {
            match table.try_recv(0) {
                Ok((v, version)) => {
                    assert_eq!(v, value(version), "torn or mismatched value");
                    assert!(version >= last, "version went back");
                    last = version;
                }
                Err(RecvError::Empty) | Err(RecvError::Stalled { .. }) => {}
                Err(e) => panic!("{e}"),
            }
        }
        writer.join().unwrap();
        assert_eq!(table.try_recv(0), Ok((value(2), 2)));
    });
}
