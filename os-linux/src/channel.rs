//! Named channels: a core ring in a POSIX shm object that unrelated
//! processes create and open by name — [`SpscChannel`] (one sender, one
//! receiver, fixed-size elements), [`ByteChannel`] (variable-length
//! messages) and [`MpmcChannel`] (any number of senders and receivers).
//!
//! ```no_run
//! use interlink_core::RingConfig;
//! use interlink_linux::channel::{ChannelOptions, SpscChannel};
//!
//! // Process A creates the channel and sends.
//! let channel = SpscChannel::<u64>::create("/quotes", RingConfig::new(1024), &ChannelOptions::new())?;
//! let mut tx = channel.sender()?;
//! tx.send(42)?;
//!
//! // Process B (another program) opens it by name and receives.
//! let channel = SpscChannel::<u64>::open("/quotes", 0, &ChannelOptions::new())?;
//! let mut rx = channel.receiver()?;
//! assert_eq!(rx.recv()?, 42);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Create and open
//!
//! The creator builds the object where no one can see it, then publishes
//! it in one atomic step, so that whatever it leaves when killed at any
//! instruction is recognisable:
//!
//! 1. It creates a private object in the same directory,
//!    `/NAME.interlink-new.PID.N` (NAME cut to fit `NAME_MAX`; see
//!    [`shm::building_pid`]), exclusively, mode 0600, and takes its *claim
//!    lock*: an OFD write lock on byte [`shm::CLAIM_BYTE`], which the
//!    kernel drops when the creator dies, whatever its pid.
//! 2. It sizes it (space reserved), maps it (prefaulted), initialises the
//!    ring with its pid recorded as the creator, and publishes the header.
//! 3. It moves the object to `NAME` with `renameat2(RENAME_NOREPLACE)`
//!    (`link(2)` where that is unsupported), which fails if any object
//!    has the name; then it releases the claim.
//!
//! So `NAME` only ever denotes a whole, published object. A creator killed
//! before step 3 leaves a private object ([`inspect::State::Unfinished`])
//! that is stale once nobody holds its claim and its creator's pid is dead
//! (or [`inspect::INCOMPLETE_GRACE`] after it was last modified, for a
//! reused pid): `interlink-inspect gc` removes it, and so does the next
//! `create` of the same name. Channel names may not contain
//! [`shm::BUILDING_MARKER`].
//!
//! An opener retries, until [`ChannelOptions::open_timeout`], while the
//! name does not exist, the object is still empty, or the header is not
//! yet published; then it validates the header: another kind, layout
//! version, element type, or a corrupt capacity or length is a
//! [`ChannelError`] naming the object.
//!
//! **Taking a name over.** When `NAME` is taken, `create` refuses at once
//! if it holds a channel in use ([`ChannelError::Exists`], saying why);
//! otherwise, after building, it replaces the object there if it is stale
//! ([`ChannelOptions::replace_stale`]), by the protocol `gc` uses too
//! (`inspect::reclaim`): open it (non-blocking, regular files only), take
//! its claim (waiting at most 2 s), check that `NAME` still denotes the
//! same device and inode, judge it, check again, unlink `NAME`, release;
//! then publish with `RENAME_NOREPLACE`. Two creators that judged the same
//! object stale take turns on its claim: the second finds `NAME` gone or
//! denoting the first one's new object and unlinks nothing, and its
//! publish either wins (the first one's then fails) or fails. **Of any
//! number of creators racing for one name, exactly one gets the channel;
//! the others get [`ChannelError::Exists`].** Only processes that claim
//! before they unlink are ordered this way: a creator's `Drop`
//! (identity-checked) and a hostile `shm_unlink` are not.
//!
//! **An object without a header at `NAME`** — empty, or its first 64
//! bytes zero but for an `UNINIT`/`INITIALISING` state word — is what
//! older versions of `create` left when killed while sizing, reserving or
//! prefaulting (this version never leaves one at a name), or another
//! program's. `create` replaces it once it has been unmodified for
//! [`inspect::INCOMPLETE_GRACE`] (a creator of an older version at work
//! writes it within that time) and refuses it before; `gc`, which
//! sweeps every name, keeps it since nothing marks it as interlink's.
//! Any object with other bytes is never replaced.
//!
//! With [`ShmOptions::exclusive`] off, `create` opens or creates the name
//! and initialises the object in place, without any of the above.
//!
//! # Lifecycle
//!
//! - **Who unlinks.** The creator's [`Channel`] unlinks the name when it is
//!   dropped ([`ChannelOptions::unlink_on_drop`], default on; it spares a
//!   newer object that took the name meanwhile). Openers never unlink.
//!   [`Channel::keep_name`] leaves the object for a later run;
//!   [`remove`] deletes it explicitly.
//! - **The creator exits first.** Nothing breaks for those already
//!   attached: the memory lives until the last process unmaps it and the
//!   ring keeps working. Only the name is gone, so a late opener times out
//!   with [`Pending::Missing`].
//! - **A peer dies.** Its role stays recorded with its pid. A blocked
//!   [`Sender::send`] or [`Receiver::recv`] checks the peer's pid now and
//!   then and returns [`BlockError::PeerDied`] (a receiver first drains
//!   what was sent). A restarted process takes the dead holder's role over
//!   ([`Channel::sender`] / [`Channel::receiver`] do it automatically) and
//!   resumes at the shared indices.
//! - **Stale objects.** A creator killed after publishing, before its
//!   `Drop`, leaves the object behind. It is stale when its creator and every role holder
//!   (for an MPMC channel, which has no roles: every process recorded in
//!   the ring's users table while it had the channel open) are dead (see
//!   [`crate::inspect::Object::is_stale`]); [`Channel::create`] replaces
//!   a stale object of its name ([`ChannelOptions::replace_stale`],
//!   default on) and the `interlink-inspect gc` tool removes them all.
//! - **Who is alive.** Each [`Channel`] holds a presence lock in its
//!   object while it lives, released by the kernel when its process dies;
//!   a recorded holder is judged by it first, then by its pid (a zombie is
//!   dead; a pid reused by a process that does not map the object does
//!   not keep a dead holder alive). See [`crate::liveness`] for the rule,
//!   its bound and its limits.
//!
//! # Waiting
//!
//! Blocking calls use the core's blocking layer: the SPSC ring's two event
//! words, a [`Blocking`] strategy chosen by [`ChannelOptions::waiting`]
//! ([`Waiting::Spin`], [`Waiting::SpinThenPark`] — the default — or
//! [`Waiting::Park`]) and the *shared* [`Futex`], so a parked end in one
//! process is woken by its peer's send or receive in another. An end
//! whose peer is awake makes no syscall: each successful operation costs
//! one fence and one load to see whether the peer sleeps. The raw
//! [`Producer`] and [`Consumer`] (for chunks) do not wake a sleeping peer
//! by themselves; see [`Sender::producer`].
//!
//! Timeouts bound the whole call. A blocked call waits in slices of at
//! most [`ChannelOptions::peer_check`] (10 ms) and checks the peer's pid
//! between them, so a sleeper notices a dead peer within about a slice.
//!
//! # Hostile names, truncation and sealed channels
//!
//! Opening a name is non-blocking and refuses anything but a regular file
//! ([`ShmError::NotRegular`]). [`Channel::open`] validates the header and
//! control block from a `pread` copy and the object's size with `fstat`
//! ([`ChannelError::WrongSize`] for a resized object) before it maps
//! exactly the structure's length, so a peer resizing the object during
//! the open causes an error, never a `SIGBUS` in the open. Once mapped, a
//! named channel's memory can still be truncated by any process of the
//! same user, and every process using it then dies of `SIGBUS` on its
//! next access past the new end. Against such a peer, use a sealed
//! channel ([`Channel::create_sealed`], [`Channel::from_sealed_fd`]):
//! its memory is a memfd sealed against resizing, handed over a Unix
//! socket, and no process can truncate it (see [`sealed`]).

use std::fmt;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

use interlink_core::layout::Kind;
use interlink_core::mpmc::UserSlot;
use interlink_core::spsc::{Consumer, Producer, SpscRing};
use interlink_core::{
    AttachError, Blocking, InitError, Plain, PopError, PushError, Region, RingConfig, RoleError,
};

pub use interlink_core::BlockError;

mod bytes;
mod mpmc;
pub mod sealed;
pub use bytes::{ByteChannel, ByteReceiver, ByteSender, Bytes};
pub use mpmc::{Mpmc, MpmcChannel, MpmcHandle};

use std::os::fd::{AsFd, BorrowedFd};

use crate::futex::Futex;
use crate::inspect;
use crate::liveness;
use crate::mapping::{fd_len, PrivateCopy};
use crate::memfd::Seals;
use crate::process;
use crate::shm::{self, MapOptions, Mapping, Shm, ShmError, ShmName, ShmOptions};

/// A structure a named [`Channel`] can hold: its kind, its size for a
/// configuration, how to initialise it, how to check one that another
/// process initialised and, for structures without roles, how a process
/// records that it uses one. Implemented by the marker types [`Spsc`],
/// [`Bytes`] and [`Mpmc`].
pub trait Shape {
    /// The kind recorded in the header.
    const KIND: Kind;
    /// Bytes needed for `capacity`, header included.
    fn bytes_needed(capacity: u32) -> Result<usize, InitError>;
    /// Initialises and publishes the structure in `region`.
    fn init(region: Region<'_>, config: RingConfig) -> Result<(), InitError>;
    /// Validates the structure in `region`; returns its capacity.
    fn attach(region: Region<'_>, type_id: u64) -> Result<u32, AttachError>;

    /// Records process `pid` as a user of the validated structure in
    /// `region`, for as long as a [`Channel`] has it open, so that the
    /// inspector sees it in use; returns what [`Shape::leave`] needs, or
    /// `None` when nothing was recorded. Structures whose users hold roles
    /// (SPSC, bytes) record them when a role is claimed instead: the
    /// default records nothing.
    fn join(region: Region<'_>, type_id: u64, pid: u32) -> Option<UserSlot> {
        let _ = (region, type_id, pid);
        None
    }

    /// Undoes [`Shape::join`] for `pid` at `slot` (frees nothing another
    /// process took over meanwhile). The default does nothing.
    fn leave(region: Region<'_>, type_id: u64, slot: UserSlot, pid: u32) {
        let _ = (region, type_id, slot, pid);
    }
}

/// Marker: a channel holding an [`SpscRing`] of `T`.
#[derive(Debug)]
pub struct Spsc<T>(PhantomData<T>);

impl<T: Plain> Shape for Spsc<T> {
    const KIND: Kind = Kind::Spsc;

    fn bytes_needed(capacity: u32) -> Result<usize, InitError> {
        SpscRing::<T>::bytes_needed(capacity)
    }

    fn init(region: Region<'_>, config: RingConfig) -> Result<(), InitError> {
        SpscRing::<T>::init(region, config).map(drop)
    }

    fn attach(region: Region<'_>, type_id: u64) -> Result<u32, AttachError> {
        SpscRing::<T>::attach(region, type_id).map(|r| r.capacity())
    }
}

/// A named single-producer single-consumer channel of `T`.
pub type SpscChannel<T> = Channel<Spsc<T>>;

/// How to create or open a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelOptions {
    /// How long [`Channel::open`] waits for the object to appear and be
    /// published (default 5 s).
    pub open_timeout: Duration,
    /// How to map (default: prefaulted).
    pub map: MapOptions,
    /// How to create the object (default: exclusive, 0600, reserved).
    /// Exclusive creation builds under a private name and publishes
    /// atomically (see the module docs); non-exclusive initialises
    /// whatever object has the name in place, with none of those
    /// guarantees.
    pub shm: ShmOptions,
    /// Whether the creator unlinks the name when its [`Channel`] drops
    /// (default true).
    pub unlink_on_drop: bool,
    /// Whether [`Channel::create`] replaces a stale object of the same name
    /// (creator and every holder dead), or an abandoned one without a
    /// header (see the module docs; default true).
    pub replace_stale: bool,
    /// How blocked sends and receives wait (default
    /// [`Waiting::SpinThenPark`]).
    pub waiting: Waiting,
    /// How often a blocked send or receive checks that its peer lives
    /// (default 10 ms): a parked end sleeps at most this long at a time.
    pub peer_check: Duration,
}

impl Default for ChannelOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl ChannelOptions {
    /// The defaults listed on each field.
    pub const fn new() -> Self {
        Self {
            open_timeout: Duration::from_secs(5),
            map: MapOptions::new(),
            shm: ShmOptions::new(),
            unlink_on_drop: true,
            replace_stale: true,
            waiting: Waiting::SpinThenPark,
            peer_check: Duration::from_millis(10),
        }
    }

    /// The same options with `open_timeout`.
    pub const fn open_timeout(mut self, timeout: Duration) -> Self {
        self.open_timeout = timeout;
        self
    }

    /// The same options with `map`.
    pub const fn map(mut self, map: MapOptions) -> Self {
        self.map = map;
        self
    }

    /// The same options with `unlink_on_drop`.
    pub const fn unlink_on_drop(mut self, yes: bool) -> Self {
        self.unlink_on_drop = yes;
        self
    }

    /// The same options with `replace_stale`.
    pub const fn replace_stale(mut self, yes: bool) -> Self {
        self.replace_stale = yes;
        self
    }

    /// The same options with `waiting`.
    pub const fn waiting(mut self, waiting: Waiting) -> Self {
        self.waiting = waiting;
        self
    }

    /// The same options with `peer_check` (at least 1 ms).
    pub const fn peer_check(mut self, every: Duration) -> Self {
        self.peer_check = at_least_1ms(every);
        self
    }
}

/// Liveness checks are syscalls: not more often than every millisecond.
pub(crate) const fn at_least_1ms(every: Duration) -> Duration {
    if every.as_millis() < 1 {
        Duration::from_millis(1)
    } else {
        every
    }
}

/// What an opener was still waiting for when its timeout passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pending {
    /// No object has the name.
    Missing,
    /// The object exists but has no bytes yet (created, not sized).
    Empty,
    /// The header is not published (its state word).
    NotReady {
        /// The raw state word.
        state: u32,
    },
}

impl fmt::Display for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("no object has this name"),
            Self::Empty => f.write_str("the object exists but is empty (not sized yet)"),
            Self::NotReady { state } => {
                write!(f, "the structure is not published (state {state})")
            }
        }
    }
}

/// Why a channel could not be created or opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChannelError {
    /// A name, size, or syscall problem.
    Shm(ShmError),
    /// The configuration cannot make a ring (capacity).
    Init(InitError),
    /// The object exists but is not a channel this call can use: another
    /// kind, layout version or element type, or a corrupt header.
    Attach {
        /// The object's name.
        name: String,
        /// What was wrong.
        error: AttachError,
    },
    /// The object is shorter than a header yet not empty: truncated, or
    /// not interlink's.
    Truncated {
        /// The object's name.
        name: String,
        /// Its size in bytes.
        size: usize,
    },
    /// Creating: the name is taken by an object that is not stale.
    Exists {
        /// The object's name.
        name: String,
        /// Why it was not replaced (as the inspector classifies it).
        why: String,
    },
    /// Opening: the timeout passed while the object was not ready.
    Timeout {
        /// The object's name.
        name: String,
        /// How long the opener waited.
        waited: Duration,
        /// What it was still waiting for.
        pending: Pending,
    },
    /// A role could not be claimed: another live process holds it.
    Role(RoleError),
    /// Opening: the object's size is not the one its structure takes:
    /// another process resized it (grew or shrank it). Refused before
    /// anything was mapped.
    WrongSize {
        /// The object's name.
        name: String,
        /// Its size in bytes (by `fstat`).
        size: u64,
        /// The size its validated header says the structure takes.
        needed: u64,
    },
    /// A descriptor handed to [`Channel::from_sealed_fd`] is not sealed as
    /// a sealed channel must be: it lacks `F_SEAL_SHRINK | F_SEAL_GROW`
    /// (a peer could truncate it under the mapping), or carries a write
    /// seal (it cannot be mapped writable), or is not a sealable memfd.
    Seals {
        /// What the descriptor is (`/memfd:LABEL`).
        name: String,
        /// The seals found (`F_GET_SEALS`; empty if it cannot have any).
        found: Seals,
        /// What is wrong.
        problem: &'static str,
    },
}

impl From<ShmError> for ChannelError {
    fn from(e: ShmError) -> Self {
        Self::Shm(e)
    }
}

impl From<InitError> for ChannelError {
    fn from(e: InitError) -> Self {
        Self::Init(e)
    }
}

impl From<RoleError> for ChannelError {
    fn from(e: RoleError) -> Self {
        Self::Role(e)
    }
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Shm(e) => e.fmt(f),
            Self::Init(e) => write!(f, "cannot make the ring: {e}"),
            Self::Attach { name, error } => write!(f, "{name}: {error}"),
            Self::Truncated { name, size } => write!(
                f,
                "{name}: {size} bytes, shorter than a header (truncated, or not an interlink object)"
            ),
            Self::Exists { name, why } => write!(f, "{name} exists and is in use: {why}"),
            Self::Timeout {
                name,
                waited,
                pending,
            } => write!(f, "{name}: not ready after {waited:?}: {pending}"),
            Self::Role(e) => e.fmt(f),
            Self::WrongSize { name, size, needed } => write!(
                f,
                "{name}: {size} bytes, but its structure takes exactly {needed}: \
                 resized by another process? (refused before mapping)"
            ),
            Self::Seals {
                name,
                found,
                problem,
            } => write!(
                f,
                "{name}: seals {:#x}: {problem} (a sealed channel needs \
                 F_SEAL_SHRINK | F_SEAL_GROW and no write seal)",
                found.0
            ),
        }
    }
}

impl std::error::Error for ChannelError {}

/// A named shared object holding one structure of shape `S`, mapped into
/// this process. Handles borrow it; the creator's unlinks the name on drop
/// (see the module docs for the lifecycle). For a shape without roles
/// (MPMC), it is recorded as a user of the structure while it lives.
#[derive(Debug)]
pub struct Channel<S> {
    mapping: Mapping,
    name: ShmName,
    type_id: u64,
    capacity: u32,
    creator: bool,
    patience: Patience,
    user: Option<User>,
    /// This process's presence lock in the object (see
    /// [`crate::liveness::Presence`]); `None` if `/proc` could not reopen
    /// it (holders are then judged by the process rule alone).
    presence: Option<liveness::Presence>,
    _shape: PhantomData<S>,
}

/// Where a [`Channel`] recorded its process as a user ([`Shape::join`]),
/// and how to undo it on drop.
#[derive(Debug)]
struct User {
    slot: UserSlot,
    pid: u32,
    leave: fn(Region<'_>, u64, UserSlot, u32),
}

impl User {
    /// Records this process as a user of the structure in `region`; the
    /// words of users that died are judged by `presence`'s object.
    fn join<S: Shape>(
        region: Region<'_>,
        type_id: u64,
        presence: Option<&liveness::Presence>,
    ) -> Option<Self> {
        let pid = process::current_pid();
        let judge = presence.map(liveness::Presence::judge);
        liveness::judging(judge, || S::join(region, type_id, pid)).map(|slot| Self {
            slot,
            pid,
            leave: S::leave,
        })
    }
}

impl<S> Drop for Channel<S> {
    fn drop(&mut self) {
        // A forked child that inherited the channel is not the user
        // recorded: leaving would free its parent's word.
        if let Some(user) = self.user.take().filter(|u| u.pid == process::current_pid()) {
            (user.leave)(self.mapping.region(), self.type_id, user.slot, user.pid);
        }
    }
}

impl<S: Shape> Channel<S> {
    /// Creates the object `name` holding a new, published structure with
    /// `config` (this process's pid is recorded as the creator).
    ///
    /// The object is built under a private name and published at `name`
    /// in one atomic step (see the module docs, "Create and open"), so a
    /// creator killed at any point leaves no half-made object at `name`.
    /// If `name` is taken by a stale object (and
    /// [`ChannelOptions::replace_stale`]), it is replaced; of several
    /// processes creating one name at once, exactly one succeeds and the
    /// others get [`ChannelError::Exists`]. Names containing
    /// [`shm::BUILDING_MARKER`] are refused.
    pub fn create(
        name: &str,
        config: RingConfig,
        options: &ChannelOptions,
    ) -> Result<Self, ChannelError> {
        let shm_name = ShmName::new(name)?;
        if name.contains(shm::BUILDING_MARKER) {
            return Err(ShmError::Name {
                name: name.to_owned(),
                problem: "contains \".interlink-new.\", which marks objects being created",
            }
            .into());
        }
        let len = S::bytes_needed(config.capacity)?;
        if !options.shm.exclusive {
            // In place: open or create the name, resize and initialise it.
            // No atomic publication: see ShmOptions::exclusive.
            let shm = Shm::create_with(name, len, &options.shm)?;
            let mut channel = Self::init_in(&shm, &shm_name, len, config, options)?;
            if options.unlink_on_drop {
                channel.mapping.unlink_on_drop_of(&shm)?;
            }
            return Ok(channel);
        }
        // Refuse at once, before building a ring, when a live channel has
        // the name (the common case); everything else is decided when
        // publishing.
        Self::refuse_if_in_use(&shm_name, options)?;
        inspect::remove_unfinished_of(&shm_name);
        let building = shm::Building::create(&shm_name, len, &options.shm)?;
        let mut channel = Self::init_in(building.shm(), &shm_name, len, config, options)?;
        let (dev, ino) = building.shm().identity()?;
        // Dropping `building` on an error unlinks its private name; nothing
        // after a successful publish can fail.
        let shm = Self::publish(building, &shm_name, options)?;
        if options.unlink_on_drop {
            channel.mapping.set_unlink(crate::mapping::UnlinkOnDrop {
                name: shm_name,
                dev,
                ino,
            });
        }
        // Release the claim it was built under: the mapping keeps the open
        // file description (and a lock on it) alive after `shm` closes.
        shm::release_claim(std::os::fd::AsFd::as_fd(&shm));
        Ok(channel)
    }

    /// How long a creator waits for another process's claim on the object
    /// at its name (a creator finishing, a replacer or `gc` removing it):
    /// each holds it for microseconds to milliseconds.
    const CLAIM_WAIT: Duration = Duration::from_secs(2);

    /// How many times a creator frees a name and finds it taken again
    /// before it gives up.
    const PUBLISH_TRIES: u32 = 4;

    /// [`ChannelError::Exists`] when `name` holds a valid channel that is
    /// not stale or any object while `replace_stale` is off;
    /// [`ShmError::NotRegular`] for something that is not a regular file.
    fn refuse_if_in_use(name: &ShmName, options: &ChannelOptions) -> Result<(), ChannelError> {
        let exists = |why: String| ChannelError::Exists {
            name: name.to_string(),
            why,
        };
        // Something other than a regular file is refused with the error
        // that names it ([`ShmError::NotRegular`]).
        match Shm::open_read_only(name.as_str()) {
            Err(e) if e.is(libc::ENOENT) => return Ok(()),
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        match inspect::probe(name.as_str()) {
            Ok(object) if !options.replace_stale => Err(exists(object.state.to_string())),
            Ok(object)
                if matches!(object.state, inspect::State::Valid(_)) && !object.is_stale() =>
            {
                Err(exists(object.state.to_string()))
            }
            _ => Ok(()),
        }
    }

    /// Publishes `building` at `name`, replacing a stale object there.
    fn publish(
        mut building: shm::Building,
        name: &ShmName,
        options: &ChannelOptions,
    ) -> Result<Shm, ChannelError> {
        let mut tries = 0;
        loop {
            tries += 1;
            match building.publish() {
                Ok(()) => return Ok(building.into_shm()),
                Err(e) if e.is(libc::EEXIST) && tries < Self::PUBLISH_TRIES => {
                    Self::replace_if_stale(name, options)?;
                }
                Err(e) if e.is(libc::EEXIST) => {
                    return Err(ChannelError::Exists {
                        name: name.to_string(),
                        why: format!("taken again each of the {tries} times it was freed"),
                    })
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Removes the object at `name` if it is stale, or abandoned before
    /// its header was written (empty or all zero, unmodified for
    /// [`inspect::INCOMPLETE_GRACE`]), with the claim-and-recheck protocol
    /// of [`inspect::reclaim`]: `Ok` when the name was freed (by us or by
    /// another process), [`ChannelError::Exists`] when the object there
    /// stays.
    fn replace_if_stale(name: &ShmName, options: &ChannelOptions) -> Result<(), ChannelError> {
        let exists = |why: String| ChannelError::Exists {
            name: name.to_string(),
            why,
        };
        if !options.replace_stale {
            let why = inspect::probe(name.as_str())
                .map_or_else(|e| e.to_string(), |o| o.state.to_string());
            return Err(exists(why));
        }
        let abandoned = |object: &inspect::Object, shm: &Shm| {
            object.is_stale()
                || (object.age.is_some_and(|a| a >= inspect::INCOMPLETE_GRACE)
                    && !matches!(object.state, inspect::State::Valid(_))
                    && inspect::is_blank(shm).unwrap_or(false))
        };
        match inspect::reclaim(name, Self::CLAIM_WAIT, abandoned)? {
            inspect::Reclaimed::Unlinked(_, removed) => removed.map_err(ChannelError::from),
            inspect::Reclaimed::Moved => Ok(()),
            inspect::Reclaimed::Kept(object) => Err(exists(match object.state {
                inspect::State::Foreign { .. } => format!(
                    "{}; an object without a header is replaced only once unmodified for {:?}",
                    object.state,
                    inspect::INCOMPLETE_GRACE
                ),
                state => state.to_string(),
            })),
            inspect::Reclaimed::NotRegular => Err(exists("not a regular file".to_owned())),
            inspect::Reclaimed::Claimed => Err(exists(
                "another process is creating, replacing or removing it".to_owned(),
            )),
        }
    }

    /// Maps `shm` (which will be published as `name`) and initialises the
    /// structure in it, recording this process as its creator.
    fn init_in(
        shm: &Shm,
        name: &ShmName,
        len: usize,
        config: RingConfig,
        options: &ChannelOptions,
    ) -> Result<Self, ChannelError> {
        let mapping = shm.map(&options.map)?;
        let presence = liveness::Presence::take(shm.as_fd()).ok();
        let config = config.with_creator_pid(process::current_pid());
        // The object may be longer than asked (explicit huge pages); the
        // structure takes the front.
        let mut region = mapping.region();
        S::init(region.take(len, 1).map_err(InitError::from)?, config)?;
        let user = User::join::<S>(mapping.region(), config.type_id, presence.as_ref());
        Ok(Self {
            name: name.clone(),
            mapping,
            type_id: config.type_id,
            capacity: config.capacity,
            creator: true,
            patience: Patience::of(options, presence.as_ref()),
            user,
            presence,
            _shape: PhantomData,
        })
    }

    /// Opens the object `name`, waiting up to `options.open_timeout` for a
    /// creator to make and publish it, and validates it against `S` with
    /// the element type id `type_id`.
    pub fn open(name: &str, type_id: u64, options: &ChannelOptions) -> Result<Self, ChannelError> {
        let shm_name = ShmName::new(name)?;
        let start = Instant::now();
        let mut pause = Duration::from_micros(100);
        loop {
            let pending = match Self::try_open(&shm_name, type_id, options)? {
                Ok(channel) => return Ok(channel),
                Err(pending) => pending,
            };
            let waited = start.elapsed();
            if waited >= options.open_timeout {
                return Err(ChannelError::Timeout {
                    name: name.to_owned(),
                    waited,
                    pending,
                });
            }
            std::thread::sleep(pause.min(options.open_timeout - waited));
            pause = (pause * 2).min(Duration::from_millis(10));
        }
    }

    /// One attempt: the channel, or what is still pending, or an error
    /// that waiting will not cure.
    fn try_open(
        name: &ShmName,
        type_id: u64,
        options: &ChannelOptions,
    ) -> Result<Result<Self, Pending>, ChannelError> {
        let shm = match Shm::open(name.as_str()) {
            Ok(shm) => shm,
            Err(e) if e.is(libc::ENOENT) => return Ok(Err(Pending::Missing)),
            Err(e) => return Err(e.into()),
        };
        let (mapping, capacity) = match Self::map_checked(shm.as_fd(), name, type_id, options)? {
            Ok(mapped) => mapped,
            Err(pending) => return Ok(Err(pending)),
        };
        Ok(Ok(Self::opened(
            mapping,
            shm.as_fd(),
            name.clone(),
            type_id,
            capacity,
            options,
        )))
    }

    /// Validates the structure behind `fd` and maps it: reads the header
    /// and control block with `pread` into a private copy and validates
    /// them there (kind, version, element, capacity, length), checks with
    /// `fstat` that the object has exactly the length the structure takes,
    /// and only then maps that length (and prefaults it if asked). Nothing
    /// of the object is mapped before its size is validated, and nothing
    /// mapped is touched here, so a peer resizing the object meanwhile
    /// causes an error, not a `SIGBUS` in this call.
    fn map_checked(
        fd: BorrowedFd<'_>,
        name: &ShmName,
        type_id: u64,
        options: &ChannelOptions,
    ) -> Result<Result<(Mapping, u32), Pending>, ChannelError> {
        let size = fd_len(fd)?;
        let header = match size {
            0 => return Ok(Err(Pending::Empty)),
            size if size < inspect::HEADER_LEN => None,
            _ => inspect::header_of(fd)?,
        };
        let Some(header) = header else {
            return Err(ChannelError::Truncated {
                name: name.to_string(),
                size,
            });
        };
        // A copy as long as the object, but no longer than the header's
        // capacity says the structure is (or the control block, if the
        // capacity is no capacity): attach judges it as it would the object.
        let copy_len = match S::bytes_needed(header.capacity) {
            Ok(needed) => needed.min(size),
            Err(_) => size.min(PrivateCopy::PREFIX),
        };
        let copy = PrivateCopy::read(fd, copy_len)?;
        let capacity = match S::attach(copy.region(), type_id) {
            Ok(capacity) => capacity,
            Err(AttachError::NotReady { state }) => return Ok(Err(Pending::NotReady { state })),
            Err(error) => {
                return Err(ChannelError::Attach {
                    name: name.to_string(),
                    error,
                })
            }
        };
        // attach checked the recorded length against this capacity.
        let needed = S::bytes_needed(capacity)?;
        // Larger than the structure (a peer grew it), or resized since the
        // first look: refused before mapping.
        let now = fd_len(fd)?;
        if size != needed || now != needed {
            return Err(ChannelError::WrongSize {
                name: name.to_string(),
                size: if size != needed { size } else { now } as u64,
                needed: needed as u64,
            });
        }
        // Exactly the validated length, whatever the object's size now.
        let mapping = Mapping::from_fd(fd, needed, &options.map).map_err(|e| match e {
            ShmError::Os(os) => ShmError::Os(os.on(name)),
            other => other,
        })?;
        Ok(Ok((mapping, capacity)))
    }

    /// A channel this process opened (not created) over `mapping` of the
    /// object behind `fd` (on which it takes its presence lock).
    fn opened(
        mapping: Mapping,
        fd: BorrowedFd<'_>,
        name: ShmName,
        type_id: u64,
        capacity: u32,
        options: &ChannelOptions,
    ) -> Self {
        let presence = liveness::Presence::take(fd).ok();
        Self {
            user: User::join::<S>(mapping.region(), type_id, presence.as_ref()),
            mapping,
            name,
            type_id,
            capacity,
            creator: false,
            patience: Patience::of(options, presence.as_ref()),
            presence,
            _shape: PhantomData,
        }
    }

    /// The channel's name.
    pub fn name(&self) -> &ShmName {
        &self.name
    }

    /// The structure's capacity (elements).
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Whether this process created the channel.
    pub fn is_creator(&self) -> bool {
        self.creator
    }

    /// Where this channel recorded its process as a user of the structure
    /// (MPMC; see [`Shape::join`]), or `None` where nothing was recorded.
    pub fn user_slot(&self) -> Option<UserSlot> {
        self.user.as_ref().map(|u| u.slot)
    }

    /// Whether dropping this channel unlinks its name.
    pub fn unlinks_on_drop(&self) -> bool {
        self.mapping.unlinks().is_some()
    }

    /// Leaves the name in place when this channel drops (the object then
    /// lives until [`remove`] or `interlink-inspect rm`/`gc`).
    pub fn keep_name(&mut self) {
        self.mapping.keep_name();
    }

    /// The mapping (for its options: huge pages, locked).
    pub fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    /// Whether the holder recorded as `pid` in this object (creator, role,
    /// users word) lives: by its presence lock in the object, else by the
    /// process rule (see [`crate::liveness`]). What take-over, blocked
    /// calls and the users table ask.
    pub fn holder_alive(&self, pid: u32) -> bool {
        match &self.presence {
            Some(presence) => presence.holder_alive(pid),
            None => liveness::process_alive(pid),
        }
    }
}

/// Removes the channel object `name` (`shm_unlink`); processes that have it
/// mapped keep using it.
pub fn remove(name: &str) -> Result<(), ShmError> {
    shm::unlink(name)
}

impl<S: Shape> Channel<S> {
    /// The structure, attached with `attach` (a ring's own `attach`).
    fn attached<'s, R>(
        &'s self,
        attach: impl FnOnce(Region<'s>, u64) -> Result<R, AttachError>,
    ) -> Result<R, ChannelError> {
        attach(self.mapping.region(), self.type_id).map_err(|error| ChannelError::Attach {
            name: self.name.to_string(),
            error,
        })
    }
}

impl<T: Plain> Channel<Spsc<T>> {
    fn ring(&self) -> Result<SpscRing<'_, T>, ChannelError> {
        self.attached(SpscRing::attach)
    }

    /// Claims the producer role for this process, taking it over if its
    /// holder is dead.
    pub fn sender(&self) -> Result<Sender<'_, T>, ChannelError> {
        let tx = self
            .ring()?
            .take_over_producer(process::current_pid(), |pid| self.holder_alive(pid))?;
        Ok(Sender {
            tx,
            patience: self.patience,
        })
    }

    /// Claims the consumer role for this process, taking it over if its
    /// holder is dead.
    pub fn receiver(&self) -> Result<Receiver<'_, T>, ChannelError> {
        let rx = self
            .ring()?
            .take_over_consumer(process::current_pid(), |pid| self.holder_alive(pid))?;
        Ok(Receiver {
            rx,
            patience: self.patience,
        })
    }

    /// Elements in the ring now.
    pub fn len(&self) -> u32 {
        self.ring().map_or(0, |r| r.len())
    }

    /// Whether the ring is empty now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How a blocked [`Sender`] or [`Receiver`] waits: one of the core's
/// [`Blocking`] strategies on the shared [`Futex`]. The two ends of a
/// channel may choose differently; a side that never parks costs its peer
/// no syscall.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Waiting {
    /// Never sleep in the kernel ([`Blocking::spinning`]): spin, then
    /// yield the CPU between polls. The lowest latency; keeps a core busy
    /// while waiting.
    Spin,
    /// Spin briefly, yield a few times, then park on the ring's futex word
    /// until the peer's operation wakes it ([`Blocking::new`]). A peer
    /// that answers within microseconds is caught spinning; an idle one
    /// costs no CPU. The default.
    #[default]
    SpinThenPark,
    /// Park at once ([`Blocking::parking`]): the fewest cycles spent
    /// waiting, and every wait pays the kernel's wake-up.
    Park,
}

impl Waiting {
    /// The core strategy this stands for.
    pub const fn blocking(self) -> Blocking<Futex> {
        match self {
            Self::Spin => Blocking::spinning(Futex),
            Self::SpinThenPark => Blocking::new(Futex),
            Self::Park => Blocking::parking(Futex),
        }
    }
}

/// How an end waits, and how often it checks that its peer lives.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Patience {
    blocking: Blocking<Futex>,
    peer_check: Duration,
    /// Judges the peer by the object's presence locks; valid while the
    /// [`Channel`] (which owns the descriptor) lives, and every end that
    /// holds a `Patience` borrows the channel.
    judge: Option<liveness::Judge>,
}

impl Patience {
    fn of(options: &ChannelOptions, presence: Option<&liveness::Presence>) -> Self {
        Self {
            blocking: options.waiting.blocking(),
            peer_check: options.peer_check,
            judge: presence.map(liveness::Presence::judge),
        }
    }

    /// Whether the peer recorded as `holder` lives.
    fn peer_alive(&self, holder: u32) -> bool {
        match self.judge {
            Some(judge) => judge.alive(holder),
            None => liveness::process_alive(holder),
        }
    }

    /// Runs `op` (a core blocking operation taking a timeout) in slices of
    /// at most `peer_check`, spending `left`; between slices, checks that
    /// `peer()` (a pid, 0 for none) is alive. When the peer has died, `op`
    /// gets one last try with a zero timeout (a receiver drains what was
    /// sent) before [`BlockError::PeerDied`].
    pub(crate) fn wait<R>(
        &self,
        left: &mut Option<Duration>,
        peer: impl Fn() -> u32,
        mut op: impl FnMut(&Blocking<Futex>, Option<Duration>) -> Result<R, BlockError>,
    ) -> Result<R, BlockError> {
        loop {
            let slice = left.map_or(self.peer_check, |l| l.min(self.peer_check));
            match op(&self.blocking, Some(slice)) {
                Err(BlockError::TimedOut) => {}
                done => return done,
            }
            let holder = peer();
            if holder != 0 && !self.peer_alive(holder) {
                return match op(&self.blocking, Some(Duration::ZERO)) {
                    Err(BlockError::TimedOut) => Err(BlockError::PeerDied { holder }),
                    done => done,
                };
            }
            // The slice timed out, so at least its length has passed.
            if let Some(l) = left {
                *l = l.saturating_sub(slice);
                if l.is_zero() {
                    return Err(BlockError::TimedOut);
                }
            }
        }
    }
}

/// `set_waiting` and `set_peer_check` for a channel end holding a
/// `patience` field.
macro_rules! patience_setters {
    ($([$($generics:tt)*] $end:ty),*) => {$(
        impl<$($generics)*> $end {
            /// How this end waits from now on.
            pub fn set_waiting(&mut self, waiting: $crate::channel::Waiting) {
                self.patience.blocking = waiting.blocking();
            }

            /// How often this end checks, while blocked, that its peer
            /// lives (see
            /// [`ChannelOptions::peer_check`]($crate::channel::ChannelOptions::peer_check)).
            pub fn set_peer_check(&mut self, every: std::time::Duration) {
                self.patience.peer_check = $crate::channel::at_least_1ms(every);
            }
        }
    )*};
}
pub(crate) use patience_setters;

patience_setters!([T] Sender<'_, T>, [T] Receiver<'_, T>);

/// The sending end of an [`SpscChannel`], holding the producer role.
#[derive(Debug)]
pub struct Sender<'c, T> {
    tx: Producer<'c, T>,
    patience: Patience,
}

impl<'c, T: Plain> Sender<'c, T> {
    /// Sends `value` if there is room, without blocking; wakes a parked
    /// receiver.
    #[inline]
    pub fn try_send(&mut self, value: T) -> Result<(), PushError> {
        self.tx.try_push(value)?;
        self.tx.wake_consumer(&Futex);
        Ok(())
    }

    /// Sends `value`, waiting for room as long as the receiver lives.
    pub fn send(&mut self, value: T) -> Result<(), BlockError> {
        self.send_inner(value, &mut None)
    }

    /// Sends `value`, waiting for room at most `timeout`.
    pub fn send_timeout(&mut self, value: T, timeout: Duration) -> Result<(), BlockError> {
        self.send_inner(value, &mut Some(timeout))
    }

    #[inline]
    fn send_inner(&mut self, value: T, left: &mut Option<Duration>) -> Result<(), BlockError> {
        let ring = self.tx.ring();
        let tx = &mut self.tx;
        self.patience
            .wait(left, || ring.consumer_holder(), |b, t| tx.send(value, b, t))
    }

    /// Sends all of `items` in order, in batches, waiting for room as
    /// needed (at most `timeout` in all). On error, the first `n` were sent
    /// where `n` is in the `Err`.
    pub fn send_all(
        &mut self,
        mut items: &[T],
        timeout: Option<Duration>,
    ) -> Result<(), (usize, BlockError)> {
        let total = items.len();
        let mut left = timeout;
        while let Some((&first, rest)) = items.split_first() {
            let sent = |items: &[T]| total - items.len();
            let n = self
                .tx
                .push_slice(items)
                .map_err(|e| (sent(items), e.into()))?;
            if n > 0 {
                self.tx.wake_consumer(&Futex);
                items = &items[n..];
            } else {
                // Full: wait for room by sending one, which wakes the
                // receiver if it sleeps.
                self.send_inner(first, &mut left)
                    .map_err(|e| (sent(items), e))?;
                items = rest;
            }
        }
        Ok(())
    }

    /// The underlying producer, for chunks and batches. What it publishes
    /// does not wake a parked receiver by itself: call
    /// [`Producer::wake_consumer`] with [`Futex`] afterwards.
    pub fn producer(&mut self) -> &mut Producer<'c, T> {
        &mut self.tx
    }
}

/// The receiving end of an [`SpscChannel`], holding the consumer role.
#[derive(Debug)]
pub struct Receiver<'c, T> {
    rx: Consumer<'c, T>,
    patience: Patience,
}

impl<'c, T: Plain> Receiver<'c, T> {
    /// Receives the oldest value if there is one, without blocking; wakes
    /// a parked sender.
    #[inline]
    pub fn try_recv(&mut self) -> Result<T, PopError> {
        let value = self.rx.try_pop()?;
        self.rx.wake_producer(&Futex);
        Ok(value)
    }

    /// Receives a value, waiting as long as the sender lives. Values sent
    /// before the sender died are delivered first.
    pub fn recv(&mut self) -> Result<T, BlockError> {
        self.recv_inner(&mut None)
    }

    /// Receives a value, waiting at most `timeout`.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<T, BlockError> {
        self.recv_inner(&mut Some(timeout))
    }

    #[inline]
    fn recv_inner(&mut self, left: &mut Option<Duration>) -> Result<T, BlockError> {
        let ring = self.rx.ring();
        let rx = &mut self.rx;
        self.patience
            .wait(left, || ring.producer_holder(), |b, t| rx.recv(b, t))
    }

    /// Receives into `out`, waiting until at least one value is there (at
    /// most `timeout`); returns how many.
    pub fn recv_into(
        &mut self,
        out: &mut [T],
        timeout: Option<Duration>,
    ) -> Result<usize, BlockError> {
        if out.is_empty() {
            return Ok(0);
        }
        let n = self.rx.pop_into(out)?;
        if n > 0 {
            self.rx.wake_producer(&Futex);
            return Ok(n);
        }
        // Empty: wait for one value (which wakes a parked sender), then
        // take what else has come.
        let mut left = timeout;
        out[0] = self.recv_inner(&mut left)?;
        let more = self.rx.pop_into(&mut out[1..])?;
        if more > 0 {
            self.rx.wake_producer(&Futex);
        }
        Ok(1 + more)
    }

    /// The underlying consumer, for chunks and batches. What it releases
    /// does not wake a parked sender by itself: call
    /// [`Consumer::wake_producer`] with [`Futex`] afterwards.
    pub fn consumer(&mut self) -> &mut Consumer<'c, T> {
        &mut self.rx
    }
}
