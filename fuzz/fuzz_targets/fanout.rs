//! The fan-out ring, structure-aware: a ring of `[u64; 2]` made by `init`
//! (or, for one input in 16, raw bytes attached), one writer role
//! (claimed, released, killed and taken over), subscribers joining (into a
//! free entry or a dead holder's), leaving, killed (handle forgotten, entry
//! left behind) and evicted, or evicted while alive (a liveness lie: the
//! zombie keeps reading) — driving `try_send`/`send` (and bursts up to
//! full), `try_send_slice`, `reserve` (+ `set` or `as_mut_slices`, a
//! peer write between, `commit`/`commit_all` or drop), `try_recv`/`recv`,
//! `try_recv_slice`, `peek` (+ `get`, `as_slices`, `release`/
//! `release_all` or drop), `slots`, `gating`, `slowest`, `is_member`,
//! `evict`, `status`, wakes, re-attach —
//! interleaved with a hostile peer's writes to any shared word (header,
//! writer word, tail, both event words, every entry's holder and cursor,
//! slots), now or inside a wait or liveness check.
//!
//! Element `p` of the stream is `[p, mix(p)]`. Until the peer's first
//! write (and while no zombie wrote its cursor into an entry someone else
//! holds) results are checked exactly against a model of the table: every
//! live subscriber receives every element written after it joined, exactly
//! once, in order, by single, batch and zero-copy receives alike; the
//! writer's room (`slots`, what a batch writes, whether a reserve fits)
//! is exactly the capacity minus the largest lag of any entry in the
//! table (live, or dead but not evicted), so the writer never overwrites
//! a slot a subscriber in the table still needs; a timed-out `send`
//! names the entry holding it back (`SlowSubscriber`), as `gating` does;
//! `slowest` names the first entry with the largest lag; `status` reports
//! the model's tail and table; `evict` removes exactly the
//! dead; `subscribe` takes exactly the first free or dead entry. After a
//! peer write, elements received are still checked to be whole (or a
//! never-written zero slot) unless the peer wrote a slot, and errors must
//! be typed.
//!
//! Input: byte 0 is the setup (`% 16 == 0`: attach raw bytes; else
//! capacity `1 << (b >> 4) % 6` slots), then ops, one byte each (`% 22`)
//! with their arguments.
#![no_main]

use std::collections::HashSet;

use interlink_core::fanout::{self, FanoutRing, FanoutWriter, Subscriber, MAX_SUBSCRIBERS};
use interlink_core::ring::ChunkError;
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

    /// The writer's room: the capacity less the largest lag in the table.
    fn room(&self) -> u32 {
        let cap = self.ring.capacity();
        // Saturating: after a peer write the model's lags mean nothing.
        cap.saturating_sub(
            self.table
                .iter()
                .flatten()
                .map(|e| self.tail.wrapping_sub(e.cursor))
                .max()
                .unwrap_or(0),
        )
    }

    /// The entry holding the writer back (holder, index): the first with
    /// the largest lag, if that lag is a whole lap.
    fn gating(&self) -> Option<(u32, u32)> {
        let mut worst: Option<(usize, u32, u32)> = None;
        for (i, e) in self.table.iter().enumerate() {
            if let Some(e) = e {
                let lag = self.tail.wrapping_sub(e.cursor);
                if worst.is_none_or(|(_, _, w)| lag > w) {
                    worst = Some((i, e.holder, lag));
                }
            }
        }
        worst
            .filter(|&(_, _, lag)| lag >= self.ring.capacity())
            .map(|(i, h, _)| (h, i as u32))
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
    let op = input.byte() % 22;
    match op {
        0 | 1 => {
            let b = (op == 1).then(|| blocking(input, hostile));
            let timeout = Hostile::timeout(input);
            send_one(st, hostile, b.as_ref().map(|b| (b, timeout)));
        }
        16 | 17 => write_batch(st, input, hostile, op == 17),
        18 | 19 => {
            if st.subs.is_empty() {
                return;
            }
            let i = input.below(st.subs.len());
            recv_batch(st, input, hostile, i, op == 19);
        }
        20 => {
            let t = st.exact && !hostile.wrote();
            let (room, gating) = (st.room(), st.gating());
            if let Some(w) = st.writer.as_mut() {
                let slots = w.slots();
                let g = w.gating();
                assert!(slots <= cap);
                if t {
                    // A cached bound: at most the room, none only when
                    // there is none (then it rescans).
                    assert!(slots <= room && (slots == 0) == (room == 0), "writer slots");
                    assert_eq!(g, gating, "gating");
                }
            }
            for s in st.subs.iter_mut() {
                let member = s.sub.is_member();
                let slots = s.sub.slots();
                if t {
                    let e = st.table[s.sub.index()].expect("entry");
                    assert!(member);
                    assert_eq!(slots.ok(), Some(st.tail.wrapping_sub(e.cursor)));
                }
            }
            for z in st.zombies.iter() {
                if t {
                    assert!(!z.sub.is_member(), "evicted, still a member");
                }
            }
        }
        21 => {
            let t = st.exact && !hostile.wrote();
            match fanout::status(&mapping.region()) {
                Ok(s) => {
                    for (_, e) in s.occupied() {
                        if let Some(lag) = e.lag {
                            assert!(lag <= cap);
                        }
                    }
                    if t {
                        assert_eq!(s.tail, st.tail);
                        for (i, e) in st.table.iter().enumerate() {
                            let got = s.subscribers[i];
                            match e {
                                Some(e) => {
                                    assert_eq!((got.holder, got.cursor), (e.holder, e.cursor));
                                    assert_eq!(got.lag, Some(st.tail.wrapping_sub(e.cursor)));
                                }
                                None => assert_eq!(got.holder, 0),
                            }
                        }
                        assert_eq!(s.max_lag(), cap - st.room());
                    }
                }
                Err(e) => assert!(!t, "honest status failed: {e}"),
            }
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
            let r = st
                .ring
                .subscribe(Holder::new(holder).expect("nonzero"), |h| {
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
    let gating = st.gating();
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
            assert!(!t || (!can && gating.is_none()), "timed out with room");
            false
        }
        Err(SendError::SlowSubscriber { holder, index }) => {
            assert!(blocking.is_some());
            assert!((index as usize) < MAX_SUBSCRIBERS && holder != 0);
            if t {
                assert!(!can, "timed out with room");
                assert_eq!(Some((holder, index)), gating, "named another subscriber");
            }
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
                assert_eq!(
                    entry.expect("entry").cursor,
                    st.tail,
                    "timed out while behind"
                );
            }
        }
        Err(RecvError::Corrupt) => assert!(!t, "honest ring corrupt"),
        Err(e) => panic!("fan-out receive: {e:?}"),
    }
}

/// `try_send_slice`, or `reserve` + fill + commit (or drop).
fn write_batch(st: &mut State<'_>, input: &mut Input<'_>, hostile: &Hostile, reserve: bool) {
    let cap = st.ring.capacity();
    let n = input.below(2 * cap as usize + 2) as u32;
    let how = input.byte();
    let t = st.exact && !hostile.wrote();
    let room = st.room();
    let tail = st.tail;
    let items: Vec<T> = (0..n).map(|i| element(tail.wrapping_add(i))).collect();
    let named = named(st);
    let Some(w) = st.writer.as_mut() else {
        return;
    };
    if !reserve {
        match w.try_send_slice(&items) {
            Ok(k) => {
                assert!(k <= n as usize);
                if t {
                    assert_eq!(k as u32, n.min(room), "batch wrote");
                }
                st.tail = st.tail.wrapping_add(k as u32);
            }
            Err(e) => panic!("try_send_slice: {e:?}"),
        }
        return;
    }
    match w.reserve(n) {
        Ok(mut chunk) => {
            assert_eq!(chunk.len(), n);
            assert!(!t || n <= room, "reserved more than the room");
            if how & 1 == 0 {
                for (i, v) in items.iter().enumerate() {
                    chunk.set(i as u32, *v);
                    if i == 0 && how & 2 != 0 {
                        hostile.write_from(input, &named, cap);
                    }
                }
            } else {
                let (a, b) = chunk.as_mut_slices();
                assert_eq!(a.len() + b.len(), n as usize);
                let k = a.len();
                a.copy_from_slice(&items[..k]);
                b.copy_from_slice(&items[k..]);
            }
            let published = match (how >> 2) % 3 {
                0 => {
                    chunk.commit_all();
                    n
                }
                1 => {
                    let k = input.below(n as usize + 3) as u32;
                    chunk.commit(k);
                    k.min(n)
                }
                _ => 0, // dropped: nothing published
            };
            st.tail = st.tail.wrapping_add(published);
        }
        Err(ChunkError::TooFew { available }) => {
            assert!(available < n);
            if t {
                assert_eq!(available, room, "reserve's room");
            }
        }
        Err(ChunkError::Corrupt) => assert!(!t, "honest reserve corrupt"),
    }
}

/// `try_recv_slice`, or `peek` + read + release (or drop).
fn recv_batch(st: &mut State<'_>, input: &mut Input<'_>, hostile: &Hostile, i: usize, peek: bool) {
    let cap = st.ring.capacity();
    let n = input.below(2 * cap as usize + 2);
    let how = input.byte();
    let t = st.exact && !hostile.wrote();
    let check_whole = !hostile.wrote_in(|o| o >= SLOTS);
    let s = &mut st.subs[i];
    let index = s.sub.index();
    let holder = s.holder;
    let entry = st.table[index].filter(|e| e.holder == holder);
    let ready = entry.map(|e| st.tail.wrapping_sub(e.cursor));
    let (got, taken): (Vec<T>, u32) = if !peek {
        let mut out = vec![[7u64, 7u64]; n];
        match s.sub.try_recv_slice(&mut out) {
            Ok(k) => {
                assert!(k <= n);
                out.truncate(k);
                (out, k as u32)
            }
            Err(RecvError::Corrupt) => {
                assert!(!t, "honest ring corrupt");
                return;
            }
            Err(e) => panic!("try_recv_slice: {e:?}"),
        }
    } else {
        match s.sub.peek(n as u32) {
            Ok(chunk) => {
                assert_eq!(chunk.len() as usize, n);
                let vals: Vec<T> = if how & 1 == 0 {
                    (0..chunk.len()).map(|j| chunk.get(j)).collect()
                } else {
                    let (a, b) = chunk.as_slices();
                    a.iter().chain(b.iter()).copied().collect()
                };
                assert_eq!(vals.len(), n);
                let k = match (how >> 1) % 3 {
                    0 => {
                        chunk.release_all();
                        n as u32
                    }
                    1 => {
                        let k = input.below(n + 3) as u32;
                        chunk.release(k);
                        k.min(n as u32)
                    }
                    _ => 0, // dropped: nothing released
                };
                (vals, k)
            }
            Err(ChunkError::TooFew { available }) => {
                assert!((available as usize) < n);
                if t {
                    assert_eq!(Some(available), ready, "peek's count");
                }
                return;
            }
            Err(ChunkError::Corrupt) => {
                assert!(!t, "honest ring corrupt");
                return;
            }
        }
    };
    if check_whole {
        for v in &got {
            assert!(whole(*v), "torn element {v:?}");
        }
    }
    if t {
        let e = entry.expect("a live subscriber keeps its entry");
        let ready = ready.expect("entry");
        if !peek {
            assert_eq!(got.len() as u32, ready.min(n as u32), "batch received");
        }
        assert!(got.len() as u32 <= ready);
        for (j, v) in got.iter().enumerate() {
            assert_eq!(*v, element(e.cursor.wrapping_add(j as u32)), "element {j}");
        }
    }
    if let Some(e) = st.table[index].as_mut() {
        if e.holder == holder {
            e.cursor = e.cursor.wrapping_add(taken);
        }
    }
}
