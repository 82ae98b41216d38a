//! Finding and judging interlink objects under `/dev/shm`: what the
//! `interlink-inspect` tool prints, and what its `gc` and
//! [`crate::channel::Channel::create`] use to tell a stale object from a
//! live one.
//!
//! Objects under a private name `NAME.interlink-new.PID.N` are ones a
//! creator is building ([`State::Unfinished`]); their claim lock
//! ([`shm::CLAIM_BYTE`]) says whether it still is. `gc` removes only after
//! claiming an object and re-checking that its name still denotes it (see
//! [`gc`]).
//!
//! Objects are opened **read-only** and never mapped: the header and
//! control block are copied out with `pread`, so a peer that truncates or
//! resizes an object while it is probed cannot raise `SIGBUS` here, and
//! something other than a regular file at a name (a FIFO, a directory, a
//! symlink) is refused at once ([`ShmError::NotRegular`]). Nothing read is
//! trusted: the copy is validated, and whatever does not validate is
//! reported as [`State::Corrupt`] or [`State::Foreign`], never used to
//! address memory.
//!
//! System V segments and queues are listed from `/proc/sysvipc/` next to
//! them, and those interlink created are collected when stale
//! ([`sysv_list`], [`sysv_gc`]; see `sysv.rs`).
//!
//! [`shm::CLAIM_BYTE`]: crate::shm::CLAIM_BYTE
//! [`ShmError::NotRegular`]: crate::shm::ShmError::NotRegular

mod collect;
mod object;
mod probing;
mod sysv;

pub use collect::{gc, list, Collected, Listed};
pub use object::{Object, Pid, Role, State, SubscriberLag, Summary, HEADER_LEN, INCOMPLETE_GRACE};
pub use probing::probe;
pub use sysv::{sysv_gc, sysv_list, SysvCollected, SysvObject};

pub(crate) use collect::{reclaim, remove_unfinished_of, Reclaimed};
pub(crate) use probing::{header_of, is_blank};
