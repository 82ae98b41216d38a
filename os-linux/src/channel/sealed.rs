//! Sealed channels: a channel in a sealed memfd instead of a named POSIX
//! shm object, for when the peer is not trusted.
//!
//! # Why
//!
//! A POSIX shm object (`/dev/shm/NAME`) can be resized by any process of
//! the same user that can open it. Shrinking it under a mapping makes
//! every access past the new end raise `SIGBUS` in every process that
//! has it mapped — the creator's, the opener's, whatever they were doing.
//! Opening and probing defend themselves (they validate with `pread` and
//! `fstat` before mapping, see [`Channel::open`] and
//! [`crate::inspect::probe`]), but once a named channel is mapped, no
//! check can stop a peer from truncating it: that is the kernel's
//! contract for shared files.
//!
//! A sealed channel rules this out. [`Channel::create_sealed`] puts the
//! structure in an anonymous memory file (`memfd_create`), sized and
//! reserved, then seals it with `F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL`:
//! from then on the kernel refuses every `ftruncate` on it (`EPERM`), for
//! every process, the creator included, and no seal can be added or
//! removed. The channel has no name; the creator hands the descriptor
//! ([`Channel::sealed_fd`]) to its peer over a Unix socket
//! ([`crate::socket::send_with_fds`]), and the peer makes its channel with
//! [`Channel::from_sealed_fd`], which checks the seals (`F_GET_SEALS`)
//! before mapping anything and refuses an unsealed descriptor.
//!
//! # What holds
//!
//! - No process can change the size of a sealed channel's memory, so no
//!   mapping of it ever faults with `SIGBUS` because of a peer.
//! - A peer can still write any value into any shared word (as with every
//!   shared memory): the rings validate what they read, as for named
//!   channels. It can also punch holes (`fallocate(PUNCH_HOLE)`), which
//!   reads back as zeros — another value a peer writes, not a fault.
//! - Dead peers, roles and waiting work as for named channels. There is
//!   no name: nothing to unlink, nothing for `gc`; the memory goes when
//!   the last descriptor and mapping do.
//!
//! ```no_run
//! use std::os::fd::AsFd;
//! use interlink_core::RingConfig;
//! use interlink_linux::channel::{ChannelOptions, SpscChannel};
//! use interlink_linux::socket::{recv_with_fds, send_with_fds};
//!
//! let (a, b) = std::os::unix::net::UnixStream::pair()?;
//! // The creator:
//! let channel = SpscChannel::<u64>::create_sealed("quotes", RingConfig::new(1024), &ChannelOptions::new())?;
//! send_with_fds(a.as_fd(), b"q", &[channel.sealed_fd().unwrap()])?;
//! // The peer (another process, given `b`):
//! let (_, mut fds) = recv_with_fds(b.as_fd(), &mut [0u8; 1], 1)?;
//! let theirs = SpscChannel::<u64>::from_sealed_fd(fds.remove(0), &ChannelOptions::new())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use interlink_core::ElementCheck;
use interlink_core::{AttachError, InitError, RingConfig};

use super::{Channel, ChannelError, ChannelOptions, Patience, Pending, Shape, User};
use crate::mapping::fd_stat;
use crate::memfd::{Memfd, Seals};
use crate::process;
use crate::shm::{FileKind, ShmError, ShmName};

/// The seals a sealed channel must have: its size is fixed.
const REQUIRED: Seals = Seals::SIZE;

/// Seals that forbid the writable mapping a channel needs.
const FORBIDDEN: Seals = Seals(Seals::WRITE.0 | Seals::FUTURE_WRITE.0);

impl<S: Shape> Channel<S> {
    /// Creates a channel holding a new, published structure with `config`
    /// in a sealed memfd labelled `label` (this process's pid is recorded
    /// as the creator): sized and, if `options.shm.reserve`, reserved, then
    /// sealed with `F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL`, so that no
    /// process can resize it. Pass [`Channel::sealed_fd`] to the peer over
    /// a Unix socket; see [`crate::channel::sealed`].
    ///
    /// `label` names the channel in errors and in `/proc/PID/fd` (as
    /// `memfd:LABEL`): 1 to 249 bytes, no `/`, no NUL. The channel's
    /// [`Channel::name`] is `/memfd:LABEL`; no object has that name.
    /// `options.shm` other than `reserve`, `unlink_on_drop` and
    /// `replace_stale` do not apply.
    pub fn create_sealed(
        label: &str,
        config: RingConfig,
        options: &ChannelOptions,
    ) -> Result<Self, ChannelError> {
        let name = memfd_name(label)?;
        let len = S::bytes_needed(config.capacity)?;
        let memfd = Memfd::create(label, len)?;
        if options.shm.reserve {
            memfd.reserve()?;
        }
        memfd.add_seals(Seals::SIZE | Seals::SEAL)?;
        let mut mapping = memfd.map(&options.map)?;
        let config = config.with_creator_pid(process::current_pid());
        let mut region = mapping.region();
        S::init(region.take(len, 1).map_err(InitError::from)?, config)?;
        let presence = crate::liveness::Presence::take(memfd.as_fd()).ok();
        let user = User::join::<S>(mapping.region(), ElementCheck::Exact, presence.as_ref());
        mapping.hold_fd(memfd.into_fd());
        Ok(Self {
            name,
            mapping,
            element_check: ElementCheck::Exact,
            capacity: config.capacity,
            creator: true,
            patience: Patience::of(options.waiting, options.peer_check, presence.as_ref()),
            user,
            presence,
            _shape: PhantomData,
        })
    }

    /// Makes a channel of the sealed memfd `fd` (received from its creator,
    /// see [`Channel::create_sealed`]), validated against `S` (its element
    /// type checked as `options.element_check` says). Before mapping anything, it checks that
    /// `fd` is a regular file sealed against resizing (`F_SEAL_SHRINK |
    /// F_SEAL_GROW`, [`ChannelError::Seals`] otherwise, also for a write
    /// seal, which would forbid the writable mapping), then validates the
    /// structure as [`Channel::open`] does and maps exactly its length.
    /// The channel keeps `fd` open ([`Channel::sealed_fd`], to pass on).
    pub fn from_sealed_fd(fd: OwnedFd, options: &ChannelOptions) -> Result<Self, ChannelError> {
        let name = fd_name(fd.as_fd());
        let st = fd_stat(fd.as_fd()).map_err(ShmError::from)?;
        if let Some(found) = FileKind::of_mode(st.st_mode) {
            return Err(ShmError::NotRegular {
                path: format!("fd {}", fd.as_raw_fd()),
                found,
            }
            .into());
        }
        let seals_error = |found, problem| ChannelError::Seals {
            name: name.to_string(),
            found,
            problem,
        };
        let memfd = Memfd::from_fd(fd);
        let seals = match memfd.seals() {
            Ok(seals) => seals,
            Err(e) if e.is(libc::EINVAL) => {
                return Err(seals_error(Seals(0), "not a memfd: it cannot be sealed"))
            }
            Err(e) => return Err(e.into()),
        };
        if !seals.contains(REQUIRED) {
            return Err(seals_error(
                seals,
                "not sealed against resizing: a peer could truncate it under the mapping",
            ));
        }
        if seals.0 & FORBIDDEN.0 != 0 {
            return Err(seals_error(
                seals,
                "write-sealed: it cannot be mapped writable",
            ));
        }
        let fd = memfd.into_fd();
        let (mapping, capacity) = match Self::map_checked(fd.as_fd(), &name, options)? {
            Ok(mapped) => mapped,
            // Its size is fixed and its creator published it before
            // handing it out: nothing to wait for.
            Err(Pending::NotReady { state }) => {
                return Err(ChannelError::Attach {
                    name: name.to_string(),
                    error: AttachError::NotReady { state },
                })
            }
            Err(_) => {
                return Err(ChannelError::Truncated {
                    name: name.to_string(),
                    size: 0,
                })
            }
        };
        let mut channel = Self::opened(mapping, fd.as_fd(), name, capacity, options);
        channel.mapping.hold_fd(fd);
        Ok(channel)
    }

    /// The sealed memfd this channel lives in (to send to a peer with
    /// [`crate::socket::send_with_fds`]), or `None` for a named channel.
    pub fn sealed_fd(&self) -> Option<BorrowedFd<'_>> {
        self.mapping.held_fd()
    }
}

/// `/memfd:LABEL`, the name a sealed channel shows.
pub(super) fn memfd_name(label: &str) -> Result<ShmName, ShmError> {
    if label.is_empty() || label.len() > 249 || label.contains('/') {
        return Err(ShmError::Name {
            name: label.to_owned(),
            problem: "a sealed channel's label is 1 to 249 bytes without '/'",
        });
    }
    ShmName::new(&format!("/memfd:{label}"))
}

/// The name a received descriptor shows: its memfd label if it has one
/// (from `/proc/self/fd`), else `/memfd:fd-N`.
fn fd_name(fd: BorrowedFd<'_>) -> ShmName {
    let raw = fd.as_raw_fd();
    std::fs::read_link(format!("/proc/self/fd/{raw}"))
        .ok()
        .and_then(|link| {
            let link = link.to_str()?;
            let label = link.strip_prefix("/memfd:")?;
            let label = label.strip_suffix(" (deleted)").unwrap_or(label);
            memfd_name(label).ok()
        })
        .or_else(|| ShmName::new(&format!("/memfd:fd-{raw}")).ok())
        .unwrap_or_else(|| ShmName::new("/memfd").expect("a valid name"))
}
