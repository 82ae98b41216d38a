//! The block pool with each ring kind between processes (SPSC is in
//! `pool_processes.rs`): handles over an MPMC channel to competing
//! workers, over a core fan-out ring to every subscriber, over a named
//! broadcast channel to every reader; size classes ([`PoolSetHandle`])
//! between processes; huge pages on request.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{unique_name, Words};

use interlink_core::broadcast::Start;
use interlink_core::fanout::FanoutRing;
use interlink_core::pool::{Handle, HandleError, LoanError, Recipient};
use interlink_core::{RecvError, RingConfig, SendError};
use interlink_linux::channel::pool::{HugePages, PoolChannel, PoolSetHandle};
use interlink_linux::channel::SpscChannel;
use interlink_linux::channel::{BroadcastChannel, ChannelError, ChannelOptions, MpmcChannel};
use interlink_linux::process::{self, fork, Child, Exit};
use interlink_linux::shm::{Mapping, ShmError};

const WAIT: Duration = Duration::from_secs(20);
const SIZE: u32 = 4096;
const BLOCKS: u32 = 8;

fn stamp(block: &mut [u8], seq: u64) {
    let n = block.len();
    block[..8].copy_from_slice(&seq.to_le_bytes());
    block[n - 8..].copy_from_slice(&seq.to_le_bytes());
}

fn stamped(bytes: &[u8]) -> Option<u64> {
    let n = bytes.len();
    let first = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    let last = u64::from_le_bytes(bytes.get(n.checked_sub(8)?..)?.try_into().ok()?);
    (first == last).then_some(first)
}

fn encode(h: &Handle) -> [u8; 12] {
    let mut b = [0u8; 12];
    b[..4].copy_from_slice(&h.index.to_le_bytes());
    b[4..8].copy_from_slice(&h.generation.to_le_bytes());
    b[8..].copy_from_slice(&h.len.to_le_bytes());
    b
}

fn decode(b: &[u8]) -> Option<Handle> {
    let w = |i: usize| Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?));
    Some(Handle {
        index: w(0)?,
        generation: w(4)?,
        len: w(8)?,
    })
}

/// Waits until word `i` reaches `n`.
fn wait_for(words: &Words, i: usize, n: u32) {
    let deadline = Instant::now() + WAIT;
    while words.get(i).load(Ordering::Acquire) < n {
        assert!(Instant::now() < deadline, "word {i} never reached {n}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// MPMC: the publisher hands each sample to whichever of two worker
/// processes takes its handle first (`Recipient::Anyone`); together they
/// see every sample exactly once, and every block comes back.
#[test]
fn pool_handles_cross_an_mpmc_channel_between_processes() {
    const SAMPLES: u64 = 2000;
    const WORKERS: usize = 2;
    let options = ChannelOptions::new();
    let (pn, qn) = (unique_name("pool-mpmc"), unique_name("pool-mpmc-q"));
    let pool = PoolChannel::<SIZE>::create(&pn, RingConfig::new(BLOCKS), &options).unwrap();
    let queue = MpmcChannel::<Handle>::create(&qn, RingConfig::new(16), &options).unwrap();
    let (p, q) = (pool.pool().unwrap(), queue.handle().unwrap());
    // Per worker: samples seen, and the sum of their sequence numbers.
    let words = Words::new(2 * WORKERS);
    let workers: Vec<Child> = (0..WORKERS)
        .map(|w| {
            let (pn, qn, words) = (pn.clone(), qn.clone(), &words);
            fork(move || {
                let options = ChannelOptions::new();
                let (Ok(pool), Ok(queue)) = (
                    PoolChannel::<SIZE>::open(&pn, &options),
                    MpmcChannel::<Handle>::open(&qn, &options),
                ) else {
                    return 10;
                };
                let (Ok(p), Ok(q)) = (pool.pool(), queue.handle()) else {
                    return 11;
                };
                loop {
                    let h = match q.recv_timeout(WAIT) {
                        Ok(h) => h,
                        Err(_) => return 12,
                    };
                    if h.len == 0 {
                        return 0; // the end
                    }
                    let Ok(sample) = p.accept(&h) else {
                        return 13;
                    };
                    let Some(seq) = stamped(sample.as_slice()) else {
                        return 14;
                    };
                    words.get(2 * w).fetch_add(1, Ordering::AcqRel);
                    words.get(2 * w + 1).fetch_add(seq as u32, Ordering::AcqRel);
                }
            })
            .unwrap()
        })
        .collect();
    for seq in 0..SAMPLES {
        let mut loan = p.loan_timeout(WAIT).unwrap();
        stamp(loan.as_mut_slice(), seq);
        let h = loan.hand_off(SIZE, Recipient::Anyone).unwrap();
        q.send_timeout(h, WAIT).unwrap();
    }
    for _ in 0..WORKERS {
        let end = Handle {
            index: 0,
            generation: 0,
            len: 0,
        };
        q.send_timeout(end, WAIT).unwrap();
    }
    for w in workers {
        assert_eq!(w.wait().unwrap(), Exit::Code(0));
    }
    let count: u32 = (0..WORKERS)
        .map(|w| words.get(2 * w).load(Ordering::Acquire))
        .sum();
    let sum: u64 = (0..WORKERS)
        .map(|w| words.get(2 * w + 1).load(Ordering::Acquire) as u64)
        .sum();
    assert_eq!(count as u64, SAMPLES);
    assert_eq!(sum, SAMPLES * (SAMPLES - 1) / 2, "each sample exactly once");
    assert_eq!(p.pool().census().free, BLOCKS);
}

/// Fan-out: a core `FanoutRing` of handles in a shared mapping; the
/// publisher shares each sample with every subscriber process (a
/// reference addressed to each) and writes its handle once; every
/// subscriber receives every handle, in order, and reads the sample.
#[test]
fn pool_handles_cross_a_fanout_ring_between_processes() {
    const SAMPLES: u64 = 1000;
    const SUBSCRIBERS: usize = 3;
    let options = ChannelOptions::new();
    let pn = unique_name("pool-fanout-ring");
    let pool = PoolChannel::<SIZE>::create(&pn, RingConfig::new(BLOCKS), &options).unwrap();
    let p = pool.pool().unwrap();
    let config = RingConfig::new(16);
    let mapping = Mapping::anonymous(FanoutRing::<Handle>::bytes_needed(16).unwrap()).unwrap();
    let ring = FanoutRing::<Handle>::init(mapping.region(), config).unwrap();
    let words = Words::new(SUBSCRIBERS + 1);
    let subs: Vec<Child> = (0..SUBSCRIBERS)
        .map(|i| {
            let (pn, words, mapping) = (pn.clone(), &words, &mapping);
            fork(move || {
                let Ok(ring) = FanoutRing::<Handle>::attach(mapping.region()) else {
                    return 10;
                };
                let Ok(mut rx) = ring.subscribe(process::holder(), |_| true) else {
                    return 11;
                };
                let Ok(pool) = PoolChannel::<SIZE>::open(&pn, &ChannelOptions::new()) else {
                    return 12;
                };
                let Ok(p) = pool.pool() else {
                    return 13;
                };
                words.get(SUBSCRIBERS).fetch_add(1, Ordering::AcqRel);
                let deadline = Instant::now() + WAIT;
                for seq in 0..SAMPLES {
                    let h = loop {
                        match rx.try_recv() {
                            Ok(h) => break h,
                            Err(RecvError::Empty) if Instant::now() < deadline => {
                                std::thread::yield_now()
                            }
                            Err(_) => return 14,
                        }
                    };
                    let Ok(sample) = p.accept(&h) else {
                        return 15;
                    };
                    if stamped(sample.as_slice()) != Some(seq) {
                        return 16;
                    }
                    words.get(i).fetch_add(1, Ordering::AcqRel);
                }
                0
            })
            .unwrap()
        })
        .collect();
    wait_for(&words, SUBSCRIBERS, SUBSCRIBERS as u32);
    let mut tx = ring.writer(process::holder()).unwrap();
    let deadline = Instant::now() + WAIT;
    for seq in 0..SAMPLES {
        let mut loan = p.loan_timeout(WAIT).unwrap();
        stamp(loan.as_mut_slice(), seq);
        let mut h = loan.publish(SIZE).unwrap();
        for sub in &subs {
            h = loan.share(Recipient::Holder(sub.holder())).unwrap();
        }
        drop(loan);
        loop {
            match tx.try_send(h) {
                Ok(()) => break,
                Err(SendError::Full) if Instant::now() < deadline => std::thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
        }
    }
    for sub in subs {
        assert_eq!(sub.wait().unwrap(), Exit::Code(0));
    }
    for i in 0..SUBSCRIBERS {
        assert_eq!(words.get(i).load(Ordering::Acquire) as u64, SAMPLES);
    }
    assert_eq!(p.pool().census().free, BLOCKS);
}

/// Broadcast: a named `BroadcastChannel` carries each handle (12 bytes)
/// once to every reader process; each sample is shared with every reader
/// before its handle is written, so the pool's exhaustion paces the
/// publisher to the slowest reader and the ring (room for far more than
/// `BLOCKS` handles) never laps one.
#[test]
fn pool_handles_cross_a_broadcast_channel_between_processes() {
    const SAMPLES: u64 = 1000;
    const READERS: usize = 2;
    let options = ChannelOptions::new();
    let (pn, bn) = (unique_name("pool-bcast"), unique_name("pool-bcast-feed"));
    let pool = PoolChannel::<SIZE>::create(&pn, RingConfig::new(BLOCKS), &options).unwrap();
    let p = pool.pool().unwrap();
    let feed = BroadcastChannel::create(&bn, RingConfig::new(1 << 14), &options).unwrap();
    let mut tx = feed.writer().unwrap();
    let words = Words::new(READERS + 1);
    let readers: Vec<Child> = (0..READERS)
        .map(|i| {
            let (pn, bn, words) = (pn.clone(), bn.clone(), &words);
            fork(move || {
                let options = ChannelOptions::new();
                let (Ok(pool), Ok(feed)) = (
                    PoolChannel::<SIZE>::open(&pn, &options),
                    BroadcastChannel::open_read_only(&bn, &options),
                ) else {
                    return 10;
                };
                let (Ok(p), Ok(mut rx)) = (pool.pool(), feed.reader(Start::Oldest)) else {
                    return 11;
                };
                words.get(READERS).fetch_add(1, Ordering::AcqRel);
                let mut buf = [0u8; 64];
                for seq in 0..SAMPLES {
                    let Ok((_, len)) = rx.recv_timeout(&mut buf, WAIT) else {
                        return 12;
                    };
                    let Some(h) = decode(&buf[..len]) else {
                        return 13;
                    };
                    let Ok(sample) = p.accept(&h) else {
                        return 14;
                    };
                    if stamped(sample.as_slice()) != Some(seq) {
                        return 15;
                    }
                    words.get(i).fetch_add(1, Ordering::AcqRel);
                }
                0
            })
            .unwrap()
        })
        .collect();
    wait_for(&words, READERS, READERS as u32);
    for seq in 0..SAMPLES {
        let mut loan = p.loan_timeout(WAIT).unwrap();
        stamp(loan.as_mut_slice(), seq);
        let mut h = loan.publish(SIZE).unwrap();
        for r in &readers {
            h = loan.share(Recipient::Holder(r.holder())).unwrap();
        }
        drop(loan);
        tx.send(0, &encode(&h)).unwrap();
    }
    for r in readers {
        assert_eq!(r.wait().unwrap(), Exit::Code(0));
    }
    for i in 0..READERS {
        assert_eq!(words.get(i).load(Ordering::Acquire) as u64, SAMPLES);
    }
    assert_eq!(p.pool().census().free, BLOCKS);
}

/// Size classes between processes: the publisher's set and the
/// subscriber's are built from the same two named pools in opposite
/// orders and agree on the classes; loans of mixed sizes come from the
/// smallest class that fits, their handles carry the class, and a handle
/// with a class past the set is refused in the subscriber.
#[test]
fn size_classes_between_processes() {
    const SMALL: u32 = 4096;
    const LARGE: u32 = 1 << 20;
    const SAMPLES: u64 = 400;
    let options = ChannelOptions::new();
    let (sn, ln, hn) = (
        unique_name("pool-set-s"),
        unique_name("pool-set-l"),
        unique_name("pool-set-h"),
    );
    let small = PoolChannel::<SMALL>::create(&sn, RingConfig::new(8), &options).unwrap();
    let large = PoolChannel::<LARGE>::create(&ln, RingConfig::new(4), &options).unwrap();
    let handles = SpscChannel::<Handle>::create(&hn, RingConfig::new(8), &options).unwrap();
    let set = PoolSetHandle::new([small.pool().unwrap(), large.pool().unwrap()]).unwrap();
    let mut tx = handles.sender().unwrap();
    let len_of = |seq: u64| {
        if seq.is_multiple_of(3) {
            300_000
        } else {
            100 + seq as u32
        }
    };
    let child = {
        let (sn, ln, hn) = (sn.clone(), ln.clone(), hn.clone());
        fork(move || {
            let options = ChannelOptions::new();
            let (Ok(small), Ok(large), Ok(handles)) = (
                PoolChannel::<SMALL>::open(&sn, &options),
                PoolChannel::<LARGE>::open(&ln, &options),
                SpscChannel::<Handle>::open(&hn, &options),
            ) else {
                return 10;
            };
            let (Ok(s), Ok(l), Ok(mut rx)) = (small.pool(), large.pool(), handles.receiver())
            else {
                return 11;
            };
            // The other order: the set sorts its classes.
            let Ok(set) = PoolSetHandle::new([l, s]) else {
                return 12;
            };
            let forged = match rx.recv_timeout(WAIT) {
                Ok(h) => h,
                Err(_) => return 13,
            };
            if !matches!(
                set.accept(&forged),
                Err(HandleError::NoClass { class: 2, .. })
            ) {
                return 14;
            }
            for seq in 0..SAMPLES {
                let Ok(h) = rx.recv_timeout(WAIT) else {
                    return 15;
                };
                let Ok(sample) = set.accept(&h) else {
                    return 16;
                };
                let want_class = usize::from(len_of(seq) > SMALL);
                if sample.class() != want_class || sample.len() != len_of(seq) as usize {
                    return 17;
                }
                if stamped(sample.as_slice()) != Some(seq) {
                    return 18;
                }
            }
            0
        })
        .unwrap()
    };
    let forged = Handle {
        index: 2 << 24,
        generation: 1,
        len: 1,
    };
    tx.send_timeout(forged, WAIT).unwrap();
    for seq in 0..SAMPLES {
        let len = len_of(seq);
        let mut loan = set.loan_timeout(len, WAIT).unwrap();
        assert_eq!(loan.class(), usize::from(len > SMALL));
        stamp(&mut loan.as_mut_slice()[..len as usize], seq);
        let h = loan
            .hand_off(len, Recipient::Holder(child.holder()))
            .unwrap();
        tx.send_timeout(h, WAIT).unwrap();
    }
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
    assert!(matches!(
        set.try_loan(LARGE + 1),
        Err(LoanError::TooLarge { .. })
    ));
    let classes = set.set();
    assert_eq!(classes.classes()[0].census().free, 8);
    assert_eq!(classes.classes()[1].census().free, 4);
}

/// Free huge pages of the default size, from `/proc/meminfo` (0 if
/// unreadable), and their size in bytes.
fn free_huge_pages() -> (u64, u64) {
    let info = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|r| r.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("HugePages_Free:"), field("Hugepagesize:") * 1024)
}

fn lend_and_accept(p: &interlink_linux::channel::pool::PoolHandle<'_>) {
    let mut loan = p.try_loan().unwrap();
    loan.as_mut_slice()[..4].copy_from_slice(b"huge");
    let h = loan.hand_off(4, Recipient::Anyone).unwrap();
    assert_eq!(p.accept(&h).unwrap().as_slice(), b"huge");
}

/// Transparent huge pages always work (the advice is best effort): a
/// named and a sealed pool are created, lend and accept, and an opener
/// may advise its own mapping. How much the kernel backs with huge pages
/// depends on its policy (`shmem_enabled`): only readable, not asserted.
#[test]
fn transparent_huge_pages_always_work() {
    const MIB2: u32 = 2 << 20;
    let options = ChannelOptions::new();
    let name = unique_name("pool-thp");
    let pool = PoolChannel::<MIB2>::create_huge(
        &name,
        RingConfig::new(2),
        &options,
        HugePages::Transparent,
    )
    .unwrap();
    lend_and_accept(&pool.pool().unwrap());
    assert!(pool.huge_page_bytes().is_some());
    let opened = PoolChannel::<MIB2>::open(&name, &options).unwrap();
    opened.advise_huge_pages();
    lend_and_accept(&opened.pool().unwrap());
    let sealed = PoolChannel::<MIB2>::create_sealed_huge(
        "thp",
        RingConfig::new(2),
        &options,
        HugePages::Transparent,
    )
    .unwrap();
    lend_and_accept(&sealed.pool().unwrap());
    println!(
        "transparent huge pages backing 4 MiB of blocks: named {:?} bytes, sealed {:?} bytes",
        pool.huge_page_bytes(),
        sealed.huge_page_bytes()
    );
}

/// Explicit huge pages: with none free, creating fails with the typed
/// `ShmError::HugePages`; with enough free, the pool is backed by them
/// and a peer opens its descriptor. A named pool cannot have them (tmpfs):
/// the same typed error, `EINVAL`, on any machine.
#[test]
fn required_huge_pages_work_or_fail_with_a_typed_error() {
    const BLOCK: u32 = 1 << 20;
    let options = ChannelOptions::new();
    let config = RingConfig::new(3);
    match PoolChannel::<BLOCK>::create_huge(
        &unique_name("pool-hugetlb-named"),
        config,
        &options,
        HugePages::Required,
    ) {
        Err(ChannelError::Shm(ShmError::HugePages { errno, .. })) => {
            assert_eq!(errno, libc::EINVAL)
        }
        other => panic!("{other:?}"),
    }
    let (free, page) = free_huge_pages();
    let bytes = interlink_core::pool::Pool::bytes_needed(3, BLOCK).unwrap() as u64;
    let pages = if page == 0 {
        u64::MAX
    } else {
        bytes.div_ceil(page)
    };
    let got =
        PoolChannel::<BLOCK>::create_sealed_huge("hugetlb", config, &options, HugePages::Required);
    println!("free huge pages {free} of {page} bytes; {pages} needed: {got:?}");
    if free == 0 {
        match got {
            Err(ChannelError::Shm(ShmError::HugePages { .. })) => {}
            other => panic!("no huge page is free, yet {other:?}"),
        }
    } else if free >= pages {
        let pool = got.unwrap();
        lend_and_accept(&pool.pool().unwrap());
        assert!(pool.huge_page_bytes().unwrap_or(0) > 0);
        // A peer makes its channel of the descriptor (sized in whole
        // huge pages).
        let fd = pool.sealed_fd().unwrap().try_clone_to_owned().unwrap();
        let peer = PoolChannel::<BLOCK>::from_sealed_fd(fd, &options).unwrap();
        lend_and_accept(&peer.pool().unwrap());
    }
    // In between (some free, too few) either outcome is fine.
}
