//! The MPMC ring, structure-aware: a ring made by `init` (or, for one
//! input in 16, raw bytes attached), then every public operation —
//! pushes and pops single, batched and blocking (zero or tiny timeouts),
//! claims abandoned as a killed participant would leave them, stall
//! recovery with `skip_stalled`, the users table (`join` with a liveness
//! check in which queued peer writes land, `leave`, `users`), `status` —
//! interleaved with a hostile peer's writes to any shared word. Until the
//! peer's first write everything is checked against a model: a `VecDeque`
//! of positions from head to tail (an element, or a hole a producer
//! claimed and never published), the positions consumers claimed and
//! never released, and the users table. After it, only that nothing
//! crashes and counts stay in range.
//!
//! Input: byte 0 is the setup (`% 16 == 0`: attach raw bytes; else
//! capacity `2 << (b >> 4) % 6`), then ops, one byte each (`% 18`) with
//! their arguments.
#![no_main]

use std::collections::VecDeque;

use interlink_core::mpmc::{self, MpmcRing, RecvError, SendError, UserSlot, USER_WORDS};
use interlink_core::Holder;
use interlink_core::RingConfig;
use interlink_fuzz::{blocking, Hostile, Input, Mapping};
use libfuzzer_sys::fuzz_target;

/// Shared words: header, users table and overflow word, tail and its
/// event word, head and its event word, the first slots' sequence words.
const NAMED: &[usize] = &[
    0, 12, 32, 40, 64, 68, 120, 124, 128, 132, 256, 260, 128, 256, 384, 392, 400,
];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Entry {
    Value(u32),
    /// Claimed by a producer that never published.
    Hole,
}

struct Model {
    head: u32,
    tail: u32,
    /// Positions head..tail.
    entries: VecDeque<Entry>,
    /// Positions claimed by consumers that never released their slot.
    held: Vec<u32>,
    users: [u32; USER_WORDS],
    overflow: bool,
}

impl Model {
    /// Whether the slot of position `p` is free for its producer.
    fn free_for(&self, p: u32, cap: u32) -> bool {
        p.wrapping_sub(self.head) < cap && !self.held.contains(&p.wrapping_sub(cap))
    }

    /// What a one-element push claim gives: the position, or the error.
    fn push_claim(&self, cap: u32) -> Result<u32, SendError> {
        if self.tail.wrapping_sub(self.head) >= cap {
            return Err(SendError::Full);
        }
        let stalled = self.tail.wrapping_sub(cap);
        if self.held.contains(&stalled) {
            return Err(SendError::Stalled { position: stalled });
        }
        Ok(self.tail)
    }

    /// What a one-element pop claim gives.
    fn pop_claim(&self) -> Result<u32, RecvError> {
        match self.entries.front() {
            None => Err(RecvError::Empty),
            Some(Entry::Hole) => Err(RecvError::Stalled {
                position: self.head,
            }),
            Some(Entry::Value(_)) => Ok(self.head),
        }
    }

    fn push(&mut self, e: Entry) {
        self.entries.push_back(e);
        self.tail = self.tail.wrapping_add(1);
    }

    fn pop(&mut self) -> Option<Entry> {
        self.head = self.head.wrapping_add(1);
        self.entries.pop_front()
    }
}

fuzz_target!(|data: &[u8]| run(data));

fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let setup = input.byte();
    let raw = setup.is_multiple_of(16);
    let mapping = if raw {
        let len = 384 + input.below(1024) * 8;
        let n = (input.byte() as usize * 8).min(len);
        let m = Mapping::new(len, 128);
        m.fill(input.bytes(n));
        m
    } else {
        let cap = 2u32 << ((setup >> 4) % 6);
        Mapping::new(MpmcRing::<u32>::bytes_needed(cap).expect("capacity"), 128)
    };
    let hostile = Hostile::new(&mapping);
    let ring = if raw {
        let check = if input.byte() % 2 == 0 {
            interlink_core::ElementCheck::Exact
        } else {
            interlink_core::ElementCheck::LayoutOnly
        };
        match MpmcRing::<u32>::attach_with(mapping.region(), check) {
            Ok(r) => r,
            Err(_) => return,
        }
    } else {
        let cap = 2u32 << ((setup >> 4) % 6);
        MpmcRing::<u32>::init(mapping.region(), RingConfig::new(cap)).expect("init")
    };
    let mut ring = ring;
    let mut model = Model {
        head: 0,
        tail: 0,
        entries: VecDeque::new(),
        held: Vec::new(),
        users: [0; USER_WORDS],
        overflow: false,
    };
    let exact = !raw;
    let mut next = 1u32;
    let mut joined: Vec<(UserSlot, u32)> = Vec::new();
    while !input.is_done() {
        let t = exact && !hostile.wrote();
        let cap = ring.capacity();
        match input.byte() % 18 {
            0 => {
                let v = next;
                next += 1;
                let spins = input.byte() % 4;
                let r = if spins == 3 {
                    ring.try_send(v)
                } else {
                    ring.try_send_spinning(v, u32::from(spins))
                };
                if t {
                    assert_eq!(r, model.push_claim(cap).map(drop));
                    if r.is_ok() {
                        model.push(Entry::Value(v));
                    }
                }
            }
            1 => {
                let spins = input.byte() % 4;
                let r = if spins == 3 {
                    ring.try_recv()
                } else {
                    ring.try_recv_spinning(u32::from(spins))
                };
                if t {
                    match model.pop_claim() {
                        Ok(_) => assert_eq!(r.map(Entry::Value), Ok(model.pop().expect("entry"))),
                        Err(e) => assert_eq!(r, Err(e)),
                    }
                }
            }
            2 => {
                let n = input.below(41);
                let items: Vec<u32> = (0..n as u32).map(|i| next + i).collect();
                next += n as u32;
                let r = ring.try_send_slice(&items);
                if let Ok(k) = r {
                    assert!(k <= n && k <= cap as usize);
                }
                if t {
                    if n == 0 {
                        assert_eq!(r, Ok(0));
                    } else {
                        match model.push_claim(cap) {
                            // The batch form reports "nothing now" as 0.
                            Err(SendError::Full) => assert_eq!(r, Ok(0)),
                            Err(e) => assert_eq!(r, Err(e)),
                            Ok(_) => {
                                let mut k = 0;
                                while k < n.min(cap as usize)
                                    && model.free_for(model.tail.wrapping_add(k as u32), cap)
                                {
                                    k += 1;
                                }
                                // free_for counts from the tail as it is.
                                assert_eq!(r, Ok(k));
                                for item in &items[..k] {
                                    model.push(Entry::Value(*item));
                                }
                            }
                        }
                    }
                }
            }
            3 => {
                let n = input.below(41);
                let mut out = vec![0u32; n];
                let r = ring.try_recv_slice(&mut out);
                if let Ok(k) = r {
                    assert!(k <= n && k <= cap as usize);
                }
                if t {
                    if n == 0 {
                        assert_eq!(r, Ok(0));
                    } else {
                        match model.pop_claim() {
                            Err(RecvError::Empty) => assert_eq!(r, Ok(0)),
                            Err(e) => assert_eq!(r, Err(e)),
                            Ok(_) => {
                                let k = model
                                    .entries
                                    .iter()
                                    .take(n)
                                    .take_while(|e| matches!(e, Entry::Value(_)))
                                    .count();
                                assert_eq!(r, Ok(k));
                                for v in &out[..k] {
                                    assert_eq!(model.pop(), Some(Entry::Value(*v)));
                                }
                            }
                        }
                    }
                }
            }
            4 => {
                let v = next;
                next += 1;
                let b = blocking(&mut input, &hostile);
                let timeout = Hostile::timeout(&mut input);
                let r = ring.send(v, &b, Some(timeout));
                if t && !hostile.wrote() {
                    match model.push_claim(cap) {
                        Ok(_) => {
                            assert_eq!(r, Ok(()));
                            model.push(Entry::Value(v));
                        }
                        Err(SendError::Full) => assert_eq!(r, Err(SendError::TimedOut)),
                        // Stalled, or (waiting for the stall's patience)
                        // timed out: the API says which as it settles.
                        Err(SendError::Stalled { position }) => assert!(
                            r == Err(SendError::Stalled { position })
                                || r == Err(SendError::TimedOut),
                            "{r:?}"
                        ),
                        Err(e) => unreachable!("{e}"),
                    }
                }
            }
            5 => {
                let b = blocking(&mut input, &hostile);
                let timeout = Hostile::timeout(&mut input);
                let r = ring.recv(&b, Some(timeout));
                if t && !hostile.wrote() {
                    match model.pop_claim() {
                        Ok(_) => {
                            assert_eq!(r.map(Entry::Value), Ok(model.pop().expect("entry")))
                        }
                        Err(RecvError::Empty) => assert_eq!(r, Err(RecvError::TimedOut)),
                        Err(RecvError::Stalled { position }) => assert!(
                            r == Err(RecvError::Stalled { position })
                                || r == Err(RecvError::TimedOut),
                            "{r:?}"
                        ),
                        Err(e) => unreachable!("{e}"),
                    }
                }
            }
            6 => {
                // Stall recovery at a position chosen among the likely
                // ones, or anywhere.
                let position = match input.byte() % 6 {
                    0 => model.head,
                    1 => model.tail,
                    2 => model.held.first().copied().unwrap_or(1),
                    3 => model.head.wrapping_sub(1),
                    4 => model.tail.wrapping_sub(cap),
                    _ => input.u32(),
                };
                let r = ring.skip_stalled(position);
                if t {
                    if position == model.head && model.entries.front() == Some(&Entry::Hole) {
                        assert_eq!(r, Ok(None));
                        model.pop();
                    } else if let Some(i) = model.held.iter().position(|&p| p == position) {
                        assert_eq!(r, Ok(None));
                        model.held.swap_remove(i);
                    } else {
                        assert_eq!(r, Err(mpmc::NotStalled { position }));
                    }
                }
            }
            7 => {
                // A producer killed between claim and publish.
                let r = ring.abandon_send();
                if t {
                    assert_eq!(r, model.push_claim(cap));
                    if r.is_ok() {
                        model.push(Entry::Hole);
                    }
                }
            }
            8 => {
                // A consumer killed between claim and release.
                let r = ring.abandon_recv();
                if t {
                    assert_eq!(r, model.pop_claim());
                    if let Ok(p) = r {
                        model.pop();
                        model.held.push(p);
                    }
                }
            }
            9 => {
                let h = u32::from(input.byte() % 7) + 1;
                let alive_mask = input.byte();
                let is_alive = |x: u32| {
                    hostile.during();
                    alive_mask >> (x % 8) & 1 == 1
                };
                let r = ring.join(Holder::new(h).expect("1..=7"), is_alive);
                if t && !hostile.wrote() {
                    let i = model
                        .users
                        .iter()
                        .position(|&w| w == 0 || alive_mask >> (w % 8) & 1 == 0);
                    let expect = match i {
                        Some(i) => {
                            model.users[i] = h;
                            UserSlot::Word(i)
                        }
                        None => {
                            model.overflow = true;
                            UserSlot::Overflow
                        }
                    };
                    assert_eq!(r, expect);
                }
                joined.push((r, h));
            }
            10 => {
                let (slot, h) = match input.byte() % 4 {
                    0 | 1 if !joined.is_empty() => {
                        let i = input.below(joined.len());
                        joined.swap_remove(i)
                    }
                    2 => (UserSlot::Overflow, u32::from(input.byte() % 7) + 1),
                    _ => (
                        UserSlot::Word(input.below(20)),
                        u32::from(input.byte() % 7) + 1,
                    ),
                };
                let r = ring.leave(slot, Holder::new(h).expect("1..=7"));
                if t {
                    let expect = match slot {
                        UserSlot::Word(i) if i < USER_WORDS && model.users[i] == h => {
                            model.users[i] = 0;
                            true
                        }
                        _ => false,
                    };
                    assert_eq!(r, expect);
                }
            }
            11 => {
                let users = ring.users();
                let s = mpmc::status(&mapping.region());
                if t {
                    assert_eq!(users.words, model.users);
                    assert_eq!(users.overflow, model.overflow);
                    let s = s.expect("status of an honest ring");
                    assert_eq!(s.users, users);
                    assert_eq!(s.fill(), Some(model.entries.len() as u32));
                    assert_eq!((s.head, s.tail), (model.head, model.tail));
                } else if let Ok(s) = s {
                    if let Some(f) = s.fill() {
                        assert!(f <= s.header.capacity);
                    }
                    let _ = s.users.holders().count();
                }
            }
            12 => {
                let _ = (
                    ring.is_empty(),
                    ring.is_full(),
                    ring.header(),
                    format!("{ring:?}"),
                );
                ring.wake_consumers(&hostile);
                ring.wake_producers(&hostile);
            }
            13 | 14 => hostile.write_from(&mut input, NAMED, cap),
            15 => hostile.queue_from(&mut input, NAMED, cap),
            16 => match MpmcRing::<u32>::attach(mapping.region()) {
                Ok(r) => {
                    if t {
                        assert_eq!(r.capacity(), cap);
                    }
                    ring = r;
                }
                Err(e) => assert!(!t, "attach to an honest ring: {e}"),
            },
            _ => {
                // Many in a row: laps, wrap-around, a full ring.
                let n = input.below(3 * cap as usize + 1);
                for _ in 0..n {
                    let v = next;
                    next += 1;
                    let r = ring.try_send_spinning(v, 0);
                    if t {
                        assert_eq!(r, model.push_claim(cap).map(drop));
                        if r.is_ok() {
                            model.push(Entry::Value(v));
                        }
                    }
                    if v.is_multiple_of(3) {
                        let r = ring.try_recv_spinning(0);
                        if t {
                            match model.pop_claim() {
                                Ok(_) => {
                                    assert_eq!(r.map(Entry::Value), Ok(model.pop().expect("entry")))
                                }
                                Err(e) => assert_eq!(r, Err(e)),
                            }
                        }
                    }
                }
            }
        }
        assert!(ring.len() <= ring.capacity());
        if exact && !hostile.wrote() {
            assert_eq!(ring.len() as usize, model.entries.len());
        }
    }
}
