use core::time::Duration;

use super::*;
use crate::foundation::holder::Holder;
use crate::test_util::{AlignedBuf, Rng, TestWait};
use crate::wait::blocking::Blocking;

const LENDER: Holder = Holder::fixed::<10>();
const READER: Holder = Holder::fixed::<20>();

/// The holder with id `id` (nonzero, at most `Holder::MAX`).
fn holder(id: u32) -> Holder {
    Holder::new(id).unwrap()
}

fn pool_buf(blocks: u32, block_size: u32) -> AlignedBuf {
    AlignedBuf::new(Pool::bytes_needed(blocks, block_size).unwrap())
}

#[test]
fn loan_write_hand_off_accept_release() {
    let buf = pool_buf(4, 100);
    let pool = Pool::init(buf.region(), PoolConfig::new(4, 100)).unwrap();
    assert_eq!(pool.census().free, 4);
    let mut loan = pool.try_loan(LENDER).unwrap();
    assert_eq!(loan.capacity(), 100);
    assert_eq!(loan.as_mut_slice().len(), 100);
    assert!(loan.write_at(0, b"hello pool"));
    assert!(!loan.write_at(95, b"too long"));
    let h = loan.hand_off(10, Recipient::Anyone).unwrap();
    assert_eq!(pool.census().in_flight, 1);
    assert_eq!(pool.census().free, 3);
    let sample = pool.accept(&h, READER).unwrap();
    assert_eq!(sample.as_slice(), b"hello pool");
    let mut out = [0u8; 4];
    assert_eq!(sample.read_at(6, &mut out), 4);
    assert_eq!(&out, b"pool");
    assert_eq!(sample.read_at(10, &mut out), 0);
    drop(sample);
    assert_eq!(pool.census().free, 4);
    assert_eq!(pool.census().references, 0);
}

#[test]
fn blocks_are_aligned_and_inside_the_region() {
    for (blocks, size) in [(1, 1), (3, 65), (5, 4096), (2, 100_000)] {
        let buf = pool_buf(blocks, size);
        let pool = Pool::init(buf.region(), PoolConfig::new(blocks, size)).unwrap();
        let base = buf.ptr() as usize;
        let total = Pool::bytes_needed(blocks, size).unwrap();
        let mut loans = std::vec::Vec::new();
        for _ in 0..blocks {
            let mut l = pool.try_loan(LENDER).unwrap();
            let s = l.as_mut_slice();
            let at = s.as_ptr() as usize;
            assert_eq!(at % BLOCK_ALIGN, 0);
            assert!(at >= base + 256 && at + s.len() <= base + total);
            s.fill(0xAB);
            loans.push(l);
        }
        assert!(matches!(
            pool.try_loan(LENDER),
            Err(LoanError::Exhausted(_))
        ));
    }
}

#[test]
fn fan_out_frees_the_block_after_the_last_reader() {
    let buf = pool_buf(1, 64);
    let pool = Pool::init(buf.region(), PoolConfig::new(1, 64)).unwrap();
    let mut loan = pool.try_loan(LENDER).unwrap();
    loan.as_mut_slice()[0] = 7;
    let h = loan.publish(1).unwrap();
    for r in [21, 22, 23] {
        loan.share(Recipient::Holder(holder(r))).unwrap();
    }
    drop(loan);
    assert_eq!(pool.census().addressed, 3);
    // Not addressed to 24: nothing to accept.
    assert_eq!(
        pool.accept(&h, holder(24)).unwrap_err(),
        HandleError::NotShared
    );
    let a = pool.accept(&h, holder(21)).unwrap();
    let b = pool.accept(&h, holder(22)).unwrap();
    // The same reference accepted twice.
    assert_eq!(
        pool.accept(&h, holder(21)).unwrap_err(),
        HandleError::NotShared
    );
    let c = pool.accept(&h, holder(23)).unwrap();
    assert_eq!(
        (a.as_slice(), b.as_slice(), c.as_slice()),
        (&[7][..], &[7][..], &[7][..])
    );
    drop(a);
    drop(c);
    assert!(matches!(
        pool.try_loan(LENDER),
        Err(LoanError::Exhausted(_))
    ));
    drop(b);
    let again = pool.try_loan(LENDER).unwrap();
    assert_ne!(again.generation(), h.generation);
}

#[test]
fn too_many_readers_is_an_error() {
    let buf = pool_buf(1, 64);
    let pool = Pool::init(buf.region(), PoolConfig::new(1, 64)).unwrap();
    let mut loan = pool.try_loan(LENDER).unwrap();
    loan.publish(0).unwrap();
    for r in 1..HOLDER_WORDS as u32 {
        loan.share(Recipient::Holder(holder(100 + r))).unwrap();
    }
    assert_eq!(
        loan.share(Recipient::Anyone).unwrap_err(),
        HandleError::TooManyHolders
    );
}

#[test]
fn exhaustion_says_who_holds_the_blocks() {
    let buf = pool_buf(5, 64);
    let pool = Pool::init(buf.region(), PoolConfig::new(5, 64)).unwrap();
    let mut kept = std::vec::Vec::new();
    for _ in 0..3 {
        kept.push(pool.try_loan(holder(33)).unwrap());
    }
    kept.push(pool.try_loan(holder(44)).unwrap());
    let l = pool.try_loan(holder(55)).unwrap();
    let _h = l.hand_off(0, Recipient::Anyone).unwrap();
    match pool.try_loan(LENDER) {
        Err(LoanError::Exhausted(e)) => {
            assert_eq!(e.held, 5);
            assert_eq!((e.top_holder, e.top_count), (33, 3));
            assert_eq!(e.in_flight, 1);
            let text = std::format!("{}", LoanError::Exhausted(e));
            assert!(text.contains("holder 33 holds 3"), "{text}");
        }
        other => panic!("{other:?}"),
    };
}

#[test]
fn a_blocking_loan_times_out_with_the_holders_and_wakes_on_release() {
    let buf = pool_buf(1, 64);
    let pool = Pool::init(buf.region(), PoolConfig::new(1, 64)).unwrap();
    let wait = TestWait::default();
    let blocking = Blocking::new(&wait);
    let held = pool.try_loan(holder(33)).unwrap();
    match pool.loan(LENDER, &blocking, Some(Duration::from_millis(20))) {
        Err(LoanError::TimedOut(e)) => assert_eq!((e.top_holder, e.top_count), (33, 1)),
        other => panic!("{other:?}"),
    }
    std::thread::scope(|s| {
        let t = s.spawn(|| {
            pool.loan(LENDER, &blocking, Some(Duration::from_secs(20)))
                .map(|l| l.index())
        });
        std::thread::sleep(Duration::from_millis(5));
        drop(held);
        pool.wake_loaners(&wait);
        assert_eq!(t.join().unwrap(), Ok(0));
    });
}

#[test]
fn stale_forged_and_double_released_handles_are_refused() {
    let buf = pool_buf(2, 64);
    let pool = Pool::init(buf.region(), PoolConfig::new(2, 64)).unwrap();
    let h = pool
        .try_loan(LENDER)
        .unwrap()
        .hand_off(8, Recipient::Holder(READER))
        .unwrap();
    let forged = |f: fn(&mut Handle)| {
        let mut x = h;
        f(&mut x);
        pool.accept(&x, READER).unwrap_err()
    };
    assert_eq!(
        forged(|x| x.index = 2),
        HandleError::OutOfRange {
            index: 2,
            blocks: 2
        }
    );
    assert!(matches!(
        forged(|x| x.index = u32::MAX),
        HandleError::OutOfRange { .. }
    ));
    assert!(matches!(
        forged(|x| x.len = 65),
        HandleError::BadLength { .. }
    ));
    assert!(matches!(
        forged(|x| x.len = 7),
        HandleError::BadLength { expected: 8, .. }
    ));
    assert!(matches!(
        forged(|x| x.generation ^= 1),
        HandleError::Stale { .. }
    ));
    let kept = pool.accept(&h, READER).unwrap().keep();
    pool.release(&kept, READER).unwrap();
    assert_eq!(
        pool.release(&kept, READER),
        Err(HandleError::NotHeld { holder: READER })
    );
    // The block is lent again: the old handle is stale for every use.
    let mut loans = std::vec::Vec::new();
    while let Ok(l) = pool.try_loan(LENDER) {
        loans.push(l);
    }
    let relent = loans.iter().find(|l| l.index() == h.index).unwrap();
    assert_ne!(relent.generation(), h.generation);
    assert!(matches!(
        pool.accept(&h, READER),
        Err(HandleError::Stale { .. })
    ));
    assert!(matches!(
        pool.release(&h, LENDER),
        Err(HandleError::Stale { .. })
    ));
    assert!(matches!(
        pool.share(&h, LENDER, Recipient::Anyone),
        Err(HandleError::Stale { .. })
    ));
    // Sharing needs a hold and a published length.
    let l = &loans[0];
    assert_eq!(l.share(Recipient::Anyone), Err(HandleError::NotPublished));
    assert_eq!(
        pool.share(&l.handle(), holder(99), Recipient::Anyone),
        Err(HandleError::NotHeld { holder: holder(99) })
    );
}

#[test]
fn reclaim_takes_back_what_dead_holders_held() {
    let buf = pool_buf(6, 64);
    let pool = Pool::init(buf.region(), PoolConfig::new(6, 64)).unwrap();
    const DEAD: Holder = Holder::fixed::<66>();
    // A loan never handed on.
    core::mem::forget(pool.try_loan(DEAD).unwrap());
    // A sample accepted and kept.
    let h = pool
        .try_loan(LENDER)
        .unwrap()
        .hand_off(0, Recipient::Holder(DEAD))
        .unwrap();
    pool.accept(&h, DEAD).unwrap().keep();
    // A reference addressed to it, never accepted.
    pool.try_loan(LENDER)
        .unwrap()
        .hand_off(0, Recipient::Holder(DEAD))
        .unwrap();
    // A reference it sent to anyone, never accepted.
    let sent = pool
        .try_loan(DEAD)
        .unwrap()
        .hand_off(0, Recipient::Anyone)
        .unwrap();
    // A block shared by the dead holder and a live one: only the dead
    // one's reference goes.
    let mut l = pool.try_loan(LENDER).unwrap();
    let both = l.publish(0).unwrap();
    l.share(Recipient::Holder(DEAD)).unwrap();
    l.share(Recipient::Holder(READER)).unwrap();
    drop(l);
    let live = pool.accept(&both, READER).unwrap();
    assert_eq!(pool.census().free, 1);
    let mut asked = std::vec::Vec::new();
    let got = pool.reclaim(|id| {
        asked.push(id);
        id != DEAD.get()
    });
    assert_eq!(
        got,
        Reclaimed {
            references: 5,
            blocks: 4
        }
    );
    assert_eq!(asked, [DEAD.get(), READER.get()], "each holder judged once");
    assert_eq!(pool.census().free, 5);
    assert_eq!(
        pool.accept(&sent, READER).unwrap_err(),
        HandleError::NotShared
    );
    assert_eq!(live.as_slice(), b"");
    drop(live);
    assert_eq!(pool.census().free, 6);
    assert_eq!(pool.reclaim(|_| false), Reclaimed::default());
}

#[test]
fn attach_checks_the_header() {
    let buf = pool_buf(3, 200);
    let config = PoolConfig::new(3, 200).with_type_id(9).with_creator_pid(77);
    Pool::init(buf.region(), config).unwrap();
    let pool = Pool::attach(buf.region(), 200, 9).unwrap();
    assert_eq!((pool.blocks(), pool.block_size()), (3, 200));
    assert_eq!(pool.header().creator_pid, 77);
    assert_eq!(Pool::probe(&buf.region()), Ok((3, 200)));
    assert!(matches!(
        Pool::attach(buf.region(), 201, 9),
        Err(AttachError::Element { .. })
    ));
    assert!(matches!(
        Pool::attach(buf.region(), 200, 8),
        Err(AttachError::Element { .. })
    ));
    let small = AlignedBuf::new(1024);
    assert!(matches!(
        Pool::attach(small.region(), 200, 9),
        Err(AttachError::NotReady { .. })
    ));
    assert!(matches!(
        crate::mpmc::MpmcRing::<u64>::attach(buf.region()),
        Err(AttachError::Kind { .. })
    ));
    assert!(Pool::init(buf.region(), PoolConfig::new(0, 1)).is_err());
    assert!(Pool::init(buf.region(), PoolConfig::new(1, 0)).is_err());
    assert!(Pool::bytes_needed(MAX_BLOCKS + 1, 1).is_err());
    assert!(Pool::bytes_needed(1, MAX_BLOCK_SIZE + 1).is_err());
}

#[test]
fn users_table_joins_and_leaves() {
    let buf = pool_buf(1, 64);
    let pool = Pool::init(buf.region(), PoolConfig::new(1, 64)).unwrap();
    let (five, six) = (Holder::fixed::<5>(), Holder::fixed::<6>());
    let a = pool.join(five, |_| true);
    let b = pool.join(six, |_| true);
    assert_ne!(a, b);
    assert_eq!(pool.users().holders().collect::<std::vec::Vec<_>>(), [5, 6]);
    assert!(pool.leave(a, five));
    assert!(!pool.leave(a, five));
}

/// Every shared word rewritten with extreme or random values, between
/// operations: every operation returns a value or a typed error, never
/// panics, and nothing addresses memory outside the pool (Miri checks).
#[test]
fn hostile_words_cause_errors_never_out_of_bounds() {
    let (blocks, size) = (3u32, 64u32);
    let buf = pool_buf(blocks, size);
    let pool = Pool::init(buf.region(), PoolConfig::new(blocks, size)).unwrap();
    let words = 256 / 4 + blocks as usize * 16;
    let mut rng = Rng::new(0x5eed);
    let extremes = [
        0,
        1,
        u32::MAX,
        u32::MAX - 1,
        ADDRESSED,
        IN_FLIGHT,
        HOLDER_MASK,
        1 << 29,
    ];
    let rounds = if cfg!(miri) { 40 } else { 2000 };
    for round in 0..rounds {
        for _ in 0..4 {
            // Skip the header (words 0..16): a rewritten header only makes
            // attach fail, which attach_checks_the_header covers.
            let w = 16 + rng.below(words as u64 - 16) as usize;
            let v = if round % 2 == 0 {
                extremes[rng.below(extremes.len() as u64) as usize]
            } else {
                rng.next() as u32
            };
            // SAFETY: w < words: inside the control block and records; the
            // word is 4-aligned; everything reads it atomically.
            unsafe { (*buf.ptr().cast::<AtomicU32>().add(w)).store(v, Ordering::Relaxed) };
        }
        let h = Handle {
            index: rng.next() as u32 % (blocks + 2),
            generation: rng.next() as u32 % 4,
            len: [0, 1, size, size + 1, u32::MAX][rng.below(5) as usize],
        };
        if let Ok(mut loan) = pool.try_loan(LENDER) {
            loan.as_mut_slice().fill(round as u8);
            let _ = loan.publish(rng.next() as u32 % (size + 2));
            let _ = loan.share(Recipient::Anyone);
            let _ = loan.share(Recipient::Holder(READER));
        }
        if let Ok(s) = pool.accept(&h, READER) {
            assert!(s.len() <= size as usize);
            let _ = s.as_slice().iter().map(|&b| b as u32).sum::<u32>();
            let mut out = [0u8; 80];
            assert!(s.read_at(0, &mut out) <= size as usize);
        }
        let _ = pool.release(&h, READER);
        let _ = pool.share(&h, READER, Recipient::Anyone);
        let _ = pool.reclaim(|id| id % 2 == 0);
        let _ = pool.census();
        let _ = pool.holders(h.index);
        if let Err(LoanError::Exhausted(e)) = pool.try_loan(LENDER) {
            assert!(e.held <= blocks);
        }
    }
}

#[test]
fn handles_cross_an_mpmc_ring() {
    use crate::mpmc::MpmcRing;
    let ring_buf = AlignedBuf::new(MpmcRing::<Handle>::bytes_needed(8).unwrap());
    let ring = MpmcRing::<Handle>::init(ring_buf.region(), crate::RingConfig::new(8)).unwrap();
    let buf = pool_buf(4, 256);
    let pool = Pool::init(buf.region(), PoolConfig::new(4, 256)).unwrap();
    for i in 0..100u32 {
        let mut loan = pool.try_loan(LENDER).unwrap();
        loan.as_mut_slice()[..4].copy_from_slice(&i.to_le_bytes());
        ring.try_send(loan.hand_off(4, Recipient::Anyone).unwrap())
            .unwrap();
        let h = ring.try_recv().unwrap();
        let s = pool.accept(&h, READER).unwrap();
        assert_eq!(s.as_slice(), i.to_le_bytes());
    }
    assert_eq!(pool.census().free, 4);
}
