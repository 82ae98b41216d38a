//! interlink's futex-word synchronisation between real processes: the
//! robust mutex under contention and across a SIGKILL, and blocking SPSC
//! send/recv with a parked consumer.

mod common;

use std::time::{Duration, Instant};

use common::Counted;

use interlink_core::blocking::Blocking;
use interlink_core::mutex::{LockError, Mutex};
use interlink_core::spsc::SpscRing;
use interlink_core::sync::{AtomicU32, Ordering};
use interlink_core::{Region, RingConfig};
use interlink_linux::futex::{Futex, Robust};
use interlink_linux::process::{self, fork, Exit};
use interlink_linux::shm::Mapping;

/// N processes each add 1 to a counter K times under the mutex.
#[test]
fn processes_increment_under_the_mutex_to_exactly_n_times_k() {
    const N: u64 = 4;
    const K: u64 = 5_000;
    let map = Mapping::anonymous(Mutex::<[u64; 2]>::bytes_needed()).unwrap();
    let m = Mutex::init(map.region(), 1, [0u64; 2]).unwrap();
    let children: Vec<_> = (0..N)
        .map(|_| {
            fork(|| {
                let (wait, me) = (Futex, Robust::new());
                for _ in 0..K {
                    let Ok(mut g) = m.lock(&wait, &me, Some(Duration::from_secs(10))) else {
                        return 2;
                    };
                    // Two words, written apart: a lapse in exclusion tears them.
                    let [a, b] = g.get();
                    if a != b {
                        return 3;
                    }
                    g.set([a + 1, a]);
                    g.set([a + 1, b + 1]);
                }
                0
            })
            .unwrap()
        })
        .collect();
    for c in children {
        assert_eq!(c.wait().unwrap(), Exit::Code(0));
    }
    assert_eq!(
        m.lock(&Futex, &Robust::new(), None).unwrap().get(),
        [N * K; 2]
    );
}

/// A holder killed with SIGKILL inside its critical section: a waiter
/// already asleep in another process takes the lock within a bounded time
/// and is told `OwnerDied`; once it marks the data consistent, the mutex
/// works normally again.
#[test]
fn a_holder_killed_inside_the_critical_section_is_detected() {
    let map = Mapping::anonymous(4096).unwrap();
    let mut region = map.region();
    let m_region = region
        .take(Mutex::<u64>::bytes_needed(), Mutex::<u64>::region_align())
        .unwrap();
    let flag_region = region.take(4, 4).unwrap();
    let m = Mutex::init(m_region, 2, 0u64).unwrap();
    // SAFETY: 4 aligned bytes of the mapping, reached only atomically.
    let in_section = unsafe { &*flag_region.as_ptr().cast::<AtomicU32>() };
    let holder = fork(|| {
        let (wait, me) = (Futex, Robust::new());
        let mut g = m.lock(&wait, &me, None).unwrap();
        g.set(1); // half-way through an update
        in_section.store(1, Ordering::Release);
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    })
    .unwrap();
    while in_section.load(Ordering::Acquire) == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    // The waiter reports how long it waited after the kill, in ms.
    let waiter = fork(|| {
        let (wait, me) = (Futex, Robust::new());
        let mut g = match m.lock(&wait, &me, Some(Duration::from_secs(10))) {
            Err(LockError::OwnerDied(g)) => g,
            Ok(_) => return 2,
            Err(_) => return 3,
        };
        if g.get() != 1 {
            return 4;
        }
        g.set(0); // repaired
        g.mark_consistent();
        0
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(50)); // the waiter is asleep
    assert!(m.owner().is_some());
    let killed = Instant::now();
    holder.signal(libc::SIGKILL).unwrap();
    // The holder stays a zombie until reaped: the waiter must not need that.
    assert_eq!(waiter.wait().unwrap(), Exit::Code(0));
    let took = killed.elapsed();
    assert!(took < Duration::from_secs(2), "recovery took {took:?}");
    assert_eq!(holder.wait().unwrap(), Exit::Signal(libc::SIGKILL));
    assert_eq!(m.lock(&Futex, &Robust::new(), None).unwrap().get(), 0);
}

/// A ring and two counters in one mapping.
struct Setup {
    map: Mapping,
}

impl Setup {
    fn new(capacity: u32) -> Self {
        let map =
            Mapping::anonymous(SpscRing::<u64>::bytes_needed(capacity).unwrap() + 256).unwrap();
        let ring =
            SpscRing::<u64>::init(Self::ring_region(&map, capacity), RingConfig::new(capacity));
        ring.unwrap();
        Self { map }
    }

    fn ring_region(map: &Mapping, capacity: u32) -> Region<'_> {
        let mut r = map.region();
        r.take(256, 128).unwrap();
        r.take(SpscRing::<u64>::bytes_needed(capacity).unwrap(), 128)
            .unwrap()
    }

    fn ring(&self, capacity: u32) -> SpscRing<'_, u64> {
        SpscRing::attach(Self::ring_region(&self.map, capacity), 0).unwrap()
    }

    fn counted(&self) -> Counted<'_> {
        // SAFETY: the first 8 bytes of the mapping, aligned, reached only
        // atomically; the ring starts 256 bytes further.
        unsafe {
            let p = self.map.as_ptr().cast::<AtomicU32>();
            Counted {
                waits: &*p,
                wakes: &*p.add(1),
            }
        }
    }
}

/// A child that receives `0..count` in order with blocking `recv`.
fn spawn_consumer(setup: &Setup, ring: SpscRing<'_, u64>, count: u64) -> process::Child {
    fork(|| {
        let mut rx = ring.consumer(process::current_pid()).unwrap();
        let b = Blocking::new(setup.counted());
        for expected in 0..count {
            match rx.recv(&b, Some(Duration::from_secs(20))) {
                Ok(v) if v == expected => {}
                Ok(_) => return 3,
                Err(_) => return 4,
            }
        }
        0
    })
    .unwrap()
}

/// The producer sends one element per millisecond; the consumer blocks in
/// `recv` and so spends most of the time parked in the kernel — it must
/// wake for every element, in order, and park for most of them.
#[test]
fn blocking_recv_parks_between_sparse_sends() {
    const COUNT: u64 = 200;
    let setup = Setup::new(64);
    let ring = setup.ring(64);
    let consumer = spawn_consumer(&setup, ring, COUNT);
    let mut tx = ring.producer(process::current_pid()).unwrap();
    let b = Blocking::new(setup.counted());
    for i in 0..COUNT {
        tx.send(i, &b, None).unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(consumer.wait().unwrap(), Exit::Code(0));
    let c = setup.counted();
    let (waits, wakes) = (
        c.waits.load(Ordering::Relaxed),
        c.wakes.load(Ordering::Relaxed),
    );
    eprintln!("{COUNT} sparse sends: {waits} futex waits, {wakes} futex wakes");
    assert!(
        waits as u64 >= COUNT / 2,
        "the consumer parked only {waits} times"
    );
}

/// A stream with both sides blocking on a small ring: nothing lost or
/// reordered, and the futex calls (syscalls) stay a small fraction of the
/// elements, because a side only pays one when its peer is asleep.
#[test]
fn blocking_stream_makes_few_syscalls() {
    const COUNT: u64 = 500_000;
    const CAPACITY: u32 = 256;
    let setup = Setup::new(CAPACITY);
    let ring = setup.ring(CAPACITY);
    let consumer = spawn_consumer(&setup, ring, COUNT);
    let mut tx = ring.producer(process::current_pid()).unwrap();
    let b = Blocking::new(setup.counted());
    for i in 0..COUNT {
        tx.send(i, &b, Some(Duration::from_secs(20))).unwrap();
    }
    assert_eq!(consumer.wait().unwrap(), Exit::Code(0));
    let c = setup.counted();
    let calls = (c.waits.load(Ordering::Relaxed) + c.wakes.load(Ordering::Relaxed)) as u64;
    eprintln!("{COUNT} elements streamed: {calls} futex calls");
    assert!(
        calls <= COUNT / 4,
        "{calls} futex calls for {COUNT} elements"
    );
}

/// `Robust::is_alive` judges by the tid: a live thread counts as alive
/// whatever pid and stamp the (possibly stale) record carries; an exited
/// thread and a killed, unreaped process count as dead.
#[test]
fn robust_liveness_goes_by_the_tid() {
    use interlink_core::mutex::{Liveness, Owner};
    let robust = Robust::new();
    let me = robust.me();
    assert!(robust.is_alive(&me));
    // A stale record: our tid with an earlier holder's pid and stamp.
    let stale = Owner {
        pid: u32::MAX - 1,
        stamp: 12345,
        ..me
    };
    assert!(robust.is_alive(&stale), "a live tid is the holder");

    let ended = std::thread::spawn(|| Robust::new().me()).join().unwrap();
    assert!(!robust.is_alive(&ended), "an exited thread is dead");

    let child = fork(|| loop {
        std::thread::sleep(Duration::from_secs(1));
    })
    .unwrap();
    let owner = Owner {
        pid: child.pid(),
        tid: child.pid(),
        stamp: 0,
    };
    assert!(robust.is_alive(&owner));
    child.signal(libc::SIGKILL).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while robust.is_alive(&owner) {
        assert!(Instant::now() < deadline, "a killed child stays alive");
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = child.wait();
}
