//! The many-to-one byte ring, structure-aware: a ring made by `init` (or,
//! for one input in 16, raw bytes attached), three producers (holders 1–3)
//! and one consumer, driving every public operation — `try_send`,
//! `reserve` (+ `write`, `commit` or drop: a cancelled record), the
//! blocking `send`/`recv` with zero or tiny timeouts, `try_recv` into
//! buffers of any size, `peek` (+ `RecordRef::read` at any offset,
//! `as_slice`, `frame`, release or drop), `drain`, `abandon_claim` and
//! `abandon_unstamped` (a producer killed mid-record), `stall` and
//! `skip_stalled` at the stalled or any position, consumer drop, claim and
//! take-over, `status`, re-attach — interleaved with a hostile peer's
//! writes to any shared word (indices, the consumer and skipped words,
//! event words, the stamp of the record at the head).
//!
//! Until the peer's first write (or an unstamped abandon, whose end only a
//! scan finds) results are checked against a model: the messages in
//! order, with the stalls an abandoned claim leaves between them; after
//! it, only that nothing panics or leaves the region and that every error
//! is a typed one.
//!
//! Input: byte 0 is the setup (`% 16 == 0`: attach raw bytes; else
//! capacity `64 << (b >> 4) % 5` bytes), then ops, one byte each (`% 16`)
//! with their arguments.
#![no_main]

use std::collections::VecDeque;

use interlink_core::many_to_one::{self, Consumer, ManyToOneRing, Producer, SkipError};
use interlink_core::{Holder, RecvError, RingConfig, SendError};
use interlink_fuzz::{blocking, Hostile, Input, Mapping};
use libfuzzer_sys::fuzz_target;

/// What the honest consumer meets next.
#[derive(Clone, Debug, PartialEq)]
enum Rec {
    Msg {
        tag: u32,
        data: Vec<u8>,
    },
    /// A stamped claim never committed, at this position.
    Stall(u32),
}

const HOLDERS: [Holder; 3] = [
    Holder::fixed::<1>(),
    Holder::fixed::<2>(),
    Holder::fixed::<3>(),
];
const CONSUMERS: [Holder; 2] = [Holder::fixed::<7>(), Holder::fixed::<8>()];

struct State<'a> {
    ring: ManyToOneRing<'a>,
    producers: Vec<Producer<'a>>,
    consumer: Option<Consumer<'a>>,
    model: VecDeque<Rec>,
    exact: bool,
    seq: u32,
}

fn payload(seq: u32, len: usize) -> Vec<u8> {
    (0..len).map(|i| (seq as usize * 31 + i) as u8).collect()
}

fuzz_target!(|data: &[u8]| run(data));

fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let setup = input.byte();
    let raw = setup.is_multiple_of(16);
    let cap = 64u32 << ((setup >> 4) % 5);
    let mapping = if raw {
        let len = 384 + input.below(512) * 8;
        let n = (input.byte() as usize * 8).min(len);
        let m = Mapping::new(len, 128);
        m.fill(input.bytes(n));
        m
    } else {
        Mapping::new(ManyToOneRing::bytes_needed(cap).expect("capacity"), 128)
    };
    let hostile = Hostile::new(&mapping);
    let ring = if raw {
        match ManyToOneRing::attach(mapping.region()) {
            Ok(r) => r,
            Err(_) => return,
        }
    } else {
        ManyToOneRing::init(mapping.region(), RingConfig::new(cap)).expect("init")
    };
    let mut st = State {
        ring,
        producers: HOLDERS.iter().map(|&h| ring.producer(h)).collect(),
        consumer: ring.consumer(CONSUMERS[0]).ok(),
        model: VecDeque::new(),
        exact: !raw,
        seq: 1,
    };
    while !input.is_done() {
        step(&mut st, &mut input, &hostile, &mapping);
        let cap = st.ring.capacity();
        if let Some(used) = st.ring.used() {
            assert!(used <= cap);
        }
        if st.exact && !hostile.wrote() && st.model.is_empty() {
            // Padding may remain; messages may not.
            let s = many_to_one::status(&mapping.region()).expect("status");
            assert!(s.fill().is_some());
        }
    }
    drop(st);
}

/// The named words a peer writes: header fields, the consumer and skipped
/// words, tail and head with their event words, and the stamp and frame
/// header at the head.
fn named(mapping: &Mapping) -> Vec<usize> {
    let mut v = vec![8, 12, 16, 20, 24, 28, 64, 68, 128, 132, 256, 260];
    if let Ok(s) = many_to_one::status(&mapping.region()) {
        let cap = s.header.capacity.max(1) as usize;
        let at = 384 + (s.head as usize & (cap - 1) & !7);
        for k in 0..8 {
            v.push(at + 4 * k);
        }
    }
    v
}

fn step(st: &mut State<'_>, input: &mut Input<'_>, hostile: &Hostile, mapping: &Mapping) {
    let t = st.exact && !hostile.wrote();
    let max = st.ring.max_payload() as usize;
    let op = input.byte() % 16;
    match op {
        0 | 1 => {
            let p = input.below(3);
            let len = input.below(max + 9);
            let tag = input.u32();
            let data = payload(st.seq, len);
            st.seq += 1;
            let r = if op == 0 {
                st.producers[p].try_send(tag, &data)
            } else {
                let b = blocking(input, hostile);
                let timeout = Hostile::timeout(input);
                st.producers[p].send(tag, &data, &b, Some(timeout))
            };
            // A queued peer write may have landed inside the wait.
            let t = t && !hostile.wrote();
            match r {
                Ok(()) => {
                    if t {
                        assert!(len <= max);
                    }
                    st.model.push_back(Rec::Msg { tag, data });
                }
                Err(SendError::TooLarge { .. }) => {
                    if t {
                        assert!(len > max);
                    }
                }
                Err(SendError::Full | SendError::TimedOut | SendError::Stalled { .. }) => {}
                Err(e) => assert!(!t, "honest send failed: {e}"),
            }
        }
        2 => {
            let p = input.below(3);
            let len = input.below(max + 9);
            let how = input.byte();
            let tag = input.u32();
            let data = payload(st.seq, len);
            st.seq += 1;
            let cap = st.ring.capacity();
            match st.producers[p].reserve(len) {
                Ok(mut r) => {
                    assert_eq!(r.len(), len);
                    let half = len / 2;
                    r.write(0, &data[..half]);
                    if how & 1 == 1 {
                        hostile.write_from(input, &named(mapping), cap);
                    }
                    r.write(half, &data[half..]);
                    if how & 2 == 0 {
                        let used = input.below(len + 2);
                        r.commit(tag, used);
                        if t {
                            let used = used.min(len);
                            st.model.push_back(Rec::Msg {
                                tag,
                                data: data[..used].to_vec(),
                            });
                        }
                    }
                    // Dropped: cancelled, nothing to deliver.
                }
                Err(SendError::TooLarge { .. }) => assert!(!t || len > max),
                Err(SendError::Full | SendError::Stalled { .. }) => {}
                Err(e) => assert!(!t, "honest reserve failed: {e}"),
            }
        }
        3 | 4 => {
            let Some(c) = st.consumer.as_mut() else {
                return;
            };
            let size = input.below(max + 16);
            let mut buf = vec![0u8; size];
            let skipped = st.ring.skipped();
            let r = if op == 3 {
                c.try_recv(&mut buf)
            } else {
                let b = blocking(input, hostile);
                let timeout = Hostile::timeout(input);
                c.recv(&mut buf, &b, Some(timeout))
            };
            let t = t && !hostile.wrote();
            if !t {
                if let Ok((_, n)) = r {
                    assert!(n <= size);
                }
                return;
            }
            // `recv` skips a stall it waited on long enough.
            for _ in 0..st.ring.skipped().wrapping_sub(skipped) {
                assert!(matches!(st.model.pop_front(), Some(Rec::Stall(_))));
            }
            match (r, st.model.front()) {
                (Ok((tag, n)), Some(Rec::Msg { tag: mt, data })) => {
                    assert_eq!((tag, &buf[..n]), (*mt, &data[..]));
                    st.model.pop_front();
                }
                (Err(RecvError::Empty | RecvError::TimedOut), None) => {}
                (Err(RecvError::BufferTooSmall { needed }), Some(Rec::Msg { data, .. })) => {
                    assert_eq!(needed, data.len());
                    assert!(size < data.len());
                }
                (Err(RecvError::Stalled { position }), Some(Rec::Stall(p))) => {
                    assert_eq!(position, *p)
                }
                (Err(RecvError::TimedOut), Some(Rec::Stall(_))) => {}
                (r, m) => panic!("recv {r:?}, model {m:?}"),
            }
        }
        5 => {
            let Some(c) = st.consumer.as_mut() else {
                return;
            };
            let offset = match input.byte() % 6 {
                0 => 0,
                1 => 1,
                2 => 17,
                3 => usize::MAX - 5,
                4 => 1 << 20,
                _ => input.below(max + 8),
            };
            let how = input.byte();
            match c.peek() {
                Ok(rec) => {
                    let v = rec.view();
                    let mut out = vec![0u8; 64];
                    let n = v.read(offset, &mut out);
                    assert!(n <= 64);
                    if t {
                        let Some(Rec::Msg { tag, data }) = st.model.front() else {
                            panic!("peeked a message the model lacks");
                        };
                        assert_eq!((rec.tag(), rec.as_slice()), (*tag, &data[..]));
                        assert_eq!(v.frame().len(), 16 + data.len());
                        let from = offset.min(data.len());
                        assert_eq!(&out[..n], &data[from..(from + 64).min(data.len())]);
                    } else {
                        assert!(rec.len() <= max);
                    }
                    if how & 1 == 1 {
                        rec.release();
                        if t {
                            st.model.pop_front();
                        }
                    }
                }
                Err(e) => {
                    if t {
                        match (e, st.model.front()) {
                            (RecvError::Empty, None) => {}
                            (RecvError::Stalled { .. }, Some(Rec::Stall(_))) => {}
                            (e, m) => panic!("peek {e:?}, model {m:?}"),
                        }
                    }
                }
            }
        }
        6 => {
            let Some(c) = st.consumer.as_mut() else {
                return;
            };
            let limit = input.below(8);
            let mut got = Vec::new();
            let r = c.drain(limit, |v| {
                let mut out = vec![0u8; v.len().min(4096)];
                let n = v.read(0, &mut out);
                out.truncate(n);
                got.push((v.tag(), out));
            });
            if t {
                let n = r.expect("honest drain");
                assert_eq!(n, got.len());
                for (tag, data) in got {
                    assert_eq!(st.model.pop_front(), Some(Rec::Msg { tag, data }));
                }
            }
        }
        7 => {
            let p = input.below(3);
            let len = input.below(max + 1);
            match st.producers[p].abandon_claim(len) {
                Ok(pos) => st.model.push_back(Rec::Stall(pos)),
                Err(SendError::Full | SendError::TooLarge { .. } | SendError::Stalled { .. }) => {}
                Err(e) => assert!(!t, "honest abandon failed: {e}"),
            }
        }
        8 => {
            let p = input.below(3);
            let len = input.below(max + 1);
            if st.producers[p].abandon_unstamped(len).is_ok() {
                // Its end is found by a scan: the model stops here.
                st.exact = false;
            }
        }
        9 | 10 => {
            let Some(c) = st.consumer.as_mut() else {
                return;
            };
            let stall = c.stall();
            if t {
                let want = match st.model.front() {
                    Some(Rec::Stall(p)) => Some(*p),
                    _ => None,
                };
                let got = stall.expect("honest stall");
                assert_eq!(got.map(|s| s.position), want);
                if let Some(s) = got {
                    let p = &st.producers;
                    assert!(p.iter().any(|p| Some(p.holder()) == s.claimant));
                }
            }
            let position = match (op, stall) {
                (9, Ok(Some(s))) => s.position,
                _ => input.u32(),
            };
            match c.skip_stalled(position) {
                Ok(_) => {
                    if t {
                        assert_eq!(st.model.pop_front(), Some(Rec::Stall(position)));
                    }
                }
                Err(SkipError::NotStalled { .. }) => {
                    assert!(!t || st.model.front() != Some(&Rec::Stall(position)));
                }
                Err(SkipError::NoBoundary { .. }) => assert!(!t),
                Err(e) => assert!(!t, "honest skip failed: {e}"),
            }
        }
        11 => hostile.write_from(input, &named(mapping), st.ring.capacity()),
        12 => hostile.queue_from(input, &named(mapping), st.ring.capacity()),
        13 => {
            // The consumer leaves, and one claims (or takes over) again.
            let b = input.byte();
            if b & 1 == 1 {
                st.consumer = None;
            }
            let who = CONSUMERS[(b >> 1) as usize % 2];
            let got = if b & 4 == 0 {
                st.ring.consumer(who)
            } else {
                st.ring.take_over_consumer(who, |_| {
                    hostile.during();
                    b & 8 == 0
                })
            };
            if let Ok(c) = got {
                st.consumer = Some(c);
            }
        }
        14 => {
            let _ = many_to_one::status(&mapping.region()).map(|s| s.fill());
            let _ = st.ring.used();
            let _ = st.ring.skipped();
            let _ = st.ring.consumer_holder();
            if let Some(c) = st.consumer.as_mut() {
                let _ = c.ready_bytes();
                let _ = c.wake_producers(hostile);
            }
            let _ = st.producers[0].wake_consumer(hostile);
            let _ = format!("{:?}", st.ring);
        }
        _ => {
            // A second process's view of the same bytes.
            if let Ok(r) = ManyToOneRing::attach(mapping.region()) {
                st.producers = HOLDERS.iter().map(|&h| r.producer(h)).collect();
                st.ring = r;
            } else {
                assert!(!t, "re-attach of an honest ring failed");
            }
        }
    }
}
