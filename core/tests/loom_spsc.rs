//! Loom models of the SPSC ring: every interleaving (bounded) of a producer
//! and a consumer, for the single, batch and chunk APIs and for the
//! init/attach handshake.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p interlink-core --release --test loom_spsc`
#![cfg(loom)]

use interlink_core::spsc::SpscRing;
use interlink_core::{PopError, Region, RingConfig};
use loom::thread;

/// Heap memory aligned for the ring, freed when the model ends.
struct Memory {
    ptr: *mut u8,
    layout: std::alloc::Layout,
}

impl Memory {
    fn for_ring(capacity: u32) -> Self {
        let len = SpscRing::<u64>::bytes_needed(capacity).unwrap();
        let layout =
            std::alloc::Layout::from_size_align(len, SpscRing::<u64>::region_align()).unwrap();
        // SAFETY: the layout has a nonzero size.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!ptr.is_null());
        Self { ptr, layout }
    }

    fn region(&self) -> Region<'static> {
        // SAFETY: the memory outlives every thread of the model (they are
        // joined before `Memory` drops) and is reached only through rings.
        unsafe { Region::from_raw(self.ptr, self.layout.size()) }.unwrap()
    }
}

impl Drop for Memory {
    fn drop(&mut self) {
        // SAFETY: allocated in `for_ring` with this layout.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) };
    }
}

// SAFETY: the pointer is only used to build regions; see `region`.
unsafe impl Send for Memory {}
// SAFETY: as above.
unsafe impl Sync for Memory {}

/// Explores interleavings with at most `LOOM_MAX_PREEMPTIONS` (default 3)
/// preemptions: every bug found so far in such rings needs fewer, and the
/// full space of spin loops is unbounded.
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(f);
}

#[test]
fn push_pop_in_order_across_the_wrap() {
    model(|| {
        let mem = Memory::for_ring(2);
        let ring = SpscRing::<u64>::init(mem.region(), RingConfig::new(2)).unwrap();
        let mut tx = ring.producer(1).unwrap();
        let mut rx = ring.consumer(2).unwrap();
        let producer = thread::spawn(move || {
            for i in 0..3 {
                while tx.try_push(i).is_err() {
                    thread::yield_now();
                }
            }
        });
        for expected in 0..3 {
            loop {
                match rx.try_pop() {
                    Ok(v) => {
                        assert_eq!(v, expected);
                        break;
                    }
                    Err(PopError::Empty) => thread::yield_now(),
                    Err(PopError::Corrupt) => panic!("corrupt"),
                }
            }
        }
        producer.join().unwrap();
        assert_eq!(rx.try_pop(), Err(PopError::Empty));
    });
}

#[test]
fn batches_in_order() {
    model(|| {
        let mem = Memory::for_ring(2);
        let ring = SpscRing::<u64>::init(mem.region(), RingConfig::new(2)).unwrap();
        let mut tx = ring.producer(1).unwrap();
        let mut rx = ring.consumer(2).unwrap();
        let producer = thread::spawn(move || {
            let items = [10, 11, 12];
            let mut sent = 0;
            while sent < items.len() {
                sent += tx.push_slice(&items[sent..]).unwrap();
                thread::yield_now();
            }
        });
        let mut got = Vec::new();
        let mut out = [0u64; 2];
        while got.len() < 3 {
            let n = rx.pop_into(&mut out).unwrap();
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
        let mem = Memory::for_ring(2);
        let ring = SpscRing::<u64>::init(mem.region(), RingConfig::new(2)).unwrap();
        let mut tx = ring.producer(1).unwrap();
        let mut rx = ring.consumer(2).unwrap();
        let producer = thread::spawn(move || {
            for round in 0..2u64 {
                loop {
                    if let Ok(mut chunk) = tx.write_chunk(2) {
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
            match rx.read_chunk(1) {
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
        let mem = std::sync::Arc::new(Memory::for_ring(4));
        let config = RingConfig::new(4).with_type_id(9).with_creator_pid(1);
        let ring = SpscRing::<u64>::init_begin(mem.region(), config).unwrap();
        let attacher = {
            let mem = mem.clone();
            thread::spawn(move || loop {
                match SpscRing::<u64>::attach(mem.region(), 9) {
                    Ok(ring) => {
                        assert_eq!(ring.capacity(), 4);
                        assert_eq!(ring.len(), 0);
                        let mut rx = ring.consumer(2).unwrap();
                        assert_eq!(rx.try_pop(), Err(PopError::Empty));
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
