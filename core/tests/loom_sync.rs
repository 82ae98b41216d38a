//! Loom models of the futex-word synchronisation: mutual exclusion and no
//! lost wake-up for the mutex, semaphore counts, the condvar with the
//! mutex, the event count with a sleeping consumer, and blocking send/recv
//! with both sides parking on the SPSC, MPMC and byte rings.
//!
//! [`LoomWait`] emulates the futex (check-and-sleep is atomic), so a
//! missing or misordered wake leaves a thread asleep for ever and loom
//! fails the model with a deadlock.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p interlink-core --release --test loom_sync`
#![cfg(loom)]

use std::sync::Arc;

use interlink_core::blocking::Blocking;
use interlink_core::bytes::ByteRing;
use interlink_core::condvar::Condvar;
use interlink_core::event::Event;
use interlink_core::mpmc::MpmcRing;
use interlink_core::mutex::{Immortal, Mutex};
use interlink_core::semaphore::{AcquireError, Semaphore};
use interlink_core::spsc::SpscRing;
use interlink_core::sync::{AtomicU32, Ordering};
use interlink_core::wait::LoomWait;
use interlink_core::Holder;
use interlink_core::RingConfig;
use loom::thread;

mod common;

use common::{model, Memory};

/// Two threads and the main one increment a counter under the mutex. Loom
/// checks every access to the data for races (mutual exclusion), and a
/// sleeper whose wake-up is lost deadlocks the model.
#[test]
fn mutex_excludes_and_wakes_sleepers() {
    model(|| {
        let mem = Arc::new(Memory::new(Mutex::<u64>::bytes_needed(), 8));
        let wait = Arc::new(LoomWait::new());
        let m = Mutex::init(mem.region(), 0u64).unwrap();
        let workers: Vec<_> = (1..=2)
            .map(|id| {
                let (mem, wait) = (mem.clone(), wait.clone());
                thread::spawn(move || {
                    let m = Mutex::<u64>::attach(mem.region()).unwrap();
                    let me = Immortal(Holder::new(id).unwrap());
                    let mut g = m.lock(&*wait, &me, None).unwrap();
                    g.update(|v| *v += 1);
                })
            })
            .collect();
        {
            let me = Immortal(Holder::fixed::<3>());
            let mut g = m.lock(&*wait, &me, None).unwrap();
            g.update(|v| *v += 1);
        }
        for w in workers {
            w.join().unwrap();
        }
        assert_eq!(
            m.lock(&*wait, &Immortal(Holder::fixed::<4>()), None)
                .unwrap()
                .get(),
            3
        );
    });
}

/// Two units posted by one thread are taken by two sleeping acquirers;
/// none is lost or taken twice.
#[test]
fn semaphore_counts_and_wakes() {
    model(|| {
        let mem = Arc::new(Memory::new(Semaphore::BYTES, 4));
        let wait = Arc::new(LoomWait::new());
        let s = Semaphore::init(mem.region(), 0, 2).unwrap();
        let takers: Vec<_> = (0..2)
            .map(|_| {
                let wait = wait.clone();
                thread::spawn(move || s.acquire(&*wait, None).unwrap())
            })
            .collect();
        s.post(&*wait).unwrap();
        s.post(&*wait).unwrap();
        for t in takers {
            t.join().unwrap();
        }
        assert_eq!(s.count(), 0);
        assert_eq!(s.try_acquire(), Err(AcquireError::Empty));
        let _keep = mem;
    });
}

/// A waiter sleeps on the condvar until a flag set under the mutex; the
/// notifier may run before, during or after the waiter's sleep.
#[test]
fn condvar_with_the_mutex() {
    model(|| {
        let mm = Arc::new(Memory::new(Mutex::<u32>::bytes_needed(), 4));
        let cm = Arc::new(Memory::new(Condvar::BYTES, 4));
        let wait = Arc::new(LoomWait::new());
        let m = Mutex::init(mm.region(), 0u32).unwrap();
        let cv = Condvar::init(cm.region()).unwrap();
        let notifier = {
            let (mm, wait) = (mm.clone(), wait.clone());
            thread::spawn(move || {
                let m = Mutex::<u32>::attach(mm.region()).unwrap();
                m.lock(&*wait, &Immortal(Holder::fixed::<1>()), None)
                    .unwrap()
                    .set(1);
                cv.notify_one(&*wait);
            })
        };
        let me = Immortal(Holder::fixed::<2>());
        let mut g = m.lock(&*wait, &me, None).unwrap();
        while g.get() == 0 {
            g = cv.wait(g, None).unwrap().0;
        }
        drop(g);
        notifier.join().unwrap();
        let _keep = cm;
    });
}

/// The property that matters most: a consumer that announces itself and
/// sleeps is always woken by a producer that sets the flag and notifies,
/// and a notify with nobody asleep costs no wake.
#[test]
fn event_count_never_loses_a_sleeping_consumer() {
    model(|| {
        let mem = Memory::new(Event::BYTES, 4);
        let wait = Arc::new(LoomWait::new());
        let event = Event::init(mem.region()).unwrap();
        let flag = Arc::new(AtomicU32::new(0));
        let producer = {
            let (wait, flag) = (wait.clone(), flag.clone());
            thread::spawn(move || {
                flag.store(1, Ordering::Release);
                event.notify(&*wait);
            })
        };
        let got = event
            .wait_until(&*wait, None, || {
                let v = flag.load(Ordering::Acquire);
                (v != 0).then_some(v)
            })
            .unwrap();
        assert_eq!(got, 1);
        producer.join().unwrap();
        drop(mem);
    });
}

/// Runs `produce` on a second thread and `consume` on this one, each with
/// a strategy that parks at once on one emulated futex, and joins.
fn both_park(
    produce: impl FnOnce(&Blocking<&LoomWait>) + Send + 'static,
    consume: impl FnOnce(&Blocking<&LoomWait>),
) {
    let wait = Arc::new(LoomWait::new());
    let producer = {
        let wait = wait.clone();
        thread::spawn(move || produce(&Blocking::parking(&*wait)))
    };
    consume(&Blocking::parking(&*wait));
    producer.join().unwrap();
}

/// Blocking SPSC on a 1-slot ring: the producer parks while full, the
/// consumer while empty; both always wake and the values arrive in order.
#[test]
fn blocking_spsc_send_recv() {
    model(|| {
        let mem = Memory::new(
            SpscRing::<u64>::bytes_needed(1).unwrap(),
            SpscRing::<u64>::region_align(),
        );
        let ring = SpscRing::<u64>::init(mem.region(), RingConfig::new(1)).unwrap();
        let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
        let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
        both_park(
            move |b| (0..2).for_each(|v| tx.send(v, b, None).unwrap()),
            |b| (0..2).for_each(|v| assert_eq!(rx.recv(b, None), Ok(v))),
        );
        drop(mem);
    });
}

/// Blocking MPMC on a 2-slot ring, one thread each side: the producer
/// parks while full, the consumer while empty; values arrive in order.
#[test]
fn blocking_mpmc_send_recv() {
    model(|| {
        let mem = Memory::new(
            MpmcRing::<u64>::bytes_needed(2).unwrap(),
            MpmcRing::<u64>::region_align(),
        );
        let ring = MpmcRing::<u64>::init(mem.region(), RingConfig::new(2)).unwrap();
        both_park(
            move |b| (0..3).for_each(|v| ring.send(v, b, None).unwrap()),
            |b| (0..3).for_each(|v| assert_eq!(ring.recv(b, None), Ok(v))),
        );
        drop(mem);
    });
}

/// Blocking byte ring of 32 bytes: an empty message (a 16-byte record),
/// then an 8-byte one (24 bytes), which does not fit before the end: the
/// producer pads the end and must wake the consumer, parked on an empty
/// ring, to skip the padding before the front frees — a wake owed
/// although no message was published.
#[test]
fn blocking_bytes_send_recv_across_the_end() {
    model(|| {
        let mem = Memory::new(
            ByteRing::bytes_needed(32).unwrap(),
            ByteRing::region_align(),
        );
        let ring = ByteRing::init(mem.region(), RingConfig::new(32)).unwrap();
        let mut tx = ring.producer(Holder::fixed::<1>()).unwrap();
        let mut rx = ring.consumer(Holder::fixed::<2>()).unwrap();
        both_park(
            move |b| {
                tx.send(0, &[], b, None).unwrap();
                tx.send(1, &[7; 8], b, None).unwrap();
            },
            |b| {
                let mut buf = [0u8; 8];
                assert_eq!(rx.recv(&mut buf, b, None), Ok((0, 0)));
                assert_eq!(rx.recv(&mut buf, b, None), Ok((1, 8)));
                assert_eq!(buf, [7; 8]);
            },
        );
        drop(mem);
    });
}
