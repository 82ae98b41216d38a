//! Liveness: whether the process or thread that a shared structure records
//! as a holder — of an SPSC or byte ring's role, of an MPMC ring's users
//! word, of an object's creator record, of a robust mutex — still lives.
//!
//! This module is the one place that decides (DESIGN rule 8). Every path
//! asks it: a channel's role take-over ([`crate::channel::Channel::sender`]
//! and [`receiver`](crate::channel::Channel::receiver)), a blocked send or
//! receive's peer check, the MPMC users table, the inspector's staleness
//! judgement (and so `gc` and `create`'s replacement of a stale name),
//! [`is_alive`] and [`crate::futex::Robust`]. There are
//! two layers: presence locks for holders recorded in a named object, and
//! the process rule below them (and alone everywhere else).
//!
//! # The process rule
//!
//! [`process_alive`] and [`thread_alive`] read the task's state with one
//! parser of `/proc/ID/stat`. A task is **dead** when that file is gone
//! (reaped, or never existed) or says it has exited: state `Z` (a zombie,
//! killed or exited but not yet reaped by its parent) or `X`. For a
//! *process* (a pid, the thread-group leader), a leader in state `Z` whose
//! group still counts other threads is a process whose main thread ended
//! while the others run: it is alive until they end too. Only when the file
//! cannot be read for another reason than the task being gone — `/proc`
//! not mounted, or mounted with `hidepid` and the task another user's —
//! does `kill(ID, 0)` decide (there a zombie reads as alive until reaped).
//!
//! # Named objects: presence locks
//!
//! A process that creates or opens a named object through a
//! [`Channel`](crate::channel::Channel) takes its [`Presence`] there: a
//! shared OFD lock on byte [`PRESENCE_BASE`]` + pid` of the object's file
//! (far beyond its end), through a file description opened afresh for it.
//! The kernel drops the lock when that description closes — when the
//! channel drops, or when the process dies, whatever its pid and its pid
//! namespace. A holder recorded in the object as `pid` is then judged:
//!
//! 1. its presence byte is locked (`F_OFD_GETLK`) → **alive**;
//! 2. else the process rule says `pid` is dead → **dead**;
//! 3. else `pid` names a live process that has no presence there: a holder
//!    recorded without one (by code that takes none, or with `/proc`
//!    unavailable, or a forked child using a channel it inherited) maps
//!    the object, a newcomer that was given a dead holder's pid does not,
//!    so it is **alive** iff that process maps the object
//!    (`/proc/PID/maps`; unreadable, as for another user's process →
//!    alive).
//!
//! # Bound
//!
//! A holder is dead for every path as soon as it has exited, zombie or
//! reaped, with no grace period: its presence lock goes and its memory is
//! unmapped while it exits (before it becomes a zombie), and `/proc` says
//! `Z` from then on. A take-over, a users-table join, a probe (and `gc`) or
//! a robust-mutex waiter that looks after that moment sees it dead; a
//! blocked send or receive notices within one
//! [`peer_check`](crate::channel::ChannelOptions::peer_check) slice.
//!
//! # Limits
//!
//! - **Pid reuse.** In a named object, a dead holder whose pid a newcomer
//!   was given is dead (the newcomer holds no presence there and does not
//!   map the object) — unless the newcomer uses that very object too, or
//!   its maps cannot be read (another user's process, or one that is not
//!   dumpable, as a container's init often is): then the old records read
//!   as alive while it lives. Outside named objects (a
//!   structure in an anonymous mapping; the robust mutex, which records a
//!   tid), the process rule alone decides: the dead holder reads as alive
//!   while the newcomer lives. Both are the safe direction: a live holder
//!   is never judged dead.
//! - **Pid namespaces.** In a named object, a holder in another pid
//!   namespace (a container sharing `/dev/shm`) is judged by its presence
//!   lock: alive while it lives, dead once it dies, whatever its recorded
//!   number names here. Two users of one object whose pids are the same
//!   number in different namespaces cannot be told apart (each one's
//!   presence keeps records of that number alive). Outside named objects a
//!   pid from another namespace means nothing here: the process rule then
//!   may find it dead while it lives — share anonymous structures and
//!   robust mutexes only within one pid namespace, with `/proc` mounted
//!   for it.
//! - **Fork.** A child forked while a channel lives does not keep the
//!   parent's presence (a fork handler drops its copy; see [`Presence`]),
//!   except beyond [`FORK_SAFE_PRESENCES`] presences at once or for a child
//!   made without `fork`'s handlers (a raw `clone`): that child keeps the
//!   parent's records alive while it lives. A child that takes a role
//!   through an inherited channel is judged by rule 3: it maps the object.
//! - Without `/proc` no presence can be taken (the object is reopened
//!   through `/proc/self/fd`): holders are judged by `kill(pid, 0)`.

mod judge;
mod presence;
mod task;

pub use judge::{is_alive, presence_range, PRESENCE_BASE};
pub use presence::{Presence, FORK_SAFE_PRESENCES};
pub use task::{process_alive, start_time, thread_alive};

pub(crate) use judge::{holder_alive, judging, Judge};
pub(crate) use task::task_id;
