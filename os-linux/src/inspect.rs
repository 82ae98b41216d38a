//! Finding and judging interlink objects under `/dev/shm`: what the
//! `interlink-inspect` tool prints, and what its `gc` and
//! [`crate::channel::Channel::create`] use to tell a stale object from a
//! live one.
//!
//! Objects are opened and mapped **read-only**, and nothing read from them
//! is trusted: a header is copied out and validated, and whatever does not
//! validate is reported as [`State::Corrupt`] or [`State::Foreign`], never
//! used to address memory.

use std::fmt;
use std::time::{Duration, SystemTime};

use interlink_core::layout::{state, Header, HeaderSnapshot, Kind, LAYOUT_VERSION, MAGIC};
use interlink_core::{bytes, mpmc, spsc, AttachError};

use crate::process;
use crate::shm::{self, Shm, ShmError, SHM_DIR};

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
    /// Looks `pid` up ([`process::is_alive`]: while [`probe`] judges an
    /// object, by its presence locks first).
    pub fn check(pid: u32) -> Self {
        Self {
            pid,
            alive: pid != 0 && process::is_alive(pid),
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
    /// `"producer"`, `"consumer"`, or `"user"` (an MPMC ring's users
    /// table: one entry per recorded user, free words left out).
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
    /// ring whose users table overflowed): it is then never stale.
    pub unrecorded_users: bool,
    /// Elements (or bytes) in the structure now, where known.
    pub fill: Option<u32>,
    /// Inconsistencies found below the header (indices out of range).
    pub problems: Vec<String>,
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
            Self::Valid(s) => {
                write!(f, "{} created by {}", s.kind.name(), s.creator)?;
                for r in &s.roles {
                    write!(f, ", {} {}", r.role, r.holder)?;
                }
                if s.unrecorded_users {
                    f.write_str(", more users than recorded")?;
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
    /// creator is recorded and dead and whose every role (for an MPMC ring:
    /// every recorded user) is free or held by a dead process, or an
    /// incomplete one older than [`INCOMPLETE_GRACE`]. "Dead" as
    /// [`probe`] judges it ([`crate::liveness`]): a zombie is dead, and so
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
            _ => false,
        }
    }
}

/// Opens `name` read-only and judges it.
pub fn probe(name: &str) -> Result<Object, ShmError> {
    let shm = Shm::open_read_only(name)?;
    let st = crate::mapping::fd_stat(std::os::fd::AsFd::as_fd(&shm))?;
    let size = st.st_size.max(0) as u64;
    let modified = SystemTime::UNIX_EPOCH
        + Duration::new(
            st.st_mtime.max(0) as u64,
            st.st_mtime_nsec.clamp(0, 999_999_999) as u32,
        );
    let object = |state| Object {
        name: shm.name().to_string(),
        size,
        age: SystemTime::now().duration_since(modified).ok(),
        state,
    };
    if size == 0 {
        return Ok(object(State::Foreign { reason: "empty" }));
    }
    let map = shm.map_read_only()?;
    let Ok(header) = map.header() else {
        // Shorter than a header: interlink's only if its magic says so.
        return Ok(object(match map.load_u32(0) {
            Some(MAGIC) => State::Corrupt {
                header: None,
                problem: format!(
                    "truncated: {size} bytes, shorter than a {HEADER_LEN}-byte header"
                ),
            },
            _ => State::Foreign {
                reason: "shorter than a header",
            },
        }));
    };
    // Holders are judged by the object's presence locks first.
    let holders = crate::liveness::Judge::onlooker(std::os::fd::AsFd::as_fd(&shm)).ok();
    Ok(object(crate::liveness::judging(holders, || {
        judge(header, &map)
    })))
}

/// Judges a header (and, for kinds this build can read, what follows it).
fn judge(header: HeaderSnapshot, map: &crate::mapping::ReadOnlyMapping) -> State {
    if header.magic != MAGIC {
        return if header.magic == 0 && header.state == state::INITIALISING {
            State::Incomplete {
                state: header.state,
            }
        } else {
            State::Foreign {
                reason: "no interlink magic",
            }
        };
    }
    if header.version != LAYOUT_VERSION {
        return State::OtherVersion {
            version: header.version,
        };
    }
    let corrupt = |problem: String| State::Corrupt {
        header: Some(header),
        problem,
    };
    let Some(kind) = Kind::from_u32(header.kind) else {
        return corrupt(format!("unknown kind {}", header.kind));
    };
    let checked = match kind {
        Kind::Spsc | Kind::Bytes => match kind {
            Kind::Spsc => spsc::status(&map.region_for_reading()),
            _ => bytes::status(&map.region_for_reading()),
        }
        .map(|s| {
            let roles = vec![
                Role {
                    role: "producer",
                    holder: Pid::check(s.producer),
                },
                Role {
                    role: "consumer",
                    holder: Pid::check(s.consumer),
                },
            ];
            (roles, false, s.fill())
        }),
        Kind::Mpmc => mpmc::status(&map.region_for_reading()).map(|s| {
            let users = s.users.holders().map(|pid| Role {
                role: "user",
                holder: Pid::check(pid),
            });
            (users.collect(), s.users.overflow, s.fill())
        }),
        _ => header
            .validate(kind, header.element)
            .map(|()| (Vec::new(), false, None)),
    };
    match checked {
        Ok((roles, unrecorded_users, fill)) => {
            let mut problems = Vec::new();
            if matches!(kind, Kind::Spsc | Kind::Bytes | Kind::Mpmc) && fill.is_none() {
                problems.push("indices say more in the ring than its capacity".to_owned());
            }
            if header.total_len > map.len() as u64 {
                problems.push(format!(
                    "records {} bytes, the object has {}",
                    header.total_len,
                    map.len()
                ));
            }
            State::Valid(Summary {
                header,
                kind,
                creator: Pid::check(header.creator_pid),
                roles,
                unrecorded_users,
                fill,
                problems,
            })
        }
        Err(AttachError::NotReady { state }) => State::Incomplete { state },
        Err(e) => corrupt(e.to_string()),
    }
}

/// A name under `/dev/shm` and how probing it went.
pub type Listed = (String, Result<Object, ShmError>);

/// Every object under `/dev/shm` (regular files with UTF-8 names), probed,
/// sorted by name. Foreign objects are included: filter with
/// [`Object::is_interlink`].
pub fn list() -> Result<Vec<Listed>, ShmError> {
    let dir = std::fs::read_dir(SHM_DIR).map_err(|e| io_error("opendir", e))?;
    let mut out = Vec::new();
    for entry in dir {
        let entry = entry.map_err(|e| io_error("readdir", e))?;
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        let Some(file) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if !is_file {
            continue;
        }
        let name = format!("/{file}");
        let probed = probe(&name);
        out.push((name, probed));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn io_error(op: &'static str, e: std::io::Error) -> ShmError {
    crate::OsError::new(op, e.raw_os_error().unwrap_or(0))
        .on(SHM_DIR)
        .into()
}

/// An object `gc` removed, or tried to.
pub type Collected = (Object, Result<(), ShmError>);

/// Removes every stale object (see [`Object::is_stale`]) whose name
/// `select` accepts (`|_| true`: all), re-probing each just before removing
/// it. Returns the objects removed, or the error for those that could not
/// be.
pub fn gc(select: impl Fn(&str) -> bool) -> Result<Vec<Collected>, ShmError> {
    let mut done = Vec::new();
    for (name, probed) in list()? {
        if !select(&name) {
            continue;
        }
        let Ok(object) = probed else { continue };
        if !object.is_stale() {
            continue;
        }
        // Look again right before unlinking: a process may have attached.
        match probe(&name) {
            Ok(again) if again.is_stale() => {
                let removed = shm::unlink(&name);
                done.push((again, removed));
            }
            _ => {}
        }
    }
    Ok(done)
}
