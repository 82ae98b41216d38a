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

use std::fmt;
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant, SystemTime};

use interlink_core::layout::{state, Header, HeaderSnapshot, Kind, LAYOUT_VERSION, MAGIC};
use interlink_core::{bytes, mpmc, spsc, AttachError, Region};

use crate::mapping::{pread_full, PrivateCopy};

use crate::process;
use crate::shm::{self, Shm, ShmError, ShmName, SHM_DIR};

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
    /// An object a creator is building under a private name
    /// (`NAME.interlink-new.PID.N`, see [`shm::building_pid`]) before it
    /// publishes it at its name, or the remains of one that died doing so.
    Unfinished {
        /// The creator, from the name.
        creator: Pid,
        /// Whether a process holds the object's claim lock
        /// ([`shm::CLAIM_BYTE`]): its creator is still at work (or a
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
    /// incomplete one older than [`INCOMPLETE_GRACE`], or an
    /// [`State::Unfinished`] one that nobody claims and whose creator is
    /// dead (or that is older than [`INCOMPLETE_GRACE`]). "Dead" as
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
            State::Unfinished { creator, claimed } => {
                !claimed && (!creator.alive || self.age.is_some_and(|a| a >= INCOMPLETE_GRACE))
            }
            _ => false,
        }
    }
}

/// Opens `name` read-only and judges it.
///
/// Nothing of the object is mapped: the header and control block are
/// copied out with `pread` (see [`HEADER_LEN`]), so a peer that truncates
/// or resizes the object meanwhile, or flips its size between 0 and its
/// length, makes the verdict an error or a non-stale state, never a
/// `SIGBUS`. Something other than a regular file at the name (a FIFO, a
/// directory, a symlink) is [`ShmError::NotRegular`] at once, without
/// blocking.
pub fn probe(name: &str) -> Result<Object, ShmError> {
    if shm::building_pid(name).is_some() {
        return probe_unfinished(&ShmName::new(name)?, None);
    }
    let shm = Shm::open_read_only(name)?;
    let fd = std::os::fd::AsFd::as_fd(&shm);
    let st = crate::mapping::fd_stat(fd)?;
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
    let (header, got, first) = read_header(fd)?;
    if got == 0 {
        return Ok(object(State::Foreign { reason: "empty" }));
    }
    let Some(header) = header else {
        // Shorter than a header: interlink's only if its magic says so.
        return Ok(object(match first {
            Some(MAGIC) => State::Corrupt {
                header: None,
                problem: format!("truncated: {got} bytes, shorter than a {HEADER_LEN}-byte header"),
            },
            _ => State::Foreign {
                reason: "shorter than a header",
            },
        }));
    };
    // A copy as long as the object and its header allow: the core's status
    // functions judge lengths on it just as on a mapping of the object.
    // Without interlink's magic only the header is looked at.
    let claimed = match header.magic {
        MAGIC => header.total_len.max(PrivateCopy::PREFIX as u64),
        _ => PrivateCopy::PREFIX as u64,
    };
    let len = usize::try_from(size.min(claimed)).unwrap_or(usize::MAX);
    let copy = match PrivateCopy::read(fd, len) {
        Ok(copy) => copy,
        Err(e) => {
            return Ok(object(State::Corrupt {
                header: Some(header),
                problem: format!("cannot be examined at {size} bytes: {e}"),
            }))
        }
    };
    if copy.copied() < len.min(PrivateCopy::PREFIX) {
        // It shrank between fstat and pread: resized under us. Judged not
        // stale, so gc and create leave it alone.
        return Ok(object(State::Corrupt {
            header: Some(header),
            problem: format!(
                "shrank from {size} bytes while being read (resized by another process)"
            ),
        }));
    }
    // Holders are judged by the object's presence locks first.
    let holders = crate::liveness::Judge::onlooker(fd).ok();
    Ok(object(crate::liveness::judging(holders, || {
        judge(header, &copy.region(), size)
    })))
}

/// Reads the header with `pread`: the header (`None` if the object is
/// shorter than one), how many bytes of it there were, and the first word
/// if there were four.
fn read_header(
    fd: std::os::fd::BorrowedFd<'_>,
) -> Result<(Option<HeaderSnapshot>, usize, Option<u32>), ShmError> {
    // Aligned for the header's words.
    let mut buf = [0u32; HEADER_LEN / 4];
    // SAFETY: the array's bytes, as u8s: every bit pattern is valid.
    let bytes =
        unsafe { std::slice::from_raw_parts_mut(buf.as_mut_ptr().cast::<u8>(), HEADER_LEN) };
    let got = pread_full(fd, bytes, 0)?;
    let first = bytes
        .first_chunk::<4>()
        .filter(|_| got >= 4)
        .map(|w| u32::from_le_bytes(*w));
    if got < HEADER_LEN {
        return Ok((None, got, first));
    }
    Ok((Header::read(&Region::new(bytes)).ok(), got, first))
}

/// Reads the header of the object behind `fd` with `pread`, without
/// mapping it: `None` if the object is shorter than a header.
pub(crate) fn header_of(
    fd: std::os::fd::BorrowedFd<'_>,
) -> Result<Option<HeaderSnapshot>, ShmError> {
    read_header(fd).map(|(header, _, _)| header)
}

/// Judges a header (and, for kinds this build can read, what follows it).
/// `region` is a private copy of the object's start, of its length or the
/// header's, whichever is less (see [`probe`]); `size` the object's size.
fn judge(header: HeaderSnapshot, region: &Region<'_>, size: u64) -> State {
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
            Kind::Spsc => spsc::status(region),
            _ => bytes::status(region),
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
        Kind::Mpmc => mpmc::status(region).map(|s| {
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
            // Shorter: truncated; longer: grown by a peer. Either way
            // `Channel::open` refuses it.
            if header.total_len != size {
                problems.push(format!(
                    "records {} bytes, the object has {size}",
                    header.total_len,
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
/// `select` accepts (`|_| true`: all), judging each again just before
/// removing it. Returns the objects removed, or the error for those that
/// could not be.
///
/// Stale objects include what a creator killed inside
/// [`crate::channel::Channel::create`] left: the object it was building
/// under its private name ([`State::Unfinished`]), once no process holds
/// its claim lock and its creator is dead (or it was last modified
/// [`INCOMPLETE_GRACE`] ago). An object *at a name* that has no header at
/// all (empty, or all zero) is not recognisably interlink's — this
/// version's creators never leave one there, but other programs (and
/// older versions) may — so `gc` keeps it: `create` of that name replaces
/// it once it has been left unmodified for [`INCOMPLETE_GRACE`], and
/// `interlink-inspect rm --force` removes it.
///
/// Each removal follows the protocol `create` uses to replace a stale
/// object (see the [`crate::channel`] module docs): the name is unlinked only while `gc` holds
/// the object's claim lock and the name still denotes the object judged,
/// so a `gc` racing creators never removes a newer object.
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
        let Ok(shm_name) = ShmName::new(&name) else {
            continue;
        };
        match reclaim(&shm_name, Duration::ZERO, |again, _| again.is_stale()) {
            Ok(Reclaimed::Unlinked(again, removed)) => done.push((again, removed)),
            Ok(_) => {}
            Err(e) => done.push((object, Err(e))),
        }
    }
    Ok(done)
}

/// Removes the abandoned objects that creators of `name` (or of names
/// `name` begins with: long names are cut in private names) were
/// building when they died; errors are ignored. [`Channel::create`]
/// (crate::channel::Channel::create) calls it so that a creator that is
/// killed and restarted in a loop does not fill `/dev/shm`.
pub(crate) fn remove_unfinished_of(name: &ShmName) {
    let Ok(dir) = std::fs::read_dir(SHM_DIR) else {
        return;
    };
    for entry in dir.flatten() {
        let Some(file) = entry.file_name().to_str().map(|f| format!("/{f}")) else {
            continue;
        };
        let Some(at) = file.rfind(shm::BUILDING_MARKER) else {
            continue;
        };
        if shm::building_pid(&file).is_none() || !name.as_str().starts_with(&file[..at]) {
            continue;
        }
        if let Ok(private) = ShmName::new(&file) {
            let _ = reclaim(&private, Duration::ZERO, |o, _| o.is_stale());
        }
    }
}

/// Judges an object under a private name (see [`shm::building_pid`]);
/// `claimed`: whether its claim lock is held, `None` to ask the kernel.
fn probe_unfinished(name: &ShmName, claimed: Option<bool>) -> Result<Object, ShmError> {
    let Some(pid) = shm::building_pid(name.as_str()) else {
        return Err(crate::OsError::new("probe", libc::EINVAL).on(name).into());
    };
    let Some(shm) = Shm::open_regular(name, false)? else {
        return Ok(Object {
            name: name.to_string(),
            size: 0,
            age: None,
            state: State::Foreign {
                reason: "not a regular file",
            },
        });
    };
    let claimed = match claimed {
        Some(c) => c,
        None => shm::is_claimed(shm.as_fd())?,
    };
    Ok(Object {
        name: name.to_string(),
        size: shm.stat()?.st_size.max(0) as u64,
        age: age_of(&shm)?,
        state: State::Unfinished {
            creator: Pid::check(pid),
            claimed,
        },
    })
}

/// Time since the object was last modified, if the clock allows.
fn age_of(shm: &Shm) -> Result<Option<Duration>, ShmError> {
    let st = shm.stat()?;
    let modified = SystemTime::UNIX_EPOCH
        + Duration::new(
            st.st_mtime.max(0) as u64,
            st.st_mtime_nsec.clamp(0, 999_999_999) as u32,
        );
    Ok(SystemTime::now().duration_since(modified).ok())
}

/// Whether the object has no header at all: empty, or its first
/// [`HEADER_LEN`] bytes (all it has, if fewer) zero but for the state word
/// (`UNINIT` or `INITIALISING`) — what a creator of an older version left
/// when killed while sizing, reserving or prefaulting. Read with `pread`:
/// no mapping, so a peer truncating the object cannot fault us.
pub(crate) fn is_blank(shm: &Shm) -> Result<bool, ShmError> {
    let mut buf = [0u8; HEADER_LEN];
    let n = loop {
        // SAFETY: reads at most buf.len() bytes into buf from an open
        // descriptor.
        let r = unsafe {
            libc::pread(
                shm.as_fd().as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                0,
            )
        };
        match crate::error::check(r, "pread") {
            Ok(n) => break n as usize,
            Err(e) if e.is(libc::EINTR) => continue,
            Err(e) => return Err(e.on(shm.name()).into()),
        }
    };
    let state_word = 12..16;
    let state = buf[state_word.clone()].try_into().map(u32::from_ne_bytes);
    let rest_zero = buf[..n.min(HEADER_LEN)]
        .iter()
        .enumerate()
        .all(|(i, &b)| state_word.contains(&i) || b == 0);
    Ok(rest_zero && matches!(state, Ok(state::UNINIT | state::INITIALISING)))
}

/// What [`reclaim`] did with a name.
#[derive(Debug)]
pub(crate) enum Reclaimed {
    /// The object was judged replaceable and its name unlinked (or the
    /// error unlinking it).
    Unlinked(Object, Result<(), ShmError>),
    /// The object was judged and kept.
    Kept(Object),
    /// Kept: not a regular file (a FIFO, a directory, ...).
    NotRegular,
    /// Kept: another process held its claim lock for the whole wait (it is
    /// creating, replacing or removing it).
    Claimed,
    /// The name is gone, or denotes another object than the one opened:
    /// someone else removed or replaced it meanwhile.
    Moved,
}

/// Removes `name` if `replaceable` says so of the object it denotes, in a
/// way that never removes another object: opens it (non-blocking, regular
/// files only), takes its claim lock ([`shm::CLAIM_BYTE`], waiting at most
/// `wait` while another process holds it), checks that the name still
/// denotes the object opened (device and inode), judges it (the
/// [`probe`] of the name, or for a private name the claim just taken),
/// checks the name again, and only then unlinks it. Two processes that
/// judged the same object stale thus take turns: the second finds the name
/// gone or denoting the first one's new object, and removes nothing.
/// Only processes that claim before unlinking are excluded this way: a
/// creator's own `Drop` and a hostile `shm_unlink` are not.
pub(crate) fn reclaim(
    name: &ShmName,
    wait: Duration,
    replaceable: impl Fn(&Object, &Shm) -> bool,
) -> Result<Reclaimed, ShmError> {
    let shm = match Shm::open_regular(name, true) {
        Ok(Some(shm)) => shm,
        Ok(None) => return Ok(Reclaimed::NotRegular),
        Err(e) if e.is(libc::ENOENT) => return Ok(Reclaimed::Moved),
        Err(e) => return Err(e),
    };
    let ours = shm.identity()?;
    let deadline = Instant::now() + wait;
    let _claim = loop {
        if let Some(claim) = shm::try_claim(shm.as_fd())? {
            break claim;
        }
        if Instant::now() >= deadline {
            return Ok(Reclaimed::Claimed);
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let denotes = || shm::name_identity(name) == Some(ours);
    if !denotes() {
        return Ok(Reclaimed::Moved);
    }
    let object = if shm::building_pid(name.as_str()).is_some() {
        // We hold the claim: its creator does not.
        probe_unfinished(name, Some(false))
    } else {
        probe(name.as_str())
    };
    let object = match object {
        Ok(object) => object,
        Err(e) if e.is(libc::ENOENT) => return Ok(Reclaimed::Moved),
        Err(e) => return Err(e),
    };
    if !replaceable(&object, &shm) {
        return Ok(Reclaimed::Kept(object));
    }
    if !denotes() {
        return Ok(Reclaimed::Moved);
    }
    match shm::unlink(name.as_str()) {
        Err(e) if e.is(libc::ENOENT) => Ok(Reclaimed::Moved),
        removed => Ok(Reclaimed::Unlinked(object, removed)),
    }
}

#[cfg(test)]
mod unfinished_tests {
    use super::*;

    /// The private names building `target` now.
    fn private_names(target: &str) -> Vec<String> {
        std::fs::read_dir(SHM_DIR)
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(|f| format!("/{f}")))
            .filter(|n| n.starts_with(target) && shm::building_pid(n).is_some())
            .collect()
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn an_object_being_built_is_kept_while_its_creator_lives_and_collected_after() {
        let target = ShmName::new(&format!("/il-unfinished-{}", process::current_pid())).unwrap();
        let len = 1 << 16;
        let child = process::fork(|| {
            let Ok(building) = shm::Building::create(&target, len, &shm::ShmOptions::new()) else {
                return 1;
            };
            let _keep = building;
            loop {
                std::thread::sleep(Duration::from_millis(10));
            }
        })
        .unwrap();
        let only_ours = |n: &str| n.starts_with(target.as_str());
        // Wait (bounded) until it exists and is claimed.
        let start = Instant::now();
        let name = loop {
            let claimed = private_names(target.as_str()).into_iter().find(|n| {
                matches!(
                    probe(n).map(|o| o.state),
                    Ok(State::Unfinished { claimed: true, .. })
                )
            });
            if let Some(n) = claimed {
                break n;
            }
            assert!(start.elapsed() < Duration::from_secs(20), "never built");
            std::thread::sleep(Duration::from_millis(1));
        };
        assert_eq!(shm::building_pid(&name), Some(child.pid()));
        let object = probe(&name).unwrap();
        assert_eq!(object.size, len as u64);
        assert!(!object.is_stale(), "{object:?}");
        assert!(object.state.to_string().contains("being created by"));
        assert!(gc(only_ours).unwrap().is_empty());

        child.signal(libc::SIGKILL).unwrap();
        child.wait().unwrap();
        let object = probe(&name).unwrap();
        assert!(
            matches!(object.state, State::Unfinished { claimed: false, creator } if !creator.alive),
            "{object:?}"
        );
        assert!(object.is_stale());
        let collected = gc(only_ours).unwrap();
        assert_eq!(collected.len(), 1, "{collected:?}");
        assert_eq!(collected[0].0.name, name);
        assert!(collected[0].1.is_ok());
        assert!(private_names(target.as_str()).is_empty());
    }

    #[test]
    fn building_names_are_parsed_strictly() {
        assert_eq!(shm::building_pid("/a.interlink-new.12.3"), Some(12));
        assert_eq!(
            shm::building_pid("/a.interlink-new.interlink-new.12.3"),
            Some(12)
        );
        for not in [
            "/a",
            "/a.interlink-new.12",
            "/a.interlink-new.12.",
            "/a.interlink-new..3",
            "/a.interlink-new.x.3",
            "/a.interlink-new.12.3.4",
            "/a.interlink-new.99999999999.3",
        ] {
            assert_eq!(shm::building_pid(not), None, "{not}");
        }
    }
}
