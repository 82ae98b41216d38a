//! The block pool's hand-over between two threads on two cores, for
//! 64 B, 4 KiB, 64 KiB, 1 MiB and 4 MiB payloads, in one run with the
//! byte ring moving the same payloads:
//! - `pool_handoff`: loan a block, hand its handle off over an SPSC ring
//!   of `Handle`s, accept it on the other side and release it (payload
//!   not touched): what a zero-copy hand-over costs, which should not
//!   depend on the size;
//! - `pool_write_read`: the same, with the payload written once by the
//!   sender and read once by the receiver;
//! - `bytes_send_recv`: the byte ring copying the payload in (`try_send`)
//!   and out (`try_recv`).
//!
//! ```text
//! cargo bench -p interlink-core --bench pool
//! cargo bench -p interlink-core --bench pool -- --warm-up-time 1 --measurement-time 1 --sample-size 10
//! ```

use std::hint::{black_box, spin_loop};
use std::time::Duration;

mod common;

use common::{two_threads, Memory};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use interlink_core::bytes::ByteRing;
use interlink_core::pool::{Handle, Pool, PoolConfig, Recipient};
use interlink_core::spsc::SpscRing;
use interlink_core::{Holder, Region, RingConfig};

/// Blocks in the pool (and slots in the handle ring).
const BLOCKS: u32 = 16;
/// Hand-overs per measured run.
const COUNT: usize = 2000;
const SIZES: [usize; 5] = [64, 4 << 10, 64 << 10, 1 << 20, 4 << 20];

/// Loans, hands off over an SPSC ring of handles, accepts, releases;
/// with `touch`, writes the payload before and reads it after.
fn pool_handoff(len: usize, touch: bool) -> Duration {
    let mut pool_mem = Memory::new(Pool::bytes_needed(BLOCKS, len as u32).unwrap());
    let pool = Pool::init(
        Region::new(pool_mem.bytes()),
        PoolConfig::new(BLOCKS, len as u32),
    )
    .unwrap();
    let mut ring_mem = Memory::new(SpscRing::<Handle>::bytes_needed(BLOCKS).unwrap());
    let ring =
        SpscRing::<Handle>::init(Region::new(ring_mem.bytes()), RingConfig::new(BLOCKS)).unwrap();
    let (mut tx, mut rx) = (
        ring.producer(Holder::fixed::<1>()).unwrap(),
        ring.consumer(Holder::fixed::<2>()).unwrap(),
    );
    let src = vec![7u8; len];
    let mut dst = vec![0u8; len];
    two_threads(
        || {
            for _ in 0..COUNT {
                let mut loan = loop {
                    match pool.try_loan(Holder::fixed::<1>()) {
                        Ok(loan) => break loan,
                        Err(_) => spin_loop(),
                    }
                };
                if touch {
                    loan.as_mut_slice().copy_from_slice(&src);
                }
                let h = loan
                    .hand_off(len as u32, Recipient::Holder(Holder::fixed::<2>()))
                    .unwrap();
                while tx.try_send(h).is_err() {
                    spin_loop();
                }
            }
        },
        || {
            for _ in 0..COUNT {
                let h = loop {
                    match rx.try_recv() {
                        Ok(h) => break h,
                        Err(_) => spin_loop(),
                    }
                };
                let sample = pool.accept(&h, Holder::fixed::<2>()).unwrap();
                if touch {
                    dst.copy_from_slice(sample.as_slice());
                }
                black_box(sample.len());
            }
            black_box(&dst);
        },
    )
}

/// The byte ring copying each payload in and out.
fn bytes_send_recv(len: usize) -> Duration {
    let capacity = ((len + 16) * 4).next_power_of_two().max(1 << 16) as u32;
    let mut mem = Memory::new(ByteRing::bytes_needed(capacity).unwrap());
    let ring = ByteRing::init(Region::new(mem.bytes()), RingConfig::new(capacity)).unwrap();
    let (mut tx, mut rx) = (
        ring.producer(Holder::fixed::<1>()).unwrap(),
        ring.consumer(Holder::fixed::<2>()).unwrap(),
    );
    let src = vec![7u8; len];
    let mut dst = vec![0u8; len];
    two_threads(
        || {
            for i in 0..COUNT {
                while tx.try_send(i as u32, &src).is_err() {
                    spin_loop();
                }
            }
        },
        || {
            let mut got = 0;
            while got < COUNT {
                if rx.try_recv(&mut dst).is_ok() {
                    got += 1;
                } else {
                    spin_loop();
                }
            }
            black_box(&dst);
        },
    )
}

fn bench(c: &mut Criterion) {
    for len in SIZES {
        let mut g = c.benchmark_group(format!("pool_{len}B"));
        g.throughput(Throughput::ElementsAndBytes {
            elements: COUNT as u64,
            bytes: (COUNT * len) as u64,
        });
        g.sample_size(10);
        g.measurement_time(Duration::from_secs(2));
        let mut run = |name: &str, f: &dyn Fn() -> Duration| {
            g.bench_function(BenchmarkId::new(name, len), |b| common::each_run(b, f));
        };
        run("pool_handoff", &|| pool_handoff(len, false));
        run("pool_write_read", &|| pool_handoff(len, true));
        run("bytes_send_recv", &|| bytes_send_recv(len));
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
