//! Loom models of the MPMC ring: every interleaving (bounded) of two
//! producers and two consumers, one and two, two and one, batches, a dead
//! producer skipped by consumers, claims that spin on the slot's word and
//! pollers that ask the hints first, the init/attach handshake, and blocking
//! send/recv with sleepers sharing an event word. Each checks that every
//! element is received exactly once; the blocking ones, through
//! [`LoomWait`]'s futex emulation, that no sleeper's wake-up is lost. The
//! users table: two joiners never hold the same word (also when racing for
//! a dead user's word or for the last free one), and a leave never frees a
//! word its holder lost to a joiner that judged it dead.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p interlink-core --release --test loom_mpmc`
#![cfg(loom)]

use interlink_core::mpmc::{MpmcRing, RecvError, SendError, UserSlot, USER_WORDS};
use interlink_core::wait::LoomWait;
use interlink_core::Holder;
use interlink_core::{Blocking, RingConfig};
use loom::sync::Arc;
use loom::thread;

mod common;

use common::{model, model_bounded, Memory};

/// Memory for an MPMC ring of `capacity` u64s.
fn ring_memory(capacity: u32) -> Memory {
    Memory::new(
        MpmcRing::<u64>::bytes_needed(capacity).unwrap(),
        MpmcRing::<u64>::region_align(),
    )
}

/// How many times in a row a thread of a model retries a push or pop that
/// found nothing to do before it stops. Waiting threads must give up: with
/// three or more threads, two waiters could otherwise hand the processor to
/// each other forever while the thread they wait for never runs (a switch
/// after a yield costs loom no preemption), and the model would not end.
const ATTEMPTS: u32 = 2;

/// How the threads of [`exactly_once`] poll.
#[derive(Clone, Copy)]
struct Polling {
    /// The spin limit of every `try_*_spinning` (0: a claim in progress
    /// reads as `Stalled` at once; more: the claim waits on the slot's
    /// sequence word that many times).
    spins: u32,
    /// Whether a thread asks the hint (`recv_ready`, `send_ready`) before
    /// each try, as a spinning poller does, and counts a "not ready" as a
    /// miss.
    hints: bool,
}

/// Never spins inside the ring, no hints.
const PLAIN: Polling = Polling {
    spins: 0,
    hints: false,
};

/// Pops until `ATTEMPTS` tries in a row find nothing.
fn consume(ring: MpmcRing<'static, u64>, got: &mut Vec<u64>, polling: Polling) {
    let mut misses = 0;
    while misses < ATTEMPTS {
        if polling.hints && !ring.recv_ready() {
            misses += 1;
            thread::yield_now();
            continue;
        }
        match ring.try_recv_spinning(polling.spins) {
            Ok(v) => {
                got.push(v);
                misses = 0;
            }
            Err(RecvError::Corrupt) => panic!("corrupt"),
            Err(_) => {
                misses += 1;
                thread::yield_now();
            }
        }
    }
}

/// Pushes `items` in order until `ATTEMPTS` tries in a row fail; returns
/// the items it did not push.
fn produce(ring: MpmcRing<'static, u64>, items: &[u64], polling: Polling) -> Vec<u64> {
    let mut misses = 0;
    for (i, &v) in items.iter().enumerate() {
        loop {
            let tried = if polling.hints && !ring.send_ready() {
                Err(SendError::Full)
            } else {
                ring.try_send_spinning(v, polling.spins)
            };
            match tried {
                Ok(()) => break,
                Err(SendError::Corrupt) => panic!("corrupt"),
                Err(_) if misses + 1 == ATTEMPTS => return items[i..].to_vec(),
                Err(_) => {
                    misses += 1;
                    thread::yield_now();
                }
            }
        }
        misses = 0;
    }
    Vec::new()
}

/// `producers[i]` items pushed by producer `i` (tagged `i << 8 | n`) into a
/// ring of `capacity` while `consumers` consumers pop (the main thread is
/// one). Once all threads are joined, the main thread drains the ring and
/// passes through what producers gave up on. Checks that every item arrives
/// exactly once and that each consumer sees each producer's items in order.
/// `preemptions` is 2 for the models with two consumers: at 3 they take
/// minutes, and 2 still covers every race of two claims on one index and of
/// a claim with a publish.
fn exactly_once(preemptions: usize, capacity: u32, producers: &'static [u64], consumers: usize) {
    exactly_once_polling(preemptions, capacity, producers, consumers, PLAIN);
}

/// [`exactly_once`] with the threads polling as `polling` says.
fn exactly_once_polling(
    preemptions: usize,
    capacity: u32,
    producers: &'static [u64],
    consumers: usize,
    polling: Polling,
) {
    model_bounded(preemptions, move || {
        let mem = Arc::new(ring_memory(capacity));
        let ring = MpmcRing::<u64>::init(mem.region(), RingConfig::new(capacity)).unwrap();
        let producer_threads: Vec<_> = producers
            .iter()
            .enumerate()
            .map(|(p, &count)| {
                let items: Vec<u64> = (0..count).map(|n| (p as u64) << 8 | n).collect();
                thread::spawn(move || produce(ring, &items, polling))
            })
            .collect();
        let consumer_threads: Vec<_> = (1..consumers)
            .map(|_| {
                thread::spawn(move || {
                    let mut got = Vec::new();
                    consume(ring, &mut got, polling);
                    got
                })
            })
            .collect();
        let mut mine = Vec::new();
        consume(ring, &mut mine, polling);
        let mut seen: Vec<Vec<u64>> = consumer_threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        let leftovers: Vec<Vec<u64>> = producer_threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        // Quiescent now: every claim has finished, so nothing is stalled.
        while let Ok(v) = ring.try_recv_spinning(0) {
            mine.push(v);
        }
        for v in leftovers.into_iter().flatten() {
            ring.try_send_spinning(v, 0).unwrap();
            mine.push(ring.try_recv_spinning(0).unwrap());
        }
        seen.push(mine);
        let mut all = Vec::new();
        for got in &seen {
            for p in 0..producers.len() as u64 {
                let theirs: Vec<u64> = got.iter().copied().filter(|v| v >> 8 == p).collect();
                assert!(theirs.windows(2).all(|w| w[0] < w[1]), "order: {theirs:?}");
            }
            all.extend_from_slice(got);
        }
        all.sort_unstable();
        let mut expected: Vec<u64> = producers
            .iter()
            .enumerate()
            .flat_map(|(p, &count)| (0..count).map(move |n| (p as u64) << 8 | n))
            .collect();
        expected.sort_unstable();
        assert_eq!(all, expected);
        assert_eq!(ring.try_recv_spinning(0), Err(RecvError::Empty));
        assert_eq!(ring.len(), 0);
    });
}

#[test]
fn two_producers_two_consumers() {
    exactly_once(2, 2, &[1, 1], 2);
}

#[test]
fn one_producer_two_consumers_across_the_wrap() {
    exactly_once(2, 2, &[3], 2);
}

#[test]
fn two_producers_one_consumer_across_the_wrap() {
    exactly_once(3, 2, &[2, 1], 1);
}

/// Claims that spin wait on the slot's sequence word alone (not the
/// indices), and pollers ask the hints before each try: still every item
/// exactly once, in each producer's order, across the wrap.
#[test]
fn spinning_claims_and_hint_pollers() {
    let polling = Polling {
        spins: 2,
        hints: true,
    };
    exactly_once_polling(2, 2, &[2, 1], 1, polling);
}

/// Two consumers asking the hint race for the element it announced; the
/// loser's claim finds the next position (or nothing), never a duplicate.
#[test]
fn two_hint_polling_consumers() {
    let polling = Polling {
        spins: 1,
        hints: true,
    };
    exactly_once_polling(2, 2, &[3], 2, polling);
}

/// Batches claim runs with one compare-exchange; a consumer's batch may
/// meet a slot a producer has claimed but not yet published.
#[test]
fn batches_exactly_once() {
    model(|| {
        let mem = Arc::new(ring_memory(4));
        let ring = MpmcRing::<u64>::init(mem.region(), RingConfig::new(4)).unwrap();
        let producers: Vec<_> = [[1, 2], [3, 4]]
            .into_iter()
            .map(|items| {
                thread::spawn(move || {
                    let (mut sent, mut misses) = (0, 0);
                    while sent < items.len() && misses < ATTEMPTS {
                        match ring.try_send_slice(&items[sent..]) {
                            Ok(n) if n > 0 => sent += n,
                            _ => {
                                misses += 1;
                                thread::yield_now();
                            }
                        }
                    }
                    items[sent..].to_vec()
                })
            })
            .collect();
        let mut got = Vec::new();
        let mut out = [0u64; 4];
        let mut misses = 0;
        while misses < ATTEMPTS {
            match ring.try_recv_slice(&mut out) {
                Ok(n) if n > 0 => got.extend_from_slice(&out[..n]),
                Err(RecvError::Corrupt) => panic!("corrupt"),
                _ => {
                    misses += 1;
                    thread::yield_now();
                }
            }
        }
        let leftovers: Vec<u64> = producers
            .into_iter()
            .flat_map(|p| p.join().unwrap())
            .collect();
        while let Ok(n @ 1..) = ring.try_recv_slice(&mut out) {
            got.extend_from_slice(&out[..n]);
        }
        assert_eq!(
            ring.try_send_slice(&leftovers).unwrap_or(0),
            leftovers.len()
        );
        got.extend(leftovers);
        let firsts: Vec<_> = got.iter().filter(|&&v| v <= 2).copied().collect();
        assert_eq!(firsts, [1, 2], "a producer's batch stays in order");
        got.sort_unstable();
        assert_eq!(got, [1, 2, 3, 4]);
    });
}

/// A producer died holding position 0. Two consumers race to skip it
/// while a live producer pushes behind it: the live items arrive exactly
/// once and the hole is skipped exactly once.
#[test]
fn consumers_skip_a_dead_producer() {
    /// Pops, skipping position 0 when it is reported stalled; returns what
    /// it popped and how many skips it made.
    fn consume_skipping(ring: MpmcRing<'static, u64>, bounded: bool) -> (Vec<u64>, usize) {
        let (mut got, mut skips, mut misses) = (Vec::new(), 0, 0);
        while !bounded || misses < ATTEMPTS {
            match ring.try_recv_spinning(0) {
                Ok(v) => got.push(v),
                // Position 0's claimant is known dead; later positions
                // belong to the live producer and are never skipped.
                Err(RecvError::Stalled { position: 0 }) => match ring.skip_stalled(0) {
                    Ok(v) => {
                        assert_eq!(v, None, "the dead producer never publishes");
                        skips += 1;
                    }
                    Err(_) => misses += 1,
                },
                Err(RecvError::Corrupt) => panic!("corrupt"),
                Err(RecvError::Empty) if !bounded => break,
                Err(_) => {
                    misses += 1;
                    thread::yield_now();
                }
            }
        }
        (got, skips)
    }
    model(|| {
        let mem = Arc::new(ring_memory(4));
        let ring = MpmcRing::<u64>::init(mem.region(), RingConfig::new(4)).unwrap();
        assert_eq!(ring.abandon_send(), Ok(0));
        let producer = thread::spawn(move || produce(ring, &[1, 2], PLAIN));
        let other = thread::spawn(move || consume_skipping(ring, true));
        let (mut got, mut skips) = consume_skipping(ring, true);
        let (theirs, their_skips) = other.join().unwrap();
        assert!(producer.join().unwrap().is_empty(), "never full");
        // Quiescent: drain, skipping the hole if nobody did yet.
        let (rest, last_skips) = consume_skipping(ring, false);
        got.extend(theirs);
        got.extend(rest);
        skips += their_skips + last_skips;
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
        assert_eq!(skips, 1);
        assert_eq!(ring.len(), 0);
    });
}

/// An attacher racing the creator either sees `NotReady` or a fully
/// initialised ring: the capacity, the element type, the slots' sequences.
#[test]
fn init_attach_handshake() {
    model(|| {
        let mem = Arc::new(ring_memory(2));
        let config = RingConfig::new(2).with_creator_pid(1);
        let ring = MpmcRing::<u64>::init_begin(mem.region(), config).unwrap();
        let attacher = {
            let mem = mem.clone();
            thread::spawn(move || loop {
                match MpmcRing::<u64>::attach(mem.region()) {
                    Ok(ring) => {
                        assert_eq!(ring.capacity(), 2);
                        assert_eq!(ring.len(), 0);
                        assert_eq!(ring.try_recv_spinning(0), Err(RecvError::Empty));
                        ring.try_send_spinning(5, 0).unwrap();
                        return;
                    }
                    Err(interlink_core::AttachError::NotReady { .. }) => thread::yield_now(),
                    Err(e) => panic!("attach saw a half-initialised ring: {e}"),
                }
            })
        };
        ring.init_publish(config);
        attacher.join().unwrap();
        assert_eq!(ring.try_recv_spinning(0), Ok(5));
    });
}

/// Two producers send one element each while the consumer parks on an
/// empty ring (at once: no spinning), also while a producer is between its
/// claim and its publish (a stall: under loom waited for without a bound).
/// It must be woken for both.
#[test]
fn blocking_two_producers_one_sleeping_consumer() {
    model(|| {
        let mem = Arc::new(ring_memory(2));
        let wait = Arc::new(LoomWait::new());
        let ring = MpmcRing::<u64>::init(mem.region(), RingConfig::new(2)).unwrap();
        let producers: Vec<_> = (0..2)
            .map(|p| {
                let wait = wait.clone();
                thread::spawn(move || ring.send(p, &Blocking::parking(&*wait), None).unwrap())
            })
            .collect();
        let b = Blocking::parking(&*wait);
        let mut got = [ring.recv(&b, None).unwrap(), ring.recv(&b, None).unwrap()];
        got.sort_unstable();
        assert_eq!(got, [0, 1]);
        for p in producers {
            p.join().unwrap();
        }
        drop(mem);
    });
}

/// One producer sends two elements while two consumers park on empty,
/// sharing the not-empty word, and take one each: a notification must wake
/// both sleepers (one wake would leave the second asleep for ever).
#[test]
fn blocking_one_producer_two_sleeping_consumers() {
    model_bounded(1, || {
        let mem = Arc::new(ring_memory(2));
        let wait = Arc::new(LoomWait::new());
        let ring = MpmcRing::<u64>::init(mem.region(), RingConfig::new(2)).unwrap();
        let consumers: Vec<_> = [1, 2]
            .into_iter()
            .map(|n| {
                let wait = wait.clone();
                thread::spawn(move || {
                    let b = Blocking::parking(&*wait);
                    (0..n)
                        .map(|_| ring.recv(&b, None).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let b = Blocking::parking(&*wait);
        for v in 0..3 {
            ring.send(v, &b, None).unwrap();
        }
        let mut got: Vec<u64> = consumers
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect();
        got.sort_unstable();
        assert_eq!(got, [0, 1, 2]);
        drop(mem);
    });
}

/// Two users join at once, where word 0 holds a dead user (9) and the rest
/// are free, then each checks its word and leaves. Neither may take the
/// word the other holds (each would then read the other's id, or fail to
/// leave), and the table ends empty.
#[test]
fn users_two_joiners_never_share_a_word() {
    model(|| {
        let mem = Arc::new(ring_memory(2));
        let ring = MpmcRing::<u64>::init(mem.region(), RingConfig::new(2)).unwrap();
        assert_eq!(ring.join(Holder::fixed::<9>(), |_| true), UserSlot::Word(0));
        let users: Vec<_> = [1, 2]
            .into_iter()
            .map(|holder| {
                thread::spawn(move || {
                    let slot = ring.join(Holder::new(holder).unwrap(), |h| h != 9);
                    let UserSlot::Word(i) = slot else {
                        panic!("overflow with {USER_WORDS} words")
                    };
                    assert!(i < 2, "a free or dead word comes first");
                    assert_eq!(ring.users().words[i], holder);
                    assert!(ring.leave(slot, Holder::new(holder).unwrap()));
                })
            })
            .collect();
        for u in users {
            u.join().unwrap();
        }
        assert_eq!(ring.users().holders().count(), 0);
        drop(mem);
    });
}

/// User 1 leaves while user 2, judging it dead, takes its word over.
/// Whichever goes first, the word ends held by 2: a leave frees only a word
/// its caller still holds.
#[test]
fn users_leave_never_frees_a_successors_word() {
    model(|| {
        let mem = Arc::new(ring_memory(2));
        let ring = MpmcRing::<u64>::init(mem.region(), RingConfig::new(2)).unwrap();
        let first = ring.join(Holder::fixed::<1>(), |_| true);
        assert_eq!(first, UserSlot::Word(0));
        let leaver = thread::spawn(move || ring.leave(first, Holder::fixed::<1>()));
        let joiner = thread::spawn(move || ring.join(Holder::fixed::<2>(), |h| h != 1));
        leaver.join().unwrap();
        let slot = joiner.join().unwrap();
        assert_eq!(slot, UserSlot::Word(0));
        assert_eq!(ring.users().words[0], 2);
        assert_eq!(ring.users().holders().count(), 1);
        drop(mem);
    });
}

/// Two users join a table with one free word left: one gets it, the other
/// is told `Overflow` and the sticky flag is set.
#[test]
fn users_two_joiners_for_the_last_word_one_overflows() {
    model_bounded(2, || {
        let mem = Arc::new(ring_memory(2));
        let ring = MpmcRing::<u64>::init(mem.region(), RingConfig::new(2)).unwrap();
        for i in 0..USER_WORDS - 1 {
            ring.join(Holder::new(100 + i as u32).unwrap(), |_| true);
        }
        let joiners: Vec<_> = [1, 2]
            .into_iter()
            .map(|holder| thread::spawn(move || ring.join(Holder::new(holder).unwrap(), |_| true)))
            .collect();
        let mut slots: Vec<_> = joiners.into_iter().map(|j| j.join().unwrap()).collect();
        slots.sort_by_key(|s| *s == UserSlot::Overflow);
        assert_eq!(slots, [UserSlot::Word(USER_WORDS - 1), UserSlot::Overflow]);
        assert!(ring.users().overflow);
        drop(mem);
    });
}
