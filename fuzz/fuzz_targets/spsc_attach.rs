//! The SPSC ring, structure-aware: a ring made by `init` (or, for one
//! input in 16, whatever bytes the input supplies, attached), then a
//! sequence of operations on producer and consumer handles interleaved
//! with a hostile peer's writes to any shared word — before a role is
//! claimed, between a claim and its use, inside a take-over's liveness
//! check, inside blocking calls, before a re-attach. Until the peer's
//! first write (and while no live holder was wrongly replaced) every
//! result is checked against a `VecDeque` model; after it, only that
//! nothing crashes or reads/writes out of bounds and that counts stay in
//! range. The mapping is exactly as long as the ring, so AddressSanitizer
//! sees the first byte past it.
//!
//! Input: byte 0 chooses the setup (bits 0..4 = 0: attach to raw bytes;
//! else bits 4..7: capacity `1 << (b % 7)`), then ops, one byte each
//! (`op % 24`, see `match`), with their arguments after them.
#![no_main]

use std::collections::VecDeque;

use interlink_core::spsc::{self, Consumer, Producer, SpscRing};
use interlink_core::Holder;
use interlink_core::{ChunkError, RecvError, RoleError, SendError};
use interlink_fuzz::{blocking, Hostile, Input, Mapping};
use libfuzzer_sys::fuzz_target;

/// The words a peer writes most: header (magic, version, kind, state,
/// capacity, total_len), roles, tail and its event word, head and its
/// event word, the first slot. Index words are listed twice (weight).
const NAMED: &[usize] = &[
    0, 4, 8, 12, 32, 40, 64, 68, 128, 132, 256, 260, 128, 256, 64, 68, 384,
];

struct State<'a> {
    ring: SpscRing<'a, u32>,
    prod: Option<Producer<'a, u32>>,
    cons: Option<Consumer<'a, u32>>,
    /// A producer that was replaced while alive (wrongly judged dead).
    zprod: Option<Producer<'a, u32>>,
    zcons: Option<Consumer<'a, u32>>,
    model: VecDeque<u32>,
    /// The role words as the model has them.
    prod_word: u32,
    cons_word: u32,
    /// The holder ids of `prod` and `cons`.
    prod_holder: u32,
    cons_holder: u32,
    /// False once the model cannot predict (raw attach, two live holders).
    exact: bool,
    next: u32,
}

fuzz_target!(|data: &[u8]| run(data));

fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let setup = input.byte();
    let raw = setup.is_multiple_of(16);
    let (mapping, capacity_hint) = if raw {
        // The bytes as they are: a header that may be anything at all,
        // in a mapping of a chosen length.
        let len = 384 + input.below(1024) * 4;
        let n = input_len(&mut input, len);
        let image = input.bytes(n);
        let m = Mapping::new(len, 128);
        m.fill(image);
        (m, 0)
    } else {
        let capacity = 1u32 << ((setup >> 4) % 7);
        let len = SpscRing::<u32>::bytes_needed(capacity).expect("valid capacity");
        (Mapping::new(len, 128), capacity)
    };
    let hostile = Hostile::new(&mapping);
    let ring = if raw {
        let check = if input.byte() % 2 == 0 {
            interlink_core::ElementCheck::Exact
        } else {
            interlink_core::ElementCheck::LayoutOnly
        };
        match SpscRing::<u32>::attach_with(mapping.region(), check) {
            Ok(ring) => ring,
            Err(_) => return,
        }
    } else {
        SpscRing::<u32>::init(
            mapping.region(),
            interlink_core::RingConfig::new(capacity_hint),
        )
        .expect("init")
    };
    let mut st = State {
        ring,
        prod: None,
        cons: None,
        zprod: None,
        zcons: None,
        model: VecDeque::new(),
        prod_word: 0,
        cons_word: 0,
        prod_holder: 0,
        cons_holder: 0,
        exact: !raw,
        next: 1,
    };
    while !input.is_done() {
        step(&mut st, &mut input, &hostile, &mapping);
        check(&st, &hostile, &mapping);
    }
    // Handles go before the mapping.
    drop(st);
}

/// How many image bytes to read for a mapping of `len`.
fn input_len(input: &mut Input<'_>, len: usize) -> usize {
    (input.byte() as usize * 8).min(len)
}

fn trusted(st: &State<'_>, hostile: &Hostile) -> bool {
    st.exact && !hostile.wrote()
}

fn holder(input: &mut Input<'_>) -> u32 {
    // One of three ids: collisions on purpose (0 is no `Holder` at all).
    u32::from(input.byte() % 3) + 1
}

/// `h` (nonzero) as a `Holder`.
fn hold(h: u32) -> Holder {
    Holder::new(h).expect("fuzzed holder ids are 1..=3")
}

fn step<'a>(st: &mut State<'a>, input: &mut Input<'_>, hostile: &Hostile, mapping: &Mapping) {
    let cap = st.ring.capacity();
    let op = input.byte() % 24;
    match op {
        0 => {
            let h = holder(input);
            let expect = role_expect(st.prod_word, h);
            let r = st.ring.producer(hold(h));
            if trusted(st, hostile) {
                assert_eq!(r.as_ref().err().copied(), expect.err());
            }
            if let Ok(p) = r {
                st.prod_word = h;
                st.prod_holder = h;
                if let Some(old) = st.prod.replace(p) {
                    st.zprod = Some(old);
                    st.exact = false;
                }
            }
        }
        1 => {
            let h = holder(input);
            let expect = role_expect(st.cons_word, h);
            let r = st.ring.consumer(hold(h));
            if trusted(st, hostile) {
                assert_eq!(r.as_ref().err().copied(), expect.err());
            }
            if let Ok(c) = r {
                st.cons_word = h;
                st.cons_holder = h;
                if let Some(old) = st.cons.replace(c) {
                    st.zcons = Some(old);
                    st.exact = false;
                }
            }
        }
        2 | 3 => {
            // Take-over; the liveness check is where queued peer writes land.
            let h = holder(input);
            let alive = input.byte() & 1 == 1;
            let was_trusted = trusted(st, hostile);
            let word = if op == 2 { st.prod_word } else { st.cons_word };
            let expect = if word != 0 && alive {
                Err(RoleError::Taken { holder: word })
            } else {
                Ok(())
            };
            let is_alive = |_| {
                hostile.during();
                alive
            };
            if op == 2 {
                let r = st.ring.take_over_producer(hold(h), is_alive);
                if was_trusted && !hostile.wrote() {
                    assert_eq!(r.as_ref().err().copied(), expect.err());
                }
                if let Ok(p) = r {
                    st.prod_word = h;
                    st.prod_holder = h;
                    if let Some(old) = st.prod.replace(p) {
                        st.zprod = Some(old);
                        st.exact = false;
                    }
                }
            } else {
                let r = st.ring.take_over_consumer(hold(h), is_alive);
                if was_trusted && !hostile.wrote() {
                    assert_eq!(r.as_ref().err().copied(), expect.err());
                }
                if let Ok(c) = r {
                    st.cons_word = h;
                    st.cons_holder = h;
                    if let Some(old) = st.cons.replace(c) {
                        st.zcons = Some(old);
                        st.exact = false;
                    }
                }
            }
        }
        4 => {
            // Dropped: frees the role word if it still holds the holder.
            if let Some(p) = st.prod.take() {
                if st.prod_word == st.prod_holder {
                    st.prod_word = 0;
                }
                drop(p);
            }
        }
        5 => {
            if let Some(c) = st.cons.take() {
                if st.cons_word == st.cons_holder {
                    st.cons_word = 0;
                }
                drop(c);
            }
        }
        6 => {
            // Killed: the role word stays held.
            if let Some(p) = st.prod.take() {
                std::mem::forget(p);
            }
        }
        7 => {
            if let Some(c) = st.cons.take() {
                std::mem::forget(c);
            }
        }
        8 => {
            let v = st.next;
            st.next += 1;
            let t = trusted(st, hostile);
            let Some(p) = st.prod.as_mut() else { return };
            let r = p.try_send(v);
            if t {
                if st.model.len() < cap as usize {
                    assert_eq!(r, Ok(()));
                    st.model.push_back(v);
                } else {
                    assert_eq!(r, Err(SendError::Full));
                }
            }
        }
        9 => {
            let t = trusted(st, hostile);
            let Some(c) = st.cons.as_mut() else { return };
            let r = c.try_recv();
            if t {
                match st.model.pop_front() {
                    Some(v) => assert_eq!(r, Ok(v)),
                    None => assert_eq!(r, Err(RecvError::Empty)),
                }
            }
        }
        10 => {
            let n = input.below(81);
            let items: Vec<u32> = (0..n as u32).map(|i| st.next + i).collect();
            st.next += n as u32;
            let t = trusted(st, hostile);
            let Some(p) = st.prod.as_mut() else { return };
            let r = p.try_send_slice(&items);
            if let Ok(k) = r {
                assert!(
                    k <= n && k <= cap as usize,
                    "try_send_slice({n}) = {k}, capacity {cap}"
                );
            }
            if t {
                let k = n.min(cap as usize - st.model.len());
                assert_eq!(r, Ok(k));
                st.model.extend(&items[..k]);
            }
        }
        11 => {
            let n = input.below(81);
            let mut out = vec![0u32; n];
            let t = trusted(st, hostile);
            let Some(c) = st.cons.as_mut() else { return };
            let r = c.try_recv_slice(&mut out);
            if let Ok(k) = r {
                assert!(
                    k <= n && k <= cap as usize,
                    "try_recv_slice({n}) = {k}, capacity {cap}"
                );
            }
            if t {
                let k = n.min(st.model.len());
                assert_eq!(r, Ok(k));
                for v in &out[..k] {
                    assert_eq!(Some(*v), st.model.pop_front());
                }
            }
        }
        12 => reserve(st, input, hostile),
        13 => peek(st, input, hostile),
        14 => {
            let v = st.next;
            st.next += 1;
            let b = blocking(input, hostile);
            let timeout = Hostile::timeout(input);
            let t = trusted(st, hostile);
            let full = st.model.len() == cap as usize;
            let Some(p) = st.prod.as_mut() else { return };
            let r = p.send(v, &b, Some(timeout));
            if t && trusted(st, hostile) {
                if full {
                    assert_eq!(r, Err(interlink_core::SendError::TimedOut));
                } else {
                    assert_eq!(r, Ok(()));
                    st.model.push_back(v);
                }
            }
        }
        15 => {
            let b = blocking(input, hostile);
            let timeout = Hostile::timeout(input);
            let t = trusted(st, hostile);
            let Some(c) = st.cons.as_mut() else { return };
            let r = c.recv(&b, Some(timeout));
            if t && trusted(st, hostile) {
                match st.model.pop_front() {
                    Some(v) => assert_eq!(r, Ok(v)),
                    None => assert_eq!(r, Err(interlink_core::RecvError::TimedOut)),
                }
            }
        }
        16 => {
            // Status calls on every handle.
            let t = trusted(st, hostile);
            let len = st.model.len() as u32;
            if let Some(p) = st.prod.as_mut() {
                let free = p.slots();
                let _ = (
                    p.len(),
                    p.is_empty(),
                    p.is_full(),
                    p.capacity(),
                    format!("{p:?}"),
                );
                if let Ok(f) = free {
                    assert!(f <= cap);
                }
                if t {
                    assert_eq!(free, Ok(cap - len));
                }
            }
            if let Some(c) = st.cons.as_mut() {
                let ready = c.slots();
                let _ = (
                    c.len(),
                    c.is_empty(),
                    c.is_full(),
                    c.capacity(),
                    format!("{c:?}"),
                );
                if let Ok(r) = ready {
                    assert!(r <= cap);
                }
                if t {
                    assert_eq!(ready, Ok(len));
                }
            }
            let r = st.ring;
            let _ = (r.is_empty(), r.is_full(), r.header(), format!("{r:?}"));
        }
        17 => {
            let s = spsc::status(&mapping.region());
            if trusted(st, hostile) {
                let s = s.expect("status of an honest ring");
                assert_eq!(s.fill(), Some(st.model.len() as u32));
                assert_eq!((s.producer, s.consumer), (st.prod_word, st.cons_word));
            } else if let Ok(s) = s {
                if let Some(f) = s.fill() {
                    assert!(f <= s.header.capacity);
                }
            }
        }
        18 | 19 => hostile.write_from(input, NAMED, cap),
        20 => hostile.queue_from(input, NAMED, cap),
        21 => {
            if let Some(p) = &st.prod {
                p.wake_consumer(&hostile);
            }
            if let Some(c) = &st.cons {
                c.wake_producer(&hostile);
            }
        }
        22 => {
            // Attach again (a second process's view), after whatever the
            // peer wrote; claims go through the new view from now on.
            match SpscRing::<u32>::attach(mapping.region()) {
                Ok(r) => {
                    if trusted(st, hostile) {
                        assert_eq!(r.capacity(), cap);
                    }
                    assert!(r.capacity() <= cap.max(1 << 20));
                    st.ring = r;
                }
                Err(e) => {
                    assert!(!trusted(st, hostile), "attach to an honest ring: {e}");
                }
            }
        }
        _ => {
            // The replaced holders keep going (they were alive after all).
            let n = input.below(17);
            if let Some(p) = &mut st.zprod {
                let items = vec![7u32; n];
                if let Ok(k) = p.try_send_slice(&items) {
                    assert!(k <= n);
                }
            }
            if let Some(c) = &mut st.zcons {
                let mut out = vec![0u32; n];
                if let Ok(k) = c.try_recv_slice(&mut out) {
                    assert!(k <= n);
                }
            }
        }
    }
}

/// What claiming a role word holding `word` for `h` gives.
fn role_expect(word: u32, h: u32) -> Result<(), RoleError> {
    let _ = h;
    if word != 0 {
        Err(RoleError::Taken { holder: word })
    } else {
        Ok(())
    }
}

fn reserve(st: &mut State<'_>, input: &mut Input<'_>, hostile: &Hostile) {
    let cap = st.ring.capacity();
    let n = input.below(81) as u32;
    let how = input.byte();
    let k = input.below(81) as u32;
    let t = trusted(st, hostile);
    let len = st.model.len() as u32;
    let base = st.next;
    st.next += n;
    let Some(p) = st.prod.as_mut() else { return };
    match p.reserve(n) {
        Ok(mut chunk) => {
            // Write first: a chunk past the region shows as an ASan report.
            let (a, b) = chunk.as_mut_slices();
            let got = a.len() + b.len();
            for (i, x) in a.iter_mut().chain(b.iter_mut()).enumerate() {
                *x = base + i as u32;
            }
            assert_eq!((chunk.len(), got), (n, n as usize));
            assert!(n <= cap, "reserve({n}) granted on capacity {cap}");
            if t {
                assert!(n <= cap - len);
            }
            if n > 0 && how & 1 == 1 {
                let i = u32::from(how >> 1) % n;
                chunk.set(i, base + i);
            }
            // Between the borrow and the publication.
            hostile.during();
            let committed = match how >> 6 {
                0 => {
                    chunk.commit(k);
                    k.min(n)
                }
                1 => {
                    chunk.commit_all();
                    n
                }
                _ => {
                    // Not committed/released: nothing happens.
                    let _ = chunk;
                    0
                }
            };
            if t {
                st.model.extend((0..committed).map(|i| base + i));
            }
        }
        Err(ChunkError::TooFew { available }) => {
            assert!(available <= cap && available < n);
            if t {
                assert_eq!(available, cap - len);
            }
        }
        Err(ChunkError::Corrupt) => assert!(!t),
    }
}

fn peek(st: &mut State<'_>, input: &mut Input<'_>, hostile: &Hostile) {
    let cap = st.ring.capacity();
    let n = input.below(81) as u32;
    let how = input.byte();
    let k = input.below(81) as u32;
    let t = trusted(st, hostile);
    let Some(c) = st.cons.as_mut() else { return };
    match c.peek(n) {
        Ok(chunk) => {
            // Read first: a chunk past the region shows as an ASan report.
            let (a, b) = chunk.as_slices();
            let sum = a
                .iter()
                .chain(b.iter())
                .fold(0u32, |s, x| s.wrapping_add(*x));
            std::hint::black_box(sum);
            assert_eq!((chunk.len(), a.len() + b.len()), (n, n as usize));
            assert!(n <= cap, "peek({n}) granted on capacity {cap}");
            if t {
                assert!(n as usize <= st.model.len());
                for (i, x) in a.iter().chain(b.iter()).enumerate() {
                    assert_eq!(*x, st.model[i]);
                }
            }
            if n > 0 && how & 1 == 1 {
                let i = u32::from(how >> 1) % n;
                let v = chunk.get(i);
                if t {
                    assert_eq!(v, st.model[i as usize]);
                }
            }
            hostile.during();
            let released = match how >> 6 {
                0 => {
                    chunk.release(k);
                    k.min(n)
                }
                1 => {
                    chunk.release_all();
                    n
                }
                _ => {
                    // Not committed/released: nothing happens.
                    let _ = chunk;
                    0
                }
            };
            if t {
                st.model.drain(..released as usize);
            }
        }
        Err(ChunkError::TooFew { available }) => {
            assert!(available <= cap && available < n);
            if t {
                assert_eq!(available as usize, st.model.len());
            }
        }
        Err(ChunkError::Corrupt) => assert!(!t),
    }
}

/// Invariants after every op.
fn check(st: &State<'_>, hostile: &Hostile, mapping: &Mapping) {
    let cap = st.ring.capacity();
    assert!(st.ring.len() <= cap);
    if trusted(st, hostile) {
        assert_eq!(st.ring.len() as usize, st.model.len());
        assert_eq!(st.ring.producer_holder(), st.prod_word);
        assert_eq!(st.ring.consumer_holder(), st.cons_word);
    }
    let _ = mapping;
}
