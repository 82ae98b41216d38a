//! The byte ring between two real processes sharing a mapping.

mod common;

use common::{fill, Rng};
use interlink_core::bytes::{ByteRing, RecvError, SendError};
use interlink_core::RingConfig;
use interlink_linux::process::{self, fork, Exit};
use interlink_linux::shm::Mapping;

const CAPACITY: u32 = 1 << 16;

/// Messages streamed: a million in optimised builds; fewer in debug builds,
/// where every byte costs ten times more and the test must stay in seconds.
const COUNT: u32 = if cfg!(debug_assertions) {
    100_000
} else {
    1_000_000
};

/// Length of message `seq` from the shared sequence: 0 and the ring's
/// largest now and then, one in 512 anywhere up to the largest, the rest
/// up to 256 bytes.
fn length(rng: &mut Rng, max: usize) -> usize {
    let r = rng.next();
    match r % 512 {
        0 => max,
        1 => 0,
        2 => (r >> 16) as usize % (max + 1),
        _ => (r >> 16) as usize % 257,
    }
}

/// A parent streams messages of random sizes (0 B to the largest) to a
/// forked child through a shared mapping, half through reserve/commit and
/// half through send; the child takes them with recv and with batch drains
/// and checks each one's tag, length and every byte against what the
/// parent wrote: nothing lost, duplicated, reordered or torn.
#[test]
fn a_million_messages_of_random_sizes_between_processes() {
    let map = Mapping::anonymous(ByteRing::bytes_needed(CAPACITY).unwrap()).unwrap();
    let ring = ByteRing::init(map.region(), RingConfig::new(CAPACITY)).unwrap();
    let max = ring.max_payload() as usize;
    let mut child = fork(|| {
        let Ok(mut rx) = ring.consumer(process::holder()) else {
            return 2;
        };
        let mut lengths = Rng(42);
        let mut expected = vec![0u8; max];
        let mut buf = vec![0u8; max];
        let mut seq = 0u32;
        // Returns false on any mismatch.
        let mut check = |seq: u32, tag: u32, bytes: &[u8], lengths: &mut Rng| {
            let len = length(lengths, max);
            fill(seq, &mut expected[..len]);
            tag == seq && bytes == &expected[..len]
        };
        while seq < COUNT {
            if seq.is_multiple_of(2) {
                match rx.try_recv(&mut buf) {
                    Ok((tag, len)) => {
                        if !check(seq, tag, &buf[..len], &mut lengths) {
                            return 3;
                        }
                        seq += 1;
                    }
                    Err(RecvError::Empty) => std::hint::spin_loop(),
                    Err(_) => return 4,
                }
            } else {
                let mut ok = true;
                let batch = (COUNT - seq).min(8) as usize;
                let got = rx.drain(batch, |r| {
                    ok &= check(seq, r.tag(), r.as_slice(), &mut lengths);
                    seq += 1;
                });
                match got {
                    Ok(_) if !ok => return 3,
                    Ok(0) => std::hint::spin_loop(),
                    Ok(_) => {}
                    Err(_) => return 4,
                }
            }
        }
        0
    })
    .unwrap();

    let mut tx = ring.producer(process::holder()).unwrap();
    let mut lengths = Rng(42);
    let mut scratch = vec![0u8; max];
    let mut stalls = 0u64;
    for seq in 0..COUNT {
        let len = length(&mut lengths, max);
        loop {
            let sent = if seq.is_multiple_of(2) {
                tx.reserve(len).map(|mut r| {
                    fill(seq, r.as_mut_slice());
                    r.commit(seq, len);
                })
            } else {
                fill(seq, &mut scratch[..len]);
                tx.try_send(seq, &scratch[..len])
            };
            match sent {
                Ok(()) => break,
                Err(SendError::Full) => {
                    stalls += 1;
                    // A consumer that died would leave us spinning.
                    if stalls.is_multiple_of(1 << 16) {
                        if let Some(exit) = child.try_wait().unwrap() {
                            panic!("consumer ended early: {exit:?}");
                        }
                    }
                    std::hint::spin_loop();
                }
                Err(e) => panic!("{e}"),
            }
        }
    }
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
    assert!(ring.is_empty());
}

/// A producer killed between reserve and commit loses only that message;
/// a new producer takes the role back and the stream goes on.
#[test]
fn a_producer_killed_mid_message_loses_only_that_message() {
    let map = Mapping::anonymous(ByteRing::bytes_needed(4096).unwrap()).unwrap();
    let ring = ByteRing::init(map.region(), RingConfig::new(4096)).unwrap();
    let child = fork(|| {
        let mut tx = ring.producer(process::holder()).unwrap();
        tx.try_send(1, b"committed").unwrap();
        let mut r = tx.reserve(100).unwrap();
        r.write(0, b"never committed");
        // SAFETY: raising SIGKILL on ourselves; nothing runs after it.
        unsafe { libc::raise(libc::SIGKILL) };
        0
    })
    .unwrap();
    let pid = child.pid();
    assert_eq!(child.wait().unwrap(), Exit::Signal(libc::SIGKILL));
    assert_eq!(ring.producer_holder(), pid);
    let mut tx = ring
        .take_over_producer(process::holder(), interlink_linux::liveness::is_alive)
        .unwrap();
    tx.try_send(2, b"after").unwrap();
    let mut rx = ring.consumer(process::holder()).unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(rx.try_recv(&mut buf), Ok((1, 9)));
    assert_eq!(&buf[..9], b"committed");
    assert_eq!(rx.try_recv(&mut buf), Ok((2, 5)));
    assert_eq!(rx.try_recv(&mut buf), Err(RecvError::Empty));
}
