//! The pool's users table: who has the pool open, for inspectors (the same
//! table and protocol as the MPMC ring's, see
//! [Users](crate::ring::mpmc#users)). Advisory: loans and references never
//! look at it.

use super::*;
use crate::ring::mpmc::{UserSlot, Users};
use crate::ring::role::{claim, release, take_over, RoleError};

impl Pool<'_> {
    /// Records `holder` as a user of the pool in the first word of the
    /// users table that is free or whose holder `is_alive` says is dead;
    /// when every word holds a live user, sets the sticky overflow flag
    /// and returns [`UserSlot::Overflow`]. Fails only for holder 0.
    /// Bounded: one pass over the table.
    pub fn join(&self, holder: u32, is_alive: impl Fn(u32) -> bool) -> Result<UserSlot, RoleError> {
        if holder == 0 {
            return Err(RoleError::ZeroHolder);
        }
        let meta = &self.control().meta;
        for (index, word) in meta.users.iter().enumerate() {
            let taken = match take_over(word, holder, &is_alive) {
                Err(RoleError::Taken { holder: 0 }) => claim(word, holder),
                other => other,
            };
            if taken.is_ok() {
                return Ok(UserSlot::Word(index));
            }
        }
        meta.overflow.store(1, Ordering::Release);
        Ok(UserSlot::Overflow)
    }

    /// Frees the users word `slot` if it still holds `holder`; returns
    /// whether it did.
    pub fn leave(&self, slot: UserSlot, holder: u32) -> bool {
        match slot {
            UserSlot::Word(index) => self
                .control()
                .meta
                .users
                .get(index)
                .is_some_and(|word| holder != 0 && release(word, holder)),
            UserSlot::Overflow => false,
        }
    }

    /// The users table as it is now.
    pub fn users(&self) -> Users {
        let meta = &self.control().meta;
        Users {
            words: core::array::from_fn(|i| meta.users[i].load(Ordering::Acquire)),
            overflow: meta.overflow.load(Ordering::Acquire) != 0,
        }
    }
}
