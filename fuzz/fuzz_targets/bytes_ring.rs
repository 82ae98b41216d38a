//! The byte ring, structure-aware: a ring made by `init` (or, for one
//! input in 16, raw bytes attached), then every public operation of the
//! handles — send, reserve (+ `as_mut_slice`/`write`/`commit`), recv,
//! peek (+ `RecordRef::read` at any offset, `as_slice`, `frame`,
//! release), drain, the blocking calls with zero or tiny timeouts, role
//! claims, take-overs (with peer writes inside the liveness check),
//! drops and kills, status — interleaved with a hostile peer's writes to
//! any shared word, record headers included. Until the peer's first write
//! everything is checked against a byte-exact model (records and padding
//! at their offsets, the published and the producer's own tail); after
//! it, only that nothing crashes or leaves the region and that lengths
//! stay in range.
//!
//! Input: byte 0 is the setup (`% 16 == 0`: attach raw bytes; else
//! capacity `32 << (b >> 4) % 6` bytes), then ops, one byte each (`% 24`)
//! with their arguments.
#![no_main]

use std::collections::VecDeque;

use interlink_core::bytes::{self, ByteRing, Consumer, Producer, RecvError, SendError};
use interlink_core::frame::record_len;
use interlink_core::Holder;
use interlink_core::{RingConfig, RoleError};
use interlink_fuzz::{blocking, Hostile, Input, Mapping};
use libfuzzer_sys::fuzz_target;

#[derive(Clone, Debug, PartialEq)]
enum Rec {
    /// Padding (or a tail too short for a header) of this many bytes.
    Pad(u32),
    Msg {
        tag: u32,
        data: Vec<u8>,
    },
}

impl Rec {
    fn size(&self) -> u32 {
        match self {
            Rec::Pad(n) => *n,
            Rec::Msg { data, .. } => record_len(data.len() as u32).expect("small"),
        }
    }
}

/// The ring as an honest pair of handles leaves it.
struct Model {
    cap: u32,
    /// The consumer's own head.
    head: u32,
    /// The published (shared) head: the consumer stores it lazily.
    phead: u32,
    /// The consumer's record of its last publication (`wake_producer`
    /// stores the head without updating it).
    mark: u32,
    /// Records released since the shared head: a consumer that takes over
    /// gets them again.
    unpub: Vec<(u32, Rec)>,
    /// The tail as the consumer last read it (it publishes on reaching it).
    tcache: u32,
    /// The published tail.
    tail: u32,
    /// The producer's own tail: padding it wrote but has not published.
    ltail: u32,
    /// Records from the head to `ltail`, with their start.
    recs: VecDeque<(u32, Rec)>,
}

impl Model {
    /// What `Producer::reserve` of `size` record bytes does: the offset,
    /// or `Full` (publishing padding on the way when it wrote some).
    fn place(&mut self, size: u32) -> Result<u32, SendError> {
        let pos = self.ltail & (self.cap - 1);
        let to_end = self.cap - pos;
        let free = self.cap - self.ltail.wrapping_sub(self.phead);
        if size <= to_end {
            return if free >= size {
                Ok(pos)
            } else {
                Err(SendError::Full)
            };
        }
        if free < to_end {
            return Err(SendError::Full);
        }
        self.recs.push_back((self.ltail, Rec::Pad(to_end)));
        self.ltail = self.ltail.wrapping_add(to_end);
        if free - to_end < size {
            self.tail = self.ltail;
            return Err(SendError::Full);
        }
        Ok(0)
    }

    fn commit(&mut self, tag: u32, data: Vec<u8>) {
        let rec = Rec::Msg { tag, data };
        let size = rec.size();
        self.recs.push_back((self.ltail, rec));
        self.ltail = self.ltail.wrapping_add(size);
        self.tail = self.ltail;
    }

    /// Stores the head if the consumer's own record says it moved.
    fn publish(&mut self) {
        if self.mark != self.head {
            self.mark = self.head;
            self.store_head();
        }
    }

    fn store_head(&mut self) {
        self.phead = self.head;
        self.unpub.clear();
    }

    /// After releasing: published on reaching the tail last read, or once
    /// a quarter is unpublished.
    fn released(&mut self) {
        if self.head == self.tcache || self.head.wrapping_sub(self.mark) >= self.cap / 4 {
            self.publish();
        }
    }

    /// A new consumer starts at the published head: what the last one
    /// released without publishing comes again.
    fn restart_consumer(&mut self) {
        for rec in self.unpub.drain(..).rev() {
            self.recs.push_front(rec);
        }
        self.head = self.phead;
        self.mark = self.phead;
        self.tcache = self.tail;
    }

    /// A new producer starts at the published tail.
    fn restart_producer(&mut self) {
        let published = self.tail.wrapping_sub(self.head);
        let head = self.head;
        self.recs
            .retain(|(start, _)| start.wrapping_sub(head) < published);
        self.ltail = self.tail;
    }

    /// What the consumer's locate finds: skips (and releases) published
    /// padding, then the next published message, if any; finding none, the
    /// consumer publishes its head.
    fn locate(&mut self) -> Option<(u32, Vec<u8>)> {
        loop {
            // The consumer re-reads the tail when its copy shows nothing.
            if self.tcache == self.head {
                self.tcache = self.tail;
            }
            let front = self.recs.front().cloned();
            let Some((start, rec)) = front.filter(|(start, _)| {
                start.wrapping_sub(self.head) < self.tail.wrapping_sub(self.head)
                    && self.tail != self.head
            }) else {
                self.publish();
                return None;
            };
            match rec {
                Rec::Pad(n) => {
                    self.recs.pop_front();
                    self.unpub.push((start, Rec::Pad(n)));
                    self.head = self.head.wrapping_add(n);
                    self.released();
                }
                Rec::Msg { tag, data } => return Some((tag, data)),
            }
        }
    }

    fn release(&mut self) {
        let rec = self.recs.pop_front().expect("a record");
        self.head = self.head.wrapping_add(rec.1.size());
        self.unpub.push(rec);
        self.released();
    }
}

struct State<'a> {
    ring: ByteRing<'a>,
    prod: Option<(Producer<'a>, u32)>,
    cons: Option<(Consumer<'a>, u32)>,
    zprod: Option<Producer<'a>>,
    zcons: Option<Consumer<'a>>,
    model: Model,
    prod_word: u32,
    cons_word: u32,
    exact: bool,
    seq: u32,
}

fn payload(seq: u32, len: usize) -> Vec<u8> {
    (0..len).map(|i| (seq as usize * 13 + i) as u8).collect()
}

fuzz_target!(|data: &[u8]| run(data));

fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let setup = input.byte();
    let raw = setup.is_multiple_of(16);
    let cap = 32u32 << ((setup >> 4) % 6);
    let mapping = if raw {
        let len = 384 + input.below(1024) * 8;
        let n = (input.byte() as usize * 8).min(len);
        let m = Mapping::new(len, 128);
        m.fill(input.bytes(n));
        m
    } else {
        Mapping::new(ByteRing::bytes_needed(cap).expect("capacity"), 128)
    };
    let hostile = Hostile::new(&mapping);
    let ring = if raw {
        let _ = input.byte(); // was the type id: keeps the corpus's byte layout
        match ByteRing::attach(mapping.region()) {
            Ok(r) => r,
            Err(_) => return,
        }
    } else {
        ByteRing::init(mapping.region(), RingConfig::new(cap)).expect("init")
    };
    let mut st = State {
        ring,
        prod: None,
        cons: None,
        zprod: None,
        zcons: None,
        model: Model {
            cap: ring.capacity(),
            head: 0,
            phead: 0,
            mark: 0,
            unpub: Vec::new(),
            tcache: 0,
            tail: 0,
            ltail: 0,
            recs: VecDeque::new(),
        },
        prod_word: 0,
        cons_word: 0,
        exact: !raw,
        seq: 1,
    };
    while !input.is_done() {
        step(&mut st, &mut input, &hostile, &mapping);
        let t = st.exact && !hostile.wrote();
        assert!(st.ring.used() <= st.ring.capacity());
        if t {
            assert_eq!(st.ring.used(), st.model.tail.wrapping_sub(st.model.phead));
            assert_eq!(st.ring.producer_holder(), st.prod_word);
            assert_eq!(st.ring.consumer_holder(), st.cons_word);
        }
    }
    drop(st);
}

fn role_expect(word: u32, h: u32, alive: Option<bool>) -> Result<(), RoleError> {
    let _ = h;
    if word != 0 && alive.unwrap_or(true) {
        Err(RoleError::Taken { holder: word })
    } else {
        Ok(())
    }
}

fn step<'a>(st: &mut State<'a>, input: &mut Input<'_>, hostile: &Hostile, mapping: &Mapping) {
    let t = st.exact && !hostile.wrote();
    let cap = st.ring.capacity();
    let max = st.ring.max_payload() as usize;
    // The shared words, and the header of the record at the head.
    let at = 384 + (st.model.head & (cap - 1)) as usize;
    let named = [
        0,
        12,
        32,
        40,
        64,
        68,
        128,
        132,
        256,
        260,
        128,
        256,
        at,
        at + 4,
        at + 8,
        at + 12,
    ];
    let op = input.byte() % 24;
    match op {
        0..=3 => {
            let h = u32::from(input.byte() % 3) + 1;
            let holder = Holder::new(h).expect("1..=3");
            let producer = op.is_multiple_of(2);
            let alive = (op >= 2).then(|| input.byte() & 1 == 1);
            let word = if producer { st.prod_word } else { st.cons_word };
            let expect = role_expect(word, h, alive);
            let is_alive = |_| {
                hostile.during();
                alive.unwrap_or(true)
            };
            let got = if producer {
                let r = match alive {
                    None => st.ring.producer(holder),
                    Some(_) => st.ring.take_over_producer(holder, is_alive),
                };
                r.map(|p| {
                    if let Some((old, _)) = st.prod.replace((p, h)) {
                        st.zprod = Some(old);
                        st.exact = false;
                    }
                    st.prod_word = h;
                })
            } else {
                let r = match alive {
                    None => st.ring.consumer(holder),
                    Some(_) => st.ring.take_over_consumer(holder, is_alive),
                };
                r.map(|c| {
                    if let Some((old, _)) = st.cons.replace((c, h)) {
                        st.zcons = Some(old);
                        st.exact = false;
                    }
                    st.cons_word = h;
                })
            };
            // A peer write inside the liveness check may take the word.
            if t && !hostile.wrote() {
                assert_eq!(got, expect);
                if got.is_ok() && producer {
                    st.model.restart_producer();
                }
                if got.is_ok() && !producer {
                    st.model.restart_consumer();
                }
            }
        }
        4 => {
            // Dropped: publishes owed padding, frees the role.
            if let Some((p, h)) = st.prod.take() {
                drop(p);
                if st.prod_word == h {
                    st.prod_word = 0;
                    st.model.tail = st.model.ltail;
                }
            }
        }
        5 => {
            // Dropped: publishes its head, frees the role.
            if let Some((c, h)) = st.cons.take() {
                drop(c);
                if st.cons_word == h {
                    st.cons_word = 0;
                    st.model.publish();
                }
            }
        }
        6 => {
            // Killed: the role stays held, owed padding is lost.
            if let Some((p, _)) = st.prod.take() {
                std::mem::forget(p);
            }
        }
        7 => {
            if let Some((c, _)) = st.cons.take() {
                std::mem::forget(c);
            }
        }
        8 => {
            let len = input.below(max + 9);
            let tag = st.seq;
            st.seq += 1;
            let data = payload(tag, len);
            let Some((p, _)) = st.prod.as_mut() else {
                return;
            };
            let r = p.try_send(tag, &data);
            if let Err(SendError::TooLarge { len: l, max: m }) = r {
                assert_eq!((l, m as usize), (len, max));
            }
            if t {
                let expect = if len > max {
                    Err(SendError::TooLarge {
                        len,
                        max: max as u32,
                    })
                } else {
                    st.model
                        .place(record_len(len as u32).expect("small"))
                        .map(drop)
                };
                assert_eq!(r, expect);
                if r.is_ok() {
                    st.model.commit(tag, data);
                }
            }
        }
        9 => {
            let len = input.below(max + 9);
            let how = input.byte();
            let used = input.below(len + 2);
            let tag = st.seq;
            st.seq += 1;
            let data = payload(tag, len);
            let Some((p, _)) = st.prod.as_mut() else {
                return;
            };
            match p.reserve(len) {
                Ok(mut r) => {
                    assert_eq!(r.len(), len);
                    assert!(len <= max);
                    if how & 1 == 0 {
                        r.as_mut_slice().copy_from_slice(&data);
                    } else {
                        // In two pieces.
                        let half = len / 2;
                        r.write(half, &data[half..]);
                        r.write(0, &data[..half]);
                    }
                    hostile.during();
                    if how & 2 == 0 {
                        r.commit(tag, used);
                        if t {
                            let pos = st.model.place(record_len(len as u32).expect("small"));
                            assert!(pos.is_ok());
                            st.model.commit(tag, data[..used.min(len)].to_vec());
                        }
                    } else {
                        // Not committed: nothing is sent.
                        let _ = r;
                        if t {
                            // Padding placed for it stays owed.
                            let _ = st.model.place(record_len(len as u32).expect("small"));
                        }
                    }
                }
                Err(e) => {
                    if t {
                        let expect = if len > max {
                            Err(SendError::TooLarge {
                                len,
                                max: max as u32,
                            })
                        } else {
                            st.model
                                .place(record_len(len as u32).expect("small"))
                                .map(drop)
                        };
                        assert_eq!(Err(e), expect);
                    }
                }
            }
        }
        10 => {
            let n = input.below(cap as usize + 9);
            let mut buf = vec![0u8; n];
            let Some((c, _)) = st.cons.as_mut() else {
                return;
            };
            let r = c.try_recv(&mut buf);
            if let Ok((_, len)) = r {
                assert!(len <= n && len <= max);
            }
            if t {
                match st.model.locate() {
                    None => assert_eq!(r, Err(RecvError::Empty)),
                    Some((_, data)) if data.len() > n => {
                        assert_eq!(r, Err(RecvError::BufferTooSmall { needed: data.len() }))
                    }
                    Some((tag, data)) => {
                        assert_eq!(r, Ok((tag, data.len())));
                        assert_eq!(&buf[..data.len()], &data[..]);
                        st.model.release();
                    }
                }
            }
        }
        11 => {
            let how = input.byte();
            let off_kind = input.byte();
            let Some((c, _)) = st.cons.as_mut() else {
                return;
            };
            let expect = if t { Some(st.model.locate()) } else { None };
            match c.peek() {
                Ok(rec) => {
                    let view = rec.view();
                    let len = rec.len();
                    assert!(len <= max);
                    assert_eq!(
                        (view.len(), view.tag(), view.is_empty()),
                        (len, rec.tag(), rec.is_empty())
                    );
                    let s = rec.as_slice();
                    let f = view.frame();
                    assert_eq!((s.len(), f.len()), (len, len + 16));
                    std::hint::black_box((s.iter().map(|&b| b as u32).sum::<u32>(), f[0]));
                    // Out-of-range offsets must clamp (or fail), never read
                    // past the record.
                    let offset = match off_kind % 6 {
                        0 => 0,
                        1 => len / 2,
                        2 => len,
                        3 => len + 1,
                        4 => len + (off_kind as usize) * 1000,
                        _ => usize::MAX - (off_kind as usize),
                    };
                    let mut dst = vec![0u8; (how >> 2) as usize];
                    let got = view.read(offset, &mut dst);
                    assert!(got <= dst.len() && got <= len.saturating_sub(offset));
                    if let Some(e) = &expect {
                        let (tag, data) = e.clone().expect("a record");
                        assert_eq!((rec.tag(), rec.as_slice()), (tag, &data[..]));
                        let from = offset.min(data.len());
                        assert_eq!(&dst[..got], &data[from..from + got]);
                    }
                    hostile.during();
                    if how & 1 == 0 {
                        rec.release();
                        if t {
                            st.model.release();
                        }
                    }
                }
                Err(RecvError::Empty) => {
                    if let Some(e) = expect {
                        assert!(e.is_none());
                    }
                }
                Err(e) => assert!(expect.is_none(), "{e} on an honest ring"),
            }
        }
        12 => {
            let max_n = input.below(6);
            let off = input.below(64);
            let Some((c, _)) = st.cons.as_mut() else {
                return;
            };
            let mut got = Vec::new();
            let r = c.drain(max_n, |r| {
                let mut dst = [0u8; 32];
                let n = r.read(off, &mut dst);
                assert!(n <= r.len().saturating_sub(off).min(32));
                assert!(r.len() <= max && r.as_slice().len() == r.len());
                got.push((r.tag(), r.as_slice().to_vec()));
            });
            if let Ok(n) = r {
                assert!(n <= max_n && n == got.len());
            }
            if t {
                let mut want = Vec::new();
                while want.len() < max_n {
                    match st.model.locate() {
                        Some(m) => {
                            want.push(m);
                            st.model.release();
                        }
                        None => break,
                    }
                }
                assert_eq!(r, Ok(want.len()));
                assert_eq!(got, want);
                if !want.is_empty() {
                    st.model.publish();
                }
            }
        }
        13 => {
            let len = input.below(max + 9);
            let b = blocking(input, hostile);
            let timeout = Hostile::timeout(input);
            let tag = st.seq;
            st.seq += 1;
            let data = payload(tag, len);
            let Some((p, _)) = st.prod.as_mut() else {
                return;
            };
            let r = p.send(tag, &data, &b, Some(timeout));
            if t && !hostile.wrote() {
                let expect = if len > max {
                    Err(SendError::TooLarge {
                        len,
                        max: max as u32,
                    })
                } else {
                    // A first attempt that pads and fails publishes the
                    // padding; the retries then see the ring as it is.
                    let size = record_len(len as u32).expect("small");
                    match st.model.place(size) {
                        Ok(_) => Ok(()),
                        Err(_) => match st.model.place(size) {
                            Ok(_) => unreachable!("room appeared with nobody consuming"),
                            Err(_) => Err(SendError::TimedOut),
                        },
                    }
                };
                assert_eq!(r, expect);
                if r.is_ok() {
                    st.model.commit(tag, data);
                }
            }
        }
        14 => {
            let n = input.below(cap as usize + 9);
            let b = blocking(input, hostile);
            let timeout = Hostile::timeout(input);
            let mut buf = vec![0u8; n];
            let Some((c, _)) = st.cons.as_mut() else {
                return;
            };
            let r = c.recv(&mut buf, &b, Some(timeout));
            if let Ok((_, len)) = r {
                assert!(len <= n);
            }
            if t && !hostile.wrote() {
                match st.model.locate() {
                    None => assert_eq!(r, Err(RecvError::TimedOut)),
                    Some((_, data)) if data.len() > n => {
                        assert_eq!(r, Err(RecvError::BufferTooSmall { needed: data.len() }))
                    }
                    Some((tag, data)) => {
                        assert_eq!(r, Ok((tag, data.len())));
                        assert_eq!(&buf[..data.len()], &data[..]);
                        st.model.release();
                    }
                }
            }
        }
        15 => {
            let used = st.model.ltail.wrapping_sub(st.model.phead);
            let ready = st.model.tail.wrapping_sub(st.model.head);
            if let Some((p, _)) = st.prod.as_mut() {
                let f = p.free_bytes();
                if let Ok(f) = f {
                    assert!(f <= cap);
                }
                if t {
                    assert_eq!(f, Ok(cap - used));
                }
                let _ = (format!("{p:?}"), p.ring().capacity());
            }
            if let Some((c, _)) = st.cons.as_mut() {
                let r = c.ready_bytes();
                if let Ok(r) = r {
                    assert!(r <= cap);
                }
                if t {
                    assert_eq!(r, Ok(ready));
                    // It re-read the tail; finding nothing ready, it
                    // publishes its head.
                    st.model.tcache = st.model.tail;
                    if ready == 0 {
                        st.model.publish();
                    }
                }
                let _ = (format!("{c:?}"), c.ring().capacity());
            }
            let r = st.ring;
            let _ = (r.is_empty(), r.header(), format!("{r:?}"));
        }
        16 => {
            let s = bytes::status(&mapping.region());
            if t {
                let s = s.expect("status of an honest ring");
                assert_eq!(s.fill(), Some(st.model.tail.wrapping_sub(st.model.phead)));
                assert_eq!((s.producer, s.consumer), (st.prod_word, st.cons_word));
            } else if let Ok(s) = s {
                if let Some(f) = s.fill() {
                    assert!(f <= s.header.capacity);
                }
            }
        }
        17 | 18 => hostile.write_from(input, &named, cap),
        19 => hostile.queue_from(input, &named, cap),
        20 => {
            if let Some((p, _)) = &st.prod {
                p.wake_consumer(&hostile);
            }
            if let Some((c, _)) = &st.cons {
                c.wake_producer(&hostile);
                st.model.store_head();
            }
        }
        21 => match ByteRing::attach(mapping.region()) {
            Ok(r) => {
                if t {
                    assert_eq!(r.capacity(), cap);
                }
                st.ring = r;
            }
            Err(e) => assert!(!t, "attach to an honest ring: {e}"),
        },
        _ => {
            // The replaced holders keep going.
            let len = input.below(max + 1);
            if let Some(p) = &mut st.zprod {
                let _ = p.try_send(0, &payload(0, len));
            }
            if let Some(c) = &mut st.zcons {
                let mut buf = vec![0u8; len];
                if let Ok((_, n)) = c.try_recv(&mut buf) {
                    assert!(n <= len);
                }
                let _ = c.drain(2, |r| {
                    assert!(r.as_slice().len() == r.len() && r.len() <= max);
                });
            }
        }
    }
}
