//! The broadcast ring, structure-aware: a ring made by `init` (or, for one
//! input in 16, raw bytes attached), one writer role (claimed, released,
//! killed and taken over), up to eight readers starting at the oldest, the
//! newest or the next record, on writable or read-only handles — driving
//! `try_send`/`send` (and bursts that lap the readers), `try_recv`/`recv`
//! into buffers of any size, `wake_readers`, `status`, re-attach —
//! interleaved with a hostile peer's writes to any shared word (header,
//! writer word, tail intent, tail, latest, head, the writer's next number,
//! the event word, the prefix and payload of any record), now or inside a
//! wait or liveness check.
//!
//! Every payload is a function of a write id carried as the tag, so a
//! record returned as good can be checked to be whole. Until the peer's
//! first write, results are checked exactly against a model of the records
//! in the stream: a reader receives exactly the record it expects, is
//! `Lapped` exactly when that record was overwritten and by exactly the
//! number of records up to the oldest intact one, is `Empty` exactly when
//! caught up, and `received + missed` equals the numbers it advanced over
//! since it joined. After peer writes to the control block only (stale
//! bytes, never partial records, remain in the buffer) every good record is
//! still checked to be one the writer wrote whole; after writes into the
//! buffer, only that nothing panics or leaves the region and that every
//! error is a typed one with sane fields.
//!
//! Input: byte 0 is the setup (`% 16 == 0`: attach raw bytes; else
//! capacity `64 << (b >> 4) % 5` bytes), then ops, one byte each (`% 16`)
//! with their arguments.
#![no_main]

use interlink_core::broadcast::{self, record_size, BroadcastRing, Reader, Start, Writer};
use interlink_core::{Holder, RecvError, RingConfig, SendError};
use interlink_fuzz::{blocking, Hostile, Input, Mapping};
use libfuzzer_sys::fuzz_target;

const PREFIX: u32 = broadcast::PREFIX_LEN as u32;
const DATA: usize = 384;
const MAX_READERS: usize = 8;

/// A record of the stream as the model sees it.
#[derive(Clone, Copy, Debug)]
struct Rec {
    /// Data records: the write id (the tag); padding: none.
    id: Option<u32>,
    /// The number it carries (padding: the next data record's).
    seq: u64,
    start: u32,
    size: u32,
    len: u32,
}

struct Model {
    recs: Vec<Rec>,
    tail: u32,
    next: u64,
    cap: u32,
}

impl Model {
    fn new(cap: u32) -> Self {
        Self {
            recs: vec![Rec {
                id: None,
                seq: 0,
                start: 0,
                size: PREFIX,
                len: 0,
            }],
            tail: PREFIX,
            next: 0,
            cap,
        }
    }

    /// The writer's placement: padding (or a skipped short tail) where the
    /// record does not fit before the end, then the record.
    fn write(&mut self, id: u32, len: u32) {
        let size = record_size(len).expect("size");
        let at = self.tail & (self.cap - 1);
        let to_end = self.cap - at;
        if size > to_end {
            if to_end >= PREFIX {
                self.recs.push(Rec {
                    id: None,
                    seq: self.next,
                    start: self.tail,
                    size: to_end,
                    len: 0,
                });
            }
            self.tail = self.tail.wrapping_add(to_end);
        }
        self.recs.push(Rec {
            id: Some(id),
            seq: self.next,
            start: self.tail,
            size,
            len,
        });
        self.tail = self.tail.wrapping_add(size);
        self.next += 1;
        // Forget records long overwritten (keep the model small).
        let cap = self.cap;
        let tail = self.tail;
        let drop = self
            .recs
            .iter()
            .take_while(|r| tail.wrapping_sub(r.start) > 2 * cap)
            .count();
        self.recs.drain(..drop);
    }

    fn intact(&self, r: &Rec) -> bool {
        self.tail.wrapping_sub(r.start) <= self.cap
    }

    /// The number of the oldest record still intact (where a lapped
    /// reader resumes).
    fn oldest(&self) -> u64 {
        self.recs
            .iter()
            .find(|r| self.intact(r))
            .map_or(self.next, |r| r.seq)
    }

    fn data(&self, seq: u64) -> Option<&Rec> {
        self.recs.iter().find(|r| r.id.is_some() && r.seq == seq)
    }

    fn latest_start(&self) -> u32 {
        self.recs
            .iter()
            .rev()
            .find(|r| r.id.is_some())
            .map_or(0, |r| r.start)
    }
}

/// Payload byte `i` of write `id`.
fn payload(id: u32, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            let mut z = (u64::from(id) << 32 | (i as u64 / 8)).wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> (8 * (i % 8))) as u8
        })
        .collect()
}

struct Rd<'a> {
    reader: Reader<'a>,
    /// The number it joined at (honest runs only).
    joined: Option<u64>,
}

struct State<'a> {
    ring: BroadcastRing<'a>,
    ro: Option<BroadcastRing<'a>>,
    writer: Option<Writer<'a>>,
    readers: Vec<Rd<'a>>,
    model: Model,
    /// Lengths of every write, by id (ids are indices).
    lens: Vec<u32>,
    exact: bool,
    /// A writer resumed from positions a peer had written: it may place
    /// records anywhere, across records already there, so stale bytes are
    /// no longer whole records.
    tainted: bool,
    holder: u32,
}

fuzz_target!(|data: &[u8]| run(data));

fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let setup = input.byte();
    let raw = setup.is_multiple_of(16);
    let cap = 64u32 << ((setup >> 4) % 5);
    let mapping = if raw {
        let len = 384 + input.below(256) * 8;
        let n = (input.byte() as usize * 8).min(len);
        let m = Mapping::new(len, 128);
        m.fill(input.bytes(n));
        m
    } else {
        Mapping::new(BroadcastRing::bytes_needed(cap).expect("capacity"), 128)
    };
    let hostile = Hostile::new(&mapping);
    let ring = if raw {
        match BroadcastRing::attach(mapping.region()) {
            Ok(r) => r,
            Err(_) => return,
        }
    } else {
        BroadcastRing::init(mapping.region(), RingConfig::new(cap)).expect("init")
    };
    // SAFETY: the mapping outlives every handle (dropped at the end of
    // `run`, after `st`); nothing holds a reference to its bytes.
    let ro = unsafe { BroadcastRing::attach_read_only(mapping.base(), mapping.len()) }.ok();
    let cap = ring.capacity();
    let mut st = State {
        ring,
        ro,
        writer: ring.writer(Holder::fixed::<1>()).ok(),
        readers: Vec::new(),
        model: Model::new(cap),
        lens: Vec::new(),
        exact: !raw,
        tainted: false,
        holder: 1,
    };
    if st.exact {
        assert!(st.writer.is_some());
    }
    while !input.is_done() {
        step(&mut st, &mut input, &hostile, &mapping);
        check_counts(&st, &hostile);
    }
    drop(st);
}

/// Whether the model still predicts everything.
fn honest(st: &State<'_>, hostile: &Hostile) -> bool {
    st.exact && !hostile.wrote()
}

/// Whether good records are still whole records of the writer: the peer
/// wrote nothing in the buffer (control words only).
fn whole(st: &State<'_>, hostile: &Hostile) -> bool {
    st.exact && !st.tainted && !hostile.wrote_in(|o| o >= DATA)
}

fn check_counts(st: &State<'_>, hostile: &Hostile) {
    if !honest(st, hostile) {
        return;
    }
    for r in &st.readers {
        let j = r.joined.expect("honest readers join at once");
        let n = r.reader.next_seq().expect("joined");
        assert_eq!(
            r.reader.received() + r.reader.missed(),
            n - j,
            "received + missed"
        );
        assert!(n <= st.model.next);
    }
}

/// The named words a peer writes: header fields, the writer word, the
/// positions, the writer's next number, the event word.
const NAMED: &[usize] = &[
    8, 12, 16, 20, 24, 28, 32, 36, 64, 128, 132, 136, 140, 144, 148, 256,
];

/// A word of a record of the model: its number, frame header or payload.
fn record_word(st: &State<'_>, input: &mut Input<'_>) -> Option<usize> {
    if st.model.recs.is_empty() {
        return None;
    }
    let r = st.model.recs[input.below(st.model.recs.len())];
    let at = (r.start & (st.model.cap - 1)) as usize;
    let words = (r.size as usize / 4).max(1);
    let w = match input.byte() % 4 {
        0 => 0,
        1 => 2 + input.below(4),
        _ => input.below(words),
    };
    Some(DATA + at + 4 * w)
}

fn step(st: &mut State<'_>, input: &mut Input<'_>, hostile: &Hostile, mapping: &Mapping) {
    let cap = st.model.cap;
    let max = st.ring.max_payload() as usize;
    let op = input.byte() % 16;
    match op {
        // Write one record.
        0 | 1 => {
            let len = input.below(max + 9);
            let b = (op == 1).then(|| blocking(input, hostile));
            let timeout = Hostile::timeout(input);
            write_one(st, hostile, len, b.as_ref().map(|b| (b, timeout)));
        }
        // A burst: laps the readers.
        2 => {
            let n = 1 + input.below(24);
            let len = input.below(max + 1);
            for _ in 0..n {
                write_one(st, hostile, len, None);
            }
        }
        // Release the writer role, or claim it (again).
        3 => {
            if st.writer.take().is_none() {
                st.holder = 1 + input.below(3) as u32;
                let h = Holder::new(st.holder).expect("nonzero");
                let t = honest(st, hostile);
                let r = st.ring.writer(h);
                st.tainted |= hostile.wrote();
                match r {
                    Ok(w) => {
                        if t {
                            assert_eq!(w.next_seq(), st.model.next);
                        }
                        st.writer = Some(w);
                    }
                    Err(e) => assert!(!t, "honest claim failed: {e}"),
                }
            } else if let Some(ro) = st.ro {
                // A read-only handle never claims the writer.
                assert!(ro.writer(Holder::fixed::<9>()).is_err());
            }
        }
        // Kill the writer and take over (a queued peer write lands in the
        // liveness check), or try to steal it from a live one.
        4 => {
            let kill = input.byte() & 1 == 0;
            if kill {
                if let Some(w) = st.writer.take() {
                    std::mem::forget(w);
                }
            }
            let t = honest(st, hostile);
            let h = Holder::new(4 + input.below(3) as u32).expect("nonzero");
            let had = st.writer.is_some();
            let r = st.ring.take_over_writer(h, |_| {
                hostile.during();
                !kill
            });
            let t = t && !hostile.wrote();
            st.tainted |= hostile.wrote();
            match r {
                Ok(w) => {
                    // Two writers only if a peer freed the role word.
                    assert!(!had || hostile.wrote(), "two writers");
                    if t {
                        assert_eq!(w.next_seq(), st.model.next);
                    }
                    st.holder = h.get();
                    st.writer = Some(w);
                }
                Err(e) => {
                    assert!(!t || had || !kill, "honest take-over failed: {e}");
                }
            }
        }
        // A new reader.
        5 => {
            let b = input.byte();
            let start = match b % 3 {
                0 => Start::Oldest,
                1 => Start::Newest,
                _ => Start::Next,
            };
            let handle = match (b >> 2) & 1 {
                1 => st.ro.unwrap_or(st.ring),
                _ => st.ring,
            };
            let reader = handle.reader(start);
            let t = honest(st, hostile);
            let joined = if t {
                let j = reader.next_seq().expect("honest reader joins at once");
                let want = match start {
                    Start::Oldest => st.model.oldest(),
                    Start::Newest => st.model.next.saturating_sub(1),
                    Start::Next => st.model.next,
                };
                assert_eq!(j, want, "joined at {start:?}");
                Some(j)
            } else {
                None
            };
            if st.readers.len() == MAX_READERS {
                st.readers.remove(input.below(MAX_READERS));
            }
            st.readers.push(Rd { reader, joined });
        }
        // Receive.
        6..=8 => {
            if st.readers.is_empty() {
                return;
            }
            let i = input.below(st.readers.len());
            let buf_len = match input.byte() % 4 {
                0 => input.below(16),
                _ => max,
            };
            let b = (op == 8).then(|| blocking(input, hostile));
            let timeout = Hostile::timeout(input);
            recv_one(st, hostile, i, buf_len, b.as_ref().map(|b| (b, timeout)));
        }
        // Drop a reader.
        9 => {
            if !st.readers.is_empty() {
                st.readers.remove(input.below(st.readers.len()));
            }
        }
        // Peer writes: now, queued, into a record.
        10 => hostile.write_from(input, NAMED, cap),
        11 => hostile.queue_from(input, NAMED, cap),
        12 => {
            if let Some(o) = record_word(st, input) {
                let v = input.value(cap);
                if input.byte() & 1 == 0 {
                    hostile.write(o, v);
                } else {
                    hostile.queue(o, v);
                }
            }
        }
        // Re-attach.
        13 => {
            let t = honest(st, hostile);
            match BroadcastRing::attach(mapping.region()) {
                Ok(r) => {
                    assert_eq!(r.capacity(), st.ring.capacity());
                    st.ring = r;
                }
                Err(e) => assert!(!t, "honest attach failed: {e}"),
            }
        }
        // Status.
        14 => {
            let t = honest(st, hostile);
            match broadcast::status(&mapping.region()) {
                Ok(s) => {
                    if t {
                        assert_eq!(s.tail, st.model.tail);
                        assert_eq!(s.intent, st.model.tail);
                        assert_eq!(s.latest, st.model.latest_start());
                        let w = if st.writer.is_some() { st.holder } else { 0 };
                        assert_eq!(s.writer, w);
                    }
                }
                Err(e) => assert!(!t, "honest status failed: {e}"),
            }
        }
        // Wake the readers.
        _ => {
            if let Some(w) = &st.writer {
                w.wake_readers(hostile);
            }
        }
    }
}

fn write_one(
    st: &mut State<'_>,
    hostile: &Hostile,
    len: usize,
    blocking: Option<(&interlink_core::Blocking<&Hostile>, std::time::Duration)>,
) {
    let Some(w) = st.writer.as_mut() else {
        return;
    };
    let t = st.exact && !hostile.wrote();
    let max = w.max_payload() as usize;
    let id = st.lens.len() as u32;
    let data = payload(id, len);
    let r = match blocking {
        None => w.try_send(id, &data),
        Some((b, timeout)) => w.send(id, &data, b, Some(timeout)),
    };
    match r {
        Ok(()) => {
            assert!(len <= max);
            st.lens.push(len as u32);
            st.model.write(id, len as u32);
            if t {
                assert_eq!(w.next_seq(), st.model.next);
            }
        }
        Err(SendError::TooLarge { len: l, max: m }) => {
            assert!(len > max && l == len && m as usize == max);
        }
        Err(e) => panic!("a broadcast send fails only with TooLarge: {e}"),
    }
}

fn recv_one(
    st: &mut State<'_>,
    hostile: &Hostile,
    i: usize,
    buf_len: usize,
    blocking: Option<(&interlink_core::Blocking<&Hostile>, std::time::Duration)>,
) {
    let t = honest(st, hostile);
    let rd = &mut st.readers[i];
    let before = rd.reader.next_seq();
    let (received, missed) = (rd.reader.received(), rd.reader.missed());
    let mut buf = vec![0u8; buf_len];
    let r = match blocking {
        None => rd.reader.try_recv(&mut buf),
        Some((b, timeout)) => rd.reader.recv(&mut buf, b, Some(timeout)),
    };
    // A queued write may have landed inside the wait.
    let t = t && !hostile.wrote();
    let whole = whole(st, hostile);
    let rd = &st.readers[i];
    let after = rd.reader.next_seq();
    match r {
        Ok((tag, len)) => {
            assert!(len <= buf_len && len <= st.ring.max_payload() as usize);
            assert_eq!(rd.reader.received(), received + 1);
            if whole {
                // Only records the writer wrote, whole, are good.
                let known = st.lens.get(tag as usize).copied();
                assert_eq!(known, Some(len as u32), "a record never written");
                assert_eq!(buf[..len], payload(tag, len)[..], "torn record");
            }
            if t {
                let e = before.expect("joined");
                let rec = st.model.data(e).copied().expect("expected record exists");
                assert!(st.model.intact(&rec));
                assert_eq!(rec.id, Some(tag));
                assert_eq!(rec.len as usize, len);
                assert_eq!(after, Some(e + 1));
            }
        }
        Err(RecvError::Lapped { missed: m }) => {
            assert!(m > 0);
            assert_eq!(rd.reader.missed(), missed.saturating_add(m));
            if t {
                let e = before.expect("joined");
                assert_eq!(after, Some(e + m));
                assert_eq!(e + m, st.model.oldest(), "lapped to the oldest record");
                let rec = st.model.data(e).copied();
                assert!(
                    rec.is_none_or(|r| !st.model.intact(&r)),
                    "lapped needlessly"
                );
            }
        }
        Err(RecvError::Empty) => {
            assert!(blocking.is_none());
            if t {
                assert_eq!(before, Some(st.model.next), "empty while behind");
                assert_eq!(after, before);
            }
        }
        Err(RecvError::TimedOut) => {
            assert!(blocking.is_some());
            if t {
                assert_eq!(after, Some(st.model.next), "timed out while behind");
            }
        }
        Err(RecvError::BufferTooSmall { needed }) => {
            assert!(needed > buf_len);
            if t {
                let e = before.expect("joined");
                let rec = st.model.data(e).copied().expect("expected record exists");
                assert_eq!(rec.len as usize, needed);
                assert_eq!(after, before);
            }
        }
        Err(RecvError::Corrupt) => assert!(!t, "honest ring corrupt"),
        Err(e) => panic!("unexpected error from a broadcast reader: {e:?}"),
    }
}
