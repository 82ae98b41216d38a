//! # interlink-linux
//!
//! interlink's Linux half: the core's rings placed in real shared mappings
//! that unrelated processes create and open by name, and a thin shim over
//! `libc` for the mappings, the shared futex and the kernel's own IPC. One
//! module per kernel noun, an owned type per kernel object, and an error
//! that names the call, its subject and the errno's meaning.
//!
//! Most programs want a [`channel`]: one process creates it by name, the
//! others open it, and values cross without a kernel copy. Here both ends
//! live in one process for brevity; normally the opener is another
//! program (see [`channel`] for the lifecycle, dead peers and waiting).
//!
//! ```
//! use interlink_core::RingConfig;
//! use interlink_linux::channel::{ChannelOptions, SpscChannel};
//!
//! let name = format!("/interlink-crate-doc-{}", std::process::id());
//! let options = ChannelOptions::new();
//!
//! // The creator: builds and publishes the channel; unlinks the name on drop.
//! let created = SpscChannel::<u64>::create(&name, RingConfig::new(1024), &options)?;
//! let mut tx = created.sender()?;
//!
//! // An opener (usually another process): finds it by name and validates it.
//! let opened = SpscChannel::<u64>::open(&name, &options)?;
//! let mut rx = opened.receiver()?;
//!
//! tx.send(42)?;
//! assert_eq!(rx.recv()?, 42);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Against a peer you do not trust, hand over a *sealed* channel instead:
//! a memfd no process can resize, passed as a descriptor over a Unix
//! socket (see [`channel::sealed`]).
//!
//! ```
//! use std::os::fd::AsFd;
//! use std::os::unix::net::UnixStream;
//! use interlink_core::RingConfig;
//! use interlink_linux::channel::{ChannelOptions, SpscChannel};
//! use interlink_linux::socket::{recv_with_fds, send_with_fds};
//!
//! let (a, b) = UnixStream::pair()?;
//! let options = ChannelOptions::new();
//! let ours = SpscChannel::<u64>::create_sealed("quotes", RingConfig::new(64), &options)?;
//! send_with_fds(a.as_fd(), b"q", &[ours.sealed_fd().ok_or("not sealed")?])?;
//!
//! // The peer, given `b`:
//! let (_, mut fds) = recv_with_fds(b.as_fd(), &mut [0u8; 1], 1)?;
//! let fd = fds.pop().ok_or("no descriptor came")?;
//! let theirs = SpscChannel::<u64>::from_sealed_fd(fd, &options)?;
//!
//! ours.sender()?.send(7)?;
//! assert_eq!(theirs.receiver()?.recv()?, 7);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Modules
//!
//! **Channels** — start here.
//! - [`channel`]: named SPSC, byte and MPMC channels in shm objects
//!   (create, open, dead peers, stale objects), and sealed ones in memfds.
//!
//! **Mappings** — where shared bytes come from.
//! - [`shm`]: POSIX shared-memory objects by name, name rules, [`shm::ShmError`].
//! - [`memfd`]: anonymous, sealable memory files passed as descriptors.
//! - [`mapping`]: owned mappings and their options (prefault, `mlock`, huge pages).
//!
//! **Waiting** — how a process sleeps until another wakes it.
//! - [`futex`]: the shared [`Futex`] the core's blocking layer parks on, and [`Robust`].
//! - [`eventfd`]: a kernel counter, the cheapest kernel wake-up.
//! - [`clock`]: the monotonic clock timed waits measure on.
//!
//! **Kernel IPC** — the kernel's own mechanisms, owned and checked.
//! - [`pipe`]: pipes, FIFOs and pipelines.
//! - [`socket`]: Unix sockets, including passing descriptors (`SCM_RIGHTS`).
//! - [`mq`]: POSIX message queues with priorities.
//! - [`sem`]: named and process-shared POSIX semaphores.
//! - [`signal`]: signals read from a `signalfd`, `sigqueue`, clean shutdown.
//! - [`lock`]: OFD byte-range locks and `flock`.
//! - [`sysv`]: System V segments and typed message queues, for legacy peers.
//!
//! **Processes and liveness**
//! - [`process`]: forking a closure, waiting for it, pinning to a CPU.
//! - [`liveness`]: the one rule deciding whether a recorded holder still lives.
//!
//! **Inspection**
//! - [`inspect`]: finding, judging and collecting interlink objects under
//!   `/dev/shm` (what `interlink-inspect` prints and `gc` removes).
//!
//! **Errors**
//! - [`error`]: [`OsError`], the error every syscall wrapper returns.
#![cfg(target_os = "linux")]

pub mod channel;
pub mod clock;
pub mod error;
pub mod eventfd;
pub mod futex;
pub mod inspect;
pub mod liveness;
pub mod lock;
pub mod mapping;
pub mod memfd;
pub mod mq;
pub mod pipe;
mod posix;
pub mod process;
pub mod readiness;
pub mod sem;
pub mod shm;
mod shm_name;
pub mod signal;
pub mod socket;
pub mod sysv;

pub use error::OsError;
pub use futex::{Futex, Robust};
