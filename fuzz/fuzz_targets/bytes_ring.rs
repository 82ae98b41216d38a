//! The byte ring: arbitrary operation sequences checked against a
//! `VecDeque` model, then (on the same ring) a hostile peer rewriting
//! indices and record bytes, or a ring attached to arbitrary bytes. With an
//! honest peer every message comes out whole and in order; with a hostile
//! one nothing may crash, hang or read out of bounds.
#![no_main]

use std::collections::VecDeque;

use interlink_core::bytes::{ByteRing, RecvError, SendError};
use interlink_core::{PopError, Region, RingConfig};
use libfuzzer_sys::fuzz_target;

/// Memory for the "mapping", aligned as a mapping would be.
#[repr(C, align(128))]
struct Mapping([u8; 384 + 1024]);

fn payload(seq: u32, len: usize) -> Vec<u8> {
    (0..len).map(|i| (seq as usize * 13 + i) as u8).collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut mapping = Box::new(Mapping([0; 384 + 1024]));
    let base = mapping.0.as_mut_ptr();
    let total = mapping.0.len();
    // SAFETY: the box outlives every use of the region below.
    let region = |len: usize| unsafe { Region::from_raw(base, len) }.unwrap();
    let hostile = mode & 1 != 0;
    let (ring, ops) = if mode & 2 != 0 {
        // Arbitrary bytes as the mapping: a header that may be anything.
        let (image, ops) = rest.split_at(rest.len().min(total));
        mapping.0[..image.len()].copy_from_slice(image);
        match ByteRing::attach(region(total), u64::from(mode >> 2)) {
            Ok(ring) => (ring, ops),
            Err(_) => return,
        }
    } else {
        let capacity = 32u32 << (mode >> 2) % 6;
        (
            ByteRing::init(region(total), RingConfig::new(capacity)).unwrap(),
            rest,
        )
    };
    let honest = !hostile && mode & 2 == 0;
    let (Ok(mut tx), Ok(mut rx)) = (ring.producer(1), ring.consumer(2)) else {
        return;
    };
    let max = ring.max_payload() as usize;
    let mut model = VecDeque::new();
    let mut seq = 0u32;
    let mut out = vec![0u8; 1024];
    for op in ops.chunks(3) {
        let arg = u16::from_le_bytes([op[0], *op.get(1).unwrap_or(&0)]) as usize;
        match op.get(2).copied().unwrap_or(0) % 8 {
            0 | 1 => {
                let len = arg % (max + 8);
                match tx.send(seq, &payload(seq, len)) {
                    Ok(()) => {
                        model.push_back((seq, payload(seq, len)));
                        seq += 1;
                    }
                    Err(SendError::TooLarge { .. }) => assert!(len > max),
                    Err(SendError::Full) => assert!(!honest || !ring.is_empty()),
                    Err(SendError::Corrupt) => assert!(!honest),
                }
            }
            2 => {
                if let Ok(mut r) = tx.reserve(arg % (max + 1)) {
                    let used = (arg >> 4) % (r.len() + 1);
                    r.as_mut_slice()[..used].copy_from_slice(&payload(seq, used));
                    r.commit(seq, used);
                    model.push_back((seq, payload(seq, used)));
                    seq += 1;
                }
            }
            3 => match rx.recv(&mut out[..arg % 1025]) {
                Ok((tag, len)) => {
                    let want = model.pop_front();
                    if honest {
                        assert_eq!(Some((tag, out[..len].to_vec())), want);
                    }
                }
                Err(RecvError::Empty) => assert!(!honest || model.is_empty()),
                Err(RecvError::BufferTooSmall { needed }) => {
                    assert!(needed > arg % 1025);
                    if honest {
                        assert_eq!(model.front().map(|m| m.1.len()), Some(needed));
                    }
                }
                Err(RecvError::Corrupt) => assert!(!honest),
            },
            4 => match rx.peek() {
                Ok(rec) => {
                    let view = rec.view();
                    assert_eq!(view.frame().len(), 16 + rec.len());
                    if honest {
                        let (tag, data) = model.front().unwrap();
                        assert_eq!((rec.tag(), rec.as_slice()), (*tag, &data[..]));
                    }
                    if arg & 1 == 0 {
                        rec.release();
                        model.pop_front();
                    }
                }
                Err(PopError::Empty) => assert!(!honest || model.is_empty()),
                Err(PopError::Corrupt) => assert!(!honest),
            },
            5 => {
                let r = rx.drain(arg % 5, |r| {
                    let want = model.pop_front();
                    if honest {
                        assert_eq!(Some((r.tag(), r.as_slice().to_vec())), want);
                    }
                });
                assert!(!honest || r.is_ok());
            }
            _ if hostile || mode & 2 != 0 => {
                // The hostile peer: overwrite a word of the indices or the
                // records.
                let offset = [128usize, 256, 384 + (arg >> 2) % 1024][arg % 3] & !3;
                let word = u32::from(op[0]) << 24 | arg as u32;
                // SAFETY: offset + 4 <= total, 4-aligned, inside the mapping;
                // a racing peer would write these words the same way.
                unsafe { base.add(offset).cast::<u32>().write_volatile(word) };
            }
            _ => {}
        }
        assert!(ring.used() <= ring.capacity());
    }
});
