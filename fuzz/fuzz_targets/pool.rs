//! The shared block pool, structure-aware: a pool made by `init` (or, for
//! one input in 16, raw bytes attached), four holders (ids 1–4) driving
//! every public operation — `try_loan`, the blocking `loan` with zero or
//! tiny timeouts, `write_at`/`as_mut_slice`, `publish`, `share` (to a
//! holder or to anyone), `hand_off`, `accept` of real, forged and stale
//! handles, `read_at` at any offset, `Sample::share`, `keep`,
//! `Pool::release`/`Pool::share`, kills (guards forgotten) and `reclaim`,
//! `census`, `holders`, `generation`, the users table, re-attach —
//! interleaved with a hostile peer's writes to any shared word (the
//! header, users, the loan cursor and freed event word, every record's
//! generation, length and holder words).
//!
//! Until the peer's first write results are checked against a model: every
//! holder word the honest parties hold (loans, samples, kept references,
//! references shared and not yet accepted, holds left by killed holders),
//! so `census` must count exactly those references and the blocks free
//! without them; accepts succeed exactly when a reference was shared for
//! the accepter, and read the bytes written. After it, only that nothing
//! panics or leaves the region and that every error is a typed one.
//!
//! Input: byte 0 is the setup (`% 16 == 0`: attach raw bytes; else
//! `1 + (b >> 4) % 6` blocks of 64, 100 or 256 bytes by `(b >> 2) % 3`),
//! then ops, one byte each (`% 16`) with their arguments.
#![no_main]

use std::collections::HashSet;

use interlink_core::pool::{
    Handle, HandleError, Loan, LoanError, Pool, PoolConfig, Recipient, Sample, HOLDER_WORDS,
};
use interlink_core::Holder;
use interlink_fuzz::{blocking, Hostile, Input, Mapping};
use libfuzzer_sys::fuzz_target;

const HOLDERS: [Holder; 4] = [
    Holder::fixed::<1>(),
    Holder::fixed::<2>(),
    Holder::fixed::<3>(),
    Holder::fixed::<4>(),
];

/// A holder word the model expects to be taken.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Word {
    /// Addressed to `to`, or (None) in flight from `by`.
    Shared {
        handle: Handle,
        by: Holder,
        to: Option<Holder>,
    },
    /// Held by a kept sample of `holder`.
    Kept { handle: Handle, holder: Holder },
    /// Held by a guard its killed holder forgot.
    Forgotten { index: u32, holder: Holder },
}

impl Word {
    fn index(&self) -> u32 {
        match self {
            Word::Shared { handle, .. } | Word::Kept { handle, .. } => handle.index,
            Word::Forgotten { index, .. } => *index,
        }
    }

    /// The id a reclaim judges this word by.
    fn owner(&self) -> Holder {
        match *self {
            Word::Shared { to: Some(to), .. } => to,
            Word::Shared { by, .. } => by,
            Word::Kept { holder, .. } | Word::Forgotten { holder, .. } => holder,
        }
    }
}

struct State<'a> {
    pool: Pool<'a>,
    /// Loans with their holder and whether they were published.
    loans: Vec<(Loan<'a>, Holder, bool)>,
    samples: Vec<(Sample<'a>, Holder)>,
    words: Vec<Word>,
    /// What each block holds now, as its lender wrote it.
    contents: Vec<Vec<u8>>,
    /// Handles seen (for accepts of stale ones), raw.
    seen: Vec<Handle>,
    dead: HashSet<u32>,
    exact: bool,
    seq: u32,
}

fuzz_target!(|data: &[u8]| run(data));

fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let setup = input.byte();
    let raw = setup.is_multiple_of(16);
    let blocks = 1 + u32::from(setup >> 4) % 6;
    let block_size = [64u32, 100, 256][usize::from(setup >> 2) % 3];
    let (mapping, block_size) = if raw {
        let block_size = [64u32, 100, 256][input.below(3)];
        let len = 4096 + input.below(64) * 64;
        let n = (input.byte() as usize * 8).min(len);
        let m = Mapping::new(len, 4096);
        m.fill(input.bytes(n));
        (m, block_size)
    } else {
        let len = Pool::bytes_needed(blocks, block_size).expect("geometry");
        (Mapping::new(len, Pool::region_align()), block_size)
    };
    let hostile = Hostile::new(&mapping);
    let pool = if raw {
        match Pool::attach(mapping.region(), block_size, 0) {
            Ok(p) => p,
            Err(_) => return,
        }
    } else {
        Pool::init(mapping.region(), PoolConfig::new(blocks, block_size)).expect("init")
    };
    let mut st = State {
        pool,
        loans: Vec::new(),
        samples: Vec::new(),
        words: Vec::new(),
        contents: vec![Vec::new(); pool.blocks() as usize],
        seen: Vec::new(),
        dead: HashSet::new(),
        exact: !raw,
        seq: 1,
    };
    while !input.is_done() {
        step(&mut st, &mut input, &hostile, &mapping);
        let c = st.pool.census();
        assert!(c.free <= st.pool.blocks());
        assert!(c.references <= st.pool.blocks() * HOLDER_WORDS as u32);
        if st.exact && !hostile.wrote() {
            check_census(&st);
        }
    }
    // Guards first, then the memory.
    drop(st);
}

/// The census counts exactly the words the model holds.
fn check_census(st: &State<'_>) {
    let c = st.pool.census();
    let mut held = HashSet::new();
    for (l, _, _) in &st.loans {
        held.insert(l.index());
    }
    for (s, _) in &st.samples {
        held.insert(s.handle().index);
    }
    for w in &st.words {
        held.insert(w.index());
    }
    let refs = st.loans.len() + st.samples.len() + st.words.len();
    assert_eq!(c.references as usize, refs, "{:?}", st.words);
    assert_eq!(c.free as usize, st.pool.blocks() as usize - held.len());
    let in_flight = st
        .words
        .iter()
        .filter(|w| matches!(w, Word::Shared { to: None, .. }))
        .count();
    let addressed = st
        .words
        .iter()
        .filter(|w| matches!(w, Word::Shared { to: Some(_), .. }))
        .count();
    assert_eq!(
        (c.in_flight as usize, c.addressed as usize),
        (in_flight, addressed)
    );
}

/// The named words: header fields, users and overflow, the loan line, and
/// every record's generation, length and holder words.
fn named(st: &State<'_>) -> Vec<usize> {
    let mut v = vec![8, 12, 16, 20, 24, 28, 64, 68, 124, 128, 132];
    for i in 0..st.pool.blocks() as usize {
        let r = 256 + 64 * i;
        v.extend([r, r + 4]);
        v.extend((0..HOLDER_WORDS).map(|w| r + 16 + 4 * w));
    }
    v
}

fn pick_holder(input: &mut Input<'_>) -> Holder {
    HOLDERS[input.below(4)]
}

/// A recipient: a holder, or anyone.
fn pick_recipient(input: &mut Input<'_>) -> Recipient {
    match input.below(5) {
        4 => Recipient::Anyone,
        i => Recipient::Holder(HOLDERS[i]),
    }
}

/// A handle: one seen, forged from one, or raw.
fn pick_handle(st: &State<'_>, input: &mut Input<'_>) -> (Handle, bool) {
    let base = if st.seen.is_empty() {
        Handle {
            index: 0,
            generation: 1,
            len: 0,
        }
    } else {
        st.seen[input.below(st.seen.len())]
    };
    let h = match input.byte() % 8 {
        0 => Handle {
            index: input.u32(),
            ..base
        },
        1 => Handle {
            generation: input.u32(),
            ..base
        },
        2 => Handle {
            len: input.u32(),
            ..base
        },
        _ => base,
    };
    (h, h != base || st.seen.is_empty())
}

fn record_share(st: &mut State<'_>, t: bool, handle: Handle, by: Holder, to: Recipient) {
    if t {
        let to = match to {
            Recipient::Holder(h) => Some(h),
            Recipient::Anyone => None,
        };
        st.words.push(Word::Shared { handle, by, to });
    }
    st.seen.push(handle);
}

fn step(st: &mut State<'_>, input: &mut Input<'_>, hostile: &Hostile, mapping: &Mapping) {
    let t0 = st.exact && !hostile.wrote();
    let bs = st.pool.block_size() as usize;
    let op = input.byte() % 16;
    match op {
        0 | 1 => {
            let h = pick_holder(input);
            let r = if op == 0 {
                st.pool.try_loan(h)
            } else {
                let b = blocking(input, hostile);
                let timeout = Hostile::timeout(input);
                st.pool.loan(h, &b, Some(timeout))
            };
            let t = t0 && !hostile.wrote();
            match r {
                Ok(loan) => {
                    if t {
                        assert!(st.pool.census().free < st.pool.blocks());
                        assert!(!st.loans.iter().any(|(l, ..)| l.index() == loan.index()));
                    }
                    st.loans.push((loan, h, false));
                }
                Err(LoanError::Exhausted(e) | LoanError::TimedOut(e)) => {
                    if t {
                        check_census(st);
                        assert_eq!(st.pool.census().free, 0);
                        assert_eq!(e.held, st.pool.blocks());
                    }
                }
                Err(e) => assert!(!t, "honest loan failed: {e}"),
            }
        }
        2 => {
            // Write into a loan not yet published, then publish.
            let Some(i) = st.loans.iter().position(|(.., p)| !p) else {
                return;
            };
            let len = input.below(bs + 2);
            let bytes: Vec<u8> = (0..len).map(|k| (st.seq as usize * 7 + k) as u8).collect();
            st.seq += 1;
            let how = input.byte();
            let (loan, _, published) = &mut st.loans[i];
            // The view only while every peer cooperates.
            let fits = if how & 1 == 1 && len <= bs && t0 {
                loan.as_mut_slice()[..len].copy_from_slice(&bytes);
                true
            } else {
                loan.write_at(0, &bytes)
            };
            assert_eq!(fits, len <= bs);
            match loan.publish(len as u32) {
                Ok(h) => {
                    assert!(len <= bs);
                    *published = true;
                    st.contents[h.index as usize] = bytes;
                    st.seen.push(h);
                }
                Err(HandleError::BadLength { .. }) => assert!(len > bs),
                Err(e) => assert!(!t0, "honest publish failed: {e}"),
            }
        }
        3 => {
            // A loan shares, or hands off (and drops).
            if st.loans.is_empty() {
                return;
            }
            let i = input.below(st.loans.len());
            let to = pick_recipient(input);
            let hand_off = input.byte() & 1 == 1;
            let by = st.loans[i].1;
            let r = if hand_off {
                let (loan, ..) = st.loans.swap_remove(i);
                let len = loan.handle().len;
                if len == 0 {
                    st.contents[loan.index() as usize] = Vec::new();
                }
                loan.hand_off(len, to)
            } else {
                st.loans[i].0.share(to)
            };
            match r {
                Ok(h) => record_share(st, t0, h, by, to),
                Err(HandleError::NotPublished | HandleError::TooManyHolders) => {}
                Err(e) => assert!(!t0, "honest share failed: {e}"),
            }
        }
        4 => {
            // Accept a handle (real, forged or stale).
            let (h, _) = pick_handle(st, input);
            let who = pick_holder(input);
            let r = st.pool.accept(&h, who);
            let t = t0;
            let expect = st.words.iter().position(|w| match *w {
                Word::Shared { handle, to, .. } => handle == h && to == Some(who),
                _ => false,
            });
            let expect = expect.or_else(|| {
                st.words.iter().position(|w| match *w {
                    Word::Shared { handle, to, .. } => handle == h && to.is_none(),
                    _ => false,
                })
            });
            match r {
                Ok(s) => {
                    assert!(s.len() <= bs);
                    let mut out = vec![0u8; s.len()];
                    assert_eq!(s.read_at(0, &mut out), s.len());
                    if t {
                        let at = expect.expect("accepted a reference the model lacks");
                        // An accept takes any reference "to anyone" of the
                        // handle: with several senders, the model cannot
                        // tell whose it took (reclaim counts differ by it).
                        if let Word::Shared { to: None, .. } = st.words[at] {
                            let senders: HashSet<u32> = st
                                .words
                                .iter()
                                .filter_map(|w| match *w {
                                    Word::Shared { handle, by, to: None } if handle == h => {
                                        Some(by.get())
                                    }
                                    _ => None,
                                })
                                .collect();
                            if senders.len() > 1 {
                                st.exact = false;
                            }
                        }
                        st.words.swap_remove(at);
                        let want = &st.contents[h.index as usize];
                        assert_eq!(&out[..], &want[..out.len().min(want.len())]);
                    }
                    st.samples.push((s, who));
                }
                Err(e) => {
                    if t {
                        assert!(expect.is_none(), "refused a shared reference: {e}");
                    }
                }
            }
        }
        5 => {
            // Read a sample at an offset, share it on, keep or drop it.
            if st.samples.is_empty() {
                return;
            }
            let i = input.below(st.samples.len());
            let offset = match input.byte() % 5 {
                0 => 0,
                1 => bs,
                2 => usize::MAX - 3,
                3 => 1 << 30,
                _ => input.below(bs + 2),
            };
            let mut out = [0u8; 32];
            let n = st.samples[i].0.read_at(offset, &mut out);
            assert!(n <= 32 && (n == 0 || offset < st.samples[i].0.len()));
            match input.byte() % 4 {
                0 => {
                    let to = pick_recipient(input);
                    let (s, by) = &st.samples[i];
                    let by = *by;
                    match s.share(to) {
                        Ok(h) => record_share(st, t0, h, by, to),
                        Err(HandleError::TooManyHolders) => {}
                        Err(e) => assert!(!t0, "honest sample share failed: {e}"),
                    }
                }
                1 => {
                    let (s, holder) = st.samples.swap_remove(i);
                    let handle = s.keep();
                    st.words.push(Word::Kept { handle, holder });
                }
                2 => {
                    st.samples.swap_remove(i);
                }
                _ => {}
            }
        }
        6 => {
            // Pool::release of a kept reference (or any handle).
            let (h, who, at) = match st.words.iter().position(|w| matches!(w, Word::Kept { .. })) {
                Some(at) if input.byte() & 1 == 0 => match st.words[at] {
                    Word::Kept { handle, holder } => (handle, holder, Some(at)),
                    _ => unreachable!(),
                },
                _ => (pick_handle(st, input).0, pick_holder(input), None),
            };
            // Another hold of `who` on the block: the release may free
            // that word instead (the pool frees the first it finds).
            let holds = holds_of(st, who, h.index);
            let r = st.pool.release(&h, who);
            if holds > 1 {
                st.exact = false;
            }
            if let Some(at) = at {
                if t0 {
                    r.expect("releasing a kept reference");
                    st.words.swap_remove(at);
                }
            } else if r.is_ok() {
                // Released one of the holder's words: which is the model's
                // guess; stop checking.
                st.exact = false;
            }
            let _ = st.pool.wake_loaners(hostile);
        }
        7 => {
            // Pool::share on behalf of a holder.
            let (h, forged) = pick_handle(st, input);
            let by = pick_holder(input);
            let to = pick_recipient(input);
            let holds = holds_of(st, by, h.index);
            if let Ok(()) = st.pool.share(&h, by, to) {
                if t0 {
                    assert!(holds > 0, "shared without a hold");
                }
                if forged {
                    // Its length may not be the recorded one.
                    st.exact = false;
                }
                record_share(st, t0, h, by, to);
            }
        }
        8 => {
            // Kill a holder: its guards are forgotten, its words stay.
            let h = pick_holder(input);
            st.dead.insert(h.get());
            let mut k = 0;
            while k < st.loans.len() {
                if st.loans[k].1 == h {
                    let (l, ..) = st.loans.swap_remove(k);
                    st.words.push(Word::Forgotten {
                        index: l.index(),
                        holder: h,
                    });
                    std::mem::forget(l);
                } else {
                    k += 1;
                }
            }
            let mut k = 0;
            while k < st.samples.len() {
                if st.samples[k].1 == h {
                    let (s, _) = st.samples.swap_remove(k);
                    st.words.push(Word::Forgotten {
                        index: s.handle().index,
                        holder: h,
                    });
                    std::mem::forget(s);
                } else {
                    k += 1;
                }
            }
        }
        9 => {
            // Reclaim what the dead hold; they come back to life after.
            let dead = st.dead.clone();
            let got = st.pool.reclaim(|id| {
                hostile.during();
                !dead.contains(&id)
            });
            let guards = st.loans.iter().map(|(_, h, _)| h);
            if guards
                .chain(st.samples.iter().map(|(_, h)| h))
                .any(|h| dead.contains(&h.get()))
            {
                // A live guard of a holder judged dead lost its word.
                st.exact = false;
            }
            if st.exact && !hostile.wrote() {
                let before = st.words.len();
                st.words.retain(|w| !dead.contains(&w.owner().get()));
                assert_eq!(got.references as usize, before - st.words.len());
            }
            st.dead.clear();
            let _ = st.pool.wake_loaners(hostile);
        }
        10 => hostile.write_from(input, &named(st), st.pool.blocks()),
        11 => hostile.queue_from(input, &named(st), st.pool.blocks()),
        12 => {
            // Raw reads, as inspectors make them.
            let i = input.u32() % (st.pool.blocks() + 2);
            let _ = st.pool.holders(i);
            let _ = st.pool.generation(i);
            let _ = Pool::probe(&mapping.region());
            let _ = format!("{:?}", st.pool.census());
        }
        13 => {
            // The users table.
            let h = pick_holder(input);
            let mask = input.byte();
            let slot = st.pool.join(h, |id| {
                hostile.during();
                mask & (1 << (id % 8)) != 0
            });
            let users = st.pool.users();
            assert!(users.holders().count() <= 15);
            if input.byte() & 1 == 0 {
                let _ = st.pool.leave(slot, h);
            }
        }
        14 => {
            // A second process's view of the same bytes.
            match Pool::attach(mapping.region(), st.pool.block_size(), 0) {
                Ok(p) => {
                    assert_eq!(p.blocks(), st.pool.blocks());
                    st.pool = p;
                }
                Err(e) => assert!(!t0, "re-attach of an honest pool failed: {e}"),
            }
        }
        _ => {
            // Drop a loan (its lender's hold goes; shares stay).
            if !st.loans.is_empty() {
                let i = input.below(st.loans.len());
                st.loans.swap_remove(i);
            }
        }
    }
}

/// Words `who` holds on block `index`: loans, samples, kept and forgotten.
fn holds_of(st: &State<'_>, who: Holder, index: u32) -> usize {
    let loans = st
        .loans
        .iter()
        .filter(|(l, h, _)| *h == who && l.index() == index);
    let samples = st
        .samples
        .iter()
        .filter(|(s, h)| *h == who && s.handle().index == index);
    let words = st.words.iter().filter(|w| {
        w.index() == index
            && matches!(*w, Word::Kept { holder, .. } | Word::Forgotten { holder, .. } if *holder == who)
    });
    loans.count() + samples.count() + words.count()
}
