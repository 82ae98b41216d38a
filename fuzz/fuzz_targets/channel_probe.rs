//! The named-channel open path on hostile objects: the input decides the
//! contents and the size of a POSIX shm object (a structure made by the
//! core's `init` with chosen words overwritten, or raw bytes), and
//! optionally a thread that flips its size between 0 and its length while
//! the object is probed and opened; then `inspect::probe` judges it and
//! `Channel::open` (zero or 1 ms open timeout) opens it as an SPSC, byte
//! or MPMC channel, and if that succeeds the opener claims its roles and
//! runs a few operations on what the object holds. None of this may
//! crash, hang or touch memory outside the mapping.
//!
//! Input: byte 0 = shape (`% 3`: SPSC of u32, bytes, MPMC of u32) and
//! flags (bit 2: raw contents, bit 3: flip the size while probing and
//! opening — for MPMC only while probing, unless the environment sets
//! `INTERLINK_FUZZ_FLIP_MPMC_OPEN`, see below —, bit 4: 1 ms open timeout,
//! bit 5: no prefault); byte 1 =
//! capacity exponent; byte 2 = size choice; byte 3 = type id; then the
//! raw contents, or patches (word offset, value) to the initialised
//! structure; then a count for the operations after a successful open.
#![no_main]

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use interlink_core::bytes::ByteRing;
use interlink_core::mpmc::MpmcRing;
use interlink_core::spsc::SpscRing;
use interlink_core::{ElementCheck, Region, RingConfig};
use interlink_fuzz::{Input, Mapping};
use interlink_linux::channel::{Bytes, Channel, ChannelOptions, Mpmc, Spsc};
use interlink_linux::inspect;
use interlink_linux::shm::MapOptions;
use libfuzzer_sys::fuzz_target;

/// Objects larger than this are not worth prefaulting on every run.
const MAX_SIZE: u64 = 1 << 20;

fn name() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| format!("/interlink-fuzz-probe-{}", std::process::id()))
}

fuzz_target!(|data: &[u8]| run(data));

fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.byte();
    let shape = flags % 3;
    let raw = flags & 4 != 0;
    let flip = flags & 8 != 0;
    let timeout = if flags & 16 != 0 {
        Duration::from_millis(1)
    } else {
        Duration::ZERO
    };
    let prefault = flags & 32 == 0;
    let exp = input.byte();
    let size_choice = input.byte();
    let element_check = if input.byte() % 2 == 0 {
        ElementCheck::Exact
    } else {
        ElementCheck::LayoutOnly
    };

    // The contents: a structure made by init, then patched; or raw bytes.
    let contents: Vec<u8> = if raw {
        let n = input.below(4096);
        input.bytes(n).to_vec()
    } else {
        let (len, init): (usize, fn(Region<'_>, RingConfig) -> bool) = match shape {
            0 => {
                let cap = 1u32 << (exp % 9);
                (SpscRing::<u32>::bytes_needed(cap).unwrap_or(0), |r, c| {
                    SpscRing::<u32>::init(r, c).is_ok()
                })
            }
            1 => {
                let cap = 32u32 << (exp % 8);
                (ByteRing::bytes_needed(cap).unwrap_or(0), |r, c| {
                    ByteRing::init(r, c).is_ok()
                })
            }
            _ => {
                let cap = 2u32 << (exp % 8);
                (MpmcRing::<u32>::bytes_needed(cap).unwrap_or(0), |r, c| {
                    MpmcRing::<u32>::init(r, c).is_ok()
                })
            }
        };
        let cap = match shape {
            0 => 1u32 << (exp % 9),
            1 => 32u32 << (exp % 8),
            _ => 2u32 << (exp % 8),
        };
        let m = Mapping::new(len, 128);
        let config = RingConfig::new(cap).with_creator_pid(if exp & 64 != 0 {
            std::process::id()
        } else {
            1
        });
        assert!(init(m.region(), config));
        let hostile = interlink_fuzz::Hostile::new(&m);
        let patches = input.byte() % 8;
        for _ in 0..patches {
            let named = [
                0, 4, 8, 12, 16, 20, 24, 32, 36, 40, 44, 64, 68, 124, 128, 256,
            ];
            hostile.write_from(&mut input, &named, cap);
        }
        // SAFETY: `m` holds `len` initialised bytes; no handle is alive.
        unsafe { std::slice::from_raw_parts(m.base(), len) }.to_vec()
    };
    let len = contents.len() as u64;
    let size = match size_choice % 12 {
        0..=4 => len,
        5 => 0,
        6 => 63,
        7 => 64,
        8 => len.saturating_sub(1),
        9 => len + 1,
        10 => len + 4096,
        _ => u64::from(input.u16()) * 16,
    }
    .min(MAX_SIZE);

    let path = format!("/dev/shm{}", name());
    let Ok(mut file) = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
    else {
        return;
    };
    let _ = file.write_all(&contents);
    let _ = file.set_len(size);

    // A peer that flips the size while we look.
    let stop = Arc::new(AtomicBool::new(false));
    let mut flipper = flip.then(|| {
        let (file, stop) = (file.try_clone().expect("dup"), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) && n < 100_000 {
                let _ = file.set_len(if n.is_multiple_of(2) { 0 } else { size });
                n += 1;
            }
        })
    });

    let object = inspect::probe(name());
    if let Ok(o) = &object {
        let _ = (o.is_interlink(), o.is_stale(), format!("{o:?} {}", o.state));
    }
    // An MPMC open joins the users table, which writes the mapping: a peer
    // truncating the object then kills the opener (SIGBUS), as it would any
    // later operation. That is known and documented (docs/fuzzing.md), so
    // the flipping stops before an MPMC open unless asked for.
    if shape == 2 && std::env::var_os("INTERLINK_FUZZ_FLIP_MPMC_OPEN").is_none() {
        stop_flipping(&stop, flipper.take(), &file, size);
    }
    let map = if prefault {
        MapOptions::new()
    } else {
        MapOptions::new().prefault(false)
    };
    let options = ChannelOptions::new()
        .open_timeout(timeout)
        .map(map)
        .element_check(element_check);
    let ops = input.below(64);
    match shape {
        0 => {
            let ch = Channel::<Spsc<u32>>::open(name(), &options);
            stop_flipping(&stop, flipper.take(), &file, size);
            if let Ok(ch) = ch {
                let _ = (ch.capacity(), ch.len(), ch.is_empty());
                if let Ok(mut tx) = ch.sender() {
                    for i in 0..ops {
                        let _ = tx.try_send(i as u32);
                    }
                    let items = vec![9u32; input.below(1100)];
                    if let Ok(n) = tx.producer().try_send_slice(&items) {
                        assert!(n <= items.len() && n <= ch.capacity() as usize);
                    }
                }
                if let Ok(mut rx) = ch.receiver() {
                    for _ in 0..ops {
                        let _ = rx.try_recv();
                    }
                    let mut out = vec![0u32; input.below(1100)];
                    if let Ok(n) = rx.consumer().try_recv_slice(&mut out) {
                        assert!(n <= out.len() && n <= ch.capacity() as usize);
                    }
                }
            }
        }
        1 => {
            let ch = Channel::<Bytes>::open(name(), &options);
            stop_flipping(&stop, flipper.take(), &file, size);
            if let Ok(ch) = ch {
                let max = ch.max_payload() as usize;
                if let Ok(mut tx) = ch.sender() {
                    for i in 0..ops {
                        let _ = tx.try_send(i as u32, &vec![i as u8; (i * 37) % (max + 2)]);
                    }
                }
                if let Ok(mut rx) = ch.receiver() {
                    let mut buf = vec![0u8; max + 16];
                    for _ in 0..ops {
                        if let Ok((_, n)) = rx.try_recv(&mut buf) {
                            assert!(n <= buf.len());
                        }
                    }
                }
            }
        }
        _ => {
            let ch = Channel::<Mpmc<u32>>::open(name(), &options);
            stop_flipping(&stop, flipper.take(), &file, size);
            if let Ok(ch) = ch {
                if let Ok(h) = ch.handle() {
                    for i in 0..ops {
                        let _ = h.try_send(i as u32);
                        if i % 2 == 0 {
                            let _ = h.try_recv();
                        }
                    }
                    let mut out = vec![0u32; input.below(100)];
                    if let Ok(n) = h.ring().try_recv_slice(&mut out) {
                        assert!(n <= out.len());
                    }
                }
            }
        }
    }
    let _ = std::fs::remove_file(&path);
}

/// Ends the size flipping and restores the object's size before the
/// opener uses its mapping (truncation under a mapping is what only a
/// sealed memfd rules out).
fn stop_flipping(
    stop: &AtomicBool,
    flipper: Option<std::thread::JoinHandle<()>>,
    file: &std::fs::File,
    size: u64,
) {
    stop.store(true, Ordering::Relaxed);
    if let Some(t) = flipper {
        let _ = t.join();
        let _ = file.set_len(size);
    }
}
