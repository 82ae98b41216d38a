//! Loom models of the block pool: loans, references, releases and
//! reclaims in every (bounded) interleaving. Each block's bytes are
//! shadowed by a loom-tracked cell that the lender writes and readers read,
//! so a schedule in which the pool lets a lender write a block that a
//! reader may still read (or two lenders share one) fails the model as a
//! data race, and the values read are checked too. Holders "die" by
//! stopping between two steps with their holds left behind (a loan never
//! handed on, a reference never accepted, a sample never released); a
//! reclaimer that judges them dead runs concurrently with the survivors.
//!
//! Run: `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p interlink-core --release --test loom_pool`
#![cfg(loom)]

use interlink_core::pool::{Handle, HandleError, LoanError, Pool, PoolConfig, Recipient};
use interlink_core::Holder;
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;

mod common;

use common::{model, model_bounded, Memory};

const BLOCK: u32 = 64;

/// The holder with id `id` (nonzero, at most `Holder::MAX`).
fn holder(id: u32) -> Holder {
    Holder::new(id).unwrap()
}

/// What the models share: the pool's memory and a shadow cell per block.
struct World {
    mem: Memory,
    shadow: Vec<UnsafeCell<u32>>,
}

impl World {
    fn new(blocks: u32) -> Arc<Self> {
        let mem = Memory::new(
            Pool::bytes_needed(blocks, BLOCK).unwrap(),
            Pool::region_align(),
        );
        let world = Arc::new(Self {
            mem,
            shadow: (0..blocks).map(|_| UnsafeCell::new(0)).collect(),
        });
        Pool::init(world.mem.region(), PoolConfig::new(blocks, BLOCK)).unwrap();
        world
    }

    fn pool(&self) -> Pool<'static> {
        Pool::attach(self.mem.region(), BLOCK, 0).unwrap()
    }

    /// The lender's write of block `index`.
    fn write(&self, index: u32, value: u32) {
        // SAFETY: loom's cell pointer is valid; loom checks the access.
        self.shadow[index as usize].with_mut(|p| unsafe { *p = value });
    }

    /// A reader's read of block `index`.
    fn read(&self, index: u32) -> u32 {
        // SAFETY: as in `write`.
        self.shadow[index as usize].with(|p| unsafe { *p })
    }
}

/// Lends a block to `holder`, writes `value` into it, shares it with each
/// of `to` and drops the loan; `None` if the pool was exhausted.
fn publish(world: &World, holder: Holder, value: u32, to: &[Recipient]) -> Option<Handle> {
    let pool = world.pool();
    let mut loan = match pool.try_loan(holder) {
        Ok(loan) => loan,
        Err(LoanError::Exhausted(_)) => return None,
        Err(e) => panic!("{e}"),
    };
    world.write(loan.index(), value);
    let h = loan.publish(4).unwrap();
    for &r in to {
        loan.share(r).unwrap();
    }
    Some(h)
}

/// Two lenders race for the one block of a pool, each writing it and
/// releasing it: never both at once (the shadow cell would race).
#[test]
fn two_lenders_never_share_a_block() {
    model(|| {
        let world = World::new(1);
        let w2 = world.clone();
        let t = thread::spawn(move || {
            let pool = w2.pool();
            if let Ok(loan) = pool.try_loan(holder(2)) {
                w2.write(loan.index(), 2);
            }
        });
        let pool = world.pool();
        if let Ok(loan) = pool.try_loan(holder(1)) {
            world.write(loan.index(), 1);
        }
        t.join().unwrap();
        assert_eq!(world.pool().census().free, 1);
    });
}

/// A lender hands a block to a reader and immediately tries to lend again
/// from a one-block pool while the reader reads: the lender gets the block
/// only after the reader released it, and the reader sees the value.
#[test]
fn a_block_is_not_lent_again_while_a_reader_holds_it() {
    model(|| {
        let world = World::new(1);
        let h = publish(&world, holder(1), 7, &[Recipient::Holder(holder(2))]).unwrap();
        let w2 = world.clone();
        let reader = thread::spawn(move || {
            let pool = w2.pool();
            let s = pool.accept(&h, holder(2)).unwrap();
            assert_eq!(w2.read(h.index), 7);
            drop(s);
        });
        // The next message, if a block is free.
        let _ = publish(&world, holder(1), 8, &[]);
        reader.join().unwrap();
        assert_eq!(world.pool().census().free, 1);
    });
}

/// Fan-out: one block shared with two readers who accept it (one
/// addressed, one in flight), read and release concurrently with a lender
/// trying to lend; the block is freed exactly once, after both.
#[test]
fn fan_out_references_free_the_block_after_the_last_reader() {
    model_bounded(2, || {
        let world = World::new(1);
        let h = publish(
            &world,
            holder(1),
            5,
            &[Recipient::Holder(holder(2)), Recipient::Anyone],
        )
        .unwrap();
        let readers: Vec<_> = [2u32, 3]
            .into_iter()
            .map(|id| {
                let w = world.clone();
                thread::spawn(move || {
                    let pool = w.pool();
                    let s = pool.accept(&h, holder(id)).unwrap();
                    assert_eq!(w.read(h.index), 5);
                    drop(s);
                })
            })
            .collect();
        let relent = publish(&world, holder(1), 6, &[]);
        for r in readers {
            r.join().unwrap();
        }
        let pool = world.pool();
        if relent.is_none() {
            assert!(
                pool.try_loan(holder(1)).is_ok(),
                "freed after the last reader"
            );
        }
        // Accepted already; stale once the block was lent again.
        assert!(matches!(
            pool.accept(&h, holder(3)),
            Err(HandleError::NotShared | HandleError::Stale { .. })
        ));
    });
}

/// A holder dies between steps — after loaning (never handed on), after
/// sharing to anyone (never accepted), or after accepting (never
/// released) — while a reclaimer that judges it dead runs concurrently
/// with a live lender and reader. Afterwards every block is free or held
/// by the living only, and no block was written while read.
#[test]
fn reclaim_takes_back_a_dead_holders_blocks_between_steps() {
    for died_after in 0..3 {
        model_bounded(2, move || {
            const DEAD: Holder = Holder::fixed::<9>();
            let world = World::new(2);
            // The holder that dies: its last step, then nothing.
            match died_after {
                0 => {
                    let pool = world.pool();
                    let loan = pool.try_loan(DEAD).unwrap();
                    world.write(loan.index(), 9);
                    core::mem::forget(loan);
                }
                1 => {
                    publish(&world, DEAD, 9, &[Recipient::Anyone]).unwrap();
                }
                _ => {
                    let h = publish(&world, holder(1), 9, &[Recipient::Holder(DEAD)]).unwrap();
                    world.pool().accept(&h, DEAD).unwrap().keep();
                }
            }
            let w = world.clone();
            let reclaimer = thread::spawn(move || w.pool().reclaim(|id| id != DEAD.get()));
            // A live lender and reader keep going meanwhile.
            if let Some(h) = publish(&world, holder(1), 4, &[Recipient::Holder(holder(2))]) {
                let pool = world.pool();
                let s = pool.accept(&h, holder(2)).unwrap();
                assert_eq!(world.read(h.index), 4);
                drop(s);
            }
            let got = reclaimer.join().unwrap();
            assert_eq!(got.references, 1);
            let pool = world.pool();
            assert_eq!(pool.census().free, 2, "every block back");
        });
    }
}

/// A reader's accept races with the block being reclaimed from a dead
/// sender and lent again: the old handle is refused (stale or not
/// shared), and a reference to the new life is never taken with it.
#[test]
fn an_accept_racing_a_reclaim_and_a_new_loan_never_takes_the_new_life() {
    model_bounded(2, || {
        const DEAD: Holder = Holder::fixed::<9>();
        let world = World::new(1);
        let old = publish(&world, DEAD, 1, &[Recipient::Anyone]).unwrap();
        let w = world.clone();
        let reader = thread::spawn(move || {
            let pool = w.pool();
            match pool.accept(&old, holder(2)) {
                Ok(s) => {
                    assert_eq!(w.read(old.index), 1);
                    drop(s);
                    true
                }
                Err(HandleError::Stale { .. } | HandleError::NotShared) => false,
                Err(e) => panic!("{e}"),
            }
        });
        let pool = world.pool();
        pool.reclaim(|id| id != DEAD.get());
        let new = publish(&world, holder(1), 2, &[Recipient::Anyone]);
        // Whether the old handle was accepted (before the reclaim) or not,
        // its reader read the old value only (checked in the thread).
        reader.join().unwrap();
        if let Some(new) = new {
            // The new life's reference is still there for its reader.
            let s = pool.accept(&new, holder(3)).unwrap();
            assert_eq!(world.read(new.index), 2);
            drop(s);
        }
        assert_eq!(pool.census().free, 1);
    });
}
