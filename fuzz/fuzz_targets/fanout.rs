//! The fan-out ring, structure-aware: a ring of `[u64; 2]` made by `init`
//! (or, for one input in 16, raw bytes attached), one writer role
//! (claimed, released, killed and taken over), subscribers joining (into a
//! free entry or a dead holder's), leaving, killed (handle forgotten, entry
//! left behind) and evicted, or evicted while alive (a liveness lie: the
//! zombie keeps reading) — driving `try_send`/`send` (and bursts up to
//! full), `try_recv`/`recv`, `slowest`, `evict`, wakes, re-attach —
//! interleaved with a hostile peer's writes to any shared word (header,
//! writer word, tail, both event words, every entry's holder and cursor,
//! slots), now or inside a wait or liveness check.
//!
//! Uses only the single-element API (`try_send`, `send`, `try_recv`,
//! `recv`, `subscribe`, `evict`, `slowest`), so that batch and zero-copy
//! additions do not break it.
//!
//! Element `p` of the stream is `[p, mix(p)]`. Until the peer's first
//! write (and while no zombie wrote its cursor into an entry someone else
//! holds) results are checked exactly against a model of the table: every
//! live subscriber receives every element written after it joined, exactly
//! once, in order; a send succeeds exactly when no entry in the table (live
//! or dead but not evicted) is a full lap behind, so the writer never
//! overwrites a slot a subscriber in the table still needs; `slowest`
//! names the first entry with the largest lag; `evict` removes exactly the
//! dead; `subscribe` takes exactly the first free or dead entry. After a
//! peer write, elements received are still checked to be whole (or a
//! never-written zero slot) unless the peer wrote a slot, and errors must
//! be typed.
//!
//! Input: byte 0 is the setup (`% 16 == 0`: attach raw bytes; else
//! capacity `1 << (b >> 4) % 6` slots), then ops, one byte each (`% 16`)
//! with their arguments.
#![no_main]

use std::collections::HashSet;

use interlink_core::fanout::{FanoutRing, FanoutWriter, Subscriber, MAX_SUBSCRIBERS};
use interlink_core::{ElementCheck, Holder, RecvError, RingConfig, RoleError, SendError};
use interlink_fuzz::{blocking, Hostile, Input, Mapping};
use libfuzzer_sys::fuzz_target;

type T = [u64; 2];

/// Where the slots start (8576 rounded up to 8).
const SLOTS: usize = 8576;

fn mix(p: u64) -> u64 {
    let mut z = p.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn element(p: u32) -> T {
    [u64::from(p), mix(u64::from(p))]
}

/// A value some write stored whole (or a slot never written).
fn whole(v: T) -> bool {
    v == [0, 0] || (v[0] <= u64::from(u32::MAX) && v[1] == mix(v[0]))
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    holder: u32,
    /// Elements it has received (the shared cursor).
    cursor: u32,
}

struct Sub<'a> {
    sub: Subscriber<'a, T>,
    holder: u32,
}

struct State<'a> {
    ring: FanoutRing<'a, T>,
    writer: Option<FanoutWriter<'a, T>>,
    writer_holder: u32,
    subs: Vec<Sub<'a>>,
    /// Evicted while alive: they still read.
    zombies: Vec<Sub<'a>>,
    table: [Option<Entry>; MAX_SUBSCRIBERS],
    dead: HashSet<u32>,
    tail: u32,
    next_holder: u32,
    exact: bool,
}

impl State<'_> {
    fn can_send(&self) -> bool {
        let cap = self.ring.capacity();
        self.table
            .iter()
            .flatten()
            .all(|e| self.tail.wrapping_sub(e.cursor) < cap)
    }

    fn alive(&self, holder: u32) -> bool {
        !self.dead.contains(&holder)
    }
}

fuzz_target!(|data: &[u8]| run(data));

fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let setup = input.byte();
    let raw = setup.is_multiple_of(16);
    let cap = 1u32 << ((setup >> 4) % 6);
    let mapping = if raw {
        let len = 8576 + input.below(64) * 16;
        let n = (input.u16() as usize).min(len);
        let m = Mapping::new(len, 128);
        m.fill(input.bytes(n));
        m
    } else {
        Mapping::new(
            FanoutRing::<T>::bytes_needed(cap).expect("capacity"),
            FanoutRing::<T>::region_align(),
        )
    };
    let hostile = Hostile::new(&mapping);
    let ring = if raw {
        match FanoutRing::<T>::attach(mapping.region()) {
            Ok(r) => r,
            Err(_) => return,
        }
    } else {
        FanoutRing::<T>::init(mapping.region(), RingConfig::new(cap)).expect("init")
    };
    let mut st = State {
        ring,
        writer: ring.writer(Holder::fixed::<1>()).ok(),
        writer_holder: 1,
        subs: Vec::new(),
        zombies: Vec::new(),
        table: [None; MAX_SUBSCRIBERS],
        dead: HashSet::new(),
        tail: 0,
        next_holder: 100,
        exact: !raw,
    };
    while !input.is_done() {
        step(&mut st, &mut input, &hostile, &mapping);
        if st.exact && !hostile.wrote() {
            let holders = st.ring.subscriber_holders();
            for (i, e) in st.table.iter().enumerate() {
                assert_eq!(holders[i], e.map_or(0, |e| e.holder), "entry {i}");
            }
        }
    }
    // Handles before the mapping.
    drop(st);
}

/// The named words a peer writes: header fields, the writer word, the
/// tail, both event words, the first entries' holders and cursors.
fn named(st: &State<'_>) -> Vec<usize> {
    let mut v = vec![8, 12, 16, 20, 24, 28, 32, 36, 64, 128, 132, 256];
    for i in 0..4 {
        v.push(384 + 128 * i);
        v.push(388 + 128 * i);
    }
    for s in &st.subs {
        v.push(388 + 128 * s.sub.index());
    }
    v
}

fn step(st: &mut State<'_>, input: &mut Input<'_>, hostile: &Hostile, mapping: &Mapping) {
    let cap = st.ring.capacity();
    let op = input.byte() % 16;
    match op {
        0 | 1 => {
            let b = (op == 1).then(|| blocking(input, hostile));
            let timeout = Hostile::timeout(input);
            send_one(st, hostile, b.as_ref().map(|b| (b, timeout)));
        }
        // A burst, until full.
        2 => {
            for _ in 0..1 + input.below(2 * cap as usize + 2) {
                if !send_one(st, hostile, None) {
                    break;
                }
            }
        }
        // Join.
        3 => {
            let holder = st.next_holder;
            st.next_holder += 1;
            let t = st.exact && !hostile.wrote();
            // The model's pick: the first entry free or held by the dead.
            let pick = st
                .table
                .iter()
                .position(|e| e.is_none_or(|e| !st.alive(e.holder)));
            let dead = st.dead.clone();
            let r = st.ring.subscribe(Holder::new(holder).expect("nonzero"), |h| {
                hostile.during();
                !dead.contains(&h)
            });
            let t = t && !hostile.wrote();
            match r {
                Ok(sub) => {
                    let i = sub.index();
                    assert!(i < MAX_SUBSCRIBERS);
                    if t {
                        assert_eq!(Some(i), pick, "joined another entry");
                    }
                    st.table[i] = Some(Entry {
                        holder,
                        cursor: st.tail,
                    });
                    st.subs.push(Sub { sub, holder });
                }
                Err(RoleError::Taken { holder: h }) => {
                    if t {
                        assert_eq!(pick, None, "a free entry was left");
                        assert!(st.table.iter().flatten().any(|e| e.holder == h));
                    }
                }
                Err(e) => panic!("subscribe fails only with Taken: {e}"),
            }
        }
        // Receive.
        4 | 5 => {
            if st.subs.is_empty() {
                return;
            }
            let i = input.below(st.subs.len());
            let b = (op == 5).then(|| blocking(input, hostile));
            let timeout = Hostile::timeout(input);
            recv_one(st, hostile, i, b.as_ref().map(|b| (b, timeout)));
        }
        // Leave.
        6 => {
            if !st.subs.is_empty() {
                let s = st.subs.remove(input.below(st.subs.len()));
                let i = s.sub.index();
                if st.table[i].is_some_and(|e| e.holder == s.holder) {
                    st.table[i] = None;
                }
            }
        }
        // Kill a subscriber: its entry stays until evicted or reused.
        7 => {
            if !st.subs.is_empty() {
                let s = st.subs.remove(input.below(st.subs.len()));
                st.dead.insert(s.holder);
                std::mem::forget(s.sub);
            }
        }
        // Evict the dead (or, a liveness lie, one live subscriber too).
        8 => {
            let lie = if input.byte() % 4 == 0 && !st.subs.is_empty() {
                Some(st.subs[input.below(st.subs.len())].holder)
            } else {
                None
            };
            let t = st.exact && !hostile.wrote();
            let dead = st.dead.clone();
            let Some(w) = st.writer.as_mut() else {
                return;
            };
            let n = w.evict(|h| {
                hostile.during();
                !dead.contains(&h) && Some(h) != lie
            });
            let t = t && !hostile.wrote();
            let mut want = 0;
            for e in st.table.iter_mut() {
                if let Some(x) = e {
                    if dead.contains(&x.holder) || Some(x.holder) == lie {
                        *e = None;
                        want += 1;
                    }
                }
            }
            if t {
                assert_eq!(n, want, "evicted");
            }
            if let Some(h) = lie {
                if let Some(k) = st.subs.iter().position(|s| s.holder == h) {
                    let z = st.subs.remove(k);
                    st.zombies.push(z);
                }
            }
        }
        // A zombie reads (storing its cursor into an entry it lost).
        9 => {
            if st.zombies.is_empty() {
                return;
            }
            let k = input.below(st.zombies.len());
            let z = &mut st.zombies[k];
            let i = z.sub.index();
            let r = z.sub.try_recv();
            if st.table[i].is_some() {
                // It wrote a cursor someone else's gating uses.
                st.exact = false;
            }
            match r {
                Ok(v) => {
                    if !hostile.wrote_in(|o| o >= SLOTS) {
                        assert!(whole(v), "torn element {v:?}");
                    }
                }
                Err(RecvError::Empty | RecvError::Corrupt) => {}
                Err(e) => panic!("try_recv: {e:?}"),
            }
            if input.byte() & 1 == 0 {
                st.zombies.remove(k);
            }
        }
        // The slowest.
        10 => {
            let t = st.exact && !hostile.wrote();
            let Some(w) = st.writer.as_ref() else {
                return;
            };
            let s = w.slowest();
            if let Some((_, lag)) = s {
                assert!(lag <= cap);
            }
            if t {
                let mut want: Option<(u32, u32)> = None;
                for e in st.table.iter().flatten() {
                    let lag = st.tail.wrapping_sub(e.cursor);
                    if want.is_none_or(|(_, w)| lag > w) {
                        want = Some((e.holder, lag));
                    }
                }
                assert_eq!(s, want, "slowest");
            }
        }
        // Release the writer, or claim it.
        11 => {
            if st.writer.take().is_none() {
                let h = 1 + input.below(3) as u32;
                let t = st.exact && !hostile.wrote();
                match st.ring.writer(Holder::new(h).expect("nonzero")) {
                    Ok(w) => {
                        st.writer = Some(w);
                        st.writer_holder = h;
                    }
                    Err(e) => assert!(!t, "honest claim failed: {e}"),
                }
            }
        }
        // Kill the writer and take over, or try to steal it.
        12 => {
            let kill = input.byte() & 1 == 0;
            if kill {
                if let Some(w) = st.writer.take() {
                    std::mem::forget(w);
                }
            }
            let had = st.writer.is_some();
            let t = st.exact && !hostile.wrote();
            let h = 4 + input.below(3) as u32;
            let r = st
                .ring
                .take_over_writer(Holder::new(h).expect("nonzero"), |_| {
                    hostile.during();
                    !kill
                });
            let t = t && !hostile.wrote();
            match r {
                Ok(w) => {
                    assert!(!had || hostile.wrote(), "two writers");
                    st.writer = Some(w);
                    st.writer_holder = h;
                }
                Err(e) => assert!(!t || had || !kill, "honest take-over failed: {e}"),
            }
        }
        // Peer writes.
        13 => {
            let named = named(st);
            if input.byte() & 1 == 0 {
                hostile.write_from(input, &named, cap);
            } else {
                hostile.queue_from(input, &named, cap);
            }
        }
        14 => {
            let o = SLOTS + 8 * input.below(2 * cap as usize);
            hostile.write(o, input.value(cap));
        }
        // Re-attach, wakes.
        _ => {
            let t = st.exact && !hostile.wrote();
            let r = if input.byte() & 1 == 0 {
                FanoutRing::<T>::attach(mapping.region())
            } else {
                FanoutRing::<T>::attach_with(mapping.region(), ElementCheck::LayoutOnly)
            };
            match r {
                Ok(r) => {
                    assert_eq!(r.capacity(), cap);
                    if t {
                        let w = if st.writer.is_some() {
                            st.writer_holder
                        } else {
                            0
                        };
                        assert_eq!(r.writer_holder(), w);
                    }
                    st.ring = r;
                }
                Err(e) => assert!(!t, "honest attach failed: {e}"),
            }
            if let Some(w) = &st.writer {
                w.wake_subscribers(hostile);
            }
            if let Some(s) = st.subs.first() {
                s.sub.wake_writer(hostile);
            }
        }
    }
}

/// One send; whether it succeeded.
fn send_one(
    st: &mut State<'_>,
    hostile: &Hostile,
    blocking: Option<(&interlink_core::Blocking<&Hostile>, std::time::Duration)>,
) -> bool {
    let t = st.exact && !hostile.wrote();
    let can = st.can_send();
    let v = element(st.tail);
    let Some(w) = st.writer.as_mut() else {
        return false;
    };
    let r = match blocking {
        None => w.try_send(v),
        Some((b, timeout)) => w.send(v, b, Some(timeout)),
    };
    let t = t && !hostile.wrote();
    match r {
        Ok(()) => {
            if t {
                assert!(can, "overwrote a slot a subscriber still needs");
            }
            st.tail = st.tail.wrapping_add(1);
            true
        }
        Err(SendError::Full) => {
            assert!(blocking.is_none());
            assert!(!t || !can, "full with room");
            false
        }
        Err(SendError::TimedOut) => {
            assert!(blocking.is_some());
            assert!(!t || !can, "timed out with room");
            false
        }
        Err(e) => panic!("fan-out send: {e:?}"),
    }
}

fn recv_one(
    st: &mut State<'_>,
    hostile: &Hostile,
    i: usize,
    blocking: Option<(&interlink_core::Blocking<&Hostile>, std::time::Duration)>,
) {
    let t = st.exact && !hostile.wrote();
    let s = &mut st.subs[i];
    let index = s.sub.index();
    let r = match blocking {
        None => s.sub.try_recv(),
        Some((b, timeout)) => s.sub.recv(b, Some(timeout)),
    };
    let t = t && !hostile.wrote();
    let entry = st.table[index].filter(|e| e.holder == st.subs[i].holder);
    match r {
        Ok(v) => {
            if !hostile.wrote_in(|o| o >= SLOTS) {
                assert!(whole(v), "torn element {v:?}");
            }
            if t {
                let e = entry.expect("a live subscriber keeps its entry");
                assert_ne!(e.cursor, st.tail, "received past the tail");
                assert_eq!(v, element(e.cursor), "not the next element");
            }
            if let Some(e) = st.table[index].as_mut() {
                if e.holder == st.subs[i].holder {
                    e.cursor = e.cursor.wrapping_add(1);
                }
            }
        }
        Err(RecvError::Empty) => {
            assert!(blocking.is_none());
            if t {
                assert_eq!(entry.expect("entry").cursor, st.tail, "empty while behind");
            }
        }
        Err(RecvError::TimedOut) => {
            assert!(blocking.is_some());
            if t {
                assert_eq!(entry.expect("entry").cursor, st.tail, "timed out while behind");
            }
        }
        Err(RecvError::Corrupt) => assert!(!t, "honest ring corrupt"),
        Err(e) => panic!("fan-out receive: {e:?}"),
    }
}
