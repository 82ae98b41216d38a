//! Attach an MPMC ring to arbitrary bytes and run arbitrary operations on
//! it, with a hostile "peer" rewriting the shared words in between. It must
//! never crash, read out of bounds, or hang. On a ring it initialised
//! itself, until the peer's first write, it also checks every operation
//! against a `VecDeque`.
#![no_main]

use std::collections::VecDeque;

use interlink_core::mpmc::{status, MpmcRing, PopError, PushError, UserSlot};
use interlink_core::{Region, RingConfig};
use libfuzzer_sys::fuzz_target;

/// Memory for the "mapping", aligned as a mapping would be.
#[repr(C, align(128))]
struct Mapping([u8; 16384]);

fuzz_target!(|data: &[u8]| {
    let [mode, image_len, rest @ ..] = data else {
        return;
    };
    let mode = *mode;
    let mut mapping = Box::new(Mapping([0; 16384]));
    // Attaching needs an image of the ring; a ring we initialise does not.
    let image_len = if mode & 2 == 0 { *image_len as usize * 8 } else { 0 };
    let (image, ops) = rest.split_at(rest.len().min(image_len));
    mapping.0[..image.len()].copy_from_slice(image);
    let base = mapping.0.as_mut_ptr();
    // Length of the region: when attaching, sometimes shorter than the
    // ring needs.
    let len = if mode & 3 == 1 { image.len() } else { 16384 };
    // SAFETY: the box outlives every use of the region below.
    let region = || unsafe { Region::from_raw(base, len) }.unwrap();

    let (ring, mut model) = if mode & 2 == 0 {
        // The bytes as they are: a header that may be anything at all.
        match MpmcRing::<u32>::attach(region(), u64::from(mode >> 2)) {
            Ok(ring) => (ring, None),
            Err(_) => return,
        }
    } else {
        // A well-formed ring, checked against a model until the peer writes.
        let capacity = 2u32 << (mode >> 4).min(10);
        let Ok(ring) = MpmcRing::<u32>::init(region(), RingConfig::new(capacity)) else {
            return;
        };
        (ring, Some(VecDeque::new()))
    };
    let stride = MpmcRing::<u32>::bytes_needed(ring.capacity()).unwrap_or(0) as u32;
    let mut out = [0u32; 64];
    let mut items = [0u32; 64];
    for op in ops.chunks(5) {
        let arg = u32::from_le_bytes([
            op[0],
            *op.get(1).unwrap_or(&0),
            *op.get(2).unwrap_or(&0),
            *op.get(3).unwrap_or(&0),
        ]);
        let spins = arg >> 28; // small: a stalled slot must not slow the run
        match op.get(4).copied().unwrap_or(0) % 8 {
            0 => {
                let r = ring.push_with_spin_limit(arg, spins);
                if let Some(m) = &mut model {
                    match r {
                        Ok(()) => m.push_back(arg),
                        Err(e) => assert_eq!((e, m.len()), (PushError::Full, ring.capacity() as usize)),
                    }
                }
            }
            1 => {
                let r = ring.pop_with_spin_limit(spins);
                if let Some(m) = &mut model {
                    match r {
                        Ok(v) => assert_eq!(Some(v), m.pop_front()),
                        Err(e) => assert_eq!((e, m.len()), (PopError::Empty, 0)),
                    }
                }
            }
            2 => {
                let n = arg as usize % 64;
                items[..n].iter_mut().enumerate().for_each(|(i, x)| *x = arg.wrapping_add(i as u32));
                let r = ring.push_slice(&items[..n]);
                if let Some(m) = &mut model {
                    let room = ring.capacity() as usize - m.len();
                    match r {
                        Ok(k) => {
                            assert_eq!(k, n.min(room));
                            m.extend(&items[..k]);
                        }
                        Err(e) => assert_eq!((e, room), (PushError::Full, 0)),
                    }
                }
            }
            3 => {
                let n = arg as usize % 64;
                let r = ring.pop_into(&mut out[..n]);
                if let Some(m) = &mut model {
                    match r {
                        Ok(k) => {
                            assert_eq!(k, n.min(m.len()));
                            for v in &out[..k] {
                                assert_eq!(Some(*v), m.pop_front());
                            }
                        }
                        Err(e) => assert_eq!((e, m.len()), (PopError::Empty, 0)),
                    }
                }
            }
            4 if arg & 1 == 0 => {
                // Nothing is stalled in an honest single-threaded ring.
                let r = ring.skip_stalled(arg);
                if model.is_some() {
                    assert!(r.is_err());
                }
            }
            4 => {
                // The users table: join (ids with bit 1 set judged dead),
                // then leave, which an honest table always allows.
                let holder = arg >> 2;
                match ring.join(holder, |h| h & 2 == 0) {
                    Ok(slot) => {
                        let left = ring.leave(slot, holder);
                        if model.is_some() {
                            assert_eq!(left, matches!(slot, UserSlot::Word(_)));
                        }
                    }
                    Err(_) => assert_eq!(holder, 0),
                }
            }
            // The hostile peer: overwrite a shared word (tail at 128, head
            // at 256, a slot's sequence word, or anywhere in the ring, the
            // users table at 64..128 included).
            _ => {
                let offset = [128, 256, 384 + (arg >> 8) % stride.max(1) / 8 * 8, (arg >> 8) % stride.max(4)]
                    [(arg & 3) as usize] as usize
                    & !3;
                if offset + 4 <= len.min(16384) {
                    // SAFETY: inside the mapping and 4-aligned; a racing
                    // peer would write these words the same way.
                    unsafe { base.add(offset).cast::<u32>().write_volatile(arg) };
                    model = None;
                }
            }
        }
        if let Some(m) = &model {
            assert_eq!(ring.len() as usize, m.len());
        }
        let _ = (ring.is_empty(), ring.is_full(), ring.header(), ring.users());
        let _ = status(&region());
    }
});
