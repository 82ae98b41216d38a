//! The SPSC ring between two real processes sharing a mapping.

use interlink_core::spsc::SpscRing;
use interlink_core::{RecvError, RingConfig, SendError};
use interlink_linux::process::{self, fork, Exit};
use interlink_linux::shm::Mapping;

/// A parent streams 10 million sequence numbers to a forked child; the
/// child checks that none is lost, duplicated or reordered.
#[test]
fn ten_million_in_order_between_processes() {
    const COUNT: u64 = 10_000_000;
    const CAPACITY: u32 = 1024;
    let map = Mapping::anonymous(SpscRing::<u64>::bytes_needed(CAPACITY).unwrap()).unwrap();
    let ring = SpscRing::<u64>::init(map.region(), RingConfig::new(CAPACITY)).unwrap();
    let mut child = fork(|| {
        let Ok(mut rx) = ring.consumer(process::holder()) else {
            return 2;
        };
        let mut expected = 0u64;
        while expected < COUNT {
            match rx.try_recv() {
                Ok(v) if v == expected => expected += 1,
                Ok(_) => return 3, // lost, duplicated or reordered
                Err(RecvError::Empty) => std::hint::spin_loop(),
                Err(_) => return 4,
            }
        }
        0
    })
    .unwrap();
    let mut tx = ring.producer(process::holder()).unwrap();
    let mut next = 0u64;
    let mut stalls = 0u64;
    while next < COUNT {
        match tx.try_send(next) {
            Ok(()) => next += 1,
            Err(SendError::Full) => {
                stalls += 1;
                // A consumer that died would leave us spinning: check now and then.
                if stalls.is_multiple_of(1 << 20) {
                    if let Some(exit) = child.try_wait().unwrap() {
                        panic!("consumer ended early: {exit:?}");
                    }
                }
                std::hint::spin_loop();
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
    assert!(ring.is_empty());
}

/// A consumer killed mid-stream leaves its role to be taken back; the new
/// consumer resumes exactly where the dead one stopped.
#[test]
fn a_dead_consumer_role_is_taken_back() {
    let map = Mapping::anonymous(SpscRing::<u32>::bytes_needed(64).unwrap()).unwrap();
    let ring = SpscRing::<u32>::init(map.region(), RingConfig::new(64)).unwrap();
    let mut tx = ring.producer(process::holder()).unwrap();
    for i in 0..64 {
        tx.try_send(i).unwrap();
    }
    // The child pops 10 values and then dies without releasing its role.
    let child = fork(|| {
        let mut rx = ring.consumer(process::holder()).unwrap();
        for _ in 0..10 {
            rx.try_recv().unwrap();
        }
        std::mem::forget(rx);
        // SAFETY: raising SIGKILL on ourselves; nothing runs after it.
        unsafe { libc::raise(libc::SIGKILL) };
        0
    })
    .unwrap();
    let pid = child.pid();
    assert_eq!(child.wait().unwrap(), Exit::Signal(libc::SIGKILL));
    assert_eq!(ring.consumer_holder(), pid);
    assert!(ring.consumer(process::holder()).is_err());
    let mut rx = ring
        .take_over_consumer(process::holder(), interlink_linux::liveness::is_alive)
        .unwrap();
    assert_eq!(rx.try_recv(), Ok(10));
}
