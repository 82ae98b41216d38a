//! The named block pool between real processes: a publisher lends 1 MiB
//! blocks and sends the handles of 100 000 samples to four subscriber
//! processes over SPSC channels; a subscriber killed while holding samples gives its blocks
//! back; forged and stale handles are refused in another process.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{unique_name, Words};

use interlink_core::pool::{Handle, HandleError, LoanError, Recipient};
use interlink_core::RingConfig;
use interlink_linux::channel::pool::PoolChannel;
use interlink_linux::channel::{ChannelOptions, SpscChannel};
use interlink_linux::process::{fork, Child, Exit};

const MIB: u32 = 1 << 20;
const WAIT: Duration = Duration::from_secs(20);

/// Words of a sample the publisher writes and every subscriber checks,
/// besides the header: a sample of the block, at offsets that change
/// with each sequence number, so that a subscriber reading another
/// sample's block (or a stale one) fails the check without the test
/// writing and reading the whole MiB each time.
const PROBES: u64 = 8;

/// A 64-bit mix (splitmix64's finaliser).
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The byte offset of probe `k` of sample `seq` in a block of `n` bytes
/// (8-byte aligned, past the 16-byte header, before the last 8 bytes).
fn probe_at(seq: u64, k: u64, n: usize) -> usize {
    let words = (n / 8 - 3) as u64;
    16 + (mix(seq.wrapping_mul(PROBES).wrapping_add(k)) % words) as usize * 8
}

/// The value of probe `k` of sample `seq`.
fn probe_value(seq: u64, k: u64) -> u64 {
    mix(!seq ^ (k << 56))
}

/// Stamps a sample: its sequence number and a checksum of the probes in
/// the first 16 bytes, the probes, and the sequence number again in the
/// last 8 bytes.
fn stamp(block: &mut [u8], seq: u64) {
    let n = block.len();
    let mut sum = 0u64;
    for k in 0..PROBES {
        let (at, v) = (probe_at(seq, k, n), probe_value(seq, k));
        block[at..at + 8].copy_from_slice(&v.to_le_bytes());
        sum = sum.rotate_left(7) ^ v;
    }
    block[..8].copy_from_slice(&seq.to_le_bytes());
    block[8..16].copy_from_slice(&sum.to_le_bytes());
    block[n - 8..].copy_from_slice(&seq.to_le_bytes());
}

/// The sequence number of a sample, if its stamp is intact: both copies
/// of the sequence number agree, every probe reads what the publisher
/// wrote for that number, and the checksum matches (probes can overlap:
/// the later write wins on both sides).
fn stamped(bytes: &[u8]) -> Option<u64> {
    let n = bytes.len();
    let word = |at: usize| Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?));
    let seq = word(0)?;
    if n < 48 || word(n - 8)? != seq {
        return None;
    }
    let mut sum = 0u64;
    let mut expected = [0u64; PROBES as usize];
    for k in 0..PROBES {
        expected[k as usize] = probe_value(seq, k);
        sum = sum.rotate_left(7) ^ expected[k as usize];
    }
    if word(8)? != sum {
        return None;
    }
    // A probe overwritten by a later one at the same offset reads the
    // later value.
    for k in 0..PROBES {
        let at = probe_at(seq, k, n);
        let last = (k..PROBES)
            .rev()
            .find(|&j| probe_at(seq, j, n) == at)
            .unwrap_or(k);
        if word(at)? != expected[last as usize] {
            return None;
        }
    }
    Some(seq)
}

/// Samples in the four-subscriber run: the 100 000 (about 3 s in
/// a debug build; `INTERLINK_POOL_SAMPLES` overrides it, e.g. for a
/// longer soak).
fn samples() -> u64 {
    std::env::var("INTERLINK_POOL_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000)
}

/// Forks a subscriber: opens the pool and its handle channel by name,
/// accepts `count` samples and checks that they arrive in order, 0, 1, …
/// (`first` on). With `keep`, it holds every sample it accepts (never
/// releasing) and then sleeps until killed. Counts accepted samples in
/// `words[slot]`.
fn subscriber<const SIZE: u32>(
    pool: &str,
    channel: &str,
    count: u64,
    keep: bool,
    words: &Words,
    slot: usize,
) -> Child {
    let (pool, channel) = (pool.to_owned(), channel.to_owned());
    fork(move || {
        let options = ChannelOptions::new();
        let Ok(pool) = PoolChannel::<SIZE>::open(&pool, &options) else {
            return 10;
        };
        let Ok(handles) = SpscChannel::<Handle>::open(&channel, &options) else {
            return 11;
        };
        let (Ok(p), Ok(mut rx)) = (pool.pool(), handles.receiver()) else {
            return 12;
        };
        let mut kept = Vec::new();
        for seq in 0..count {
            let Ok(h) = rx.recv_timeout(WAIT) else {
                return 13;
            };
            let Ok(sample) = p.accept(&h) else {
                return 14;
            };
            if stamped(sample.as_slice()) != Some(seq) {
                return 15;
            }
            words.get(slot).fetch_add(1, Ordering::Release);
            if keep {
                kept.push(sample);
            }
        }
        if keep {
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        0
    })
    .unwrap()
}

/// One publisher, four subscriber processes, 1 MiB samples: each sample
/// is written once, shared with every subscriber (a reference addressed
/// to each), and its handle sent over each subscriber's SPSC channel; the
/// block returns to the pool when the last subscriber drops it. Every
/// subscriber sees every sample, in order, with its stamps intact, and at
/// the end every block is free.
#[test]
fn one_publisher_four_subscribers_share_1mib_samples() {
    const SUBSCRIBERS: usize = 4;
    let samples = samples();
    let options = ChannelOptions::new();
    let pool_name = unique_name("pool-fanout");
    let pool = PoolChannel::<MIB>::create(&pool_name, RingConfig::new(16), &options).unwrap();
    let p = pool.pool().unwrap();
    let names: Vec<String> = (0..SUBSCRIBERS)
        .map(|i| unique_name(&format!("pool-fanout-h{i}")))
        .collect();
    let channels: Vec<_> = names
        .iter()
        .map(|n| SpscChannel::<Handle>::create(n, RingConfig::new(8), &options).unwrap())
        .collect();
    let mut txs: Vec<_> = channels.iter().map(|c| c.sender().unwrap()).collect();
    let words = Words::new(SUBSCRIBERS);
    let subs: Vec<Child> = names
        .iter()
        .enumerate()
        .map(|(i, n)| subscriber::<MIB>(&pool_name, n, samples, false, &words, i))
        .collect();
    let start = Instant::now();
    for seq in 0..samples {
        let mut loan = p.loan_timeout(WAIT).unwrap();
        stamp(loan.as_mut_slice(), seq);
        loan.publish(MIB).unwrap();
        for (sub, tx) in subs.iter().zip(&mut txs) {
            let h = loan.share(Recipient::Holder(sub.holder())).unwrap();
            tx.send_timeout(h, WAIT).unwrap();
        }
    }
    let elapsed = start.elapsed();
    for sub in subs {
        assert_eq!(sub.wait().unwrap(), Exit::Code(0));
    }
    for i in 0..SUBSCRIBERS {
        assert_eq!(words.get(i).load(Ordering::Acquire) as u64, samples);
    }
    assert_eq!(p.pool().census().free, 16);
    println!(
        "{samples} samples of 1 MiB to {SUBSCRIBERS} subscribers in {elapsed:?} ({:?} a sample)",
        elapsed / samples.max(1) as u32
    );
}

/// Subscriber A accepts every sample and never releases one; subscriber B
/// releases each at once. The pool runs dry, and the exhaustion error
/// names A as the holder of every block. A is SIGKILLed: the publisher's
/// next waiting loan takes A's blocks back (its accepted samples and the
/// references still queued for it) and publishing to B goes on.
#[test]
fn a_killed_subscriber_gives_its_blocks_back() {
    const BLOCKS: u32 = 8;
    const SIZE: u32 = 64 * 1024;
    const AFTER: u64 = 200;
    let options = ChannelOptions::new();
    let pool_name = unique_name("pool-kill");
    let pool = PoolChannel::<SIZE>::create(&pool_name, RingConfig::new(BLOCKS), &options).unwrap();
    let p = pool.pool().unwrap();
    let (na, nb) = (unique_name("pool-kill-a"), unique_name("pool-kill-b"));
    let config = RingConfig::new(16);
    let ca = SpscChannel::<Handle>::create(&na, config, &options).unwrap();
    let cb = SpscChannel::<Handle>::create(&nb, config, &options).unwrap();
    let (mut ta, mut tb) = (ca.sender().unwrap(), cb.sender().unwrap());
    let words = Words::new(2);
    let a = subscriber::<SIZE>(&pool_name, &na, u64::MAX, true, &words, 0);
    let b = subscriber::<SIZE>(&pool_name, &nb, BLOCKS as u64 + AFTER, false, &words, 1);

    // Publish to both until the pool runs dry.
    let mut seq = 0u64;
    loop {
        match p.try_loan() {
            Ok(mut loan) => {
                stamp(loan.as_mut_slice(), seq);
                loan.publish(SIZE).unwrap();
                let h = loan.share(Recipient::Holder(a.holder())).unwrap();
                ta.send_timeout(h, WAIT).unwrap();
                loan.share(Recipient::Holder(b.holder())).unwrap();
                tb.send_timeout(h, WAIT).unwrap();
                seq += 1;
            }
            Err(LoanError::Exhausted(_)) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(seq, BLOCKS as u64);
    // Once B has dropped its samples, A holds every block, and says so.
    let deadline = Instant::now() + WAIT;
    loop {
        match p.try_loan() {
            Err(LoanError::Exhausted(e)) if e.top_holder == a.pid() && e.top_count == BLOCKS => {
                assert_eq!(e.held, BLOCKS);
                break;
            }
            Err(LoanError::Exhausted(e)) => {
                assert!(Instant::now() < deadline, "never all A's: {e}");
                std::thread::sleep(Duration::from_millis(1));
            }
            other => panic!("{other:?}"),
        }
    }
    // A blocking loan times out while A lives, naming A.
    match p.loan_timeout(Duration::from_millis(50)) {
        Err(LoanError::TimedOut(e)) => assert_eq!(e.top_holder, a.pid()),
        other => panic!("{other:?}"),
    }
    a.signal(libc::SIGKILL).unwrap();
    assert_eq!(a.wait().unwrap(), Exit::Signal(libc::SIGKILL));
    // The publisher goes on with B alone: its loans take A's blocks back.
    for _ in 0..AFTER {
        let mut loan = p.loan_timeout(WAIT).unwrap();
        stamp(loan.as_mut_slice(), seq);
        let h = loan.hand_off(SIZE, Recipient::Holder(b.holder())).unwrap();
        tb.send_timeout(h, WAIT).unwrap();
        seq += 1;
    }
    assert_eq!(b.wait().unwrap(), Exit::Code(0));
    assert_eq!(words.get(1).load(Ordering::Acquire) as u64, seq);
    p.gc();
    assert_eq!(p.pool().census().free, BLOCKS);
}

/// Another process receives handles over a channel and checks each use:
/// a forged index, a forged generation and a forged length are refused,
/// a valid handle is accepted once (the second accept finds nothing
/// shared), and once its block has been released and lent again the same
/// handle is stale.
#[test]
fn forged_and_stale_handles_are_refused_in_another_process() {
    const SIZE: u32 = 4096;
    let options = ChannelOptions::new();
    let pool_name = unique_name("pool-forged");
    let pool = PoolChannel::<SIZE>::create(&pool_name, RingConfig::new(2), &options).unwrap();
    let p = pool.pool().unwrap();
    let hn = unique_name("pool-forged-h");
    let handles = SpscChannel::<Handle>::create(&hn, RingConfig::new(8), &options).unwrap();
    let mut tx = handles.sender().unwrap();
    let words = Words::new(1);
    let child = {
        let (pool_name, hn) = (pool_name.clone(), hn.clone());
        let words = &words;
        fork(move || {
            let options = ChannelOptions::new();
            let pool = PoolChannel::<SIZE>::open(&pool_name, &options).unwrap();
            let handles = SpscChannel::<Handle>::open(&hn, &options).unwrap();
            let (p, mut rx) = (pool.pool().unwrap(), handles.receiver().unwrap());
            let mut next = || rx.recv_timeout(WAIT).unwrap();
            if !matches!(p.accept(&next()), Err(HandleError::OutOfRange { .. })) {
                return 1;
            }
            if !matches!(p.accept(&next()), Err(HandleError::Stale { .. })) {
                return 2;
            }
            if !matches!(p.accept(&next()), Err(HandleError::BadLength { .. })) {
                return 3;
            }
            let good = next();
            let Ok(sample) = p.accept(&good) else {
                return 4;
            };
            if sample.as_slice() != b"genuine" {
                return 5;
            }
            if !matches!(p.accept(&good), Err(HandleError::NotShared)) {
                return 6;
            }
            drop(sample);
            if p.release(&good) != Err(HandleError::NotHeld { holder: p.holder() }) {
                return 7;
            }
            // Tell the parent, and wait for it to lend the block again.
            words.get(0).store(1, Ordering::Release);
            let _relent = next();
            if !matches!(p.accept(&good), Err(HandleError::Stale { .. })) {
                return 8;
            }
            0
        })
        .unwrap()
    };
    let mut loan = p.try_loan().unwrap();
    loan.as_mut_slice()[..7].copy_from_slice(b"genuine");
    let good = loan.publish(7).unwrap();
    loan.share(Recipient::Holder(child.holder())).unwrap();
    drop(loan);
    for forged in [
        Handle { index: 7, ..good },
        Handle {
            generation: good.generation + 1,
            ..good
        },
        Handle { len: 6, ..good },
        good,
    ] {
        tx.send_timeout(forged, WAIT).unwrap();
    }
    let deadline = Instant::now() + WAIT;
    while words.get(0).load(Ordering::Acquire) == 0 {
        assert!(Instant::now() < deadline, "the child never got that far");
        std::thread::sleep(Duration::from_millis(1));
    }
    // Lend both blocks: one of them is the old handle's, in a new life.
    let a = p.try_loan().unwrap();
    let b = p.try_loan().unwrap();
    assert!(a.index() == good.index || b.index() == good.index);
    tx.send_timeout(a.handle(), WAIT).unwrap();
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
}

/// A pool in a sealed memfd works as a named one (single process: the
/// descriptor handed over is covered by the channels' sealed tests).
#[test]
fn a_sealed_pool_lends_and_accepts() {
    let options = ChannelOptions::new();
    let pool = PoolChannel::<4096>::create_sealed("frames", RingConfig::new(4), &options).unwrap();
    assert!(pool.sealed_fd().is_some());
    let p = pool.pool().unwrap();
    let mut loan = p.try_loan().unwrap();
    loan.as_mut_slice()[..2].copy_from_slice(b"ok");
    let h = loan.hand_off(2, Recipient::Anyone).unwrap();
    assert_eq!(p.accept(&h).unwrap().as_slice(), b"ok");
    assert_eq!(p.pool().census().free, 4);
}

/// The subscribers' check catches a block that is not the sample it
/// claims to be: a probe or the checksum changed, or the two sequence
/// numbers disagree.
#[test]
fn the_stamp_tells_samples_apart() {
    let mut block = vec![0u8; 4096];
    stamp(&mut block, 3);
    assert_eq!(stamped(&block), Some(3));
    let at = probe_at(3, 5, block.len());
    block[at] ^= 1;
    assert_eq!(stamped(&block), None);
    stamp(&mut block, 3);
    block[8] ^= 1;
    assert_eq!(stamped(&block), None);
    stamp(&mut block, 3);
    block[..8].copy_from_slice(&4u64.to_le_bytes());
    assert_eq!(stamped(&block), None);
}
