//! The pool's users table: who has the pool open, for inspectors (the same
//! table and protocol as the MPMC ring's, see
//! [Users](crate::ring::mpmc#users)). Advisory: loans and references never
//! look at it.

use super::*;
use crate::foundation::holder::Holder;
use crate::ring::mpmc::{UserSlot, Users, UsersTable};

impl Pool<'_> {
    /// Records `holder` as a user of the pool, as
    /// [`MpmcRing::join`](crate::ring::mpmc::MpmcRing::join) does for a ring.
    pub fn join(&self, holder: Holder, is_alive: impl Fn(u32) -> bool) -> UserSlot {
        self.table().join(holder, is_alive)
    }

    /// Frees the users word `slot` if it still holds `holder`; returns
    /// whether it did.
    pub fn leave(&self, slot: UserSlot, holder: Holder) -> bool {
        self.table().leave(slot, holder)
    }

    /// The users table as it is now.
    pub fn users(&self) -> Users {
        self.table().read()
    }

    fn table(&self) -> UsersTable<'_> {
        let meta = &self.control().meta;
        UsersTable::of(&meta.users, &meta.overflow)
    }
}
