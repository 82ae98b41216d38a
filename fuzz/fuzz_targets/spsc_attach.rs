//! Attach an SPSC ring to arbitrary bytes and run arbitrary operations on
//! it, with a hostile "peer" rewriting the shared indices in between. It
//! must never crash, read out of bounds, or hang.
#![no_main]

use interlink_core::spsc::SpscRing;
use interlink_core::{Region, RingConfig};
use libfuzzer_sys::fuzz_target;

/// Memory for the "mapping", aligned as a mapping would be.
#[repr(C, align(128))]
struct Mapping([u8; 8192]);

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut mapping = Box::new(Mapping([0; 8192]));
    let (image, ops) = rest.split_at(rest.len().min(1024));
    mapping.0[..image.len()].copy_from_slice(image);
    let base = mapping.0.as_mut_ptr();
    // Length of the region: sometimes shorter than the ring needs.
    let len = if mode & 1 == 0 { 8192 } else { image.len() };
    // SAFETY: the box outlives every use of the region below.
    let region = || unsafe { Region::from_raw(base, len) }.unwrap();

    let ring = if mode & 2 == 0 {
        // The bytes as they are: a header that may be anything at all.
        match SpscRing::<u32>::attach(region(), u64::from(mode >> 2)) {
            Ok(ring) => ring,
            Err(_) => return,
        }
    } else {
        // A well-formed ring whose words are then overwritten by the input.
        let capacity = 1u32 << (mode >> 4).min(10);
        let Ok(ring) = SpscRing::<u32>::init(region(), RingConfig::new(capacity)) else {
            return;
        };
        ring
    };
    let (Ok(mut tx), Ok(mut rx)) = (ring.producer(1), ring.consumer(2)) else {
        return;
    };
    let mut out = [0u32; 64];
    for op in ops.chunks(5) {
        let arg = u32::from_le_bytes([op[0], *op.get(1).unwrap_or(&0), *op.get(2).unwrap_or(&0), *op.get(3).unwrap_or(&0)]);
        match op.get(4).copied().unwrap_or(0) % 8 {
            0 => drop(tx.try_push(arg)),
            1 => drop(rx.try_pop()),
            2 => drop(tx.push_slice(&out[..(arg as usize % 64)])),
            3 => drop(rx.pop_into(&mut out[..(arg as usize % 64)])),
            4 => {
                if let Ok(mut chunk) = tx.write_chunk(arg % 70) {
                    let (a, b) = chunk.as_mut_slices();
                    a.fill(arg);
                    b.fill(arg);
                    chunk.commit(arg >> 8);
                }
            }
            5 => {
                if let Ok(chunk) = rx.read_chunk(arg % 70) {
                    let (a, b) = chunk.as_slices();
                    std::hint::black_box((a, b));
                    chunk.release(arg >> 8);
                }
            }
            // The hostile peer: overwrite a shared word (tail at 128, head
            // at 256, or anywhere in the first lines).
            _ => {
                let offset = [128usize, 256, (arg as usize >> 8) % 384][(arg & 3) as usize % 3] & !3;
                // SAFETY: offset < 384 and 4-aligned, inside the mapping;
                // a racing peer would write these words the same way.
                unsafe { base.add(offset).cast::<u32>().write_volatile(arg) };
            }
        }
        let _ = (ring.len(), tx.len(), rx.len(), ring.header());
    }
});
