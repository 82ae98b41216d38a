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
use interlink_core::Holder;
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
    let m = Mutex::init(map.region(), [0u64; 2]).unwrap();
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
    let m = Mutex::init(m_region, 0u64).unwrap();
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
    // Bounded (the waiter polls every 10 ms), with room for a busy machine.
    let took = killed.elapsed();
    assert!(took < Duration::from_secs(10), "recovery took {took:?}");
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
        SpscRing::attach(Self::ring_region(&self.map, capacity)).unwrap()
    }

    /// Word `i` of the bookkeeping before the ring (0, 1: the counted
    /// futex; 2: elements the consumer took; 3: its waits when it took the
    /// last).
    fn word(&self, i: usize) -> &AtomicU32 {
        assert!(i < 64);
        // SAFETY: inside the 256 bytes before the ring, aligned, reached
        // only atomically.
        unsafe { &*self.map.as_ptr().cast::<AtomicU32>().add(i) }
    }

    fn counted(&self) -> Counted<'_> {
        // SAFETY: the first 8 bytes of the mapping, aligned, reached only
        // atomically; the ring starts 256 bytes further.
        unsafe {
            let p = self.map.as_ptr().cast::<AtomicU32>();
            Counted {
                waits: &*p,
                wakes: &*p.add(1),
                timed_out: None,
            }
        }
    }
}

/// A child that receives `0..count` in order with blocking `recv`.
fn spawn_consumer(setup: &Setup, ring: SpscRing<'_, u64>, count: u64) -> process::Child {
    fork(|| {
        let mut rx = ring.consumer(process::holder()).unwrap();
        let b = Blocking::new(setup.counted());
        for expected in 0..count {
            match rx.recv(&b, Some(Duration::from_secs(20))) {
                Ok(v) if v == expected => {}
                Ok(_) => return 3,
                Err(_) => return 4,
            }
            let parks = setup.counted().waits.load(Ordering::Relaxed);
            setup.word(3).store(parks, Ordering::Relaxed);
            setup.word(2).store(expected as u32 + 1, Ordering::Release);
        }
        0
    })
    .unwrap()
}

/// Waits (polling, at most 20 s) until `count` exceeds `before`.
fn until_above(count: impl Fn() -> u32, before: u32) -> bool {
    let end = Instant::now() + Duration::from_secs(20);
    while count() <= before {
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

/// The producer sends each element only once the consumer, blocked in
/// `recv` on the empty ring, has parked in the kernel (its futex count
/// says so: waited for, not counted after the fact, since on a busy
/// machine a waiter may yield instead of parking for a while); every send
/// must wake it, in order, within the 20 s timeout.
#[test]
fn blocking_recv_parks_between_sparse_sends() {
    const COUNT: u64 = 200;
    let setup = Setup::new(64);
    let ring = setup.ring(64);
    let consumer = spawn_consumer(&setup, ring, COUNT);
    let mut tx = ring.producer(process::holder()).unwrap();
    let b = Blocking::new(setup.counted());
    for i in 0..COUNT {
        assert!(
            i == 0 || until_above(|| setup.word(2).load(Ordering::Acquire), i as u32 - 1),
            "the consumer did not take element {}",
            i - 1
        );
        let parks = setup.word(3).load(Ordering::Relaxed);
        assert!(
            until_above(|| setup.counted().waits.load(Ordering::Relaxed), parks),
            "the consumer never parked before element {i}"
        );
        tx.send(i, &b, None).unwrap();
    }
    assert_eq!(consumer.wait().unwrap(), Exit::Code(0));
    let (waits, wakes) = setup.counted().counts();
    eprintln!("{COUNT} sparse sends: {waits} futex waits, {wakes} futex wakes");
}

/// Blocking calls make no futex call while the peer is awake: one thread
/// alternating `send` and `recv` never finds the other side asleep, so not
/// one syscall. Then a stream with both sides blocking on a small ring
/// between processes: nothing lost or reordered (how many futex calls it
/// takes depends on the schedule: printed, not asserted).
#[test]
fn blocking_stream_makes_few_syscalls() {
    const COUNT: u64 = 500_000;
    const CAPACITY: u32 = 256;
    let setup = Setup::new(CAPACITY);
    let ring = setup.ring(CAPACITY);
    {
        let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
        let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
        let b = Blocking::new(setup.counted());
        for i in 0..10_000u64 {
            tx.send(i, &b, Some(Duration::from_secs(20))).unwrap();
            if i % 3 == 2 {
                for j in i - 2..=i {
                    assert_eq!(rx.recv(&b, Some(Duration::from_secs(20))), Ok(j));
                }
            }
        }
        assert_eq!(rx.try_recv(), Ok(9_999));
        assert_eq!(
            setup.counted().counts(),
            (0, 0),
            "a syscall with the peer awake"
        );
    }
    let consumer = spawn_consumer(&setup, ring, COUNT);
    let mut tx = ring.producer(process::holder()).unwrap();
    let b = Blocking::new(setup.counted());
    for i in 0..COUNT {
        tx.send(i, &b, Some(Duration::from_secs(20))).unwrap();
    }
    assert_eq!(consumer.wait().unwrap(), Exit::Code(0));
    let (waits, wakes) = setup.counted().counts();
    eprintln!("{COUNT} elements streamed: {waits} futex waits, {wakes} futex wakes");
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
        tid: Holder::new(child.pid()).unwrap(),
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
