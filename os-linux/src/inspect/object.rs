//! What probing tells about an object: its [`State`], the [`Pid`]s it
//! records, and whether it is [stale](Object::is_stale).

use std::fmt;
use std::time::Duration;

use interlink_core::layout::{Header, HeaderSnapshot, Kind, LAYOUT_VERSION};

/// Bytes of the header that begins every interlink object.
pub const HEADER_LEN: usize = std::mem::size_of::<Header>();

/// How long an object may stay [`State::Incomplete`] before it counts as
/// stale: a creator initialises within microseconds of sizing the object,
/// so one still incomplete after this died while initialising.
pub const INCOMPLETE_GRACE: Duration = Duration::from_secs(10);

/// A process id as recorded in an object, and whether it is alive now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pid {
    /// The pid (0: none recorded).
    pub pid: u32,
    /// Whether a process with this pid lives now
    /// ([`crate::liveness::process_alive`]: false for 0, for a pid no
    /// process has, and for a zombie). Pids are reused, so `true` may mean
    /// another process.
    pub alive: bool,
}

impl Pid {
    /// Looks `pid` up ([`crate::liveness::is_alive`]: while [`probe`](super::probe) judges an
    /// object, by its presence locks first).
    pub fn check(pid: u32) -> Self {
        Self {
            pid,
            alive: pid != 0 && crate::liveness::is_alive(pid),
        }
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.pid, self.alive) {
            (0, _) => f.write_str("-"),
            (pid, true) => write!(f, "{pid}"),
            (pid, false) => write!(f, "{pid}(dead)"),
        }
    }
}

/// A role recorded in a structure and its holder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Role {
    /// `"producer"`, `"consumer"`, or `"user"` (an MPMC ring's or a
    /// pool's users table: one entry per recorded user, free words left
    /// out).
    pub role: &'static str,
    /// The holder (pid 0: the role is free).
    pub holder: Pid,
}

/// What a valid interlink object holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The header, validated.
    pub header: HeaderSnapshot,
    /// The structure's kind.
    pub kind: Kind,
    /// The creator recorded in the header.
    pub creator: Pid,
    /// The roles this build knows how to read for the kind (empty for
    /// kinds it cannot look inside).
    pub roles: Vec<Role>,
    /// Whether the structure may have users it does not record (an MPMC
    /// ring or a pool whose users table overflowed): it is then never
    /// stale.
    pub unrecorded_users: bool,
    /// Elements (or bytes) in the structure now, where known; for a pool,
    /// the blocks held.
    pub fill: Option<u32>,
    /// Records a many-to-one ring's consumer skipped (claims whose
    /// producer died mid-record; a wrapping count), for that kind only.
    pub skipped: Option<u32>,
    /// Inconsistencies found below the header (indices out of range).
    pub problems: Vec<String>,
    /// A fan-out ring's subscribers and their lag (empty for other
    /// kinds); they are among [`Summary::roles`] too, as `"subscriber"`.
    pub subscribers: Vec<SubscriberLag>,
}

/// A fan-out ring's subscriber as probing read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubscriberLag {
    /// Its entry in the ring's subscriber table.
    pub index: u32,
    /// The holder recorded there.
    pub holder: Pid,
    /// Elements written that it has not received, or `None` when its
    /// cursor is out of range (a joiner at work, or a corrupt word).
    pub lag: Option<u32>,
}

/// How an object under `/dev/shm` was judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Not an interlink object: empty, shorter than a header and without
    /// interlink's magic, or another magic.
    Foreign {
        /// Why.
        reason: &'static str,
    },
    /// Interlink's layout mid-initialisation (state `INITIALISING`, not yet
    /// published): a creator at work, or one that died there.
    Incomplete {
        /// The raw state word.
        state: u32,
    },
    /// Interlink's magic, another layout version: this build cannot read
    /// it.
    OtherVersion {
        /// The version recorded.
        version: u32,
    },
    /// Interlink's magic, but a header (or a length) no creator writes.
    Corrupt {
        /// The header as read, if the object holds one.
        header: Option<HeaderSnapshot>,
        /// What is wrong.
        problem: String,
    },
    /// A valid object.
    Valid(Summary),
    /// An object a creator is building under a private name
    /// (`NAME.interlink-new.PID.N`, see [`shm::building_pid`](crate::shm::building_pid)) before it
    /// publishes it at its name, or the remains of one that died doing so.
    Unfinished {
        /// The creator, from the name.
        creator: Pid,
        /// Whether a process holds the object's claim lock
        /// ([`shm::CLAIM_BYTE`](crate::shm::CLAIM_BYTE)): its creator is still at work (or a
        /// `gc` is removing it). The kernel drops the lock when its holder
        /// dies, whatever its pid.
        claimed: bool,
    },
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Foreign { reason } => write!(f, "not an interlink object ({reason})"),
            Self::Incomplete { state } => write!(f, "incomplete (state {state})"),
            Self::OtherVersion { version } => write!(
                f,
                "layout version {version} (this build reads {LAYOUT_VERSION})"
            ),
            Self::Corrupt { problem, .. } => write!(f, "corrupt: {problem}"),
            Self::Unfinished { creator, claimed } => write!(
                f,
                "being created by {creator}{}",
                if *claimed { "" } else { ", abandoned" }
            ),
            Self::Valid(s) => {
                write!(f, "{} created by {}", s.kind.name(), s.creator)?;
                for r in &s.roles {
                    write!(f, ", {} {}", r.role, r.holder)?;
                }
                if s.unrecorded_users {
                    f.write_str(", more users than recorded")?;
                }
                if let Some(n) = s.skipped.filter(|&n| n != 0) {
                    write!(f, ", {n} records skipped")?;
                }
                Ok(())
            }
        }
    }
}

/// One object under `/dev/shm`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    /// Its shm name, with the leading slash.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Time since it was last modified (sized), if the clock allows.
    pub age: Option<Duration>,
    /// The verdict.
    pub state: State,
}

impl Object {
    /// Whether the object is interlink's (any state but [`State::Foreign`]).
    pub fn is_interlink(&self) -> bool {
        !matches!(self.state, State::Foreign { .. })
    }

    /// Whether nobody can be using the object: a valid object whose
    /// creator is recorded and dead and whose every role (for an MPMC ring or a
    /// pool: every recorded user) is free or held by a dead process, or an
    /// incomplete one older than [`INCOMPLETE_GRACE`], or an
    /// [`State::Unfinished`] one that nobody claims and whose creator is
    /// dead (or that is older than [`INCOMPLETE_GRACE`]). "Dead" as
    /// [`probe`](super::probe) judges it ([`crate::liveness`]): a zombie is dead, and so
    /// is a recorded process that neither holds a presence lock in the
    /// object nor maps it — a newcomer given a dead holder's pid, or a
    /// creator that dropped its channel after [`keep_name`] (it no longer
    /// uses the object). Foreign, corrupt and other-version objects are
    /// never stale: their pids cannot be trusted. Nor is an MPMC ring whose
    /// users table overflowed ([`Summary::unrecorded_users`]): users it
    /// could not record may live. Remove those by name.
    ///
    /// [`keep_name`]: crate::channel::Channel::keep_name
    pub fn is_stale(&self) -> bool {
        match &self.state {
            State::Valid(s) => {
                s.creator.pid != 0
                    && !s.creator.alive
                    && !s.unrecorded_users
                    && s.roles.iter().all(|r| !r.holder.alive)
            }
            State::Incomplete { .. } => self.age.is_some_and(|a| a >= INCOMPLETE_GRACE),
            State::Unfinished { creator, claimed } => {
                !claimed && (!creator.alive || self.age.is_some_and(|a| a >= INCOMPLETE_GRACE))
            }
            _ => false,
        }
    }
}
