//! The MPMC ring between real processes sharing a mapping.

mod common;

use std::sync::atomic::Ordering;

use common::{ExactlyOnce, Words};

use interlink_core::mpmc::{MpmcRing, RecvError, SendError};
use interlink_core::RingConfig;
use interlink_linux::process::{fork, Exit};
use interlink_linux::shm::Mapping;

const PRODUCERS: u64 = 4;
const CONSUMERS: usize = 2;
const PER_PRODUCER: u64 = 1_000_000;

/// Four forked producers push a million tagged items each while two forked
/// consumers pop them. Each consumer marks every item in a shared bitmap
/// (failing on a bit already set: a duplicate) and checks that each
/// producer's items reach it in increasing order; the parent then checks
/// that every bit is set (nothing lost).
#[test]
fn four_producers_two_consumers_exactly_once() {
    const CAPACITY: u32 = 1024;
    let map = Mapping::anonymous(MpmcRing::<u64>::bytes_needed(CAPACITY).unwrap()).unwrap();
    let ring = MpmcRing::<u64>::init(map.region(), RingConfig::new(CAPACITY)).unwrap();
    let bitmap = ExactlyOnce::bitmap(PRODUCERS, PER_PRODUCER);
    // Word 0: producers finished (set by the parent once all have exited).
    let done = Words::new(1);

    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            fork(|| {
                let mut check = ExactlyOnce::new(&bitmap, PRODUCERS, PER_PRODUCER);
                let mut out = [0u64; 32];
                loop {
                    let n = match ring.try_recv_slice(&mut out) {
                        Ok(n) if n > 0 => n,
                        Ok(_) | Err(RecvError::Stalled { .. }) => {
                            // Empty once every producer has exited: all
                            // their items have been taken.
                            if done.get(0).load(Ordering::Acquire) == 1 && ring.is_empty() {
                                return 0;
                            }
                            std::thread::yield_now();
                            continue;
                        }
                        Err(_) => return 2,
                    };
                    for &v in &out[..n] {
                        if let Err(code) = check.mark(v) {
                            return code;
                        }
                    }
                }
            })
            .unwrap()
        })
        .collect();

    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            fork(move || {
                let mut i = 0;
                while i < PER_PRODUCER {
                    let item = p << 32 | i;
                    // Every eighth push is a batch of up to four.
                    let pushed = if i % 8 == 0 {
                        let batch: [u64; 4] = std::array::from_fn(|k| item + k as u64);
                        let n = (PER_PRODUCER - i).min(4) as usize;
                        ring.try_send_slice(&batch[..n])
                    } else {
                        ring.try_send(item).map(|()| 1)
                    };
                    match pushed {
                        Ok(n) => i += n as u64,
                        Err(SendError::Full | SendError::Stalled { .. }) => {
                            std::thread::yield_now()
                        }
                        Err(_) => return 2,
                    }
                }
                0
            })
            .unwrap()
        })
        .collect();

    for p in producers {
        assert_eq!(p.wait().unwrap(), Exit::Code(0), "a producer failed");
    }
    done.get(0).store(1, Ordering::Release);
    for c in consumers {
        assert_eq!(c.wait().unwrap(), Exit::Code(0), "a consumer failed");
    }
    let missing = ExactlyOnce::missing(&bitmap, PRODUCERS, PER_PRODUCER);
    assert_eq!(missing, 0, "items never delivered");
    assert!(ring.is_empty());
}

/// A producer process killed between claiming a position and publishing it
/// stalls consumers at exactly that position; once the parent has reaped
/// it, skipping the position lets every later item through.
#[test]
fn a_killed_producer_is_skipped() {
    let map = Mapping::anonymous(MpmcRing::<u32>::bytes_needed(16).unwrap()).unwrap();
    let ring = MpmcRing::<u32>::init(map.region(), RingConfig::new(16)).unwrap();
    ring.try_send(1).unwrap();
    let child = fork(|| {
        ring.try_send(2).unwrap();
        if ring.abandon_send() != Ok(2) {
            return 2;
        }
        // SAFETY: raising SIGKILL on ourselves; nothing runs after it.
        unsafe { libc::raise(libc::SIGKILL) };
        0
    })
    .unwrap();
    let pid = child.pid();
    assert_eq!(child.wait().unwrap(), Exit::Signal(libc::SIGKILL));
    assert!(
        !interlink_linux::liveness::is_alive(pid),
        "the claimant is known dead"
    );
    ring.try_send(4).unwrap();
    assert_eq!(ring.try_recv(), Ok(1));
    assert_eq!(ring.try_recv(), Ok(2));
    assert_eq!(ring.try_recv(), Err(RecvError::Stalled { position: 2 }));
    assert_eq!(ring.skip_stalled(2), Ok(None));
    assert_eq!(ring.try_recv(), Ok(4));
    assert_eq!(ring.try_recv(), Err(RecvError::Empty));
}
