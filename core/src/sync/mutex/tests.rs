use std::collections::HashSet;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use super::*;
use crate::sync::semaphore::Semaphore;
use crate::test_util::{AlignedBuf, TestWait};

fn buf<T: Plain>() -> AlignedBuf {
    AlignedBuf::new(Mutex::<T>::bytes_needed())
}

/// Owners whose tid is in `dead` are dead; polls every millisecond.
struct Morgue {
    me: u32,
    dead: HashSet<u32>,
    asked: AtomicUsize,
}

impl Morgue {
    fn new(me: u32, dead: &[u32]) -> Self {
        Self {
            me,
            dead: dead.iter().copied().collect(),
            asked: AtomicUsize::new(0),
        }
    }
}

impl Liveness for Morgue {
    fn me(&self) -> Owner {
        Owner {
            pid: 1000 + self.me,
            tid: Holder::new(self.me).unwrap(),
            stamp: 77,
        }
    }
    fn is_alive(&self, owner: &Owner) -> bool {
        self.asked
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        !self.dead.contains(&owner.tid.get())
    }
    fn poll_interval(&self) -> Option<Duration> {
        Some(Duration::from_millis(1))
    }
}

#[test]
fn layout_init_and_attach() {
    assert_eq!(Mutex::<u64>::bytes_needed(), 104);
    assert_eq!(Mutex::<u8>::bytes_needed(), 97);
    assert_eq!(Mutex::<u128>::region_align(), align_of::<u128>().max(4));
    let b = buf::<u64>();
    let m = Mutex::<u64>::init(b.region(), 42).unwrap();
    let other = Mutex::<u64>::attach(b.region()).unwrap();
    let w = TestWait::default();
    assert_eq!(
        other
            .lock(&w, &Immortal(Holder::fixed::<1>()), None)
            .unwrap()
            .get(),
        42
    );
    assert!(matches!(
        Mutex::<f64>::attach(b.region()),
        Err(AttachError::Element { .. })
    ));
    assert!(Mutex::<f64>::attach_with(b.region(), crate::ElementCheck::LayoutOnly).is_ok());
    assert!(matches!(
        Mutex::<u32>::attach(b.region()),
        Err(AttachError::Element { .. })
    ));
    let s = AlignedBuf::new(Semaphore::BYTES);
    Semaphore::init(s.region(), 0, 1).unwrap();
    assert!(matches!(
        Mutex::<u64>::attach(s.region()),
        Err(AttachError::Kind { .. })
    ));
    // SAFETY: a prefix of the buffer.
    let short = unsafe { Region::from_raw(b.ptr(), 100) }.unwrap();
    assert!(matches!(
        Mutex::<u64>::init(short, 0),
        Err(InitError::Region(crate::RegionError::TooSmall { .. }))
    ));
    assert!(m.owner().is_none());
}

#[test]
fn lock_try_lock_and_guard_access() {
    let b = buf::<[u32; 4]>();
    let m = Mutex::init(b.region(), [0u32; 4]).unwrap();
    let w = TestWait::default();
    let (a, c) = (Morgue::new(1, &[]), Morgue::new(2, &[]));
    let mut g = m.try_lock(&w, &a).unwrap();
    g.set([1, 2, 3, 4]);
    assert_eq!(
        g.update(|v| {
            v[0] = 9;
            v[3]
        }),
        4
    );
    assert_eq!(g.get(), [9, 2, 3, 4]);
    // SAFETY: we hold the lock; a raw read of a Plain value.
    assert_eq!(unsafe { g.as_ptr().read() }[1], 2);
    assert_eq!(
        m.owner(),
        Some(Owner {
            pid: 1001,
            tid: Holder::fixed::<1>(),
            stamp: 77
        })
    );
    assert!(matches!(m.try_lock(&w, &c), Err(LockError::WouldBlock)));
    assert!(matches!(m.try_lock(&w, &a), Err(LockError::Deadlock)));
    assert!(matches!(m.lock(&w, &a, None), Err(LockError::Deadlock)));
    let t = Some(Duration::from_millis(5));
    assert!(matches!(m.lock(&w, &c, t), Err(LockError::TimedOut)));
    drop(g);
    assert!(m.owner().is_none());
    assert_eq!(m.lock(&w, &c, t).unwrap().get(), [9, 2, 3, 4]);
    // Ids a lock word cannot hold are not holders at all.
    assert_eq!(Holder::new(0), None);
    assert_eq!(Holder::new(MAX_OWNER_ID + 1), None);
    assert_eq!(
        Holder::new(MAX_OWNER_ID).map(Holder::get),
        Some(MAX_OWNER_ID)
    );
}

#[test]
fn uncontended_lock_and_unlock_make_no_wait_calls() {
    let b = buf::<u64>();
    let m = Mutex::init(b.region(), 0u64).unwrap();
    let w = TestWait::default();
    for i in 0..100 {
        let three = Immortal(Holder::fixed::<3>());
        let mut g = m.lock(&w, &three, None).unwrap();
        g.set(i);
    }
    assert_eq!(w.calls(), 0);
}

#[test]
fn a_dead_owner_is_detected_and_repair_is_required() {
    let b = buf::<u64>();
    let m = Mutex::init(b.region(), 0u64).unwrap();
    let w = TestWait::default();
    // Owner 5 "dies" inside the critical section: the guard never drops.
    let me = Immortal(Holder::fixed::<5>());
    let mut g = m.lock(&w, &me, None).unwrap();
    g.set(13);
    std::mem::forget(g);
    // A waiter that thinks 5 is alive times out ...
    let hopeful = Morgue::new(6, &[]);
    let t = Some(Duration::from_millis(50));
    assert!(matches!(m.lock(&w, &hopeful, t), Err(LockError::TimedOut)));
    assert!(hopeful.asked.load(std::sync::atomic::Ordering::Relaxed) > 0);
    // ... one that knows it is dead takes over and is told.
    let heir = Morgue::new(6, &[5]);
    let g = match m.lock(&w, &heir, t) {
        Err(LockError::OwnerDied(g)) => g,
        other => panic!("expected OwnerDied, got {other:?}"),
    };
    assert_eq!(g.get(), 13);
    assert_eq!(m.owner().unwrap().tid, Holder::fixed::<6>());
    drop(g); // not repaired
    assert!(m.is_not_recoverable());
    assert!(matches!(
        m.lock(&w, &heir, None),
        Err(LockError::NotRecoverable)
    ));
    // The failed lock did not leave it locked.
    assert!(m.owner().is_none());
}

#[test]
fn repaired_data_makes_the_mutex_usable_again() {
    let b = buf::<u64>();
    let m = Mutex::init(b.region(), 0u64).unwrap();
    let w = TestWait::default();
    std::mem::forget(m.lock(&w, &Immortal(Holder::fixed::<5>()), None).unwrap());
    let heir = Morgue::new(7, &[5]);
    let mut g = m.lock(&w, &heir, None).unwrap_err().into_guard().unwrap();
    g.set(0);
    g.mark_consistent();
    drop(g);
    assert_eq!(
        m.lock(&w, &Immortal(Holder::fixed::<8>()), None)
            .unwrap()
            .get(),
        0
    );
    assert!(!m.is_not_recoverable());
}

#[test]
fn threads_increment_under_the_lock() {
    let (threads, rounds) = if cfg!(miri) { (3, 20) } else { (4, 2000) };
    let b = buf::<[u64; 2]>();
    let m = Mutex::init(b.region(), [0u64; 2]).unwrap();
    let w = TestWait::default();
    std::thread::scope(|s| {
        for t in 1..=threads {
            let (m, w) = (&m, &w);
            s.spawn(move || {
                let me = Immortal(Holder::new(t).unwrap());
                for _ in 0..rounds {
                    let mut g = m.lock(w, &me, None).unwrap();
                    // Two words updated non-atomically: torn if exclusion fails.
                    let [a, b] = g.get();
                    assert_eq!(a, b);
                    g.set([a + 1, b + 1]);
                }
            });
        }
    });
    let me = Immortal(Holder::fixed::<99>());
    let g = m.lock(&w, &me, None).unwrap();
    assert_eq!(g.get(), [threads as u64 * rounds; 2]);
}

/// Issue 13, hole 9: a peer that rewrites the lock word for ever (junk,
/// free and held in turn, our own id with `WAITERS` flipping) cannot keep
/// `lock` or the unlock in a compare-exchange loop: every call returns,
/// with the lock or a typed error.
#[test]
fn lock_and_unlock_end_while_a_peer_rewrites_the_word() {
    let b = buf::<u64>();
    let m = Mutex::init(b.region(), 0u64).unwrap();
    let w = TestWait::default();
    let me = Morgue::new(1, &[7]);
    let word = &m.raw.control().word;
    let rounds = if cfg!(miri) { 5 } else { 2_000 };
    let t = Some(Duration::from_micros(200));
    let patterns: [fn(u32) -> u32; 4] = [
        |i| i.wrapping_mul(0x9e37_79b9),
        |i| if i & 1 == 0 { 0 } else { 7 | WAITERS },
        |i| if i & 1 == 0 { 0 } else { 2 },
        |i| 1 | (i & 1) << 31,
    ];
    for pattern in patterns {
        crate::wait::hostile::while_rewritten(word, pattern, || {
            for _ in 0..rounds {
                // Dropping the guard (or the error's) unlocks: bounded too.
                drop(m.lock(&w, &me, t));
                drop(m.try_lock(&w, &me));
            }
        });
    }
    // The unlock alone, under a peer flipping WAITERS on the holder's id.
    word.store(0, Ordering::Relaxed);
    health_reset(&m);
    let three = Immortal(Holder::fixed::<3>());
    let g = m.lock(&w, &three, None).unwrap();
    crate::wait::hostile::while_rewritten(word, |i| 3 | (i & 1) << 31, || drop(g));
    assert_eq!(
        LockError::<()>::Contended.to_string(),
        "lock word rewritten under 65536 compare-exchanges of one call"
    );
}

fn health_reset<T>(m: &Mutex<'_, T>) {
    m.raw
        .control()
        .health
        .store(health::CONSISTENT, Ordering::Relaxed);
}

/// Hole 1's class: every word of the mutex a peer can write — header,
/// lock word, health, owner record — gives a typed result when it holds
/// junk. Nothing read there addresses memory (the data sits at a fixed
/// offset checked at attach); the owner's id is masked to 30 bits.
#[test]
fn hostile_words_give_typed_results() {
    let b = buf::<u64>();
    let m = Mutex::init(b.region(), 9u64).unwrap();
    let w = TestWait::default();
    let poke = |offset: usize, value: u32| {
        // SAFETY: inside the buffer, aligned to 4.
        unsafe { b.ptr().add(offset).cast::<u32>().write(value) }
    };
    // Header: a capacity other than 1, a length other than the mutex's.
    poke(32, 2);
    assert!(matches!(
        Mutex::<u64>::attach(b.region()),
        Err(AttachError::Corrupt {
            field: "capacity",
            ..
        })
    ));
    poke(32, 1);
    poke(40, 1 << 20);
    assert!(matches!(
        Mutex::<u64>::attach(b.region()),
        Err(AttachError::Corrupt {
            field: "total_len",
            ..
        })
    ));
    poke(40, Mutex::<u64>::bytes_needed() as u32);
    assert!(Mutex::<u64>::attach(b.region()).is_ok());
    let t = Some(Duration::from_millis(3));
    // A lock word no owner writes: WAITERS with no id, the reserved bit,
    // every bit. Held by somebody else, or (id 1 once masked) by us.
    for (v, tid) in [(WAITERS, 0), (1 << 30 | 5, 5), (u32::MAX, MAX_OWNER_ID)] {
        poke(64, v);
        assert_eq!(
            m.owner().map(|o| o.tid.get()),
            Holder::new(tid).map(Holder::get)
        );
        assert!(matches!(
            m.try_lock(&w, &Immortal(Holder::fixed::<1>())),
            Err(LockError::WouldBlock)
        ));
        assert!(matches!(
            m.lock(&w, &Immortal(Holder::fixed::<1>()), t),
            Err(LockError::TimedOut)
        ));
        assert!(matches!(
            m.lock(&w, &Immortal(Holder::new(tid.max(1)).unwrap()), t),
            Err(LockError::Deadlock | LockError::TimedOut)
        ));
    }
    // A junk owner record is not the holder's: only the id in the word is.
    poke(64, 6);
    poke(72, u32::MAX);
    poke(76, u32::MAX);
    assert_eq!(
        m.owner(),
        Some(Owner {
            pid: 0,
            tid: Holder::fixed::<6>(),
            stamp: 0
        })
    );
    // An owner with no id in the word (WAITERS alone) judged dead is
    // taken over, and the heir is told.
    poke(64, WAITERS);
    let heir = Morgue::new(2, &[0]);
    let g = m.lock(&w, &heir, Some(Duration::from_secs(10)));
    assert!(matches!(g, Err(LockError::OwnerDied(_))));
    drop(g); // not repaired: not recoverable
    health_reset(&m);
    // A health word no owner writes reads as not recoverable, and the
    // failed lock leaves the mutex unlocked.
    for junk in [3, u32::MAX] {
        poke(68, junk);
        assert!(matches!(
            m.lock(&w, &Immortal(Holder::fixed::<1>()), None),
            Err(LockError::NotRecoverable)
        ));
        assert!(m.owner().is_none());
    }
    poke(68, 0);
    assert_eq!(
        m.lock(&w, &Immortal(Holder::fixed::<1>()), None)
            .unwrap()
            .get(),
        9
    );
}
