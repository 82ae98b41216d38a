//! Named channels: a core ring in a POSIX shm object that unrelated
//! processes create and open by name — [`SpscChannel`] (one sender, one
//! receiver, fixed-size elements), [`ByteChannel`] (variable-length
//! messages), [`MpmcChannel`] (any number of senders and receivers) and
//! [`ManyToOneChannel`] (variable-length messages from any number of
//! senders to one receiver).
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
//! let channel = SpscChannel::<u64>::open("/quotes", &ChannelOptions::new())?;
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
//!   then and returns `PeerDied` ([`SendError::PeerDied`],
//!   [`RecvError::PeerDied`]; a receiver first drains
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
//! one load (no fence) to see whether the peer sleeps. The raw
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
//!
//! [`shm::building_pid`]: crate::shm::building_pid
//! [`shm::CLAIM_BYTE`]: crate::shm::CLAIM_BYTE
//! [`shm::BUILDING_MARKER`]: crate::shm::BUILDING_MARKER
//! [`inspect::State::Unfinished`]: crate::inspect::State::Unfinished
//! [`inspect::INCOMPLETE_GRACE`]: crate::inspect::INCOMPLETE_GRACE
//! [`ShmOptions::exclusive`]: crate::shm::ShmOptions::exclusive
//! [`ShmError::NotRegular`]: crate::shm::ShmError::NotRegular
//! [`Blocking`]: interlink_core::Blocking
//! [`Futex`]: crate::futex::Futex
//! [`Producer`]: interlink_core::spsc::Producer
//! [`Consumer`]: interlink_core::spsc::Consumer

#[cfg(feature = "tokio")]
mod async_ends;
mod broadcast;
mod bytes;
mod create;
mod error;
mod fanout;
mod latest;
mod many_to_one;
mod mpmc;
mod object;
mod open;
mod options;
pub mod pool;
mod request;
pub mod sealed;
mod shape;
mod spsc;
mod waiting;

#[cfg(feature = "tokio")]
pub use async_ends::{AsyncByteReceiver, AsyncByteSender, AsyncReceiver, AsyncSender};
pub use broadcast::{
    Broadcast, BroadcastChannel, BroadcastReader, BroadcastWriter, ReadOnlyBroadcast,
};
pub use bytes::{ByteChannel, ByteReceiver, ByteSender, Bytes};
pub use error::{ChannelError, Pending};
pub use fanout::{Fanout, FanoutChannel, FanoutReceiver, FanoutSender};
pub use interlink_core::{RecvError, SendError};
pub use latest::{Latest, LatestChannel, LatestReader, LatestSender};
pub use many_to_one::{ManyToOne, ManyToOneChannel, ManyToOneReceiver, ManyToOneSender};
pub use mpmc::{Mpmc, MpmcChannel, MpmcHandle};
pub use object::{remove, Channel};
pub use options::ChannelOptions;
pub use request::{CallError, Client, ClientId, Request, Server, Serving};
pub use shape::Shape;
pub use spsc::{Receiver, Sender, Spsc, SpscChannel};
pub use waiting::Waiting;

pub(crate) use object::User;
pub(crate) use waiting::{at_least_1ms, patience_setters, Patience};
