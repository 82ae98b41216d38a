//! The users table (see [Users](super#users)): who may be using the
//! ring, for inspectors and for recovery after a crash.

use super::*;

impl<T> MpmcRing<'_, T> {
    /// Records `holder` (a pid on Linux) as a user of the
    /// ring, in the first word of the users table that is free or whose
    /// holder `is_alive` says is dead (see [Users](super#users)); returns
    /// where, for [`MpmcRing::leave`].
    ///
    /// When every word holds a live user (`is_alive` is asked once for each
    /// word found occupied), it sets the sticky overflow flag and returns
    /// [`UserSlot::Overflow`]: the caller may use the ring all the same,
    /// but the table cannot record it, so inspectors treat the ring as in
    /// use from then on. Never fails. Bounded: one pass over the
    /// [`USER_WORDS`] words.
    pub fn join(&self, holder: Holder, is_alive: impl Fn(u32) -> bool) -> UserSlot {
        UsersTable::of(&self.control().meta.users, &self.control().meta.overflow)
            .join(holder, is_alive)
    }

    /// Frees the users word `slot` if it still holds `holder`; returns
    /// whether it did. A holder replaced meanwhile (judged dead by a
    /// joiner) frees nothing, and [`UserSlot::Overflow`] (or a word index
    /// out of range) has nothing to free: the overflow flag stays set.
    pub fn leave(&self, slot: UserSlot, holder: Holder) -> bool {
        UsersTable::of(&self.control().meta.users, &self.control().meta.overflow)
            .leave(slot, holder)
    }

    /// The users table as it is now (see [Users](super#users)).
    pub fn users(&self) -> Users {
        UsersTable::of(&self.control().meta.users, &self.control().meta.overflow).read()
    }
}

/// A users table in shared memory: [`USER_WORDS`] holder words and the
/// sticky overflow word (the MPMC ring's and the pool's).
pub(crate) struct UsersTable<'t> {
    words: &'t [AtomicU32; USER_WORDS],
    overflow: &'t AtomicU32,
}

impl<'t> UsersTable<'t> {
    /// The table made of `words` and `overflow`.
    pub(crate) fn of(words: &'t [AtomicU32; USER_WORDS], overflow: &'t AtomicU32) -> Self {
        Self { words, overflow }
    }

    /// See [`MpmcRing::join`].
    pub(crate) fn join(&self, holder: Holder, is_alive: impl Fn(u32) -> bool) -> UserSlot {
        for (index, word) in self.words.iter().enumerate() {
            // Free or dead: claimed with a compare-exchange, so a racing
            // joiner that got the word first makes this one move on. A
            // word freed under the exchange (its holder left) gets one
            // more try.
            let taken = match crate::ring::role::take_over(word, holder, &is_alive) {
                Err(RoleError::Taken { holder: 0 }) => crate::ring::role::claim(word, holder),
                other => other,
            };
            if taken.is_ok() {
                return UserSlot::Word(index);
            }
        }
        self.overflow.store(1, Ordering::Release);
        UserSlot::Overflow
    }

    /// See [`MpmcRing::leave`].
    pub(crate) fn leave(&self, slot: UserSlot, holder: Holder) -> bool {
        match slot {
            UserSlot::Word(index) => self
                .words
                .get(index)
                .is_some_and(|word| crate::ring::role::release(word, holder.get())),
            UserSlot::Overflow => false,
        }
    }

    /// Loads every word (`Acquire`).
    pub(crate) fn read(&self) -> Users {
        Users {
            words: core::array::from_fn(|i| self.words[i].load(Ordering::Acquire)),
            overflow: self.overflow.load(Ordering::Acquire) != 0,
        }
    }
}

/// Where [`MpmcRing::join`] recorded a user; give it back to
/// [`MpmcRing::leave`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserSlot {
    /// Recorded in word `index` of the users table (below [`USER_WORDS`]).
    Word(usize),
    /// Every word held a live user: recorded only by the sticky overflow
    /// flag, with nothing to free on leaving.
    Overflow,
}

/// The users table of an MPMC ring, copied out at some moment (see
/// [Users](super#users)). The ids are whatever the words held: untrusted,
/// possibly garbage; judging them is the reader's business.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Users {
    /// Each word's holder id, in table order (0: free).
    pub words: [u32; USER_WORDS],
    /// Whether a join ever found every word held by a live user (the
    /// overflow word is nonzero): users beyond the table may exist.
    pub overflow: bool,
}

impl Users {
    /// The recorded holders (nonzero words), in table order.
    pub fn holders(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().copied().filter(|&h| h != 0)
    }
}
