//! The futex-word sync types, structure-aware: a mutex (around a `u64`),
//! a semaphore, a condvar and an event, each made by its `init` in its
//! own stretch of one mapping (or, for one input in 16, attached to raw
//! bytes), then a sequence of operations by three identities (threads or
//! processes, as the mutex's `Liveness` tells them apart) interleaved
//! with a hostile peer's writes to any of their words: at once, or inside
//! waits, wakes, yields and liveness checks. Guards can be dropped or
//! "killed" (forgotten: the owner died holding the lock), and a waiter
//! may take the lock from an owner its liveness check judges dead. Until
//! the peer's first write every result is checked against a model (lock
//! holder and health, data, count, event bit); after it, only that
//! nothing crashes, hangs or leaves the mapping.
//!
//! Input: byte 0 (`% 16 == 0`: attach raw bytes; else init, semaphore
//! maximum `1 + (b >> 4)`), then ops, one byte each (`% 20`).
#![no_main]

use std::cell::Cell;
use std::time::Duration;

use interlink_core::condvar::Condvar;
use interlink_core::event::Event;
use interlink_core::mutex::{Liveness, LockError, Mutex, MutexGuard, Owner};
use interlink_core::semaphore::{AcquireError, PostError, Semaphore};
use interlink_core::wait::WaitOutcome;
use interlink_core::Holder;
use interlink_core::Region;
use interlink_fuzz::{Hostile, Input, Mapping};
use libfuzzer_sys::fuzz_target;

/// Where each structure starts in the mapping.
const MUTEX: usize = 0;
const SEM: usize = 128;
const CONDVAR: usize = 256;
const EVENT: usize = 384;
const LEN: usize = 512;

/// Every word the types use: the headers' state words, the mutex's lock
/// word, health, owner record; the semaphore's count and sleepers; the
/// condvar's sequence and sleepers; the event word.
const NAMED: &[usize] = &[
    12,
    64,
    68,
    72,
    76,
    80,
    64,
    68,
    96,
    SEM + 12,
    SEM + 32,
    SEM + 64,
    SEM + 68,
    SEM + 64,
    CONDVAR + 64,
    CONDVAR + 68,
    EVENT + 64,
    EVENT + 64,
    EVENT + 12,
];

/// One identity: `me()` is its tid; `is_alive` reads a mask the input
/// sets and performs a queued peer write; after 8 questions it answers
/// "dead" so that a relock without timeout (the condvar's) ends.
struct Who<'h> {
    tid: u32,
    alive: &'h Cell<u8>,
    poll: &'h Cell<Option<Duration>>,
    asked: Cell<u32>,
    hostile: &'h Hostile,
}

impl Liveness for Who<'_> {
    fn me(&self) -> Owner {
        Owner {
            pid: 100 + self.tid,
            tid: Holder::new(self.tid).expect("tids 1..=3"),
            stamp: u64::from(self.tid) << 33,
        }
    }

    fn is_alive(&self, owner: &Owner) -> bool {
        self.hostile.during();
        self.asked.set(self.asked.get() + 1);
        self.asked.get() <= 8 && self.alive.get() >> (owner.tid.get() % 8) & 1 == 1
    }

    fn poll_interval(&self) -> Option<Duration> {
        self.poll.get()
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Health {
    Consistent,
    OwnerDied,
    NotRecoverable,
}

/// A guard and whether it was handed out with `OwnerDied` (repairing).
type Held<'g> = Option<(MutexGuard<'g, u64, Hostile, Who<'g>>, bool)>;

fuzz_target!(|data: &[u8]| run(data));

fn take<'a>(mapping: &Mapping, at: usize, len: usize) -> Region<'a> {
    let mut r = mapping.region();
    r.take(at, 1).expect("inside");
    r.take(len, 4).expect("inside")
}

fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let setup = input.byte();
    let raw = setup.is_multiple_of(16);
    let mapping = Mapping::new(LEN, 128);
    let max = 1 + u32::from(setup >> 4);
    let mutex_len = Mutex::<u64>::bytes_needed();
    let (mutex, sem, cv, ev) = if raw {
        let n = (input.byte() as usize * 4).min(LEN);
        mapping.fill(input.bytes(n));
        (
            Mutex::<u64>::attach(take(&mapping, MUTEX, mutex_len)).ok(),
            Semaphore::attach(take(&mapping, SEM, Semaphore::BYTES)).ok(),
            Condvar::attach(take(&mapping, CONDVAR, Condvar::BYTES)).ok(),
            Event::attach(take(&mapping, EVENT, Event::BYTES)).ok(),
        )
    } else {
        let initial = u32::from(input.byte()) % (max + 1);
        (
            Some(Mutex::<u64>::init(take(&mapping, MUTEX, mutex_len), 7).expect("mutex")),
            Some(
                Semaphore::init(take(&mapping, SEM, Semaphore::BYTES), initial, max).expect("sem"),
            ),
            Some(Condvar::init(take(&mapping, CONDVAR, Condvar::BYTES)).expect("condvar")),
            Some(Event::init(take(&mapping, EVENT, Event::BYTES)).expect("event")),
        )
    };
    let hostile = Hostile::new(&mapping);
    let alive = Cell::new(0xff);
    let poll = Cell::new(None);
    let who: Vec<Who<'_>> = [1, 2, 3]
        .into_iter()
        .map(|tid| Who {
            tid,
            alive: &alive,
            poll: &poll,
            asked: Cell::new(0),
            hostile: &hostile,
        })
        .collect();
    // The model.
    let exact = !raw;
    let mut holder: Option<u32> = None;
    let mut health = Health::Consistent;
    let mut value = 7u64;
    let mut count = sem.map_or(0, |s| s.count());
    let mut waiting = false;
    let mut guards: [Held<'_>; 3] = [None, None, None];

    while !input.is_done() {
        let t = exact && !hostile.wrote();
        let op = input.byte() % 20;
        // Identity: one of three tids (an id of 0 or above the lock word's
        // range is no `Holder`: it cannot reach the mutex).
        let i = (input.byte() % 16) as usize % 3;
        let me = &who[i];
        me.asked.set(0);
        match op {
            0..=2 => {
                let Some(m) = mutex.as_ref() else { continue };
                if i < 3 && holder != Some(me.tid) {
                    // A stale guard of this identity (its lock was taken
                    // over): its thread lets go before locking again.
                    let g = guards[i].take();
                    drop_guard(g, &mut holder, &mut health, me.tid, true);
                }
                let (timeout, p) = (Hostile::timeout(&mut input), input.byte());
                poll.set((p & 1 == 1).then(|| Duration::from_millis(1)));
                alive.set(input.byte());
                let r = if op == 0 {
                    m.try_lock(&hostile, me)
                } else {
                    m.lock(&hostile, me, Some(timeout))
                };
                let outcome = describe(&r);
                if t && !hostile.wrote() {
                    let expect = if holder == Some(me.tid) {
                        "deadlock"
                    } else if let Some(h) = holder {
                        let dead = alive.get() >> (h % 8) & 1 == 0;
                        if op != 0 && !timeout.is_zero() && poll.get().is_some() && dead {
                            "owner-died"
                        } else if op == 0 {
                            "would-block"
                        } else {
                            "timed-out"
                        }
                    } else {
                        match health {
                            Health::Consistent => "ok",
                            Health::OwnerDied => "owner-died",
                            Health::NotRecoverable => "not-recoverable",
                        }
                    };
                    assert_eq!(outcome, expect);
                }
                let got = match r {
                    Ok(g) => Some((g, false)),
                    Err(LockError::OwnerDied(g)) => Some((g, true)),
                    Err(_) => None,
                };
                if let Some((g, repairing)) = got {
                    if repairing {
                        health = Health::OwnerDied;
                    }
                    holder = Some(me.tid);
                    // A previous guard of this identity (judged dead and
                    // replaced) goes on living as a stale guard: drop it
                    // now, as its thread would.
                    let old = guards[i].replace((g, repairing));
                    drop_guard(old, &mut holder, &mut health, me.tid, true);
                }
            }
            3 => {
                // Unlock (drop the guard).
                if i < 3 {
                    let g = guards[i].take();
                    drop_guard(g, &mut holder, &mut health, me.tid, false);
                }
            }
            4 => {
                // The owner dies holding the lock.
                if i < 3 {
                    if let Some((g, _)) = guards[i].take() {
                        std::mem::forget(g);
                    }
                }
            }
            5 => {
                if let Some((g, repairing)) = guards.get_mut(i).and_then(|g| g.as_mut()) {
                    let v = u64::from(input.u32());
                    match input.byte() % 5 {
                        0 => {
                            let got = g.get();
                            if t && holder == Some(who[i].tid) {
                                assert_eq!(got, value);
                            }
                        }
                        1 => {
                            g.set(v);
                            value = v;
                        }
                        2 => {
                            g.update(|x| *x = x.wrapping_add(v));
                            value = value.wrapping_add(v);
                        }
                        3 => {
                            // SAFETY: the guard is alive; a raw read.
                            let got = unsafe { g.as_ptr().read_volatile() };
                            std::hint::black_box(got);
                        }
                        _ => {
                            g.mark_consistent();
                            if *repairing {
                                *repairing = false;
                                health = Health::Consistent;
                            }
                        }
                    }
                }
            }
            6 => {
                if let Some(m) = mutex.as_ref() {
                    let o = m.owner();
                    if t {
                        assert_eq!(o.map(|o| o.tid.get()), holder);
                        assert_eq!(m.is_not_recoverable(), health == Health::NotRecoverable);
                    }
                    let _ = format!("{m:?}");
                }
            }
            7 => {
                // Condvar wait: unlock, wait (a peer write lands here),
                // relock without timeout (liveness polls, so it ends).
                let (Some(c), Some(_)) = (cv.as_ref(), mutex.as_ref()) else {
                    continue;
                };
                if i >= 3 {
                    continue;
                }
                let Some((g, repairing)) = guards[i].take() else {
                    continue;
                };
                poll.set(Some(Duration::from_millis(1)));
                alive.set(0);
                let timeout = Hostile::timeout(&mut input);
                let r = c.wait(g, Some(timeout));
                if repairing {
                    health = Health::NotRecoverable;
                }
                match r {
                    Ok((g, outcome)) => {
                        if t && !hostile.wrote() {
                            assert_eq!(outcome, WaitOutcome::TimedOut);
                            assert_eq!(health, Health::Consistent);
                        }
                        guards[i] = Some((g, false));
                        holder = Some(me.tid);
                    }
                    Err(LockError::OwnerDied(g)) => {
                        guards[i] = Some((g, true));
                        holder = Some(me.tid);
                        health = Health::OwnerDied;
                    }
                    Err(e) => {
                        if t && !hostile.wrote() {
                            assert!(matches!(e, LockError::NotRecoverable), "{e:?}");
                            assert_eq!(health, Health::NotRecoverable);
                        }
                        holder = None;
                    }
                }
            }
            8 => {
                if let Some(c) = cv.as_ref() {
                    if input.byte() & 1 == 0 {
                        c.notify_one(&hostile);
                    } else {
                        c.notify_all(&hostile);
                    }
                    if t {
                        assert_eq!(hostile.read(CONDVAR + 68), 0, "no sleeper is left counted");
                    }
                }
            }
            9 => {
                if let Some(s) = sem.as_ref() {
                    let r = s.try_acquire();
                    if t {
                        let expect = if count > 0 {
                            Ok(())
                        } else {
                            Err(AcquireError::Empty)
                        };
                        assert_eq!(r, expect);
                        count -= u32::from(r.is_ok());
                    }
                }
            }
            10 => {
                if let Some(s) = sem.as_ref() {
                    let timeout = Hostile::timeout(&mut input);
                    let r = s.acquire(&hostile, Some(timeout));
                    if t && !hostile.wrote() {
                        assert_eq!(
                            r,
                            if count > 0 {
                                Ok(())
                            } else {
                                Err(AcquireError::TimedOut)
                            }
                        );
                        count -= u32::from(r.is_ok());
                        assert_eq!(hostile.read(SEM + 68), 0, "no sleeper is left counted");
                    }
                }
            }
            11 => {
                if let Some(s) = sem.as_ref() {
                    let r = s.post(&hostile);
                    if t {
                        if count < max {
                            assert_eq!(r, Ok(()));
                            count += 1;
                        } else {
                            assert_eq!(r, Err(PostError::Overflow { max }));
                        }
                    }
                    if let Err(PostError::Overflow { max: m }) = r {
                        assert_eq!(m, s.max());
                    }
                }
            }
            12 => {
                if let Some(s) = sem.as_ref() {
                    let c = s.count();
                    if t {
                        assert_eq!((c, s.max()), (count, max));
                    }
                    let _ = format!("{s:?}");
                }
            }
            13 => {
                if let Some(e) = ev.as_ref() {
                    let key = e.prepare();
                    waiting = true;
                    if input.byte() & 1 == 0 {
                        let timeout = Hostile::timeout(&mut input);
                        let o = e.wait(key, &hostile, Some(timeout));
                        std::hint::black_box(o);
                    }
                }
            }
            14 => {
                if let Some(e) = ev.as_ref() {
                    let r = e.notify(&hostile);
                    if t {
                        assert_eq!(r, waiting);
                        waiting = false;
                    }
                }
            }
            15 => {
                if let Some(e) = ev.as_ref() {
                    let after = input.byte() % 4;
                    let timeout = Hostile::timeout(&mut input);
                    let mut polls = 0;
                    let r = e.wait_until(&hostile, Some(timeout), || {
                        polls += 1;
                        (polls > after).then_some(polls)
                    });
                    if let Ok(n) = r {
                        assert!(n > after);
                    }
                    // wait_until announces itself (parks) when the first
                    // check fails and the timeout leaves time to sleep.
                    if after > 0 && !timeout.is_zero() {
                        waiting = true;
                    }
                }
            }
            16 | 17 => hostile.write_from(&mut input, NAMED, max),
            18 => hostile.queue_from(&mut input, NAMED, max),
            _ => {
                // Attach again, as another process would.
                let m = Mutex::<u64>::attach(take(&mapping, MUTEX, mutex_len));
                let s = Semaphore::attach(take(&mapping, SEM, Semaphore::BYTES));
                let c = Condvar::attach(take(&mapping, CONDVAR, Condvar::BYTES));
                let e = Event::attach(take(&mapping, EVENT, Event::BYTES));
                if t {
                    assert!(m.is_ok() && s.is_ok() && c.is_ok() && e.is_ok());
                    assert_eq!(s.map(|s| s.max()), Ok(max));
                }
                if let Ok(m) = m {
                    let _ = (m.owner(), m.is_not_recoverable());
                }
            }
        }
    }
    // Guards before the mutex and the mapping.
    for g in guards.iter_mut() {
        drop(g.take());
    }
}

fn describe<G>(r: &Result<G, LockError<G>>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(LockError::OwnerDied(_)) => "owner-died",
        Err(LockError::NotRecoverable) => "not-recoverable",
        Err(LockError::TimedOut) => "timed-out",
        Err(LockError::WouldBlock) => "would-block",
        Err(LockError::Deadlock) => "deadlock",
        Err(LockError::Contended) => "contended",
    }
}

/// Drops a guard of `tid`, updating the model: a repairing guard makes
/// the mutex not recoverable; the lock is freed if `tid` still holds it
/// (`stale`: the guard was replaced, so it no longer does).
fn drop_guard(g: Held<'_>, holder: &mut Option<u32>, health: &mut Health, tid: u32, stale: bool) {
    if let Some((g, repairing)) = g {
        drop(g);
        if repairing {
            *health = Health::NotRecoverable;
        }
        if !stale && *holder == Some(tid) {
            *holder = None;
        }
    }
}
